"""Hypothesis strategies that build random interaction graphs.

``interaction_graphs()`` plants, on purpose, the cases the theorems are about: offending
source components (a directed cycle, possibly with chords and self-loops, that no edge
enters and that gets no real data), periodic components (plain cycles), learners fed by
several components, and learners with real data downstream of collapse.
"""

from __future__ import annotations

import sympy as sp
from hypothesis import strategies as st

from graphcollapse.theory import InteractionGraph

__all__ = ["interaction_graphs", "graph_params", "small_n_graphs"]


@st.composite
def interaction_graphs(draw, max_learners: int = 7, min_samples: int = 1, exact_regime: bool = False):
    """Draw an :class:`InteractionGraph` with at most ``max_learners`` learners.

    ``exact_regime=True`` keeps every N_k and n0_k at least 2d + 1 (the exact
    finite-sample theory's topological regime).
    """
    K = draw(st.integers(1, max_learners))
    d = draw(st.integers(1, 4))
    names = [f"L{k}" for k in range(K)]
    adj = [[False] * K for _ in range(K)]
    # planted offending components: disjoint groups of consecutive learners
    protected: set[int] = set()
    groups: list[list[int]] = []
    start = 0
    n_groups = draw(st.integers(0, min(2, K)))
    for _ in range(n_groups):
        if start >= K:
            break
        size = draw(st.integers(1, min(3, K - start)))
        group = list(range(start, start + size))
        start += size
        groups.append(group)
        protected.update(group)
        for i, j in zip(group, group[1:] + group[:1]):
            adj[i][j] = True  # a cycle (a self-loop when size 1)
        if size > 1 and draw(st.booleans()):  # chords or self-loops make it aperiodic
            i, j = draw(st.sampled_from([(a, b) for a in group for b in group]))
            adj[i][j] = True
    p = draw(st.sampled_from([0.15, 0.3, 0.5]))
    for j in range(K):
        for k in range(K):
            if k in protected and j not in _group_of(groups, k):
                continue  # nothing enters a planted component from outside
            if draw(st.floats(0, 1)) < p:
                adj[j][k] = True
    real = []
    for k in range(K):
        if k in protected:
            real.append(0)
        else:
            real.append(draw(st.sampled_from([0, 0, 1, 3, 10, 25])))
    edge_samples = st.integers(min_samples, 20)
    edges = [(names[j], names[k], draw(edge_samples)) for j in range(K) for k in range(K) if adj[j][k]]
    for k in range(K):
        has_in = any(adj[j][k] for j in range(K))
        if real[k] == 0 and not has_in:
            real[k] = draw(st.integers(1, 20))
    if exact_regime:
        need = 2 * d + 1
        totals = [real[k] + sum(n for s, t, n in edges if t == names[k]) for k in range(K)]
        for k in range(K):
            if totals[k] < need:
                if k in protected:  # scale the in-edge counts up instead of adding real data
                    factor = -(-need // totals[k])
                    edges = [(s, t, n * factor if t == names[k] else n) for s, t, n in edges]
                else:
                    real[k] += need - totals[k]
    init_low = 2 * d + 1 if exact_regime else 1
    initial = [draw(st.integers(max(init_low, 5), 40)) for _ in range(K)]
    noise = draw(st.sampled_from([sp.Rational(1, 2), sp.Integer(1), sp.Rational(3, 2)]))
    snv = [draw(st.sampled_from([None, None, sp.Rational(1, 4), sp.Integer(2)])) for _ in range(K)]
    return InteractionGraph(names, real_samples=real, initial_samples=initial, edges=edges,
                            dimension=d, noise_variance=noise, synthetic_noise_variance=snv)


def _group_of(groups: list[list[int]], k: int) -> list[int]:
    for g in groups:
        if k in g:
            return g
    return []


def graph_params() -> st.SearchStrategy:
    """Small integer parameters of a single learner (real, own, d)."""
    return st.tuples(st.integers(0, 30), st.integers(1, 30), st.integers(1, 6))


@st.composite
def small_n_graphs(draw, max_learners: int = 3):
    """Random graphs of 1-3 learners in dimension d = 2-5 where every learner pools only
    N_k = d + 2 (mostly) or d + 3 rows (below 2d + 1 for d >= 3: the regime where the exact map can
    expand) split among its in-edges (each at least 1) and 0-2 real samples; self-loops are
    frequent, and L0 is sometimes fed by itself only (closed when it gets no real data)."""
    K = draw(st.integers(1, max_learners))
    d = draw(st.integers(2, 5))
    names = [f"L{k}" for k in range(K)]
    closed = draw(st.booleans())
    edges = []
    real = []
    for k in range(K):
        sources = [j for j in range(K)
                   if not (closed and k == 0 and j != 0) and draw(st.floats(0, 1)) < (0.8 if j == k else 0.5)]
        m = draw(st.sampled_from([0, 1, 1, 2])) if sources else 0
        N = max(d + 2 + draw(st.sampled_from([0, 0, 0, 1])), m + len(sources))
        if not sources:
            m = N
        if sources:  # split the N - m synthetic rows into positive counts per in-edge
            rest = N - m
            cuts = sorted(draw(st.lists(st.integers(1, rest - 1), min_size=len(sources) - 1,
                                        max_size=len(sources) - 1, unique=True))) if len(sources) > 1 else []
            bounds = [0] + cuts + [rest]
            edges += [(names[j], names[k], b - a) for j, a, b in zip(sources, bounds, bounds[1:])]
        real.append(m)
    return InteractionGraph(names, real_samples=real, initial_samples=[d + 2 + draw(st.integers(0, 5)) for _ in range(K)],
                            edges=edges, dimension=d, noise_variance=1)
