r"""Batched Monte Carlo simulators of M-estimators on interaction graphs.

Every generation, learner :math:`k` fits its estimator on ``m_k`` fresh real samples
from :math:`P_{\theta^*}` and, for every edge :math:`j \to k`, ``n_jk`` fresh samples
from learner :math:`j`'s fitted model of the previous generation
(:data:`graphcollapse.theory.mestimators.MODELS`). All replications of a block are simulated at once:
closed forms for Gaussian regression and location-scale, Newton in a compiled loop for
logistic regression (whose data are also drawn in a compiled loop, in the layout the
fitter reads: :func:`logistic_data`), batched damped Newton for Poisson regression and
for custom losses, batched IRLS for Huber.

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
from numba import njit

from graphcollapse.theory.errors import GraphCollapseWarning, GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.mestimators import Family, HUBER_THRESHOLD, derive_score_and_hessian, get_family, parse_theta

from .blocks import block_generator, draw_seed, replication_blocks

__all__ = ["MEstimatorConvergenceWarning", "MSimulation", "simulate_mestimator", "simulate_block",
           "fit_logistic_batch", "logistic_data", "fit_poisson_batch", "fit_huber_batch"]

MAX_NEWTON = 60
MAX_IRLS = 200
TOL = 1e-10
NEWTON_TOL = 1e-5  # quadratic convergence: the error left after a step this small is ~1e-10
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


def _poisson_parts(eta: np.ndarray, y: np.ndarray, _mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = np.exp(np.minimum(eta, 700.0))
    return (mu - y * eta).sum(axis=1), mu - y, mu


@njit(cache=True, nogil=True, fastmath=True)
def _logistic_newton(Xt, y, theta, converged, tol, max_iter, diverged):  # pragma: no cover - compiled
    """Newton from theta = 0 for every data set ``Xt[r]`` (d x N, one column per sample)
    on its own, in float64 (the data set stays in cache): gradient and Hessian by vectorised
    passes over its columns, Cholesky, two triangular solves. Stops once the step is below
    ``tol * (1 + max|theta|)`` (quadratic convergence: the error left after that step is
    of order ``tol**2``); a Hessian that is not positive definite, a non-finite iterate or
    one beyond ``diverged`` (separated data) ends the data set as not converged."""
    R, d, N = Xt.shape
    H = np.zeros((d, d))
    L = np.zeros((d, d))
    g = np.zeros(d)
    z = np.zeros(d)
    step = np.zeros(d)
    t = np.zeros(d)
    eta = np.zeros(N)
    res = np.zeros(N)
    for r in range(R):
        for j in range(d):
            t[j] = 0.0
        ok = False
        for _ in range(max_iter):
            # passes over contiguous columns of Xt[r] (vectorised): eta, weights, gradient, Hessian
            for i in range(N):
                eta[i] = 0.0
            for j in range(d):
                tj = t[j]
                for i in range(N):
                    eta[i] += Xt[r, j, i] * tj
            for i in range(N):
                p = 1.0 / (1.0 + np.exp(-eta[i]))
                res[i] = p - y[r, i]
                eta[i] = p * (1.0 - p)  # the weight, in place
            for j in range(d):
                acc = 0.0
                for i in range(N):
                    acc += Xt[r, j, i] * res[i]
                g[j] = acc
                for k in range(j + 1):
                    acc = 0.0
                    for i in range(N):
                        acc += Xt[r, j, i] * Xt[r, k, i] * eta[i]
                    H[j, k] = acc
            bad = False
            for j in range(d):  # Cholesky H = L L^T
                acc = H[j, j]
                for k in range(j):
                    acc -= L[j, k] * L[j, k]
                if not acc > 0.0:
                    bad = True
                    break
                L[j, j] = np.sqrt(acc)
                for i in range(j + 1, d):
                    a2 = H[i, j]
                    for k in range(j):
                        a2 -= L[i, k] * L[j, k]
                    L[i, j] = a2 / L[j, j]
            if bad:
                break
            for i in range(d):
                acc = g[i]
                for k in range(i):
                    acc -= L[i, k] * z[k]
                z[i] = acc / L[i, i]
            for i in range(d - 1, -1, -1):
                acc = z[i]
                for k in range(i + 1, d):
                    acc -= L[k, i] * step[k]
                step[i] = acc / L[i, i]
            size = 0.0
            smax = 0.0
            for i in range(d):
                t[i] -= step[i]
                size = max(size, abs(t[i]))
                smax = max(smax, abs(step[i]))
            if not size <= diverged:  # also NaN
                break
            if smax <= tol * (1.0 + size):
                ok = True
                break
        for j in range(d):
            theta[r, j] = t[j] if ok else 0.0
        converged[r] = ok


@njit(cache=True, nogil=True)
def _logistic_draw(rng, L, identity, thetas, counts, Xt, y):  # pragma: no cover - compiled
    """Data sets of the logistic model, drawn here from ``rng``: for replication ``r``,
    block ``b`` and each of its ``counts[b]`` samples, ``d`` standard normals ``z``,
    ``x = L z`` (skipped when ``identity``), written as a column of ``Xt[r]``, and
    ``y = 1`` iff a float64 uniform is below ``sigmoid(x . thetas[b, r])``."""
    R = Xt.shape[0]
    d = Xt.shape[1]
    z = np.zeros(d)
    for r in range(R):
        i = 0
        for b in range(counts.shape[0]):
            for _ in range(counts[b]):
                eta = 0.0
                if identity:
                    for j in range(d):
                        v = rng.standard_normal()
                        Xt[r, j, i] = v
                        eta += v * thetas[b, r, j]
                else:
                    for j in range(d):
                        z[j] = rng.standard_normal()
                    for j in range(d):
                        v = 0.0
                        for k in range(j + 1):
                            v += L[j, k] * z[k]
                        Xt[r, j, i] = v
                        eta += v * thetas[b, r, j]
                y[r, i] = 1.0 if rng.random() < 1.0 / (1.0 + np.exp(-eta)) else 0.0
                i += 1


def logistic_data(rng: np.random.Generator, thetas: np.ndarray, counts, L: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw logistic-regression data sets in the layout the fitter reads.

    Replication ``r`` pools blocks ``b`` of ``counts[b]`` samples each with
    :math:`x = Lz`, :math:`z \sim N(0, I_d)`, and :math:`y \sim
    \mathrm{Bernoulli}(\sigma(x^\top\theta_{b,r}))` (a float64 uniform compared with the
    sigmoid). All numbers come from ``rng`` in a fixed order (replication by replication,
    sample by sample: ``d`` normals, then one uniform), drawn inside a compiled loop: no
    array of random numbers is materialised.

    Parameters
    ----------
    rng : numpy.random.Generator
    thetas : ndarray, shape (B, R, d)
        The parameter of block ``b`` in replication ``r`` (a broadcast view is fine).
    counts : sequence of int, length B
    L : ndarray (d, d), lower triangular, optional
        Covariance factor (identity when omitted).

    Returns
    -------
    X : ndarray, shape (R, N, d)
        A transposed view of a C-contiguous (R, d, N) array, which
        :func:`fit_logistic_batch` reads without a copy.
    y : ndarray, shape (R, N)

    Examples
    --------
    >>> import numpy as np
    >>> X, y = logistic_data(np.random.default_rng(0), np.zeros((1, 3, 2)), [50])
    >>> X.shape, y.shape, sorted(set(y.ravel().tolist()))
    ((3, 50, 2), (3, 50), [0.0, 1.0])
    """
    th = np.asarray(thetas, dtype=float)
    cnt = np.atleast_1d(np.asarray(counts, dtype=np.int64))
    if th.ndim != 3 or th.shape[0] != cnt.size:
        raise GraphValueError("thetas: expected shape (blocks, replications, d) with one count per block")
    th = np.ascontiguousarray(th)
    B, R, d = th.shape
    N = int(cnt.sum())
    Xt = np.empty((R, d, N))
    y = np.empty((R, N))
    identity = L is None
    Lm = np.eye(d) if identity else np.ascontiguousarray(L, dtype=float)
    _logistic_draw(rng, Lm, identity, th, cnt, Xt, y)
    return Xt.transpose(0, 2, 1), y


