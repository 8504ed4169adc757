"""Large-sample verdicts and growth rates at scale: level-wise propagation against the
per-component sparse solve it replaced.

1. Interleaved comparison (CPU time, ``--rounds`` rounds, median and spread) of
   :func:`graphcollapse.theory.propagation.growth_rates_propagated` against
   :func:`graphcollapse.theory.recursion.growth_rates_float` (one sparse LU per offending
   component) on seeded layered random graphs of 50,000 learners with uniform mixing and
   100 offending components, at increasing depth; every round checks that both give the
   same rates (relative difference < 1e-9).
2. The target graph: 10^6 learners, 30 layers, 1,500 offending source components (a third
   periodic), real data elsewhere, local mixing: verdicts and rates, CPU time and peak
   memory (maximum resident set size).

Run: ``python benchmarks/bench_rates.py [--rounds 5] [--skip-target]``; writes
``benchmarks/results/rates.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generators import layered_random_graph  # noqa: E402

from graphcollapse.theory import collapse_condition  # noqa: E402
from graphcollapse.theory.propagation import growth_rates_propagated  # noqa: E402
from graphcollapse.theory.recursion import growth_rates_float  # noqa: E402


def cpu(f, *args):
    t = time.process_time()
    out = f(*args)
    return time.process_time() - t, out


def summary(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def compare(layers: int, rounds: int) -> dict:
    G = layered_random_graph(50_000, layers, 100, window=None, seed=7)
    cond = collapse_condition(G)
    old_t, new_t = [], []
    for _ in range(rounds):
        t_new, new = cpu(growth_rates_propagated, G, cond)
        t_old, old = cpu(growth_rates_float, G, cond)
        worst = max((abs(new[k] - old[k]) / abs(old[k]) for k in old), default=0.0)
        assert new.keys() == old.keys() and worst < 1e-9, worst
        new_t.append(t_new)
        old_t.append(t_old)
    return {"layers": layers, "collapsing": len(new), "new_s": summary(new_t), "old_s": summary(old_t),
            "speedup_median": statistics.median(o / n for o, n in zip(old_t, new_t)), "max_rel_diff": worst}


def target(rounds: int) -> dict:
    t_build, G = cpu(layered_random_graph, 1_000_000, 30, 1500)
    verdict_t, rate_t = [], []
    for _ in range(rounds):
        G.derived.clear()  # recompute the collapse condition each round
        t_v, cond = cpu(collapse_condition, G)
        t_r, rates = cpu(growth_rates_propagated, G, cond)
        verdict_t.append(t_v)
        rate_t.append(t_r)
    return {"learners": G.num_learners, "edges": len(G.edge_sources), "offending": len(cond.components),
            "periodic": sum(c.period > 1 for c in cond.components), "collapsing": len(rates),
            "build_s": t_build, "verdicts_s": summary(verdict_t), "rates_s": summary(rate_t),
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layers", default="5,8,10,12")
    ap.add_argument("--skip-target", action="store_true")
    args = ap.parse_args()
    results = {"compare": [], "target": None}
    for layers in map(int, args.layers.split(",")):
        r = compare(layers, args.rounds)
        results["compare"].append(r)
        print(f"50k learners, {layers} layers: propagation {r['new_s']['median']:.3f} s, "
              f"per-component LU {r['old_s']['median']:.3f} s, {r['speedup_median']:.0f}x", flush=True)
    if not args.skip_target:
        r = target(max(1, args.rounds // 2))
        results["target"] = r
        print(f"10^6 learners, 30 layers: verdicts {r['verdicts_s']['median']:.2f} s, rates "
              f"{r['rates_s']['median']:.2f} s, peak {r['peak_rss_gb']:.2f} GB", flush=True)
    out = HERE / "results" / "rates.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
