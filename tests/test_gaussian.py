"""The Gaussian families (docs/gaussian.md): exact moment recursion, closed forms, verdicts,
the multivariate sandwich, and Monte Carlo checks of the recursion (fixed seeds, |z| < 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import given, settings, strategies as st

from graphcollapse.theory.builders import complete, cycle, self_training, star
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.gaussian import (MULTIVARIATE_GAUSSIAN, gaussian_moment_trajectory, gaussian_verdicts,
                                           is_schur_stable, log_det_drift, multivariate_sandwich,
                                           self_training_moments, sequence_growth)
from graphcollapse.theory.graph import load_graph
from graphcollapse.theory.mestimators import asymptotic_analysis
from graphcollapse.verify.gaussian_sim import gaussian_metrics, simulate_gaussian

DEMO = load_graph("docs/examples/demo.json")


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_recursion_matches_self_training_closed_form(estimator):
    """Claim (§2 vs §1): on a self-trainer the recursion gives the closed forms E v_t and E(mu_t - mu*)^2."""
    G = self_training(samples=7, initial_samples=5, noise_variance=3)
    m = gaussian_moment_trajectory(G, 6, estimator)
    for t in range(7):
        cf = self_training_moments(7, 5, t, estimator, 3)
        assert sp.simplify(m.covariance_trace["L0"][t] - cf["variance"]) == 0
        assert sp.simplify(m.mean_squared_error["L0"][t] - cf["mean_squared_error"]) == 0


def test_recursion_in_d_dimensions_scales_by_trace():
    """Claim (§2): E Sigma_k = u_k Sigma, so every moment in dimension d is tr(Sigma) times the univariate one."""
    one = gaussian_moment_trajectory(DEMO, 3, "unbiased", dimension=1)
    three = gaussian_moment_trajectory(DEMO, 3, "unbiased", dimension=3)
    for name in DEMO.names:
        assert [3 * x for x in one.mean_squared_error[name]] == three.mean_squared_error[name]


@pytest.mark.parametrize("graph,estimator,expected", [
    pytest.param(self_training(samples=10, initial_samples=10), "mle", {"L0": False}, id="self-mle-bounded"),
    pytest.param(self_training(samples=10, initial_samples=10), "unbiased", {"L0": True}, id="self-unbiased"),
    pytest.param(cycle(3), "unbiased", {"L0": True, "L1": True, "L2": True}, id="cycle-no-real"),
    pytest.param(cycle(3, real_samples=[5, 0, 0]), "unbiased", {"L0": False, "L1": False, "L2": False},
                 id="cycle-real"),
    pytest.param(DEMO, "unbiased", {"A": False, "B": False, "C": True, "D": True, "E": True, "F": True, "G": False},
                 id="demo-unbiased-topological"),
    pytest.param(DEMO, "mle", {n: False for n in DEMO.names}, id="demo-mle-bounded"),
])
def test_exact_verdicts(graph, estimator, expected):
    """Claim (§3): on these graphs the unbiased fit collapses where the topological condition says; the MLE never does (Theorem 2)."""
    assert {k: v.collapses for k, v in gaussian_verdicts(graph, estimator).items()} == expected


def test_growth_kinds():
    """Claim (§3): unbiased self-training: E(mu-mu*)^2 linear, E v bounded; several in-neighbours
    without real data: geometric growth of E v (the dispersion of the producers' means)."""
    v = gaussian_verdicts(self_training(samples=10, initial_samples=10), "unbiased")["L0"]
    assert v.mean_error_growth[:2] == ("polynomial", 1) and v.covariance_growth[0] == "bounded"
    w = gaussian_verdicts(complete(3, real_samples=0), "unbiased")["L0"]
    assert w.covariance_growth[0] == "geometric" and w.covariance_growth[2] > 1
    e = gaussian_verdicts(DEMO, "unbiased")["E"]
    assert e.covariance_growth[:2] == ("polynomial", 1)


def test_geometric_growth_seen_in_the_trajectory():
    """Claim (§3): the geometric factor of the complete graph is the ratio of successive E v (exact iterates)."""
    G = complete(3, real_samples=0)
    factor = gaussian_verdicts(G, "unbiased")["L0"].covariance_growth[2]
    u = [float(x) for x in gaussian_moment_trajectory(G, 120, "unbiased").covariance_trace["L0"]]
    assert u[120] / u[119] == pytest.approx(factor, rel=1e-6)


def test_unbiased_variance_second_moment_diverges_while_mle_vanishes():
    """Claim (§1): E(v_t - s^2)^2 grows geometrically (unbiased) and tends to s^4 (MLE)."""
    ub = [self_training_moments(10, 10, t, "unbiased")["variance_squared_error"] for t in (10, 11)]
    assert ub[1] / ub[0] > 1.2 and ub[1] > 10
    ml = self_training_moments(10, 10, 2500, "mle")["variance_squared_error"]  # E v^2 ~ (99/100)^t
    assert abs(float(ml) - 1) < 1e-6


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_log_det_drift_negative_and_matches_simulation(estimator):
    """Claim (§1): E log det Sigma_t decreases by the Wishart drift per generation (both estimators)."""
    drift = float(log_det_drift(12, 2, estimator))
    assert drift < 0
    sim = simulate_gaussian(self_training(samples=12, initial_samples=12), 4, 4000, estimator=estimator,
                            dimension=2, seed=11)
    diff = sim.values["log_det"][4, 0] - sim.values["log_det"][3, 0]
    z = (diff.mean() - drift) / (diff.std(ddof=1) / math.sqrt(diff.size))
    assert abs(z) < 4


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_monte_carlo_matches_exact_recursion(estimator):
    """Claim (§2): the exact recursion of E||mu - mu*||^2 and E tr Sigma on the demo graph (d = 2),
    every learner and generation, |z| < 4 with a fixed seed."""
    T = 4
    sim = simulate_gaussian(DEMO, T, 3000, estimator=estimator, dimension=2, seed=2026)
    th = gaussian_moment_trajectory(DEMO, T, estimator, dimension=2)
    for metric, exact in (("mean_squared_error", th.mean_squared_error), ("covariance_trace", th.covariance_trace)):
        want = np.array([[float(exact[n][t]) for n in DEMO.names] for t in range(T + 1)])
        z = (sim.mean(metric) - want) / sim.stderr(metric)
        assert np.max(np.abs(z)) < 4, (metric, np.max(np.abs(z)))


def test_metrics_against_scipy():
    """The Wasserstein and KL metrics agree with scipy.linalg.sqrtm / the textbook formula on random SPD matrices."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 3))
    truth = A @ A.T + np.eye(3)
    B = rng.standard_normal((2, 3, 3))
    S = B @ np.swapaxes(B, 1, 2) + 0.1 * np.eye(3)
    mu = rng.standard_normal((2, 3))
    out = gaussian_metrics(mu, S, truth)
    for r in range(2):
        rt = scipy.linalg.sqrtm(truth)
        w2 = mu[r] @ mu[r] + np.trace(S[r] + truth - 2 * scipy.linalg.sqrtm(rt @ S[r] @ rt)).real
        inv = np.linalg.inv(truth)
        kl = 0.5 * (np.trace(inv @ S[r]) + mu[r] @ inv @ mu[r] - 3 + np.log(np.linalg.det(truth) / np.linalg.det(S[r])))
        assert out["wasserstein2"][r] == pytest.approx(w2, rel=1e-9)
        assert out["kl"][r] == pytest.approx(kl, rel=1e-9)


def test_multivariate_sandwich_and_analysis():
    """Claim (§4): a = tr S + (tr S)^2 + tr S^2; d = 1 gives location-scale's s^2 + 2 s^4; the
    asymptotic verdict is topological with risks a times the unit ones."""
    S = sp.Matrix([[2, 1], [1, 3]])
    assert multivariate_sandwich(S)["a"] == 5 + 25 + 15
    assert multivariate_sandwich(sp.Matrix([[3]]))["a"] == 3 + 2 * 9
    G = star(3, real_samples=[10, 0, 0], dimension=2)
    out = asymptotic_analysis(G, MULTIVARIATE_GAUSSIAN)
    ls = asymptotic_analysis(G, "location-scale")
    assert out.collapse == ls.collapse
    # identity covariance in d = 2: a = 2 + 4 + 2 = 8; location-scale (s^2 = 1): a = 3
    a = out.to_json()["models"]["L1"]
    b = ls.to_json()["models"]["L1"]
    key = "stationary_risk" if a["stationary_risk"] is not None else "growth_rate"
    assert a[key] == pytest.approx(b[key] * 8 / 3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=2, max_size=6).filter(lambda c: c[0] != 0))
def test_schur_stability_against_numpy(coeffs):
    """is_schur_stable agrees with numerical roots away from the unit circle."""
    z = sp.Symbol("z")
    p = sp.Poly(coeffs, z) * sp.Poly([3, 0], z) + sp.Poly([1], z)  # shift away from integer-only roots
    roots = np.roots([float(c) for c in p.all_coeffs()])
    radius = max(abs(roots))
    if abs(radius - 1) > 1e-6:
        assert is_schur_stable(p) == (radius < 1)


def test_sequence_growth_of_periodic_and_geometric():
    """sequence_growth: a simple root -1 is bounded, a double root 1 is polynomial of degree 1, 11/10 geometric."""
    assert sequence_growth([sp.Integer((-1) ** t) for t in range(6)])[0] == "bounded"
    assert sequence_growth([sp.Integer(t * (-1) ** t + 1) for t in range(10)])[:2] == ("polynomial", 1)
    assert sequence_growth([sp.Rational(11, 10) ** t for t in range(6)])[0] == "geometric"


@pytest.mark.parametrize("call,match", [
    pytest.param(lambda: gaussian_moment_trajectory(DEMO, 2, "ml"), "covariance estimator", id="estimator"),
    pytest.param(lambda: gaussian_moment_trajectory(self_training(samples=1, initial_samples=5), 2),
                 "N_k >= 2", id="counts"),
    pytest.param(lambda: log_det_drift(2, 3), "n > d", id="drift"),
])
def test_errors(call, match):
    with pytest.raises(GraphValueError, match=match):
        call()


from tests.strategies import interaction_graphs  # noqa: E402
from graphcollapse.theory.condition import collapse_condition  # noqa: E402


def _smallest_count(graph):
    """The smallest pooled or initial sample count (the Gaussian fit needs at least 2)."""
    return min(min(int(n) for n in graph.total_samples), min(int(n) for n in graph.initial_samples))


@settings(max_examples=20, deadline=None)
@given(interaction_graphs(max_learners=4, min_samples=2).filter(lambda g: _smallest_count(g) >= 2))
def test_mle_conservation_law_on_random_graphs(graph):
    """Claim (Theorem 2): E[tr Sigma_k + ||mu_k - mu*||^2] = tr Sigma exactly, every learner and generation."""
    m = gaussian_moment_trajectory(graph, 3, "mle")
    for name in graph.names:
        for t in range(4):
            assert m.covariance_trace[name][t] + m.mean_squared_error[name][t] == m.truth_trace


@settings(max_examples=15, deadline=None)
@given(interaction_graphs(max_learners=3, min_samples=10).filter(lambda g: _smallest_count(g) >= 10))
def test_unbiased_collapse_where_the_topology_says(graph):
    """Claim (Theorem 3): a learner fed by a source component without real data collapses (unbiased fit).
    Only this direction holds: see test_unbiased_can_collapse_with_real_data."""
    verdict = gaussian_verdicts(graph, "unbiased")
    topo = collapse_condition(graph).collapses
    for k, name in enumerate(graph.names):
        if topo[k]:
            assert verdict[name].collapses


def test_unbiased_can_collapse_with_real_data():
    """Claim (§3, found by hypothesis): the converse of Theorem 3 fails. A 2-cycle whose only real
    sample is one image per generation of L2, with L0 reading two producers, grows geometrically under
    the unbiased fit (the dispersion of L0's producers' means enters its variance); the MLE stays bounded
    (Theorem 2); two real samples per generation make it bounded."""
    data = {"dimension": 1, "noise_variance": 1,
            "models": [{"name": "L0", "initial_samples": 10, "real_samples": 0},
                       {"name": "L2", "initial_samples": 10, "real_samples": 1}],
            "edges": [{"source": "L0", "target": "L0", "samples": 10}, {"source": "L0", "target": "L2", "samples": 10},
                      {"source": "L2", "target": "L0", "samples": 10}]}
    G = load_graph(data)
    assert not any(collapse_condition(G).collapses)
    v = gaussian_verdicts(G, "unbiased")["L2"]
    assert v.covariance_growth[0] == "geometric" and v.covariance_growth[2] > 1.01
    assert not any(x.collapses for x in gaussian_verdicts(G, "mle").values())
    data["models"][1]["real_samples"] = 2
    assert not any(x.collapses for x in gaussian_verdicts(load_graph(data), "unbiased").values())


def test_verify_accepts_the_unbiased_location_scale(tmp_path, capsys):
    """location-scale-unbiased runs through the verification driver and agrees with the asymptotic theory."""
    import json as _json

    from graphcollapse.verify.cli import main

    assert main(["verify", "docs/examples/ring.json", "-T", "1", "-R", "512", "--seed", "4",
                 "--estimator", "location-scale-unbiased", "--json"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["estimator"] == "location-scale-unbiased"


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_multivariate_asymptotic_risk_against_simulation(estimator):
    """Claim (Theorem 5): E||mu - mu*||^2 + E||Sigma_k - Sigma||_F^2 is a times the unit risks to first order
    (d = 2, counts 200-400); |z| < 4 with a fixed seed, plus 2 % for the O(1/N) second-order terms."""
    from graphcollapse.theory.builders import chain
    from graphcollapse.theory.mestimators import asymptotic_prediction

    G = chain(2, real_samples=[400, 200], samples=200, initial_samples=400, dimension=2)
    pred = asymptotic_prediction(G, MULTIVARIATE_GAUSSIAN, 3)
    sim = simulate_gaussian(G, 3, 3000, estimator=estimator, dimension=2, seed=9)
    risk = sim.values["mean_squared_error"] + sim.values["covariance_error"]
    mean, se = risk.mean(axis=2), risk.std(axis=2, ddof=1) / math.sqrt(risk.shape[2])
    for k, name in enumerate(G.names):
        want = np.array([float(x) for x in pred.risk[name]])
        assert np.all(np.abs(mean[:, k] - want) < 4 * se[:, k] + 0.02 * want)
