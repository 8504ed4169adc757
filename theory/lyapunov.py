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

Rational blocks (domain ``QQ``) are solved directly over ``QQ``.

Blocks with symbols (``_interp_solve``) are not eliminated over the fraction field, whose
polynomial gcds made that route explode (K = 8 on a two-symbol cycle took 47 s).
Instead, with :math:`M(s) x = r(s)` the block system in the symbols :math:`s`:

1. *Evaluation.* At a point :math:`s_0` of :math:`\mathrm{GF}(p)^m` (``p`` a prime below
   :math:`2^{31}`) the system is a numeric one; thousands of points are solved at once
   by vectorised Gaussian elimination mod ``p`` along a precomputed fill pattern. A point
   where an entry's denominator or a pivot vanishes is *unlucky*: it is marked and
   skipped, never used.
2. *Degrees.* Along one random line per symbol: the degree of :math:`Q`, the lcm of the
   solution's denominators, and of the numerators :math:`N_e = x_e Q` (from rational
   reconstruction of a random combination of the unknowns). They size a tensor grid.
3. *Nested reconstruction* (``_recon``). For each grid point of the other symbols, the
   innermost symbol's values give :math:`Q` (monic in that symbol) by rational
   reconstruction of a random combination of the unknowns (extended Euclid, confirmed at
   extra points) and every :math:`N_e` by interpolation. Their coefficients are rational
   functions of the remaining symbols, reconstructed the same way, recursively. Grid
   lines whose denominator degree drops below the largest seen, or whose numerators
   exceed the degree bound, are unlucky and skipped. The result is :math:`Q` and the
   :math:`N_e` modulo ``p`` in a canonical normalisation (lex-leading coefficient of
   :math:`Q` equal to 1), hence the same for every good prime.
4. *Chinese remaindering* over several primes and rational reconstruction of every
   coefficient (with 20 bits of slack and a shared denominator learnt from the
   coefficients that reconstruct first), until the reconstruction from the earlier
   primes holds modulo a new prime (or, the first time, at once).
5. *Exact check.* With row denominators cleared, :math:`M N = Q r` is verified as a
   polynomial identity over ``ZZ``. Since some evaluation point had every pivot nonzero,
   :math:`\det M \ne 0`, so :math:`x = N / Q` is then *the* solution: the result is
   exact whatever happened in the probabilistic steps, which only decide how fast it
   is found. Each entry :math:`N_e / Q` is finally reduced by one polynomial gcd.

If any step fails (too many unlucky points, a structure change between primes, a failed
exact check, no symbol in the block, a domain other than ``QQ``/``ZZ`` fractions), the
block falls back to the direct field solve: the Schur step (symbol-free equations
eliminated over ``QQ`` first, ``_schur_solve``) and LU over the fraction field, which
also raises the error for a singular system.

Where it stops scaling: the number of evaluation points is the product over the
symbols of about (deg Q + deg N + 2) per symbol (dense in each symbol, however sparse the
answer), times the number of primes, which grows with the coefficient size (about 30
bits per prime). Three symbols with coefficients of some 200 bits (ring-plus family,
K = 9: 11 primes, 117 000 points of a 45-unknown system) take about 12 s; the cost
also grows with the size of the output itself (converting, gcd-reducing and checking
rational functions of hundreds of terms per entry).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import sympy as sp
from sympy.polys.domains import ZZ
from sympy.polys.galoistools import gf_div, gf_eval, gf_mul, gf_sub
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
    >>> from graphcollapse.theory.lyapunov import scc_order
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
    constant_before = INTERP_STATS.get("blocks_constant", 0)
    x = _interp_solve(rows, rhs, n, domain) if _USE_INTERP else None
    if x is None and getattr(domain, "is_FractionField", False) \
            and INTERP_STATS.get("blocks_constant", 0) == constant_before:
        _stat("blocks_field")  # a symbolic block solved over the field (fallback)
    try:
        if x is None:
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


# --------------------------------------------------------------------------------------
# Symbolic blocks by evaluation and interpolation (see the module docstring, "Method").
# --------------------------------------------------------------------------------------

#: Counters of the last ``solve_lyapunov_exact`` call (read by the tests and the
#: benchmark): symbolic blocks solved by interpolation and by the field fallback, primes,
#: evaluation points, unlucky (skipped) points, retries, failed exact checks.
INTERP_STATS: dict[str, Any] = {}

#: Whether symbolic blocks go through evaluation/interpolation (tests switch it off to
#: compare with the direct field solve).
_USE_INTERP = True


def _stat(key: str, inc: int = 1) -> None:
    INTERP_STATS[key] = INTERP_STATS.get(key, 0) + inc


