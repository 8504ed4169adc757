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
  covariates. A learner is fitted in one of two modes (``docs/verify.md`` §2 proves both):

  - *general*: each block is a factor :math:`F_b` with :math:`F_bF_b^\top \sim
    \mathrm{Wishart}_d(n_b, I)`: the Bartlett factor (lower triangular,
    :math:`F_{ii}^2 \sim \chi^2_{n_b - i}`, standard normal below the diagonal) when
    :math:`n_b \ge d`, and :math:`F_b = Z_b^\top` (:math:`d \times n_b`) otherwise; then
    :math:`G = LL^\top` (Cholesky) and :math:`\delta = L^{-\top}(L^{-1}\sum_b G_b\delta_{p(b)}
    + \sigma z)` when all blocks have the same noise variance :math:`\sigma^2` (the pooled
    noise :math:`\sum_b u_b` is :math:`N(0, \sigma^2 G)` given :math:`G`), else with
    :math:`u_b = s_b F_b z_b` per block;
  - *rotation*: one synthetic block (producer error :math:`\delta_p`) and at most one real
    block, same noise variance: :math:`\delta = Q R^{-1}(R_{00}\|\delta_p\| b + \sigma z)`
    with :math:`R` the upper Bartlett factor of all :math:`N` rows, :math:`Q` an orthogonal
    matrix (a signed Householder reflection) taking :math:`e_1` to
    :math:`\delta_p/\|\delta_p\|`, :math:`b = e_1` without a real block, else
    :math:`b_1 \sim \mathrm{Beta}(n_s/2, n_r/2)` and :math:`b_{2:d} = \sqrt{b_1(1-b_1)}\, g /
    \sqrt{\|g\|^2 + \chi^2_{N-d}}`: 64 random numbers per fit at :math:`d = 10` instead
    of 120.

  The cost of a fit is :math:`O(B d^3)` for :math:`B` blocks, independent of the sample
  counts; the arithmetic runs in one compiled (numba) kernel per generation.

Both are vectorised over replications; replication block ``b`` of :mod:`graphcollapse.verify.blocks`
draws from ``block_generator(seed, b)`` only, so results do not depend on chunking or
workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator

__all__ = ["OLSSetup", "ols_setup", "simulate_ols_block", "simulate_ols_blocks", "simulate_ols_reference", "sample_ols"]


@dataclass(frozen=True)
class OLSSetup:
    """Numeric data of a graph for the simulators (validated once, see :func:`ols_setup`).

    ``block_target``/``block_producer``/``block_size``/``block_noise`` list every data
    block of a generation >= 1, sorted by target (producer -1 is the real block).
    """

    K: int
    d: int
    initial: np.ndarray          # n0_k
    noise: float                 # sigma^2
    block_target: np.ndarray
    block_producer: np.ndarray
    block_size: np.ndarray
    block_noise: np.ndarray      # s_b^2
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
    >>> from graphcollapse.theory.builders import cycle
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
    counts = np.bincount(tgt, minlength=K)
    sigma = np.eye(d) if graph.covariance is None else np.array([[float(x) for x in r] for r in graph.covariance])
    noise = float(graph.noise_variance)
    initial = np.array([int(v) for v in graph.initial_samples])
    layout0 = _layout(K, d, [[(-1, int(n), noise)] for n in initial])
    layout = _layout(K, d, [[(r[1], r[2], r[3]) for r in rows if r[0] == k] for k in range(K)])
    return OLSSetup(K, d, initial, noise, tgt,
                    np.array([r[1] for r in rows], dtype=np.intp), np.array([r[2] for r in rows], dtype=np.intp),
                    np.array([r[3] for r in rows]), int(counts.max()), sigma, np.linalg.cholesky(sigma),
                    layout0, layout)


