"""The fast OLS sampler (Bartlett / design factors, sufficient statistics) has the law of
the explicit reference simulation, and the same two-sample tests catch a wrong sampler.

Both samplers are run with fixed seeds; a Kolmogorov-Smirnov two-sample test at level
1e-3 must accept the fast path and reject the deliberately wrong one (Bartlett with one
extra degree of freedom). The graphs contain blocks with fewer than d samples and a
non-identity covariance, and learners of both kernel modes (general: a factor per
block; rotation: one synthetic block, docs/verify.md).
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
}
V = {"two-learners-sigma": np.array([1.0, -2.0, 0.5, 1.0]), "small-blocks": np.array([1.0, 0.0, -1.0, 2.0, 0.5]),
     "rotation": np.array([0.5, 1.0, -1.0, 2.0])}


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
        sizes.append((lay.n_normal, lay.chi_df.size))
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
