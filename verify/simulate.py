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
  covariates. A learner is fitted in one of two modes:

  - *general* (blocks with different noise variances): each block is a factor
    :math:`F_b` with :math:`F_bF_b^\top \sim \mathrm{Wishart}_d(n_b, I)`: the Bartlett
    factor (lower triangular, :math:`F_{ii}^2 \sim \chi^2_{n_b - i}`, standard normal
    below the diagonal) when :math:`n_b \ge d`, and :math:`F_b = Z_b^\top`
    (:math:`d \times n_b`) otherwise; :math:`G = LL^\top` (Cholesky) and
    :math:`\delta = G^{-1}\sum_b F_b(F_b^\top\delta_{p(b)} + s_b z_b)`;
  - *subspace* (every block with the same noise variance :math:`\sigma^2`), below.

  The cost of a fit is independent of the sample counts.

**The subspace mode.** Let learner :math:`k` have :math:`s` synthetic blocks with
producer errors :math:`\delta_b` and possibly a real block, :math:`N > d` rows in all,
and put :math:`m = \min(s, d)`, :math:`p = d - m`.

*Proposition.* Let :math:`Q` be orthogonal with every :math:`\delta_b` in the span of
its first :math:`m` columns (Householder QR of :math:`[\delta_b]_b`) and
:math:`c_b \in \mathbb R^m` the first :math:`m` coordinates of :math:`Q^\top\delta_b`
(:math:`c_b = 0` for the real block). Draw independently: per block :math:`W_b \sim
\mathrm{Wishart}_m(n_b, I)`; :math:`g, \zeta \sim N(0, I_p)`; :math:`h_0 \sim
\chi^2_{N-d}`; :math:`c_0 \sim \chi^2_{N-d+1}`; :math:`\xi \sim N(0, I_m)`. With
:math:`W = \sum_b W_b = L_AL_A^\top`, :math:`\hat c = W^{-1}\sum_b W_b c_b`,
:math:`\rho^2 = \sum_b (c_b - \hat c)^\top W_b (c_b - \hat c)`,

.. math:: \delta_B = \Bigl(\rho\,\frac{g}{\sqrt{\|g\|^2 + h_0}} + \sigma\zeta\Bigr)\Big/\sqrt{c_0},
          \qquad \delta_A = \hat c + \sqrt{\sigma^2 + \|\delta_B\|^2}\; L_A^{-\top}\xi,
          \qquad \delta_k \overset{d}{=} Q\begin{pmatrix}\delta_A\\ \delta_B\end{pmatrix}.

