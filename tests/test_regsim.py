"""The simulators of the data regimes and loss weights (verify/regsim.py).

Each Monte Carlo test names the claim it checks; seeds are fixed and the tolerance is the
standard error (|z| < 4, or the Bonferroni bound of the driver).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from graphcollapse.theory.builders import cycle, self_training
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.mestimators import FAMILIES
from graphcollapse.verify.blocks import block_generator
from graphcollapse.verify.msimulate import simulate_block
from graphcollapse.verify.regsim import (RegimeMSimulator, RegimeOLSSimulator, regime_block_bytes, regime_spec,
                                         simulate_regime_mestimator_block, simulate_regime_ols_block,
                                         simulate_regime_ols_reference, verify_regime)

Z = 4.0


def _z_two_sample(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row z of the difference of two independent Monte Carlo means."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / se


def _three_learners() -> InteractionGraph:
    """A -> B, B <-> C, B -> B: real data at A and B, distinct synthetic noise at C."""
    return InteractionGraph(["A", "B", "C"], real_samples=[14, 6, 0], initial_samples=[16, 14, 12],
                            edges=[("A", "B", 5), ("B", "B", 4), ("B", "C", 9), ("C", "B", 3)], dimension=3,
                            noise_variance=1, synthetic_noise_variance=[None, None, 2])


def _spec(graph: InteractionGraph, **fields):
    spec = regime_spec(graph)
    K = spec.K
    values = {k: (v if isinstance(v, tuple) else (v,) * K) for k, v in fields.items()}
    return dataclasses.replace(spec, **values)


def _weighted(spec, real_weight, edge_weight):
    parts = tuple(tuple(dataclasses.replace(p, weight=real_weight if p.source < 0 else edge_weight) for p in ps)
                  for ps in spec.parts)
    return dataclasses.replace(spec, parts=parts, real_weight=(real_weight,) * spec.K)


# ---------------------------------------------------------------------------- OLS anchors
@pytest.mark.parametrize("design", ["fixed"])
def test_gerstgrasser_fixed_design_accumulation(design):
    """Claim (Gerstgrasser et al. 2024, arXiv 2404.01413, fixed design, accumulate): a
    learner refitting on all its data, every generation's labels drawn from its previous
    fit on the same design X (n x d), has test error sigma^2 d/(n-d-1) sum_{i=1}^{t+1} 1/i^2
    at our generation t (their iteration t + 1: the first fit is on real data), bounded by
    pi^2/6 times the first."""
    n, d, T, R = 20, 3, 6, 8192
    G = self_training(real_samples=0, samples=n, initial_samples=n, dimension=d)
    spec = _spec(G, policy="accumulate", design_fixed=True)
    risk = np.concatenate([simulate_regime_ols_block(spec, T, block_generator(11, b), 256)[:, :, 0]
                           for b in range(R // 256)])
    theory = np.array([d / (n - d - 1) * sum(1 / i**2 for i in range(1, t + 2)) for t in range(T + 1)])
    z = (risk.mean(axis=0) - theory) / (risk.std(axis=0, ddof=1) / math.sqrt(R))
    assert np.all(np.abs(z) < Z), z
    assert theory[-1] < math.pi**2 / 6 * theory[0]


def test_kazdan_ordering_in_simulation():
    """Claim (Kazdan et al. 2024, arXiv 2410.16713, regression setting): for a learner
    trained on its own outputs, the risk after 10 generations orders replace >
    accumulate-subsample > accumulate; the simulated means differ by more than 4 standard
    errors each time."""
    G = self_training(real_samples=0, samples=20, initial_samples=20, dimension=3)
    last = {}
    for policy in ("replace", "accumulate-subsample", "accumulate"):
        spec = _spec(G, policy=policy)
        risk = np.concatenate([simulate_regime_ols_block(spec, 10, block_generator(6, b), 256)[:, -1, 0]
                               for b in range(4)])
        last[policy] = (risk.mean(), risk.std(ddof=1) / math.sqrt(len(risk)))

    def gap(a, b):
        return (last[a][0] - last[b][0]) / math.hypot(last[a][1], last[b][1])

    assert gap("replace", "accumulate-subsample") > Z and gap("accumulate-subsample", "accumulate") > Z


def test_replacement_with_fixed_real_data_is_constant():
    """Claim: a learner with only a fixed real data set (no edges) fits the same data every
    generation, so its estimate, and its risk, never change after generation 1."""
    G = InteractionGraph(["A"], real_samples=[12], initial_samples=[12], edges=[], dimension=2, noise_variance=1)
    risk = simulate_regime_ols_block(_spec(G, real_fixed=True), 5, block_generator(0, 0), 64)
    assert np.array_equal(risk[:, 1:, 0], np.repeat(risk[:, 1:2, 0], 5, axis=1))


# ---------------------------------------------------------------------------- fast path = reference
REGIMES = [
    pytest.param(dict(policy="replace"), id="replace"),
    pytest.param(dict(policy="accumulate"), id="accumulate"),
    pytest.param(dict(policy="accumulate-subsample"), id="subsample"),
    pytest.param(dict(policy="accumulate", design_fixed=True), id="accumulate-fixed-design"),
    pytest.param(dict(policy="replace", real_fixed=True), id="replace-fixed-real"),
    pytest.param(dict(policy="accumulate-subsample", real_fixed=True), id="subsample-fixed-real"),
    pytest.param(dict(policy="accumulate", real_fixed=True, design_fixed=True), id="accumulate-fixed-real-and-design"),
    pytest.param(dict(policy="replace", real_fixed=True, design_fixed=True), id="replace-fixed-real-and-design"),
    pytest.param(dict(policy=("accumulate", "replace", "accumulate-subsample")), id="mixed-policies"),
    pytest.param(dict(policy="accumulate", weights=(0.5, 2.0)), id="accumulate-weighted"),
    pytest.param(dict(policy="replace", weights=(3.0, 0.25), real_fixed=True), id="replace-weighted-fixed-real"),
]


@pytest.mark.parametrize("regime", REGIMES)
def test_sufficient_statistics_match_explicit_samples(regime):
    """Claim (module docstring of verify/regsim.py): the sufficient-statistics path has
    the law of the process drawn sample by sample (explicit designs x = L z, labels,
    weighted least squares on the pool), on a 3-learner graph with a non-identity
    covariance: the mean risks agree at every generation and learner."""
    regime = dict(regime)
    weights = regime.pop("weights", None)
    G = _three_learners().replace(covariance=[[2, 0.5, 0], [0.5, 1, 0], [0, 0, 1]])
    if regime.get("design_fixed"):  # a fixed design labels the same N_k rows at generation 0
        G = G.replace(initial_samples=[14, 18, 9])
    spec = _spec(G, **regime)
    if weights:
        spec = _weighted(spec, *weights)
    T, blocks = 4, 8
    fast = np.concatenate([simulate_regime_ols_block(spec, T, block_generator(1, b), 256) for b in range(blocks)])
    ref = np.concatenate([simulate_regime_ols_reference(spec, T, block_generator(2, b), 256) for b in range(blocks)])
    z = _z_two_sample(fast, ref)
    assert np.all(np.abs(z) < Z), z


@pytest.mark.parametrize("regime", [
    pytest.param(dict(policy="accumulate"), id="accumulate-fresh-design"),
    pytest.param(dict(policy="replace", design_fixed=True, real_fixed=True), id="replace-fixed-design-fixed-real"),
    pytest.param(dict(policy="accumulate-subsample"), id="subsample"),
])
def test_parts_with_fewer_rows_than_d_match_explicit_samples(regime):
    """Claim (module docstring of verify/regsim.py: a part with fewer rows than d enters
    through X^T, not a Bartlett factor): a learner B whose every part has 2 rows in
    dimension 4 (2 real samples and 2 from each of four accurate producers A1..A4, so
    that B's risk is mostly its own label noise) has the law of the process drawn sample
    by sample: mean risks agree at every generation and learner."""
    names = ["A1", "A2", "A3", "A4", "B"]
    G = InteractionGraph(names, real_samples=[200, 200, 200, 200, 2], initial_samples=[200, 200, 200, 200, 10],
                         edges=[(a, "B", 2) for a in names[:4]], dimension=4, noise_variance=1,
                         synthetic_noise_variance=[1, 2, 1, 2, None])
    policy = ("replace",) * 4 + (regime.pop("policy"),)
    spec = _spec(G, policy=policy, **regime)
    T, blocks = 3, 8
    fast = np.concatenate([simulate_regime_ols_block(spec, T, block_generator(1, b), 256) for b in range(blocks)])
    ref = np.concatenate([simulate_regime_ols_reference(spec, T, block_generator(2, b), 256) for b in range(blocks)])
    z = _z_two_sample(fast, ref)
    assert np.all(np.abs(z) < Z), z


def test_default_regime_matches_the_ols_theory():
    """Claim: in the default regime (replace, fresh data, unit weights) the regime
    simulator has the law of docs/exact.md's process: its mean risks agree with the exact
    theory."""
    from graphcollapse.verify.montecarlo import theory_risks

    G = _three_learners()
    T, blocks = 3, 8
    risk = np.concatenate([simulate_regime_ols_block(regime_spec(G), T, block_generator(5, b), 256)
                           for b in range(blocks)])
    theory = theory_risks(G, T)
    z = (risk.mean(axis=0) - theory) / (risk.std(axis=0, ddof=1) / math.sqrt(len(risk)))
    assert np.all(np.abs(z) < Z), z


def test_weights_that_are_all_equal_change_nothing():
    """Claim: multiplying every loss weight by the same constant leaves weighted least
    squares unchanged, so the risks are those of unit weights with the same random numbers."""
    spec = _spec(_three_learners(), policy=("accumulate", "replace", "accumulate-subsample"))
    a = simulate_regime_ols_block(spec, 3, block_generator(3, 0), 32)
    b = simulate_regime_ols_block(_weighted(spec, 2.5, 2.5), 3, block_generator(3, 0), 32)
    np.testing.assert_allclose(a, b, rtol=1e-9)


# ---------------------------------------------------------------------------- M-estimators
FAMILY_NAMES = ["gaussian", "logistic", "poisson", "huber", "location-scale"]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_default_regime_reproduces_simulate_block(family):
    """Claim: in the default regime the M-estimator regime simulator draws the same numbers
    in the same order and fits with the same fitters as simulate_block: identical risks."""
    G = cycle(2, real_samples=30, samples=30, initial_samples=60, dimension=2)
    a = simulate_regime_mestimator_block(G, FAMILIES[family], 2, 7, 0, 32)
    b = simulate_block(G, FAMILIES[family], 2, 7, 0, 32)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_weighted_fit_with_equal_weights_is_the_unweighted_fit(family):
    """Claim: the weighted fitters (weighted least squares, weighted mean and variance,
    weighted Newton, weighted IRLS) with every weight equal to 3 return the unweighted
    estimate (the loss is only scaled), to the fitters' tolerance."""
    from graphcollapse.verify.msimulate import _draw, _fit, _setup
    from graphcollapse.verify.regsim import _weighted_fit

    G = self_training(real_samples=200, samples=1, initial_samples=200, dimension=2)
    st = _setup(G, FAMILIES[family], None, 1)
    ts = np.broadcast_to(st.theta_star, (16, st.p))
    X, y = _draw(st, np.random.default_rng(0), [(ts, 200, st.s2)])
    a, ok_a = _fit(st, X, y, None)
    b, ok_b = _weighted_fit(st, X, y, np.full(y.shape, 3.0), None)
    assert ok_a.all() and ok_b.all()
    np.testing.assert_allclose(a, b, atol=1e-7)


def test_mestimator_accumulation_of_gaussian_regression_is_ols():
    """Claim: Gaussian regression is OLS, also under accumulation with weights: the
    M-estimator regime simulator and the OLS sufficient-statistics path have the same mean
    risks."""
    G = _three_learners().replace(data_policy="accumulate", real_weight=2, edge_weights=0.5)
    T, blocks = 3, 6
    m = np.concatenate([simulate_regime_mestimator_block(G, FAMILIES["gaussian"], T, 4, b, 256, theta="1,0,-1")[0]
                        for b in range(blocks)])
    o = np.concatenate([simulate_regime_ols_block(regime_spec(G), T, block_generator(9, b), 256)
                        for b in range(blocks)])
    assert np.all(np.abs(_z_two_sample(m, o)) < Z)


# ---------------------------------------------------------------------------- driver contract
def test_chunking_does_not_change_the_ols_result():
    """Claim (driver contract): every block draws from its own generator, so the blocks'
    risks, which the driver merges in block order, are identical whether blocks are
    simulated one per task or several per task."""
    G = _three_learners().replace(data_policy=["accumulate", "accumulate-subsample", "replace"], real_data="fixed")
    sim = RegimeOLSSimulator(G, 3)
    together = [s.risk for s in sim.simulate(4, [(0, 256), (1, 256), (2, 188)])]
    apart = [sim.simulate(4, [block])[0].risk for block in [(0, 256), (1, 256), (2, 188)]]
    assert all(np.array_equal(x, y) for x, y in zip(together, apart))


def test_chunking_does_not_change_the_mestimator_result():
    """Claim (driver contract): the same seed gives identical M-estimator results whether
    blocks are simulated one per task or several per task."""
    G = self_training(real_samples=20, samples=20, initial_samples=40, dimension=1).replace(
        data_policy="accumulate-subsample", real_weight=2)
    sim = RegimeMSimulator(G, FAMILIES["location-scale"], 2, scales="1,2")
    one = [s.risk for s in sim.simulate(8, [(0, 256), (1, 44)])]
    two = [s.risk for s in sim.simulate(8, [(0, 256)])] + [s.risk for s in sim.simulate(8, [(1, 44)])]
    assert all(np.array_equal(x, y) for x, y in zip(one, two))


def test_subsample_pool_beyond_the_memory_budget_is_refused():
    """Claim: the pool of accumulate-subsample grows linearly with T, and a run whose block
    does not fit --max-memory is refused up front with a one-line error."""
    G = self_training(real_samples=0, samples=1000, initial_samples=1000, dimension=10).replace(
        data_policy="accumulate-subsample")
    spec = regime_spec(G)
    b0, b500, b1000 = (regime_block_bytes(spec, T) for T in (0, 500, 1000))
    assert b1000 - b500 == b500 - b0 > 256 * 8 * 500 * 1000 * (10 + 2)  # affine in T, the pool dominating
    with pytest.raises(GraphValueError, match=r"^--generations: one block .*--max-memory"):
        verify_regime(G, generations=1000, replications=10, seed=1, max_memory=2**30)


def test_subsample_with_fewer_samples_than_d_is_refused():
    """A subsampling learner fits N_k rows of its pool: with N_k <= d its Gram matrix is
    singular, and the run is refused up front in one line naming the learner."""
    G = self_training(real_samples=1, samples=1, initial_samples=10, dimension=3).replace(
        data_policy="accumulate-subsample")
    with pytest.raises(GraphValueError, match=r"^models\[L0\]: OLS under data_policy accumulate-subsample fits N_k"):
        verify_regime(G, generations=2, replications=10, seed=1)
    assert verify_regime(G.replace(data_policy="accumulate"), generations=2, replications=64, seed=1).completed == 64


def test_fixed_design_is_refused_for_mestimators():
    """A fixed design applies to OLS: an M-estimator run says so in one line."""
    G = self_training(real_samples=20, samples=20, initial_samples=40, dimension=1).replace(design="fixed")
    with pytest.raises(GraphValueError, match=r"^design: 'fixed' \(learner L0\) applies to --estimator ols"):
        verify_regime(G, "gaussian", generations=1, replications=10, seed=1)


def test_weighted_location_scale_against_its_first_order_recursion():
    """Claim (first-order asymptotics of a weighted M-estimator, docs/mestimators.md with
    loss weights): a learner fitting the Gaussian location-scale MLE with real weight a on
    m real samples and weight b on n samples of its own previous fit has errors
    e_t = beta e_{t-1} + noise, beta = b n / (a m + b n), the noise of (mu, v) with
    variances (v, 2 v^2) (a^2 m + b^2 n) / (a m + b n)^2; so the n-scaled risk in the
    Euclidean norm on (mu, v), v = 1, is R_t = beta^2 R_{t-1} + 3 (a^2 m + b^2 n) /
    (a m + b n)^2, R_0 = 3 / n0 (counts of the graph; the simulation runs them times 200)."""
    a, b, m, n, n0, scale, T = 0.25, 1.0, 2, 2, 4, 200, 3  # unit weights would give 0.75, 0.94, 0.98, 1.00
    G = self_training(real_samples=m, samples=n, initial_samples=n0, dimension=1).replace(real_weight=a)
    beta = b * n / (a * m + b * n)
    noise = 3 * (a * a * m + b * b * n) / (a * m + b * n) ** 2
    theory = [3 / n0]
    for _ in range(T):
        theory.append(beta**2 * theory[-1] + noise)
    risk = np.concatenate([simulate_regime_mestimator_block(G, FAMILIES["location-scale"], T, 12, blk, 256,
                                                            scale=scale)[0][:, :, 0] * scale for blk in range(4)])
    z = (risk.mean(axis=0) - np.array(theory)) / (risk.std(axis=0, ddof=1) / math.sqrt(len(risk)))
    assert np.all(np.abs(z) < Z), z


# ---------------------------------------------------------------------------- against the regime theory
def _gerstgrasser_graph() -> InteractionGraph:
    return self_training(real_samples=0, samples=20, initial_samples=20, dimension=3).replace(
        data_policy="accumulate", design="fixed")


def _fixed_design_chain() -> InteractionGraph:
    """A (real data, replace) -> B (accumulate) -> C (replace): one source of data each."""
    G = InteractionGraph(["A", "B", "C"], real_samples=[20, 0, 0], initial_samples=[20, 20, 20],
                         edges=[("A", "B", 20), ("B", "C", 20)], dimension=3, noise_variance=1)
    return G.replace(design="fixed", data_policy=["replace", "accumulate", "replace"])


EXACT_GRAPHS = [
    pytest.param(_gerstgrasser_graph, id="gerstgrasser-accumulate"),
    pytest.param(lambda: _gerstgrasser_graph().replace(data_policy="replace"), id="fixed-design-replace"),
    pytest.param(_fixed_design_chain, id="fixed-design-chain"),
]


@pytest.mark.parametrize("make", EXACT_GRAPHS)
def test_verify_against_the_exact_regime_theory(make):
    """Claim (docs/regimes.md, exact theory of a fixed design with one source of data per
    learner): the simulation agrees with regime_prediction's exact risks, every row
    tested; the same simulation rejects the theory times 1.1."""
    G = make()
    res = verify_regime(G, generations=4, replications=4096, seed=2)
    assert res.theory_name == "exact" and res.tested_rows == 5 * G.num_learners and res.agrees
    shifted = dataclasses.replace(res, theory=res.theory * 1.1)
    assert not shifted.agrees


def test_verify_ols_against_the_large_sample_regime_theory_over_scales():
    """Claim (docs/regimes.md, large-sample recursion with the time-varying weights of
    accumulation and loss weights): s times the simulated risk at scale s agrees with the
    prediction at the graph's counts at the largest scale, and the relative error falls
    with the scale (the O(1/s) bias of the large-sample theory)."""
    G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=2).replace(
        data_policy=["accumulate", "accumulate-subsample"], real_weight=2, real_data="fixed")
    res = verify_regime(G, generations=4, replications=2048, seed=3, scales="1,16")
    errors = res.relative_error_by_scale()
    assert res.theory_name == "large-sample" and res.agrees and errors[1] > errors[16]
    assert not dataclasses.replace(res, theory=res.theory * 1.2).agrees


