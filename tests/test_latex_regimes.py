"""Theorems under data regimes (theory/regime_symbolic.py, `graphcollapse latex`).

Each test checks one statement of docs/regimes.md as the theorem states it: the stationary
risk with a symbolic loss weight and its golden-ratio minimiser (§3.2, §7.1), the closed
form and trigamma limit of one learner accumulating its own outputs (Claim 3, §5),
Gerstgrasser's exact sum under a fixed design (§6), Theorem 4's exact sum and digamma limit
for a fresh design under the exact theory (§6.1), Theorem 2's verdicts with symbolic real
counts on fixed and random regime graphs (§4), Claim 4's bound (§5); the LaTeX compiles
with pdflatex where it exists.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcollapse.theory import InteractionGraph, analyze, load_graph
from graphcollapse.theory.builders import chain, cycle, self_training
from graphcollapse.theory.latex import document_latex
from graphcollapse.theory.regime_symbolic import regime_collapse_conditions
from graphcollapse.theory.regime_finite import fresh_accumulate_limit
from graphcollapse.theory.regimes import (
    fresh_accumulate_risk,
    gerstgrasser_risk,
    regime_analysis,
    regime_prediction,
    regime_risk_trajectory,
    regime_verdicts,
)
from graphcollapse.theory.symbols import apply_symbols
from graphcollapse.theory.theorem import derive_theorem
from graphcollapse.verify.cli import main
from strategies import interaction_graphs

PDFLATEX = shutil.which("pdflatex")

#: One source component {A, B} of replacing learners (real data m, symbolic or 0) feeding E,
#: and one {C} that accumulates (never offending) feeding D.
MIXED = {"dimension": 2, "noise_variance": 1,
         "models": [{"name": "A", "initial_samples": 20, "real_samples": 0},
                    {"name": "B", "initial_samples": 20, "real_samples": 0},
                    {"name": "C", "initial_samples": 20, "real_samples": 0, "data_policy": "accumulate"},
                    {"name": "D", "initial_samples": 20, "real_samples": 0},
                    {"name": "E", "initial_samples": 20, "real_samples": 5, "real_data": "fixed"}],
         "edges": [{"source": "A", "target": "B", "samples": 10}, {"source": "B", "target": "A", "samples": 10},
                   {"source": "C", "target": "C", "samples": 10}, {"source": "C", "target": "D", "samples": 10},
                   {"source": "B", "target": "E", "samples": 10, "weight": 2}]}

#: The example of docs/symbolic.md: A replaces (real data), B accumulates its own outputs,
#: C replaces and trains on both.
DOCS_GRAPH = {"dimension": 1, "noise_variance": 1,
              "models": [{"name": "A", "initial_samples": 20, "real_samples": 10},
                         {"name": "B", "initial_samples": 20, "real_samples": 0, "data_policy": "accumulate"},
                         {"name": "C", "initial_samples": 20, "real_samples": 0}],
              "edges": [{"source": "A", "target": "A", "samples": 10}, {"source": "B", "target": "B", "samples": 10},
                        {"source": "A", "target": "C", "samples": 10}, {"source": "B", "target": "C", "samples": 10}]}

GRAPHS = {
    "golden-weight": (self_training(real_samples=10, samples=10, dimension=1), ["w=L0.real_weight"]),
    "accumulate-trigamma": (self_training(real_samples=0, samples=10, initial_samples=20, dimension=1,
                                          data_policy="accumulate"), []),
    "accumulate-symbols": (self_training(real_samples=0, samples=12, initial_samples=20, dimension=2,
                                         data_policy="accumulate"), ["n=L0-L0.samples", "n0=L0.initial_samples"]),
    "gerstgrasser": (self_training(real_samples=0, samples=12, initial_samples=12, dimension=2, design="fixed",
                                   data_policy="accumulate"), []),
    "mixed-m": (load_graph(json.dumps(MIXED)), ["m=A.real_samples"]),
    "fixed-real-edge-weight": (cycle(2, real_samples=[5, 0], dimension=1, real_data="fixed"), ["u=L0-L1.weight"]),
    "accumulate-chain-m": (chain(3, real_samples=[5, 0, 0], dimension=1, data_policy="accumulate"),
                           ["m=L0.real_samples"]),
    "subsample-cycle": (cycle(3, real_samples=0, dimension=1,
                              data_policy=["accumulate-subsample", "replace", "replace"]), []),
    "fixed-design-chain": (chain(2, real_samples=[20, 0], samples=20, initial_samples=20, dimension=2,
                                 design="fixed"), []),
    "gerstgrasser-symbols": (self_training(real_samples=0, samples=12, initial_samples=12, dimension=2,
                                           design="fixed", data_policy="accumulate"),
                             ["T=L0.initial_samples,L0-L0.samples", "d=dimension", "s2=noise_variance"]),
    "fixed-design-chain-d": (chain(2, real_samples=[20, 0], samples=20, initial_samples=20, dimension=2,
                                   design="fixed"), ["d=dimension"]),
    "collapse-into-accumulator": (InteractionGraph(["L0", "L1"], real_samples=[0, 0], initial_samples=[20, 20],
                                                   edges=[("L0", "L0", 10), ("L0", "L1", 10)], dimension=1,
                                                   noise_variance=1, data_policy=["replace", "accumulate"]), []),
    "docs-example": (load_graph(json.dumps(DOCS_GRAPH)), ["m=A.real_samples", "w=A.real_weight"]),
    "theorem4-weighted": (self_training(real_samples=0, samples=12, initial_samples=20, dimension=2,
                                        noise_variance=2, synthetic_noise_variance=3, data_policy="accumulate",
                                        real_weight=2, edge_weights=[2]), []),
    "theorem4-symbols": (self_training(real_samples=0, samples=12, initial_samples=12, dimension=2,
                                       data_policy="accumulate"), ["n=L0.initial_samples,L0-L0.samples"]),
}


@functools.lru_cache(maxsize=None)
def _theorem(name: str, theory: str = "exact"):
    G, bindings = GRAPHS[name]
    return derive_theorem(apply_symbols(G, bindings), theory)


# --------------------------------------------------------------------------- replace with weights
def test_weighted_stationary_risk_is_analyze_and_its_minimiser_is_the_golden_ratio():
    """§3.2 and §7.1 (He, Xu, Cheng 2025): the theorem's stationary risk with a symbolic real
    weight w is analyze's, and it is minimised at w = phi (real share 1/phi)."""
    G, bindings = GRAPHS["golden-weight"]
    G = apply_symbols(G, bindings)
    th = _theorem("golden-weight")
    R = th.stationary_risks["L0"]
    assert sp.simplify(R - analyze(G).learner("L0").stationary_risk) == 0
    w = sp.Symbol("w", positive=True)
    best = [x for x in sp.solve(sp.diff(R, w), w) if x.is_positive]
    assert len(best) == 1 and sp.simplify(best[0] - sp.GoldenRatio) == 0
    assert th.collapses == (False,)
    text = th.to_latex()
    assert r"$w_{\mathrm{L0}} = w$" in text  # the regime is stated
    assert r"\S3.2" in text and r"Theorem 2, \S4" in text  # and cited


