r"""Theorems as data: the derived objects of an interaction graph under one theory.

Statement
---------
For a graph with exact (rational or symbolic) parameters, :func:`derive_theorem` collects

* the mixing matrix :math:`W` (:math:`W_{kj} = n_{jk}/N_k`),
* the recursion: large sample :math:`C^{(t)} = W C^{(t-1)} W^\top + D`,
  :math:`D_k = d(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)/N_k^2`,
  :math:`C^{(0)} = \operatorname{diag}(\sigma^2 d/n^0_k)`; exact (default)
  :math:`C^{(t)} = W C W^\top + \operatorname{diag}(\gamma_k(\sum_j W_{kj}C_{jj} - (WCW^\top)_{kk})) + D`
  with the design corrections :math:`\gamma_k = \gamma(N_k, d)` and
  :math:`D_k = d(\dots)/(N_k(N_k-d-1))` of :mod:`graphcollapse.theory.exact`,
* the stability condition of every strongly connected component, stated once
  (:class:`ComponentCondition`); a learner collapses iff one of its ancestor components is
  not stable. In the exact theory with symbols the condition is split by integrality
  (``docs/exact.md`` §12, Theorem 7): topological where every :math:`N_k \ge 2d + 1`,
  the remainder enumerated when finite, reduced slice by slice otherwise,
* the collapse condition per learner (a sympy Boolean in the symbols; in the exact
  theory, also the contraction inequality of every self-training learner),
* the stationary risks of the bounded learners (rational functions, factored),
* the growth rates of the collapsing learners,

* named sub-expressions (:math:`N_k`, the user's ``--define`` names, long factors
  :math:`P_i`) and the printed forms written in them,

as sympy objects in a :class:`Theorem`. Symbolic real-data counts are assumed positive for
the stationary risks and rates, an assumption the theorem records. Printing is apart:
:mod:`graphcollapse.theory.latex` renders a :class:`Theorem` and derives nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import sympy as sp

from .condition import collapse_condition
from .errors import GraphValueError, NoClosedFormError
from .graph import InteractionGraph, _as_sympy
from .linalg import common_field
from .modes import resolve_theory
from .lyapunov import solve_lyapunov_exact
from .recursion import (
    growth_rates,
    large_sample_initial_covariance,
    large_sample_noise_variance,
)

__all__ = ["Theorem", "ComponentCondition", "derive_theorem", "derive_risk_closed_form", "parse_definition"]



def _positive_counts(graph: InteractionGraph) -> tuple[InteractionGraph, list[sp.Symbol]]:
    """Replace nonnegative real-count symbols by positive ones of the same name."""
    mapping: dict[sp.Symbol, sp.Symbol] = {}
    for m in graph.real_samples:
        if isinstance(m, sp.Basic):
            for s in m.free_symbols:
                if not s.is_positive:
                    mapping[s] = sp.Symbol(s.name, positive=True, integer=bool(s.is_integer))
    return (graph.subs(mapping) if mapping else graph), sorted(mapping.values(), key=str)


# --------------------------------------------------------------------------- components
@dataclass(frozen=True)
class ComponentCondition:
    r"""The stability condition of one strongly connected component, stated once.

    A component :math:`A` is *stable* when its second-moment map contracts: exact theory
    :math:`\rho(\mathcal L_A) < 1`, large-sample theory :math:`\rho(W_{AA}) < 1`. A learner
    collapses iff some component among its ancestors (itself included) is not stable.

    Attributes
    ----------
    label : str
        ``"C1"``, ``"C2"``, ... in topological order.
    members : tuple of str
    stable : sympy.Boolean
        The condition in the symbols, valid at every integer point of the regime
        (:math:`N_k > d + 1`); ``sympy.true``/``sympy.false`` when decided outright.
    topological : sympy.Boolean
        The topological condition: the component has an in-edge from outside or some real data.
    regime : sympy.Boolean
        Where the exact verdict is the topological one: every :math:`N_k \ge 2d + 1` in the
        component (``sympy.true`` in the large-sample theory).
    exceptions : tuple of tuple of int
        Exact theory, finite remainder: the integer points (values of ``symbols``) outside
        ``regime`` where the component is unstable although it is topologically stable.
    symbols : tuple of sympy.Symbol
        The order of the values in ``exceptions``.
    slices : tuple
        Exact theory, infinite remainder: ``(assignment, condition)`` pairs, the reduced
        condition on the slice where the symbols of ``assignment`` take its values.
    reduced : bool
        Whether ``stable`` is stated through the integrality reduction
        (``topological`` plus ``exceptions`` and ``slices``); ``False`` when the whole
        exact condition is stated.
    """

    label: str
    members: tuple[str, ...]
    stable: Any
    topological: Any
    regime: Any = sp.true
    exceptions: tuple[tuple[int, ...], ...] = ()
    symbols: tuple[sp.Symbol, ...] = ()
    slices: tuple[tuple[tuple[tuple[sp.Symbol, int], ...], Any], ...] = ()
    reduced: bool = False


#: enumerate at most this many integer points of a remainder (else state the full condition)
MAX_REMAINDER_POINTS = 4000
#: reduce on at most this many lower-dimensional slices (else state the full condition)
MAX_SLICES = 24


def _is_closed(graph: InteractionGraph, members: list[int]) -> bool:
    """Whether no edge enters the component from outside."""
    inside = set(members)
    return not any(t in inside and s not in inside for s, t in zip(graph.edge_sources, graph.edge_targets))


def _topological_stable(graph: InteractionGraph, members: list[int]) -> Any:
    """Topological stability: an in-edge from outside, or some real data (``m > 0``)."""
    if not _is_closed(graph, members):
        return sp.true
    parts = []
    for k in members:
        m = _as_sympy(graph.real_samples[k])
        parts.append(sp.Gt(m, 0) if not m.is_number else (sp.true if m > 0 else sp.false))
    return sp.Or(*parts)


def _lower_bound(s: sp.Symbol) -> int:
    return 1 if s.is_positive else 0


def _points(N: sp.Expr, lo: int, hi: int, syms: list[sp.Symbol]) -> list[dict[sp.Symbol, int]] | None:
    """Integer points of ``lo <= N <= hi`` (N linear with positive coefficients in ``syms``,
    each at least its lower bound); ``None`` beyond :data:`MAX_REMAINDER_POINTS`."""
    poly = sp.Poly(N, *syms)
    if poly.total_degree() != 1:
        return None
    coeff = [poly.coeff_monomial(s) for s in syms]
    const = poly.coeff_monomial(1)
    if any(not (c.is_Integer and c > 0) for c in coeff) or not const.is_Integer:
        return None
    lbs = [_lower_bound(s) for s in syms]
    base = const + sum(c * b for c, b in zip(coeff, lbs))
    ranges = [range(b, b + max(-1, (hi - base) // c) + 1) for b, c in zip(lbs, coeff)]
    size = 1
    for r in ranges:
        size *= max(len(r), 0)
    if size > MAX_REMAINDER_POINTS:
        return None
    return [dict(zip(syms, v)) for v in itertools.product(*ranges)
            if lo <= const + sum(c * x for c, x in zip(coeff, v)) <= hi]


def _in_regime(graph: InteractionGraph, point: dict[sp.Symbol, int]) -> bool:
    """Whether no count that the point fixes violates the exact regime (N_k, n0_k > d + 1)."""
    d = _as_sympy(graph.dimension)
    for v in (*graph.total_samples, *graph.initial_samples):
        e = _as_sympy(v).subs(point)
        if e.is_number and e < d + 2:
            return False
    return True


def _component_split(graph: InteractionGraph, members: list[int], label: str) -> ComponentCondition:
    """The exact stability condition of one component, split by integrality
    (``docs/exact.md`` §12): where every :math:`N_k \\ge 2d + 1` it is topological
    (Theorem 3); the remainder is enumerated when finite, reduced slice by slice otherwise."""
    from .exact import exact_contraction_condition

    names = tuple(graph.names[k] for k in members)
    topo = _topological_stable(graph, members)
    W = graph.mixing_matrix
    if len(members) == 1 and W[members[0], members[0]] == 0:
        return ComponentCondition(label, names, sp.true, topo)
    d = _as_sympy(graph.dimension)
    Ns = [sp.expand(_as_sympy(graph.total_samples[k])) for k in members]
    syms = sorted(set().union(*(N.free_symbols for N in Ns)), key=str)

    def full() -> ComponentCondition:
        return ComponentCondition(label, names, exact_contraction_condition(graph, members), topo)

    if not d.is_number:
        return full()
    if not syms:  # numeric component: decide it exactly
        from .exact import component_contracts

        return ComponentCondition(label, names, sp.true if component_contracts(graph, members) else sp.false, topo)
    if any(N.is_number and N <= 2 * d for N in Ns):
        return full()  # no N_k >= 2d + 1 region
    regime = sp.And(*[sp.Ge(N, 2 * d + 1) for N in Ns if not N.is_number])
    points: dict[tuple[int, ...], dict[sp.Symbol, int]] = {}
    slice_points: dict[tuple[tuple[sp.Symbol, int], ...], dict[sp.Symbol, int]] = {}
    for N in Ns:
        if N.is_number:
            continue
        bound = sorted(N.free_symbols, key=str)
        pts = _points(N, int(d) + 2, 2 * int(d), bound)
        if pts is None:
            return full()
        for p in pts:
            if not _in_regime(graph, p):
                continue
            if set(bound) == set(syms):
                points[tuple(p[s] for s in syms)] = p
            else:
                slice_points[tuple(sorted(p.items(), key=lambda kv: str(kv[0])))] = p
    if len(slice_points) > MAX_SLICES:
        return full()
    exceptions = []
    for key in sorted(points):
        p = points[key]
        if topo.subs(p) == sp.false:
            continue  # topological collapse implies exact collapse (docs/exact.md §5)
        if exact_contraction_condition(graph.subs(p), members) == sp.false:
            exceptions.append(key)
    slices = []
    for key in sorted(slice_points, key=lambda kv: [v for _, v in kv]):
        reduced = exact_contraction_condition(graph.subs(slice_points[key]), members)
        if reduced != sp.true:
            slices.append((key, reduced))
    stable = sp.And(topo,
                    *[sp.Not(sp.And(*[sp.Eq(s, v) for s, v in zip(syms, e)])) for e in exceptions],
                    *[sp.Or(sp.Not(sp.And(*[sp.Eq(s, v) for s, v in key])), c) for key, c in slices])
    return ComponentCondition(label, names, stable, topo, regime, tuple(exceptions), tuple(syms),
                              tuple(slices), True)


def _components(graph: InteractionGraph, theory: str) -> tuple[ComponentCondition, ...]:
    out = []
    for i, members in enumerate(graph.structure.component_lists()):
        members = sorted(int(k) for k in members)
        label = f"C{i + 1}"
        if theory == "exact":
            out.append(_component_split(graph, members, label))
        else:
            topo = _topological_stable(graph, members)
            out.append(ComponentCondition(label, tuple(graph.names[k] for k in members), topo, topo))
    return tuple(out)


def _learner_verdicts(graph: InteractionGraph, comps: tuple[ComponentCondition, ...]) -> tuple[Any, ...]:
    """Learner k collapses iff some ancestor component (itself included) is not stable."""
    comp_of = {graph.index[n]: i for i, c in enumerate(comps) for n in c.members}
    out = []
    for anc in _ancestors(graph):
        out.append(sp.Or(*[sp.Not(comps[i].stable) for i in sorted({comp_of[j] for j in anc})]))
    return tuple(out)


def _ancestors(graph: InteractionGraph) -> list[set[int]]:
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from(range(graph.num_learners))
    G.add_edges_from(zip((int(s) for s in graph.edge_sources), (int(t) for t in graph.edge_targets)))
    return [nx.ancestors(G, k) | {k} for k in range(graph.num_learners)]


# --------------------------------------------------------------------------- named sub-expressions
def parse_definition(text: str, graph: InteractionGraph) -> tuple[sp.Symbol, sp.Expr]:
    """Parse a user definition ``NAME=EXPR`` (``--define``) over the graph's symbols, with the
    safe parser of :mod:`graphcollapse.theory.loss_parser` (nothing is evaluated).

    Parameters
    ----------
    text : str
        E.g. ``"T=m+n"``: arithmetic (``+ - * / **``, integers) in the graph's symbols.
    graph : InteractionGraph
        A symbolic graph (:func:`graphcollapse.theory.symbols.apply_symbols`).

    Returns
    -------
    (sympy.Symbol, sympy.Expr)

    Raises
    ------
    GraphValueError
        On a malformed definition, a bad or taken name, or an unknown symbol.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=10), ["m=L0.real_samples", "n=L0-L0.samples"])
    >>> parse_definition("T=m+n", G)
    (T, m + n)
    >>> parse_definition("T=m+k", G)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --define T: unknown name 'k'; use the graph's symbols (m, n)
    """
    from .loss_parser import parse_expression
    from .symbols import _NAME, _is_sympy_name

    if not isinstance(text, str) or "=" not in text:
        raise GraphValueError(f"--define: expected NAME=EXPRESSION, found {text!r}")
    name, _, rhs = (p.strip() for p in text.partition("="))
    if not _NAME.match(name) or _is_sympy_name(name):
        raise GraphValueError(f"--define: {name!r} is not a usable name; use letters, digits and underscores, "
                              "starting with a letter, not a sympy name")
    known = {s.name: s for s in graph.free_symbols}
    if name in known:
        raise GraphValueError(f"--define {name}: the name is already a symbol of the graph; choose another")
    try:
        expr = parse_expression(rhs, known, field=f"--define {name}")
    except GraphValueError as exc:
        msg = str(exc)
        if "unknown" in msg or "not allowed" in msg or "name" in msg:
            bad = [t for t in _identifiers(rhs) if t not in known]
            if bad:
                raise GraphValueError(f"--define {name}: unknown name {bad[0]!r}; use the graph's symbols "
                                      f"({', '.join(sorted(known))})") from None
        raise
    if expr.is_number:
        raise GraphValueError(f"--define {name}: the expression has no symbol; define an expression in "
                              f"{', '.join(sorted(known))}")
    return sp.Symbol(name, positive=True), expr


def _identifiers(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)


def _size(e: Any) -> int:
    """Printed length, a subscripted name (``N_{A}``) counting as one character."""
    import re

    return len(re.sub(r"[A-Za-z]_\{[^{}]*\}", "N", sp.latex(e)))


def _rewrite(e: Any, defs: dict[sp.Symbol, sp.Expr]) -> Any:
    """``e`` written with the defined names where that is shorter, factor by factor: a
    factor becomes the defined name where it contains the definition as a sub-expression,
    or is rewritten by eliminating a symbol x when the definition is ``x + (rest)`` and x
    then disappears from the factor (``1672 m + 1672 n - 6335`` -> ``1672 N_A - 6335``)."""
    if not defs or not isinstance(e, sp.Expr) or e.is_number:
        return e
    coeff, factors = _factor_list(e)
    parts = []
    for f, k in factors:
        r = _rewrite_factor(f, defs)
        if _leads_with_minus(r):  # write -2 N^2 + n^2 as -(2 N^2 - n^2)
            r, coeff = -r, coeff * (-1) ** k
        parts.append(r**k)
    out = sp.Mul(coeff, *parts)
    if sp.cancel(out.subs(defs) - e) != 0:  # pragma: no cover - a guard: never print a wrong form
        return e
    return out if _size(out) <= _size(e) else e


def _leads_with_minus(e: sp.Expr) -> bool:
    """Whether ``e`` is printed with a leading minus sign."""
    from .latex import tex

    return e.is_Add and tex(e).startswith("-")


def _rewrite_factor(f: sp.Expr, defs: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    best = f
    for s, g in defs.items():
        cands = [best.subs(g, s)]
        for x in sorted(g.free_symbols & best.free_symbols, key=str):
            p = sp.Poly(g, x)
            if p.degree() == 1 and p.LC() == 1:
                c = sp.expand(best.subs(x, s - (g - x)))
                if x not in c.free_symbols:
                    cands.append(c)
        for c in cands:
            # shorter, or written in the defined names alone (N_A - 11 rather than m + 5)
            only_names = c.free_symbols <= set(defs) and not best.free_symbols <= set(defs)
            if _size(c) <= _size(best) or (only_names and _size(c) <= 2 * _size(best)):
                best = c
    return best


def _learner_symbol(prefix: str, name: str) -> sp.Symbol:
    return sp.Symbol(f"{prefix}_{name}" if "_" not in name else f"{prefix}_{{{name}}}", positive=True)


def _default_definitions(graph: InteractionGraph) -> dict[sp.Symbol, sp.Expr]:
    """:math:`N_k` for every learner whose total count is a sum with a symbol."""
    out: dict[sp.Symbol, sp.Expr] = {}
    for name, N in zip(graph.names, graph.total_samples):
        N = sp.expand(_as_sympy(N))
        if not N.is_number and not N.is_Symbol and N not in out.values():  # one name per expression
            out[_learner_symbol("N", name)] = N
    return out


def _factor_list(e: sp.Expr) -> tuple[sp.Expr, list[tuple[sp.Expr, int]]]:
    """``sympy.factor_list`` of a rational function: denominator factors get negative exponents."""
    num, den = sp.fraction(sp.cancel(sp.together(e)))
    cn, fn = sp.factor_list(num)
    cd, fd = sp.factor_list(den)
    coeff, out = cn / cd, []
    for f, k in [*fn, *[(f, -k) for f, k in fd]]:
        if _leads_with_minus(f):  # as printed: -(2 N^2 - n^2), not (-2 N^2 + n^2)
            f, coeff = -f, coeff * (-1) ** k
        out.append((f, k))
    return coeff, out


def _shared_factors(exprs: dict[str, sp.Expr], min_size: int = 40) -> tuple[dict[str, sp.Expr], dict[sp.Symbol, sp.Expr]]:
    """Name the long irreducible factors (``P_1``, ``P_2``, ...): every factor whose LaTeX
    is longer than ``min_size`` characters, so each long polynomial is written once."""
    found: dict[sp.Expr, sp.Symbol] = {}
    out: dict[str, sp.Expr] = {}
    for key, e in exprs.items():
        if not isinstance(e, sp.Expr) or e.is_number:
            out[key] = e
            continue
        out[key] = _name_factors(e, found, min_size)
    return out, {s: f for f, s in found.items()}


def _name_factors(e: sp.Expr, found: dict[sp.Expr, sp.Symbol], min_size: int) -> sp.Expr:
    """``e`` as a product of its factors, those longer than ``min_size`` characters replaced
    by their names ``P_i`` (new names added to ``found``)."""
    coeff, factors = _factor_list(e)
    parts = [coeff]
    for f, k in factors:
        if _size(f) > min_size:
            if f not in found:
                found[f] = sp.Symbol(f"P_{len(found) + 1}")
            f = found[f]
        parts.append(f**k)
    return sp.Mul(*parts)


def _name_condition_factors(cond: Any, found: dict[sp.Expr, sp.Symbol], min_size: int = 40) -> Any:
    """A Boolean with the long factors of its relations' sides named (``P_i``)."""
    if cond in (sp.true, sp.false) or not isinstance(cond, sp.Basic):
        return cond
    if isinstance(cond, sp.core.relational.Relational):
        sides = [side if side.is_number else _name_factors(side, found, min_size) for side in (cond.lhs, cond.rhs)]
        return cond.func(*sides, evaluate=False)
    if isinstance(cond, (sp.And, sp.Or, sp.Not, sp.Implies)):
        return cond.func(*[_name_condition_factors(a, found, min_size) for a in cond.args], evaluate=False)
    return cond