def test_verify_mestimator_against_the_asymptotic_regime_theory():
    """Claim (docs/regimes.md, weighted sandwich under accumulation): the n-scaled risks of
    the weighted location-scale MLE under accumulate-subsample agree with the asymptotic
    regime theory at the largest scale."""
    G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=1).replace(
        data_policy="accumulate-subsample", edge_weights=0.5)
    res = verify_regime(G, "location-scale", generations=3, replications=1024, seed=4)
    assert res.theory_name == "asymptotic" and res.tested_rows == 8 and res.agrees


def _poisson_regime_graph() -> InteractionGraph:
    """Two learners in a cycle with real data, one accumulating, one subsampling its pool,
    real samples weighted 2."""
    return cycle(2, real_samples=20, samples=20, initial_samples=40, dimension=2).replace(
        data_policy=["accumulate", "accumulate-subsample"], real_weight=2)


def test_verify_mestimator_at_a_non_default_theta():
    """Claim (docs/regimes.md, weighted sandwich under the regimes, evaluated at the given
    theta*): Poisson regression with theta* = (0.5, -0.5), simulated at that theta*,
    agrees with the asymptotic regime theory at the same theta* at the largest scale
    (|z| < 4 on every tested row), and the run is not a no-op in theta: the same
    simulation rejects the theory at the default theta* = (1, 0), whose risks are about
    0.6 times these."""
    from graphcollapse.theory.regimes import regime_m_prediction

    G = _poisson_regime_graph()
    res = verify_regime(G, "poisson", generations=3, replications=1024, seed=5, theta="0.5,-0.5", scales="16")
    assert res.theta == (0.5, -0.5) and res.theory_name == "asymptotic" and res.tested_rows == 8
    assert np.all(np.abs(res.z[np.broadcast_to(res.tested, res.z.shape)]) < Z), res.z
    default = regime_m_prediction(G, "poisson", 3)
    at_default = np.array([[float(default.risk[n][t]) for n in G.names] for t in range(4)])
    assert np.all(at_default < 0.7 * res.theory[-1])
    assert not dataclasses.replace(res, theory=np.broadcast_to(at_default, res.theory.shape).copy()).agrees


