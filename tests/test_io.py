"""Graph files in every format: round trips, suffix dispatch, the vectorised checks of the
columnar readers (same one-line errors as the JSON reader), and the integer fast path of
the constructor agreeing with the item-by-item path."""

from __future__ import annotations

import copy
import json
import zipfile

import numpy as np
import pytest
import sympy as sp

from graphcollapse.theory import GraphTypeError, GraphValueError, InteractionGraph, load_graph
from graphcollapse.theory.analysis import demo_graph
from graphcollapse.theory.builders import chain, complete, cycle, random_digraph, self_training
from graphcollapse.theory.graph import save_graph
from graphcollapse.theory.graphio import graph_columns, graph_from_columns, read_graph

FORMATS = [".json", ".npz", ".graphml", ".edgelist",
           pytest.param(".parquet", marks=pytest.mark.skipif(
               __import__("importlib").util.find_spec("pyarrow") is None, reason="pyarrow not installed"))]


def _with_extras() -> InteractionGraph:
    """The demo graph with a covariance and a producer-specific noise variance."""
    data = demo_graph().to_dict()
    d = data["dimension"]
    data["covariance"] = [[2 if i == j else (0.5 if abs(i - j) == 1 else 0) for j in range(d)] for i in range(d)]
    data["models"][0]["synthetic_noise_variance"] = 0.25
    return InteractionGraph.from_dict(data)


GRAPHS = [
    pytest.param(self_training(), id="self-training"),
    pytest.param(chain(4), id="chain"),
    pytest.param(cycle(3), id="cycle"),
    pytest.param(complete(3), id="complete"),
    pytest.param(random_digraph(25, seed=5), id="random"),
    pytest.param(_with_extras(), id="covariance-and-variances"),
]


def _same(G: InteractionGraph, H: InteractionGraph, *, edge_order: bool) -> None:
    assert H.names == G.names
    assert H.real_samples == G.real_samples and H.initial_samples == G.initial_samples
    assert H.dimension == G.dimension and H.noise_variance == G.noise_variance
    assert H.synthetic_noise_variance == G.synthetic_noise_variance
    assert H.covariance == G.covariance
    assert (H.edges == G.edges) if edge_order else (sorted(H.edges) == sorted(G.edges))
    assert H.total_samples == G.total_samples


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("G", GRAPHS)
def test_every_format_round_trips(G, suffix, tmp_path):
    """save_graph then load_graph gives the same graph; JSON and .npz keep the edge order."""
    path = tmp_path / f"graph{suffix}"
    save_graph(G, path)
    H = load_graph(path)
    _same(G, H, edge_order=suffix in (".json", ".npz"))
    assert read_graph(str(path)).names == G.names


def test_unknown_suffix_is_refused_on_save_and_read_as_json_on_load(tmp_path):
    """save_graph names the suffixes it knows; load_graph reads other suffixes as JSON."""
    with pytest.raises(GraphValueError, match=r"unknown suffix '\.txt'; use one of \.json, \.npz"):
        save_graph(chain(2), tmp_path / "g.txt")
    (tmp_path / "g.txt").write_text(chain(2).dumps())
    assert load_graph(tmp_path / "g.txt").edges == chain(2).edges


def test_symbolic_graph_cannot_be_saved(tmp_path):
    """Columnar formats need integer counts: a symbolic graph gets one line."""
    G = self_training(real_samples=sp.Symbol("m", nonnegative=True))
    with pytest.raises(GraphTypeError, match="needs numeric parameters"):
        save_graph(G, tmp_path / "g.npz")
    H = self_training(real_samples=sp.Rational(5, 2))
    with pytest.raises(GraphValueError, match=r"models\[L0\]\.real_samples: 5/2 is not an integer"):
        save_graph(H, tmp_path / "g.npz")


def test_missing_and_directory_paths(tmp_path):
    """Every reader names a missing path or a directory."""
    for suffix in (".npz", ".graphml", ".edgelist", ".parquet"):
        with pytest.raises(GraphValueError, match="does not exist"):
            load_graph(tmp_path / f"nope{suffix}")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(GraphValueError, match="is a directory"):
        load_graph(tmp_path / "dir.npz")