@dataclass(frozen=True)
class Theorem:
    r"""The derived objects of a graph under one theory, renderable as LaTeX.

    Attributes
    ----------
    graph : InteractionGraph
    theory : str
        ``"exact"`` or ``"large-sample"``.
    W : sympy.Matrix
    noise_variance : tuple
        :math:`D_k`.
    initial_covariance : sympy.Matrix
    design_corrections : tuple or None
        :math:`\gamma_k` (exact theory only).
    collapses : tuple
        Per learner: ``True``/``False`` or a sympy Boolean "collapses" (topological in the
        large-sample theory; in the exact theory with symbols,
        :func:`graphcollapse.theory.exact.exact_collapse_conditions`).
    contraction : dict
        Exact theory: learner name -> the inequality its self-training map must satisfy;
        with symbols also ``"A, B, ..."`` (a larger component) -> its contraction condition.
    stationary_risks : dict
        Bounded learner name -> stationary risk (symbolic counts assumed positive).
    growth_rates : dict
        Collapsing learner name -> growth rate :math:`\lim R_k^{(t)}/t` (large-sample, or
        exact from :func:`graphcollapse.theory.exact.exact_growth_rates`).
    assumptions : list of str
        LaTeX assumptions the statement makes.
    components : tuple of ComponentCondition
        Each strongly connected component's stability condition, stated once; a learner
        collapses iff one of its ancestor components is not stable.
    definitions : dict
        Named sub-expressions (symbol -> expression): :math:`N_k` of learners whose total
        count holds a symbol, the user's ``--define`` names, and ``P_i`` for long polynomial
        factors. ``display`` is written in them.
    display : dict
        The printed forms, by key (``W``, ``gamma``, ``D``, ``R[name]``, ``r[name]``,
        ``C1`` ...): equal to the derived objects once ``definitions`` are substituted.
    legend : tuple
        ``(symbol, fields)`` for every symbol of the graph (fields as in
        :class:`graphcollapse.theory.symbols.SymbolBinding`).
    setting : str or None
        A sentence on the data regime, when the graph has one besides the default.
    regime : RegimeStatement or None
        For a graph whose data regime is not the default
        (:class:`graphcollapse.theory.regime_symbolic.RegimeStatement`): the regime, the
        theory used and the closed forms ``docs/regimes.md`` proves; ``W`` is then the
        weighted mixing matrix and ``noise_variance`` the weighted one-batch variances.
    """

    graph: InteractionGraph = field(repr=False)
    theory: str
    W: sp.Matrix
    noise_variance: tuple[sp.Expr, ...]
    initial_covariance: sp.Matrix
    design_corrections: tuple[sp.Expr, ...] | None
    collapses: tuple[Any, ...]
    contraction: dict[str, sp.Basic]
    stationary_risks: dict[str, sp.Expr]
    growth_rates: dict[str, sp.Expr]
    assumptions: list[str]
    components: tuple[ComponentCondition, ...] = ()
    definitions: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    display: dict[str, Any] = field(default_factory=dict)
    legend: tuple[tuple[sp.Symbol, tuple[tuple[str, ...], ...]], ...] = ()
    setting: str | None = None
    regime: Any = None

    def scalars(self) -> dict[str, sp.Expr]:
        """Every scalar formula by a readable key (for round-trip tests and JSON)."""
        out: dict[str, sp.Expr] = {}
        for k, name in enumerate(self.graph.names):
            out[f"D[{name}]"] = self.noise_variance[k]
            out[f"C0[{name}]"] = self.initial_covariance[k, k]
            if self.design_corrections is not None:
                out[f"gamma[{name}]"] = self.design_corrections[k]
        out.update({f"R[{n}]": v for n, v in self.stationary_risks.items()})
        out.update({f"r[{n}]": v for n, v in self.growth_rates.items()})
        return out

    def to_latex(self, document: bool = False) -> str:
        """The theorem statement (a LaTeX snippet, or a standalone document), printed by
        :func:`graphcollapse.theory.latex.theorem_latex`."""
        from .latex import document_latex, theorem_latex

        body = theorem_latex(self)
        return document_latex(body, title=f"Model collapse on a {self.graph.num_learners}-learner graph") if document else body

    def _repr_latex_(self) -> str:
        from .latex import theorem_notebook_latex

        return theorem_notebook_latex(self)

    def _repr_html_(self) -> str:
        from .latex import theorem_html

        return theorem_html(self)


