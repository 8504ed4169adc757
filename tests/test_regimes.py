"""Data regimes and loss weights (docs/regimes.md): the graph format, the regime recursion,
Theorem 2's verdicts, the exact fixed-design theory and the papers' anchors.

Anchors: Gerstgrasser et al. 2024 (arXiv 2404.01413) accumulate formula and pi^2/6 bound;
Dohmatob et al. 2024 linear growth under a fixed design; Kazdan et al. 2024 (arXiv
2410.16713) ordering replace > accumulate-subsample > accumulate.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import jsonschema
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcollapse.theory import InteractionGraph, load_graph
from graphcollapse.theory.analysis import analyze, predict
from graphcollapse.theory.builders import chain, cycle, self_training
from graphcollapse.theory.condition import collapse_condition
from graphcollapse.theory.errors import GraphValueError, NoClosedFormError
from graphcollapse.theory.graphio import save_graph
from graphcollapse.theory.recursion import risk_trajectory
from graphcollapse.theory.regimes import (
    _replace_values,
    _trajectory,
    exact_theory_applies,
    fresh_accumulate_limit,
    gerstgrasser_risk,
    regime_analysis,
    regime_prediction,
    regime_risk_trajectory,
    regime_sentence,
    regime_verdicts,
)
from graphcollapse.theory.schema import graph_schema
from graphcollapse.theory.symbols import apply_symbols
from strategies import interaction_graphs

POLICIES = ("replace", "accumulate", "accumulate-subsample")


# --------------------------------------------------------------------------- format
def _regime_graph() -> InteractionGraph:
    return InteractionGraph(["A", "B"], real_samples=[10, 0], initial_samples=[30, 20],
                            edges=[("A", "B", 20), ("B", "A", 10)], dimension=5, noise_variance=1,
                            regime_defaults={"data_policy": "accumulate"}, data_policy=[None, "replace"],
                            real_weight=[2, None], edge_weights=[sp.Rational(1, 2), None],
                            real_data=["fixed", None])


def test_default_regime_is_todays_model():
    """Every field defaults to today's behaviour and nothing is stored per learner."""
    G = chain(3)
    assert G.has_default_regime
    assert G.data_policy == ("replace",) * 3 and G.real_data == ("fresh",) * 3 and G.design == ("fresh",) * 3
    assert G.real_weight == (1, 1, 1) and G.edge_weights == (1, 1)
    assert all(v is None for v in G._regime_overrides.values())
    assert "defaults" not in G.to_dict() and "regime" not in G.describe()


def test_json_round_trip_and_schema():
    """The JSON keys round-trip, and the published schema accepts them."""
    G = _regime_graph()
    data = G.to_dict()
    jsonschema.validate(json.loads(json.dumps(data)), graph_schema())
    H = load_graph(G.dumps())
    assert (H.data_policy, H.real_data, H.real_weight, H.edge_weights) == \
           (("accumulate", "replace"), ("fixed", "fresh"), (2, 1), (sp.Rational(1, 2), 1))
    assert not H.has_default_regime
    assert "A: real_data = fixed, real_weight = 2" in H.describe()


def test_networkx_round_trip():
    """Node attributes, the edge attribute ``weight`` and the graph attribute ``defaults``."""
    G = _regime_graph()
    nxg = G.to_networkx()
    assert nxg.graph["defaults"] == {"data_policy": "accumulate"}
    assert nxg.edges["A", "B"]["weight"] == sp.Rational(1, 2)
    H = InteractionGraph.from_networkx(nxg)
    assert (H.data_policy, H.real_weight, H.edge_weights) == (G.data_policy, G.real_weight, G.edge_weights)


def test_replace_relabel_and_edges_keep_the_regime():
    G = _regime_graph()
    assert G.relabel(order=["B", "A"]).real_weight == (1, 2)
    H = G.replace(edges=[("B", "A", 10), ("A", "B", 5)])
    assert H.edge_weights == (1, sp.Rational(1, 2))  # weights follow their edges
    assert G.replace(data_policy="replace").data_policy == ("replace", "replace")