def test_cli_theta_on_a_regime_graph(tmp_path, capsys):
    """The command line takes --theta on a graph with a data regime as on any graph:
    verify prints the theta* it used in its JSON, analyze and predict report at that
    theta*, and a theta* of the wrong length is refused in one line naming --theta."""
    from graphcollapse.verify.cli import main

    path = tmp_path / "g.json"
    path.write_text(_poisson_regime_graph().dumps())
    assert main(["verify", str(path), "-T", "1", "-R", "128", "--seed", "1", "--estimator", "poisson",
                 "--theta", "0.5,-0.5", "--scales", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["theta"] == [0.5, -0.5] and out["theory"] == "asymptotic" and {r["scale"] for r in out["rows"]} == {1}
    for command in (["analyze", str(path)], ["predict", str(path), "-T", "2"]):
        assert main(command + ["--estimator", "poisson", "--theta", "0.5,-0.5", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)
    for command in (["verify", str(path), "-T", "1", "-R", "10"], ["analyze", str(path)],
                    ["predict", str(path), "-T", "2"]):
        assert main(command + ["--estimator", "poisson", "--theta", "0.5"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--theta: expected 2 numbers" in err[0], err


def test_cli_verify_on_a_regime_graph(tmp_path, capsys):
    """The command line end to end: a graph file declaring a regime is verified by the
    regime simulators with the JSON of every verify (exit 0), a --scales where the
    theory is exact is refused in one line (exit 2), and --large-sample compares the same
    graph with the large-sample theory over scales."""
    from graphcollapse.verify.cli import main

    path = tmp_path / "g.json"
    path.write_text(_gerstgrasser_graph().dumps())
    assert main(["verify", str(path), "-T", "3", "-R", "2048", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"version", "seed", "replications", "completed", "interrupted", "estimator", "theory",
                        "agrees", "rows"}
    assert out["agrees"] and out["theory"] == "exact" and len(out["rows"]) == 4
    assert main(["verify", str(path), "-T", "3", "-R", "100", "--scales", "1,4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scales: the theory of this regime is exact" in err[0]
    assert main(["verify", str(path), "-T", "2", "-R", "1024", "--seed", "1", "--scales", "1,16", "--large-sample",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["theory"] == "large-sample" and out["scales"] == [1, 16] and out["agrees"]


# ---------------------------------------------------------------------------- random graphs and regimes
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from strategies import interaction_graphs  # noqa: E402


@st.composite
def regime_graphs(draw):
    """A random graph of tests/strategies.py with every N_k, n0_k >= d + 8 (finite risk
    variances, so that z is trustworthy) and a random regime per learner: data policy, real
    data, a fixed design (generation 0 then labels the same N_k rows) except with
    subsampling, and loss weights in {1/2, 1, 2}."""
    G = draw(interaction_graphs(max_learners=3))
    d, K = int(G.dimension), G.num_learners
    real = [int(m) for m in G.real_samples]
    totals = [int(n) for n in G.total_samples]
    real = [m + max(0, d + 8 - n) for m, n in zip(real, totals)]
    totals = [max(n, d + 8) for n in totals]
    policy = [draw(st.sampled_from(["replace", "accumulate", "accumulate-subsample"])) for _ in range(K)]
    design = [draw(st.sampled_from(["fresh", "fixed"])) if p != "accumulate-subsample" else "fresh" for p in policy]
    initial = [totals[k] if design[k] == "fixed" else max(int(G.initial_samples[k]), d + 8) for k in range(K)]
    weight = st.sampled_from([0.5, 1, 2])
    return G.replace(real_samples=real, initial_samples=initial, data_policy=policy, design=design,
                     real_data=[draw(st.sampled_from(["fresh", "fixed"])) for _ in range(K)],
                     real_weight=[draw(weight) for _ in range(K)],
                     edge_weights=[draw(weight) for _ in G.edges])


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(regime_graphs())
def test_sufficient_statistics_match_explicit_samples_on_random_regimes(G):
    """Claim (module docstring of verify/regsim.py) on random graphs and regimes: the
    sufficient-statistics path and the explicit-sample reference have the same mean risk
    at every generation and learner (two-sample z, Bonferroni over the rows at
    family-wise level 1e-3)."""
    from graphcollapse.verify.driver import bonferroni_bound

    spec, T = regime_spec(G), 2
    fast = np.concatenate([simulate_regime_ols_block(spec, T, block_generator(1, b), 256) for b in range(4)])
    ref = np.concatenate([simulate_regime_ols_reference(spec, T, block_generator(2, b), 256) for b in range(4)])
    z = _z_two_sample(fast, ref)
    assert np.all(np.abs(z) < bonferroni_bound(z.size)), z


def test_custom_loss_under_a_regime_is_refused(tmp_path):
    """The regime theory covers the built-in families: a custom loss on a regime graph is
    refused in one line naming the option."""
    from pathlib import Path

    loss = Path(__file__).resolve().parent.parent / "docs" / "examples" / "variance.loss"
    G = self_training(real_samples=20, samples=20, initial_samples=40, dimension=1).replace(data_policy="accumulate")
    with pytest.raises(GraphValueError, match=r"^--estimator custom: the regime theory covers the built-in"):
        verify_regime(G, "custom", loss_file=str(loss), generations=1, replications=10, seed=1)
