"""Sweep throughput: the symbolic route against the naive loop, and dask against the local pool.

1. Theory only, exact theory: 10,000 cells (100 x 100) on one 6-learner topology varying
   two counts (L0's real samples and the self-loop L0 -> L0), as ``graphcollapse sweep``
   runs it (cells expanded and hashed, one JSON file per cell, the Parquet table), against
   the naive loop calling ``analyze`` on each cell's graph in one process. The naive loop
   takes about 0.2 s a cell, so in each round it runs on a fresh random sample of 100 cells
   of the same grid and its cells/s are compared with the sweep's (stated as such in the
   results). Check: the sweep's records of the sampled cells equal the per-cell analysis.
2. Monte Carlo: 1,000 small cells (cycle of 2, d = 2, 3 generations, 200 replications)
   on the local process pool and on a dask LocalCluster with the same number of worker
   processes (start-up included), wall time (the work runs in child processes), the ratio
   per round. Check: both give the same records.

Run: ``python benchmarks/bench_sweep.py`` (about 30 minutes on the shared 2-core machine);
writes ``benchmarks/results/sweep.json``; ``--part theory`` or ``--part montecarlo`` runs
one part into ``sweep_theory.json`` or ``sweep_montecarlo.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MIN_ROUNDS, fmt, spread, write_results  # noqa: E402

from graphcollapse.theory.analysis import analyze  # noqa: E402
from graphcollapse.theory.graph import InteractionGraph  # noqa: E402
from graphcollapse.verify.sweep import compute_cell, expand_cells, load_spec, run_sweep  # noqa: E402

THEORY_SPEC = {
    "seed": 1,
    "graph": {"builder": "random_digraph", "K": 6, "edge_probability": 0.4, "seed": 3, "real_samples": [5, 30],
              "samples": [5, 30], "initial_samples": 40, "dimension": 3},
    "axes": [{"field": "L0.real_samples", "range": {"start": 0, "stop": 99}, "name": "m"},
             {"field": "L0->L0.samples", "range": {"start": 1, "stop": 100}, "name": "n"}],
    "theory": {"theory": "exact"},
}
MC_SPEC = {
    "seed": 5,
    "graph": {"builder": "cycle", "K": 2, "dimension": 2, "initial_samples": 20},
    "axes": [{"field": "L0.real_samples,L1.real_samples", "range": {"start": 1, "stop": 40}, "name": "m"},
             {"field": "L0->L1.samples,L1->L0.samples", "range": {"start": 4, "stop": 28}, "name": "n"}],
    "theory": {"theory": "exact"},
    "montecarlo": {"generations": 3, "replications": 200},
}
NAIVE_SAMPLE = 100
WORKERS = 2


def _strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("seconds", "cpu_seconds", "route")}


def theory_part(rounds: int) -> tuple[dict, dict]:
    spec = load_spec(THEORY_SPEC)
    cells = expand_cells(spec)
    assert len(cells) == 10_000
    rng = np.random.default_rng(0)
    runs = {"sweep": [], "naive": []}
    checks_ok = True
    for r in range(rounds):
        order = ("sweep", "naive") if r % 2 == 0 else ("naive", "sweep")
        sample = rng.choice(len(cells), NAIVE_SAMPLE, replace=False)
        for case in order:
            if case == "sweep":
                out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
                c0, w0 = time.process_time(), time.perf_counter()
                res = run_sweep(spec, out, workers=1, symbolic=True)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                runs["sweep"].append({"cells": res.cells, "cpu_s": cpu, "wall_s": wall,
                                      "symbolic_cells": res.manifest["counts"]["symbolic"]})
                # check: the sampled cells' records equal the per-cell analysis
                for i in sample[:10]:
                    c = cells[i]
                    mine = json.loads((out / "cells" / f"{c.key}.json").read_text())
                    checks_ok &= _strip(mine) == _strip(compute_cell(c.payload(spec)))
                shutil.rmtree(out)
            else:
                c0, w0 = time.process_time(), time.perf_counter()
                for i in sample:
                    analyze(InteractionGraph.from_dict(cells[i].graph))
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                runs["naive"].append({"cells": NAIVE_SAMPLE, "cpu_s": cpu, "wall_s": wall})
        print(f"  round {r + 1}: sweep {runs['sweep'][-1]['cells'] / runs['sweep'][-1]['cpu_s']:,.0f} cells/s, "
              f"naive {runs['naive'][-1]['cells'] / runs['naive'][-1]['cpu_s']:,.1f} cells/s", file=sys.stderr)
    rate = {k: [x["cells"] / x["cpu_s"] for x in v] for k, v in runs.items()}
    ratio = [a / b for a, b in zip(rate["sweep"], rate["naive"])]
    res = {"cells": 10_000, "naive_sample_per_round": NAIVE_SAMPLE, "rounds": rounds,
           "sweep_cells_per_cpu_s": spread(rate["sweep"]), "naive_cells_per_cpu_s": spread(rate["naive"]),
           "speedup_cpu": spread(ratio),
           "sweep_seconds_for_10000": spread([x["cpu_s"] for x in runs["sweep"]]),
           "naive_seconds_for_10000_extrapolated": spread([10_000 / x for x in rate["naive"]]),
           "per_round": runs}
    checks = {"sweep records equal the per-cell analysis (10 cells per round)": bool(checks_ok),
              "speed-up >= 20x (median over rounds)": spread(ratio)["median"] >= 20}
    return res, checks


def mc_part(rounds: int) -> tuple[dict, dict]:
    spec = load_spec(MC_SPEC)
    n = len(expand_cells(spec))
    runs = {"processes": [], "dask": []}
    records = {}
    for r in range(rounds):
        order = ("processes", "dask") if r % 2 == 0 else ("dask", "processes")
        for case in order:
            out = Path(tempfile.mkdtemp(prefix="bench-mc-"))
            w0 = time.perf_counter()
            c0 = time.process_time()
            run_sweep(spec, out, workers=WORKERS, scheduler=None if case == "processes" else "local")
            wall, main_cpu = time.perf_counter() - w0, time.process_time() - c0
            cell_cpu = sum(json.loads(p.read_text())["cpu_seconds"] for p in (out / "cells").glob("*.json"))
            runs[case].append({"cells": n, "wall_s": wall, "main_cpu_s": main_cpu, "cells_cpu_s": cell_cpu})
            if r == 0:
                records[case] = {p.stem: _strip(json.loads(p.read_text())) for p in (out / "cells").glob("*.json")}
            shutil.rmtree(out)
        print(f"  round {r + 1}: processes {runs['processes'][-1]['wall_s']:.1f} s, "
              f"dask {runs['dask'][-1]['wall_s']:.1f} s", file=sys.stderr)
    overhead = [d["wall_s"] / p["wall_s"] - 1 for d, p in zip(runs["dask"], runs["processes"])]
    cpu = {k: [x["main_cpu_s"] + x["cells_cpu_s"] for x in v] for k, v in runs.items()}
    overhead_cpu = [d / p - 1 for d, p in zip(cpu["dask"], cpu["processes"])]
    res = {"cells": n, "workers": WORKERS, "rounds": rounds,
           "processes_cells_per_wall_s": spread([x["cells"] / x["wall_s"] for x in runs["processes"]]),
           "dask_cells_per_wall_s": spread([x["cells"] / x["wall_s"] for x in runs["dask"]]),
           "dask_overhead": spread(overhead),
           "dask_overhead_cpu": spread(overhead_cpu),
           "cpu_note": "main process CPU plus the summed CPU seconds inside the cells (worker imports "
                       "happen inside the first cells on dask, in the preloaded forkserver for the pool)",
           "per_round": runs}
    checks = {"dask and the local pool give the same records": records["processes"] == records["dask"],
              "dask overhead < 20% (median over rounds)": spread(overhead)["median"] < 0.20}
    return res, checks


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "theory", "montecarlo"), default="all",
                        help="run one part (its results file: sweep_theory.json or sweep_montecarlo.json)")
    part = parser.parse_args().part
    rounds = MIN_ROUNDS
    theory, c1, mc, c2 = None, {}, None, {}
    if part in ("all", "theory"):
        print("theory-only sweep, 10,000 cells:", file=sys.stderr)
        theory, c1 = theory_part(rounds)
    if part in ("all", "montecarlo"):
        print("Monte Carlo sweep, 1,000 cells:", file=sys.stderr)
        mc, c2 = mc_part(rounds)
    name = "sweep" if part == "all" else f"sweep_{part}"
    path = write_results(name, {"theory": theory, "montecarlo": mc}, {**c1, **c2},
                         "python benchmarks/bench_sweep.py" + ("" if part == "all" else f" --part {part}"))
    if theory is None or mc is None:
        print(f"checks: {json.dumps({**c1, **c2})}\nwrote {path}")
        if not all({**c1, **c2}.values()):
            sys.exit(1)
        return
    print(f"theory: sweep {fmt(theory['sweep_cells_per_cpu_s'], ' cells/s')}, naive "
          f"{fmt(theory['naive_cells_per_cpu_s'], ' cells/s', 2)}, speed-up {fmt(theory['speedup_cpu'], 'x', 1)}")
    print(f"Monte Carlo: processes {fmt(mc['processes_cells_per_wall_s'], ' cells/s')}, dask "
          f"{fmt(mc['dask_cells_per_wall_s'], ' cells/s')}, overhead {fmt(mc['dask_overhead'], '', 2)}")
    print(f"checks: {json.dumps({**c1, **c2})}\nwrote {path}")
    if not all({**c1, **c2}.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
