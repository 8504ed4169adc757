"""graphcollapse.theory: exact theory of model collapse on interaction graphs.

Never imports :mod:`graphcollapse.verify`. The names below load their module on first
use (PEP 562), so ``import graphcollapse.theory`` itself costs no sympy or scipy import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from graphcollapse import __version__

_EXPORTS = {
    "errors": ("ExactRegimeError", "GraphCollapseError", "GraphCollapseWarning", "GraphTypeError",
               "GraphValueError", "NoClosedFormError", "UndecidableError"),
    "graph": ("InteractionGraph", "load_graph", "save_graph"),
    "condition": ("CollapseCondition", "SourceComponent", "collapse_condition", "verdicts_from_mixing_matrix"),
    "analysis": ("Analysis", "Prediction", "analyze", "predict"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *_MODULE_OF]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .analysis import Analysis, Prediction, analyze, predict
    from .condition import CollapseCondition, SourceComponent, collapse_condition, verdicts_from_mixing_matrix
    from .errors import (ExactRegimeError, GraphCollapseError, GraphCollapseWarning, GraphTypeError,
                         GraphValueError, NoClosedFormError, UndecidableError)
    from .graph import InteractionGraph, load_graph, save_graph
