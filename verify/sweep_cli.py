"""The command-line side of sweeps: ``graphcollapse sweep``, ``sweep-report`` and ``plot``.

Registered through :data:`graphcollapse.verify.cli.COMMAND_MODULES`; the work is done by
:mod:`graphcollapse.verify.sweep` and the figures by :mod:`graphcollapse.verify.plots`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_subcommand"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def add_subcommand(sub: Any) -> None:
    """Add the ``sweep``, ``sweep-report`` and ``plot`` parsers to ``sub``.

    Examples
    --------
    >>> from graphcollapse.verify.cli import main
    >>> main(["sweep-report", "/nonexistent-sweep-folder"])
    2
    """
    from .cli import _examples

    p = sub.add_parser(
        "sweep", help="run a parameter sweep (theory and Monte Carlo per cell) into a results folder",
        description="Run the cells of a sweep specification (TOML, docs/sweeps.md) that are not yet in DIR, "
                    "on local processes or a dask.distributed cluster, and assemble one tidy table.",
        epilog=_examples("sweep docs/examples/sweeps/pair_phase.toml --out pair-sweep",
                         "sweep SPEC.toml --out DIR --scheduler local --workers 2",
                         "sweep SPEC.toml --out DIR --scheduler tcp://10.0.0.5:8786"))
    p.add_argument("spec", help="sweep specification (TOML)")
    p.add_argument("--out", required=True, help="results folder (finished cells in it are reused)")
    p.add_argument("--scheduler", default=None,
                   help="'local' starts a dask LocalCluster; an address (tcp://host:8786) uses that cluster; "
                        "default: local processes")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (local pool or LocalCluster; default: the available cores)")
    p.add_argument("--csv", action="store_true", help="write table.csv instead of table.parquet")
    p.add_argument("--json", action="store_true", help="print one JSON object (the summary) and no progress bar")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "sweep-report", help="summarise a sweep folder (cells, failures, disagreements)",
        description="Print the cells, the finished and failed ones (with their one-line errors) and the "
                    "Monte Carlo disagreements of a sweep folder.",
        epilog=_examples("sweep-report pair-sweep", "sweep-report pair-sweep --json"))
    p.add_argument("dir", help="a folder written by graphcollapse sweep")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "plot", help="figures of a sweep: phase diagram or risk trajectories (PDF, PNG, SVG)",
        description="Draw a phase diagram over two axes of a sweep (regions, stationary risk or growth, "
                    "the exact theoretical boundary where the symbolic condition gives one, Monte Carlo "
                    "markers) or the risk trajectories per topology.",
        epilog=_examples("plot pair-sweep --kind phase -o pair.pdf",
                         "plot families-sweep --kind trajectories -o families.png"))
    p.add_argument("dir", help="a folder written by graphcollapse sweep")
    p.add_argument("--kind", required=True, choices=("phase", "trajectories"))
    p.add_argument("-o", "--output", default=None,
                   help="figure file (.pdf, .png or .svg; default DIR/phase.pdf or DIR/trajectories.pdf, "
                        "and a PNG next to a PDF)")
    p.add_argument("--x", default=None, help="axis on the horizontal axis (phase; default: the first axis)")
    p.add_argument("--y", default=None, help="axis on the vertical axis (phase; default: the second axis)")
    p.add_argument("--learner", default=None,
                   help="learner to show (default: phase: every learner, the worst per cell; trajectories: the last)")
    p.set_defaults(func=_cmd_plot)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from . import cli
    from .cli import strict_json
    from .sweep import load_spec, run_sweep

    spec = load_spec(args.spec)
    bar: Any = None
    if not args.json and sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:  # the extra is missing: no bar
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=0, unit="cell", file=sys.stderr, desc="sweep", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = run_sweep(spec, args.out, scheduler=args.scheduler, workers=args.workers, csv=args.csv,
                           progress=progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"graphcollapse: sweep stopped; finished cells are in {args.out}/cells (rerun to resume)",
              file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    if cli._SIGNALS is not None:
        cli._SIGNALS.hold()
    summary = {"out": str(result.out), "cells": result.cells, "computed": result.computed,
               "reused": result.reused, "failed": result.failed,
               "table": None if result.table is None else str(result.table),
               "wall_seconds": result.manifest["timing"]["wall_seconds"],
               "scheduler": result.manifest["scheduler"]}
    if args.json:
        print(strict_json(summary))
    else:
        rate = result.computed / max(summary["wall_seconds"], 1e-9)
        print(f"{result.cells} cells: {result.computed} computed, {result.reused} reused, {result.failed} failed")
        print(f"time: {summary['wall_seconds']:.1f} s ({rate:.1f} cells/s computed, {summary['scheduler']})")
        print(f"table: {result.table}")
        if result.failed:
            print(f"see: graphcollapse sweep-report {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .cli import strict_json
    from .sweep import sweep_summary

    s = sweep_summary(args.dir)
    if args.json:
        print(strict_json(s))
        return 0
    print(f"sweep {s['out']}: {s['cells']} cells, {s['finished']} finished, {s['missing']} missing"
          + (" (interrupted)" if s["interrupted"] else ""))
    if s.get("error"):
        print(f"  stopped by: {s['error']}")
    print(f"  collapsing cells (some learner collapses): {s['collapsing_cells']}")
    if s["montecarlo_cells"]:
        print(f"  Monte Carlo cells: {s['montecarlo_cells']}, disagreements: {len(s['disagreements'])}, "
              f"not assessed (no row with a reliable standard error): {s['not_assessed']}")
        for d in s["disagreements"]:
            print(f"    {d['cell']} {_values(d['values'])}: max |z| {d['max_abs_z']:.2f}")
    print(f"  failed: {len(s['failed'])}")
    for f in s["failed"]:
        print(f"    {f['cell']} {_values(f['values'])}: {f['error']}")
    t = s["timing"]
    if t:
        print(f"  last run: {t.get('wall_seconds', 0):.1f} s wall, {t.get('cell_seconds', 0):.1f} s in cells")
    return 0


def _values(values: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"


def _cmd_plot(args: argparse.Namespace) -> int:
    from .cli import CommandError
    from .plots import plot_sweep_phase, plot_sweep_trajectories
    from .sweep import phase_data, trajectory_data

    out = Path(args.output) if args.output else Path(args.dir) / f"{args.kind}.pdf"
    if out.suffix not in (".pdf", ".png", ".svg"):
        raise CommandError(f"-o {out}: expected a .pdf, .png or .svg file")
    if not out.parent.is_dir():
        raise CommandError(f"-o {out}: the folder {out.parent} does not exist")
    if args.kind == "phase":
        data = phase_data(args.dir, x=args.x, y=args.y, learner=args.learner)
        plot = plot_sweep_phase
    else:
        if args.x or args.y:
            raise CommandError("--x and --y apply to --kind phase")
        data = trajectory_data(args.dir, learner=args.learner)
        plot = plot_sweep_trajectories
    plot(data, out)
    written = [out]
    if out.suffix == ".pdf":  # a PNG next to the vector figure
        png = out.with_suffix(".png")
        plot(data, png)
        written.append(png)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