def test_symbols_bind_weights():
    G = apply_symbols(self_training(real_samples=10), ["w=L0.real_weight", "u=L0->L0.weight"])
    w, u = sp.Symbol("w", positive=True), sp.Symbol("u", positive=True)
    assert G.real_weight == (w,) and G.edge_weights == (u,)
    assert G.free_symbols == {w, u}


def test_columnar_formats_refuse_regimes(tmp_path):
    with pytest.raises(GraphValueError, match=r"\.npz format does not carry data regimes"):
        save_graph(_regime_graph(), tmp_path / "g.npz")


def test_large_default_graph_stores_nothing_per_learner():
    """The integer-column fast path keeps default regimes compact."""
    K = 20000
    G = InteractionGraph([f"L{k}" for k in range(K)], real_samples=np.ones(K, dtype=np.int64),
                         initial_samples=np.full(K, 30), edges=[], dimension=2, noise_variance=1)
    assert all(v is None for v in G._regime_overrides.values()) and G.has_default_regime


@pytest.mark.parametrize("kwargs, match", [
    pytest.param(dict(data_policy=["keep", None]), r"models\[A\]\.data_policy: expected one of replace", id="policy"),
    pytest.param(dict(real_data="old"), r"real_data: expected one of fresh, fixed", id="real-data"),
    pytest.param(dict(real_weight=[0, 1]), r"models\[A\]\.real_weight: expected a positive number", id="weight-zero"),
    pytest.param(dict(edge_weights=[1]), r"edge_weights: expected 1 values|edge_weights: expected 2", id="edge-count"),
    pytest.param(dict(edge_weights=[-1, 1]), r"edges\[A->B\]\.weight: expected a positive number", id="edge-negative"),
    pytest.param(dict(design="fixed"), r"models\[A\]\.design: fixed reuses one design", id="fixed-design-n0"),
    pytest.param(dict(regime_defaults={"policy": "x"}), r"defaults\.policy: unknown field", id="unknown-default"),
])
def test_invalid_regimes_name_the_field(kwargs, match):
    with pytest.raises(GraphValueError, match=match):
        InteractionGraph(["A", "B"], real_samples=[10, 0], initial_samples=[30, 30],
                         edges=[("A", "B", 10), ("B", "B", 10)], dimension=2, noise_variance=1, **kwargs)


def test_fixed_design_refuses_subsampling():
    with pytest.raises(GraphValueError, match=r"design: fixed needs data_policy replace or accumulate"):
        self_training(samples=30, initial_samples=30, design="fixed", data_policy="accumulate-subsample")


@pytest.mark.parametrize("text, match", [
    pytest.param('{"dimension": 1, "noise_variance": 1, "defaults": {"data_policy": 3}, '
                 '"models": [{"name": "A", "initial_samples": 5, "real_samples": 1}]}',
                 r"defaults\.data_policy: expected one of", id="json-default"),
    pytest.param('{"dimension": 1, "noise_variance": 1, "models": [{"name": "A", "initial_samples": 5, '
                 '"real_samples": 1}], "edges": [{"source": "A", "target": "A", "samples": 2, "weight": 0}]}',
                 r"edges\[0\]\.weight: expected a positive number", id="json-edge-weight"),
])
def test_json_errors_name_the_field(text, match):
    with pytest.raises(GraphValueError, match=match):
        load_graph(text)