def _exact_parts(graph: InteractionGraph):
    from . import exact

    gam = tuple(sp.factor(exact.design_correction(N, graph.dimension)) for N in graph.total_samples)
    return gam, exact.exact_noise_variance(graph), exact.exact_initial_covariance(graph)


def _exact_stationary(graph: InteractionGraph, B: list[int], gam, Dv) -> sp.Matrix:
    """Solve C = L(C) + D on the ancestor-closed set B (exact second-moment map)."""
    W = graph.mixing_matrix.extract(B, B)
    n = len(B)
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    idx = {p: r for r, p in enumerate(pairs)}
    key = lambda p, q: idx[(p, q) if p <= q else (q, p)]  # noqa: E731
    M = sp.zeros(len(pairs), len(pairs))
    rhs = sp.zeros(len(pairs), 1)
    for r, (i, j) in enumerate(pairs):
        M[r, r] += 1
        for p in range(n):
            for q in range(n):
                if W[i, p] != 0 and W[j, q] != 0:
                    coeff = W[i, p] * W[j, q]
                    if i == j:
                        coeff = coeff * (1 - gam[B[i]])
                    M[r, key(p, q)] -= coeff
        if i == j:
            for p in range(n):
                if W[i, p] != 0:
                    M[r, key(p, p)] -= gam[B[i]] * W[i, p]
            rhs[r] = Dv[B[i]]
    from sympy.polys.matrices import DomainMatrix

    F = common_field(list(M) + list(rhs))
    Md = DomainMatrix([[F.from_sympy(x) for x in M.row(i)] for i in range(M.rows)], M.shape, F)
    bd = DomainMatrix([[F.from_sympy(x)] for x in rhs], rhs.shape, F)
    try:
        x = Md.lu_solve(bd).to_Matrix()
    except Exception as exc:
        raise GraphValueError("exact: the second-moment map has eigenvalue 1 on the bounded learners; "
                              "no stationary risk exists") from exc
    C = sp.zeros(n, n)
    for r, (i, j) in enumerate(pairs):
        C[i, j] = C[j, i] = x[r]
    return C


