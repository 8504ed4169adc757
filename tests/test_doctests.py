"""Docstrings teach: every Examples section of the installed package runs and prints what
it shows. The modules are imported under their installed names (``graphcollapse.theory.*``,
``graphcollapse.verify.*``), so the examples exercise exactly what a user imports.

Floats in an expected output match the computed ones to the precision written (the
``NUMBER`` rule of pytest's doctest plugin), and whitespace is normalised.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import re

import pytest

import graphcollapse

_FLOAT = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


class _NumberChecker(doctest.OutputChecker):
    """Accept a float written with p decimals when the computed one rounds to it."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        wants, gots = _FLOAT.findall(want), _FLOAT.findall(got)
        if not wants or len(wants) != len(gots):
            return False
        for w, g in zip(wants, gots):
            decimals = len(w.split(".")[1].split("e")[0].split("E")[0]) if "." in w else 0
            if abs(float(w) - float(g)) > 0.5 * 10.0 ** (-decimals) * (1 + 1e-9):
                return False
        # with every float equal to the precision shown, the rest must match exactly
        return super().check_output(_FLOAT.sub("#", want), _FLOAT.sub("#", got), optionflags)


def _modules() -> list[str]:
    names = ["graphcollapse", "graphcollapse._lazy"]
    for sub in ("graphcollapse.theory", "graphcollapse.verify"):
        package = importlib.import_module(sub)
        names.append(sub)
        names += [f"{sub}.{i.name}" for i in pkgutil.iter_modules(package.__path__)]
    return names


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples:
                yield pytest.param(test, id=test.name)


@pytest.mark.parametrize("test", list(_examples()))
def test_docstring_example(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(checker=_NumberChecker(),
                                   optionflags=doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    result = runner.run(test, out=out.write, clear_globs=True)
    assert result.failed == 0, out.getvalue()


def test_every_module_is_collected():
    """Both layers and the top-level package contribute examples."""
    names = {p.values[0].name.split(".")[1] if p.values[0].name.count(".") else "top"
             for p in _examples()}
    assert {"theory", "verify"} <= names


@pytest.mark.parametrize(("want", "got", "ok"), [
    pytest.param("0.5\n", "0.5000001\n", True, id="rounds-to-shown"),
    pytest.param("0.5\n", "0.56\n", False, id="differs-at-shown-digit"),
    pytest.param("x = 1.25 y\n", "x = 1.2500004 z\n", False, id="text-differs"),
    pytest.param("[1.0, 2.0]\n", "[1.0]\n", False, id="count-differs"),
])
def test_number_checker(want, got, ok):
    """The float rule accepts only what rounds to the digits shown."""
    assert _NumberChecker().check_output(want, got, doctest.NORMALIZE_WHITESPACE) is ok