# --------------------------------------------------------------------------- npz checks
BASE = {
    "format_version": 1, "dimension": 3, "noise_variance": 1.0,
    "models": [{"name": "A", "initial_samples": 30, "real_samples": 10},
               {"name": "B", "initial_samples": 30, "real_samples": 0},
               {"name": "C", "initial_samples": 30, "real_samples": 5}],
    "edges": [{"source": "A", "target": "B", "samples": 4}, {"source": "B", "target": "B", "samples": 2},
              {"source": "C", "target": "A", "samples": 7}],
}


def _columns_of(data):
    names = [m["name"] for m in data["models"]]
    index = {m["name"]: i for i, m in enumerate(BASE["models"])}  # edges name the original learners
    return {
        "format_version": np.array(1), "dimension": np.array(data["dimension"]),
        "noise_variance": np.array(float(data["noise_variance"])),
        "names": np.array(names),
        "real_samples": np.array([m["real_samples"] for m in data["models"]], dtype=np.int64),
        "initial_samples": np.array([m["initial_samples"] for m in data["models"]], dtype=np.int64),
        "synthetic_noise_variance": np.array([m.get("synthetic_noise_variance", np.nan) for m in data["models"]],
                                             dtype=float),
        "edge_source": np.array([index.get(e["source"], 99) for e in data["edges"]], dtype=np.int64),
        "edge_target": np.array([index.get(e["target"], 99) for e in data["edges"]], dtype=np.int64),
        "edge_samples": np.array([e["samples"] for e in data["edges"]], dtype=np.int64),
    }


