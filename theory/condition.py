r"""The topological collapse condition (docs/theory.md §3).

Statement
---------
Write :math:`j \to k` when learner :math:`k` trains on learner :math:`j`'s outputs. A
*strongly connected component* (SCC) :math:`S` of the interaction graph is a *source
component* when no edge enters it from outside, and it is *offending* when moreover no
learner of :math:`S` gets real data. Then, for the large-sample recursion and the
M-estimator asymptotics,

* learner :math:`k` collapses (:math:`\sup_t R_k^{(t)} = \infty`) iff :math:`k` is
  reachable from some offending source component;
* equivalently, :math:`\rho(W_{A_k A_k}) = 1` where :math:`A_k` is :math:`k` with its
  ancestors; nothing collapses iff :math:`\rho(W) < 1`.

Inside an offending component :math:`W_{SS}` is stochastic and irreducible; its
stationary distribution :math:`\pi` (:math:`\pi^\top W_{SS} = \pi^\top`,
:math:`\sum \pi = 1`) and its *period* :math:`p` (gcd of its cycle lengths) govern the
growth rate. The learners of :math:`S` split into :math:`p` *cyclic classes*
:math:`S^0, \dots, S^{p-1}`; every edge inside :math:`S` goes from :math:`S^c` to
:math:`S^{c+1 \bmod p}`. Proofs: ``docs/theory.md``, section "Collapse condition".

Component order: offending components are listed by the position (in the graph's
learner order) of their first member; members and cyclic classes in learner order, the
class of the first member being class 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from .errors import UndecidableError
from .graph import InteractionGraph, _is_symbolic
from .linalg import domain_matrix, exact_det, to_sympy
from .structure import submatrix  # noqa: F401  (re-exported for the readers of W blocks)

__all__ = [
    "SourceComponent",
    "CollapseCondition",
    "collapse_condition",
    "verdicts_from_mixing_matrix",
    "strongly_connected_labels",
]


@dataclass(frozen=True)
class SourceComponent:
    """A source strongly connected component that may be offending.

    Attributes
    ----------
    members : tuple of int
        Learner indices, in graph order.
    period : int
        The gcd of cycle lengths inside the component (0 for a single learner without
        a self-loop, which has no cycle).
    cyclic_classes : tuple of tuple of int
        The ``period`` classes; data flow from class c to class c + 1 (mod period).
    offending : bool or sympy Boolean
        Whether no member gets real data (a Boolean in symbolic sample counts).
    affects : tuple of int
        Every learner reachable from the component, members included, in graph order.
    """

    members: tuple[int, ...]
    period: int
    cyclic_classes: tuple[tuple[int, ...], ...]
    offending: Any
    affects: tuple[int, ...]
    graph: InteractionGraph = field(repr=False, compare=False)

    @property
    def member_names(self) -> list[str]:
        """Member learner names."""
        return [self.graph.names[i] for i in self.members]

    def cyclic_class_of(self) -> dict[int, int]:
        """Map member index -> its cyclic class."""
        return {i: c for c, cls in enumerate(self.cyclic_classes) for i in cls}

    def stationary_distribution(self) -> dict[str, sp.Expr]:
        r"""The exact stationary distribution :math:`\pi` of :math:`W_{SS}`, assuming the
        component is offending (then :math:`W_{SS}` is stochastic and irreducible).

        Examples
        --------
        >>> from graphcollapse.theory.builders import complete
        >>> from graphcollapse.theory import collapse_condition
        >>> cond = collapse_condition(complete(2, real_samples=0))
        >>> cond.components[0].stationary_distribution()
        {'L0': 1/2, 'L1': 1/2}
        """
        pi = stationary_distribution(self.graph, self.members)
        return {self.graph.names[i]: p for i, p in zip(self.members, pi)}


@dataclass(frozen=True)
class CollapseCondition:
    """Per-learner verdicts of the topological condition.

    Attributes
    ----------
    graph : InteractionGraph
    collapses : tuple
        Per learner ``True``/``False`` (or a sympy Boolean with symbolic real-data counts).
    components : tuple of SourceComponent
        The offending source components (those whose ``offending`` is not ``False``),
        in the documented order.
    feeding_matrix : scipy.sparse.csr_matrix
        Learners x components, 1 where the component feeds the learner (the sparse form
        of :attr:`feeding`, for large graphs).
    labels : numpy.ndarray
        SCC label of every learner (components in topological order).
    """

    graph: InteractionGraph = field(repr=False)
    collapses: tuple[Any, ...]
    components: tuple[SourceComponent, ...]
    feeding_matrix: Any = field(repr=False, compare=False)
    labels: np.ndarray = field(repr=False)

    @cached_property
    def feeding(self) -> tuple[tuple[int, ...], ...]:
        """Per learner, the positions in ``components`` of the components it descends from."""
        F = self.feeding_matrix
        return tuple(tuple(F.indices[F.indptr[k]:F.indptr[k + 1]].tolist()) for k in range(F.shape[0]))

    @property
    def any_collapse(self) -> Any:
        """Whether some learner collapses (a sympy Boolean with symbolic counts)."""
        return sp.Or(*self.collapses) if self.graph.is_symbolic else any(self.collapses)

    def verdict(self, name: str) -> Any:
        """The verdict of the named learner."""
        return self.collapses[self.graph.index[name]]

    def require_decided(self) -> None:
        """Raise :class:`UndecidableError` unless every verdict is ``True`` or ``False``."""
        for k, v in enumerate(self.collapses):
            if not isinstance(v, bool):
                raise UndecidableError(
                    f"verdict of {self.graph.names[k]}: depends on symbols ({v}); substitute them first"
                )


def strongly_connected_labels(graph: InteractionGraph) -> tuple[int, np.ndarray]:
    """Number of strongly connected components and the component of every learner,
    numbered in topological order (read from :attr:`InteractionGraph.structure`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> n, labels = strongly_connected_labels(chain(3))
    >>> n, labels.tolist()
    (3, [0, 1, 2])
    """
    structure = graph.structure
    return structure.num_components, structure.labels


def stationary_distribution(graph: InteractionGraph, members: tuple[int, ...]) -> list[sp.Expr]:
    r"""Exact solution of :math:`\pi^\top W_{SS} = \pi^\top`, :math:`\sum \pi = 1`."""
    W = graph.mixing_matrix
    idx = list(members)
    Wss = W.extract(idx, idx)
    n = len(idx)
    # Equations: (W_SS^T - I) pi = 0 with one equation replaced by sum(pi) = 1.
    A = (Wss.T - sp.eye(n))
    A[0, :] = sp.ones(1, n)
    b = sp.zeros(n, 1)
    b[0] = 1
    dA = domain_matrix(A.row_join(b))
    sol = dA[:, :n].lu_solve(dA[:, n:])
    return [sp.factor(e) if graph.is_symbolic else e for e in to_sympy(sol)]


def collapse_condition(graph: InteractionGraph) -> CollapseCondition:
    r"""Decide, from the graph structure, which learners collapse.

    Parameters
    ----------
    graph : InteractionGraph

    Returns
    -------
    CollapseCondition
        Verdicts, offending source components and which components feed whom.

    Examples
    --------
    Two learners feeding each other, one with real data, plus a learner C trained only
    on its own outputs that also feeds B:

    >>> from graphcollapse.theory import InteractionGraph, collapse_condition
    >>> G = InteractionGraph(["A", "B", "C"], real_samples=[5, 0, 0],
    ...                      initial_samples=[20, 20, 20],
    ...                      edges=[("A", "B", 5), ("B", "A", 5), ("C", "C", 5), ("C", "B", 5)],
    ...                      dimension=2, noise_variance=1)
    >>> cond = collapse_condition(G)
    >>> cond.collapses
    (True, True, True)
    >>> [c.member_names for c in cond.components]
    [['C']]

    With a symbolic real-data count the verdict is a Boolean:

    >>> import sympy as sp
    >>> m = sp.Symbol("m", nonnegative=True)
    >>> collapse_condition(G.replace(real_samples=[5, 0, m])).collapses
    (Eq(m, 0), Eq(m, 0), Eq(m, 0))
    """
    cached = graph.derived.get("collapse_condition")
    if cached is None:
        cached = graph.derived["collapse_condition"] = _collapse_condition(graph)
    return cached


def _offending_candidates(graph: InteractionGraph) -> tuple[bool, np.ndarray]:
    """Source components that may be offending: without real data (numeric counts), or
    every source component (symbolic counts, decided below as a Boolean)."""
    S = graph.structure
    real = np.asarray(graph.real_samples)
    if real.dtype == object:  # some count is a sympy number or symbol
        if any(_is_symbolic(m) for m in graph.real_samples):
            return False, np.flatnonzero(S.is_source)
        real = np.array([m > 0 for m in graph.real_samples], dtype=bool)
    has_real = real > 0
    comp_has_real = np.zeros(S.num_components, dtype=bool)
    np.logical_or.at(comp_has_real, S.labels, has_real)
    return True, np.flatnonzero(S.is_source & ~comp_has_real)


def _collapse_condition(graph: InteractionGraph) -> CollapseCondition:
    K = graph.num_learners
    S = graph.structure
    numeric_real, candidates = _offending_candidates(graph)
    comps: list[tuple[int, np.ndarray, Any]] = []
    for c in candidates:
        members = S.members(int(c))
        if numeric_real:
            cond: Any = True
        else:
            cond = sp.And(*[sp.Not(graph.has_real_data(int(i))) for i in members])
            cond = sp.simplify_logic(cond) if cond not in (sp.true, sp.false) else cond
            if cond == sp.false:
                continue
            if cond == sp.true:
                cond = True
        comps.append((int(c), members, cond))
    comps.sort(key=lambda x: int(x[1][0]))  # documented order: by first member

    # which offending components feed every learner: one pass over the condensation
    reach = S.reached_by(np.array([c for c, _, _ in comps], dtype=np.int64))[S.labels]
    by_component = reach.tocsc()
    components: list[SourceComponent] = []
    for pos, (c, members, cond) in enumerate(comps):
        affects = by_component.indices[by_component.indptr[pos]:by_component.indptr[pos + 1]]
        components.append(SourceComponent(
            members=tuple(members.tolist()),
            period=S.period(c),
            cyclic_classes=S.cyclic_classes(c),
            offending=cond,
            affects=tuple(np.sort(affects).tolist()),
            graph=graph,
        ))
    reach.sort_indices()
    fed = np.diff(reach.indptr) > 0

    collapses: list[Any] = []
    if numeric_real:
        collapses = fed.tolist()
    else:
        for k in range(K):
            feeds = reach.indices[reach.indptr[k]:reach.indptr[k + 1]].tolist()
            v = sp.Or(*[components[c].offending for c in feeds]) if feeds else sp.false
            v = sp.simplify_logic(v) if isinstance(v, sp.Basic) and v not in (sp.true, sp.false) else v
            collapses.append(True if v in (True, sp.true) else False if v in (False, sp.false) else v)
    return CollapseCondition(
        graph=graph,
        collapses=tuple(collapses),
        components=tuple(components),
        feeding_matrix=reach,
        labels=S.labels,
    )


def verdicts_from_mixing_matrix(W: sp.Matrix) -> list[Any]:
    r"""Collapse verdicts computed from the mixing matrix alone (claim 2).

    Learner :math:`k` collapses iff :math:`\rho(W_{AA}) = 1` with :math:`A` = :math:`k`
    and its ancestors (read off the nonzero pattern of :math:`W`). For a nonnegative
    substochastic matrix, :math:`\rho` is an eigenvalue at most 1, so
    :math:`\rho(W_{AA}) = 1 \iff \det(I - W_{AA}) = 0`, decided in exact arithmetic.
    No component decomposition is used: this is the independent check of
    :func:`collapse_condition`.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.condition import verdicts_from_mixing_matrix
    >>> W = sp.Matrix([[1, 0], [sp.Rational(1, 2), 0]])
    >>> verdicts_from_mixing_matrix(W)
    [True, True]
    """
    K = W.shape[0]
    pattern = np.array([[W[k, j] != 0 for j in range(K)] for k in range(K)], dtype=bool)
    # reach[k, j]: j is k or an ancestor of k (transitive closure by repeated squaring)
    reach = pattern | np.eye(K, dtype=bool)
    while True:
        nxt = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        if (nxt == reach).all():
            break
        reach = nxt
    out: list[Any] = []
    for k in range(K):
        A = [int(j) for j in np.flatnonzero(reach[k])]
        det = exact_det(sp.eye(len(A)) - W.extract(A, A))
        if det.free_symbols:
            out.append(sp.Eq(sp.factor(det), 0))
        else:
            out.append(bool(det == 0))
    return out

