r"""Simulators of the data regimes and loss weights (``docs/regimes.md``), behind the
verification driver.

**The process** (the definitions of ``docs/regimes.md`` §1). Learner :math:`k` has a
*generation-0 batch* of :math:`n^0_k` real samples and, at every generation :math:`t \ge
1`, a *generation-t batch*: a real part of :math:`m_k` samples and, for every edge
:math:`j \to k`, a synthetic part of :math:`n_{jk}` samples labelled by
:math:`\theta_j^{(t-1)}` (noise variance :math:`\sigma_j^2`). Per learner:

* ``data_policy``: ``replace`` fits on the generation-t batch; ``accumulate`` on the
  union of the batches of generations :math:`0, \dots, t` (the *pool*);
  ``accumulate-subsample`` on :math:`N_k` samples drawn uniformly without replacement
  from the pool, anew every generation (the whole pool at :math:`t = 0`);
* ``real_data``: ``fresh`` draws the real part anew every generation; ``fixed`` draws it
  once (covariates and labels, independently of generation 0) and reuses it: it is in
  every generation-t batch under ``replace`` and enters the pool once (at generation 1)
  under the accumulating policies;
* ``design`` (OLS): ``fresh`` draws every covariate anew; ``fixed`` draws learner
  :math:`k`'s covariates once, :math:`N_k` rows (the graph requires :math:`n^0_k =
  N_k`): generation 0 labels all of them with real labels, every later batch uses the
  same rows (the first :math:`m_k` for the real part, then :math:`n_{jk}` rows per edge
  in edge order) with new labels; a learner with a self-loop and no real data sees one
  design throughout, the setting of Gerstgrasser et al. (2024);
* loss weights: learner :math:`k` minimises :math:`\sum_i w_i\,\ell_i` over its training
  samples, :math:`w_i` = ``real_weight[k]`` for a real sample (generation 0 included) and
  the edge's ``weight`` for a synthetic sample of that edge. OLS is weighted least
  squares.

**OLS fast path: sufficient statistics.** In whitened coordinates (OLS is equivariant
under :math:`x \mapsto L^{-1}x`, :math:`\Sigma = LL^\top`, and the risk is
:math:`\|L^\top\delta\|^2`) with :math:`\delta = \theta - \theta^*`, a part :math:`b`
(rows :math:`X_b`, weight :math:`w_b`, producer error :math:`\delta_{p(b)}`, zero for
real data, noise :math:`s_b^2`) enters the weighted normal equations only through

.. math:: G_b = X_b^\top X_b, \qquad u_b = X_b^\top\tilde y_b = G_b\,\delta_{p(b)} + X_b^\top\varepsilon_b,
          \qquad \delta = \Bigl(\sum_b w_b G_b\Bigr)^{-1} \sum_b w_b u_b .

Given :math:`X_b`, :math:`X_b^\top\varepsilon_b \sim N(0, s_b^2 G_b)`, so with any factor
:math:`F_b F_b^\top = G_b` it is drawn as :math:`s_b F_b z`: a fresh design draws
:math:`F_b` as the Bartlett factor of :math:`\mathrm{Wishart}_d(n_b, I)` (or
:math:`X_b^\top` when :math:`n_b < d`), a fixed design keeps the Cholesky factor of its
rows' Gram matrix (or :math:`X_b^\top`). ``replace`` solves with the batch's sums;
``accumulate`` keeps the running sums :math:`\sum w G` and :math:`\sum w u` over the
generations, so a fit costs the same at generation 100 as at generation 1 (measured in
``benchmarks/bench_regimes.py``). Fixed real data: :math:`(G_b, u_b)` of the real part
are drawn once (added every generation under ``replace``, once to the running sums).
One generation of one learner is a compiled kernel (numba, ``_fit_kernel``) over the
block's replications: per replication and part it draws the factor (the Bartlett
chi-squares by the exact sampler of :mod:`graphcollapse.verify.simulate`, then the
normals) and the noise, accumulates :math:`w_bG_b` and :math:`w_bu_b`, and solves by
Cholesky; the cost of a fit is :math:`O(P d^3)` for :math:`P` parts, whatever the
sample counts and the generation.

**The pool (accumulate-subsample).** A subsample needs the individual samples of every
generation, so a learner under ``accumulate-subsample`` keeps its pool: :math:`n^0_k +
T N_k` rows of :math:`d + 2` floats (covariates, label, weight) per replication, i.e.
:math:`8 \cdot 256 (n^0_k + T N_k)(d + 2)` bytes per block of 256 replications,
growing linearly with :math:`T` (at most; a fixed real data set is kept once).
:func:`regime_block_bytes` adds this up and the driver
refuses a run whose block does not fit ``--max-memory`` before anything is simulated.
A row keeps its covariates, label and weight side by side (one read per drawn row);
the subsample of :math:`N_k` rows is a partial Fisher-Yates shuffle of an index array
(undone afterwards), so a fit costs :math:`O(N_k d^2)`, not :math:`O(\text{pool})`
(``_grow_kernel``, ``_subsample_kernel``, compiled; only the cache misses of reading
rows scattered over a larger pool grow with :math:`T`).

**M-estimators** (:func:`simulate_regime_mestimator_block`) keep their samples
explicitly (their fits need them): ``accumulate`` and ``accumulate-subsample`` pools grow
the same way, and the cost of a fit grows with the pool. Weighted fits: weighted least
squares (Gaussian regression), the weighted mean and variance (location-scale), weighted
Newton (logistic, Poisson) and weighted IRLS (Huber). ``design: fixed`` applies to OLS.

Replication block ``b`` draws from ``block_generator(seed, b)`` only, so results do not
depend on the chunk size or the number of workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from numba import njit

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator
from .driver import Block, Sample, Verification, check_int, check_seed, run
from .mcompare import MSimulator
from .simulate import _chi2_fill

__all__ = ["POLICIES", "RegimeSpec", "regime_spec", "simulate_regime_ols_block", "simulate_regime_ols_reference",
           "simulate_regime_mestimator_block", "regime_block_bytes", "RegimeOLSSimulator", "RegimeMSimulator",
           "verify_regime"]

#: The data policies, in the order of the ``data_policy`` field's documentation.
POLICIES = ("replace", "accumulate", "accumulate-subsample")


# ============================================================================ the spec
@dataclass(frozen=True)
class Part:
    """One part of a generation-t batch: ``source`` is -1 for the real part, else the
    producing learner; ``count`` samples of loss weight ``weight`` and noise variance
    ``variance``."""

    source: int
    count: int
    weight: float
    variance: float


@dataclass(frozen=True)
class RegimeSpec:
    """A numeric graph with its regime, as the simulators read it (:func:`regime_spec`)."""

    names: tuple[str, ...]
    d: int
    noise_variance: float
    initial: tuple[int, ...]                 # n0_k
    parts: tuple[tuple[Part, ...], ...]      # per learner: the generation-t batch, real part first
    policy: tuple[str, ...]
    real_fixed: tuple[bool, ...]
    design_fixed: tuple[bool, ...]
    real_weight: tuple[float, ...]
    covariance: np.ndarray | None            # Sigma (None: identity)

    @property
    def K(self) -> int:
        return len(self.names)

    def total(self, k: int) -> int:
        """:math:`N_k`, the size of a generation-t batch."""
        return sum(p.count for p in self.parts[k])

    def scaled(self, scale: int) -> "RegimeSpec":
        """Every count multiplied by ``scale`` (the M-estimators' sample-size scales)."""
        if scale == 1:
            return self
        parts = tuple(tuple(Part(p.source, p.count * scale, p.weight, p.variance) for p in ps) for ps in self.parts)
        return RegimeSpec(self.names, self.d, self.noise_variance, tuple(n * scale for n in self.initial), parts,
                          self.policy, self.real_fixed, self.design_fixed, self.real_weight, self.covariance)


def _field(graph: InteractionGraph, name: str, default: Any, n: int) -> tuple:
    """A per-learner (or per-edge) regime field of ``graph``, ``default`` everywhere when
    the graph does not carry it."""
    value = getattr(graph, name, None)
    if value is None:
        return (default,) * n
    value = tuple(value)
    if len(value) != n:
        raise GraphValueError(f"{name}: expected {n} entries, found {len(value)}")
    return value


def _positive_float(value: Any, field: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise GraphValueError(f"{field}: simulation needs a number, found {str(value)[:30]!r} "
                              "(substitute the symbols)") from None
    if not (x > 0 and math.isfinite(x)):
        raise GraphValueError(f"{field}: expected a positive weight, found {x}")
    return x


def regime_spec(graph: InteractionGraph) -> RegimeSpec:
    """The regime of a numeric ``graph`` as the simulators read it.

    Parameters
    ----------
    graph : InteractionGraph
        Its ``data_policy``, ``real_data``, ``design``, ``real_weight`` and
        ``edge_weights`` (defaults: ``replace``, ``fresh``, ``fresh``, 1, 1).

    Returns
    -------
    RegimeSpec

    Raises
    ------
    GraphValueError
        A symbolic graph, an unknown policy, a non-positive weight.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> spec = regime_spec(self_training(real_samples=10, samples=20, initial_samples=30, dimension=2))
    >>> spec.policy, spec.total(0), [(p.source, p.count, p.weight) for p in spec.parts[0]]
    (('replace',), 30, [(-1, 10, 1.0), (0, 20, 1.0)])
    """
    if graph.is_symbolic:
        raise GraphValueError("graph: simulation needs numeric sample counts, variances and weights "
                              "(substitute the symbols)")
    K, E = graph.num_learners, len(graph.edge_sources)
    policy = _field(graph, "data_policy", "replace", K)
    for k, p in enumerate(policy):
        if p not in POLICIES:
            raise GraphValueError(f"data_policy: expected one of {', '.join(POLICIES)} for {graph.names[k]}, "
                                  f"found {p!r}")
    real = _field(graph, "real_data", "fresh", K)
    design = _field(graph, "design", "fresh", K)
    for field, values in (("real_data", real), ("design", design)):
        for k, v in enumerate(values):
            if v not in ("fresh", "fixed"):
                raise GraphValueError(f"{field}: expected 'fresh' or 'fixed' for {graph.names[k]}, found {v!r}")
    rw = tuple(_positive_float(w, "real_weight") for w in _field(graph, "real_weight", 1, K))
    ew = tuple(_positive_float(w, "weight") for w in _field(graph, "edge_weights", 1, E))
    s2 = float(graph.noise_variance)
    synth = [float(v) for v in graph.synthetic_noise_variance]
    parts: list[list[Part]] = [[Part(-1, int(m), rw[k], s2)] if int(m) > 0 else []
                               for k, m in enumerate(graph.real_samples)]
    for e, (s, t, n) in enumerate(zip(graph.edge_sources, graph.edge_targets, graph.edge_samples)):
        parts[int(t)].append(Part(int(s), int(n), ew[e], synth[int(s)]))
    cov = None if graph.covariance is None else np.array(graph.covariance, dtype=float)
    return RegimeSpec(tuple(graph.names), int(graph.dimension), s2, tuple(int(n) for n in graph.initial_samples),
                      tuple(tuple(p) for p in parts), tuple(policy), tuple(v == "fixed" for v in real),
                      tuple(v == "fixed" for v in design), rw, cov)


# ============================================================================ OLS: compiled fits
_BARTLETT, _ROWS, _FIXED = 0, 1, 2  # how a part's factor F (F F^T = G_b) is obtained


@njit(cache=True, nogil=True, fastmath=True)
def _chol_solve(A, b, L, x):  # pragma: no cover - compiled
    """``x`` = A^-1 b for a symmetric positive definite ``A`` of which only the lower
    triangle is read (Cholesky A = L L^T, then two triangular solves; ``L`` is workspace,
    its diagonal holding the reciprocals of the pivots). A non-positive pivot (a
    singular Gram matrix) raises."""
    d = b.shape[0]
    for j in range(d):
        s = A[j, j]
        for c in range(j):
            s -= L[j, c] * L[j, c]
        if not s > 0.0:
            raise ValueError("a learner's Gram matrix is singular (too few samples for the dimension)")
        inv = 1.0 / np.sqrt(s)
        L[j, j] = inv
        for i in range(j + 1, d):
            s = A[i, j]
            for c in range(j):
                s -= L[i, c] * L[j, c]
            L[i, j] = s * inv
    for i in range(d):
        s = b[i]
        for c in range(i):
            s -= L[i, c] * x[c]
        x[i] = s * L[i, i]
    for i in range(d - 1, -1, -1):
        s = x[i]
        for c in range(i + 1, d):
            s -= L[c, i] * x[c]
        x[i] = s * L[i, i]


@njit(cache=True, nogil=True, fastmath=True)
def _fit_kernel(rng, prev, src, cnt, wt, sd, mode, cdf, cgd, cgc, Ffix, Gfix, real, real_G, real_u, real_state,
                acc, accG, accu, out):  # pragma: no cover - compiled
    """One generation of one learner in every replication ``r`` of ``out`` (R, d), all
    numbers drawn here from ``rng``, replication by replication and part by part.

    Part ``p`` (producer ``src[p]``, -1 for real data; ``cnt[p]`` rows, loss weight
    ``wt[p]``, noise sd ``sd[p]``) gets a factor F with F F^T = G_b: Bartlett's (``mode``
    0; its chi-squares ``cdf[p*d:(p+1)*d]`` first, then the normals below the diagonal),
    the transposed rows of a fresh design (1, fewer rows than d) or a fixed design's
    (2, ``Ffix[p, r]``, Gram ``Gfix[p, r]``); then u_b = F (F^T delta_p + s z). The
    weighted sums, kept in the running sums ``accG``/``accu`` when ``acc``, are solved
    into ``out[r]``. Gram matrices are kept as lower triangles (all the Cholesky solve
    reads). ``real`` is a fixed real part (-1: none); ``real_state`` 0 draws it and keeps
    its (G_b, u_b) in ``real_G``/``real_u``, 1 adds the kept ones, 2 skips it (already in
    the running sums)."""
    R, d = out.shape
    P = src.shape[0]
    F = np.zeros((d, d))
    Gloc = np.zeros((d, d))
    uloc = np.zeros(d)
    u = np.zeros(d)
    v = np.zeros(d)
    L = np.zeros((d, d))
    chib = np.zeros(d)
    for r in range(R):
        if acc:
            Gs = accG[r]
            us = accu[r]
        else:
            Gs = Gloc
            us = uloc
            for i in range(d):
                us[i] = 0.0
                for j in range(i + 1):
                    Gs[i, j] = 0.0
        for p in range(P):
            w = wt[p]
            if p == real and real_state > 0:
                if real_state == 1:
                    for i in range(d):
                        us[i] += w * real_u[r, i]
                        for j in range(i + 1):
                            Gs[i, j] += w * real_G[r, i, j]
                continue
            m = mode[p]
            cols = d if cnt[p] >= d else cnt[p]
            if m == 0:
                _chi2_fill(rng, cdf, cgd, cgc, p * d, (p + 1) * d, chib)
                for i in range(d):
                    F[i, i] = np.sqrt(chib[i])
                    for j in range(i):
                        F[i, j] = rng.standard_normal()
            elif m == 1:
                for i in range(d):
                    for j in range(cols):
                        F[i, j] = rng.standard_normal()
            else:
                for i in range(d):
                    for j in range(cols):
                        F[i, j] = Ffix[p, r, i, j]
            s = sd[p]
            q = src[p]
            for j in range(cols):  # v = s z + F^T delta_p (Bartlett's F: rows i >= j only)
                a = s * rng.standard_normal()
                if q >= 0:
                    for i in range(j if m == 0 else 0, d):
                        a += F[i, j] * prev[q, r, i]
                v[j] = a
            for i in range(d):  # u = F v
                a = 0.0
                for j in range(i + 1 if m == 0 else cols):
                    a += F[i, j] * v[j]
                u[i] = a
                us[i] += w * a
            keep = p == real
            for i in range(d):  # w G_b, lower triangle
                for j in range(i + 1):
                    if m == 2:
                        a = Gfix[p, r, i, j]
                    else:
                        a = 0.0
                        for c in range(j + 1 if m == 0 else cols):
                            a += F[i, c] * F[j, c]
                    Gs[i, j] += w * a
                    if keep:
                        real_G[r, i, j] = a
            if keep:
                for i in range(d):
                    real_u[r, i] = u[i]
        _chol_solve(Gs, us, L, out[r])


@njit(cache=True, nogil=True, fastmath=True)
def _grow_kernel(rng, pool, start, prev, src, cnt, wt, sd, skip, design):  # pragma: no cover - compiled
    """Append a batch as explicit rows to the pool (R, rows, d + 2) from row ``start``:
    per replication and part (``skip`` is a part already in the pool, -1: none) and row,
    the covariates (a fixed ``design``'s row, else d normals), the label in error
    coordinates (s z, plus x^T delta_p for a synthetic part), the loss weight. Design
    rows are numbered from 0 in part order. Returns the rows appended."""
    R = pool.shape[0]
    d = pool.shape[2] - 2
    fixed = design.shape[1] > 0
    a = start
    for r in range(R):
        a = start
        b = 0
        for p in range(src.shape[0]):
            n = cnt[p]
            if p == skip:
                b += n
                continue
            q = src[p]
            for i in range(n):
                if fixed:
                    for c in range(d):
                        pool[r, a, c] = design[r, b, c]
                else:
                    for c in range(d):
                        pool[r, a, c] = rng.standard_normal()
                yv = sd[p] * rng.standard_normal()
                if q >= 0:
                    for c in range(d):
                        yv += pool[r, a, c] * prev[q, r, c]
                pool[r, a, d] = yv
                pool[r, a, d + 1] = wt[p]
                a += 1
                b += 1
    return a - start


@njit(cache=True, nogil=True, fastmath=True)
def _subsample_kernel(rng, pool, P, N, perm, out):  # pragma: no cover - compiled
    """Weighted least squares on ``N`` of the first ``P`` rows of the pool (R, rows,
    d + 2) (all of them when ``P <= N``), drawn uniformly without replacement anew in
    every replication ``r`` by a partial Fisher-Yates shuffle of ``perm`` (the identity,
    restored afterwards: O(N) per replication, not O(P)); solution in ``out[r]``. A row
    keeps its covariates, label and weight side by side, so a drawn row is one read."""
    R, d = out.shape
    n = N if P > N else P
    G = np.zeros((d, d))
    b = np.zeros(d)
    L = np.zeros((d, d))
    swaps = np.zeros(n, dtype=np.int64)
    for r in range(R):
        for i in range(d):
            b[i] = 0.0
            for j in range(d):
                G[i, j] = 0.0
        for i in range(n):
            if P > N:
                j = i + int(rng.random() * (P - i))
                if j >= P:  # guards the rounding of random() * (P - i) up to P - i
                    j = P - 1
                swaps[i] = j
                row = perm[j]
                perm[j] = perm[i]
                perm[i] = row
            else:
                row = i
            wy = pool[r, row, d + 1] * pool[r, row, d]
            for a in range(d):
                xa = pool[r, row, d + 1] * pool[r, row, a]
                b[a] += pool[r, row, a] * wy
                for c in range(a + 1):
                    G[a, c] += xa * pool[r, row, c]
        if P > N:
            for i in range(n - 1, -1, -1):
                j = swaps[i]
                row = perm[i]
                perm[i] = perm[j]
                perm[j] = row
        for a in range(d):
            for c in range(a):
                G[c, a] = G[a, c]
        _chol_solve(G, b, L, out[r])


def _factor_of(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Gram, factor) of fixed rows ``X`` (R, n, d): the Cholesky factor when n >= d,
    else X^T."""
    G = np.matmul(X.transpose(0, 2, 1), X)
    if X.shape[1] >= X.shape[2]:
        return G, np.linalg.cholesky(G)
    return G, np.ascontiguousarray(X.transpose(0, 2, 1))


@dataclass(frozen=True)
class _Table:
    """The parts of one learner's batch as the compiled fit reads them."""

    src: np.ndarray
    cnt: np.ndarray
    wt: np.ndarray
    sd: np.ndarray
    mode: np.ndarray
    cdf: np.ndarray
    cgd: np.ndarray
    cgc: np.ndarray
    Ffix: np.ndarray
    Gfix: np.ndarray

    @classmethod
    def of(cls, parts: Sequence[Part], d: int, R: int,
           fixed: Sequence[tuple[np.ndarray, np.ndarray]] | None) -> "_Table":
        """``fixed``: each part's (Gram, factor) of a fixed design, else None."""
        P = len(parts)
        mode = np.array([_FIXED if fixed is not None else (_BARTLETT if p.count >= d else _ROWS) for p in parts],
                        dtype=np.int64)
        cdf = np.ones(P * d)
        for i, p in enumerate(parts):
            if mode[i] == _BARTLETT:  # F_jj^2 ~ chi^2_{n - j}
                cdf[i * d:(i + 1) * d] = p.count - np.arange(d)
        cgd = cdf / 2.0 - 1.0 / 3.0
        Ffix = np.zeros((P, R, d, d) if fixed is not None else (P, 0, d, d))
        Gfix = np.zeros_like(Ffix)
        for i, (G, F) in enumerate(fixed or ()):
            Gfix[i] = G
            Ffix[i, :, :, :F.shape[2]] = F
        return cls(np.array([p.source for p in parts], dtype=np.int64),
                   np.array([p.count for p in parts], dtype=np.int64), np.array([p.weight for p in parts], dtype=float),
                   np.sqrt(np.array([p.variance for p in parts], dtype=float)), mode, cdf, cgd,
                   1.0 / np.sqrt(9.0 * cgd), Ffix, Gfix)


class _OLSLearner:
    """One learner's state in whitened coordinates: the tables of its generation-0 and
    generation-t batches for the compiled fit, the running sums of an accumulating
    learner, a fixed real part's kept statistics, or the pool of a subsampling one."""

    def __init__(self, spec: RegimeSpec, k: int, rng: np.random.Generator, R: int, generations: int) -> None:
        d = spec.d
        self.k, self.R, self.d = k, R, d
        self.parts = spec.parts[k]
        self.policy = spec.policy[k]
        self.real_fixed = spec.real_fixed[k]
        self.s0 = math.sqrt(spec.noise_variance)
        self.w0 = spec.real_weight[k]
        self.n0 = spec.initial[k]
        self.N = spec.total(k)
        self.X: np.ndarray | None = None
        fixed0 = fixed = None
        if spec.design_fixed[k]:  # one design, drawn once: rows [0, n0) at t = 0, [0, N) later
            X = rng.standard_normal((R, max(self.n0, self.N), d))
            self.X = X
            fixed0 = [_factor_of(X[:, :self.n0])]
            bounds = np.cumsum([0] + [p.count for p in self.parts])
            fixed = [_factor_of(X[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        self.table0 = _Table.of([Part(-1, self.n0, self.w0, spec.noise_variance)], d, R, fixed0)
        self.table = _Table.of(self.parts, d, R, fixed)
        self.acc = self.policy == "accumulate"
        self.accG = np.zeros((R if self.acc else 0, d, d))  # running sums of w G and w u
        self.accu = np.zeros((R if self.acc else 0, d))
        self.real_index = 0 if self.real_fixed and self.parts and self.parts[0].source < 0 else -1
        self.real_G = np.zeros((R if self.real_index == 0 else 0, d, d))  # a fixed real part's (G, u)
        self.real_u = np.zeros((R if self.real_index == 0 else 0, d))
        self.real_state = 0  # 0: not drawn; 1: add it every generation (replace); 2: in the running sums
        if self.policy == "accumulate-subsample":
            rows = self.n0 + int(generations) * self.N  # the whole pool, allocated once
            self.pool = np.empty((R, rows, d + 2))  # covariates, label, weight
            self.perm = np.arange(rows, dtype=np.int64)
            self.size = 0
            self.design = np.zeros((R, 0, d)) if self.X is None else self.X

    # -- one fit ------------------------------------------------------------------------
    def fit(self, rng: np.random.Generator, t: int, errors: np.ndarray) -> np.ndarray:
        """This learner's error (R, d) at generation ``t`` given last generation's
        ``errors`` (K, R, d)."""
        out = np.empty((self.R, self.d))
        if self.policy == "accumulate-subsample":
            tb = self.table0 if t == 0 else self.table
            skip = -1 if t == 0 or self.real_state == 0 else self.real_index  # fixed real data enter once
            self.size += _grow_kernel(rng, self.pool, self.size, errors, tb.src, tb.cnt, tb.wt, tb.sd, skip,
                                      self.design)
            if t > 0 and self.real_index >= 0:
                self.real_state = 2
            _subsample_kernel(rng, self.pool, self.size, self.N if t > 0 else self.size, self.perm, out)
            return out
        tb = self.table0 if t == 0 else self.table
        real = -1 if t == 0 else self.real_index
        _fit_kernel(rng, errors, tb.src, tb.cnt, tb.wt, tb.sd, tb.mode, tb.cdf, tb.cgd, tb.cgc, tb.Ffix, tb.Gfix,
                    real, self.real_G, self.real_u, self.real_state, self.acc, self.accG, self.accu, out)
        if real >= 0 and self.real_state == 0:
            self.real_state = 1 if self.policy == "replace" else 2
        return out


def _check_ols_counts(spec: RegimeSpec) -> None:
    """Refuse, in one line, a learner whose least-squares fit would have fewer rows than
    d: generation 0 (``initial_samples``) and every later fit of a learner that does not
    accumulate (``N_k``; an accumulating learner's sums only grow)."""
    d = spec.d
    for k, name in enumerate(spec.names):
        if spec.initial[k] <= d:
            raise GraphValueError(f"models[{name}]: OLS needs more than d = {d} initial_samples, "
                                  f"found {spec.initial[k]}")
        if spec.policy[k] != "accumulate" and spec.total(k) <= d:
            raise GraphValueError(f"models[{name}]: OLS under data_policy {spec.policy[k]} fits N_k samples a "
                                  f"generation and needs more than d = {d}, found {spec.total(k)}")


def simulate_regime_ols_block(spec: RegimeSpec, generations: int, rng: np.random.Generator, size: int
                              ) -> np.ndarray:
    r"""The excess risks of ``size`` replications of interactive (weighted) OLS under the
    regime of ``spec``, by the sufficient-statistics path (the pool for
    ``accumulate-subsample``).

    Parameters
    ----------
    spec : RegimeSpec
    generations : int
    rng : numpy.random.Generator
        The block's generator (every number of the block is drawn from it).
    size : int
        Replications.

    Returns
    -------
    ndarray, shape (size, T + 1, K)

    Examples
    --------
    >>> import numpy as np
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=20, initial_samples=20, dimension=3)
    >>> risk = simulate_regime_ols_block(regime_spec(G), 4, np.random.default_rng(0), 64)
    >>> risk.shape
    (64, 5, 1)
    """
    _check_ols_counts(spec)
    T, K = int(generations), spec.K
    learners = [_OLSLearner(spec, k, rng, size, T) for k in range(K)]
    risk = np.empty((size, T + 1, K))
    errors = np.zeros((K, size, spec.d))
    for t in range(T + 1):
        new = np.empty((K, size, spec.d))
        for k, learner in enumerate(learners):
            new[k] = learner.fit(rng, t, errors)
        risk[:, t, :] = np.einsum("krd,krd->rk", new, new)
        errors = new
    return risk


def simulate_regime_ols_reference(spec: RegimeSpec, generations: int, rng: np.random.Generator, size: int
                                  ) -> np.ndarray:
    r"""The same process as :func:`simulate_regime_ols_block` from explicit samples:
    every part's covariates :math:`x = Lz` (:math:`\Sigma = LL^\top`) and labels
    :math:`y = x^\top\theta + \varepsilon` drawn sample by sample around
    :math:`\theta^* = 0`, the pool kept for every accumulating learner, and one weighted
    least-squares solve per fit; the risk is :math:`\delta^\top\Sigma\delta`. Slow, a
    check of the sufficient statistics; its parameters and result are those of
    :func:`simulate_regime_ols_block`.

    Examples
    --------
    >>> import numpy as np
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=20, initial_samples=20, dimension=3)
    >>> simulate_regime_ols_reference(regime_spec(G), 2, np.random.default_rng(0), 8).shape
    (8, 3, 1)
    """
    T, K, d, R = int(generations), spec.K, spec.d, size
    Sig = np.eye(d) if spec.covariance is None else spec.covariance
    L = np.linalg.cholesky(Sig)
    s0 = math.sqrt(spec.noise_variance)
    designs = [rng.standard_normal((R, max(spec.initial[k], spec.total(k)), d)) @ L.T if spec.design_fixed[k] else None
               for k in range(K)]
    fixed_real: list[tuple[np.ndarray, np.ndarray] | None] = [None] * K
    pools: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(K)]
    risk = np.empty((R, T + 1, K))
    theta = np.zeros((K, R, d))

    def draw(k: int, n: int, a: int, producer: np.ndarray | None, s: float) -> tuple[np.ndarray, np.ndarray]:
        X = designs[k][:, a:a + n] if designs[k] is not None else rng.standard_normal((R, n, d)) @ L.T
        y = s * rng.standard_normal((R, n))
        if producer is not None:
            y += np.einsum("rnd,rd->rn", X, producer)
        return X, y

    for t in range(T + 1):
        new = np.empty_like(theta)
        for k in range(K):
            if t == 0:
                X, y = draw(k, spec.initial[k], 0, None, s0)
                batch = [(X, y, np.full(spec.initial[k], spec.real_weight[k]))]
            else:
                batch, a = [], 0
                for p in spec.parts[k]:
                    if p.source < 0 and spec.real_fixed[k]:
                        if fixed_real[k] is not None and spec.policy[k] != "replace":
                            a += p.count
                            continue  # a fixed real dataset enters the pool once
                        if fixed_real[k] is None:
                            fixed_real[k] = draw(k, p.count, a, None, math.sqrt(p.variance))
                        X, y = fixed_real[k]
                    else:
                        X, y = draw(k, p.count, a, None if p.source < 0 else theta[p.source], math.sqrt(p.variance))
                    batch.append((X, y, np.full(p.count, p.weight)))
                    a += p.count
            policy = spec.policy[k]
            pools[k] = batch if policy == "replace" else pools[k] + batch
            X = np.concatenate([b[0] for b in pools[k]], axis=1)
            y = np.concatenate([b[1] for b in pools[k]], axis=1)
            w = np.broadcast_to(np.concatenate([b[2] for b in pools[k]]), y.shape)
            N = spec.total(k)
            if policy == "accumulate-subsample" and t > 0 and X.shape[1] > N:
                pick = np.argsort(rng.random(y.shape), axis=1)[:, :N]
                X, y, w = np.take_along_axis(X, pick[:, :, None], axis=1), np.take_along_axis(y, pick, 1), \
                    np.take_along_axis(w, pick, 1)
            Xw = X * w[:, :, None]
            rhs = np.einsum("rnd,rn->rd", Xw, y)[:, :, None]
            new[k] = np.linalg.solve(np.matmul(Xw.transpose(0, 2, 1), X), rhs)[:, :, 0]
        theta = new
        risk[:, t, :] = np.einsum("krd,de,kre->rk", theta, Sig, theta)
    return risk


# ============================================================================ M-estimators
def _logistic_parts(eta: np.ndarray, yw: np.ndarray, _mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted logistic loss, its first and second derivatives in eta (``yw[..., 0]``
    the labels, ``yw[..., 1]`` the weights)."""
    y, w = yw[..., 0], yw[..., 1]
    p = 0.5 * (1.0 + np.tanh(0.5 * eta))
    return (w * (np.logaddexp(0.0, eta) - y * eta)).sum(axis=1), w * (p - y), w * p * (1.0 - p)


def _poisson_parts(eta: np.ndarray, yw: np.ndarray, _mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted Poisson loss (log link) and its derivatives in eta."""
    y, w = yw[..., 0], yw[..., 1]
    mu = np.exp(np.minimum(eta, 700.0))
    return (w * (mu - y * eta)).sum(axis=1), w * (mu - y), w * mu


def _huber_weighted(X: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Huber regression by IRLS from weighted least squares (IRLS weights
    ``w * min(1, c/|r|)``), the tolerance of :func:`~graphcollapse.verify.msimulate.fit_huber_batch`."""
    from .msimulate import MAX_IRLS, TOL, _gram, _matvec, _solve, _tmatvec

    theta, ok = _solve(_gram(X, w), _tmatvec(X, w * y))
    converged = np.zeros(X.shape[0], dtype=bool)
    active = ok.copy()
    for _ in range(MAX_IRLS):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Xa, ya, wa = X[idx], y[idx], w[idx]
        r = ya - _matvec(Xa, theta[idx])
        v = wa * np.minimum(1.0, c / np.maximum(np.abs(r), 1e-300))
        t_new, ok2 = _solve(_gram(Xa, v), _tmatvec(Xa, v * ya))
        change = np.max(np.abs(t_new - theta[idx]), axis=1)
        theta[idx] = np.where(ok2[:, None], t_new, theta[idx])
        done = ok2 & (change <= TOL * (1.0 + np.max(np.abs(t_new), axis=1)))
        converged[idx[done]] = True
        active[idx[done | ~ok2]] = False
    return theta, converged


def _weighted_fit(st: Any, X: np.ndarray | None, y: np.ndarray, w: np.ndarray | None,
                  custom: Any) -> tuple[np.ndarray, np.ndarray]:
    """The fit of :func:`~graphcollapse.verify.msimulate._fit` with per-sample loss
    weights ``w`` (R, N); unweighted (the same fitters) when ``w`` is None."""
    from .msimulate import HUBER_THRESHOLD, _damped_newton, _fit, _gram, _solve, _tmatvec

    if w is None:
        return _fit(st, X, y, custom)
    name = st.family.name
    if name == "location-scale":
        W = w.sum(axis=1)
        mu = (w * y).sum(axis=1) / W
        v = (w * (y - mu[:, None]) ** 2).sum(axis=1) / W
        return np.stack([mu, v], axis=1), np.isfinite(v)
    if name == "gaussian":
        return _solve(_gram(X, w), _tmatvec(X, w * y))
    if name in ("logistic", "poisson"):
        parts = _logistic_parts if name == "logistic" else _poisson_parts
        return _damped_newton(np.ascontiguousarray(X), np.stack([y, w], axis=-1), np.zeros((y.shape[0], st.p)), parts)
    if name == "huber":
        return _huber_weighted(X, y, w, float(HUBER_THRESHOLD) * math.sqrt(st.s2))
    raise GraphValueError(f"--estimator: loss weights are not simulated for {name!r} (use unit weights)")


def _check_mestimator_regime(spec: RegimeSpec, family: Any) -> None:
    """Refuse what the M-estimator simulators do not cover, in one line."""
    for k, fixed in enumerate(spec.design_fixed):
        if fixed:
            raise GraphValueError(f"design: 'fixed' (learner {spec.names[k]}) applies to --estimator ols; "
                                  f"the {family.name} simulator draws fresh covariates")
    weighted = any(w != 1.0 for w in spec.real_weight) or any(p.weight != 1.0 for ps in spec.parts for p in ps)
    if weighted and not family.builtin:
        raise GraphValueError("real_weight/weight: a custom loss is simulated with unit weights only; "
                              "set the weights to 1 or use a built-in family")


def simulate_regime_mestimator_block(graph: InteractionGraph, family: Any, generations: int, seed: int, block: int,
                                     size: int, *, theta: Any = None, scale: int = 1
                                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One replication block of an M-estimator under the regime of ``graph``, every
    count multiplied by ``scale`` (the counterpart of
    :func:`graphcollapse.verify.msimulate.simulate_block`, whose data and fitters it
    uses, with weighted fits and pools); its parameters and result are those of
    ``simulate_block``.

    Raises
    ------
    GraphValueError
        ``design: fixed``, or weights with a custom loss.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.mestimators import FAMILIES
    >>> G = self_training(real_samples=50, samples=50, initial_samples=100, dimension=1)
    >>> risk, failed, _ = simulate_regime_mestimator_block(G, FAMILIES["location-scale"], 2, 1, 0, 8)
    >>> risk.shape, bool(failed.any())
    ((8, 3, 1), False)
    """
    from .msimulate import _CustomFitter, _draw, _setup

    spec = regime_spec(graph).scaled(int(scale))
    _check_mestimator_regime(spec, family)
    st = _setup(graph, family, theta, scale)
    rng = block_generator(seed, block)
    K, T = spec.K, int(generations)
    custom = None if family.builtin else _CustomFitter(family, st.d if family.is_regression else 1)
    risk = np.zeros((size, T + 1, K))
    failed = np.zeros(size, dtype=bool)
    failures = np.zeros((T + 1, K), dtype=np.int64)
    ts = np.broadcast_to(st.theta_star, (size, st.p))
    prev = np.empty((K, size, st.p))
    pools: list[list[tuple[np.ndarray | None, np.ndarray, np.ndarray]]] = [[] for _ in range(K)]
    fixed_real: list[tuple[np.ndarray | None, np.ndarray] | None] = [None] * K
    for t in range(T + 1):
        cur = np.empty_like(prev)
        for k in range(K):
            if t == 0:
                X, y = _draw(st, rng, [(ts, spec.initial[k], st.s2)])
                batch = [(X, y, np.full(spec.initial[k], spec.real_weight[k]))]
            else:  # the fresh parts in one draw (the order of simulate_block), fixed real data first
                batch = []
                parts = spec.parts[k]
                if parts and parts[0].source < 0 and spec.real_fixed[k]:
                    if fixed_real[k] is None:
                        fixed_real[k] = _draw(st, rng, [(ts, parts[0].count, st.s2)])
                        batch.append((*fixed_real[k], np.full(parts[0].count, parts[0].weight)))
                    elif spec.policy[k] == "replace":  # accumulating: the dataset is in the pool once
                        batch.append((*fixed_real[k], np.full(parts[0].count, parts[0].weight)))
                    parts = parts[1:]
                if parts:
                    X, y = _draw(st, rng, [(ts if p.source < 0 else prev[p.source], p.count,
                                            st.s2 if p.source < 0 else float(st.synth_var[p.source])) for p in parts])
                    batch.append((X, y, np.concatenate([np.full(p.count, p.weight) for p in parts])))
            pools[k] = batch if spec.policy[k] == "replace" else pools[k] + batch
            y = np.concatenate([b[1] for b in pools[k]], axis=1) if len(pools[k]) > 1 else pools[k][0][1]
            X = None if pools[k][0][0] is None else (
                np.concatenate([b[0] for b in pools[k]], axis=1) if len(pools[k]) > 1 else pools[k][0][0])
            wv = np.concatenate([b[2] for b in pools[k]])
            w = None if np.all(wv == 1.0) else np.broadcast_to(wv, y.shape)
            N = spec.total(k)
            if spec.policy[k] == "accumulate-subsample" and t > 0 and y.shape[1] > N:
                pick = np.argpartition(rng.random(y.shape), N - 1, axis=1)[:, :N]
                y = np.take_along_axis(y, pick, axis=1)
                X = None if X is None else np.take_along_axis(X, pick[:, :, None], axis=1)
                w = None if w is None else np.take_along_axis(w, pick, axis=1)
            est, ok = _weighted_fit(st, X, y, w, custom)
            ok = ok & np.isfinite(est).all(axis=1)
            failures[t, k] = int(np.count_nonzero(~ok))
            failed |= ~ok
            est = np.where(ok[:, None], est, st.theta_star)  # keep numbers finite; row is excluded
            cur[k] = est
            e = est - st.theta_star
            risk[:, t, k] = np.einsum("rd,de,re->r", e, st.G, e)
        prev = cur
    return risk, failed, failures


# ============================================================================ memory
def regime_block_bytes(spec: RegimeSpec, generations: int, *, estimator: str = "ols", scale: int = 1,
                       width: int | None = None) -> int:
    r"""Bytes one replication block holds while simulated under ``spec``'s regime.

    OLS: the risks (T + 1 per learner, with the moments reduction's copies), per learner
    the sufficient statistics and factors (a few :math:`d \times d` matrices), a fixed
    design's rows (:math:`\max(n^0_k, N_k) \times d`), and for ``accumulate-subsample``
    the pool: :math:`(n^0_k + T N_k)(d + 2)` floats, which grows linearly with
    :math:`T`. M-estimators (``estimator`` not ``"ols"``, counts times ``scale``, each
    sample ``width`` floats wide): the pool of every accumulating learner and a
    replacing learner's batch, with the fitter's working copies.

    Parameters
    ----------
    spec : RegimeSpec
    generations : int
    estimator : str
    scale : int
    width : int, optional
        Floats per sample of an M-estimator (covariates and label); default d + 2.

    Returns
    -------
    int

    Examples
    --------
    >>> import dataclasses
    >>> from graphcollapse.theory.builders import self_training
    >>> spec = regime_spec(self_training(real_samples=0, samples=100, initial_samples=100, dimension=10))
    >>> regime_block_bytes(spec, 100) // 2**20
    2
    >>> sub = dataclasses.replace(spec, policy=("accumulate-subsample",))
    >>> regime_block_bytes(sub, 100) // 2**20
    243
    """
    T, d = int(generations), spec.d
    floats = 3 * (T + 1) * spec.K
    for k in range(spec.K):
        n0, N = spec.initial[k] * scale, spec.total(k) * scale
        if estimator == "ols":
            floats += (2 * len(spec.parts[k]) + 6) * d * d + 4 * d
            if spec.design_fixed[k]:
                floats += max(n0, N) * d
            if spec.policy[k] == "accumulate-subsample":
                floats += (n0 + T * N) * (d + 2) + 2 * N * (d + 1)
        else:
            wide = d + 2 if width is None else int(width)
            rows = N if spec.policy[k] == "replace" else n0 + T * N
            floats += 3 * rows * wide
    return BLOCK_SIZE * 8 * int(floats)


# ============================================================================ the theory
def _ols_theory(graph: InteractionGraph, generations: int, large_sample: bool) -> np.ndarray:
    """The OLS risks (T + 1, K) of :func:`graphcollapse.theory.regimes.regime_prediction`:
    exact where the exact theory closes, unless ``large_sample``."""
    from graphcollapse.theory.regimes import regime_prediction

    pred = regime_prediction(graph, generations, estimator="ols",
                             theory="large-sample" if large_sample else "default")
    return np.asarray(pred.risk, dtype=float)


# ============================================================================ simulators
class RegimeOLSSimulator:
    r"""Interactive weighted OLS under a graph's regime for
    :func:`graphcollapse.verify.driver.run`: the sufficient-statistics path of
    :func:`simulate_regime_ols_block`, compared with
    :func:`graphcollapse.theory.regimes.regime_prediction`.

    Where the exact theory closes
    (:func:`graphcollapse.theory.regimes.exact_theory_applies`) the rows are
    (generation, learner), as for the default regime, and a row is tested when the
    learner and all its ancestors have :math:`N_k, n^0_k \ge d + 8`
    (:func:`~graphcollapse.verify.montecarlo.reliable_learners`). Elsewhere the theory is
    the large-sample recursion, whose risks scale like :math:`1/n`: the simulation runs
    at sample-size scales (every count times :math:`s`) and compares :math:`s\,\hat R`
    with the prediction at the graph's counts, rows (scale, generation, learner) and the
    tested rule of the M-estimators (the largest scale), with their result class
    (:class:`~graphcollapse.verify.mcompare.MVerification`).

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
    chunk : int, optional
        Blocks per task of the driver (results do not depend on it); default 4.
    scales : None, str or sequence of int, optional
        Scales of a large-sample comparison (default ``1,4,16``); refused where the
        theory is exact.
    theory : {"default", "large-sample"}
        ``"default"``: exact where it closes; ``"large-sample"``: the large-sample theory
        over scales everywhere.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=10, samples=20, initial_samples=30, dimension=3)
    >>> sim = RegimeOLSSimulator(G.replace(data_policy="accumulate"), 2, scales="1,4")
    >>> sim.exact, [s.risk.shape for s in sim.simulate(0, [(0, 5), (1, 3)])]
    (False, [(5, 2, 3, 1), (3, 2, 3, 1)])
    """

    def __init__(self, graph: InteractionGraph, generations: int, chunk: int | None = None,
                 scales: Any = None, theory: str = "default") -> None:
        from graphcollapse.theory.regimes import exact_theory_applies

        from .mcompare import MIN_RELIABLE, parse_scales
        from .montecarlo import RELIABLE_MARGIN, reliable_learners

        self.generations = check_int(generations, "--generations", 0)
        self.spec = regime_spec(graph)
        _check_ols_counts(self.spec)
        self.names = self.spec.names
        self.chunk = 4 if chunk is None else check_int(chunk, "chunk", 1)
        if theory not in ("default", "large-sample"):
            raise GraphValueError(f"theory: expected 'default' or 'large-sample', found {theory!r}")
        self.exact, self.reason = exact_theory_applies(graph, "ols")
        self.exact = self.exact and theory == "default"
        if self.exact and scales is not None:
            raise GraphValueError(f"--scales: the theory of this regime is exact ({self.reason}); drop --scales "
                                  "(or add --large-sample)")
        self.scales = None if self.exact else parse_scales(scales)
        top = 1 if self.scales is None else max(self.scales)
        self.block_bytes = regime_block_bytes(self.spec.scaled(top), self.generations) * (
            1 if self.scales is None else len(self.scales))
        self._graph = graph
        self._reliable = reliable_learners(graph)
        self._theory: np.ndarray | None = None
        if self.exact:
            self.tested_rule = (f"the learner and all its ancestors have N_k and n0_k >= d + {RELIABLE_MARGIN} "
                                "(else its se is unreliable)")
        else:
            self.tested_rule = (f"it is at the largest scale ({top}) and at least {MIN_RELIABLE} replications were "
                                "used (the large-sample theory leaves an O(1/s) bias at smaller scales)")

    def _compute(self) -> np.ndarray:
        if self._theory is None:
            self._theory = _ols_theory(self._graph, self.generations, large_sample=not self.exact)
        return self._theory

    def prediction(self) -> np.ndarray:
        """The regime's risks, shape (T + 1, K), or (S, T + 1, K) over the scales."""
        risk = self._compute()
        if self.scales is None:
            return risk
        return np.broadcast_to(risk, (len(self.scales),) + risk.shape).copy()

    def tested(self, used: np.ndarray) -> np.ndarray:
        """Exact theory: every generation of the reliable learners; large-sample: the
        largest scale."""
        if self.scales is None:
            return np.broadcast_to(self._reliable[None, :], self._compute().shape)
        from .mcompare import MIN_RELIABLE

        top = (np.arange(len(self.scales)) == len(self.scales) - 1).reshape(-1, 1, 1)
        return top & (np.asarray(used) >= MIN_RELIABLE)

    def simulate(self, seed: int, blocks: Sequence[Block]) -> list[Sample]:
        """Each block (and each scale) from the block's own generator."""
        out = []
        for b, size in blocks:
            if self.scales is None:
                out.append(Sample(simulate_regime_ols_block(self.spec, self.generations, block_generator(seed, b),
                                                            size)))
                continue
            risk = np.stack([s * simulate_regime_ols_block(self.spec.scaled(s), self.generations,
                                                           block_generator(seed, b), size)
                             for s in self.scales], axis=1)
            out.append(Sample(risk))
        return out

    def result(self, stats: dict[str, Any]) -> Verification:
        if self.scales is None:
            return Verification(estimator="ols", theory_name="exact", names=self.names,
                                tested_rule=self.tested_rule, **stats)
        from .mcompare import MVerification

        return MVerification(estimator="ols", theory_name="large-sample", names=self.names,
                             tested_rule=self.tested_rule, scales=self.scales, theta=(),
                             sandwich={"note": "OLS: no sandwich (the large-sample regime recursion, docs/regimes.md)"},
                             **stats)


class RegimeMSimulator(MSimulator):
    r"""An M-estimator family under a graph's regime for
    :func:`graphcollapse.verify.driver.run`: the rows, scales and tested rule of
    :class:`~graphcollapse.verify.mcompare.MSimulator`, the risks of
    :func:`simulate_regime_mestimator_block`, and the asymptotic theory of
    :func:`graphcollapse.theory.regimes.regime_m_prediction`, both at the given
    :math:`\theta^*`.

    Parameters
    ----------
    graph : InteractionGraph
    family : Family
    generations : int
    theta : None, str or sequence, optional
        :math:`\theta^*` (default: the family's), as for ``MSimulator``.
    scales : None, str or sequence of int, optional

    Examples
    --------
    Poisson regression accumulating its own outputs and real data, at
    :math:`\theta^* = 1/2` (the family's default is 1): the n-scaled risks at the
    graph's counts, then one block of 8 replications at the scales 1 and 4:

    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.mestimators import FAMILIES
    >>> G = self_training(real_samples=50, samples=50, initial_samples=100, dimension=1)
    >>> sim = RegimeMSimulator(G.replace(data_policy="accumulate"), FAMILIES["poisson"], 2, theta="0.5",
    ...                        scales="1,4")
    >>> sim.theta, sim.prediction()[0, :, 0].round(5)
    ((1/2,), array([0.00706, 0.00574, 0.00477]))
    >>> sim.simulate(0, [(0, 8)])[0].risk.shape
    (8, 2, 3, 1)
    """

    def __init__(self, graph: InteractionGraph, family: Any, generations: int, theta: Any = None,
                 scales: Any = None) -> None:
        if not family.builtin:
            raise GraphValueError("--estimator custom: the regime theory covers the built-in families; a custom "
                                  "loss is verified in the default regime (data_policy replace, fresh data, unit "
                                  "weights)")
        super().__init__(graph, family, generations, theta, scales)
        self.spec = regime_spec(graph)
        _check_mestimator_regime(self.spec, family)
        width = (int(graph.dimension) + 2) if family.is_regression else 2
        self.block_bytes = regime_block_bytes(self.spec, self.generations, estimator=family.name,
                                              scale=max(self.scales), width=width) * len(self.scales)

    def _predict(self) -> Any:
        """The asymptotic regime theory at the run's theta*
        (:func:`graphcollapse.theory.regimes.regime_m_prediction`)."""
        from graphcollapse.theory.regimes import regime_m_prediction

        return regime_m_prediction(self.graph, self.family, self.generations, self.theta)

    def simulate(self, seed: int, blocks: Sequence[Block]) -> list[Sample]:
        """Per block: the n-scaled risks at every scale, (n, S, T + 1, K), and which
        replications fitted at each scale, (n, S)."""
        out = []
        for b, size in blocks:
            runs = [simulate_regime_mestimator_block(self.graph, self.family, self.generations, seed, b, size,
                                                     theta=self.theta, scale=s) for s in self.scales]
            risk = np.stack([r * s for (r, _, _), s in zip(runs, self.scales)], axis=1)
            out.append(Sample(risk, ~np.stack([failed for _, failed, _ in runs], axis=1)))
        return out


def verify_regime(graph: InteractionGraph, estimator: Any = "ols", *, generations: int, replications: int,
                  seed: int | None = None, workers: int = 1, progress: Callable[[int, int], None] | None = None,
                  theory: str = "exact", chunk: int | None = None, theta: Any = None, scales: Any = None,
                  loss_file: Any = None, max_memory: int | None = None) -> Verification:
    r"""Simulate ``estimator`` on ``graph`` under its data regime and loss weights and
    compare with the regime theory (:mod:`graphcollapse.theory.regimes`), through the
    one driver (same statistics, Bonferroni rule and JSON as every ``verify``).

    :func:`graphcollapse.verify.verify` sends every graph with a non-default regime
    here; the parameters, the result and the errors are those documented there, read
    as follows for a regime graph:

    * ``theory`` (OLS): ``"exact"`` (the default) compares with the exact regime theory
      where it closes and with the large-sample one elsewhere, over sample-size scales
      (:class:`RegimeOLSSimulator`); ``"large-sample"`` (``--large-sample``) compares
      every regime with the large-sample theory over scales;
    * ``scales``: the sample-size scales of an M-estimator, or of an OLS comparison with
      the large-sample theory (refused where the theory is exact);
    * ``theta`` (M-estimators): :math:`\theta^*`, at which the simulation draws its data
      and the asymptotic regime theory
      (:func:`graphcollapse.theory.regimes.regime_m_prediction`) is evaluated;
    * ``max_memory`` counts the pools of ``accumulate-subsample`` (:func:`regime_block_bytes`).

    A custom loss, a fixed design with an M-estimator and a pool beyond the memory
    budget are refused in one line (``GraphValueError``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=2)
    >>> verify_regime(G, generations=2, replications=512, seed=3).completed
    512
    """
    from .estimators import Estimator
    from .montecarlo import _check_graph

    _check_graph(graph)
    est = Estimator.parse(estimator, loss_file)
    check_int(replications, "--replications", 2)
    check_int(workers, "--workers", 1)
    check_seed(seed)
    if est is Estimator.OLS:
        if theta is not None or loss_file is not None:
            raise GraphValueError("--theta and --loss apply to M-estimators; add --estimator NAME")
        if theory not in ("exact", "large-sample"):
            raise GraphValueError(f"theory: expected 'exact' or 'large-sample', found {theory!r}")
        simulator: Any = RegimeOLSSimulator(graph, generations, chunk, scales,
                                            "large-sample" if theory == "large-sample" else "default")
        return run(simulator, replications=replications, seed=seed, workers=workers, progress=progress,
                   max_memory=max_memory)
    if theory != "exact" or chunk is not None:
        raise GraphValueError("theory and chunk apply to --estimator ols (M-estimators use the asymptotic theory)")
    from .mcompare import run_msimulator

    return run_msimulator(RegimeMSimulator(graph, est.family(loss_file), generations, theta, scales),
                          replications=replications, seed=seed, workers=workers, progress=progress,
                          max_memory=max_memory)
