"""Malformed and extreme inputs of the command line and the verification library:
resources (worker processes, memory), signals, outputs checked before the work, answers
that were silent or misleading, the Python API's argument checks, and ``--help``
examples. Each test names the behaviour it pins down; errors are one line
(``graphcollapse: error: ...``, exit 2) and never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from graphcollapse.theory.builders import cycle, self_training
from graphcollapse.theory.errors import GraphCollapseWarning, GraphTypeError, GraphValueError
from graphcollapse.verify import driver
from graphcollapse.verify.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
RING = str(EXAMPLES / "ring.json")
DEMO = str(EXAMPLES / "demo.json")


def _cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _one_error_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("graphcollapse: error: "), err
    for word in words:
        assert word in lines[0], err


@pytest.fixture()
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a simulation starts (serially or in a worker pool)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(driver, "_simulate_chunk", forbidden)
    monkeypatch.setattr(driver, "_run_pool", forbidden)


# ============================================================================ 1. resources
CORES = len(os.sched_getaffinity(0))


@pytest.fixture()
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every process pool, failing at once beyond the available cores
    (before any process is forked)."""
    import concurrent.futures

    real = concurrent.futures.ProcessPoolExecutor
    started: list[int] = []

    def recording(*args, max_workers=None, **kwargs):
        started.append(max_workers)
        assert max_workers <= CORES, f"{max_workers} worker processes requested on {CORES} cores"
        return real(*args, max_workers=max_workers, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", recording)
    return started


def test_workers_are_capped_at_the_cores_with_a_one_line_warning(pools: list[int]) -> None:
    """Claim: --workers beyond the available cores starts only as many processes as there
    are cores, and says so in one line on stderr."""
    status, out, err = _cli(["verify", RING, "-T", "1", "-R", "6000", "--seed", "1", "--workers", "2000"])
    assert status == 0, err
    assert pools == ([] if CORES == 1 else [CORES])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphcollapse: warning: --workers: 2000"), err
    assert f"{CORES}" in lines[0]


def test_library_caps_workers_with_a_warning_pointing_at_the_caller(pools: list[int]) -> None:
    """Claim: the library caps the worker processes too and warns from the caller's line."""
    from graphcollapse.verify.montecarlo import verify_ols

    with pytest.warns(GraphCollapseWarning, match="--workers: 100000 requested") as record:
        res = verify_ols(cycle(2, real_samples=20, initial_samples=30, dimension=2), generations=1,
                         replications=3000, seed=1, workers=100000)
    assert res.completed == 3000 and pools == ([] if CORES == 1 else [CORES])
    assert record[0].filename == __file__


def test_driver_memory_does_not_grow_with_replications() -> None:
    """Claim: the replication blocks are streamed, so asking for 10^8 replications costs no
    memory up front (the run is stopped after its first chunk)."""
    from graphcollapse.verify.montecarlo import OLSSimulator

    sim = OLSSimulator(cycle(2, real_samples=20, initial_samples=30, dimension=2), 1, chunk=1)
    sim.simulate(0, [(0, 2)])  # compile (or load) the kernel before measuring

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    tracemalloc.start()
    try:
        res = driver.run(sim, replications=10**8, seed=0, progress=stop)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (res.interrupted, res.completed) == (True, 256)
    assert peak < 5 * 2**20, f"{peak / 2**20:.0f} MB"


def _run_bounded(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphcollapse", *argv], capture_output=True, text=True,
                          timeout=timeout)


def test_predict_refuses_a_huge_horizon_up_front() -> None:
    """Claim: `predict -T 10^9` stops at once with one line naming --generations, the
    estimated size of the output and the budget, instead of filling the memory."""
    proc = _run_bounded(["predict", RING, "-T", "1000000000"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    _one_error_line(proc.stderr, "--generations", "budget")


def test_predict_refuses_when_the_exact_values_outgrow_the_budget() -> None:
    """Claim: the exact values' digits grow with t; the estimate sees it (demo graph,
    T = 5000 would need hundreds of MB) and refuses with the estimate in the message."""
    status, out, err = _cli(["predict", DEMO, "-T", "5000"])
    assert status == 2 and out == ""
    _one_error_line(err, "--generations", "MB")


def test_predict_prints_exact_values_longer_than_python_s_digit_limit(tmp_path: Path) -> None:
    """Claim: exact risks with more than 4300 digits print (Python's default limit on
    int-to-str conversion used to end in a traceback)."""
    g = tmp_path / "big.json"
    g.write_text(self_training(real_samples=10**6, samples=10**6, initial_samples=10**6, dimension=3).dumps())
    status, out, err = _cli(["predict", str(g), "-T", "300", "--json"])
    assert status == 0, err
    exact = json.loads(out)["risk_exact"]["L0"][-1]
    assert len(exact) > 8600


def test_verify_refuses_a_horizon_beyond_the_memory_budget() -> None:
    """Claim: `verify -T 10^7` is refused up front (one block of replications alone would
    need far more than the memory budget), naming --max-memory."""
    proc = _run_bounded(["verify", RING, "-T", "10000000", "-R", "100"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    _one_error_line(proc.stderr, "--generations", "--max-memory")


def test_verify_max_memory_option(no_simulation: None) -> None:
    """Claim: --max-memory sets the budget (here too small for one block of 100 generations)."""
    status, _, err = _cli(["verify", RING, "-T", "100", "-R", "100", "--max-memory", "1"])
    assert status == 2
    _one_error_line(err, "--max-memory")


def test_verify_m_estimator_scales_beyond_the_memory_budget(no_simulation: None) -> None:
    """Claim: the data of an M-estimator fit grow with the scale; --scales 1000000 is refused."""
    status, _, err = _cli(["verify", RING, "-T", "1", "-R", "100", "--estimator", "gaussian",
                           "--scales", "1000000"])
    assert status == 2
    _one_error_line(err, "--max-memory")


# ============================================================================ 2. signals
def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo += list(kids - out)
        out |= kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("group", [pytest.param(False, id="parent-only"), pytest.param(True, id="process-group")])
def test_sigterm_behaves_like_ctrl_c(tmp_path: Path, group: bool) -> None:
    """Claim: SIGTERM (to the command alone, or to its process group as `timeout` and batch
    schedulers send it) stops the workers, writes the finished chunks (JSON and CSV, with
    interrupted true) and exits with status 143, leaving no child process behind."""
    rows = tmp_path / "rows.csv"
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "graphcollapse", "verify", RING, "-T", "1", "-R", str(10**9),
                                 "--seed", "1", "--workers", "2", "--json", "--csv", str(rows), "--progress"],
                                stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        kids: set[int] = set()
        while time.monotonic() < deadline and not (len(kids) >= 2 and "replications" in err_path.read_text()):
            kids |= {k for k in _children(proc.pid) if _alive(k)}
            time.sleep(0.05)  # until the workers run and the progress bar shows merged chunks (after 2 s)
        assert len(kids) >= 2, "the worker processes did not start"
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err_path.read_text()
    data = json.loads(out)
    assert data["interrupted"] is True and data["completed"] > 0
    assert rows.read_text().count("\n") == 1 + 2 * 4
    assert "Traceback" not in err_path.read_text()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.05)
    orphans = [k for k in kids if _alive(k)]
    for k in orphans:  # clean up before failing
        os.kill(k, signal.SIGKILL)
    assert not orphans, "orphan processes"


# ============================================================================ 3. outputs
@pytest.mark.parametrize("extra, words", [
    pytest.param(["--csv", "/nonexistent/x.csv"], ["--csv", "/nonexistent"], id="csv-missing-dir"),
    pytest.param(["--plot", "/nonexistent/x.png"], ["--plot", "/nonexistent"], id="plot-missing-dir"),
    pytest.param(["--plot", "x.xyz"], ["--plot", ".xyz", ".png"], id="plot-unknown-suffix"),
    pytest.param(["--graph-plot", "g.docx"], ["--graph-plot", ".docx"], id="graph-plot-unknown-suffix"),
    pytest.param(["--csv", "DIR"], ["--csv", "directory"], id="csv-is-a-directory"),
    pytest.param(["--csv", "GRAPH"], ["--csv", "input"], id="csv-overwrites-the-graph"),
    pytest.param(["--csv", "SAME.png", "--plot", "SAME.png"], ["--plot", "--csv"], id="two-outputs-one-file"),
])
def test_bad_outputs_are_rejected_before_the_simulation(extra: list[str], words: list[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        no_simulation: None) -> None:
    """Claim: an output that cannot be written is a one-line error (exit 2) before any
    simulation, not a traceback after it."""
    graph = tmp_path / "g.json"
    shutil.copy(RING, graph)
    monkeypatch.chdir(tmp_path)
    extra = [str(tmp_path) if e == "DIR" else str(graph) if e == "GRAPH" else e for e in extra]
    status, _, err = _cli(["verify", str(graph), "-T", "1", "-R", "50"] + extra)
    assert status == 2
    _one_error_line(err, *words)
    assert graph.read_text() == Path(RING).read_text()


@pytest.mark.parametrize("argv", [
    pytest.param(["analyze", "\x00x"], id="graph"),
    pytest.param(["verify", RING, "-T", "1", "-R", "50", "--csv", "a\x00.csv"], id="csv"),
    pytest.param(["verify", RING, "-T", "1", "-R", "50", "--covariance", "c\x00"], id="covariance"),
    pytest.param(["latex", RING, "-o", "t\x00.tex"], id="latex-output"),
])
def test_file_names_with_a_nul_byte_are_one_line_errors(argv: list[str]) -> None:
    """Claim: a file name the operating system cannot open (a NUL byte; found by
    tests/test_fuzz_cli.py) is a one-line error, not a ValueError traceback."""
    status, _, err = _cli(argv)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "NUL byte" in err, err


def test_plot_without_matplotlib_is_rejected_before_the_simulation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   no_simulation: None) -> None:
    """Claim: --plot when matplotlib cannot be imported: one line naming --plot and the fix."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    status, _, err = _cli(["verify", RING, "-T", "1", "-R", "50", "--plot", str(tmp_path / "f.png")])
    assert status == 2
    _one_error_line(err, "--plot", "matplotlib", "pip install")


def test_latex_output_is_checked_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim: `latex -o` into a missing directory is refused before the derivation."""
    import graphcollapse.theory.theorem as theorem

    monkeypatch.setattr(theorem, "derive_theorem", lambda *a, **k: pytest.fail("derived"))
    status, _, err = _cli(["latex", RING, "-o", "/nonexistent/t.tex"])
    assert status == 2
    _one_error_line(err, "--output", "/nonexistent")


def test_a_failing_output_after_the_simulation_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim: when a figure cannot be written after the simulation, the CSV and the JSON are
    still written, the error is one line and the exit status is 1."""
    import graphcollapse.verify.plots as plots

    def broken(result, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "plot_verification", broken)
    rows = tmp_path / "rows.csv"
    status, out, err = _cli(["verify", RING, "-T", "1", "-R", "300", "--seed", "1", "--json", "--csv", str(rows),
                             "--plot", str(tmp_path / "fig.png")])
    assert status == 1
    assert json.loads(out)["completed"] == 300 and rows.read_text().count("\n") == 9
    _one_error_line(err, "--plot", "No space left on device")


# ============================================================================ 4. silent or misleading answers
@pytest.mark.parametrize("command", [
    pytest.param(["analyze", RING], id="analyze"),
    pytest.param(["predict", RING, "-T", "2"], id="predict"),
    pytest.param(["verify", RING, "-T", "1", "-R", "50"], id="verify"),
])
def test_large_sample_with_an_m_estimator_is_rejected(command: list[str], no_simulation: None) -> None:
    """Claim: --large-sample selects an OLS theory; with an M-estimator it used to be ignored."""
    status, out, err = _cli(command + ["--estimator", "logistic", "--large-sample"])
    assert status == 2 and out == ""
    _one_error_line(err, "--large-sample", "logistic")


def test_fix_samples_applies_to_m_estimators(capsys: pytest.CaptureFixture[str]) -> None:
    """Claim: `analyze --estimator NAME --fix-samples M` gives the fixed learners M real samples
    (it used to be ignored)."""
    status, out, _ = _cli(["analyze", RING, "--estimator", "huber", "--fix-samples", "7", "--json"])
    assert status == 0
    assert {f["add_real_samples"] for f in json.loads(out)["minimal_fix"]} == {7}


def test_custom_estimator_with_a_loss_file_runs() -> None:
    """Claim: `--estimator custom --loss FILE` is accepted (the name used to be checked for
    its loss file before --loss was read, so custom never ran from the command line)."""
    loss = str(EXAMPLES / "cauchy.loss")
    status, out, err = _cli(["analyze", RING, "--estimator", "custom", "--loss", loss, "--json"])
    assert status == 0, err
    assert json.loads(out)["estimator"] == "cauchy"
    status, _, err = _cli(["analyze", RING, "--estimator", "custom"])
    assert status == 2
    _one_error_line(err, "needs --loss FILE")


def test_covariance_with_location_scale_is_rejected(tmp_path: Path, no_simulation: None) -> None:
    """Claim: location-scale has no covariates; --covariance is refused instead of ignored."""
    cov = tmp_path / "cov.json"
    cov.write_text("[[1, 0, 0], [0, 1, 0], [0, 0, 1]]")
    status, _, err = _cli(["verify", RING, "-T", "1", "-R", "50", "--estimator", "location-scale",
                           "--covariance", str(cov)])
    assert status == 2
    _one_error_line(err, "--covariance", "location-scale")


def test_poisson_risks_that_underflow_are_refused() -> None:
    """Claim: with a large theta* the Poisson per-sample risk exp(-tau^2/2)(...) is below the
    smallest double; the theory says so instead of reporting collapse at rate 0."""
    from graphcollapse.theory.graph import load_graph
    from graphcollapse.theory.mestimators import asymptotic_analysis, asymptotic_prediction

    g = load_graph(RING)
    with pytest.raises(GraphValueError, match=r"--theta: .*underflow"):
        asymptotic_analysis(g, "poisson", "40,0,0")
    with pytest.raises(GraphValueError, match=r"--theta"):
        asymptotic_prediction(g, "poisson", 2, "40,0,0")
    status, out, err = _cli(["analyze", RING, "--estimator", "poisson", "--theta", "40,0,0"])
    assert status == 2 and out == ""
    _one_error_line(err, "--theta", "tau^2")
    rate = asymptotic_analysis(g, "poisson", "30,0,0").to_json()["models"]["A"]["growth_rate"]
    assert 0 < rate < 1e-190  # still representable: reported


def test_verify_exits_3_when_theory_and_simulation_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim: a disagreement is exit status 3 with one line on stderr (it used to be 0)."""
    from graphcollapse.verify.montecarlo import OLSSimulator

    real = OLSSimulator.prediction
    monkeypatch.setattr(OLSSimulator, "prediction", lambda self: real(self) * 1.5)
    status, out, err = _cli(["verify", RING, "-T", "1", "-R", "2000", "--seed", "1"])
    assert status == 3
    assert "agreement: NO" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "disagree" in lines[0] and "exit status 3" in lines[0], err


def test_verify_not_assessed_is_noted_and_strict_fails_it() -> None:
    """Claim: with no tested row the default exit status stays 0 with a one-line note on
    stderr; --strict turns it into 3, and an agreement stays 0 under --strict."""
    g = [RING, "-T", "1", "-R", "50", "--seed", "1", "--estimator", "gaussian", "--scales", "1"]
    status, out, err = _cli(["verify", *g])
    assert status == 0 and "not assessed" in out
    assert len(err.strip().splitlines()) == 1 and "not assessed" in err and "--strict" in err
    status, _, _ = _cli(["verify", *g, "--strict"])
    assert status == 3
    status, _, err = _cli(["verify", RING, "-T", "1", "-R", "600", "--seed", "1", "--strict"])
    assert status == 0, err


def test_m_estimator_disagreement_names_a_scale() -> None:
    """Claim: when an M-estimator disagrees and the relative error falls like 1/s (the bias
    of the first-order theory), the report says which scale to use."""
    import dataclasses

    from graphcollapse.verify.mcompare import verify_mestimator

    res = verify_mestimator(cycle(3, real_samples=20, samples=10, initial_samples=40, dimension=2), "gaussian",
                            generations=1, replications=256, scales="1,4,16", seed=1)
    scales = np.array(res.scales, dtype=float).reshape(-1, 1, 1)
    biased = dataclasses.replace(res, mean=res.theory * (1 + 0.8 / scales), se=res.theory * 0.002 + 0 * res.se)
    assert not biased.agrees
    report = biased.report()
    hint = [line for line in report.splitlines() if line.startswith("hint:")]
    assert hint and "--scales" in hint[0], report
    suggested = max(int(s) for s in re.search(r"--scales ([\d,]+)", hint[0]).group(1).split(","))
    assert suggested >= 256  # 0.8 / s below 0.002 needs s >= 400: the next power of 4 is 1024
    assert "--scales" in biased.disagreement()


# ============================================================================ 5. Python API
@pytest.mark.parametrize("kwargs, error, word", [
    pytest.param({"seed": 1.5}, GraphTypeError, "seed", id="float-seed"),
    pytest.param({"seed": "7"}, GraphTypeError, "seed", id="string-seed"),
    pytest.param({"seed": -1}, GraphValueError, "seed", id="negative-seed"),
    pytest.param({"seed": True}, GraphTypeError, "seed", id="bool-seed"),
    pytest.param({"workers": 1.5}, GraphValueError, "--workers", id="float-workers"),
    pytest.param({"generations": 2.0}, GraphValueError, "--generations", id="float-generations"),
    pytest.param({"replications": "100"}, GraphValueError, "--replications", id="string-replications"),
    pytest.param({"progress": 3}, GraphTypeError, "progress", id="progress-not-callable"),
    pytest.param({"max_memory": 0}, GraphValueError, "max_memory", id="zero-memory"),
])
def test_api_rejects_bad_arguments_with_our_errors(kwargs: dict, error: type, word: str) -> None:
    """Claim: bad arguments of verify_ols / verify raise our one-line errors naming them."""
    from graphcollapse.verify.api import verify
    from graphcollapse.verify.montecarlo import verify_ols

    args = dict(generations=1, replications=100, seed=0) | kwargs
    g = cycle(2, real_samples=20, initial_samples=30, dimension=2)
    for fn in (verify_ols, lambda graph, **kw: verify(graph, "ols", **kw)):
        with pytest.raises(error, match=re.escape(word)) as info:
            fn(g, **args)
        assert "\n" not in str(info.value)


def test_api_rejects_a_path_for_the_graph() -> None:
    """Claim: verify() given a file name instead of a graph says how to load one."""
    from graphcollapse.verify.api import verify

    with pytest.raises(GraphTypeError, match="graph: expected an InteractionGraph.*load_graph"):
        verify(RING, generations=1, replications=100)


def test_cli_warnings_are_one_line_without_source(tmp_path: Path) -> None:
    """Claim: warnings reach the command line's stderr as single lines
    `graphcollapse: warning: ...`, never with a source line of the package."""
    g = tmp_path / "ring3.json"
    g.write_text(cycle(3).dumps())
    status, _, err = _cli(["verify", str(g), "-T", "1", "-R", "256", "--seed", "1", "--estimator", "logistic",
                           "--scales", "1"])
    lines = err.strip().splitlines()
    assert any(line.startswith("graphcollapse: warning: logistic at scale 1:") for line in lines), err
    assert all(line.startswith("graphcollapse: ") for line in lines), err
    assert "api.py" not in err and ".py:" not in err


def test_m_estimator_warning_points_at_the_caller_of_verify() -> None:
    """Claim: failed fits warn from the line that called verify(), not from inside the package."""
    from graphcollapse.verify.api import verify

    with pytest.warns(GraphCollapseWarning, match="logistic at scale 1") as record:
        verify(cycle(3), "logistic", generations=1, replications=256, scales="1", seed=1)
    assert {w.filename for w in record if issubclass(w.category, GraphCollapseWarning)} == {__file__}


# ============================================================================ 6. --help examples
def _examples(command: str) -> list[list[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = sub.choices[command].format_help()
    return [shlex.split(line.strip().removeprefix("$ "))[1:] for line in text.splitlines()
            if line.strip().startswith("$ graphcollapse ")]


@pytest.mark.parametrize("command", ["demo", "analyze", "predict", "verify", "latex"])
def test_help_of_every_command_has_a_runnable_example(command: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim: `graphcollapse COMMAND --help` ends with examples that run (exit 0) from the
    repository root."""
    examples = _examples(command)
    assert examples and all(e[0] == command for e in examples)
    shutil.copytree(EXAMPLES, tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    for argv in examples:
        status, _, err = _cli(argv)
        assert status == 0, (argv, err)


def test_main_returns_the_status_of_argparse_exits() -> None:
    """Claim: main() returns exit statuses instead of raising SystemExit (--help: 0,
    a bad option: 2 with one line)."""
    assert _cli(["--version"])[0] == 0
    assert _cli(["verify", "--help"])[0] == 0
    status, _, err = _cli(["verify", RING, "-T", "1"])
    assert status == 2 and len(err.strip().splitlines()) == 1
