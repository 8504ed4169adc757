r"""Printing of analyses and predictions: the text reports and the JSON contracts of
``graphcollapse analyze`` and ``graphcollapse predict`` (``docs/cli.md``).

This module only prints: it reads :class:`~graphcollapse.theory.analysis.Analysis` and
:class:`~graphcollapse.theory.analysis.Prediction` objects and derives nothing. Exact
values are printed twice where JSON needs a number: a float and an exact string
(algebraic numbers from their minimal polynomial, never from radicals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import Analysis, ComponentResult, LearnerResult, Prediction

__all__ = ["to_float", "to_exact_string", "learner_json", "component_json", "analysis_json",
           "analysis_report", "prediction_json", "prediction_report"]


def _version() -> str:
    from graphcollapse import __version__

    return __version__


def to_float(value: Any) -> float | None:
    """A JSON-ready float of an exact value (None stays None).

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.report import to_float
    >>> to_float(sp.Rational(1, 4))
    0.25
    >>> to_float(sp.Symbol("n")) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if getattr(value, "free_symbols", None):
        return None  # symbolic: only the exact sibling key carries it
    if isinstance(value, sp.Basic) and value.has(sp.CRootOf):
        from .exact import float_value

        return float_value(value)  # from the polynomial and an isolating interval
    return float(sp.N(value, 20))


def to_exact_string(value: Any) -> str | None:
    """The exact value as a string such as ``"3/7"`` (None stays None); algebraic numbers
    in real radicals or as ``CRootOf(minimal polynomial, index)``.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.report import to_exact_string
    >>> to_exact_string(sp.Rational(3, 7))
    '3/7'
    """
    if value is None or isinstance(value, float):
        return None  # floats (large graphs) have no exact value to give
    if isinstance(value, sp.Basic) and value.has(sp.CRootOf):
        from .exact import exact_string

        return exact_string(value)  # real radicals, else CRootOf(minimal polynomial, index)
    return str(value)


def learner_json(r: LearnerResult) -> dict[str, Any]:
    """JSON entry of ``models[NAME]``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> learner_json(analyze(self_training(real_samples=0), theory="large-sample").learners[0])["growth"]
    'linear'
    """
    out: dict[str, Any] = {
        "collapses": bool(r.collapses),
        "growth": r.growth,
        "growth_degree": r.growth_degree,
        "growth_rate": to_float(r.growth_rate),
        "growth_factor": to_float(r.growth_factor),
        "stationary_risk": to_float(r.stationary_risk),
    }
    for key in ("growth_rate", "growth_factor", "stationary_risk"):
        value = getattr(r, key)
        if value is not None:
            out[f"{key}_exact"] = to_exact_string(value)
    for key, value in r.extra.items():
        out[key] = value
    return out


def component_json(c: ComponentResult) -> dict[str, Any]:
    """JSON entry of ``components``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.analysis import analyze
    >>> component_json(analyze(cycle(2, real_samples=0), theory="large-sample").components[0])["period"]
    2
    """
    return {
        "members": list(c.members),
        "period": c.period,
        "cyclic_classes": [list(cl) for cl in c.cyclic_classes],
        "stationary_distribution": {k: to_float(v) for k, v in c.stationary_distribution.items()},
        "stationary_distribution_exact": {k: to_exact_string(v) for k, v in c.stationary_distribution.items()},
        "affects": list(c.affects),
    }


def analysis_json(a: Analysis) -> dict[str, Any]:
    """The JSON contract of ``graphcollapse analyze --json`` (``docs/cli.md``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> analysis_json(analyze(self_training(real_samples=0), theory="large-sample"))["collapse"]
    True
    """
    out: dict[str, Any] = {
        "version": _version(),
        "theory": a.theory,
        "collapse": a.collapse,
        "spectral_radius": a.spectral_radius,
        "models": {r.name: r.to_json() for r in a.learners},
        "components": [c.to_json() for c in a.components],
        "minimal_fix": a.minimal_fix.to_json() if a.minimal_fix else [],
    }
    if a.minimal_fix:
        out["minimal_fix_max_stationary_risk"] = a.minimal_fix.max_stationary_risk
        out["minimal_fix_optimal"] = a.minimal_fix.optimal
    out.update(a.extra)
    return out


