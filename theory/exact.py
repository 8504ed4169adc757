r"""Exact finite-sample theory of Gaussian-design OLS on an interaction graph.

Statement
---------
Let :math:`e_k = \theta_k - \theta^*` (whitened, :math:`\Sigma = I`) and
:math:`C_{kl} = E\langle e_k, e_l\rangle`. Learner :math:`k` pools :math:`N_k` rows:
:math:`m_k` real ones and :math:`n_{jk}` synthetic ones per in-edge :math:`j \to k`.
With :math:`W_{kj} = n_{jk}/N_k` and the *design correction*

.. math:: \gamma(N, d) = \frac{2}{N+2} + \frac{N(N+1)(d-1)}{(N-d-1)(N-1)(N+2)}
          = \frac{(d+1)N^2 - (d+5)N + 2(d+1)}{(N-d-1)(N-1)(N+2)},

the exact second-moment recursion (valid when every :math:`N_k > d+1`,
:math:`n^0_k > d+1`) is :math:`C' = \mathcal L(C) + \operatorname{diag}(D)` with

.. math::
   \mathcal L(C)_{kl} = (W C W^\top)_{kl} \ (k \ne l), \qquad
   \mathcal L(C)_{kk} = (W C W^\top)_{kk}
       + \gamma_k \Big(\sum_j W_{kj} C_{jj} - (W C W^\top)_{kk}\Big),

:math:`D_k = d\,(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2) / (N_k (N_k-d-1))` and
:math:`C^{(0)} = \operatorname{diag}(\sigma^2 d/(n^0_k - d - 1))`.

Verdict. :math:`\mathcal L` maps the positive semidefinite cone into itself, so its
spectral radius is an eigenvalue (Krein-Rutman). Ordered by pairs of strongly connected
components (SCCs) it is block-triangular; a pair of different SCCs sees
:math:`W_{AA} \otimes W_{BB}` and a single SCC the map :math:`\mathcal L_A` above restricted
to :math:`A`, with :math:`\rho(\mathcal L_A) \ge \rho(W_{AA})^2`. Learner :math:`k`
collapses iff :math:`\max_{A \subseteq \operatorname{anc}(k)} \rho(\mathcal L_A) \ge 1`,
decided exactly by real-root counting of the characteristic polynomials over
:math:`\mathbb Q`. When every :math:`N_k \ge 2d+1` (equivalently :math:`\gamma_k < 1`) the
verdict is the topological one. With symbols, the verdict is a condition on them:
:math:`\rho(\mathcal L_A) < 1` iff :math:`I - \mathcal L_A` is invertible and the solution
of :math:`X = \mathcal L_A(X) + D_A` is positive definite (:func:`exact_collapse_conditions`).

Bounds (bounded learner :math:`k`, ancestor set :math:`A`): the Lyapunov solution of
:math:`C = W C W^\top + \operatorname{diag}(D)` is a lower bound of the stationary risk;
:math:`((I - W_{AA})^{-1} D_A)_k` is an upper bound when every :math:`N_j \ge 2d+1` on
:math:`A`.

Proofs and counterexamples: ``docs/exact.md``.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .errors import ExactRegimeError, GraphValueError, UndecidableError
from .graph import InteractionGraph, _is_symbolic, _as_sympy
from .linalg import common_field
from .lyapunov import solve_lyapunov_exact
from .recursion import check_ols_sample_sizes

__all__ = [
    "design_correction",
    "exact_noise_variance",
    "exact_initial_covariance",
    "check_exact_regime",
    "second_moment_map",
    "second_moment_map_matrix",
    "exact_step",
    "exact_covariance_trajectory",
    "exact_risk_trajectory",
    "component_map_radius",
    "component_contracts",
    "exact_stationary_covariance",
    "exact_risk_bounds",
    "expanding_fix",
    "component_fix",
    "exact_minimal_fix",
    "ComponentFix",
    "ExactFix",
    "exact_analysis",
    "ExactAnalysis",
    "ExactLearner",
    "ExpandingComponent",
    "float_value",
    "exact_string",
    "berlekamp_massey",
    "exact_contraction_condition",
    "exact_collapse_conditions",
    "exact_growth_rates",
]

_LAMBDA = sp.Symbol("lambda")
_Z = sp.Symbol("z")


# --------------------------------------------------------------------------- scalars
def design_correction_parts(N: Any, d: Any) -> tuple[Any, Any]:
    r"""Numerator and denominator of :math:`\gamma(N, d)` (:func:`design_correction`), in the
    arithmetic of the arguments (Python or numpy integers and floats, Fractions, sympy):
    the one place the formula is written.

    Examples
    --------
    >>> design_correction_parts(34, 23)  # 61/27
    (26840, 11880)
    """
    return (d + 1) * N * N - (d + 5) * N + 2 * (d + 1), (N - d - 1) * (N - 1) * (N + 2)


def design_correction(N: Any, d: Any) -> sp.Expr:
    r"""The design correction :math:`\gamma(N, d)` of a learner pooling :math:`N` rows in
    dimension :math:`d`.

    With :math:`G = X^\top X` a Wishart(:math:`N`, :math:`I_d`) Gram matrix split into row
    blocks :math:`G = \sum_b G_b` of sizes :math:`n_b` (:math:`w_b = n_b/N`),
    :math:`E[G_a G^{-2} G_b] = c_{ab} I` with :math:`c_{ab} = w_a w_b (1-\gamma)` for
    :math:`a \ne b` and :math:`c_{aa} = w_a^2 + w_a(1-w_a)\gamma`.

    Parameters
    ----------
    N, d : int or sympy expression
        Rows and dimension; numeric values need :math:`N > d + 1`.

    Returns
    -------
    sympy.Expr
        :math:`((d+1)N^2 - (d+5)N + 2(d+1)) / ((N-d-1)(N-1)(N+2))`.

    Raises
    ------
    ExactRegimeError
        If numeric and :math:`N \le d + 1`.

    Examples
    --------
    >>> design_correction(34, 23)
    61/27
    >>> design_correction(10, 1)
    1/6
    >>> import sympy as sp
    >>> N, d = sp.symbols("N d", positive=True)
    >>> sp.limit(design_correction(N, d), N, sp.oo)
    0
    """
    Ns, ds = _as_sympy(N), _as_sympy(d)
    if Ns.is_number and ds.is_number and not Ns > ds + 1:
        raise ExactRegimeError(f"N: OLS needs N > d + 1 = {ds + 1} (its risk is infinite otherwise), found N = {Ns}")
    num, den = design_correction_parts(Ns, ds)
    return sp.cancel(num / den)


def check_exact_regime(graph: InteractionGraph) -> None:
    r"""Raise :class:`ExactRegimeError` unless the exact finite-sample theory is defined:
    every numeric sample count is an integer and every :math:`N_k > d+1`,
    :math:`n^0_k > d+1` (:func:`graphcollapse.theory.recursion.check_ols_sample_sizes`;
    symbolic counts pass unless they can never satisfy it).

    A fractional count has no finite-sample meaning (the formal large-sample formulas accept
    it); the message names the field.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> check_exact_regime(self_training(real_samples=2, samples=3, dimension=5))
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.ExactRegimeError: models[L0]: OLS needs N_k > d + 1 = 6 samples per generation (its risk is infinite otherwise), found N_k = 5; add samples
    >>> check_exact_regime(self_training(real_samples=sp.Rational(5, 2), samples=30, dimension=2))
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.ExactRegimeError: models[L0].real_samples: the exact finite-sample theory needs integer sample counts, found 5/2; the large-sample theory accepts fractional counts
    """
    names = graph.names
    fields = [(f"models[{n}].real_samples", v) for n, v in zip(names, graph.real_samples)]
    fields += [(f"edges[{names[s]}->{names[t]}].samples", v)
               for s, t, v in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples)]
    fields += [(f"models[{n}].initial_samples", v) for n, v in zip(names, graph.initial_samples)]
    for field_name, v in fields:
        if not isinstance(v, int) and _as_sympy(v).is_number and not _as_sympy(v).is_integer:
            raise ExactRegimeError(
                f"{field_name}: the exact finite-sample theory needs integer sample counts, found {v}; "
                "the large-sample theory accepts fractional counts"
            )
    check_ols_sample_sizes(graph)


def exact_noise_variance(graph: InteractionGraph) -> tuple[sp.Expr, ...]:
    r"""The exact one-generation variances
    :math:`D_k = d\,(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2) / (N_k (N_k - d - 1))`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_noise_variance(self_training(real_samples=10, samples=30, dimension=2))
    (2/37,)
    """
    check_exact_regime(graph)
    d = _as_sympy(graph.dimension)
    snv = graph.synthetic_noise_variance
    num: list[sp.Expr] = [_as_sympy(m) * _as_sympy(graph.noise_variance) for m in graph.real_samples]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        num[t] = num[t] + _as_sympy(n) * _as_sympy(snv[s])
    out = []
    for k in range(graph.num_learners):
        N = _as_sympy(graph.total_samples[k])
        out.append(sp.cancel(d * num[k] / (N * (N - d - 1))))
    return tuple(out)


def exact_initial_covariance(graph: InteractionGraph) -> sp.Matrix:
    r"""The exact :math:`C^{(0)} = \operatorname{diag}(\sigma^2 d / (n^0_k - d - 1))`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_initial_covariance(self_training(initial_samples=20, dimension=5))
    Matrix([[5/14]])
    """
    check_exact_regime(graph)
    d = _as_sympy(graph.dimension)
    s2 = _as_sympy(graph.noise_variance)
    return sp.diag(*[sp.cancel(s2 * d / (_as_sympy(n0) - d - 1)) for n0 in graph.initial_samples])


def _gammas(graph: InteractionGraph) -> tuple[sp.Expr, ...]:
    return tuple(design_correction(N, graph.dimension) for N in graph.total_samples)


# --------------------------------------------------------------------------- the map
def second_moment_map(graph: InteractionGraph, C: sp.Matrix) -> sp.Matrix:
    r"""The exact second-moment map :math:`\mathcal L(C)` (one generation without noise).

    Examples
    --------
    A lone self-training learner with own fraction :math:`w = 27/34` in :math:`d = 23`:
    the map multiplies the risk by exactly 1.

    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    >>> second_moment_map(G, sp.Matrix([[1]]))
    Matrix([[1]])
    """
    check_exact_regime(graph)
    W = graph.mixing_matrix
    M = W * C * W.T
    g = _gammas(graph)
    for k in range(graph.num_learners):
        s = sum((W[k, j] * C[j, j] for j in range(graph.num_learners) if W[k, j] != 0), sp.Integer(0))
        M[k, k] = M[k, k] + g[k] * (s - M[k, k])
    return M.applyfunc(sp.cancel) if graph.is_symbolic else M


def exact_step(graph: InteractionGraph, C: sp.Matrix) -> sp.Matrix:
    r"""One generation of the exact recursion :math:`C \mapsto \mathcal L(C) + \operatorname{diag}(D)`.

    Examples
    --------
    One self-training learner without real data: the risk grows by
    :math:`\sigma^2 d/(N-d-1)` per generation.

    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=12, initial_samples=12, dimension=3)
    >>> exact_step(G, sp.Matrix([[sp.Rational(3, 8)]]))
    Matrix([[3/4]])
    """
    M = second_moment_map(graph, C)
    D = exact_noise_variance(graph)
    for k in range(graph.num_learners):
        M[k, k] = M[k, k] + D[k]
    return M.applyfunc(sp.cancel) if graph.is_symbolic else M


def _pairs(idx: Sequence[int]) -> list[tuple[int, int]]:
    return [(idx[a], idx[b]) for a in range(len(idx)) for b in range(a, len(idx))]


def _rational_parts(graph: InteractionGraph, learners: Sequence[int] | None = None
                    ) -> tuple[dict[int, list[tuple[int, Any]]], dict[int, Any]] | None:
    """Rows of W (``{k: [(j, W_kj)]}``) and the gammas (``{k: gamma_k}``) as QQ elements, of
    ``learners`` (default all), when every count and the dimension are Python integers in
    the exact regime, else None (the general path)."""
    d = graph.dimension
    Ns = graph.total_samples
    idx = range(graph.num_learners) if learners is None else learners
    if (graph.is_symbolic or not isinstance(d, int) or not all(isinstance(Ns[k], int) and Ns[k] > d + 1 for k in idx)
            or not all(isinstance(n, int) for n in graph.edge_samples)):
        return None
    QQ = sp.QQ
    rows: dict[int, list[tuple[int, Any]]] = {k: [] for k in idx}
    tgt = np.asarray(graph.edge_targets, dtype=np.int64)
    mask = np.isin(tgt, np.fromiter(idx, dtype=np.int64)) if learners is not None else np.ones(len(tgt), bool)
    src, smp = graph.edge_sources, graph.edge_samples
    for e in np.flatnonzero(mask).tolist():
        t = int(tgt[e])
        rows[t].append((src[e], QQ(smp[e], Ns[t])))
    g = {k: QQ(*design_correction_parts(Ns[k], d)) for k in idx}
    return rows, g


def second_moment_map_matrix(graph: InteractionGraph, learners: Sequence[int] | None = None,
                             *, W: Any = None, gammas: Sequence[Any] | None = None,
                             domain: Any = None) -> tuple[list[tuple[int, int]], DomainMatrix]:
    r"""The matrix of :math:`\mathcal L` restricted to ``learners`` in the basis
    :math:`(C_{ij})_{i \le j}` of symmetric matrices (entries outside are set to zero).

    Returns the list of index pairs (the basis order) and a DomainMatrix.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    >>> pairs, M = second_moment_map_matrix(G)
    >>> pairs, M.to_Matrix()
    ([(0, 0)], Matrix([[1]]))
    """
    idx = list(range(graph.num_learners)) if learners is None else sorted(learners)
    pairs = _pairs(idx)
    col = {p: c for c, p in enumerate(pairs)}
    fast = _rational_parts(graph, idx) if W is None and gammas is None and domain is None else None
    if fast is not None:  # integer counts: W and gamma straight in QQ
        domain = sp.QQ
        inside = set(idx)
        Wd = {k: [(j, w) for j, w in fast[0][k] if j in inside] for k in idx}
        gd = {k: fast[1][k] for k in idx}
    else:
        W = graph.mixing_matrix if W is None else W
        g = _gammas(graph) if gammas is None else tuple(gammas)
        if domain is None:
            domain = common_field([W[k, j] for k in idx for j in idx] + [g[k] for k in idx] + [0])
        conv = domain.from_sympy
        Wd = {k: [(j, conv(sp.sympify(W[k, j]))) for j in idx if W[k, j] != 0] for k in idx}
        gd = {k: conv(sp.sympify(g[k])) for k in idx}
    one = domain.one
    rows: dict[int, dict[int, Any]] = {}
    for r, (k, l) in enumerate(pairs):
        row: dict[int, Any] = {}
        factor = one - gd[k] if k == l else one
        for j, wkj in Wd[k]:
            for i, wli in Wd[l]:
                c = col[(j, i) if j <= i else (i, j)]
                row[c] = row.get(c, domain.zero) + factor * wkj * wli
        if k == l:
            for j, wkj in Wd[k]:
                c = col[(j, j)]
                row[c] = row.get(c, domain.zero) + gd[k] * wkj
        rows[r] = {c: v for c, v in row.items() if v}
    n = len(pairs)
    return pairs, DomainMatrix(rows, (n, n), domain)


# --------------------------------------------------------------------------- trajectories
def _domain_setup(graph: InteractionGraph):
    check_exact_regime(graph)
    K = graph.num_learners
    W = graph.mixing_matrix
    D = exact_noise_variance(graph)
    C0 = exact_initial_covariance(graph)
    g = _gammas(graph)
    domain = common_field(list(W) + list(D) + list(C0) + list(g))
    conv = lambda x: domain.from_sympy(sp.sympify(x))  # noqa: E731
    Wd = DomainMatrix.from_list_sympy(K, K, W.tolist()).convert_to(domain).to_sparse()
    rows = [[(j, conv(W[k, j])) for j in range(K) if W[k, j] != 0] for k in range(K)]
    C = DomainMatrix.from_list_sympy(K, K, C0.tolist()).convert_to(domain).to_dense()
    return domain, Wd, Wd.transpose(), rows, [conv(x) for x in g], [conv(x) for x in D], C


def _iterate(graph: InteractionGraph, T: int):
    """Yield C(0), ..., C(T) as dense DomainMatrix plus the domain."""
    domain, Wd, WdT, rows, g, D, C = _domain_setup(graph)
    K = graph.num_learners
    yield domain, C
    for _ in range(T):
        diag = C.rep.to_ddm()
        cdiag = [diag[j][j] for j in range(K)]
        M = (Wd * C * WdT).to_dense()
        ddm = M.rep.to_ddm()
        for k in range(K):
            s = domain.zero
            for j, w in rows[k]:
                s += w * cdiag[j]
            ddm[k][k] = ddm[k][k] + g[k] * (s - ddm[k][k]) + D[k]
        C = DomainMatrix([list(r) for r in ddm], (K, K), domain)
        yield domain, C


def _integer_risks(graph: InteractionGraph, T: int):
    """Fraction-free iteration for numeric graphs: C(t) = M(t)/s(t) with integer M, s
    (gmpy2), one common-denominator step and one gcd reduction per generation. Yields the
    exact risks (M_kk, s) as integer pairs for t = 0..T."""
    import gmpy2

    K = graph.num_learners
    mpz = gmpy2.mpz
    Ns = [int(N) for N in graph.total_samples]
    rows = [[] for _ in range(K)]  # A_kj = n_jk
    for j, k, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        rows[k].append((j, mpz(int(n))))
    g = [sp.Rational(x) for x in _gammas(graph)]
    Dv = [sp.Rational(x) for x in exact_noise_variance(graph)]
    C0 = exact_initial_covariance(graph)
    p = [mpz(int(x.p)) for x in g]
    q = [mpz(int(x.q)) for x in g]
    u = [mpz(int(x.p)) for x in Dv]
    v = [mpz(int(x.q)) for x in Dv]
    Q = mpz(1)
    for k in range(K):
        Q = gmpy2.lcm(Q, gmpy2.lcm(q[k] * Ns[k] ** 2, v[k]))
        for l in range(K):
            Q = gmpy2.lcm(Q, mpz(Ns[k] * Ns[l]))
    s = mpz(1)
    for k in range(K):
        s = gmpy2.lcm(s, mpz(int(sp.Rational(C0[k, k]).q)))
    M = [[mpz(0)] * K for _ in range(K)]
    for k in range(K):
        c = sp.Rational(C0[k, k])
        M[k][k] = mpz(int(c.p)) * (s // int(c.q))
    off = [[Q // (Ns[k] * Ns[l]) for l in range(K)] for k in range(K)]
    dia = [Q // (q[k] * Ns[k] ** 2) for k in range(K)]
    noise = [u[k] * (Q // v[k]) for k in range(K)]
    yield [M[k][k] for k in range(K)], s
    for _ in range(T):
        B = [[sum((M[j][i] * a for i, a in rows[l]), mpz(0)) for l in range(K)] for j in range(K)]  # M A^T
        P = [[sum((a * B[j][l] for j, a in rows[k]), mpz(0)) for l in range(K)] for k in range(K)]
        new = [[P[k][l] * off[k][l] for l in range(K)] for k in range(K)]
        for k in range(K):
            S = sum((a * M[j][j] for j, a in rows[k]), mpz(0))
            new[k][k] = ((q[k] - p[k]) * P[k][k] + p[k] * Ns[k] * S) * dia[k] + noise[k] * s
        s = s * Q
        h = s
        for row in new:
            for x in row:
                if h == 1:
                    break
                h = gmpy2.gcd(h, x)
        if h != 1:
            new = [[x // h for x in row] for row in new]
            s = s // h
        M = new
        yield [M[k][k] for k in range(K)], s


def _check_T(T: Any) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise GraphValueError(f"generations: expected a nonnegative integer, found {T!r}")
    return int(T)


def exact_covariance_trajectory(graph: InteractionGraph, T: int) -> list[sp.Matrix]:
    r"""Exact :math:`C^{(0)}, \dots, C^{(T)}` of the finite-sample recursion.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> [C[0, 0] for C in exact_covariance_trajectory(self_training(real_samples=0, samples=12,
    ...                                               initial_samples=12, dimension=3), 2)]
    [3/8, 3/4, 9/8]
    """
    T = _check_T(T)
    return [C.to_Matrix() for _, C in _iterate(graph, T)]


def exact_risk_trajectory(graph: InteractionGraph, T: int) -> list[tuple[sp.Expr, ...]]:
    r"""Exact risks :math:`(R^{(t)}_k)_k = (C^{(t)}_{kk})_k` for :math:`t = 0, \dots, T`.

    Uses ``DomainMatrix`` over :math:`\mathbb Q` (or the rational-function field of the
    graph's symbols).

    Raises
    ------
    ExactRegimeError
        If some :math:`N_k \le d+1` or :math:`n^0_k \le d+1`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_risk_trajectory(self_training(real_samples=7, samples=27, initial_samples=40,
    ...                                     dimension=23), 2)
    [(23/16,), (299/80,), (483/80,)]
    """
    T = _check_T(T)
    K = graph.num_learners
    out = []
    if not graph.is_symbolic:
        check_exact_regime(graph)
        return [tuple(sp.Rational(int(m), int(s)) for m in diag) for diag, s in _integer_risks(graph, T)]
    for domain, C in _iterate(graph, T):
        rows = C.rep.to_ddm()
        out.append(tuple(domain.to_sympy(rows[k][k]) for k in range(K)))
    return out


def _risk_sequences(graph: InteractionGraph, T: int) -> tuple[Any, list[list[Any]]]:
    """Raw domain elements R_k(t), t = 0..T, per learner."""
    K = graph.num_learners
    seqs: list[list[Any]] = [[] for _ in range(K)]
    domain = None
    if not graph.is_symbolic:
        check_exact_regime(graph)
        for diag, s in _integer_risks(graph, T):
            for k in range(K):
                seqs[k].append(sp.QQ(int(diag[k]), int(s)))
        return sp.QQ, seqs
    for domain, C in _iterate(graph, T):
        rows = C.rep.to_ddm()
        for k in range(K):
            seqs[k].append(rows[k][k])
    return domain, seqs


# --------------------------------------------------------------------------- spectra
def _charpoly(M: DomainMatrix) -> sp.Poly:
    if M.shape[0] == 0:
        return sp.Poly(1, _LAMBDA, domain=sp.QQ)
    coeffs = M.to_dense().charpoly()
    return sp.Poly([M.domain.to_sympy(c) for c in coeffs], _LAMBDA, domain=sp.QQ)


def _largest_real_root(P: sp.Poly) -> sp.Expr:
    """The largest real root of P (exact: a Rational or a CRootOf), or 0 if P has none.

    P is factored over QQ once; each irreducible factor's largest real root is a
    ``CRootOf`` and the maximum is taken by :func:`_max_root`."""
    cands: list[tuple[sp.Expr, sp.Poly]] = []
    for f, _ in sp.Poly(P, _LAMBDA, domain=sp.QQ).factor_list()[1]:
        n = len(f.intervals())
        if n:
            root = -f.nth(0) / f.nth(1) if f.degree() == 1 else _real_root(f, n - 1)
            cands.append((root, f))
    return _max_root(cands) if cands else sp.Integer(0)


def _minimal_poly_of(r: sp.Expr) -> sp.Poly:
    """Minimal polynomial over QQ in lambda of an exact real algebraic number: a Rational,
    a ``CRootOf``, or what sympy builds from one (``CRootOf`` may return ``c * CRootOf(g)``
    after rescaling the polynomial)."""
    if r.is_Rational:
        return sp.Poly(_LAMBDA - r, _LAMBDA, domain=sp.QQ)
    parts = _root_parts(r)
    if parts is not None:  # c * CRootOf(g): the roots of g(lambda / c)
        c, root = parts
        g = sp.Poly(root.poly.as_expr().subs(root.poly.gen, _LAMBDA / c), _LAMBDA, domain=sp.QQ)
        return g.monic()
    return sp.Poly(sp.minimal_polynomial(r, _LAMBDA), _LAMBDA, domain=sp.QQ)


def _root_parts(v: sp.Expr) -> tuple[sp.Rational, sp.CRootOf] | None:
    """(c, r) with v = c * r, c a nonzero Rational and r a CRootOf, else None."""
    if isinstance(v, sp.CRootOf):
        return sp.Integer(1), v
    if isinstance(v, sp.Mul):
        c, rest = v.as_coeff_Mul()
        if isinstance(rest, sp.CRootOf) and c.is_Rational and c != 0:
            return c, rest
    return None


def component_map_radius(graph: InteractionGraph, members: Sequence[int]) -> tuple[sp.Expr, sp.Poly]:
    r"""The exact spectral radius of :math:`\mathcal L_A` (the map restricted to the
    learners ``members``, usually one SCC) and its characteristic polynomial in
    :math:`\lambda`.

    The radius is the largest real root of the characteristic polynomial (Krein-Rutman),
    returned as a Rational or a ``CRootOf``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> component_map_radius(self_training(real_samples=4, samples=24, initial_samples=40,
    ...                                    dimension=20), [0])[0]
    7118/6615
    """
    _, M = second_moment_map_matrix(graph, members)
    P = _charpoly(M)
    return _largest_real_root(P), P


def component_contracts(graph: InteractionGraph, members: Sequence[int]) -> bool:
    r"""Whether :math:`\rho(\mathcal L_A) < 1` for the learners ``members`` (usually one
    strongly connected component), decided exactly by real-root counting.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=4, samples=24, initial_samples=40, dimension=20)
    >>> component_contracts(G, [0]), component_contracts(G.with_real_samples({"L0": 2}), [0])
    (False, True)
    """
    _, M = second_moment_map_matrix(graph, members)
    P = _charpoly(M)
    # rho is a real eigenvalue (Krein-Rutman): rho < 1 iff no real root >= 1
    return P.eval(1) != 0 and not _has_root_above_one(P)


def _count_ge_one(P: sp.Poly, radius: sp.Expr | None = None) -> tuple[int, bool]:
    """(1 if the largest real root is > 1 else 0, whether it equals 1), decided exactly on
    the radius's minimal polynomial (small) when the radius is given."""
    if radius is None:
        radius = _largest_real_root(P)
    if radius.is_Rational:
        return int(bool(radius > 1)), bool(radius == 1)
    # irreducible of degree >= 2 (radius is irrational, never 1), whose largest real root
    # is the radius (its roots are roots of P, and the radius is one of them)
    f = _minimal_poly_of(radius)
    return int(_has_root_above_one(f)), False


