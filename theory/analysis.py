r"""One-call analysis of an interaction graph: verdicts, growth, stationary risks, fix.

:func:`analyze` answers the researcher's questions for a topology (does anything
collapse, which learners, why, how fast, what error do the others settle at, and the
cheapest way to stop it); :func:`predict` gives the risk trajectories. Results are
immutable objects with ``to_json()`` (the documented JSON contract of
``graphcollapse analyze/predict --json``), ``report()`` (readable text) and
``_repr_latex_`` for Jupyter.

Theories: ``"large-sample"`` (docs/theory.md §2), ``"exact"`` (the exact finite-sample
theory of Gaussian-design OLS, :mod:`graphcollapse.theory.exact`) and ``"default"`` (exact when
available).
"""

from __future__ import annotations

import itertools
import os
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import sympy as sp

from .modes import THEORIES, Theory, resolve_theory  # noqa: F401  (the one vocabulary)
from .report import to_exact_string, to_float  # noqa: F401  (public here too)
from .condition import CollapseCondition, collapse_condition, stationary_distribution
from .errors import GraphTypeError, GraphValueError
from .graph import InteractionGraph
from .lyapunov import solve_lyapunov_float
from .propagation import growth_rates_propagated
from .recursion import (
    check_ols_sample_sizes,
    growth_rates,
    large_sample_noise_variance,
    large_sample_noise_variance_float,
    risk_trajectory,
    stationary_covariance,
    stationary_risks_float,
)

__all__ = [
    "LearnerResult",
    "ComponentResult",
    "MinimalFix",
    "Analysis",
    "Prediction",
    "analyze",
    "predict",
    "minimal_fix",
    "spectral_radius",
    "demo_graph",
    "resolve_theory",
    "as_graph",
]

#: Above this many learners :func:`analyze` switches to floating point (see its docs).
EXACT_MAX_LEARNERS = 40
#: Offending components beyond this size get a float stationary distribution.
LARGE_COMPONENT = 200
#: Exhaustive search of the minimal fix up to this many candidate combinations.
BRUTE_FORCE_LIMIT = 4096


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LearnerResult:
    """What the theory says about one learner.

    Exactly one of ``growth_rate``, ``growth_factor`` and ``stationary_risk`` is set:
    the stationary risk of a bounded learner, ``lim R_t / t^q`` for linear or polynomial
    growth, the growth factor for geometric growth.
    """

    name: str
    collapses: Any
    growth: str
    growth_degree: int | None
    growth_rate: Any = None
    growth_factor: Any = None
    stationary_risk: Any = None
    components: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON entry of ``models[NAME]`` (printed by :func:`graphcollapse.theory.report.learner_json`)."""
        from .report import learner_json

        return learner_json(self)


@dataclass(frozen=True)
class ComponentResult:
    """An offending source component: no real data and no edge entering it."""

    members: tuple[str, ...]
    period: int
    cyclic_classes: tuple[tuple[str, ...], ...]
    stationary_distribution: dict[str, Any]
    affects: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON entry of ``components`` (printed by :mod:`graphcollapse.theory.report`)."""
        from .report import component_json

        return component_json(self)


