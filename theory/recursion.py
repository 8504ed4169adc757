r"""The large-sample error recursion (docs/theory.md §§2 and 5).

Statement
---------
With :math:`C^{(t)}_{kl} = E\langle\theta_k^{(t)}-\theta^*, \theta_l^{(t)}-\theta^*\rangle_\Sigma`,

.. math::  C^{(t)} = W C^{(t-1)} W^\top + D, \qquad
           D = \operatorname{diag}\Big(\frac{d\,(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)}{N_k^2}\Big),
           \qquad C^{(0)} = \operatorname{diag}(\sigma^2 d / n^0_k),

up to :math:`o(1/n)`. The risk of learner :math:`k` is :math:`R_k^{(t)} = C^{(t)}_{kk}`.

* Bounded learners (not reachable from an offending source component) converge to the
  stationary risk :math:`C_{kk}`, where :math:`C = W C W^\top + D` on the bounded set.
* A collapsing learner grows linearly: :math:`R_k^{(t)}/t \to r_k` with

  .. math:: r_k = \sum_{S} p_S \Big(\sum_{j \in S} D_j \pi_j^2\Big) \sum_{u=0}^{p_S-1} f_k(S, u)^2,

  the sum over offending components :math:`S` (period :math:`p_S`, stationary
  distribution :math:`\pi`), where :math:`f_k(S, u)` is the limiting probability that
  the backward genealogy walk (from :math:`k` to :math:`j` with probability
  :math:`W_{kj}`) sits, at step :math:`s`, in the cyclic class :math:`u - s \bmod p_S`
  of :math:`S`. It solves :math:`f_k(u) = \sum_j W_{kj} f_j(u-1)` with
  :math:`f_j(u) = [u \equiv c_j]` for members :math:`j` of class :math:`c_j`.

Proofs: ``docs/theory.md``, sections "Large-sample recursion" and "Growth rates".
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .condition import CollapseCondition, SourceComponent, collapse_condition, stationary_distribution
from .errors import ExactRegimeError, GraphValueError
from .graph import InteractionGraph, _as_sympy
from .linalg import common_field
from .lyapunov import solve_lyapunov_exact, solve_lyapunov_float

__all__ = [
    "check_ols_sample_sizes",
    "large_sample_noise_variance",
    "large_sample_initial_covariance",
    "covariance_trajectory",
    "risk_trajectory",
    "stationary_covariance",
    "growth_rates",
    "phase_probabilities",
    "growth_rates_float",
    "stationary_risks_float",
    "large_sample_noise_variance_float",
]


def check_ols_sample_sizes(graph: InteractionGraph) -> None:
    r"""Raise :class:`~graphcollapse.theory.errors.ExactRegimeError` unless every learner
    can fit ordinary least squares with a finite risk: :math:`N_k > d + 1` rows per
    generation and :math:`n^0_k > d + 1` at generation 0.

    With :math:`G \sim \mathrm{Wishart}_d(N, I)`, :math:`E\,\mathrm{tr}\,G^{-1} = d/(N-d-1)`
    is finite only for :math:`N > d + 1` (for :math:`N < d` the fit is not even unique), so
    both OLS theories, exact and large-sample, refuse smaller counts with the same one-line
    message naming the learner and the field. Symbolic counts pass unless they can never
    satisfy the inequality.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> check_ols_sample_sizes(self_training(real_samples=2, samples=3, dimension=5))
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.ExactRegimeError: models[L0]: OLS needs N_k > d + 1 = 6 samples per generation (its risk is infinite otherwise), found N_k = 5; add samples
    """
    d = _as_sympy(graph.dimension)
    numeric_d = not graph.is_symbolic and isinstance(graph.dimension, int)
    for what, field_name, values in (("N_k", "samples per generation", graph.total_samples),
                                     ("n0_k", "initial_samples", graph.initial_samples)):
        for name, v in zip(graph.names, values):
            if numeric_d and isinstance(v, int):
                bad = v <= graph.dimension + 1
            else:
                gap = sp.simplify(_as_sympy(v) - d - 1)
                bad = bool(gap <= 0) if gap.is_number else (gap.is_positive is False)
            if bad:
                raise ExactRegimeError(
                    f"models[{name}]: OLS needs {what} > d + 1 = {d + 1} {field_name} "
                    f"(its risk is infinite otherwise), found {what} = {v}; add samples"
                )


def large_sample_noise_variance(graph: InteractionGraph) -> tuple[sp.Expr, ...]:
    r"""The large-sample one-generation variances
    :math:`D_k = d\,(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2) / N_k^2`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> large_sample_noise_variance(self_training(real_samples=10, samples=30, dimension=2))
    (1/20,)
    """
    d = _as_sympy(graph.dimension)
    snv = graph.synthetic_noise_variance
    num: list[sp.Expr] = [_as_sympy(m) * _as_sympy(graph.noise_variance) for m in graph.real_samples]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        num[t] = num[t] + _as_sympy(n) * _as_sympy(snv[s])
    return tuple(sp.cancel(d * num[k] / _as_sympy(graph.total_samples[k]) ** 2) for k in range(graph.num_learners))


def large_sample_initial_covariance(graph: InteractionGraph) -> sp.Matrix:
    r"""The large-sample :math:`C^{(0)} = \operatorname{diag}(\sigma^2 d / n^0_k)`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> large_sample_initial_covariance(self_training(initial_samples=20, dimension=5))
    Matrix([[1/4]])
    """
    d = _as_sympy(graph.dimension)
    s2 = _as_sympy(graph.noise_variance)
    return sp.diag(*[sp.cancel(s2 * d / _as_sympy(n0)) for n0 in graph.initial_samples])


def _iterate(graph: InteractionGraph, T: int, D: Sequence[Any] | None, C0: sp.Matrix | None):
    """Yield C(0), ..., C(T) as dense DomainMatrix over the smallest common field."""
    K = graph.num_learners
    W = graph.mixing_matrix
    Dv = large_sample_noise_variance(graph) if D is None else tuple(D)
    C0 = large_sample_initial_covariance(graph) if C0 is None else C0
    domain = common_field(list(W) + list(Dv) + list(C0))
    Wd = DomainMatrix.from_list_sympy(K, K, W.tolist()).convert_to(domain).to_sparse()
    WdT = Wd.transpose()
    Dd = DomainMatrix.diag([domain.from_sympy(sp.sympify(x)) for x in Dv], domain).to_dense()
    C = DomainMatrix.from_list_sympy(K, K, C0.tolist()).convert_to(domain).to_dense()
    yield C
    for _ in range(T):
        C = (Wd * C * WdT).to_dense() + Dd
        yield C


def covariance_trajectory(graph: InteractionGraph, generations: int, *, D: Sequence[Any] | None = None,
                          C0: sp.Matrix | None = None) -> list[sp.Matrix]:
    r"""Exact :math:`C^{(0)}, \dots, C^{(T)}` of the large-sample recursion (or of
    :math:`C \mapsto W C W^\top + \operatorname{diag}(D)` for a given ``D`` and ``C0``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> [C[0, 0] for C in covariance_trajectory(self_training(real_samples=0, samples=10,
    ...                                         initial_samples=10, dimension=1), 2)]
    [1/10, 1/5, 3/10]
    """
    return [C.to_Matrix() for C in _iterate(graph, _check_generations(generations), D, C0)]


def risk_trajectory(graph: InteractionGraph, generations: int) -> list[tuple[sp.Expr, ...]]:
    r"""Exact large-sample risks :math:`(R^{(t)}_k)_k` for :math:`t = 0, \dots, T`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> risk_trajectory(cycle(2, real_samples=[5, 0], samples=5, initial_samples=10, dimension=1), 1)
    [(1/10, 1/10), (1/8, 3/10)]
    """
    out = []
    for C in _iterate(graph, _check_generations(generations), None, None):
        rows = C.rep.to_ddm()
        out.append(tuple(C.domain.to_sympy(rows[k][k]) for k in range(graph.num_learners)))
    return out


def _check_generations(T: Any) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise GraphValueError(f"generations: expected a nonnegative integer, found {T!r}")
    return int(T)


def _bounded_indices(condition: CollapseCondition) -> list[int]:
    condition.require_decided()
    return [k for k, c in enumerate(condition.collapses) if not c]


def stationary_covariance(graph: InteractionGraph, condition: CollapseCondition | None = None,
                          D: Sequence[Any] | None = None) -> tuple[list[int], sp.Matrix]:
    r"""The exact stationary covariance of the bounded learners.

    Returns the bounded learner indices :math:`B` (ancestor-closed) and the solution of
    :math:`C = W_{BB} C W_{BB}^\top + D_B` (large-sample D unless ``D`` is given).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> stationary_covariance(self_training(real_samples=10, samples=30, dimension=2))
    ([0], Matrix([[4/35]]))
    """
    condition = collapse_condition(graph) if condition is None else condition
    B = _bounded_indices(condition)
    Dv = large_sample_noise_variance(graph) if D is None else tuple(D)
    W = graph.mixing_matrix.extract(B, B)
    C = solve_lyapunov_exact(W, sp.diag(*[Dv[k] for k in B]) if B else sp.zeros(0, 0),
                             components=graph.structure.components_within(B))
    if graph.is_symbolic:
        C = C.applyfunc(sp.factor)
    return B, C


def phase_probabilities(graph: InteractionGraph, component: SourceComponent) -> dict[int, list[sp.Expr]]:
    r"""The limiting phase probabilities :math:`f_k(S, u)`, :math:`u = 0..p-1`, for every
    learner :math:`k` the component :math:`S` affects (exact).

    For a member of class :math:`c`, :math:`f(u) = [u = c]`; elsewhere
    :math:`f_k(u) = \sum_j W_{kj} f_j(u - 1)` (a sparse exact linear system).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory import collapse_condition
    >>> G = cycle(2, real_samples=0)
    >>> phase_probabilities(G, collapse_condition(G).components[0])
    {0: [1, 0], 1: [0, 1]}
    """
    p = component.period
    cls = component.cyclic_class_of()
    members = set(component.members)
    others = [k for k in component.affects if k not in members]
    W = graph.mixing_matrix
    out: dict[int, list[sp.Expr]] = {j: [sp.Integer(int(u == cls[j])) for u in range(p)] for j in component.members}
    if not others:
        return out
    pos = {k: i for i, k in enumerate(others)}
    domain = common_field([W[k, j] for k in others for j in range(graph.num_learners) if W[k, j] != 0] or [0])
    one = domain.one
    n = len(others) * p
    rows: dict[int, dict[int, Any]] = {}
    rhs: dict[int, dict[int, Any]] = {}
    # unknown index: pos[k] * p + u
    for k in others:
        nz = [(j, domain.from_sympy(W[k, j])) for j in range(graph.num_learners) if W[k, j] != 0]
        for u in range(p):
            r = pos[k] * p + u
            row: dict[int, Any] = {r: one}
            b = domain.zero
            prev = (u - 1) % p
            for j, w in nz:
                if j in pos:
                    c = pos[j] * p + prev
                    row[c] = row.get(c, domain.zero) - w
                elif j in members and cls[j] == prev:
                    b = b + w
            rows[r] = {c: v for c, v in row.items() if v}
            if b:
                rhs[r] = {0: b}
    x = DomainMatrix(rows, (n, n), domain).lu_solve(DomainMatrix(rhs, (n, 1), domain)).to_dense().rep.to_ddm()
    for k in others:
        out[k] = [domain.to_sympy(x[pos[k] * p + u][0]) for u in range(p)]
    return out


def growth_rates(graph: InteractionGraph, condition: CollapseCondition | None = None,
                 D: Sequence[Any] | None = None) -> dict[int, sp.Expr]:
    r"""Exact growth rates :math:`\lim_t R_k^{(t)}/t` of the collapsing learners.

    Examples
    --------
    A directed 3-cycle without real data: every learner's risk grows by the average of
    the three one-generation variances per generation.

    >>> from graphcollapse.theory.builders import cycle
    >>> G = cycle(3, real_samples=0, samples=10, dimension=1)
    >>> growth_rates(G)
    {0: 1/10, 1: 1/10, 2: 1/10}
    """
    condition = collapse_condition(graph) if condition is None else condition
    condition.require_decided()
    Dv = large_sample_noise_variance(graph) if D is None else tuple(D)
    rates: dict[int, sp.Expr] = {}
    for comp in condition.components:
        pi = stationary_distribution(graph, comp.members)
        Q = sum((Dv[j] * pi_j**2 for j, pi_j in zip(comp.members, pi)), sp.Integer(0))
        f = phase_probabilities(graph, comp)
        for k, fk in f.items():
            rates[k] = rates.get(k, sp.Integer(0)) + comp.period * Q * sum((x**2 for x in fk), sp.Integer(0))
    simplify = sp.factor if graph.is_symbolic else (lambda e: e)
    return {k: simplify(rates[k]) for k in sorted(rates)}


# --------------------------------------------------------------------------- floats at scale
#: Up to this many bounded learners the float stationary risks come from the dense
#: doubling iteration (BLAS); beyond, from the sparse pair closure (docs/exact.md §13).
DENSE_LYAPUNOV_LEARNERS = 3000


def stationary_risks_float(graph: InteractionGraph, condition: CollapseCondition | None = None) -> tuple[list[int], np.ndarray, float]:
    r"""Floating-point stationary risks of the bounded learners, for graphs beyond exact
    reach, with the relative residual of the solve (the stated accuracy): the dense
    Lyapunov doubling iteration up to :data:`DENSE_LYAPUNOV_LEARNERS` bounded learners,
    beyond that the sparse second-moment system on the pairs the diagonal needs
    (:mod:`graphcollapse.theory.pairs`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> B, risks, residual = stationary_risks_float(self_training(real_samples=10, samples=30, dimension=2))
    >>> round(float(risks[0]), 12), residual < 1e-12
    (0.114285714286, True)
    """
    from .pairs import PairSpace, pair_closure, solve_pairs

    condition = collapse_condition(graph) if condition is None else condition
    B = _bounded_indices(condition)
    if len(B) <= DENSE_LYAPUNOV_LEARNERS:  # dense BLAS: fast here whatever the in-degrees
        W = graph.mixing_matrix_float()[B][:, B]
        C, residual = solve_lyapunov_float(W, np.diag(large_sample_noise_variance_float(graph)[B]))
        return B, np.diag(C).copy(), residual
    space = PairSpace.of(graph)
    keys = pair_closure(space, B)  # the bounded learners are closed under ancestors
    k, l = space.split(keys)
    Dv = large_sample_noise_variance_float(graph)
    x, residual = solve_pairs(space, keys, None, np.where(k == l, Dv[k], 0.0))
    diag = np.flatnonzero(k == l)
    risks = np.empty(len(B))
    risks[np.searchsorted(np.asarray(B), k[diag])] = x[diag]
    return B, risks, residual


def large_sample_noise_variance_float(graph: InteractionGraph) -> np.ndarray:
    r"""The large-sample :math:`D_k` as a float array, vectorised (for large graphs).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> large_sample_noise_variance_float(self_training(real_samples=10, samples=30, dimension=2))
    array([0.05])
    """
    graph._require_numeric("large_sample_noise_variance_float")
    s2 = float(graph.noise_variance)
    snv = np.array([s2 if v is None else float(v) for v in graph._synthetic_noise_variance])
    m = np.array(graph.real_samples, dtype=float)
    N = np.array(graph.total_samples, dtype=float)
    src = np.asarray(graph.edge_sources, dtype=np.int64)
    tgt = np.asarray(graph.edge_targets, dtype=np.int64)
    n = np.array(graph.edge_samples, dtype=float)
    num = m * s2 + np.bincount(tgt, weights=n * snv[src], minlength=graph.num_learners)
    return float(graph.dimension) * num / N**2


def _stationary_distribution_float(W_SS: Any) -> np.ndarray:
    """Float left Perron vector of a small stochastic irreducible block."""
    A = W_SS.toarray().T - np.eye(W_SS.shape[0])
    A[0, :] = 1.0
    b = np.zeros(W_SS.shape[0])
    b[0] = 1.0
    return np.linalg.solve(A, b)


def growth_rates_float(graph: InteractionGraph, condition: CollapseCondition | None = None) -> dict[int, float]:
    r"""Floating-point growth rates for large graphs (sparse LU per offending component).

    The work per component is linear in the size of the part of the graph it reaches.
    Accuracy: the stationary distribution comes from a dense solve on the component and
    each phase system from a sparse LU; both have relative error about machine
    precision times a condition number bounded by :math:`1/(1-\rho(W_{TT}))`
    (property-tested against the exact rates to 1e-10 on small graphs).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> {k: round(v, 12) for k, v in growth_rates_float(cycle(3, real_samples=0, dimension=1)).items()}
    {0: 0.1, 1: 0.1, 2: 0.1}
    """
    from scipy.sparse import csr_matrix, identity, kron
    from scipy.sparse.linalg import spsolve

    from .condition import submatrix

    condition = collapse_condition(graph) if condition is None else condition
    condition.require_decided()
    Wf = graph.mixing_matrix_float()
    Dv = large_sample_noise_variance_float(graph)
    rates = np.zeros(graph.num_learners)
    member_mask = np.zeros(graph.num_learners, dtype=bool)
    for comp in condition.components:
        members = np.array(comp.members)
        pi = _stationary_distribution_float(submatrix(Wf, members, members))
        Q = float(np.sum(Dv[members] * pi**2))
        p = comp.period
        cls = comp.cyclic_class_of()
        affects = np.array(comp.affects)
        member_mask[members] = True
        others = affects[~member_mask[affects]]
        member_mask[members] = False
        rates[members] += p * Q  # members: f is an indicator, sum of squares 1
        if len(others) == 0:
            continue
        W_TT = submatrix(Wf, others, others)
        W_TS = submatrix(Wf, others, members)
        # boundary f_S[:, u] = [u == class]; one step later it sits in column class + 1
        F_S = np.zeros((len(members), p))
        for i, j in enumerate(members):
            F_S[i, (cls[int(j)] + 1) % p] = 1.0
        shift = csr_matrix((np.ones(p), (np.arange(p), (np.arange(p) - 1) % p)), shape=(p, p))
        # unknown vec(F_T) column-major: F_T[:, u] = W_TT F_T[:, u-1] + (W_TS F_S)[:, u]
        A = identity(len(others) * p, format="csc") - kron(shift, W_TT, format="csc")
        b = (W_TS @ F_S).reshape(-1, order="F")
        x = np.asarray(spsolve(A, b)).reshape(len(others), p, order="F")
        rates[others] += p * Q * np.sum(x**2, axis=1)
    collapsing = np.flatnonzero(np.asarray(condition.collapses, dtype=bool))
    return dict(zip(collapsing.tolist(), rates[collapsing].tolist()))
