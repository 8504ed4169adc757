"""How fast a large graph file loads: JSON against the columnar .npz format.

A seeded generator builds a layered graph (default 1,000,000 learners in 30 layers, about
three random in-edges per learner from the same or earlier layers, real data on 90% of
the learners, every learner with data); the graph is written once as JSON and as .npz,
then each file is loaded ``--repeat`` times with :func:`graphcollapse.theory.load_graph`.
Times are CPU seconds of this process (``time.process_time``; wall-clock seconds are
recorded too), reported as median, min and max. Both loads must give the generated graph
(names, counts, edges in order). Results go to ``benchmarks/results/load.json``.

Run: ``python benchmarks/bench_load.py [--learners 1000000] [--repeat 3]``, e.g. under
``ulimit -v 8000000`` to check that loading fits in 8 GB of address space.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphcollapse.theory import InteractionGraph, load_graph  # noqa: E402
from graphcollapse.theory.graph import save_graph  # noqa: E402
from graphcollapse.theory.graphio import graph_from_columns  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"


def layered_graph(n: int, layers: int = 30, in_degree: int = 3, seed: int = 2026) -> InteractionGraph:
    """A seeded layered graph: learner k in layer l(k) (equal layers, in order) gets about
    ``in_degree`` in-edges from uniformly random learners of layers 0..l(k) (so cycles
    occur inside a layer), 90% of the learners get real data, and any learner left
    without data gets one real sample."""
    rng = np.random.default_rng(seed)
    layer_end = np.minimum((np.arange(n) // -(-n // layers) + 1) * -(-n // layers), n)  # end of own layer
    tgt = np.repeat(np.arange(n, dtype=np.int64), in_degree)
    src = (rng.random(len(tgt)) * layer_end[tgt]).astype(np.int64)  # any learner up to the own layer's end
    key = np.unique(tgt * n + src)  # no repeated edge; edges sorted by target
    tgt, src = key // n, key % n
    real = np.where(rng.random(n) < 0.9, rng.integers(1, 60, n), 0)
    has_in = np.bincount(tgt, minlength=n) > 0
    real[(real == 0) & ~has_in] = 1
    return graph_from_columns({
        "dimension": np.array(5), "noise_variance": np.array(1.0),
        "names": np.array([f"L{k}" for k in range(n)]),
        "real_samples": real, "initial_samples": rng.integers(20, 200, n),
        "edge_source": src, "edge_target": tgt, "edge_samples": rng.integers(1, 50, len(src)),
    })


def same_graph(G: InteractionGraph, H: InteractionGraph) -> bool:
    return (G.names == H.names and G.real_samples == H.real_samples and G.initial_samples == H.initial_samples
            and G.edge_sources == H.edge_sources and G.edge_targets == H.edge_targets
            and G.edge_samples == H.edge_samples and G.dimension == H.dimension
            and G.noise_variance == H.noise_variance
            and G.synthetic_noise_variance == H.synthetic_noise_variance)


def time_loads(path: Path, repeat: int, reference: InteractionGraph) -> dict:
    cpu, wall = [], []
    same = True
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        H = load_graph(path)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        same = same and same_graph(reference, H)
        del H
    return {
        "file_mb": round(os.path.getsize(path) / 2**20, 1),
        "cpu_s": [round(t, 3) for t in cpu],
        "cpu_median_s": round(statistics.median(cpu), 3),
        "cpu_min_s": round(min(cpu), 3),
        "cpu_max_s": round(max(cpu), 3),
        "wall_s": [round(t, 3) for t in wall],
        "same_graph": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.repeat < 3:
        parser.error("--repeat: at least 3 repetitions give a median and a spread")

    t0 = time.process_time()
    G = layered_graph(args.learners, args.layers, seed=args.seed)
    t_build = time.process_time() - t0
    print(f"generated {G.num_learners:,} learners, {len(G.edge_sources):,} edges in {t_build:.1f} s CPU",
          flush=True)
    results: dict = {
        "learners": G.num_learners, "edges": len(G.edge_sources), "layers": args.layers, "seed": args.seed,
        "repeat": args.repeat, "clock": "time.process_time (CPU seconds of the loading process)",
        "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
        "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as folder:
        for label, suffix, columnar in (("npz", ".npz", False), ("json", ".json", False),
                                        ("json_columnar", ".json", True)):
            path = Path(folder) / f"graph{suffix}"
            t0 = time.process_time()
            save_graph(G, path, columnar=columnar)
            write = time.process_time() - t0
            entry = time_loads(path, args.repeat, G)
            entry["write_cpu_s"] = round(write, 3)
            results[label] = entry
            print(f"{label:>13}: {entry['file_mb']:.0f} MB written in {write:.1f} s; load CPU median "
                  f"{entry['cpu_median_s']:.2f} s (min {entry['cpu_min_s']:.2f}, max {entry['cpu_max_s']:.2f}; "
                  f"wall {', '.join(f'{t:.2f}' for t in entry['wall_s'])}); same graph: {entry['same_graph']}",
                  flush=True)
            path.unlink()
    results["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    results["same_graph"] = all(results[k]["same_graph"] for k in ("json", "json_columnar", "npz"))
    print(f"peak RSS {results['peak_rss_gb']:.2f} GB; JSON / npz median ratio "
          f"{results['json']['cpu_median_s'] / results['npz']['cpu_median_s']:.1f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    return 0 if results["same_graph"] else 1


if __name__ == "__main__":
    sys.exit(main())
