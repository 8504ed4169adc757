"""The graph model: construction routes agree, the JSON format round-trips, the schema
matches the reader, and every kind of bad input gets one of our one-line errors."""

from __future__ import annotations

import copy
import json

import jsonschema
import networkx as nx
import pytest
import sympy as sp

from graphcollapse.theory import GraphTypeError, GraphValueError, InteractionGraph, load_graph
from graphcollapse.theory.analysis import demo_graph
from graphcollapse.theory.builders import chain, complete, cycle, random_digraph, self_training, star
from graphcollapse.theory.schema import graph_schema

GOOD = {
    "format_version": 1,
    "dimension": 5,
    "noise_variance": 1.0,
    "models": [
        {"name": "A", "initial_samples": 30, "real_samples": 10, "synthetic_noise_variance": 0.5},
        {"name": "B", "initial_samples": 30, "real_samples": 0},
    ],
    "edges": [{"source": "B", "target": "A", "samples": 10}, {"source": "A", "target": "B", "samples": 4}],
}


def test_json_example_of_the_format_loads_exactly():
    """W and the real-data fractions are exact; JSON decimals are read exactly."""
    G = load_graph(json.dumps(GOOD))
    assert G.mixing_matrix == sp.Matrix([[0, sp.Rational(1, 2)], [1, 0]])
    assert G.real_fraction == (sp.Rational(1, 2), 0)
    assert G.synthetic_noise_variance == (sp.Rational(1, 2), 1)


def test_networkx_and_json_routes_agree():
    """from_networkx(to_networkx(G)) and from_dict(to_dict(G)) give the same graph."""
    G = load_graph(json.dumps(GOOD))
    H = InteractionGraph.from_networkx(G.to_networkx())
    J = InteractionGraph.from_dict(json.loads(G.dumps()))
    for other in (H, J):
        assert other.names == G.names and sorted(other.edges) == sorted(G.edges)
        assert other.mixing_matrix == G.mixing_matrix
        assert other.synthetic_noise_variance == G.synthetic_noise_variance


@pytest.mark.parametrize("G", [
    pytest.param(self_training(), id="self-training"),
    pytest.param(chain(4), id="chain"),
    pytest.param(cycle(5), id="cycle"),
    pytest.param(star(4), id="star-out"),
    pytest.param(star(4, direction="in"), id="star-in"),
    pytest.param(complete(3), id="complete-loops"),
    pytest.param(complete(3, self_loops=False), id="complete"),
    pytest.param(random_digraph(8, seed=3), id="random"),
    pytest.param(demo_graph(), id="demo"),
])
def test_builders_validate_against_the_published_schema(G):
    """Every builder's JSON satisfies the schema and reloads to the same W."""
    data = G.to_dict()
    jsonschema.validate(data, graph_schema())
    assert InteractionGraph.from_dict(data).mixing_matrix == G.mixing_matrix


def test_mixing_matrix_rows_are_substochastic():
    """W >= 0 and alpha_k = 1 - sum_j W[k, j] exactly."""
    G = random_digraph(10, seed=11)
    W = G.mixing_matrix
    for k in range(10):
        assert all(x >= 0 for x in W.row(k))
        assert G.real_fraction[k] == 1 - sum(W.row(k))


