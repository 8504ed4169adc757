r"""Simulators of interactive ordinary least squares on an interaction graph.

The process (``docs/verify.md``, replace policy). Generation 0: learner :math:`k` fits
OLS on :math:`n^0_k` real samples. Generation :math:`t \ge 1`: learner :math:`k` pools a
*real block* of :math:`m_k` fresh samples :math:`y = x^\top\theta^* + \varepsilon`,
:math:`\varepsilon \sim N(0, \sigma^2)`, and for every edge :math:`j \to k` a *synthetic
block* of :math:`n_{jk}` fresh samples :math:`y = x^\top\theta_j^{(t-1)} + \varepsilon`,
:math:`\varepsilon \sim N(0, \sigma_j^2)`; covariates :math:`x \sim N(0, \Sigma)`.

Writing :math:`\delta = \theta - \theta^*`, block :math:`b` of learner :math:`k` with
producer :math:`p(b)` (:math:`\delta_{p(b)} = 0` for the real block) contributes its Gram
matrix :math:`G_b = X_b^\top X_b` and :math:`u_b = X_b^\top \varepsilon_b`, and

.. math:: \delta_k^{(t)} = G^{-1} \sum_b \bigl(G_b\, \delta_{p(b)}^{(t-1)} + u_b\bigr),
          \qquad G = \sum_b G_b .

Two samplers of the same law:

* **reference** (:func:`simulate_ols_reference`): explicit designs
  :math:`X_b = Z_b \Sigma^{1/2}` and labels, one least-squares solve per fit;
* **fast** (:func:`simulate_ols_block`): exact sufficient statistics. OLS is equivariant
  under :math:`x \mapsto L^{-1}x` (:math:`\Sigma = LL^\top`), and the excess risk
  :math:`\|\delta\|_\Sigma^2 = \|L^\top\delta\|^2`, so the fast path simulates whitened
  covariates. Each block is a factor :math:`F_b` with :math:`F_bF_b^\top \sim
  \mathrm{Wishart}_d(n_b, I)`: the Bartlett factor (lower triangular,
  :math:`F_{ii}^2 \sim \chi^2_{n_b - i}` for :math:`i = 0, \dots, d-1`, standard normal
  below the diagonal) when :math:`n_b \ge d`, and :math:`F_b = Z_b^\top` (:math:`d \times
  n_b`) otherwise; given :math:`G_b`, :math:`u_b = s_b F_b z` with :math:`z` standard
  normal has the law :math:`N(0, s_b^2 G_b)` of :math:`X_b^\top\varepsilon_b`. The cost of a
  fit is :math:`O(B d^3)` for :math:`B` blocks, independent of the sample counts.

Both are vectorised over replications; replication block ``b`` of :mod:`verify.blocks`
draws from ``block_generator(seed, b)`` only, so results do not depend on chunking or
workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.errors import GraphValueError
from theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator

__all__ = ["OLSSetup", "ols_setup", "simulate_ols_block", "simulate_ols_blocks", "simulate_ols_reference", "sample_ols"]


@dataclass(frozen=True)
class OLSSetup:
    """Numeric data of a graph for the simulators (validated once, see :func:`ols_setup`).

    ``block_target``/``block_producer``/``block_size``/``block_noise`` list every data
    block of a generation >= 1, sorted by target (producer -1 is the real block);
    ``slot`` is the position of a block among its target's blocks.
    """

    K: int
    d: int
    initial: np.ndarray          # n0_k
    noise: float                 # sigma^2
    block_target: np.ndarray
    block_producer: np.ndarray
    block_size: np.ndarray
    block_noise: np.ndarray      # s_b^2
    slot: np.ndarray
    max_blocks: int
    sigma: np.ndarray            # Sigma (d x d)
    sigma_chol: np.ndarray       # L, Sigma = L L^T
    layout0: "_Layout"           # generation 0
    layout: "_Layout"            # generations >= 1


def ols_setup(graph: InteractionGraph) -> OLSSetup:
    """Validate ``graph`` for simulation and extract its numeric data.

    Raises
    ------
    GraphValueError
        If the graph is symbolic, or some :math:`N_k \\le d` or :math:`n^0_k \\le d` (OLS
        then has no unique solution).

    Examples
    --------
    >>> from theory.builders import cycle
    >>> st = ols_setup(cycle(3, real_samples=5))
    >>> st.K, st.d, st.max_blocks, st.block_producer.tolist()
    (3, 5, 2, [-1, 2, -1, 0, -1, 1])
    """
    if graph.is_symbolic:
        raise GraphValueError("graph: simulation needs numeric sample counts and variances (substitute the symbols)")
    K, d = graph.num_learners, int(graph.dimension)
    for what, values in (("initial_samples", graph.initial_samples), ("samples per generation N_k", graph.total_samples)):
        for name, v in zip(graph.names, values):
            if int(v) <= d:
                raise GraphValueError(f"models[{name}]: OLS needs more than d = {d} {what}, found {int(v)}")
    sig = [float(v) for v in graph.synthetic_noise_variance]
    rows = []
    for k in range(K):
        if int(graph.real_samples[k]) > 0:
            rows.append((k, -1, int(graph.real_samples[k]), float(graph.noise_variance)))
    for j, k, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        rows.append((int(k), int(j), int(n), sig[int(j)]))
    rows.sort(key=lambda r: (r[0], r[1]))
    tgt = np.array([r[0] for r in rows], dtype=np.intp)
    slot = np.zeros(len(rows), dtype=np.intp)
    counts = np.zeros(K, dtype=np.intp)
    for i, k in enumerate(tgt):
        slot[i] = counts[k]
        counts[k] += 1
    sigma = np.eye(d) if graph.covariance is None else np.array([[float(x) for x in r] for r in graph.covariance])
    noise = float(graph.noise_variance)
    initial = np.array([int(v) for v in graph.initial_samples])
    layout0 = _layout(K, d, [[(-1, int(n), noise)] for n in initial])
    layout = _layout(K, d, [[(r[1], r[2], r[3]) for r in rows if r[0] == k] for k in range(K)])
    return OLSSetup(K, d, initial, noise, tgt,
                    np.array([r[1] for r in rows], dtype=np.intp), np.array([r[2] for r in rows], dtype=np.intp),
                    np.array([r[3] for r in rows]), slot, int(counts.max()), sigma, np.linalg.cholesky(sigma),
                    layout0, layout)


@dataclass(frozen=True)
class _Layout:
    """Where the random entries of the padded factors go, for one kind of generation.

    The factors of learner k's blocks are stored side by side as M_k (d x Bm*d), entry
    (i, b, j) = (F_b)_{ij}, so that G_k = M_k M_k^T. ``normal``/``chi`` are flat indices
    into (K, d, Bm, d); ``chi_df`` the chi-square degrees of freedom of the Bartlett
    diagonal; ``producer`` (K, Bm) indexes the previous errors (K = zero: real or padding)
    and ``scale`` (K, Bm) is the label-noise standard deviation (0 for padding).
    """

    K: int
    d: int
    Bm: int
    normal: np.ndarray
    chi: np.ndarray
    chi_df: np.ndarray
    producer: np.ndarray
    scale: np.ndarray


def _layout(K: int, d: int, blocks: list[list[tuple[int, int, float]]]) -> _Layout:
    Bm = max(len(b) for b in blocks)
    normal, chi, df = [], [], []
    producer = np.full((K, Bm), K, dtype=np.intp)
    scale = np.zeros((K, Bm))
    for k, kb in enumerate(blocks):
        for b, (p, n, s2) in enumerate(kb):
            producer[k, b] = K if p < 0 else p
            scale[k, b] = np.sqrt(s2)
            for i in range(d):
                for j in range(d):
                    flat = ((k * d + i) * Bm + b) * d + j
                    if n >= d and i == j:
                        chi.append(flat)
                        df.append(n - i)
                    elif (n >= d and i > j) or (n < d and j < n):
                        normal.append(flat)
    return _Layout(K, d, Bm, np.array(normal, dtype=np.intp), np.array(chi, dtype=np.intp),
                   np.array(df, dtype=float), producer, scale)


def _fit_generation(lay: _Layout, streams: list[tuple[np.random.Generator, int, int]], prev: np.ndarray,
                    R: int, df_shift: int, F: np.ndarray | None = None) -> np.ndarray:
    """One generation for R replications: prev (R, K + 1, d) errors (last row 0) -> (R, K, d).

    ``streams`` lists (generator, start, stop): rows start:stop draw from that generator
    only, in a fixed order, so each replication block's numbers do not depend on how
    blocks are batched together. ``F`` is a reusable buffer (R, K*d*Bm*d) whose entries
    outside ``lay.normal``/``lay.chi`` are zero (they are never written), which avoids
    page-faulting a fresh array every generation.
    """
    K, d, Bm = lay.K, lay.d, lay.Bm
    if F is None:
        F = np.zeros((R, K * d * Bm * d))
    z = np.empty((R, K, Bm, d))
    df = lay.chi_df + df_shift
    for rng, a, b in streams:
        F[a:b, lay.normal] = rng.standard_normal((b - a, lay.normal.size))
        if lay.chi.size:
            F[a:b, lay.chi] = np.sqrt(rng.chisquare(np.broadcast_to(df, (b - a, lay.chi.size))))
        z[a:b] = rng.standard_normal((b - a, K, Bm, d))
    F = F.reshape(R, K, d, Bm, d)
    p = prev[:, lay.producer]                                               # (R, K, Bm, d)
    # v_b = F_b^T delta_p + s_b z_b, so that F_b v_b = G_b delta_p + u_b
    v = (F.transpose(0, 1, 3, 4, 2) @ p[..., None])[..., 0] + lay.scale[None, :, :, None] * z
    M = F.reshape(R, K, d, Bm * d)
    G = M @ M.transpose(0, 1, 3, 2)
    rhs = (M @ v.reshape(R, K, Bm * d, 1))[..., 0]
    return _solve(G, rhs)


def _solve(G: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.linalg.solve(G, rhs[..., None])[..., 0]


def simulate_ols_block(setup: OLSSetup, generations: int, rng: np.random.Generator, size: int, *,
                       projection: np.ndarray | None = None, _df_shift: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Fast path: ``size`` replications of generations :math:`0..T` from ``rng``.

    Parameters
    ----------
    setup : OLSSetup
    generations : int
        The last generation :math:`T`.
    rng : numpy.random.Generator
    size : int
        Replications.
    projection : ndarray (d,), optional
        If given, also return :math:`\langle v, \Sigma^{1/2}\delta_k^{(T)}\rangle`
        (whitened coordinates, :math:`\Sigma^{1/2} = L^\top`) per replication and learner.
    _df_shift : int
        Testing only: adds to the Bartlett degrees of freedom (a deliberately wrong sampler).

    Returns
    -------
    risk : ndarray (size, T + 1, K)
        :math:`\|\delta_k^{(t)}\|_\Sigma^2`.
    proj : ndarray (size, K) or None

    Examples
    --------
    >>> from theory.builders import self_training
    >>> from verify.blocks import block_generator
    >>> st = ols_setup(self_training(real_samples=20, samples=20, initial_samples=30, dimension=3))
    >>> risk, _ = simulate_ols_block(st, 2, block_generator(0, 0), 4)
    >>> risk.shape
    (4, 3, 1)
    """
    return simulate_ols_blocks(setup, generations, [(rng, int(size))], projection=projection, _df_shift=_df_shift)


