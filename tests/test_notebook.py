"""The tutorial notebook docs/tutorial.ipynb runs from top to bottom (nbclient, a fresh
Python kernel) and shows what it promises: the theorem rendered as HTML and LaTeX, the
exact check of its conditions, the simulation within its bound, the prediction's plot,
and the exported LaTeX document.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from jupyter_client.kernelspec import NoSuchKernel

    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("tutorial")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except NoSuchKernel:  # pragma: no cover - ipykernel is in the test extra
        pytest.skip("no python3 Jupyter kernel: pip install ipykernel")
    return nb, workdir


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_notebook_runs_without_errors(executed):
    """Every cell runs (an exception in a cell fails execute(); no error output is left)."""
    nb, _ = executed
    assert not [o for o in _outputs(nb) if o.output_type == "error"]


def test_notebook_shows_theorem_checks_plot_and_export(executed):
    """The outputs a reader relies on are there: theorem (HTML and LaTeX), exact check,
    simulation bound, inline SVG plot, the exported document."""
    nb, workdir = executed
    outs = _outputs(nb)
    html = [o["data"]["text/html"] for o in outs if "text/html" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outs)
    assert any('class="graphcollapse-theorem"' in h for h in html)
    assert any("<svg" in h for h in html)
    assert "condition equals root counting at" in text and "max |z| =" in text
    assert (workdir / "theorem.tex").read_text().startswith(r"\documentclass{article}")


def test_notebook_is_stored_without_outputs():
    """The stored notebook carries no outputs (they would go stale); the test makes them."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