@dataclass(frozen=True)
class _Layout:
    """Where each random number of one generation goes, for one kind of generation.

    Every replication draws, per generation, ``n_normal`` standard normals (one call) and
    then ``chi_df.size`` chi-squares with these degrees of freedom (one call); the kernel
    reads them at fixed offsets. ``bartlett`` marks the chi-squares that are Bartlett
    diagonals (the only ones ``_df_shift`` changes).

    Learner ``k`` is in mode 0 (*general*: blocks ``blk_start[k]:blk_stop[k]`` with
    producer, factor offsets and noise scale each; the noise merged into ``d`` normals at
    ``z_off[k]`` with scale ``z_scale[k]`` when all its blocks have the same noise
    variance, else per block at ``b_zoff``) or mode 1 (*rotation*: one synthetic block
    from ``rot_prod[k]`` and possibly a real block, equal noise; see ``docs/verify.md``).
    """

    K: int
    d: int
    n_normal: int
    chi_df: np.ndarray
    bartlett: np.ndarray
    mode: np.ndarray
    blk_start: np.ndarray
    blk_stop: np.ndarray
    z_off: np.ndarray
    z_scale: np.ndarray
    b_prod: np.ndarray
    b_noff: np.ndarray
    b_ncol: np.ndarray
    b_coff: np.ndarray
    b_zoff: np.ndarray
    b_scale: np.ndarray
    rot_prod: np.ndarray
    rot_real: np.ndarray
    rot_noff: np.ndarray
    rot_coff: np.ndarray

    @property
    def draws(self) -> int:
        """Random numbers per replication and generation (independent of the sample counts)."""
        return self.n_normal + self.chi_df.size


def _layout(K: int, d: int, blocks: list[list[tuple[int, int, float]]]) -> _Layout:
    """Offsets of the draws; ``blocks[k]`` lists (producer or -1, samples, noise variance)."""
    n_normal = 0
    chi_df: list[float] = []
    bartlett: list[bool] = []
    mode = np.zeros(K, dtype=np.int64)
    z_off = np.full(K, -1, dtype=np.int64)
    z_scale = np.zeros(K)
    rot_prod = np.zeros(K, dtype=np.int64)
    rot_real = np.zeros(K, dtype=np.int64)
    rot_noff = np.zeros(K, dtype=np.int64)
    rot_coff = np.zeros(K, dtype=np.int64)
    blk_start = np.zeros(K, dtype=np.int64)
    blk_stop = np.zeros(K, dtype=np.int64)
    b_prod, b_noff, b_ncol, b_coff, b_zoff, b_scale = [], [], [], [], [], []
    for k, kb in enumerate(blocks):
        synthetic = [b for b in kb if b[0] >= 0]
        real = [b for b in kb if b[0] < 0]
        equal = len({b[2] for b in kb}) == 1
        N = sum(b[1] for b in kb)
        blk_start[k] = len(b_prod)
        if len(synthetic) == 1 and len(real) <= 1 and equal:
            mode[k] = 1
            rot_prod[k] = synthetic[0][0]
            rot_real[k] = len(real)
            rot_noff[k] = n_normal
            n_normal += d * (d - 1) // 2 + (d - 1 if real else 0)
            rot_coff[k] = len(chi_df)
            chi_df += [N - i for i in range(d)]
            bartlett += [True] * d
            if real:
                chi_df += [synthetic[0][1], real[0][1], N - d]
                bartlett += [False] * 3
        else:
            for p, n, s2 in kb:
                b_prod.append(K if p < 0 else p)
                b_noff.append(n_normal)
                if n >= d:
                    b_ncol.append(d)
                    b_coff.append(len(chi_df))
                    chi_df += [n - i for i in range(d)]
                    bartlett += [True] * d
                    n_normal += d * (d - 1) // 2
                else:
                    b_ncol.append(n)
                    b_coff.append(-1)
                    n_normal += d * n
                b_scale.append(np.sqrt(s2))
                if equal:
                    b_zoff.append(-1)
                else:
                    b_zoff.append(n_normal)
                    n_normal += b_ncol[-1]
        blk_stop[k] = len(b_prod)
        if equal:
            z_off[k] = n_normal
            z_scale[k] = np.sqrt(kb[0][2])
            n_normal += d

    def ints(v: list[int]) -> np.ndarray:
        return np.array(v, dtype=np.int64)

    return _Layout(K, d, n_normal, np.array(chi_df, dtype=float), np.array(bartlett, dtype=bool), mode,
                   blk_start, blk_stop, z_off, z_scale, ints(b_prod), ints(b_noff), ints(b_ncol), ints(b_coff),
                   ints(b_zoff), np.array(b_scale, dtype=float), rot_prod, rot_real, rot_noff, rot_coff)