# --------------------------------------------------------------------------- recursion
@st.composite
def regime_graphs(draw, max_learners: int = 6, real_modes: tuple[str, ...] = ("fresh", "fresh", "fixed")):
    """Random graphs (tests/strategies.py) with random per-learner policies, real-data
    modes and weights."""
    G = draw(interaction_graphs(max_learners=max_learners))
    K = G.num_learners
    pol = draw(st.lists(st.sampled_from(POLICIES), min_size=K, max_size=K))
    real = draw(st.lists(st.sampled_from(real_modes), min_size=K, max_size=K))
    w = draw(st.lists(st.sampled_from([1, 1, 2, sp.Rational(1, 3)]), min_size=K, max_size=K))
    u = draw(st.lists(st.sampled_from([1, 1, 3, sp.Rational(1, 2)]), min_size=len(G.edge_sources),
                      max_size=len(G.edge_sources)))
    return G.replace(data_policy=pol, real_data=real, real_weight=w, edge_weights=u)


@settings(max_examples=25)
@given(interaction_graphs(max_learners=5))
def test_default_regime_recursion_is_theory_md(G):
    """Claim 1: with the default regime the regime recursion is docs/theory.md's."""
    T = 4
    ours = regime_risk_trajectory(G, T, exact=True)
    theirs = risk_trajectory(G, T)
    for t in range(T + 1):
        assert [sp.Rational(x.numerator, x.denominator) for x in ours[t]] == list(theirs[t])


@settings(max_examples=25)
@given(regime_graphs(max_learners=5))
def test_float_sparse_engine_matches_exact_engine(G):
    """The sparse float64 recursion (large graphs) agrees with the exact one."""
    exact = np.array([[float(x) for x in row] for row in regime_risk_trajectory(G, 6, exact=True)])
    floats = np.array(regime_risk_trajectory(G, 6, exact=False))
    np.testing.assert_allclose(floats, exact, rtol=1e-9)


@settings(max_examples=20)
@given(regime_graphs(max_learners=5), st.sampled_from([2, 5]))
def test_only_weight_ratios_matter(G, c):
    """Scaling a learner's real weight and all its in-edge weights by one factor changes
    nothing (only the shares enter §3)."""
    k = 0
    w = list(G.real_weight)
    w[k] = w[k] * c
    u = [x * c if t == k else x for x, t in zip(G.edge_weights, G.edge_targets)]
    a = regime_risk_trajectory(G, 4, exact=True)
    b = regime_risk_trajectory(G.replace(real_weight=w, edge_weights=u), 4, exact=True)
    assert a == b


@settings(max_examples=25)
@given(regime_graphs(max_learners=5, real_modes=("fresh",)))
def test_theorem_2_verdicts_on_random_graphs(G):
    """Theorem 2: collapse iff reachable from a real-free all-replace source component.

    Checked against the recursion over doubling horizons (multiples of every period up to
    6): a collapsing learner's increments double (linear growth); a bounded learner's do
    not, beyond 5% of its risk (its risk converges, possibly slowly and not monotonically:
    an accumulating learner fed by an accumulating real-free component approaches the
    component's limit like t^-alpha). Fixed real data are left to
    test_fixed_real_data_add_a_bounded_term (their transients are logarithmically slow).
    With every learner replacing the verdict is docs/theory.md's topological condition."""
    verdict = regime_verdicts(G)
    if all(p == "replace" for p in G.data_policy):
        assert verdict.collapses == collapse_condition(G).collapses
    r = np.array(regime_risk_trajectory(G, 960, exact=False))
    for k, c in enumerate(verdict.collapses):
        inc1, inc2 = r[480, k] - r[240, k], r[960, k] - r[480, k]
        if c:
            assert inc1 > 0 and inc2 > 1.8 * inc1
        else:
            assert inc2 <= 1.5 * abs(inc1) + 0.05 * r[480, k]


@settings(max_examples=20)
@given(interaction_graphs(max_learners=5))
def test_accumulation_never_collapses_and_obeys_claim_4(G):
    """Claim 4: all-accumulating graphs are bounded by max R(0) + (pi^2/6) max D~."""
    H = G.replace(data_policy="accumulate")
    assert not any(regime_verdicts(H).collapses)
    r = np.array(regime_risk_trajectory(H, 200, exact=False))
    from graphcollapse.theory.regimes import effective_noise_variance
    bound = r[0].max() + math.pi ** 2 / 6 * max(float(x) for x in effective_noise_variance(H))
    assert r.max() <= bound * (1 + 1e-12)


