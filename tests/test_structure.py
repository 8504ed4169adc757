"""The graph's structure object (``graphcollapse.theory.structure``): components in
topological order, condensation, levels, periods, cyclic classes and reachability, each
checked against an independent reference (networkx, matrix powers) on random digraphs;
and the structure is computed once per graph and shared by every reader."""

from __future__ import annotations

import math
from functools import reduce

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse import csgraph

from graphcollapse.theory import analyze, collapse_condition
from graphcollapse.theory.builders import cycle
from graphcollapse.theory.structure import GraphStructure


@st.composite
def digraphs(draw, max_nodes: int = 9):
    """A random digraph (self-loops allowed) as (K, sources, targets)."""
    K = draw(st.integers(1, max_nodes))
    p = draw(st.sampled_from([0.1, 0.25, 0.5]))
    edges = [(j, k) for j in range(K) for k in range(K) if draw(st.floats(0, 1)) < p]
    return K, [e[0] for e in edges], [e[1] for e in edges]


def _nx(K, src, tgt):
    G = nx.DiGraph()
    G.add_nodes_from(range(K))
    G.add_edges_from(zip(src, tgt))
    return G


def _period_by_powers(A: np.ndarray) -> int:
    """gcd of the t <= 2n with a closed walk of length t through node 0 (0: none)."""
    n = len(A)
    P = np.eye(n, dtype=np.int64)
    ts = []
    for t in range(1, 2 * n + 1):
        P = np.minimum(P @ A, 1)
        if P[0, 0]:
            ts.append(t)
    return reduce(math.gcd, ts, 0)


@given(digraphs())
def test_components_match_networkx_in_topological_order(g):
    """Claim: the labels partition the learners into networkx's SCCs, numbered so that
    every condensation edge goes from a smaller to a larger number and from a lower to a
    strictly higher level; levels are longest paths; sources have no entering edge."""
    K, src, tgt = g
    S = GraphStructure(K, src, tgt)
    G = _nx(K, src, tgt)
    ours = {frozenset(S.members(c).tolist()) for c in range(S.num_components)}
    assert ours == {frozenset(c) for c in nx.strongly_connected_components(G)}
    for j, k in zip(src, tgt):
        a, b = S.labels[j], S.labels[k]
        if a != b:
            assert a < b and S.level[a] < S.level[b]
    C = nx.condensation(G)
    longest = {}
    for c in nx.topological_sort(C):
        longest[c] = max((longest[p] + 1 for p in C.predecessors(c)), default=0)
    for c in C.nodes:
        ours_c = S.labels[next(iter(C.nodes[c]["members"]))]
        assert S.level[ours_c] == longest[c]
        assert bool(S.is_source[ours_c]) == (C.in_degree(c) == 0)


@given(digraphs())
def test_reachability_matches_networkx(g):
    """Claim: ancestors / descendants / ancestor components / is_ancestor agree with
    networkx's reachability (a learner counts as its own ancestor)."""
    K, src, tgt = g
    S = GraphStructure(K, src, tgt)
    G = _nx(K, src, tgt)
    for k in range(K):
        assert S.ancestors(k).tolist() == sorted(nx.ancestors(G, k) | {k})
        assert S.descendants([k]).tolist() == sorted(nx.descendants(G, k) | {k})
        comps = sorted({int(S.labels[j]) for j in nx.ancestors(G, k) | {k}})
        assert S.ancestor_components(k).tolist() == comps
        for j in range(K):
            assert S.is_ancestor(j, k) == (j == k or j in nx.ancestors(G, k))
    if K >= 2:
        assert S.descendants([0, 1]).tolist() == sorted(nx.descendants(G, 0) | nx.descendants(G, 1) | {0, 1})