def derive_theorem(graph: InteractionGraph, theory: str = "exact", definitions: Sequence[str] = ()) -> Theorem:
    r"""Derive every object of the theorem for ``graph``.

    Parameters
    ----------
    graph : InteractionGraph
        Exact parameters (rationals or sympy symbols, e.g. from :func:`graphcollapse.theory.symbols.apply_symbols`).
    theory : {"exact", "large-sample", "default"}
        ``"default"`` is the exact theory (:func:`graphcollapse.theory.modes.resolve_theory`).
    definitions : sequence of str
        Names for sub-expressions, ``"NAME=EXPR"`` (:func:`parse_definition`); the theorem
        is written in them where that is shorter.

    Returns
    -------
    Theorem
        For a graph whose data regime is not the default (``docs/regimes.md``) the theorem
        states the regime, Theorem 2's condition per component and the closed forms proved
        there (``Theorem.regime``,
        :func:`graphcollapse.theory.regime_symbolic.derive_regime_statement`); ``"exact"``
        is then Theorem 3's exact recursion where it applies (fixed designs, one source of
        data per learner) and the large-sample theory otherwise, as the theorem says, with
        Theorem 4's exact risk and limit (§6.1) for every learner that accumulates its own
        outputs only with a fresh design and weighs them like generation 0.

    Raises
    ------
    GraphValueError
        On an unknown theory.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=10, samples=30, dimension=2),
    ...                   ["m=L0.real_samples", "n=L0->L0.samples"])
    >>> th = derive_theorem(G, "large-sample")
    >>> th.collapses
    (Eq(m, 0),)
    >>> th.stationary_risks["L0"]
    2*(m + n)/(m*(m + 2*n))
    >>> th.components[0].stable
    m > 0
    >>> th.display["W"], th.definitions
    (Matrix([[n/N_L0]]), {N_L0: m + n})

    A loss weight on the real samples (docs/regimes.md §7.1):

    >>> G = apply_symbols(self_training(real_samples=10, samples=10, dimension=1), ["w=L0.real_weight"])
    >>> th = derive_theorem(G)
    >>> th.theory, th.stationary_risks["L0"]
    ('large-sample', (w**2 + 1)/(10*w*(w + 2)))

    A learner accumulating its own outputs with a fresh design: exact by Theorem 4
    (docs/regimes.md §6.1) when the exact theory is asked for, the rest large-sample:

    >>> th = derive_theorem(self_training(samples=12, initial_samples=12, dimension=2, data_policy="accumulate"))
    >>> one = th.regime.self_accumulating[0]
    >>> th.theory, one.theorem4, one.initial, one.risk.subs(one.t, 2).doit()
    ('large-sample', True, 2/9, 67/231)
    """
    theory = resolve_theory(theory)
    if not getattr(graph, "has_default_regime", True):
        return _derive_regime_theorem(graph, theory, definitions)
    cond = collapse_condition(graph)
    collapses = tuple(sp.simplify(c) if isinstance(c, sp.Basic) else c for c in cond.collapses)
    pos_graph, made_positive = _positive_counts(graph)
    assumptions: list[str] = []
    if made_positive:
        assumptions.append(", ".join(sp.latex(s) for s in made_positive) + r" > 0 \text{ (for the risks and rates)}")
    pcond = collapse_condition(pos_graph)
    pcond.require_decided()
    B = [k for k, c in enumerate(pcond.collapses) if not c]
    if theory == "exact" and not graph.is_symbolic:
        from .exact import exact_analysis

        ea = exact_analysis(graph)
        collapses = tuple(ea.learners[n].collapses for n in graph.names)
        B = [k for k, c in enumerate(collapses) if not c]
    W = graph.mixing_matrix
    simplify = sp.factor if graph.is_symbolic else (lambda e: e)
    contraction: dict[str, sp.Basic] = {}
    if theory == "large-sample":
        Dv = large_sample_noise_variance(graph)
        C0 = large_sample_initial_covariance(graph)
        gam = None
        Dp = large_sample_noise_variance(pos_graph)
        Cb = (solve_lyapunov_exact(pos_graph.mixing_matrix.extract(B, B), sp.diag(*[Dp[k] for k in B]),
                                   components=graph.structure.components_within(B)) if B else sp.zeros(0, 0))
    else:
        gam, Dv, C0 = _exact_parts(graph)
        gam_p, Dp, _ = _exact_parts(pos_graph)
        S = graph.structure
        singletons = {int(S.members(c)[0]) for c in range(S.num_components) if S.component_sizes[c] == 1}
        for k, name in enumerate(graph.names):
            w = W[k, k]
            if w != 0 and k in singletons:  # a one-learner component with a self-loop
                contraction[name] = sp.Lt(sp.factor(w**2 + gam[k] * (w - w**2)), 1)
        if graph.is_symbolic:  # the exact verdict as conditions on the symbols, split by integrality
            from .exact import check_exact_regime

            check_exact_regime(graph)
            comps = _components(graph, "exact")
            collapses = _learner_verdicts(graph, comps)
            for c in comps:
                if len(c.members) > 1:
                    contraction[", ".join(c.members)] = c.stable
        Cb = _exact_stationary(pos_graph, B, gam_p, Dp) if B else sp.zeros(0, 0)
        from .exact import exact_growth_rates

        exact_rates = exact_growth_rates(graph)
        assumptions.append(r"N_k > d + 1 \text{ and } n^0_k > d + 1 \text{ for every learner } k")
        assumptions.append(r"\text{the stationary risks hold where the learner does not collapse}")
        if exact_rates:
            assumptions.append(r"\text{the growth rates hold where no ancestor component has } \rho(\mathcal{L}_A) > 1 "
                               r"\text{ (every } N_k \ge 2d + 1 \text{ suffices)}")
    risks = {graph.names[k]: simplify(Cb[i, i]) for i, k in enumerate(B)}
    rates: dict[str, sp.Expr] = {}
    if theory == "large-sample" and len(B) < graph.num_learners:
        rates = {pos_graph.names[k]: v for k, v in growth_rates(pos_graph, pcond).items()}
    elif theory == "exact":
        rates = exact_rates
    if theory == "large-sample" or not graph.is_symbolic:
        comps = _components(graph, theory)
    defs = _definitions(graph, definitions)
    back = _positive_back(graph, made_positive)
    display = _display(W, gam, Dv, {n: v.subs(back) for n, v in risks.items()},
                       {n: v.subs(back) for n, v in rates.items()}, comps, defs)
    found = {f: s for s, f in display.pop("_factors").items()}
    defs.update({s: f for f, s in found.items()})
    return Theorem(graph, theory, W, tuple(Dv), C0, gam, collapses, contraction, risks, rates, assumptions,
                   comps, defs, display, _legend(graph), _setting(graph))