def _fit_generation(lay: _Layout, streams: list[tuple[np.random.Generator, int, int]], prev: np.ndarray,
                    R: int, df_shift: int) -> np.ndarray:
    """One generation for R replications: prev (R, K + 1, d) errors (last row 0) -> (R, K, d).

    ``streams`` lists (generator, start, stop): rows start:stop draw from that generator
    only, in a fixed order, so each replication block's numbers do not depend on how
    blocks are batched together; the kernel treats every replication on its own.
    """
    nrm = np.empty((R, lay.n_normal))
    chi = np.empty((R, lay.chi_df.size))
    df = lay.chi_df + df_shift * lay.bartlett
    for rng, a, b in streams:
        rng.standard_normal(out=nrm[a:b])
        if df.size:
            chi[a:b] = rng.chisquare(np.broadcast_to(df, (b - a, df.size)))
    out = np.empty((R, lay.K, lay.d))
    _kernel(nrm, chi, prev, out, lay.d, lay.mode, lay.blk_start, lay.blk_stop, lay.z_off, lay.z_scale,
            lay.b_prod, lay.b_noff, lay.b_ncol, lay.b_coff, lay.b_zoff, lay.b_scale,
            lay.rot_prod, lay.rot_real, lay.rot_noff, lay.rot_coff)
    return out


