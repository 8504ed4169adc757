"""The fast OLS sampler (sufficient statistics drawn in a compiled kernel) has the law of
the explicit reference simulation, and the same two-sample tests catch a wrong sampler.

Both samplers are run with fixed seeds; a Kolmogorov-Smirnov two-sample test at level
1e-3 must accept the fast path and reject the deliberately wrong one (Bartlett with one
extra degree of freedom, and the same for the inverse-Wishart chi-square of the subspace
mode). The graphs contain blocks with fewer than d samples and a
non-identity covariance, and learners of both kernel modes (general: a factor per
block, taken for unequal noise variances; subspace: equal noise variances, with 0, 1,
2, 3 and d synthetic blocks, with and without real data; the method is in the
docstring of ``graphcollapse.verify.simulate``). The general mode, forced on every
learner, is also compared with the subspace mode, and the kernel's chi-square sampler
with scipy's chi-square law.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.stats import ks_2samp

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.verify.blocks import block_generator
from graphcollapse.verify.simulate import ols_setup, sample_ols, simulate_ols_block

LEVEL = 1e-3
R = 20000
T = 2

GRAPHS = {
    # A -> B carries 3 < d = 4 samples; Sigma is not the identity
    "two-learners-sigma": InteractionGraph(
        ["A", "B"], real_samples=[10, 0], initial_samples=[12, 9],
        edges=[("A", "B", 3), ("B", "B", 9), ("B", "A", 5)], dimension=4, noise_variance=1,
        synthetic_noise_variance=[None, 2],
        covariance=[[2, 0.5, 0, 0], [0.5, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 3]]),
    # every synthetic block is smaller than d = 5
    "small-blocks": InteractionGraph(
        ["A", "B", "C"], real_samples=[12, 6, 0], initial_samples=[9, 9, 9],
        edges=[("A", "B", 2), ("C", "B", 1), ("A", "C", 4), ("B", "C", 3), ("C", "C", 2)],
        dimension=5, noise_variance=1),
    # rotation mode (one synthetic block, equal noise): A real + self-loop, B only a
    # synthetic block (no real data), C real + a synthetic block smaller than d = 4
    "rotation": InteractionGraph(
        ["A", "B", "C"], real_samples=[7, 0, 5], initial_samples=[9, 8, 10],
        edges=[("A", "A", 6), ("A", "B", 9), ("B", "C", 3)], dimension=4, noise_variance=1,
        covariance=[[1, 0, 0.3, 0], [0, 2, 0, 0], [0.3, 0, 1, 0], [0, 0, 0, 0.5]]),
    # subspace mode with several synthetic blocks at d = 4: A real + 3 synthetic (one of 2
    # samples < m = 3), B 2 synthetic and no real data, C real + 4 = d synthetic blocks
    # (m = d), D only real data (m = 0); Sigma is not the identity
    "subspace": InteractionGraph(
        ["A", "B", "C", "D"], real_samples=[4, 0, 5, 9], initial_samples=[10, 12, 9, 8],
        edges=[("A", "A", 3), ("B", "A", 2), ("D", "A", 5), ("A", "B", 4), ("C", "B", 5),
               ("A", "C", 1), ("B", "C", 1), ("C", "C", 2), ("D", "C", 1)],
        dimension=4, noise_variance=1,
        covariance=[[1, 0, 0, 0.4], [0, 2, 0, 0], [0, 0, 0.5, 0], [0.4, 0, 0, 1.5]]),
}
V = {"two-learners-sigma": np.array([1.0, -2.0, 0.5, 1.0]), "small-blocks": np.array([1.0, 0.0, -1.0, 2.0, 0.5]),
     "rotation": np.array([0.5, 1.0, -1.0, 2.0]), "subspace": np.array([1.0, -1.0, 0.5, 2.0])}


@functools.lru_cache(maxsize=None)
def _samples(name: str, method: str, shift: int = 0):
    seed = 11 if method == "reference" else 12
    kw = {"_df_shift": shift} if method == "fast" else {}
    return sample_ols(GRAPHS[name], T, R, seed, method=method, projection=V[name], **kw)


CASES = [pytest.param(g, k, shift, id=f"{g}-L{k}-{'wrong' if shift else 'fast'}")
         for g in GRAPHS for k in range(GRAPHS[g].num_learners) for shift in (0, 1)]


@pytest.mark.parametrize("graph_name, k, shift", CASES)
def test_risk_law_matches_reference(graph_name: str, k: int, shift: int) -> None:
    """Claim: the fast path's risk at generation T has the reference law (KS p > 1e-3),
    and the wrong sampler (Bartlett with n + 1 degrees of freedom) is rejected."""
    ref, _ = _samples(graph_name, "reference")
    fast, _ = _samples(graph_name, "fast", shift)
    p = ks_2samp(ref[:, T, k], fast[:, T, k]).pvalue
    assert (p > LEVEL) if shift == 0 else (p < LEVEL), p


@pytest.mark.parametrize("graph_name, k, shift", CASES)
def test_projection_law_matches_reference(graph_name: str, k: int, shift: int) -> None:
    """Claim: |<v, Sigma^{1/2}(theta_k - theta*)>| at generation T has the reference law,
    and the wrong sampler is rejected (same KS test)."""
    _, ref = _samples(graph_name, "reference")
    _, fast = _samples(graph_name, "fast", shift)
    p = ks_2samp(np.abs(ref[:, k]), np.abs(fast[:, k])).pvalue
    assert (p > LEVEL) if shift == 0 else (p < LEVEL), p


def _general(name: str):
    """The fast path with every learner forced into the general mode (per-block factors)."""
    from graphcollapse.verify.blocks import BLOCK_SIZE

    st = ols_setup(GRAPHS[name], _general=True)
    out = [simulate_ols_block(st, T, block_generator(13, b), BLOCK_SIZE, projection=V[name])
           for b in range(R // BLOCK_SIZE)]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


@pytest.mark.parametrize("graph_name", ["subspace", "rotation", "small-blocks"])
def test_subspace_mode_matches_general_mode(graph_name: str) -> None:
    """Claim: the two kernel modes draw the same law (KS p > 1e-3 on the risk and the
    projection of every learner), the subspace mode being the one run by default."""
    assert (ols_setup(GRAPHS[graph_name]).layout.s_mode == 1).all()
    sub_risk, sub_proj = _samples(graph_name, "fast")
    gen_risk, gen_proj = _general(graph_name)
    for k in range(GRAPHS[graph_name].num_learners):
        assert ks_2samp(sub_risk[:, T, k], gen_risk[:, T, k]).pvalue > LEVEL
        assert ks_2samp(np.abs(sub_proj[:, k]), np.abs(gen_proj[:, k])).pvalue > LEVEL


def test_modes_of_the_test_graphs() -> None:
    """The graphs above exercise every branch of the kernel: general mode with per-block
    noise, subspace mode with m = 0, 1, 2, 3 and m = d, with and without real data."""
    lay = ols_setup(GRAPHS["two-learners-sigma"]).layout
    assert (lay.s_mode[2:] == 0).any()
    lay = ols_setup(GRAPHS["subspace"]).layout
    K = 4
    assert lay.s_m[K:].tolist() == [3, 2, 4, 0] and lay.s_needh[K:].tolist() == [1, 1, 0, 0]
    lay = ols_setup(GRAPHS["rotation"]).layout
    assert lay.s_m[3:].tolist() == [1, 1, 1] and lay.s_needh[3:].tolist() == [1, 0, 1]


@pytest.mark.parametrize("df", [1, 2, 3, 7, 40, 995])
def test_kernel_chi_square_sampler(df: int) -> None:
    """Claim: the kernel's chi-square sampler (Marsaglia-Tsang, in the compiled kernel)
    has the chi-square law: one-sample KS against scipy's, p > 1e-3 on 20,000 draws; and
    with one degree of freedom more it is rejected against the original law (for df <= 40;
    at df = 995 the shift is 0.02 standard deviations, below the power of 20,000 draws)."""
    from scipy.stats import chi2, kstest

    from graphcollapse.verify.simulate import _chi2_fill

    n = 20000
    for shift, accept in ((0, True), (1, False)) if df <= 40 else ((0, True),):
        dfs = np.full(n, float(df + shift))
        gd = dfs / 2.0 - 1.0 / 3.0
        out = np.empty(n)
        _chi2_fill(block_generator(3, df), dfs, gd, 1.0 / np.sqrt(9.0 * gd), 0, n, out)
        p = kstest(out, chi2(df).cdf).pvalue
        assert (p > LEVEL) if accept else (p < LEVEL), (df, shift, p)


def test_fast_path_is_reproducible() -> None:
    """Claim: the same generator state gives bit-identical results."""
    st = ols_setup(GRAPHS["small-blocks"])
    a, _ = simulate_ols_block(st, 3, block_generator(5, 2), 64)
    b, _ = simulate_ols_block(st, 3, block_generator(5, 2), 64)
    assert np.array_equal(a, b)


def test_work_does_not_depend_on_sample_count() -> None:
    """Claim: the fast path's work (random entries and array shapes) is the same for
    N = 50 and N = 100,000 (sufficient statistics; the timing is in benchmarks/)."""
    from graphcollapse.theory.builders import self_training

    sizes = []
    for n in (50, 100_000):
        lay = ols_setup(self_training(real_samples=n, samples=n, initial_samples=n, dimension=10)).layout
        sizes.append((lay.n_normal.tolist(), lay.chi_df.size, lay.draws))
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize("graph, match", [
    pytest.param(InteractionGraph(["A"], real_samples=[3], initial_samples=[30], edges=[], dimension=3,
                                  noise_variance=1), "samples per generation", id="N-le-d"),
    pytest.param(InteractionGraph(["A"], real_samples=[30], initial_samples=[2], edges=[], dimension=3,
                                  noise_variance=1), "initial_samples", id="n0-le-d"),
])
def test_too_few_samples_is_one_line_error(graph: InteractionGraph, match: str) -> None:
    """Claim: OLS without a unique solution is refused with a one-line message."""
    with pytest.raises(GraphValueError, match=match) as info:
        ols_setup(graph)
    assert "\n" not in str(info.value)
