r"""Theory-only sweeps solved once symbolically and evaluated per cell.

When every axis of a sweep is an integer field of the ``--symbol`` grammar on one
topology, the exact theory of every cell follows from a few rational functions of the axis
symbols, derived once per *pattern* (which real-sample axes are zero):

* per strongly connected component :math:`A` with a nonzero second-moment map and real
  data, the solution :math:`X_A` of :math:`X = \mathcal L_A(X) + D'_A` on the component cut
  out of the graph (its in-edges from outside become real data, so :math:`W_A`, the design
  corrections and hence :math:`\mathcal L_A` are unchanged and :math:`D'_A \succ 0`);
* the stationary covariance on the learners without an offending ancestor
  (:func:`graphcollapse.theory.exact.exact_stationary_covariance`);
* the exact growth rates (:func:`graphcollapse.theory.exact.exact_growth_rates`).

Per cell, with exact integer arithmetic:

1. :math:`\rho(\mathcal L_A) < 1` iff :math:`X_A` is positive definite (Theorem 5 of
   ``docs/exact.md``: for a positive map and any :math:`D \succ 0`, a positive definite
   solution exists iff the map contracts). A vanishing denominator (a pole: the radius is
   exactly 1 there, or the formula does not apply) sends the cell to the per-cell analysis.
2. An offending component (a closed source without real data) has radius exactly 1 when
   every :math:`N_k \ge 2d + 1` on it (Theorem 3); otherwise the cell goes to the per-cell
   analysis.
3. If some component expands (not positive definite) the growth is geometric and the cell
   goes to the per-cell analysis (the growth factor is a root of a characteristic
   polynomial). Otherwise a learner is bounded iff no ancestor component is offending; its
   stationary risk is the evaluated formula; a collapsing learner grows linearly (an
   offending component is a source, so no two radius-1 blocks are chained) at the
   evaluated rate.

Every evaluated rational function is the quotient of two integer polynomials evaluated in
Python integers, so the values are exact, and the records equal those of
:func:`graphcollapse.verify.sweep.compute_cell` (tested on whole grids).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import sympy as sp

__all__ = ["SymbolicTopology", "symbolic_applies"]


def symbolic_applies(spec: Any) -> bool:
    """Whether a sweep can use the symbolic route: theory only (OLS, no trajectories, no
    Monte Carlo), the exact theory, at least one axis, every axis a graph field (not a
    builder parameter) with integer values.

    Examples
    --------
    >>> from graphcollapse.verify.sweep import load_spec
    >>> s = load_spec({"seed": 1, "graph": {"builder": "cycle", "K": 2},
    ...                "axes": [{"field": "L0.real_samples", "values": [1, 2]}]})
    >>> symbolic_applies(s)
    True
    """
    return (spec.montecarlo is None and spec.estimator == "ols" and spec.generations == 0
            and spec.theory == "exact" and bool(spec.axes)
            and all(not a.is_graph_parameter and all(isinstance(v, int) and not isinstance(v, bool)
                                                      for v in a.values) for a in spec.axes))


class _Rational:
    """A rational function of the symbols as two integer polynomials, evaluated exactly."""

    def __init__(self, expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> None:
        self.constant: Fraction | None = None
        if not symbols or not (sp.sympify(expr).free_symbols & set(symbols)):
            value = sp.nsimplify(sp.sympify(expr)) if not sp.sympify(expr).is_Rational else sp.sympify(expr)
            self.constant = Fraction(int(value.p), int(value.q))
            return
        num, den = sp.fraction(sp.cancel(sp.together(expr)))
        pn = sp.Poly(num, *symbols, domain="QQ")
        pd = sp.Poly(den, *symbols, domain="QQ")
        cn, pn = pn.clear_denoms(convert=True)
        cd, pd = pd.clear_denoms(convert=True)
        self.scale = Fraction(int(cd), int(cn))
        self.num = sp.lambdify(symbols, pn.as_expr(), "math")
        self.den = sp.lambdify(symbols, pd.as_expr(), "math")

    def __call__(self, values: Sequence[int]) -> Fraction | None:
        if self.constant is not None:
            return self.constant
        d = self.den(*values)
        if d == 0:
            return None
        return Fraction(self.num(*values), d) * self.scale


def _positive_definite(X: list[list[Fraction]]) -> bool:
    """Gaussian elimination without pivoting: every pivot positive (exact)."""
    A = [row[:] for row in X]
    n = len(A)
    for i in range(n):
        if A[i][i] <= 0:
            return False
        for r in range(i + 1, n):
            f = A[r][i] / A[i][i]
            if f:
                for c in range(i, n):
                    A[r][c] -= f * A[i][c]
    return True


class _Pattern:
    """The symbolic solution for one zero/nonzero pattern of the real-sample axes."""

    def __init__(self, G: Any, symbols: Sequence[sp.Symbol]) -> None:
        from graphcollapse.theory.condition import collapse_condition
        from graphcollapse.theory.exact import exact_growth_rates, exact_stationary_covariance
        from graphcollapse.theory.graph import InteractionGraph

        self.names = G.names
        cond = collapse_condition(G)
        cond.require_decided()
        S = G.structure
        offending = [tuple(int(i) for i in c.members) for c in cond.components]
        self.offending = offending
        off_set = {frozenset(c) for c in offending}
        self.ancestors_offending = [bool(c) for c in cond.collapses]
        W = G.mixing_matrix
        self.components: list[tuple[tuple[int, ...], list[list[_Rational]]]] = []
        for c in range(S.num_components):
            members = tuple(sorted(int(i) for i in S.members(c)))
            if frozenset(members) in off_set:
                continue
            if all(W[i, j] == 0 for i in members for j in members):
                continue  # a learner without a self-loop: the map is zero, it contracts
            inside = set(members)
            real = [G.real_samples[i] + sum(n for s, t, n in G.edges if G.index[t] == i and G.index[s] not in inside)
                    for i in members]
            GA = InteractionGraph([G.names[i] for i in members], real_samples=real,
                                  initial_samples=[G.initial_samples[i] for i in members],
                                  edges=[(s, t, n) for s, t, n in G.edges if G.index[s] in inside and G.index[t] in inside],
                                  dimension=G.dimension, noise_variance=G.noise_variance)
            X = exact_stationary_covariance(GA, range(len(members)))
            self.components.append((members, [[_Rational(X[i, j], symbols) for j in range(len(members))]
                                              for i in range(len(members))]))
        self.bounded = [k for k, c in enumerate(cond.collapses) if not c]
        C = exact_stationary_covariance(G, self.bounded) if self.bounded else sp.zeros(0, 0)
        self.risk = {k: _Rational(C[i, i], symbols) for i, k in enumerate(self.bounded)}
        self.rates = {G.index[n]: _Rational(v, symbols) for n, v in exact_growth_rates(G).items()}
        self.total = [_Rational(sp.sympify(N), symbols) for N in G.total_samples]
        self.dimension = _Rational(sp.sympify(G.dimension), symbols)

    def evaluate(self, values: Sequence[int]) -> list[dict[str, Any]] | None:
        """The learner entries of the cell, or None when the cell needs the per-cell analysis."""
        from graphcollapse.theory.report import to_exact_string, to_float

        for members, X in self.components:
            entries = [[f(values) for f in row] for row in X]
            if any(e is None for row in entries for e in row) or not _positive_definite(entries):
                return None  # a pole or an expanding component
        if self.offending:
            d = self.dimension(values)
            for members in self.offending:
                if any(self.total[k](values) < 2 * d + 1 for k in members):
                    return None
        out = []
        for k, name in enumerate(self.names):
            if self.ancestors_offending[k]:
                rate = self.rates[k](values) if k in self.rates else None
                if rate is None or rate <= 0:
                    return None
                r = sp.Rational(rate.numerator, rate.denominator)
                out.append({"name": name, "collapses": True, "growth": "linear", "growth_degree": 1,
                            "growth_rate": to_float(r), "growth_factor": None, "stationary_risk": None,
                            "stationary_risk_exact": None})
            else:
                risk = self.risk[k](values)
                if risk is None:
                    return None
                r = sp.Rational(risk.numerator, risk.denominator)
                out.append({"name": name, "collapses": False, "growth": "none", "growth_degree": None,
                            "growth_rate": None, "growth_factor": None, "stationary_risk": to_float(r),
                            "stationary_risk_exact": to_exact_string(r)})
        return out


class SymbolicTopology:
    """One topology with its axes bound to symbols; :meth:`evaluate` gives a cell's learner
    entries (or None: use the per-cell analysis). Patterns are derived on first use.

    Parameters
    ----------
    graph : InteractionGraph
        The base graph (numeric).
    fields : sequence of str
        The axes' ``--symbol`` field lists, in the order of the values passed to
        :meth:`evaluate`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> top = SymbolicTopology(self_training(real_samples=5, samples=20, dimension=2), ["L0.real_samples"])
    >>> top.evaluate([10])[0]["stationary_risk_exact"], top.evaluate([0])[0]["growth"]
    ('174/1253', 'linear')
    """

    def __init__(self, graph: Any, fields: Sequence[str]) -> None:
        from graphcollapse.theory.symbols import apply_symbols, parse_symbol_binding

        self.bindings = [parse_symbol_binding(f"sweep_a{i}={f}") for i, f in enumerate(fields)]
        self.symbols = [b.symbol for b in self.bindings]
        self.real_only = [all(f[0] == "real_samples" for f in b.fields) for b in self.bindings]
        self.graph = apply_symbols(graph, self.bindings)
        self.patterns: dict[tuple[bool, ...], _Pattern] = {}

    def _pattern(self, key: tuple[bool, ...]) -> _Pattern:
        if key not in self.patterns:
            mapping: dict[sp.Symbol, Any] = {}
            for s, zero, real in zip(self.symbols, key, self.real_only):
                if real:  # a real-sample count: 0, or a positive symbol (the verdict is decided)
                    mapping[s] = 0 if zero else sp.Symbol(s.name, positive=True, integer=True)
            G = self.graph.subs(mapping) if mapping else self.graph
            symbols = [mapping.get(s, s) for s in self.symbols]
            symbols = [s for s in symbols if isinstance(s, sp.Symbol)]
            self.patterns[key] = _Pattern(G, symbols)
        return self.patterns[key]

    def evaluate(self, values: Sequence[int]) -> list[dict[str, Any]] | None:
        """Learner entries (as :func:`graphcollapse.verify.sweep.compute_cell` writes them)
        for the axis ``values``, or None when the cell needs the per-cell analysis."""
        key = tuple(real and v == 0 for v, real in zip(values, self.real_only))
        pattern = self._pattern(key)
        kept = [v for v, real, zero in zip(values, self.real_only, key) if not (real and zero)]
        return pattern.evaluate(kept)


def evaluate_cells(topology: SymbolicTopology, cells: Sequence[Mapping[str, Any]],
                   axis_names: Sequence[str], done: Callable[[list[dict[str, Any]]], None],
                   flush: int = 256) -> tuple[int, list[int]]:
    """Hand the records of the cells the symbolic route decides to ``done`` (every
    ``flush`` cells, so an interruption loses at most that many); return their number and
    the positions of the other cells."""
    import time

    records: list[dict[str, Any]] = []
    rest: list[int] = []
    count = 0
    for i, c in enumerate(cells):
        if len(records) >= flush:
            done(records)
            count += len(records)
            records = []
        t0, c0 = time.perf_counter(), time.process_time()
        learners = topology.evaluate([c["values"][n] for n in axis_names])
        if learners is None:
            rest.append(i)
            continue
        records.append({"key": c["key"], "seed": c["seed"], "status": "ok", "error": None, "learners": learners,
                        "trajectory": None, "montecarlo": None, "route": "symbolic",
                        "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0})
    if records:
        done(records)
    return count + len(records), rest