def fit_logistic_batch(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Maximum-likelihood logistic regression for a batch of data sets at once.

    Newton from :math:`\theta = 0` on every data set (the log-likelihood is concave), in a
    compiled loop that keeps one data set in cache (gradient and Hessian in float64),
    stops once the relative step is below 1e-5 (quadratic
    convergence: the error left after that step is of order 1e-10); separated data (no
    finite maximiser: the iterates diverge or the Hessian becomes singular) end as not
    converged. The data are read as (R, d, N): pass ``X`` as the transposed view that
    :func:`logistic_data` returns to avoid a copy.

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
    Xt = np.ascontiguousarray(np.asarray(X, dtype=float).transpose(0, 2, 1))
    yc = np.ascontiguousarray(y, dtype=float)
    R, d, _ = Xt.shape
    theta = np.zeros((R, d))
    converged = np.zeros(R, dtype=np.bool_)
    _logistic_newton(Xt, yc, theta, converged, NEWTON_TOL, MAX_NEWTON, DIVERGED)
    return theta, converged


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


def _draw(st: _Setup, rng: np.random.Generator, pieces: list[tuple[np.ndarray, int, float]]
          ) -> tuple[np.ndarray | None, np.ndarray]:
    """Data from the blocks ``pieces``: (models (R, p), samples, Gaussian noise variance)."""
    model = st.family.model
    R = pieces[0][0].shape[0]
    if model == "logistic":  # drawn in a compiled loop, in the layout the fitter reads
        L = None if np.array_equal(st.L, np.eye(st.d)) else st.L
        return logistic_data(rng, np.stack([th for th, _, _ in pieces]), [n for _, n, _ in pieces], L)
    thetas = np.concatenate([np.broadcast_to(th[:, None, :], (R, n, st.p)) for th, n, _ in pieces], axis=1)
    N = thetas.shape[1]
    if model == "normal":
        v = np.maximum(thetas[..., 1], 0.0)
        return None, thetas[..., 0] + np.sqrt(v) * rng.standard_normal((R, N))
    X = rng.standard_normal((R, N, st.d)) @ st.L.T
    eta = np.einsum("rnd,rnd->rn", X, thetas)
    if model == "gaussian":
        var = np.concatenate([np.full(n, v) for _, n, v in pieces])
        y = eta + np.sqrt(var) * rng.standard_normal((R, N))
    elif model == "student-t":
        y = eta + math.sqrt(st.s2 / 3.0) * rng.standard_t(3, (R, N))
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
    if fam.name == "location-scale-unbiased":  # divisor N - 1 (docs/gaussian.md)
        mu = y.mean(axis=1)
        v = ((y - mu[:, None]) ** 2).sum(axis=1) / (y.shape[1] - 1)
        return np.stack([mu, v], axis=1), np.isfinite(v)
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
            X, y = _draw(st, rng, pieces)
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
