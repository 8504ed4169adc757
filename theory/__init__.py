"""graphcollapse.theory: exact theory of model collapse on interaction graphs.

Never imports :mod:`graphcollapse.verify`.
"""

from .errors import (
    ExactRegimeError,
    GraphCollapseError,
    GraphCollapseWarning,
    GraphTypeError,
    GraphValueError,
    NoClosedFormError,
    UndecidableError,
)
from .graph import InteractionGraph, load_graph, save_graph
from .condition import CollapseCondition, SourceComponent, collapse_condition, verdicts_from_mixing_matrix
from .analysis import Analysis, Prediction, analyze, predict

from graphcollapse import __version__

__all__ = [
    "__version__",
    "InteractionGraph",
    "load_graph",
    "save_graph",
    "CollapseCondition",
    "SourceComponent",
    "collapse_condition",
    "verdicts_from_mixing_matrix",
    "Analysis",
    "Prediction",
    "analyze",
    "predict",
    "GraphCollapseError",
    "GraphValueError",
    "GraphTypeError",
    "UndecidableError",
    "NoClosedFormError",
    "ExactRegimeError",
    "GraphCollapseWarning",
]
