r"""Batched Monte Carlo simulators of M-estimators on interaction graphs.

Every generation, learner :math:`k` fits its estimator on ``m_k`` fresh real samples
from :math:`P_{\theta^*}` and, for every edge :math:`j \to k`, ``n_jk`` fresh samples
from learner :math:`j`'s fitted model of the previous generation
(:data:`graphcollapse.theory.mestimators.MODELS`). All replications of a block are simulated at once:
closed forms for Gaussian regression and location-scale, batched damped Newton for
logistic and Poisson regression and for custom losses, batched IRLS for Huber.

Replications follow the block/seed scheme of :mod:`graphcollapse.verify.blocks`: block ``b`` draws
from ``block_generator(seed, b)`` only, so results do not depend on how blocks are
grouped or spread over workers.

A fit that does not converge (or a logistic fit on separated data, whose maximum
likelihood estimate does not exist) marks its replication as *failed*: failed
replications are excluded from the averages, counted per learner and generation, and
reported through :class:`MEstimatorConvergenceWarning`; they never turn into silent NaN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from graphcollapse.theory.errors import GraphCollapseWarning, GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.mestimators import Family, HUBER_THRESHOLD, derive_score_and_hessian, get_family, parse_theta

from .blocks import block_generator, draw_seed, replication_blocks

__all__ = ["MEstimatorConvergenceWarning", "MSimulation", "simulate_mestimator", "simulate_block",
           "fit_logistic_batch", "fit_poisson_batch", "fit_huber_batch"]

MAX_NEWTON = 60
MAX_IRLS = 200
TOL = 1e-10
NEWTON_TOL = 1e-5  # quadratic convergence: the error left after a step this small is ~1e-10
NEWTON_CHUNK = 64  # data sets per Newton chunk (keeps the working set in cache)
DIVERGED = 1e4  # |theta| beyond this: separated / diverged


class MEstimatorConvergenceWarning(GraphCollapseWarning):
    """Some fits did not converge (or the data were separated); those replications were
    excluded from the averages and counted in the result."""


# --------------------------------------------------------------------------- fitters
def _matvec(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(R, N, d) x (R, d) -> (R, N) through batched BLAS."""
    return np.matmul(X, t[:, :, None])[:, :, 0]


