r"""Large-sample growth rates at scale, by propagating phase vectors down the condensation.

Statement
---------
Let :math:`S` be an offending source component of period :math:`p_S` with cyclic classes
:math:`S^0, \dots, S^{p_S-1}`, stationary distribution :math:`\pi` and
:math:`Q_S = \sum_{j \in S} D_j \pi_j^2`. The limiting phase probabilities
:math:`f_k(S, u)`, :math:`u \in \mathbb Z / p_S`, are :math:`f_j(S, u) = [u = c(j)]` on
:math:`S` and, for every other learner,

.. math:: f_k(S, u) = \sum_j W_{kj} f_j(S, u - 1),

and the growth rate of a collapsing learner is
:math:`r_k = \sum_S p_S Q_S \sum_u f_k(S, u)^2` (``docs/theory.md`` §5). Stack the phase
vectors of all offending components as the columns of one sparse matrix :math:`F`
(:math:`K` rows, :math:`\sum_S p_S` columns) and write :math:`\operatorname{sh}` for the
column permutation :math:`(S, u) \mapsto (S, u + 1)`. Then
:math:`F = \operatorname{sh}(W F)` off the offending components.

Algorithm
---------
Components are processed in topological order, one condensation *level* at a time
(:class:`graphcollapse.theory.structure.GraphStructure`): every edge entering a level
comes from a lower level, whose rows of :math:`F` are final. For the rows :math:`R` of
one level, :math:`G = \operatorname{sh}(W_{R,\text{lower}} F_{\text{lower}})` is a sparse
gather over the edges entering :math:`R`. A learner alone in its component without a
self-loop has :math:`F_k = G_k`. The learners of the other components of the level solve
:math:`Y = \operatorname{sh}(W_{cc} Y) + G` on their component :math:`c`; the unknowns are
only the (learner, column) pairs of the column groups that reach :math:`c`, and all such
components of a level form one block-diagonal sparse system (one sparse LU per level).
:math:`\rho(W_{cc}) < 1` for these components (they are not sources, so some row of
:math:`W_{cc}` loses mass to the outside), so each system is nonsingular.

Cost: time and memory linear in the number of nonzeros of :math:`F` times the in-degree
(the size of the answer times the work to assemble it), with a constant number of numpy
calls per level; no path is ever enumerated and nothing is dense in :math:`K`.
Accuracy: the only solves are the stationary distributions (dense, on each offending
component) and the per-level block systems, each backward stable; the property tests
compare with the exact rational rates to 1e-10 relative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.linalg import spsolve

from .ragged import RaggedRows

if TYPE_CHECKING:  # pragma: no cover
    from .condition import CollapseCondition
    from .graph import InteractionGraph

__all__ = ["phase_vectors_float", "growth_rates_propagated"]


def _stationary_distribution(W_SS: csr_matrix) -> np.ndarray:
    """Float left Perron vector of a stochastic irreducible block (dense up to 500
    learners, else a sparse LU of the same system)."""
    n = W_SS.shape[0]
    b = np.zeros(n)
    b[0] = 1.0
    if n <= 500:
        A = W_SS.toarray().T - np.eye(n)
        A[0, :] = 1.0
        return np.linalg.solve(A, b)
    from scipy.sparse import identity
    from scipy.sparse.linalg import spsolve

    # pi_0 = 1, then (I - W^T) restricted to the other learners (a nonsingular M-matrix
    # since the block is irreducible) gives the rest; normalise
    A = (identity(n, format="csr") - W_SS.T).tocsc()
    rest = spsolve(A[1:, 1:].tocsc(), -A[1:, 0].toarray().ravel())
    pi = np.concatenate([[1.0], np.asarray(rest, dtype=float)])
    return pi / pi.sum()


def phase_vectors_float(graph: InteractionGraph, condition: CollapseCondition) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
    r"""The phase vectors :math:`f_k(S, u)` of every learner as a sparse matrix.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric counts.
    condition : CollapseCondition
        Its decided collapse condition.

    Returns
    -------
    F : scipy.sparse.csr_matrix
        :math:`K \times \sum_S p_S`; column ``group[s] + u`` holds :math:`f(S_s, u)`.
    group : numpy.ndarray
        First column of every offending component (in ``condition.components`` order),
        followed by the number of columns.
    period : numpy.ndarray
        The number of phases of every offending component (its period, at least 1).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory import collapse_condition
    >>> G = cycle(2, real_samples=0)
    >>> F, group, period = phase_vectors_float(G, collapse_condition(G))
    >>> F.toarray(), group.tolist(), period.tolist()
    (array([[1., 0.],
           [0., 1.]]), [0, 2], [2])
    """
    store, group, period = _propagate(graph, condition)
    return store.to_csr(int(group[-1])), group, period


def _columns(condition: CollapseCondition) -> tuple[np.ndarray, np.ndarray]:
    """Column groups: first column of every offending component (and the total), periods."""
    period = np.array([max(c.period, 1) for c in condition.components], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(period)]).astype(np.int64), period


def _propagate(graph: InteractionGraph, condition: CollapseCondition, on_rows=None) -> tuple[RaggedRows, np.ndarray, np.ndarray]:
    """Compute the rows of F level by level; ``on_rows(rows, block)`` sees each block."""
    S = graph.structure
    K = graph.num_learners
    comps = condition.components
    group, period = _columns(condition)
    ncols = int(group[-1])
    col_group = np.repeat(np.arange(len(comps)), period)
    col_phase = np.arange(ncols) - group[col_group]
    nxt = group[col_group] + (col_phase + 1) % period[col_group]  # the shift sh

    store = RaggedRows(K)
    done = np.zeros(K, dtype=bool)
    for s, comp in enumerate(comps):
        rows = np.array(comp.members, dtype=np.int64)
        cls = comp.cyclic_class_of()
        cols = group[s] + np.array([cls[int(i)] % period[s] for i in rows], dtype=np.int64)
        order = np.argsort(rows)
        block = csr_matrix((np.ones(len(rows)), cols[order], np.arange(len(rows) + 1)), shape=(len(rows), ncols))
        store.set_rows(rows[order], block)
        if on_rows is not None:
            on_rows(rows[order], block)
        done[rows] = True

    W = graph.mixing_matrix_float().tocoo()
    tgt, src, w = W.row.astype(np.int64), W.col.astype(np.int64), W.data
    tlevel = S.level[S.labels[tgt]]
    edge_order = np.argsort(tlevel, kind="stable")
    tgt, src, w, tlevel = tgt[edge_order], src[edge_order], w[edge_order], tlevel[edge_order]
    edge_bounds = np.searchsorted(tlevel, np.arange(int(S.level.max()) + 2 if K else 1))

    learner_level = S.level[S.labels]
    learner_order = np.argsort(learner_level, kind="stable")
    learner_bounds = np.searchsorted(learner_level[learner_order], np.arange(int(S.level.max()) + 2 if K else 1))
    trivial = (S.component_sizes[S.labels] == 1) & ~S.has_self_loop
    done[learner_order[:learner_bounds[1]]] = True  # sources: nothing enters, F is final

    for L in range(1, len(learner_bounds) - 1):
        rows = learner_order[learner_bounds[L]:learner_bounds[L + 1]]
        rows = rows[~done[rows]]
        if len(rows) == 0:
            continue
        e0, e1 = edge_bounds[L], edge_bounds[L + 1]
        local = np.full(K, -1, dtype=np.int64)  # small per level: only these rows are read
        local[rows] = np.arange(len(rows))
        et, es, ew = tgt[e0:e1], src[e0:e1], w[e0:e1]
        external = done[es]
        G = store.gather(es[external], ew[external], local[et[external]], (len(rows), ncols))
        G = csr_matrix((G.data, nxt[G.indices], G.indptr), shape=G.shape)  # sh(W F)
        internal = ~external
        Y = _solve_level(rows, trivial[rows], G, et[internal], es[internal], ew[internal], local, nxt, col_group, group, period)
        local[rows] = -1
        store.set_rows(rows, Y)
        if on_rows is not None:
            on_rows(rows, Y)
        done[rows] = True
    return store, group, period


def _solve_level(rows, is_trivial, G, et, es, ew, local, nxt, col_group, group, period) -> csr_matrix:
    r"""Rows of :math:`F` for one level: :math:`Y = \operatorname{sh}(W_{cc} Y) + G` on the
    non-trivial components, :math:`Y = G` on the trivial learners."""
    if is_trivial.all() or len(et) == 0:
        return G.tocsr()
    n = len(rows)
    G = G.tocoo()
    # unknowns: (row, column) for every row of a non-trivial component and every column of
    # a column group that reaches the component (closed under sh)
    nontrivial_rows = np.flatnonzero(~is_trivial)
    # components of the level: connected pieces of the internal edges (undirected suffices)
    from scipy.sparse.csgraph import connected_components

    li, lj = local[et], local[es]
    _, piece = connected_components(csr_matrix((np.ones(len(li)), (li, lj)), shape=(n, n)), directed=False)
    in_nt = ~is_trivial[G.row]
    pg = np.unique(np.stack([piece[G.row[in_nt]], col_group[G.col[in_nt]]]), axis=1)  # (piece, group)
    # expand every (piece, group) to its rows x columns
    piece_rows = np.argsort(piece[nontrivial_rows], kind="stable")
    piece_rows = nontrivial_rows[piece_rows]
    pr_bounds = np.searchsorted(piece[piece_rows], np.arange(piece.max() + 2))
    ur: list[np.ndarray] = []
    uc: list[np.ndarray] = []
    for p_, g_ in pg.T:
        r_ = piece_rows[pr_bounds[p_]:pr_bounds[p_ + 1]]
        c_ = group[g_] + np.arange(period[g_])
        ur.append(np.repeat(r_, len(c_)))
        uc.append(np.tile(c_, len(r_)))
    if not ur:
        return G.tocsr()
    ur_a, uc_a = np.concatenate(ur), np.concatenate(uc)
    ncols = G.shape[1]
    key = ur_a * ncols + uc_a
    order = np.argsort(key)
    key = key[order]
    nu = len(key)
    # equations: y[r, nxt[c]] - sum_j W[r, j] y[j, c] = G[r, nxt[c]]
    # for each internal edge r <- j and each unknown (j, c): coefficient -w at (r, nxt[c])
    j_local = local[es]
    r_local = local[et]
    # unknowns of row j, as a slice of the sorted keys
    row_of_key = key // ncols
    col_of_key = key % ncols
    rstart = np.searchsorted(row_of_key, np.arange(n))
    rend = np.searchsorted(row_of_key, np.arange(n), side="right")
    lens = rend[j_local] - rstart[j_local]
    tot = int(lens.sum())
    offs = np.repeat(rstart[j_local] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(tot)
    src_unknown = offs
    tgt_key = np.repeat(r_local, lens) * ncols + nxt[col_of_key[offs]]
    tgt_unknown = np.searchsorted(key, tgt_key)
    coef = -np.repeat(ew, lens)
    A = coo_matrix((np.concatenate([np.ones(nu), coef]),
                    (np.concatenate([np.arange(nu), tgt_unknown]), np.concatenate([np.arange(nu), src_unknown]))),
                   shape=(nu, nu)).tocsc()
    gkey = G.row.astype(np.int64) * ncols + G.col
    in_system = ~is_trivial[G.row]
    b = np.zeros(nu)
    b[np.searchsorted(key, gkey[in_system])] = G.data[in_system]
    y = np.atleast_1d(spsolve(A, b))
    rows_out = np.concatenate([G.row[~in_system], row_of_key])
    cols_out = np.concatenate([G.col[~in_system], col_of_key])
    vals_out = np.concatenate([G.data[~in_system], y])
    keep = vals_out != 0
    out = coo_matrix((vals_out[keep], (rows_out[keep], cols_out[keep])), shape=(n, ncols)).tocsr()
    out.sum_duplicates()
    return out


def growth_rates_propagated(graph: InteractionGraph, condition: CollapseCondition | None = None) -> dict[int, float]:
    r"""Floating-point large-sample growth rates :math:`\lim_t R_k^{(t)}/t` of the
    collapsing learners, in time near-linear in the size of the answer.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric counts.
    condition : CollapseCondition, optional
        Its collapse condition (computed when omitted).

    Returns
    -------
    dict
        Learner index -> growth rate, for every collapsing learner.

    Examples
    --------
    A directed 3-cycle without real data feeding a learner with real data:

    >>> from graphcollapse.theory import InteractionGraph
    >>> G = InteractionGraph(["A", "B", "C", "X"], real_samples=[0, 0, 0, 10],
    ...     initial_samples=[20] * 4, edges=[("A", "B", 10), ("B", "C", 10), ("C", "A", 10),
    ...     ("A", "X", 10)], dimension=1, noise_variance=1)
    >>> {k: round(v, 12) for k, v in growth_rates_propagated(G).items()}
    {0: 0.1, 1: 0.1, 2: 0.1, 3: 0.025}
    """
    from .condition import collapse_condition
    from .recursion import large_sample_noise_variance_float
    from .structure import submatrix

    condition = collapse_condition(graph) if condition is None else condition
    condition.require_decided()
    if not condition.components:
        return {}
    group, period = _columns(condition)
    Wf = graph.mixing_matrix_float()
    Dv = large_sample_noise_variance_float(graph)
    weight = np.empty(int(group[-1]))
    for s, comp in enumerate(condition.components):
        members = np.array(comp.members, dtype=np.int64)
        pi = _stationary_distribution(submatrix(Wf, members, members))
        weight[group[s]:group[s + 1]] = period[s] * float(np.sum(Dv[members] * pi**2))
    rates = np.zeros(graph.num_learners)

    def accumulate(rows: np.ndarray, block: csr_matrix) -> None:
        rates[rows] = np.asarray(block.multiply(block) @ weight).ravel()

    _propagate(graph, condition, accumulate)
    collapsing = np.flatnonzero(np.asarray(condition.collapses, dtype=bool))
    return dict(zip(collapsing.tolist(), rates[collapsing].tolist()))
