"""Write the golden CLI outputs that ``tests/test_golden.py`` compares against.

The golden set is every command of the command line (text, ``--json``, CSV and LaTeX
outputs) on the documentation's example graphs and on a seeded set of random graphs.
Run it only when an output is meant to change, and review the diff::

    python tests/golden/make_golden.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXPECTED = HERE / "expected"
GRAPHS = HERE / "graphs"


def random_graph(seed: int) -> dict:
    """A small random interaction graph (some learners below the 2d + 1 threshold)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 6))
    d = int(rng.integers(1, 4))
    names = [chr(ord("A") + k) for k in range(K)]
    models = []
    edges = []
    for k in range(K):
        real = int(rng.choice([0, 0, 1, 4, 12, 30]))
        models.append({"name": names[k], "initial_samples": int(rng.integers(d + 2, 3 * d + 20)),
                       "real_samples": real})
    for j in range(K):
        for k in range(K):
            if rng.random() < 0.35:
                edges.append({"source": names[j], "target": names[k],
                              "samples": int(rng.choice([2, 5, 10, 25]))})
    for k, m in enumerate(models):  # every learner must have enough data to fit
        total = m["real_samples"] + sum(e["samples"] for e in edges if e["target"] == names[k])
        if total <= d + 1:
            m["real_samples"] += d + 2 - total + int(rng.integers(0, 2 * d + 2))
    return {"format_version": 1, "dimension": d, "noise_variance": 1,
            "models": models, "edges": edges}


def graph_files() -> list[Path]:
    """The example graphs of the docs and the seeded random graphs."""
    GRAPHS.mkdir(exist_ok=True)
    files = sorted((ROOT / "docs" / "examples").glob("*.json"))
    for seed in range(12):
        path = GRAPHS / f"random-{seed:02d}.json"
        if not path.exists():
            path.write_text(json.dumps(random_graph(seed), indent=1) + "\n")
        files.append(path)
    return files


def commands(path: Path) -> dict[str, list[str]]:
    """Name of each golden output -> command-line arguments (``{tmp}`` is a scratch dir)."""
    g = str(path)
    return {
        "analyze.txt": ["analyze", g],
        "analyze.json": ["analyze", g, "--json"],
        "analyze-large.txt": ["analyze", g, "--large-sample"],
        "analyze-large.json": ["analyze", g, "--large-sample", "--json"],
        "predict.json": ["predict", g, "-T", "6", "--json"],
        "predict-large.txt": ["predict", g, "-T", "6", "--large-sample"],
        "latex.tex": ["latex", g],
        "latex-large.tex": ["latex", g, "--large-sample"],
        "verify.csv": ["verify", g, "-T", "3", "-R", "200", "--seed", "7", "--csv", "{tmp}/out.csv"],
    }


def run(argv: list[str]) -> str:
    """Run the command line in-process; return exit status, stdout, stderr and any CSV."""
    from graphcollapse.verify.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{tmp}", tmp) for a in argv]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except Exception as exc:  # a crash is part of the recorded behaviour
                status = f"crash: {type(exc).__name__}"
        csv = Path(tmp, "out.csv")
        extra = csv.read_text() if csv.exists() else ""
    text = out.getvalue()
    if argv[0] == "verify":  # timings vary from run to run: keep only the table
        text = ""
    return f"status: {status}\n--- stdout\n{text}--- stderr\n{err.getvalue()}--- csv\n{extra}"


def main() -> None:
    EXPECTED.mkdir(exist_ok=True)
    for path in graph_files():
        for name, argv in commands(path).items():
            target = EXPECTED / f"{path.stem}.{name}"
            target.write_text(run(argv))
            print(target.relative_to(ROOT), file=sys.stderr)


if __name__ == "__main__":
    main()
