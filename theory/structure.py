r"""The structure of an interaction graph, computed once and read by everything.

Primer
------
Write :math:`j \to k` when learner :math:`k` trains on learner :math:`j`'s outputs (data
flow). Learner :math:`j` is an *ancestor* of :math:`k` when there is a directed path
:math:`j \to \dots \to k`; every learner is its own ancestor here. The *strongly connected
components* (SCCs) are the classes of mutual reachability; contracting each to a node
gives the *condensation*, a directed acyclic graph. A component is a *source* when no
edge enters it from another component. The *level* of a component is the length of the
longest condensation path ending at it, so sources have level 0 and every condensation
edge goes from a lower level to a strictly higher one: listing components by level is a
topological order.

The *period* of a component is the gcd of the lengths of its cycles (0 for a single
learner without a self-loop, which has no cycle). A component of period :math:`p \ge 1`
splits into :math:`p` *cyclic classes* :math:`S^0, \dots, S^{p-1}`, every internal edge
going from :math:`S^c` to :math:`S^{c+1 \bmod p}` (class 0 holds the first member in
learner order). With BFS levels :math:`\ell` from one member,
:math:`p = \gcd\{\ell(u) + 1 - \ell(v) : u \to v \text{ inside}\}` and the class of
:math:`v` is :math:`\ell(v) \bmod p`.

Everything here depends only on the edge set, never on sample counts, so graphs that
differ only in their counts share one :class:`GraphStructure`
(:attr:`graphcollapse.theory.InteractionGraph.structure`). The decomposition is one call of
``scipy.sparse.csgraph.connected_components`` (linear time); reachability queries are
sparse breadth-first searches answered on demand, so nothing quadratic in the number of
learners is ever stored.
"""

from __future__ import annotations

import math
from functools import cached_property, reduce
from typing import Sequence

import numpy as np
from scipy.sparse import csgraph, csr_matrix

__all__ = ["GraphStructure", "submatrix"]


def submatrix(M: csr_matrix, rows: np.ndarray, cols: np.ndarray) -> csr_matrix:
    """``M[rows][:, cols]`` for a CSR matrix, in time linear in the selected rows' entries
    (scipy's column fancy-indexing costs O(number of columns of M) per call).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse import csr_matrix
    >>> from graphcollapse.theory.structure import submatrix
    >>> M = csr_matrix(np.arange(16).reshape(4, 4))
    >>> submatrix(M, np.array([1, 3]), np.array([0, 2])).toarray()
    array([[ 4,  6],
           [12, 14]])
    """
    R = M[rows]
    cols = np.asarray(cols, dtype=np.int64)
    order = np.argsort(cols, kind="stable")
    sorted_cols = cols[order]
    at = np.minimum(np.searchsorted(sorted_cols, R.indices), max(len(cols) - 1, 0))
    keep = (sorted_cols[at] == R.indices) if len(cols) else np.zeros(len(R.indices), dtype=bool)
    new_cols = order[at]
    row_of_entry = np.repeat(np.arange(len(rows)), np.diff(R.indptr))
    counts = np.bincount(row_of_entry[keep], minlength=len(rows))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return csr_matrix((R.data[keep], new_cols[keep], indptr), shape=(len(rows), len(cols)))


