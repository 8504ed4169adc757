"""The ``graphcollapse`` command-line program (the one command-line module).

Every command reads an interaction graph (JSON, see ``docs/format.md``), prints a
readable report or, with ``--json``, one strict JSON object. Bad input gives a one-line
``graphcollapse: error: ...`` message on stderr and exit status 2, never a traceback;
warnings are single lines ``graphcollapse: warning: ...``.

Exit statuses (``docs/cli.md``): 0 done (for ``verify``: theory and simulation agree, or
agreement was not assessed without ``--strict``), 1 an output could not be written after
the work was done (the other outputs were), 2 bad input, 3 ``verify``: theory and
simulation disagree (or, with ``--strict``, agreement was not assessed), 130 interrupted
by Ctrl-C, 143 stopped by SIGTERM (finished replications are written in both cases).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "strict_json", "EXIT_OUTPUT", "EXIT_USAGE", "EXIT_DISAGREE"]

EXIT_OUTPUT = 1
EXIT_USAGE = 2
EXIT_DISAGREE = 3

#: ``latex`` refuses graphs with more learners than this (a theorem per learner is unreadable).
LATEX_MAX_LEARNERS = 200

#: Figure formats of ``--plot`` and ``--graph-plot`` (no suffix: PNG).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and examples kept as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # pragma: no cover - exercised via main
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


class CommandError(Exception):
    """A usage error detected after parsing (exit 2, one line)."""


def _examples(*lines: str) -> str:
    """An argparse epilog: examples to run from the repository root."""
    return "examples (from the repository root):\n" + "\n".join(f"  $ graphcollapse {line}" for line in lines)


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


def _file(name: str) -> Callable[[str], str]:
    """An argparse type: a file name (the operating system cannot open names with a NUL byte)."""
    def parse(text: str) -> str:
        if "\x00" in text:
            raise argparse.ArgumentTypeError(f"{name}: the file name {text[:40]!r} contains a NUL byte")
        return text

    return parse


def _size(text: str) -> int:
    """An argparse type: a memory size, ``512M``, ``2G``, ``1.5GB`` or a number of megabytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"--max-memory: expected a size such as 512M or 2G, found {text[:30]!r}")
    value = float(m.group(1)) * 1024 ** "bkmgt".index(m.group(2) or "m")
    return max(1, int(min(value, 2**62)))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_outputs(outputs: Sequence[tuple[str, str | None, tuple[str, ...] | None]],
                   inputs: Sequence[tuple[str, str | None]]) -> None:
    """Refuse, before any work, outputs that cannot be written: a missing or read-only
    directory, a directory or special file as target, a figure format we do not write,
    an input file, or two outputs naming one file; and figures without matplotlib."""
    seen: dict[str, str] = {}
    figures = []
    for option, path, suffixes in outputs:
        if path is None:
            continue
        if not path.strip():
            raise CommandError(f"{option}: expected a file name, found {path!r}")
        target = Path(path)
        if target.is_dir():
            raise CommandError(f"{option}: {path!r} is a directory; give a file name in it")
        parent = target.parent
        if not parent.is_dir():
            raise CommandError(f"{option}: cannot write {path!r}: the directory {str(parent)!r} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CommandError(f"{option}: cannot write {path!r}: the directory {str(parent)!r} is not writable")
        if target.exists() and not target.is_file():
            raise CommandError(f"{option}: {path!r} exists and is not a regular file; give another name")
        if suffixes is not None:
            if target.suffix.lower() not in suffixes + ("",):
                raise CommandError(f"{option}: cannot write {target.suffix!r} figures; use a file name ending in "
                                   + ", ".join(suffixes))
            figures.append(option)
        for in_option, source in inputs:
            if source is not None and _same_file(path, source):
                raise CommandError(f"{option}: {path!r} is the input file of {in_option}; write to another file")
        key = os.path.realpath(path)
        if key in seen:
            raise CommandError(f"{option}: {path!r} is also the file of {seen[key]}; give each output its own file")
        seen[key] = option
    if figures:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CommandError(f"{figures[0]}: figures need matplotlib, which cannot be imported; "
                               f"pip install matplotlib, or drop {figures[0]}") from None


class _Signals:
    """SIGINT and SIGTERM while a command runs (main thread only). Until :meth:`hold`
    they stop the work as KeyboardInterrupt (the verification driver keeps the finished
    replications); afterwards they are only recorded, so the outputs of work already
    done are still written. :attr:`status` is 130 after Ctrl-C and 143 after SIGTERM."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.raising = True
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> "_Signals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signum
        if self.raising:
            self.raising = False  # one stop; later signals only update the status
            raise KeyboardInterrupt

    def hold(self) -> None:
        """From now on, signals are recorded, not raised."""
        self.raising = False

    @property
    def status(self) -> int:
        return 128 + (self.received or signal.SIGINT)


_SIGNALS: _Signals | None = None


# ============================================================================ analyze / predict / demo
def _add_graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", type=_file("graph"), help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of a report")
    p.add_argument("--large-sample", action="store_true",
                   help="use the large-sample (first-order) theory instead of the exact one")


def _estimator(text: str):
    """An argparse type: the :class:`~graphcollapse.verify.estimators.Estimator` named ``text``."""
    from graphcollapse.theory.errors import GraphValueError
    from graphcollapse.verify.estimators import Estimator

    try:
        return Estimator.named(text)  # --loss is checked against it after parsing
    except GraphValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--estimator: ")) from None  # argparse names it


def _estimator_help(default: str) -> str:
    from graphcollapse.verify.estimators import Estimator

    return (f"{default}, or an M-estimator: {', '.join(e.value for e in Estimator if e is not Estimator.OLS)} "
            "(custom with --loss FILE; docs/mestimators.md)")


def _add_estimator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--estimator", type=_estimator, default="ols", metavar="NAME",
                   help=_estimator_help("ols (default: the exact finite-sample theory)"))
    p.add_argument("--loss", type=_file("--loss"), metavar="FILE", default=None, help="custom loss file (with --estimator custom)")
    p.add_argument("--theta", metavar="V1,V2,...", default=None,
                   help="true parameter theta* of an M-estimator (default documented per family)")


def _family(args: argparse.Namespace):
    """None for OLS, else the M-estimator family; options that do not apply are refused."""
    from graphcollapse.verify.estimators import Estimator

    if args.estimator is Estimator.OLS:
        if args.loss is not None or args.theta is not None:
            raise CommandError("--loss and --theta apply to M-estimators; add --estimator NAME")
        return None
    if getattr(args, "large_sample", False):
        raise CommandError(f"--large-sample selects an OLS theory; --estimator {args.estimator.value} is compared "
                           "with its asymptotic theory (drop --large-sample)")
    family = Estimator.parse(args.estimator, args.loss).family(args.loss)
    if getattr(args, "covariance", None) is not None and not family.is_regression:
        raise CommandError(f"--covariance: --estimator {family.name} has no covariates (drop --covariance)")
    return family


def _print(text: Callable[[], str]) -> None:
    """Print ``text()``, with exact values of any length (Python limits int-to-str
    conversion to 4300 digits; the size of what is printed is bounded up front)."""
    from graphcollapse.verify.driver import unlimited_int_digits

    with unlimited_int_digits():
        out = text()
    print(out)


def _cmd_analyze(args: argparse.Namespace) -> int:
    family = _family(args)
    graph = _load(args.graph)
    if family is not None:
        from graphcollapse.theory.mestimators import asymptotic_analysis

        result = asymptotic_analysis(graph, family, theta=args.theta, fix_samples=args.fix_samples)
    else:
        from graphcollapse.theory.analysis import analyze

        result = analyze(graph, theory=_theory_name(args), fix_samples=args.fix_samples,
                         progress=_stages(graph.num_learners))
    _print(lambda: strict_json(result.to_json()) if args.json else result.report())
    return 0


def _stages(learners: int) -> Callable[[str], None] | None:
    """On a terminal and for large graphs, a callback printing each stage of the analysis
    with the elapsed time on stderr (one line each); otherwise None."""
    if learners < 10_000 or not sys.stderr.isatty():
        return None
    start = time.monotonic()

    def say(stage: str) -> None:
        print(f"graphcollapse: [{time.monotonic() - start:6.1f} s] {stage} ...", file=sys.stderr, flush=True)

    return say


def _cmd_predict(args: argparse.Namespace) -> int:
    from graphcollapse.verify.driver import check_exact_size

    family = _family(args)
    graph = _load(args.graph)
    if family is not None:
        from graphcollapse.theory.mestimators import asymptotic_prediction, unit_risk_trajectory

        check_exact_size(lambda t: unit_risk_trajectory(graph, family, t), args.generations)
        result = asymptotic_prediction(graph, family, args.generations, theta=args.theta)
    else:
        from graphcollapse.theory.analysis import predict

        theory = _theory_name(args)

        def values_at(t: int) -> list[list[Any]]:
            risk = predict(graph, t, theory=theory).risk
            return [[r[i] for r in risk.values()] for i in range(t + 1)]

        check_exact_size(values_at, args.generations)
        result = predict(graph, args.generations, theory=theory)
    _print(lambda: strict_json(result.to_json()) if args.json else result.report())
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
    p.add_argument("graph", type=_file("graph"), help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--generations", "-T", type=_int_at_least("--generations", 0), required=True, metavar="T",
                   help="last generation to simulate")
    p.add_argument("--replications", "-R", type=_int_at_least("--replications", 2), required=True, metavar="R",
                   help="Monte Carlo replications (at least 2)")
    p.add_argument("--estimator", type=_estimator, default="ols", metavar="NAME", help=_estimator_help("ols (default)"))
    p.add_argument("--theta", default=None, metavar="V1,V2,...", help="theta* of an M-estimator")
    p.add_argument("--scales", default=None, metavar="S1,S2,...", help="sample-size scales of an M-estimator run")
    p.add_argument("--loss", type=_file("--loss"), default=None, metavar="FILE", help="custom loss file (with --estimator custom)")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of a table")
    p.add_argument("--csv", type=_file("--csv"), default=None, metavar="FILE", help="write the rows as CSV")
    p.add_argument("--plot", type=_file("--plot"), default=None, metavar="FILE",
                   help="theory vs Monte Carlo figure (" + ", ".join(FIGURE_SUFFIXES) + ")")
    p.add_argument("--graph-plot", type=_file("--graph-plot"), default=None, metavar="FILE",
                   help="the interaction graph coloured by verdict (" + ", ".join(FIGURE_SUFFIXES) + ")")
    p.add_argument("--seed", type=_int_at_least("--seed", 0), default=None, metavar="S",
                   help="random seed (drawn and recorded when omitted)")
    p.add_argument("--workers", type=_int_at_least("--workers", 1), default=1, metavar="W",
                   help="worker processes, at most the cores available (results do not depend on it)")
    p.add_argument("--max-memory", type=_size, default=None, metavar="SIZE",
                   help="memory the simulation's arrays may take, e.g. 512M or 4G (default 2G); "
                        "a run that needs more is refused up front")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 3 also when agreement is not assessed (no tested rows)")
    p.add_argument("--covariance", type=_file("--covariance"), default=None, metavar="FILE", help="covariate covariance: a d x d JSON list")
    p.add_argument("--large-sample", action="store_true", help="compare with the large-sample theory (OLS)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")


class _Progress:
    """The progress bar, plus one note on stderr when the run will take more than an
    hour at its pace over two seconds after the first merged chunk (which carries the
    start-up of the workers), with how to stop it early."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.first: tuple[float, int] | None = None
        self.noted = False

    def __call__(self, done: int, total: int) -> None:
        self.bar(done, total)
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
            return
        t0, d0 = self.first
        if not self.noted and now - t0 >= 2.0 and done > d0:
            self.noted = True
            left = (now - t0) * (total - done) / (done - d0)
            if left > 3600:
                from graphcollapse.verify.driver import _format_seconds

                self.bar.close()
                print(f"graphcollapse: note: about {_format_seconds(left)} to go at the current pace; Ctrl-C or "
                      "SIGTERM stops early and writes the finished replications", file=sys.stderr)


def _cmd_verify(args: argparse.Namespace) -> int:
    from graphcollapse.verify.api import verify
    from graphcollapse.verify.driver import ProgressBar
    from graphcollapse.verify.estimators import Estimator
    from graphcollapse.verify.montecarlo import with_covariance_file

    _check_outputs([("--csv", args.csv, None), ("--plot", args.plot, FIGURE_SUFFIXES),
                    ("--graph-plot", args.graph_plot, FIGURE_SUFFIXES)],
                   [("the graph", args.graph), ("--covariance", args.covariance), ("--loss", args.loss)])
    if args.estimator is not Estimator.OLS:
        _family(args)  # options that do not apply to M-estimators
    graph = _load(args.graph)
    if args.covariance is not None:
        graph = with_covariance_file(graph, args.covariance)
    bar = ProgressBar(force=args.progress)
    signals = _SIGNALS
    try:  # M-estimators are compared with the asymptotic theory (--large-sample refused above)
        result = verify(graph, args.estimator, generations=args.generations, replications=args.replications,
                        seed=args.seed, workers=args.workers, progress=_Progress(bar),
                        theory="large-sample" if args.large_sample else "exact",
                        theta=args.theta, scales=args.scales, loss_file=args.loss, max_memory=args.max_memory)
    finally:
        bar.close()
    if signals is not None:
        signals.hold()  # the results exist: write them whatever arrives now
    errors = _write_outputs(result, graph, args)
    _print(lambda: strict_json(result.to_json()) if args.json else result.report())
    for line in errors:
        print(f"graphcollapse: error: {line}", file=sys.stderr)
    if result.interrupted or (signals is not None and signals.received):
        print(f"graphcollapse: interrupted after {result.completed} of {result.replications} replications",
              file=sys.stderr)
        return signals.status if signals is not None and signals.received else 130
    status = EXIT_OUTPUT if errors else 0
    if result.tested_rows == 0:
        print(f"graphcollapse: note: agreement not assessed: no row is tested (a row is tested when "
              f"{result.tested_rule}); " + ("exit status 3 (--strict)" if args.strict
                                            else "--strict makes this exit status 3"), file=sys.stderr)
        if args.strict:
            status = status or EXIT_DISAGREE
    elif not result.agrees:
        status = status or EXIT_DISAGREE
        line = result.disagreement() or "theory and simulation disagree"
        print(f"graphcollapse: {line} (exit status {status})", file=sys.stderr)
    return status


def _write_outputs(result: Any, graph: Any, args: argparse.Namespace) -> list[str]:
    """Write the CSV and the figures, each on its own: one that fails is reported (one
    line each, returned) and does not stop the others."""
    errors = []

    def attempt(option: str, path: str, write: Callable[[], Any]) -> None:
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - any failure of one output must not lose the others
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            reason = " ".join(reason.split())[:200] or type(exc).__name__
            errors.append(f"{option}: cannot write {path!r} ({reason}); stdout and the other outputs are written")

    if args.csv:
        attempt("--csv", args.csv, lambda: result.to_csv(args.csv))
    if args.plot:
        def plot() -> None:
            from graphcollapse.verify.plots import plot_verification

            plot_verification(result, args.plot)

        attempt("--plot", args.plot, plot)
    if args.graph_plot:
        def graph_plot() -> None:
            from graphcollapse.verify.plots import plot_interaction_graph

            plot_interaction_graph(graph, args.graph_plot)

        attempt("--graph-plot", args.graph_plot, graph_plot)
    return errors


# ============================================================================ latex
def _add_latex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", type=_file("graph"), help="interaction graph JSON file")
    p.add_argument("--symbol", action="append", default=[], metavar="NAME=FIELD[,FIELD]",
                   help="bind a symbol to fields: A.real_samples, A.initial_samples, B-A.samples "
                        "(the edge B -> A; B->A.samples needs quotes in a shell), dimension, "
                        "noise_variance, A.real_weight, B-A.weight (loss weights) (repeatable)")
    p.add_argument("--define", action="append", default=[], metavar="NAME=EXPR",
                   help="name a sub-expression of the symbols (e.g. T=m+n); the theorem is written "
                        "in it where that is shorter (repeatable)")
    p.add_argument("--large-sample", action="store_true",
                   help="use the large-sample (first-order) theory instead of the exact one")
    p.add_argument("--document", action="store_true", help="write a standalone LaTeX document")
    p.add_argument("--output", "-o", type=_file("--output"), metavar="FILE", default=None, help="write to FILE instead of stdout")


def _cmd_latex(args: argparse.Namespace) -> int:
    from graphcollapse.theory.theorem import derive_theorem
    from graphcollapse.theory.symbols import apply_symbols

    _check_outputs([("--output", args.output, None)], [("the graph", args.graph)])
    graph = _load(args.graph)
    if graph.num_learners > LATEX_MAX_LEARNERS:
        raise CommandError(
            f"the graph has {graph.num_learners:,} learners; a theorem states every learner's condition and is "
            f"refused beyond {LATEX_MAX_LEARNERS} learners: use 'analyze --json' for the numbers, or a subgraph")
    graph = apply_symbols(graph, args.symbol)
    theorem = derive_theorem(graph, "large-sample" if args.large_sample else "exact", definitions=args.define)
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

    p = sub.add_parser("demo", help="analyze a built-in example graph", epilog=_examples("demo"))
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("analyze", help="verdicts, growth rates, stationary risks, minimal fix",
                       epilog=_examples("analyze docs/examples/demo.json",
                                        "analyze docs/examples/ring.json --json --large-sample",
                                        "analyze docs/examples/ring.json --estimator logistic --fix-samples 5"))
    _add_graph_args(p)
    p.add_argument("--fix-samples", type=_int_at_least("--fix-samples", 1), default=None, metavar="M",
                   help="real samples per generation given to each fixed learner "
                        "(default: the median positive real_samples of the graph, else 1)")
    _add_estimator_args(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("predict", help="the risk of every learner for generations 0..T",
                       epilog="The exact values' digits grow with t: T is refused up front when they would take more "
                              "than 64 MB (docs/cli.md).\n\n"
                              + _examples("predict docs/examples/ring.json -T 10",
                                          "predict docs/examples/demo.json -T 5 --json --large-sample",
                                          "predict docs/examples/ring.json -T 5 --estimator poisson --theta 0.5,0,0"))
    _add_graph_args(p)
    p.add_argument("--generations", "-T", type=_int_at_least("--generations", 0), required=True, metavar="T",
                   help="last generation to predict")
    _add_estimator_args(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("verify", help="Monte Carlo simulation against the theory",
                       epilog="exit status: 0 agreement (or not assessed, without --strict), 1 an output could not "
                              "be written\n(the others were), 2 bad input, 3 disagreement, 130 Ctrl-C, 143 SIGTERM "
                              "(both write the finished\nreplications). Details: docs/verify.md, docs/cli.md.\n\n"
                              + _examples("verify docs/examples/ring.json -T 5 -R 20000 --seed 1",
                                          "verify docs/examples/ring.json -T 3 -R 4000 --seed 1 --csv rows.csv --json",
                                          "verify docs/examples/ring.json -T 2 -R 1000 --seed 1 --estimator gaussian"))
    _add_verify_args(p)
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("latex", help="LaTeX for the derived objects of a graph",
                       epilog=_examples("latex docs/examples/ring.json",
                                        "latex docs/examples/demo.json --large-sample --document -o demo.tex",
                                        "latex docs/examples/ring.json --symbol m=Downstream.real_samples "
                                        "--symbol n=C-Downstream.samples --define T=m+n"))
    _add_latex_args(p)
    p.set_defaults(func=_cmd_latex)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_subcommand(sub)
    return parser


#: Modules that add further subcommands: each defines ``add_subcommand(sub)``, which adds
#: its parser(s) to ``sub`` (parsers are :class:`_Parser`: one-line errors) and sets
#: ``func`` to a function ``args -> exit status``. They may raise :class:`CommandError` or
#: a ``GraphCollapseError`` for bad input (one line, exit 2) and read :data:`_SIGNALS`.
COMMAND_MODULES: tuple[str, ...] = (
    "graphcollapse.verify.experiment",
    "graphcollapse.verify.sweep_cli",
    "graphcollapse.verify.weights_cli",
)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """Warnings on the command line: one line ``graphcollapse: warning: ...``, no source."""
    print(f"graphcollapse: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 an output could not be
    written, 2 bad input, 3 ``verify`` disagreement, 130 Ctrl-C, 143 SIGTERM).

    Examples
    --------
    >>> from graphcollapse.verify.cli import main
    >>> main(["analyze", "/nonexistent.json"])
    2
    """
    global _SIGNALS
    from graphcollapse.theory.errors import GraphCollapseError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    with warnings.catch_warnings(), _Signals() as signals:
        warnings.showwarning = _show_warning
        _SIGNALS = signals
        try:
            return int(args.func(args) or 0)
        except (GraphCollapseError, CommandError) as exc:
            print(f"graphcollapse: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("graphcollapse: interrupted", file=sys.stderr)
            return signals.status
        except BrokenPipeError:  # e.g. piped into head
            return 0
        finally:
            _SIGNALS = None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
