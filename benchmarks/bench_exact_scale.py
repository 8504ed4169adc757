"""Speed and memory of the exact theory at scale (docs/exact.md §13).

1. Against the complete exact analysis (the baseline, ``exact_analysis``) on a directed
   ring of ``--ring-small`` learners with one real-data learner, d = 2: interleaved rounds,
   CPU time, median and spread of the speed-up; checked equal (exact rationals).
2. ``analyze`` (default exact theory) on a 1,000-learner ring and on a seeded
   1,000-learner layered random graph with small-count components (d = 3: some source
   components have N_k < 2d + 1 and are decided by their own map's radius); CPU time per
   round. Checks: the ring's risks equal an independent scalar recursion (one in-neighbour
   per learner makes the diagonal close on itself); the random graph's stationary risks of
   learners with at most 10 ancestors equal ``exact_analysis`` of their ancestor subgraph.
3. The 10^5-learner ring: ``analyze`` (exact; large-sample), ``predict -T 3``, each in a
   fresh process, with its CPU time and peak resident memory; the ring without real data
   (every learner collapses) under the large-sample theory, and the exact theory's refusal.

Run: ``python benchmarks/bench_exact_scale.py [--rounds 5] [--ring-small 16]``; writes
``benchmarks/results/exact_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt, interleave, spread, summary, write_results  # noqa: E402
from generators import layered_random_graph  # noqa: E402

from graphcollapse.theory.analysis import analyze  # noqa: E402
from graphcollapse.theory.builders import cycle  # noqa: E402
from graphcollapse.theory.exact import exact_analysis  # noqa: E402
from graphcollapse.theory.exact_scale import (_induced, design_correction_float,  # noqa: E402
                                              exact_noise_variance_float, scalable_exact_analysis)

CHILD = r"""
import json, resource, sys, time
from graphcollapse.theory.graph import load_graph
from graphcollapse.theory.analysis import analyze, predict
G = load_graph(sys.argv[1])
t = time.process_time()
what = sys.argv[2]
out = {}
try:
    if what == "analyze":
        a = analyze(G)
        out["collapsing"] = sum(bool(r.collapses) for r in a.learners)
        out["max_risk"] = max((float(r.stationary_risk) for r in a.learners if r.stationary_risk is not None), default=None)
    elif what == "analyze-large-sample":
        a = analyze(G, theory="large-sample")
        out["collapsing"] = sum(bool(r.collapses) for r in a.learners)
        out["rate"] = float(a.learners[0].growth_rate) if a.learners[0].growth_rate is not None else None
    elif what == "predict":
        p = predict(G, 3)
        out["last"] = float(p.risk[G.names[-1]][-1])
except Exception as exc:
    out["refused"] = f"{type(exc).__name__}: {exc}"
out["cpu_s"] = time.process_time() - t
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def ring(K: int, real: int = 10) -> object:
    return cycle(K, real_samples=[real] + [0] * (K - 1), samples=20, dimension=2)


def ring_scalar(G) -> np.ndarray:
    """Stationary risks of a ring from the scalar cyclic recursion c_k = a_k c_{k-1} + D_k."""
    K = G.num_learners
    W = G.mixing_matrix_float()
    w = np.array([W[k, (k - 1) % K] for k in range(K)])
    g = design_correction_float(np.array(G.total_samples, float), int(G.dimension))
    a = (1 - g) * w * w + g * w
    D = exact_noise_variance_float(G)
    # c_0 = a_0 c_{K-1} + D_0; unroll once around the ring
    prod, acc = 1.0, 0.0
    for k in range(1, K):
        acc = a[k] * acc + D[k]
        prod *= a[k]
    c = np.empty(K)
    c[0] = (a[0] * acc + D[0]) / (1 - a[0] * prod)
    for k in range(1, K):
        c[k] = a[k] * c[k - 1] + D[k]
    return c


