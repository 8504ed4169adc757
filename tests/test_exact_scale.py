"""The exact theory at scale (theory/pairs.py, theory/exact_scale.py; docs/exact.md §10).

Claims checked: on every graph small enough for the complete exact analysis, the scalable
path gives the same verdicts, growth kinds, stationary risks and linear growth rates (equal
as rationals in exact mode, to 1e-9 in floats); on larger graphs its floats agree with the
exact recursion iterated to convergence; what it cannot do it refuses in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcollapse.theory.builders import cycle
from graphcollapse.theory.exact import exact_analysis
from graphcollapse.theory.exact_scale import (design_correction_float, exact_noise_variance_float,
                                              scalable_exact_analysis)
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.pairs import ScaleLimitError
from strategies import interaction_graphs, small_n_graphs


def _same(G: InteractionGraph) -> None:
    ref = exact_analysis(G)
    for exact in (True, False):
        new = scalable_exact_analysis(G, exact=exact)
        for name in G.names:
            a, b = ref.learners[name], new.learners[name]
            assert (a.collapses, a.growth) == (b.collapses, b.growth), name
            for key in ("stationary_risk", "growth_factor", "growth_rate"):
                va, vb = getattr(a, key), getattr(b, key)
                if va is None or vb is None:
                    assert va is None and vb is None, (name, key, va, vb)
                elif exact and isinstance(vb, sp.Basic):
                    assert sp.simplify(va - vb) == 0, (name, key, va, vb)
                else:
                    assert float(vb) == pytest.approx(float(va), rel=1e-9), (name, key)
            if not a.collapses:
                low, up = b.risk_bounds
                assert float(low) <= float(b.stationary_risk) * (1 + 1e-12)
                if up is not None:
                    assert float(b.stationary_risk) <= float(up) * (1 + 1e-12)
        assert (ref.minimal_fix is None) == (new.minimal_fix is None)
        if new.minimal_fix is not None:  # the fix fixes, with as many learners and samples
            fixed = exact_analysis(G.with_real_samples(new.minimal_fix.additions), fix=False)
            assert not fixed.collapse
            assert len(new.minimal_fix.additions) == len(ref.minimal_fix.additions)
            assert sum(new.minimal_fix.additions.values()) == sum(ref.minimal_fix.additions.values())


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(G=interaction_graphs(max_learners=6, exact_regime=True))
def test_scalable_path_equals_the_complete_exact_analysis(G):
    """Topological verdicts, pair-closure stationary risks and eigenvalue-1 projection rates
    reproduce exact_analysis on random graphs in the exact regime."""
    _same(G)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(G=small_n_graphs())
def test_scalable_path_equals_the_complete_exact_analysis_with_small_counts(G):
    """Components with N_k < 2d + 1 are decided by their own map's radius, and learners they
    feed get the complete analysis of their ancestor subgraph."""
    _same(G)


def _iterate(G: InteractionGraph, T: int) -> np.ndarray:
    """The exact recursion C' = L(C) + diag(D) iterated T times in floats (dense)."""
    W = G.mixing_matrix_float().toarray()
    d = int(G.dimension)
    g = design_correction_float(np.array(G.total_samples, float), d)
    D = exact_noise_variance_float(G)
    C = np.diag(np.full(G.num_learners, 0.1))
    for _ in range(T):
        M = W @ C @ W.T
        dg = np.diag(M) + g * (W @ np.diag(C) - np.diag(M))
        C = M
        np.fill_diagonal(C, dg + D)
    return C


def test_floats_agree_with_the_recursion_on_a_larger_graph():
    """On a 60-learner graph with merges (off-diagonal pairs) the float stationary risks and
    linear growth rates equal the dense exact recursion run to convergence."""
    rng = np.random.default_rng(3)
    K = 60
    names = [f"L{k}" for k in range(K)]
    edges = [(names[k - 1], names[k], 9) for k in range(1, K)] + [(names[K - 1], names[0], 9)]
    edges += [(names[int(rng.integers(0, k - 1))], names[k], 4) for k in range(5, K, 3)]
    edges += [("S", names[k], 3) for k in range(0, K, 7)] + [("S", "S", 12)]
    real = [5 if k % 10 == 0 else 0 for k in range(K)] + [0]
    G = InteractionGraph(names + ["S"], real_samples=real, initial_samples=[20] * (K + 1), edges=edges,
                         dimension=2, noise_variance=1)
    a = scalable_exact_analysis(G)
    T = 4000
    C1, C2 = _iterate(G, T), _iterate(G, T + 1)
    for k, name in enumerate(G.names):
        r = a.learners[name]
        if r.collapses:
            assert r.growth == "linear"
            assert float(r.growth_rate) == pytest.approx(C2[k, k] - C1[k, k], rel=1e-6)
    G2 = G.with_real_samples({"S": 4})
    b = scalable_exact_analysis(G2)
    C = _iterate(G2, 6000)
    assert not b.collapse
    for k, name in enumerate(G2.names):
        assert float(b.learners[name].stationary_risk) == pytest.approx(C[k, k], rel=1e-9)


def test_a_ring_of_two_thousand_learners_is_immediate():
    """The issue's ring (one learner with real data): every learner bounded, risks from K
    diagonal pairs, increasing along the ring away from the learner with real data."""
    K = 2000
    G = cycle(K, real_samples=[10] + [0] * (K - 1), samples=20, dimension=2)
    a = scalable_exact_analysis(G)
    risks = [float(a.learners[n].stationary_risk) for n in G.names]
    assert not a.collapse and np.all(np.diff(risks[1:]) > 0)


def test_a_large_small_count_component_is_refused_in_one_line():
    """A 30-learner cycle whose counts are below 2d + 1 needs a 465-dimensional map's radius:
    refused with the reason and the fix."""
    G = cycle(30, real_samples=[1] + [0] * 29, samples=4, dimension=2)
    with pytest.raises(ScaleLimitError, match=r"N_k < 2d \+ 1 = 5.*at least 5 samples") as info:
        scalable_exact_analysis(G)
    assert "\n" not in str(info.value)


def test_scalable_trajectories_equal_the_exact_ones():
    """predict beyond 40 learners iterates the same recursions on the pair closure: on small
    graphs the floats equal the exact rational trajectories (both theories)."""
    from graphcollapse.theory.analysis import predict
    from graphcollapse.theory.builders import complete
    from graphcollapse.theory.exact_scale import scalable_risk_trajectory

    for G in (cycle(5, real_samples=[3, 0, 0, 0, 0], samples=10, dimension=2),
              complete(4, real_samples=[2, 0, 0, 1], samples=5, dimension=2)):
        for theory, exact in (("exact", True), ("large-sample", False)):
            ref = predict(G, 6, theory=theory).risk
            new = scalable_risk_trajectory(G, 6, exact_theory=exact)
            for k, name in enumerate(G.names):
                assert new[:, k] == pytest.approx([float(v) for v in ref[name]], rel=1e-13)
