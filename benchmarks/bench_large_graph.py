"""Speed and memory of the structural theory at scale.

1. Verdicts and growth rates on a seeded random graph of 1,000,000 learners with at
   least 1,000 offending source components (some periodic) and at least 10% of learners
   fed by two or more of them, from the graph in memory; plus the end-to-end time from
   the JSON file (write, load, analyse).
2. Large-sample stationary risks of a seeded random graph of 2,000 learners with 5
   in-edges each and spectral radius of W at least 0.99.

Run: ``python benchmarks/bench_large_graph.py [--learners 1000000] [--skip-json]``.
Peak memory is the process's maximum resident set size (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphcollapse.theory import InteractionGraph, collapse_condition, load_graph  # noqa: E402
from graphcollapse.theory.recursion import growth_rates_float, stationary_risks_float  # noqa: E402


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def layered_graph(n: int, components: int = 1200, seed: int = 2026) -> InteractionGraph:
    """Layer 0: `components` offending source components (self-loops, 2-4 cycles, some with
    a chord so aperiodic) and healthy sources with real data; layer 1: two in-edges from
    layer 0 (so many learners are fed by two components) and real data, with 10% of them
    paired into transient 2-cycles; layer 2: two in-edges from layer 1 and real data."""
    rng = np.random.default_rng(seed)
    src: list[np.ndarray] = []
    tgt: list[np.ndarray] = []
    start = 0
    comp_members = []
    for c in range(components):
        size = 1 + c % 4
        members = np.arange(start, start + size)
        start += size
        comp_members.append(members)
        src.append(members)
        tgt.append(np.roll(members, -1))  # a cycle (self-loop when size 1)
        if size > 2 and c % 3 == 0:  # a chord makes it aperiodic
            src.append(members[:1])
            tgt.append(members[:1])
    offending = np.concatenate(comp_members)
    n_healthy = 50_000
    healthy = np.arange(start, start + n_healthy)
    start += n_healthy
    rest = n - start
    n1 = rest * 2 // 5
    layer1 = np.arange(start, start + n1)
    layer2 = np.arange(start + n1, n)
    # layer 1: each draws 2 producers, from offending members with prob 0.6
    for _ in range(2):
        from_bad = rng.random(n1) < 0.6
        prod = np.where(from_bad, rng.choice(offending, n1), rng.choice(healthy, n1))
        src.append(prod)
        tgt.append(layer1)
    pairs = layer1[: (n1 // 10) // 2 * 2].reshape(-1, 2)
    src += [pairs[:, 0], pairs[:, 1]]
    tgt += [pairs[:, 1], pairs[:, 0]]
    for _ in range(2):
        src.append(rng.choice(layer1, len(layer2)))
        tgt.append(layer2)
    src_a = np.concatenate(src)
    tgt_a = np.concatenate(tgt)
    # drop repeated (source, target) pairs
    key = np.unique(src_a.astype(np.int64) * n + tgt_a)
    src_a, tgt_a = (key // n).tolist(), (key % n).tolist()
    samples = rng.integers(5, 40, len(src_a)).tolist()
    real = np.zeros(n, dtype=np.int64)
    real[start - n_healthy:] = rng.integers(1, 30, n - (start - n_healthy))
    names = [f"L{k}" for k in range(n)]
    return InteractionGraph(names, real_samples=real.tolist(), initial_samples=[50] * n,
                            edges=zip(src_a, tgt_a, samples), dimension=5, noise_variance=1)


def big_graph_benchmark(n: int, skip_json: bool) -> None:
    t0 = time.perf_counter()
    G = layered_graph(n)
    t_build = time.perf_counter() - t0
    print(f"[1] built {G.num_learners:,} learners, {len(G.edge_sources):,} edges in {t_build:.1f} s")

    t0 = time.perf_counter()
    cond = collapse_condition(G)
    t_cond = time.perf_counter() - t0
    t0 = time.perf_counter()
    rates = growth_rates_float(G, cond)
    t_rates = time.perf_counter() - t0
    n_comp = len(cond.components)
    periodic = sum(c.period > 1 for c in cond.components)
    several = sum(len(f) >= 2 for f in cond.feeding)
    collapsing = sum(cond.collapses)
    print(f"    offending components: {n_comp:,} ({periodic:,} periodic); learners fed by >= 2: "
          f"{several:,} ({100 * several / n:.1f}%); collapsing learners: {collapsing:,}")
    print(f"    verdicts (exact, structural): {t_cond:.2f} s; growth rates (float): {t_rates:.2f} s; "
          f"total from memory: {t_cond + t_rates:.2f} s; peak RSS so far {peak_rss_gb():.2f} GB")
    assert len(rates) == collapsing
    if skip_json:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.json")
        t0 = time.perf_counter()
        Path(path).write_text(json.dumps(G.to_dict()))
        t_write = time.perf_counter() - t0
        size = os.path.getsize(path) / 1024**2
        del G, cond, rates
        t0 = time.perf_counter()
        H = load_graph(path)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        cond = collapse_condition(H)
        growth_rates_float(H, cond)
        t_an = time.perf_counter() - t0
        print(f"    end to end from JSON ({size:.0f} MB, written in {t_write:.1f} s): load {t_load:.1f} s "
              f"+ verdicts and rates {t_an:.1f} s = {t_load + t_an:.1f} s; peak RSS {peak_rss_gb():.2f} GB")


def stationary_benchmark(K: int = 2000, in_degree: int = 5, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    edges = []
    for k in range(K):
        producers = rng.choice(np.delete(np.arange(K), k), in_degree, replace=False)
        edges += [(f"L{j}", f"L{k}", int(rng.integers(20, 60))) for j in producers]
    real = rng.integers(0, 2, K)  # about half get one real sample: rho(W) close to 1
    G = InteractionGraph([f"L{k}" for k in range(K)], real_samples=real.tolist(), initial_samples=[50] * K,
                         edges=edges, dimension=5, noise_variance=1)
    cond = collapse_condition(G)
    assert not any(cond.collapses)
    from graphcollapse.theory.analysis import spectral_radius

    rho = spectral_radius(G, cond)
    t0 = time.perf_counter()
    B, risks, residual = stationary_risks_float(G, cond)
    t = time.perf_counter() - t0
    print(f"[2] {K} learners, {in_degree} in-edges each, rho(W) = {rho:.5f}: stationary risks in {t:.1f} s "
          f"(relative residual {residual:.1e}); mean risk {risks.mean():.4g}")
    assert rho >= 0.99


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--skip-json", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    if not args.skip_big:
        big_graph_benchmark(args.learners, args.skip_json)
    stationary_benchmark()
