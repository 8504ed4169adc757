"""The command line: commands, JSON output, and bad input (one line, exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from graphcollapse.theory.analysis import demo_graph
from graphcollapse.verify.cli import main


@pytest.fixture
def demo_file(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text(demo_graph().dumps())
    return path


def test_demo_runs_quickly(capsys):
    """`graphcollapse demo` prints the analysis of the built-in example in under 30 s."""
    start = time.perf_counter()
    assert main(["demo"]) == 0
    assert time.perf_counter() - start < 30
    out = capsys.readouterr().out
    assert "offending source components" in out and "minimal fix" in out


def test_analyze_json_is_strict(demo_file, capsys):
    """`analyze --json` prints one strict JSON object."""
    assert main(["analyze", str(demo_file), "--json", "--large-sample"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert out["theory"] == "large-sample" and out["models"]["E"]["collapses"] is True


def test_analyze_fix_samples_option(demo_file, capsys):
    """--fix-samples sets the real samples of the minimal fix."""
    assert main(["analyze", str(demo_file), "--json", "--large-sample", "--fix-samples", "7"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {f["add_real_samples"] for f in out["minimal_fix"]} == {7}


def test_predict_json(demo_file, capsys):
    """`predict --generations T --json` gives T + 1 risks per learner."""
    assert main(["predict", str(demo_file), "--generations", "5", "--json", "--large-sample"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["generations"] == list(range(6)) and all(len(v) == 6 for v in out["risk"].values())


@pytest.mark.parametrize("argv,message", [
    pytest.param(["analyze", "/no/such/file.json"], "does not exist", id="missing-file"),
    pytest.param(["predict", "GRAPH", "--generations", "-1"], "--generations: expected an integer >= 0", id="negative-T"),
    pytest.param(["predict", "GRAPH"], "--generations", id="missing-T"),
    pytest.param(["analyze", "GRAPH", "--fix-samples", "x"], "--fix-samples: expected an integer", id="bad-fix"),
    pytest.param(["analyze", "GRAPH", "--fix-samples", "0"], "--fix-samples: expected an integer >= 1", id="zero-fix"),
    pytest.param(["frobnicate"], "invalid choice", id="unknown-command"),
])
def test_bad_command_lines_exit_2_with_one_line(argv, message, demo_file, capsys):
    """Usage errors: exit status 2 and a single line on stderr."""
    argv = [str(demo_file) if a == "GRAPH" else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse-level errors exit from the parser
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("content,message", [
    pytest.param("{", "malformed JSON", id="malformed"),
    pytest.param('{"dimension": 2, "noise_variance": 1, "models": [{"name": "A", "initial_samples": 3, '
                 '"real_samples": 0}]}', "the learner has no data", id="no-data"),
    pytest.param('{"dimension": 2, "noise_variance": 1, "models": [{"name": "A", "initial_samples": 3, '
                 '"real_samples": 1}], "edges": [{"source": "Q", "target": "A", "samples": 1}]}',
                 "unknown learner 'Q'", id="unknown-learner"),
])
def test_bad_graph_file_from_a_real_process(tmp_path, content, message):
    """The installed entry point: exit 2, one line on stderr, no traceback."""
    path = tmp_path / "g.json"
    path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "graphcollapse.verify.cli", "analyze", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_analyze_with_an_m_estimator(demo_file, capsys):
    """`analyze --estimator huber --json`: the asymptotic theory in the analyze JSON shape."""
    assert main(["analyze", str(demo_file), "--estimator", "huber", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["theory"] == "asymptotic" and out["estimator"] == "huber"
    assert out["models"]["E"]["collapses"] is True and out["models"]["A"]["collapses"] is False


@pytest.mark.parametrize("argv,message", [
    pytest.param(["analyze", "GRAPH", "--estimator", "nope"], "unknown estimator 'nope'", id="unknown-estimator"),
    pytest.param(["predict", "GRAPH", "-T", "1", "--estimator", "probit"], "expected one of ols, gaussian",
                 id="unknown-estimator-lists-names"),
    pytest.param(["analyze", "GRAPH", "--theta", "1,2"], "add --estimator NAME", id="theta-without-estimator"),
    pytest.param(["predict", "GRAPH", "-T", "2", "--estimator", "logistic", "--theta", "1,2"], "theta",
                 id="theta-wrong-length"),
    pytest.param(["analyze", "GRAPH", "--estimator", "custom"], "needs --loss FILE", id="custom-without-loss"),
    pytest.param(["analyze", "GRAPH", "--estimator", "huber", "--loss", "x.loss"], "applies to --estimator custom",
                 id="loss-with-a-built-in-family"),
])
def test_bad_estimator_options(argv, message, demo_file, capsys):
    """M-estimator options: one-line errors, exit 2; estimator names are checked against
    the one vocabulary (graphcollapse.verify.estimators.Estimator) when parsed."""
    argv = [str(demo_file) if a == "GRAPH" else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse-level errors exit from the parser
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