def _has_root_above_one(f: sp.Poly) -> bool:
    """Whether f (with f(1) != 0) has a real root > 1: Descartes' rule on f(1 + x) decides
    0 or 1 sign changes, else exact continued-fraction isolation on (1, oo)."""
    shifted = [c for c in f.shift(1).all_coeffs() if c != 0]
    changes = sum(1 for a, b in zip(shifted, shifted[1:]) if (a > 0) != (b > 0))
    if changes <= 1:
        return changes == 1
    return len(f.intervals(inf=1)) > 0


# --------------------------------------------------------------------------- real algebraic numbers
# An irrational exact value (a map radius, a growth factor, a leading coefficient) is kept as
# a real root of its minimal polynomial: ``CRootOf(f, i)`` (sympy may write it c * CRootOf(g, i)
# after rescaling f). Its float comes from the polynomial and an isolating interval refined
# in exact rational arithmetic; radicals are only ever used to print a value, and only when
# every radical in them is real.
_X = sp.Symbol("x")


def _real_root(f: sp.Poly, index: int) -> sp.Expr:
    """The ``index``-th real root (ascending) of the irreducible ``f``, as a sympy value
    in the variable x (so that its string parses back)."""
    g = sp.Poly(f.as_expr().subs(f.gen, _X), _X, domain=sp.QQ)
    if g.degree() == 1:
        return -g.nth(0) / g.nth(1)
    return sp.CRootOf(g, index)


