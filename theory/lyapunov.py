r"""Exact solution of the discrete Lyapunov equation :math:`C = W C W^\top + D`.

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
(:math:`|A|(|A|+1)/2` on the diagonal by symmetry) solved exactly by sympy's
``DomainMatrix`` over the smallest field holding the entries (``QQ`` for rationals,
``QQ(a, b)`` for symbols). A single SCC of size :math:`K` costs one sparse system of
:math:`K(K+1)/2` unknowns instead of :math:`K^2`.

With symbols, the equations of a block whose coefficients are all symbol-free (both
rows of :math:`W` involved are rational) are eliminated over ``QQ`` first, and only the
Schur complement in the remaining unknowns is solved over the fraction field
(``_schur_solve``), where the cost lies (polynomial gcds during elimination).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .errors import GraphValueError
from .linalg import common_field

__all__ = ["solve_lyapunov_exact", "solve_lyapunov_float", "scc_order"]


def scc_order(W: Any) -> list[list[int]]:
    """SCCs of the pattern of ``W`` (``j -> k`` when ``W[k, j] != 0``), sources first,
    each sorted.

    Examples
    --------
    >>> import sympy as sp
    >>> from theory.lyapunov import scc_order
    >>> scc_order(sp.Matrix([[0, 0], [1, 0]]))
    [[0], [1]]
    """
    K = W.shape[0]
    G = nx.DiGraph()
    G.add_nodes_from(range(K))
    if isinstance(W, sp.MatrixBase):
        G.add_edges_from((j, k) for k in range(K) for j in range(K) if W[k, j] != 0)
    else:
        rows, cols = np.nonzero(np.asarray(W))
        G.add_edges_from(zip(cols.tolist(), rows.tolist()))
    cond = nx.condensation(G)
    return [sorted(cond.nodes[c]["members"]) for c in nx.topological_sort(cond)]


def _solve_block(Wd, A: list[int], B: list[int], R: list[list[Any]], domain) -> list[list[Any]]:
    """Solve X - W_AA X W_BB^T = R for the block X (exact)."""
    zero, one = domain.zero, domain.one
    WA = [[Wd[i][p] for p in A] for i in A]
    WB = [[Wd[j][q] for q in B] for j in B]
    nA, nB = len(A), len(B)
    symmetric = A == B
    if symmetric:
        pairs = [(i, j) for i in range(nA) for j in range(i, nA)]
        col = {pq: n for n, pq in enumerate(pairs)}
        key = lambda p, q: col[(p, q) if p <= q else (q, p)]  # noqa: E731
    else:
        pairs = [(i, j) for i in range(nA) for j in range(nB)]
        col = {pq: n for n, pq in enumerate(pairs)}
        key = lambda p, q: col[(p, q)]  # noqa: E731
    nzA = [[(p, w) for p, w in enumerate(row) if w] for row in WA]
    nzB = [[(q, w) for q, w in enumerate(row) if w] for row in WB]
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
    M = DomainMatrix(rows, (n, n), domain)
    b = DomainMatrix(rhs, (n, 1), domain)
    try:
        x = _schur_solve(rows, rhs, n, domain)
        if x is None:
            x = M.lu_solve(b).to_dense().rep.to_ddm()
    except Exception as exc:  # NonInvertibleMatrixError and friends
        raise GraphValueError(
            "lyapunov: the equation C = W C W^T + D has no unique solution (spectral radius of W "
            "is 1 on some component); restrict it to the bounded learners"
        ) from exc
    X = [[zero] * nB for _ in range(nA)]
    for r, (i, j) in enumerate(pairs):
        X[i][j] = x[r][0]
        if symmetric:
            X[j][i] = x[r][0]
    return X


def _is_constant(v: Any, domain: Any) -> bool:
    """Whether a fraction-field element is a constant (no symbol)."""
    return v.numer.is_ground and v.denom.is_ground


def _schur_solve(rows: dict[int, dict[int, Any]], rhs: dict[int, dict[int, Any]], n: int, domain: Any):
    r"""Solve the block system by eliminating its symbol-free equations over ``QQ`` first.

    Split the unknowns by their equation rows: ``R`` (every coefficient and the right-hand
    side free of symbols) and ``S`` (the rest). With the rows of ``R`` solved over ``QQ``
    for :math:`x_R = y - Y x_S` (:math:`M_{RR} Y = M_{RS}`, :math:`M_{RR} y = r_R`), only the
    Schur complement :math:`(M_{SS} - M_{SR} Y) x_S = r_S - M_{SR} y` is solved over the
    fraction field: |S| unknowns instead of n, and the gcd-heavy field arithmetic shrinks
    accordingly. Returns ``None`` (caller falls back to the full solve) when the domain
    has no symbols, nothing or everything is symbol-free, or :math:`M_{RR}` is singular.
    """
    if not getattr(domain, "is_FractionField", False):
        return None
    const = {r: all(_is_constant(v, domain) for v in rows[r].values())
             and all(_is_constant(v, domain) for v in rhs.get(r, {}).values()) for r in range(n)}
    R = [r for r in range(n) if const[r]]
    S = [r for r in range(n) if not const[r]]
    if not R or not S or len(S) * 4 > n * 3:
        return None
    QQ = sp.QQ
    ground = domain.domain

    def to_qq(v: Any) -> Any:
        return QQ.convert_from(ground.convert(v.numer.LC if v.numer else 0), ground) / \
            QQ.convert_from(ground.convert(v.denom.LC), ground) if v else QQ.zero

    pos_R = {r: i for i, r in enumerate(R)}
    pos_S = {r: i for i, r in enumerate(S)}
    MRR: dict[int, dict[int, Any]] = {}
    MRS: dict[int, dict[int, Any]] = {}
    for r in R:
        for c, v in rows[r].items():
            if c in pos_R:
                MRR.setdefault(pos_R[r], {})[pos_R[c]] = to_qq(v)
            else:
                MRS.setdefault(pos_R[r], {})[pos_S[c]] = to_qq(v)
        if rhs.get(r):
            MRS.setdefault(pos_R[r], {})[len(S)] = to_qq(rhs[r][0])
    nR, nS = len(R), len(S)
    try:
        YY = DomainMatrix(MRR, (nR, nR), QQ).lu_solve(DomainMatrix(MRS, (nR, nS + 1), QQ))
    except Exception:
        return None
    Y = YY.to_sparse().rep  # columns 0..nS-1: Y, column nS: y
    A: dict[int, dict[int, Any]] = {}
    bS: dict[int, dict[int, Any]] = {}
    for r in S:
        i = pos_S[r]
        row: dict[int, Any] = {}
        acc = rhs.get(r, {}).get(0, domain.zero)
        for c, v in rows[r].items():
            if c in pos_S:
                row[pos_S[c]] = row.get(pos_S[c], domain.zero) + v
            else:
                for cc, yv in Y.get(pos_R[c], {}).items():
                    yd = domain.convert_from(yv, QQ)
                    if cc == nS:
                        acc = acc - v * yd
                    else:
                        row[cc] = row.get(cc, domain.zero) - v * yd
        A[i] = {c: v for c, v in row.items() if v}
        if acc:
            bS[i] = {0: acc}
    xS = DomainMatrix(A, (nS, nS), domain).lu_solve(DomainMatrix(bS, (nS, 1), domain)).to_dense().rep.to_ddm()
    x = [[domain.zero] for _ in range(n)]
    for r in S:
        x[r][0] = xS[pos_S[r]][0]
    for r in R:
        yr = Y.get(pos_R[r], {})
        acc = domain.convert_from(yr[nS], QQ) if nS in yr else domain.zero
        for cc, yv in yr.items():
            if cc != nS:
                acc = acc - domain.convert_from(yv, QQ) * xS[cc][0]
        x[r][0] = acc
    return x


def solve_lyapunov_exact(W: sp.Matrix, D: sp.Matrix) -> sp.Matrix:
    r"""The exact solution of :math:`C = W C W^\top + D` (:math:`\rho(W) < 1`, D symmetric).

    Parameters
    ----------
    W, D : sympy.Matrix
        Square matrices of the same size with exact (rational or symbolic) entries.

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
    >>> from theory.lyapunov import solve_lyapunov_exact
    >>> a = sp.Rational(1, 2)
    >>> solve_lyapunov_exact(sp.Matrix([[a]]), sp.Matrix([[1]]))
    Matrix([[4/3]])
    >>> x = sp.Symbol("x")
    >>> solve_lyapunov_exact(sp.Matrix([[x]]), sp.Matrix([[1]]))
    Matrix([[-1/(x**2 - 1)]])
    """
    K = W.shape[0]
    if W.shape != (K, K) or D.shape != (K, K):
        raise GraphValueError(f"lyapunov: expected square W and D of one size, found {W.shape} and {D.shape}")
    if K == 0:
        return sp.zeros(0, 0)
    domain = common_field(list(W) + list(D))
    Wd = [[domain.from_sympy(sp.sympify(W[i, j])) for j in range(K)] for i in range(K)]
    Dd = [[domain.from_sympy(sp.sympify(D[i, j])) for j in range(K)] for i in range(K)]
    zero = domain.zero
    C: list[list[Any]] = [[zero] * K for _ in range(K)]
    nz_rows = [[(p, w) for p, w in enumerate(row) if w] for row in Wd]
    comps = scc_order(W)
    for a_pos, A in enumerate(comps):
        Aset = set(A)
        for B in comps[a_pos:]:
            Bset = set(B)
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
            X = _solve_block(Wd, A, B, R, domain)
            for ii, i in enumerate(A):
                for jj, j in enumerate(B):
                    C[i][j] = X[ii][jj]
                    C[j][i] = X[ii][jj]
    out = sp.Matrix(K, K, lambda i, j: domain.to_sympy(C[i][j]))
    return out


def solve_lyapunov_float(W: Any, D: Any) -> tuple[np.ndarray, float]:
    r"""Floating-point solution of :math:`C = W C W^\top + D` with its relative residual
    :math:`\|C - W C W^\top - D\|_F / \|D\|_F` (the stated accuracy).

    Uses the doubling (Smith) iteration :math:`C \leftarrow C + A C A^\top`,
    :math:`A \leftarrow A^2`, which needs :math:`\log_2` of the number of terms
    :math:`\sum_s W^s D W^{s\top}` and only matrix products (fast on BLAS).

    Examples
    --------
    >>> import numpy as np
    >>> from theory.lyapunov import solve_lyapunov_float
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
