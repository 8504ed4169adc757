"""The verification driver, Monte Carlo verification of the OLS theory and the
``graphcollapse verify`` command.

Agreement tests use the Bonferroni rule of :mod:`graphcollapse.verify.driver` (family-wise
level 1e-3) with fixed seeds; every one also checks that a theory perturbed by 5% is
rejected, so the test could fail.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcollapse.theory.builders import cycle
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.verify import driver, montecarlo
from graphcollapse.verify.blocks import BLOCK_SIZE, block_generator, replication_blocks
from graphcollapse.verify.cli import main
from graphcollapse.verify.driver import Moments, Sample, Verification, bonferroni_bound, merge, moments, run
from graphcollapse.verify.montecarlo import verify_ols
from graphcollapse.verify.simulate import ols_setup

MIXED = InteractionGraph(  # a collapsing 2-cycle feeding a learner with real data, plus a bounded pair
    ["A", "B", "C", "D"], real_samples=[0, 0, 10, 20], initial_samples=[20, 20, 30, 25],
    edges=[("A", "B", 12), ("B", "A", 12), ("B", "C", 5), ("C", "D", 6), ("D", "C", 4)],
    dimension=2, noise_variance=1, synthetic_noise_variance=[None, 2, None, None])
BIG = InteractionGraph(  # large N: the large-sample theory is accurate to O(d/N)
    ["A", "B"], real_samples=[1500, 500], initial_samples=[2000, 2000],
    edges=[("A", "B", 1500), ("B", "A", 500)], dimension=2, noise_variance=1)
SIGMA = MIXED.replace(covariance=[[2, 1], [1, 3]])


def _perturbed(res: Verification, factor: float) -> Verification:
    return dataclasses.replace(res, theory=res.theory * factor)


@pytest.mark.parametrize("graph, theory", [
    pytest.param(MIXED, "exact", id="mixed-exact"),
    pytest.param(SIGMA, "exact", id="mixed-sigma-exact"),
    pytest.param(BIG, "large-sample", id="big-large-sample"),
])
def test_monte_carlo_agrees_and_rejects_perturbed_theory(graph: InteractionGraph, theory: str) -> None:
    """Claim: the simulated mean risks agree with the theory for every learner and
    generation (Bonferroni, level 1e-3), and a theory 5% too high is rejected."""
    res = verify_ols(graph, generations=4, replications=40000, seed=3, theory=theory)
    assert res.agrees, np.abs(res.z).max()
    assert not _perturbed(res, 1.05).agrees


@pytest.mark.parametrize("chunk, workers", [
    pytest.param(1, 1, id="chunk1"), pytest.param(3, 1, id="chunk3"), pytest.param(2, 2, id="workers2"),
])
def test_bit_identical_across_chunks_and_workers(chunk: int, workers: int) -> None:
    """Claim: a fixed seed reproduces the means and standard errors bit for bit,
    whatever the chunk size or the number of worker processes."""
    ref = verify_ols(MIXED, generations=3, replications=1300, seed=9, chunk=4, workers=1)
    res = verify_ols(MIXED, generations=3, replications=1300, seed=9, chunk=chunk, workers=workers)
    assert np.array_equal(ref.mean, res.mean) and np.array_equal(ref.se, res.se)


def test_interrupt_keeps_finished_blocks() -> None:
    """Claim: Ctrl-C (KeyboardInterrupt) stops cleanly and reports the finished
    replications with interrupted=True."""
    def progress(done: int, total: int) -> None:
        if done >= 512:
            raise KeyboardInterrupt

    res = verify_ols(MIXED, generations=2, replications=5000, seed=1, chunk=2, progress=progress)
    assert (res.interrupted, res.completed) == (True, 512)


def test_unreliable_rows_do_not_count() -> None:
    """Claim: learners downstream of a learner with N_k < d + 8 get se_reliable false and
    their rows are left out of the verdict."""
    g = InteractionGraph(["A", "B", "C"], real_samples=[6, 0, 20], initial_samples=[30, 30, 30],
                         edges=[("A", "B", 12), ("C", "C", 5)], dimension=2, noise_variance=1)
    res = verify_ols(g, generations=2, replications=2000, seed=2)
    assert [r["se_reliable"] for r in res.rows() if r["generation"] == 0] == [False, False, True]
    mean = res.mean.copy()
    mean[:, :2] *= 100  # the unreliable learners disagree wildly
    assert dataclasses.replace(res, mean=mean).agrees == res.agrees


def test_no_reliable_rows_is_not_agreement() -> None:
    """Claim: when every learner is unreliable nothing is tested, so ``agrees`` is false
    and the report says agreement was not assessed."""
    g = InteractionGraph(["A"], real_samples=[6], initial_samples=[30], edges=[], dimension=2, noise_variance=1)
    res = verify_ols(g, generations=1, replications=300, seed=0)
    assert not res.agrees and "not assessed" in res.report()


@st.composite
def small_graphs(draw) -> InteractionGraph:
    """Random graphs with 1-3 learners, d in 1..3, every N_k and n0_k >= d + 8."""
    K = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    edges = [(f"L{j}", f"L{k}", draw(st.integers(2, 15))) for j in range(K) for k in range(K) if draw(st.booleans())]
    real = [draw(st.sampled_from([0, 5, 20])) for _ in range(K)]
    for k in range(K):
        total = real[k] + sum(n for _, t, n in edges if t == f"L{k}")
        real[k] += max(0, d + 8 - total)
    initial = [draw(st.integers(d + 8, 40)) for _ in range(K)]
    return InteractionGraph([f"L{k}" for k in range(K)], real_samples=real, initial_samples=initial, edges=edges,
                            dimension=d, noise_variance=draw(st.sampled_from([0.5, 1, 2])))


@pytest.mark.slow
@settings(max_examples=25, derandomize=True, deadline=None)
@given(graph=small_graphs(), seed=st.integers(0, 2**32 - 1))
def test_property_random_graphs_agree(graph: InteractionGraph, seed: int) -> None:
    """Claim (property): on random small graphs with N_k >= d + 8 the simulation agrees
    with the exact theory and rejects a 5% perturbed theory."""
    res = verify_ols(graph, generations=3, replications=30000, seed=seed)
    assert res.agrees, np.abs(res.z).max()
    assert not _perturbed(res, 1.05).agrees


# ---------------------------------------------------------------------------- the driver
class ToySimulator:
    """The smallest :class:`graphcollapse.verify.driver.Simulator`: rows (2 scales, 2
    generations, 3 learners) with risk N(theory, 1); at the second scale a replication
    fails with probability 0.3, at the first never."""

    chunk = 2

    def __init__(self, shift: float = 0.0) -> None:
        self.theory = np.arange(12, dtype=float).reshape(2, 2, 3)
        self.shift = shift

    def prediction(self) -> np.ndarray:
        return self.theory + self.shift

    def tested(self, used: np.ndarray) -> np.ndarray:
        return np.broadcast_to(used >= 2, (2, 1, 1))

    def simulate(self, seed: int, blocks) -> list[Sample]:
        out = []
        for b, size in blocks:
            rng = block_generator(seed, b)
            risk = self.theory + rng.standard_normal((size,) + self.theory.shape)
            valid = np.stack([np.ones(size, dtype=bool), rng.random(size) > 0.3], axis=1)
            out.append(Sample(risk, valid))
        return out

    def result(self, stats) -> Verification:
        return Verification(estimator="toy", theory_name="toy", names=("a", "b", "c"), tested_rule="always", **stats)


def test_driver_statistics_equal_the_direct_computation() -> None:
    """Claim: the streamed merge gives the mean, se and counts of the whole sample (with
    failed replications left out of their rows only), the Bonferroni verdict accepts the
    right theory and rejects one shifted by 0.2 (about 8 se)."""
    sim = ToySimulator()
    res = run(sim, replications=3000, seed=4)
    samples = sim.simulate(4, [(b, stop - start) for b, start, stop in replication_blocks(3000)])
    risk = np.concatenate([x.risk for x in samples])
    valid = np.concatenate([x.valid for x in samples])
    for i in range(2):
        good = risk[valid[:, i], i]
        assert int(res.used.reshape(-1)[i]) == len(good)
        assert np.allclose(res.mean[i], good.mean(axis=0), rtol=1e-12)
        assert np.allclose(res.se[i], good.std(axis=0, ddof=1) / np.sqrt(len(good)), rtol=1e-10)
    assert res.tested_rows == 12 and res.critical_z == bonferroni_bound(12)
    assert res.agrees and not run(ToySimulator(shift=0.2), replications=3000, seed=4).agrees


def test_driver_is_bit_identical_across_workers() -> None:
    """Claim: the toy simulator through the process pool gives the serial result bit for bit."""
    a = run(ToySimulator(), replications=1500, seed=2)
    b = run(ToySimulator(), replications=1500, seed=2, workers=2)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.se, b.se) and np.array_equal(a.used, b.used)


def test_merge_keeps_rows_without_replications() -> None:
    """Claim: a block in which every replication failed at some rows leaves the other
    block's moments of those rows unchanged (no NaN leaks into the merge)."""
    x = np.array([[1.0, 5.0], [3.0, 7.0]])
    none = moments(Sample(x, valid=np.array([[True, False], [True, False]])))
    some = moments(Sample(x + 1, valid=np.array([[True, True], [True, True]])))
    pooled = merge(merge(None, some), none)
    assert pooled.n.tolist() == [4, 2] and pooled.mean.tolist() == [2.5, 7.0]
    assert isinstance(pooled, Moments) and np.isfinite(pooled.m2).all()


