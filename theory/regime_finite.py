r"""Finite-sample OLS under data regimes: a new exact case, and proven risk bounds where
no exact recursion closes (docs/regimes.md §6).

Statement
---------
Whiten (:math:`\Sigma = I`, :math:`\theta^* = 0`), so a learner's error is its parameter
and its risk :math:`R_k^{(t)} = E\|e_k^{(t)}\|^2`. A fit pools rows in *blocks* :math:`a`
(:math:`n_a` rows, loss weight :math:`c_a`, labels :math:`X_a f_a + \eta_a`, with
:math:`f_a` the producer's error, zero for real data, and :math:`\eta_a` noise of
variance :math:`\lambda_a` per row); :math:`n = \sum_a n_a`.

*Own-output accumulator* (Theorem 4, exact). A learner with a fresh design that
accumulates, has no real data and trains only on its own outputs (unit weight ratio)
satisfies :math:`e^{(t)} = e^{(t-1)} + S_t^{-1}X_t^\top\eta_t` (:math:`S_t` the pool's
Gram matrix of :math:`n_t = n^0 + tN` rows), a martingale, and

.. math:: R^{(t)} = \frac{\sigma^2 d}{n^0 - d - 1}
          + \sigma_k^2 d \sum_{s=1}^{t} \frac{N}{n_s (n_s - d - 1)} .

Together with replacing learners (fresh design, fresh real data, equal weights within
the learner) the second moments close exactly: :func:`fresh_exact_trajectory`.

*Fit lemma* (Lemma F, :func:`fit_risk_bound`). If the rows of a fit are i.i.d.
:math:`N(0, I)`, the :math:`f_a` are independent of them and the noises independent of
everything else, then

.. math:: E\|e\|^2 \le \kappa \sum_a \frac{n_a}{n} E\|f_a\|^2
          + \frac{d \sum_a n_a \lambda_a}{n (n - d - 1)}

with equal weights (:math:`\kappa = (1-\gamma) r + \gamma` if :math:`\gamma \le 1`, else
:math:`\gamma`, where :math:`\gamma = \gamma(n, d)` of docs/exact.md and :math:`r` the
share of rows with a producer), and in general

.. math:: E\|e\|^2 \le \frac{nd - 2}{n - d - 1} \sum_a \frac{c_a n_a}{c_{\min} n} E\|f_a\|^2
          + \frac{\max_a c_a \lambda_a}{c_{\min}} \frac{d}{n - d - 1}.

*Bound* (Theorem 5, :func:`regime_risk_bound`). Applied learner by learner (the pool of
an accumulating learner, or the rows of a fixed design with its generations merged), the
lemma gives a recursion on risks alone whose solution bounds :math:`R_k^{(t)}` at every
generation, for every graph whose learners are of the kinds listed in
:func:`bound_applies`; ``proven_bounded`` says which learners it proves bounded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from .errors import GraphValueError, NoClosedFormError
from .exact import design_correction_parts
from .graph import InteractionGraph

__all__ = [
    "fresh_accumulate_limit",
    "is_own_output_accumulator",
    "fresh_exact_class",
    "fresh_exact_trajectory",
    "fit_risk_bound",
    "learner_bound_kinds",
    "bound_applies",
    "RegimeRiskBound",
    "regime_risk_bound",
]

#: The kinds of learner step the bound of :func:`regime_risk_bound` covers.
KINDS = {
    "own-accumulate": "fresh design, accumulates its own outputs only (exact, Theorem 4)",
    "fresh-replace": "fresh design, replaces (Lemma F on the batch)",
    "fresh-accumulate": "fresh design, accumulates, on no cycle (Lemma F on the pool)",
    "fixed-single": "fixed design, one source of data (exact step, Theorem 3)",
    "fixed-several": "fixed design, several sources, on no cycle (Lemma F on the merged design)",
}


# --------------------------------------------------------------------------- scalars
def _gamma(n: Any, d: Any) -> Any:
    """The design correction gamma(n, d) of docs/exact.md, Lemma 4 (exact for Fractions)."""
    num, den = design_correction_parts(n, d)
    return num / den


def fit_risk_bound(blocks: Sequence[tuple[Any, Any, Any, Any]], dimension: Any) -> Any:
    r"""Lemma F of docs/regimes.md §6: an upper bound on the risk of one (weighted) least
    squares fit on i.i.d. Gaussian rows.

    Parameters
    ----------
    blocks : sequence of (rows, weight, signal, noise[, parts])
        Per block :math:`a`: its :math:`n_a` rows, loss weight :math:`c_a > 0`, a bound
        :math:`F_a \ge E\|f_a\|^2` on its producer's risk (0 for real data) and its label
        noise variance :math:`\lambda_a`. The :math:`f_a` must be independent of the rows,
        the noises independent of everything else. ``parts`` (default 1) says how many
        blocks of equal weight were merged into this one (``signal`` then bounds the mean of
        their risks): with a single producer block the bound is exact.
    dimension : int
        :math:`d`; the rows must number :math:`n > d + 1`.

    Returns
    -------
    Fraction or float
        :math:`\kappa \sum_a (n_a/n) F_a + d\sum_a n_a\lambda_a/(n(n-d-1))` when every
        weight is equal (then exact for one block), else the weighted bound of the module
        docstring. Same number type as the inputs (``Fraction`` in, ``Fraction`` out).

    Raises
    ------
    GraphValueError
        :math:`n \le d + 1`, or a non-positive weight.

    Examples
    --------
    One block, its producer's risk 1/2, unit noise, d = 2, 12 rows: the exact step
    :math:`R_j + d/(N - d - 1)` of one source:

    >>> from fractions import Fraction as F
    >>> from graphcollapse.theory.regime_finite import fit_risk_bound
    >>> fit_risk_bound([(12, 1, F(1, 2), 1)], 2)
    Fraction(13, 18)
    >>> fit_risk_bound([(6, 1, 0, 1), (6, 1, F(1, 2), 1)], 2)   # half the rows are real
    Fraction(1051, 2772)
    >>> fit_risk_bound([(6, 3, 0, 1), (6, 1, F(1, 2), 1)], 2)   # real rows weighted 3
    Fraction(23, 18)
    """
    values = [x for b in blocks for x in b[:4]] + [dimension]
    conv: Callable[[Any], Any] = float if any(isinstance(x, float) for x in values) else Fraction
    parts = sum(int(b[4]) if len(b) > 4 else 1 for b in blocks if b[0] != 0 and b[2] != 0)
    rows = [tuple(conv(x) for x in b[:4]) for b in blocks if b[0] != 0]
    d = conv(dimension)
    n = sum((b[0] for b in rows), conv(0))
    if not n > d + 1:
        raise GraphValueError(f"rows: OLS needs n > d + 1 = {d + 1} rows, found {n}")
    if any(not c > 0 for _, c, _, _ in rows):
        raise GraphValueError("weight: expected positive loss weights")
    weights = {c for _, c, _, _ in rows}
    if len(weights) == 1:
        g = _gamma(n, d)
        r = sum((na for na, _, F, _ in rows if F != 0), conv(0)) / n
        kappa = (1 - g) * r + g if (g <= 1 or parts <= 1) else g
        signal = sum((na * F for na, _, F, _ in rows), conv(0)) / n
        noise = d * sum((na * lam for na, _, _, lam in rows), conv(0)) / (n * (n - d - 1))
        return kappa * signal + noise
    cmin = min(weights)
    kappa = (n * d - 2) / (n - d - 1)
    signal = sum((c * na * F for na, c, F, _ in rows), conv(0)) / (n * cmin)
    noise = max(c * lam for _, c, _, lam in rows) / cmin * d / (n - d - 1)
    return kappa * signal + noise


def fresh_accumulate_limit(*, samples: Any, dimension: Any, initial_samples: Any = None, noise_variance: Any = 1,
                           synthetic_noise_variance: Any = None) -> sp.Expr:
    r"""The limit of :func:`~graphcollapse.theory.regimes.fresh_accumulate_risk` as
    :math:`t \to \infty`: with :math:`\psi` the digamma function,

    .. math:: R^{(\infty)} = \frac{\sigma^2 d}{n^0-d-1} + \frac{\sigma_k^2 d}{d+1}
              \Bigl(\psi\bigl(\tfrac{n^0}{N}+1\bigr) - \psi\bigl(\tfrac{n^0-d-1}{N}+1\bigr)\Bigr),

    because :math:`N/(n(n-d-1)) = \frac{N}{d+1}\bigl(\frac{1}{n-d-1} - \frac1n\bigr)` telescopes
    into digamma differences.

    Examples
    --------
    >>> from graphcollapse.theory.regime_finite import fresh_accumulate_limit
    >>> fresh_accumulate_limit(samples=12, dimension=2)
    -pi/3 + 2*log(2)/3 + 2*log(4)/3
    >>> round(float(fresh_accumulate_limit(samples=12, dimension=2)), 6)
    0.339097
    """
    N, d = sp.sympify(samples), sp.sympify(dimension)
    n0 = N if initial_samples is None else sp.sympify(initial_samples)
    s2 = sp.sympify(noise_variance)
    ss2 = s2 if synthetic_noise_variance is None else sp.sympify(synthetic_noise_variance)
    return s2 * d / (n0 - d - 1) + ss2 * d / (d + 1) * (sp.polygamma(0, n0 / N + 1)
                                                         - sp.polygamma(0, (n0 - d - 1) / N + 1))


# --------------------------------------------------------------------------- learners
@dataclass(frozen=True)
class _Learner:
    k: int
    name: str
    policy: str
    fixed_design: bool
    fixed_real: bool  # a fixed real dataset of m > 0 samples
    m: Fraction
    n0: Fraction
    N: Fraction
    w: Fraction
    ins: tuple[tuple[int, Fraction, Fraction], ...]  # (producer j, n_jk, u_jk)
    on_cycle: bool


def _num(value: Any, name: str) -> Fraction:
    from .regimes import _frac

    return _frac(value, name)


def _learners(graph: InteractionGraph) -> list[_Learner]:
    S = graph.structure
    ins: list[list[tuple[int, Fraction, Fraction]]] = [[] for _ in range(graph.num_learners)]
    for s, t, n, u in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples, graph.edge_weights):
        ins[t].append((int(s), _num(n, "samples"), _num(u, "weight")))
    out = []
    for k in range(graph.num_learners):
        m = _num(graph.real_samples[k], "real_samples")
        on_cycle = bool(S.component_sizes[S.component_of(k)] > 1 or S.has_self_loop[k])
        out.append(_Learner(k, graph.names[k], graph.data_policy[k], graph.design[k] == "fixed",
                            graph.real_data[k] == "fixed" and m != 0, m,
                            _num(graph.initial_samples[k], "initial_samples"),
                            _num(graph.total_samples[k], "total_samples"), _num(graph.real_weight[k], "real_weight"),
                            tuple(ins[k]), on_cycle))
    return out


def _equal_weights(L: _Learner) -> bool:
    ws = {u for _, _, u in L.ins} | ({L.w} if L.m != 0 else set())
    return len(ws) <= 1


def _own_output(L: _Learner) -> bool:
    """Fresh design, accumulate, no real data, the self-loop the only in-edge, its weight
    equal to the real weight (which weights generation 0)."""
    return (not L.fixed_design and L.policy == "accumulate" and L.m == 0 and len(L.ins) == 1
            and L.ins[0][0] == L.k and L.ins[0][2] == L.w)


def is_own_output_accumulator(graph: InteractionGraph, learner: Any) -> bool:
    """Whether a learner is an *own-output accumulator*: fresh design, ``accumulate``, no
    real data, its self-loop its only in-edge, with the self-loop's loss weight equal to
    its real weight (the weight of generation 0). Its risk is exact (docs/regimes.md §6,
    Theorem 4).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regime_finite import is_own_output_accumulator
    >>> G = self_training(samples=12, initial_samples=12, dimension=2, data_policy="accumulate")
    >>> is_own_output_accumulator(G, "L0"), is_own_output_accumulator(G.replace(real_samples=[3]), "L0")
    (True, False)
    """
    k = graph.index[learner] if isinstance(learner, str) else int(learner)
    return _own_output(_learners(graph)[k])


def fresh_exact_class(graph: InteractionGraph) -> tuple[bool, str]:
    """Whether the exact theory of Theorem 4 (docs/regimes.md §6) covers the graph: every
    design fresh, at least one own-output accumulator, and every other learner replacing
    with fresh real data, equal loss weights within the learner, and one source of data or
    N_k >= 2d + 1.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regime_finite import fresh_exact_class
    >>> G = self_training(samples=12, initial_samples=12, dimension=2, data_policy="accumulate")
    >>> fresh_exact_class(G)[0], fresh_exact_class(G.replace(real_samples=[3]))[0]
    (True, False)
    """
    if graph.is_symbolic:
        return False, "symbolic parameters"
    if any(x != "fresh" for x in graph.design):
        return False, "a fixed design"
    Ls = _learners(graph)
    if not any(_own_output(L) for L in Ls):
        return False, "no own-output accumulator"
    d = _num(graph.dimension, "dimension")
    for L in Ls:
        if _own_output(L):
            continue
        if L.policy != "replace":
            return False, (f"learner {L.name} accumulates with a fresh design and other data than its own outputs: "
                           "the pooled Gram matrix mixes Wishart matrices of several generations, no closed "
                           "recursion (docs/regimes.md §6)")
        if L.fixed_real:
            return False, f"learner {L.name} has a fixed real dataset with a fresh design (docs/regimes.md §6)"
        if not _equal_weights(L):
            return False, (f"learner {L.name} weights its sources unequally with a fresh design: weighted Gram "
                           "matrices are not Wishart (docs/regimes.md §6)")
        sources = len(L.ins) + (1 if L.m != 0 else 0)
        if sources > 1 and L.N < 2 * d + 1:
            return False, (f"learner {L.name} pools several sources with N_k < 2d + 1: its exact verdict needs the "
                           "radius of the exact second-moment map (docs/exact.md), which the regime theory does not "
                           "compute")
    return True, ("fresh design: own-output accumulators (a martingale) and replacing learners "
                  "(docs/regimes.md §6, Theorem 4)")


def fresh_exact_trajectory(graph: InteractionGraph, generations: int, *, exact: bool = True) -> list[list[Any]]:
    r"""Exact risks :math:`R_k^{(t)}`, :math:`t = 0..T`, for a graph of
    :func:`fresh_exact_class` (docs/regimes.md §6, Theorem 4).

    The cross moments :math:`C_{kl} = E\langle e_k, e_l\rangle` obey the recursion of
    docs/exact.md with the row of an own-output accumulator :math:`k` replaced by
    :math:`e_k^{(t)} = e_k^{(t-1)} + (\text{noise of variance } \sigma_k^2 d N_k/(n_t(n_t-d-1)))`,
    :math:`n_t = n^0_k + tN_k`.

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
    exact : bool
        ``Fraction`` arithmetic (else float64).

    Returns
    -------
    list of lists
        ``risk[t][k]``.

    Raises
    ------
    NoClosedFormError
        The graph is not of the class.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regime_finite import fresh_exact_trajectory
    >>> G = self_training(samples=12, initial_samples=12, dimension=2, data_policy="accumulate")
    >>> [str(r[0]) for r in fresh_exact_trajectory(G, 2)]
    ['2/9', '17/63', '67/231']
    """
    from .regimes import _check_generations

    T = _check_generations(generations)
    ok, why = fresh_exact_class(graph)
    if not ok:
        raise NoClosedFormError(f"exact theory: {why}")
    conv: Callable[[Fraction], Any] = (lambda x: x) if exact else float
    Ls = _learners(graph)
    K = len(Ls)
    d = _num(graph.dimension, "dimension")
    s2 = _num(graph.noise_variance, "noise_variance")
    snv = [_num(v, "synthetic_noise_variance") for v in graph.synthetic_noise_variance]
    own = [_own_output(L) for L in Ls]
    dtype = object if exact else float
    W = np.zeros((K, K), dtype=dtype)
    if exact:
        W[:] = Fraction(0)
    gam = [Fraction(0)] * K
    D = [Fraction(0)] * K
    for L in Ls:
        k = L.k
        if own[k]:
            W[k, k] = conv(Fraction(1))
            continue
        for j, n, _ in L.ins:
            W[k, j] = W[k, j] + conv(n / L.N)
        gam[k] = _gamma(L.N, d)
        D[k] = d * (L.m * s2 + sum((n * snv[j] for j, n, _ in L.ins), Fraction(0))) / (L.N * (L.N - d - 1))
    C = np.zeros((K, K), dtype=dtype)
    if exact:
        C[:] = Fraction(0)
    for L in Ls:
        C[L.k, L.k] = conv(s2 * d / (L.n0 - d - 1))
    risks = [[C[k, k] for k in range(K)]]
    for t in range(1, T + 1):
        Cn = W.dot(C).dot(W.T)
        for L in Ls:
            k = L.k
            if own[k]:
                n_t = L.n0 + t * L.N
                Cn[k, k] = Cn[k, k] + conv(snv[k] * d * L.N / (n_t * (n_t - d - 1)))
            else:
                s = sum((W[k, j] * C[j, j] for j in range(K) if W[k, j] != 0), conv(Fraction(0)))
                Cn[k, k] = Cn[k, k] + conv(gam[k]) * (s - Cn[k, k]) + conv(D[k])
        C = Cn
        risks.append([C[k, k] for k in range(K)])
    return risks


# --------------------------------------------------------------------------- the bound
def _kind(L: _Learner) -> tuple[str | None, str]:
    if L.policy == "accumulate-subsample":
        return None, (f"learner {L.name} subsamples its pool: the finite-sample bound covers replace and accumulate "
                      "(docs/regimes.md §6)")
    if L.fixed_real:
        return None, (f"learner {L.name} reuses a fixed real dataset: the finite-sample bound needs fresh real data "
                      "(docs/regimes.md §6)")
    single = (L.m == 0 and len(L.ins) == 1) or (L.m != 0 and not L.ins)
    if L.fixed_design:
        if single:
            return "fixed-single", KINDS["fixed-single"]
        if not L.on_cycle:
            return "fixed-several", KINDS["fixed-several"]
        return None, (f"learner {L.name} has a fixed design, several sources and lies on a cycle: its design is "
                      "not independent of its producers' errors, no bound is proven (docs/regimes.md §6)")
    if L.policy == "replace":
        return "fresh-replace", KINDS["fresh-replace"]
    if _own_output(L):
        return "own-accumulate", KINDS["own-accumulate"]
    if not L.on_cycle:
        return "fresh-accumulate", KINDS["fresh-accumulate"]
    return None, (f"learner {L.name} accumulates with a fresh design on a cycle (other than its own outputs "
                  "alone): its pool is not independent of its producers' errors, no bound is proven "
                  "(docs/regimes.md §6)")


def learner_bound_kinds(graph: InteractionGraph) -> tuple[str | None, ...]:
    """Per learner, the kind of step of the finite-sample bound (keys of :data:`KINDS`),
    or None where no bound is proven.

    Examples
    --------
    >>> from graphcollapse.theory import InteractionGraph
    >>> from graphcollapse.theory.regime_finite import learner_bound_kinds
    >>> G = InteractionGraph(["A", "B"], real_samples=[0, 5], initial_samples=[12, 12],
    ...                      edges=[("A", "A", 12), ("A", "B", 7)], dimension=2, noise_variance=1,
    ...                      data_policy="accumulate")
    >>> learner_bound_kinds(G)
    ('own-accumulate', 'fresh-accumulate')
    """
    return tuple(_kind(L)[0] for L in _learners(graph))


def bound_applies(graph: InteractionGraph) -> tuple[bool, str]:
    """Whether :func:`regime_risk_bound` covers the graph, and why (or why not).

    Every learner must be of one of the kinds of :data:`KINDS`: fresh real data (or none),
    ``replace`` or ``accumulate``, and no cycle through a learner that accumulates with a
    fresh design (other than an own-output accumulator) or that has a fixed design and
    several sources.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regime_finite import bound_applies
    >>> bound_applies(self_training(real_samples=5, samples=10, dimension=2, real_weight=3))[0]
    True
    >>> bound_applies(self_training(real_samples=5, samples=10, dimension=2, data_policy="accumulate"))[1][:60]
    'learner L0 accumulates with a fresh design on a cycle (other'
    """
    if graph.is_symbolic:
        return False, "symbolic parameters: substitute them first"
    for L in _learners(graph):
        kind, why = _kind(L)
        if kind is None:
            return False, why
    return True, "every learner is of a kind the finite-sample bound covers (docs/regimes.md §6, Theorem 5)"


@dataclass(frozen=True)
class RegimeRiskBound:
    """Proven finite-sample upper bounds on the OLS risks under a graph's regime.

    Attributes
    ----------
    graph : InteractionGraph
    generations : int
    bound : tuple of tuples
        ``bound[t][k]`` >= the exact risk :math:`R_k^{(t)}` (sympy Rationals when computed
        exactly, else floats).
    kinds : tuple of str or None
        Per learner, the kind of step (keys of :data:`KINDS`); None for a learner left
        without a bound (``partial=True``: it or an ancestor is of no covered kind).
    proven_bounded : tuple of bool
        Per learner, whether the bound proves :math:`\\sup_t R_k^{(t)} < \\infty`
        (False means *not proven*, not *collapses*).
    is_exact : tuple of bool
        Per learner, whether the bound is the exact risk (every step on its ancestors is
        an equality: docs/regimes.md §6, Corollary of Theorem 5).
    """

    graph: InteractionGraph = field(repr=False)
    generations: int
    bound: tuple[tuple[Any, ...], ...] = field(repr=False)
    kinds: tuple[str | None, ...]
    proven_bounded: tuple[bool, ...]
    is_exact: tuple[bool, ...] = ()

    def learner(self, name: str) -> list[Any]:
        """The bound trajectory of the named learner."""
        k = self.graph.index[name]
        return [row[k] for row in self.bound]


def _steps(graph: InteractionGraph, Ls: list[_Learner], kinds: list[str | None], T: int,
           conv: Callable) -> list[list[Any]]:
    d = _num(graph.dimension, "dimension")
    s2 = _num(graph.noise_variance, "noise_variance")
    snv = [_num(v, "synthetic_noise_variance") for v in graph.synthetic_noise_variance]
    dd, s2c = conv(d), conv(s2)
    snvc = [conv(x) for x in snv]
    zero = conv(Fraction(0))
    R: list[list[Any]] = [[conv(s2 * d / (L.n0 - d - 1)) if kind is not None else None
                           for L, kind in zip(Ls, kinds)]]
    sums = [zero] * len(Ls)  # sum_{s=1}^{t} R_k(s - 1)
    for t in range(1, T + 1):
        prev = R[-1]
        sums = [sums[k] + prev[k] if prev[k] is not None else zero for k in range(len(Ls))]
        row: list[Any] = []
        for L, kind in zip(Ls, kinds):
            k = L.k
            if kind is None:  # not covered (partial bounds): no bound for this learner
                row.append(None)
                continue
            m, N, n0, w = conv(L.m), conv(L.N), conv(L.n0), conv(L.w)
            if kind == "own-accumulate":
                n_t = n0 + t * N
                row.append(prev[k] + snvc[k] * dd * N / (n_t * (n_t - dd - 1)))
            elif kind == "fresh-replace" or (kind in ("fixed-single", "fixed-several") and L.policy == "replace"):
                blocks = [(m, w, zero, s2c)] + [(conv(n), conv(u), prev[j], snvc[j]) for j, n, u in L.ins]
                row.append(fit_risk_bound(blocks, dd))
            elif kind == "fresh-accumulate":
                blocks = [(n0 + t * m, w, zero, s2c)] + [(t * conv(n), conv(u), sums[j] / t, snvc[j], t)
                                                         for j, n, u in L.ins]
                row.append(fit_risk_bound(blocks, dd))
            elif kind == "fixed-single":  # accumulate: the pool mean of batch fits on one design
                c = conv(L.ins[0][2]) if L.ins else w
                om_prev, om = w + (t - 1) * c, w + t * c
                ct, lt = om_prev / om, c / om
                if L.ins:
                    j, lam = L.ins[0][0], snvc[L.ins[0][0]]
                else:
                    j, lam = None, s2c
                D = lam * dd / (N - dd - 1)
                if j is None:
                    row.append(ct * ct * prev[k] + lt * lt * D)
                elif j == k:
                    row.append(prev[k] + lt * lt * D)
                else:
                    row.append(ct * prev[k] + lt * prev[j] + lt * lt * D)
            else:  # fixed-several, accumulate: generations merged on the design's rows
                tt = conv(Fraction(t))
                blocks = []
                if L.m != 0:
                    blocks.append((m, w + tt * w, zero, s2c / (1 + tt)))
                for j, n, u in L.ins:
                    uc = conv(u)
                    C = w + tt * uc
                    blocks.append((conv(n), C, tt * uc * uc * sums[j] / (C * C),
                                   (w * w * s2c + tt * uc * uc * snvc[j]) / (C * C), t))
                row.append(fit_risk_bound(blocks, dd))
        R.append(row)
    return R


def _step_matrix_row(L: _Learner, kind: str | None, d: Fraction) -> dict[int, Fraction] | None:
    """The constant coefficients K_kj of a replacing learner's bound step
    R_k(t) <= sum_j K_kj R_j(t-1) + b_k (None for other kinds)."""
    if not (kind == "fresh-replace" or (kind in ("fixed-single", "fixed-several") and L.policy == "replace")):
        return None
    row: dict[int, Fraction] = {}
    if _equal_weights(L):
        g = _gamma(L.N, d)
        r = (L.N - L.m) / L.N
        kappa = (1 - g) * r + g if (g <= 1 or len(L.ins) <= 1) else g
        for j, n, _ in L.ins:
            row[j] = row.get(j, Fraction(0)) + kappa * n / L.N
        return row
    cmin = min({u for _, _, u in L.ins} | ({L.w} if L.m != 0 else set()))
    kappa = (L.N * d - 2) / (L.N - d - 1)
    for j, n, u in L.ins:
        row[j] = row.get(j, Fraction(0)) + kappa * u * n / (L.N * cmin)
    return row


def _contracts(rows: list[dict[int, Fraction]], members: list[int]) -> bool:
    """Whether rho(K_AA) < 1 for the nonnegative matrix K_AA, decided exactly.

    A positive x with K_AA x < x entrywise certifies rho < 1 (Collatz-Wielandt); the
    candidate is the float solution of (I - K_AA) x = 1 rounded to rationals and checked in
    Fraction arithmetic. Without a certificate, (I - K_AA) x = 1 is solved exactly over QQ:
    rho < 1 iff it has a solution x > 0 ((I - K)^{-1} = sum_n K^n >= 0 then)."""
    from scipy.sparse import csr_matrix, identity
    from scipy.sparse.linalg import spsolve
    from sympy.polys.matrices import DomainMatrix

    pos = {k: i for i, k in enumerate(members)}
    n = len(members)
    entries = [(i, pos[j], v) for i, row in enumerate(rows) for j, v in row.items() if j in pos]
    K = csr_matrix(([float(v) for _, _, v in entries], ([i for i, _, _ in entries], [j for _, j, _ in entries])),
                   shape=(n, n))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a singular system only means: no certificate from floats
        try:
            x = np.atleast_1d(spsolve((identity(n, format="csc") - K).tocsc(), np.ones(n)))
        except Exception:
            x = np.full(n, np.nan)
    if np.all(np.isfinite(x)) and np.all(x > 0):
        xr = [Fraction(float(v)).limit_denominator(10**12) for v in x]
        Kx = [Fraction(0)] * n
        for i, j, v in entries:
            Kx[i] += v * xr[j]
        if all(xi > 0 and kx < xi for xi, kx in zip(xr, Kx)):
            return True
    M: dict[int, dict[int, Any]] = {i: {i: sp.QQ(1)} for i in range(n)}
    for i, j, v in entries:
        M[i][j] = M[i].get(j, sp.QQ(0)) - sp.QQ(v.numerator, v.denominator)
    A = DomainMatrix(M, (n, n), sp.QQ)
    b = DomainMatrix({i: {0: sp.QQ(1)} for i in range(n)}, (n, 1), sp.QQ)
    try:
        sol = A.to_dense().lu_solve(b.to_dense())
    except Exception:  # singular: rho(K_AA) >= 1 (an eigenvalue 1)
        return False
    return all(v > 0 for v in sol.to_list_flat())


def _step_is_exact(L: _Learner, kind: str | None) -> bool:
    """Whether a learner's bound step is an equality: Lemma F with equal weights and at
    most one block with a producer, or an exact martingale / pool-mean step."""
    if kind is None:
        return False
    if kind == "own-accumulate":
        return True
    if kind == "fixed-single" and L.policy != "replace":
        return not L.ins or L.ins[0][0] == L.k
    if L.policy == "replace":
        return _equal_weights(L) and len(L.ins) <= 1
    return not L.ins and _equal_weights(L)  # accumulating real data only


def _exact_flags(graph: InteractionGraph, Ls: list[_Learner], kinds: list[str | None]) -> tuple[bool, ...]:
    step = [_step_is_exact(L, kind) for L, kind in zip(Ls, kinds)]
    S = graph.structure
    return tuple(all(step[j] for j in S.ancestors(k).tolist()) for k in range(len(Ls)))


def _proven_bounded(graph: InteractionGraph, Ls: list[_Learner], kinds: list[str | None]) -> tuple[bool, ...]:
    S = graph.structure
    d = _num(graph.dimension, "dimension")
    proven = [False] * len(Ls)
    for c in range(S.num_components):
        members = [int(i) for i in S.members(c)]
        inside = set(members)
        upstream = all(proven[j] for k in members for j, _, _ in Ls[k].ins if j not in inside)
        if not upstream or any(kinds[k] is None for k in members):
            continue
        if len(members) == 1 and not Ls[members[0]].on_cycle:
            ok = True  # an average of bounded risks plus bounded noise
        elif len(members) == 1 and (kinds[members[0]] == "own-accumulate"
                                    or (kinds[members[0]] == "fixed-single" and Ls[members[0]].policy != "replace")):
            ok = True  # an exact martingale whose increments are summable
        else:
            rows = [_step_matrix_row(Ls[k], kinds[k], d) for k in members]
            ok = all(r is not None for r in rows) and _contracts(rows, members)  # type: ignore[arg-type]
        for k in members:
            proven[k] = ok
    return tuple(proven)


def regime_risk_bound(graph: InteractionGraph, generations: int, *, exact: bool | None = None,
                      partial: bool = False) -> RegimeRiskBound:
    r"""Proven upper bounds on the finite-sample OLS risks :math:`R_k^{(t)}`, t = 0..T,
    where the exact recursion does not close (docs/regimes.md §6, Theorem 5), and which
    learners they prove bounded.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric; every learner of a kind of :func:`bound_applies`.
    generations : int
    exact : bool, optional
        Rational arithmetic; default when K (T + 1) <= 4000.
    partial : bool
        Bound the learners whose ancestors are all of a covered kind, and give ``None``
        (bound), ``None`` (kind) and False (flags) for the others, instead of raising.

    Returns
    -------
    RegimeRiskBound

    Raises
    ------
    NoClosedFormError
        Some learner is of no kind the bound covers (the message names it), unless
        ``partial``.
    GraphValueError
        Some N_k or n0_k is at most d + 1.

    Examples
    --------
    A learner with 5 real and 10 own samples whose real samples weigh 3 (d = 1): the
    bound proves it bounded.

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.regime_finite import regime_risk_bound
    >>> b = regime_risk_bound(self_training(real_samples=5, samples=10, initial_samples=15, dimension=1,
    ...                                     real_weight=3), 2)
    >>> [str(x) for x in b.learner("L0")], b.proven_bounded
    (['1/13', '11/39', '49/117'], (True,))

    With ``partial=True`` a learner fed by an uncovered one (here A accumulates its own
    outputs and real data on a cycle) gets no bound, the others do:

    >>> from graphcollapse.theory import InteractionGraph
    >>> G = InteractionGraph(["A", "B", "C"], real_samples=[5, 0, 10], initial_samples=[15, 12, 12],
    ...                      edges=[("A", "A", 10), ("A", "B", 12), ("C", "C", 5)], dimension=1,
    ...                      noise_variance=1, data_policy=["accumulate", "replace", "replace"])
    >>> b = regime_risk_bound(G, 1, partial=True)
    >>> b.kinds, b.bound[1], b.proven_bounded
    ((None, None, 'fresh-replace'), (None, None, 601/6630), (False, False, True))
    """
    from .regimes import EXACT_MAX_CELLS, _check_generations

    T = _check_generations(generations)
    ok, why = bound_applies(graph)
    if not ok and (graph.is_symbolic or not partial):
        raise NoClosedFormError(f"finite-sample bound: {why}")
    Ls = _learners(graph)
    d = _num(graph.dimension, "dimension")
    for L in Ls:
        if not (L.n0 > d + 1 and L.N > d + 1):
            raise GraphValueError(f"{L.name}: OLS needs N_k and n0_k > d + 1 = {d + 1}, found N_k = {L.N}, "
                                  f"n0_k = {L.n0}")
    own = [_kind(L)[0] for L in Ls]
    S = graph.structure
    kinds = [own[k] if all(own[j] is not None for j in S.ancestors(k).tolist()) else None for k in range(len(Ls))]
    if exact is None:
        exact = len(Ls) * (T + 1) <= EXACT_MAX_CELLS
    conv: Callable[[Fraction], Any] = (lambda x: x) if exact else float
    R = _steps(graph, Ls, kinds, T, conv)  # type: ignore[arg-type]
    if exact:
        rows = tuple(tuple(None if x is None else sp.Rational(x.numerator, x.denominator) for x in r) for r in R)
    else:
        rows = tuple(tuple(None if x is None else float(x) for x in r) for r in R)
    return RegimeRiskBound(graph, T, rows, tuple(kinds), _proven_bounded(graph, Ls, kinds),  # type: ignore[arg-type]
                           _exact_flags(graph, Ls, kinds))  # type: ignore[arg-type]