def _as_real_root(value: Any) -> tuple[sp.Poly, int] | None:
    """(minimal polynomial over ZZ in x, index among its real roots, ascending) of an exact
    real algebraic number, or None for a Rational."""
    v = sp.sympify(value)
    if v.is_Rational:
        return None
    f = sp.Poly(_minimal_poly_of(v).as_expr().subs(_LAMBDA, _X), _X, domain=sp.QQ)
    f = sp.Poly(f.clear_denoms()[1].primitive()[1], _X, domain=sp.ZZ)
    if f.LC() < 0:
        f = -f
    parts = _root_parts(v)
    if parts is not None and parts[1].is_real:  # c * (i-th real root of g): order kept or reversed
        c, root = parts
        return f, root.index if c > 0 else root.poly.count_roots() - 1 - root.index
    return f, _index_of(f, _certified_rational(v, 60))


def _index_of(f: sp.Poly, approx: sp.Rational, tol: sp.Rational = sp.Rational(1, 10**50)) -> int:
    """Index (ascending) of the real root of f within ``tol`` of ``approx``: the isolating
    intervals are refined only while more than one of them is that close."""
    intervals = [(a, b) for (a, b), _ in f.intervals()]
    while True:
        hits = [i for i, (a, b) in enumerate(intervals) if a - tol <= approx <= b + tol]
        if len(hits) == 1:
            return hits[0]
        if not hits or all(b - a < tol for a, b in (intervals[i] for i in hits)):  # pragma: no cover
            raise GraphValueError(f"exact: cannot isolate a real root of {f.as_expr()} (internal error)")
        for i in hits:
            a, b = intervals[i]
            intervals[i] = f.refine_root(a, b, eps=max((b - a) / 1000, tol / 10))


def _certified_rational(value: Any, digits: int) -> sp.Rational:
    """A Rational within about 10**-digits (relative) of an exact real value built from
    Rationals and CRootOf atoms (each refined on its isolating interval)."""
    v = sp.sympify(value)
    if v.is_Rational:
        return v
    atoms = v.atoms(sp.CRootOf)
    if not atoms:
        # other exact forms (radicals): go through the minimal polynomial
        f = sp.Poly(sp.minimal_polynomial(v, _X), _X)
        guess = sp.re(sp.N(v, digits + 20))
        cands = [r for r in sp.Poly(f, _X).real_roots() if abs(sp.N(r, digits + 20) - guess) < sp.Float(10) ** (-digits)]
        if len(cands) != 1:  # pragma: no cover
            raise GraphValueError(f"exact: {v} is not a real algebraic number")
        return _certified_rational(cands[0], digits)
    sub = {r: r.eval_rational(n=digits + 10) for r in atoms}
    return sp.Rational(v.xreplace(sub))


def float_value(expr: Any) -> float:
    r"""The float of an exact real algebraic value (Rational, ``CRootOf`` or an expression
    in them), computed from the minimal polynomial and a refined isolating interval, never by
    evaluating radicals (relative error below 1e-15).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> round(float_value(sp.CRootOf(x**5 - x - 1, 0)), 12)
    1.167303978261
    >>> float_value(sp.CRootOf(x**3 - 3*x + 1, 2))
    1.532088886237956
    """
    return float(_certified_rational(expr, 30))


def exact_string(value: Any) -> str:
    r"""The exact value as a string that sympy parses back: a Rational as ``"p/q"``, an
    algebraic number in radicals when its minimal polynomial has degree at most 4 and the
    radicals are real, otherwise ``"CRootOf(f, i)"`` with ``f`` its minimal polynomial over
    the integers in ``x`` and ``i`` the index of the root among the real roots of ``f``
    (ascending, as in sympy).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> exact_string(sp.CRootOf(x**2 - 2, 1)), exact_string(sp.CRootOf(x**3 - 2, 0))
    ('sqrt(2)', '2**(1/3)')
    >>> exact_string(sp.CRootOf(x**3 - 3*x + 1, 2))
    'CRootOf(x**3 - 3*x + 1, 2)'
    """
    return _exact_string(sp.sympify(value))


@functools.lru_cache(maxsize=4096)
def _exact_string(v: sp.Expr) -> str:
    if v.is_Rational or v.free_symbols:
        return str(v)
    if v.has(sp.CRootOf) and _root_parts(v) is None:
        # an expression in real roots (a leading coefficient, a polynomial in rho): each root
        # in real radicals where it has them, else as CRootOf(minimal polynomial, index)
        subs = {}
        for r in v.atoms(sp.CRootOf):
            text = _exact_string(r)
            subs[r] = sp.sympify(text) if not text.startswith("CRootOf(") else r
        return str(v.xreplace(subs))
    f, index = _as_real_root(v)
    if f.degree() <= 4:
        lo = _certified_rational(v, 40)
        match = []
        for cand in sp.roots(f, multiple=True):
            if _real_radicals(cand) and abs(sp.N(cand, 60) - lo) < sp.Float(10) ** -35:
                match.append(cand)
        if len(match) == 1:
            return str(match[0])
    return f"CRootOf({sp.sstr(f.as_expr())}, {index})"


