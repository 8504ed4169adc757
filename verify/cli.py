"""The ``graphcollapse`` command-line program (the one command-line module).

Every command reads an interaction graph (JSON, see ``docs/format.md``), prints a
readable report or, with ``--json``, one strict JSON object. Bad input gives a one-line
``graphcollapse: error: ...`` message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "strict_json"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2)."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via main
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class CommandError(Exception):
    """A usage error detected after parsing (exit 2, one line)."""


def strict_json(obj: Any) -> str:
    """Serialise ``obj`` as strict JSON: NaN and infinities become ``null``.

    Examples
    --------
    >>> from graphcollapse.verify.cli import strict_json
    >>> strict_json({"a": float("nan"), "b": [1.5, float("inf")]})
    '{"a": null, "b": [1.5, null]}'
    """

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), allow_nan=False)


def _load(path: str):
    from graphcollapse.theory.graph import load_graph

    return load_graph(path)


def _theory_name(args: argparse.Namespace) -> str:
    return "large-sample" if getattr(args, "large_sample", False) else "default"


def _int_at_least(name: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum, with a one-line message naming the option."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer, found {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer >= {minimum}, found {value}")
        return value

    return parse


# ============================================================================ analyze / predict / demo
def _add_graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of a report")
    p.add_argument("--large-sample", action="store_true",
                   help="use the large-sample (first-order) theory instead of the exact one")


def _estimator(text: str):
    """An argparse type: the :class:`~graphcollapse.verify.estimators.Estimator` named ``text``."""
    from graphcollapse.theory.errors import GraphValueError
    from graphcollapse.verify.estimators import Estimator

    try:
        return Estimator.parse(text)
    except GraphValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--estimator: ")) from None  # argparse names it


def _estimator_help(default: str) -> str:
    from graphcollapse.verify.estimators import Estimator

    return (f"{default}, or an M-estimator: {', '.join(e.value for e in Estimator if e is not Estimator.OLS)} "
            "(custom with --loss FILE; docs/mestimators.md)")


def _add_estimator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--estimator", type=_estimator, default="ols", metavar="NAME",
                   help=_estimator_help("ols (default: the exact finite-sample theory)"))
    p.add_argument("--loss", metavar="FILE", default=None, help="custom loss file (with --estimator custom)")
    p.add_argument("--theta", metavar="V1,V2,...", default=None,
                   help="true parameter theta* of an M-estimator (default documented per family)")


def _family(args: argparse.Namespace):
    """None for OLS, else the M-estimator family."""
    from graphcollapse.verify.estimators import Estimator

    if args.estimator is Estimator.OLS:
        if args.loss is not None or args.theta is not None:
            raise CommandError("--loss and --theta apply to M-estimators; add --estimator NAME")
        return None
    return Estimator.parse(args.estimator, args.loss).family(args.loss)


def _cmd_analyze(args: argparse.Namespace) -> int:
    family = _family(args)
    graph = _load(args.graph)
    if family is not None:
        from graphcollapse.theory.mestimators import asymptotic_analysis

        result = asymptotic_analysis(graph, family, theta=args.theta)
    else:
        from graphcollapse.theory.analysis import analyze

        result = analyze(graph, theory=_theory_name(args), fix_samples=args.fix_samples)
    print(strict_json(result.to_json()) if args.json else result.report())
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    family = _family(args)
    graph = _load(args.graph)
    if family is not None:
        from graphcollapse.theory.mestimators import asymptotic_prediction

        result = asymptotic_prediction(graph, family, args.generations, theta=args.theta)
    else:
        from graphcollapse.theory.analysis import predict

        result = predict(graph, args.generations, theory=_theory_name(args))
    print(strict_json(result.to_json()) if args.json else result.report())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from graphcollapse.theory.analysis import analyze, demo_graph, predict

    graph = demo_graph()
    print("graphcollapse demo: the built-in example graph (docs/examples/demo.json)")
    print(graph.describe())
    print()
    print(analyze(graph, theory="default").report())
    print()
    print(predict(graph, 10, theory="default").report())
    return 0


# ============================================================================ verify
def _add_verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--generations", "-T", type=_int_at_least("--generations", 0), required=True, metavar="T",
                   help="last generation to simulate")
    p.add_argument("--replications", "-R", type=_int_at_least("--replications", 2), required=True, metavar="R",
                   help="Monte Carlo replications (at least 2)")
    p.add_argument("--estimator", type=_estimator, default="ols", metavar="NAME", help=_estimator_help("ols (default)"))
    p.add_argument("--theta", default=None, metavar="V1,V2,...", help="theta* of an M-estimator")
    p.add_argument("--scales", default=None, metavar="S1,S2,...", help="sample-size scales of an M-estimator run")
    p.add_argument("--loss", default=None, metavar="FILE", help="custom loss file (with --estimator custom)")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of a table")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the rows as CSV")
    p.add_argument("--plot", default=None, metavar="FILE", help="theory vs Monte Carlo figure (.png or .pdf)")
    p.add_argument("--graph-plot", default=None, metavar="FILE", help="the interaction graph coloured by verdict")
    p.add_argument("--seed", type=_int_at_least("--seed", 0), default=None, metavar="S",
                   help="random seed (drawn and recorded when omitted)")
    p.add_argument("--workers", type=_int_at_least("--workers", 1), default=1, metavar="W",
                   help="worker processes (results do not depend on it)")
    p.add_argument("--covariance", default=None, metavar="FILE", help="covariate covariance: a d x d JSON list")
    p.add_argument("--large-sample", action="store_true", help="compare with the large-sample theory")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")


def _cmd_verify(args: argparse.Namespace) -> int:
    from graphcollapse.verify.api import verify
    from graphcollapse.verify.driver import ProgressBar
    from graphcollapse.verify.estimators import Estimator
    from graphcollapse.verify.montecarlo import with_covariance_file

    graph = _load(args.graph)
    if args.covariance is not None:
        graph = with_covariance_file(graph, args.covariance)
    bar = ProgressBar(force=args.progress)
    try:  # --large-sample selects the OLS theory; M-estimators are compared with the asymptotic one
        result = verify(graph, args.estimator, generations=args.generations, replications=args.replications,
                        seed=args.seed, workers=args.workers, progress=bar,
                        theory="large-sample" if args.large_sample and args.estimator is Estimator.OLS else "exact",
                        theta=args.theta, scales=args.scales, loss_file=args.loss)
    finally:
        bar.close()
    if args.csv:
        result.to_csv(args.csv)
    if args.plot:
        from graphcollapse.verify.plots import plot_verification

        plot_verification(result, args.plot)
    if args.graph_plot:
        from graphcollapse.verify.plots import plot_interaction_graph

        plot_interaction_graph(graph, args.graph_plot)
    print(strict_json(result.to_json()) if args.json else result.report())
    if result.interrupted:
        print(f"graphcollapse: interrupted after {result.completed} of {result.replications} replications",
              file=sys.stderr)
        return 130
    return 0


# ============================================================================ latex
def _add_latex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="interaction graph JSON file")
    p.add_argument("--symbol", action="append", default=[], metavar="NAME=FIELD[,FIELD]",
                   help="bind a symbol to fields: A.real_samples, A.initial_samples, B->A.samples, "
                        "dimension, noise_variance (repeatable)")
    p.add_argument("--large-sample", action="store_true",
                   help="use the large-sample (first-order) theory instead of the exact one")
    p.add_argument("--document", action="store_true", help="write a standalone LaTeX document")
    p.add_argument("--output", "-o", metavar="FILE", default=None, help="write to FILE instead of stdout")


def _cmd_latex(args: argparse.Namespace) -> int:
    from graphcollapse.theory.theorem import derive_theorem
    from graphcollapse.theory.symbols import apply_symbols

    graph = apply_symbols(_load(args.graph), args.symbol)
    theorem = derive_theorem(graph, "large-sample" if args.large_sample else "exact")
    text = theorem.to_latex(document=args.document)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise CommandError(f"--output: cannot write {args.output!r} ({exc.strerror})") from None
    else:
        print(text)
    return 0


# ============================================================================ entry point
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``graphcollapse``.

    Examples
    --------
    >>> from graphcollapse.verify.cli import build_parser
    >>> build_parser().parse_args(["analyze", "g.json", "--json"]).json
    True
    """
    from graphcollapse import __version__

    parser = _Parser(prog="graphcollapse", description=(
        "Model collapse in structured interactive learning: decide which learners collapse "
        "on an interaction graph, how fast, and what error the others settle at."))
    parser.add_argument("--version", action="version", version=f"graphcollapse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("demo", help="analyze a built-in example graph")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("analyze", help="verdicts, growth rates, stationary risks, minimal fix")
    _add_graph_args(p)
    p.add_argument("--fix-samples", type=_int_at_least("--fix-samples", 1), default=None, metavar="M",
                   help="real samples per generation given to each fixed learner "
                        "(default: the median positive real_samples of the graph, else 1)")
    _add_estimator_args(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("predict", help="the risk of every learner for generations 0..T")
    _add_graph_args(p)
    p.add_argument("--generations", "-T", type=_int_at_least("--generations", 0), required=True, metavar="T",
                   help="last generation to predict")
    _add_estimator_args(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("verify", help="Monte Carlo simulation against the theory")
    _add_verify_args(p)
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("latex", help="LaTeX for the derived objects of a graph")
    _add_latex_args(p)
    p.set_defaults(func=_cmd_latex)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted).

    Examples
    --------
    >>> from graphcollapse.verify.cli import main
    >>> main(["analyze", "/nonexistent.json"])
    2
    """
    from graphcollapse.theory.errors import GraphCollapseError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (GraphCollapseError, CommandError) as exc:
        print(f"graphcollapse: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("graphcollapse: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