def test_fixed_real_data_add_a_bounded_term():
    """Theorem 2's proof: fixed real data add at most max_j v/m_j to the risk of the same
    graph with fresh real data (their coefficients are killing probabilities of the
    backward walk, summing to at most 1, and the fresh noise they replace is dropped).
    The graph (found by hypothesis) has an accumulating learner in a component whose real
    data are fixed: the risk approaches its bound only logarithmically slowly, so
    increments over doubling horizons cannot tell it from collapse; the bound can."""
    G = InteractionGraph(["L0", "L1", "L2", "L3"], real_samples=[0, 0, 0, 1], initial_samples=[5] * 4,
                         edges=[("L0", "L0", 1), ("L0", "L1", 1), ("L0", "L2", 1), ("L0", "L3", 1), ("L1", "L0", 1),
                                ("L1", "L1", 1), ("L1", "L2", 1), ("L1", "L3", 1), ("L2", "L0", 1), ("L2", "L1", 1),
                                ("L3", "L0", 1)],
                         dimension=1, noise_variance=sp.Rational(1, 2),
                         data_policy=["replace", "accumulate", "replace", "replace"], real_data=["fresh"] * 3 + ["fixed"],
                         edge_weights=[3, sp.Rational(1, 2), 1, sp.Rational(1, 2)] + [1] * 7)
    assert not any(regime_verdicts(G).collapses)
    fixed = np.array(regime_risk_trajectory(G, 4000, exact=False))
    fresh = np.array(regime_risk_trajectory(G.replace(real_data="fresh"), 4000, exact=False))
    assert np.all(fixed <= fresh + 0.5 * (1 + 1e-12))  # v / m = sigma^2 d / 1
    assert fixed[4000].max() > fixed[1000].max()  # still rising, slowly


def test_fixed_real_stationary_risk_is_the_recursion_limit():
    """§3.2: the exact stationary risk with fixed real data is the limit of the recursion."""
    G = InteractionGraph(["A", "B"], real_samples=[10, 5], initial_samples=[30, 30],
                         edges=[("A", "B", 20), ("B", "A", 10), ("B", "B", 5)], dimension=2, noise_variance=1,
                         real_data=["fixed", "fixed"], real_weight=[2, 1])
    _, _, stationary = _replace_values(G, "ols", False)
    r = regime_risk_trajectory(G, 400, exact=False)[400]
    np.testing.assert_allclose([float(stationary[0]), float(stationary[1])], r, rtol=1e-10)
    # fixed data hurt: same graph with fresh real data has lower stationary risk
    _, _, fresh = _replace_values(G.replace(real_data="fresh"), "ols", False)
    assert all(fresh[k] < stationary[k] for k in range(2))


def test_weighted_replace_values_are_exact():
    """A weighted one-learner graph: stationary risk D~ / (1 - W~^2) (§3.2)."""
    G = self_training(real_samples=10, samples=10, dimension=1, real_weight=2)
    a = regime_analysis(G)
    assert a.learner("L0").stationary_risk == sp.Rational(1, 16)
    G0 = cycle(3, real_samples=0, real_weight=2, edge_weights=[1, 2, 3])
    rates = {r.name: r.growth_rate for r in regime_analysis(G0).learners}
    r = regime_risk_trajectory(G0, 300, exact=False)
    assert all(abs((r[300][k] - r[297][k]) / 3 - float(rates[n])) < 1e-9 for k, n in enumerate(G0.names))


