"""Every theorem the gallery and the LaTeX tests produce compiles with a real TeX engine.

One document holds them all (one pdflatex run, a few seconds): the theorems of the gallery's
worked graphs (``docs/make_gallery.py``) in both theories, the graphs of
``tests/test_latex.py`` and the 3-learner cycle with a chord of the symbolic docs. The
document must compile without an error and without an overfull line (a formula running
into the margin). Where no ``pdflatex`` exists the tests skip and say why; ``.ci/run``
installs ``texlive-latex-base``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from graphcollapse.theory import load_graph
from graphcollapse.theory.latex import document_latex, theorem_latex
from graphcollapse.theory.symbols import apply_symbols
from graphcollapse.theory.theorem import derive_theorem

ROOT = Path(__file__).resolve().parent.parent
PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not found: install texlive-latex-base "
                                                        "(.ci/run does) to compile the theorems")


def _gallery():
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "docs" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _theorems() -> list[tuple[str, str]]:
    from test_latex import GRAPHS, TRIANGLE, _theorem  # _theorem is cached across both files

    cases = [(title, G, bindings) for title, G, bindings in _gallery().WORKED]
    cases.append(("triangle with a chord", load_graph(TRIANGLE), ["m=A.real_samples", "n=C-A.samples"]))
    out = []
    for theory in ("large-sample", "exact"):
        for title, G, bindings in cases:
            out.append((f"{title} ({theory})", theorem_latex(derive_theorem(apply_symbols(G, bindings), theory))))
        out += [(f"{name} ({theory})", theorem_latex(_theorem(name, theory))) for name in GRAPHS]
    return out


def _compile(tmp_path: Path, body: str) -> str:
    (tmp_path / "t.tex").write_text(document_latex(body))
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    return log


@needs_tex
def test_every_theorem_compiles_without_overfull_lines(tmp_path):
    """Claim: the gallery's and the tests' theorems compile with pdflatex (amsmath, amssymb,
    amsthm only) and no line runs into the margin."""
    pieces = [rf"\section*{{{title}}}" + "\n" + text for title, text in _theorems()]
    log = _compile(tmp_path, "\n\n".join(pieces))
    assert (tmp_path / "t.pdf").stat().st_size > 10_000
    overfull = [line for line in log.splitlines() if line.startswith("Overfull")]
    assert overfull == []


@needs_tex
def test_compile_catches_bad_latex(tmp_path):
    """The compile check can fail: an undefined command stops pdflatex."""
    with pytest.raises(AssertionError, match="Undefined control sequence"):
        _compile(tmp_path, r"\begin{theorem} $\notacommand$ \end{theorem}")