def _tmatvec(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """X^T v per batch: (R, N, d), (R, N) -> (R, d)."""
    return np.matmul(v[:, None, :], X)[:, 0, :]


def _gram(X: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """X^T diag(w) X per batch: (R, N, d) -> (R, d, d)."""
    Xw = X if w is None else X * w[:, :, None]
    return np.matmul(Xw.transpose(0, 2, 1), X)


def _solve(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched solve H x = g; rows with a singular H get x = 0 and ok = False."""
    ok = np.isfinite(H).all(axis=(1, 2)) & np.isfinite(g).all(axis=1)
    x = np.zeros_like(g)
    if ok.any():
        try:
            x[ok] = np.linalg.solve(H[ok], g[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:
            for i in np.flatnonzero(ok):
                try:
                    x[i] = np.linalg.solve(H[i], g[i])
                except np.linalg.LinAlgError:
                    ok[i] = False
    return x, ok


def _damped_newton(X: np.ndarray, y: np.ndarray, theta0: np.ndarray,
                   parts: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Batched Newton with step halving for a GLM-type loss sum_i l(y_i, eta_i).

    ``parts(eta, y, mask)`` returns (loss per row, dl/deta, d2l/deta2). Returns
    (theta, converged)."""
    R = X.shape[0]
    theta = theta0.copy()
    converged = np.zeros(R, dtype=bool)
    active = np.ones(R, dtype=bool)
    for _ in range(MAX_NEWTON):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Xa, ya, ta = X[idx], y[idx], theta[idx]
        eta = _matvec(Xa, ta)
        f, g1, g2 = parts(eta, ya, None)
        grad = _tmatvec(Xa, g1)
        H = _gram(Xa, g2)
        step, ok = _solve(H, grad)
        t_new = ta - step
        # step halving until the loss does not increase (at most 20 times)
        for _h in range(20):
            f_new = parts(_matvec(Xa, t_new), ya, None)[0]
            bad = ~(f_new <= f + 1e-12 * np.abs(f)) & ok
            if not bad.any():
                break
            step[bad] *= 0.5
            t_new[bad] = ta[bad] - step[bad]
        theta[idx] = np.where(ok[:, None], t_new, ta)
        done = ok & (np.max(np.abs(step), axis=1) <= TOL * (1.0 + np.max(np.abs(t_new), axis=1)))
        diverged = ~ok | (np.max(np.abs(t_new), axis=1) > DIVERGED)
        converged[idx[done & ~diverged]] = True
        active[idx[done | diverged]] = False
    return theta, converged


def _logistic_parts(eta: np.ndarray, y: np.ndarray, _mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = 0.5 * (1.0 + np.tanh(0.5 * eta))  # stable sigmoid
    f = (np.logaddexp(0.0, eta) - y * eta).sum(axis=1)
    return f, p - y, p * (1.0 - p)


def _poisson_parts(eta: np.ndarray, y: np.ndarray, _mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = np.exp(np.minimum(eta, 700.0))
    return (mu - y * eta).sum(axis=1), mu - y, mu


def _newton_full_batch(X: np.ndarray, y: np.ndarray,
                       weights: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Undamped Newton on a batch, in cache-sized chunks of :data:`NEWTON_CHUNK` data sets.

    The products x_i x_j (i <= j) are formed once per chunk in a (R, d(d+1)/2, N)
    layout, so each Hessian is one batched matrix-vector product. ``weights(eta, y)``
    returns (dl/deta, d2l/deta2). Rows whose iterates leave ``DIVERGED`` or whose
    Hessian is singular (separated data) are frozen as failures. Stopping rule: Newton
    converges quadratically, so once the step is below :data:`NEWTON_TOL` the error left
    after taking it is of order ``NEWTON_TOL**2`` (relative)."""
    R, N, d = X.shape
    if R > NEWTON_CHUNK:
        parts = [_newton_full_batch(X[i:i + NEWTON_CHUNK], y[i:i + NEWTON_CHUNK], weights)
                 for i in range(0, R, NEWTON_CHUNK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    iu, ju = np.triu_indices(d)
    Xt = np.ascontiguousarray(X.transpose(0, 2, 1))  # (R, d, N)
    # Hessian in float32 (inexact Newton: the gradient stays float64, so the fixed point is
    # the float64 MLE; a relative Hessian error ~1e-6 only turns the last quadratic step
    # into a linear one with rate ~1e-6)
    Xt32 = Xt.astype(np.float32)
    XX = Xt32[:, iu, :] * Xt32[:, ju, :]  # (R, d(d+1)/2, N)
    theta = np.zeros((R, d))
    converged = np.zeros(R, dtype=bool)
    failed = np.zeros(R, dtype=bool)
    eye = np.eye(d)
    H = np.empty((R, d, d))
    for _ in range(MAX_NEWTON):
        eta = np.matmul(theta[:, None, :], Xt)[:, 0, :]
        g1, g2 = weights(eta, y)
        grad = np.matmul(Xt, g1[:, :, None])[:, :, 0]
        Hu = np.matmul(XX, g2.astype(np.float32)[:, :, None])[:, :, 0]
        H[:, iu, ju] = Hu
        H[:, ju, iu] = Hu
        frozen = converged | failed
        if frozen.any():
            H[frozen] = eye
            grad[frozen] = 0.0
        try:  # fast path; NaN rows come out as NaN and fail below
            step = np.linalg.solve(H, grad[:, :, None])[:, :, 0]
            ok = np.ones(R, dtype=bool)
        except np.linalg.LinAlgError:  # some Hessian exactly singular
            step, ok = _solve(H, grad)
        theta -= step
        size = np.abs(theta).max(axis=1)
        failed |= ~ok | ~(size <= DIVERGED)  # also catches NaN
        theta[failed] = 0.0
        converged |= ~failed & (np.abs(step).max(axis=1) <= NEWTON_TOL * (1.0 + size))
        if (converged | failed).all():
            break
    return theta, converged & ~failed


def _logistic_weights(eta: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # sigmoid(eta) = (1 + tanh(eta / 2)) / 2 and sigmoid' = (1 - tanh^2) / 4: numpy's
    # vectorised tanh is about 3x faster than scipy.special.expit on these arrays
    t = np.tanh(np.multiply(eta, 0.5, out=eta), out=eta)
    w = np.multiply(t, t)
    np.subtract(1.0, w, out=w)
    w *= 0.25
    t *= 0.5
    t += 0.5
    return np.subtract(t, y, out=t), w


def fit_logistic_batch(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Maximum-likelihood logistic regression for a batch of data sets at once.

    Newton from :math:`\theta = 0` on the whole batch (the log-likelihood is concave),
    stops once the relative step is below 1e-5 (quadratic convergence: the error
    left after that step is of order 1e-10); separated data (no finite maximiser: the
    iterates diverge or the Hessian becomes singular) end as not converged.

    Parameters
    ----------
    X : ndarray, shape (R, N, d)
    y : ndarray, shape (R, N), values 0/1

    Returns
    -------
    theta : ndarray, shape (R, d)
    converged : ndarray of bool, shape (R,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((4, 2000, 2))
    >>> y = (rng.random((4, 2000)) < 1 / (1 + np.exp(-X @ np.array([1.0, -0.5])))).astype(float)
    >>> theta, ok = fit_logistic_batch(X, y)
    >>> bool(ok.all()), bool(np.abs(theta - [1.0, -0.5]).max() < 0.2)
    (True, True)
    """
    return _newton_full_batch(X, y, _logistic_weights)


def fit_poisson_batch(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Maximum-likelihood Poisson regression (log link) for a batch of data sets.

    Parameters
    ----------
    X : ndarray, shape (R, N, d)
    y : ndarray, shape (R, N), counts

    Returns
    -------
    theta : ndarray, shape (R, d)
    converged : ndarray of bool, shape (R,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((3, 2000, 2))
    >>> y = rng.poisson(np.exp(X @ np.array([0.5, -0.25]))).astype(float)
    >>> theta, ok = fit_poisson_batch(X, y)
    >>> bool(ok.all()), bool(np.abs(theta - [0.5, -0.25]).max() < 0.1)
    (True, True)
    """
    return _damped_newton(X, y, np.zeros((X.shape[0], X.shape[2])), _poisson_parts)


def fit_huber_batch(X: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Huber regression (threshold ``c``) for a batch of data sets by IRLS from OLS.

    Weights :math:`w_i = \min(1, c/|r_i|)`; tolerance 1e-10 on the change of theta.

    Parameters
    ----------
    X : ndarray, shape (R, N, d)
    y : ndarray, shape (R, N)
    c : float

    Returns
    -------
    theta : ndarray, shape (R, d)
    converged : ndarray of bool, shape (R,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((3, 2000, 2))
    >>> y = X @ np.array([1.0, -0.5]) + rng.standard_t(3, (3, 2000))
    >>> theta, ok = fit_huber_batch(X, y, 1.345)
    >>> bool(ok.all()), bool(np.abs(theta - [1.0, -0.5]).max() < 0.1)
    (True, True)
    """
    theta, ok = _solve(_gram(X), _tmatvec(X, y))
    converged = np.zeros(X.shape[0], dtype=bool)
    active = ok.copy()
    for _ in range(MAX_IRLS):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Xa, ya = X[idx], y[idx]
        r = ya - _matvec(Xa, theta[idx])
        w = np.minimum(1.0, c / np.maximum(np.abs(r), 1e-300))
        t_new, ok2 = _solve(_gram(Xa, w), _tmatvec(Xa, w * ya))
        change = np.max(np.abs(t_new - theta[idx]), axis=1)
        theta[idx] = np.where(ok2[:, None], t_new, theta[idx])
        done = ok2 & (change <= TOL * (1.0 + np.max(np.abs(t_new), axis=1)))
        converged[idx[done]] = True
        active[idx[done | ~ok2]] = False
    return theta, converged


class _CustomFitter:
    """Damped Newton on a custom loss, derivatives lambdified from the sympy derivation
    (our own expressions, built through the safe parser: no user text is evaluated)."""

    def __init__(self, family: Family, d: int):
        import sympy as sp

        score, hess = derive_score_and_hessian(family, d)
        params, data, _ = family.symbols(d)
        self.p = len(params)
        args = tuple(params) + tuple(data)
        self.f = sp.lambdify(args, family.loss(d), modules="numpy")
        self.g = sp.lambdify(args, list(score), modules="numpy")
        self.h = sp.lambdify(args, [e for row in hess.tolist() for e in row], modules="numpy")
        self.regression = family.is_regression

    def _cols(self, X: np.ndarray | None, y: np.ndarray) -> list[np.ndarray]:
        return ([X[..., i] for i in range(X.shape[-1])] if self.regression else []) + [y]

    def fit(self, X: np.ndarray | None, y: np.ndarray, theta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R, N = y.shape
        theta = theta0.copy()
        converged = np.zeros(R, dtype=bool)
        active = np.ones(R, dtype=bool)

        def ev(fn: Callable, t: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
            cols = self._cols(None if X is None else X[idx], y[idx])
            out = fn(*[t[:, i:i + 1] for i in range(self.p)], *cols)
            out = out if isinstance(out, list) else [out]
            return [np.broadcast_to(np.asarray(v, dtype=float), (len(idx), N)) for v in out]

        with np.errstate(all="ignore"):
            for _ in range(MAX_NEWTON):
                idx = np.flatnonzero(active)
                if idx.size == 0:
                    break
                ta = theta[idx]
                f = ev(self.f, ta, idx)[0].sum(axis=1)
                g = np.stack([v.sum(axis=1) for v in ev(self.g, ta, idx)], axis=1)
                H = np.stack([v.sum(axis=1) for v in ev(self.h, ta, idx)], axis=1).reshape(-1, self.p, self.p)
                step, ok = _solve(H, g)
                t_new = ta - step
                for _h in range(20):
                    f_new = ev(self.f, t_new, idx)[0].sum(axis=1)
                    bad = ~(f_new <= f + 1e-12 * np.abs(f)) & ok
                    if not bad.any():
                        break
                    step[bad] *= 0.5
                    t_new[bad] = ta[bad] - step[bad]
                theta[idx] = np.where(ok[:, None], t_new, ta)
                done = ok & (np.max(np.abs(step), axis=1) <= TOL * (1.0 + np.max(np.abs(t_new), axis=1)))
                bad_rows = ~ok | ~np.isfinite(t_new).all(axis=1) | (np.max(np.abs(t_new), axis=1) > DIVERGED)
                converged[idx[done & ~bad_rows]] = True
                active[idx[done | bad_rows]] = False
        return theta, converged


# --------------------------------------------------------------------------- one block
@dataclass(frozen=True)
class _Setup:
    family: Family
    theta_star: np.ndarray
    p: int
    d: int
    L: np.ndarray | None
    G: np.ndarray
    s2: float
    synth_var: np.ndarray
    m: np.ndarray
    n0: np.ndarray
    inputs: tuple[tuple[tuple[int, int], ...], ...]  # per learner: ((source, count), ...)


def _setup(graph: InteractionGraph, family: Family, theta: Any, scale: int) -> _Setup:
    th = parse_theta(theta, family, graph)
    s2 = float(graph.noise_variance)
    if family.is_regression:
        d = int(graph.dimension)
        Sig = np.eye(d) if graph.covariance is None else np.array(graph.covariance, dtype=float)
        L = np.linalg.cholesky(Sig)
        theta_star = np.array([float(v) for v in th])
        G = Sig
    else:
        d, L = 0, None
        theta_star = np.array([float(th[0]), s2])
        G = np.eye(2)
    inputs: list[list[tuple[int, int]]] = [[] for _ in range(graph.num_learners)]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        inputs[t].append((s, int(n) * scale))
    synth = np.array([float(v) for v in graph.synthetic_noise_variance])
    return _Setup(family, theta_star, len(theta_star), d, L, G, s2, synth,
                  np.array([int(v) * scale for v in graph.real_samples]),
                  np.array([int(v) * scale for v in graph.initial_samples]),
                  tuple(tuple(x) for x in inputs))


def _draw(st: _Setup, rng: np.random.Generator, thetas: np.ndarray, var: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Data from the models ``thetas`` (R, N, p) with per-sample Gaussian noise variance
    ``var`` (N,) (Gaussian model only)."""
    R, N, _ = thetas.shape
    model = st.family.model
    if model == "normal":
        v = np.maximum(thetas[..., 1], 0.0)
        return None, thetas[..., 0] + np.sqrt(v) * rng.standard_normal((R, N))
    X = rng.standard_normal((R, N, st.d)) @ st.L.T
    eta = np.einsum("rnd,rnd->rn", X, thetas)
    if model == "gaussian":
        y = eta + np.sqrt(var) * rng.standard_normal((R, N))
    elif model == "student-t":
        y = eta + math.sqrt(st.s2 / 3.0) * rng.standard_t(3, (R, N))
    elif model == "logistic":
        y = (rng.random((R, N)) < 0.5 * (1.0 + np.tanh(0.5 * eta))).astype(float)
    elif model == "poisson":
        y = rng.poisson(np.exp(np.minimum(eta, 30.0))).astype(float)
    else:  # pragma: no cover
        raise GraphValueError(f"model: unknown model {model!r}")
    return X, y


def _fit(st: _Setup, X: np.ndarray | None, y: np.ndarray, custom: _CustomFitter | None) -> tuple[np.ndarray, np.ndarray]:
    fam = st.family
    R = y.shape[0]
    if custom is not None:
        return custom.fit(X, y, np.broadcast_to(st.theta_star, (R, st.p)).copy())
    if fam.name == "location-scale":
        mu = y.mean(axis=1)
        v = ((y - mu[:, None]) ** 2).mean(axis=1)
        return np.stack([mu, v], axis=1), np.isfinite(v)  # v = 0 (underflow after collapse) is a valid MLE
    if fam.name == "gaussian":
        theta, ok = _solve(_gram(X), _tmatvec(X, y))
        return theta, ok
    if fam.name == "logistic":
        return fit_logistic_batch(X, y)
    if fam.name == "poisson":
        return fit_poisson_batch(X, y)
    if fam.name == "huber":
        return fit_huber_batch(X, y, float(HUBER_THRESHOLD) * math.sqrt(st.s2))
    raise GraphValueError(f"estimator: no simulator for {fam.name!r}")  # pragma: no cover


def simulate_block(graph: InteractionGraph, family: Family, generations: int, seed: int, block: int,
                   size: int, *, theta: Any = None, scale: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Simulate one replication block.

    Parameters
    ----------
    graph : InteractionGraph
    family : Family
    generations : int
    seed : int
    block : int
        Block index (its generator is ``block_generator(seed, block)``).
    size : int
        Replications in the block.
    theta : None, str or sequence, optional
    scale : int
        Every count is multiplied by ``scale``.

    Returns
    -------
    risk : ndarray, shape (size, T + 1, K)
        Risks (not n-scaled), Sigma-norm (regression) or Euclidean on (mu, s^2).
    failed : ndarray of bool, shape (size,)
        Replications with a failed fit somewhere.
    failures : ndarray of int, shape (T + 1, K)
        Failed fits per generation and learner.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.mestimators import FAMILIES
    >>> risk, failed, failures = simulate_block(self_training(real_samples=50, samples=50,
    ...     initial_samples=100, dimension=2), FAMILIES["gaussian"], 2, seed=1, block=0, size=8)
    >>> risk.shape, bool(failed.any())
    ((8, 3, 1), False)
    """
    st = _setup(graph, family, theta, scale)
    rng = block_generator(seed, block)
    K = graph.num_learners
    custom = None if family.builtin else _CustomFitter(family, st.d if family.is_regression else 1)
    risk = np.zeros((size, generations + 1, K))
    failed = np.zeros(size, dtype=bool)
    failures = np.zeros((generations + 1, K), dtype=np.int64)
    ts = np.broadcast_to(st.theta_star, (size, st.p))
    prev = np.empty((K, size, st.p))
    for t in range(generations + 1):
        cur = np.empty_like(prev)
        for k in range(K):
            if t == 0:
                pieces = [(ts, int(st.n0[k]), st.s2)]
            else:
                pieces = [(ts, int(st.m[k]), st.s2)] if st.m[k] > 0 else []
                pieces += [(prev[j], n, float(st.synth_var[j])) for j, n in st.inputs[k]]
            thetas = np.concatenate([np.broadcast_to(th[:, None, :], (size, n, st.p)) for th, n, _ in pieces], axis=1)
            var = np.concatenate([np.full(n, v) for _, n, v in pieces])
            X, y = _draw(st, rng, thetas, var)
            est, ok = _fit(st, X, y, custom)
            ok = ok & np.isfinite(est).all(axis=1)
            failures[t, k] = int(np.count_nonzero(~ok))
            failed |= ~ok
            est = np.where(ok[:, None], est, st.theta_star)  # keep numbers finite; row is excluded
            cur[k] = est
            e = est - st.theta_star
            risk[:, t, k] = np.einsum("rd,de,re->r", e, st.G, e)
        prev = cur
    return risk, failed, failures


@dataclass(frozen=True)
class MSimulation:
    """Monte Carlo risks of an M-estimator: mean and standard error per generation and
    learner over the replications that did not fail."""

    family: Family
    scale: int
    seed: int
    replications: int
    risk_mean: np.ndarray  # (T + 1, K), not n-scaled
    risk_se: np.ndarray
    failed: int
    failures: np.ndarray


def simulate_mestimator(graph: InteractionGraph, family: Family | str, generations: int, replications: int, *,
                        theta: Any = None, scale: int = 1, seed: int | None = None) -> MSimulation:
    r"""Simulate the M-estimator ``family`` on ``graph`` (all counts times ``scale``).

    Parameters
    ----------
    graph : InteractionGraph
    family : Family or str
    generations : int
    replications : int
    theta : None, str or sequence, optional
    scale : int
    seed : int, optional

    Returns
    -------
    MSimulation

    Warns
    -----
    MEstimatorConvergenceWarning
        When some fits failed (their replications are excluded and counted).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> sim = simulate_mestimator(self_training(real_samples=0, samples=200, initial_samples=200),
    ...                           "location-scale", 1, 64, seed=3)
    >>> sim.risk_mean.shape, sim.failed
    ((2, 1), 0)
    """
    from .driver import Sample, merge, moments

    fam = get_family(family) if isinstance(family, str) else family
    seed = draw_seed(seed)
    acc = None  # streamed like the verification driver: memory does not grow with replications
    failures = np.zeros((generations + 1, graph.num_learners), dtype=np.int64)
    for b, start, stop in replication_blocks(replications):
        r, f, c = simulate_block(graph, fam, generations, seed, b, stop - start, theta=theta, scale=scale)
        acc = merge(acc, moments(Sample(r, ~f)))
        failures += c
    n = acc.n.item()  # valid has no lead axes: one count for every row
    warn_failures(replications - n, replications, fam.name)
    shape = (generations + 1, graph.num_learners)
    mean = acc.mean if n else np.full(shape, np.inf)
    se = np.sqrt(acc.m2 / (n - 1) / n) if n > 1 else np.full(shape, np.inf)
    return MSimulation(fam, scale, seed, replications, mean, se, replications - n, failures)


def warn_failures(failed: int, replications: int, name: str) -> None:
    """Warn with :class:`MEstimatorConvergenceWarning` when ``failed > 0``."""
    if failed:
        warnings.warn(f"{name}: {failed} of {replications} replications had a fit that did not converge "
                      "(or separated data); they are excluded from the averages", MEstimatorConvergenceWarning,
                      stacklevel=3)
