r"""Data regimes and loss weights: recursions, verdicts and predictions (docs/regimes.md).

Statement
---------
Learner :math:`k` weights its real samples by :math:`w_k` and the samples of edge
:math:`j \to k` by :math:`u_{jk}`; the effective mixing weights are
:math:`\omega_k = w_k m_k`, :math:`\omega_{jk} = u_{jk} n_{jk}`,
:math:`\Omega_k = \omega_k + \sum_j \omega_{jk}`, :math:`\tilde W_{kj} = \omega_{jk}/\Omega_k`.
With per-sample risks :math:`v` (real) and :math:`v_j` (synthetic from :math:`j`;
:math:`d\sigma^2` and :math:`d\sigma_j^2` for OLS, :math:`\operatorname{tr}(GA)` of the
sandwich for M-estimators), the large-sample error of learner :math:`k` is the
:math:`\omega`-weighted average of its training samples' contributions, and (§3 of
docs/regimes.md) the *pool estimate* :math:`\bar e_k^{(t)}` obeys

.. math:: \bar e^{(t)} = (C_t + \Lambda_t \tilde W)\,\bar e^{(t-1)}
          + \Lambda_t \tilde W \zeta^{(t-1)} + F_t\,\xi + \Lambda_t \nu^{(t)},
          \qquad e^{(t)} = \bar e^{(t)} + \zeta^{(t)},

with :math:`\Lambda_t = \operatorname{diag}(\Omega_k/\Omega_k^{(t)})` (the pool weight
:math:`\Omega_k^{(t)}`: :math:`\Omega_k` under ``replace``, :math:`w_k n^0_k + t\Omega_k` under
accumulation), :math:`C_t = \operatorname{diag}(\Omega_k^{(t-1)}/\Omega_k^{(t)})` (zero under
``replace``), :math:`\xi` the fixed real datasets, :math:`\nu` the fresh noise and
:math:`\zeta` the subsampling noise. Its second moments close on the state
:math:`(\bar e, \xi)`; :func:`regime_risk_trajectory` iterates them exactly.

Verdict (docs/regimes.md §4, proved there): learner :math:`k` collapses iff it is reachable
from a source component that has no real data and in which every learner replaces. Loss
weights, fixed real data and fixed designs never change a verdict; accumulating (with or
without subsampling) learners never collapse, and one accumulating learner in a source
component keeps the whole component bounded.

Exact finite-sample OLS (docs/regimes.md §6): with ``design: fixed`` and every learner
having a single source of data per generation (real data only, or no real data and one
in-edge), the recursion is exact with :math:`D_k = v\,/(N_k - d - 1)` per unit
:math:`\sigma^2 d`; this is Gerstgrasser et al. (2024)'s setting, whose formula
:math:`\sigma^2 d/(T-d-1)\sum_{i=1}^{t+1} 1/i^2` it reproduces. With fresh designs the
exact theory closes for learners that accumulate their own outputs only (a martingale,
:func:`fresh_accumulate_risk`) alongside replacing learners; where nothing closes,
:func:`~graphcollapse.theory.regime_finite.regime_risk_bound` gives proven finite-sample
upper bounds (docs/regimes.md §6.1-§6.3, module :mod:`graphcollapse.theory.regime_finite`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Sequence

import numpy as np
import sympy as sp

from .errors import GraphTypeError, GraphValueError, NoClosedFormError
from .graph import InteractionGraph, _as_sympy, _is_symbolic
from .regime_finite import RegimeRiskBound, fresh_accumulate_limit, fresh_exact_class, regime_risk_bound

__all__ = [
    "RegimePrediction",
    "RegimeVerdict",
    "regime_prediction",
    "regime_risk_trajectory",
    "regime_verdicts",
    "regime_analysis",
    "regime_predict",
    "regime_sentence",
    "regime_m_analysis",
    "regime_m_prediction",
    "regime_json",
    "effective_mixing_matrix",
    "effective_noise_variance",
    "exact_theory_applies",
    "gerstgrasser_risk",
    "fresh_accumulate_risk",
    "fresh_accumulate_limit",
    "regime_risk_bound",
    "RegimeRiskBound",
    "EXACT_MAX_CELLS",
]

#: Trajectories are computed in exact rational arithmetic up to this many
#: learner-generations (K * (T + 1)); beyond, in float64 with sparse matrices.
EXACT_MAX_CELLS = 4000

# --------------------------------------------------------------------------- values
def _frac(value: Any, field: str) -> Fraction:
    if _is_symbolic(value):
        raise GraphTypeError(f"{field}: the regime theory's trajectories need numbers, found the symbol "
                             f"expression {value}; substitute the symbols first")
    v = _as_sympy(value)
    if isinstance(v, int) or getattr(v, "is_Integer", False):
        return Fraction(int(v))
    if getattr(v, "is_Rational", False):
        return Fraction(int(v.p), int(v.q))
    return Fraction(float(v))


def _weights(graph: InteractionGraph) -> tuple[list[Any], list[list[tuple[int, Any]]], list[Any]]:
    """Exact omega_k (real), omega_jk per in-edge as (j, omega) lists, Omega_k (sympy)."""
    K = graph.num_learners
    real = [_as_sympy(graph.real_weight[k]) * _as_sympy(graph.real_samples[k]) for k in range(K)]
    ins: list[list[tuple[int, Any]]] = [[] for _ in range(K)]
    for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights):
        ins[t].append((s, _as_sympy(u) * _as_sympy(n)))
    total = [real[k] + sum((w for _, w in ins[k]), sp.Integer(0)) for k in range(K)]
    return real, ins, total


def effective_mixing_matrix(graph: InteractionGraph) -> sp.Matrix:
    r"""The weighted mixing matrix :math:`\tilde W_{kj} = u_{jk} n_{jk} / \Omega_k` (exact;
    symbols allowed). With unit weights it is the mixing matrix :math:`W`.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import effective_mixing_matrix
    >>> effective_mixing_matrix(self_training(real_samples=10, samples=10, real_weight=3))
    Matrix([[1/4]])
    """
    real, ins, total = _weights(graph)
    K = graph.num_learners
    W = sp.zeros(K, K)
    for k in range(K):
        for j, w in ins[k]:
            W[k, j] = sp.cancel(w / total[k])
    return W


def _per_sample_risks(graph: InteractionGraph, estimator: str, theta: Any = None) -> tuple[Any, list[Any]]:
    """(v, [v_j]): the per-sample risk of a real sample and of a synthetic sample of each
    producer j (exact sympy values)."""
    if isinstance(estimator, str) and estimator == "ols":
        d = _as_sympy(graph.dimension)
        return d * _as_sympy(graph.noise_variance), [d * _as_sympy(s) for s in graph.synthetic_noise_variance]
    from .mestimators import _producer_ratio, get_family, parse_theta, sandwich

    fam = get_family(estimator) if isinstance(estimator, str) else estimator
    if any(x == "fixed" for x in graph.design):
        raise GraphValueError(f"design: fixed is an OLS design (the same covariates every generation); "
                              f"the {fam.name} theory needs design: fresh")
    th = parse_theta(theta, fam, graph)
    sw = sandwich(graph, fam, th)
    ratio = _producer_ratio(graph, fam)
    a = sw.a if sw.exact else sp.Rational(repr(float(sw.a)))
    return a, [a * _as_sympy(r) for r in ratio]


def effective_noise_variance(graph: InteractionGraph, estimator: str = "ols") -> tuple[sp.Expr, ...]:
    r"""The one-generation noise variance of the weighted fit (the weighted sandwich),
    :math:`\tilde D_k = (w_k^2 m_k v + \sum_j u_{jk}^2 n_{jk} v_j) / \Omega_k^2` (exact).

    With unit weights it is the large-sample :math:`D_k` of docs/theory.md.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import effective_noise_variance
    >>> G = self_training(real_samples=10, samples=10, dimension=1)
    >>> effective_noise_variance(G), effective_noise_variance(G.replace(real_weight=3))
    ((1/20,), (1/16,))
    """
    v, vj = _per_sample_risks(graph, estimator)
    real, ins, total = _weights(graph)
    K = graph.num_learners
    num = [_as_sympy(graph.real_weight[k]) ** 2 * _as_sympy(graph.real_samples[k]) * v for k in range(K)]
    for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights):
        num[t] = num[t] + _as_sympy(u) ** 2 * _as_sympy(n) * vj[s]
    return tuple(sp.cancel(num[k] / total[k] ** 2) for k in range(K))


# --------------------------------------------------------------------------- exactness
def fixed_design_exact(graph: InteractionGraph) -> tuple[bool, str]:
    """Theorem 3's conditions besides fixed designs (``docs/regimes.md`` §6): fresh real data
    and a single source of data per learner. A symbolic real-sample count leaves the number
    of sources undecided (False, saying so).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> fixed_design_exact(self_training(samples=12, initial_samples=12, design="fixed"))
    (True, 'fixed design, one source of data per learner (docs/regimes.md §6, Theorem 3)')
    """
    if any(x != "fresh" for x in graph.real_data):
        return False, "a fixed real dataset with a fixed design is derived in the large-sample theory only"
    indegree = [0] * graph.num_learners
    for t in graph.edge_targets:
        indegree[t] += 1
    for k in range(graph.num_learners):
        m = _as_sympy(graph.real_samples[k])
        if not m.is_number:
            return False, (f"the real-sample count of {graph.names[k]} is a symbol, so whether it has a single "
                           "source of data is undecided (docs/regimes.md §6)")
        if not ((m == 0 and indegree[k] == 1) or (m != 0 and indegree[k] == 0)):
            return False, (f"learner {graph.names[k]} has several sources of data: with a fixed design the "
                           "exact recursion involves powers of one random matrix and does not close "
                           "(docs/regimes.md §6)")
    return True, "fixed design, one source of data per learner (docs/regimes.md §6, Theorem 3)"


def exact_theory_applies(graph: InteractionGraph, estimator: str = "ols") -> tuple[bool, str]:
    """Whether the exact finite-sample OLS theory of the regime closes, and why (or why not).

    It closes for the default regime (docs/exact.md); with ``design: fixed`` for every
    learner, when every learner has a single source of data per generation, fresh real
    data and a replace or accumulate policy (docs/regimes.md §6, Theorem 3); and with
    fresh designs, when some learners accumulate their own outputs only and every other
    learner replaces (§6, Theorem 4:
    :func:`~graphcollapse.theory.regime_finite.fresh_exact_class`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import exact_theory_applies
    >>> G = self_training(samples=20, initial_samples=20, design="fixed", data_policy="accumulate")
    >>> exact_theory_applies(G)[0], exact_theory_applies(G.replace(design="fresh"))[0]
    (True, True)
    >>> exact_theory_applies(G.replace(design="fresh", real_samples=[5]))
    (False, 'accumulate with a fresh design: the pooled Gram matrix mixes Wishart matrices of several generations, no closed recursion (docs/regimes.md §6)')
    """
    if not (isinstance(estimator, str) and estimator == "ols"):
        return False, "M-estimators have an asymptotic theory only"
    if graph.has_default_regime:
        return True, "the default regime (docs/exact.md)"
    if graph.is_symbolic:
        return False, "symbolic parameters"
    if any(x != "fixed" for x in graph.design):
        fresh_ok, fresh_why = fresh_exact_class(graph)
        if fresh_ok or (all(x == "fresh" for x in graph.design) and "no own-output" not in fresh_why):
            return fresh_ok, fresh_why
        if any(p != "replace" for p in graph.data_policy):
            return False, ("accumulate with a fresh design: the pooled Gram matrix mixes Wishart matrices of "
                           "several generations, no closed recursion (docs/regimes.md §6)")
        return False, ("weights or a fixed real dataset with a fresh design: weighted Gram matrices are not "
                       "Wishart, no closed recursion (docs/regimes.md §6)")
    return fixed_design_exact(graph)


# --------------------------------------------------------------------------- engine
@dataclass
class _LearnerPlan:
    policy: str
    fixed_real: bool
    w: Fraction
    m: Fraction
    n0: Fraction
    N: Fraction
    omega_real: Fraction
    omega_syn: Fraction
    ins: list[tuple[int, Fraction]]
    real_sq: Fraction  # w^2 m v
    syn_sq: Fraction  # sum_j u^2 n v_j
    v: Fraction
    v0: Fraction  # variance of the generation-0 estimate


def _plans(graph: InteractionGraph, v: Fraction, vj: list[Fraction], exact_fixed: bool) -> list[_LearnerPlan]:
    K = graph.num_learners
    ins: list[list[tuple[int, Fraction, Fraction]]] = [[] for _ in range(K)]
    for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights):
        ins[t].append((s, _frac(n, "samples"), _frac(u, "weight")))
    d = _frac(graph.dimension, "dimension") if exact_fixed else None
    plans = []
    for k in range(K):
        w = _frac(graph.real_weight[k], "real_weight")
        m = _frac(graph.real_samples[k], "real_samples")
        n0 = _frac(graph.initial_samples[k], "initial_samples")
        N = _frac(graph.total_samples[k], "total_samples")
        syn = sum((u * n for _, n, u in ins[k]), Fraction(0))
        syn_sq = sum((u * u * n * vj[j] for j, n, u in ins[k]), Fraction(0))
        v0 = v / n0
        if exact_fixed:
            # one source of N rows: E||(X^T X)^{-1} X^T eps||^2 = s^2 d / (N - d - 1); the per-sample
            # risks are d s^2, so the exact values are the large-sample ones times N / (N - d - 1)
            factor = N / (N - d - 1)
            syn_sq *= factor
            v0 = v / (n0 - d - 1)
            real_sq = w * w * m * v * factor
        else:
            real_sq = w * w * m * v
        plans.append(_LearnerPlan(graph.data_policy[k], graph.real_data[k] == "fixed", w, m, n0, N, w * m, syn,
                                  [(j, u * n) for j, n, u in ins[k]], real_sq, syn_sq, v, v0))
    return plans


def _trajectory(graph: InteractionGraph, T: int, v: Fraction, vj: list[Fraction], *, exact: bool,
                exact_fixed: bool = False) -> list[list[Any]]:
    """Risks R_k^(t), t = 0..T, of the regime recursion (docs/regimes.md §3)."""
    K = graph.num_learners
    plans = _plans(graph, v, vj, exact_fixed)
    fixed_any = any(p.fixed_real and p.m != 0 for p in plans)
    num = (lambda x: x) if exact else float
    S = 2 * K if fixed_any else K
    dtype = object if exact else float
    if exact:
        Q = np.full((S, S), Fraction(0), dtype=object)
    else:
        Q = np.zeros((S, S))
    for k, p in enumerate(plans):
        Q[k, k] = num(p.v0)
        if fixed_any and p.fixed_real and p.m != 0:
            Q[K + k, K + k] = num(p.v / p.m)  # the fixed dataset's mean error
    pool_w = [p.w * p.n0 for p in plans]  # Omega^(0)
    pool_n = [p.n0 for p in plans]  # P^(0)
    pool_sq = [p.w * p.w * p.n0 * p.v for p in plans]  # sum over the pool of omega_i^2 v_i
    Z = [Fraction(0)] * K
    risks = [[num(p.v0) for p in plans]]
    for t in range(1, T + 1):
        c = []
        a_vals = []
        f = []
        q = []
        newZ = []
        for k, p in enumerate(plans):
            real_now = p.m != 0 and (not p.fixed_real or p.policy == "replace" or t == 1)
            batch_w = p.omega_syn + (p.omega_real if real_now else 0)
            batch_n = (p.N - p.m) + (p.m if real_now else 0)
            batch_sq = p.syn_sq + (p.real_sq if real_now else 0)
            if p.policy == "replace":
                prev, total = Fraction(0), p.omega_syn + p.omega_real
                fresh_sq = p.syn_sq + (0 if p.fixed_real else p.real_sq)
            else:
                prev, total = pool_w[k], pool_w[k] + batch_w
                pool_w[k] = total
                pool_n[k] += batch_n
                pool_sq[k] += batch_sq
                fresh_sq = p.syn_sq + (0 if p.fixed_real else p.real_sq)
            c.append(prev / total)
            a_vals.append([(j, om / total) for j, om in p.ins])
            f.append(p.omega_real / total if (p.fixed_real and real_now) else Fraction(0))
            q.append(fresh_sq / (total * total))
            if p.policy == "accumulate-subsample":
                newZ.append((pool_n[k] / p.N - 1) * pool_sq[k] / (total * total))
            else:
                newZ.append(Fraction(0))
        if exact:
            M = np.full((S, S), Fraction(0), dtype=object)
            A = np.full((K, K), Fraction(0), dtype=object)
        else:
            M = np.zeros((S, S))
            A = np.zeros((K, K))
        for k in range(K):
            M[k, k] = num(c[k])
            for j, a in a_vals[k]:
                A[k, j] = num(a)
                M[k, j] = M[k, j] + num(a)
            if fixed_any:
                M[k, K + k] = num(f[k])
                M[K + k, K + k] = num(Fraction(1))
        Qn = M.dot(Q).dot(M.T)
        noise = (A * np.array([num(z) for z in Z], dtype=dtype)).dot(A.T)
        for k in range(K):
            noise[k, k] = noise[k, k] + num(q[k])
        Qn[:K, :K] = Qn[:K, :K] + noise
        Q = Qn
        Z = newZ
        risks.append([Q[k, k] + num(Z[k]) for k in range(K)])
    return risks


def _trajectory_float_sparse(graph: InteractionGraph, T: int, v: float, vj: list[float]) -> np.ndarray:
    """The same recursion in float64 (sparse matrices on large graphs, dense on small)."""
    from scipy.sparse import csr_matrix, diags, hstack, vstack, identity

    K = graph.num_learners
    plans = _plans(graph, Fraction(v), [Fraction(x) for x in vj], False)
    fixed_any = any(p.fixed_real and p.m != 0 for p in plans)
    S = 2 * K if fixed_any else K
    Q = np.zeros((S, S))
    for k, p in enumerate(plans):
        Q[k, k] = float(p.v0)
        if fixed_any and p.fixed_real and p.m != 0:
            Q[K + k, K + k] = float(p.v / p.m)
    pol = np.array([p.policy for p in plans])
    w = np.array([float(p.w) for p in plans])
    m = np.array([float(p.m) for p in plans])
    n0 = np.array([float(p.n0) for p in plans])
    N = np.array([float(p.N) for p in plans])
    om_real = w * m
    om_syn = np.array([float(p.omega_syn) for p in plans])
    real_sq = np.array([float(p.real_sq) for p in plans])
    syn_sq = np.array([float(p.syn_sq) for p in plans])
    fixed = np.array([p.fixed_real and p.m != 0 for p in plans])
    replace = pol == "replace"
    subsample = pol == "accumulate-subsample"
    src = np.array(graph.edge_sources, dtype=np.int64)
    tgt = np.array(graph.edge_targets, dtype=np.int64)
    edge_om = np.array([float(u) * float(n) for u, n in zip(graph.edge_weights, graph.edge_samples)])
    pool_w, pool_n, pool_sq = w * n0, n0.copy(), w * w * n0 * float(v)
    dense = K <= 64  # small graphs: dense numpy is faster than building sparse matrices
    Z = np.zeros(K)
    out = np.empty((T + 1, K))
    out[0] = np.diag(Q)[:K]
    for t in range(1, T + 1):
        real_now = (m > 0) & (~fixed | replace | (t == 1))
        batch_w = om_syn + np.where(real_now, om_real, 0.0)
        batch_n = (N - m) + np.where(real_now, m, 0.0)
        batch_sq = syn_sq + np.where(real_now, real_sq, 0.0)
        total = np.where(replace, om_syn + om_real, pool_w + batch_w)
        prev = np.where(replace, 0.0, pool_w)
        pool_w = np.where(replace, pool_w, total)
        pool_n = np.where(replace, pool_n, pool_n + batch_n)
        pool_sq = np.where(replace, pool_sq, pool_sq + batch_sq)
        fresh_sq = syn_sq + np.where(fixed, 0.0, real_sq)
        if dense:
            A = np.zeros((K, K))
            A[tgt, src] = edge_om / total[tgt]
            M = np.zeros((S, S))
            M[:K, :K] = A
            M[np.arange(K), np.arange(K)] += prev / total
            if fixed_any:
                M[np.arange(K), K + np.arange(K)] = np.where(fixed & real_now, om_real / total, 0.0)
                M[K + np.arange(K), K + np.arange(K)] = 1.0
            Qn = M @ Q @ M.T
            noise = (A * Z[None, :]) @ A.T if Z.any() else 0.0
        else:
            A = csr_matrix((edge_om / total[tgt], (tgt, src)), shape=(K, K))
            top = diags(prev / total) + A
            if fixed_any:
                F = diags(np.where(fixed & real_now, om_real / total, 0.0))
                M = vstack([hstack([top, F]), hstack([csr_matrix((K, K)), identity(K)])]).tocsr()
            else:
                M = top.tocsr()
            Qn = M @ (M @ Q).T
            noise = (A @ (A.multiply(Z[None, :]).T)).toarray() if Z.any() else 0.0
        Qn[:K, :K] += noise
        Qn[np.arange(K), np.arange(K)] += fresh_sq / total**2
        Q = Qn
        Z = np.where(subsample, (pool_n / N - 1) * pool_sq / total**2, 0.0)
        out[t] = np.diag(Q)[:K] + Z
    return out


def regime_risk_trajectory(graph: InteractionGraph, generations: int, *, estimator: Any = "ols",
                           theory: Literal["exact", "large-sample"] = "large-sample",
                           exact: bool = True, theta: Any = None) -> list[list[Any]]:
    r"""Risks :math:`R_k^{(t)}`, :math:`t = 0..T`, of the regime recursion (docs/regimes.md §3).

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
    estimator : str
        ``"ols"`` or an M-estimator family name (risks then are the large-sample ones,
        :math:`\lim_n nR` expressed at the graph's counts).
    theory : {"large-sample", "exact"}
        ``"exact"`` needs :func:`exact_theory_applies` (and is then the finite-sample risk).
    exact : bool
        Rational arithmetic (``fractions.Fraction``) rather than float64.
    theta : optional
        The true parameter of an M-estimator (as for
        :func:`graphcollapse.theory.mestimators.asymptotic_analysis`).

    Returns
    -------
    list of lists
        ``risk[t][k]``.

    Examples
    --------
    Gerstgrasser et al. (2024): a fixed design, accumulating, risk
    :math:`\sigma^2 d/(T-d-1) \sum_{i \le t+1} 1/i^2`:

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_risk_trajectory
    >>> G = self_training(samples=12, initial_samples=12, dimension=2, design="fixed", data_policy="accumulate")
    >>> [str(r[0]) for r in regime_risk_trajectory(G, 2, theory="exact")]
    ['2/9', '5/18', '49/162']
    """
    T = _check_generations(generations)
    if theory == "exact":
        ok, why = exact_theory_applies(graph, estimator)
        if not ok:
            raise NoClosedFormError(f"exact theory: {why}; use the large-sample theory")
        from .exact import check_exact_regime

        check_exact_regime(graph)  # integer counts, N_k and n0_k > d + 1: finite exact risks
        if graph.has_default_regime:
            from .exact import exact_risk_trajectory

            return [list(r) for r in exact_risk_trajectory(graph, T)]
        if fresh_exact_class(graph)[0]:
            from .regime_finite import fresh_exact_trajectory

            return fresh_exact_trajectory(graph, T, exact=exact)
    if graph.is_symbolic:
        names = ", ".join(sorted(map(str, graph.free_symbols)))
        raise GraphTypeError(f"regime trajectory: needs numeric parameters, but the graph has symbols ({names}); "
                             "substitute them first")
    v, vj = _per_sample_risks(graph, estimator, theta)
    vf, vjf = _frac(v, "per-sample risk"), [_frac(x, "per-sample risk") for x in vj]
    if exact:
        return _trajectory(graph, T, vf, vjf, exact=True, exact_fixed=(theory == "exact"))
    if theory == "exact":
        return [list(r) for r in _trajectory(graph, T, vf, vjf, exact=False, exact_fixed=True)]
    return _trajectory_float_sparse(graph, T, float(vf), [float(x) for x in vjf]).tolist()


def _check_generations(T: Any) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise GraphValueError(f"generations: expected an integer >= 0, found {T!r}")
    return int(T)


# --------------------------------------------------------------------------- prediction
@dataclass(frozen=True)
class RegimePrediction:
    """Predicted risks under a graph's data regime.

    Attributes
    ----------
    graph : InteractionGraph
    generations : int
    estimator : str
    theory : {"exact", "large-sample"}
        ``"exact"``: the finite-sample OLS risk; ``"large-sample"``: the large-sample
        recursion (for M-estimators the asymptotic risk at the graph's counts).
    risk : numpy.ndarray
        ``risk[t][k]`` as float64, shape ``(T + 1, K)``.
    exact_risk : tuple of tuples or None
        The same as exact rationals (sympy) when computed exactly.
    reason : str
        Why this theory was used.
    """

    graph: InteractionGraph = field(repr=False)
    generations: int
    estimator: str
    theory: str
    risk: np.ndarray = field(repr=False)
    exact_risk: tuple[tuple[Any, ...], ...] | None = field(repr=False)
    reason: str

    @property
    def is_exact(self) -> bool:
        """Whether the risks are the exact finite-sample ones."""
        return self.theory == "exact"

    def learner(self, name: str) -> np.ndarray:
        """The risk trajectory of the named learner (float64)."""
        return self.risk[:, self.graph.index[name]]


def regime_prediction(graph: InteractionGraph, generations: int, *, estimator: str = "ols",
                      theory: Literal["default", "exact", "large-sample"] = "default",
                      exact: bool | None = None) -> RegimePrediction:
    r"""Risk trajectories under the graph's data regime: exact where the finite-sample
    theory closes (OLS), else the large-sample recursion, with a flag saying which.

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
        T; risks for t = 0..T.
    estimator : str
        ``"ols"`` (default) or an M-estimator family (``"logistic"``, ``"poisson"``,
        ``"huber"``, ``"location-scale"``).
    theory : {"default", "exact", "large-sample"}
        ``"default"``: exact where :func:`exact_theory_applies`, else large-sample.
    exact : bool, optional
        Rational arithmetic; default when K (T + 1) <= :data:`EXACT_MAX_CELLS`.

    Returns
    -------
    RegimePrediction

    Raises
    ------
    NoClosedFormError
        ``theory="exact"`` where the exact theory does not close.

    Examples
    --------
    Kazdan et al. (2024): replace > accumulate-subsample > accumulate for a learner
    trained on its own outputs:

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_prediction
    >>> G = self_training(samples=10, initial_samples=10, dimension=1)
    >>> [round(float(regime_prediction(G.replace(data_policy=p), 20, theory="large-sample").risk[20][0]), 4)
    ...  for p in ("replace", "accumulate-subsample", "accumulate")]
    [2.1, 0.2795, 0.1598]
    """
    T = _check_generations(generations)
    if theory not in ("default", "exact", "large-sample"):
        raise GraphValueError(f"theory: expected default, exact or large-sample, found {theory!r}")
    ok, why = exact_theory_applies(graph, estimator)
    if theory == "exact" and not ok:
        raise NoClosedFormError(f"exact theory: {why}; use the large-sample theory")
    used = "exact" if (ok and theory != "large-sample") else "large-sample"
    if used == "large-sample" and theory == "default" and estimator == "ols":
        reason = f"large-sample: the exact theory does not close ({why})"
    elif used == "large-sample":
        reason = "large-sample" + (f" ({why})" if estimator != "ols" else "")
    else:
        reason = f"exact: {why}"
    if exact is None:
        exact = graph.num_learners * (T + 1) <= EXACT_MAX_CELLS
    traj = regime_risk_trajectory(graph, T, estimator=estimator, theory=used, exact=exact)
    exact_risk = None
    if exact:
        exact_risk = tuple(tuple(sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction)
                                 else sp.nsimplify(x) if not isinstance(x, sp.Basic) else x for x in row)
                           for row in traj)
    risk = np.array([[float(x) for x in row] for row in traj], dtype=float)
    return RegimePrediction(graph, T, estimator, used, risk, exact_risk, reason)


def gerstgrasser_risk(t: int, *, samples: Any, dimension: Any, noise_variance: Any = 1) -> sp.Expr:
    r"""Gerstgrasser et al. (2024, arXiv 2404.01413) Theorem 2 in our indexing: the test
    risk at generation t of linear regression with a fixed design of T = ``samples`` rows,
    accumulating, :math:`\sigma^2 d/(T-d-1)\sum_{i=1}^{t+1} 1/i^2` (our generation 0 is their
    first model).

    Examples
    --------
    >>> from graphcollapse.theory.regimes import gerstgrasser_risk
    >>> gerstgrasser_risk(2, samples=12, dimension=2)
    49/162
    """
    T, d, s2 = _as_sympy(samples), _as_sympy(dimension), _as_sympy(noise_variance)
    return s2 * d / (T - d - 1) * sum((sp.Rational(1, i * i) for i in range(1, int(t) + 2)), sp.Integer(0))


def fresh_accumulate_risk(t: int, *, samples: Any, dimension: Any, initial_samples: Any = None,
                          noise_variance: Any = 1, synthetic_noise_variance: Any = None) -> sp.Expr:
    r"""The exact risk at generation t of a learner that accumulates its own outputs with a
    *fresh* design (docs/regimes.md §6, Theorem 4): with :math:`n_s = n^0 + sN`,

    .. math:: R^{(t)} = \frac{\sigma^2 d}{n^0 - d - 1}
              + \sigma_k^2 d \sum_{s=1}^{t} \frac{N}{n_s (n_s - d - 1)},

    which for :math:`n^0 = N` is :math:`\sigma^2 d \sum_{i=1}^{t+1} 1/(i(iN - d - 1))`,
    below Gerstgrasser et al.'s fixed-design :func:`gerstgrasser_risk`.

    Parameters
    ----------
    t : int
        The generation.
    samples : int
        :math:`N`, own samples per generation.
    dimension : int
    initial_samples : int, optional
        :math:`n^0` (default :math:`N`).
    noise_variance, synthetic_noise_variance : optional
        :math:`\sigma^2` (generation 0) and :math:`\sigma_k^2` (default :math:`\sigma^2`).

    Examples
    --------
    >>> from graphcollapse.theory.regimes import fresh_accumulate_risk, gerstgrasser_risk
    >>> fresh_accumulate_risk(2, samples=12, dimension=2)
    67/231
    >>> fresh_accumulate_risk(2, samples=12, dimension=2) < gerstgrasser_risk(2, samples=12, dimension=2)
    True
    """
    N, d = _as_sympy(samples), _as_sympy(dimension)
    n0 = N if initial_samples is None else _as_sympy(initial_samples)
    s2 = _as_sympy(noise_variance)
    ss2 = s2 if synthetic_noise_variance is None else _as_sympy(synthetic_noise_variance)
    total = sum((N / ((n0 + s * N) * (n0 + s * N - d - 1)) for s in range(1, int(t) + 1)), sp.Integer(0))
    return s2 * d / (n0 - d - 1) + ss2 * d * total


# --------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class RegimeVerdict:
    """Per-learner verdicts of the regime condition (docs/regimes.md §4).

    Attributes
    ----------
    collapses : tuple
        Per learner True/False (a sympy Boolean with symbolic real-sample counts).
    offending : tuple of tuple of int
        The offending source components: no real data, every member replaces.
    bounded_reason : tuple of str
        Per learner, a short reason (which source components feed it and why they are
        harmless or offending).
    """

    graph: InteractionGraph = field(repr=False)
    collapses: tuple[Any, ...]
    offending: tuple[tuple[int, ...], ...]
    feeding: tuple[tuple[int, ...], ...]

    @property
    def any_collapse(self) -> Any:
        """Whether some learner collapses."""
        return sp.Or(*self.collapses) if self.graph.is_symbolic else any(self.collapses)


def regime_verdicts(graph: InteractionGraph) -> RegimeVerdict:
    r"""The collapse verdicts under the graph's regime (large-sample OLS and M-estimator
    asymptotics, and the exact theory of fixed single-source designs).

    Learner :math:`k` collapses iff some source component from which it is reachable has
    no real data and only ``replace`` learners (docs/regimes.md §4, Theorem 2).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.regimes import regime_verdicts
    >>> G = cycle(3, real_samples=0)
    >>> regime_verdicts(G).collapses
    (True, True, True)
    >>> regime_verdicts(G.replace(data_policy=["accumulate", None, None])).collapses
    (False, False, False)
    """
    S = graph.structure
    offending = []
    for c in range(S.num_components):
        if not S.is_source[c]:
            continue
        members = tuple(int(i) for i in S.members(c))
        if any(graph.data_policy[i] != "replace" for i in members):
            continue
        no_real = [sp.Not(graph.has_real_data(i)) if not isinstance(graph.has_real_data(i), bool)
                   else not graph.has_real_data(i) for i in members]
        verdict = sp.And(*no_real) if graph.is_symbolic else all(no_real)
        if verdict is not False and verdict != sp.false:
            offending.append(members)
    K = graph.num_learners
    feeding: list[list[int]] = [[] for _ in range(K)]
    verdicts: list[Any] = [False] * K
    for i, members in enumerate(offending):
        for k in S.descendants(list(members)).tolist():
            feeding[k].append(i)
    for k in range(K):
        if feeding[k]:
            conds = []
            for i in feeding[k]:
                conds.append(sp.And(*[sp.Not(graph.has_real_data(j)) if not isinstance(graph.has_real_data(j), bool)
                                      else (not graph.has_real_data(j)) for j in offending[i]]))
            v = sp.Or(*conds)
            verdicts[k] = bool(v) if v in (sp.true, sp.false) else v
    return RegimeVerdict(graph, tuple(verdicts), tuple(offending), tuple(tuple(f) for f in feeding))


# --------------------------------------------------------------------------- sentences
def _policy_phrase(graph: InteractionGraph) -> str:
    def uniform(values: Sequence[Any]) -> Any:
        return values[0] if len(set(values)) == 1 else None

    parts = []
    p = uniform(graph.data_policy)
    text = {"replace": "replaces its training set every generation",
            "accumulate": "accumulates all data seen so far",
            "accumulate-subsample": "trains on N_k samples drawn without replacement from all data seen so far"}
    if p is not None:
        parts.append(f"every learner {text[p]}")
    else:
        groups = {q: [graph.names[k] for k, x in enumerate(graph.data_policy) if x == q] for q in text}
        parts.append("; ".join(f"{', '.join(v)} {'accumulate' if q == 'accumulate' else q.replace('-', ' and ')}"
                               f"{'s' if len(v) == 1 and q == 'replace' else ''}"
                               for q, v in groups.items() if v))
    fixed_real = [graph.names[k] for k, x in enumerate(graph.real_data) if x == "fixed"]
    if fixed_real:
        parts.append("fixed real datasets (drawn once) for " + ", ".join(fixed_real))
    fixed_design = [graph.names[k] for k, x in enumerate(graph.design) if x == "fixed"]
    if fixed_design:
        parts.append("fixed designs for " + ", ".join(fixed_design))
    weighted = [graph.names[k] for k, w in enumerate(graph.real_weight) if w != 1]
    if weighted:
        parts.append("real-sample loss weights " + ", ".join(f"w_{graph.names[k]} = {graph.real_weight[k]}"
                                                             for k in range(graph.num_learners)
                                                             if graph.real_weight[k] != 1))
    ew = [(s, t, u) for (s, t, _), u in zip(graph.edges, graph.edge_weights) if u != 1]
    if ew:
        parts.append("edge loss weights " + ", ".join(f"u_{{{s}->{t}}} = {u}" for s, t, u in ew))
    return "; ".join(parts)


def regime_sentence(graph: InteractionGraph) -> str:
    r"""One sentence stating the graph's data regime, for reports and LaTeX theorems.

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.regimes import regime_sentence
    >>> regime_sentence(chain(2))
    'Data regime: every learner replaces its training set every generation with fresh real data and unit loss weights.'
    >>> regime_sentence(chain(2, data_policy="accumulate", real_weight=[2, 1]))
    'Data regime: every learner accumulates all data seen so far; real-sample loss weights w_L0 = 2.'
    """
    if graph.has_default_regime:
        return ("Data regime: every learner replaces its training set every generation with fresh real data "
                "and unit loss weights.")
    return f"Data regime: {_policy_phrase(graph)}."


# --------------------------------------------------------------------------- analysis
#: Generation at which the analysis reports the risks of accumulating regimes, whose
#: limits have no closed form (docs/regimes.md §5).
HORIZON = 1000
#: Horizon for growth-rate estimates at scale (a multiple of the periods 1-6, 8, 10, 12, 15, 16).
HORIZON_PERIODIC = 960


def _proxy_graph(graph: InteractionGraph) -> InteractionGraph:
    """A default-regime graph whose mixing matrix is the weighted one (real samples
    omega_k, edge samples omega_jk): the replace-regime theory of docs/theory.md read with
    W~ and D~ (docs/regimes.md §3)."""
    real, ins, _ = _weights(graph)
    edges = [(graph.names[s], graph.names[t], _as_sympy(u) * _as_sympy(n))
             for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights)]
    proxy = InteractionGraph(graph.names, real_samples=real, initial_samples=graph.initial_samples, edges=edges,
                             dimension=graph.dimension, noise_variance=graph.noise_variance,
                             synthetic_noise_variance=graph._synthetic_noise_variance)
    proxy.__dict__["structure"] = graph.structure
    return proxy


def _replace_stationary_float(graph: InteractionGraph, estimator: Any, exact_fixed: bool, theta: Any,
                              verdict: RegimeVerdict) -> tuple[dict[int, float], float]:
    """Stationary risks of the bounded learners in float64 (large graphs, all replace):
    the Lyapunov equation of §3.2 on the bounded set, with the fixed-data terms."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import spsolve

    from .lyapunov import solve_lyapunov_float

    K = graph.num_learners
    v, vj = _per_sample_risks(graph, estimator, theta)
    plans = _plans(graph, _frac(v, "per-sample risk"), [_frac(x, "per-sample risk") for x in vj], exact_fixed)
    total = np.array([float(p.omega_real + p.omega_syn) for p in plans])
    fixed = np.array([p.fixed_real and p.m != 0 for p in plans])
    q = np.array([float(p.syn_sq + (0 if f else p.real_sq)) for p, f in zip(plans, fixed)]) / total ** 2
    f = np.where(fixed, np.array([float(p.omega_real) for p in plans]) / total, 0.0)
    Xi = np.array([float(p.v / p.m) if fx else 0.0 for p, fx in zip(plans, fixed)])
    B = np.array([k for k in range(K) if not verdict.collapses[k]], dtype=np.int64)
    if B.size == 0:
        return {}, 0.0
    src = np.array(graph.edge_sources, dtype=np.int64)
    tgt = np.array(graph.edge_targets, dtype=np.int64)
    om = np.array([float(u) * float(n) for u, n in zip(graph.edge_weights, graph.edge_samples)])
    W = csr_matrix((om / total[tgt], (tgt, src)), shape=(K, K))[B][:, B]
    RHS = np.diag(q[B])
    if fixed[B].any():
        FXi = np.diag(f[B] * Xi[B])
        X = spsolve((csr_matrix(np.eye(B.size)) - W).tocsc(), FXi)
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X).reshape(B.size, B.size)
        WXF = W @ X * f[B][None, :]
        RHS = RHS + WXF + WXF.T + np.diag(f[B] ** 2 * Xi[B])
    C, residual = solve_lyapunov_float(W, RHS)
    return {int(k): float(C[i, i]) for i, k in enumerate(B)}, residual


def _replace_values(graph: InteractionGraph, estimator: Any, exact_fixed: bool, theta: Any = None):
    """Exact growth rates (collapsing learners) and stationary risks (bounded learners)
    when every learner replaces (docs/regimes.md §3.2)."""
    from .condition import collapse_condition
    from .lyapunov import solve_lyapunov_exact
    from .recursion import growth_rates

    v, vj = _per_sample_risks(graph, estimator, theta)
    proxy = _proxy_graph(graph)
    cond = collapse_condition(proxy)
    cond.require_decided()
    K = graph.num_learners
    W = proxy.mixing_matrix
    _, _, total = _weights(graph)
    fixed = [graph.real_data[k] == "fixed" and graph.real_samples[k] != 0 for k in range(K)]
    d = _as_sympy(graph.dimension)
    q, f, Xi = [], [], []
    for k in range(K):
        num = sum((_as_sympy(u) ** 2 * _as_sympy(n) * vj[s]
                   for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights)
                   if t == k), sp.Integer(0))
        wk, mk = _as_sympy(graph.real_weight[k]), _as_sympy(graph.real_samples[k])
        real_sq = wk ** 2 * mk * v
        if exact_fixed:
            N = _as_sympy(graph.total_samples[k])
            num, real_sq = num * N / (N - d - 1), real_sq * N / (N - d - 1)
        q.append(sp.cancel((num + (0 if fixed[k] else real_sq)) / total[k] ** 2))
        f.append(sp.cancel(wk * mk / total[k]) if fixed[k] else sp.Integer(0))
        Xi.append(v / mk if fixed[k] else sp.Integer(0))
    rates = growth_rates(proxy, cond, q)
    B = [k for k in range(K) if not cond.collapses[k]]
    stationary: dict[int, Any] = {}
    if B:
        WB = W.extract(B, B)
        F = sp.diag(*[f[k] for k in B])
        RHS = sp.diag(*[q[k] for k in B])
        if any(fixed[k] for k in B):
            # cancelled entry by entry: with symbols, the Lyapunov solve below is much slower on
            # unreduced nested fractions
            X = (sp.eye(len(B)) - WB).LUsolve(F * sp.diag(*[Xi[k] for k in B])).applyfunc(sp.cancel)
            RHS = (RHS + WB * X * F + (WB * X * F).T + F * sp.diag(*[Xi[k] for k in B]) * F).applyfunc(sp.cancel)
        C = solve_lyapunov_exact(WB, RHS, components=graph.structure.components_within(B))
        stationary = {k: sp.nsimplify(C[i, i]) if not graph.is_symbolic else sp.factor(C[i, i]) for i, k in enumerate(B)}
    return cond, rates, stationary


