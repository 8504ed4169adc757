"""Exact finite-sample verdicts as conditions on symbols (docs/exact.md §10,
theory.exact.exact_collapse_conditions).

Claim: a component contracts iff I - L_A is invertible and the solution of
X = L_A(X) + D_A is positive definite; so substituting numbers into the symbolic
conditions must give, learner by learner, the verdict that exact real-root counting of the
characteristic polynomials (exact_analysis, an independent method) gives for the numeric
graph. Every test compares the two at many points, on both sides of the thresholds.
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcollapse.theory.builders import random_digraph, self_training
from graphcollapse.theory.builders import complete
from graphcollapse.theory.exact import exact_analysis, exact_collapse_conditions, exact_contraction_condition, exact_growth_rates
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.latex import theorem_latex
from graphcollapse.theory.theorem import derive_theorem
from graphcollapse.theory.symbols import apply_symbols

# d = 10, N = 17: the pair collapses geometrically with 1 real sample each (docs/exact.md §6.2)
PAIR = InteractionGraph(["A", "B"], real_samples=[1, 1], initial_samples=[30, 30],
                        edges=[("A", "A", 1), ("B", "B", 1), ("A", "B", 15), ("B", "A", 15)],
                        dimension=10, noise_variance=1)
# a mixing pair (d = 12) feeding a learner with its own real data and self-loop
FED = InteractionGraph(["A", "B", "C"], real_samples=[6, 6, 4], initial_samples=[30, 30, 30],
                       edges=[("A", "A", 2), ("B", "B", 2), ("A", "B", 12), ("B", "A", 12), ("A", "C", 6),
                              ("C", "C", 10)],
                       dimension=12, noise_variance=1)


def _symbol(G: InteractionGraph, name: str) -> sp.Symbol:
    return next(s for s in G.free_symbols if s.name == name)


def _verdicts_agree(G_sym: InteractionGraph, name: str, values) -> list[int]:
    """Values at which the substituted conditions agree with exact_analysis (all must)."""
    collapses, _ = exact_collapse_conditions(G_sym)
    s = _symbol(G_sym, name)
    checked = []
    for v in values:
        numeric = G_sym.subs({s: v})
        truth = exact_analysis(numeric)
        got = [bool(collapses[n].subs(s, v)) for n in G_sym.names]
        assert got == [truth.learners[n].collapses for n in G_sym.names], (v, got)
        checked.append(got)
    return checked


@pytest.mark.parametrize("graph, bindings, name, values", [
    pytest.param(PAIR, ["m=A.real_samples,B.real_samples"], "m", range(0, 9), id="pair-real"),
    pytest.param(PAIR, ["c=A->B.samples,B->A.samples"], "c", range(10, 40), id="pair-cross"),
    pytest.param(PAIR, ["m=A.real_samples"], "m", range(0, 9), id="pair-one-real"),
    pytest.param(PAIR, ["d=dimension"], "d", range(1, 16), id="pair-dimension"),
    pytest.param(FED, ["n=C->C.samples"], "n", range(4, 30), id="fed-self-loop"),
    pytest.param(FED, ["r=A.real_samples,B.real_samples"], "r", range(0, 12), id="fed-pair-real"),
    pytest.param(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23), ["m=L0.real_samples"],
                 "m", range(0, 12), id="lone-learner-real"),
])
def test_symbolic_condition_matches_root_counting(graph, bindings, name, values):
    """Claim (§10): the conditions, evaluated exactly, reproduce the exact verdict at every
    point, and the points cover both verdicts (the threshold is inside the range)."""
    checked = _verdicts_agree(apply_symbols(graph, bindings), name, values)
    flat = {c for row in checked for c in row}
    assert flat == {True, False}


def test_lone_learner_threshold_is_the_scalar_inequality():
    """For one learner the condition is w^2 + gamma (w - w^2) < 1: with 27 own samples at
    d = 23 it collapses exactly up to m = 7 (factor 1 at m = 7, docs/exact.md §6.1)."""
    G = apply_symbols(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23),
                      ["m=L0.real_samples"])
    m = _symbol(G, "m")
    cond = exact_contraction_condition(G, [0])
    assert [bool(cond.subs(m, v)) for v in (6, 7, 8)] == [False, False, True]


def _random_graph(seed: int, K: int) -> InteractionGraph:
    """A random digraph topped up to N_k >= 6, d = min N - 3 (gamma > 1: the exact verdict
    differs from the topological one)."""
    G = random_digraph(K, 0.5, seed=seed)
    G = G.with_real_samples({n: 6 - int(N) for n, N in zip(G.names, G.total_samples) if int(N) < 6})
    d = min(int(N) for N in G.total_samples) - 3
    return G.replace(dimension=d, initial_samples=[max(int(n), d + 2) for n in G.initial_samples])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), K=st.integers(1, 3), extra=st.integers(1, 6))
def test_random_graphs_symbolic_real_data(seed, K, extra):
    """Property: on random graphs, with learner 0's real-data count made a symbol, the
    conditions at the original count and at count + extra equal exact root counting."""
    G = _random_graph(seed, K)
    m0 = int(G.real_samples[0])
    _verdicts_agree(apply_symbols(G, ["m=L0.real_samples"]), "m", [m0, m0 + extra])


def test_exact_theorem_states_the_symbolic_conditions():
    """derive_theorem(..., "exact") on a symbolic graph states the exact conditions (not
    the topological ones) and the component condition, in LaTeX."""
    G = apply_symbols(PAIR, ["m=A.real_samples,B.real_samples"])
    th = derive_theorem(G, "exact")
    m = _symbol(G, "m")
    assert [bool(c.subs(m, 1)) for c in th.collapses] == [True, True]      # topologically bounded
    assert [bool(c.subs(m, 2)) for c in th.collapses] == [False, False]
    assert "A, B" in th.contraction
    tex = theorem_latex(th)
    assert "spectral radius below 1, if and only if" in tex and "collapses if and only if" in tex


# --------------------------------------------------------------------------- growth rates
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), K=st.integers(1, 4), big=st.booleans())
def test_projector_rates_equal_berlekamp_massey_rates(seed, K, big):
    """Claim (§10): the rate P_1(D)_kk from the spectral projector at 1 equals the rate
    exact_analysis finds from the generating function (Berlekamp-Massey on exact terms)
    for every linearly growing learner, and no rate is reported for other learners."""
    G = _random_graph(seed, K)
    if big:  # every N >= 2d + 1: offending components grow linearly (Theorem 3)
        d = (min(int(N) for N in G.total_samples) - 1) // 2
        G = G.replace(dimension=d)
    a = exact_analysis(G)
    rates = exact_growth_rates(G, list(G.names))
    want = {n: r.growth_rate for n, r in a.learners.items() if r.growth == "linear"}
    assert rates == want


# a closed pair without real data (sample counts n own, c cross) feeding a learner with real data
FEEDS = InteractionGraph(["A", "B", "C"], real_samples=[0, 0, 5], initial_samples=[30, 30, 30],
                         edges=[("A", "A", 6), ("B", "B", 6), ("A", "B", 6), ("B", "A", 6), ("B", "C", 4),
                                ("C", "C", 3)],
                         dimension=2, noise_variance=1)


@pytest.mark.parametrize("graph, bindings, name, values", [
    pytest.param(self_training(real_samples=0, samples=12, dimension=3), ["n=L0->L0.samples"], "n",
                 range(5, 15), id="self-training"),
    pytest.param(FEEDS, ["c=A->B.samples,B->A.samples"], "c", range(1, 12), id="closed-pair-cross"),
    pytest.param(FEEDS, ["m=C.real_samples"], "m", range(0, 8), id="fed-learner-real"),
    pytest.param(complete(2, real_samples=[0, 0], samples=6, dimension=2), ["d=dimension"], "d", range(1, 6),
                 id="closed-pair-dimension"),
])
def test_symbolic_rates_substitute_to_exact_rates(graph, bindings, name, values):
    """Claim: the symbolic rates, substituted, equal the exact numeric rates wherever
    exact_analysis finds linear growth (every N_j >= 2d + 1 on the closed pair here)."""
    Gs = apply_symbols(graph, bindings)
    rates = exact_growth_rates(Gs)
    s = _symbol(Gs, name)
    assert rates
    for v in values:
        a = exact_analysis(Gs.subs({s: v}))
        for n, rate in rates.items():
            r = a.learners[n]
            assert r.growth == "linear" and sp.simplify(rate.subs(s, v) - r.growth_rate) == 0, (v, n)


def test_no_linear_rate_for_polynomial_growth():
    """Two chained radius-1 blocks (docs/exact.md §6.4): A grows linearly (rate 23/10), B
    like t^2 (Jordan block at 1), so B gets no linear rate."""
    G = InteractionGraph(["A", "B"], real_samples=[7, 4], initial_samples=[40, 40],
                         edges=[("A", "A", 27), ("A", "B", 3), ("B", "B", 27)], dimension=23, noise_variance=1)
    assert exact_growth_rates(G, ["A", "B"]) == {"A": sp.Rational(23, 10)}