def _definitions(graph: InteractionGraph, definitions: Sequence[str]) -> dict[sp.Symbol, sp.Expr]:
    """The default names (:math:`N_k`) and the user's ``--define`` names (the user's win)."""
    defs = _default_definitions(graph) if graph.is_symbolic else {}
    for text in definitions:
        s, f = parse_definition(text, graph)
        if s in defs:
            raise GraphValueError(f"--define {s}: the name is given twice; use one definition per name")
        defs = {k: v for k, v in defs.items() if sp.expand(v - f) != 0}  # the user's name wins
        defs[s] = f
    return defs


def _positive_back(graph: InteractionGraph, made_positive: list[sp.Symbol]) -> dict[sp.Symbol, sp.Symbol]:
    """The positive stand-ins of the real counts mapped back to the graph's own symbols."""
    graph_symbol_assumptions = {s.name: s.assumptions0 for s in graph.free_symbols}
    return {s: sp.Symbol(s.name, **graph_symbol_assumptions[s.name]) for s in made_positive
            if s.name in graph_symbol_assumptions}


def _derive_regime_theorem(graph: InteractionGraph, theory: str, definitions: Sequence[str]) -> Theorem:
    """The theorem of a graph whose data regime is not the default (docs/regimes.md):
    Theorem 2's conditions per component, the weighted recursion and the proved closed
    forms (:func:`graphcollapse.theory.regime_symbolic.derive_regime_statement`)."""
    from .regime_symbolic import derive_regime_statement

    st, parts = derive_regime_statement(graph, theory)
    defs = _definitions(graph, definitions)
    back = _positive_back(graph, parts["made_positive"])
    risks = {n: v.subs(back) if isinstance(v, sp.Basic) else v for n, v in parts["risks"].items()}
    rates = {n: v.subs(back) if isinstance(v, sp.Basic) else v for n, v in parts["rates"].items()}
    comps = parts["components"]
    display = _display(parts["W"], None, parts["D"], risks, rates, comps, defs)
    found = {f: s for s, f in display.pop("_factors").items()}
    defs.update({s: f for f, s in found.items()})
    return Theorem(graph, st.theory, parts["W"], parts["D"], parts["C0"], None, parts["collapses"], {},
                   parts["risks"], parts["rates"], parts["assumptions"], comps, defs, display, _legend(graph),
                   None, st)


