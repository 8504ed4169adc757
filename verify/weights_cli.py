"""The command-line side of optimal loss weights: ``graphcollapse optimize-weights``.

Registered through :data:`graphcollapse.verify.cli.COMMAND_MODULES`; the work is done by
:func:`graphcollapse.theory.weights.optimize_weights` (docs/regimes.md §7).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["add_subcommand"]


def add_subcommand(sub: Any) -> None:
    """Add the ``optimize-weights`` parser to ``sub``.

    Examples
    --------
    >>> from graphcollapse.verify.cli import main
    >>> main(["optimize-weights", "/nonexistent-graph.json"])
    2
    """
    from .cli import _examples

    p = sub.add_parser(
        "optimize-weights", help="loss weights of real against synthetic data that minimise the stationary risk",
        description="Find the real-sample and edge loss weights minimising the largest (or the mean) large-sample "
                    "stationary risk of a graph under the replace policy (docs/regimes.md section 7), and report "
                    "the gain against unit weights. One learner trained on its own outputs and real data gets "
                    "the closed form (the golden ratio for equal counts).",
        epilog=_examples("optimize-weights docs/examples/experiments/cycle_real.json",
                         "optimize-weights GRAPH.json --objective mean --json"))
    p.add_argument("graph", help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--objective", choices=("max", "mean"), default="max",
                   help="minimise the largest (max, default) or the mean stationary risk")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of a report")
    p.set_defaults(func=_cmd_optimize)


def _cmd_optimize(args: Any) -> int:
    from graphcollapse.theory.weights import optimize_weights

    from .cli import _load, strict_json

    result = optimize_weights(_load(args.graph), args.objective)
    if args.json:
        sys.stdout.write(strict_json(result.to_json()) + "\n")
    else:
        sys.stdout.write(result.report() + "\n")
    return 0
