r"""The exact finite-sample theory at any graph size (docs/exact.md §13).

The exact analysis of :func:`graphcollapse.theory.exact.exact_analysis` decides each
component's verdict from the characteristic polynomial of its second-moment map, of
dimension :math:`|A|(|A|+1)/2`, and reads growth from exact risk sequences of the same
length: it is exact and complete, and it stops at tens of learners. Here the same answers
come from the graph's structure and sparse systems:

- **Verdicts.** A component whose learners all have :math:`N_k \ge 2d + 1` has
  :math:`\gamma_k < 1` and its exact verdict is the topological one (Theorem 3): its map
  has radius exactly 1 if it is an offending source component, below 1 otherwise. Only
  components with a learner below :math:`2d + 1` (and a cycle or a self-loop) need the
  radius of their own map, decided exactly from its characteristic polynomial on that
  component alone (at most :data:`SMALL_COMPONENT` learners; larger ones are refused with
  a one-line reason).
- **Stationary risks** of bounded learners: the exact stationary covariance on the pair
  closure (:mod:`graphcollapse.theory.pairs`), a sparse system; exact rationals when the
  closure has at most :data:`EXACT_PAIRS` pairs and ``exact`` is asked, else floats with
  the relative residual stated.
- **Linear growth rates** (learners fed only by offending components whose learners all
  have :math:`N_k \ge 2d+1`): :math:`\lim R_k(t)/t = \bar G_{kk}`, from the spectral
  projection of each offending component's map on its eigenvalue 1 and one sparse system
  downstream (docs/exact.md §13, Theorem 9).
- Learners fed by a component with a small count and radius :math:`\ge 1` get the full
  exact analysis of their ancestor subgraph when it has at most
  :data:`ANCESTOR_LEARNERS` learners, else their growth kind and factor only.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from .errors import GraphValueError
from .exact import design_correction_parts
from .graph import InteractionGraph
from .pairs import (PairSpace, ScaleLimitError, exact_solve_pairs, iterate_pairs, pair_closure, pair_map,
                    solve_pairs)

__all__ = ["scalable_exact_analysis", "scalable_risk_trajectory", "needs_scalable_path", "SMALL_COMPONENT", "EXACT_PAIRS",
           "SUBGRAPH_LEARNERS", "exact_noise_variance_float", "design_correction_float"]

#: The largest component whose exact map radius is computed (its map has
#: SMALL_COMPONENT (SMALL_COMPONENT + 1) / 2 dimensions).
SMALL_COMPONENT = 12
#: Exact rationals on pair closures up to this size (when asked).
EXACT_PAIRS = 2000
#: Graphs up to this size (with components up to SMALL_COMPONENT) take the complete exact
#: analysis of :func:`graphcollapse.theory.exact.exact_analysis`.
SUBGRAPH_LEARNERS = 40
#: Learners fed by a small-count component whose ancestors number at most this get the
#: complete exact analysis of their ancestor subgraph (its cost grows like the fourth
#: power of the ancestors).
ANCESTOR_LEARNERS = 10
#: Offending components up to this size get their eigenvalue-1 projection in floats.
FLOAT_COMPONENT = 60


def design_correction_float(N: np.ndarray, d: int) -> np.ndarray:
    r""":math:`\gamma(N, d)` of docs/exact.md, vectorised.

    Examples
    --------
    >>> import numpy as np
    >>> design_correction_float(np.array([34.0]), 23).round(6).tolist()  # exactly 61/27
    [2.259259]
    """
    num, den = design_correction_parts(np.asarray(N, dtype=float), d)
    return num / den


def exact_noise_variance_float(graph: InteractionGraph) -> np.ndarray:
    r"""The exact :math:`D_k = d\,(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)/(N_k(N_k-d-1))`,
    vectorised.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> exact_noise_variance_float(self_training(real_samples=10, samples=30, dimension=2)).round(6).tolist()  # 2/37
    [0.054054]
    """
    s2 = float(graph.noise_variance)
    snv = np.array([float(v) for v in graph.synthetic_noise_variance])
    m = np.array(graph.real_samples, dtype=float)
    N = np.array(graph.total_samples, dtype=float)
    src = np.asarray(graph.edge_sources, dtype=np.int64)
    tgt = np.asarray(graph.edge_targets, dtype=np.int64)
    n = np.array(graph.edge_samples, dtype=float)
    d = float(graph.dimension)
    num = m * s2 + np.bincount(tgt, weights=n * snv[src], minlength=graph.num_learners)
    return d * num / (N * (N - d - 1))


def needs_scalable_path(graph: InteractionGraph) -> bool:
    """Whether :func:`graphcollapse.theory.exact.exact_analysis` would be slow: more than
    :data:`SUBGRAPH_LEARNERS` learners or a component beyond :data:`SMALL_COMPONENT`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> needs_scalable_path(cycle(3)), needs_scalable_path(cycle(50))
    (False, True)
    """
    if graph.num_learners > SUBGRAPH_LEARNERS:
        return True
    return int(graph.structure.component_sizes.max()) > SMALL_COMPONENT


def _induced(graph: InteractionGraph, idx: Sequence[int]) -> InteractionGraph:
    """The subgraph on an ancestor-closed set of learners (its risks are the same)."""
    idx = sorted(int(i) for i in idx)
    pos = {k: i for i, k in enumerate(idx)}
    names = graph.names
    edges = [(names[s], names[t], n) for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples)
             if t in pos]
    snv = graph._synthetic_noise_variance
    return InteractionGraph([names[k] for k in idx], real_samples=[graph.real_samples[k] for k in idx],
                            initial_samples=[graph.initial_samples[k] for k in idx], edges=edges,
                            dimension=graph.dimension, noise_variance=graph.noise_variance,
                            synthetic_noise_variance=[snv[k] for k in idx])


def _projection_exact(graph: InteractionGraph, members: list[int]) -> tuple[list[tuple[int, int]], list[sp.Expr]]:
    r""":math:`\Pi_A(\operatorname{diag} D_A)` on the pairs of an offending component, exactly."""
    from .exact import exact_noise_variance, second_moment_map_matrix

    pairs, M = second_moment_map_matrix(graph, members)
    n = len(pairs)
    A = (M - M.eye(n, M.domain)).to_Matrix()
    R = sp.Matrix.hstack(*A.nullspace())
    L = sp.Matrix.hstack(*A.T.nullspace())
    D = exact_noise_variance(graph)
    x = sp.Matrix([D[k] if k == l else 0 for k, l in pairs])
    y = R * (L.T * R).LUsolve(L.T * x)
    return pairs, list(y)  # rationals: every input is


def _projection_float(space: PairSpace, members: list[int], gammas: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\Pi_A(\operatorname{diag} D_A)` on the pairs of an offending component, in floats."""
    idx = np.array(sorted(members), dtype=np.int64)
    a, b = np.triu_indices(len(idx))
    keys = np.sort(space.key(idx[a], idx[b]))
    M = pair_map(space, keys, gammas)[0].toarray()
    n = len(keys)
    A = M - np.eye(n)
    U, s, Vt = np.linalg.svd(A)
    tol = max(n, 1) * np.finfo(float).eps * max(s.max(initial=0.0), 1.0) * 1e3
    r = int(np.sum(s <= tol))
    if r == 0:
        raise GraphValueError("exact: an offending component's map has no eigenvalue 1 numerically; "
                              "use the exact path on a smaller graph")
    R = Vt[-r:].T          # right null space of A
    L = U[:, -r:]          # left null space of A
    kk, ll = space.split(keys)
    x = np.where(kk == ll, D[kk], 0.0)
    y = R @ np.linalg.solve(L.T @ R, L.T @ x)
    return keys, y