def _real_radicals(expr: sp.Expr) -> bool:
    """Whether every radical in ``expr`` is a real root of a positive number (no I)."""
    if expr.has(sp.I):
        return False
    for p in expr.atoms(sp.Pow):
        if not p.exp.is_Integer and p.base.is_positive is not True:
            return False
    return True


# --------------------------------------------------------------------------- Berlekamp-Massey
def berlekamp_massey(seq: Sequence[Any], domain: Any = sp.QQ) -> list[Any]:
    r"""The connection polynomial :math:`c(z) = 1 + c_1 z + \dots + c_L z^L` of the
    shortest linear recurrence :math:`\sum_i c_i s_{n-i} = 0` (:math:`n \ge L`) generating
    ``seq`` (exact, over a field). ``2 L`` terms determine it.

    Examples
    --------
    >>> from sympy import QQ
    >>> berlekamp_massey([QQ(1), QQ(1), QQ(2), QQ(3), QQ(5), QQ(8)])
    [mpq(1,1), mpq(-1,1), mpq(-1,1)]
    """
    zero, one = domain.zero, domain.one
    Cp: list[Any] = [one]
    Bp: list[Any] = [one]
    L, m, b = 0, 1, one
    for n in range(len(seq)):
        d = seq[n]
        for i in range(1, L + 1):
            if i < len(Cp):
                d = d + Cp[i] * seq[n - i]
        if d == zero:
            m += 1
            continue
        coef = d / b
        T = list(Cp)
        need = len(Bp) + m
        if len(Cp) < need:
            Cp = Cp + [zero] * (need - len(Cp))
        for i, bi in enumerate(Bp):
            Cp[i + m] = Cp[i + m] - coef * bi
        if 2 * L <= n:
            L = n + 1 - L
            Bp, b, m = T, d, 1
        else:
            m += 1
    Cp = Cp[: L + 1] + [zero] * max(0, L + 1 - len(Cp))
    return Cp


def _growth_from_sequence(seq: list[Any], domain: Any, rho: sp.Expr) -> tuple[int, sp.Expr | None]:
    """Multiplicity-based growth degree q and (for rho = 1) lim R/t^q from the exact
    generating function N(z)/c(z) of the sequence."""
    c = berlekamp_massey(seq, domain)
    L = len(c) - 1
    to = domain.to_sympy
    cpoly = sp.Poly([to(x) for x in reversed(c)], _Z, domain=sp.QQ)
    S = sp.Poly([to(x) for x in reversed(seq[:L])] or [0], _Z, domain=sp.QQ)
    Npoly = sp.Poly((cpoly * S).as_expr(), _Z, domain=sp.QQ)
    Npoly = sp.Poly(sum(Npoly.coeff_monomial(_Z**i) * _Z**i for i in range(L)), _Z, domain=sp.QQ) if L else sp.Poly(0, _Z, domain=sp.QQ)
    f = _minimal_poly_of(rho)
    g = sp.Poly(list(reversed(f.all_coeffs())), _Z, domain=sp.QQ)  # roots 1/rho
    m = 0
    rest = cpoly
    while True:
        q, r = sp.div(rest, g)
        if not r.is_zero:
            break
        rest, m = q, m + 1
    if m == 0:
        raise GraphValueError("exact: the dominant root does not appear in the risk sequence (internal error)")
    rate = None
    if rho == 1:
        # c = g^m * rest with g = 1 - z (up to sign); F ~ N(1) / (rest(1) * g'(...)) t^(m-1)/(m-1)!
        gsign = g.eval(0)  # g(z) = gsign * (1 - z)
        rate = Npoly.eval(1) / (rest.eval(1) * gsign**m * sp.factorial(m - 1))
    return m - 1, rate


# --------------------------------------------------------------------------- stationary & bounds
def exact_stationary_covariance(graph: InteractionGraph, learners: Sequence[int]) -> sp.Matrix:
    r"""The exact stationary covariance on an ancestor-closed set of bounded learners:
    the solution of :math:`C = \mathcal L(C) + \operatorname{diag}(D)` restricted to them.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_stationary_covariance(self_training(real_samples=10, samples=30, dimension=2), [0])
    Matrix([[2184/17111]])
    """
    idx = sorted(learners)
    if not idx:
        return sp.zeros(0, 0)
    D = exact_noise_variance(graph)
    pairs, M = second_moment_map_matrix(graph, idx)
    dom = M.domain
    n = len(pairs)
    A = DomainMatrix.eye(n, dom).to_sparse() - M.to_sparse()
    rhs = {r: {0: dom.from_sympy(sp.sympify(D[k]))} for r, (k, l) in enumerate(pairs) if k == l and D[k] != 0}
    try:
        x = A.lu_solve(DomainMatrix(rhs, (n, 1), dom)).to_dense().rep.to_ddm()
    except Exception as exc:  # noqa: BLE001 - singular: a learner is not bounded
        raise GraphValueError("exact: the stationary equation is singular; some of these learners collapse") from exc
    pos = {l: i for i, l in enumerate(idx)}
    out = sp.zeros(len(idx), len(idx))
    for r, (k, l) in enumerate(pairs):
        out[pos[k], pos[l]] = out[pos[l], pos[k]] = dom.to_sympy(x[r][0])
    return out


def exact_risk_bounds(graph: InteractionGraph, learners: Sequence[int]) -> dict[int, tuple[sp.Expr, sp.Expr | None]]:
    r"""Two-sided bounds on the exact stationary risks of an ancestor-closed set of
    bounded learners, from :math:`W` and the exact :math:`D` only.

    Lower: :math:`C_{kk}` of :math:`C = W C W^\top + \operatorname{diag}(D)`. Upper:
    :math:`((I - W_{AA})^{-1} D_A)_k` on the ancestor set :math:`A` of :math:`k`, given
    only when every :math:`N_j \ge 2d+1` on :math:`A` (else ``None``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_risk_bounds(self_training(real_samples=10, samples=30, dimension=2), [0])
    {0: (32/259, 8/37)}
    """
    idx = sorted(learners)
    if not idx:
        return {}
    D = exact_noise_variance(graph)
    W = graph.mixing_matrix.extract(idx, idx)
    Dm = sp.diag(*[D[k] for k in idx])
    low = solve_lyapunov_exact(W, Dm, components=graph.structure.components_within(idx))
    up = (sp.eye(len(idx)) - W).LUsolve(sp.Matrix([D[k] for k in idx]))
    d = _as_sympy(graph.dimension)
    big = [bool(_as_sympy(graph.total_samples[k]) >= 2 * d + 1) for k in range(graph.num_learners)]
    anc = _ancestor_sets(graph)
    out = {}
    for i, k in enumerate(idx):
        ok = all(big[j] for j in anc[k])
        out[k] = (sp.cancel(low[i, i]), sp.cancel(up[i]) if ok else None)
    return out


def _ancestor_sets(graph: InteractionGraph) -> list[set[int]]:
    """Every learner's ancestors, itself included (the exact theory works on small graphs)."""
    S = graph.structure
    return [set(S.ancestors(k).tolist()) for k in range(graph.num_learners)]


# --------------------------------------------------------------------------- fix
#: The fix search gives up proving minimality (and falls back, see ``docs/exact.md`` §9)
#: after this many exact one-parameter solves in one component.
FIX_SEARCH_BUDGET = 400


def _theorem3_addition(graph: InteractionGraph, members: Sequence[int], floor: int) -> dict[int, int]:
    """Every member gets max(floor, 2d + 1 - N_k): all N_k >= 2d + 1 and every member has real
    data, so the component contracts (Theorem 3 of ``docs/exact.md``)."""
    d = int(graph.dimension)
    return {k: max(floor, 2 * d + 1 - int(graph.total_samples[k])) for k in members}


def _det_polynomial(graph: InteractionGraph, members: Sequence[int], k: int) -> sp.Poly:
    r"""A polynomial :math:`p(\Delta)` whose real roots in :math:`[0, \infty)` are those of
    :math:`\det(I - \mathcal L_A(\Delta))`, where learner ``k`` gets :math:`\Delta` added real
    samples: :math:`p = \det(I - \mathcal L_A(\Delta)) (N+\Delta)^{a+1} (N+\Delta-d-1)
    (N+\Delta-1)(N+\Delta+2)` (:math:`N = N_k`, :math:`a = |A|`).

    Multiplying each of the :math:`a` rows of :math:`I - \mathcal L_A` that involve ``k`` by its
    denominator makes the matrix polynomial in :math:`\Delta` (degree 1 in the rows
    :math:`(k, l)`, :math:`l \ne k`, and 5 in the row :math:`(k, k)`), so :math:`p` is a
    polynomial of degree at most :math:`a + 4`; it is interpolated exactly from :math:`a + 5`
    integer points and checked at one more. The extra factors have no root in
    :math:`[0, \infty)` since :math:`N > d + 1`."""
    idx = sorted(members)
    a = len(idx)
    d = int(graph.dimension)
    N = int(graph.total_samples[k])
    name = graph.names[k]
    points = list(range(a + 6))
    values = []
    for c in points:
        fixed = graph.with_real_samples({name: c}) if c else graph
        _, M = second_moment_map_matrix(fixed, idx)
        n = M.shape[0]
        det = (DomainMatrix.eye(n, M.domain) - M.to_dense()).to_dense().det()
        Nc = N + c
        values.append(M.domain.to_sympy(det) * Nc ** (a + 1) * (Nc - d - 1) * (Nc - 1) * (Nc + 2))
    p = _interpolate(points[:-1], values[:-1])
    if p.eval(points[-1]) != values[-1]:  # pragma: no cover - the degree bound is a theorem
        raise GraphValueError("exact: the determinant polynomial exceeds its degree bound (internal error)")
    return p


def _interpolate(xs: Sequence[int], ys: Sequence[Any]) -> sp.Poly:
    """The polynomial over QQ of degree < len(xs) through the points (Newton's divided differences)."""
    delta = sp.Symbol("delta")
    coef = [sp.QQ.from_sympy(sp.sympify(y)) for y in ys]
    n = len(xs)
    for j in range(1, n):
        for i in range(n - 1, j - 1, -1):
            coef[i] = (coef[i] - coef[i - 1]) / (xs[i] - xs[i - j])
    p = sp.Poly(sp.QQ.to_sympy(coef[-1]), delta, domain=sp.QQ)
    for i in range(n - 2, -1, -1):
        p = p * sp.Poly(delta - xs[i], delta, domain=sp.QQ) + sp.Poly(sp.QQ.to_sympy(coef[i]), delta, domain=sp.QQ)
    return p