def test_exact_theory_falls_back_to_large_sample_and_says_why():
    """§6: a fresh design with weights has no exact recursion; the theorem says so."""
    th = _theorem("golden-weight", "exact")
    assert th.theory == "large-sample"
    assert "The statements are large-sample ones: " in th.to_latex()
    assert th.stationary_risks == _theorem("golden-weight", "large-sample").stationary_risks


def test_fixed_real_data_risks_are_analyze():
    """§3.2 with a fixed real dataset and a symbolic edge weight: the risks are analyze's."""
    G, bindings = GRAPHS["fixed-real-edge-weight"]
    G = apply_symbols(G, bindings)
    th = _theorem("fixed-real-edge-weight")
    a = regime_analysis(G, "large-sample")
    for name in G.names:
        assert sp.simplify(th.stationary_risks[name] - a.learner(name).stationary_risk) == 0
    assert th.regime.recursion == "replace-fixed"


def test_fixed_design_replace_is_exact():
    """Theorem 3 (§6): single-source fixed designs make the replace recursion exact; the
    theorem's risks are regime_analysis's exact ones."""
    G, _ = GRAPHS["fixed-design-chain"]
    th = _theorem("fixed-design-chain")
    assert th.theory == "exact"
    a = regime_analysis(G)
    assert {n: a.learner(n).stationary_risk for n in G.names} == th.stationary_risks