def prediction_json(p: Prediction) -> dict[str, Any]:
    """The JSON contract of ``graphcollapse predict --json``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import predict
    >>> prediction_json(predict(self_training(real_samples=0, dimension=1, initial_samples=10), 1,
    ...                         theory="large-sample"))["risk_exact"]
    {'L0': ['1/10', '1/5']}
    """
    return {
        "version": _version(),
        "theory": p.theory,
        "generations": list(range(p.generations + 1)),
        "risk": {k: [to_float(x) for x in v] for k, v in p.risk.items()},
        "risk_exact": {k: [to_exact_string(x) for x in v] for k, v in p.risk.items()},
    }


def prediction_report(p: Prediction, max_rows: int = 25, max_columns: int = 12) -> str:
    """A table of risks (first and last generations when there are many; the first
    ``max_columns`` learners).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import predict
    >>> print(prediction_report(predict(self_training(real_samples=0, dimension=1, initial_samples=10), 1,
    ...                                 theory="large-sample")).splitlines()[-1])
         1         0.2
    """
    names = list(p.risk)
    hidden = max(0, len(names) - max_columns)
    names = names[:max_columns]
    T = p.generations
    ts = list(range(T + 1))
    if len(ts) > max_rows:
        head = max_rows - 6
        ts = ts[:head] + [None] + ts[-5:]
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"graphcollapse prediction ({p.theory} theory): risk R_k(t) = E||theta_k(t) - theta*||^2_Sigma",
             "t".rjust(6) + "".join(n.rjust(width) for n in names)]
    for t in ts:
        if t is None:
            lines.append("...".rjust(6))
            continue
        lines.append(str(t).rjust(6) + "".join(f"{to_float(p.risk[n][t]):{width}.6g}" for n in names))
    if len(range(T + 1)) > max_rows:
        lines.append("(the JSON output has every generation and the exact values)")
    if hidden:
        lines.append(f"({hidden:,} more learners: the JSON output (--json) has every learner)")
    return "\n".join(lines)


def _names(names: Any, limit: int = 20) -> str:
    """Comma-separated names, the first ``limit`` of long lists."""
    names = list(names)
    out = ", ".join(names[:limit])
    return out + (f", ... ({len(names) - limit:,} more)" if len(names) > limit else "")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    f = to_float(value)
    if f is None:
        return str(value)
    exact = to_exact_string(value)
    if exact is not None and len(exact) <= 24 and exact != repr(f):
        return f"{f:.6g} (= {exact})"
    return f"{f:.6g}"


def _fmt_short(value: Any) -> str:
    """Like :func:`_fmt`, without repeating an exact value the float already shows."""
    text = _fmt(value)
    return text.split(" (= ")[0] if text.endswith(f"(= {text.split(' ')[0]})") else text


#: The text report lists this many learners (the JSON lists every one).
REPORT_ROWS = 200
#: ... and this many offending components.
REPORT_COMPONENTS = 50