# --------------------------------------------------------------------------- anchors
@pytest.mark.parametrize("T, d", [pytest.param(12, 2, id="T12-d2"), pytest.param(40, 5, id="T40-d5")])
def test_gerstgrasser_accumulate_formula_and_bound(T, d):
    """Gerstgrasser et al. 2024 (arXiv 2404.01413), Theorem 2: with a fixed design and
    accumulation the risk is sigma^2 d/(T-d-1) sum_{i<=t+1} 1/i^2 < (pi^2/6) R(0)."""
    G = self_training(samples=T, initial_samples=T, dimension=d, noise_variance=3, design="fixed",
                      data_policy="accumulate")
    p = regime_prediction(G, 30)
    assert p.theory == "exact"
    for t in range(31):
        assert p.exact_risk[t][0] == gerstgrasser_risk(t, samples=T, dimension=d, noise_variance=3)
        assert p.exact_risk[t][0] < sp.pi ** 2 / 6 * p.exact_risk[0][0]


def test_dohmatob_linear_growth_under_a_fixed_design():
    """Dohmatob et al. 2024: replacing with a fixed design, R(t) = (t+1) sigma^2 d/(T-d-1)."""
    G = self_training(samples=20, initial_samples=20, dimension=3, design="fixed")
    p = regime_prediction(G, 10)
    assert p.theory == "exact"
    assert [p.exact_risk[t][0] for t in range(11)] == [sp.Rational(3 * (t + 1), 16) for t in range(11)]


@pytest.mark.parametrize("estimator", ["ols", "location-scale"])
def test_kazdan_ordering(estimator):
    """Kazdan et al. 2024 (arXiv 2410.16713): replace > accumulate-subsample > accumulate at
    every generation t >= 1, in their regression (OLS) and Gaussian (location-scale)
    settings: a learner trained on its own outputs, no real data after generation 0."""
    G = self_training(samples=20, initial_samples=20, dimension=2)
    r = {p: np.array(regime_risk_trajectory(G.replace(data_policy=p), 40, estimator=estimator, exact=False))[:, 0]
         for p in POLICIES}
    assert np.all(r["replace"][1:] > r["accumulate-subsample"][1:])
    assert np.all(r["accumulate-subsample"][1:] > r["accumulate"][1:])
    assert r["replace"][40] > 10 * r["accumulate-subsample"][40]  # linear growth against a plateau


def test_exactness_flags():
    """Fresh designs with accumulation close exactly only for own-output accumulators
    (docs/regimes.md §6, Theorem 4); with real data in the pool they do not."""
    own = self_training(samples=20, initial_samples=20, data_policy="accumulate")
    assert exact_theory_applies(own)[0] and regime_prediction(own, 2).theory == "exact"
    G = self_training(real_samples=5, samples=20, initial_samples=20, data_policy="accumulate")
    assert not exact_theory_applies(G)[0]
    assert regime_prediction(G, 2).theory == "large-sample"
    with pytest.raises(NoClosedFormError, match="exact theory: accumulate with a fresh design"):
        regime_prediction(G, 2, theory="exact")
    two = InteractionGraph(["A", "B"], real_samples=[5, 10], initial_samples=[5, 20], edges=[("A", "B", 10)],
                           dimension=2, noise_variance=1, design="fixed")
    assert "several sources" in exact_theory_applies(two)[1]