*Proof.* Condition on the producer errors (last generation's, independent of this
generation's data). (i) *Rotation.* :math:`X' = XQ` has the law of the whitened design
:math:`X` (rows iid :math:`N(0, I_d)`), and :math:`\delta_k = Q\,G'^{-1}(\sum_b G'_b c_b
+ X'^\top\varepsilon)` with :math:`G'_b = X_b'^\top X_b'`. Split the columns of
:math:`X'` as :math:`[A \mid B]` (:math:`m` and :math:`p` columns, independent). Only
the first :math:`m` coordinates of :math:`c_b` are non-zero, so with :math:`w` the
:math:`N`-vector stacking :math:`A_b c_b` and :math:`W_b = A_b^\top A_b` (independent
Wisharts), :math:`G' = \begin{pmatrix} W & A^\top B\\ B^\top A & B^\top B\end{pmatrix}`
and :math:`S' = \sum_b G'_b c_b = (W\hat c,\; B^\top w)`. (ii) *Conditioning on A.*
:math:`w = A\hat c + r` with :math:`r \perp \mathrm{col}(A)` and :math:`\|r\|^2 =
\rho^2` (block by block :math:`r_b = A_b(c_b - \hat c)`: a sum of non-negative terms, no
cancellation). Take :math:`H = [AL_A^{-\top},\, r/\|r\|]` (orthonormal, :math:`N \times
(m+1)`; any unit vector orthogonal to :math:`A` when :math:`r = 0`). Given :math:`A`,
:math:`B` is Gaussian and independent of it, so :math:`Z = B^\top H` (:math:`p \times
(m+1)`, iid standard normal) and :math:`E = B^\top(I - HH^\top)B \sim
\mathrm{Wishart}_p(N-m-1, I)` are independent of each other and of :math:`A`, and
:math:`B^\top A = Z_{:, <m}L_A^\top`, :math:`B^\top w = Z_{:, <m}L_A^\top\hat c +
\rho\,z_m`, :math:`B^\top B = ZZ^\top + E`. (iii) *Block Cholesky.* Then
:math:`G' = \mathcal L\mathcal L^\top` with :math:`\mathcal L = \begin{pmatrix} L_A & 0\\
Z_{:,<m} & L_B\end{pmatrix}`, :math:`L_BL_B^\top = M := E + z_mz_m^\top`, and by the
pooled noise lemma (given :math:`G'`, :math:`X'^\top\varepsilon \sim N(0, \sigma^2G')`,
so :math:`G'^{-1}X'^\top\varepsilon \overset d= \sigma\mathcal L^{-\top}\zeta'`),
:math:`\delta' = \mathcal L^{-\top}(\mathcal L^{-1}S' + \sigma\zeta')`, where
:math:`\mathcal L^{-1}S' = (L_A^\top\hat c,\; \rho L_B^{-1}z_m)`. So
:math:`\delta_B = L_B^{-\top}(\rho L_B^{-1}z_m + \sigma\zeta'_B)` and :math:`\delta_A =
\hat c + L_A^{-\top}(\sigma\zeta'_A - Z_{:,<m}^\top\delta_B)`; :math:`Z_{:,<m}` is
independent of :math:`\delta_B` and :math:`\zeta'_A`, so :math:`\sigma\zeta'_A -
Z_{:,<m}^\top\delta_B \sim N(0, (\sigma^2 + \|\delta_B\|^2)I_m)` given the rest: the
formula for :math:`\delta_A`, which needs :math:`\delta_B` only through its norm.
(iv) *The B part.* :math:`M = Y^\top Y` for :math:`Y` (:math:`(N-m) \times p`)
Gaussian with first row :math:`z_m^\top`, and given :math:`Y`, :math:`\delta_B \sim
N(\rho M^{-1}z_m, \sigma^2M^{-1})`. A fixed rotation :math:`O` of :math:`\mathbb R^p`
(:math:`Y \mapsto YO`) leaves the law of :math:`Y` and the A part unchanged and maps
this conditional law to that of :math:`O^\top\delta_B`; so :math:`\delta_B =
\|\delta_B\|\,u` with :math:`u` uniform on :math:`S^{p-1}`, independent of
:math:`\|\delta_B\|` and of the A part. With :math:`Y = \mathcal HR` (QR: :math:`\mathcal
H` Haar on the Stiefel manifold, :math:`R` upper triangular, independent; Muirhead,
Thm 3.2.14), :math:`L_B = R^\top` and :math:`L_B^{-1}z_m = \mathcal H^\top e_1`, the first
:math:`p` coordinates of a uniform point of :math:`S^{N-m-1}`, in law :math:`h =
g/\sqrt{\|g\|^2 + h_0}` (:math:`h_0 \sim \chi^2_{N-m-p}`), independent of :math:`R`:
:math:`\delta_B \overset d= R^{-1}v` with :math:`v = \rho h + \sigma\zeta` independent of
:math:`M = R^\top R \sim \mathrm{Wishart}_p(N-m, I)`. Then :math:`\|\delta_B\|^2 =
v^\top M^{-1}v \overset d= \|v\|^2 (M^{-1})_{11} = \|v\|^2/c_0` with :math:`c_0 =
1/(M^{-1})_{11} \sim \chi^2_{N-m-p+1}` independent of :math:`v` (the law of :math:`M` is
rotation invariant; Muirhead, Thm 3.2.10). The law of :math:`v` is rotation invariant
too, so :math:`v/\|v\|` is uniform and independent of :math:`\|v\|`, and
:math:`v/\sqrt{c_0}` has the law of :math:`\|\delta_B\|\,u`. :math:`\square`

The mode draws :math:`\sum_b[m\ \chi^2 + m(m-1)/2\ \text{normals}]` (or :math:`m n_b`
normals when :math:`n_b < m`) :math:`+\ 2` chi-squares and :math:`2p + m` normals: at
:math:`d = 10`, 3 in-edges and a real block, 14 chi-squares and 29 normals (the
per-block factors drew 40 and 190). When :math:`\rho = 0` structurally (one synthetic
block and no real data) :math:`g, h_0` are not drawn; with no synthetic block
(:math:`m = 0`, generation 0) it is the classical :math:`\delta = \sigma\zeta/\sqrt{c_0}`,
:math:`c_0 \sim \chi^2_{N-d+1}`; with :math:`s \ge d` (:math:`p = 0`) it is the general
mode with pooled noise.

*Random numbers.* Every number is drawn inside the compiled kernel (numba) from the
replication block's ``numpy.random.Generator`` (its own ziggurat normals and uniforms),
in a fixed order: replication by replication, generation by generation, learner by
learner, each fit's chi-squares first. A chi-square with :math:`\nu \ge 2` degrees of
freedom is :math:`2\,\Gamma(\nu/2)` by Marsaglia and Tsang's exact rejection method
(``_chi2_fill``), :math:`\chi^2_1` the square of a normal. Nothing is materialised in
arrays of random numbers.

Replication block ``b`` of :mod:`graphcollapse.verify.blocks` draws from
``block_generator(seed, b)`` only, so results do not depend on chunking or workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
    layout: "_Layout"            # how each learner is fitted at generation 0 and later


def ols_setup(graph: InteractionGraph, *, _general: bool = False) -> OLSSetup:
    """Validate ``graph`` for simulation and extract its numeric data.

    ``_general`` (testing only) fits every learner in the general mode, so that the two
    modes of the fast path can be compared with each other.

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
    per_learner: list[list[tuple[int, int, float]]] = [[] for _ in range(K)]
    for r in rows:  # rows are sorted by learner: one pass
        per_learner[r[0]].append((r[1], r[2], r[3]))
    layout = _layout(K, d, [[(-1, int(n), noise)] for n in initial] + per_learner, _general)
    return OLSSetup(K, d, initial, noise, tgt,
                    np.array([r[1] for r in rows], dtype=np.intp), np.array([r[2] for r in rows], dtype=np.intp),
                    np.array([r[3] for r in rows]), int(counts.max()), sigma, np.linalg.cholesky(sigma), layout)


@dataclass(frozen=True)
class _Layout:
    """How every learner is fitted, at generation 0 (slots ``0..K-1``) and at every later
    generation (slots ``K..2K-1``); read by the compiled kernel.

    Slot ``s`` fits the blocks ``s_bstart[s]:s_bstop[s]`` (producer ``b_prod``, ``K`` for
    the real block; samples ``b_n``; noise scale ``b_scale``). ``s_mode`` is 1 for the
    *subspace* mode (equal noise variances: ``s_m`` = rotated coordinates, ``s_N`` samples,
    ``s_needh`` whether the residual direction is drawn, noise scale ``s_zscale``) and 0
    for the *general* mode (a factor per block; pooled noise when ``s_zscale >= 0``, else
    per block). Every chi-square has its degrees of freedom at a fixed offset of
    ``chi_df`` (``b_coff`` per block factor, ``-1`` for an explicit design;
    ``s_rcoff`` for the B part: the residual direction's chi-square, if drawn, then the
    inverse-Wishart chi-square);
    ``bartlett`` marks the Bartlett diagonals and the inverse-Wishart chi-squares (the only
    ones ``_df_shift`` changes).
    """

    K: int
    d: int
    max_blocks: int
    max_synthetic: int
    s_mode: np.ndarray
    s_bstart: np.ndarray
    s_bstop: np.ndarray
    s_m: np.ndarray
    s_N: np.ndarray
    s_needh: np.ndarray
    s_rcoff: np.ndarray
    s_zscale: np.ndarray
    s_cstart: np.ndarray
    s_cstop: np.ndarray
    b_prod: np.ndarray
    b_n: np.ndarray
    b_coff: np.ndarray
    b_scale: np.ndarray
    chi_df: np.ndarray
    bartlett: np.ndarray
    n_normal: np.ndarray  # standard normals per fit, per slot (diagnostics)

    @property
    def draws(self) -> int:
        """Random numbers per replication and generation >= 1 (independent of the sample
        counts): normals plus chi-squares."""
        K = self.K
        return int(self.n_normal[K:].sum()) + int(self.s_chis[K:].sum())

    @cached_property
    def s_chis(self) -> np.ndarray:
        """Chi-squares per fit, per slot."""
        out = np.zeros(2 * self.K, dtype=np.int64)
        for s in range(2 * self.K):
            m, d = int(self.s_m[s]), self.d
            q = m if self.s_mode[s] == 1 else d
            for bb in range(int(self.s_bstart[s]), int(self.s_bstop[s])):
                if self.b_coff[bb] >= 0:
                    out[s] += q
            if self.s_mode[s] == 1 and m < d:
                out[s] += 1 + int(self.s_needh[s])
        return out

    def gamma_tables(self, df_shift: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(degrees of freedom, Marsaglia-Tsang constants d = df/2 - 1/3 and
        c = 1/sqrt(9 d)) of every chi-square, Bartlett diagonals shifted by ``df_shift``."""
        df = self.chi_df + df_shift * self.bartlett
        gd = np.maximum(df / 2.0 - 1.0 / 3.0, 1e-300)
        return df, gd, 1.0 / np.sqrt(9.0 * gd)


def _layout(K: int, d: int, blocks: list[list[tuple[int, int, float]]], force_general: bool = False) -> _Layout:
    """The layout of ``2K`` slots; ``blocks[s]`` lists (producer or -1, samples, noise
    variance) of slot ``s`` (slots ``0..K-1``: generation 0)."""
    S = len(blocks)
    s_mode = np.zeros(S, dtype=np.int64)
    s_bstart = np.zeros(S, dtype=np.int64)
    s_bstop = np.zeros(S, dtype=np.int64)
    s_m = np.zeros(S, dtype=np.int64)
    s_N = np.zeros(S, dtype=np.int64)
    s_needh = np.zeros(S, dtype=np.int64)
    s_rcoff = np.full(S, -1, dtype=np.int64)
    s_zscale = np.full(S, -1.0)
    s_cstart = np.zeros(S, dtype=np.int64)
    s_cstop = np.zeros(S, dtype=np.int64)
    n_normal = np.zeros(S, dtype=np.int64)
    b_prod: list[int] = []
    b_n: list[int] = []
    b_coff: list[int] = []
    b_scale: list[float] = []
    chi_df: list[float] = []
    bartlett: list[bool] = []
    max_synthetic = 1
    for s, kb in enumerate(blocks):
        synthetic = [b for b in kb if b[0] >= 0]
        has_real = any(b[0] < 0 for b in kb)
        equal = len({b[2] for b in kb}) == 1
        N = sum(b[1] for b in kb)
        s_N[s] = N
        s_bstart[s] = len(b_prod)
        s_cstart[s] = len(chi_df)
        max_synthetic = max(max_synthetic, len(synthetic))
        subspace = equal and not force_general
        m = min(len(synthetic), d) if subspace else d
        s_m[s] = m
        nn = 0
        for p, n, s2 in kb:
            b_prod.append(K if p < 0 else p)
            b_n.append(n)
            b_scale.append(float(np.sqrt(s2)))
            if n >= m:
                b_coff.append(len(chi_df))
                chi_df += [n - i for i in range(m)]
                bartlett += [True] * m
                nn += m * (m - 1) // 2
            else:
                b_coff.append(-1)
                nn += m * n
            if not subspace and not equal:
                nn += min(n, d)  # per-block noise
        s_bstop[s] = len(b_prod)
        if subspace:
            s_mode[s] = 1
            s_zscale[s] = float(np.sqrt(kb[0][2]))
            p = d - m
            # the residual of the producer errors' regression is zero exactly when every
            # block has the same rotated producer error: one synthetic block and no real one
            needh = p > 0 and (len(synthetic) >= 2 or (len(synthetic) == 1 and has_real))
            s_needh[s] = int(needh)
            if p > 0:
                s_rcoff[s] = len(chi_df)
                if needh:
                    chi_df.append(N - d)
                    bartlett.append(False)
                    nn += p
                chi_df.append(N - d + 1)
                bartlett.append(True)
                nn += p
            nn += m
        elif equal:
            s_zscale[s] = float(np.sqrt(kb[0][2]))
            nn += d
        n_normal[s] = nn
        s_cstop[s] = len(chi_df)

    def ints(v: list[int]) -> np.ndarray:
        return np.array(v, dtype=np.int64)

    counts = s_bstop - s_bstart
    return _Layout(K, d, int(counts.max()), max_synthetic, s_mode, s_bstart, s_bstop, s_m, s_N, s_needh, s_rcoff,
                   s_zscale, s_cstart, s_cstop, ints(b_prod), ints(b_n), ints(b_coff), np.array(b_scale, dtype=float),
                   np.array(chi_df, dtype=float), np.array(bartlett, dtype=bool), n_normal)


def _solve(G: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.linalg.solve(G, rhs[..., None])[..., 0]


@njit(cache=True, nogil=True, fastmath=True)
def _chi2_fill(rng, cdf, cgd, cgc, start, stop, out):  # pragma: no cover - compiled
    """``out[j - start]`` = a chi-square with ``cdf[j]`` degrees of freedom, for ``j`` in
    ``start:stop``, exactly: the square of a standard normal for df = 1, else 2 Gamma(df/2)
    by Marsaglia and Tsang's rejection method (exact for shapes >= 1, the algorithm of
    numpy's own gamma sampler there; ``cgd`` = df/2 - 1/3, ``cgc`` = 1/sqrt(9 cgd))."""
    for j in range(start, stop):
        if cdf[j] < 1.5:
            x = rng.standard_normal()
            out[j - start] = x * x
            continue
        gd = cgd[j]
        gc = cgc[j]
        while True:
            x = rng.standard_normal()
            v = 1.0 + gc * x
            if v <= 0.0:
                continue
            v = v * v * v
            u = rng.random()
            x2 = x * x
            if u < 1.0 - 0.0331 * x2 * x2:
                break
            if np.log(u) < 0.5 * x2 + gd * (1.0 - v + np.log(v)):
                break
        out[j - start] = 2.0 * gd * v


@njit(cache=True, nogil=True, fastmath=True)
def _kernel(rng, size, T, r0, risk, last, K, d, max_blocks, max_synthetic, s_mode, s_bstart, s_bstop, s_m, s_N,
            s_needh, s_rcoff, s_zscale, s_cstart, s_cstop, b_prod, b_n, b_coff, b_scale, cdf, cgd,
            cgc):  # pragma: no cover - compiled
    """``size`` replications of generations 0..T, every random number drawn here from
    ``rng`` in a fixed order (replication by replication, generation by generation,
    learner by learner); writes ``risk[r0 + r, t, k]`` and the last errors
    ``last[r0 + r, k]``. Learners are fitted in the subspace mode (``s_mode == 1``) or
    the general mode (a factor per block, Cholesky, two triangular solves); the methods
    and their proofs are in this module's docstring."""
    prev = np.zeros((K + 1, d))      # row K: the real block's producer error, 0
    cur = np.zeros((K + 1, d))
    Fs = np.zeros((max_blocks, d, d))  # block factors
    fcols = np.zeros(max_blocks, dtype=np.int64)
    flow = np.zeros(max_blocks, dtype=np.int64)
    csel = np.zeros(max_blocks, dtype=np.int64)
    V = np.zeros((d, max_synthetic))  # producer errors, then their rotated coordinates
    Hh = np.zeros((d, d))            # Householder vectors (column j, rows j..d-1)
    hb = np.zeros(d)
    G = np.zeros((d, d))
    L = np.zeros((d, d))
    S = np.zeros(d)
    w = np.zeros(d)
    y = np.zeros(d)
    ch = np.zeros(d)
    e = np.zeros(d)
    chib = np.zeros(max(1, int((s_cstop - s_cstart).max())))
    for r in range(size):
        for i in range(d):
            prev[K, i] = 0.0
            cur[K, i] = 0.0
        for t in range(T + 1):
            base = 0 if t == 0 else K
            for k in range(K):
                slot = base + k
                bs = s_bstart[slot]
                be = s_bstop[slot]
                # the fit's chi-squares first (one call per fit: a call per chi-square measured slower)
                cs = s_cstart[slot]
                _chi2_fill(rng, cdf, cgd, cgc, cs, s_cstop[slot], chib)
                if s_mode[slot] == 1:
                    # ---- subspace mode -------------------------------------------------
                    m = s_m[slot]
                    p = d - m
                    sig = s_zscale[slot]
                    # producer errors of the synthetic blocks, columns of V
                    ns = 0
                    for bb in range(bs, be):
                        pr = b_prod[bb]
                        if pr < K:
                            for i in range(d):
                                V[i, ns] = prev[pr, i]
                            ns += 1
                    # Householder QR: Q^T V upper triangular; Q = H_0 ... H_{m-1}
                    for j in range(m):
                        nrm2 = 0.0
                        for i in range(j, d):
                            nrm2 += V[i, j] * V[i, j]
                        if nrm2 == 0.0:
                            hb[j] = 0.0
                            continue
                        x0 = V[j, j]
                        al = -np.sqrt(nrm2) if x0 >= 0.0 else np.sqrt(nrm2)
                        v0 = x0 - al
                        Hh[j, j] = v0
                        for i in range(j + 1, d):
                            Hh[i, j] = V[i, j]
                        beta = 2.0 / (nrm2 - x0 * x0 + v0 * v0)
                        hb[j] = beta
                        V[j, j] = al
                        for i in range(j + 1, d):
                            V[i, j] = 0.0
                        for c in range(j + 1, ns):
                            dot = 0.0
                            for i in range(j, d):
                                dot += Hh[i, j] * V[i, c]
                            f = beta * dot
                            for i in range(j, d):
                                V[i, c] -= f * Hh[i, j]
                    # block factors F_b (F_b F_b^T ~ Wishart_m(n_b)); W = sum (lower), S = sum W_b c_b
                    for i in range(m):
                        S[i] = 0.0
                        for j in range(i + 1):
                            G[i, j] = 0.0
                    lb = 0
                    si = 0
                    for bb in range(bs, be):
                        co = b_coff[bb]
                        if co >= 0:      # lower Bartlett factor, m x m
                            for i in range(m):
                                for j in range(i):
                                    Fs[lb, i, j] = rng.standard_normal()
                                Fs[lb, i, i] = np.sqrt(chib[co + i - cs])
                            q = m
                            lower = 1
                        else:            # explicit m x n design (n < m)
                            q = b_n[bb]
                            for i in range(m):
                                for j in range(q):
                                    Fs[lb, i, j] = rng.standard_normal()
                            lower = 0
                        fcols[lb] = q
                        flow[lb] = lower
                        for i in range(m):
                            for j in range(i + 1):
                                acc = 0.0
                                for l in range((j + 1) if lower == 1 else q):
                                    acc += Fs[lb, i, l] * Fs[lb, j, l]
                                G[i, j] += acc
                        if b_prod[bb] < K:
                            csel[lb] = si
                            for l in range(q):   # w = F^T c_b
                                acc = 0.0
                                for i in range(l if lower == 1 else 0, m):
                                    acc += Fs[lb, i, l] * V[i, si]
                                w[l] = acc
                            for i in range(m):   # S += F w
                                acc = 0.0
                                for l in range((i + 1) if lower == 1 else q):
                                    acc += Fs[lb, i, l] * w[l]
                                S[i] += acc
                            si += 1
                        else:
                            csel[lb] = -1
                        lb += 1
                    # W = L_A L_A^T; chat = W^{-1} S
                    for j in range(m):
                        acc = G[j, j]
                        for l in range(j):
                            acc -= L[j, l] * L[j, l]
                        L[j, j] = np.sqrt(acc)
                        for i in range(j + 1, m):
                            acc = G[i, j]
                            for l in range(j):
                                acc -= L[i, l] * L[j, l]
                            L[i, j] = acc / L[j, j]
                    for i in range(m):
                        acc = S[i]
                        for l in range(i):
                            acc -= L[i, l] * y[l]
                        y[i] = acc / L[i, i]
                    for i in range(m - 1, -1, -1):
                        acc = y[i]
                        for l in range(i + 1, m):
                            acc -= L[l, i] * ch[l]
                        ch[i] = acc / L[i, i]
                    # |r|^2 = sum_b |F_b^T (c_b - chat)|^2 (no cancellation)
                    r2 = 0.0
                    if s_needh[slot] == 1:
                        for b in range(lb):
                            c = csel[b]
                            for i in range(m):
                                e[i] = (V[i, c] if c >= 0 else 0.0) - ch[i]
                            lower = flow[b]
                            for l in range(fcols[b]):
                                acc = 0.0
                                for i in range(l if lower == 1 else 0, m):
                                    acc += Fs[b, i, l] * e[i]
                                r2 += acc * acc
                    # B part: delta_B = (rho h + sigma zeta) / sqrt(chi^2_{N-d+1})
                    nb2 = 0.0
                    if p > 0:
                        co = s_rcoff[slot] - cs
                        if s_needh[slot] == 1:
                            gg = 0.0
                            for i in range(p):
                                e[i] = rng.standard_normal()
                                gg += e[i] * e[i]
                            f = np.sqrt(r2 / (gg + chib[co]))
                            co += 1
                            for i in range(p):
                                S[i] = f * e[i] + sig * rng.standard_normal()
                        else:
                            for i in range(p):
                                S[i] = sig * rng.standard_normal()
                        f = 1.0 / np.sqrt(chib[co])
                        for i in range(p):
                            y[m + i] = f * S[i]
                            nb2 += y[m + i] * y[m + i]
                    # A part: delta_A = chat + sqrt(sigma^2 + |delta_B|^2) L_A^{-T} g
                    f = np.sqrt(sig * sig + nb2)
                    for i in range(m):
                        S[i] = f * rng.standard_normal()
                    for i in range(m - 1, -1, -1):
                        acc = S[i]
                        for l in range(i + 1, m):
                            acc -= L[l, i] * e[l]
                        e[i] = acc / L[i, i]
                    for i in range(m):
                        y[i] = ch[i] + e[i]
                    # back to the original frame: delta = H_0 ... H_{m-1} y
                    for j in range(m - 1, -1, -1):
                        beta = hb[j]
                        if beta == 0.0:
                            continue
                        dot = 0.0
                        for i in range(j, d):
                            dot += Hh[i, j] * y[i]
                        f = beta * dot
                        for i in range(j, d):
                            y[i] -= f * Hh[i, j]
                    rk = 0.0
                    for i in range(d):
                        cur[k, i] = y[i]
                        rk += y[i] * y[i]
                    risk[r0 + r, t, k] = rk
                    continue
                # ---- general mode: G = sum_b F_b F_b^T, S = sum_b F_b (F_b^T delta_p + s_b z_b)
                for i in range(d):
                    S[i] = 0.0
                    for j in range(d):
                        G[i, j] = 0.0
                pooled = s_zscale[slot] >= 0.0
                for bb in range(bs, be):
                    co = b_coff[bb]
                    if co >= 0:  # Bartlett factor, lower triangular
                        for i in range(d):
                            for j in range(i):
                                Fs[0, i, j] = rng.standard_normal()
                            Fs[0, i, i] = np.sqrt(chib[co + i - cs])
                        c = d
                        glow = True
                    else:        # explicit d x n design (n < d)
                        c = b_n[bb]
                        for i in range(d):
                            for j in range(c):
                                Fs[0, i, j] = rng.standard_normal()
                        glow = False
                    for i in range(d):
                        for j in range(i + 1):
                            acc = 0.0
                            for l in range((j + 1) if glow else c):
                                acc += Fs[0, i, l] * Fs[0, j, l]
                            G[i, j] += acc
                    pr = b_prod[bb]
                    if pr < K or not pooled:
                        for l in range(c):
                            acc = 0.0
                            if pr < K:
                                for i in range(l if glow else 0, d):
                                    acc += Fs[0, i, l] * prev[pr, i]
                            if not pooled:
                                acc += b_scale[bb] * rng.standard_normal()
                            w[l] = acc
                        for i in range(d):
                            acc = 0.0
                            for l in range((i + 1) if glow else c):
                                acc += Fs[0, i, l] * w[l]
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
                for i in range(d):       # y = L^{-1} S (+ sigma z: pooled noise, N(0, sigma^2 G))
                    acc = S[i]
                    for l in range(i):
                        acc -= L[i, l] * y[l]
                    y[i] = acc / L[i, i]
                if pooled:
                    for i in range(d):
                        y[i] += s_zscale[slot] * rng.standard_normal()
                rk = 0.0
                for i in range(d - 1, -1, -1):  # delta = L^{-T} y
                    acc = y[i]
                    for l in range(i + 1, d):
                        acc -= L[l, i] * cur[k, l]
                    cur[k, i] = acc / L[i, i]
                    rk += cur[k, i] * cur[k, i]
                risk[r0 + r, t, k] = rk
            for k in range(K):
                for i in range(d):
                    prev[k, i] = cur[k, i]
        for k in range(K):
            for i in range(d):
                last[r0 + r, k, i] = prev[k, i]


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
        Testing only: adds to the degrees of freedom of the Bartlett diagonals and of the
        inverse-Wishart chi-squares (a deliberately wrong sampler).

    Returns
    -------
    risk : ndarray (size, T + 1, K)
        :math:`\|\delta_k^{(t)}\|_\Sigma^2`.
    proj : ndarray (size, K) or None

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from .blocks import block_generator
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
    >>> from .blocks import block_generator
    >>> st = ols_setup(cycle(2, real_samples=20, initial_samples=30, dimension=3))
    >>> both, _ = simulate_ols_blocks(st, 2, [(block_generator(0, 0), 5), (block_generator(0, 1), 3)])
    >>> alone, _ = simulate_ols_block(st, 2, block_generator(0, 1), 3)
    >>> np.array_equal(both[5:], alone)
    True
    """
    K, d = setup.K, setup.d
    lay = setup.layout
    cdf, cgd, cgc = lay.gamma_tables(_df_shift)
    R = int(sum(int(n) for _, n in streams))
    risk = np.empty((R, generations + 1, K))
    last = np.empty((R, K, d))
    r0 = 0
    for rng, n in streams:
        _kernel(rng, int(n), int(generations), r0, risk, last, K, d, lay.max_blocks, lay.max_synthetic,
                lay.s_mode, lay.s_bstart, lay.s_bstop, lay.s_m, lay.s_N, lay.s_needh, lay.s_rcoff, lay.s_zscale,
                lay.s_cstart, lay.s_cstop, lay.b_prod, lay.b_n, lay.b_coff, lay.b_scale, cdf, cgd, cgc)
        r0 += int(n)
    proj = None if projection is None else last @ np.asarray(projection, dtype=float)
    return risk, proj


def simulate_ols_reference(setup: OLSSetup, generations: int, rng: np.random.Generator, size: int, *,
                           projection: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Reference path: explicit designs :math:`X = Z L^\top` (so :math:`x \sim N(0,\Sigma)`)
    and labels, one normal-equations solve per fit; same outputs as
    :func:`simulate_ols_block` (``projection`` acts on :math:`L^\top\delta`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from .blocks import block_generator
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
