"""Tests of the M-estimator asymptotic theory (theory/mestimators.py, theory/loss_parser.py).

Claims checked: Gaussian regression coincides exactly with the large-sample OLS theory;
the symbolic score/Hessian match finite differences; closed-form and numerical sandwiches
match plain Monte Carlo and each other; bad input raises our one-line errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from graphcollapse.theory.analysis import analyze
from graphcollapse.theory.builders import cycle, random_digraph, self_training, star
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.loss_parser import parse_expression
from graphcollapse.theory.mestimators import (
    FAMILIES,
    HUBER_THRESHOLD,
    asymptotic_analysis,
    asymptotic_prediction,
    derive_score_and_hessian,
    get_family,
    load_loss,
    parse_theta,
    sandwich,
)
from graphcollapse.theory.recursion import risk_trajectory

# --------------------------------------------------------------------------- Gaussian == OLS
OLS_GRAPHS = [
    pytest.param(self_training(real_samples=10, samples=30, dimension=2), id="self-training-bounded"),
    pytest.param(self_training(real_samples=0, samples=30, dimension=3), id="self-training-collapse"),
    pytest.param(cycle(3, real_samples=[5, 0, 0], samples=7, dimension=4, noise_variance=sp.Rational(3, 2)),
                 id="cycle-3-sigma-3/2"),
    # OLS is defined only when every N_k > d + 1 (the large-sample theory refuses otherwise)
    pytest.param(random_digraph(5, 0.4, seed=3, dimension=3), id="random-5"),
    pytest.param(random_digraph(6, 0.3, seed=9, dimension=2, noise_variance=2), id="random-6"),
    pytest.param(InteractionGraph(["A", "B"], [4, 0], [20, 30], [("A", "B", 3), ("B", "B", 5), ("B", "A", 2)],
                                  dimension=2, noise_variance=1, synthetic_noise_variance=[3, sp.Rational(1, 2)],
                                  covariance=[[2, 1], [1, 3]]), id="producer-noise-and-covariance"),
]


@pytest.mark.parametrize("G", OLS_GRAPHS)
def test_gaussian_analysis_equals_large_sample_ols_exactly(G):
    """Claim: Gaussian regression's asymptotic verdicts, growth rates and stationary risks
    are exactly those of the large-sample OLS theory (a = d sigma^2, a_j = d sigma_j^2)."""
    mine = asymptotic_analysis(G, "gaussian").analysis
    ols = analyze(G, theory="large-sample")
    for a, b in zip(mine.learners, ols.learners):
        assert a.collapses == b.collapses
        for key in ("growth_rate", "stationary_risk"):
            x, y = getattr(a, key), getattr(b, key)
            assert (x is None) == (y is None)
            if x is not None:
                assert sp.simplify(x - y) == 0


@pytest.mark.parametrize("G", OLS_GRAPHS)
def test_gaussian_prediction_equals_large_sample_ols_trajectory_exactly(G):
    """Claim: the n-scaled Gaussian risk trajectory equals the large-sample OLS recursion."""
    pred = asymptotic_prediction(G, "gaussian", 4)
    ols = risk_trajectory(G, 4)
    for k, name in enumerate(G.names):
        assert all(sp.simplify(pred.risk[name][t] - ols[t][k]) == 0 for t in range(5))


def test_symbolic_gaussian_graph_keeps_symbols():
    """The Gaussian family works on symbolic sample counts (rational functions)."""
    m = sp.Symbol("m", positive=True)
    G = self_training(real_samples=m, samples=10, dimension=2)
    out = asymptotic_analysis(G, "gaussian")
    assert sp.simplify(out.analysis.learner("L0").stationary_risk
                       - analyze(G, theory="large-sample").learner("L0").stationary_risk) == 0


# --------------------------------------------------------------------------- other families
def test_verdict_is_topological_for_every_family():
    """Claim 6: the verdicts are the topological condition, whatever the family."""
    G = random_digraph(7, 0.3, seed=4, dimension=2)
    base = [r.collapses for r in analyze(G, theory="large-sample").learners]
    for name in FAMILIES:
        assert [r.collapses for r in asymptotic_analysis(G, name).analysis.learners] == base


@pytest.mark.parametrize("family", ["logistic", "poisson", "huber", "location-scale"])
def test_risks_are_the_unit_recursion_times_the_per_sample_risk(family):
    """R_k(t) = a * (unit-variance recursion): compare to OLS with d sigma^2 rescaled."""
    G = cycle(3, real_samples=[5, 0, 2], samples=7, dimension=2)
    a = sandwich(G, FAMILIES[family]).a
    pred = asymptotic_prediction(G, family, 3)
    ols = risk_trajectory(G, 3)  # d sigma^2 = 2 times the unit recursion
    for k, name in enumerate(G.names):
        for t in range(4):
            assert float(pred.risk[name][t]) == pytest.approx(float(a) * float(ols[t][k]) / 2, rel=1e-12)


def test_location_scale_closed_form():
    """Location-scale: a = s^2 + 2 s^4 (Euclidean norm on (mu, s^2))."""
    G = self_training(noise_variance=sp.Rational(1, 2))
    assert sandwich(G, FAMILIES["location-scale"]).a == sp.Rational(1, 2) + 2 * sp.Rational(1, 4)


def test_poisson_closed_form_matches_matrix_trace():
    """Poisson: a = e^{-tau^2/2}(d - tau^2/(1+tau^2)) equals tr(Sigma H^-1) exactly."""
    G = self_training(dimension=3).replace(covariance=[[2, 1, 0], [1, 2, 0], [0, 0, 1]])
    sw = sandwich(G, FAMILIES["poisson"], "1,-1/2,1/4".replace("1/2", "0.5").replace("1/4", "0.25"))
    Sig = sp.Matrix([[2, 1, 0], [1, 2, 0], [0, 0, 1]])
    assert sp.simplify((Sig * sw.H.inv()).trace() - sw.a) == 0


# --------------------------------------------------------------------------- H, V vs oracles
@pytest.mark.parametrize("name", ["gaussian", "logistic", "poisson", "location-scale"])
def test_symbolic_score_and_hessian_match_finite_differences(name):
    """The sympy-derived score and Hessian agree with central differences of the loss
    (tolerance 1e-6: second-order differences with step 1e-5)."""
    fam = FAMILIES[name]
    d = 2
    score, hess = derive_score_and_hessian(fam, d)
    params, data, _ = fam.symbols(d)
    loss = sp.lambdify(params + data, fam.loss(d))
    fs = sp.lambdify(params + data, list(score))
    fh = sp.lambdify(params + data, list(hess))
    rng = np.random.default_rng(1)
    p = np.array([0.3, 0.7])
    z = list(rng.standard_normal(len(data) - 1)) + [1.0]
    h = 1e-5
    for i in range(2):
        e = np.eye(2)[i] * h
        fd = (loss(*(p + e), *z) - loss(*(p - e), *z)) / (2 * h)
        assert fs(*p, *z)[i] == pytest.approx(fd, abs=1e-6)
        for j in range(2):
            e2 = np.eye(2)[j] * h
            fd2 = (fs(*(p + e2), *z)[i] - fs(*(p - e2), *z)[i]) / (2 * h)
            assert fh(*p, *z)[2 * i + j] == pytest.approx(fd2, abs=1e-6)


def test_huber_closed_form_matches_monte_carlo():
    """Huber with Student-t(3) noise: E psi' and E psi^2 from the closed form agree with
    plain Monte Carlo (|z| < 4, 2e6 draws, fixed seed)."""
    G = self_training(dimension=1, noise_variance=2)
    sw = sandwich(G, FAMILIES["huber"])
    rng = np.random.default_rng(11)
    e = math.sqrt(2 / 3) * rng.standard_t(3, 2_000_000)
    c = float(HUBER_THRESHOLD) * math.sqrt(2)
    for sample, exact in ((np.abs(e) <= c, float(sw.H[0, 0])), (np.clip(e, -c, c) ** 2, float(sw.V[0, 0]))):
        z = (sample.mean() - exact) / (sample.std() / math.sqrt(sample.size))
        assert abs(z) < 4


def test_logistic_quadrature_matches_monte_carlo():
    """Logistic H = E[p(1-p) x x^T] by quadrature agrees with plain Monte Carlo (|z| < 4)."""
    G = self_training(dimension=2).replace(covariance=[[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 2]])
    sw = sandwich(G, FAMILIES["logistic"], "1,-0.5")
    assert sw.relative_accuracy < 1e-8
    rng = np.random.default_rng(5)
    L = np.linalg.cholesky(np.array([[1, 0.5], [0.5, 2]]))
    x = rng.standard_normal((1_000_000, 2)) @ L.T
    p = 1 / (1 + np.exp(-x @ np.array([1, -0.5])))
    for i, j in ((0, 0), (0, 1), (1, 1)):
        s = p * (1 - p) * x[:, i] * x[:, j]
        assert abs((s.mean() - sw.H[i, j]) / (s.std() / 1000)) < 4


CUSTOM = [
    pytest.param("logistic", "log(1 + exp(eta)) - y*eta", "logistic", id="logistic"),
    pytest.param("poisson", "exp(eta) - y*eta", "poisson", id="poisson"),
    pytest.param("gaussian", "(y - eta)**2/2", "gaussian", id="gaussian"),
    pytest.param("normal", "(y - mu)**2/(2*v) + log(v)/2", "location-scale", id="location-scale"),
]


@pytest.mark.parametrize("model,loss,builtin", CUSTOM)
def test_custom_loss_qmc_sandwich_matches_builtin(tmp_path, model, loss, builtin):
    """A custom loss file reproducing a built-in family gives the same per-sample risk
    (quasi-Monte Carlo) within its stated accuracy (plus 1e-3 slack)."""
    f = tmp_path / "my.loss"
    f.write_text(f"# test\nname: mine\nmodel: {model}\nloss: {loss}\n")
    G = self_training(dimension=2, noise_variance=sp.Rational(3, 2))
    fam = load_loss(f)
    theta = "0.5" if model == "normal" else "1,-0.5"
    a_qmc = sandwich(G, fam, theta)
    a_ref = float(sandwich(G, FAMILIES[builtin], theta).a)
    assert a_qmc.a == pytest.approx(a_ref, rel=a_qmc.relative_accuracy + 1e-3)


# --------------------------------------------------------------------------- bad input
BAD_LOSSES = [
    pytest.param("gaussian", "abs(y - eta)", "not twice differentiable", id="not-twice-differentiable"),
    pytest.param("gaussian", "(y - eta)**2 + foo", "name 'foo' is not allowed", id="unknown-name"),
    pytest.param("gaussian", "__import__('os').system('true')", "not allowed", id="import"),
    pytest.param("gaussian", "y.real", "Attribute is not allowed", id="attribute"),
    pytest.param("gaussian", "(y - eta)^2", "write '\\*\\*'", id="xor"),
    pytest.param("gaussian", "(y - eta)**2 + x3", "name 'x3' is not allowed", id="x-beyond-dimension"),
    pytest.param("gaussian", "y**2", "does not depend on the parameters", id="no-parameters"),
    pytest.param("gaussian", "(y - eta)**(10**9)", "out of range", id="huge-power"),
    pytest.param("weibull", "(y - eta)**2", "unknown model 'weibull'", id="unknown-model"),
    pytest.param("gaussian", "(y - eta)**2 +", "syntax error", id="syntax"),
]


@pytest.mark.parametrize("model,loss,match", BAD_LOSSES)
def test_bad_loss_files_raise_one_line_errors(tmp_path, model, loss, match):
    """Bad custom losses raise GraphValueError with a one-line message."""
    f = tmp_path / "bad.loss"
    f.write_text(f"model: {model}\nloss: {loss}\n")
    with pytest.raises(GraphValueError, match=match) as info:
        load_loss(f)
    assert "\n" not in str(info.value)


def test_loss_not_fisher_consistent_is_rejected(tmp_path):
    """A loss whose expected score at theta* is not zero for its model is rejected."""
    f = tmp_path / "biased.loss"
    f.write_text("model: gaussian\nloss: (y - eta)**2 + (theta1 - 2)**2\n")
    with pytest.raises(GraphValueError, match="not Fisher-consistent"):
        sandwich(self_training(dimension=1), load_loss(f))


BAD_CALLS = [
    pytest.param(lambda: get_family("probit"), "unknown family 'probit'", id="unknown-family"),
    pytest.param(lambda: parse_theta("1,2,3", FAMILIES["logistic"], self_training(dimension=2)),
                 "--theta: expected 2 numbers", id="theta-length"),
    pytest.param(lambda: parse_theta("1,abc", FAMILIES["logistic"], self_training(dimension=2)),
                 "--theta: expected numbers", id="theta-not-number"),
    pytest.param(lambda: parse_theta("1,2", FAMILIES["location-scale"], self_training(dimension=2)),
                 "--theta: expected 1 number", id="theta-location-scale"),
    pytest.param(lambda: load_loss("/nonexistent/file.loss"), "cannot read", id="missing-file"),
]


@pytest.mark.parametrize("call,match", BAD_CALLS)
def test_bad_calls_raise_one_line_errors(call, match):
    """Unknown family and bad theta raise GraphValueError (one line)."""
    with pytest.raises(GraphValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_parser_never_evaluates_text():
    """The parser builds numbers exactly and refuses anything outside the whitelist."""
    y = sp.Symbol("y")
    assert parse_expression("1.345*y", {"y": y}) == sp.Rational(269, 200) * y
    for text in ("lambda: 1", "[y]", "y if y else y", "'a'", "y < 1", "exp(y, y)", "exp(x=y)", "0**-1"):
        with pytest.raises(GraphValueError):
            parse_expression(text, {"y": y})


def test_json_shape_matches_analyze_contract():
    """asymptotic_analysis().to_json() has the analyze keys, theory 'asymptotic', and
    no *_exact keys when the sandwich is numerical."""
    G = star(3, real_samples=[5, 0, 0], dimension=2)
    ref = analyze(G, theory="large-sample").to_json()
    out = asymptotic_analysis(G, "logistic").to_json()
    assert set(ref) - {"minimal_fix_max_stationary_risk", "minimal_fix_optimal"} <= set(out)
    assert out["theory"] == "asymptotic" and out["estimator"] == "logistic"
    assert set(out["models"]["L0"]) >= {"collapses", "growth", "growth_degree", "growth_rate", "growth_factor",
                                        "stationary_risk"}
    assert not any(k.endswith("_exact") for m in out["models"].values() for k in m)
    exact = asymptotic_analysis(G, "poisson").to_json()
    assert any(k.endswith("_exact") for m in exact["models"].values() for k in m)
    pj = asymptotic_prediction(G, "huber", 2).to_json()
    assert pj["generations"] == [0, 1, 2] and set(pj["risk"]) == set(G.names)
    assert "asymptotic" in asymptotic_analysis(G, "huber").report()


def test_symbolic_dimension_gaussian_equals_ols():
    """Gaussian regression with a symbolic dimension needs no theta and equals the
    large-sample OLS theory exactly; a theta is refused with a one-line error."""
    d = sp.Symbol("d", positive=True, integer=True)
    G = self_training(real_samples=10, samples=30, dimension=d)
    mine = asymptotic_analysis(G, "gaussian").analysis.learner("L0").stationary_risk
    assert sp.simplify(mine - analyze(G, theory="large-sample").learner("L0").stationary_risk) == 0
    with pytest.raises(GraphValueError, match="--theta: the dimension is symbolic"):
        asymptotic_analysis(G, "gaussian", "1")
    with pytest.raises(GraphValueError, match="needs a numeric dimension"):
        asymptotic_analysis(G, "logistic")


def test_symbolic_counts_with_a_numerical_sandwich():
    """Logistic on symbolic counts: the risk is a float per-sample risk times the exact
    rational function of the counts."""
    m = sp.Symbol("m", positive=True)
    G = self_training(real_samples=m, samples=10, dimension=2)
    risk = asymptotic_analysis(G, "logistic").analysis.learner("L0").stationary_risk
    a = float(sandwich(G, FAMILIES["logistic"]).a)
    unit = analyze(G, theory="large-sample").learner("L0").stationary_risk / 2  # d sigma^2 = 2
    assert float((risk - a * unit).subs(m, 7)) == pytest.approx(0, abs=1e-12)


from hypothesis import given, strategies as st  # noqa: E402


@given(st.text(max_size=60))
def test_parser_fuzz_only_raises_our_error(text):
    """Arbitrary text either parses to a sympy expression or raises GraphValueError
    (never another exception, never evaluation)."""
    y, eta = sp.symbols("y eta")
    try:
        out = parse_expression(text, {"y": y, "eta": eta})
    except GraphValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(out, sp.Expr)


@given(st.lists(st.sampled_from(["y", "eta", "1", "2.5", "+", "-", "*", "/", "**", "(", ")", "exp", "log",
                                 "abs", "pi", ","]), max_size=12))
def test_parser_fuzz_token_soup(tokens):
    """Token soups of allowed pieces parse or raise GraphValueError only."""
    y, eta = sp.symbols("y eta")
    try:
        parse_expression(" ".join(tokens), {"y": y, "eta": eta})
    except GraphValueError:
        pass