def _mutate(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD = [
    ("unknown-top", _mutate(("colour",), "red"), GraphValueError, r"colour: unknown field"),
    ("unknown-model-field", _mutate(("models", 0, "size"), 3), GraphValueError, r"models\[0\]\.size: unknown field"),
    ("missing-dimension", _mutate(("dimension",), KeyError), GraphValueError, r"dimension: missing required field"),
    ("missing-real", _mutate(("models", 1, "real_samples"), KeyError), GraphValueError, r"real_samples: missing"),
    ("negative-count", _mutate(("models", 0, "real_samples"), -1), GraphValueError, r"real_samples: expected an integer >= 0"),
    ("fractional-count", _mutate(("edges", 0, "samples"), 2.5), GraphTypeError, r"samples: expected an integer"),
    ("zero-edge", _mutate(("edges", 0, "samples"), 0), GraphValueError, r"samples: expected an integer >= 1"),
    ("string-count", _mutate(("models", 0, "initial_samples"), "30"), GraphTypeError, r"initial_samples: expected an integer"),
    ("bool-count", _mutate(("models", 0, "initial_samples"), True), GraphTypeError, r"initial_samples: expected an integer"),
    ("unknown-learner", _mutate(("edges", 0, "source"), "Z"), GraphValueError, r"unknown learner 'Z'"),
    ("duplicate-name", _mutate(("models", 1, "name"), "A"), GraphValueError, r"duplicate learner name 'A'"),
    ("bad-name", _mutate(("models", 1, "name"), "B->C"), GraphValueError, r"models.name: expected 1-64 letters"),
    ("no-data", _mutate(("edges",), [{"source": "B", "target": "A", "samples": 10}]), GraphValueError,
     r"models\[B\]: the learner has no data"),
    ("duplicate-edge", _mutate(("edges",), [{"source": "B", "target": "A", "samples": 1}] * 2), GraphValueError,
     r"the edge B->A appears twice"),
    ("zero-noise", _mutate(("noise_variance",), 0), GraphValueError, r"noise_variance: expected a positive number"),
    ("negative-snv", _mutate(("models", 0, "synthetic_noise_variance"), -1), GraphValueError,
     r"synthetic_noise_variance: expected a positive number"),
    ("empty-models", _mutate(("models",), []), GraphValueError, r"models: the graph has no learners"),
    ("models-not-list", _mutate(("models",), "A"), GraphTypeError, r"models: expected a list"),
    ("models-columns-missing", _mutate(("models",), {}), GraphValueError, r"models\.name: missing column"),
    ("edges-column-short", _mutate(("edges",), {"source": ["A"], "target": [], "samples": [1]}), GraphValueError,
     r"edges\.target: expected 1 entries"),
    ("bad-version", _mutate(("format_version",), 2), GraphValueError, r"format_version: expected 1"),
    ("dimension-zero", _mutate(("dimension",), 0), GraphValueError, r"dimension: expected an integer >= 1"),
    ("covariance-shape", _mutate(("covariance",), [[1, 0], [0, 1]]), GraphValueError, r"covariance: expected a 5 x 5"),
    ("top-not-object", [1, 2], GraphTypeError, r"graph: expected a JSON object"),
]


@pytest.mark.parametrize("data,error,message", [pytest.param(d, e, m, id=i) for i, d, e, m in BAD])
def test_bad_input_gets_a_one_line_error_naming_the_field(data, error, message):
    """Bad graph files raise our exception class with a one-line message naming the field."""
    with pytest.raises(error, match=message) as info:
        InteractionGraph.from_dict(data)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data", [pytest.param(d, id=i) for i, d, e, m in BAD
                                  if i not in ("unknown-learner", "duplicate-name", "no-data", "duplicate-edge",
                                               "covariance-shape", "edges-column-short")])