# --------------------------------------------------------------------------- accumulate
def test_accumulate_self_training_is_bounded_with_the_trigamma_limit():
    """Claim 3 and §5: bounded, R(t) = R(0) + D sum_{s<=t} (r+s)^-2 equals the recursion, and
    the limit R(0) + D psi'(r + 1) equals regime_analysis's (large-sample theory asked for:
    under the exact theory this learner is Theorem 4's, tested below)."""
    G, _ = GRAPHS["accumulate-trigamma"]
    th = _theorem("accumulate-trigamma", "large-sample")
    one = th.regime.self_accumulating[0]
    assert th.collapses == (False,)
    assert th.theory == "large-sample"
    assert sp.simplify(one.limit - regime_analysis(G, "large-sample").learner("L0").stationary_risk) == 0
    traj = regime_risk_trajectory(G, 8, exact=True)
    for t in range(9):
        assert sp.Rational(traj[t][0].numerator, traj[t][0].denominator) == one.risk.subs(one.t, t).doit()
    assert r"\psi'" in th.to_latex()


def test_accumulate_with_symbols_matches_numbers():
    """The symbolic closed form (symbols n, n0) at n = 12, n0 = 20 is the numeric one
    (large-sample theory asked for)."""
    one = _theorem("accumulate-symbols", "large-sample").regime.self_accumulating[0]
    n, n0 = sp.Symbol("n", positive=True, integer=True), sp.Symbol("n0", positive=True, integer=True)
    G, _ = GRAPHS["accumulate-symbols"]
    traj = regime_risk_trajectory(G, 5, exact=True)
    for t in range(6):
        assert one.risk.subs({n: 12, n0: 20, one.t: t}).doit() == sp.Rational(traj[t][0].numerator,
                                                                             traj[t][0].denominator)
    assert one.limit.has(sp.polygamma)


def test_weighted_one_learner_uses_the_weight_of_generation_zero():
    """Claim 4's lambda(s) = Omega/(w n0 + s Omega): with m = 0 and weights w = 3, u = 2 the
    closed form matches the recursion, r = w n0/(u n)."""
    G = self_training(real_samples=0, samples=10, initial_samples=20, dimension=1, data_policy="accumulate",
                      real_weight=3, edge_weights=[2])
    one = derive_theorem(G, "large-sample").regime.self_accumulating[0]
    assert one.r == 3
    traj = regime_risk_trajectory(G, 6, exact=True)
    for t in range(7):
        assert one.risk.subs(one.t, t).doit() == sp.Rational(traj[t][0].numerator, traj[t][0].denominator)


def test_self_accumulating_learner_inside_a_graph_has_its_closed_form():
    """Claim 3 and §5 for a learner whose only ancestor is itself (B accumulates its own
    outputs and also feeds C): its closed form is the whole graph's recursion, column B."""
    G = load_graph(json.dumps(DOCS_GRAPH))
    th = derive_theorem(G, "large-sample")
    (one,) = th.regime.self_accumulating
    assert one.name == "B" and th.regime.recursion_only == ("C",)
    traj = regime_risk_trajectory(G, 6, exact=True)
    for t in range(7):
        assert one.risk.subs(one.t, t).doit() == sp.Rational(traj[t][1].numerator, traj[t][1].denominator)