def _min_single_addition(graph: InteractionGraph, members: Sequence[int], k: int, floor: int,
                         upper: int | None = None) -> int | None:
    r"""The smallest integer :math:`\Delta` with ``floor <= Delta <= upper`` such that the map of
    ``members`` contracts when learner ``k`` gets :math:`\Delta` added real samples, or None
    when there is none; exact, with no monotonicity assumption.

    For real :math:`\Delta \ge 0` the map keeps the PSD cone (Lemma 6(a) holds for any
    :math:`W \ge 0` with row sums at most 1 and :math:`\gamma \ge 0`), so
    :math:`\rho(\mathcal L_A(\Delta))` is an eigenvalue and a continuous function of
    :math:`\Delta`; it can only cross 1 where :math:`\det(I - \mathcal L_A(\Delta)) = 0`. The
    verdict is therefore constant between consecutive real roots of
    :func:`_det_polynomial`, and the smallest feasible integer is among ``floor``, the
    integers at the roots and the first integer above each root. Those candidates are
    decided exactly (:func:`component_contracts`). Short ranges are scanned directly."""
    name = graph.names[k]
    if upper is not None and upper < floor:
        return None
    if component_contracts(graph.with_real_samples({name: floor}), members):
        return floor
    if upper is not None and upper - floor < 6:
        candidates = list(range(floor, upper + 1))
    else:
        p = _det_polynomial(graph, members, k)
        if p.is_zero:
            return None  # 1 is an eigenvalue for every Delta: never contracts
        cands = {floor}
        for (a, b), _ in p.intervals():
            if b < floor - 1:
                continue
            while b - a > sp.Rational(1, 2):
                a, b = p.refine_root(a, b, eps=sp.Rational(1, 2))
            cands.update(range(max(floor, int(sp.floor(a))), int(sp.ceiling(b)) + 2))
        candidates = sorted(c for c in cands if upper is None or c <= upper)
    for c in candidates:
        if component_contracts(graph.with_real_samples({name: c}), members):
            return c
    return None


@dataclass(frozen=True)
class ComponentFix:
    """The smallest additions of real samples that make one component's exact map contract.

    ``options`` lists every addition (learner name -> added real samples per generation)
    that reaches the minimum found in the order (fewest learners, then fewest added
    samples); ``proved`` says whether that minimum is proved (``docs/exact.md`` §9).
    """

    members: tuple[str, ...]
    options: tuple[dict[str, int], ...]
    proved: bool

    @property
    def learners(self) -> int:
        """Number of learners the fix gives real data to."""
        return len(self.options[0])

    @property
    def samples(self) -> int:
        """Total added real samples per generation."""
        return sum(self.options[0].values())


def component_fix(graph: InteractionGraph, members: Sequence[int], fix_samples: int = 1) -> ComponentFix | None:
    r"""The smallest additions of real samples that make the exact map of one component
    contract (None when it already contracts).

    Order: fewest learners, then fewest added real samples per generation; every chosen
    learner gets at least ``fix_samples``. Adding real samples to learner :math:`k` only
    changes row :math:`k` of :math:`W` and :math:`\gamma_k`, so components are fixed
    independently. Search (``docs/exact.md`` §9):

    1. one learner: for each member the smallest sufficient count, decided exactly over
       all integers (:func:`_min_single_addition`); if any works the result is proved
       minimal;
    2. otherwise, supports of 2, 3, ... learners with totals up to :math:`T` (the total of
       the addition of Theorem 3, which always works): all counts of all but the last
       learner are enumerated and the last one is solved exactly. A two-learner result is
       proved minimal (step 1 excluded one learner exactly, and every smaller total was
       examined); a result with three or more learners is not (a smaller support with a
       total above :math:`T` is not excluded). Past :data:`FIX_SEARCH_BUDGET` exact solves
       the best addition found (at worst the Theorem 3 one) is returned, not proved.

    Examples
    --------
    >>> from graphcollapse.theory.builders import complete, self_training
    >>> component_fix(self_training(real_samples=4, samples=24, initial_samples=40, dimension=20), [0])
    ComponentFix(members=('L0',), options=({'L0': 2},), proved=True)

    Two closed learners of N = 12 in d = 8 feeding themselves and each other: one real
    sample for one of them is not enough, seven are.

    >>> fix = component_fix(complete(2, real_samples=0, samples=6, initial_samples=20, dimension=8), [0, 1])
    >>> fix.options, fix.proved
    (({'L0': 7}, {'L1': 7}), True)
    """
    idx = sorted(int(k) for k in members)
    names = graph.names
    F = int(fix_samples)
    if component_contracts(graph, idx):
        return None
    label = tuple(names[k] for k in idx)
    # 1. one learner, exact over all integers
    singles = {k: _min_single_addition(graph, idx, k, F) for k in idx}
    found = [v for v in singles.values() if v is not None]
    if found:
        best = min(found)
        return ComponentFix(label, tuple({names[k]: best} for k in idx if singles[k] == best), True)
    # 2. larger supports up to the Theorem 3 total
    fallback = _theorem3_addition(graph, idx, F)
    T = sum(fallback.values())
    budget = [FIX_SEARCH_BUDGET]
    for size in range(2, len(idx) + 1):
        best_total: int | None = None
        options: list[dict[str, int]] = []
        exhausted = False
        for S in itertools.combinations(idx, size):
            limit = T if best_total is None else best_total
            for total, add in _support_search(graph, idx, S, F, limit, budget):
                if best_total is None or total < best_total:
                    best_total, options = total, []
                if total == best_total:
                    options.append({names[j]: v for j, v in add.items()})
            if budget[0] <= 0:
                exhausted = True
                break
        if options and not exhausted:
            return ComponentFix(label, tuple(options), size == 2)
        if exhausted:
            break
    return ComponentFix(label, ({names[k]: v for k, v in fallback.items()},), False)


def _support_search(graph: InteractionGraph, members: list[int], S: tuple[int, ...], floor: int,
                    limit: int, budget: list[int]):
    """Yield (total, addition) for the additions supported exactly on ``S`` (each count >=
    floor) of smallest total <= limit: counts of all but the last learner are enumerated in
    increasing total, the last is solved exactly by :func:`_min_single_addition`."""
    *head, last = S
    best = limit
    results: list[tuple[int, dict[int, int]]] = []
    for part in _bounded_vectors(len(head), floor, best - floor):
        if budget[0] <= 0:
            break
        p = sum(part)
        if p + floor > best:
            continue
        budget[0] -= 1
        G = graph.with_real_samples({graph.names[j]: v for j, v in zip(head, part)})
        v = _min_single_addition(G, members, last, floor, upper=best - p)
        if v is None:
            continue
        total = p + v
        if total < best:
            best, results = total, []
        if total == best:
            results.append((total, {**dict(zip(head, part)), last: v}))
    yield from results


def _bounded_vectors(n: int, floor: int, cap: int):
    """Integer vectors of length n, entries >= floor, sum <= cap, in increasing sum."""
    for total in range(n * floor, cap + 1):
        yield from _vectors_with_sum(n, floor, total)


def _vectors_with_sum(n: int, floor: int, total: int):
    if n == 0:
        if total == 0:
            yield ()
        return
    for first in range(floor, total - (n - 1) * floor + 1):
        for rest in _vectors_with_sum(n - 1, floor, total - first):
            yield (first,) + rest


def expanding_fix(graph: InteractionGraph, members: Sequence[int], fix_samples: int = 1) -> dict[str, int]:
    r"""The smallest additions of real samples that make the exact map of one component
    contract: the first option of :func:`component_fix` (members without an addition get 0).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> expanding_fix(self_training(real_samples=4, samples=24, initial_samples=40, dimension=20), [0])
    {'L0': 2}
    """
    fix = component_fix(graph, members, fix_samples)
    names = [graph.names[k] for k in sorted(members)]
    chosen = fix.options[0] if fix else {}
    return {n: chosen.get(n, 0) for n in names}


@dataclass(frozen=True)
class ExactFix:
    """The smallest fix of a whole graph under the exact theory (:func:`exact_minimal_fix`).

    ``additions`` maps learners to added real samples per generation; ``components`` holds
    the search result of every component whose exact map does not contract, and ``chosen``
    the option taken for each; ``max_stationary_risk`` is the largest exact stationary risk
    after the fix; ``optimal`` is True when every component's minimum is proved and the
    tie-break compared every combination.
    """

    fix_samples: int
    additions: dict[str, int]
    components: tuple[ComponentFix, ...]
    chosen: tuple[dict[str, int], ...]
    max_stationary_risk: sp.Expr
    optimal: bool
    combinations: int


#: Tie-breaking by the exact stationary risk compares every combination of tied options up
#: to this many, else coordinate descent.
FIX_TIE_BREAK_LIMIT = 64


def _max_exact_risk(graph: InteractionGraph) -> sp.Expr:
    C = exact_stationary_covariance(graph, range(graph.num_learners))
    return max(C[i, i] for i in range(graph.num_learners))


def exact_minimal_fix(graph: InteractionGraph, fix_samples: int = 1) -> ExactFix | None:
    r"""The smallest additions of real samples after which no learner collapses under the
    exact theory (None when nothing collapses).

    Order: fewest learners, then fewest added real samples per generation (every chosen
    learner gets at least ``fix_samples``), then the smallest largest exact stationary risk,
    then graph order. Learner :math:`k` collapses iff an ancestor component's exact map has
    radius :math:`\ge 1` (Theorem 2), and an addition only changes the map of the
    component of the learner that receives it, so the fix is the union of the
    per-component fixes of :func:`component_fix`; the lexicographic order on (learners,
    samples) is compatible with addition, so minimising each component minimises the sum.

    Examples
    --------
    >>> from graphcollapse.theory.builders import complete
    >>> fix = exact_minimal_fix(complete(2, real_samples=0, samples=6, initial_samples=20, dimension=8))
    >>> fix.additions, fix.optimal, fix.max_stationary_risk
    ({'L0': 7}, True, 1817812/11445)
    """
    check_exact_regime(graph)
    if isinstance(fix_samples, bool) or not isinstance(fix_samples, (int, np.integer)) or fix_samples < 1:
        raise GraphValueError(f"fix_samples: expected a positive integer, found {fix_samples!r}")
    comps = graph.structure.component_lists()
    fixes = [f for f in (component_fix(graph, A, int(fix_samples)) for A in comps) if f is not None]
    if not fixes:
        return None
    cache: dict[tuple[int, ...], sp.Expr] = {}

    def value(choice: tuple[int, ...]) -> sp.Expr:
        if choice not in cache:
            add: dict[str, int] = {}
            for f, i in zip(fixes, choice):
                add.update(f.options[i])
            cache[choice] = _max_exact_risk(graph.with_real_samples(add))
        return cache[choice]

    sizes = [len(f.options) for f in fixes]
    total = int(np.prod(sizes, dtype=object))
    exhaustive = total <= FIX_TIE_BREAK_LIMIT
    if exhaustive:
        best = min(itertools.product(*[range(s) for s in sizes]), key=lambda c: (value(c), c))
    else:
        best = tuple(0 for _ in sizes)
        for _ in range(10):
            changed = False
            for i, s in enumerate(sizes):
                for j in range(s):
                    cand = best[:i] + (j,) + best[i + 1:]
                    if value(cand) < value(best):
                        best, changed = cand, True
            if not changed:
                break
    chosen = tuple(f.options[i] for f, i in zip(fixes, best))
    additions: dict[str, int] = {}
    for c in chosen:
        additions.update(c)
    order = {n: i for i, n in enumerate(graph.names)}
    additions = dict(sorted(additions.items(), key=lambda kv: order[kv[0]]))
    return ExactFix(int(fix_samples), additions, tuple(fixes), chosen, value(best),
                    all(f.proved for f in fixes) and exhaustive, len(cache))


