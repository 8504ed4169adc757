"""The package: one import name, the version from the metadata, the old top-level names
not installed, and cheap imports (the layers load their dependencies on first use)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

import graphcollapse


def _run(code: str, tmp_path) -> str:
    """Run ``code`` in a fresh interpreter outside the repository (so only what is
    installed can be imported)."""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_version_comes_from_the_metadata():
    assert graphcollapse.__version__ == importlib.metadata.version("graphcollapse")
    from graphcollapse import theory

    assert theory.__version__ == graphcollapse.__version__


@pytest.mark.parametrize("name", ["theory", "verify"])
def test_old_top_level_names_are_not_installed(name, tmp_path):
    """Only ``graphcollapse`` is a top-level name (``verify`` clashes with a package on the index)."""
    assert _run(f"import importlib.util; print(importlib.util.find_spec({name!r}) is None)", tmp_path) == "True"


@pytest.mark.parametrize(("module", "heavy"), [
    pytest.param("graphcollapse.theory", "sympy", id="theory-without-sympy"),
    pytest.param("graphcollapse.verify.cli", "numpy", id="cli-without-numpy"),
])
def test_imports_are_cheap(module, heavy, tmp_path):
    """Importing a layer (or the command line, for --help) loads no heavy dependency."""
    assert _run(f"import sys, {module}; print({heavy!r} in sys.modules)", tmp_path) == "False"


def test_lazy_names_resolve_and_unknown_names_fail():
    import graphcollapse.theory as theory
    import graphcollapse.verify as verify

    assert theory.InteractionGraph.__module__ == "graphcollapse.theory.graph"
    assert verify.Estimator.__module__ == "graphcollapse.verify.estimators"
    assert set(theory.__all__) <= set(dir(theory))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        theory.nope  # noqa: B018
