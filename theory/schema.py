"""The published JSON Schema of the interaction-graph format (``theory/graph.schema.json``).

The schema checks the shape of a file; :func:`graphcollapse.theory.graph.load_graph` additionally checks
what a schema cannot express (unique names, edges naming declared learners, no repeated
edge, every learner has data, a symmetric positive-definite covariance of size d).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["graph_schema"]


def graph_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the graph format, as a dictionary.

    Examples
    --------
    >>> from graphcollapse.theory.schema import graph_schema
    >>> sorted(graph_schema()["required"])
    ['dimension', 'models', 'noise_variance']
    """
    text = resources.files(__package__).joinpath("graph.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
