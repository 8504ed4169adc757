"""Fuzzing the graph readers: whatever the input (random JSON documents, valid graphs with
fields dropped, repeated, retyped or set to extreme numbers, unicode names, damaged
text, broken columns), the outcome is an InteractionGraph or one of our errors
(GraphCollapseError subclasses with a one-line message), never another exception, and
it comes quickly."""

from __future__ import annotations

import copy
import io
import json
import time

from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcollapse.theory.graph as graph_module
from graphcollapse.theory import GraphCollapseError, InteractionGraph, load_graph
from graphcollapse.theory.builders import random_digraph
from graphcollapse.theory.graph import parse_json
from graphcollapse.theory.graphio import graph_columns, graph_from_columns

TIME_BOUND = 3.0  # seconds per input

EXTREME_NUMBERS = st.sampled_from([
    0, -1, 1, 2**53, 2**53 + 1, 2**63, 10**40, -(10**40), 0.5, -0.0, 1e-300, 1e308, 2.5, 1e-320,
    True, False, None, "7", [], {}, [[1]],
])
EXTREME_LITERALS = st.sampled_from([
    "9" * 5000, "1e400", "-1e400", "1e-400", "1e999999999", "0." + "3" * 300, "NaN", "Infinity", "-0",
    "1E5", "00", "1.", "-", "[" * 5000, "{" * 3000, '"\\ud800"', "1" * 25,
])
UNICODE_NAMES = st.text(min_size=0, max_size=70)


def _run(thunk) -> object:
    start = time.perf_counter()
    try:
        result = thunk()
    except GraphCollapseError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        result = exc
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_BOUND, f"took {elapsed:.1f} s"
    assert isinstance(result, (InteractionGraph, GraphCollapseError)), type(result)
    return result


def _outcome(thunk) -> object:
    """Run ``thunk`` with the constructor's item-by-item checks (small graphs) and with its
    vectorised checks forced: both give the same graph or the same error."""
    result = _run(thunk)
    with patch.object(graph_module, "_VECTORISE_MIN", 0):
        vectorised = _run(thunk)
    assert type(vectorised) is type(result)
    if isinstance(result, InteractionGraph):
        assert (vectorised.names, vectorised.edges, vectorised.real_samples, vectorised.total_samples) == \
            (result.names, result.edges, result.real_samples, result.total_samples)
    else:
        assert str(vectorised) == str(result)
    return result


def _valid_graph_dict(seed: int) -> dict:
    return random_digraph(6, seed=seed).to_dict()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)


@given(json_values)
def test_random_json_documents(value):
    """Any JSON document, as text or as a parsed value, gets a graph or our error."""
    text = json.dumps(value)
    _outcome(lambda: load_graph(text if text.lstrip()[:1] in "{[" else "{" + text))
    if isinstance(value, dict):
        _outcome(lambda: load_graph(value))


@st.composite
def mutated_graphs(draw):
    data = _valid_graph_dict(draw(st.integers(0, 50)))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "models", "edges"]))
        target = data
        if where != "top":
            items = data.get(where)
            if not isinstance(items, list) or not items:
                continue
            target = draw(st.sampled_from(items))
            if not isinstance(target, dict):
                continue
        keys = sorted(target) + ["extra_field"]
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(["drop", "retype", "extreme", "name"]))
        if action == "drop":
            target.pop(key, None)
        elif action == "retype":
            target[key] = draw(json_values)
        elif action == "extreme":
            target[key] = draw(EXTREME_NUMBERS)
        else:
            target[key] = draw(UNICODE_NAMES)
    if draw(st.booleans()) and isinstance(data.get("models"), list) and data["models"]:
        data["models"] = data["models"] + [copy.deepcopy(data["models"][0])]  # a repeated learner
    return data


@given(mutated_graphs())
def test_mutated_graph_dictionaries(data):
    """Valid graphs with fields dropped, retyped, extreme or renamed: graph or our error."""
    _outcome(lambda: InteractionGraph.from_dict(data))
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        return
    _outcome(lambda: load_graph(text))


@st.composite
def damaged_texts(draw):
    text = json.dumps(_valid_graph_dict(draw(st.integers(0, 50))))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["literal", "insert", "delete", "duplicate-key", "unicode"]))
        pos = draw(st.integers(0, len(text)))
        if kind == "literal":  # replace the number after some ': '
            colon = text.find(": ", pos)
            if colon >= 0:
                end = colon + 2
                while end < len(text) and text[end] in "0123456789.-eE":
                    end += 1
                text = text[:colon + 2] + draw(EXTREME_LITERALS) + text[end:]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(list('{}[]":,\\ 0x'))) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 5)):]
        elif kind == "duplicate-key":
            text = text.replace('"real_samples": ', '"real_samples": 1, "real_samples": ', 1)
        else:
            text = text.replace('"L1"', json.dumps(draw(UNICODE_NAMES)))
    return text


@given(damaged_texts())
def test_damaged_json_text(text):
    """Damaged graph files (extreme literals, stray characters, repeated keys, unicode
    names) get a graph or our error, from load_graph and from parse_json."""
    _outcome(lambda: load_graph("{" + text[1:] if text.startswith("{") else "{" + text))
    try:
        parse_json(text)
    except GraphCollapseError as exc:
        assert "\n" not in str(exc)


@st.composite
def broken_columns(draw):
    cols = dict(graph_columns(random_digraph(8, seed=draw(st.integers(0, 50)))))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(cols) + ["covariance", "extra"]))
        action = draw(st.sampled_from(["drop", "scalar", "float", "shorter", "extreme", "strings", "matrix"]))
        if action == "drop":
            cols.pop(key, None)
        elif action == "scalar":
            cols[key] = np.array(draw(st.integers(-5, 5)))
        elif action == "float" and np.asarray(cols.get(key, 0)).dtype.kind in "iuf":
            cols[key] = np.asarray(cols.get(key, np.zeros(3)), dtype=float) + 0.5
        elif action == "shorter" and key in cols and np.ndim(cols[key]) == 1:
            cols[key] = cols[key][:-1]
        elif action == "extreme":
            cols[key] = np.full(np.shape(cols.get(key, np.zeros(3))) or (3,),
                                draw(st.sampled_from([-1, 0, 2**62, np.nan, np.inf, 2**53 + 1])))
        elif action == "strings":
            cols[key] = np.array([draw(UNICODE_NAMES) for _ in range(8)])
        else:
            cols[key] = np.eye(draw(st.integers(0, 6)))
    return cols


@given(broken_columns())
def test_broken_columns(cols):
    """The columnar reader: wrong dtypes, shapes, extreme values: graph or our error."""
    _outcome(lambda: graph_from_columns(cols))
    buffer = io.BytesIO()
    np.savez(buffer, **cols)


@settings(max_examples=25)
@given(st.binary(max_size=200), st.sampled_from([".npz", ".graphml", ".edgelist", ".json"]))
def test_random_bytes_as_files(content, suffix):
    """Random bytes under every suffix: our error (or, by chance, a graph)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"g{suffix}"
        path.write_bytes(content)
        _outcome(lambda: load_graph(path))