@given(digraphs())
def test_periods_and_cyclic_classes(g):
    """Claim: the period is the gcd of closed-walk lengths (matrix powers), and every
    internal edge goes from cyclic class c to class c + 1 mod p."""
    K, src, tgt = g
    S = GraphStructure(K, src, tgt)
    A = np.zeros((K, K), dtype=np.int64)
    A[src, tgt] = 1
    for c in range(S.num_components):
        m = S.members(c)
        assert S.period(c) == _period_by_powers(A[np.ix_(m, m)])
        p = S.period(c)
        if p == 0:
            continue
        cls = {i: q for q, members in enumerate(S.cyclic_classes(c)) for i in members}
        assert sorted(cls) == m.tolist() and cls[int(m[0])] == 0
        for j, k in zip(src, tgt):
            if j in cls and k in cls:
                assert cls[k] == (cls[j] + 1) % p


def _count_decompositions(monkeypatch) -> dict[str, int]:
    counts = {"csgraph": 0, "networkx": 0}
    real_cc = csgraph.connected_components

    def counted_cc(*a, **k):
        if k.get("connection") == "strong":
            counts["csgraph"] += 1
        return real_cc(*a, **k)

    monkeypatch.setattr(csgraph, "connected_components", counted_cc)
    for name in ("strongly_connected_components", "condensation", "kosaraju_strongly_connected_components"):
        real = getattr(nx, name)

        def counted(*a, _real=real, **k):
            counts["networkx"] += 1
            return _real(*a, **k)

        monkeypatch.setattr(nx, name, counted)
    return counts


@pytest.mark.parametrize("theory", ["exact", "large-sample"])
def test_one_decomposition_per_analysis(monkeypatch, theory):
    """Claim: a whole analysis (verdicts, rates, stationary risks, fix) decomposes the
    graph once: every reader uses the graph's one structure object."""
    import json
    from pathlib import Path

    from graphcollapse.theory import load_graph

    counts = _count_decompositions(monkeypatch)
    G = load_graph(Path(__file__).parent.parent / "docs" / "examples" / "demo.json")
    result = analyze(G, theory=theory)
    json.dumps(result.to_json())
    result.report()
    assert counts == {"csgraph": 1, "networkx": 0}


def test_structure_is_shared_by_graphs_with_the_same_edges():
    """Changing sample counts keeps the topology, so the structure object is reused; the
    collapse condition (which depends on the counts) is cached per graph."""
    G = cycle(3, real_samples=0)
    H = G.with_real_samples({"L0": 2})
    assert H.structure is G.structure
    assert collapse_condition(G) is collapse_condition(G)
    assert collapse_condition(G).collapses == (True,) * 3
    assert collapse_condition(H).collapses == (False,) * 3


@given(digraphs(), st.data())
def test_reached_by_matches_networkx(g, data):
    """Claim: reached_by marks exactly the components reachable from each given one."""
    K, src, tgt = g
    S = GraphStructure(K, src, tgt)
    chosen = data.draw(st.lists(st.integers(0, S.num_components - 1), unique=True, max_size=4))
    R = S.reached_by(chosen).toarray()
    G = _nx(K, src, tgt)
    for s, c in enumerate(chosen):
        start = int(S.members(c)[0])
        reached = {int(S.labels[j]) for j in nx.descendants(G, start) | {start}}
        assert set(np.flatnonzero(R[:, s]).tolist()) == reached


@given(digraphs())
def test_components_within_ancestor_sets(g):
    """Claim: on an ancestor-closed set the graph's components, restricted, are the induced
    subgraph's SCCs, in an order where every edge goes forward (what the block solves need)."""
    K, src, tgt = g
    S = GraphStructure(K, src, tgt)
    for k in range(K):
        B = S.ancestors(k).tolist()
        comps = S.components_within(B)
        sub = _nx(K, src, tgt).subgraph(B)
        assert {frozenset(B[i] for i in c) for c in comps} == {frozenset(c) for c in nx.strongly_connected_components(sub)}
        pos = {B[i]: n for n, c in enumerate(comps) for i in c}
        assert all(pos[u] <= pos[v] for u, v in sub.edges)