# --------------------------------------------------------------------------- Monte Carlo
def _simulate_one_learner(policy, *, real="fresh", n0=8, m=4, n=8, w=2.0, u=1.0, T=6, R=40000, seed=1):
    """Gaussian location model (unit noise, known variance): a learner fits the weighted
    mean of its training set, a linear estimator, so the recursion of §3 holds exactly at
    any sample size. Returns R x (T + 1) squared errors."""
    rng = np.random.default_rng(seed)
    errs = np.empty((R, T + 1))
    pool_x = rng.standard_normal((R, n0))  # generation 0: real, error theta = 0
    pool_c = np.full((R, n0), w)
    theta = pool_x.mean(axis=1)
    errs[:, 0] = theta ** 2
    fixed = rng.standard_normal((R, m))
    for t in range(1, T + 1):
        new_real = fixed if real == "fixed" else rng.standard_normal((R, m))
        syn = theta[:, None] + rng.standard_normal((R, n))
        add_real = real == "fresh" or policy == "replace" or t == 1
        batch_x = np.hstack([new_real, syn]) if add_real else syn
        batch_c = np.hstack([np.full((R, m), w), np.full((R, n), u)]) if add_real else np.full((R, n), u)
        if policy == "replace":
            x, c = batch_x, batch_c
        else:
            pool_x, pool_c = np.hstack([pool_x, batch_x]), np.hstack([pool_c, batch_c])
            x, c = pool_x, pool_c
            if policy == "accumulate-subsample":
                keys = rng.random(pool_x.shape)
                pick = np.argpartition(keys, m + n - 1, axis=1)[:, :m + n]
                x, c = np.take_along_axis(pool_x, pick, 1), np.take_along_axis(pool_c, pick, 1)
        theta = (c * x).sum(axis=1) / c.sum(axis=1)
        errs[:, t] = theta ** 2
    return errs


@pytest.mark.parametrize("policy, real", [
    pytest.param("accumulate-subsample", "fresh", id="subsample"),
    pytest.param("accumulate", "fixed", id="accumulate-fixed-real"),
    pytest.param("replace", "fixed", id="replace-fixed-real"),
    pytest.param("accumulate-subsample", "fixed", id="subsample-fixed-real"),
])
def test_recursion_against_monte_carlo(policy, real):
    """Claims 2-3 (pools, weights, subsampling noise, fixed real data) against a simulation
    of the Gaussian location model, where the recursion is exact: fixed seed, |z| < 4 at
    every generation."""
    G = InteractionGraph(["A"], real_samples=[4], initial_samples=[8], edges=[("A", "A", 8)], dimension=1,
                         noise_variance=1, data_policy=policy, real_data=real, real_weight=2)
    theory = np.array([[float(x) for x in row] for row in _trajectory(G, 6, Fraction(1), [Fraction(1)], exact=True)])
    errs = _simulate_one_learner(policy, real=real)
    mean, se = errs.mean(axis=0), errs.std(axis=0, ddof=1) / math.sqrt(errs.shape[0])
    z = (mean - theory[:, 0]) / se
    assert np.all(np.abs(z) < 4), z


# --------------------------------------------------------------------------- analysis and CLI
def test_analyze_and_predict_dispatch():
    G = cycle(3, real_samples=[0, 0, 5], data_policy=["accumulate", None, None])
    a = analyze(G)
    assert not a.collapse and a.extra["regime"]["data_policy"]["L0"] == "accumulate"
    assert "Data regime: L1, L2 replace; L0 accumulate." in a.report()
    p = predict(G, 3)
    assert p.theory == "large-sample" and len(p.risk["L0"]) == 4
    with pytest.raises(GraphValueError, match="--fix-samples: the minimal fix is derived for the default regime"):
        analyze(G, fix_samples=3)


def test_regime_sentence():
    assert regime_sentence(chain(2)).startswith("Data regime: every learner replaces")
    s = regime_sentence(chain(2, data_policy="accumulate-subsample", design=None))
    assert "drawn without replacement" in s