def scalable_exact_analysis(graph: InteractionGraph, fix_samples: int | None = None, *, fix: bool = True,
                            exact: bool = False, progress: Callable[[str], None] | None = None) -> Any:
    r"""The exact analysis (:class:`graphcollapse.theory.exact.ExactAnalysis`) by structure
    and sparse systems, for graphs of any size (see the module docstring).

    Values are exact rationals when ``exact`` and the systems are small
    (:data:`EXACT_PAIRS`), else floats; ``accuracy`` on the result states the largest
    relative residual. ``map_spectral_radius`` is None where it is below 1 but not
    computed (components whose verdict is topological).

    Examples
    --------
    A ring of 60 learners, one with real data: every learner is bounded.

    >>> from graphcollapse.theory.builders import cycle
    >>> a = scalable_exact_analysis(cycle(60, real_samples=[10] + [0] * 59, samples=20, dimension=2))
    >>> a.collapse, round(float(a.learners["L0"].stationary_risk), 6)
    (False, 6.210319)
    """
    from .condition import collapse_condition, stationary_distribution
    from .exact import (ComponentFix, ExactAnalysis, ExactFix, ExactLearner, ExpandingComponent,
                        _check_analysis_inputs, _count_ge_one, _max_root, component_fix, component_map_radius,
                        exact_analysis, exact_noise_variance)

    say = progress or (lambda _msg: None)
    F = _check_analysis_inputs(graph, fix_samples)
    K = graph.num_learners
    names = graph.names
    d = int(graph.dimension)
    N = np.array(graph.total_samples, dtype=float)
    big = N >= 2 * d + 1
    S = graph.structure
    space = PairSpace.of(graph)
    g = design_correction_float(N, d)
    D = exact_noise_variance_float(graph)
    condition = collapse_condition(graph)
    offending = {int(S.component_of(c.members[0])) for c in condition.components}
    sizes = S.component_sizes
    loops = S.has_self_loop

    # -- verdicts: topological where every count is >= 2d+1, else the component's own radius
    say("verdicts")
    radius: dict[int, tuple[sp.Expr, sp.Poly]] = {}
    special: list[int] = []  # components with radius >= 1 decided from their own map
    linear: list[int] = []   # offending components with every N >= 2d+1 (radius exactly 1)
    for c in range(S.num_components):
        members = S.members(c)
        if sizes[c] == 1 and not loops[members[0]]:
            continue  # the map of a lone learner without a self-loop is zero
        if bool(big[members].all()):
            if c in offending:
                linear.append(c)
            continue
        if sizes[c] > SMALL_COMPONENT:
            low = [names[k] for k in members if not big[k]][:3]
            raise ScaleLimitError(
                f"exact: the component of {sizes[c]} learners containing {', '.join(low)} has N_k < 2d + 1 = "
                f"{2 * d + 1}; its exact verdict needs the radius of a {sizes[c] * (sizes[c] + 1) // 2}-dimensional "
                f"map, beyond the exact path's limit of {SMALL_COMPONENT} learners per such component; give "
                f"these learners at least {2 * d + 1} samples per generation or use the large-sample theory")
        radius[c] = component_map_radius(graph, members.tolist())
        gt, at = _count_ge_one(radius[c][1], radius[c][0])
        if gt or at:
            special.append(c)
    too_big = [c for c in linear if sizes[c] > FLOAT_COMPONENT]
    if too_big:
        c = too_big[0]
        raise ScaleLimitError(
            f"exact: the offending component of {sizes[c]} learners containing {names[S.members(c)[0]]} "
            f"is beyond the exact growth-rate limit of {FLOAT_COMPONENT} learners; use the "
            "large-sample theory (--large-sample) for its growth rates")
    comp_of = np.empty(K, dtype=np.int64)
    for c in range(S.num_components):
        comp_of[S.members(c)] = c
    members_of = lambda cs: np.concatenate([S.members(c) for c in cs]) if cs else np.zeros(0, np.int64)  # noqa: E731
    from_linear = np.zeros(K, dtype=bool)
    from_special = np.zeros(K, dtype=bool)
    if linear:
        from_linear[S.descendants(members_of(linear))] = True
    if special:
        from_special[S.descendants(members_of(special))] = True
    collapses = from_linear | from_special
    bounded = np.flatnonzero(~collapses)
    accuracy = 0.0
    exact_values = exact and K <= SUBGRAPH_LEARNERS

    # -- stationary risks of the bounded learners (an ancestor-closed set)
    stationary: dict[int, Any] = {}
    lower: dict[int, Any] = {}
    upper: dict[int, Any] = {}
    if bounded.size:
        say(f"stationary risks of {bounded.size:,} bounded learners")
        keys = pair_closure(space, bounded)
        kk, ll = space.split(keys)
        diag_pos = np.flatnonzero(kk == ll)
        rhs = np.where(kk == ll, D[kk], 0.0)
        if exact_values and len(keys) <= EXACT_PAIRS:
            Dx = exact_noise_variance(graph)
            gx = [sp.Rational(*_ratio(graph.total_samples[k], d)) for k in range(K)]
            vals = exact_solve_pairs(graph, keys, gx, [Dx[k] if k == l else 0 for k, l in zip(kk, ll)])
            low = exact_solve_pairs(graph, keys, None, [Dx[k] if k == l else 0 for k, l in zip(kk, ll)])
            for p in diag_pos:
                stationary[int(kk[p])] = vals[p]
                lower[int(kk[p])] = low[p]
        else:
            x, res = solve_pairs(space, keys, g, rhs)
            xl, res_l = solve_pairs(space, keys, None, rhs)
            accuracy = max(accuracy, res, res_l)
            for p in diag_pos:
                stationary[int(kk[p])] = float(x[p])
                lower[int(kk[p])] = float(xl[p])
        # upper bound ((I - W_BB)^{-1} D_B)_k where every ancestor has N >= 2d+1
        import scipy.sparse as sps
        import scipy.sparse.linalg as spla

        W = graph.mixing_matrix_float()[bounded][:, bounded]
        ub = spla.spsolve((sps.identity(len(bounded), format="csc") - W.tocsc()), D[bounded])
        ub = np.atleast_1d(ub)
        small_anc = np.zeros(K, dtype=bool)
        if (~big).any():
            small_anc[S.descendants(np.flatnonzero(~big))] = True
        for i, k in enumerate(bounded):
            upper[int(k)] = None if small_anc[k] else float(ub[i])

    # -- linear growth rates: the eigenvalue-1 projection on each offending component, then downstream
    rates: dict[int, Any] = {}
    lin_only = np.flatnonzero(from_linear & ~from_special)
    if lin_only.size:
        say(f"growth rates of {lin_only.size:,} linearly collapsing learners")
        known_keys: list[np.ndarray] = []
        known_vals: list[np.ndarray] = []
        for c in linear:
            members = S.members(c).tolist()
            if exact_values and len(members) <= SMALL_COMPONENT:
                pairs, vals = _projection_exact(graph, members)
                known_keys.append(np.array([a * K + b for a, b in pairs], dtype=np.int64))
                known_vals.append(np.array(vals, dtype=object))
            else:
                kk_, vv = _projection_float(space, members, g, D)
                known_keys.append(kk_)
                known_vals.append(vv)
        kk_all = np.concatenate(known_keys)
        order = np.argsort(kk_all)
        kk_all = kk_all[order]
        kv_all = np.concatenate(known_vals)[order]
        lin_comp = np.full(S.num_components, False)
        lin_comp[linear] = True

        def stop(keys: np.ndarray) -> np.ndarray:
            a, b = space.split(keys)
            ca, cb = comp_of[a], comp_of[b]
            return ~collapses[a] | ~collapses[b] | (lin_comp[ca] & lin_comp[cb])

        start = lin_only[~lin_comp[comp_of[lin_only]]]
        if start.size:
            keys = pair_closure(space, start, stop=stop)
            keys = keys[~stop(keys)]
        else:
            keys = np.zeros(0, dtype=np.int64)
        if exact_values and len(keys) <= EXACT_PAIRS:
            gx = [sp.Rational(*_ratio(graph.total_samples[k], d)) for k in range(K)]
            known = {int(a): b for a, b in zip(kk_all, kv_all)}
            vals = exact_solve_pairs(graph, keys, gx, [0] * len(keys), known=known) if len(keys) else []
            for key, v in list(zip(keys.tolist(), vals)) + list(known.items()):
                a, b = divmod(int(key), K)
                if a == b:
                    rates[a] = v
        else:
            kv_float = np.array([float(v) for v in kv_all])
            x, res = solve_pairs(space, keys, g, np.zeros(len(keys)), known=(kk_all, kv_float))
            accuracy = max(accuracy, res)
            for key, v in list(zip(keys.tolist(), x.tolist())) + list(zip(kk_all.tolist(), kv_float.tolist())):
                a, b = divmod(int(key), K)
                if a == b:
                    rates[a] = float(v)

    # -- learners fed by a special component: the full exact analysis of their ancestors
    sub: dict[int, Any] = {}
    notes: list[str] = []
    fed_special = np.flatnonzero(from_special)
    if fed_special.size:
        say(f"exact growth of {fed_special.size:,} learners fed by small-count components")
        cache: dict[tuple[int, ...], Any] = {}
        for k in fed_special.tolist():
            anc = S.ancestors(k)
            if len(anc) > ANCESTOR_LEARNERS:
                continue
            key = tuple(sorted(anc.tolist()))
            if key not in cache:
                cache[key] = exact_analysis(_induced(graph, key), fix=False)
            sub[k] = cache[key].learners[names[k]]
        if len(sub) < fed_special.size:
            notes.append(f"{fed_special.size - len(sub)} learners fed by small-count components have more than "
                         f"{ANCESTOR_LEARNERS} ancestors: their growth kind and factor are given, not the rate")

    # -- per-learner results
    say("assembling")
    rad_of = {c: r for c, (r, _) in radius.items()}
    special_set = set(special)
    learners: dict[str, Any] = {}
    for k in range(K):
        name = names[k]
        if not collapses[k]:
            learners[name] = ExactLearner(
                name=name, collapses=False, growth="none", growth_degree=None, growth_rate=None, growth_factor=None,
                stationary_risk=stationary[k], map_spectral_radius=None,
                risk_bounds=(lower[k], upper[k]), expanding=[])
            continue
        if k in sub:
            learners[name] = sub[k]
            continue
        if from_special[k]:
            anc_c = np.unique(comp_of[S.ancestors(k)])
            rs = [radius[c] for c in anc_c if c in special_set]
            rho = _max_root(rs + ([(sp.Integer(1), sp.Poly(sp.Symbol("lambda") - 1))] if from_linear[k] else []))
            growth = "geometric" if rho > 1 else "polynomial"
            learners[name] = ExactLearner(
                name=name, collapses=True, growth=growth, growth_degree=None, growth_rate=None,
                growth_factor=rho if rho > 1 else None, stationary_risk=None, map_spectral_radius=rho,
                risk_bounds=None, expanding=[])
            continue
        learners[name] = ExactLearner(
            name=name, collapses=True, growth="linear", growth_degree=1, growth_rate=rates[k], growth_factor=None,
            stationary_risk=None, map_spectral_radius=sp.Integer(1), risk_bounds=None, expanding=[],
            growth_period=1 if isinstance(rates[k], sp.Basic) else None,
            growth_rate_phases=(rates[k],) if isinstance(rates[k], sp.Basic) else None,
            growth_rate_mean=rates[k])

    # -- expanding components and the minimal fix
    expanding_comps = [c for c in special if c not in offending]
    minimal = None
    if fix and collapses.any():
        say("minimal fix")
        fixes: list[Any] = []
        chosen: list[dict[str, int]] = []
        proved = True
        for comp in condition.components:
            c = int(S.component_of(comp.members[0]))
            if c in special_set:
                f = component_fix(graph, S.members(c).tolist(), int(F))
                fixes.append(f)
                chosen.append(f.options[0])
                proved = proved and f.proved and len(f.options) == 1
                continue
            pi = stationary_distribution(graph, comp.members) if len(comp.members) <= SMALL_COMPONENT else None
            best = comp.members[int(np.argmax([float(p) for p in pi]))] if pi is not None else comp.members[0]
            fixes.append(ComponentFix(tuple(names[m] for m in comp.members), ({names[best]: int(F)},), True))
            chosen.append({names[best]: int(F)})
            proved = proved and len(comp.members) == 1
        for c in expanding_comps:
            f = component_fix(graph, S.members(c).tolist(), int(F))
            fixes.append(f)
            chosen.append(f.options[0])
            proved = proved and f.proved and len(f.options) == 1
        additions: dict[str, int] = {}
        for ch in chosen:
            additions.update(ch)
        order = {n: i for i, n in enumerate(names)}
        additions = dict(sorted(additions.items(), key=lambda kv: order[kv[0]]))
        fixed = scalable_exact_analysis(graph.with_real_samples(additions), fix=False, exact=exact)
        worst = max((r.stationary_risk for r in fixed.learners.values()), key=float)
        minimal = ExactFix(int(F), additions, tuple(fixes), tuple(chosen), worst, proved, 1)
    chosen_all = minimal.additions if minimal else {}
    expanding = [ExpandingComponent(members=tuple(names[k] for k in S.members(c)), map_spectral_radius=rad_of[c],
                                    fix={names[k]: chosen_all.get(names[k], 0) for k in S.members(c)} if minimal else {})
                 for c in expanding_comps]
    exp_of = {c: e for c, e in zip(expanding_comps, expanding)}
    if expanding:
        for k in np.flatnonzero(from_special).tolist():
            r = learners[names[k]]
            anc_c = np.unique(comp_of[S.ancestors(k)])
            mine = [exp_of[c] for c in anc_c if c in exp_of]
            learners[names[k]] = _with(r, expanding=mine)
    overall = [rad_of[c] for c in special] + ([sp.Integer(1)] if linear else [])
    result = ExactAnalysis(
        graph=graph,
        learners=learners,
        expanding=expanding,
        design_corrections=tuple(sp.Rational(*_ratio(n, d)) for n in graph.total_samples) if K <= SUBGRAPH_LEARNERS else (),
        noise_variance=exact_noise_variance(graph) if K <= SUBGRAPH_LEARNERS else (),
        component_radii={tuple(names[k] for k in S.members(c)): r for c, r in rad_of.items()},
        map_spectral_radius=_max_root([(r, sp.Poly(sp.Symbol("lambda") - 1)) for r in overall]) if overall else None,
        minimal_fix=minimal,
    )
    object.__setattr__(result, "accuracy", accuracy)
    object.__setattr__(result, "notes", tuple(notes))
    return result