def regime_analysis(graph: InteractionGraph, theory: str = "default", fix_samples: Any = None, *,
                    estimator: Any = "ols", theta: Any = None):
    r"""The analysis of a graph under its data regime, as an
    :class:`~graphcollapse.theory.analysis.Analysis` (what ``analyze`` returns for a graph
    whose regime is not the default).

    Verdicts are exact (docs/regimes.md §4). When every learner replaces (loss weights and
    fixed real data allowed) growth rates and stationary risks are exact (§3.2); with
    accumulating learners the limits have no closed form, and the values are the risks
    (bounded learners) and the per-generation increments (collapsing learners) of the
    recursion at generation :data:`HORIZON`, flagged in ``notes`` and per learner.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_analysis
    >>> a = regime_analysis(self_training(real_samples=10, samples=10, dimension=1, real_weight=2))
    >>> a.learner("L0").stationary_risk
    1/16
    >>> regime_analysis(self_training(samples=10, data_policy="accumulate")).collapse
    False
    """
    from .analysis import Analysis, ComponentResult, LearnerResult
    from .recursion import check_ols_sample_sizes

    if theory not in ("default", "exact", "large-sample"):
        raise GraphValueError(f"theory: expected default, exact or large-sample, found {theory!r}")
    if fix_samples is not None:
        raise GraphValueError("--fix-samples: the minimal fix is derived for the default regime only; "
                              "drop --fix-samples (graphcollapse optimize-weights tunes the loss weights)")
    ols = isinstance(estimator, str) and estimator == "ols"
    if ols:
        check_ols_sample_sizes(graph)
    ok, why = exact_theory_applies(graph, estimator)
    if theory == "exact" and not ok:
        raise NoClosedFormError(f"exact theory: {why}; use --theory large-sample")
    used = "exact" if ok and theory != "large-sample" else "large-sample"
    verdict = regime_verdicts(graph)
    if not graph.is_symbolic:
        for k, c in enumerate(verdict.collapses):
            if not isinstance(c, bool):
                from .errors import UndecidableError

                raise UndecidableError(f"verdict of {graph.names[k]}: depends on symbols ({c}); substitute them first")
    notes = [regime_sentence(graph), f"theory: {'exact' if used == 'exact' else 'large-sample'} ({why})"
             if used == "exact" else f"theory: large-sample ({why})" if ols else
             f"theory: asymptotic ({getattr(estimator, 'name', estimator)}; risks at the graph's counts)"]
    learners = []
    all_replace = all(p == "replace" for p in graph.data_policy)
    from .analysis import EXACT_MAX_LEARNERS

    if all_replace and (graph.is_symbolic or graph.num_learners <= EXACT_MAX_LEARNERS):
        cond, rates, stationary = _replace_values(graph, estimator, used == "exact", theta)
        for k, name in enumerate(graph.names):
            if verdict.collapses[k]:
                learners.append(LearnerResult(name, True, "linear", 1, growth_rate=rates[k]))
            else:
                learners.append(LearnerResult(name, False, "none", None, stationary_risk=stationary[k]))
    elif all_replace:
        stationary_f, residual = _replace_stationary_float(graph, estimator, used == "exact", theta, verdict)
        collapsing = [k for k, c in enumerate(verdict.collapses) if c]
        rates_f: dict[int, float] = {}
        if collapsing:
            H = HORIZON_PERIODIC
            traj = regime_risk_trajectory(graph, H, estimator=estimator, theory=used, exact=False, theta=theta)
            rates_f = {k: (traj[H][k] - traj[H // 2][k]) / (H - H // 2) for k in collapsing}
            notes.append(f"growth rates: (R_k({H}) - R_k({H // 2})) / {H - H // 2} of the recursion (floating "
                         f"point, {graph.num_learners} learners > {EXACT_MAX_LEARNERS})")
        notes.append(f"stationary risks: floating point ({graph.num_learners} learners > {EXACT_MAX_LEARNERS}), "
                     f"Lyapunov relative residual {residual:.1e}; verdicts are exact (structural)")
        for k, name in enumerate(graph.names):
            if verdict.collapses[k]:
                learners.append(LearnerResult(name, True, "linear", 1, growth_rate=float(rates_f[k])))
            else:
                learners.append(LearnerResult(name, False, "none", None, stationary_risk=float(stationary_f[k])))
    elif (limit := _one_learner_accumulate_limit(graph, estimator, used == "exact", theta)) is not None:
        learners.append(LearnerResult(graph.names[0], False, "none", None, stationary_risk=limit))
        if used == "exact" and graph.design[0] == "fresh":
            notes.append("value: the limit of the exact risk, sigma^2 d/(n0-d-1) + sigma_k^2 d/(d+1) "
                         "(psi(n0/N + 1) - psi((n0-d-1)/N + 1)) (docs/regimes.md section 6.1)")
        else:
            notes.append("value: the limit of the risk, R(0) + D psi'(r + 1) with r = w n0/(u N) "
                         "(docs/regimes.md section 5)")
    else:
        if graph.is_symbolic:
            raise GraphTypeError("analyze: accumulating regimes need numeric parameters (their limits have no "
                                 "closed form); substitute the symbols first")
        H = HORIZON
        traj = regime_risk_trajectory(graph, H, estimator=estimator, theory=used, exact=False, theta=theta)
        for k, name in enumerate(graph.names):
            if verdict.collapses[k]:
                rate = (traj[H][k] - traj[H // 2][k]) / (H - H // 2)
                learners.append(LearnerResult(name, True, "linear", 1, growth_rate=float(rate),
                                              extra={"value_at_generation": H}))
            else:
                learners.append(LearnerResult(name, False, "none", None, stationary_risk=float(traj[H][k]),
                                              extra={"value_at_generation": H}))
        notes.append(f"values: the limits under accumulation have no closed form; bounded learners show R_k at "
                     f"generation {H} of the recursion, collapsing ones (R_k({H}) - R_k({H // 2})) / {H - H // 2} "
                     "(docs/regimes.md section 5)")
    components = []
    S = graph.structure
    for members in verdict.offending:
        c = S.component_of(members[0])
        affects = tuple(graph.names[i] for i in S.descendants(list(members)).tolist())
        if all_replace:
            proxy = _proxy_graph(graph)
            from .condition import stationary_distribution

            pi = dict(zip((graph.names[i] for i in members), stationary_distribution(proxy, members)))
        else:
            pi = {}
        components.append(ComponentResult(tuple(graph.names[i] for i in members), S.period(c),
                                          tuple(tuple(graph.names[i] for i in cl) for cl in S.cyclic_classes(c)),
                                          pi, affects))
    return Analysis(graph=graph, theory=used if ols else "asymptotic", learners=tuple(learners),
                    components=tuple(components), spectral_radius=_regime_radius(graph, verdict), minimal_fix=None,
                    condition=_regime_condition(graph, verdict),
                    extra={"regime": regime_json(graph)}, notes=tuple(notes))


def regime_m_analysis(graph: InteractionGraph, family: Any, theta: Any = None, fix_samples: Any = None):
    """:func:`graphcollapse.theory.mestimators.asymptotic_analysis` for a graph whose regime
    is not the default: the regime analysis with the weighted sandwich's per-sample risks
    (docs/regimes.md §3.1), wrapped as an ``MAnalysis``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_m_analysis
    >>> G = self_training(real_samples=0, samples=10, initial_samples=10, dimension=1, data_policy="accumulate")
    >>> regime_m_analysis(G, "location-scale").collapse
    False
    """
    from .mestimators import MAnalysis, get_family, parse_theta, sandwich

    fam = get_family(family) if isinstance(family, str) else family
    th = parse_theta(theta, fam, graph)
    a = regime_analysis(graph, "large-sample", fix_samples, estimator=fam, theta=th)
    return MAnalysis(a, fam, sandwich(graph, fam, th), th)


def regime_m_prediction(graph: InteractionGraph, family: Any, generations: int, theta: Any = None):
    """:func:`graphcollapse.theory.mestimators.asymptotic_prediction` for a graph whose
    regime is not the default (risks at the graph's counts, as there).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_m_prediction
    >>> G = self_training(real_samples=0, samples=10, initial_samples=10, dimension=1, data_policy="accumulate")
    >>> regime_m_prediction(G, "location-scale", 2).prediction.risk["L0"]
    [3/10, 3/8, 49/120]
    """
    from .analysis import Prediction
    from .mestimators import MPrediction, get_family, parse_theta, sandwich

    fam = get_family(family) if isinstance(family, str) else family
    th = parse_theta(theta, fam, graph)
    T = _check_generations(generations)
    rows = regime_risk_trajectory(graph, T, estimator=fam, exact=graph.num_learners * (T + 1) <= EXACT_MAX_CELLS,
                                  theta=th)
    rows = [[sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction) else x for x in row] for row in rows]
    pred = Prediction(graph=graph, theory="asymptotic", generations=T,
                      risk={name: [row[k] for row in rows] for k, name in enumerate(graph.names)})
    return MPrediction(pred, fam, sandwich(graph, fam, th), th)


def _one_learner_accumulate_limit(graph: InteractionGraph, estimator: Any, exact_fixed: bool, theta: Any) -> Any:
    """The closed-form limit of §5 for one learner accumulating its own outputs without
    real data: R(infinity) = R(0) + q psi'(r + 1), r = w n0/(u N) (n0/N with unit weights),
    psi' the trigamma function (None when the graph is not of that shape)."""
    if (graph.num_learners != 1 or graph.data_policy[0] != "accumulate" or graph.real_samples[0] != 0
            or len(graph.edge_sources) != 1 or graph.is_symbolic):
        return None
    if exact_fixed and graph.design[0] == "fresh":  # Theorem 4 of docs/regimes.md §6
        return fresh_accumulate_limit(samples=graph.total_samples[0], dimension=graph.dimension,
                                      initial_samples=graph.initial_samples[0], noise_variance=graph.noise_variance,
                                      synthetic_noise_variance=graph.synthetic_noise_variance[0])
    v, vj = _per_sample_risks(graph, estimator, theta)
    p = _plans(graph, _frac(v, "per-sample risk"), [_frac(x, "per-sample risk") for x in vj], exact_fixed)[0]
    q = sp.Rational(p.syn_sq.numerator, p.syn_sq.denominator) / sp.Rational(p.omega_syn.numerator,
                                                                            p.omega_syn.denominator) ** 2
    r = p.w * p.n0 / p.omega_syn  # Omega(0) / (batch weight): n0/N with unit weights
    r = sp.Rational(r.numerator, r.denominator)
    return sp.Rational(p.v0.numerator, p.v0.denominator) + q * sp.polygamma(1, r + 1)


def _regime_condition(graph: InteractionGraph, verdict: RegimeVerdict):
    """The regime verdict in the shape of a :class:`~graphcollapse.theory.condition.CollapseCondition`
    (so that every reader of ``Analysis.condition`` sees Theorem 2's verdicts)."""
    from scipy.sparse import csr_matrix

    from .condition import CollapseCondition, SourceComponent

    S = graph.structure
    comps = []
    for members in verdict.offending:
        c = S.component_of(members[0])
        comps.append(SourceComponent(members=tuple(members), period=S.period(c), cyclic_classes=S.cyclic_classes(c),
                                     offending=True, affects=tuple(S.descendants(list(members)).tolist()),
                                     graph=graph))
    rows = [k for k, f in enumerate(verdict.feeding) for _ in f]
    cols = [i for f in verdict.feeding for i in f]
    F = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(graph.num_learners, len(comps)))
    return CollapseCondition(graph=graph, collapses=verdict.collapses, components=tuple(comps), feeding_matrix=F,
                             labels=S.labels)


def _regime_radius(graph: InteractionGraph, verdict: RegimeVerdict) -> float:
    """The spectral radius of the weighted mixing matrix W~ (1 exactly when a component
    without real data exists; it decides the replace verdict only)."""
    if graph.is_symbolic:
        return float("nan")
    from .analysis import spectral_radius

    return spectral_radius(_proxy_graph(graph))


def regime_json(graph: InteractionGraph) -> dict[str, Any]:
    """The regime of a graph as JSON: the defaults and the per-learner values.

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.regimes import regime_json
    >>> regime_json(chain(2, data_policy="accumulate"))["data_policy"]
    {'L0': 'accumulate', 'L1': 'accumulate'}
    """
    from .report import to_float

    return {
        "sentence": regime_sentence(graph),
        "data_policy": dict(zip(graph.names, graph.data_policy)),
        "real_data": dict(zip(graph.names, graph.real_data)),
        "design": dict(zip(graph.names, graph.design)),
        "real_weight": {n: to_float(w) for n, w in zip(graph.names, graph.real_weight)},
        "edge_weights": [{"source": s, "target": t, "weight": to_float(w)}
                         for (s, t, _), w in zip(graph.edges, graph.edge_weights)],
    }


def regime_predict(graph: InteractionGraph, generations: int, theory: str = "default"):
    """The :class:`~graphcollapse.theory.analysis.Prediction` of a graph under its data
    regime (what ``predict`` returns for a graph whose regime is not the default): exact
    where the finite-sample theory closes (``theory="exact"`` then), else large-sample.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regimes import regime_predict
    >>> G = self_training(samples=12, initial_samples=12, dimension=2, design="fixed", data_policy="accumulate")
    >>> p = regime_predict(G, 2)
    >>> p.theory, p.risk["L0"]
    ('exact', [2/9, 5/18, 49/162])
    """
    from .analysis import Prediction
    from .recursion import check_ols_sample_sizes

    check_ols_sample_sizes(graph)
    pred = regime_prediction(graph, generations, theory=theory)
    if pred.exact_risk is not None:
        rows: Any = pred.exact_risk
    else:
        rows = pred.risk.tolist()
    return Prediction(graph=graph, theory=pred.theory, generations=pred.generations,
                      risk={name: [row[k] for row in rows] for k, name in enumerate(graph.names)})
