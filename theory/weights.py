r"""Optimal loss weights of real against synthetic data (docs/regimes.md §7).

Statement
---------
Under ``replace`` learner :math:`k` puts the share :math:`s_{k0} = w_k m_k/\Omega_k` of its
loss weight on real data and :math:`s_{kj} = u_{jk} n_{jk}/\Omega_k` on edge
:math:`j \to k` (:math:`\sum s = 1`; only the shares matter). Its large-sample stationary
risk solves :math:`C = \tilde W C \tilde W^\top + \tilde D` with :math:`\tilde W_{kj} = s_{kj}`
and :math:`\tilde D_k = s_{k0}^2 v/m_k + \sum_j s_{kj}^2 v_j / n_{jk}`.

*One learner* trained on m real and n of its own samples (a self-loop): with
:math:`p = v/m`, :math:`q = v_s/n`, the risk is
:math:`R(a) = (a^2 p + (1-a)^2 q) / (a(2-a))` for the real share :math:`a`, minimised at

.. math:: a^* = \frac{\sqrt{q(4p + q)} - q}{2p},

which for equal counts and noise (:math:`p = q`) is :math:`(\sqrt5 - 1)/2 = 1/\varphi`,
the golden-ratio weight of He, Xu and Cheng (2025, arXiv 2502.18049).

*Best response* of a learner whose component is itself without a self-loop: its risk is
the quadratic form :math:`s^\top M s` on the simplex, :math:`M = C_{PP} + \operatorname{diag}(v_i/n_i)`
over its sources (real data has :math:`C = 0`), minimised at :math:`s \propto M^{-1}\mathbf 1`
(exact) when that vector is positive.

*Jointly* on a graph: every learner's shares are free; the largest or the mean
stationary risk is minimised numerically (``scipy.optimize``, from unit weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp

from .errors import GraphValueError
from .graph import InteractionGraph, _as_sympy

__all__ = [
    "golden_share",
    "optimal_real_share",
    "self_training_risk",
    "best_response_shares",
    "WeightOptimum",
    "optimize_weights",
    "stationary_risks_for_shares",
]


def golden_share() -> sp.Expr:
    r"""The optimal real-data share for one learner with equal real and synthetic counts,
    :math:`1/\varphi = (\sqrt5 - 1)/2` (He, Xu, Cheng 2025).

    Examples
    --------
    >>> from graphcollapse.theory.weights import golden_share
    >>> golden_share(), round(float(golden_share()), 6)
    (-1/2 + sqrt(5)/2, 0.618034)
    """
    return optimal_real_share(1, 1)


def self_training_risk(share: Any, real_samples: Any, samples: Any, *, real_risk: Any = 1,
                       synthetic_risk: Any = None) -> sp.Expr:
    r"""The large-sample stationary risk of one learner trained on ``real_samples`` real
    and ``samples`` of its own samples per generation with real share ``share``,
    :math:`R(a) = (a^2 v/m + (1-a)^2 v_s/n) / (1 - (1-a)^2)`.

    ``real_risk`` and ``synthetic_risk`` are the per-sample risks :math:`v` and
    :math:`v_s` (:math:`d\sigma^2` and :math:`d\sigma_s^2` for OLS; default :math:`v_s = v`).

    Examples
    --------
    >>> from graphcollapse.theory.weights import self_training_risk
    >>> self_training_risk(sp.Rational(1, 2), 10, 10)
    1/15
    """
    a = _as_sympy(share)
    v = _as_sympy(real_risk)
    vs = v if synthetic_risk is None else _as_sympy(synthetic_risk)
    return sp.simplify((a ** 2 * v / _as_sympy(real_samples) + (1 - a) ** 2 * vs / _as_sympy(samples))
                       / (1 - (1 - a) ** 2))


def optimal_real_share(real_samples: Any, samples: Any, *, real_risk: Any = 1,
                       synthetic_risk: Any = None) -> sp.Expr:
    r"""The real share :math:`a^*` minimising :func:`self_training_risk` (closed form,
    symbols allowed): :math:`a^* = (\sqrt{q(4p+q)} - q)/(2p)`, :math:`p = v/m`,
    :math:`q = v_s/n`. The loss weights realising it are any :math:`w, u` with
    :math:`w/u = a^* n / ((1 - a^*) m)`.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.weights import optimal_real_share
    >>> optimal_real_share(10, 10)
    -1/2 + sqrt(5)/2
    >>> m, n = sp.symbols("m n", positive=True)
    >>> sp.simplify(optimal_real_share(m, n) - (sp.sqrt(m * (m + 4 * n)) - m) / (2 * n))
    0
    """
    v = _as_sympy(real_risk)
    vs = v if synthetic_risk is None else _as_sympy(synthetic_risk)
    m, n = _as_sympy(real_samples), _as_sympy(samples)
    for name, x in (("real_samples", m), ("samples", n)):
        if x.is_positive is False:
            raise GraphValueError(f"{name}: expected a positive count, found {x}")
    p, q = v / m, vs / n
    return sp.simplify((sp.sqrt(q * (4 * p + q)) - q) / (2 * p))



# --------------------------------------------------------------------------- graphs
def _sources(graph: InteractionGraph) -> list[list[tuple[str, int, Any, Any]]]:
    """Per learner its data sources: ("real", -1, m_k, v) and ("edge", e, n_jk, v_j)."""
    from .regimes import _per_sample_risks

    v, vj = _per_sample_risks(graph, "ols")
    out: list[list[tuple[str, int, Any, Any]]] = [[] for _ in graph.names]
    for k, m in enumerate(graph.real_samples):
        if m != 0:
            out[k].append(("real", -1, _as_sympy(m), v))
    for e, (s, t, n) in enumerate(zip(graph.edge_sources, graph.edge_targets, graph.edge_samples)):
        out[t].append(("edge", e, _as_sympy(n), vj[s]))
    return out


def _check_regime(graph: InteractionGraph) -> None:
    if graph.is_symbolic:
        names = ", ".join(sorted(map(str, graph.free_symbols)))
        raise GraphValueError(f"optimize-weights: needs numeric parameters, but the graph has symbols ({names}); "
                              "substitute them first (optimal_real_share takes symbols)")
    bad = [graph.names[k] for k in range(graph.num_learners)
           if graph.data_policy[k] != "replace" or graph.real_data[k] != "fresh"]
    if bad:
        raise GraphValueError(f"optimize-weights: derived for data_policy replace with fresh real data; learner "
                              f"{bad[0]} has data_policy {graph.data_policy[graph.index[bad[0]]]}, real_data "
                              f"{graph.real_data[graph.index[bad[0]]]}")
    from .regimes import regime_verdicts

    verdict = regime_verdicts(graph)
    if any(verdict.collapses):
        k = [i for i, c in enumerate(verdict.collapses) if c][0]
        raise GraphValueError(f"optimize-weights: learner {graph.names[k]} collapses for every choice of weights "
                              "(a source component without real data; docs/regimes.md §4); give it real data first")


def _weights_from_shares(graph: InteractionGraph, sources: list[list[tuple[str, int, Any, Any]]],
                         shares: list[list[Any]]) -> tuple[list[Any], list[Any]]:
    """Loss weights realising the shares: real weight 1 where a learner has real data
    (else its first in-edge has weight 1), each weight proportional to share / count."""
    real_w: list[Any] = [1] * graph.num_learners
    edge_w: list[Any] = [1] * len(graph.edge_sources)
    for k, (src, sh) in enumerate(zip(sources, shares)):
        per = [s / c for (_, _, c, _), s in zip(src, sh)]
        base = per[0]
        for (kind, e, _, _), x in zip(src, per):
            value = x / base
            if kind == "real":
                real_w[k] = value
            else:
                edge_w[e] = value
    return real_w, edge_w


def stationary_risks_for_shares(graph: InteractionGraph, shares: list[np.ndarray],
                                sources: list[list[tuple[str, int, Any, Any]]] | None = None) -> np.ndarray:
    """The large-sample stationary risks (float64) for given per-learner shares
    (``shares[k]`` aligned with the learner's sources: real first when it has real data,
    then its in-edges in edge order).

    Examples
    --------
    >>> import numpy as np
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.weights import stationary_risks_for_shares
    >>> G = self_training(real_samples=10, samples=10, dimension=1)
    >>> stationary_risks_for_shares(G, [np.array([0.5, 0.5])]).round(6)
    array([0.066667])
    """
    from scipy.linalg import solve_discrete_lyapunov

    sources = _sources(graph) if sources is None else sources
    K = graph.num_learners
    W = np.zeros((K, K))
    D = np.zeros(K)
    for k, (src, sh) in enumerate(zip(sources, shares)):
        for (kind, e, c, v), s in zip(src, sh):
            D[k] += s * s * float(v) / float(c)
            if kind == "edge":
                W[k, graph.edge_sources[e]] += s
    C = solve_discrete_lyapunov(W, np.diag(D))
    return np.diag(C).copy()


@dataclass(frozen=True)
class WeightOptimum:
    """Optimal loss weights of a graph (:func:`optimize_weights`).

    Attributes
    ----------
    graph : InteractionGraph
        The graph with the optimal weights set.
    objective : {"max", "mean"}
    real_weight : dict
        Per learner its real weight (1 where it has real data).
    edge_weights : list of (source, target, weight)
    shares : dict
        Per learner its loss shares per source (``"real"`` or the producer's name).
    risk, unit_risk : dict
        Stationary risks per learner with the optimal and with unit weights.
    value, unit_value : float
        The objective with the optimal and with unit weights.
    exact : bool
        Whether the optimum is a closed form (exact values in ``exact_values``).
    method : str
    """

    graph: InteractionGraph = field(repr=False)
    objective: str
    real_weight: dict[str, Any]
    edge_weights: list[tuple[str, str, Any]]
    shares: dict[str, dict[str, Any]]
    risk: dict[str, float]
    unit_risk: dict[str, float]
    value: float
    unit_value: float
    exact: bool
    method: str
    exact_values: dict[str, Any] = field(default_factory=dict)

    @property
    def gain(self) -> float:
        """Relative reduction of the objective against unit weights, 1 - value / unit_value."""
        return 1.0 - self.value / self.unit_value

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``graphcollapse optimize-weights --json`` (docs/regimes.md §7)."""
        from .report import to_exact_string, to_float

        return {
            "objective": self.objective,
            "value": self.value,
            "unit_value": self.unit_value,
            "gain": self.gain,
            "exact": self.exact,
            "method": self.method,
            "real_weight": {k: to_float(v) for k, v in self.real_weight.items()},
            "edge_weights": [{"source": s, "target": t, "weight": to_float(w)} for s, t, w in self.edge_weights],
            "shares": {k: {s: to_float(x) for s, x in v.items()} for k, v in self.shares.items()},
            "risk": self.risk,
            "unit_risk": self.unit_risk,
            "exact_values": {k: to_exact_string(v) or str(v) for k, v in self.exact_values.items()},
        }

    def report(self) -> str:
        """A readable report."""
        lines = [f"optimal loss weights (objective: {self.objective} stationary risk, large-sample, {self.method})",
                 f"objective: {self.value:.6g} with these weights, {self.unit_value:.6g} with unit weights "
                 f"(gain {100 * self.gain:.2f}%)", "",
                 "learner".ljust(12) + "real weight".ljust(14) + "risk".ljust(14) + "unit-weight risk"]
        for k in self.risk:
            w = self.real_weight.get(k)
            lines.append(k.ljust(12) + (f"{float(w):.6g}" if w is not None else "-").ljust(14)
                         + f"{self.risk[k]:.6g}".ljust(14) + f"{self.unit_risk[k]:.6g}")
        if self.edge_weights:
            lines += ["", "edge weights (relative to the target's real weight, or its first in-edge):"]
            lines += [f"  {s} -> {t}: {float(w):.6g}" for s, t, w in self.edge_weights]
        for name, v in self.exact_values.items():
            lines.append(f"exact {name}: {v}")
        return "\n".join(lines)


def best_response_shares(graph: InteractionGraph, learner: str) -> dict[str, sp.Expr]:
    r"""The exact shares minimising one learner's stationary risk, the others' weights
    fixed, for a learner that is not on a cycle (its component is itself, no self-loop):
    :math:`s \propto M^{-1}\mathbf 1`, :math:`M = C_{PP} + \operatorname{diag}(v_i/n_i)`.

    Examples
    --------
    Two independent producers with equal risk and counts get equal shares; real data
    (no parameter error) get more:

    >>> from graphcollapse.theory import InteractionGraph
    >>> from graphcollapse.theory.weights import best_response_shares
    >>> G = InteractionGraph(["A", "B", "C"], real_samples=[10, 10, 10], initial_samples=[30] * 3,
    ...                      edges=[("A", "C", 10), ("B", "C", 10)], dimension=1, noise_variance=1)
    >>> best_response_shares(G, "C")
    {'real': 1/2, 'A': 1/4, 'B': 1/4}
    """
    from .errors import NoClosedFormError
    from .recursion import stationary_covariance
    from .regimes import _proxy_graph, effective_noise_variance
    from .condition import collapse_condition

    _check_regime(graph)
    k = graph.index[learner] if learner in graph.index else None
    if k is None:
        raise GraphValueError(f"learner: unknown learner {learner!r}")
    S = graph.structure
    c = S.component_of(k)
    if S.component_sizes[c] != 1 or S.has_self_loop[c]:
        raise NoClosedFormError(f"best response of {learner}: it lies on a cycle, so its weights change its parents' "
                                "risks; use optimize_weights")
    proxy = _proxy_graph(graph)
    B, C = stationary_covariance(proxy, collapse_condition(proxy), effective_noise_variance(graph))
    pos = {b: i for i, b in enumerate(B)}
    src = _sources(graph)[k]
    n = len(src)
    M = sp.zeros(n, n)
    labels = []
    for a, (kind, e, cnt, v) in enumerate(src):
        M[a, a] += v / cnt
        labels.append("real" if kind == "real" else graph.names[graph.edge_sources[e]])
        for b, (kind2, e2, _, _) in enumerate(src):
            if kind == "edge" and kind2 == "edge":
                M[a, b] += C[pos[graph.edge_sources[e]], pos[graph.edge_sources[e2]]]
    x = M.LUsolve(sp.ones(n, 1))
    total = sum(x)
    shares = [sp.nsimplify(xi / total) for xi in x]
    if any(not (s > 0) for s in shares):
        raise NoClosedFormError(f"best response of {learner}: the unconstrained optimum gives a source a share <= 0; "
                                "weights must be positive (use optimize_weights)")
    return dict(zip(labels, shares))


def optimize_weights(graph: InteractionGraph, objective: Literal["max", "mean"] = "max", *,
                     maxiter: int = 2000) -> WeightOptimum:
    r"""Loss weights minimising the largest (``"max"``) or mean stationary risk of a graph
    under ``replace`` (large-sample OLS), with the gain against unit weights.

    One learner with a self-loop and real data: the closed form of
    :func:`optimal_real_share` (exact). Otherwise every learner's shares over its sources
    are optimised jointly with ``scipy.optimize`` (L-BFGS-B on the mean; SLSQP on the
    epigraph of the maximum), started from unit weights; the result is never worse than
    unit weights.

    Raises
    ------
    GraphValueError
        If some learner collapses whatever the weights, or the regime is not
        replace with fresh real data.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.weights import optimize_weights
    >>> opt = optimize_weights(self_training(real_samples=10, samples=10, dimension=1))
    >>> opt.exact, opt.shares["L0"]["real"], round(opt.gain, 4)
    (True, -1/2 + sqrt(5)/2, 0.0729)
    """
    from scipy.optimize import minimize

    if objective not in ("max", "mean"):
        raise GraphValueError(f"objective: expected max or mean, found {objective!r}")
    _check_regime(graph)
    sources = _sources(graph)
    K = graph.num_learners
    names = graph.names
    unit_shares = [np.array([float(c) for _, _, c, _ in src]) / sum(float(c) for _, _, c, _ in src)
                   for src in sources]
    unit_risk = stationary_risks_for_shares(graph, unit_shares, sources)

    def agg(r: np.ndarray) -> float:
        return float(r.max() if objective == "max" else r.mean())

    def label(k: int, src: tuple[str, int, Any, Any]) -> str:
        return "real" if src[0] == "real" else names[graph.edge_sources[src[1]]]

    if K == 1 and len(sources[0]) == 2 and sources[0][0][0] == "real":
        (_, _, m, v), (_, _, n, vs) = sources[0]
        a = optimal_real_share(m, n, real_risk=v, synthetic_risk=vs)
        exact_shares = [[a, 1 - a]]
        real_w, edge_w = _weights_from_shares(graph, sources, exact_shares)
        risk_exact = sp.simplify(self_training_risk(a, m, n, real_risk=v, synthetic_risk=vs))
        risk = {names[0]: float(risk_exact)}
        opt_graph = graph.replace(real_weight=[real_w[0]], edge_weights=edge_w) if all(
            x.is_rational for x in map(_as_sympy, edge_w)) else graph
        return WeightOptimum(opt_graph, objective, {names[0]: real_w[0]},
                             [(names[graph.edge_sources[0]], names[0], edge_w[0])],
                             {names[0]: {"real": a, names[0]: 1 - a}}, risk,
                             {names[0]: float(unit_risk[0])}, float(risk_exact), float(unit_risk[0]), True,
                             "closed form (docs/regimes.md §7.1)",
                             {"real share": a, "stationary risk": risk_exact})

    free = [(k, len(src) - 1) for k, src in enumerate(sources) if len(src) > 1]
    start = np.concatenate([np.log(unit_shares[k][1:] / unit_shares[k][0]) for k, _ in free]) if free else np.zeros(0)

    def shares_of(x: np.ndarray) -> list[np.ndarray]:
        out = list(unit_shares)
        i = 0
        for k, n in free:
            z = np.concatenate([[0.0], np.clip(x[i:i + n], -30, 30)])
            e = np.exp(z - z.max())
            out[k] = e / e.sum()
            i += n
        return out

    def risks(x: np.ndarray) -> np.ndarray:
        return stationary_risks_for_shares(graph, shares_of(x), sources)

    if not free:
        best_x, method = start, "no free weights (every learner has one source)"
    elif objective == "mean":
        res = minimize(lambda x: agg(risks(x)), start, method="L-BFGS-B", options={"maxiter": maxiter})
        best_x, method = res.x, f"L-BFGS-B ({res.nit} iterations)"
    else:
        tau0 = agg(unit_risk)
        cons = {"type": "ineq", "fun": lambda y: y[-1] - risks(y[:-1])}
        res = minimize(lambda y: y[-1], np.concatenate([start, [tau0]]), method="SLSQP", constraints=[cons],
                       options={"maxiter": maxiter, "ftol": 1e-12})
        best_x, method = res.x[:-1], f"SLSQP on the epigraph ({res.nit} iterations)"
    best = shares_of(best_x)
    r = stationary_risks_for_shares(graph, best, sources)
    if agg(r) > agg(unit_risk):  # never report something worse than the baseline
        best, r, method = unit_shares, unit_risk, method + "; unit weights kept"
    real_w, edge_w = _weights_from_shares(graph, sources, [list(map(float, s)) for s in best])
    opt_graph = graph.replace(real_weight=real_w, edge_weights=edge_w)
    return WeightOptimum(
        opt_graph, objective,
        {names[k]: real_w[k] for k in range(K) if graph.real_samples[k] != 0},
        [(names[s], names[t], w) for s, t, w in zip(graph.edge_sources, graph.edge_targets, edge_w)],
        {names[k]: {label(k, s): float(x) for s, x in zip(sources[k], best[k])} for k in range(K)},
        {names[k]: float(r[k]) for k in range(K)}, {names[k]: float(unit_risk[k]) for k in range(K)},
        agg(r), agg(unit_risk), False, method)