def test_m_estimator_interrupt_keeps_finished_blocks() -> None:
    """Claim: the M-estimator path has the driver's interrupt behaviour: Ctrl-C keeps the
    finished blocks and reports them as partial."""
    from graphcollapse.theory.builders import self_training
    from graphcollapse.verify.mcompare import verify_mestimator

    def progress(done: int, total: int) -> None:
        if done >= BLOCK_SIZE:
            raise KeyboardInterrupt

    res = verify_mestimator(self_training(real_samples=50, samples=50, initial_samples=100, dimension=1),
                            "gaussian", generations=1, replications=4 * BLOCK_SIZE, scales="1,2", seed=3,
                            progress=progress)
    assert (res.interrupted, res.completed) == (True, BLOCK_SIZE)
    assert [r["replications_used"] for r in res.rows()] == [BLOCK_SIZE] * 4


def test_estimator_vocabulary_is_ols_the_theory_families_and_custom() -> None:
    """Claim: the one estimator vocabulary is ols, every family the theory knows, and custom."""
    from graphcollapse.theory.mestimators import FAMILIES
    from graphcollapse.verify.estimators import Estimator

    assert [e.value for e in Estimator] == ["ols", *FAMILIES, "custom"]
    with pytest.raises(GraphValueError, match="needs --loss"):
        Estimator.parse("custom")
    with pytest.raises(GraphValueError, match="applies to --estimator custom"):
        Estimator.parse("logistic", "x.loss")


