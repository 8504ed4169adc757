"""Tests of the topological collapse condition (docs/theory.md §3) and of the
large-sample recursion (claims 3-4), as property tests over random interaction graphs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, find, given, settings, strategies as st

from strategies import interaction_graphs
from graphcollapse.theory import InteractionGraph, collapse_condition, verdicts_from_mixing_matrix
from graphcollapse.theory.builders import chain, complete, cycle, random_digraph, self_training, star
from graphcollapse.theory.recursion import (
    covariance_trajectory,
    growth_rates,
    growth_rates_float,
    large_sample_noise_variance,
    risk_trajectory,
    stationary_covariance,
    stationary_risks_float,
)


# --------------------------------------------------------------------------- the strategy
def _fed_by_several(G):
    cond = collapse_condition(G)
    return any(len(f) >= 2 for f in cond.feeding)


def _periodic(G):
    return any(c.period >= 2 for c in collapse_condition(G).components)


def _real_downstream(G):
    cond = collapse_condition(G)
    return any(cond.collapses[k] and G.real_samples[k] > 0 for k in range(len(G)))


def _offending(G):
    return bool(collapse_condition(G).components)


@pytest.mark.parametrize("predicate", [
    pytest.param(_offending, id="offending-component"),
    pytest.param(_periodic, id="periodic-component"),
    pytest.param(_fed_by_several, id="fed-by-several-components"),
    pytest.param(_real_downstream, id="real-data-downstream-of-collapse"),
])
def test_strategy_generates_the_interesting_cases(predicate):
    """The random-graph strategy plants each case the theorems are about."""
    find(interaction_graphs(), predicate, settings=settings(max_examples=2000, database=None))


# --------------------------------------------------------------------------- claim 1 = claim 2
@given(interaction_graphs())
def test_structural_verdict_equals_mixing_matrix_check(G):
    """Claim 2: learner k collapses iff rho(W on k and its ancestors) = 1, decided from W
    alone (det(I - W_AA) = 0), agrees with the component decomposition (claim 1)."""
    assert list(collapse_condition(G).collapses) == verdicts_from_mixing_matrix(G.mixing_matrix)


@given(interaction_graphs())
def test_nothing_collapses_iff_every_source_component_has_real_data(G):
    """Claim 1, global form: nothing collapses iff rho(W) < 1 iff det(I - W) != 0."""
    cond = collapse_condition(G)
    det = (sp.eye(len(G)) - G.mixing_matrix).det()
    assert (not any(cond.collapses)) == (det != 0)


@given(interaction_graphs())
def test_relabelling_changes_nothing(G):
    """Verdicts, growth rates and stationary risks are properties of the learners, not of
    their order or names."""
    rng = np.random.default_rng(len(G) + len(G.edges))
    order = list(rng.permutation(G.names))
    mapping = {n: f"X{n}" for n in G.names}
    H = G.relabel(mapping, order=order)
    cG, cH = collapse_condition(G), collapse_condition(H)
    assert {mapping[n]: cG.verdict(n) for n in G.names} == {n: cH.verdict(n) for n in H.names}
    rG, rH = growth_rates(G, cG), growth_rates(H, cH)
    assert {mapping[G.names[k]]: v for k, v in rG.items()} == {H.names[k]: v for k, v in rH.items()}
    BG, CG = stationary_covariance(G, cG)
    BH, CH = stationary_covariance(H, cH)
    assert {mapping[G.names[k]]: CG[i, i] for i, k in enumerate(BG)} == {H.names[k]: CH[i, i] for i, k in enumerate(BH)}


@given(interaction_graphs(), st.data())
def test_adding_real_data_never_makes_a_bounded_learner_collapse(G, data):
    """Monotonicity: real data only shrinks W's rows, so bounded learners stay bounded."""
    k = data.draw(st.integers(0, len(G) - 1))
    extra = data.draw(st.integers(1, 30))
    before = collapse_condition(G).collapses
    after = collapse_condition(G.with_real_samples({G.names[k]: extra})).collapses
    assert all(a is False for a, b in zip(after, before) if b is False)


@given(interaction_graphs(), st.data())
def test_an_edge_out_of_an_offending_component_drags_the_target_down(G, data):
    """Adding j -> k with j in an offending component makes k and its descendants collapse."""
    cond = collapse_condition(G)
    assume(cond.components)
    comp = data.draw(st.sampled_from(cond.components))
    j = data.draw(st.sampled_from(comp.members))
    k = data.draw(st.integers(0, len(G) - 1))
    if (G.names[j], G.names[k]) in {(s, t) for s, t, _ in G.edges}:
        H = G
    else:
        H = G.replace(edges=G.edges + [(G.names[j], G.names[k], 3)])
    after = collapse_condition(H)
    import networkx as nx

    for x in nx.descendants(H.digraph, k) | {k}:
        assert after.collapses[x] is True