class _Unlucky(Exception):
    """A prime or grid that cannot be used (a coefficient denominator vanishes mod p, or
    too many evaluation points were unlucky); the caller draws another."""


def _prime_source():
    """Primes below 2**31 (products of two residues fit in int64), largest first."""
    p = 2**31 - 1
    while True:
        yield p
        p = int(sp.prevprime(p))


def _grid_values(rng, count: int, p: int, var: int) -> list[int]:
    """``count`` distinct random residues mod ``p`` for the evaluation grid of one symbol
    (a hook: the tests put singular points into the grid through it)."""
    out: list[int] = []
    seen: set[int] = set()
    while len(out) < count:
        v = rng.randrange(2, p - 1)
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _inv_mod(x: np.ndarray, p: int) -> np.ndarray:
    """Elementwise inverse mod ``p`` of an int64 array (zeros give zeros): a product tree
    (pairwise products up, one scalar inverse at the root, back down), about 2 log2(size)
    vector operations instead of the 60 of Fermat's exponentiation."""
    flat = x.ravel() % p
    if flat.size <= 64:
        return np.array([pow(v, -1, p) if v else 0 for v in flat.tolist()], dtype=np.int64).reshape(x.shape)
    zero = flat == 0
    a = np.where(zero, 1, flat)
    levels = []
    while a.size > 1:
        if a.size % 2:
            a = np.append(a, 1)
        levels.append(a)
        a = a[0::2] * a[1::2] % p
    inv = np.array([pow(int(a[0]), -1, p)], dtype=np.int64)
    for a in reversed(levels):
        inv = inv[:a.size // 2]  # drop the inverse of a padding 1
        out = np.empty_like(a)
        out[0::2] = inv * a[1::2] % p
        out[1::2] = inv * a[0::2] % p
        inv = out
    inv = inv[:flat.size]
    inv[zero] = 0
    return inv.reshape(x.shape)


def _matmul_mod(A: np.ndarray, B: np.ndarray, p: int) -> np.ndarray:
    """``A @ B mod p`` for residues below 2**31 without int64 overflow (B split in 16-bit
    halves; needs fewer than 2**15 inner terms)."""
    lo = B & 0xFFFF
    hi = B >> 16
    return ((A @ hi) % p * 65536 + (A @ lo)) % p


def _fill_pattern(struct: list[set[int]], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Symbolic Gaussian elimination (no pivoting) of the pattern: for each step k, the
    rows below k with an entry in column k and the columns right of k in row k."""
    S = [set(s) for s in struct]
    colrows: dict[int, set[int]] = {}
    for i, s in enumerate(S):
        for c in s:
            colrows.setdefault(c, set()).add(i)
    steps = []
    for k in range(n):
        rows = sorted(i for i in colrows.get(k, ()) if i > k)
        cols = sorted(c for c in S[k] if c > k)
        for i in rows:
            for c in cols:
                if c not in S[i]:
                    S[i].add(c)
                    colrows.setdefault(c, set()).add(i)
        steps.append((np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)))
    return steps


def _batched_solve(A: np.ndarray, steps, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Solve many systems mod ``p`` at once. ``A`` has shape (P, n, n + r) (right-hand
    sides last) and is overwritten. Elimination follows the precomputed pattern without
    pivoting; a point whose pivot vanishes is marked invalid (``valid`` false) and its
    result is garbage. Returns (X of shape (P, n, r), valid)."""
    P, _, width = A.shape
    r = width - n
    valid = np.ones(P, dtype=bool)
    rhs = np.arange(n, width, dtype=np.intp)
    for k, (rows, cols) in enumerate(steps):
        piv = A[:, k, k]
        zero = piv == 0
        if zero.any():
            valid &= ~zero
            piv = np.where(zero, 1, piv)
        inv = _inv_mod(piv, p)
        ck = np.concatenate([cols, rhs])
        rowk = A[:, k, ck] * inv[:, None] % p
        A[:, k, ck] = rowk
        if len(rows):
            f = A[:, rows, k]
            idx = (slice(None), rows[:, None], ck[None, :])
            A[idx] = (A[idx] - f[:, :, None] * rowk[:, None, :]) % p
    X = np.zeros((P, n, r), dtype=np.int64)
    for k in range(n - 1, -1, -1):
        cols = steps[k][1]
        acc = A[:, k, n:]
        if len(cols):
            prod = A[:, k, cols][:, :, None] * X[:, cols, :] % p
            acc = (acc - prod.sum(axis=1)) % p
        X[:, k, :] = acc
    return X, valid


class _ModSystem:
    """The block system ``M x = r`` (entries of a rational function field) prepared for
    evaluation at many points modulo primes."""

    def __init__(self, rows, rhs, n: int, domain: Any):
        self.n = n
        self.domain = domain
        nv = len(domain.symbols)
        self.entries = []  # (row, col, numer terms, denom terms); col n is the rhs
        active: set[int] = set()
        for r, row in rows.items():
            for c, v in row.items():
                self.entries.append((r, c, list(v.numer.terms()), list(v.denom.terms())))
        for r, d in rhs.items():
            if d.get(0):
                v = d[0]
                self.entries.append((r, n, list(v.numer.terms()), list(v.denom.terms())))
        self.maxdeg = [0] * nv
        for _, _, nt, dt in self.entries:
            for monom, _c in nt + dt:
                for i, e in enumerate(monom):
                    if e:
                        active.add(i)
                        self.maxdeg[i] = max(self.maxdeg[i], e)
        self.active = sorted(active)
        struct = [set() for _ in range(n)]
        for r, c, _, _ in self.entries:
            if c < n:
                struct[r].add(c)
        for r in range(n):
            struct[r].add(r)
        self.steps = _fill_pattern(struct, n)
        self._coef_cache: dict[int, list] = {}

    def _coefs(self, p: int):
        """Entry coefficients reduced mod p (raises _Unlucky if a denominator vanishes)."""
        if p in self._coef_cache:
            return self._coef_cache[p]

        ground = self.domain.domain

        def red(c) -> int:
            num, den = int(ground.numer(c)), int(ground.denom(c))
            if den % p == 0:
                raise _Unlucky
            return num * pow(den, -1, p) % p

        out = [(r, c, [(m, red(k)) for m, k in nt], [(m, red(k)) for m, k in dt])
               for r, c, nt, dt in self.entries]
        self._coef_cache = {p: out}
        return out

    def evaluate(self, pts: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Solutions x (P, n) mod p at the points (P, nv) and the validity mask: a point is
        invalid when an entry's denominator or a pivot vanishes there."""
        n = self.n
        P = pts.shape[0]
        coefs = self._coefs(p)
        budget = 48 * 2**20
        chunk = max(1, budget // (8 * n * (n + 1)))
        X = np.zeros((P, n), dtype=np.int64)
        valid = np.ones(P, dtype=bool)
        for s in range(0, P, chunk):
            sl = slice(s, min(P, s + chunk))
            pc = pts[sl]
            m = pc.shape[0]
            pw = {}
            for i in self.active:
                col = pc[:, i] % p
                tab = [np.ones(m, dtype=np.int64), col]
                for _ in range(2, self.maxdeg[i] + 1):
                    tab.append(tab[-1] * col % p)
                pw[i] = tab

            def ev(terms):
                acc = np.zeros(m, dtype=np.int64)
                for monom, cp in terms:
                    t = np.full(m, cp, dtype=np.int64)
                    for i, e in enumerate(monom):
                        if e:
                            t = t * pw[i][e] % p
                    acc += t
                return acc % p

            A = np.zeros((m, n, n + 1), dtype=np.int64)
            ok = np.ones(m, dtype=bool)
            for r, c, nt, dt in coefs:
                num = ev(nt)
                if len(dt) == 1 and not any(dt[0][0]):
                    if dt[0][1] == 0:
                        raise _Unlucky
                    A[:, r, c] = (A[:, r, c] + num * pow(dt[0][1], -1, p)) % p
                    continue
                den = ev(dt)
                ok &= den != 0
                A[:, r, c] = (A[:, r, c] + num * _inv_mod(den, p)) % p
            Xc, vc = _batched_solve(A, self.steps, n, p)
            X[sl] = Xc[:, :, 0]
            valid[sl] = ok & vc
        return X, valid


# ---- univariate polynomials mod p: lists of coefficients, lowest degree first ----------

# thin adapters to sympy's galoistools (which keeps the highest degree first)
def _pstrip(f: list[int]) -> list[int]:
    while f and f[-1] == 0:
        f.pop()
    return f


def _peval(f: list[int], x: int, p: int) -> int:
    return gf_eval(f[::-1], x, p, ZZ)


def _pmul(f: list[int], g: list[int], p: int) -> list[int]:
    return gf_mul(f[::-1], g[::-1], p, ZZ)[::-1]


def _psub(f: list[int], g: list[int], p: int) -> list[int]:
    return gf_sub(f[::-1], g[::-1], p, ZZ)[::-1]


def _pdivmod(f: list[int], g: list[int], p: int) -> tuple[list[int], list[int]]:
    q, r = gf_div(f[::-1], g[::-1], p, ZZ)
    return q[::-1], r[::-1]


def _pinterp(xs: list[int], ys: list[int], p: int) -> list[int]:
    """Newton interpolation: the polynomial of degree < len(xs) through the points."""
    m = len(xs)
    c = [y % p for y in ys]
    for j in range(1, m):
        for i in range(m - 1, j - 1, -1):
            c[i] = (c[i] - c[i - 1]) * pow(xs[i] - xs[i - j], -1, p) % p
    f = [c[m - 1]]
    for i in range(m - 2, -1, -1):
        f = _pmul(f, [-xs[i] % p, 1], p) if any(f) else []
        f = _padd_const(f, c[i], p)
    return _pstrip(f)


def _padd_const(f: list[int], c: int, p: int) -> list[int]:
    f = list(f) or [0]
    f[0] = (f[0] + c) % p
    return _pstrip(f)


def _ratrecon(xs: list[int], ys: list[int], p: int, ncheck: int = 2):
    """The reduced rational function n/d (d monic) through the points, found by the
    extended Euclidean algorithm on the interpolant of all but ``ncheck`` points and
    confirmed at the remaining ``ncheck`` points; None if no candidate passes."""
    m = len(xs) - ncheck
    if m < 1:
        return None
    F = _pinterp(xs[:m], ys[:m], p)
    M = [1]
    for x in xs[:m]:
        M = _pmul(M, [-x % p, 1], p)
    r0, r1 = M, F
    t0: list[int] = []
    t1 = [1]
    cx, cy = xs[m:], ys[m:]
    while True:
        ok = True
        for x, y in zip(cx, cy):
            tv = _peval(t1, x, p)
            if tv == 0 or _peval(r1, x, p) != y * tv % p:
                ok = False
                break
        if ok and t1:
            inv = pow(t1[-1], -1, p)
            return [c * inv % p for c in r1], [c * inv % p for c in t1]
        if not r1:
            return None
        q, r = _pdivmod(r0, r1, p)
        r0, r1 = r1, r
        t0, t1 = t1, _psub(t0, _pmul(q, t1, p), p)


_VINV_CACHE: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}


def _vandermonde_inverse(xs: list[int], p: int) -> np.ndarray:
    """Inverse of the Vandermonde matrix (rows: points, columns: powers) mod p, from the
    Lagrange basis: column i holds the coefficients of prod_{j != i} (x - x_j) divided by
    prod_{j != i} (x_i - x_j)."""
    key = (p, tuple(xs))
    if key not in _VINV_CACHE:
        m = len(xs)
        x = np.array(xs, dtype=np.int64) % p
        Mx = [1]  # prod (x - x_j), lowest degree first
        for v in xs:
            Mx = _pmul(Mx, [-v % p, 1], p)
        Mx = Mx + [0] * (m + 1 - len(Mx))
        Q = np.zeros((m, m), dtype=np.int64)  # Q[j, i]: coefficient j of M / (x - x_i)
        Q[m - 1] = 1
        for d in range(m - 1, 0, -1):
            Q[d - 1] = (Mx[d] + x * Q[d]) % p
        w = np.ones(m, dtype=np.int64)
        for jj in range(m):
            diff = (x - x[jj]) % p
            diff[jj] = 1
            w = w * diff % p
        if not w.all():
            raise _Unlucky
        inv = _inv_mod(w, p)
        if len(_VINV_CACHE) > 256:
            _VINV_CACHE.clear()
        _VINV_CACHE[key] = Q * inv[None, :] % p
    return _VINV_CACHE[key]


def _interp_columns(xs: list[int], Y: np.ndarray, p: int) -> np.ndarray:
    """Coefficients (lowest first) of the polynomials through the columns of Y."""
    return _matmul_mod(_vandermonde_inverse(xs, p), Y, p)


def _powers(xs: list[int], d: int, p: int) -> np.ndarray:
    """Matrix of x**j mod p (rows: points, columns j = 0..d)."""
    out = np.ones((len(xs), d + 1), dtype=np.int64)
    col = np.array(xs, dtype=np.int64) % p
    for j in range(1, d + 1):
        out[:, j] = out[:, j - 1] * col % p
    return out


_DENSE_PATTERNS: dict[int, list] = {}


def _batch_ratrecon(xs: list[int], Yf: np.ndarray, dn: int, dq: int, p: int):
    """Rational reconstruction of many fibres at once when the degrees are known: solve
    n(x_k) - y_k d(x_k) = 0 (d monic of degree dq, deg n <= dn) at the first dn + dq + 1
    points as one batched linear system mod p, confirm at the remaining points. Returns
    (denominators (F, dq + 1), ok mask (F,)); fibres not ok are left to the scalar
    method."""
    F, m = Yf.shape
    u = dn + 1 + dq
    Pw = _powers(xs, max(dn, dq), p)
    A = np.zeros((F, u, u + 1), dtype=np.int64)
    A[:, :, :dn + 1] = Pw[None, :u, :dn + 1]
    A[:, :, dn + 1:u] = (-Yf[:, :u, None] * Pw[None, :u, :dq]) % p
    A[:, :, u] = Yf[:, :u] * Pw[None, :u, dq] % p
    if u not in _DENSE_PATTERNS:
        _DENSE_PATTERNS[u] = _fill_pattern([set(range(u)) for _ in range(u)], u)
    X, ok = _batched_solve(A, _DENSE_PATTERNS[u], u, p)
    X = X[:, :, 0]
    num = X[:, :dn + 1]
    den = np.concatenate([X[:, dn + 1:], np.ones((F, 1), dtype=np.int64)], axis=1)
    rest = Pw[u:]
    if len(rest):
        nv = _matmul_mod(num, rest[:, :dn + 1].T.copy(), p)
        dv = _matmul_mod(den, rest[:, :dq + 1].T.copy(), p)
        ok &= np.all(nv == Yf[:, u:] * dv % p, axis=1) & np.all(dv != 0, axis=1)
    return den, ok


def _recon(V: np.ndarray, valid: np.ndarray, xs: list[list[int]], bounds: list[int], p: int, rng):
    """Dense nested reconstruction of the vector of rational functions f_e(v_1..v_k) from
    its values ``V`` (shape m_1 x ... x m_k x E) on a tensor grid (``valid`` masks the
    unlucky points). Along v_1, for every grid point of (v_2..v_k): the denominator Q of
    a random combination of the f_e (their lcm, monic in v_1) by rational reconstruction,
    then the numerators f_e * Q by interpolation; their coefficients are rational
    functions of (v_2..v_k), reconstructed the same way. A fibre whose denominator degree
    is below the largest seen, or whose numerators exceed the degree bound, is unlucky
    and skipped. Returns (Q, [P_e]) as dicts exponent-tuple -> residue, with
    f_e = P_e / Q and Q's lex-leading coefficient 1, or raises _Unlucky."""
    k = len(xs)
    m1 = V.shape[0]
    E = V.shape[-1]
    outer = V.shape[1:-1]
    bound = bounds[0]
    x1 = xs[0]
    weights = np.array([rng.randrange(1, p) for _ in range(E)], dtype=np.int64)
    Y = (V % p * weights % p).sum(axis=-1) % p  # shape (m1,) + outer
    Yf = Y.reshape(m1, -1).T  # (F, m1), fibres in C order of the outer grid
    Vf = V.reshape(m1, -1, E)
    validf = valid.reshape(m1, -1).T
    F = Yf.shape[0]
    full = validf.all(axis=1)
    dens: dict[int, list[int]] = {}
    # scalar reconstruction on a few full fibres gives the degrees; then all at once
    probe = [int(f) for f in np.nonzero(full)[0][:2]]
    dn = dq = -1
    for f in probe:
        rr = _ratrecon(x1, [int(v) for v in Yf[f]], p, ncheck=1)
        if rr is not None:
            dens[f] = rr[1]
            dn, dq = max(dn, len(rr[0]) - 1), max(dq, len(rr[1]) - 1)
    rest = [f for f in range(F) if f not in dens]
    batch = [f for f in rest if full[f]] if dq >= 0 and dn + dq + 2 <= m1 else []
    if batch:
        den, ok = _batch_ratrecon(x1, Yf[batch], max(dn, 0), dq, p)
        for i in np.nonzero(ok)[0].tolist():
            dens[batch[i]] = den[i]
    for f in rest:
        if f in dens:
            continue
        idx = [i for i in range(m1) if validf[f, i]]
        if len(idx) < bound + 2:
            continue
        rr = _ratrecon([x1[i] for i in idx], [int(Yf[f, i]) for i in idx], p, ncheck=1)
        if rr is not None:
            dens[f] = rr[1]
    if not dens:
        raise _Unlucky
    dQ = max(len(d) - 1 for d in dens.values())
    good = [f for f in range(F) if f in dens and len(dens[f]) - 1 == dQ]
    width = dQ + E * (bound + 1)
    G = np.zeros((F, width), dtype=np.int64)
    gvalid = np.zeros(F, dtype=bool)
    groups: dict[tuple[int, ...], list[int]] = {}
    everything = tuple(range(m1))
    for f in good:
        idx = everything if full[f] else tuple(np.nonzero(validf[f])[0].tolist())
        groups.setdefault(idx, []).append(f)
    for idx, group in groups.items():
        pts = [x1[i] for i in idx]
        D = np.array([dens[f] for f in group], dtype=np.int64)  # (g, dQ + 1)
        Qv = _matmul_mod(D, _powers(pts, dQ, p).T.copy(), p)  # (g, len(idx))
        vals = Vf[list(idx)][:, group, :] % p * Qv.T[:, :, None] % p  # (len(idx), g, E)
        C = _interp_columns(pts, vals.reshape(len(idx), -1), p).reshape(len(idx), len(group), E)
        if len(idx) > bound + 1:  # numerator degree above the bound: unlucky fibre
            keep = ~np.any(C[bound + 1:], axis=(0, 2))
        else:
            keep = np.ones(len(group), dtype=bool)
        sel = np.array(group, dtype=np.intp)[keep]
        if not len(sel):
            continue
        gvalid[sel] = True
        G[sel, :dQ] = D[keep, :dQ]
        G[sel, dQ:] = C[:bound + 1][:, keep, :].transpose(1, 2, 0).reshape(len(sel), -1)
    s1 = max(dQ, bound) + 1
    if k == 1:
        if not gvalid[0]:
            raise _Unlucky
        Qt = np.zeros(s1, dtype=np.int64)
        Qt[:dQ] = G[0, :dQ]
        Qt[dQ] = 1
        Pt = np.zeros((E, s1), dtype=np.int64)
        Pt[:, :bound + 1] = G[0, dQ:].reshape(E, bound + 1)
        return Qt, Pt
    R, S = _recon(G.reshape(tuple(outer) + (width,)), gvalid.reshape(outer), xs[1:], bounds[1:], p, rng)
    inner = R.shape
    Qt = np.zeros((s1,) + inner, dtype=np.int64)
    Qt[dQ] = R
    Qt[:dQ] = S[:dQ]
    Pt = np.zeros((E, s1) + inner, dtype=np.int64)
    Pt[:, :bound + 1] = S[dQ:].reshape((E, bound + 1) + inner)
    return Qt, Pt


def _pilot_degrees(sysm: _ModSystem, p: int, rng) -> dict[int, tuple[int, int]]:
    """For each symbol v of the block: (deg_v Q, max_e deg_v N_e) with Q the lcm of the
    solution's denominators and N_e = x_e Q, read along one random line in v (generic
    with high probability; the final exact check guards the rest). The lines of all
    symbols are evaluated together; a line too short for its degrees is redrawn twice as
    long."""
    nv = len(sysm.domain.symbols)
    out: dict[int, tuple[int, int]] = {}
    T = {v: 16 for v in sysm.active}
    while len(out) < len(T):
        todo = [v for v in T if v not in out]
        if max(T[v] for v in todo) > 4096:
            raise _Unlucky
        lines, rows = {}, []
        for v in todo:
            base = [rng.randrange(2, p - 1) for _ in range(nv)]
            vals = _grid_values(rng, T[v], p, v)
            lines[v] = (len(rows), vals)
            rows += [[vals[t] if i == v else base[i] for i in range(nv)] for t in range(T[v])]
        Xall, okall = sysm.evaluate(np.array(rows, dtype=np.int64), p)
        w = np.array([rng.randrange(1, p) for _ in range(sysm.n)], dtype=np.int64)
        for v in todo:
            start, vals = lines[v]
            X, ok = Xall[start:start + T[v]], okall[start:start + T[v]]
            keep = [t for t in range(T[v]) if ok[t]]
            y = (X % p * w % p).sum(axis=1) % p
            rr = _ratrecon([vals[t] for t in keep], [int(y[t]) for t in keep], p, ncheck=3)
            if rr is None or len(rr[0]) + len(rr[1]) + 4 > len(keep):
                T[v] *= 2
                continue
            den = rr[1]
            xk = [vals[t] for t in keep]
            qv = np.array([_peval(den, x, p) for x in xk], dtype=np.int64)
            C = _interp_columns(xk, X[keep] % p * qv[:, None] % p, p)
            nz = np.nonzero(C.any(axis=1))[0]
            dN = int(nz[-1]) if len(nz) else 0
            if dN + 3 > len(keep):
                T[v] *= 2
                continue
            out[v] = (len(den) - 1, dN)
    return out


def _ratrec_int(a: int, m: int):
    """Rational reconstruction (Wang): n/d = a mod m with |n|, d <= sqrt(m/2), or None."""
    from math import gcd, isqrt

    bound = isqrt(m // 2)
    r0, r1 = m, a % m
    t0, t1 = 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    if t1 == 0 or abs(t1) > bound or gcd(r1, abs(t1)) != 1:
        return None
    if t1 < 0:
        r1, t1 = -r1, -t1
    return r1, t1


def _ratrec_all(residues: list[int], modulus: int):
    """Rational reconstruction of every residue, or None if one fails. The coefficients
    share most of their denominator: a sample is reconstructed by Wang's balanced method,
    ``lam`` is the lcm of the denominators found, and every coefficient is then tried as
    ``s / lam`` with ``s`` the symmetric residue of ``a * lam``. That needs about half the
    modulus of balanced reconstruction of every coefficient; the few that miss get the
    balanced method. Every result must be small with 20 bits of slack (n * d, or s for
    the given ``lam``, below modulus / 2**20): a residue that is not the image of such a
    fraction passes with probability about 2**-19, and a wrong coefficient is in any case
    caught by the checks that follow."""
    from math import gcd

    small = modulus >> 20

    def balanced(a: int):
        rr = _ratrec_int(a, modulus)
        return rr if rr is not None and abs(rr[0]) * rr[1] <= small else None

    keys = range(len(residues))
    lam = 1
    for key in list(keys[:8]) + list(keys[8::max(1, len(keys) // 64)]):
        rr = balanced(residues[key])
        if rr is not None:
            lam = lam * rr[1] // gcd(lam, rr[1])
    half = modulus // 2
    out = {}
    pending = keys
    for _round in range(3):
        missed = []
        tries = 0
        for key in pending:
            a = residues[key]
            s = a * lam % modulus
            if s > half:
                s -= modulus
            if abs(s) <= small:
                g = gcd(s, lam)
                out[key] = (s // g, lam // g)
                continue
            tries += 1
            rr = balanced(a) if tries <= 256 else None
            if rr is None:
                missed.append(key)
                continue
            out[key] = rr
            lam = lam * rr[1] // gcd(lam, rr[1])
        if not missed:
            return [out[key] for key in keys]
        if len(missed) == len(pending):
            return None
        pending = missed
    return None


def _interp_solve(rows, rhs, n: int, domain: Any, seed: int = 20240601):
    r"""Solve the block system over the rational function field ``domain`` by evaluation
    modulo primes, dense nested rational reconstruction, Chinese remaindering and rational
    number reconstruction, then an exact check of :math:`M P = Q r` as polynomials.

    Returns the solution (list of one-element lists of field elements) or ``None`` when
    the route does not apply or does not succeed (the caller then solves over the field).
    """
    import random

    if not getattr(domain, "is_FractionField", False) or domain.domain not in (sp.ZZ, sp.QQ):
        return None
    sysm = _ModSystem(rows, rhs, n, domain)
    retries = 0
    if not sysm.active:
        _stat("blocks_constant")  # no symbol in this block: the field solve is cheap
        return None
    rng = random.Random(seed)
    primes = _prime_source()
    ring = domain.field.ring
    nv = len(domain.symbols)
    residues: list[int] = []
    modulus = 1
    shape = None
    margin = 0
    recon: list[tuple[int, int]] | None = None
    degrees = None
    from math import lcm

    full = [0] * nv

    def exact(recon):
        """The polynomials Q, P_e over ZZ (coefficient denominators cleared) if every
        equation M P = Q r holds as a polynomial identity, else None."""
        L = 1
        for nd in recon:
            L = lcm(L, nd[1])

        def to_poly(start: int, shape: tuple) -> Any:
            terms = {}
            for i in range(int(np.prod(shape))):
                num, den = recon[start + i]
                if num:
                    mon = np.unravel_index(i, shape)
                    e = list(full)
                    for j, v in enumerate(order):
                        e[v] = int(mon[j])
                    terms[tuple(e)] = ring.domain.convert(num * (L // den))
            return ring.from_dict(terms) if terms else ring.zero

        qshape = shape[0]
        size = int(np.prod(qshape))
        Qp = to_poly(0, qshape)
        Pp = [to_poly(size * (1 + e), qshape) for e in range(n)]
        for r in range(n):
            items = list(rows.get(r, {}).items())
            rv = rhs.get(r, {}).get(0)
            Lr = ring.one
            for d in [v.denom for _, v in items] + ([rv.denom] if rv else []):
                Lr = Lr.lcm(d)
            acc = ring.zero
            for c, v in items:
                acc += v.numer * Lr.exquo(v.denom) * Pp[c]
            if rv:
                acc -= rv.numer * Lr.exquo(rv.denom) * Qp
            if acc:
                _stat("check_failed")
                return None
        return Qp, Pp

    sol = None
    tried_early = False
    for attempt in range(64):
        p = next(primes)
        try:
            if degrees is None:
                degrees = _pilot_degrees(sysm, p, rng)
                # innermost the symbol of the smallest grid
                order = sorted(sysm.active, key=lambda v: degrees[v][0] + max(degrees[v]))
            bounds = [max(degrees[v]) + margin for v in order]
            sizes = [degrees[v][0] + max(degrees[v]) + 2 + 2 * margin for v in order]
            xs = [_grid_values(rng, sizes[i], p, v) for i, v in enumerate(order)]
            grid = np.stack(np.meshgrid(*[np.array(x, dtype=np.int64) for x in xs], indexing="ij"), axis=-1)
            flat = grid.reshape(-1, len(order))
            pts = np.zeros((flat.shape[0], nv), dtype=np.int64)
            for i, v in enumerate(order):
                pts[:, v] = flat[:, i]
            X, ok = sysm.evaluate(pts, p)
            _stat("points", int(flat.shape[0]))
            _stat("invalid_points", int((~ok).sum()))
            if not ok.any():
                return None  # singular everywhere: leave it to the exact field solve
            V = X.reshape(tuple(sizes) + (n,))
            Q, Ps = _recon(V, ok.reshape(sizes), xs, bounds, p, rng)
        except _Unlucky:
            _stat("retries")
            retries += 1
            if retries > 6:
                return None
            margin += 1
            continue
        flatres = np.concatenate([Q.ravel(), Ps.ravel()]).tolist()
        sig = (Q.shape, Ps.shape)
        if shape is None:
            shape = sig
        elif sig != shape:
            _stat("retries")
            retries += 1
            if retries > 6:
                return None
            continue  # structure differs from the first prime's: this prime is unlucky
        _stat("primes")
        if recon is not None and all((nd[0] - nd[1] * v) % p == 0 for nd, v in zip(recon, flatres)):
            # the reconstruction from the earlier primes holds modulo a new prime
            sol = exact(recon)
            break
        # Chinese remaindering, then rational reconstruction of every coefficient
        if modulus == 1:
            residues = flatres
        else:
            inv = pow(modulus % p, -1, p)
            residues = [a + modulus * ((v - a) * inv % p) for a, v in zip(residues, flatres)]
        modulus *= p
        recon = _ratrec_all(residues, modulus)
        if recon is not None and not tried_early:
            # the first reconstruction is tried exactly at once (saves the confirming
            # prime when it is already right; a failed check only costs the check)
            tried_early = True
            sol = exact(recon)
            if sol is not None:
                break
    if sol is None:
        return None
    Qp, Pp = sol
    field = domain.field
    x = [[field.new(Pe, Qp)] for Pe in Pp]
    _stat("blocks_interp")
    return x


def _poly_expr(f: Any, gens: tuple, ground: Any) -> sp.Expr:
    """A polynomial of a sympy ring as an expression, built term by term without
    re-evaluating each product (the factors are put in sympy's canonical order)."""
    from sympy.core.add import _addsort
    from sympy.core.mul import _mulsort

    terms = []
    const = None
    for monom, c in f.terms():
        coeff = ground.to_sympy(c)
        factors = [g if e == 1 else sp.Pow(g, e) for g, e in zip(gens, monom) if e]
        if not factors:
            const = coeff
            continue
        _mulsort(factors)
        if coeff != 1:
            factors.insert(0, coeff)
        terms.append(sp.Mul._from_args(factors, True) if len(factors) > 1 else factors[0])
    if not terms:
        return const if const is not None else sp.S.Zero
    _addsort(terms)
    if const is not None:
        terms.insert(0, const)
    return sp.Add._from_args(terms, True)


def _to_expr(v: Any, domain: Any) -> sp.Expr:
    """``domain.to_sympy(v)``, faster for large rational functions; same expression."""
    if not getattr(domain, "is_FractionField", False):
        return domain.to_sympy(v)
    gens, ground = domain.symbols, domain.domain
    num = _poly_expr(v.numer, gens, ground)
    if v.denom == 1:
        return num
    return num / _poly_expr(v.denom, gens, ground)


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
    >>> from graphcollapse.theory.lyapunov import solve_lyapunov_exact
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
    INTERP_STATS.clear()
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
    cache: dict[tuple[int, int], sp.Expr] = {}
    for i in range(K):
        for j in range(i, K):
            cache[(i, j)] = _to_expr(C[i][j], domain)
    return sp.Matrix(K, K, lambda i, j: cache[(i, j) if i <= j else (j, i)])


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
