r"""Closed forms for graph families with a symbolic number of learners :math:`K`.

Statement
---------
For the large-sample recursion :math:`C = W C W^\top + D` (docs/theory.md §2) on a family
with a symmetry group acting transitively on some learner classes, the stationary
:math:`C` is invariant under the group (the solution is unique when :math:`\rho(W) < 1`
and the group maps solutions to solutions). So :math:`C` takes one value per orbit of
learner pairs, and the :math:`K^2` equations collapse to a handful:

* ``complete`` (with self-loops; :math:`N = m + Kn`, :math:`w = n/N`): diagonal :math:`x`,
  off-diagonal :math:`y`; :math:`(WCW^\top)_{kl} = w^2 S` with
  :math:`S = Kx + K(K-1)y` for every pair.
* ``complete`` without self-loops (:math:`N = m + (K-1)n`): diagonal sum
  :math:`(K-1)x + (K-1)(K-2)y`, off-diagonal sum :math:`(K-2)x + (K^2-3K+3)y`.
* ``cycle`` (:math:`N = m + n`): :math:`C` is circulant; the shift is orthogonal so
  :math:`C = D/(1-w^2)\,I`.
* ``star`` (hub 0 with :math:`m_h` real samples, spokes with :math:`m_s` real samples and
  :math:`n` from the hub; with ``feedback`` the hub also takes :math:`n_b` from every
  spoke): unknowns hub :math:`a`, hub-spoke :math:`b`, spoke :math:`c`, spoke-spoke
  :math:`e`.
* ``chain`` (L0 with :math:`m_0` real samples, the others :math:`m` real samples plus
  :math:`n` from their predecessor): :math:`C` is diagonal and
  :math:`x_k = w^2 x_{k-1} + D` (solved by ``rsolve`` in the position :math:`k`).

Each reduced system is solved by sympy, and :func:`check_family` substitutes the closed
form back into the reduced equations and compares it entry by entry with
:func:`graphcollapse.theory.lyapunov.solve_lyapunov_exact` on the explicit builder instance. Proofs:
``docs/gallery.md`` (generated) and the symmetry argument above.
Noise: every producer uses :math:`\sigma^2` (the default), so :math:`D_k = d\sigma^2/N_k`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from . import builders
from .errors import GraphValueError
from .graph import InteractionGraph
from .lyapunov import solve_lyapunov_exact
from .recursion import large_sample_noise_variance

__all__ = ["FamilyClosedForm", "derive_family", "family_instance", "check_family", "FAMILIES"]

K = sp.Symbol("K", positive=True, integer=True)
k_pos = sp.Symbol("k", nonnegative=True, integer=True)
_MINIMUM = {"complete": 1, "complete_noloops": 2, "cycle": 1, "star": 2, "star_feedback": 2, "chain": 1}
FAMILIES = tuple(_MINIMUM)


def _sym(name: str, **assumptions: Any) -> sp.Symbol:
    return sp.Symbol(name, **assumptions)


def default_parameters(family: str) -> dict[str, sp.Symbol]:
    """The default symbols of a family: sample counts, dimension ``d`` and noise ``sigma2``.

    Examples
    --------
    >>> sorted(default_parameters("cycle"))
    ['d', 'm', 'n', 'sigma2']
    """
    _check_family(family)
    p = {"d": _sym("d", positive=True), "sigma2": sp.Symbol("sigma^2", positive=True),
         "n": _sym("n", positive=True)}
    if family.startswith("star"):
        p["m_h"] = _sym("m_h", positive=True)
        p["m_s"] = _sym("m_s", nonnegative=True)
        if family == "star_feedback":
            p["n_b"] = _sym("n_b", positive=True)
    elif family == "chain":
        p["m_0"] = _sym("m_0", positive=True)
        p["m"] = _sym("m", nonnegative=True)
    else:
        p["m"] = _sym("m", positive=True)
    return p


def _check_family(family: str) -> None:
    if family not in _MINIMUM:
        raise GraphValueError(f"family: expected one of {', '.join(FAMILIES)}, found {family!r}")


@dataclass(frozen=True)
class FamilyClosedForm:
    r"""Closed forms of a family's stationary covariance, valid for symbolic :math:`K`.

    Attributes
    ----------
    family : str
    parameters : dict
        The sample-size, dimension and noise symbols (or values) used.
    unknowns : dict
        Orbit name (e.g. ``"diagonal"``) -> its closed form in :math:`K` and the parameters.
    equations : list of sympy.Eq
        The reduced linear system the unknowns solve.
    entry : callable
        ``entry(k, l)`` -> the closed form of :math:`C_{kl}` for explicit positions.
    assumptions : list of str
        The assumptions under which the forms hold (boundedness).
    """

    family: str
    parameters: dict[str, Any]
    unknowns: dict[str, sp.Expr]
    equations: list[sp.Eq]
    entry: Callable[[int, int], sp.Expr] = field(repr=False)
    assumptions: list[str] = field(default_factory=list)
    symbols: dict[str, sp.Symbol] = field(default_factory=dict, repr=False)

    def residuals(self) -> list[sp.Expr]:
        """The reduced equations with the closed forms substituted, simplified (all 0)."""
        sub = {self.symbols[n]: v for n, v in self.unknowns.items() if n in self.symbols}
        return [sp.simplify((e.lhs - e.rhs).subs(sub)) for e in self.equations]

    def _repr_latex_(self) -> str:
        from .latex import family_latex

        return "$\\displaystyle " + family_latex(self) + "$"


def _diagonal_off_diagonal(eqs: list[sp.Eq], x: sp.Symbol, y: sp.Symbol) -> tuple[dict, dict, Any]:
    """Solve a permutation-symmetric family's two equations for the common diagonal (x) and
    off-diagonal (y) values of C; return (unknowns, symbols, entry(k, l))."""
    sol = sp.solve(eqs, [x, y], dict=True)[0]
    X, Y = (sp.factor(sp.cancel(sol[v])) for v in (x, y))
    return ({"diagonal": X, "off_diagonal": Y}, {"diagonal": x, "off_diagonal": y},
            lambda k, l: X if k == l else Y)


def derive_family(family: str, parameters: dict[str, Any] | None = None) -> FamilyClosedForm:
    r"""Derive the stationary covariance of a family for symbolic :math:`K`.

    Parameters
    ----------
    family : {"complete", "complete_noloops", "cycle", "star", "star_feedback", "chain"}
    parameters : dict, optional
        Values or symbols overriding :func:`default_parameters` (keys ``m``, ``n``, ``d``,
        ``sigma2``, ``m_h``, ``m_s``, ``n_b``, ``m_0`` as the family uses them).

    Returns
    -------
    FamilyClosedForm

    Examples
    --------
    >>> cf = derive_family("complete")
    >>> cf.unknowns["off_diagonal"]
    K*d*n**2*sigma^2/(m*(K*n + m)*(2*K*n + m))
    >>> all(r == 0 for r in cf.residuals())
    True
    """
    _check_family(family)
    p = default_parameters(family)
    if parameters:
        unknown = set(parameters) - set(p)
        if unknown:
            raise GraphValueError(f"{family}: unknown parameter(s) {sorted(unknown)}; expected {sorted(p)}")
        p.update({k: sp.sympify(v) if isinstance(v, (int, sp.Basic)) else sp.Rational(str(v))
                  for k, v in parameters.items()})
    d, s2, n = p["d"], p["sigma2"], p["n"]
    x, y = sp.symbols("x y")
    if family in ("complete", "complete_noloops"):
        m = p["m"]
        loops = family == "complete"
        N = m + (K if loops else K - 1) * n
        w = n / N
        D = d * s2 / N
        if loops:
            S = K * x + K * (K - 1) * y
            eqs = [sp.Eq(x, w**2 * S + D), sp.Eq(y, w**2 * S)]
        else:
            eqs = [sp.Eq(x, w**2 * ((K - 1) * x + (K - 1) * (K - 2) * y) + D),
                   sp.Eq(y, w**2 * ((K - 2) * x + (K**2 - 3 * K + 3) * y))]
        unknowns, syms, entry = _diagonal_off_diagonal(eqs, x, y)
        assumptions = ["m > 0 (every learner gets real data; otherwise every learner collapses)"]
    elif family == "cycle":
        m = p["m"]
        N = m + n
        w = n / N
        D = d * s2 / N
        eqs = [sp.Eq(x, w**2 * x + D), sp.Eq(y, w**2 * y)]
        unknowns, syms, entry = _diagonal_off_diagonal(eqs, x, y)
        assumptions = ["m > 0 (otherwise the cycle is a source component without real data and collapses)"]
    elif family in ("star", "star_feedback"):
        mh, ms = p["m_h"], p["m_s"]
        a, b, c, e = sp.symbols("a b c e")
        Ns = ms + n
        w = n / Ns
        Ds = d * s2 / Ns
        if family == "star":
            Nh = mh
            u = sp.Integer(0)
        else:
            nb = p["n_b"]
            Nh = mh + (K - 1) * nb
            u = nb / Nh
        Dh = d * s2 / Nh
        eqs = [sp.Eq(a, u**2 * (K - 1) * (c + (K - 2) * e) + Dh),
               sp.Eq(b, u * w * (K - 1) * b),
               sp.Eq(c, w**2 * a + Ds),
               sp.Eq(e, w**2 * a)]
        sol = sp.solve(eqs, [a, b, c, e], dict=True)[0]
        A, B, Cc, E = (sp.factor(sp.cancel(sol[v])) for v in (a, b, c, e))
        unknowns = {"hub": A, "hub_spoke": B, "spoke": Cc, "spoke_spoke": E}
        syms = {"hub": a, "hub_spoke": b, "spoke": c, "spoke_spoke": e}

        def entry(k: int, l: int) -> sp.Expr:
            if k == 0 and l == 0:
                return A
            if k == 0 or l == 0:
                return B
            return Cc if k == l else E

        assumptions = ["m_h > 0 (the hub gets real data)"]
        if family == "star_feedback":
            assumptions.append("(K - 1) u w != 1 with u = n_b/N_h, w = n/N_s (holds when m_h > 0)")
    else:  # chain
        m0, m = p["m_0"], p["m"]
        N = m + n
        w = n / N
        D = d * s2 / N
        x0 = d * s2 / m0
        f = sp.Function("x")
        rec = sp.rsolve(f(k_pos) - w**2 * f(k_pos - 1) - D, f(k_pos), {f(0): x0})
        if rec is None:  # pragma: no cover - rsolve solves first-order linear recurrences
            raise GraphValueError("chain: no closed form found")
        X = sp.factor(sp.simplify(rec))
        eqs = [sp.Eq(x, w**2 * X.subs(k_pos, k_pos - 1) + D)]
        unknowns = {"x_k": X, "off_diagonal": sp.Integer(0)}
        syms = {"x_k": x}
        entry = lambda k, l: sp.factor(X.subs(k_pos, k)) if k == l else sp.Integer(0)  # noqa: E731
        assumptions = ["m_0 > 0 (the head of the chain gets real data)"]

        def _res() -> list[sp.Expr]:
            return [sp.simplify(X - (w**2 * X.subs(k_pos, k_pos - 1) + D)), sp.simplify(X.subs(k_pos, 0) - x0)]

        cf = FamilyClosedForm(family, p, unknowns, eqs, entry, assumptions, {})
        object.__setattr__(cf, "residuals", _res)
        return cf
    return FamilyClosedForm(family, p, unknowns, eqs, entry, assumptions, syms)


def family_instance(family: str, size: int, parameters: dict[str, Any] | None = None) -> InteractionGraph:
    """The explicit builder graph of a family with ``size`` learners.

    Examples
    --------
    >>> family_instance("cycle", 3, {"m": 2, "n": 5, "d": 1, "sigma2": 1}).mixing_matrix[1, 0]
    5/7
    >>> family_instance("star", 1)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: star: the number of learners must be an integer >= 2, found 1
    """
    _check_family(family)
    if isinstance(size, bool) or not isinstance(size, int) or size < _MINIMUM[family]:
        raise GraphValueError(f"{family}: the number of learners must be an integer >= {_MINIMUM[family]}, found {size!r}")
    p = default_parameters(family)
    if parameters:
        p.update(parameters)
    common = dict(dimension=p["d"], noise_variance=p["sigma2"], samples=p["n"])
    if family == "complete":
        return builders.complete(size, self_loops=True, real_samples=p["m"], **common)
    if family == "complete_noloops":
        return builders.complete(size, self_loops=False, real_samples=p["m"], **common)
    if family == "cycle":
        return builders.cycle(size, real_samples=p["m"], **common)
    if family == "chain":
        return builders.chain(size, real_samples=[p["m_0"]] + [p["m"]] * (size - 1), **common)
    G = builders.star(size, real_samples=[p["m_h"]] + [p["m_s"]] * (size - 1), **common)
    if family == "star_feedback":
        edges = G.edges + [(f"L{s}", "L0", p["n_b"]) for s in range(1, size)]
        G = G.replace(edges=edges)
    return G


def check_family(family: str, size: int, parameters: dict[str, Any]) -> bool:
    """Whether the closed form at ``K = size`` equals the exact Lyapunov solution of the
    explicit instance, entry by entry (exact comparison).

    Examples
    --------
    >>> check_family("complete", 4, {"m": 3, "n": 2, "d": 5, "sigma2": 1})
    True
    """
    cf = derive_family(family, parameters)
    G = family_instance(family, size, cf.parameters)
    D = large_sample_noise_variance(G)
    C = solve_lyapunov_exact(G.mixing_matrix, sp.diag(*D))
    for i in range(size):
        for j in range(size):
            if sp.simplify(cf.entry(i, j).subs(K, size) - C[i, j]) != 0:
                return False
    return True