# --------------------------------------------------------------------------- claim 4
@given(interaction_graphs())
def test_lyapunov_solution_satisfies_its_equation_exactly(G):
    """The stationary covariance of the bounded learners solves C = W C W^T + D exactly."""
    cond = collapse_condition(G)
    B, C = stationary_covariance(G, cond)
    W = G.mixing_matrix.extract(B, B)
    D = sp.diag(*[large_sample_noise_variance(G)[k] for k in B]) if B else sp.zeros(0, 0)
    assert C - W * C * W.T - D == sp.zeros(len(B), len(B))
    assert C == C.T


@given(interaction_graphs())
@settings(max_examples=25)
def test_iterating_the_recursion_converges_to_the_stationary_risk(G):
    """Claim 4: bounded learners converge to the Lyapunov solution (floats, 4000 steps;
    the tolerance covers rho(W_BB)^4000 for the strategy's rho <= 1 - 1/41)."""
    cond = collapse_condition(G)
    B, C = stationary_covariance(G, cond)
    assume(B)
    W = np.array(G.mixing_matrix.extract(B, B), dtype=float)
    D = np.diag([float(large_sample_noise_variance(G)[k]) for k in B])
    X = np.diag([float(G.noise_variance * G.dimension / G.initial_samples[k]) for k in B])
    for _ in range(4000):
        X = W @ X @ W.T + D
    np.testing.assert_allclose(np.diag(X), [float(C[i, i]) for i in range(len(B))], rtol=1e-9)


@given(interaction_graphs())
@settings(max_examples=25)
def test_growth_rate_matches_risk_increments_over_whole_periods(G):
    """Claim 3: (R_k(t + L) - R_k(t)) / L -> the growth rate, L = lcm of the periods
    (checked at t = 6000 in floats; increments converge geometrically)."""
    cond = collapse_condition(G)
    rates = growth_rates(G, cond)
    assume(rates)
    L = int(np.lcm.reduce([c.period for c in cond.components]))
    W = np.array(G.mixing_matrix, dtype=float)
    D = np.diag([float(x) for x in large_sample_noise_variance(G)])
    X = np.zeros_like(W)
    for _ in range(6000):
        X = W @ X @ W.T + D
    before = np.diag(X).copy()
    for _ in range(L):
        X = W @ X @ W.T + D
    inc = (np.diag(X) - before) / L
    for k, r in rates.items():
        assert inc[k] == pytest.approx(float(r), rel=1e-7, abs=1e-12)


@given(interaction_graphs())
@settings(max_examples=25)
def test_float_paths_agree_with_exact(G):
    """The float growth rates and stationary risks (for large graphs) match the exact ones."""
    cond = collapse_condition(G)
    exact = growth_rates(G, cond)
    approx = growth_rates_float(G, cond)
    assert set(exact) == set(approx)
    for k in exact:
        assert approx[k] == pytest.approx(float(exact[k]), rel=1e-10)
    B, C = stationary_covariance(G, cond)
    B2, risks, residual = stationary_risks_float(G, cond)
    assert B == B2 and residual < 1e-12
    np.testing.assert_allclose(risks, [float(C[i, i]) for i in range(len(B))], rtol=1e-10)


@pytest.mark.parametrize("m,n,d,s2", [
    pytest.param(0, 10, 5, 1, id="d5-N10"),
    pytest.param(0, 7, 1, sp.Rational(1, 3), id="d1-N7-snv"),
    pytest.param(0, 40, 3, 2, id="d3-N40"),
])
def test_single_self_training_learner_grows_by_sigma2_d_over_N(m, n, d, s2):
    """One self-training learner: R_t = R_0 + t sigma_k^2 d / N exactly, for every t."""
    G = self_training(real_samples=m, samples=n, dimension=d, synthetic_noise_variance=s2)
    R = risk_trajectory(G, 12)
    for t, (r,) in enumerate(R):
        assert r == R[0][0] + t * s2 * d / sp.Integer(n)
    assert growth_rates(G) == {0: s2 * d / sp.Integer(n)}


