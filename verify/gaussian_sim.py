r"""Monte Carlo simulator of Gaussian fits on interaction graphs (``docs/gaussian.md``).

Every generation, learner :math:`k` pools :math:`m_k` fresh samples of the truth
:math:`N(0, \Sigma)` (:func:`graphcollapse.theory.gaussian.truth_covariance`) and, for every
edge :math:`j \to k`, :math:`n_{jk}` fresh samples of :math:`N(\mu_j, \Sigma_j)` of the
previous generation, then fits the sample mean and the pooled scatter divided by
:math:`N_k` (``"mle"``) or :math:`N_k - 1` (``"unbiased"``). All replications are
simulated at once (arrays of shape ``(R, N, d)``).

Metrics per learner, generation and replication (:data:`METRICS`): squared error of the
mean, trace and log-determinant of the covariance, squared Frobenius error of the
covariance, squared Wasserstein-2 distance and KL divergence
:math:`\mathrm{KL}(N(\mu_k, \Sigma_k)\,\|\,N(\mu^*, \Sigma))` to the truth. The
Wasserstein term :math:`\operatorname{tr}(\Sigma^{1/2}\Sigma_k\Sigma^{1/2})^{1/2}` uses the
eigenvalues of the symmetric matrix (batched ``numpy.linalg.eigvalsh``; the same value
as ``scipy.linalg.sqrtm`` for positive semidefinite matrices, which a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.gaussian import divisor_offset, truth_covariance
from graphcollapse.theory.graph import InteractionGraph

__all__ = ["METRICS", "GaussianSimulation", "simulate_gaussian", "gaussian_metrics"]

#: Metric name -> description.
METRICS = {
    "mean_squared_error": "||mu_k - mu*||^2",
    "covariance_trace": "tr Sigma_k",
    "log_det": "log det Sigma_k",
    "covariance_error": "||Sigma_k - Sigma||_F^2",
    "wasserstein2": "W_2^2(N(mu_k, Sigma_k), N(mu*, Sigma))",
    "kl": "KL(N(mu_k, Sigma_k) || N(mu*, Sigma))",
}


@dataclass(frozen=True)
class GaussianSimulation:
    """Result of :func:`simulate_gaussian`: ``values[metric]`` has shape ``(T + 1, K, R)``."""

    names: tuple[str, ...]
    estimator: str
    dimension: int
    generations: int
    replications: int
    seed: int
    values: dict[str, np.ndarray] = field(repr=False)

    def mean(self, metric: str) -> np.ndarray:
        """Monte Carlo mean, shape ``(T + 1, K)`` (non-finite values, e.g. the log
        determinant of a covariance that underflowed, are excluded)."""
        return np.nanmean(np.where(np.isfinite(self.values[metric]), self.values[metric], np.nan), axis=2)

    def stderr(self, metric: str) -> np.ndarray:
        """Standard error of :meth:`mean`, shape ``(T + 1, K)``."""
        x = np.where(np.isfinite(self.values[metric]), self.values[metric], np.nan)
        n = np.sum(np.isfinite(x), axis=2)
        return np.nanstd(x, axis=2, ddof=1) / np.sqrt(np.maximum(n, 1))


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    """Symmetric square roots of a batch of positive semidefinite matrices (R, d, d)."""
    w, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(V, -1, -2)


def gaussian_metrics(mu: np.ndarray, S: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    r"""The metrics of :data:`METRICS` for fits ``mu`` (R, d), ``S`` (R, d, d) against
    :math:`N(0, \Sigma)` with :math:`\Sigma` = ``truth``.

    Examples
    --------
    >>> import numpy as np
    >>> out = gaussian_metrics(np.zeros((1, 2)), np.eye(2)[None] * 4.0, np.eye(2))
    >>> round(float(out["wasserstein2"][0]), 6), round(float(out["kl"][0]), 6)
    (2.0, 1.613706)
    """
    d = truth.shape[0]
    root = _sqrt_psd(truth[None])[0]
    inv = np.linalg.inv(truth)
    _, logdet_truth = np.linalg.slogdet(truth)
    sign, logdet = np.linalg.slogdet(S)
    logdet = np.where(sign > 0, logdet, -np.inf)
    mse = np.einsum("ri,ri->r", mu, mu)
    C = root @ S @ root
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((C + np.swapaxes(C, -1, -2)) / 2), 0.0, None)).sum(axis=-1)
    trS = np.trace(S, axis1=1, axis2=2)
    w2 = mse + trS + np.trace(truth) - 2.0 * cross
    maha = np.einsum("ri,ij,rj->r", mu, inv, mu)
    with np.errstate(invalid="ignore"):
        kl = 0.5 * (np.einsum("ij,rji->r", inv, S) + maha - d + logdet_truth - logdet)
    return {"mean_squared_error": mse, "covariance_trace": trS, "log_det": logdet,
            "covariance_error": np.sum((S - truth) ** 2, axis=(1, 2)), "wasserstein2": np.maximum(w2, 0.0),
            "kl": kl}


def simulate_gaussian(graph: InteractionGraph, generations: int, replications: int, *,
                      estimator: str = "mle", dimension: int = 1, seed: Any = None) -> GaussianSimulation:
    r"""Simulate Gaussian fits on ``graph`` for ``generations`` generations.

    Parameters
    ----------
    graph : InteractionGraph
        Counts as in the graph format; the truth is :math:`N(0, \Sigma)` with
        :math:`\Sigma` = :func:`~graphcollapse.theory.gaussian.truth_covariance`.
    generations, replications : int
    estimator : {"mle", "unbiased"}
    dimension : int
        d (1: the univariate fit of mean and variance).
    seed : int, optional
        Seed of ``numpy.random.default_rng`` (drawn and recorded when omitted).

    Returns
    -------
    GaussianSimulation

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> sim = simulate_gaussian(self_training(samples=10, initial_samples=10), 3, 4000,
    ...                         estimator="unbiased", seed=1)
    >>> sim.mean("covariance_trace").shape
    (4, 1)
    >>> bool(abs(sim.mean("mean_squared_error")[3, 0] - 0.4) < 4 * sim.stderr("mean_squared_error")[3, 0])
    True
    """
    c = divisor_offset(estimator)
    T, R = int(generations), int(replications)
    if T < 0 or R < 2:
        raise GraphValueError(f"replications: expected generations >= 0 and replications >= 2, found {T}, {R}")
    if graph.is_symbolic:
        raise GraphValueError("graph: simulation needs numeric sample counts")
    truth = np.array(truth_covariance(graph, dimension).tolist(), dtype=float)
    d = truth.shape[0]
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)
    rng = np.random.default_rng(seed)
    K = graph.num_learners
    L_truth = np.linalg.cholesky(truth)
    inn: list[list[tuple[int, int]]] = [[] for _ in range(K)]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        inn[int(t)].append((int(s), int(n)))
    for k, name in enumerate(graph.names):
        if int(graph.total_samples[k]) - c < 1 or int(graph.initial_samples[k]) - c < 1:
            raise GraphValueError(f"samples of {name}: the {estimator} covariance needs more than {c} samples")
    values = {m: np.empty((T + 1, K, R)) for m in METRICS}

    def fit(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        X = np.concatenate(blocks, axis=1)
        mu = X.mean(axis=1)
        Y = X - mu[:, None, :]
        return mu, np.einsum("rni,rnj->rij", Y, Y) / (X.shape[1] - c)

    def real(n: int) -> np.ndarray:
        return rng.standard_normal((R, n, d)) @ L_truth.T

    mus, covs = [], []
    for k in range(K):
        mu, S = fit([real(int(graph.initial_samples[k]))])
        mus.append(mu)
        covs.append(S)
    for t in range(T + 1):
        if t:
            roots = [_sqrt_psd(S) for S in covs]
            new_mu, new_cov = [], []
            for k in range(K):
                blocks = [real(int(graph.real_samples[k]))] if int(graph.real_samples[k]) else []
                for j, n in inn[k]:
                    blocks.append(mus[j][:, None, :] + rng.standard_normal((R, n, d)) @ np.swapaxes(roots[j], 1, 2))
                mu, S = fit(blocks)
                new_mu.append(mu)
                new_cov.append(S)
            mus, covs = new_mu, new_cov
        for k in range(K):
            for m, v in gaussian_metrics(mus[k], covs[k], truth).items():
                values[m][t, k] = v
    return GaussianSimulation(tuple(graph.names), estimator, d, T, R, int(seed), values)