def _with(r: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(r, **changes)


def _ratio(N: Any, d: int) -> tuple[int, int]:
    """gamma(N, d) as (numerator, denominator)."""
    num, den = design_correction_parts(int(N), d)
    gcd = math.gcd(num, den)
    return num // gcd, den // gcd


def scalable_risk_trajectory(graph: InteractionGraph, generations: int, *, exact_theory: bool = True) -> np.ndarray:
    r"""Risks :math:`R_k(t)`, :math:`t = 0..T`, as floats of shape ``(T + 1, K)``: the exact
    recursion (``exact_theory``) or the large-sample one, run on the pair closure of all
    learners (sparse; cost :math:`T` times the closure's nonzeros).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> scalable_risk_trajectory(self_training(real_samples=0, samples=12, initial_samples=12,
    ...                                        dimension=3), 2)[:, 0].tolist()
    [0.375, 0.75, 1.125]
    """
    from .recursion import _check_generations, check_ols_sample_sizes, large_sample_noise_variance_float

    T = _check_generations(generations)
    graph._require_numeric("predict")
    d = float(graph.dimension)
    s2 = float(graph.noise_variance)
    n0 = np.array(graph.initial_samples, dtype=float)
    space = PairSpace.of(graph)
    keys = pair_closure(space, np.arange(graph.num_learners))
    if exact_theory:
        from .exact import check_exact_regime

        check_exact_regime(graph)
        N = np.array(graph.total_samples, dtype=float)
        return iterate_pairs(space, keys, design_correction_float(N, int(graph.dimension)),
                             exact_noise_variance_float(graph), s2 * d / (n0 - d - 1), T)
    check_ols_sample_sizes(graph)
    return iterate_pairs(space, keys, None, large_sample_noise_variance_float(graph), s2 * d / n0, T)
