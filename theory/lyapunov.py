r"""Exact solution of the discrete Lyapunov (Stein) equation :math:`C = W C W^\top + D`.

Statement
---------
If :math:`\rho(W) < 1` the equation has the unique solution
:math:`C = \sum_{s \ge 0} W^s D (W^s)^\top`; it is symmetric when :math:`D` is.

Method
------
Order the strongly connected components (SCCs) of the pattern of :math:`W` (an edge
:math:`j \to k` when :math:`W_{kj} \ne 0`) topologically. The block :math:`C_{AB}` of a
pair of SCCs satisfies
:math:`C_{AB} - W_{AA} C_{AB} W_{BB}^\top = D_{AB} + \sum W_{AA'} C_{A'B'} W_{BB'}^\top`,
the sum running over the pairs :math:`(A', B') \ne (A, B)` of ancestors-or-self, which are
solved before. Each block is a linear system with :math:`|A||B|` unknowns
(:math:`|A|(|A|+1)/2` on the diagonal by symmetry) over the smallest field holding the
entries (``QQ`` for rationals, ``QQ(a, b)`` for symbols). A single SCC of size :math:`K`
costs one sparse system of :math:`K(K+1)/2` unknowns instead of :math:`K^2`.

Each block system is solved exactly by :func:`graphcollapse.theory.modular.solve_modular`:
directly over ``QQ`` when it holds no symbol; with symbols, by evaluation modulo primes,
rational reconstruction and an exact polynomial check, falling back to the direct
fraction-field solve (that module states the method, why its result is exact and where it
stops scaling). A singular block (spectral radius 1 on some component) raises
:class:`~graphcollapse.theory.errors.GraphValueError`. The tuning constants pass through
as a :class:`~graphcollapse.theory.modular.ModularOptions`;
:func:`solve_lyapunov_exact_detailed` also returns the solver's counters summed over the
blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .errors import GraphValueError
from .linalg import common_field
from .modular import DEFAULT_OPTIONS, ModularOptions, ModularStats, SingularSystemError, as_expressions, solve_modular

__all__ = ["solve_lyapunov_exact", "solve_lyapunov_exact_detailed", "ExactLyapunovSolution",
           "solve_lyapunov_float", "scc_order"]


def scc_order(W: Any) -> list[list[int]]:
    """SCCs of the pattern of ``W`` (``j -> k`` when ``W[k, j] != 0``) in the topological
    order of :class:`graphcollapse.theory.structure.GraphStructure`, each sorted. For the
    mixing matrix of a graph, read ``graph.structure`` instead.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.lyapunov import scc_order
    >>> scc_order(sp.Matrix([[0, 0], [1, 0]]))
    [[0], [1]]
    """
    from .structure import GraphStructure

    K = W.shape[0]
    if isinstance(W, sp.MatrixBase):
        nonzero = list(W.todok().keys())
        rows, cols = [r for r, _ in nonzero], [c for _, c in nonzero]
    else:
        rows, cols = np.nonzero(np.asarray(W))
    S = GraphStructure(K, sources=cols, targets=rows)  # j -> k when W[k, j] != 0
    return [S.members(c).tolist() for c in range(S.num_components)]


@dataclass
class ExactLyapunovSolution:
    """The exact solution ``C`` of :math:`C = W C W^\\top + D`, the SCCs of ``W`` in the
    order their blocks were solved, and the linear solver's counters summed over the
    blocks.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.lyapunov import solve_lyapunov_exact_detailed
    >>> sol = solve_lyapunov_exact_detailed(sp.Matrix([[sp.Rational(1, 2)]]), sp.Matrix([[1]]))
    >>> sol.C, sol.components, sol.stats.symbol_free
    (Matrix([[4/3]]), [[0]], 1)
    """

    C: sp.Matrix
    components: list[list[int]]
    stats: ModularStats = field(default_factory=ModularStats)


def _block_pairs(nA: int, nB: int, symmetric: bool):
    """The unknowns of a block (index pairs; upper triangle of a diagonal block) and the
    column of the unknown X[p, q]."""
    if symmetric:
        pairs = [(i, j) for i in range(nA) for j in range(i, nA)]
        col = {pq: n for n, pq in enumerate(pairs)}
        return pairs, lambda p, q: col[(p, q) if p <= q else (q, p)]
    pairs = [(i, j) for i in range(nA) for j in range(nB)]
    col = {pq: n for n, pq in enumerate(pairs)}
    return pairs, lambda p, q: col[(p, q)]


def _block_system(Wd, A: list[int], B: list[int], R: list[list[Any]], domain: Any):
    """The linear system of X - W_AA X W_BB^T = R in the unknowns ``pairs``: (M, b, pairs)."""
    zero, one = domain.zero, domain.one
    nzA = [[(p, Wd[i][a]) for p, a in enumerate(A) if Wd[i][a]] for i in A]
    nzB = [[(q, Wd[j][b]) for q, b in enumerate(B) if Wd[j][b]] for j in B]
    pairs, key = _block_pairs(len(A), len(B), A == B)
    rows: dict[int, dict[int, Any]] = {}
    rhs: dict[int, dict[int, Any]] = {}
    for r, (i, j) in enumerate(pairs):
        row: dict[int, Any] = {r: one}
        for p, wip in nzA[i]:
            for q, wjq in nzB[j]:
                c = key(p, q)
                row[c] = row.get(c, zero) - wip * wjq
        rows[r] = {c: v for c, v in row.items() if v}
        if R[i][j]:
            rhs[r] = {0: R[i][j]}
    n = len(pairs)
    return DomainMatrix(rows, (n, n), domain), DomainMatrix(rhs, (n, 1), domain), pairs


def _solve_block(Wd, A: list[int], B: list[int], R: list[list[Any]], domain: Any, options: ModularOptions,
                 stats: ModularStats) -> list[list[Any]]:
    """Solve X - W_AA X W_BB^T = R for the block X (exact)."""
    M, b, pairs = _block_system(Wd, A, B, R, domain)
    try:
        sol = solve_modular(M, b, options)
    except SingularSystemError as exc:
        raise GraphValueError(
            "lyapunov: the equation C = W C W^T + D has no unique solution (spectral radius of W "
            "is 1 on some component); restrict it to the bounded learners"
        ) from exc
    stats.merge(sol.stats)
    x = sol.X.to_list()
    X = [[domain.zero] * len(B) for _ in range(len(A))]
    for r, (i, j) in enumerate(pairs):
        X[i][j] = x[r][0]
        if A == B:
            X[j][i] = x[r][0]
    return X


def _block_rhs(Dd, C, nz_rows, A: list[int], B: list[int]) -> list[list[Any]]:
    """D_AB plus the contributions sum W_AA' C_A'B' W_BB'^T of the blocks solved before."""
    Aset, Bset = set(A), set(B)
    R = [[Dd[i][j] for j in B] for i in A]
    for ii, i in enumerate(A):
        for jj, j in enumerate(B):
            acc = R[ii][jj]
            for p, wip in nz_rows[i]:
                p_in = p in Aset
                for q, wjq in nz_rows[j]:
                    if p_in and q in Bset:
                        continue  # the unknown block itself
                    cpq = C[p][q]
                    if cpq:
                        acc = acc + wip * wjq * cpq
            R[ii][jj] = acc
    return R


def solve_lyapunov_exact_detailed(W: sp.Matrix, D: sp.Matrix, options: ModularOptions = DEFAULT_OPTIONS,
                                  components: list[list[int]] | None = None) -> ExactLyapunovSolution:
    r"""The exact solution of :math:`C = W C W^\top + D` with the block structure and the
    linear solver's counters.

    Parameters
    ----------
    W, D : sympy.Matrix
        Square matrices of the same size with exact (rational or symbolic) entries.
    options : ModularOptions
        Tuning constants of the block solves (the defaults are the tuned values).
    components : list of list of int, optional
        The strongly connected components of the pattern of ``W`` in topological order,
        when the caller has them (e.g. ``graph.structure.components_within(B)`` for W
        restricted to an ancestor-closed set B); computed from ``W`` otherwise.

    Returns
    -------
    ExactLyapunovSolution
        ``C``, the SCCs of ``W`` in topological order and the counters of
        :class:`~graphcollapse.theory.modular.ModularStats` summed over the blocks.

    Raises
    ------
    GraphValueError
        If the solution is not unique (some SCC of W has spectral radius 1).

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.lyapunov import solve_lyapunov_exact_detailed
    >>> a, b = sp.symbols("a b")
    >>> sol = solve_lyapunov_exact_detailed(sp.Matrix([[a, b], [b, a]]) / 2, sp.eye(2))
    >>> sol.components, sol.stats.modular, sol.stats.field
    ([[0, 1]], 1, 0)
    >>> sp.simplify(sol.C - sp.Matrix([[a, b], [b, a]]) / 2 * sol.C * sp.Matrix([[a, b], [b, a]]) / 2)
    Matrix([
    [1, 0],
    [0, 1]])
    """
    K = W.shape[0]
    if W.shape != (K, K) or D.shape != (K, K):
        raise GraphValueError(f"lyapunov: expected square W and D of one size, found {W.shape} and {D.shape}")
    stats = ModularStats()
    if K == 0:
        return ExactLyapunovSolution(sp.zeros(0, 0), [], stats)
    domain = common_field(list(W) + list(D))
    Wd = [[domain.from_sympy(sp.sympify(W[i, j])) for j in range(K)] for i in range(K)]
    Dd = [[domain.from_sympy(sp.sympify(D[i, j])) for j in range(K)] for i in range(K)]
    C: list[list[Any]] = [[domain.zero] * K for _ in range(K)]
    nz_rows = [[(p, w) for p, w in enumerate(row) if w] for row in Wd]
    comps = scc_order(W) if components is None else components
    for a_pos, A in enumerate(comps):
        for B in comps[a_pos:]:
            X = _solve_block(Wd, A, B, _block_rhs(Dd, C, nz_rows, A, B), domain, options, stats)
            for ii, i in enumerate(A):
                for jj, j in enumerate(B):
                    C[i][j] = X[ii][jj]
                    C[j][i] = X[ii][jj]
    upper = [(i, j) for i in range(K) for j in range(i, K)]
    exprs = dict(zip(upper, as_expressions([C[i][j] for i, j in upper], domain)))
    Cm = sp.Matrix(K, K, lambda i, j: exprs[(i, j) if i <= j else (j, i)])
    return ExactLyapunovSolution(Cm, comps, stats)


def solve_lyapunov_exact(W: sp.Matrix, D: sp.Matrix, options: ModularOptions = DEFAULT_OPTIONS,
                         components: list[list[int]] | None = None) -> sp.Matrix:
    r"""The exact solution of :math:`C = W C W^\top + D` (:math:`\rho(W) < 1`, D symmetric).

    Parameters
    ----------
    W, D : sympy.Matrix
        Square matrices of the same size with exact (rational or symbolic) entries.
    options : ModularOptions
        Tuning constants of the block solves (the defaults are the tuned values).
    components : list of list of int, optional
        The strongly connected components of the pattern of ``W`` in topological order,
        when the caller has them (e.g. ``graph.structure.components_within(B)`` for W
        restricted to an ancestor-closed set B); computed from ``W`` otherwise.

    Returns
    -------
    sympy.Matrix
        The symmetric solution :math:`C`.

    Raises
    ------
    GraphValueError
        If the solution is not unique (some SCC of W has spectral radius 1).

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.lyapunov import solve_lyapunov_exact
    >>> a = sp.Rational(1, 2)
    >>> solve_lyapunov_exact(sp.Matrix([[a]]), sp.Matrix([[1]]))
    Matrix([[4/3]])
    >>> x = sp.Symbol("x")
    >>> solve_lyapunov_exact(sp.Matrix([[x]]), sp.Matrix([[1]]))
    Matrix([[-1/(x**2 - 1)]])

    The direct fraction-field solve, for comparison:

    >>> from graphcollapse.theory.modular import ModularOptions
    >>> solve_lyapunov_exact(sp.Matrix([[x]]), sp.Matrix([[1]]), ModularOptions(interpolate=False))
    Matrix([[-1/(x**2 - 1)]])
    """
    return solve_lyapunov_exact_detailed(W, D, options, components).C


def solve_lyapunov_float(W: Any, D: Any) -> tuple[np.ndarray, float]:
    r"""Floating-point solution of :math:`C = W C W^\top + D` with its relative residual
    :math:`\|C - W C W^\top - D\|_F / \|D\|_F` (the stated accuracy).

    Uses the doubling (Smith) iteration :math:`C \leftarrow C + A C A^\top`,
    :math:`A \leftarrow A^2`, which needs :math:`\log_2` of the number of terms
    :math:`\sum_s W^s D W^{s\top}` and only matrix products (fast on BLAS).

    Examples
    --------
    >>> import numpy as np
    >>> from graphcollapse.theory.lyapunov import solve_lyapunov_float
    >>> C, res = solve_lyapunov_float(np.array([[0.5]]), np.array([[1.0]]))
    >>> round(float(C[0, 0]), 12), res < 1e-14
    (1.333333333333, True)
    """
    A = W.toarray() if hasattr(W, "toarray") else np.array(W, dtype=float)
    Dm = D.toarray() if hasattr(D, "toarray") else np.array(D, dtype=float)
    C = Dm.copy()
    if C.size == 0:
        return C, 0.0
    for _ in range(64):
        inc = A @ C @ A.T
        C = C + inc
        if not np.isfinite(C).all():
            raise GraphValueError("lyapunov: the series diverges (spectral radius of W is at least 1)")
        if np.abs(inc).max() <= 1e-17 * max(np.abs(C).max(), 1e-300):
            break
        A = A @ A
    C = (C + C.T) / 2
    Wm = W.toarray() if hasattr(W, "toarray") else np.array(W, dtype=float)
    res = np.linalg.norm(C - Wm @ C @ Wm.T - Dm) / max(np.linalg.norm(Dm), 1e-300)
    return C, float(res)
