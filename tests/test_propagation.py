"""Large-sample growth rates by level-wise propagation of phase vectors
(``graphcollapse.theory.propagation``, docs/theory.md §5) equal the exact rational rates of
``graphcollapse.theory.recursion.growth_rates`` (an independent method: one exact sparse
solve per offending component) on random graphs with periodic components, learners fed
by several components and transient cycles downstream."""

from __future__ import annotations

from hypothesis import given
from strategies import interaction_graphs

from graphcollapse.theory import collapse_condition
from graphcollapse.theory.propagation import growth_rates_propagated, phase_vectors_float
from graphcollapse.theory.recursion import growth_rates, phase_probabilities


@given(interaction_graphs(max_learners=8))
def test_rates_equal_the_exact_rates(G):
    """Claim (docs/theory.md §5): r_k = sum_S p_S Q_S sum_u f_k(S, u)^2, to 1e-10 relative."""
    cond = collapse_condition(G)
    ours = growth_rates_propagated(G, cond)
    exact = {k: float(v) for k, v in growth_rates(G, cond).items()}
    assert ours.keys() == exact.keys()
    for k, v in exact.items():
        assert abs(ours[k] - v) <= 1e-10 * max(1.0, abs(v))


@given(interaction_graphs(max_learners=7))
def test_phase_vectors_equal_the_exact_phase_probabilities(G):
    """Claim: column group s of F holds f_k(S_s, u) of every learner S_s affects, zero elsewhere."""
    cond = collapse_condition(G)
    F, group, period = phase_vectors_float(G, cond)
    F = F.toarray()
    for s, comp in enumerate(cond.components):
        f = phase_probabilities(G, comp)
        for k in range(G.num_learners):
            want = [float(x) for x in f[k]] if k in f else [0.0] * int(period[s])
            got = F[k, group[s]:group[s + 1]].tolist()
            assert all(abs(a - b) <= 1e-10 for a, b in zip(got, want)), (k, got, want)