def _display(W, gam, Dv, risks, rates, comps, defs) -> dict[str, Any]:
    """The printed forms: written in the defined names where shorter, long factors named."""
    out: dict[str, Any] = {"W": W.applyfunc(lambda e: _rewrite(e, defs)) if defs else W}
    if gam is not None:
        out["gamma"] = tuple(_rewrite(sp.factor(g), defs) for g in gam)
    out["D"] = tuple(_rewrite(sp.factor(v), defs) for v in Dv)
    exprs = {f"R[{n}]": _rewrite(v, defs) for n, v in risks.items()}
    exprs.update({f"r[{n}]": _rewrite(sp.factor(v), defs) for n, v in rates.items()})
    named, factors = _shared_factors(exprs)
    out.update(named)
    found = {f: s for s, f in factors.items()}
    for c in comps:
        if not c.reduced:
            out[c.label] = _name_condition_factors(c.stable, found)
        for i, (_, cond) in enumerate(c.slices):
            out[f"{c.label}.{i}"] = _name_condition_factors(cond, found)
    out["_factors"] = {s: f for f, s in found.items()}
    return out


def _legend(graph: InteractionGraph) -> tuple[tuple[sp.Symbol, tuple[tuple[str, ...], ...]], ...]:
    """The fields every symbol of the graph stands for: ``("real_samples", A)``,
    ``("initial_samples", A)``, ``("samples", B, A)``, ``("dimension",)``, ``("noise_variance",)``."""
    uses: dict[sp.Symbol, list[tuple[str, ...]]] = {}

    def note(v: Any, f: tuple[str, ...]) -> None:
        if isinstance(v, sp.Symbol):
            uses.setdefault(v, []).append(f)

    for name, m, n0, w in zip(graph.names, graph.real_samples, graph.initial_samples, graph.real_weight):
        note(m, ("real_samples", name))
        note(n0, ("initial_samples", name))
        note(w, ("real_weight", name))
    for (s, t, n), u in zip(graph.edges, graph.edge_weights):
        note(n, ("samples", s, t))
        note(u, ("weight", s, t))
    note(graph.dimension, ("dimension",))
    note(graph.noise_variance, ("noise_variance",))
    return tuple((s, tuple(fs)) for s, fs in sorted(uses.items(), key=lambda kv: str(kv[0])))


