"""Speed of the fast OLS simulator against the naive baseline, interleaved, in CPU time.

    python benchmarks/bench_ols.py              # speed table (about 2 minutes), results/ols.json
    python benchmarks/bench_ols.py --memory     # also 10^5 replications x 20 generations

Learner-fits per CPU second at d = 10. In every round (``--rounds``, at least 5) the
fast path (:func:`graphcollapse.verify.simulate.simulate_ols_blocks`, replication blocks
of ``BLOCK_SIZE`` over 20 generations, as ``graphcollapse verify`` runs them) and
``../shared/baselines/naive_ols.fits_per_second`` (explicit design, one solve per fit)
run one after the other, each for at least ``--min-seconds`` of CPU time (the helper of
``benchmarks/common.py``); the table gives the median and the range over rounds of both
rates and of the per-round ratio. A fit is one learner at one generation.

Checks (outside the timed runs): for every benchmarked graph, the Monte Carlo risks of
the same fast path (:func:`graphcollapse.verify.montecarlo.verify_ols`, 8,192
replications, 20 generations) agree with the exact finite-sample theory: every tested
row within the Bonferroni z bound of the verification driver.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / ".." / "shared" / "baselines"))

import naive_ols  # noqa: E402  (../shared/baselines, imported, never copied)
from common import fmt, interleave, summary, write_results  # noqa: E402

from graphcollapse.theory.builders import self_training  # noqa: E402
from graphcollapse.theory.graph import InteractionGraph  # noqa: E402
from graphcollapse.verify.blocks import BLOCK_SIZE, block_generator  # noqa: E402
from graphcollapse.verify.simulate import ols_setup, simulate_ols_blocks  # noqa: E402

D = 10
GENERATIONS = 20
COMMAND = "python benchmarks/bench_ols.py"


def ten_learner_graph(N: int, seed: int = 0) -> InteractionGraph:
    """10 learners; each gets N/4 real samples and 3 in-edges (distinct random producers,
    self-loops allowed) of N/4 samples each, so N_k = N."""
    rng = np.random.default_rng(seed)
    names = [f"L{k}" for k in range(10)]
    edges = [(names[j], names[k], N // 4) for k in range(10) for j in rng.choice(10, size=3, replace=False)]
    return InteractionGraph(names, real_samples=[N - 3 * (N // 4)] * 10, initial_samples=[N] * 10, edges=edges,
                            dimension=D, noise_variance=1)


def self_training_graph(N: int) -> InteractionGraph:
    """One learner: N/2 real samples and a self-loop of N/2."""
    return self_training(real_samples=N // 2, samples=N - N // 2, initial_samples=N, dimension=D)


def fast_case(graph: InteractionGraph, blocks: int = 2):
    """A callable running ``blocks`` replication blocks over 20 generations (fresh block
    generators each call, as the driver does); returns the learner-fits done."""
    setup = ols_setup(graph)
    counter = iter(range(10**9))

    def run() -> float:
        first = next(counter) * blocks
        simulate_ols_blocks(setup, GENERATIONS, [(block_generator(0, b), BLOCK_SIZE)
                                                 for b in range(first, first + blocks)])
        return blocks * BLOCK_SIZE * (GENERATIONS + 1) * graph.num_learners

    return run


def naive_case(N: int, fits: int):
    def run() -> float:
        naive_ols.fits_per_second(D, N, fits)
        return fits

    return run


def theory_check(graph: InteractionGraph, replications: int = 8192) -> dict:
    """The fast path's Monte Carlo risks against the exact theory (Bonferroni z bound)."""
    from graphcollapse.verify.montecarlo import verify_ols

    res = verify_ols(graph, generations=GENERATIONS, replications=replications, seed=1)
    rows = [r for r in res.rows() if r["se_reliable"]]
    return {"agrees": bool(res.agrees), "tested_rows": res.tested_rows, "max_abs_z": max(abs(r["z"]) for r in rows),
            "z_bound": res.critical_z, "replications": replications, "generations": GENERATIONS}


CASES = [
    ("self-training, 1 learner", self_training_graph, 200, 25),
    ("self-training, 1 learner", self_training_graph, 1000, 100),
    ("10 learners, 3 in-edges each", ten_learner_graph, 200, 8),
    ("10 learners, 3 in-edges each", ten_learner_graph, 1000, 30),
]


def speed_table(rounds: int, min_seconds: float) -> tuple[dict, dict]:
    results: dict = {"d": D, "generations": GENERATIONS, "rows": []}
    checks: dict = {}
    print(f"learner-fits per CPU second, d = {D}: median [min-max] over {rounds} interleaved rounds")
    print(f"{'case':<30} {'N':>5} {'draws/fit':>9} {'fast':>28} {'naive':>24} {'speed-up':>22} {'target':>6}")
    for name, build, N, target in CASES:
        g = build(N)
        lay = ols_setup(g).layout
        r = interleave({"naive": naive_case(N, 200 if N == 200 else 60), "fast": fast_case(g)},
                       rounds=rounds, min_seconds=min_seconds)
        s = summary(r, "fast", "naive")
        check = theory_check(g)
        key = f"{'self' if g.num_learners == 1 else 'ten'}-N{N}"
        checks[f"{key}: Monte Carlo agrees with the exact theory"] = check["agrees"]
        draws = lay.draws / g.num_learners
        results["rows"].append({"case": name, "N": N, "learners": g.num_learners, "target": target,
                                "draws_per_fit": draws, "timing": s, "theory_check": check})
        print(f"{name:<30} {N:>5} {draws:>9.0f} {fmt(s['cases']['fast']['rate_cpu']):>28} "
              f"{fmt(s['cases']['naive']['rate_cpu']):>24} {fmt(s['ratio_cpu'], 'x', 1):>22} {target:>5}x   "
              f"theory: max|z| {check['max_abs_z']:.2f} < {check['z_bound']:.2f}: {check['agrees']}", flush=True)
    print("\nfast path cost against N (self-training, d = 10)")
    flat = interleave({f"N={N}": fast_case(self_training_graph(N)) for N in (50, 1000, 100_000)},
                      rounds=rounds, min_seconds=min_seconds)
    fs = summary(flat)
    results["flat_in_N"] = fs
    for n, c in fs["cases"].items():
        print(f"  {n:>9}: {fmt(c['rate_cpu'])} fits/s")
    return results, checks


def memory_run(replications: int = 100_000, generations: int = 20) -> dict:
    from graphcollapse.verify.montecarlo import verify_ols

    g = ten_learner_graph(200)
    c0, w0 = time.process_time(), time.perf_counter()
    res = verify_ols(g, generations=generations, replications=replications, seed=1)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"\n{replications:,} replications x {generations} generations of the 10-learner graph (N = 200): "
          f"{cpu:.1f} s CPU ({wall:.1f} s wall), peak RSS {peak:.0f} MB, agrees with the exact theory: {res.agrees}")
    return {"replications": replications, "generations": generations, "cpu_s": cpu, "wall_s": wall,
            "peak_rss_mb": peak, "agrees": bool(res.agrees)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="store_true", help="also run 10^5 replications x 20 generations")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    a = ap.parse_args(argv)
    results, checks = speed_table(a.rounds, a.min_seconds)
    if a.memory:
        results["memory_run"] = memory_run()
        checks["memory run agrees with the exact theory"] = results["memory_run"]["agrees"]
    path = write_results("ols", results, checks, COMMAND + (" --memory" if a.memory else ""))
    print(f"\nchecks: {'all passed' if all(checks.values()) else 'FAILED'}; results in {path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