def analysis_report(a: Analysis) -> str:
    """The text report of ``graphcollapse analyze``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> print(analysis_report(analyze(self_training(real_samples=0), theory="large-sample")).splitlines()[0])
    graphcollapse analysis (large-sample theory)
    """
    g = a.graph
    radius_w = 'symbolic' if a.spectral_radius != a.spectral_radius else f'{a.spectral_radius:.6g}'
    lines = [
        f"graphcollapse analysis ({a.theory} theory)",
        f"graph: {g.num_learners} learners, {len(g.edge_sources)} edges, d = {g.dimension}, "
        f"sigma^2 = {g.noise_variance}",
    ]
    if a.exact is not None:
        large = any(bool(c) for c in a.condition.collapses)
        lines += [
            f"spectral radius of W: {radius_w} (large-sample verdict: "
            + ("some learner collapses)" if large else "nothing collapses)"),
            "spectral radius of the exact second-moment map: "
            + (_fmt_short(a.exact.map_spectral_radius) if a.exact.map_spectral_radius is not None
               else "below 1, not computed (components with every N_k >= 2d + 1 are decided by structure, docs/exact.md §13)")
            + "; it decides the "
            "verdict: " + (">= 1, some learner collapses" if a.collapse else "< 1, nothing collapses"),
            "",
        ]
    else:
        lines += [f"spectral radius of W: {radius_w}" + (" (some learner collapses)" if a.collapse else " (nothing collapses)"), ""]
    width = max(8, *(len(r.name) + 2 for r in a.learners[:REPORT_ROWS]))
    n_collapse = sum(1 for r in a.learners if r.collapses)
    if len(a.learners) > REPORT_ROWS:
        risks = [(float(r.stationary_risk), r.name) for r in a.learners if r.stationary_risk is not None]
        summary = f"{n_collapse:,} of {len(a.learners):,} learners collapse"
        if risks:
            worst = max(risks)
            summary += f"; largest stationary risk {worst[0]:.6g} ({worst[1]})"
        lines += [summary, ""]
    lines.append("learner".ljust(width) + "verdict".ljust(11) + "growth".ljust(12) + "value")
    for r in a.learners[:REPORT_ROWS]:
        if r.stationary_risk is not None:
            growth, value = "none", f"stationary risk {_fmt(r.stationary_risk)}"
        elif r.growth_factor is not None:
            q = r.growth_degree
            growth = "geometric" if not q else f"geometric t^{q}"
            value = f"growth factor {_fmt(r.growth_factor)} per generation"
            period = r.extra.get("growth_period")
            norm = "R_t / rho^t" if not q else f"R_t / (t{'' if q == 1 else '^' + str(q)} rho^t)"
            if period and period > 1:
                value += f"; {norm} oscillates with period {period} (mean {r.extra['growth_rate_mean']:.6g})"
            elif period is None and r.extra.get("growth_rate_mean") is not None:
                value += f"; {norm} has no limit (Cesaro mean {r.extra['growth_rate_mean']:.6g})"
        else:
            q = r.growth_degree
            growth = r.growth if q in (None, 1) else f"{r.growth} t^{q}"
            norm = f"R_t / t{'' if q == 1 else '^' + str(q)}"
            period = r.extra.get("growth_period")
            if r.growth_rate is None and period and period > 1:
                value = f"{norm} oscillates with period {period} (mean {r.extra['growth_rate_mean']:.6g})"
            else:
                value = f"{norm} -> {_fmt(r.growth_rate)}"
        verdict = "collapses" if r.collapses else "bounded"
        lines.append(r.name.ljust(width) + verdict.ljust(11) + growth.ljust(12) + value)
    if len(a.learners) > REPORT_ROWS:
        lines.append(f"... ({len(a.learners) - REPORT_ROWS:,} more learners: the JSON output (--json) has every learner)")
    if a.components:
        lines += ["", "offending source components (no real data, no edge enters them):"]
        for i, c in enumerate(a.components):
            if i == REPORT_COMPONENTS:
                lines.append(f"  ... ({len(a.components) - REPORT_COMPONENTS:,} more: see --json)")
                break
            pi = ", ".join(f"{k}: {to_exact_string(v) or _fmt(v)}" for k, v in list(c.stationary_distribution.items())[:20])
            if len(c.stationary_distribution) > 20:
                pi += f", ... ({len(c.stationary_distribution) - 20:,} more)"
            classes = " | ".join("{" + _names(cl) + "}" for cl in c.cyclic_classes[:10])
            if len(c.cyclic_classes) > 10:
                classes += f" | ... ({len(c.cyclic_classes) - 10:,} more classes)"
            lines.append(f"  [{i}] {{{_names(c.members)}}}: period {c.period}, cyclic classes {classes}")
            lines.append(f"      stationary distribution pi = ({pi})")
            lines.append(f"      drags down: {_names(c.affects)}")
    if a.minimal_fix and a.minimal_fix.amounts is not None:
        f = a.minimal_fix
        who = ", ".join(f"{name} +{v} ({'component' if kind == 'component' else 'expanding component'} {i})"
                        for kind, i, name, v in f.entries())
        lines += ["", "minimal fix (fewest learners, then fewest added real samples per generation"
                  + (f", at least {f.fix_samples} each" if f.fix_samples > 1 else "") + f"): {who};",
                  f"  largest stationary risk afterwards {f.max_stationary_risk:.6g}"
                  + ("; proved minimal" if f.optimal else "; not proved minimal (docs/exact.md section 9)")]
    elif a.minimal_fix:
        f = a.minimal_fix
        who = ", ".join(f"{name} (component {i})" for i, name in enumerate(f.learners))
        lines += ["", f"minimal fix: give {f.fix_samples} real samples per generation to {who};",
                  f"  largest stationary risk afterwards {f.max_stationary_risk:.6g}"
                  + ("" if f.optimal else " (coordinate search: too many combinations to compare all)"
                     if f.combinations > 1 else " (the most-weighted learner of each component; not compared)")]
    for note in a.notes:
        lines += ["", note]
    return "\n".join(lines)
