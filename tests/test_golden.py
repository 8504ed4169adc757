"""Refactoring keeps behaviour: every command-line output (text, JSON, CSV, LaTeX) on the
documentation's example graphs and on a seeded set of random graphs equals the recorded
golden output (``tests/golden/make_golden.py`` writes it; a deliberate change of output
re-records it and the diff is reviewed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

import make_golden  # noqa: E402

CASES = [
    pytest.param(path, name, argv, id=f"{path.stem}.{name}")
    for path in make_golden.graph_files()
    for name, argv in make_golden.commands(path).items()
]


@pytest.mark.parametrize(("path", "name", "argv"), CASES)
def test_output_matches_golden(path, name, argv):
    expected = (make_golden.EXPECTED / f"{path.stem}.{name}").read_text()
    assert make_golden.run(argv) == expected