def test_cli_analyze_reports_the_regime(tmp_path, capsys):
    from graphcollapse.verify.cli import main

    path = tmp_path / "g.json"
    path.write_text(self_training(samples=12, initial_samples=12, dimension=2, design="fixed",
                                  data_policy="accumulate").dumps())
    assert main(["predict", str(path), "-T", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["theory"] == "exact" and out["risk_exact"]["L0"] == ["2/9", "5/18", "49/162"]
    assert main(["analyze", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["collapse"] is False and out["regime"]["design"]["L0"] == "fixed"


def test_float_stationary_risks_match_the_exact_ones():
    """The float64 path of large graphs (Lyapunov with the fixed-data terms) equals the
    exact solution on a small graph (1e-12: double precision, residual ~1e-16)."""
    from graphcollapse.theory.regimes import _replace_stationary_float

    G = InteractionGraph(["A", "B", "C"], real_samples=[10, 5, 0], initial_samples=[30, 30, 30],
                         edges=[("A", "B", 20), ("B", "A", 10), ("B", "B", 5), ("C", "C", 3), ("A", "C", 4)],
                         dimension=2, noise_variance=1, real_data=["fixed", "fixed", None], real_weight=[2, 1, 1])
    floats, residual = _replace_stationary_float(G, "ols", False, None, regime_verdicts(G))
    exact = _replace_values(G, "ols", False)[2]
    assert residual < 1e-12
    for k in range(3):
        assert abs(floats[k] - float(exact[k])) <= 1e-12 * float(exact[k])


def test_symbolic_weight_gives_the_golden_ratio_through_the_analysis():
    """The regime analysis with a symbolic real weight w (m = n) is minimised at
    w = phi, i.e. the real share 1/phi of He, Xu, Cheng 2025."""
    G = apply_symbols(self_training(real_samples=10, samples=10, dimension=1), ["w=L0.real_weight"])
    R = analyze(G).learner("L0").stationary_risk
    w = sp.Symbol("w", positive=True)
    crit = [x for x in sp.solve(sp.diff(R, w), w) if x.is_positive]
    assert len(crit) == 1 and sp.simplify(crit[0] - (1 + sp.sqrt(5)) / 2) == 0


def test_one_learner_accumulation_limit_in_closed_form():
    """§5: the limit v/n0 + D psi'(r + 1), r = w n0/(u N); with a fixed design and n0 = N it is
    Gerstgrasser et al.'s (pi^2/6) R(0), and it is the recursion's limit (tail < D/t)."""
    G = self_training(samples=12, initial_samples=12, dimension=2, design="fixed", data_policy="accumulate")
    assert sp.simplify(analyze(G).learner("L0").stationary_risk - sp.pi ** 2 / 6 * sp.Rational(2, 9)) == 0
    H = self_training(samples=10, initial_samples=25, dimension=2, data_policy="accumulate")
    limit = float(analyze(H, theory="large-sample").learner("L0").stationary_risk)
    r = regime_risk_trajectory(H, 5000, exact=False)[5000][0]
    assert 0 <= limit - r <= 0.2 / 5000
    # the exact limit with a fresh design (Theorem 4): the digamma form, the limit of the exact risks
    exact_limit = analyze(H).learner("L0").stationary_risk
    assert sp.simplify(exact_limit - fresh_accumulate_limit(samples=10, initial_samples=25, dimension=2)) == 0
    r = regime_risk_trajectory(H, 5000, theory="exact", exact=False)[5000][0]
    assert 0 <= float(exact_limit) - r <= 0.2 / 5000

    # loss weights move the generation-0 share: r = w n0/(u N) (w = 3, u = 2, n0 = 20, N = 10: r = 3)
    W = self_training(real_samples=0, samples=10, initial_samples=20, dimension=1, data_policy="accumulate",
                      real_weight=3, edge_weights=[2])
    limit = analyze(W, theory="large-sample").learner("L0").stationary_risk
    assert sp.simplify(limit - (sp.Rational(1, 20) + sp.Rational(1, 10) * sp.polygamma(1, 4))) == 0
    r = regime_risk_trajectory(W, 5000, exact=False)[5000][0]
    assert 0 <= float(limit) - r <= 0.2 / 5000


def test_fixed_design_is_refused_for_m_estimators():
    """A fixed design is an OLS notion: the M-estimator theory refuses it at analysis time."""
    from graphcollapse.theory.mestimators import asymptotic_analysis

    G = self_training(samples=20, initial_samples=20, dimension=2, design="fixed")
    with pytest.raises(GraphValueError, match="design: fixed is an OLS design"):
        asymptotic_analysis(G, "logistic")