def test_plots_leave_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    """Claim: drawing and saving figures neither selects nor switches matplotlib's global
    backend (a user's choice survives, and none is resolved if there was none)."""
    import subprocess
    import sys

    code = f"""
import matplotlib
from graphcollapse.theory.builders import cycle
from graphcollapse.verify.montecarlo import verify_ols
from graphcollapse.verify.plots import plot_interaction_graph, plot_verification
G = cycle(2, real_samples=20, initial_samples=40, dimension=2)
plot_verification(verify_ols(G, generations=1, replications=50, seed=0), {str(tmp_path / "v.png")!r})
plot_interaction_graph(G, {str(tmp_path / "g.pdf")!r})
print(matplotlib.rcParams._get_backend_or_none())
matplotlib.use("svg")
plot_interaction_graph(G, {str(tmp_path / "g.png")!r})
print(matplotlib.get_backend())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "svg"]
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"


# ---------------------------------------------------------------------------- CLI
@pytest.fixture()
def graph_file(tmp_path: Path) -> str:
    p = tmp_path / "g.json"
    p.write_text(MIXED.dumps())
    return str(p)


def test_cli_json_keys(graph_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: ``verify --json`` prints one object with exactly the keys documented in docs/cli.md."""
    assert main(["verify", graph_file, "-T", "2", "-R", "600", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"version", "seed", "replications", "completed", "interrupted", "estimator", "theory",
                        "agrees", "rows"}
    assert (out["seed"], out["completed"], out["interrupted"], out["estimator"], out["theory"]) == (4, 600, False, "ols", "exact")
    assert set(out["rows"][0]) == {"model", "generation", "theory", "mean", "se", "z", "se_reliable"}
    assert len(out["rows"]) == 4 * 3


def test_cli_records_drawn_seed(graph_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: without --seed a seed is drawn and recorded, and replaying it reproduces the run
    (exit status included: the large-sample theory's O(d/N) error on this small graph may
    or may not be detected, status 0 or 3, with the drawn seed)."""
    status = main(["verify", graph_file, "-T", "1", "-R", "300", "--json", "--large-sample"])
    assert status in (0, 3)
    first = json.loads(capsys.readouterr().out)
    assert first["theory"] == "large-sample" and (status == 3) == (not first["agrees"])
    assert main(["verify", graph_file, "-T", "1", "-R", "300", "--json", "--large-sample",
                 "--seed", str(first["seed"])]) == status
    assert json.loads(capsys.readouterr().out)["rows"] == first["rows"]


def test_cli_writes_csv_and_figures(graph_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: --csv writes the row columns, --plot and --graph-plot write PNG and PDF files."""
    c, p, g = tmp_path / "rows.csv", tmp_path / "fig.pdf", tmp_path / "graph.png"
    assert main(["verify", graph_file, "-T", "2", "-R", "300", "--seed", "1", "--csv", str(c), "--plot", str(p),
                 "--graph-plot", str(g)]) == 0
    rows = list(csv.DictReader(c.open()))
    assert list(rows[0]) == ["model", "generation", "theory", "mean", "se", "z", "se_reliable"] and len(rows) == 12
    assert p.read_bytes()[:4] == b"%PDF" and g.read_bytes()[:4] == b"\x89PNG"
    assert "agreement" in capsys.readouterr().out


def test_cli_covariance_file(graph_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: --covariance FILE sets Sigma (agreement with the exact theory still holds)."""
    cov = tmp_path / "cov.json"
    cov.write_text("[[2, 1], [1, 3]]")
    assert main(["verify", graph_file, "-T", "2", "-R", "2000", "--seed", "5", "--covariance", str(cov), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agrees"] is True


def test_cli_interrupt_writes_partial_results(graph_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim: Ctrl-C mid-run prints/writes what finished with interrupted true, exit 130."""
    real = driver._simulate_chunk
    calls = []

    def flaky(simulator, seed, blocks):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(simulator, seed, blocks)

    monkeypatch.setattr(driver, "_simulate_chunk", flaky)
    c = tmp_path / "rows.csv"
    assert main(["verify", graph_file, "-T", "1", "-R", "5000", "--seed", "1", "--json", "--csv", str(c)]) == 130
    out = json.loads(capsys.readouterr().out)
    first_chunk = montecarlo.auto_chunk(ols_setup(MIXED)) * BLOCK_SIZE
    assert (out["interrupted"], out["completed"]) == (True, first_chunk) and c.exists()


BAD = [
    pytest.param(["-R", "1"], "--replications", id="one-replication"),
    pytest.param(["-T", "-1"], "--generations", id="negative-generations"),
    pytest.param(["--estimator", "magic"], "unknown estimator", id="unknown-estimator"),
    pytest.param(["--theta", "1,2"], "M-estimators", id="theta-with-ols"),
    pytest.param(["--covariance", "NONSYM"], "symmetric", id="non-symmetric-sigma"),
    pytest.param(["--covariance", "SINGULAR"], "positive-definite", id="singular-sigma"),
    pytest.param(["--covariance", "SHAPE"], "2 x 2", id="wrong-shape-sigma"),
    pytest.param(["--covariance", "MISSING"], "cannot read", id="missing-sigma-file"),
]


@pytest.mark.parametrize("extra, match", BAD)
def test_cli_bad_input_is_one_line_exit_2(extra: list[str], match: str, graph_file: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: bad input gives exit status 2 and one line on stderr naming the problem."""
    files = {"NONSYM": "[[1, 0.5], [0.4, 1]]", "SINGULAR": "[[1, 1], [1, 1]]", "SHAPE": "[[1]]"}
    for key, text in files.items():
        (tmp_path / key).write_text(text)
    extra = [str(tmp_path / e) if e in files or e == "MISSING" else e for e in extra]
    args = {"-T": "1", "-R": "10"}
    for flag in ("-T", "-R"):
        if flag in extra:
            args.pop(flag)
    argv = ["verify", graph_file] + [x for kv in args.items() for x in kv] + extra
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse type errors exit from parse_args
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err


def test_library_rejects_bad_counts() -> None:
    """Claim: the library validates replications and generations itself."""
    with pytest.raises(GraphValueError, match="--replications"):
        verify_ols(cycle(2, real_samples=20), generations=1, replications=1)


def test_cli_routes_m_estimators(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: --estimator NAME other than ols is passed to verify.mcompare with --scales."""
    g = tmp_path / "st.json"
    g.write_text(cycle(1, real_samples=100, samples=100, initial_samples=200, dimension=1, self_loops=True).dumps())
    assert main(["verify", str(g), "-T", "1", "-R", "256", "--seed", "5", "--estimator", "location-scale",
                 "--scales", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["estimator"], out["theory"], out["scales"]) == ("location-scale", "asymptotic", [1])