# --------------------------------------------------------------------------- named graphs
@pytest.mark.parametrize("G,expected", [
    pytest.param(self_training(real_samples=0), [True], id="self-training"),
    pytest.param(self_training(real_samples=1), [False], id="self-training-real"),
    pytest.param(chain(4), [False] * 4, id="chain-4"),
    pytest.param(cycle(5), [True] * 5, id="ring-5"),
    pytest.param(cycle(5, real_samples=[1, 0, 0, 0, 0]), [False] * 5, id="ring-5-one-real"),
    pytest.param(star(4, direction="in"), [False] * 4, id="star-in"),
    pytest.param(star(4, real_samples=0, feedback=True, direction="out"), [True] * 4, id="star-feedback-no-real"),
    pytest.param(complete(3, self_loops=False), [True] * 3, id="complete-3"),
    pytest.param(complete(3, real_samples=[0, 0, 2]), [False] * 3, id="complete-3-one-real"),
])
def test_named_graph_verdicts(G, expected):
    """Claim 1 on the named builders."""
    assert list(collapse_condition(G).collapses) == expected


def test_period_cyclic_classes_and_stationary_distribution_of_a_ring():
    """A plain directed ring of 4 has period 4, singleton classes in ring order, pi uniform."""
    cond = collapse_condition(cycle(4))
    (comp,) = cond.components
    assert comp.period == 4
    assert comp.cyclic_classes == ((0,), (1,), (2,), (3,))
    assert comp.stationary_distribution() == {f"L{k}": sp.Rational(1, 4) for k in range(4)}


def test_stationary_distribution_is_the_left_perron_vector():
    """pi^T W_SS = pi^T and sum pi = 1, exactly, on a weighted component."""
    G = InteractionGraph(["A", "B", "C"], real_samples=[0, 0, 0], initial_samples=[9, 9, 9],
                         edges=[("A", "B", 3), ("B", "A", 1), ("B", "C", 2), ("C", "A", 5), ("A", "A", 2)],
                         dimension=1, noise_variance=1)
    (comp,) = collapse_condition(G).components
    pi = sp.Matrix([list(comp.stationary_distribution().values())])
    W = G.mixing_matrix
    assert pi * W == pi and sum(pi) == 1 and comp.period == 1


def test_periodic_component_feeding_through_paths_of_different_parity():
    """Claim 3 with a period-2 component feeding a learner along paths of lengths 1 and 2:
    the rate uses the squared phase probabilities, not their sum."""
    G = InteractionGraph(list("ABCD"), real_samples=[0, 0, 3, 2], initial_samples=[20] * 4,
                         edges=[("A", "B", 4), ("B", "A", 6), ("A", "C", 5), ("D", "C", 2), ("B", "D", 3)],
                         dimension=2, noise_variance=1)
    rates = growth_rates(G)
    R = risk_trajectory(G, 400)
    for k in (2, 3):
        assert float((R[400][k] - R[398][k]) / 2) == pytest.approx(float(rates[k]), rel=1e-12)
    # the phase-blind formula h_C^2 sum_j pi_j^2 D_j (h_C = 1/2 + (1/5)(3/5) = 31/50 the
    # absorption probability of C) is wrong here: C's two paths arrive in opposite phases
    D = large_sample_noise_variance(G)
    pi = collapse_condition(G).components[0].stationary_distribution()
    blind = sp.Rational(31, 50) ** 2 * (pi["A"] ** 2 * D[0] + pi["B"] ** 2 * D[1])
    assert rates[2] != blind


def test_symbolic_real_samples_give_a_boolean_verdict():
    """With a symbolic m the verdict is the simplified Boolean 'm = 0'."""
    m = sp.Symbol("m", nonnegative=True)
    cond = collapse_condition(cycle(3, real_samples=[m, 0, 0]))
    assert cond.collapses == (sp.Eq(m, 0),) * 3
    m2 = sp.Symbol("m2", nonnegative=True)
    cond = collapse_condition(InteractionGraph(
        ["A", "B", "C"], real_samples=[m, m2, 4], initial_samples=[9] * 3,
        edges=[("A", "A", 3), ("B", "B", 3), ("A", "C", 1), ("B", "C", 1)], dimension=1, noise_variance=1))
    assert cond.collapses[2] == sp.Or(sp.Eq(m, 0), sp.Eq(m2, 0))


def test_large_random_graph_float_and_exact_verdicts_agree():
    """The sparse structural path and the W-only check agree on a 40-learner random graph."""
    G = random_digraph(40, 0.06, seed=5, real_probability=0.3)
    assert list(collapse_condition(G).collapses) == verdicts_from_mixing_matrix(G.mixing_matrix)
