"""Docstrings teach: every public function of the package has a numpydoc docstring with a
runnable Examples section, and its documented parameters match its signature (the idea of
python-control's docstrings_test)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import graphcollapse.theory as theory
import graphcollapse.verify as verify


def _public_functions():
    for package in (theory, verify):
        for info in pkgutil.iter_modules(package.__path__):
            name = f"{package.__name__}.{info.name}"
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(name)
            for attr in getattr(module, "__all__", []):
                obj = getattr(module, attr)
                if inspect.isfunction(obj) and obj.__module__ == name:
                    yield pytest.param(obj, id=f"{name}.{attr}")


PUBLIC = list(_public_functions())


def _documented_parameters(doc: str) -> list[str] | None:
    match = re.search(r"\n\s*Parameters\n\s*-+\n(.*?)(\n\s*\n\s*[A-Z][a-z]+( [A-Z][a-z]+)?\n\s*-+\n|\Z)", doc, re.S)
    if not match:
        return None
    names: list[str] = []
    for line in match.group(1).splitlines():
        m = re.match(r"^(\*{0,2}[A-Za-z_][\w, *]*?)\s*:", line)  # getdoc dedents: names at column 0
        if m:
            names += [n.strip().lstrip("*") for n in m.group(1).split(",")]
    return names


@pytest.mark.parametrize("func", PUBLIC)
def test_public_function_has_docstring_with_examples(func):
    """Every public function documents itself with a runnable Examples section."""
    doc = inspect.getdoc(func)
    assert doc, f"{func.__qualname__} has no docstring"
    assert "Examples\n--------" in doc and ">>>" in doc, f"{func.__qualname__} has no Examples section"


WITH_PARAMETERS = [p for p in PUBLIC if _documented_parameters("\n" + (inspect.getdoc(p.values[0]) or "")) is not None]


@pytest.mark.parametrize("func", WITH_PARAMETERS)
def test_documented_parameters_match_the_signature(func):
    """A Parameters section, when present, lists exactly the signature's parameters."""
    documented = _documented_parameters("\n" + inspect.getdoc(func))
    actual = [p for p in inspect.signature(func).parameters if p not in ("self", "cls")]
    assert sorted(documented) == sorted(actual)