@dataclass(frozen=True)
class MinimalFix:
    """The cheapest fix. Large-sample theory: one learner per offending component gets
    ``fix_samples`` real samples per generation, chosen to minimise the largest resulting
    stationary risk; ``optimal`` is True when every combination was compared (up to
    :data:`BRUTE_FORCE_LIMIT`), else the choice comes from coordinate descent.

    Exact theory (:func:`graphcollapse.theory.exact.exact_minimal_fix`): the smallest
    additions (fewest learners, then fewest added samples, each at least ``fix_samples``)
    after which no learner collapses, per learner in ``amounts``; ``optimal`` is True when
    that minimum is proved and the tie-break by stationary risk was exhaustive.
    """

    fix_samples: int
    learners: tuple[str, ...]
    max_stationary_risk: float
    optimal: bool
    combinations: int
    #: exact theory: real samples added to each of ``learners`` (None: ``fix_samples`` each)
    amounts: tuple[int, ...] | None = None
    #: exact theory: ("component", i) for offending component i of ``Analysis.components``,
    #: ("expanding", i) for entry i of the JSON ``expanding`` list, per learner
    groups: tuple[tuple[str, int], ...] | None = None

    def entries(self) -> list[tuple[str, int, str, int]]:
        """(kind, index, learner, added real samples) for every learner of the fix."""
        if self.amounts is None or self.groups is None:
            return [("component", i, name, self.fix_samples) for i, name in enumerate(self.learners)]
        return [(kind, i, name, v) for (kind, i), name, v in zip(self.groups, self.learners, self.amounts)]

    def to_json(self) -> list[dict[str, Any]]:
        """JSON list ``minimal_fix``: the entries of the offending components, in order (the
        exact theory lists expanding components in ``minimal_fix_expanding``)."""
        return [{"component": i, "learner": name, "add_real_samples": v}
                for kind, i, name, v in self.entries() if kind == "component"]


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyze`."""

    graph: InteractionGraph = field(repr=False)
    theory: Theory
    learners: tuple[LearnerResult, ...]
    components: tuple[ComponentResult, ...]
    spectral_radius: float
    minimal_fix: MinimalFix | None
    condition: CollapseCondition = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: the exact theory's full result (:class:`graphcollapse.theory.exact.ExactAnalysis`)
    exact: Any = field(default=None, repr=False)

    @property
    def collapse(self) -> bool:
        """Whether some learner collapses."""
        return any(bool(r.collapses) for r in self.learners)

    def learner(self, name: str) -> LearnerResult:
        """The result of the named learner."""
        return self.learners[self.graph.index[name]]

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``graphcollapse analyze --json`` (see ``docs/cli.md``).

        Examples
        --------
        >>> from graphcollapse.theory.builders import self_training
        >>> from graphcollapse.theory.analysis import analyze
        >>> out = analyze(self_training(real_samples=0), theory="large-sample").to_json()
        >>> out["collapse"], out["models"]["L0"]["growth"], out["models"]["L0"]["growth_rate_exact"]
        (True, 'linear', '1/2')
        """
        from .report import analysis_json

        return analysis_json(self)

    def report(self) -> str:
        """A readable report (printed by :func:`graphcollapse.theory.report.analysis_report`)."""
        from .report import analysis_report

        return analysis_report(self)

    def _repr_latex_(self) -> str:
        from .latex import analysis_latex

        return analysis_latex(self)

    def _repr_html_(self) -> str:
        from .latex import analysis_html

        return analysis_html(self)


@dataclass(frozen=True)
class Prediction:
    """The result of :func:`predict`: exact risks ``risk[name][t]`` for ``t = 0..T``."""

    graph: InteractionGraph = field(repr=False)
    theory: Theory
    generations: int
    risk: dict[str, list[Any]]

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``graphcollapse predict --json``.

        Examples
        --------
        >>> from graphcollapse.theory.builders import self_training
        >>> from graphcollapse.theory.analysis import predict
        >>> predict(self_training(real_samples=0, dimension=1, initial_samples=10), 1,
        ...         theory="large-sample").to_json()["risk_exact"]
        {'L0': ['1/10', '1/5']}
        """
        from .report import prediction_json

        return prediction_json(self)

    def report(self, max_rows: int = 25) -> str:
        """A table of risks (first and last generations when there are many), printed by
        :func:`graphcollapse.theory.report.prediction_report`."""
        from .report import prediction_report

        return prediction_report(self, max_rows)

    def _repr_latex_(self) -> str:
        from .latex import prediction_latex

        return prediction_latex(self)

    def _repr_html_(self) -> str:
        from .latex import prediction_html

        return prediction_html(self)


# --------------------------------------------------------------------------- pieces
def spectral_radius(graph: InteractionGraph, condition: CollapseCondition | None = None) -> float:
    r"""The spectral radius :math:`\rho(W)` as a float; exactly 1.0 when some learner
    collapses (decided structurally), else the largest radius over the SCC blocks.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> spectral_radius(self_training(real_samples=10, samples=30))
    0.75
    """
    condition = collapse_condition(graph) if condition is None else condition
    if condition.components and all(c.offending is True for c in condition.components):
        return 1.0
    Wf = graph.mixing_matrix_float()
    labels = condition.labels
    best = 0.0
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
    for c in range(labels.max() + 1):
        members = order[bounds[c]:bounds[c + 1]]
        block = Wf[members][:, members]
        if block.nnz == 0:
            continue
        if len(members) <= 300:
            rho = float(np.max(np.abs(np.linalg.eigvals(block.toarray()))))
        elif block.nnz == len(members) and np.all(np.diff(block.indptr) == 1):
            # a simple cycle: W^|A| = (prod of its weights) I
            rho = float(np.exp(np.mean(np.log(block.data))))
        else:
            from scipy.sparse.linalg import ArpackNoConvergence, eigs

            try:
                rho = float(np.abs(eigs(block, k=1, which="LM", return_eigenvectors=False, maxiter=2000,
                                        tol=1e-10))[0])
            except ArpackNoConvergence:
                return float("nan")
        best = max(best, rho)
    return min(best, 1.0)


def _symbolic_aware_radius(graph: InteractionGraph, condition: CollapseCondition) -> float:
    """rho(W) as a float; for a symbolic graph 1.0 when something collapses, else NaN
    (JSON null: a numeric radius needs numbers)."""
    if graph.is_symbolic:
        return 1.0 if any(c is True for c in condition.collapses) else float("nan")
    return spectral_radius(graph, condition)


def _check_fix_samples(graph: InteractionGraph, fix_samples: Any) -> int:
    """The validated fix size; default the lower median of the positive real_samples, else 1."""
    if fix_samples is None:
        positive = [int(m) for m in graph.real_samples if not isinstance(m, sp.Basic) and m > 0]
        return int(statistics.median_low(positive)) if positive else 1
    if isinstance(fix_samples, bool) or not isinstance(fix_samples, (int, np.integer)) or fix_samples < 1:
        raise GraphValueError(f"fix_samples: expected a positive integer, found {fix_samples!r}")
    return int(fix_samples)


def _max_stationary_risk_float(graph: InteractionGraph) -> float:
    """Largest large-sample stationary risk of a graph in which nothing collapses."""
    W = graph.mixing_matrix_float().toarray()
    D = np.diag(large_sample_noise_variance_float(graph))
    C, _ = solve_lyapunov_float(W, D)
    return float(np.max(np.diag(C)))


def minimal_fix(graph: InteractionGraph, fix_samples: int | None = None,
                condition: CollapseCondition | None = None,
                risk: Callable[[InteractionGraph], float] | None = None) -> MinimalFix | None:
    r"""The cheapest fix of a collapsing graph (None when nothing collapses).

    Claim 1 says every offending source component needs a learner with real data, so
    one learner per component is necessary, and it is sufficient. Among the choices, the
    one minimising the largest stationary risk (``risk``, large-sample by default) wins;
    ties go to the earliest learners in graph order.

    Parameters
    ----------
    graph : InteractionGraph
    fix_samples : int, optional
        Real samples per generation given to each chosen learner (default: the median
        positive ``real_samples`` of the graph, the lower one for an even count; else 1).
    condition : CollapseCondition, optional
        The graph's collapse condition, if already computed.
    risk : callable, optional
        Maps a graph in which nothing collapses to the number to minimise (default: its
        largest large-sample stationary risk, in floating point).

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain, cycle
    >>> fix = minimal_fix(cycle(3, real_samples=0))
    >>> fix.learners, fix.fix_samples
    (('L0',), 1)
    """
    condition = collapse_condition(graph) if condition is None else condition
    condition.require_decided()
    if not condition.components:
        return None
    fix_samples = _check_fix_samples(graph, fix_samples)
    if risk is None and graph.num_learners > EXACT_MAX_LEARNERS:
        return _minimal_fix_large(graph, fix_samples, condition)
    risk = _max_stationary_risk_float if risk is None else risk
    return _minimal_fix_search(graph, fix_samples, condition, risk, BRUTE_FORCE_LIMIT)


def _minimal_fix_large(graph: InteractionGraph, fix_samples: int, condition: CollapseCondition) -> MinimalFix:
    """On large graphs: per offending component the learner with the largest stationary
    weight (the one the component's outputs depend on most), one risk evaluation; not
    claimed optimal."""
    chosen = []
    for comp in condition.components:
        members = list(comp.members)
        if len(members) == 1:
            chosen.append(members[0])
            continue
        from .propagation import _stationary_distribution

        pi = _stationary_distribution(graph.mixing_matrix_float()[members][:, members])
        chosen.append(members[int(np.argmax(pi))])
    fixed = graph.with_real_samples({graph.names[j]: fix_samples for j in chosen})
    _, risks, _ = stationary_risks_float(fixed)
    return MinimalFix(fix_samples=fix_samples, learners=tuple(graph.names[j] for j in chosen),
                      max_stationary_risk=float(np.max(risks)), optimal=all(len(c.members) == 1 for c in condition.components),
                      combinations=1)


def _minimal_fix_search(graph: InteractionGraph, fix_samples: int, condition: CollapseCondition,
                        risk: Callable[[InteractionGraph], float], limit: int) -> MinimalFix:
    """Exhaustive search over one learner per offending component (up to ``limit``
    combinations), else coordinate descent; ties go to graph order."""
    choices = [comp.members for comp in condition.components]
    total = int(np.prod([len(c) for c in choices], dtype=object))
    cache: dict[tuple[int, ...], float] = {}

    def value(combo: tuple[int, ...]) -> float:
        if combo not in cache:
            fixed = graph.with_real_samples({graph.names[j]: fix_samples for j in combo})
            cache[combo] = risk(fixed)
        return cache[combo]

    def better(a: float, b: float) -> bool:  # strictly better beyond float noise
        return a < b * (1 - 1e-12) - 1e-300

    if total <= limit:
        best = None
        for combo in itertools.product(*choices):
            if best is None or better(value(combo), value(best)):
                best = combo
        optimal = True
    else:
        best = tuple(c[0] for c in choices)
        for _ in range(10):
            changed = False
            for i, options in enumerate(choices):
                for j in options:
                    cand = best[:i] + (j,) + best[i + 1:]
                    if better(value(cand), value(best)):
                        best, changed = cand, True
            if not changed:
                break
        optimal = False
    assert best is not None
    return MinimalFix(
        fix_samples=fix_samples,
        learners=tuple(graph.names[j] for j in best),
        max_stationary_risk=value(best),
        optimal=optimal,
        combinations=len(cache),
    )


def _components(graph: InteractionGraph, condition: CollapseCondition) -> tuple[ComponentResult, ...]:
    names = graph.names
    out = []
    for comp in condition.components:
        if len(comp.members) > LARGE_COMPONENT and not graph.is_symbolic:
            from .propagation import _stationary_distribution

            members = list(comp.members)
            pi = _stationary_distribution(graph.mixing_matrix_float()[members][:, members]).tolist()
        else:
            pi = stationary_distribution(graph, comp.members)
        out.append(ComponentResult(
            members=tuple(names[i] for i in comp.members),
            period=comp.period,
            cyclic_classes=tuple(tuple(names[i] for i in c) for c in comp.cyclic_classes),
            stationary_distribution={names[i]: p for i, p in zip(comp.members, pi)},
            affects=tuple(names[i] for i in comp.affects),
        ))
    return tuple(out)


def as_graph(graph: Any) -> InteractionGraph:
    """The interaction graph ``graph`` names: an :class:`InteractionGraph` as it is, a path
    or a dict through :func:`graphcollapse.theory.load_graph`.

    Examples
    --------
    >>> from graphcollapse.theory.analysis import as_graph
    >>> as_graph(None)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphTypeError: graph: expected an InteractionGraph, a file path or a dictionary, found NoneType
    """
    if isinstance(graph, InteractionGraph):
        return graph
    if isinstance(graph, (str, os.PathLike, dict)):
        from .graph import load_graph

        return load_graph(graph)
    raise GraphTypeError(f"graph: expected an InteractionGraph, a file path or a dictionary, found {type(graph).__name__}")


def analyze(graph: InteractionGraph, theory: Theory | Literal["default"] = "default", fix_samples: int | None = None,
            exact: bool | None = None, progress: Callable[[str], None] | None = None) -> Analysis:
    r"""Analyse an interaction graph.

    Parameters
    ----------
    graph : InteractionGraph, path or dict
        The graph (a file path or a dictionary is read with :func:`graphcollapse.theory.load_graph`).
    theory : {"default", "large-sample", "exact"}
        ``"default"`` is the exact finite-sample OLS theory.
    fix_samples : int, optional
        Real samples per generation of the minimal fix (see :func:`minimal_fix`).
    exact : bool, optional
        Exact rational arithmetic for every number (default: when the graph has at most
        :data:`EXACT_MAX_LEARNERS` learners or symbols). Otherwise verdicts are still
        exact (structural) but growth rates and stationary risks are floats; the
        report and JSON (``accuracy``) state the relative residual of the sparse
        second-moment solve, and growth rates come from sparse LU solves (about 1e-12
        relative). Beyond :data:`~graphcollapse.theory.exact_scale.SUBGRAPH_LEARNERS`
        learners or with a large component the exact theory runs by structure and sparse
        systems (:mod:`graphcollapse.theory.exact_scale`, docs/exact.md §13).
    progress : callable, optional
        Called with a short description of each stage of long analyses (the command
        line shows it on a terminal).

    Returns
    -------
    Analysis

    Examples
    --------
    A learner trained only on its own outputs collapses linearly; one that also gets
    real data settles:

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> analyze(self_training(real_samples=0, samples=10, dimension=5),
    ...         theory="large-sample").learner("L0").growth_rate
    1/2
    >>> analyze(self_training(real_samples=10, samples=30, dimension=2),
    ...         theory="large-sample").learner("L0").stationary_risk
    4/35
    """
    graph = as_graph(graph)
    used = resolve_theory(theory)
    if not graph.has_default_regime:  # data regimes and loss weights: docs/regimes.md
        from .regimes import regime_analysis

        return regime_analysis(graph, theory, fix_samples)
    if exact is None:
        exact = graph.is_symbolic or graph.num_learners <= EXACT_MAX_LEARNERS
    if used == "exact":
        return _exact_analysis(graph, fix_samples, exact=exact, progress=progress)
    check_ols_sample_sizes(graph)  # OLS needs N_k, n0_k > d + 1 in every theory
    condition = collapse_condition(graph)
    condition.require_decided()
    extra: dict[str, Any] = {}
    notes: tuple[str, ...] = ()
    if exact:
        D = large_sample_noise_variance(graph)
        B, C = stationary_covariance(graph, condition, D)
        stationary = {k: C[i, i] for i, k in enumerate(B)}
        rates = growth_rates(graph, condition, D)
    else:
        B, risks, residual = stationary_risks_float(graph, condition)
        stationary = dict(zip(B, risks.tolist()))
        rates = growth_rates_propagated(graph, condition)
        extra["accuracy"] = {"stationary_risk_relative_residual": residual,
                             "growth_rate": "level-wise propagation with sparse solves, relative error about 1e-12"}
        notes = (f"floating point ({graph.num_learners} learners > {EXACT_MAX_LEARNERS}): "
                 f"second-moment relative residual {residual:.1e}; verdicts are exact (structural).",)
    learners = []
    for k, name in enumerate(graph.names):
        if condition.collapses[k]:
            learners.append(LearnerResult(name, True, "linear", 1, growth_rate=rates[k],
                                          components=condition.feeding[k]))
        else:
            learners.append(LearnerResult(name, False, "none", None, stationary_risk=stationary[k]))
    return Analysis(
        graph=graph,
        theory="large-sample",
        learners=tuple(learners),
        components=_components(graph, condition),
        spectral_radius=_symbolic_aware_radius(graph, condition),
        minimal_fix=None if graph.is_symbolic else minimal_fix(graph, fix_samples, condition),
        condition=condition,
        extra=extra,
        notes=notes,
    )


def _exact_analysis(graph: InteractionGraph, fix_samples: int | None, *, exact: bool = True,
                    progress: Callable[[str], None] | None = None) -> Analysis:
    """The exact finite-sample analysis in the shape of :class:`Analysis`.

    Besides the common keys: per learner ``map_spectral_radius`` (radius of the exact map on
    its ancestors), ``large_sample_collapses``, ``stationary_risk_bounds`` and, for a
    collapsing learner, ``growth_rate_mean`` (the Cesaro mean of R_t / (t^q rho^t), rho the
    growth factor or 1) and, where that ratio is certified periodic, ``growth_period`` and
    ``growth_rate_phases`` (its limits along each phase t = r mod period; null otherwise;
    ``growth_rate`` only where the limit exists with rho = 1); at the top level
    ``exact_map_spectral_radius`` (the radius that decides the verdict), ``expanding`` and
    ``minimal_fix_expanding``. The minimal fix is the exact one
    (:func:`graphcollapse.theory.exact.exact_minimal_fix`; ``fix_samples`` is the least
    number of real samples it gives a learner, default 1)."""
    from .exact import exact_analysis
    from .exact_scale import needs_scalable_path, scalable_exact_analysis

    F = 1 if fix_samples is None else _check_fix_samples(graph, fix_samples)
    scalable = not graph.is_symbolic and needs_scalable_path(graph)
    if scalable:
        result = scalable_exact_analysis(graph, F, exact=exact, progress=progress)
    else:
        result = exact_analysis(graph, F)
    condition = collapse_condition(graph)
    learners = []
    differ = []
    for k, name in enumerate(graph.names):
        r = result.learners[name]
        extra: dict[str, Any] = {
            "map_spectral_radius": to_float(r.map_spectral_radius),
            "map_spectral_radius_exact": to_exact_string(r.map_spectral_radius),
            "large_sample_collapses": bool(condition.collapses[k]),
        }
        if r.risk_bounds is not None:
            lower, upper = r.risk_bounds
            extra["stationary_risk_bounds"] = [to_float(lower), to_float(upper)]
        extra["growth_period"] = r.growth_period
        extra["growth_rate_phases"] = None if r.growth_rate_phases is None else [to_float(x) for x in r.growth_rate_phases]
        extra["growth_rate_mean"] = to_float(r.growth_rate_mean)
        if r.growth_rate_phases is not None:
            extra["growth_rate_phases_exact"] = [to_exact_string(x) for x in r.growth_rate_phases]
        if r.growth_rate_mean is not None:
            extra["growth_rate_mean_exact"] = to_exact_string(r.growth_rate_mean)
        if r.collapses != condition.collapses[k]:
            differ.append(name)
        learners.append(LearnerResult(
            name, r.collapses, r.growth, r.growth_degree,
            growth_rate=r.growth_rate, growth_factor=r.growth_factor, stationary_risk=r.stationary_risk,
            components=condition.feeding[k], extra=extra))
    expanding = [
        {"members": list(e.members), "map_spectral_radius": to_float(e.map_spectral_radius),
         "map_spectral_radius_exact": to_exact_string(e.map_spectral_radius), "fix": dict(e.fix)}
        for e in result.expanding
    ]
    fix = None
    extra_top: dict[str, Any] = {
        "exact_map_spectral_radius": to_float(result.map_spectral_radius),
        "exact_map_spectral_radius_exact": to_exact_string(result.map_spectral_radius),
        "expanding": expanding,
    }
    ex = result.minimal_fix
    if ex is not None:
        offending = {frozenset(graph.names[j] for j in c.members): i for i, c in enumerate(condition.components)}
        expanding_index = {frozenset(e.members): i for i, e in enumerate(result.expanding)}
        order = {n: i for i, n in enumerate(graph.names)}
        rows = []
        for comp, chosen in zip(ex.components, ex.chosen):
            key = frozenset(comp.members)
            group = ("component", offending[key]) if key in offending else ("expanding", expanding_index[key])
            rows += [(group, n, v) for n, v in sorted(chosen.items(), key=lambda kv: order[kv[0]])]
        rows.sort(key=lambda row: (row[0][0] != "component", row[0][1], order[row[1]]))
        fix = MinimalFix(fix_samples=F, learners=tuple(n for _, n, _ in rows),
                         max_stationary_risk=to_float(ex.max_stationary_risk), optimal=ex.optimal,
                         combinations=ex.combinations, amounts=tuple(v for _, _, v in rows),
                         groups=tuple(g for g, _, _ in rows))
        extra_top["minimal_fix_expanding"] = [
            {"expanding": i, "learner": n, "add_real_samples": v}
            for kind, i, n, v in fix.entries() if kind == "expanding"]
    notes = list(getattr(result, "notes", ()))
    if scalable:
        extra_top["accuracy"] = {
            "stationary_risk_relative_residual": result.accuracy,
            "method": "structure and sparse second-moment systems (docs/exact.md §13)"}
        if result.accuracy:
            notes.append(f"floating point ({graph.num_learners} learners): relative residual "
                         f"{result.accuracy:.1e}; verdicts are exact (structure and exact component radii)")
    if differ:
        notes.append("the exact and large-sample verdicts differ for " + ", ".join(differ)
                     + " (the design noise makes the second-moment map expand; see docs/exact.md)")
    for e in result.expanding:
        adds = ", ".join(f"{n}: +{v}" for n, v in e.fix.items() if v)
        notes.append(f"expanding component {{{', '.join(e.members)}}} (exact map radius "
                     f"{to_float(e.map_spectral_radius):.6g}): smallest added real samples {adds}")
    return Analysis(
        graph=graph,
        theory="exact",
        learners=tuple(learners),
        components=_components(graph, condition),
        spectral_radius=spectral_radius(graph, condition),
        minimal_fix=fix,
        condition=condition,
        extra=extra_top,
        notes=tuple(notes),
        exact=result,
    )


def predict(graph: InteractionGraph, generations: int, theory: Theory | Literal["default"] = "default") -> Prediction:
    r"""Risk trajectories :math:`R_k^{(t)}`, :math:`t = 0..T`: exact rationals up to
    :data:`EXACT_MAX_LEARNERS` learners (or with symbols), else floats from the recursion
    run on the pair closure (:func:`graphcollapse.theory.exact_scale.scalable_risk_trajectory`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import predict
    >>> predict(self_training(real_samples=0, dimension=1, initial_samples=10, samples=10),
    ...         2, theory="large-sample").risk["L0"]
    [1/10, 1/5, 3/10]
    """
    graph = as_graph(graph)
    used = resolve_theory(theory)
    if not graph.has_default_regime:  # data regimes and loss weights: docs/regimes.md
        from .regimes import regime_predict

        return regime_predict(graph, generations, theory)
    if not graph.is_symbolic and graph.num_learners > EXACT_MAX_LEARNERS:
        from .exact_scale import scalable_risk_trajectory

        traj = scalable_risk_trajectory(graph, generations, exact_theory=used == "exact")
        return Prediction(graph=graph, theory=used, generations=int(generations),
                          risk={name: traj[:, k].tolist() for k, name in enumerate(graph.names)})
    if used == "exact":
        from .exact import exact_risk_trajectory

        traj = exact_risk_trajectory(graph, generations)
    else:
        check_ols_sample_sizes(graph)
        traj = risk_trajectory(graph, generations)
    return Prediction(
        graph=graph,
        theory=used,
        generations=int(generations),
        risk={name: [row[k] for row in traj] for k, name in enumerate(graph.names)},
    )


# --------------------------------------------------------------------------- demo
def demo_graph() -> InteractionGraph:
    """The built-in example of ``graphcollapse demo`` (also ``docs/examples/demo.json``).

    Two learners A and B share outputs and A gets real data (bounded); C and D only feed
    each other (an offending component of period 2); E learns from B and D and gets real
    data, yet collapses; F trains on its own outputs only; G learns from A.

    Examples
    --------
    >>> from graphcollapse.theory.analysis import demo_graph
    >>> demo_graph().names
    ('A', 'B', 'C', 'D', 'E', 'F', 'G')
    """
    return InteractionGraph(
        ["A", "B", "C", "D", "E", "F", "G"],
        real_samples=[20, 0, 0, 0, 10, 0, 15],
        initial_samples=[40] * 7,
        edges=[("A", "B", 20), ("B", "A", 20), ("C", "D", 20), ("D", "C", 20),
               ("B", "E", 10), ("D", "E", 10), ("F", "F", 20), ("A", "G", 15)],
        dimension=5,
        noise_variance=1,
    )