class GraphStructure:
    r"""Strongly connected components, condensation, levels, periods and reachability.

    Components are numbered in topological order: by level, then by their first member
    in learner order. So component 0 is a source, and ``c -> c'`` in the condensation
    implies ``c < c'``.

    Parameters
    ----------
    num_learners : int
        Number of learners :math:`K`.
    sources, targets : sequence of int
        The edges ``sources[e] -> targets[e]`` (data flow), without duplicates.

    Examples
    --------
    A two-cycle feeding a learner that also trains on itself:

    >>> from graphcollapse.theory.structure import GraphStructure
    >>> S = GraphStructure(3, sources=[0, 1, 1, 2], targets=[1, 0, 2, 2])
    >>> S.num_components, S.labels.tolist()
    (2, [0, 0, 1])
    >>> S.is_source.tolist(), S.level.tolist()
    ([True, False], [0, 1])
    >>> S.period(0), S.cyclic_classes(0)
    (2, ((0,), (1,)))
    >>> S.ancestors(2).tolist(), S.descendants([0]).tolist()
    ([0, 1, 2], [0, 1, 2])
    """

    def __init__(self, num_learners: int, sources: Sequence[int], targets: Sequence[int]) -> None:
        K = int(num_learners)
        src = np.asarray(sources, dtype=np.int64)
        tgt = np.asarray(targets, dtype=np.int64)
        self.num_learners = K
        self.edge_sources = src
        self.edge_targets = tgt
        #: sparse 0/1 adjacency, ``adjacency[j, k] = 1`` for an edge j -> k
        self.adjacency = csr_matrix((np.ones(len(src)), (src, tgt)), shape=(K, K))
        self.adjacency.sum_duplicates()
        n, raw = csgraph.connected_components(self.adjacency, directed=True, connection="strong")
        self._number_components(int(n), raw)

    # ------------------------------------------------------------------ decomposition
    def _number_components(self, n: int, raw: np.ndarray) -> None:
        """Renumber scipy's SCC labels in topological order (level, then first member)."""
        crossing = raw[self.edge_sources] != raw[self.edge_targets]
        cs, ct = raw[self.edge_sources[crossing]], raw[self.edge_targets[crossing]]
        level = self._levels(n, cs, ct)
        _, first = np.unique(raw, return_index=True)  # first member of every component
        order = np.lexsort((first, level))  # new id -> old id
        new_of_old = np.empty(n, dtype=np.int64)
        new_of_old[order] = np.arange(n)
        self.num_components = n
        #: component of every learner (topological numbering)
        self.labels = new_of_old[raw]
        #: longest condensation path ending at each component (sources: 0)
        self.level = level[order]
        self._crossing = crossing
        cond = csr_matrix((np.ones(int(crossing.sum())), (new_of_old[cs], new_of_old[ct])), shape=(n, n))
        cond.sum_duplicates()
        #: condensation adjacency, ``condensation[c, c'] = 1`` for an edge between components
        self.condensation = cond
        indeg = np.diff(cond.tocsc().indptr)
        #: whether no edge enters the component from outside
        self.is_source = indeg == 0
        self._member_order = np.argsort(self.labels, kind="stable")
        self._member_bounds = np.searchsorted(self.labels[self._member_order], np.arange(n + 1))

    @staticmethod
    def _levels(n: int, cs: np.ndarray, ct: np.ndarray) -> np.ndarray:
        """Longest-path levels of the condensation DAG (Kahn's algorithm, one vectorised
        step per level)."""
        level = np.zeros(n, dtype=np.int64)
        if len(cs) == 0:
            return level
        out = csr_matrix((np.ones(len(cs)), (cs, ct)), shape=(n, n))
        out.sum_duplicates()
        indeg = np.bincount(out.indices, minlength=n)
        frontier = np.flatnonzero(indeg == 0)
        depth = 0
        while len(frontier):
            level[frontier] = depth
            rows = out[frontier]
            hit, times = np.unique(rows.indices, return_counts=True)
            indeg[hit] -= times
            frontier = hit[indeg[hit] == 0]
            depth += 1
        return level

    def members(self, c: int) -> np.ndarray:
        """Learners of component ``c``, in learner order."""
        return self._member_order[self._member_bounds[c]:self._member_bounds[c + 1]]

    def component_lists(self) -> list[list[int]]:
        """Every component's learners (new lists), components in topological order.

        Examples
        --------
        >>> from graphcollapse.theory.structure import GraphStructure
        >>> GraphStructure(3, sources=[2, 0, 1], targets=[0, 1, 0]).component_lists()
        [[2], [0, 1]]
        """
        return [self.members(c).tolist() for c in range(self.num_components)]

    def components_within(self, learners: Sequence[int]) -> list[list[int]] | None:
        """The components inside ``learners``, as positions in ``learners`` (topological
        order), when ``learners`` is a union of whole components (e.g. an
        ancestor-closed set); ``None`` otherwise.

        Examples
        --------
        >>> from graphcollapse.theory.structure import GraphStructure
        >>> S = GraphStructure(3, sources=[0, 1, 1], targets=[1, 0, 2])
        >>> S.components_within([2, 0, 1]), S.components_within([0, 2])
        ([[1, 2], [0]], None)
        """
        learners = np.asarray(learners, dtype=np.int64)
        labels = self.labels[learners]
        comps, counts = np.unique(labels, return_counts=True)
        if not np.array_equal(counts, self.component_sizes[comps]):
            return None
        order = np.lexsort((learners, labels))
        bounds = np.searchsorted(labels[order], comps)
        return [order[a:b].tolist() for a, b in zip(bounds, [*bounds[1:], len(order)])]

    def component_of(self, k: int) -> int:
        """The component of learner ``k``."""
        return int(self.labels[k])

    @cached_property
    def component_sizes(self) -> np.ndarray:
        """Number of learners of every component."""
        return np.diff(self._member_bounds)

    @cached_property
    def has_self_loop(self) -> np.ndarray:
        """Per learner, whether it trains on its own outputs."""
        loops = np.zeros(self.num_learners, dtype=bool)
        loops[self.edge_sources[self.edge_sources == self.edge_targets]] = True
        return loops

    # ------------------------------------------------------------------ periods
    @cached_property
    def _periods(self) -> dict[int, tuple[int, tuple[tuple[int, ...], ...]]]:
        return {}

    def _period_and_classes(self, c: int) -> tuple[int, tuple[tuple[int, ...], ...]]:
        cached = self._periods.get(c)
        if cached is not None:
            return cached
        members = self.members(c)
        if len(members) == 1:
            i = int(members[0])
            result = (1, ((i,),)) if self.has_self_loop[i] else (0, ((i,),))
        else:
            sub = submatrix(self.adjacency, members, members)
            order, pred = csgraph.breadth_first_order(sub, 0, directed=True, return_predecessors=True)
            lvl = np.zeros(len(members), dtype=np.int64)
            for v in order[1:]:  # BFS order: predecessors come first
                lvl[v] = lvl[pred[v]] + 1
            coo = sub.tocoo()
            diffs = np.abs(lvl[coo.row] + 1 - lvl[coo.col])
            p = int(reduce(math.gcd, np.unique(diffs).tolist(), 0))
            cls = lvl % p
            order = np.argsort(cls, kind="stable")  # classes in one pass (p can be the size)
            bounds = np.searchsorted(cls[order], np.arange(p + 1))
            ordered = members[order].tolist()
            result = (p, tuple(tuple(ordered[bounds[q]:bounds[q + 1]]) for q in range(p)))
        self._periods[c] = result
        return result

    def period(self, c: int) -> int:
        """The period of component ``c`` (0 for a lone learner without a self-loop)."""
        return self._period_and_classes(c)[0]

    def cyclic_classes(self, c: int) -> tuple[tuple[int, ...], ...]:
        """The cyclic classes of component ``c`` (one class when it is aperiodic)."""
        return self._period_and_classes(c)[1]

    # ------------------------------------------------------------------ reachability
    @cached_property
    def _reverse_adjacency(self) -> csr_matrix:
        return self.adjacency.T.tocsr()

    def descendants(self, learners: Sequence[int] | np.ndarray) -> np.ndarray:
        """Learners reachable from any of ``learners`` (themselves included), sorted."""
        return self._reach(self.adjacency, learners)

    def ancestors(self, k: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """Learners from which ``k`` (or any of several learners) is reachable, ``k``
        included, sorted."""
        return self._reach(self._reverse_adjacency, np.atleast_1d(k))

    def _reach(self, adj: csr_matrix, starts: Sequence[int] | np.ndarray) -> np.ndarray:
        starts = np.unique(np.asarray(starts, dtype=np.int64))
        if len(starts) == 1:
            return np.sort(csgraph.breadth_first_order(adj, int(starts[0]), directed=True,
                                                       return_predecessors=False))
        seen = np.zeros(self.num_learners, dtype=bool)
        seen[starts] = True
        frontier = starts
        while len(frontier):
            nxt = adj[frontier].indices
            nxt = np.unique(nxt[~seen[nxt]])
            seen[nxt] = True
            frontier = nxt
        return np.flatnonzero(seen)

    def ancestor_components(self, k: int) -> np.ndarray:
        """Components containing an ancestor of learner ``k`` (its own included), sorted
        (so in topological order)."""
        cond_rev = self._reverse_condensation
        return self._reach_components(cond_rev, self.labels[k])

    @cached_property
    def _reverse_condensation(self) -> csr_matrix:
        return self.condensation.T.tocsr()

    def _reach_components(self, adj: csr_matrix, c: int) -> np.ndarray:
        return np.sort(csgraph.breadth_first_order(adj, int(c), directed=True, return_predecessors=False))

    def reached_by(self, sources: Sequence[int] | np.ndarray) -> csr_matrix:
        r"""Which of the given components reach every component.

        One pass over the condensation in topological order, a level at a time: the
        row of a component is the union of its predecessors' rows. Time and memory are
        linear in the size of the answer times the in-degree, with no search per source.

        Parameters
        ----------
        sources : sequence of int
            Component numbers.

        Returns
        -------
        scipy.sparse.csr_matrix
            ``num_components x len(sources)``, entry 1 where ``sources[s]`` reaches the
            component (a component reaches itself).

        Examples
        --------
        >>> from graphcollapse.theory.structure import GraphStructure
        >>> S = GraphStructure(4, sources=[0, 1, 2], targets=[2, 2, 3])
        >>> S.reached_by([0, 1]).toarray().astype(int).tolist()
        [[1, 0], [0, 1], [1, 1], [1, 1]]
        """
        from .ragged import RaggedRows

        n = self.num_components
        sources = np.asarray(sources, dtype=np.int64)
        ns = len(sources)
        store = RaggedRows(n)
        column_of = np.full(n, -1, dtype=np.int64)  # own column of a start component
        column_of[sources] = np.arange(ns)
        rev = self._reverse_condensation  # rows: component, columns: its predecessors
        level_order = np.argsort(self.level, kind="stable")
        bounds = np.searchsorted(self.level[level_order], np.arange(int(self.level.max()) + 2 if n else 1))
        for L in range(len(bounds) - 1):
            rows = level_order[bounds[L]:bounds[L + 1]]
            block = rev[rows]
            local_rows = np.repeat(np.arange(len(rows)), np.diff(block.indptr))
            got = store.gather(block.indices.astype(np.int64), np.ones(block.nnz), local_rows, (len(rows), ns))
            own = np.flatnonzero(column_of[rows] >= 0)
            if len(own):
                got = (got + csr_matrix((np.ones(len(own)), (own, column_of[rows[own]])), shape=got.shape)).tocsr()
            if got.nnz == 0:
                continue
            got.data[:] = 1.0
            store.set_rows(rows, got)
        return store.to_csr(ns)

    def is_ancestor(self, j: int, k: int) -> bool:
        """Whether ``j`` is an ancestor of ``k`` (``j == k`` counts)."""
        if j == k:
            return True
        cj, ck = self.labels[j], self.labels[k]
        if cj == ck:
            return True
        if self.level[cj] >= self.level[ck]:
            return False
        return bool(ck in self._reach_components(self.condensation, cj))