def _solve(G: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.linalg.solve(G, rhs[..., None])[..., 0]


@njit(cache=True, nogil=True, fastmath=True)
def _kernel(nrm, chi, prev, out, d, mode, blk_start, blk_stop, z_off, z_scale,
            b_prod, b_noff, b_ncol, b_coff, b_zoff, b_scale, rot_prod, rot_real, rot_noff, rot_coff):  # pragma: no cover - compiled
    """One generation: every replication ``r`` and learner ``k`` fitted on its own, in
    rotation mode (``mode[k] == 1``) or general mode (a factor per block, Cholesky, two
    triangular solves).

    Deliberately one function, its parts marked by comments: split into per-mode numba
    functions (inlined by numba or not) it measured about 25% slower on the same inputs,
    and across a call boundary ``fastmath`` rounds the last bit differently for d >= 4,
    which would change seeded results."""
    R = nrm.shape[0]
    K = mode.shape[0]
    F = np.zeros((d, d))
    G = np.zeros((d, d))
    L = np.zeros((d, d))
    S = np.zeros(d)
    w = np.zeros(d)
    y = np.zeros(d)
    for r in range(R):
        for k in range(K):
            if mode[k] == 1:
                # rotation mode: delta = Q R^{-1} (R_00 |delta_p| b + sigma z), R upper Bartlett
                p = rot_prod[k]
                nd = 0.0
                for i in range(d):
                    nd += prev[r, p, i] * prev[r, p, i]
                nd = np.sqrt(nd)
                co = rot_coff[k]
                no = rot_noff[k]
                for i in range(d):           # R stored in L (upper part), row by row
                    L[i, i] = np.sqrt(chi[r, co + i])
                    for j in range(i + 1, d):
                        L[i, j] = nrm[r, no]
                        no += 1
                if rot_real[k] == 1:
                    A = chi[r, co + d]
                    B = chi[r, co + d + 1]
                    h = chi[r, co + d + 2]
                    b1 = A / (A + B)
                    gg = 0.0
                    for i in range(d - 1):
                        gg += nrm[r, no + i] * nrm[r, no + i]
                    sc = np.sqrt(b1 * (1.0 - b1) / (gg + h))
                    y[0] = b1
                    for i in range(1, d):
                        y[i] = sc * nrm[r, no + i - 1]
                else:
                    y[0] = 1.0
                    for i in range(1, d):
                        y[i] = 0.0
                zo = z_off[k]
                s = z_scale[k]
                f = L[0, 0] * nd
                for i in range(d):
                    y[i] = f * y[i] + s * nrm[r, zo + i]
                for i in range(d - 1, -1, -1):  # back substitution: S = R^{-1} y
                    acc = y[i]
                    for j in range(i + 1, d):
                        acc -= L[i, j] * S[j]
                    S[i] = acc / L[i, i]
                if nd > 0.0:  # Q maps e_1 to delta_p / |delta_p| (a reflection, signed for stability)
                    u0 = prev[r, p, 0] / nd
                    sg = 1.0 if u0 >= 0.0 else -1.0
                    ww = 0.0
                    wx = 0.0
                    for i in range(d):
                        wi = sg * prev[r, p, i] / nd
                        if i == 0:
                            wi += 1.0
                        w[i] = wi
                        ww += wi * wi
                        wx += wi * S[i]
                    t = 2.0 * wx / ww
                    for i in range(d):
                        out[r, k, i] = -sg * (S[i] - t * w[i])
                else:
                    for i in range(d):
                        out[r, k, i] = S[i]
                continue
            # general mode: G = sum_b F_b F_b^T, S = sum_b F_b (F_b^T delta_p + s_b z_b)
            for i in range(d):
                S[i] = 0.0
                for j in range(d):
                    G[i, j] = 0.0
            for bb in range(blk_start[k], blk_stop[k]):
                c = b_ncol[bb]
                no = b_noff[bb]
                if b_coff[bb] >= 0:  # Bartlett factor, lower triangular
                    co = b_coff[bb]
                    for i in range(d):
                        for j in range(i):
                            F[i, j] = nrm[r, no]
                            no += 1
                        F[i, i] = np.sqrt(chi[r, co + i])
                    for i in range(d):
                        for j in range(i + 1):
                            acc = 0.0
                            for l in range(j + 1):
                                acc += F[i, l] * F[j, l]
                            G[i, j] += acc
                    lower = True
                else:                # explicit d x n design (n < d)
                    for i in range(d):
                        for j in range(c):
                            F[i, j] = nrm[r, no]
                            no += 1
                    for i in range(d):
                        for j in range(i + 1):
                            acc = 0.0
                            for l in range(c):
                                acc += F[i, l] * F[j, l]
                            G[i, j] += acc
                    lower = False
                p = b_prod[bb]
                zo = b_zoff[bb]
                if p < K or zo >= 0:
                    for l in range(c):
                        acc = 0.0
                        if p < K:
                            for i in range(l if lower else 0, d):
                                acc += F[i, l] * prev[r, p, i]
                        if zo >= 0:
                            acc += b_scale[bb] * nrm[r, zo + l]
                        w[l] = acc
                    for i in range(d):
                        acc = 0.0
                        for l in range((i + 1) if lower else c):
                            acc += F[i, l] * w[l]
                        S[i] += acc
            for j in range(d):       # Cholesky G = L L^T (lower triangle of G)
                acc = G[j, j]
                for l in range(j):
                    acc -= L[j, l] * L[j, l]
                L[j, j] = np.sqrt(acc)
                for i in range(j + 1, d):
                    acc = G[i, j]
                    for l in range(j):
                        acc -= L[i, l] * L[j, l]
                    L[i, j] = acc / L[j, j]
            for i in range(d):       # y = L^{-1} S (+ sigma z: merged noise, N(0, sigma^2 G))
                acc = S[i]
                for l in range(i):
                    acc -= L[i, l] * y[l]
                y[i] = acc / L[i, i]
            zo = z_off[k]
            if zo >= 0:
                for i in range(d):
                    y[i] += z_scale[k] * nrm[r, zo + i]
            for i in range(d - 1, -1, -1):  # delta = L^{-T} y
                acc = y[i]
                for l in range(i + 1, d):
                    acc -= L[l, i] * out[r, k, l]
                out[r, k, i] = acc / L[i, i]


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
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.verify.blocks import block_generator
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
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.verify.blocks import block_generator
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
    for t in range(1, generations + 1):
        prev[:, :K] = _fit_generation(lay, spans, prev, R, _df_shift)
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
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.verify.blocks import block_generator
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
    and small studies (memory grows with ``replications``; :func:`graphcollapse.verify.montecarlo.verify_ols`
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
    >>> from graphcollapse.theory.builders import self_training
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