def test_replace_part_of_a_mixed_graph_is_the_recursion():
    """§3.2 on the learners whose ancestors all replace, in graphs where others accumulate:
    the stated stationary risk and growth rates are the limits of the whole graph's §3.3
    recursion (float64; geometric convergence, so 1e-9 relative at these horizons)."""
    G = load_graph(json.dumps(DOCS_GRAPH))
    th = derive_theorem(G, "large-sample")
    traj = regime_risk_trajectory(G, 200, exact=False)
    assert th.stationary_risks["A"] == sp.Rational(1, 15)
    assert traj[200][0] == pytest.approx(float(th.stationary_risks["A"]), rel=1e-9)
    G = load_graph(json.dumps(MIXED))
    th = derive_theorem(G, "large-sample")
    assert set(th.growth_rates) == {"A", "B", "E"} and th.regime.replace_part
    T = 960
    traj = regime_risk_trajectory(G, T, exact=False)
    for name, rate in th.growth_rates.items():
        k = G.index[name]
        assert (traj[T][k] - traj[T // 2][k]) / (T - T // 2) == pytest.approx(float(rate), rel=1e-6)


def test_collapse_into_an_accumulating_learner_has_no_stated_rate():
    """Theorem 2 (§4): an accumulating learner fed by an offending component collapses; §3.2's
    rates hold only where every ancestor replaces, so its rate is not stated."""
    th = _theorem("collapse-into-accumulator")
    assert th.collapses == (True, True)
    assert set(th.growth_rates) == {"L0"}
    assert r"$\mathrm{L1}$ grows without bound; no closed-form growth rate is proved" in th.to_latex()


def test_fixed_design_accumulate_is_gerstgrasser():
    """§6, Corollary (Gerstgrasser et al. 2024, arXiv 2404.01413): exact, and the theorem's
    sum is sigma^2 d/(T - d - 1) sum_{i<=t+1} 1/i^2, with limit (pi^2/6) R(0)."""
    th = _theorem("gerstgrasser")
    one = th.regime.self_accumulating[0]
    assert th.theory == "exact" and one.gerstgrasser is not None
    for t in range(6):
        assert one.gerstgrasser.subs(one.t, t).doit() == gerstgrasser_risk(t, samples=12, dimension=2)
        assert one.risk.subs(one.t, t).doit() == gerstgrasser_risk(t, samples=12, dimension=2)
    assert sp.simplify(one.limit - sp.pi ** 2 / 6 * gerstgrasser_risk(0, samples=12, dimension=2)) == 0
    assert "Gerstgrasser" in th.to_latex()


def test_gerstgrasser_with_symbols():
    """§6, Corollary with symbolic T, d, sigma^2: sigma^2 d/(T - d - 1) sum_{i<=t+1} 1/i^2,
    equal to gerstgrasser_risk at T = 12, d = 2, sigma^2 = 3; the limit is (pi^2/6) R(0)."""
    th = _theorem("gerstgrasser-symbols")
    one = th.regime.self_accumulating[0]
    assert th.theory == "exact" and one.gerstgrasser is not None
    T, d, s2 = sorted(apply_symbols(*GRAPHS["gerstgrasser-symbols"]).free_symbols, key=str)
    point = {T: 12, d: 2, s2: 3}
    for t in range(4):
        want = gerstgrasser_risk(t, samples=12, dimension=2, noise_variance=3)
        assert one.gerstgrasser.subs(point).subs(one.t, t).doit() == want
    assert sp.simplify(one.limit - sp.pi ** 2 / 6 * s2 * d / (T - d - 1)) == 0
    assert r"\frac{\pi^{2} d s_{2}}{6 \left(T - d - 1\right)}" in th.to_latex()


def test_fixed_design_with_symbolic_dimension_is_exact():
    """Theorem 3 (§6) with a symbolic d: the exact risks at d = 2 are regime_analysis's."""
    th = _theorem("fixed-design-chain-d")
    G, _ = GRAPHS["fixed-design-chain-d"]
    (d,) = apply_symbols(*GRAPHS["fixed-design-chain-d"]).free_symbols
    assert th.theory == "exact"
    a = regime_analysis(G)
    assert {n: v.subs(d, 2) for n, v in th.stationary_risks.items()} == {n: a.learner(n).stationary_risk
                                                                         for n in G.names}


def test_claim_4_bound_holds_along_the_recursion():
    """Claim 4 (§5): with m = 5 every risk stays below the stated bound for t <= 60."""
    th = _theorem("accumulate-chain-m")
    m = sp.Symbol("m", nonnegative=True, integer=True)
    bound = float(th.regime.bound.subs(m, 5))
    G, _ = GRAPHS["accumulate-chain-m"]
    traj = regime_risk_trajectory(G, 60, exact=False)
    assert max(max(row) for row in traj) <= bound
    assert all(c == sp.Gt(m, 0) for c in th.regime.vanishing.values())  # Claim 4b


# --------------------------------------------------------------------------- Theorem 4 (fresh designs)
@pytest.mark.parametrize("name, n0, N, d, s2, sk2", [
    pytest.param("accumulate-trigamma", 20, 10, 1, 1, 1, id="n0-20-N-10-d-1"),
    pytest.param("theorem4-weighted", 20, 12, 2, 2, 3, id="weights-2-2-noises-2-3"),
])
def test_theorem_4_risk_and_limit_are_exact(name, n0, N, d, s2, sk2):
    """§6.1, Theorem 4: an own-output accumulator with a fresh design and w = u gets, under
    the exact theory, R(t) = sigma^2 d/(n0 - d - 1) + sigma_k^2 d sum_{s<=t} N/(n_s(n_s - d - 1)),
    equal to regime_prediction's exact risks and to fresh_accumulate_risk for t = 0..6, and
    the digamma limit, equal to fresh_accumulate_limit."""
    G, _ = GRAPHS[name]
    one = _theorem(name).regime.self_accumulating[0]
    assert one.theorem4 and one.gerstgrasser is None
    pred = regime_prediction(G, 6)
    assert pred.theory == "exact"
    for t in range(7):
        value = one.risk.subs(one.t, t).doit()
        assert value == pred.exact_risk[t][0]
        assert value == fresh_accumulate_risk(t, samples=N, initial_samples=n0, dimension=d, noise_variance=s2,
                                              synthetic_noise_variance=sk2)
    want = fresh_accumulate_limit(samples=N, initial_samples=n0, dimension=d, noise_variance=s2,
                                  synthetic_noise_variance=sk2)
    assert sp.simplify(one.limit - want) == 0
    # the digamma form the theorem prints is the limit, to 50 digits
    c, a, b = one.digamma
    shown = one.initial + c * (sp.polygamma(0, a) - sp.polygamma(0, b))
    assert abs(sp.N(shown - want, 60)) < sp.Float("1e-50")
    # strictly above the partial sums, which increase to it
    assert sp.N(one.risk.subs(one.t, 6).doit(), 30) < sp.N(one.limit, 30)


def test_theorem_4_with_symbols():
    """§6.1, Theorem 4 with n0 = N = n symbolic: the risk at n = 12 is the numeric one for
    t = 0..6, R(0) = 2/(n - 3), and the limit is fresh_accumulate_limit(samples=n) exactly."""
    th = _theorem("theorem4-symbols")
    one = th.regime.self_accumulating[0]
    (n,) = apply_symbols(*GRAPHS["theorem4-symbols"]).free_symbols
    assert one.theorem4 and one.r == 1
    assert sp.simplify(one.initial - 2 / (n - 3)) == 0
    for t in range(7):
        assert one.risk.subs({n: 12, one.t: t}).doit() == fresh_accumulate_risk(t, samples=12, dimension=2)
    assert sp.simplify(one.limit - fresh_accumulate_limit(samples=n, dimension=2)) == 0
    assert abs(sp.N(one.limit.subs(n, 12) - fresh_accumulate_limit(samples=12, dimension=2), 60)) < 1e-50
    assert r"\psi\left(2\right) - \psi\left(\frac{2 n - 3}{n}\right)" in th.to_latex()


@pytest.mark.parametrize("name", ["accumulate-trigamma", "theorem4-symbols"])
def test_large_sample_request_keeps_the_trigamma_form(name):
    """Claim 3 and §5: asked for the large-sample theory, the same learner gets
    R(0) + D psi'(r + 1) with R(0) = sigma^2 d/n0, not Theorem 4."""
    th = _theorem(name, "large-sample")
    one = th.regime.self_accumulating[0]
    assert not one.theorem4 and one.digamma == ()
    G = apply_symbols(*GRAPHS[name])
    n0, d = G.initial_samples[0], G.dimension
    assert sp.simplify(one.initial - d / sp.sympify(n0)) == 0
    assert sp.simplify(one.limit - (one.initial + one.noise * sp.polygamma(1, one.r + 1))) == 0
    text = th.to_latex()
    assert r"\psi'" in text and "Theorem 4" not in text


def test_theorem_4_needs_the_self_loop_weighted_like_generation_zero():
    """§6.1: with w = 3 != u = 2 (weighted Gram matrices are not Wishart) the exact request
    keeps the large-sample form, r = w n0/(u N) = 3."""
    G = self_training(real_samples=0, samples=10, initial_samples=20, dimension=1, data_policy="accumulate",
                      real_weight=3, edge_weights=[2])
    one = derive_theorem(G, "exact").regime.self_accumulating[0]
    assert not one.theorem4 and one.r == 3


def test_theorem_4_statement_says_which_value_is_exact():
    """The theorem states Theorem 4 for the own-output accumulator only: C in MIXED (whose
    other learners stay large-sample, as the title and the opening sentence say; the whole
    graph is outside Theorem 4's exact class, so the check is fresh_accumulate_risk), B in
    the docs example (inside the class at m = 10, w = 1: regime_prediction's exact risks,
    column B)."""
    text = _theorem("mixed-m").to_latex()
    assert r"\begin{theorem}[Large-sample model collapse under a data regime]" in text
    assert r"The statements are large-sample ones: " in text
    assert r"Only the risk of $\mathrm{C}$ is exact, by Theorem 4 of \S6.1 (below)." in text
    assert r"R_{\mathrm{C}}^{(t)} = \frac{2}{17} + 2 \sum_{s=1}^{t}" in text
    (one,) = (x for x in _theorem("mixed-m").regime.self_accumulating if x.name == "C")
    for t in range(7):
        assert one.risk.subs(one.t, t).doit() == fresh_accumulate_risk(t, samples=10, initial_samples=20,
                                                                        dimension=2)
    (one,) = _theorem("docs-example").regime.self_accumulating
    assert one.name == "B" and one.theorem4
    G, _ = GRAPHS["docs-example"]
    pred = regime_prediction(G, 6)
    assert pred.theory == "exact"
    for t in range(7):
        assert one.risk.subs(one.t, t).doit() == pred.exact_risk[t][1]


# --------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize("value", [0, 1, 4])
def test_mixed_policies_one_component_collapses_one_does_not(value):
    """Theorem 2 (§4): {A, B} (replace, real count m) offends iff m = 0 and takes E with it;
    {C} accumulates and keeps D bounded. The Booleans are regime_verdicts at integer m."""
    th = _theorem("mixed-m")
    m = sp.Symbol("m", nonnegative=True, integer=True)
    G = apply_symbols(*GRAPHS["mixed-m"])
    ours = tuple(bool(c.subs(m, value)) if isinstance(c, sp.Basic) else c for c in th.collapses)
    assert ours == regime_verdicts(G.subs({m: value})).collapses
    assert ours[2:4] == (False, False)
    assert ours[0] == ours[1] == ours[4] == (value == 0)


@pytest.mark.parametrize("policies, expected", [
    pytest.param(["replace", "replace", "replace"], "Eq(m, 0)", id="replace-collapses-iff-m-is-0"),
    pytest.param(["replace", "accumulate", "replace"], "False", id="an-accumulating-learner-keeps-it-bounded"),
    pytest.param(["accumulate-subsample"] * 3, "False", id="subsampling-never-collapses"),
])
def test_symbolic_real_count_collapse_iff_m_is_zero(policies, expected):
    """Theorem 2 (§4): on a 3-cycle with real count m at L0 and loss weights, every learner
    collapses iff m = 0 when all replace, and never when one accumulates."""
    G = apply_symbols(cycle(3, real_samples=0, dimension=1, data_policy=policies, real_weight=[2, 1, 1]),
                      ["m=L0.real_samples"])
    th = derive_theorem(G, "large-sample")
    assert [str(c) for c in th.collapses] == [expected] * 3


@st.composite
def _symbolic_regime_graphs(draw):
    """Random graphs (tests/strategies.py) with random policies, real-data modes and weights,
    and a real count m bound to the learners of the first planted component (real data 0)."""
    G = draw(interaction_graphs(max_learners=5))
    K = G.num_learners
    pol = draw(st.lists(st.sampled_from(["replace", "replace", "accumulate", "accumulate-subsample"]),
                        min_size=K, max_size=K))
    real = draw(st.lists(st.sampled_from(["fresh", "fresh", "fixed"]), min_size=K, max_size=K))
    w = draw(st.lists(st.sampled_from([1, 2, sp.Rational(1, 3)]), min_size=K, max_size=K))
    G = G.replace(data_policy=pol, real_data=real, real_weight=w)
    S = G.structure
    zero = [k for k in range(K) if G.real_samples[k] == 0 and S.is_source[S.component_of(k)]]
    if zero:
        c = S.component_of(zero[0])
        fields = ",".join(f"{G.names[k]}.real_samples" for k in S.members(c).tolist())
        G = apply_symbols(G, [f"m={fields}"])
    return G


@settings(max_examples=40, deadline=None)
@given(_symbolic_regime_graphs())
def test_theorem_booleans_are_regime_verdicts_at_integer_points(G):
    """Theorem 2 (§4) on random regime graphs: the per-learner Booleans the theorem states
    (regime_collapse_conditions; derive_theorem's collapses, checked below on fixed graphs,
    because its symbolic stationary risks can take seconds), evaluated at m = 0, 1, 3, are
    regime_verdicts of the numeric graph."""
    conds = regime_collapse_conditions(G)
    for value in (0, 1, 3):
        mapping = {s: value for s in G.free_symbols}
        ours = tuple(bool(c.subs(mapping)) if isinstance(c, sp.Basic) else c for c in conds)
        assert ours == regime_verdicts(G.subs(mapping)).collapses


@pytest.mark.parametrize("name", ["mixed-m", "accumulate-chain-m", "docs-example", "golden-weight"])
def test_theorem_states_the_regime_collapse_conditions(name):
    """derive_theorem's collapses are regime_collapse_conditions (the Booleans tested above)."""
    G, bindings = GRAPHS[name]
    assert _theorem(name).collapses == regime_collapse_conditions(apply_symbols(G, bindings))


# --------------------------------------------------------------------------- command line, LaTeX
def test_cli_states_the_regime(tmp_path, capsys):
    """`graphcollapse latex` on a regime file prints the regime theorem (no refusal)."""
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(MIXED))
    assert main(["latex", str(path), "--symbol", "m=A.real_samples"]) == 0
    out = capsys.readouterr().out
    assert r"\paragraph{Data regime.}" in out
    assert r"\begin{theorem}[Large-sample model collapse under a data regime]" in out
    assert r"m > 0 \tag{C1}" in out


def test_cli_bad_regime_is_one_line(tmp_path, capsys):
    """A regime value that no theory covers is refused on one line naming the field."""
    bad = json.loads(json.dumps(MIXED))
    bad["edges"][0]["weight"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert main(["latex", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "weight" in err and "Traceback" not in err


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not found: install texlive-latex-base (.ci/run does) "
                                             "to compile the regime theorems")
def test_regime_theorems_compile_without_overfull_lines(tmp_path):
    """Every regime theorem of this file compiles with pdflatex and no line runs into the margin."""
    body = "\n\n".join(rf"\section*{{{name}}}" + "\n" + _theorem(name).to_latex() for name in GRAPHS)
    (tmp_path / "t.tex").write_text(document_latex(body))
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert [line for line in log.splitlines() if line.startswith("Overfull")] == []
    assert Path(tmp_path / "t.pdf").stat().st_size > 10_000