def _component_period(graph: InteractionGraph, members: Sequence[int]) -> int:
    """The period of the strongly connected component ``members`` (gcd of its cycle
    lengths; 1 with a self-loop), 0 for a single learner without a self-loop."""
    S = graph.structure
    return S.period(S.component_of(members[0]))


@functools.lru_cache(maxsize=256)
def _field_of(rho: sp.Expr):
    """QQ for a rational rho, else the number field QQ(rho) built from its minimal
    polynomial and root index; rho as an element of it (the generator)."""
    if rho.is_Rational:
        return sp.QQ, sp.QQ.from_sympy(rho)
    f, index = _as_real_root(rho)
    K = sp.QQ.alg_field_from_poly(f, root_index=index)
    return K, K.dtype([sp.QQ.one, sp.QQ.zero], K.mod.to_list(), sp.QQ)


def _eval_poly(coeffs: Sequence[Any], z: Any, K: Any) -> Any:
    """Horner evaluation of sum_i coeffs[i] z^i (rational coefficients) in the field K."""
    acc = K.zero
    for c in reversed(coeffs):
        c = sp.QQ.from_sympy(c) if isinstance(c, sp.Basic) else c
        acc = acc * z + K.convert(c, sp.QQ)
    return acc


def _leading_coefficient(seq: list[Any], K: Any, z0: Any, m: int) -> Any:
    r"""For a linear recurrent sequence ``seq`` (enough terms for Berlekamp-Massey) whose
    generating function N(z)/c(z) has no pole nearer than ``z0`` of order above ``m``: the
    limit of :math:`u_s / (s^{m-1} z_0^{-s})`, i.e. :math:`m N(z_0) / (c^{(m)}(z_0) (-z_0)^m)`
    when :math:`z_0` is a root of :math:`c` of multiplicity :math:`m`, 0 when of lower
    multiplicity (computed in the field K)."""
    c = berlekamp_massey(seq, sp.QQ)
    L = len(c) - 1
    Ncoef = [sum((c[j] * seq[i - j] for j in range(i + 1)), sp.QQ.zero) for i in range(L)]
    derivs = list(c)
    mult = 0
    while mult <= m:
        if _eval_poly(derivs, z0, K) != K.zero:
            break
        derivs = [derivs[i] * i for i in range(1, len(derivs))]
        mult += 1
    if mult > m:  # pragma: no cover - the growth degree was computed from the same recurrence
        raise GraphValueError("exact: a phase grows faster than the whole sequence (internal error)")
    if mult < m:
        return K.zero
    cm = _eval_poly(derivs, z0, K)  # derivs holds the coefficients of c^(m)
    return K.convert(sp.QQ(m), sp.QQ) * _eval_poly(Ncoef, z0, K) / (cm * (-z0) ** m)


def _field_to_real(value: Any, K: Any, theta: sp.Expr) -> sp.Expr:
    """An element of QQ or QQ(theta) (``theta`` the generator, a ``CRootOf`` value) as an
    exact sympy value: a Rational, or a polynomial in theta with rational coefficients."""
    if K == sp.QQ:
        return sp.QQ.to_sympy(value)
    rep = value.to_list()
    if len(rep) <= 1:
        return sp.QQ.to_sympy(rep[0]) if rep else sp.Integer(0)
    n = len(rep) - 1
    return sp.Add(*[sp.QQ.to_sympy(c) * theta ** (n - i) for i, c in enumerate(rep) if c])


def _peripheral_poles_are_periodic(seq: list[Any], K: Any, rho: Any, rho_value: sp.Expr, m: int, P: int) -> bool:
    r"""Whether every pole :math:`\lambda` of the sequence of modulus :math:`\rho` and order
    ``m`` satisfies :math:`\lambda^P = \rho^P` (certified; False when it cannot be).

    The poles are the roots of the reversed connection polynomial c^rev; those of order
    >= m are the roots of G, the square-free part of gcd(c^rev, ..., (c^rev)^{(m-1)}). No
    pole has modulus above rho (``docs/exact.md`` §7, Lemma 9). The roots of G of the form
    omega rho (omega^P = 1) are counted exactly, as the degree k0 of
    gcd(G, lambda^P - rho^P) over K = QQ(rho). The roots of G on the circle |lambda| = rho
    are then counted: for rational rho as the degree of gcd(G, G*) over QQ, where
    G*(lambda) = lambda^deg G G(rho^2/lambda) (a root of G is a root of G* iff its modulus
    is rho, given the bound); otherwise by exact complex root isolation of G, refining until
    every other root is certified inside the circle. The claim holds iff that count is k0."""
    lam = sp.Symbol("lam")
    c = berlekamp_massey(seq, sp.QQ)
    crev = sp.Poly.from_list(list(c), lam, domain=sp.QQ)  # c_0 lam^L + ... + c_L: roots are the poles
    G = crev
    for j in range(1, m):
        G = G.gcd(sp.Poly(sp.diff(crev.as_expr(), lam, j), lam, domain=sp.QQ))
    G = G.sqf_part()
    return _circle_roots_are_periodic(G, K, rho, rho_value, P)


@functools.lru_cache(maxsize=512)
def _circle_roots_are_periodic(G: sp.Poly, K: Any, rho: Any, rho_value: sp.Expr, P: int) -> bool:
    lam = G.gen
    target = sp.Poly.from_list([K.one] + [K.zero] * (P - 1) + [-(rho**P)], lam, domain=K)
    r0 = G.set_domain(K).rem(target)
    k0 = P if r0.is_zero else target.gcd(r0).degree()
    if rho_value.is_Rational:
        low = list(reversed(G.all_coeffs()))
        star = sp.Poly([g * rho_value ** (2 * i) for i, g in enumerate(low)], lam, domain=sp.QQ)  # lam^(n-i)
        return G.gcd(star).degree() == k0
    Gz = sp.Poly(G.clear_denoms()[1], lam, domain=sp.ZZ)
    approx = _certified_rational(rho_value, 60)
    lo2 = (approx * (1 - sp.Rational(1, 10**40))) ** 2  # below rho^2
    for eps in (None, sp.Rational(1, 10**8), sp.Rational(1, 10**25)):
        reals, complexes = Gz.intervals(all=True, eps=eps)
        near = 0
        for (a, b), _ in reals:
            near += int(bool(max(a * a, b * b) >= lo2))
        for (corner1, corner2), _ in complexes:  # rectangles given by opposite corners
            xs = (sp.re(corner1), sp.re(corner2))
            ys = (sp.im(corner1), sp.im(corner2))
            near += int(bool(max(x * x + y * y for x in xs for y in ys) >= lo2))
        if near == k0:
            return True
    return False


def _growth_phases(seq: list[Any], rho: sp.Expr, q: int, P: int, n: int) -> tuple[tuple[sp.Expr, ...] | None, sp.Expr]:
    r"""The per-phase limits :math:`c_r = \lim_{s} R(Ps + r) / ((Ps + r)^q \rho^{Ps + r})`,
    r = 0..P-1, reduced to the smallest period that divides P (None when the poles of
    modulus rho and top order are not all rho times P-th roots of unity), and the Cesàro
    mean :math:`c_\rho` of :math:`R(t)/(t^q \rho^t)` (exact).

    The mean is the coefficient of the pole :math:`1/\rho` of order q + 1 of the generating
    function of R (``docs/exact.md`` §7, Theorem 7); for :math:`\rho = 1` there is no
    oscillation (Lemma 11). Otherwise, once :func:`_peripheral_poles_are_periodic`
    certifies P, the decimated sequence :math:`u_s = R(Ps + r)` (linear recurrent of order
    at most ``n``) has :math:`z_0 = \rho^{-P}` as its only pole of modulus
    :math:`\rho^{-P}` and top order, so :math:`u_s \sim A_r s^q \rho^{Ps}` and
    :math:`c_r = A_r / (P^q \rho^r)`."""
    K, r_elem = _field_of(rho)
    m = q + 1
    full = seq[: 2 * n + 2]
    mean = _leading_coefficient(full, K, K.one / r_elem, m)
    if rho == 1:
        value = _field_to_real(mean, K, rho)
        return (value,), value
    if not _peripheral_poles_are_periodic(full, K, r_elem, rho, m, P):
        return None, _field_to_real(mean, K, rho)
    z0 = K.one / r_elem**P
    phases = []
    for r in range(P):
        sub = seq[r::P][: 2 * n + 2]
        A = _leading_coefficient(sub, K, z0, m)
        phases.append(A / (K.convert(sp.QQ(P**q), sp.QQ) * r_elem**r))
    if sum(phases, K.zero) != mean * K.convert(sp.QQ(P), sp.QQ):  # pragma: no cover - Theorem 7
        raise GraphValueError("exact: the per-phase limits do not average to the Cesaro mean (internal error)")
    p = next(p for p in range(1, P + 1) if P % p == 0 and all(phases[i] == phases[(i + p) % P] for i in range(P)))
    return tuple(_field_to_real(x, K, rho) for x in phases[:p]), _field_to_real(mean, K, rho)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ExpandingComponent:
    """An SCC whose exact map has radius >= 1 although it is not topologically offending.

    ``fix`` maps member names to the real samples the exact minimal fix adds to them
    (:func:`exact_minimal_fix`; 0 for members it leaves alone).
    """

    members: tuple[str, ...]
    map_spectral_radius: sp.Expr
    fix: dict[str, int]


@dataclass(frozen=True)
class ExactLearner:
    """What the exact theory says about one learner (see ``graphcollapse.theory.analysis.LearnerResult``).

    For a collapsing learner :math:`R_k(t) = t^q \\rho^t (p_k(t) + o(1))` with :math:`p_k` a
    nonnegative trigonometric polynomial (``docs/exact.md`` §7): ``growth_degree`` is q,
    ``growth_factor`` is :math:`\\rho` when :math:`\\rho > 1`; ``growth_rate_mean`` is the
    Cesàro mean of :math:`R_k(t)/(t^q\\rho^t)` (always defined); when :math:`p_k` is
    certified periodic (exactly: every top-order pole of modulus :math:`\\rho` is
    :math:`\\rho` times a root of unity of order dividing the lcm of the ancestor components'
    periods), ``growth_period`` is its least period (1 when :math:`R_k(t)/(t^q\\rho^t)` has a
    limit) and ``growth_rate_phases`` its values :math:`p_k(0), \\dots, p_k(\\text{period}-1)`,
    :math:`p_k(r)` the limit along :math:`t \\equiv r`; otherwise both are None.
    ``growth_rate`` is :math:`\\lim R_k(t)/t^q`, set only when :math:`\\rho = 1` (the limit
    then always exists, Lemma 11).
    """

    name: str
    collapses: bool
    growth: str
    growth_degree: int | None
    growth_rate: sp.Expr | None
    growth_factor: sp.Expr | None
    stationary_risk: sp.Expr | None
    map_spectral_radius: sp.Expr
    risk_bounds: tuple[sp.Expr, sp.Expr | None] | None
    expanding: list[ExpandingComponent] = field(default_factory=list)
    growth_period: int | None = None
    growth_rate_phases: tuple[sp.Expr, ...] | None = None
    growth_rate_mean: sp.Expr | None = None


