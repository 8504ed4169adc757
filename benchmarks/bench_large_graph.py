"""Speed and memory of the structural theory at scale.

1. Verdicts and growth rates on a seeded random graph of 1,000,000 learners with at
   least 1,000 offending source components (some periodic) and at least 10% of learners
   fed by two or more of them, from the graph in memory; plus the end-to-end time from
   the JSON file (write, load, analyse).
2. Large-sample stationary risks of a seeded random graph of 2,000 learners with 5
   in-edges each and spectral radius of W at least 0.99.

Every step runs ``--rounds`` times (at least 5; everything the graph caches about itself
is dropped between rounds) and is reported as the median and range of its CPU time (``time.process_time``;
wall time beside it: the dense BLAS of step 2 may use both cores). Peak memory is the
process's maximum resident set size (``resource.getrusage``).

Checks (outside the timed steps): the graph has the structure claimed (>= 1,000
offending components, some periodic, >= 10% of learners fed by two or more); every round
gives the same verdicts and rates; the float growth rates equal those of the independent
level-wise propagation (:func:`graphcollapse.theory.propagation.growth_rates_propagated`)
to 1e-9 relative; the graph loaded back from JSON gives the same verdicts and rates; the
stationary covariance solves its Lyapunov equation (relative residual < 1e-12) with
rho(W) >= 0.99.

Run: ``python benchmarks/bench_large_graph.py [--learners 1000000] [--rounds 5]
[--skip-json]``; writes ``benchmarks/results/large_graph.json``.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MIN_ROUNDS, spread, write_results  # noqa: E402

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


def timed(f, *args):
    """(CPU seconds, wall seconds, result) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = f(*args)
    return time.process_time() - c0, time.perf_counter() - w0, out


def cpu_wall(cpu: list[float], wall: list[float]) -> dict:
    return {"cpu_s": spread(cpu), "wall_s": spread(wall), "cpu_per_round": cpu, "wall_per_round": wall}


def show(s: dict) -> str:
    c, w = s["cpu_s"], s["wall_s"]
    return f"{c['median']:.2f} s CPU [{c['min']:.2f}-{c['max']:.2f}] (wall {w['median']:.2f} s)"


def forget_derived(G: InteractionGraph) -> None:
    """Drop everything the graph caches about itself (``derived`` and every
    ``functools.cached_property``: the structure, the adjacency, ...), so that a round
    times the whole computation from the graph's columns."""
    from functools import cached_property

    for name, attr in vars(type(G)).items():
        if isinstance(attr, cached_property):
            G.__dict__.pop(name, None)


def same_rates(a: dict, b: dict, rel: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= rel * abs(b[k]) for k in a)


