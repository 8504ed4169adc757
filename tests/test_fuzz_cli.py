"""Fuzzing the command line: random option strings and mutated valid command lines on the
example graphs, run in-process through ``graphcollapse.verify.cli.main`` with tiny sizes
(-T <= 3, -R <= 50). Whatever the input, the outcome is exit status 0, 2 or 3; a status
of 2 comes with exactly one line on stderr; no exception escapes, no run hangs (each is
timed), and no file is written other than the outputs the command line names (each run
happens in a scratch directory whose contents are checked)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcollapse.verify.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
TIME_BOUND = 30.0  # seconds per command line (most take well under one)
MAX_T, MAX_R, MAX_SCALE = 3, 50, 16

COMMANDS = ["demo", "analyze", "predict", "verify", "latex"]
OPTIONS = ["--json", "--large-sample", "--fix-samples", "--estimator", "--loss", "--theta", "--generations", "-T",
           "--replications", "-R", "--scales", "--csv", "--plot", "--graph-plot", "--seed", "--workers",
           "--max-memory", "--strict", "--covariance", "--progress", "--symbol", "--document", "--output", "-o",
           "--help", "--version", "--", "-", "--csv=out.csv", "--gen", "--est"]
VALUES = ["0", "1", "2", "3", "-1", "50", "1.5", "nan", "inf", "-0", "1e400", "99999999999999999999", "", " ",
          "x", "ols", "gaussian", "logistic", "poisson", "huber", "location-scale", "custom", "probit",
          "1,2", "1,-0.5,0.25", "0.5,0,0", "40,0,0", "1,4", "16,1", "0,1", "1,,2", "512M", "1", "2G", "0K",
          "ring.json", "demo.json", "cauchy.loss", "logistic.loss", "variance.loss", "missing.json", "cov.json",
          "bad.json", "out.csv", "fig.png", "fig.pdf", "fig.svg", "fig.xyz", "g.docx", "sub", "sub/x.csv",
          "/nonexistent/x.csv", ".", "..", "A.real_samples", "n=A.real_samples", "a=dimension", "é", "\x00x"]
SCRATCH = {"cov.json": "[[1, 0, 0], [0, 2, 0], [0, 0, 1]]", "bad.json": "{\"models\": 3"}


def _clamp(argv: list[str]) -> list[str]:
    """Keep the runs tiny: -T <= 3, -R <= 50, scales <= 16, one worker (the limits on
    larger values are tested in tests/test_hardening.py)."""
    out = list(argv)
    for i, token in enumerate(out[:-1]):
        value = out[i + 1]
        if token in ("-T", "--generations", "--gen"):
            out[i + 1] = _at_most(value, MAX_T)
        elif token in ("-R", "--replications"):
            out[i + 1] = _at_most(value, MAX_R)
        elif token == "--workers":
            out[i + 1] = _at_most(value, 1)
        elif token == "--scales":
            out[i + 1] = ",".join(_at_most(v, MAX_SCALE) for v in value.split(","))
    return out


def _at_most(text: str, bound: int) -> str:
    try:
        return str(bound) if int(text) > bound else text
    except ValueError:
        return text


def _named_outputs(argv: list[str], root: Path) -> set[str]:
    """The files the command line names as outputs (as argparse reads it), from ``root``."""
    parser = build_parser()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            return set()
    return {os.path.realpath(root / p) for p in (getattr(args, k, None) for k in ("csv", "plot", "graph_plot", "output"))
            if isinstance(p, str) and p and "\x00" not in p}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {os.path.realpath(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _check(argv: list[str]) -> None:
    argv = _clamp(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for f in EXAMPLES.iterdir():
            if f.is_file():  # the example graph files, not the folders of sweeps and experiments
                shutil.copy(f, root / f.name)
        for name, text in SCRATCH.items():
            (root / name).write_text(text)
        (root / "sub").mkdir()
        before = _snapshot(root)
        named = _named_outputs(argv, root)
        cwd = os.getcwd()
        os.chdir(root)
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(argv)
        finally:
            os.chdir(cwd)
        elapsed = time.perf_counter() - start
        after = _snapshot(root)
    where = f"graphcollapse {' '.join(map(repr, argv))}"
    assert elapsed < TIME_BOUND, f"{where}: took {elapsed:.1f} s"
    assert status in (0, 2, 3), f"{where}: exit status {status}\n{err.getvalue()}"
    lines = err.getvalue().splitlines()
    assert "Traceback" not in err.getvalue(), f"{where}:\n{err.getvalue()}"
    if status == 2:
        assert len(lines) == 1 and "error: " in lines[0], f"{where}: stderr\n{err.getvalue()}"
    else:
        assert all(line.startswith("graphcollapse") or line.startswith("\r") for line in lines), (
            f"{where}: stderr\n{err.getvalue()}")
    written = {p for p, stamp in after.items() if before.get(p) != stamp}
    assert written <= named, f"{where}: wrote {sorted(written - named)} (named outputs: {sorted(named)})"


TEMPLATES = [
    ["demo"],
    ["analyze", "ring.json", "--json"],
    ["analyze", "demo.json", "--large-sample", "--fix-samples", "3"],
    ["analyze", "ring.json", "--estimator", "logistic", "--theta", "1,-0.5,0.25"],
    ["analyze", "ring.json", "--estimator", "custom", "--loss", "cauchy.loss"],
    ["predict", "demo.json", "-T", "3", "--json"],
    ["predict", "ring.json", "-T", "2", "--estimator", "poisson", "--theta", "0.5,0,0"],
    ["verify", "ring.json", "-T", "2", "-R", "50", "--seed", "1", "--csv", "out.csv", "--json"],
    ["verify", "demo.json", "-T", "1", "-R", "20", "--seed", "2", "--large-sample", "--strict"],
    ["verify", "ring.json", "-T", "1", "-R", "30", "--seed", "3", "--estimator", "gaussian", "--scales", "1,4"],
    ["verify", "ring.json", "-T", "1", "-R", "30", "--seed", "4", "--covariance", "cov.json", "--csv", "sub/x.csv"],
    ["verify", "ring.json", "-T", "1", "-R", "10", "--seed", "5", "--plot", "fig.png"],
    ["latex", "ring.json", "-o", "out.tex"],
    ["latex", "demo.json", "--large-sample", "--symbol", "n=A.real_samples"],
]

TOKENS = st.one_of(st.sampled_from(COMMANDS), st.sampled_from(OPTIONS), st.sampled_from(VALUES),
                   st.text(max_size=8))


@settings(max_examples=40, deadline=None)
@given(argv=st.lists(TOKENS, max_size=8))
def test_random_option_strings(argv: list[str]) -> None:
    """Random tokens (commands, options, values, text): exit 0, 2 or 3, one error line."""
    _check(argv)


@st.composite
def mutated_command_lines(draw) -> list[str]:
    argv = list(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "replace", "insert", "duplicate", "swap"]))
        i = draw(st.integers(0, len(argv)))
        if kind == "insert" or not argv:
            argv.insert(i, draw(TOKENS))
        elif kind == "drop":
            del argv[i % len(argv)]
        elif kind == "replace":
            argv[i % len(argv)] = draw(st.sampled_from(VALUES + OPTIONS))
        elif kind == "duplicate":
            j = i % len(argv)
            argv[j:j] = argv[j:j + 2]
        else:
            j, k = i % len(argv), draw(st.integers(0, len(argv) - 1))
            argv[j], argv[k] = argv[k], argv[j]
    return argv


@settings(max_examples=40, deadline=None)
@given(argv=mutated_command_lines())
def test_mutated_command_lines(argv: list[str]) -> None:
    """Valid command lines with tokens dropped, replaced, inserted, duplicated or swapped:
    exit 0, 2 or 3, one error line, only the named outputs written."""
    _check(argv)
