r"""Exact solution of a linear system :math:`M X = B` over the rational functions
:math:`\mathbb{Q}(s_1, \dots, s_m)` by evaluation modulo primes, rational reconstruction
and an exact polynomial check.

Statement
---------
:func:`solve_modular` returns *the* solution of :math:`M X = B` for a square nonsingular
:math:`M` whose entries, like those of :math:`B`, are rational functions of the symbols
:math:`s` with rational coefficients (sympy ``DomainMatrix`` over ``QQ(s)``; over ``QQ``
the system is solved directly). The result is exact whatever the random choices below
(points, primes, degree guesses): they decide only how fast it is found, never whether a
wrong answer is returned. A singular :math:`M` raises :class:`SingularSystemError`.

Eliminating over the fraction field itself spends its time in polynomial gcds of
intermediate expressions far larger than the answer (36 unknowns in two symbols, the
Lyapunov block of an 8-learner cycle, took 47 s). Instead, with :math:`M(s) x = r(s)` one
column of the system (all columns share the steps):

1. *Evaluation.* At a point :math:`s_0` of :math:`\mathrm{GF}(p)^m` (``p`` a prime below
   :math:`2^{31}`) the system is a numeric one; thousands of points are solved at once
   by vectorised Gaussian elimination mod ``p`` along a precomputed fill pattern. A point
   where an entry's denominator or a pivot vanishes is *unlucky*: it is marked and
   skipped, never used.
2. *Degrees.* Along one random line per symbol: the degree of :math:`Q`, the lcm of the
   solution's denominators, and of the numerators :math:`N_e = x_e Q` (from rational
   reconstruction of a random combination of the unknowns). They size a tensor grid of
   about :math:`\deg Q + \deg N + 2` values per symbol (one to confirm each
   reconstruction).
3. *Nested reconstruction.* For each grid point of the other symbols, the innermost
   symbol's values give :math:`Q` (monic in that symbol) by rational reconstruction of a
   random combination of the unknowns (extended Euclid, confirmed at extra points) and
   every :math:`N_e` by interpolation. Their coefficients are rational functions of the
   remaining symbols, reconstructed the same way, recursively. Grid lines whose
   denominator degree drops below the largest seen, or whose numerators exceed the degree
   bound, are unlucky and skipped. The result is :math:`Q` and the :math:`N_e` modulo
   ``p`` in a canonical normalisation (lex-leading coefficient of :math:`Q` equal to 1),
   hence the same for every good prime.
4. *Chinese remaindering* over several primes and rational reconstruction of every
   coefficient (with ``slack_bits`` = 20 bits of slack and a shared denominator learnt
   from the coefficients that reconstruct first, which halves the number of primes),
   until the reconstruction from the earlier primes holds modulo a new prime (or, the
   first time, at once).
5. *Exact check.* With row denominators cleared, :math:`M N = Q r` is verified as a
   polynomial identity over ``ZZ``.

Why the result is exact: some evaluation point had every pivot nonzero, so
:math:`\det M` is not the zero polynomial and the solution is unique; step 5 is a
deterministic identity check in exact arithmetic, so :math:`x = N / Q` *is* that
solution. Unlucky points, unlucky primes and wrong degree guesses can make steps 1-4
fail, never make a wrong answer pass step 5. Each entry :math:`N_e / Q` is finally
reduced by one polynomial gcd.

If any step fails (too many unlucky points, a structure change between primes, a failed
exact check, no symbol in the system, coefficients outside ``QQ``), the system falls back
to the direct field solve: the Schur step (symbol-free equations eliminated over ``QQ``
first) and LU over the fraction field, which also detects a singular system.

Where it stops scaling: the number of evaluation points is the product over the symbols
of about :math:`\deg Q + \deg N + 2` (dense in each symbol, however sparse the answer),
times the number of primes, which grows with the coefficient size (about 30 bits per
prime). Three symbols with coefficients of some 200 bits (a 45-unknown system: 11 primes,
117 000 points) take about 12 s; the cost also grows with the size of the output itself
(converting, gcd-reducing and checking rational functions of hundreds of terms per
entry). Many symbols (each adds a grid dimension) or systems of hundreds of unknowns are
out of reach.

Tuning constants live in the frozen :class:`ModularOptions` (passed as an argument);
counters of the work done come back in :class:`ModularStats` with each
:class:`ModularSolution`. The module keeps no mutable state between calls.
"""

from __future__ import annotations

import random
import dataclasses
from dataclasses import dataclass
from functools import cmp_to_key
from itertools import islice
from math import gcd, isqrt, lcm
from typing import Any, Iterator, Sequence

import numpy as np
import sympy as sp
from sympy.polys.domains import ZZ
from sympy.polys.galoistools import gf_div, gf_eval, gf_mul, gf_sub
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

__all__ = [
    "ModularOptions", "ModularStats", "ModularSolution", "SingularSystemError",
    "DEFAULT_OPTIONS", "solve_modular", "as_expressions",
]


# --------------------------------------------------------------------------------------
# Public objects: options, statistics, solution.
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModularOptions:
    """Tuning constants of :func:`solve_modular` (immutable; the defaults are the tuned
    values).

    Attributes
    ----------
    interpolate : bool
        Solve systems with symbols by evaluation and reconstruction; ``False`` sends every
        system to the direct field solve (the reference route).
    seed : int
        Seed of the random points, weights and grid values.
    primes : tuple of int or None
        The primes to use, in order; ``None``: the largest primes below ``2**31``,
        descending. Each must be below ``2**31`` (products of two residues fit in int64).
    max_primes : int
        At most this many primes are tried before falling back to the field solve.
    max_retries : int
        Unlucky primes or grids tolerated before falling back.
    pilot_length : int
        Initial number of points on each line that reads the degrees (doubled while too
        short).
    max_pilot_length : int
        Longest such line before the prime counts as unlucky.
    slack_bits : int
        Bits of slack every reconstructed rational coefficient must leave.
    chunk_bytes : int
        Memory budget of one batch of evaluation points.
    schur : bool
        In the field solve, eliminate the symbol-free equations over ``QQ`` first.
    schur_max_fraction : float
        The Schur step is skipped when more than this fraction of the equations hold
        symbols.
    forced_residues : tuple of int
        Residues placed first on every evaluation grid and degree line (negative values
        count from ``p``: ``-1`` is ``p - 1``): a way to put known singular points into
        the grids and check that they are skipped.

    Examples
    --------
    >>> from graphcollapse.theory.modular import ModularOptions
    >>> opts = ModularOptions(seed=7)
    >>> opts.seed, opts.max_primes
    (7, 64)
    >>> ModularOptions(primes=(5, 2**31 + 11))
    Traceback (most recent call last):
    ...
    ValueError: primes must lie in [5, 2**31), found 2147483659
    """

    interpolate: bool = True
    seed: int = 20240601
    primes: tuple[int, ...] | None = None
    max_primes: int = 64
    max_retries: int = 6
    pilot_length: int = 16
    max_pilot_length: int = 4096
    slack_bits: int = 20
    chunk_bytes: int = 48 * 2**20
    schur: bool = True
    schur_max_fraction: float = 0.75
    forced_residues: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.primes is not None:
            object.__setattr__(self, "primes", tuple(int(p) for p in self.primes))
            for p in self.primes:
                if not 5 <= p < 2**31:
                    raise ValueError(f"primes must lie in [5, 2**31), found {p}")
                if not sp.isprime(p):
                    raise ValueError(f"primes must be prime, found {p}")
        object.__setattr__(self, "forced_residues", tuple(int(v) for v in self.forced_residues))
        for name in ("max_primes", "pilot_length", "max_pilot_length", "chunk_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, found {getattr(self, name)}")
        if self.max_retries < 0 or self.slack_bits < 0:
            raise ValueError("max_retries and slack_bits must be nonnegative")