def test_schema_rejects_what_the_reader_rejects_by_shape(data):
    """The published schema rejects the shape errors our reader rejects."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, graph_schema())


@pytest.mark.parametrize("text,message", [
    pytest.param('{"dimension": 1,', r"malformed JSON at line 1", id="truncated"),
    pytest.param('{"dimension": NaN, "noise_variance": 1, "models": []}', r"NaN is not valid JSON", id="nan"),
    pytest.param('{"dimension": 1, "noise_variance": Infinity, "models": []}', r"Infinity is not valid JSON", id="inf"),
])
def test_malformed_json(text, message):
    """Malformed JSON and non-finite numbers are rejected with one line."""
    with pytest.raises(GraphValueError, match=message):
        load_graph(text)


def test_missing_file(tmp_path):
    """A missing file names the path."""
    with pytest.raises(GraphValueError, match="does not exist"):
        load_graph(tmp_path / "nope.json")


@pytest.mark.parametrize("kwargs,error,message", [
    pytest.param(dict(real_samples=[1.5]), GraphTypeError, "found the float 1.5", id="float-count"),
    pytest.param(dict(real_samples=[-1]), GraphValueError, "nonnegative", id="negative"),
    pytest.param(dict(noise_variance=float("nan")), GraphValueError, "finite", id="nan-noise"),
    pytest.param(dict(dimension=sp.Rational(1, 2)), GraphValueError, "positive integer", id="fractional-d"),
])
def test_library_bad_input(kwargs, error, message):
    """The library constructor validates like the JSON reader."""
    base = dict(names=["A"], real_samples=[1], initial_samples=[5], edges=[("A", "A", 3)], dimension=2,
                noise_variance=1)
    base.update(kwargs)
    names = base.pop("names")
    with pytest.raises(error, match=message):
        InteractionGraph(names, **base)


def test_symbolic_counts_are_allowed_in_the_library():
    """Counts may be sympy Rationals or symbols; W stays exact."""
    n, m = sp.symbols("n m", positive=True)
    G = self_training(real_samples=m, samples=n)
    assert G.mixing_matrix == sp.Matrix([[n / (m + n)]])
    assert G.is_symbolic and G.free_symbols == {n, m}


def test_networkx_missing_attributes():
    """from_networkx names the missing attribute."""
    H = nx.DiGraph(dimension=2)
    H.add_node("A", real_samples=1, initial_samples=3)
    with pytest.raises(GraphValueError, match="noise_variance: missing graph attribute"):
        InteractionGraph.from_networkx(H)


# --------------------------------------------------------------------------- hardened input
_ONE = '{"dimension": 2, "noise_variance": %s, "models": [{"name": "A", "initial_samples": 10, "real_samples": %s}]}'


@pytest.mark.parametrize("text,error,message", [
    pytest.param(_ONE % ("1", "9" * 5000), GraphValueError,
                 r"models\[A\]\.real_samples: expected an integer <= 2\^53, found an integer with 5000 digits",
                 id="5000-digit-count"),
    pytest.param(_ONE % ("1", "9" * 4000), GraphValueError,
                 r"models\[A\]\.real_samples: expected an integer <= 2\^53, found an integer with 4000 digits",
                 id="4000-digit-count"),
    pytest.param(_ONE % ("1", "9007199254740993"), GraphValueError,
                 r"real_samples: expected an integer <= 2\^53, found 9007199254740993", id="count-above-2^53"),
    pytest.param('{"dimension": ' + "[" * 200_000 + "]" * 200_000 + "}", GraphValueError,
                 r"graph file: malformed JSON: nesting too deep", id="200000-nested-brackets"),
    pytest.param('{"dimension": 2, "dimension": 3, "noise_variance": 1, "models": []}', GraphValueError,
                 r"dimension: the key appears twice in one JSON object", id="duplicate-top-key"),
    pytest.param(_ONE.replace('"real_samples": %s', '"real_samples": 1, "real_samples": %s') % ("1", "2"),
                 GraphValueError, r"real_samples: the key appears twice", id="duplicate-model-key"),
    pytest.param(_ONE % ("1e400", "3"), GraphValueError,
                 r"noise_variance: expected a finite number within the float64 range .*found 1e400",
                 id="noise-1e400"),
    pytest.param(_ONE % ("1e-400", "3"), GraphValueError, r"noise_variance: expected a finite number within",
                 id="noise-1e-400"),
    pytest.param(_ONE % ("1e999999999", "3"), GraphValueError, r"noise_variance: expected a finite number within",
                 id="noise-huge-exponent"),
    pytest.param(_ONE % ("0." + "1" * 200, "3"), GraphValueError,
                 r"noise_variance: expected a number written with at most 100 characters", id="noise-200-digits"),
    pytest.param((_ONE % ("1", "3")).replace('"dimension": 2', '"dimension": 2, "covariance": [[1, 0], [0]]'),
                 GraphValueError, r"covariance: expected a 2 x 2 matrix, found 1 entries in row 2", id="ragged-cov"),
    pytest.param((_ONE % ("1", "3")).replace('"dimension": 2', '"dimension": 2, "covariance": [[1, 0]]'),
                 GraphValueError, r"covariance: expected a 2 x 2 matrix, found 1 rows", id="short-cov"),
])
def test_hardened_json_input(text, error, message):
    """Hostile JSON gets one of our one-line errors naming the field, quickly."""
    import time

    start = time.perf_counter()
    with pytest.raises(error, match=message) as info:
        load_graph(text)
    assert "\n" not in str(info.value)
    assert time.perf_counter() - start < 5


def test_numpy_integer_counts_are_integers():
    """np.int64 (and other numpy integer) counts in a dictionary are read as ints."""
    import numpy as np

    data = copy.deepcopy(GOOD)
    data["dimension"] = np.int32(5)
    data["models"][0]["initial_samples"] = np.int64(30)
    data["edges"][0]["samples"] = np.uint8(10)
    G = load_graph(data)
    assert G.initial_samples == (30, 30) and type(G.initial_samples[0]) is int
    assert G.mixing_matrix == load_graph(GOOD).mixing_matrix
    data["models"][0]["real_samples"] = np.bool_(True)
    with pytest.raises(GraphTypeError, match=r"models\[A\]\.real_samples: expected an integer"):
        load_graph(data)


@pytest.mark.parametrize("source,message", [
    pytest.param(b'{"dimension": 2}', r"found bytes; decode JSON bytes first", id="bytes"),
    pytest.param(None, r"found None", id="none"),
    pytest.param(3.5, r"found float", id="float"),
])
def test_load_graph_rejects_what_is_not_a_graph_source(source, message):
    """bytes, None and other objects are a GraphTypeError, not 'malformed JSON'."""
    with pytest.raises(GraphTypeError, match=r"graph: expected a file path, JSON text or a dictionary, " + message):
        load_graph(source)


def test_name_with_a_trailing_newline_is_rejected():
    """Learner names must match the whole pattern ('A\\n' used to slip through)."""
    with pytest.raises(GraphValueError, match="models.name: expected 1-64 letters"):
        InteractionGraph(["A\n"], [1], [5], [], dimension=1, noise_variance=1)


def test_schema_knows_the_count_bound():
    """The published schema rejects counts above 2^53 like the reader."""
    data = _mutate(("models", 0, "real_samples"), 2**53 + 1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, graph_schema())
    with pytest.raises(GraphValueError, match=r"expected an integer <= 2\^53"):
        InteractionGraph.from_dict(data)