def _setting(graph: InteractionGraph) -> str | None:
    """The data regime in one sentence, when the graph states one (``theory/regimes.py``)."""
    try:
        from .regimes import regime_sentence  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return regime_sentence(graph) or None
    except Exception:  # noqa: BLE001 - the default regime needs no sentence
        return None


def derive_risk_closed_form(graph: InteractionGraph, t: sp.Symbol | None = None) -> tuple[sp.Expr, ...]:
    r"""Closed forms in :math:`t` of the large-sample risks :math:`R_k^{(t)}` when :math:`W`
    is diagonalisable with explicit eigenvalues.

    With :math:`W = P\Lambda P^{-1}`, :math:`\hat C = P^{-1} C^{(0)} P^{-\top}` and
    :math:`\hat D = P^{-1} D P^{-\top}`,
    :math:`C^{(t)} = P M^{(t)} P^\top` where
    :math:`M^{(t)}_{ij} = (\lambda_i\lambda_j)^t \hat C_{ij} + \hat D_{ij}\,\frac{1 - (\lambda_i\lambda_j)^t}{1-\lambda_i\lambda_j}`
    (:math:`t\,\hat D_{ij}` when :math:`\lambda_i\lambda_j = 1`).

    Parameters
    ----------
    graph : InteractionGraph
    t : sympy.Symbol, optional
        The generation symbol (default ``t``, nonnegative integer).

    Returns
    -------
    tuple of sympy.Expr
        :math:`R_k^{(t)}` per learner.

    Raises
    ------
    NoClosedFormError
        If :math:`W` is not diagonalisable or its eigenvalues have no explicit form.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> derive_risk_closed_form(self_training(real_samples=10, samples=30, initial_samples=20, dimension=2))
    (4/35 - 9**t/(70*2**(4*t)),)
    """
    t = sp.Symbol("t", integer=True, nonnegative=True) if t is None else t
    W = graph.mixing_matrix
    K = W.shape[0]
    try:
        if not W.is_diagonalizable():
            raise NoClosedFormError("risk closed form: W is not diagonalisable; use the recursion (predict) instead")
        P, Lam = W.diagonalize()
    except NoClosedFormError:
        raise
    except Exception as exc:
        raise NoClosedFormError("risk closed form: the eigenvalues of W have no explicit form; use the recursion") from exc
    if any(isinstance(x, sp.CRootOf) for x in Lam.atoms(sp.CRootOf)):
        raise NoClosedFormError("risk closed form: the eigenvalues of W have no explicit form; use the recursion")
    Pinv = P.inv()
    D = sp.diag(*large_sample_noise_variance(graph))
    C0 = large_sample_initial_covariance(graph)
    Ch = Pinv * C0 * Pinv.T
    Dh = Pinv * D * Pinv.T
    lam = [Lam[i, i] for i in range(K)]
    M = sp.zeros(K, K)
    for i in range(K):
        for j in range(K):
            q = sp.simplify(lam[i] * lam[j])
            geo = t if q == 1 else (1 - q**t) / (1 - q)
            M[i, j] = q**t * Ch[i, j] + Dh[i, j] * geo
    C = P * M * P.T
    return tuple(sp.simplify(C[k, k]) for k in range(K))
