"""graphcollapse.theory: exact theory of model collapse on interaction graphs.

Never imports :mod:`graphcollapse.verify`. The names below load their module on first
use (PEP 562), so ``import graphcollapse.theory`` itself costs no sympy or scipy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphcollapse import __version__
from graphcollapse._lazy import lazy_exports

_EXPORTS = {
    "errors": ("ExactRegimeError", "GraphCollapseError", "GraphCollapseWarning", "GraphTypeError",
               "GraphValueError", "NoClosedFormError", "UndecidableError"),
    "graph": ("InteractionGraph", "load_graph", "save_graph"),
    "condition": ("CollapseCondition", "SourceComponent", "collapse_condition", "verdicts_from_mixing_matrix"),
    "analysis": ("Analysis", "Prediction", "analyze", "predict"),
    "regimes": ("RegimePrediction", "regime_prediction", "regime_verdicts"),
    "weights": ("WeightOptimum", "optimal_real_share", "optimize_weights"),
    "gaussian": ("gaussian_moment_trajectory", "gaussian_verdicts"),
}
_names, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = ["__version__", *_names]


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .analysis import Analysis, Prediction, analyze, predict
    from .condition import CollapseCondition, SourceComponent, collapse_condition, verdicts_from_mixing_matrix
    from .errors import (ExactRegimeError, GraphCollapseError, GraphCollapseWarning, GraphTypeError,
                         GraphValueError, NoClosedFormError, UndecidableError)
    from .graph import InteractionGraph, load_graph, save_graph
    from .regimes import RegimePrediction, regime_prediction, regime_verdicts
    from .weights import WeightOptimum, optimal_real_share, optimize_weights
    from .gaussian import gaussian_moment_trajectory, gaussian_verdicts