def child(path: str, what: str) -> dict:
    w0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, path, what], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - w0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ring-small", type=int, default=16)
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    checks: dict[str, bool] = {}
    results: dict = {}

    # 1. speed-up over the complete exact analysis
    G = ring(args.ring_small)
    ref = exact_analysis(G)
    new = scalable_exact_analysis(G, exact=True)
    checks["ring_small_equal_exactly"] = all(
        ref.learners[n].stationary_risk == new.learners[n].stationary_risk for n in G.names)
    r = interleave({"exact_analysis": lambda: (exact_analysis(G), 1)[1],
                    "pairs": lambda: (scalable_exact_analysis(G, exact=True), 1)[1]},
                   rounds=args.rounds, min_seconds=0.5)
    results["ring_small"] = {"learners": args.ring_small, **summary(r, "pairs", "exact_analysis")}
    print(f"ring of {args.ring_small}: speed-up over exact_analysis {fmt(results['ring_small']['ratio_cpu'], 'x', 1)}")

    # 2. analyze at 1,000 learners
    R = ring(1000)
    RG = layered_random_graph(1000, 10, 20).replace(dimension=3)
    times = {"ring": [], "random": []}
    for _ in range(args.rounds):
        for name, graph in (("ring", R), ("random", RG)):
            t = time.process_time()
            a = analyze(graph)
            times[name].append(time.process_time() - t)
            if name == "ring":
                got = np.array([float(x.stationary_risk) for x in a.learners])
                checks["ring_1000_matches_scalar_recursion"] = bool(np.allclose(got, ring_scalar(R), rtol=1e-10))
            else:
                ok = True
                S = graph.structure
                compared = 0
                for k in range(graph.num_learners):
                    anc = S.ancestors(k)
                    x = a.learners[k]
                    if len(anc) <= 6 and not x.collapses and compared < 25:
                        sub = exact_analysis(_induced(graph, anc), fix=False)
                        ok &= abs(float(sub.learners[graph.names[k]].stationary_risk) - float(x.stationary_risk)) \
                            <= 1e-10 * float(x.stationary_risk)
                        compared += 1
                checks["random_1000_matches_subgraph_exact_analysis"] = bool(ok and compared > 0)
                results["random_1000_small_count_learners"] = int((np.array(graph.total_samples) < 7).sum())
                results["random_1000_collapsing"] = sum(bool(x.collapses) for x in a.learners)
    results["analyze_1000"] = {k: spread(v) for k, v in times.items()}
    print(f"analyze, 1,000-learner ring: {fmt(spread(times['ring']), ' s', 2)} CPU; "
          f"random graph with small-count components: {fmt(spread(times['random']), ' s', 2)} CPU")

    # 3. 10^5 learners, each command in a fresh process
    from graphcollapse.theory.graphio import save_graph

    with tempfile.TemporaryDirectory() as tmp:
        p1, p0 = f"{tmp}/ring.npz", f"{tmp}/ring0.npz"
        save_graph(ring(args.big), p1)
        save_graph(ring(args.big, real=0), p0)
        big = {}
        for label, path, what in (("analyze_exact", p1, "analyze"), ("analyze_large_sample", p1, "analyze-large-sample"),
                                  ("predict_T3", p1, "predict"), ("collapsing_large_sample", p0, "analyze-large-sample"),
                                  ("collapsing_exact", p0, "analyze")):
            runs = [child(path, what) for _ in range(args.rounds)]
            big[label] = {"cpu_s": spread([x["cpu_s"] for x in runs]), "wall_s": spread([x["wall_s"] for x in runs]),
                          "peak_rss_mb": max(x["peak_rss_mb"] for x in runs), "last": runs[-1]}
            print(f"{args.big:,} learners, {label}: {fmt(big[label]['cpu_s'], ' s', 2)} CPU, "
                  f"peak {big[label]['peak_rss_mb']:,.0f} MB" + (f" (refused: {runs[-1]['refused'][:90]})"
                                                                   if "refused" in runs[-1] else ""))
    results["ring_big"] = {"learners": args.big, **big}
    checks["big_ring_bounded_everywhere"] = big["analyze_exact"]["last"].get("collapsing") == 0
    checks["big_ring0_collapses_everywhere"] = big["collapsing_large_sample"]["last"].get("collapsing") == args.big
    checks["big_ring0_rate_is_mean_noise"] = abs(big["collapsing_large_sample"]["last"]["rate"] - 0.1) < 1e-12
    checks["big_ring0_exact_refused_in_one_line"] = "\n" not in big["collapsing_exact"]["last"].get("refused", "\n")
    checks["under_60_s_and_4_gb"] = all(v["cpu_s"]["max"] < 60 and v["peak_rss_mb"] < 4096 for v in big.values())
    path = write_results("exact_scale", results, checks, "python benchmarks/bench_exact_scale.py " + " ".join(sys.argv[1:]))
    print(f"checks: {checks}\nwritten {path}")


if __name__ == "__main__":
    main()