@dataclass(frozen=True)
class ExactAnalysis:
    """The result of :func:`exact_analysis`.

    ``expanding`` lists every expanding component once; each learner's ``expanding`` lists
    those among its ancestors. ``design_corrections`` and ``noise_variance`` are the exact
    :math:`\\gamma_k` and :math:`D_k`; ``component_radii`` maps each SCC (member names) to
    :math:`\\rho(\\mathcal L_A)`; ``map_spectral_radius`` is the radius of the whole exact map,
    :math:`\\max_A \\rho(\\mathcal L_A)` (§3), which is :math:`\\ge 1` iff some learner collapses;
    ``minimal_fix`` is :func:`exact_minimal_fix` (None when nothing collapses).
    """

    graph: InteractionGraph = field(repr=False)
    learners: dict[str, ExactLearner]
    expanding: list[ExpandingComponent]
    design_corrections: tuple[sp.Expr, ...]
    noise_variance: tuple[sp.Expr, ...]
    component_radii: dict[tuple[str, ...], sp.Expr]
    map_spectral_radius: sp.Expr = sp.Integer(0)
    minimal_fix: ExactFix | None = None

    @property
    def collapse(self) -> bool:
        """Whether some learner collapses."""
        return any(r.collapses for r in self.learners.values())


def _max_root(candidates: list[tuple[sp.Expr, sp.Poly]]) -> sp.Expr:
    """The largest of exact real algebraic numbers (each with a polynomial it is the largest
    real root of). Distinct values are ordered by sympy's certified interval evaluation of
    ``CRootOf`` at 60 digits; values closer than 1e-50 with different minimal polynomials
    fall back to the largest real root of the product polynomial (exact)."""
    best, best_poly = candidates[0]
    for r, p in candidates[1:]:
        if r == best:
            continue
        diff = sp.N(r, 60) - sp.N(best, 60)
        if abs(diff) > sp.Float("1e-50", 60):
            if diff > 0:
                best, best_poly = r, p
        elif _minimal_poly_of(r) != _minimal_poly_of(best):  # pragma: no cover - near-tie
            best_poly = best_poly * p
            best = _largest_real_root(best_poly)
    return best


def _check_analysis_inputs(graph: InteractionGraph, fix_samples: Any) -> int:
    """The checks every exact analysis starts with; returns the fix size (default 1)."""
    check_exact_regime(graph)
    if graph.is_symbolic:
        raise UndecidableError("exact_analysis: the exact verdict needs numeric parameters; substitute the symbols first")
    F = 1 if fix_samples is None else fix_samples
    if isinstance(F, bool) or not isinstance(F, (int, np.integer)) or F < 1:
        raise GraphValueError(f"fix_samples: expected a positive integer, found {fix_samples!r}")
    return int(F)


