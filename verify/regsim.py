r"""Simulators of the data regimes and loss weights (``docs/regimes.md``), behind the
verification driver.

**The process.** Learner :math:`k` has a *generation-0 batch* of :math:`n^0_k` real
samples and, at every generation :math:`t \ge 1`, a *generation-t batch*: a real part of
:math:`m_k` samples and, for every edge :math:`j \to k`, a synthetic part of
:math:`n_{jk}` samples labelled by :math:`\theta_j^{(t-1)}` (noise variance
:math:`\sigma_j^2`). Per learner:

* ``data_policy``: ``replace`` fits on the generation-t batch; ``accumulate`` on the
  union of the batches of generations :math:`0, \dots, t` (the *pool*);
  ``accumulate-subsample`` on :math:`N_k` samples drawn uniformly without replacement
  from the pool (the whole pool at :math:`t = 0`);
* ``real_data``: ``fresh`` draws the real part anew every generation; ``fixed`` draws it
  once (covariates and labels) and puts the same :math:`m_k` samples in every
  generation-t batch;
* ``design`` (OLS): ``fresh`` draws every covariate anew; ``fixed`` draws learner
  :math:`k`'s covariates once: a matrix of :math:`\max(n^0_k, N_k)` rows whose first
  :math:`n^0_k` rows are the generation-0 design and whose first :math:`N_k` rows are the
  design of every generation-t batch (real rows first, then the edges in edge order).
  Labels are fresh (except fixed real data). A learner with :math:`n^0_k = N_k` thus
  sees one design throughout, the setting of Gerstgrasser et al. (2024);
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
are drawn once and added every generation.

**The pool (accumulate-subsample).** A subsample needs the individual samples of every
generation, so a learner under ``accumulate-subsample`` keeps its pool: :math:`n^0_k +
T N_k` rows of :math:`d + 2` floats (covariates, label, weight) per replication, i.e.
:math:`8 \cdot 256 (n^0_k + T N_k)(d + 2)` bytes per block of 256 replications,
growing linearly with :math:`T`. :func:`regime_block_bytes` adds this up and the driver
refuses a run whose block does not fit ``--max-memory`` before anything is simulated.

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

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator
from .driver import Block, Sample, Verification, check_int, check_seed, run

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


# ============================================================================ OLS: draws
def _bartlett(rng: np.random.Generator, R: int, n: int, d: int) -> np.ndarray:
    r"""``R`` factors :math:`F` with :math:`FF^\top \sim \mathrm{Wishart}_d(n, I)`:
    Bartlett's lower-triangular factor when :math:`n \ge d`, else :math:`X^\top`
    (:math:`d \times n`) of a Gaussian design."""
    if n < d:
        return rng.standard_normal((R, n, d)).transpose(0, 2, 1)
    F = np.zeros((R, d, d))
    idx = np.arange(d)
    F[:, idx, idx] = np.sqrt(rng.chisquare(n - idx, size=(R, d)))
    low = np.tril_indices(d, -1)
    if low[0].size:
        F[:, low[0], low[1]] = rng.standard_normal((R, low[0].size))
    return F


def _factor_of(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Gram, factor) of fixed rows ``X`` (R, n, d): the Cholesky factor when n >= d,
    else X^T."""
    G = np.matmul(X.transpose(0, 2, 1), X)
    if X.shape[1] >= X.shape[2]:
        return G, np.linalg.cholesky(G)
    return G, np.ascontiguousarray(X.transpose(0, 2, 1))


