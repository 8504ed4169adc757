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
   processes (start-up and shutdown included), CPU time of the whole process tree (the
   work runs in worker processes; see ``tree_cpu_seconds``) and wall time, the ratio per
   round. Checks: both give the same records; the median CPU overhead is below 20%.

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


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and of every process it started, counted once they have
    exited: the worker processes of the pool and of the LocalCluster are children of the
    forkserver (this process's child), which reaps them, so its ``children_*`` times hold
    theirs."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children():
        try:
            c = child.cpu_times()
        except psutil.NoSuchProcess:  # exited (and reaped by us: in children_* above)
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return total


def _wait_workers_gone(before: set[int], timeout: float = 10.0) -> None:
    """Wait until the worker processes of a run have exited and been reaped."""
    import psutil

    deadline = time.time() + timeout
    while time.time() < deadline:
        alive = {p.pid for p in psutil.Process().children(recursive=True)} - before
        if not alive:
            return
        time.sleep(0.05)
    print(f"warning: worker processes {sorted(alive)} still alive after {timeout:.0f} s; their CPU time "
          "is not counted in this run", file=sys.stderr)


def mc_part(rounds: int) -> tuple[dict, dict]:
    import psutil

    from graphcollapse.verify.sweep import _forkserver

    spec = load_spec(MC_SPEC)
    n = len(expand_cells(spec))
    runs = {"processes": [], "dask": []}
    records = {}
    _forkserver("distributed")  # both schedulers fork their workers from this server
    time.sleep(3)  # let it finish its imports before the first timing
    resident = {p.pid for p in psutil.Process().children(recursive=True)}
    for r in range(rounds):
        order = ("processes", "dask") if r % 2 == 0 else ("dask", "processes")
        for case in order:
            out = Path(tempfile.mkdtemp(prefix="bench-mc-"))
            w0 = time.perf_counter()
            c0 = time.process_time()
            t0 = tree_cpu_seconds()
            run_sweep(spec, out, workers=WORKERS, scheduler=None if case == "processes" else "local")
            wall, main_cpu = time.perf_counter() - w0, time.process_time() - c0
            _wait_workers_gone(resident)
            tree_cpu = tree_cpu_seconds() - t0
            cell_cpu = sum(json.loads(p.read_text())["cpu_seconds"] for p in (out / "cells").glob("*.json"))
            runs[case].append({"cells": n, "wall_s": wall, "cpu_s": tree_cpu, "main_cpu_s": main_cpu,
                               "cells_cpu_s": cell_cpu})
            if r == 0:
                records[case] = {p.stem: _strip(json.loads(p.read_text())) for p in (out / "cells").glob("*.json")}
            shutil.rmtree(out)
        print(f"  round {r + 1}: processes {runs['processes'][-1]['cpu_s']:.1f} CPU s "
              f"({runs['processes'][-1]['wall_s']:.1f} s wall), dask {runs['dask'][-1]['cpu_s']:.1f} CPU s "
              f"({runs['dask'][-1]['wall_s']:.1f} s wall)", file=sys.stderr)
    overhead_cpu = [d["cpu_s"] / p["cpu_s"] - 1 for d, p in zip(runs["dask"], runs["processes"])]
    overhead_wall = [d["wall_s"] / p["wall_s"] - 1 for d, p in zip(runs["dask"], runs["processes"])]
    res = {"cells": n, "workers": WORKERS, "rounds": rounds,
           "processes_cells_per_cpu_s": spread([x["cells"] / x["cpu_s"] for x in runs["processes"]]),
           "dask_cells_per_cpu_s": spread([x["cells"] / x["cpu_s"] for x in runs["dask"]]),
           "processes_cells_per_wall_s": spread([x["cells"] / x["wall_s"] for x in runs["processes"]]),
           "dask_cells_per_wall_s": spread([x["cells"] / x["wall_s"] for x in runs["dask"]]),
           "dask_overhead_cpu": spread(overhead_cpu),
           "dask_overhead_wall": spread(overhead_wall),
           "cpu_note": "CPU seconds of the whole process tree (this process, the forkserver and the "
                       "worker processes it forked and reaped), start-up and shutdown included",
           "per_round": runs}
    checks = {"dask and the local pool give the same records": records["processes"] == records["dask"],
              "dask overhead < 20% in CPU time (median over rounds)": spread(overhead_cpu)["median"] < 0.20}
    return res, checks


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "theory", "montecarlo"), default="all",
                        help="run one part (its results file: sweep_theory.json or sweep_montecarlo.json)")
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"interleaved rounds (at least {MIN_ROUNDS})")
    args = parser.parse_args()
    part, rounds = args.part, max(args.rounds, MIN_ROUNDS)
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
          f"{fmt(mc['dask_cells_per_wall_s'], ' cells/s')}, overhead {fmt(mc['dask_overhead_cpu'], '', 2)} in CPU time, "
          f"{fmt(mc['dask_overhead_wall'], '', 2)} in wall time")
    print(f"checks: {json.dumps({**c1, **c2})}\nwrote {path}")
    if not all({**c1, **c2}.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