def simulate_ols_blocks(setup: OLSSetup, generations: int, streams: list[tuple[np.random.Generator, int]], *,
                        projection: np.ndarray | None = None,
                        _df_shift: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Fast path for several replication blocks at once (one generator and size each),
    batched for speed; block ``i`` gets rows ``sum(sizes[:i]) ... `` and the same numbers
    as :func:`simulate_ols_block` with its generator alone.

    Parameters
    ----------
    setup : OLSSetup
    generations : int
    streams : list of (numpy.random.Generator, int)
    projection : ndarray (d,), optional
    _df_shift : int
        Testing only.

    Returns
    -------
    risk : ndarray (sum of sizes, T + 1, K)
    proj : ndarray (sum of sizes, K) or None

    Examples
    --------
    >>> import numpy as np
    >>> from theory.builders import cycle
    >>> from verify.blocks import block_generator
    >>> st = ols_setup(cycle(2, real_samples=20, initial_samples=30, dimension=3))
    >>> both, _ = simulate_ols_blocks(st, 2, [(block_generator(0, 0), 5), (block_generator(0, 1), 3)])
    >>> alone, _ = simulate_ols_block(st, 2, block_generator(0, 1), 3)
    >>> np.array_equal(both[5:], alone)
    True
    """
    K, d = setup.K, setup.d
    bounds = np.cumsum([0] + [int(n) for _, n in streams])
    spans = [(rng, int(a), int(b)) for (rng, _), a, b in zip(streams, bounds[:-1], bounds[1:])]
    R = int(bounds[-1])
    risk = np.empty((R, generations + 1, K))
    prev = np.zeros((R, K + 1, d))
    prev[:, :K] = _fit_generation(setup.layout0, spans, prev, R, _df_shift)
    risk[:, 0] = np.einsum("rki,rki->rk", prev[:, :K], prev[:, :K])
    lay = setup.layout
    F = np.zeros((R, K * d * lay.Bm * d))
    for t in range(1, generations + 1):
        prev[:, :K] = _fit_generation(lay, spans, prev, R, _df_shift, F)
        risk[:, t] = np.einsum("rki,rki->rk", prev[:, :K], prev[:, :K])
    proj = None if projection is None else prev[:, :K] @ np.asarray(projection, dtype=float)
    return risk, proj


def simulate_ols_reference(setup: OLSSetup, generations: int, rng: np.random.Generator, size: int, *,
                           projection: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Reference path: explicit designs :math:`X = Z L^\top` (so :math:`x \sim N(0,\Sigma)`)
    and labels, one normal-equations solve per fit; same outputs as
    :func:`simulate_ols_block` (``projection`` acts on :math:`L^\top\delta`).

    Examples
    --------
    >>> from theory.builders import self_training
    >>> from verify.blocks import block_generator
    >>> st = ols_setup(self_training(real_samples=20, samples=20, initial_samples=30, dimension=3))
    >>> risk, _ = simulate_ols_reference(st, 1, block_generator(0, 0), 5)
    >>> risk.shape
    (5, 2, 1)
    """
    K, d, R = setup.K, setup.d, int(size)
    L = setup.sigma_chol
    theta_star = np.ones(d) / np.sqrt(d)
    risk = np.empty((R, generations + 1, K))

    def fit(blocks: list[tuple[int, int, float]], theta: np.ndarray) -> np.ndarray:
        Xs, ys = [], []
        for producer, n, s2 in blocks:
            X = rng.standard_normal((R, n, d)) @ L.T
            mean_theta = theta_star[None, :] if producer < 0 else theta[:, producer]
            ys.append(np.einsum("rnd,rd->rn", X, mean_theta) + np.sqrt(s2) * rng.standard_normal((R, n)))
            Xs.append(X)
        X, y = np.concatenate(Xs, axis=1), np.concatenate(ys, axis=1)
        return _solve(X.transpose(0, 2, 1) @ X, np.einsum("rnd,rn->rd", X, y))

    def whitened_risk(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = (theta - theta_star) @ L                                          # L^T delta, row form
        return np.einsum("rki,rki->rk", w, w), w

    theta = np.stack([fit([(-1, int(setup.initial[k]), setup.noise)], None) for k in range(K)], axis=1)
    risk[:, 0], w = whitened_risk(theta)
    for t in range(1, generations + 1):
        new = []
        for k in range(K):
            sel = setup.block_target == k
            blocks = list(zip(setup.block_producer[sel].tolist(), setup.block_size[sel].tolist(),
                              setup.block_noise[sel].tolist()))
            new.append(fit(blocks, theta))
        theta = np.stack(new, axis=1)
        risk[:, t], w = whitened_risk(theta)
    proj = None if projection is None else w @ np.asarray(projection, dtype=float)
    return risk, proj


def sample_ols(graph: InteractionGraph, generations: int, replications: int, seed: int, *,
               method: str = "fast", projection: np.ndarray | None = None,
               _df_shift: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """All per-replication risks (and projections of the final whitened error): for tests
    and small studies (memory grows with ``replications``; :func:`verify.montecarlo.verify_ols`
    keeps only sums).

    Parameters
    ----------
    graph : InteractionGraph
    generations, replications, seed : int
    method : {"fast", "reference"}
    projection : ndarray (d,), optional
    _df_shift : int
        Testing only (see :func:`simulate_ols_block`).

    Returns
    -------
    risk : ndarray (replications, T + 1, K)
    proj : ndarray (replications, K) or None

    Examples
    --------
    >>> from theory.builders import self_training
    >>> G = self_training(real_samples=20, samples=20, initial_samples=30, dimension=3)
    >>> sample_ols(G, 2, 300, seed=1)[0].shape
    (300, 3, 1)
    """
    setup = ols_setup(graph)
    risks, projs = [], []
    for b, start in enumerate(range(0, replications, BLOCK_SIZE)):
        size = min(BLOCK_SIZE, replications - start)
        rng = block_generator(seed, b)
        if method == "fast":
            r, p = simulate_ols_block(setup, generations, rng, size, projection=projection, _df_shift=_df_shift)
        elif method == "reference":
            r, p = simulate_ols_reference(setup, generations, rng, size, projection=projection)
        else:
            raise GraphValueError(f"method: expected 'fast' or 'reference', found {method!r}")
        risks.append(r)
        projs.append(p)
    return np.concatenate(risks), (None if projection is None else np.concatenate(projs))