def exact_analysis(graph: InteractionGraph, fix_samples: int | None = None, *, fix: bool = True) -> ExactAnalysis:
    r"""Exact verdicts, growth, stationary risks, bounds, expanding components and the fix.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric graph with integer counts, every :math:`N_k > d+1` and :math:`n^0_k > d+1`.
    fix_samples : int, optional
        The least number of real samples the fix gives a learner it chooses (default 1,
        the pure minimum; :func:`exact_minimal_fix`).
    fix : bool
        Whether to search the minimal fix (``minimal_fix``, ``expanding[].fix``).

    Raises
    ------
    ExactRegimeError
        Sample sizes outside the exact regime, or fractional counts.
    UndecidableError
        Symbolic graphs (the verdict needs numbers).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> a = exact_analysis(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23))
    >>> r = a.learners["L0"]
    >>> r.collapses, r.growth, r.growth_degree, r.growth_rate, r.map_spectral_radius, r.growth_period
    (True, 'linear', 1, 23/10, 1, 1)
    >>> a.expanding[0].members, a.expanding[0].fix, a.map_spectral_radius
    (('L0',), {'L0': 1}, 1)
    """
    F = _check_analysis_inputs(graph, fix_samples)
    K = graph.num_learners
    names = graph.names
    W = graph.mixing_matrix
    comps = graph.structure.component_lists()
    comp_of = {k: i for i, A in enumerate(comps) for k in A}
    radius: list[tuple[sp.Expr, sp.Poly]] = [component_map_radius(graph, A) for A in comps]
    status = [_count_ge_one(P, r) for r, P in radius]
    periods = [_component_period(graph, A) for A in comps]
    # topologically offending: source SCC (no edge entering from outside) without real data
    offending = []
    for A in comps:
        Aset = set(A)
        entering = any(W[k, j] != 0 for k in A for j in range(K) if j not in Aset)
        offending.append(not entering and all(graph.real_samples[k] == 0 for k in A))
    anc = _ancestor_sets(graph)
    anc_comps = [sorted({comp_of[j] for j in anc[k]}) for k in range(K)]
    collapses = [any(status[i][0] or status[i][1] for i in anc_comps[k]) for k in range(K)]
    minimal = exact_minimal_fix(graph, int(F)) if fix and any(collapses) else None
    chosen: dict[str, int] = minimal.additions if minimal else {}
    expanding: dict[int, ExpandingComponent] = {}
    for i, A in enumerate(comps):
        gt, at = status[i]
        if (gt or at) and not offending[i]:
            expanding[i] = ExpandingComponent(
                members=tuple(names[k] for k in A),
                map_spectral_radius=radius[i][0],
                fix={names[k]: chosen.get(names[k], 0) for k in A} if minimal else {},
            )
    bounded = [k for k in range(K) if not collapses[k]]
    stat = exact_stationary_covariance(graph, bounded) if bounded else sp.zeros(0, 0)
    bounds = exact_risk_bounds(graph, bounded)
    # growth of collapsing learners from the exact generating function of R_k; the
    # per-phase limits need P (2 n_k + 2) terms, n_k = a(a+1)/2 + 1 the state dimension
    state = [len(anc[k]) * (len(anc[k]) + 1) // 2 + 1 for k in range(K)]
    period = [math.lcm(*([periods[i] for i in anc_comps[k] if periods[i]] or [1])) for k in range(K)]
    need = [period[k] * (2 * state[k] + 2) + period[k] for k in range(K) if collapses[k]]
    seqs: list[list[Any]] = []
    domain = sp.QQ
    if need:
        domain, seqs = _risk_sequences(graph, max(need))
    learners: dict[str, ExactLearner] = {}
    for k in range(K):
        rho = _max_root([radius[i] for i in anc_comps[k]])
        mine = [expanding[i] for i in anc_comps[k] if i in expanding]
        if not collapses[k]:
            pos = bounded.index(k)
            learners[names[k]] = ExactLearner(
                name=names[k], collapses=False, growth="none", growth_degree=None, growth_rate=None,
                growth_factor=None, stationary_risk=stat[pos, pos], map_spectral_radius=rho,
                risk_bounds=bounds[k], expanding=mine)
            continue
        q, _ = _growth_from_sequence(seqs[k][: 2 * state[k] + 2], domain, rho)
        phases, mean = _growth_phases(seqs[k], rho, q, period[k], state[k])
        limit = phases[0] if phases is not None and len(phases) == 1 else None
        n_phases = None if phases is None else len(phases)
        if rho == 1:
            growth = "linear" if q == 1 else "polynomial"
            learners[names[k]] = ExactLearner(
                name=names[k], collapses=True, growth=growth, growth_degree=q, growth_rate=limit,
                growth_factor=None, stationary_risk=None, map_spectral_radius=rho,
                risk_bounds=None, expanding=mine, growth_period=n_phases, growth_rate_phases=phases,
                growth_rate_mean=mean)
        else:
            learners[names[k]] = ExactLearner(
                name=names[k], collapses=True, growth="geometric", growth_degree=q, growth_rate=None,
                growth_factor=rho, stationary_risk=None, map_spectral_radius=rho,
                risk_bounds=None, expanding=mine, growth_period=n_phases, growth_rate_phases=phases,
                growth_rate_mean=mean)
    return ExactAnalysis(
        graph=graph,
        learners=learners,
        expanding=[expanding[i] for i in sorted(expanding)],
        design_corrections=_gammas(graph),
        noise_variance=exact_noise_variance(graph),
        component_radii={tuple(names[k] for k in A): radius[i][0] for i, A in enumerate(comps)},
        map_spectral_radius=_max_root(radius),
        minimal_fix=minimal,
    )


# --------------------------------------------------------------------------- symbolic verdicts
def _definitely_positive(f: sp.Expr, known: Sequence[sp.Expr]) -> bool:
    """Whether sympy proves ``f > 0`` from the symbols' assumptions, or ``f - g >= 0`` for
    one of the ``known`` positive expressions ``g`` (the regime ``N_k - d - 1 > 0``)."""
    return bool(f.is_positive) or any(bool(sp.expand(f - g).is_nonnegative) for g in known)


def _factors(expr: sp.Expr, known: Sequence[sp.Expr] = ()) -> tuple[Any, list[tuple[sp.Expr, int]]]:
    """Sign and non-definite factors of ``p q`` for ``expr = p/q``: factors proved
    positive (:func:`_definitely_positive`) are dropped, those proved negative flip the
    sign."""
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    coeff, factors = sp.factor_list(sp.expand(num * den))
    sign = 1 if coeff > 0 else -1
    kept = []
    for f, e in factors:
        if _definitely_positive(f, known):
            continue
        if _definitely_positive(-f, known):
            sign = sign * (-1) ** e
            continue
        kept.append((f, e))
    return sign, kept


def _positive(expr: sp.Expr, known: Sequence[sp.Expr] = ()) -> list[sp.Basic]:
    r"""``expr > 0`` for a rational function ``expr = p/q`` (where ``q != 0``) as a list
    of polynomial conditions: ``s * prod f_i > 0`` over the odd-multiplicity factors and
    ``f_j != 0`` for the even ones (``x > 0`` for a nonnegative symbol ``x`` is written
    ``x != 0``)."""
    sign, kept = _factors(expr, known)
    odd = sp.Mul(*[f for f, e in kept if e % 2])
    out: list[sp.Basic] = [sp.Ne(f, 0) for f, e in kept if e % 2 == 0]
    if odd == 1:
        out.append(sp.true if sign > 0 else sp.false)
    elif odd.is_Symbol and odd.is_nonnegative:
        out.append(sp.Ne(odd, 0) if sign > 0 else sp.false)
    else:
        out.append(sp.Gt(odd, 0) if sign > 0 else sp.Lt(odd, 0))
    return out


def _tidy(parts: list[sp.Basic]) -> sp.Basic:
    """And of ``parts`` without repeats and without ``f != 0`` when ``f`` is a factor of
    a strict inequality ``... > 0`` or ``... < 0`` (which implies it)."""
    if any(c == sp.false for c in parts):
        return sp.false
    strict = set()
    for c in parts:
        if isinstance(c, (sp.StrictGreaterThan, sp.StrictLessThan)):
            strict.update(sp.Mul.make_args(c.lhs))
    keep = [c for c in dict.fromkeys(parts) if not (isinstance(c, sp.Ne) and c.lhs in strict and c.rhs == 0)]
    return sp.And(*keep)


def _nonzero(expr: sp.Expr, known: Sequence[sp.Expr] = ()) -> list[sp.Basic]:
    """``expr != 0`` for a rational function (where defined): its non-definite numerator factors."""
    num, _ = sp.fraction(sp.cancel(sp.together(expr)))
    if num.is_number:
        return [sp.true if num != 0 else sp.false]
    _, factors = sp.factor_list(num)
    return [sp.Ne(f, 0) for f, _ in factors
            if not (_definitely_positive(f, known) or _definitely_positive(-f, known))]


def _regime(graph: InteractionGraph) -> list[sp.Expr]:
    """The expressions the exact regime makes positive: :math:`N_k - d - 1`, :math:`n^0_k - d - 1`."""
    d = _as_sympy(graph.dimension)
    out = [sp.expand(_as_sympy(N) - d - 1) for N in graph.total_samples]
    out += [sp.expand(_as_sympy(n) - d - 1) for n in graph.initial_samples]
    return [g for g in dict.fromkeys(out) if not g.is_number]


def exact_contraction_condition(graph: InteractionGraph, members: Sequence[int]) -> sp.Basic:
    r"""The exact condition :math:`\rho(\mathcal L_A) < 1` for one strongly connected
    component :math:`A` (``members``), as a sympy Boolean in the graph's symbols.

    Statement (``docs/exact.md`` §10): since :math:`\mathcal L_A` maps the positive
    semidefinite cone into itself and :math:`D_A \succ 0`, :math:`\rho(\mathcal L_A) < 1`
    iff :math:`I - \mathcal L_A` is invertible and the solution :math:`X_A` of
    :math:`X = \mathcal L_A(X) + \operatorname{diag}(D_A)` is positive definite, i.e.
    :math:`\det(I - \mathcal L_A) \ne 0` and every leading principal minor of :math:`X_A`
    is positive (Sylvester). Valid in the exact regime (every :math:`N_k > d + 1`). For a
    one-learner component with self-loop weight :math:`w` this is
    :math:`w^2 + \gamma(w - w^2) < 1`.

    Parameters
    ----------
    graph : InteractionGraph
        Exact (numeric or symbolic) parameters.
    members : sequence of int
        The learners of one SCC of the pattern of :math:`W`.

    Returns
    -------
    sympy.Boolean
        ``sympy.true``/``sympy.false`` for numeric graphs.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23),
    ...                   ["m=L0.real_samples"])
    >>> m = G.real_samples[0]
    >>> cond = exact_contraction_condition(G, [0])
    >>> cond, cond.subs(m, 7), cond.subs(m, 8)
    (m*(m - 7) > 0, False, True)
    """
    idx = sorted(int(k) for k in members)
    W = graph.mixing_matrix
    if len(idx) == 1 and W[idx[0], idx[0]] == 0:
        return sp.true  # L_A = 0
    noise = [graph.noise_variance, *(v for v in graph.synthetic_noise_variance if v is not None)]
    if any(_is_symbolic(v) for v in noise):
        # the verdict holds for any D > 0 (Krein-Rutman, docs/exact.md §10), and with unit
        # noise variances D stays positive and free of the noise symbols
        D = exact_noise_variance(graph.replace(noise_variance=1, synthetic_noise_variance=None))
    else:
        D = exact_noise_variance(graph)
    if len(idx) == 1:
        k = idx[0]
        w = W[k, k]
        g = design_correction(graph.total_samples[k], graph.dimension)
        return _tidy(_positive(1 - (w**2 + g * (w - w**2)), _regime(graph)))
    pairs, M = second_moment_map_matrix(graph, idx)
    dom = M.domain
    n = len(pairs)
    A = DomainMatrix.eye(n, dom).to_sparse() - M.to_sparse()
    det = A.to_dense().det()
    if not det:
        return sp.false
    rhs = {r: {0: dom.from_sympy(sp.sympify(D[k]))} for r, (k, l) in enumerate(pairs) if k == l and D[k] != 0}
    x = A.lu_solve(DomainMatrix(rhs, (n, 1), dom)).to_dense().rep.to_ddm()
    pos = {k: i for i, k in enumerate(idx)}
    a = len(idx)
    X = [[dom.zero] * a for _ in range(a)]
    for r, (k, l) in enumerate(pairs):
        X[pos[k]][pos[l]] = X[pos[l]][pos[k]] = x[r][0]
    known = _regime(graph)
    parts: list[sp.Basic] = _nonzero(dom.to_sympy(det), known)
    for i in range(1, a + 1):
        minor = DomainMatrix([row[:i] for row in X[:i]], (i, i), dom).det()
        parts += _positive(dom.to_sympy(minor), known)
    return _tidy(parts)


def exact_collapse_conditions(graph: InteractionGraph) -> tuple[dict[str, sp.Basic], dict[tuple[str, ...], sp.Basic]]:
    r"""Exact verdicts as conditions on the symbols: learner :math:`k` collapses iff some
    strongly connected component :math:`A` among its ancestors (itself included) has
    :math:`\rho(\mathcal L_A) \ge 1` (Theorem 2 of ``docs/exact.md``), each decided by
    :func:`exact_contraction_condition`.

    Parameters
    ----------
    graph : InteractionGraph
        Exact (numeric or symbolic) parameters in the exact regime.

    Returns
    -------
    collapses : dict
        Learner name -> sympy Boolean "collapses".
    contracts : dict
        Tuple of member names of every SCC with a nonzero map -> "contracts" condition.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23),
    ...                   ["m=L0.real_samples"])
    >>> m = G.real_samples[0]
    >>> collapses, _ = exact_collapse_conditions(G)
    >>> [collapses["L0"].subs(m, v) for v in (6, 7, 8)]
    [True, True, False]
    """
    check_exact_regime(graph)
    W = graph.mixing_matrix
    comps = graph.structure.component_lists()
    cond = [exact_contraction_condition(graph, A) for A in comps]
    comp_of = {k: i for i, A in enumerate(comps) for k in A}
    names = graph.names
    collapses = {}
    for k, anc in enumerate(_ancestor_sets(graph)):  # ancestors-or-self
        collapses[names[k]] = sp.Or(*[sp.Not(cond[i]) for i in sorted({comp_of[j] for j in anc})])
    contracts = {tuple(names[k] for k in A): cond[i] for i, A in enumerate(comps)
                 if not (len(A) == 1 and W[A[0], A[0]] == 0)}
    return collapses, contracts


def exact_growth_rates(graph: InteractionGraph, learners: Sequence[str] | None = None) -> dict[str, sp.Expr]:
    r"""Exact linear growth rates :math:`\lim_t R_k^{(t)}/t` as rational functions of the
    graph's numbers or symbols (``docs/exact.md`` §10).

    On the ancestor set :math:`S` of learner :math:`k`, :math:`C^{(t)} = \sum_{s<t}
    \mathcal L_S^s(D_S) + \mathcal L_S^t(C^{(0)})`. Where :math:`\rho(\mathcal L_S) = 1`
    with the eigenvalue 1 semisimple (no Jordan block: no polynomial growth), the Cesàro
    mean gives :math:`C^{(t)}/t \to P_1(D_S)`, :math:`P_1 = V(U^\top V)^{-1}U^\top` the
    spectral projector at 1 (:math:`V`, :math:`U` bases of the right and left kernels of
    :math:`I - \mathcal L_S`, computed over the field of the symbols); the rate is
    :math:`P_1(D_S)_{kk}`. Every :math:`N_j \ge 2d + 1` on the offending components
    guarantees :math:`\rho = 1` there (Theorem 3); where some ancestor component has
    :math:`\rho(\mathcal L_A) > 1` the risk grows geometrically instead and the formula does
    not apply.

    Parameters
    ----------
    graph : InteractionGraph
        Exact (numeric or symbolic) parameters in the exact regime.
    learners : sequence of str, optional
        Names to compute (default: every learner with a closed ancestor component without
        real data, i.e. those that collapse in the large-sample theory).

    Returns
    -------
    dict
        Name -> rate, for the learners whose eigenvalue 1 is semisimple and whose rate is
        nonzero (omitted: bounded learners, polynomial growth, and, for numeric graphs,
        learners with an ancestor component of radius > 1).

    Examples
    --------
    One learner trained on itself only: the risk grows by :math:`\sigma^2 d/(N - d - 1)`.

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=0, samples=12, dimension=3), ["n=L0->L0.samples"])
    >>> exact_growth_rates(G)
    {'L0': 3/(n - 4)}
    """
    check_exact_regime(graph)
    names = graph.names
    if learners is None:
        from .condition import collapse_condition

        cond = collapse_condition(graph.replace(real_samples=[
            m if not _as_sympy(m).free_symbols else sp.Integer(1) for m in graph.real_samples]))
        learners = [n for n, c in zip(names, cond.collapses) if c is True or c == sp.true]
    anc = _ancestor_sets(graph)
    D = exact_noise_variance(graph)
    out: dict[str, sp.Expr] = {}
    simplify = sp.factor if graph.is_symbolic else (lambda e: e)
    expanding: set[int] = set()  # numeric graphs: learners downstream of a radius > 1
    if not graph.is_symbolic:
        comps = graph.structure.component_lists()
        for A in comps:
            r, P = component_map_radius(graph, A)
            if _count_ge_one(P, r)[0]:
                expanding |= set(A)
    for name in learners:
        if name not in names:
            raise GraphValueError(f"learners: unknown learner {name!r}")
        k = names.index(name)
        if anc[k] & expanding:
            continue                   # geometric growth: no linear rate
        S = sorted(anc[k])
        pairs, M = second_moment_map_matrix(graph, S)
        dom = M.domain.unify(common_field([D[p] for p, q in pairs if p == q]))  # D may hold sigma^2 symbols
        M = M.convert_to(dom)
        n = len(pairs)
        A = (DomainMatrix.eye(n, dom) - M.to_dense()).to_dense()
        V = A.nullspace()              # rows: right kernel vectors
        if V.shape[0] == 0:
            continue                   # 1 is not an eigenvalue: no linear growth
        U = A.transpose().nullspace()  # rows: left kernel vectors
        UV = U * V.transpose()
        if UV.shape[0] != UV.shape[1] or UV.rank() < UV.shape[0]:
            continue                   # Jordan block at 1: polynomial growth
        dvec = DomainMatrix([[dom.from_sympy(sp.sympify(D[p])) if p == q else dom.zero] for p, q in pairs], (n, 1), dom)
        coef = UV.lu_solve(U * dvec)
        x = V.transpose() * coef
        r = pairs.index((k, k))
        rate = dom.to_sympy(x.to_dense().rep.to_ddm()[r][0])
        if rate != 0:
            out[name] = simplify(rate)
    return out
