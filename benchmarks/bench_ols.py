"""Speed of the fast OLS simulator against the naive baseline (run by hand, prints tables).

    python benchmarks/bench_ols.py            # speed tables (about 15 s after a JIT warm-up)
    python benchmarks/bench_ols.py --memory   # also 10^5 replications x 20 generations (about 75 s)

Learner-fits per second at d = 10, measured in the same run as
``../shared/baselines/naive_ols.fits_per_second`` (explicit design, one solve per fit).
A fit is one learner at one generation; the fast path runs replication blocks of
``graphcollapse.verify.blocks.BLOCK_SIZE`` exactly as ``graphcollapse verify`` does.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / ".." / "shared" / "baselines"))

import naive_ols  # noqa: E402

from graphcollapse.theory.builders import self_training  # noqa: E402
from graphcollapse.theory.graph import InteractionGraph  # noqa: E402
from graphcollapse.verify.blocks import BLOCK_SIZE, block_generator  # noqa: E402
from graphcollapse.verify.montecarlo import auto_chunk  # noqa: E402
from graphcollapse.verify.simulate import ols_setup, simulate_ols_blocks  # noqa: E402

D = 10


def ten_learner_graph(N: int, seed: int = 0) -> InteractionGraph:
    """10 learners; each gets N/4 real samples and 3 in-edges (distinct random producers,
    self-loops allowed) of N/4 samples each, so N_k = N."""
    rng = np.random.default_rng(seed)
    names = [f"L{k}" for k in range(10)]
    edges = [(names[j], names[k], N // 4) for k in range(10) for j in rng.choice(10, size=3, replace=False)]
    return InteractionGraph(names, real_samples=[N - 3 * (N // 4)] * 10, initial_samples=[N] * 10, edges=edges,
                            dimension=D, noise_variance=1)


def fast_fits_per_second(graph: InteractionGraph, generations: int = 20, blocks: int = 8, chunk: int | None = None) -> float:
    setup = ols_setup(graph)
    chunk = auto_chunk(setup) if chunk is None else chunk
    start = time.perf_counter()
    for first in range(0, blocks, chunk):
        simulate_ols_blocks(setup, generations, [(block_generator(0, b), BLOCK_SIZE)
                                                 for b in range(first, min(first + chunk, blocks))])
    return blocks * BLOCK_SIZE * (generations + 1) * graph.num_learners / (time.perf_counter() - start)


def speed_table() -> None:
    fast_fits_per_second(self_training(real_samples=20, samples=20, dimension=D), generations=1, blocks=1)  # JIT warm-up
    print(f"learner-fits per second, d = {D} (fast: auto_chunk blocks of {BLOCK_SIZE} replications, 20 generations)")
    print(f"{'case':<34} {'N':>7} {'fast':>12} {'naive':>10} {'speed-up':>9} {'target':>7}")
    for name, build, targets in (
        ("self-training, 1 learner", lambda N: self_training(real_samples=N // 2, samples=N - N // 2,
                                                             initial_samples=N, dimension=D), {200: 25, 1000: 100}),
        ("10 learners, 3 in-edges each", ten_learner_graph, {200: 8, 1000: 30}),
    ):
        for N in (200, 1000):
            fast = fast_fits_per_second(build(N))
            naive = naive_ols.fits_per_second(D, N, 2000 if N == 200 else 600)
            print(f"{name:<34} {N:>7} {fast:>12,.0f} {naive:>10,.0f} {fast / naive:>8.1f}x {targets[N]:>6}x")
    print("\nfast path cost against N (self-training, d = 10)")
    for N in (50, 1000, 100_000):
        g = self_training(real_samples=N // 2, samples=N - N // 2, initial_samples=N, dimension=D)
        print(f"  N = {N:>7}: {fast_fits_per_second(g):>10,.0f} fits/s")


def memory_run(replications: int = 100_000, generations: int = 20) -> None:
    from graphcollapse.verify.montecarlo import verify_ols

    g = ten_learner_graph(200)
    start = time.perf_counter()
    res = verify_ols(g, generations=generations, replications=replications, seed=1)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"\n{replications:,} replications x {generations} generations of the 10-learner graph (N = 200): "
          f"{elapsed:.1f} s, peak RSS {peak:.0f} MB, agrees with the exact theory: {res.agrees}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--memory", action="store_true", help="also run 10^5 replications x 20 generations")
    a = ap.parse_args()
    speed_table()
    if a.memory:
        memory_run()


def memory_only() -> None:  # pragma: no cover - python -c entry for the memory figure alone
    memory_run()