def big_graph_benchmark(n: int, rounds: int, skip_json: bool, checks: dict) -> dict:
    from graphcollapse.theory.propagation import growth_rates_propagated

    c_build, _, G = timed(layered_graph, n)
    print(f"[1] built {G.num_learners:,} learners, {len(G.edge_sources):,} edges in {c_build:.1f} s CPU", flush=True)
    vc, vw, rc, rw = [], [], [], []
    first = None
    for _ in range(rounds):
        forget_derived(G)  # recompute the structure each round
        c, w, cond = timed(collapse_condition, G)
        vc.append(c)
        vw.append(w)
        c, w, rates = timed(growth_rates_float, G, cond)
        rc.append(c)
        rw.append(w)
        if first is None:
            first = (list(cond.collapses), rates)
        elif list(cond.collapses) != first[0] or not same_rates(rates, first[1]):
            checks["every round gives the same verdicts and rates"] = False
    checks.setdefault("every round gives the same verdicts and rates", True)
    n_comp = len(cond.components)
    periodic = sum(c.period > 1 for c in cond.components)
    several = sum(len(f) >= 2 for f in cond.feeding)
    collapsing = sum(cond.collapses)
    checks["structure: >= 1000 offending components, some periodic, >= 10% fed by >= 2"] = (
        n_comp >= 1000 and periodic > 0 and several >= 0.1 * n)
    checks["one growth rate per collapsing learner"] = len(rates) == collapsing
    prop = growth_rates_propagated(G, cond)
    worst = max((abs(prop[k] - rates[k]) / abs(rates[k]) for k in rates), default=0.0)
    checks["growth rates equal the level-wise propagation's (relative 1e-9)"] = prop.keys() == rates.keys() and \
        worst < 1e-9
    out = {"learners": G.num_learners, "edges": len(G.edge_sources), "offending_components": n_comp,
           "periodic": periodic, "fed_by_two_or_more": several, "collapsing": collapsing, "build_cpu_s": c_build,
           "verdicts": cpu_wall(vc, vw), "rates": cpu_wall(rc, rw),
           "total_from_memory_cpu_s": spread([a + b for a, b in zip(vc, rc)]),
           "max_rel_diff_vs_propagation": worst, "peak_rss_gb_from_memory": peak_rss_gb()}
    print(f"    offending components: {n_comp:,} ({periodic:,} periodic); learners fed by >= 2: "
          f"{several:,} ({100 * several / n:.1f}%); collapsing learners: {collapsing:,}")
    print(f"    verdicts {show(out['verdicts'])}; growth rates {show(out['rates'])}; total from memory "
          f"{out['total_from_memory_cpu_s']['median']:.2f} s CPU; peak RSS {peak_rss_gb():.2f} GB; "
          f"rates vs propagation: max rel diff {worst:.1e}", flush=True)
    if skip_json:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.json")
        c_write, _, _ = timed(Path(path).write_text, json.dumps(G.to_dict()))
        size = os.path.getsize(path) / 1024**2
        ref_collapses, ref_rates = first
        del G, cond, rates, prop
        lc, lw, ac, aw = [], [], [], []
        ok = True
        for _ in range(rounds):
            c, w, H = timed(load_graph, path)
            lc.append(c)
            lw.append(w)
            c0, w0 = time.process_time(), time.perf_counter()
            cond = collapse_condition(H)
            rates = growth_rates_float(H, cond)
            ac.append(time.process_time() - c0)
            aw.append(time.perf_counter() - w0)
            ok = ok and list(cond.collapses) == ref_collapses and same_rates(rates, ref_rates)
            del H, cond, rates
        checks["the graph loaded from JSON gives the same verdicts and rates"] = ok
        out["json"] = {"file_mb": size, "write_cpu_s": c_write, "load": cpu_wall(lc, lw),
                       "verdicts_and_rates": cpu_wall(ac, aw),
                       "end_to_end_cpu_s": spread([a + b for a, b in zip(lc, ac)]), "peak_rss_gb": peak_rss_gb()}
        print(f"    end to end from JSON ({size:.0f} MB): load {show(out['json']['load'])} + verdicts and rates "
              f"{show(out['json']['verdicts_and_rates'])}; end to end {out['json']['end_to_end_cpu_s']['median']:.1f}"
              f" s CPU; peak RSS {peak_rss_gb():.2f} GB", flush=True)
    return out


def stationary_benchmark(rounds: int, checks: dict, K: int = 2000, in_degree: int = 5, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    edges = []
    for k in range(K):
        producers = rng.choice(np.delete(np.arange(K), k), in_degree, replace=False)
        edges += [(f"L{j}", f"L{k}", int(rng.integers(20, 60))) for j in producers]
    real = rng.integers(0, 2, K)  # about half get one real sample: rho(W) close to 1
    G = InteractionGraph([f"L{k}" for k in range(K)], real_samples=real.tolist(), initial_samples=[50] * K,
                         edges=edges, dimension=5, noise_variance=1)
    cond = collapse_condition(G)
    from graphcollapse.theory.analysis import spectral_radius

    rho = spectral_radius(G, cond)
    cs, ws, res = [], [], []
    first = None
    for _ in range(rounds):
        forget_derived(G)
        cond = collapse_condition(G)
        c, w, (B, risks, residual) = timed(stationary_risks_float, G, cond)
        cs.append(c)
        ws.append(w)
        res.append(residual)
        first = risks if first is None else first
        if not np.array_equal(first, risks):
            checks["stationary risks identical in every round"] = False
    checks.setdefault("stationary risks identical in every round", True)
    checks["stationary: no learner collapses, rho(W) >= 0.99"] = not any(cond.collapses) and rho >= 0.99
    checks["stationary covariance solves its Lyapunov equation (relative residual < 1e-12)"] = max(res) < 1e-12
    out = {"learners": K, "in_degree": in_degree, "rho": rho, "time": cpu_wall(cs, ws), "relative_residual": max(res),
           "mean_risk": float(np.mean(first))}
    print(f"[2] {K} learners, {in_degree} in-edges each, rho(W) = {rho:.5f}: stationary risks {show(out['time'])} "
          f"(relative residual {max(res):.1e}); mean risk {np.mean(first):.4g}", flush=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-json", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    if args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds: at least {MIN_ROUNDS}")
    checks: dict = {}
    results: dict = {"rounds": args.rounds}
    if not args.skip_big:
        results["structural"] = big_graph_benchmark(args.learners, args.rounds, args.skip_json, checks)
    results["stationary"] = stationary_benchmark(args.rounds, checks)
    path = write_results("large_graph", results, checks, "python benchmarks/bench_large_graph.py")
    print(f"checks: {'all passed' if all(checks.values()) else 'FAILED: ' + ', '.join(k for k, v in checks.items() if not v)}"
          f"; results in {path}")
    sys.exit(0 if all(checks.values()) else 1)