def _mv(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched A v: (R, a, b), (R, b) -> (R, a)."""
    return np.matmul(A, v[:, :, None])[:, :, 0]


def _mtv(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched A^T v: (R, a, b), (R, a) -> (R, b)."""
    return np.matmul(v[:, None, :], A)[:, 0, :]


class _OLSLearner:
    """One learner's state in the sufficient-statistics path (whitened coordinates)."""

    def __init__(self, spec: RegimeSpec, k: int, rng: np.random.Generator, R: int, generations: int) -> None:
        self.k, self.R, self.d = k, R, spec.d
        self.parts = spec.parts[k]
        self.policy = spec.policy[k]
        self.real_fixed = spec.real_fixed[k]
        self.s0 = math.sqrt(spec.noise_variance)
        self.w0 = spec.real_weight[k]
        self.n0 = spec.initial[k]
        self.N = spec.total(k)
        self.fixed: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.fixed0: tuple[np.ndarray, np.ndarray] | None = None
        self.X: np.ndarray | None = None
        if spec.design_fixed[k]:  # one design, drawn once: rows [0, n0) at t = 0, [0, N) later
            X = rng.standard_normal((R, max(self.n0, self.N), self.d))
            self.X = X
            self.fixed0 = _factor_of(X[:, :self.n0])
            bounds = np.cumsum([0] + [p.count for p in self.parts])
            self.fixed = [_factor_of(X[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        self.real: tuple[np.ndarray, np.ndarray] | None = None  # fixed real data: (G, u), drawn once
        self.G: np.ndarray | None = None
        self.b: np.ndarray | None = None
        if self.policy == "accumulate-subsample":
            rows = self.n0 + int(generations) * self.N  # the whole pool, allocated once
            self.pool_X = np.empty((R, rows, self.d))
            self.pool_y = np.empty((R, rows))
            self.pool_w = np.empty(rows)
            self.size = 0

    # -- the sufficient statistics of a part ------------------------------------------
    def _part(self, rng: np.random.Generator, i: int, prev: np.ndarray | None, n: int, s: float,
              ) -> tuple[np.ndarray, np.ndarray]:
        """(G_b, u_b) of part ``i`` (-1: generation 0) with producer errors ``prev``."""
        if self.fixed is not None:
            G, F = self.fixed0 if i < 0 else self.fixed[i]
        else:
            F = _bartlett(rng, self.R, n, self.d)
            G = np.matmul(F, F.transpose(0, 2, 1))
        v = s * rng.standard_normal((self.R, F.shape[2]))
        if prev is not None:
            v += _mtv(F, prev)
        return G, _mv(F, v)

    def batch(self, rng: np.random.Generator, t: int, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum w G, sum w u) of the generation-t batch."""
        if t == 0:
            G, u = self._part(rng, -1, None, self.n0, self.s0)
            return self.w0 * G, self.w0 * u
        Gs = np.zeros((self.R, self.d, self.d))
        us = np.zeros((self.R, self.d))
        for i, p in enumerate(self.parts):
            if p.source < 0 and self.real_fixed:
                if self.real is None:
                    self.real = self._part(rng, i, None, p.count, math.sqrt(p.variance))
                G, u = self.real
            else:
                G, u = self._part(rng, i, None if p.source < 0 else errors[p.source], p.count, math.sqrt(p.variance))
            Gs += p.weight * G
            us += p.weight * u
        return Gs, us

    # -- the explicit rows of a part (accumulate-subsample) --------------------------
    def _rows(self, rng: np.random.Generator, i: int, prev: np.ndarray | None, n: int, s: float,
              a: int) -> tuple[np.ndarray, np.ndarray]:
        """Covariates and labels (in error coordinates) of part ``i`` starting at design row ``a``."""
        X = self.X[:, a:a + n] if self.X is not None else rng.standard_normal((self.R, n, self.d))
        y = s * rng.standard_normal((self.R, n))
        if prev is not None:
            y += np.matmul(X, prev[:, :, None])[:, :, 0]
        return X, y

    def rows(self, rng: np.random.Generator, t: int, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, y, w) of the generation-t batch as explicit rows."""
        if t == 0:
            X, y = self._rows(rng, -1, None, self.n0, self.s0, 0)
            return X, y, np.full(self.n0, self.w0)
        Xs, ys, ws, a = [], [], [], 0
        for i, p in enumerate(self.parts):
            if p.source < 0 and self.real_fixed:
                if self.real is None:
                    self.real = self._rows(rng, i, None, p.count, math.sqrt(p.variance), a)
                X, y = self.real
            else:
                X, y = self._rows(rng, i, None if p.source < 0 else errors[p.source], p.count,
                                  math.sqrt(p.variance), a)
            Xs.append(X)
            ys.append(y)
            ws.append(np.full(p.count, p.weight))
            a += p.count
        return np.concatenate(Xs, axis=1), np.concatenate(ys, axis=1), np.concatenate(ws)

    def _grow(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Append a batch to the pool (allocated once for all generations)."""
        a, n = self.size, X.shape[1]
        self.pool_X[:, a:a + n] = X
        self.pool_y[:, a:a + n] = y
        self.pool_w[a:a + n] = w
        self.size += n

    # -- one fit ------------------------------------------------------------------------
    def fit(self, rng: np.random.Generator, t: int, errors: np.ndarray | None) -> np.ndarray:
        """This learner's error at generation ``t`` given last generation's ``errors``."""
        if self.policy == "accumulate-subsample":
            self._grow(*self.rows(rng, t, errors))
            P = self.size
            if t == 0 or P <= self.N:
                X, y, w = self.pool_X[:, :P], self.pool_y[:, :P], np.broadcast_to(self.pool_w[:P], (self.R, P))
            else:  # N of the P rows, uniformly without replacement, per replication
                pick = np.argpartition(rng.random((self.R, P)), self.N - 1, axis=1)[:, :self.N]
                X = np.take_along_axis(self.pool_X[:, :P], pick[:, :, None], axis=1)
                y = np.take_along_axis(self.pool_y[:, :P], pick, axis=1)
                w = self.pool_w[pick]
            Xw = X * w[:, :, None]
            return np.linalg.solve(np.matmul(Xw.transpose(0, 2, 1), X), _mtv(Xw, y)[:, :, None])[:, :, 0]
        G, u = self.batch(rng, t, errors)
        if self.policy == "accumulate":
            if self.G is None:
                self.G, self.b = G, u
            else:
                self.G = self.G + G
                self.b = self.b + u
            G, u = self.G, self.b
        return np.linalg.solve(G, u[:, :, None])[:, :, 0]


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
    T, K = int(generations), spec.K
    learners = [_OLSLearner(spec, k, rng, size, T) for k in range(K)]
    risk = np.empty((size, T + 1, K))
    errors: np.ndarray | None = None
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
    check of the sufficient statistics.

    Parameters
    ----------
    spec : RegimeSpec
    generations : int
    rng : numpy.random.Generator
    size : int

    Returns
    -------
    ndarray, shape (size, T + 1, K)

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
            new[k] = np.linalg.solve(np.matmul(Xw.transpose(0, 2, 1), X), np.einsum("rnd,rn->rd", Xw, y)[:, :, None])[:, :, 0]
        theta = new
        risk[:, t, :] = np.einsum("krd,de,kre->rk", theta, Sig, theta)
    return risk