#: The default options (immutable).
DEFAULT_OPTIONS = ModularOptions()


@dataclass
class ModularStats:
    """Counters of the work done by one or more calls of :func:`solve_modular`.

    Attributes
    ----------
    modular : int
        Systems solved by evaluation and reconstruction.
    field : int
        Systems with symbols solved over the fraction field (fallback, or
        ``interpolate=False``).
    symbol_free : int
        Systems without any symbol in their entries (solved directly).
    primes : int
        Primes whose images entered the Chinese remaindering.
    points : int
        Evaluation points of the reconstruction grids.
    unlucky_points : int
        Points skipped because a denominator or a pivot vanished there.
    retries : int
        Unlucky primes or grids (drawn again).
    failed_checks : int
        Reconstructions rejected by the exact check.

    Examples
    --------
    >>> from graphcollapse.theory.modular import ModularStats
    >>> total = ModularStats(modular=1, primes=2)
    >>> total.merge(ModularStats(field=1, primes=1))
    >>> total.modular, total.field, total.primes
    (1, 1, 3)
    """

    modular: int = 0
    field: int = 0
    symbol_free: int = 0
    primes: int = 0
    points: int = 0
    unlucky_points: int = 0
    retries: int = 0
    failed_checks: int = 0

    def merge(self, other: ModularStats) -> None:
        """Add the counters of ``other`` to these."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class ModularSolution:
    """The exact solution ``X`` of ``M X = B`` (a ``DomainMatrix`` over the system's
    field), the route that produced it (``"modular"``, ``"field"`` or ``"symbol_free"``)
    and the counters of the solve.

    Examples
    --------
    >>> import sympy as sp
    >>> from sympy.polys.matrices import DomainMatrix
    >>> from graphcollapse.theory.modular import solve_modular
    >>> M = DomainMatrix([[sp.QQ(2)]], (1, 1), sp.QQ)
    >>> sol = solve_modular(M, DomainMatrix([[sp.QQ(1)]], (1, 1), sp.QQ))
    >>> sol.method, sol.to_Matrix()
    ('symbol_free', Matrix([[1/2]]))
    """

    X: DomainMatrix
    method: str
    stats: ModularStats = dataclasses.field(default_factory=ModularStats)

    def to_Matrix(self) -> sp.Matrix:
        """The solution as a sympy Matrix of expressions (see :func:`as_expressions`)."""
        n, r = self.X.shape
        values = [v for row in self.X.to_list() for v in row]
        return sp.Matrix(n, r, as_expressions(values, self.X.domain))


class SingularSystemError(ArithmeticError):
    """The system ``M X = B`` has no unique solution (``M`` is singular)."""


# --------------------------------------------------------------------------------------
# The entry point.
# --------------------------------------------------------------------------------------

def solve_modular(M: DomainMatrix, B: DomainMatrix, options: ModularOptions = DEFAULT_OPTIONS) -> ModularSolution:
    r"""The exact solution of :math:`M X = B` over ``QQ`` or ``QQ(symbols)``.

    Systems with symbols are solved by evaluation modulo primes, nested rational
    reconstruction, Chinese remaindering and an exact polynomial check (module docstring),
    falling back to the direct field solve when that route does not succeed; systems
    without symbols, or over other domains, are solved directly.

    Parameters
    ----------
    M : DomainMatrix
        Square ``n x n`` system matrix.
    B : DomainMatrix
        Right-hand sides, ``n x r``.
    options : ModularOptions
        Tuning constants (the defaults are the tuned values).

    Returns
    -------
    ModularSolution
        ``X`` (``n x r`` over the field of ``M`` and ``B``), the route taken and the
        counters of the work done.

    Raises
    ------
    SingularSystemError
        If ``M`` is singular.
    ValueError
        If the shapes do not fit.

    Examples
    --------
    >>> import sympy as sp
    >>> from sympy.polys.matrices import DomainMatrix
    >>> from graphcollapse.theory.modular import solve_modular
    >>> a, b = sp.symbols("a b")
    >>> M = DomainMatrix.from_list_sympy(2, 2, [[1, -a], [-b, 1]])
    >>> B = DomainMatrix.from_list_sympy(2, 1, [[1], [a]])
    >>> sol = solve_modular(M, B)
    >>> sol.method, sol.stats.modular, sol.stats.primes > 0
    ('modular', 1, True)
    >>> sol.to_Matrix()
    Matrix([
    [(-a**2 - 1)/(a*b - 1)],
    [   (-a - b)/(a*b - 1)]])
    """
    n, r = _check_shapes(M, B)
    M, B = M.unify(B)
    if not M.domain.is_Field:
        M, B = M.to_field(), B.to_field()
    domain = M.domain
    rows, rhs = M.to_dod(), B.to_dod()
    stats = ModularStats()
    route = _route(domain, rows, rhs)
    X = None
    if route == "modular" and options.interpolate:
        X = _modular_solve(rows, rhs, n, r, domain, options, stats)
    if X is None:
        if route == "modular":
            route = "field"
        X = _field_solve(rows, rhs, n, r, domain, options)
    setattr(stats, route, getattr(stats, route) + 1)
    return ModularSolution(DomainMatrix(X, (n, r), domain), route, stats)


def _check_shapes(M: DomainMatrix, B: DomainMatrix) -> tuple[int, int]:
    n = M.shape[0]
    if M.shape != (n, n) or B.shape[0] != n:
        raise ValueError(f"solve_modular: expected M of shape (n, n) and B of n rows, found {M.shape} and {B.shape}")
    return n, B.shape[1]


def _rational_ground(domain: Any) -> bool:
    """Whether ``domain`` is a field of rational functions with coefficients in QQ."""
    return bool(getattr(domain, "is_FractionField", False)) and domain.domain in (sp.ZZ, sp.QQ)


def _route(domain: Any, rows: dict, rhs: dict) -> str:
    """``"modular"`` (symbols, QQ coefficients), ``"field"`` (symbols, other domains) or
    ``"symbol_free"`` (no symbol in any entry)."""
    if getattr(domain, "is_EX", False) or getattr(domain, "is_EXRAW", False):
        return "field"
    if not getattr(domain, "is_FractionField", False):
        return "symbol_free"
    entries = [v for row in rows.values() for v in row.values()] + [v for row in rhs.values() for v in row.values()]
    if all(_is_constant(v) for v in entries):
        return "symbol_free"
    return "modular" if _rational_ground(domain) else "field"


def _is_constant(v: Any) -> bool:
    """Whether a fraction-field element is a constant (no symbol)."""
    return v.numer.is_ground and v.denom.is_ground


# --------------------------------------------------------------------------------------
# The field solve (fallback): Schur step over QQ, then LU over the fraction field.
# --------------------------------------------------------------------------------------

def _field_solve(rows: dict, rhs: dict, n: int, r: int, domain: Any, options: ModularOptions) -> list[list[Any]]:
    """Solve the system over its field; raises SingularSystemError if it is singular."""
    try:
        x = _schur_solve(rows, rhs, n, r, domain, options) if options.schur else None
        if x is None:
            x = DomainMatrix(rows, (n, n), domain).lu_solve(DomainMatrix(rhs, (n, r), domain)).to_list()
    except (DMNonInvertibleMatrixError, ZeroDivisionError) as exc:
        raise SingularSystemError("the system has no unique solution (singular matrix)") from exc
    return x


def _schur_solve(rows: dict, rhs: dict, n: int, r: int, domain: Any, options: ModularOptions):
    r"""Solve the system by eliminating its symbol-free equations over ``QQ`` first.

    Split the unknowns by their equation rows: ``R`` (every coefficient and the right-hand
    side free of symbols) and ``S`` (the rest). With the rows of ``R`` solved over ``QQ``
    for :math:`x_R = y - Y x_S` (:math:`M_{RR} Y = M_{RS}`, :math:`M_{RR} y = r_R`), only the
    Schur complement :math:`(M_{SS} - M_{SR} Y) x_S = r_S - M_{SR} y` is solved over the
    fraction field: |S| unknowns instead of n, and the gcd-heavy field arithmetic shrinks
    accordingly. Returns ``None`` (caller falls back to the full solve) when the domain
    has no symbols, nothing or too much is symbol-free, or :math:`M_{RR}` is singular.
    """
    if not _rational_ground(domain):
        return None
    const = [all(_is_constant(v) for v in rows.get(i, {}).values())
             and all(_is_constant(v) for v in rhs.get(i, {}).values()) for i in range(n)]
    R = [i for i in range(n) if const[i]]
    S = [i for i in range(n) if not const[i]]
    if not R or not S or len(S) > options.schur_max_fraction * n:
        return None
    Y = _schur_eliminate(rows, rhs, R, S, r, domain)
    if Y is None:
        return None
    A, bS = _schur_complement(rows, rhs, R, S, r, Y, domain)
    nS = len(S)
    xS = DomainMatrix(A, (nS, nS), domain).lu_solve(DomainMatrix(bS, (nS, r), domain)).to_list()
    return _schur_back_substitute(R, S, n, r, Y, xS, domain)


def _schur_eliminate(rows: dict, rhs: dict, R: list[int], S: list[int], r: int, domain: Any):
    """``[Y | y]`` over QQ from the symbol-free rows (dict of rows), or None if M_RR is
    singular. Columns 0..|S|-1 hold Y, columns |S|.. the r columns of y."""
    QQ = sp.QQ
    ground = domain.domain

    def to_qq(v: Any) -> Any:
        return QQ.convert_from(ground.convert(v.numer.LC if v.numer else 0), ground) / \
            QQ.convert_from(ground.convert(v.denom.LC), ground) if v else QQ.zero

    pos_R = {i: k for k, i in enumerate(R)}
    pos_S = {i: k for k, i in enumerate(S)}
    nR, nS = len(R), len(S)
    MRR: dict[int, dict[int, Any]] = {}
    MRS: dict[int, dict[int, Any]] = {}
    for i in R:
        for c, v in rows.get(i, {}).items():
            if c in pos_R:
                MRR.setdefault(pos_R[i], {})[pos_R[c]] = to_qq(v)
            else:
                MRS.setdefault(pos_R[i], {})[pos_S[c]] = to_qq(v)
        for j, v in rhs.get(i, {}).items():
            MRS.setdefault(pos_R[i], {})[nS + j] = to_qq(v)
    try:
        return DomainMatrix(MRR, (nR, nR), QQ).lu_solve(DomainMatrix(MRS, (nR, nS + r), QQ)).to_dod()
    except (DMNonInvertibleMatrixError, ZeroDivisionError):
        return None


def _schur_complement(rows: dict, rhs: dict, R: list[int], S: list[int], r: int, Y: dict, domain: Any):
    """The Schur complement M_SS - M_SR Y and right-hand side r_S - M_SR y (dicts of rows)."""
    pos_R = {i: k for k, i in enumerate(R)}
    pos_S = {i: k for k, i in enumerate(S)}
    nS = len(S)
    zero = domain.zero
    A: dict[int, dict[int, Any]] = {}
    bS: dict[int, dict[int, Any]] = {}
    for i in S:
        row: dict[int, Any] = {}
        acc = [rhs.get(i, {}).get(j, zero) for j in range(r)]
        for c, v in rows.get(i, {}).items():
            if c in pos_S:
                row[pos_S[c]] = row.get(pos_S[c], zero) + v
                continue
            for cc, yv in Y.get(pos_R[c], {}).items():
                yd = domain.convert_from(yv, sp.QQ)
                if cc >= nS:
                    acc[cc - nS] = acc[cc - nS] - v * yd
                else:
                    row[cc] = row.get(cc, zero) - v * yd
        A[pos_S[i]] = {c: v for c, v in row.items() if v}
        b = {j: v for j, v in enumerate(acc) if v}
        if b:
            bS[pos_S[i]] = b
    return A, bS


def _schur_back_substitute(R: list[int], S: list[int], n: int, r: int, Y: dict, xS: list, domain: Any):
    """The full solution from x_S: x_R = y - Y x_S."""
    nS = len(S)
    zero = domain.zero
    x = [[zero] * r for _ in range(n)]
    for k, i in enumerate(S):
        x[i] = list(xS[k])
    for k, i in enumerate(R):
        yr = Y.get(k, {})
        for j in range(r):
            acc = domain.convert_from(yr[nS + j], sp.QQ) if nS + j in yr else zero
            for cc, yv in yr.items():
                if cc < nS:
                    acc = acc - domain.convert_from(yv, sp.QQ) * xS[cc][j]
            x[i][j] = acc
    return x


# --------------------------------------------------------------------------------------
# The modular route: images modulo primes, lifting, exact check.
# --------------------------------------------------------------------------------------

class _Unlucky(Exception):
    """A prime or grid that cannot be used (a coefficient denominator vanishes mod p, or
    too many evaluation points were unlucky); the caller draws another."""


def _primes(options: ModularOptions) -> Iterator[int]:
    """The primes to use: ``options.primes``, or those below 2**31, largest first."""
    if options.primes is not None:
        yield from options.primes
        return
    p = 2**31 - 1
    while True:
        yield p
        p = int(sp.prevprime(p))


def _grid_values(rng: random.Random, count: int, p: int, forced: tuple[int, ...] = ()) -> list[int]:
    """``count`` distinct residues mod ``p`` for the evaluation grid of one symbol: the
    forced residues first (when the grid is longer than they are), then random ones in
    [2, p - 2]."""
    if count > p - 3:
        raise _Unlucky  # the prime is too small for this grid
    out: list[int] = []
    seen: set[int] = set()
    if forced and count > len(forced):
        for v in forced:
            if v % p not in seen:
                seen.add(v % p)
                out.append(v % p)
    while len(out) < count:
        v = rng.randrange(2, p - 1)
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _modular_solve(rows: dict, rhs: dict, n: int, r: int, domain: Any, options: ModularOptions,
                   stats: ModularStats):
    """The solution (``n x r`` list of field elements) by the modular route, or ``None``
    when it does not succeed (the caller then solves over the field)."""
    sysm = _ModSystem(rows, rhs, n, r, domain, options.chunk_bytes)
    rng = random.Random(options.seed)
    lift = _Lift(options.slack_bits)
    plan = None
    margin = retries = 0
    tried_early = False
    for p in islice(_primes(options), options.max_primes):
        gf = _ModP(p)
        try:
            if plan is None:
                plan = _GridPlan(_pilot_degrees(sysm, gf, rng, options))
            image = _image_mod_p(sysm, gf, plan, margin, rng, options, stats)
        except _Unlucky:
            stats.retries += 1
            retries += 1
            if retries > options.max_retries:
                return None
            margin += 1
            continue
        if image is None:
            return None  # singular everywhere: leave it to the exact field solve
        values, shape = image
        if lift.shape is None:
            lift.shape = shape
        elif shape != lift.shape:
            stats.retries += 1  # structure differs from the first prime's: this prime is unlucky
            retries += 1
            if retries > options.max_retries:
                return None
            continue
        stats.primes += 1
        if lift.recon is not None and lift.holds_modulo(values, p):
            # the reconstruction from the earlier primes holds modulo a new prime
            return _exact_solution(lift, plan.order, sysm, rows, rhs, domain, stats)
        lift.add(values, p)
        if lift.recon is not None and not tried_early:
            # the first reconstruction is tried exactly at once (saves the confirming
            # prime when it is already right; a failed check only costs the check)
            tried_early = True
            x = _exact_solution(lift, plan.order, sysm, rows, rhs, domain, stats)
            if x is not None:
                return x
    return None


class _GridPlan:
    """The degrees read on the pilot lines and the order of the symbols in the nested
    reconstruction (innermost first: the symbol of the smallest grid)."""

    def __init__(self, degrees: dict[int, tuple[int, int]]):
        self.degrees = degrees
        self.order = sorted(degrees, key=lambda v: degrees[v][0] + max(degrees[v]))

    def bounds(self, margin: int) -> list[int]:
        """Numerator degree bound per symbol (in ``order``)."""
        return [max(self.degrees[v]) + margin for v in self.order]

    def sizes(self, margin: int) -> list[int]:
        """Grid length per symbol (in ``order``)."""
        return [self.degrees[v][0] + max(self.degrees[v]) + 2 + 2 * margin for v in self.order]


def _image_mod_p(sysm: _ModSystem, gf: _ModP, plan: _GridPlan, margin: int, rng: random.Random,
                 options: ModularOptions, stats: ModularStats):
    """Q and the N_e modulo one prime, flattened (Q first), with the shapes of their
    coefficient arrays; ``None`` if every grid point is unlucky (singular system).
    Raises _Unlucky."""
    p = gf.p
    order = plan.order
    sizes = plan.sizes(margin)
    xs = [_grid_values(rng, size, p, options.forced_residues) for size in sizes]
    grid = np.stack(np.meshgrid(*[np.array(x, dtype=np.int64) for x in xs], indexing="ij"), axis=-1)
    flat = grid.reshape(-1, len(order))
    pts = np.zeros((flat.shape[0], sysm.nv), dtype=np.int64)
    for i, v in enumerate(order):
        pts[:, v] = flat[:, i]
    X, ok = sysm.evaluate(pts, gf)
    stats.points += int(flat.shape[0])
    stats.unlucky_points += int((~ok).sum())
    if not ok.any():
        return None
    V = X.reshape(tuple(sizes) + (sysm.E,))
    Q, Ps = _recon(V, ok.reshape(sizes), xs, plan.bounds(margin), gf, rng)
    return np.concatenate([Q.ravel(), Ps.ravel()]).tolist(), (Q.shape, Ps.shape)


class _Lift:
    """Chinese remaindering of the images modulo the primes used so far, and the
    rational reconstruction of every coefficient from them."""

    def __init__(self, slack_bits: int):
        self.slack_bits = slack_bits
        self.residues: list[int] = []
        self.modulus = 1
        self.shape: tuple | None = None
        self.recon: list[tuple[int, int]] | None = None

    def holds_modulo(self, values: list[int], p: int) -> bool:
        """Whether the current reconstruction is congruent to ``values`` modulo ``p``."""
        return all((nd[0] - nd[1] * v) % p == 0 for nd, v in zip(self.recon, values))

    def add(self, values: list[int], p: int) -> None:
        """Combine the image modulo ``p`` and reconstruct again."""
        if self.modulus == 1:
            self.residues = values
        else:
            inv = pow(self.modulus % p, -1, p)
            self.residues = [a + self.modulus * ((v - a) * inv % p) for a, v in zip(self.residues, values)]
        self.modulus *= p
        self.recon = _ratrec_all(self.residues, self.modulus, self.slack_bits)


def _exact_solution(lift: _Lift, order: list[int], sysm: _ModSystem, rows: dict, rhs: dict, domain: Any,
                    stats: ModularStats):
    """The solution x = N / Q as field elements if ``M N = Q B`` holds as a polynomial
    identity (after clearing row denominators), else None."""
    ring = domain.field.ring
    recon = lift.recon
    qshape = lift.shape[0]
    size = int(np.prod(qshape))
    L = 1
    for nd in recon:
        L = lcm(L, nd[1])

    def to_poly(start: int) -> Any:
        terms = {}
        for i in range(size):
            num, den = recon[start + i]
            if num:
                mon = np.unravel_index(i, qshape)
                e = [0] * sysm.nv
                for j, v in enumerate(order):
                    e[v] = int(mon[j])
                terms[tuple(e)] = ring.domain.convert(num * (L // den))
        return ring.from_dict(terms) if terms else ring.zero

    n, r = sysm.n, sysm.r
    Qp = to_poly(0)
    Pp = [to_poly(size * (1 + e)) for e in range(n * r)]
    for i in range(n):
        items = list(rows.get(i, {}).items())
        rvals = rhs.get(i, {})
        Lr = ring.one
        for d in [v.denom for _, v in items] + [v.denom for v in rvals.values()]:
            Lr = Lr.lcm(d)
        coefs = [(c, v.numer * Lr.exquo(v.denom)) for c, v in items]
        for j in range(r):
            acc = ring.zero
            for c, w in coefs:
                acc += w * Pp[c * r + j]
            rv = rvals.get(j)
            if rv:
                acc -= rv.numer * Lr.exquo(rv.denom) * Qp
            if acc:
                stats.failed_checks += 1
                return None
    new = domain.field.new
    return [[new(Pp[i * r + j], Qp) for j in range(r)] for i in range(n)]


# --------------------------------------------------------------------------------------
# Evaluation of the system at many points modulo a prime.
# --------------------------------------------------------------------------------------

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


class _ModSystem:
    """The system ``M X = B`` (entries of a rational function field over QQ) prepared for
    evaluation at many points modulo primes. Unknown ``e = i * r + j`` is row ``i`` of
    column ``j`` of X."""

    def __init__(self, rows: dict, rhs: dict, n: int, r: int, domain: Any, chunk_bytes: int):
        self.n, self.r, self.E = n, r, n * r
        self.domain = domain
        self.nv = len(domain.symbols)
        self.chunk_bytes = chunk_bytes
        self.entries = []  # (row, col, numer terms, denom terms); columns n.. are the rhs
        for i, row in rows.items():
            for c, v in row.items():
                self.entries.append((i, c, list(v.numer.terms()), list(v.denom.terms())))
        for i, row in rhs.items():
            for j, v in row.items():
                if v:
                    self.entries.append((i, n + j, list(v.numer.terms()), list(v.denom.terms())))
        active: set[int] = set()
        self.maxdeg = [0] * self.nv
        for _, _, nt, dt in self.entries:
            for monom, _c in nt + dt:
                for k, e in enumerate(monom):
                    if e:
                        active.add(k)
                        self.maxdeg[k] = max(self.maxdeg[k], e)
        self.active = sorted(active)
        struct = [set() for _ in range(n)]
        for i, c, _, _ in self.entries:
            if c < n:
                struct[i].add(c)
        for i in range(n):
            struct[i].add(i)
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

        out = [(i, c, [(m, red(k)) for m, k in nt], [(m, red(k)) for m, k in dt])
               for i, c, nt, dt in self.entries]
        self._coef_cache = {p: out}
        return out

    def evaluate(self, pts: np.ndarray, gf: _ModP) -> tuple[np.ndarray, np.ndarray]:
        """Solutions (P, E) mod p at the points (P, nv) and the validity mask: a point is
        invalid when an entry's denominator or a pivot vanishes there."""
        n, r = self.n, self.r
        P = pts.shape[0]
        coefs = self._coefs(gf.p)
        chunk = max(1, self.chunk_bytes // (8 * n * (n + r)))
        X = np.zeros((P, self.E), dtype=np.int64)
        valid = np.ones(P, dtype=bool)
        for s in range(0, P, chunk):
            sl = slice(s, min(P, s + chunk))
            A, ok = self._matrices(pts[sl], coefs, gf)
            Xc, vc = gf.solve_batched(A, self.steps, n)
            X[sl] = Xc.reshape(Xc.shape[0], self.E)
            valid[sl] = ok & vc
        return X, valid

    def _matrices(self, pc: np.ndarray, coefs, gf: _ModP) -> tuple[np.ndarray, np.ndarray]:
        """The augmented matrices [M | B] (m, n, n + r) mod p at the points ``pc`` and the
        mask of points where no entry's denominator vanishes."""
        p, n = gf.p, self.n
        m = pc.shape[0]
        pw = {}
        for k in self.active:
            col = pc[:, k] % p
            tab = [np.ones(m, dtype=np.int64), col]
            for _ in range(2, self.maxdeg[k] + 1):
                tab.append(tab[-1] * col % p)
            pw[k] = tab

        def ev(terms):
            acc = np.zeros(m, dtype=np.int64)
            for monom, cp in terms:
                t = np.full(m, cp, dtype=np.int64)
                for k, e in enumerate(monom):
                    if e:
                        t = t * pw[k][e] % p
                acc += t
            return acc % p

        A = np.zeros((m, n, n + self.r), dtype=np.int64)
        ok = np.ones(m, dtype=bool)
        for i, c, nt, dt in coefs:
            num = ev(nt)
            if len(dt) == 1 and not any(dt[0][0]):
                if dt[0][1] == 0:
                    raise _Unlucky
                A[:, i, c] = (A[:, i, c] + num * pow(dt[0][1], -1, p)) % p
                continue
            den = ev(dt)
            ok &= den != 0
            A[:, i, c] = (A[:, i, c] + num * gf.inv(den)) % p
        return A, ok


# --------------------------------------------------------------------------------------
# Arithmetic modulo one prime.
# --------------------------------------------------------------------------------------

class _ModP:
    """Arithmetic modulo one prime ``p`` < 2**31: vectors of residues (int64 arrays),
    batched linear solves, univariate polynomials (lists of coefficients, lowest degree
    first; thin adapters to sympy's galoistools, which keeps the highest degree first),
    interpolation and rational function reconstruction, with the caches that live as
    long as the prime is used."""

    def __init__(self, p: int):
        self.p = p
        self._vinv: dict[tuple[int, ...], np.ndarray] = {}
        self._dense: dict[int, list] = {}

    # ---- vectors ----------------------------------------------------------------------

    def inv(self, x: np.ndarray) -> np.ndarray:
        """Elementwise inverse of an int64 array (zeros give zeros): a product tree
        (pairwise products up, one scalar inverse at the root, back down), about
        2 log2(size) vector operations instead of the 60 of Fermat's exponentiation."""
        p = self.p
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

    def matmul(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``A @ B mod p`` without int64 overflow (B split in 16-bit halves; needs fewer
        than 2**15 inner terms)."""
        p = self.p
        lo = B & 0xFFFF
        hi = B >> 16
        return ((A @ hi) % p * 65536 + (A @ lo)) % p

    def powers(self, xs: list[int], d: int) -> np.ndarray:
        """Matrix of x**j mod p (rows: points, columns j = 0..d)."""
        out = np.ones((len(xs), d + 1), dtype=np.int64)
        col = np.array(xs, dtype=np.int64) % self.p
        for j in range(1, d + 1):
            out[:, j] = out[:, j - 1] * col % self.p
        return out

    def solve_batched(self, A: np.ndarray, steps, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Solve many systems at once. ``A`` has shape (P, n, n + r) (right-hand sides
        last) and is overwritten. Elimination follows the precomputed pattern without
        pivoting; a point whose pivot vanishes is marked invalid (``valid`` false) and its
        result is garbage. Returns (X of shape (P, n, r), valid)."""
        p = self.p
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
            inv = self.inv(piv)
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

    # ---- univariate polynomials -------------------------------------------------------

    @staticmethod
    def strip(f: list[int]) -> list[int]:
        while f and f[-1] == 0:
            f.pop()
        return f

    def peval(self, f: list[int], x: int) -> int:
        return gf_eval(f[::-1], x, self.p, ZZ)

    def pmul(self, f: list[int], g: list[int]) -> list[int]:
        return gf_mul(f[::-1], g[::-1], self.p, ZZ)[::-1]

    def psub(self, f: list[int], g: list[int]) -> list[int]:
        return gf_sub(f[::-1], g[::-1], self.p, ZZ)[::-1]

    def pdivmod(self, f: list[int], g: list[int]) -> tuple[list[int], list[int]]:
        q, r = gf_div(f[::-1], g[::-1], self.p, ZZ)
        return q[::-1], r[::-1]

    def interpolate(self, xs: list[int], ys: list[int]) -> list[int]:
        """Newton interpolation: the polynomial of degree < len(xs) through the points."""
        p = self.p
        m = len(xs)
        c = [y % p for y in ys]
        for j in range(1, m):
            for i in range(m - 1, j - 1, -1):
                c[i] = (c[i] - c[i - 1]) * pow(xs[i] - xs[i - j], -1, p) % p
        f = [c[m - 1]]
        for i in range(m - 2, -1, -1):
            f = self.pmul(f, [-xs[i] % p, 1]) if any(f) else []
            f = list(f) or [0]
            f[0] = (f[0] + c[i]) % p
            f = self.strip(f)
        return self.strip(f)

    def ratrecon(self, xs: list[int], ys: list[int], ncheck: int = 2):
        """The reduced rational function n/d (d monic) through the points, found by the
        extended Euclidean algorithm on the interpolant of all but ``ncheck`` points and
        confirmed at the remaining ``ncheck`` points; None if no candidate passes."""
        p = self.p
        m = len(xs) - ncheck
        if m < 1:
            return None
        F = self.interpolate(xs[:m], ys[:m])
        M = [1]
        for x in xs[:m]:
            M = self.pmul(M, [-x % p, 1])
        r0, r1 = M, F
        t0: list[int] = []
        t1 = [1]
        cx, cy = xs[m:], ys[m:]
        while True:
            ok = True
            for x, y in zip(cx, cy):
                tv = self.peval(t1, x)
                if tv == 0 or self.peval(r1, x) != y * tv % p:
                    ok = False
                    break
            if ok and t1:
                inv = pow(t1[-1], -1, p)
                return [c * inv % p for c in r1], [c * inv % p for c in t1]
            if not r1:
                return None
            q, r = self.pdivmod(r0, r1)
            r0, r1 = r1, r
            t0, t1 = t1, self.psub(t0, self.pmul(q, t1))

    # ---- interpolation of many columns ------------------------------------------------

    def vandermonde_inverse(self, xs: list[int]) -> np.ndarray:
        """Inverse of the Vandermonde matrix (rows: points, columns: powers), from the
        Lagrange basis: column i holds the coefficients of prod_{j != i} (x - x_j) divided
        by prod_{j != i} (x_i - x_j)."""
        key = tuple(xs)
        if key not in self._vinv:
            p = self.p
            m = len(xs)
            x = np.array(xs, dtype=np.int64) % p
            Mx = [1]  # prod (x - x_j), lowest degree first
            for v in xs:
                Mx = self.pmul(Mx, [-v % p, 1])
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
            self._vinv[key] = Q * self.inv(w)[None, :] % p
        return self._vinv[key]

    def interp_columns(self, xs: list[int], Y: np.ndarray) -> np.ndarray:
        """Coefficients (lowest first) of the polynomials through the columns of Y."""
        return self.matmul(self.vandermonde_inverse(xs), Y)

    def batch_ratrecon(self, xs: list[int], Yf: np.ndarray, dn: int, dq: int):
        """Rational reconstruction of many fibres at once when the degrees are known: solve
        n(x_k) - y_k d(x_k) = 0 (d monic of degree dq, deg n <= dn) at the first dn + dq + 1
        points as one batched linear system, confirm at the remaining points. Returns
        (denominators (F, dq + 1), ok mask (F,)); fibres not ok are left to the scalar
        method."""
        p = self.p
        F, m = Yf.shape
        u = dn + 1 + dq
        Pw = self.powers(xs, max(dn, dq))
        A = np.zeros((F, u, u + 1), dtype=np.int64)
        A[:, :, :dn + 1] = Pw[None, :u, :dn + 1]
        A[:, :, dn + 1:u] = (-Yf[:, :u, None] * Pw[None, :u, :dq]) % p
        A[:, :, u] = Yf[:, :u] * Pw[None, :u, dq] % p
        if u not in self._dense:
            self._dense[u] = _fill_pattern([set(range(u)) for _ in range(u)], u)
        X, ok = self.solve_batched(A, self._dense[u], u)
        X = X[:, :, 0]
        num = X[:, :dn + 1]
        den = np.concatenate([X[:, dn + 1:], np.ones((F, 1), dtype=np.int64)], axis=1)
        rest = Pw[u:]
        if len(rest):
            nv = self.matmul(num, rest[:, :dn + 1].T.copy())
            dv = self.matmul(den, rest[:, :dq + 1].T.copy())
            ok &= np.all(nv == Yf[:, u:] * dv % p, axis=1) & np.all(dv != 0, axis=1)
        return den, ok


# --------------------------------------------------------------------------------------
# Degrees and nested reconstruction modulo one prime.
# --------------------------------------------------------------------------------------

def _pilot_degrees(sysm: _ModSystem, gf: _ModP, rng: random.Random, options: ModularOptions) -> dict[int, tuple[int, int]]:
    """For each symbol v of the system: (deg_v Q, max_e deg_v N_e) with Q the lcm of the
    solution's denominators and N_e = x_e Q, read along one random line in v (generic
    with high probability; the final exact check guards the rest). The lines of all
    symbols are evaluated together; a line too short for its degrees is redrawn twice as
    long."""
    p = gf.p
    out: dict[int, tuple[int, int]] = {}
    T = {v: options.pilot_length for v in sysm.active}
    while len(out) < len(T):
        todo = [v for v in T if v not in out]
        if max(T[v] for v in todo) > options.max_pilot_length:
            raise _Unlucky
        lines, rows = {}, []
        for v in todo:
            base = [rng.randrange(2, p - 1) for _ in range(sysm.nv)]
            vals = _grid_values(rng, T[v], p, options.forced_residues)
            lines[v] = (len(rows), vals)
            rows += [[vals[t] if i == v else base[i] for i in range(sysm.nv)] for t in range(T[v])]
        Xall, okall = sysm.evaluate(np.array(rows, dtype=np.int64), gf)
        w = np.array([rng.randrange(1, p) for _ in range(sysm.E)], dtype=np.int64)
        for v in todo:
            start, vals = lines[v]
            X, ok = Xall[start:start + T[v]], okall[start:start + T[v]]
            keep = [t for t in range(T[v]) if ok[t]]
            y = (X % p * w % p).sum(axis=1) % p
            rr = gf.ratrecon([vals[t] for t in keep], [int(y[t]) for t in keep], ncheck=3)
            if rr is None or len(rr[0]) + len(rr[1]) + 4 > len(keep):
                T[v] *= 2
                continue
            den = rr[1]
            xk = [vals[t] for t in keep]
            qv = np.array([gf.peval(den, x) for x in xk], dtype=np.int64)
            C = gf.interp_columns(xk, X[keep] % p * qv[:, None] % p)
            nz = np.nonzero(C.any(axis=1))[0]
            dN = int(nz[-1]) if len(nz) else 0
            if dN + 3 > len(keep):
                T[v] *= 2
                continue
            out[v] = (len(den) - 1, dN)
    return out


def _recon(V: np.ndarray, valid: np.ndarray, xs: list[list[int]], bounds: list[int], gf: _ModP,
           rng: random.Random):
    """Dense nested reconstruction of the vector of rational functions f_e(v_1..v_k) from
    its values ``V`` (shape m_1 x ... x m_k x E) on a tensor grid (``valid`` masks the
    unlucky points). Along v_1, for every grid point of (v_2..v_k) (a *fibre*): the
    denominator Q of a random combination of the f_e (their lcm, monic in v_1), then the
    numerators f_e * Q by interpolation; their coefficients are rational functions of
    (v_2..v_k), reconstructed the same way. Returns (Q, P) as coefficient arrays (Q of
    shape s_1 x ... x s_k, P of shape E x s_1 x ... x s_k) with f_e = P_e / Q and Q's
    lex-leading coefficient 1, or raises _Unlucky."""
    p = gf.p
    m1, E = V.shape[0], V.shape[-1]
    outer = V.shape[1:-1]
    bound, x1 = bounds[0], xs[0]
    weights = np.array([rng.randrange(1, p) for _ in range(E)], dtype=np.int64)
    Y = (V % p * weights % p).sum(axis=-1) % p  # shape (m1,) + outer
    Yf = Y.reshape(m1, -1).T  # (F, m1), fibres in C order of the outer grid
    Vf = V.reshape(m1, -1, E)
    validf = valid.reshape(m1, -1).T
    dens = _fibre_denominators(Yf, validf, x1, bound, gf)
    if not dens:
        raise _Unlucky
    dQ = max(len(d) - 1 for d in dens.values())
    G, gvalid = _fibre_numerators(Vf, validf, dens, dQ, x1, bound, gf)
    s1 = max(dQ, bound) + 1
    if len(xs) == 1:
        if not gvalid[0]:
            raise _Unlucky
        Qt = np.zeros(s1, dtype=np.int64)
        Qt[:dQ] = G[0, :dQ]
        Qt[dQ] = 1
        Pt = np.zeros((E, s1), dtype=np.int64)
        Pt[:, :bound + 1] = G[0, dQ:].reshape(E, bound + 1)
        return Qt, Pt
    R, S = _recon(G.reshape(tuple(outer) + (G.shape[1],)), gvalid.reshape(outer), xs[1:], bounds[1:], gf, rng)
    inner = R.shape
    Qt = np.zeros((s1,) + inner, dtype=np.int64)
    Qt[dQ] = R
    Qt[:dQ] = S[:dQ]
    Pt = np.zeros((E, s1) + inner, dtype=np.int64)
    Pt[:, :bound + 1] = S[dQ:].reshape((E, bound + 1) + inner)
    return Qt, Pt


def _fibre_denominators(Yf: np.ndarray, validf: np.ndarray, x1: list[int], bound: int, gf: _ModP) -> dict:
    """The monic denominator (in v_1) of every fibre that reconstructs: scalar rational
    reconstruction on a few full fibres gives the degrees, then the other full fibres
    at once (batched), then the fibres with unlucky points one by one."""
    F, m1 = Yf.shape
    full = validf.all(axis=1)
    dens: dict[int, Any] = {}
    dn = dq = -1
    for f in [int(f) for f in np.nonzero(full)[0][:2]]:
        rr = gf.ratrecon(x1, [int(v) for v in Yf[f]], ncheck=1)
        if rr is not None:
            dens[f] = rr[1]
            dn, dq = max(dn, len(rr[0]) - 1), max(dq, len(rr[1]) - 1)
    rest = [f for f in range(F) if f not in dens]
    batch = [f for f in rest if full[f]] if dq >= 0 and dn + dq + 2 <= m1 else []
    if batch:
        den, ok = gf.batch_ratrecon(x1, Yf[batch], max(dn, 0), dq)
        for i in np.nonzero(ok)[0].tolist():
            dens[batch[i]] = den[i]
    for f in rest:
        if f in dens:
            continue
        idx = [i for i in range(m1) if validf[f, i]]
        if len(idx) < bound + 2:
            continue
        rr = gf.ratrecon([x1[i] for i in idx], [int(Yf[f, i]) for i in idx], ncheck=1)
        if rr is not None:
            dens[f] = rr[1]
    return dens


def _fibre_numerators(Vf: np.ndarray, validf: np.ndarray, dens: dict, dQ: int, x1: list[int], bound: int,
                      gf: _ModP) -> tuple[np.ndarray, np.ndarray]:
    """Per fibre, the coefficients of Q (below the leading 1) and of every N_e = f_e Q
    (interpolated), one row of G each; ``gvalid`` marks the fibres kept. A fibre whose
    denominator degree is below the largest seen, or whose numerators exceed the degree
    bound, is unlucky and skipped."""
    p = gf.p
    m1, F, E = Vf.shape
    full = validf.all(axis=1)
    good = [f for f in range(F) if f in dens and len(dens[f]) - 1 == dQ]
    G = np.zeros((F, dQ + E * (bound + 1)), dtype=np.int64)
    gvalid = np.zeros(F, dtype=bool)
    groups: dict[tuple[int, ...], list[int]] = {}  # fibres with the same valid points
    everything = tuple(range(m1))
    for f in good:
        idx = everything if full[f] else tuple(np.nonzero(validf[f])[0].tolist())
        groups.setdefault(idx, []).append(f)
    for idx, group in groups.items():
        pts = [x1[i] for i in idx]
        D = np.array([dens[f] for f in group], dtype=np.int64)  # (g, dQ + 1)
        Qv = gf.matmul(D, gf.powers(pts, dQ).T.copy())  # (g, len(idx))
        vals = Vf[list(idx)][:, group, :] % p * Qv.T[:, :, None] % p  # (len(idx), g, E)
        C = gf.interp_columns(pts, vals.reshape(len(idx), -1)).reshape(len(idx), len(group), E)
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
    return G, gvalid


# --------------------------------------------------------------------------------------
# Rational number reconstruction.
# --------------------------------------------------------------------------------------

def _ratrec_int(a: int, m: int):
    """Rational reconstruction (Wang): n/d = a mod m with |n|, d <= sqrt(m/2), or None."""
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


def _ratrec_all(residues: list[int], modulus: int, slack_bits: int = 20):
    """Rational reconstruction of every residue, or None if one fails. The coefficients
    share most of their denominator: a sample is reconstructed by Wang's balanced method,
    ``lam`` is the lcm of the denominators found, and every coefficient is then tried as
    ``s / lam`` with ``s`` the symmetric residue of ``a * lam``. That needs about half the
    modulus of balanced reconstruction of every coefficient; the few that miss get the
    balanced method. Every result must be small with ``slack_bits`` bits of slack (n * d,
    or s for the given ``lam``, below modulus / 2**slack_bits): a residue that is not the
    image of such a fraction passes with probability about 2**(1 - slack_bits), and a
    wrong coefficient is in any case caught by the checks that follow."""
    small = modulus >> slack_bits

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


# --------------------------------------------------------------------------------------
# Field elements as sympy expressions.
# --------------------------------------------------------------------------------------

def as_expressions(values: Sequence[Any], domain: Any) -> list[sp.Expr]:
    """Sympy expressions of elements of ``domain``: the same expressions as
    ``domain.to_sympy``, built faster for large rational functions.

    A polynomial becomes an ``Add`` of its terms in sympy's canonical order, built
    unevaluated from terms that are already canonical: each distinct monomial is built
    once (evaluated ``Mul``), the terms are put in near-canonical order by a cheap key and
    then sorted by ``Basic.compare`` (the canonical order itself; on nearly sorted input
    the sort costs about one comparison per term). A polynomial shared by several values
    (a common denominator) is converted once.

    Parameters
    ----------
    values : sequence
        Elements of ``domain``.
    domain : sympy domain
        Their domain (``QQ``, ``QQ(a, b)``, ...).

    Returns
    -------
    list of sympy.Expr
        ``domain.to_sympy(v)`` for every ``v``.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.modular import as_expressions
    >>> a, b = sp.symbols("a b")
    >>> F = sp.QQ.frac_field(a, b)
    >>> v = F.from_sympy((3*a**2*b - 2*a + 1) / (a + b))
    >>> as_expressions([v, F.one], F)
    [(3*a**2*b - 2*a + 1)/(a + b), 1]
    >>> as_expressions([v], F)[0] == F.to_sympy(v)
    True
    """
    if not (_rational_ground(domain) and all(g.is_Symbol for g in domain.symbols)):
        return [domain.to_sympy(v) for v in values]
    builder = _ExprBuilder(domain.symbols, domain.domain)
    polys = [f for v in values for f in (v.numer, v.denom)]
    builder.add_monomials(polys)
    memo: dict[Any, sp.Expr] = {}

    def expr(f: Any) -> sp.Expr:
        e = memo.get(f)
        if e is None:
            e = memo[f] = builder.poly(f)
        return e

    return [expr(v.numer) if v.denom == 1 else expr(v.numer) / expr(v.denom) for v in values]


_CANONICAL = cmp_to_key(sp.Basic.compare)


def _coefficient_key(c: sp.Rational) -> tuple[int, int, int]:
    """Approximately where a numeric coefficient sorts among others in sympy's canonical
    order (1/2, then -1, then integers by value, then rationals by (p, q))."""
    if c.is_Integer:
        return (1 if c == -1 else 2, int(c.p), 1)
    return (0 if c == sp.S.Half else 3, int(c.p), int(c.q))


class _ExprBuilder:
    """Polynomials over ZZ or QQ in symbol generators as canonical sympy expressions."""

    def __init__(self, gens: Sequence[sp.Symbol], ground: Any):
        self.gens, self.ground = tuple(gens), ground
        self.monomials: dict[tuple[int, ...], sp.Expr] = {}
        self.rank: dict[tuple[int, ...], int] = {}

    def add_monomials(self, polys: Sequence[Any]) -> None:
        """Build the monomials of the polynomials and rank them in canonical order."""
        for f in polys:
            for monom in f.monoms():
                if any(monom) and monom not in self.monomials:
                    self.monomials[monom] = sp.Mul(*[g if e == 1 else sp.Pow(g, e)
                                                     for g, e in zip(self.gens, monom) if e])
        ordered = sorted(self.monomials.items(), key=lambda kv: _CANONICAL(kv[1]))
        self.rank = {monom: i for i, (monom, _) in enumerate(ordered)}

    def poly(self, f: Any) -> sp.Expr:
        """The polynomial ``f`` as a canonical ``Add`` (its monomials must be known)."""
        keyed = []
        const = None
        for monom, c in f.terms():
            coeff = self.ground.to_sympy(c)
            if not any(monom):
                const = coeff
                continue
            m, rank = self.monomials[monom], self.rank[monom]
            if coeff == 1:
                kind = (0, 0) if m.is_Symbol else (1, 0) if m.is_Pow else (2, len(m.args))
                keyed.append(((*kind, 1, (0, 0, 0), rank), m))
            else:
                factors = m.args if m.is_Mul else (m,)
                keyed.append(((2, len(factors) + 1, 0, _coefficient_key(coeff), rank),
                              sp.Mul(coeff, *factors, evaluate=False)))
        if not keyed:
            return const if const is not None else sp.S.Zero
        keyed.sort(key=lambda kt: kt[0])
        terms = [t for _, t in keyed]
        terms.sort(key=_CANONICAL)  # the canonical order (exact; the key above only helps)
        if const is not None:
            terms.insert(0, const)
        return sp.Add(*terms, evaluate=False)
