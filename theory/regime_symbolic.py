r"""Symbolic statements of the data regimes: the objects a regime theorem states.

Statement
---------
For a graph whose data regime is not the default (``docs/regimes.md``), this module
collects, with the graph's symbols (counts, loss weights, dimension, noise variance):

* the collapse condition of Theorem 2 (``docs/regimes.md`` §4), once per strongly
  connected component: a source component is *harmless* iff it has real data or a learner
  that does not replace; a component that is not a source is always harmless. Learner
  :math:`k` collapses iff some ancestor component (itself included) is not harmless. With a
  symbolic real count :math:`m` the condition of an all-replace source component is
  :math:`m > 0` (or a disjunction of such); loss weights never enter (§4: :math:`\tilde W`
  has the support of :math:`W`),
* the weighted mixing matrix :math:`\tilde W` and noise :math:`\tilde D` (§3.1), or the
  exact per-batch variances :math:`\sigma^2_{src} d/(N_k - d - 1)` of Theorem 3 (§6) where
  the exact theory closes,
* the values that ``docs/regimes.md`` proves in closed form: stationary risks and linear
  growth rates under ``replace`` (§3.2, with fixed real data too), on the whole graph or on
  the learners whose ancestors all replace; the bound of Claim 4 and the vanishing risks of
  Claim 4b when every learner accumulates fresh real data (§5); the closed form in
  :math:`t` and the trigamma limit of one learner accumulating its own outputs (Claim 3,
  §5), which is Gerstgrasser et al.'s exact sum under a fixed design (§6, Corollary); and,
  when the exact theory is asked for, Theorem 4's exact sum and digamma limit for such a
  learner with a fresh design that weighs its self-loop like generation 0 (§6.1), whatever
  theory the rest of the graph is stated in.

Every other value has no closed form; :class:`RegimeStatement` lists those learners
(their risks come from the recursion of §3.3, ``regime_prediction``).
:func:`graphcollapse.theory.theorem.derive_theorem` turns a :class:`RegimeStatement`
into a :class:`~graphcollapse.theory.theorem.Theorem`; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .errors import GraphValueError
from .graph import InteractionGraph, _as_sympy
from .regimes import fixed_design_exact

__all__ = ["RegimeStatement", "OneLearnerAccumulation", "regime_components", "regime_collapse_conditions",
           "derive_regime_statement", "exact_regime_applies"]


# --------------------------------------------------------------------------- verdicts
def regime_components(graph: InteractionGraph) -> tuple:
    r"""Theorem 2's condition for every strongly connected component, stated once.

    A component is stable (*harmless*) iff it is not a source, or it has a learner that
    does not replace, or it has real data (``docs/regimes.md`` §4). Components come in
    topological order, labelled ``C1``, ``C2``, ... as in the default theorem.

    Parameters
    ----------
    graph : InteractionGraph

    Returns
    -------
    tuple of :class:`~graphcollapse.theory.theorem.ComponentCondition`
        ``stable`` is a sympy Boolean in the real-count symbols (``sympy.true`` or
        ``sympy.false`` when decided); ``topological`` is the default regime's condition
        (real data or an in-edge from outside).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(cycle(2, real_samples=0), ["m=L0.real_samples"])
    >>> regime_components(G.replace(data_policy="replace", real_weight=[2, 1]))[0].stable
    m > 0
    >>> regime_components(G.replace(data_policy=["accumulate", "replace"]))[0].stable
    True
    """
    from .theorem import ComponentCondition, _topological_stable

    out = []
    for i, members in enumerate(graph.structure.component_lists()):
        members = sorted(int(k) for k in members)
        topo = _topological_stable(graph, members)
        pooled = any(graph.data_policy[k] != "replace" for k in members)
        out.append(ComponentCondition(f"C{i + 1}", tuple(graph.names[k] for k in members),
                                      sp.true if pooled else topo, topo))
    return tuple(out)


def regime_collapse_conditions(graph: InteractionGraph, components: tuple | None = None) -> tuple[Any, ...]:
    r"""Per learner, whether it collapses (Theorem 2, ``docs/regimes.md`` §4): ``True``,
    ``False``, or a sympy Boolean in the real-count symbols.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(cycle(2, real_samples=0, real_weight=2), ["m=L0.real_samples"])
    >>> regime_collapse_conditions(G)
    (Eq(m, 0), Eq(m, 0))
    >>> regime_collapse_conditions(G.replace(data_policy=["accumulate", "replace"]))
    (False, False)
    """
    from .theorem import _ancestors

    comps = regime_components(graph) if components is None else components
    comp_of = {graph.index[n]: i for i, c in enumerate(comps) for n in c.members}
    offends = [_offends(graph, c) for c in comps]
    out: list[Any] = []
    for anc in _ancestors(graph):
        v = sp.Or(*[offends[i] for i in sorted({comp_of[j] for j in anc})])
        out.append(bool(v) if v in (sp.true, sp.false) else v)
    return tuple(out)


def _offends(graph: InteractionGraph, c: Any) -> Any:
    """The negation of a component's condition, written as the default theorem writes it:
    every real count of the component is 0 (``Eq(m, 0)``)."""
    if c.stable == sp.true:
        return sp.false
    if c.stable == sp.false:
        return sp.true
    return sp.And(*[sp.Eq(_as_sympy(graph.real_samples[graph.index[n]]), 0) for n in c.members])


# --------------------------------------------------------------------------- exactness
def exact_regime_applies(graph: InteractionGraph) -> tuple[bool, str]:
    """Whether Theorem 3 (``docs/regimes.md`` §6) makes the regime recursion exact, with
    symbols allowed: every learner has a fixed design, fresh real data, a replace or
    accumulate policy and a single source of data per generation (a symbolic real count
    leaves the number of sources undecided).

    Fresh designs are stated in the large-sample theory, except the risks of own-output
    accumulators, which :func:`derive_regime_statement` states exactly by Theorem 4 (§6.1)
    when the exact theory is asked for (the other exact results of §6.1 are reported by
    ``analyze``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_regime_applies(self_training(samples=12, initial_samples=12, design="fixed",
    ...                                    data_policy="accumulate"))[0]
    True
    >>> exact_regime_applies(self_training(samples=12, data_policy="accumulate"))[0]
    False
    """
    if any(x != "fixed" for x in graph.design):
        return False, ("the exact recursion of Theorem 3 needs fixed designs; with a fresh design the theorem "
                       "states the large-sample theory (docs/regimes.md §6)")
    return fixed_design_exact(graph)


# --------------------------------------------------------------------------- statement
@dataclass(frozen=True)
class OneLearnerAccumulation:
    r"""A learner accumulating its own outputs only, without real data (Claim 3, §5, §6).

    :math:`R^{(t)} = R^{(0)} + D \sum_{s=1}^{t} (r + s)^{-2}` and
    :math:`R^{(\infty)} = R^{(0)} + D\,\psi'(r + 1)`, with :math:`r = w n^0/\Omega` (the
    weight of generation 0 over a batch's; :math:`n^0/N` with unit weights).

    Attributes
    ----------
    name : str
    initial : sympy.Expr
        :math:`R^{(0)}`.
    noise : sympy.Expr
        :math:`D` (one batch).
    r : sympy.Expr
    risk : sympy.Expr
        :math:`R^{(t)}` in the symbol ``t`` (an unevaluated ``Sum``).
    limit : sympy.Expr
        :math:`R^{(\infty)}` (``polygamma(1, r + 1)``).
    t : sympy.Symbol
    gerstgrasser : sympy.Expr or None
        Under the exact theory with :math:`r = 1` and :math:`R^{(0)} = D` (unit weights,
        :math:`\sigma_1^2 = \sigma^2`): :math:`D \sum_{i=1}^{t+1} i^{-2}`, Gerstgrasser et
        al.'s formula.
    series : sympy.Expr or None
        Theorem 4 (§6.1; exact theory asked for, a fresh design, the self-loop weighted like
        generation 0): :math:`\sum_{s=1}^{t} N/(n_s(n_s - d - 1))` with
        :math:`n_s = n^0 + sN`, and then ``risk`` is the exact
        ``initial + coefficient * series``, ``initial`` the exact
        :math:`\sigma^2 d/(n^0 - d - 1)` and ``limit`` the exact
        ``initial + c * (polygamma(0, a) - polygamma(0, b))`` for ``digamma = (c, a, b)``:
        :math:`c = \sigma_k^2 d/(d + 1)`, :math:`a = n^0/N + 1`,
        :math:`b = (n^0 - d - 1)/N + 1`. ``noise`` and ``r`` keep their meaning
        (:math:`D = d\sigma_k^2/N`, :math:`r = n^0/N`). ``None`` otherwise.
    coefficient : sympy.Expr or None
        :math:`\sigma_k^2 d` under Theorem 4.
    digamma : tuple
        ``(c, a, b)`` under Theorem 4, else ``()``.
    """

    name: str
    initial: sp.Expr
    noise: sp.Expr
    r: sp.Expr
    risk: sp.Expr
    limit: sp.Expr
    t: sp.Symbol
    gerstgrasser: sp.Expr | None = None
    series: sp.Expr | None = None
    coefficient: sp.Expr | None = None
    digamma: tuple[Any, ...] = ()

    @property
    def theorem4(self) -> bool:
        """Whether ``risk`` and ``limit`` are Theorem 4's exact values (``docs/regimes.md`` §6.1)."""
        return self.series is not None


@dataclass(frozen=True)
class RegimeStatement:
    r"""What a regime theorem states, beyond the default theorem's fields.

    Attributes
    ----------
    theory : str
        ``"exact"`` (Theorem 3 of ``docs/regimes.md`` §6) or ``"large-sample"``.
    requested : str
        The theory asked for (``"exact"`` falls back to ``"large-sample"`` where Theorem 3
        does not apply).
    reason : str
        Why that theory (e.g. why the exact one does not close).
    recursion : str
        ``"replace"`` (§3.2, fresh real data), ``"replace-fixed"`` (§3.2 with fixed real
        datasets) or ``"pool"`` (§3.3, some learner accumulates).
    policies, real_data, design : tuple of str
        Per learner.
    real_weight, edge_weights : tuple of sympy.Expr
        Per learner and per edge (aligned with ``graph.edges``).
    initial_risk : tuple
        :math:`R_k^{(0)}`.
    fixed_share : tuple
        Replace with fixed real data: :math:`f_k = \tilde\alpha_k` for learners with a
        fixed dataset, else 0 (§3.2).
    fixed_variance : tuple
        :math:`\Xi_k = v/m_k` for those learners, else 0.
    batch_noise : tuple
        :math:`q_k`: :math:`\tilde D_k` without its real term for learners with a fixed
        dataset, :math:`\tilde D_k` otherwise.
    closed_form : tuple of str
        Learners whose stationary risk or growth rate is stated (§3.2).
    replace_part : bool
        The values of ``closed_form`` are those of the learners whose ancestors all replace
        in a graph where some learner does not.
    bound : sympy.Expr or None
        Claim 4: every risk is at most this, at every generation.
    vanishing : dict
        Claim 4b: learner -> the condition (sympy Boolean) under which its risk tends to 0.
    self_accumulating : tuple of OneLearnerAccumulation
        The learners that accumulate their own outputs only (no real data, a self-loop, no
        other ancestor), with their closed forms.
    recursion_only : tuple of str
        Bounded learners with no closed-form value (risks from the recursion, §3.3).
    """

    theory: str
    requested: str
    reason: str
    recursion: str
    policies: tuple[str, ...]
    real_data: tuple[str, ...]
    design: tuple[str, ...]
    real_weight: tuple[Any, ...]
    edge_weights: tuple[Any, ...]
    initial_risk: tuple[Any, ...]
    fixed_share: tuple[Any, ...] = ()
    fixed_variance: tuple[Any, ...] = ()
    batch_noise: tuple[Any, ...] = ()
    closed_form: tuple[str, ...] = ()
    replace_part: bool = False
    bound: Any = None
    vanishing: dict[str, Any] = field(default_factory=dict)
    self_accumulating: tuple[OneLearnerAccumulation, ...] = ()
    recursion_only: tuple[str, ...] = ()


def _tidy(e: Any) -> Any:
    """``sympy.factor`` with every sum factor written as printed without a leading minus
    (``d/(T - d - 1)``, not ``-d/(-T + d + 1)``)."""
    from .latex import tex

    e = sp.factor(e)
    if not isinstance(e, sp.Expr) or e.is_number:
        return e
    sign = 1
    parts = []
    for f in sp.Mul.make_args(e):
        b, p = f.as_base_exp()
        if b.is_Add and p.is_Integer and tex(b).startswith("-"):
            b, sign = -b, sign * sp.Integer(-1) ** p
        parts.append(b ** p)
    return sign * sp.Mul(*parts)


def _per_sample(graph: InteractionGraph) -> tuple[sp.Expr, list[sp.Expr]]:
    d = _as_sympy(graph.dimension)
    return d * _as_sympy(graph.noise_variance), [d * _as_sympy(s) for s in graph.synthetic_noise_variance]


def _noise_parts(graph: InteractionGraph, exact: bool) -> tuple[list[sp.Expr], list[sp.Expr], list[sp.Expr]]:
    """(D~_k, real part of D~_k, R_k(0)): the weighted sandwich of §3.1, times
    N_k/(N_k - d - 1) under Theorem 3 (§6)."""
    v, vj = _per_sample(graph)
    d = _as_sympy(graph.dimension)
    K = graph.num_learners
    w = [_as_sympy(x) for x in graph.real_weight]
    m = [_as_sympy(x) for x in graph.real_samples]
    total = [w[k] * m[k] for k in range(K)]
    syn = [sp.Integer(0)] * K
    for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights):
        u, n = _as_sympy(u), _as_sympy(n)
        total[t] = total[t] + u * n
        syn[t] = syn[t] + u ** 2 * n * vj[s]
    real = [w[k] ** 2 * m[k] * v for k in range(K)]
    D, Dreal, R0 = [], [], []
    for k in range(K):
        factor = sp.Integer(1)
        n0 = _as_sympy(graph.initial_samples[k])
        if exact:
            N = _as_sympy(graph.total_samples[k])
            factor = N / (N - d - 1)
            R0.append(_tidy(v / (n0 - d - 1)))
        else:
            R0.append(_tidy(v / n0))
        D.append(_tidy(sp.cancel((real[k] + syn[k]) * factor / total[k] ** 2)))
        Dreal.append(_tidy(sp.cancel(real[k] * factor / total[k] ** 2)))
    return D, Dreal, R0


def _one_learner(graph: InteractionGraph, k: int, D: sp.Expr, R0: sp.Expr,
                 exact: bool, fresh_exact: bool = False) -> OneLearnerAccumulation | None:
    """Claim 3 / §5 / §6 Corollary for a learner accumulating its own outputs only (m = 0, a
    self-loop, no other ancestor: its risks do not depend on the rest of the graph); with
    ``fresh_exact`` (the exact theory asked for), Theorem 4 (§6.1) for such a learner with a
    fresh design and its self-loop weighted like generation 0."""
    m = _as_sympy(graph.real_samples[k])
    ins = [i for i, t in enumerate(graph.edge_targets) if t == k]
    if (graph.data_policy[k] != "accumulate" or not (m.is_number and m == 0) or len(ins) != 1
            or graph.edge_sources[ins[0]] != k):
        return None
    w, u = _as_sympy(graph.real_weight[k]), _as_sympy(graph.edge_weights[ins[0]])
    n0, n = _as_sympy(graph.initial_samples[k]), _as_sympy(graph.edge_samples[ins[0]])
    r = sp.factor(sp.cancel(w * n0 / (u * n)))
    t = sp.Symbol("t", integer=True, nonnegative=True)
    s = sp.Symbol("s", integer=True, positive=True)
    risk = R0 + D * sp.Sum(1 / (r + s) ** 2, (s, 1, t))
    limit = R0 + D * sp.polygamma(1, r + 1)
    if not limit.has(sp.polygamma) and limit.free_symbols:
        limit = _tidy(sp.simplify(limit))
    gerst = None
    if exact and sp.simplify(r - 1) == 0 and sp.simplify(R0 - D) == 0:
        i = sp.Symbol("i", integer=True, positive=True)
        gerst = D * sp.Sum(1 / i ** 2, (i, 1, t + 1))
    if fresh_exact and graph.design[k] != "fixed" and sp.simplify(w - u) == 0:
        return _theorem4(graph, k, n0, n, D, r, t, s)
    return OneLearnerAccumulation(graph.names[k], R0, D, r, risk, limit, t, gerst)


def _theorem4(graph: InteractionGraph, k: int, n0: sp.Expr, N: sp.Expr, D: sp.Expr, r: sp.Expr,
              t: sp.Symbol, s: sp.Symbol) -> OneLearnerAccumulation:
    r"""Theorem 4 (``docs/regimes.md`` §6.1): an own-output accumulator with a fresh design and
    :math:`w = u` has the exact risk
    :math:`\sigma^2 d/(n^0 - d - 1) + \sigma_k^2 d \sum_{s=1}^t N/(n_s(n_s - d - 1))`,
    :math:`n_s = n^0 + sN`, and the digamma limit
    :math:`\sigma^2 d/(n^0 - d - 1) + \frac{\sigma_k^2 d}{d + 1}(\psi(n^0/N + 1) - \psi((n^0 - d - 1)/N + 1))`
    (the sum telescopes)."""
    d = _as_sympy(graph.dimension)
    initial = _tidy(d * _as_sympy(graph.noise_variance) / (n0 - d - 1))
    coefficient = sp.factor(d * _as_sympy(graph.synthetic_noise_variance[k]))
    ns = n0 + s * N
    series = sp.Sum(N / (ns * (ns - d - 1)), (s, 1, t))
    c, a, b = _tidy(coefficient / (d + 1)), sp.factor(n0 / N + 1), sp.factor((n0 - d - 1) / N + 1)
    limit = initial + c * (sp.polygamma(0, a) - sp.polygamma(0, b))
    return OneLearnerAccumulation(graph.names[k], initial, D, r, initial + coefficient * series, limit, t,
                                  None, series, coefficient, (c, a, b))


def _induced(graph: InteractionGraph, keep: list[int]) -> InteractionGraph:
    """The subgraph on ``keep`` (an ancestor-closed set: no edge enters it from outside)."""
    G = graph.to_networkx()
    return InteractionGraph.from_networkx(G.subgraph([graph.names[k] for k in keep]).copy())


def derive_regime_statement(graph: InteractionGraph, theory: str = "exact") -> tuple[RegimeStatement, dict]:
    r"""The regime statement of ``graph`` and the objects it shares with the default theorem.

    Parameters
    ----------
    graph : InteractionGraph
        A graph whose regime is not the default; symbols allowed in counts, weights,
        dimension and noise variance.
    theory : {"exact", "large-sample"}
        ``"exact"`` uses Theorem 3 (§6) where it applies (:func:`exact_regime_applies`)
        and the large-sample theory otherwise, saying why; either way it states Theorem 4
        (§6.1) for the own-output accumulators with a fresh design and :math:`w = u`
        (:attr:`OneLearnerAccumulation.theorem4`).

    Returns
    -------
    (RegimeStatement, dict)
        The dict holds ``W`` (:math:`\tilde W`), ``D`` (:math:`\tilde D_k`, exact under
        Theorem 3), ``C0``, ``components``, ``collapses`` (Theorem 2), ``risks`` and
        ``rates`` (learner name -> value, symbolic real counts assumed positive),
        ``assumptions`` (LaTeX) and ``made_positive``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> st, parts = derive_regime_statement(self_training(samples=10, initial_samples=10, dimension=1,
    ...                                                   data_policy="accumulate"), "large-sample")
    >>> st.self_accumulating[0].limit
    pi**2/60
    >>> parts["collapses"]
    (False,)

    The exact theory asked for: Theorem 4 (§6.1) for that learner, a digamma limit.

    >>> one = derive_regime_statement(self_training(samples=10, initial_samples=10, dimension=1,
    ...                                             data_policy="accumulate"))[0].self_accumulating[0]
    >>> one.theorem4, one.initial, one.digamma, round(float(one.limit), 6)
    (True, 1/8, (1/2, 2, 9/5), 0.193896)
    """
    from .regimes import _replace_values, effective_mixing_matrix
    from .theorem import _positive_counts

    from .recursion import check_ols_sample_sizes

    if theory not in ("exact", "large-sample"):
        raise GraphValueError(f"theory: expected exact or large-sample, found {theory!r}")
    check_ols_sample_sizes(graph)  # as analyze: both OLS theories need N_k, n0_k > d + 1
    ok, why = exact_regime_applies(graph)
    exact = theory == "exact" and ok
    reason = "the large-sample theory was asked for" if theory == "large-sample" else why
    K = graph.num_learners
    comps = regime_components(graph)
    collapses = regime_collapse_conditions(graph, comps)
    pos_graph, made_positive = _positive_counts(graph)
    W = effective_mixing_matrix(graph).applyfunc(sp.factor)
    D, Dreal, R0 = _noise_parts(graph, exact)
    fixed = [graph.real_data[k] == "fixed" and _as_sympy(graph.real_samples[k]) != 0 for k in range(K)]
    all_replace = all(p == "replace" for p in graph.data_policy)
    recursion = ("replace-fixed" if any(fixed) else "replace") if all_replace else "pool"
    v, _ = _per_sample(graph)
    alpha = [sp.factor(sp.cancel(1 - sum(W.row(k)))) for k in range(K)]
    fixed_share = tuple(alpha[k] if fixed[k] else sp.Integer(0) for k in range(K))
    fixed_var = tuple(sp.factor(v / _as_sympy(graph.real_samples[k])) if fixed[k] else sp.Integer(0)
                      for k in range(K))
    batch = tuple(_tidy(D[k] - Dreal[k]) if fixed[k] else D[k] for k in range(K))
    risks: dict[str, Any] = {}
    rates: dict[str, Any] = {}
    closed: list[str] = []
    replace_part = False
    bound = None
    vanishing: dict[str, Any] = {}
    one: tuple[OneLearnerAccumulation, ...] = ()
    # learners whose ancestors (itself included) all replace: §3.2 holds on them
    S = graph.structure
    keep = [k for k in range(K)
            if all(graph.data_policy[j] == "replace" for j in S.ancestors(k).tolist() + [k])]
    if keep:
        sub = pos_graph if len(keep) == K else _induced(pos_graph, sorted(keep))
        _, sub_rates, sub_stat = _replace_values(sub, "ols", exact)
        for i, name in enumerate(sub.names):
            if i in sub_stat:
                risks[name] = sp.factor(sub_stat[i]) if graph.is_symbolic else sub_stat[i]
            elif i in sub_rates:
                rates[name] = sp.factor(sub_rates[i]) if graph.is_symbolic else sub_rates[i]
            closed.append(name)
        replace_part = len(keep) < K
    if not all_replace:
        found = [_one_learner(graph, k, D[k], R0[k], exact, theory == "exact") for k in range(K)]
        one = tuple(x for x in found if x is not None)
        fresh = all(graph.real_data[k] == "fresh" or not fixed[k] for k in range(K))
        if all(p == "accumulate" for p in graph.data_policy) and fresh:
            bound = sp.Max(*R0) + sp.pi ** 2 / 6 * sp.Max(*D)
            src = [c for c in comps if _is_source(graph, c)]
            for k in range(K):
                anc = set(S.ancestors(k).tolist()) | {k}
                conds = [c.topological for c in src if graph.index[c.members[0]] in anc]
                cond = sp.And(*conds)
                vanishing[graph.names[k]] = bool(cond) if cond in (sp.true, sp.false) else cond
    recursion_only = tuple(n for k, n in enumerate(graph.names)
                           if n not in closed and n not in {x.name for x in one} and collapses[k] is not True
                           and vanishing.get(n) is not True)
    assumptions: list[str] = []
    if made_positive and (risks or rates):
        assumptions.append(", ".join(sp.latex(s) for s in made_positive) + r" > 0 \text{ (for the risks and rates)}")
    st = RegimeStatement(
        theory="exact" if exact else "large-sample", requested=theory, reason=reason, recursion=recursion,
        policies=tuple(graph.data_policy), real_data=tuple(graph.real_data), design=tuple(graph.design),
        real_weight=tuple(_as_sympy(x) for x in graph.real_weight),
        edge_weights=tuple(_as_sympy(x) for x in graph.edge_weights), initial_risk=tuple(R0),
        fixed_share=fixed_share, fixed_variance=fixed_var, batch_noise=batch, closed_form=tuple(closed),
        replace_part=replace_part, bound=bound, vanishing=vanishing, self_accumulating=one,
        recursion_only=recursion_only)
    parts = dict(W=W, D=tuple(D), C0=sp.diag(*R0), components=comps, collapses=collapses, risks=risks,
                 rates=rates, assumptions=assumptions, made_positive=made_positive)
    return st, parts


def _is_source(graph: InteractionGraph, c: Any) -> bool:
    from .theorem import _is_closed

    return _is_closed(graph, [graph.index[n] for n in c.members])