def _mutated(path, value):
    data = copy.deepcopy(BASE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


SAME_MESSAGE = [
    pytest.param(("models", 1, "real_samples"), -1, id="negative-real"),
    pytest.param(("models", 2, "initial_samples"), 0, id="zero-initial"),
    pytest.param(("models", 2, "real_samples"), 2**60, id="count-above-2^53"),
    pytest.param(("models", 0, "synthetic_noise_variance"), -0.5, id="negative-variance"),
    pytest.param(("edges", 2, "samples"), 0, id="zero-samples"),
    pytest.param(("models", 1, "name"), "A", id="duplicate-name"),
    pytest.param(("models", 1, "name"), "B C", id="bad-name"),
    pytest.param(("edges", 1), {"source": "A", "target": "B", "samples": 1}, id="duplicate-edge"),
    pytest.param(("edges",), [], id="no-data"),
    pytest.param(("dimension",), 0, id="dimension-zero"),
    pytest.param(("noise_variance",), 0.0, id="zero-noise"),
]


@pytest.mark.parametrize("path,value", SAME_MESSAGE)
def test_columnar_errors_are_the_json_errors(path, value, tmp_path):
    """The vectorised .npz checks raise exactly the JSON reader's one-line message."""
    data = _mutated(path, value)
    with pytest.raises(GraphCollapseErrors) as json_error:
        load_graph(json.dumps(data))
    cols = _columns_of(data)
    np.savez(tmp_path / "g.npz", **cols)
    with pytest.raises(type(json_error.value)) as npz_error:
        load_graph(tmp_path / "g.npz")
    assert str(npz_error.value) == str(json_error.value)
    assert "\n" not in str(npz_error.value)


GraphCollapseErrors = (GraphValueError, GraphTypeError)


@pytest.mark.parametrize("change,error,message", [
    pytest.param({"edge_source": np.array([0, 5, 2])}, GraphValueError,
                 r"edges\[1\]\.source: expected a learner index in 0\.\.2, found 5", id="index-out-of-range"),
    pytest.param({"edge_target": np.array([0, 1, -1])}, GraphValueError,
                 r"edges\[2\]\.target: expected a learner index in 0\.\.2, found -1", id="negative-index"),
    pytest.param({"real_samples": np.array([1.0, 2.0, 3.0])}, GraphTypeError,
                 r"real_samples: expected an integer array, found an array of type float64", id="float-counts"),
    pytest.param({"real_samples": np.array([1, 2])}, GraphValueError,
                 r"real_samples: expected 3 values \(one per learner\), found 2", id="short-column"),
    pytest.param({"names": np.array([1, 2, 3])}, GraphTypeError, r"names: expected an array of strings",
                 id="numeric-names"),
    pytest.param({"names": np.array([], dtype=str)}, GraphValueError, r"models: the graph has no learners",
                 id="no-learners"),
    pytest.param({"colour": np.array(1)}, GraphValueError, r"colour: unknown field", id="unknown-array"),
    pytest.param({"dimension": np.array([3, 4])}, GraphValueError, r"dimension: expected a single number",
                 id="dimension-not-scalar"),
    pytest.param({"dimension": np.array(2.5)}, GraphTypeError, r"dimension: expected an integer", id="float-d"),
    pytest.param({"noise_variance": np.array(np.inf)}, GraphValueError, r"noise_variance: expected a finite",
                 id="infinite-noise"),
    pytest.param({"synthetic_noise_variance": np.array([np.nan, np.inf, np.nan])}, GraphValueError,
                 r"models\[B\]\.synthetic_noise_variance: expected a finite number", id="infinite-variance"),
    pytest.param({"format_version": np.array(2)}, GraphValueError, r"format_version: expected 1, found 2",
                 id="version"),
    pytest.param({"edge_samples": np.array([2**62, 2, 1], dtype=np.uint64)}, GraphValueError,
                 r"edges\[0\]\.samples: expected an integer <= 2\^53", id="uint64-samples"),
])
def test_columnar_specific_errors(change, error, message, tmp_path):
    """What only an array can get wrong (dtypes, shapes, indices) has its own one line."""
    cols = _columns_of(BASE)
    cols.update(change)
    np.savez(tmp_path / "g.npz", **cols)
    with pytest.raises(error, match=message) as info:
        load_graph(tmp_path / "g.npz")
    assert "\n" not in str(info.value)


def test_npz_missing_required_and_partial_edges():
    """Required arrays are named; edge arrays come together."""
    cols = _columns_of(BASE)
    del cols["names"]
    with pytest.raises(GraphValueError, match="names: missing required field"):
        graph_from_columns(cols)
    cols = _columns_of(BASE)
    del cols["edge_target"]
    with pytest.raises(GraphValueError, match="edge_target: missing; give edge_source, edge_target and"):
        graph_from_columns(cols)


def test_npz_never_unpickles(tmp_path):
    """Object arrays (pickled data) are refused, not loaded."""
    cols = _columns_of(BASE)
    cols["names"] = np.array(["A", "B", "C"], dtype=object)
    np.savez(tmp_path / "g.npz", **cols)
    with pytest.raises(GraphValueError, match="pickled data"):
        load_graph(tmp_path / "g.npz")


@pytest.mark.parametrize("content,message", [
    pytest.param(b"not a zip file", "cannot read", id="garbage"),
    pytest.param(b"PK\x03\x04broken", "cannot read", id="broken-zip"),
])
def test_npz_unreadable(content, message, tmp_path):
    """A file that is not an .npz archive gets one line naming it."""
    (tmp_path / "g.npz").write_bytes(content)
    with pytest.raises(GraphValueError, match=message):
        load_graph(tmp_path / "g.npz")


def test_single_npy_array_is_not_a_graph(tmp_path):
    """np.save writes one array; the reader says that is not an archive of columns."""
    path = tmp_path / "g.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.arange(3))
    with pytest.raises(GraphValueError, match="single .npy array"):
        load_graph(path)


def test_npz_columns_match_the_graph():
    """graph_columns writes names, counts, indices and NaN for default variances."""
    cols = graph_columns(_with_extras())
    assert cols["names"].dtype.kind == "U" and cols["edge_source"].dtype == np.int64
    assert np.isnan(cols["synthetic_noise_variance"][1]) and cols["synthetic_noise_variance"][0] == 0.25
    assert cols["covariance"].shape == (5, 5)


# --------------------------------------------------------------------------- networkx formats
def test_edgelist_errors(tmp_path):
    """Edge-list files report malformed header and edge lines, and repeated edges."""
    header = "# dimension: 2\n# noise_variance: 1\n# learner: A real_samples=3 initial_samples=10\n"
    cases = [
        (header + "A A 4 5\n", "malformed edge line"),
        (header + "A A four\n", r"edges\[A->A\]\.samples: expected a number, found 'four'"),
        (header + "A A 2.5\n", r"edges\[0\]\.samples: expected an integer count"),
        (header + "A A 4\nA A 4\n", r"the edge A->A appears twice"),
        (header + "A Z 4\n", r"unknown learner 'Z'"),
        ("# dimension: 2\n# dimension: 3\n", r"line 2: dimension is given twice"),
        ("# dimension: x\n", r"line 1: dimension: expected a number, found 'x'"),
        (header + "# learner: B real_samples\n", r"line 4: expected key=value"),
        (header + "# learner: B size=3 initial_samples=1 real_samples=1\n", r"models\[1\]\.size: unknown field"),
    ]
    for text, message in cases:
        (tmp_path / "g.edgelist").write_text(text)
        with pytest.raises((GraphValueError, GraphTypeError), match=message) as info:
            load_graph(tmp_path / "g.edgelist")
        assert "\n" not in str(info.value)


def test_graphml_errors(tmp_path):
    """GraphML: malformed XML, undirected graphs and parallel edges get one line."""
    path = tmp_path / "g.graphml"
    path.write_text("<graphml><graph")
    with pytest.raises(GraphValueError, match="cannot read 'g.graphml' as GraphML"):
        load_graph(path)
    import networkx as nx

    U = nx.Graph(dimension=2, noise_variance=1)
    U.add_node("A", real_samples=1, initial_samples=5)
    nx.write_graphml(U, path)
    with pytest.raises(GraphValueError, match="undirected"):
        load_graph(path)
    M = nx.MultiDiGraph(dimension=2, noise_variance=1)
    M.add_node("A", real_samples=1, initial_samples=5)
    M.add_edge("A", "A", samples=1)
    M.add_edge("A", "A", samples=2)
    nx.write_graphml(M, path)
    with pytest.raises(GraphValueError, match="the edge A->A appears twice"):
        load_graph(path)


# --------------------------------------------------------------------------- fast path = item path
@pytest.fixture(autouse=True)
def _vectorise_small_graphs(monkeypatch):
    """The constructor checks long columns with numpy; here every graph takes that path."""
    import graphcollapse.theory.graph as graph_module

    monkeypatch.setattr(graph_module, "_VECTORISE_MIN", 0)


def _build(real, init, edges, **kw):
    return InteractionGraph([f"L{k}" for k in range(len(real))], real_samples=real, initial_samples=init,
                            edges=edges, dimension=5, noise_variance=1, **kw)


@pytest.mark.parametrize("convert", [
    pytest.param(lambda xs: list(xs), id="python-int"),
    pytest.param(lambda xs: np.array(xs, dtype=np.int64), id="numpy-array"),
    pytest.param(lambda xs: [np.int32(x) for x in xs], id="numpy-scalars"),
    pytest.param(lambda xs: [sp.Integer(x) for x in xs], id="sympy-integers"),
])
def test_constructor_paths_agree(convert):
    """Plain integers (vectorised checks) and sympy integers (item checks) build the same
    graph, with Python ints inside."""
    G = random_digraph(40, seed=9)
    H = _build(convert(G.real_samples), convert(G.initial_samples),
               list(zip(G.edge_sources, G.edge_targets, convert(G.edge_samples))))
    _same(G, H, edge_order=True)
    assert all(type(v) is int for v in H.real_samples + H.edge_samples + H.total_samples)


def _later_learner_problem(r, i, e):
    return r[:-1] + [-5], i, e


def _later_edge_problem(r, i, e):
    return r, i, e[:-1] + [(e[-1][0], e[-1][1], 0)]


@pytest.mark.parametrize("convert", [
    pytest.param(lambda xs: list(xs), id="python-int"),
    pytest.param(lambda xs: np.array(xs, dtype=np.int64), id="numpy-array"),
    pytest.param(lambda xs: [sp.Integer(x) for x in xs], id="sympy-integers"),
])
@pytest.mark.parametrize("edit,later,message", [
    pytest.param(lambda r, i, e: (r[:3] + [-1] + r[4:], i, e), _later_learner_problem,
                 r"models\[L3\]\.real_samples: expected a nonnegative", id="negative-real"),
    pytest.param(lambda r, i, e: (r, i[:5] + [0] + i[6:], e), _later_learner_problem,
                 r"models\[L5\]\.initial_samples: expected a positive", id="zero-initial"),
    pytest.param(lambda r, i, e: (r, i, e[:2] + [(e[2][0], e[2][1], 0)] + e[3:]), _later_edge_problem,
                 r"edges\[\w+->\w+\]\.samples: expected a positive", id="zero-samples"),
    pytest.param(lambda r, i, e: (r, i, e[:4] + [e[1]] + e[4:]), _later_edge_problem, r"appears twice",
                 id="duplicate-edge"),
    pytest.param(lambda r, i, e: (r, i, e[:4] + [(99, 0, 1)] + e[4:]), _later_edge_problem,
                 r"edges\.source: expected a learner name", id="bad-index"),
])
def test_constructor_paths_give_the_same_first_error(convert, edit, later, message):
    """With several problems, both paths report the first one in item order."""
    G = random_digraph(12, seed=4)
    real, init = list(G.real_samples), list(G.initial_samples)
    edges = list(zip(G.edge_sources, G.edge_targets, G.edge_samples))
    real, init, edges = later(*edit(real, init, edges))  # a later problem must not be the one reported
    messages = set()
    for conv in (convert, lambda xs: [sp.Integer(x) for x in xs]):
        with pytest.raises(GraphValueError, match=message) as info:
            _build(conv(real), conv(init), [(s, t, conv([n])[0]) for s, t, n in edges])
        messages.add(str(info.value))
    assert len(messages) == 1


def test_replace_keeps_structure_sharing_on_the_fast_path():
    """replace() of a large integer graph still shares the structure object."""
    G = random_digraph(300, seed=1)
    H = G.replace(real_samples=[v + 1 for v in G.real_samples])
    assert H.structure is G.structure


def test_json_fast_path_falls_back_for_colons_and_repeated_keys():
    """A colon inside a string sends the text to the strict parser, which still finds a
    repeated key anywhere and reports a bad name as before."""
    data = copy.deepcopy(BASE)
    data["models"][0]["name"] = "A:1"
    with pytest.raises(GraphValueError, match="models.name: expected 1-64 letters"):
        load_graph(json.dumps(data))
    text = json.dumps(BASE).replace('"samples": 7}', '"samples": 7, "samples": 8}')
    with pytest.raises(GraphValueError, match="samples: the key appears twice in one JSON object"):
        load_graph(text)


def test_zip_bomb_like_declared_size_is_not_needed_to_fail(tmp_path):
    """A zip whose member is not an array fails with one line instead of a traceback."""
    with zipfile.ZipFile(tmp_path / "g.npz", "w") as zf:
        zf.writestr("names.npy", b"\x93NUMPY garbage")
    with pytest.raises(GraphValueError, match="cannot read"):
        load_graph(tmp_path / "g.npz")


def test_columnar_json_round_trips_and_names_bad_columns(tmp_path):
    """The columnar JSON layout (one list per field) reads back the same graph, validates
    against the published schema, and its errors name the column or the row."""
    import json

    import jsonschema

    from graphcollapse.theory.analysis import demo_graph
    from graphcollapse.theory.errors import GraphCollapseError
    from graphcollapse.theory.graph import load_graph, save_graph
    from graphcollapse.theory.schema import graph_schema

    G = demo_graph()
    path = tmp_path / "demo.json"
    save_graph(G, path, columnar=True)
    data = json.loads(path.read_text())
    assert isinstance(data["models"], dict) and isinstance(data["edges"], dict)
    jsonschema.validate(data, graph_schema())
    H = load_graph(path)
    assert (H.names, H.real_samples, H.initial_samples, H.edges) == (G.names, G.real_samples, G.initial_samples, G.edges)
    assert data["edges"]["source"] == list(G.edge_sources)  # written by learner index
    names = dict(data, edges=dict(data["edges"], source=[G.names[j] for j in data["edges"]["source"]],
                                  target=[G.names[j] for j in data["edges"]["target"]]))
    assert load_graph(names).edges == G.edges  # learner names instead of indices
    for change, message in (
            (lambda d: d["models"]["real_samples"].pop(), r"models\.real_samples: expected 7 entries"),
            (lambda d: d["models"].update(colour=[1] * 7), r"models\.colour: unknown column"),
            (lambda d: d["models"]["real_samples"].__setitem__(2, 1.5), r"models\[C\]\.real_samples"),
            (lambda d: d["edges"]["source"].__setitem__(0, "Z"), r"names or learner indices throughout, not both"),
            (lambda d: d["edges"]["target"].__setitem__(0, 99), r"edges\.target\[0\]: learner index 99 is out of range")):
        bad = json.loads(json.dumps(data))
        change(bad)
        with pytest.raises(GraphCollapseError, match=message) as info:
            load_graph(bad)
        assert "\n" not in str(info.value)
