r"""Second moments on the pairs of learners they need: the theories at any graph size.

Statement
---------
Both second-moment recursions (large-sample, ``docs/theory.md`` §2; exact, ``docs/exact.md``)
have the form :math:`C' = \mathcal L(C) + \operatorname{diag}(D)` with

.. math::
   \mathcal L(C)_{kl} = f_{kl} \sum_{j, j'} W_{kj} W_{lj'} C_{jj'}
       + [k = l]\, \gamma_k \sum_j W_{kj} C_{jj},
   \qquad f_{kl} = 1 - [k = l]\,\gamma_k,

(:math:`\gamma \equiv 0` in the large-sample theory): a Stein map plus a diagonal
correction. The entry :math:`C_{kl}` reads only the entries :math:`C_{jj'}` with
:math:`j \in \operatorname{in}(k)`, :math:`j' \in \operatorname{in}(l)`. Hence the diagonal
of the learners of interest is determined by the entries on the *pair closure*
:math:`P`: the smallest set of unordered pairs that holds :math:`\{k, k\}` for each of
them and :math:`\{j, j'\}` for every :math:`\{k, l\} \in P`, :math:`j \in
\operatorname{in}(k)`, :math:`j' \in \operatorname{in}(l)`. Every diagonal pair of an
ancestor is in :math:`P`; off-diagonal pairs appear only below learners with two or more
in-neighbours (a ring or a chain needs the :math:`K` diagonal pairs alone).

The stationary covariance restricted to :math:`P` solves the sparse linear system
:math:`(I - \mathcal L_P)\, x = D_P` with :math:`|P|` unknowns and one nonzero per
(in-neighbour, in-neighbour) combination of each pair: nothing is dense in the number of
learners. The system is nonsingular whenever every learner involved is bounded, since
the rows of :math:`\mathcal L` on :math:`P` read only columns of :math:`P`, so
:math:`\mathcal L_P` is a diagonal block of a block-triangular form of :math:`\mathcal L`
and its spectrum is part of :math:`\mathcal L`'s (docs/exact.md §13).

Growth. If learner :math:`k` collapses linearly, :math:`C(t)/t \to \bar G` where
:math:`\bar G = \mathcal L(\bar G)` off the offending components, :math:`\bar G = 0` on
pairs with a bounded learner or two different offending components, and on an offending
component :math:`A`, :math:`\bar G_{AA} = \Pi_A(\operatorname{diag} D_A)` with
:math:`\Pi_A` the spectral projection of :math:`\mathcal L_A` on its eigenvalue 1
(docs/exact.md §13). The rates :math:`\bar G_{kk}` solve the same kind of sparse system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from .errors import GraphValueError

__all__ = ["PairSpace", "pair_closure", "pair_map", "solve_pairs", "iterate_pairs", "exact_solve_pairs",
           "PAIR_BUDGET", "ScaleLimitError"]

#: The largest pair closure solved (pairs); beyond it the analysis is refused with a
#: one-line reason (memory is about 300 bytes per pair plus 40 per nonzero).
PAIR_BUDGET = 3_000_000
#: The largest number of nonzeros in the pair system.
NONZERO_BUDGET = 20_000_000


class ScaleLimitError(GraphValueError):
    """A computation was refused because it would exceed a stated size limit.

    Examples
    --------
    >>> from graphcollapse.theory.pairs import ScaleLimitError
    >>> issubclass(ScaleLimitError, ValueError)
    True
    """


@dataclass
class PairSpace:
    """The in-neighbour lists of a graph in CSR form (rows: learners; columns: in-neighbours;
    values: :math:`W_{kj}` as floats), with the exact weights available on demand.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.pairs import PairSpace
    >>> S = PairSpace.of(cycle(3, real_samples=1, samples=10))
    >>> S.K, S.indegree.tolist()
    (3, [1, 1, 1])
    """

    K: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    #: component of every learner, numbered in topological order (None: unknown)
    labels: np.ndarray | None = None

    @classmethod
    def of(cls, graph: Any) -> "PairSpace":
        """The pair space of a numeric graph."""
        W = graph.mixing_matrix_float().tocsr()
        W.sort_indices()
        return cls(graph.num_learners, W.indptr.astype(np.int64), W.indices.astype(np.int64),
                   W.data.astype(float), np.asarray(graph.structure.labels, dtype=np.int64))

    def block_order(self, keys: np.ndarray) -> np.ndarray:
        """A permutation of ``keys`` under which the pair system is block lower triangular:
        by (larger, smaller) component of the pair, components in topological order. A pair
        reads only pairs whose larger component is not later and, when equal, whose
        smaller one is not later (docs/exact.md §13), so an LU factorisation in this order
        fills in only inside the blocks of pairs of components."""
        if self.labels is None:
            return np.arange(len(keys))
        k, l = self.split(keys)
        ck, cl = self.labels[k], self.labels[l]
        return np.lexsort((np.minimum(ck, cl), np.maximum(ck, cl)))

    @property
    def indegree(self) -> np.ndarray:
        """Number of in-neighbours of every learner."""
        return np.diff(self.indptr)

    def key(self, k: np.ndarray, l: np.ndarray) -> np.ndarray:
        """The int64 key ``min * K + max`` of unordered pairs."""
        k = np.asarray(k, dtype=np.int64)
        l = np.asarray(l, dtype=np.int64)
        return np.minimum(k, l) * self.K + np.maximum(k, l)

    def split(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The learners ``(k, l)``, ``k <= l``, of pair keys."""
        keys = np.asarray(keys, dtype=np.int64)
        return keys // self.K, keys % self.K

    def expand(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""Every (in-neighbour, in-neighbour) combination of the pairs ``keys``.

        Returns ``(row, j, jp, w, child)``: the position in ``keys`` of the pair
        :math:`\{k, l\}`, the in-neighbours :math:`j \in \operatorname{in}(k)` and
        :math:`j' \in \operatorname{in}(l)`, :math:`W_{kj} W_{lj'}` and the key of
        :math:`\{j, j'\}`.
        """
        k, l = self.split(keys)
        dk = self.indegree[k]
        dl = self.indegree[l]
        cnt = dk * dl
        total = int(cnt.sum())
        if total > NONZERO_BUDGET:
            raise ScaleLimitError(
                f"graph: the pair system needs more than {NONZERO_BUDGET:,} nonzeros at this size; "
                "use the large-sample theory on a smaller graph or fewer in-edges per learner")
        row = np.repeat(np.arange(len(keys), dtype=np.int64), cnt)
        start = np.repeat(np.cumsum(cnt) - cnt, cnt)
        off = np.arange(total, dtype=np.int64) - start
        dlr = dl[row]
        a = off // np.maximum(dlr, 1)
        b = off - a * dlr
        pk = self.indptr[k][row] + a
        pl = self.indptr[l][row] + b
        j = self.indices[pk]
        jp = self.indices[pl]
        return row, j, jp, self.weights[pk] * self.weights[pl], self.key(j, jp)


def pair_closure(space: PairSpace, learners: Sequence[int] | np.ndarray, *,
                 stop: Any = None, budget: int = PAIR_BUDGET) -> np.ndarray:
    """The pair closure of ``learners`` (sorted int64 keys), see the module docstring.

    Parameters
    ----------
    space : PairSpace
    learners : sequence of int
        Learners whose diagonal pairs start the closure; they must be closed under
        ancestors (every in-neighbour of a listed learner is listed), which gives every
        diagonal pair at once.
    stop : callable, optional
        ``stop(keys) -> bool mask``: pairs whose value is known in advance; they are kept
        in the closure but not expanded.
    budget : int
        Refuse (:class:`ScaleLimitError`) beyond this many pairs.

    Examples
    --------
    A chain of three needs its three diagonal pairs; a learner with two in-neighbours
    also needs their cross pair:

    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graph import InteractionGraph
    >>> S = PairSpace.of(chain(3, real_samples=5))
    >>> S.split(pair_closure(S, [0, 1, 2]))
    (array([0, 1, 2]), array([0, 1, 2]))
    >>> G = InteractionGraph(["a", "b", "c"], real_samples=[5, 5, 5], initial_samples=[9, 9, 9],
    ...                      edges=[("a", "c", 5), ("b", "c", 5)], dimension=2, noise_variance=1)
    >>> S = PairSpace.of(G)
    >>> [tuple(map(int, p)) for p in zip(*S.split(pair_closure(S, [0, 1, 2])))]
    [(0, 0), (0, 1), (1, 1), (2, 2)]
    """
    learners = np.unique(np.asarray(learners, dtype=np.int64))
    K = space.K
    diag = learners * K + learners
    seen = _KeySet(diag)
    frontier = diag
    if stop is not None and frontier.size:
        frontier = frontier[~stop(frontier)]
    first = True
    while frontier.size:
        _, j, jp, _, child = space.expand(frontier)
        if first:  # diagonal children are already in (the learners are ancestor-closed)
            child = child[j != jp]
            first = False
        new = seen.add_new(np.unique(child))
        if not new.size:
            break
        if len(seen) > budget:
            raise ScaleLimitError(
                f"graph: the second moments need more than {budget:,} pairs of learners "
                f"(learners with many in-neighbours share ancestors); use a smaller graph or the "
                f"large-sample verdicts and rates, which need no second moments")
        frontier = new if stop is None else new[~stop(new)]
    return seen.sorted()


class _KeySet:
    """A growing set of int64 keys: a sorted array plus a small buffer merged into it when
    it grows (membership tests are vectorised; amortised cost near-linear)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.base = np.unique(keys)
        self.buffer: list[np.ndarray] = []
        self.buffered: set[int] = set()

    def __len__(self) -> int:
        return len(self.base) + len(self.buffered)

    def add_new(self, cand: np.ndarray) -> np.ndarray:
        """Add the sorted unique keys ``cand``; return those that were not in the set."""
        pos = np.searchsorted(self.base, cand)
        fresh = cand[(pos >= len(self.base)) | (self.base[np.minimum(pos, len(self.base) - 1)] != cand)] \
            if len(self.base) else cand
        if self.buffered and fresh.size:
            fresh = np.fromiter((x for x in fresh.tolist() if x not in self.buffered), dtype=np.int64)
        if fresh.size:
            if fresh.size + len(self.buffered) > max(100_000, len(self.base) // 4):
                self.base = np.union1d(self.base, np.concatenate(self.buffer + [fresh]))
                self.buffer, self.buffered = [], set()
            else:
                self.buffer.append(fresh)
                self.buffered.update(fresh.tolist())
        return fresh

    def sorted(self) -> np.ndarray:
        return np.union1d(self.base, np.concatenate(self.buffer)) if self.buffer else self.base


def pair_map(space: PairSpace, keys: np.ndarray, gammas: np.ndarray | None) -> tuple[Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    r"""The map :math:`\mathcal L` restricted to the pairs ``keys`` as a sparse matrix, and
    the terms that read pairs outside ``keys`` as ``(row, coefficient, pair key)``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> S = PairSpace.of(self_training(real_samples=10, samples=30))
    >>> M, outside = pair_map(S, np.array([0]), None)
    >>> M.toarray(), outside[0].size
    (array([[0.5625]]), 0)
    """
    n = len(keys)
    row, j, jp, w, child = space.expand(keys)
    k, l = space.split(keys)
    diag_row = (k == l)[row]
    coef = w.copy()
    if gammas is not None:
        g = np.asarray(gammas, dtype=float)
        coef[diag_row] *= 1.0 - g[k[row[diag_row]]]
        # gamma_k sum_j W_kj C_jj on the diagonal pairs
        rows_d = np.flatnonzero(k == l)
        starts, ends = space.indptr[k[rows_d]], space.indptr[k[rows_d] + 1]
        cnt = ends - starts
        r2 = np.repeat(rows_d, cnt)
        pos = np.repeat(starts - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        jj = space.indices[pos]
        row = np.concatenate([row, r2])
        coef = np.concatenate([coef, g[k[r2]] * space.weights[pos]])
        child = np.concatenate([child, jj * space.K + jj])
    col = np.searchsorted(keys, child)
    inside = (col < n) & (keys[np.minimum(col, n - 1)] == child)
    M = sps.csr_matrix((coef[inside], (row[inside], col[inside])), shape=(n, n))
    return M, (row[~inside], coef[~inside], child[~inside])


def solve_pairs(space: PairSpace, keys: np.ndarray, gammas: np.ndarray | None, rhs: np.ndarray,
                known: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, float]:
    r"""Solve :math:`x = \mathcal L_P(x) + b` on the pairs ``keys`` in floating point.

    Parameters
    ----------
    space : PairSpace
    keys : numpy.ndarray
        Sorted pair keys: the unknowns.
    gammas : numpy.ndarray or None
        Per-learner design corrections :math:`\gamma_k` (None: zero, the large-sample map).
    rhs : numpy.ndarray
        :math:`b` on ``keys``.
    known : (keys, values), optional
        Pairs whose values are given (not unknowns); every other pair read by the map is
        zero.

    Returns
    -------
    x : numpy.ndarray
    residual : float
        :math:`\|x - \mathcal L_P(x) - b\|_\infty / \max(\|b\|_\infty, \|x\|_\infty)`.

    Examples
    --------
    One learner keeping a fraction 3/4 of its own outputs, large-sample:
    :math:`x = (9/16) x + 1`, so :math:`x = 16/7`.

    >>> from graphcollapse.theory.builders import self_training
    >>> S = PairSpace.of(self_training(real_samples=10, samples=30))
    >>> x, res = solve_pairs(S, np.array([0]), None, np.array([1.0]))
    >>> round(float(x[0]), 12), res < 1e-14
    (2.285714285714, True)
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0), 0.0
    M, (orow, ocoef, ochild) = pair_map(space, keys, gammas)
    b = np.asarray(rhs, dtype=float).copy()
    if known is not None and len(known[0]) and orow.size:
        kk, kv = known
        kpos = np.searchsorted(kk, ochild)
        hit = (kpos < len(kk)) & (kk[np.minimum(kpos, len(kk) - 1)] == ochild)
        np.add.at(b, orow[hit], ocoef[hit] * kv[kpos[hit]])
    A = (sps.identity(n, format="csr") - M).tocsr()
    order = space.block_order(keys)
    Ap = A[order][:, order].tocsc()
    try:
        lu = spla.splu(Ap, permc_spec="NATURAL", diag_pivot_thresh=0.1)
    except RuntimeError as exc:  # exactly singular
        raise GraphValueError("pairs: the second-moment system is singular; some of these learners collapse") from exc
    x = np.empty(n)
    x[order] = lu.solve(b[order])
    if not np.all(np.isfinite(x)):
        raise GraphValueError("pairs: the second-moment system is singular; some of these learners collapse")
    r = A @ x - b
    scale = max(float(np.max(np.abs(b))), float(np.max(np.abs(x))), 1e-300)
    return x, float(np.max(np.abs(r)) / scale)


def iterate_pairs(space: PairSpace, keys: np.ndarray, gammas: np.ndarray | None, noise: np.ndarray,
                  initial: np.ndarray, generations: int) -> np.ndarray:
    r"""The diagonal of :math:`C^{(t)}`, :math:`t = 0..T`, of
    :math:`C^{(t+1)} = \mathcal L(C^{(t)}) + \operatorname{diag}(D)` from a diagonal
    :math:`C^{(0)}`, on the pair closure ``keys`` of all learners (floats; shape
    ``(T + 1, K)``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> S = PairSpace.of(self_training(real_samples=0, samples=10))
    >>> iterate_pairs(S, np.array([0]), None, np.array([0.5]), np.array([1.0]), 2)[:, 0].tolist()
    [1.0, 1.5, 2.0]
    """
    K = space.K
    M, _ = pair_map(space, keys, gammas)
    k, l = space.split(keys)
    diag = np.flatnonzero(k == l)
    learner = k[diag]
    out = np.empty((generations + 1, K))
    x = np.zeros(len(keys))
    x[diag] = initial[learner]
    out[0, learner] = x[diag]
    d = np.zeros(len(keys))
    d[diag] = noise[learner]
    for t in range(1, generations + 1):
        x = M @ x + d
        out[t, learner] = x[diag]
    return out


def exact_solve_pairs(graph: Any, keys: np.ndarray, gammas: Sequence[Any] | None, rhs: Sequence[Any],
                      known: dict[int, Any] | None = None) -> list[Any]:
    r"""The exact (rational) counterpart of :func:`solve_pairs`, for small closures.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=10, samples=30)
    >>> exact_solve_pairs(G, np.array([0]), None, [sp.Integer(1)])
    [16/7]
    """
    from sympy.polys.matrices import DomainMatrix

    QQ = sp.QQ
    K = graph.num_learners
    Ns = graph.total_samples
    rows_in: dict[int, list[tuple[int, Any]]] = {}
    for s, t, m in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        rows_in.setdefault(t, []).append((s, QQ(int(m), int(Ns[t]))))
    keys = [int(x) for x in keys]
    col = {x: i for i, x in enumerate(keys)}
    n = len(keys)
    g = None if gammas is None else [QQ.from_sympy(sp.sympify(x)) for x in gammas]
    known = known or {}
    b = [QQ.from_sympy(sp.sympify(v)) for v in rhs]
    rows: dict[int, dict[int, Any]] = {}
    for r, key in enumerate(keys):
        k, l = divmod(key, K)
        f = QQ.one - g[k] if (g is not None and k == l) else QQ.one
        row: dict[int, Any] = {r: QQ.one}
        terms: list[tuple[int, Any]] = []
        for j, wkj in rows_in.get(k, []):
            for jp, wlj in rows_in.get(l, []):
                terms.append((min(j, jp) * K + max(j, jp), f * wkj * wlj))
        if g is not None and k == l:
            terms += [(j * K + j, g[k] * wkj) for j, wkj in rows_in.get(k, [])]
        for c, v in terms:
            if c in col:
                row[col[c]] = row.get(col[c], QQ.zero) - v
            elif c in known:
                b[r] += v * QQ.from_sympy(sp.sympify(known[c]))
        rows[r] = {c: v for c, v in row.items() if v}
    A = DomainMatrix(rows, (n, n), QQ)
    rhs_m = DomainMatrix({i: {0: v} for i, v in enumerate(b) if v}, (n, 1), QQ)
    try:
        x = A.lu_solve(rhs_m).to_dense().rep.to_ddm()
    except Exception as exc:  # noqa: BLE001 - singular
        raise GraphValueError("pairs: the second-moment system is singular; some of these learners collapse") from exc
    return [QQ.to_sympy(x[i][0]) for i in range(n)]
