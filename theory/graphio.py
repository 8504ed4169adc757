r"""Reading and writing interaction graphs in every supported file format.

=============  =====================================================================
suffix         format (see ``docs/format.md``)
=============  =====================================================================
``.json``      the JSON format (the reference; :func:`graphcollapse.theory.load_graph`)
``.npz``       numpy columns: one array per field, for large graphs
``.parquet``   one row per learner with its in-edges as list columns (needs pyarrow)
``.graphml``   GraphML through networkx (attributes as in ``from_networkx``)
``.edgelist``  a networkx edge list with the learners in ``#`` header lines
=============  =====================================================================

:func:`read_graph` and :func:`save_graph` dispatch on the suffix. The columnar readers
check the arrays with numpy (no per-learner Python loop) and raise the same one-line
errors naming the field as the JSON reader, e.g. ``models[B].real_samples: expected an
integer >= 0, found -1``; what the arrays cannot get wrong in JSON has its own message
(``edges[3].source: expected a learner index in 0..9, found 12``).

Variances are stored as float64 in every format, like JSON numbers, and read back as
their shortest decimal representation (``0.1`` is ``1/10``); counts are integers.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import networkx as nx
import numpy as np

from .errors import GraphTypeError, GraphValueError
from .graph import (
    FORMAT_VERSION,
    InteractionGraph,
    _EdgeColumns,
    _json_int,
    _json_number,
    _json_positive,
    _label,
    _read_text,
    _to_json_int,
    _to_json_number,
    parse_json,
)

__all__ = [
    "FORMATS",
    "read_graph",
    "save_graph",
    "graph_from_columns",
    "graph_columns",
    "read_npz",
    "write_npz",
    "read_parquet",
    "write_parquet",
    "read_graphml",
    "write_graphml",
    "read_edgelist",
    "write_edgelist",
]

#: Suffix -> format name.
FORMATS = {".json": "json", ".npz": "npz", ".parquet": "parquet", ".graphml": "graphml", ".edgelist": "edgelist"}

#: Arrays of the ``.npz`` format: required ones, then optional ones.
NPZ_REQUIRED = ("dimension", "noise_variance", "names", "real_samples", "initial_samples")
NPZ_OPTIONAL = ("format_version", "synthetic_noise_variance", "edge_source", "edge_target", "edge_samples",
                "covariance")
_EDGE_ARRAYS = ("edge_source", "edge_target", "edge_samples")
_PARQUET_KEY = b"graphcollapse"


# --------------------------------------------------------------------------- dispatch
def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in FORMATS.values():
            raise GraphValueError(f"format: expected one of {', '.join(FORMATS.values())}, found {format!r}")
        return format
    return FORMATS.get(path.suffix.lower(), "json")


def read_graph(path: str | os.PathLike[str], format: str | None = None) -> InteractionGraph:
    """Read a graph file in the format its suffix names (JSON for any other suffix).

    Parameters
    ----------
    path : str or path-like
    format : {"json", "npz", "parquet", "graphml", "edgelist"}, optional
        Overrides the suffix.

    Returns
    -------
    InteractionGraph

    Raises
    ------
    GraphValueError, GraphTypeError
        On an unreadable file or invalid content (one-line message naming the field).

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.graphio import read_graph, save_graph
    >>> path = os.path.join(tempfile.mkdtemp(), "ring.graphml")
    >>> save_graph(cycle(3), path)
    >>> read_graph(path).mixing_matrix == cycle(3).mixing_matrix
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        found = "None" if path is None else type(path).__name__
        raise GraphTypeError(f"graph file: expected a path, found {found}")
    path = Path(path)
    kind = _format_of(path, format)
    if kind == "json":
        from .graph import _parse_graph_text

        return InteractionGraph.from_dict(_parse_graph_text(_read_text(path)))
    _require_file(path)
    return {"npz": read_npz, "parquet": read_parquet, "graphml": read_graphml, "edgelist": read_edgelist}[kind](path)


def save_graph(graph: InteractionGraph, path: str | os.PathLike[str], format: str | None = None, *,
               columnar: bool = False) -> None:
    """Write ``graph`` in the format the suffix of ``path`` names.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric, with integer counts (as for the JSON format).
    path : str or path-like
        ``.json``, ``.npz``, ``.parquet`` (needs pyarrow), ``.graphml`` or ``.edgelist``.
    format : str, optional
        Overrides the suffix.
    columnar : bool
        JSON only: write ``models`` and ``edges`` as objects of columns (one list per
        field, edges by learner index; ``docs/format.md``), which large graphs load
        about three times as fast.

    Raises
    ------
    GraphValueError
        On an unknown suffix, symbolic or non-integer counts, or an unwritable path.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graphio import read_graph, save_graph
    >>> folder = tempfile.mkdtemp()
    >>> for suffix in (".json", ".npz", ".edgelist"):
    ...     save_graph(chain(3), os.path.join(folder, "chain" + suffix))
    ...     print(suffix, read_graph(os.path.join(folder, "chain" + suffix)).edges)
    .json [('L0', 'L1', 10), ('L1', 'L2', 10)]
    .npz [('L0', 'L1', 10), ('L1', 'L2', 10)]
    .edgelist [('L0', 'L1', 10), ('L1', 'L2', 10)]
    """
    if not isinstance(graph, InteractionGraph):
        raise GraphTypeError(f"graph: expected an InteractionGraph, found {type(graph).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise GraphTypeError(f"graph file: expected a path, found {type(path).__name__}")
    path = Path(path)
    if format is None and path.suffix.lower() not in FORMATS:
        raise GraphValueError(f"graph file: unknown suffix {path.suffix!r}; use one of {', '.join(FORMATS)}")
    kind = _format_of(path, format)
    if kind != "json" and not graph.has_default_regime:
        raise GraphValueError(f"graph file: the .{kind} format does not carry data regimes or loss weights "
                              "(docs/regimes.md); save the graph as .json")
    writer = {"json": _write_json, "npz": write_npz, "parquet": write_parquet, "graphml": write_graphml,
              "edgelist": write_edgelist}[kind]
    try:
        if kind == "json":
            _write_json(graph, path, columnar)
        else:
            writer(graph, path)
    except OSError as exc:
        raise GraphValueError(f"graph file: cannot write {str(path)!r} ({exc.__class__.__name__})") from None


def _require_file(path: Path) -> None:
    if not path.exists():
        raise GraphValueError(f"graph file: {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise GraphValueError(f"graph file: {str(path)!r} is a directory; give a graph file")


def _write_json(graph: InteractionGraph, path: Path, columnar: bool = False) -> None:
    data = graph.to_dict()
    if columnar:  # one list per field (null where a row lacks it); edges by learner index
        for key in ("models", "edges"):
            rows = data.get(key)
            if rows:
                fields = list(dict.fromkeys(f for row in rows for f in row))
                data[key] = {f: [row.get(f) for row in rows] for f in fields}
        if data.get("edges"):
            data["edges"]["source"] = list(graph.edge_sources)
            data["edges"]["target"] = list(graph.edge_targets)
    text = json.dumps(data, indent=1) if graph.num_learners <= 1000 else json.dumps(data)
    path.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- columns
def graph_columns(graph: InteractionGraph) -> dict[str, Any]:
    """The graph as the numpy columns of the ``.npz`` format.

    Returns
    -------
    dict of str to numpy array
        ``names`` (str), ``real_samples``, ``initial_samples`` (int64),
        ``synthetic_noise_variance`` (float64, NaN for the default), ``edge_source``,
        ``edge_target`` (int64 learner indices), ``edge_samples`` (int64), and the
        0-d arrays ``format_version``, ``dimension``, ``noise_variance``; ``covariance``
        (d x d float64) when the graph has one.

    Raises
    ------
    GraphValueError, GraphTypeError
        When a count is symbolic, not an integer or beyond int64.

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graphio import graph_columns
    >>> cols = graph_columns(chain(3))
    >>> cols["edge_source"].tolist(), cols["edge_target"].tolist(), cols["real_samples"].tolist()
    ([0, 1], [1, 2], [10, 0, 0])
    """
    graph._require_numeric("save_graph")
    out: dict[str, Any] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "dimension": np.array(_to_json_int(graph.dimension, "dimension"), dtype=np.int64),
        "noise_variance": np.array(float(graph.noise_variance), dtype=np.float64),
        "names": np.array(graph.names, dtype=str),
        "real_samples": _int64(graph.real_samples, graph, "real_samples"),
        "initial_samples": _int64(graph.initial_samples, graph, "initial_samples"),
        "synthetic_noise_variance": np.array(
            [math.nan if v is None else float(v) for v in graph._synthetic_noise_variance], dtype=np.float64),
        "edge_source": np.array(graph.edge_sources, dtype=np.int64),
        "edge_target": np.array(graph.edge_targets, dtype=np.int64),
        "edge_samples": _int64(graph.edge_samples, graph, "samples"),
    }
    if graph.covariance is not None:
        out["covariance"] = np.array([[float(x) for x in row] for row in graph.covariance], dtype=np.float64)
    return out


def _int64(values: tuple[Any, ...], graph: InteractionGraph, what: str) -> np.ndarray:
    if not set(map(type, values)) <= {int}:
        for i, v in enumerate(values):  # names the first count that is not an integer
            _to_json_int(v, _count_field(graph, what, i))
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        i = next(i for i, v in enumerate(values) if not -2**63 <= v < 2**63)
        raise GraphValueError(f"{_count_field(graph, what, i)}: {values[i]} does not fit in 64 bits, "
                              "so it cannot be written in a columnar format; use .json") from None


def _count_field(graph: InteractionGraph, what: str, i: int) -> str:
    if what == "samples":
        return f"edges[{graph.names[graph.edge_sources[i]]}->{graph.names[graph.edge_targets[i]]}].samples"
    return f"models[{graph.names[i]}].{what}"


def _scalar(value: Any, field: str) -> Any:
    """A Python number from a 0-d (or 1-element) numeric array."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.ndim > 1:
        raise GraphValueError(f"{field}: expected a single number, found an array of shape {arr.shape}")
    if arr.dtype.kind == "b":
        raise GraphTypeError(f"{field}: expected a number, found a boolean")
    if arr.dtype.kind not in "iuf":
        raise GraphTypeError(f"{field}: expected a number, found an array of type {arr.dtype}")
    return arr.reshape(()).item()


def _column(arrays: Mapping[str, Any], key: str, length: int | None, kinds: str, what: str) -> np.ndarray:
    arr = np.asarray(arrays[key])
    if arr.ndim != 1:
        raise GraphValueError(f"{key}: expected a 1-d array, found shape {arr.shape}")
    if arr.dtype.kind not in kinds:
        raise GraphTypeError(f"{key}: expected {what}, found an array of type {arr.dtype}")
    if length is not None and len(arr) != length:
        raise GraphValueError(f"{key}: expected {length} values (one per learner), found {len(arr)}")
    return arr


def _exact(x: Any) -> Any:
    """A finite float as the exact decimal it prints as (what the JSON reader reads)."""
    if isinstance(x, float) and math.isfinite(x):
        import sympy as sp

        return sp.Rational(repr(x))
    return x


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def _bad_counts(arr: np.ndarray, minimum: int) -> np.ndarray:
    if arr.dtype.kind == "u":
        return (arr < minimum) | (arr > np.uint64(2**53))
    return (arr < minimum) | (arr > 2**53)


def graph_from_columns(arrays: Mapping[str, Any]) -> InteractionGraph:
    """Build a graph from the columns of the ``.npz`` format (see :func:`graph_columns`),
    checked with numpy.

    Parameters
    ----------
    arrays : mapping of str to array-like
        Required: ``dimension``, ``noise_variance``, ``names``, ``real_samples``,
        ``initial_samples``; optional: ``format_version``, ``synthetic_noise_variance``
        (NaN for the default), ``edge_source``, ``edge_target``, ``edge_samples``
        (together), ``covariance``.

    Returns
    -------
    InteractionGraph

    Raises
    ------
    GraphValueError, GraphTypeError
        On a missing, unknown or invalid field, with the JSON reader's one-line message.

    Examples
    --------
    >>> import numpy as np
    >>> from graphcollapse.theory.graphio import graph_from_columns
    >>> G = graph_from_columns({"dimension": 2, "noise_variance": 0.5, "names": np.array(["A", "B"]),
    ...                         "real_samples": [4, 0], "initial_samples": [10, 10],
    ...                         "edge_source": [0], "edge_target": [1], "edge_samples": [3]})
    >>> G.edges, G.noise_variance
    ([('A', 'B', 3)], 1/2)
    >>> graph_from_columns({"dimension": 2, "noise_variance": 0.5, "names": np.array(["A"]),
    ...                     "real_samples": [-1], "initial_samples": [10]})
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: models[A].real_samples: expected an integer >= 0, found -1
    """
    known = NPZ_REQUIRED + NPZ_OPTIONAL
    unknown = sorted(set(arrays) - set(known))
    if unknown:
        raise GraphValueError(f"{_label(unknown[0])}: unknown field; allowed are {list(known)}")
    for key in NPZ_REQUIRED:
        if key not in arrays:
            raise GraphValueError(f"{key}: missing required field")
    if "format_version" in arrays:
        version = _scalar(arrays["format_version"], "format_version")
        if version != FORMAT_VERSION:
            raise GraphValueError(f"format_version: expected {FORMAT_VERSION}, found {version!r}")
    dimension = _json_int(_scalar(arrays["dimension"], "dimension"), "dimension", minimum=1)
    noise = _json_positive(_exact(_scalar(arrays["noise_variance"], "noise_variance")), "noise_variance")

    names_arr = _column(arrays, "names", None, "U", "an array of strings")
    if len(names_arr) == 0:
        raise GraphValueError("models: the graph has no learners; give at least one model")
    names: list[str] = names_arr.tolist()
    K = len(names)
    init = _column(arrays, "initial_samples", K, "iu", "an integer array")
    real = _column(arrays, "real_samples", K, "iu", "an integer array")
    snv: list[Any] | None = None
    if "synthetic_noise_variance" in arrays:
        s = _column(arrays, "synthetic_noise_variance", K, "iuf", "a float array")
        s = s.astype(np.float64)
        given = ~np.isnan(s)
        bad_snv = given & ~((s > 0) & np.isfinite(s))
    else:
        bad_snv = np.zeros(K, dtype=bool)
    # the JSON reader's order: per learner initial_samples, real_samples, synthetic variance
    k = _first(_bad_counts(init, 1) | _bad_counts(real, 0) | bad_snv)
    if k is not None:
        where = f"models[{_label(names[k])}]"
        _json_int(int(init[k]), f"{where}.initial_samples", minimum=1)
        _json_int(int(real[k]), f"{where}.real_samples", minimum=0)
        if "synthetic_noise_variance" in arrays:
            _json_positive(_exact(float(s[k])), f"{where}.synthetic_noise_variance")
    if "synthetic_noise_variance" in arrays and given.any():
        snv = np.where(given, s, None).tolist()  # floats, None for the default

    present = [key for key in _EDGE_ARRAYS if key in arrays]
    if present and len(present) < 3:
        missing = next(key for key in _EDGE_ARRAYS if key not in arrays)
        raise GraphValueError(f"{missing}: missing; give edge_source, edge_target and edge_samples together")
    if present:
        src = _column(arrays, "edge_source", None, "iu", "an integer array of learner indices")
        E = len(src)
        tgt = _column(arrays, "edge_target", E, "iu", "an integer array of learner indices")
        num = _column(arrays, "edge_samples", E, "iu", "an integer array")
        bad_src, bad_tgt = (src < 0) | (src >= K), (tgt < 0) | (tgt >= K)
        i = _first(bad_src | bad_tgt | _bad_counts(num, 1))
        if i is not None:
            for role, col, bad in (("source", src, bad_src), ("target", tgt, bad_tgt)):
                if bad[i]:
                    raise GraphValueError(f"edges[{i}].{role}: expected a learner index in 0..{K - 1}, "
                                          f"found {int(col[i])}")
            _json_int(int(num[i]), f"edges[{i}].samples", minimum=1)
        edges = _EdgeColumns(src.astype(np.int64), tgt.astype(np.int64), num.astype(np.int64))
    else:
        edges = _EdgeColumns((), (), ())

    covariance = None
    if "covariance" in arrays:
        cov = np.asarray(arrays["covariance"])
        if cov.ndim != 2 or cov.dtype.kind not in "iuf":
            raise GraphTypeError(f"covariance: expected a d x d numeric array, found shape {cov.shape} "
                                 f"of type {cov.dtype}")
        covariance = [[_json_number(x, "covariance") for x in row] for row in cov.tolist()]
    return InteractionGraph(names, real_samples=real.astype(np.int64), initial_samples=init.astype(np.int64),
                            edges=edges, dimension=dimension, noise_variance=noise,
                            synthetic_noise_variance=snv, covariance=covariance)


# --------------------------------------------------------------------------- npz
def write_npz(graph: InteractionGraph, path: str | os.PathLike[str], *, compress: bool = False) -> None:
    """Write the ``.npz`` columns of ``graph`` (see :func:`graph_columns`).

    Parameters
    ----------
    graph : InteractionGraph
    path : str or path-like
        The file (numpy adds ``.npz`` when the name lacks it).
    compress : bool
        Deflate the arrays (smaller file, slower to read).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graphio import write_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "chain.npz")
    >>> write_npz(chain(2), path)
    >>> sorted(np.load(path).files)[:4]
    ['dimension', 'edge_samples', 'edge_source', 'edge_target']
    """
    columns = graph_columns(graph)
    (np.savez_compressed if compress else np.savez)(os.fspath(path), **columns)


def read_npz(path: str | os.PathLike[str]) -> InteractionGraph:
    """Read a ``.npz`` graph file (never unpickles: object arrays are refused).

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import star
    >>> from graphcollapse.theory.graphio import read_npz, write_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "star.npz")
    >>> write_npz(star(3), path)
    >>> read_npz(path).edges == star(3).edges
    True
    """
    path = Path(path)
    _require_file(path)
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise GraphValueError(f"graph file: {str(path)!r} is a single .npy array, not an .npz archive of "
                                  "columns")
        with npz:
            arrays = {key: npz[key] for key in npz.files}
    except GraphValueError:
        raise
    except MemoryError:
        raise GraphValueError(f"graph file: {str(path)!r} unpacks to more memory than is available") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        reason = str(exc).split("\n")[0][:120]
        if "pickle" in reason.lower() or "object arrays" in reason.lower():
            reason = "it holds Python objects (pickled data), which are never loaded"
        raise GraphValueError(f"graph file: cannot read {str(path)!r} as .npz ({reason})") from None
    return graph_from_columns(arrays)


# --------------------------------------------------------------------------- parquet
def _pyarrow(action: str) -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise GraphValueError(f"graph file: {action} Parquet needs pyarrow; install it "
                              "(pip install 'pyarrow>=14') or use .npz") from None
    return pq


def write_parquet(graph: InteractionGraph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` as a Parquet table (needs pyarrow).

    One row per learner: ``name``, ``real_samples``, ``initial_samples``,
    ``synthetic_noise_variance`` (null for the default), ``in_sources`` (the learner
    indices it trains on) and ``in_samples`` (the matching sample counts); ``dimension``,
    ``noise_variance``, ``covariance`` and ``format_version`` are JSON in the schema
    metadata under the key ``graphcollapse``. Edges are read back grouped by target.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.theory.graphio import read_parquet, write_parquet
    >>> path = os.path.join(tempfile.mkdtemp(), "ring.parquet")
    >>> try:
    ...     write_parquet(cycle(3), path)
    ...     ok = read_parquet(path).mixing_matrix == cycle(3).mixing_matrix
    ... except Exception as exc:  # without pyarrow: a one-line error naming it
    ...     ok = "pyarrow" in str(exc)
    >>> ok
    True
    """
    pq = _pyarrow("writing")
    import pyarrow as pa

    cols = graph_columns(graph)
    K, tgt = graph.num_learners, cols["edge_target"]
    order = np.argsort(tgt, kind="stable")
    offsets = np.zeros(K + 1, dtype=np.int64)
    np.cumsum(np.bincount(tgt, minlength=K), out=offsets[1:])
    snv = cols["synthetic_noise_variance"]
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "dimension": int(cols["dimension"]),
                            "noise_variance": _to_json_number(graph.noise_variance)}
    if graph.covariance is not None:
        meta["covariance"] = [[_to_json_number(x) for x in row] for row in graph.covariance]
    table = pa.table({
        "name": pa.array(graph.names, type=pa.string()),
        "real_samples": pa.array(cols["real_samples"]),
        "initial_samples": pa.array(cols["initial_samples"]),
        "synthetic_noise_variance": pa.array(snv, mask=np.isnan(snv)),
        "in_sources": pa.LargeListArray.from_arrays(offsets, pa.array(cols["edge_source"][order])),
        "in_samples": pa.LargeListArray.from_arrays(offsets, pa.array(cols["edge_samples"][order])),
    })
    table = table.replace_schema_metadata({_PARQUET_KEY: json.dumps(meta).encode()})
    pq.write_table(table, os.fspath(path))


def read_parquet(path: str | os.PathLike[str]) -> InteractionGraph:
    """Read a Parquet graph file written by :func:`write_parquet` (needs pyarrow).

    Examples
    --------
    >>> from graphcollapse.theory.graphio import read_parquet
    >>> read_parquet("missing.parquet")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: graph file: 'missing.parquet' does not exist; check the path
    """
    path = Path(path)
    _require_file(path)
    pq = _pyarrow("reading")
    import pyarrow as pa

    try:
        table = pq.read_table(os.fspath(path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).split("\n")[0][:120]
        raise GraphValueError(f"graph file: cannot read {str(path)!r} as Parquet ({reason})") from None
    meta_raw = (table.schema.metadata or {}).get(_PARQUET_KEY)
    if meta_raw is None:
        raise GraphValueError("graphcollapse: missing schema metadata (dimension, noise_variance); "
                              "write the file with save_graph")
    try:
        meta = parse_json(meta_raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise GraphValueError("graphcollapse: the schema metadata is not UTF-8 JSON") from None
    if not isinstance(meta, dict):
        raise GraphTypeError("graphcollapse: expected a JSON object in the schema metadata")
    allowed = {"format_version", "dimension", "noise_variance", "covariance"}
    unknown = sorted(set(meta) - allowed)
    if unknown:
        raise GraphValueError(f"{_label(unknown[0])}: unknown field; allowed are {sorted(allowed)}")
    columns = {"name", "real_samples", "initial_samples", "synthetic_noise_variance", "in_sources", "in_samples"}
    unknown = sorted(set(table.column_names) - columns)
    if unknown:
        raise GraphValueError(f"{_label(unknown[0])}: unknown column; allowed are {sorted(columns)}")
    for key in ("name", "real_samples", "initial_samples"):
        if key not in table.column_names:
            raise GraphValueError(f"{key}: missing required column")
    for key in ("dimension", "noise_variance"):
        if key not in meta:
            raise GraphValueError(f"{key}: missing required field")

    def plain(key: str) -> np.ndarray:
        col = table.column(key)
        if col.null_count:
            raise GraphValueError(f"{key}: {col.null_count} missing values; give every learner one")
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            return np.array(col.to_pylist(), dtype=str)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise GraphTypeError(f"{key}: expected a numeric column, found {col.type}")
        return col.to_numpy()

    arrays: dict[str, Any] = {
        "dimension": _meta_number(meta["dimension"], "dimension"),
        "noise_variance": _meta_number(meta["noise_variance"], "noise_variance"),
        "names": plain("name"),
        "real_samples": plain("real_samples"),
        "initial_samples": plain("initial_samples"),
    }
    if "format_version" in meta:
        arrays["format_version"] = _meta_number(meta["format_version"], "format_version")
    if "synthetic_noise_variance" in table.column_names:
        col = table.column("synthetic_noise_variance")
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_null(col.type)):
            raise GraphTypeError(f"synthetic_noise_variance: expected a numeric column, found {col.type}")
        arrays["synthetic_noise_variance"] = np.array(
            [math.nan if v is None else v for v in col.to_pylist()], dtype=np.float64)
    present = [key for key in ("in_sources", "in_samples") if key in table.column_names]
    if len(present) == 1:
        raise GraphValueError("in_sources, in_samples: give both columns or neither")
    if present:
        lists = {}
        for key in present:
            col = table.column(key).combine_chunks()
            if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
                raise GraphTypeError(f"{key}: expected a list column, found {col.type}")
            if col.null_count or col.flatten().null_count:
                raise GraphValueError(f"{key}: missing values; use an empty list for no in-edges")
            lengths = np.diff(np.asarray(col.offsets, dtype=np.int64))
            values = np.asarray(col.flatten())
            lists[key] = (lengths, values)
        if not np.array_equal(lists["in_sources"][0], lists["in_samples"][0]):
            k = int(np.argmax(lists["in_sources"][0] != lists["in_samples"][0]))
            raise GraphValueError(f"in_samples: row {k} has {lists['in_samples'][0][k]} entries but in_sources "
                                  f"has {lists['in_sources'][0][k]}; give one count per source")
        arrays["edge_source"] = lists["in_sources"][1]
        arrays["edge_samples"] = lists["in_samples"][1]
        arrays["edge_target"] = np.repeat(np.arange(len(lists["in_sources"][0]), dtype=np.int64),
                                          lists["in_sources"][0])
    if "covariance" in meta:
        cov = meta["covariance"]
        if not isinstance(cov, list) or not all(isinstance(r, list) for r in cov):
            raise GraphTypeError("covariance: expected a d x d list of lists of numbers")
        if len({len(r) for r in cov}) > 1:
            raise GraphValueError("covariance: expected a d x d matrix, found rows of different lengths")
        arrays["covariance"] = np.array([[float(_json_number(x, "covariance")) for x in r] for r in cov])
    return graph_from_columns(arrays)


def _meta_number(value: Any, field: str) -> Any:
    """A JSON metadata number as a 0-d array (exact decimals become float64, as in .npz)."""
    if isinstance(value, bool) or not isinstance(value, int):
        value = float(_json_number(value, field))
    return np.array(value)


# --------------------------------------------------------------------------- networkx formats
def _plain_networkx(graph: InteractionGraph) -> nx.DiGraph:
    """The attributed DiGraph with JSON-typed attributes (int counts, float variances)."""
    data = graph.to_dict()
    G = nx.DiGraph(format_version=FORMAT_VERSION, dimension=data["dimension"],
                   noise_variance=data["noise_variance"])
    if "covariance" in data:
        G.graph["covariance"] = json.dumps(data["covariance"])
    for model in data["models"]:
        attrs = {k: v for k, v in model.items() if k != "name"}
        G.add_node(model["name"], **attrs)
    for edge in data["edges"]:
        G.add_edge(edge["source"], edge["target"], samples=edge["samples"])
    return G


def write_graphml(graph: InteractionGraph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` as GraphML through networkx: graph attributes ``dimension``,
    ``noise_variance``, ``format_version`` (and ``covariance`` as JSON text), node
    attributes ``real_samples``, ``initial_samples``, ``synthetic_noise_variance``, edge
    attribute ``samples``.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graphio import read_graphml, write_graphml
    >>> path = os.path.join(tempfile.mkdtemp(), "chain.graphml")
    >>> write_graphml(chain(2), path)
    >>> read_graphml(path).edges
    [('L0', 'L1', 10)]
    """
    nx.write_graphml(_plain_networkx(graph), os.fspath(path))


def read_graphml(path: str | os.PathLike[str]) -> InteractionGraph:
    """Read a GraphML graph file (directed; attributes as :func:`write_graphml` writes).

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.graphio import read_graphml
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.graphml")
    >>> _ = open(path, "w").write("<graphml>")
    >>> read_graphml(path)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: graph file: cannot read 'bad.graphml' as GraphML (no element found: line 1, column 9)
    """
    path = Path(path)
    _require_file(path)
    try:
        G = nx.read_graphml(os.fspath(path), node_type=str, force_multigraph=True)
    except Exception as exc:  # xml ParseError, NetworkXError, bad attribute types...
        reason = str(exc).split("\n")[0][:120] or type(exc).__name__
        raise GraphValueError(f"graph file: cannot read {path.name!r} as GraphML ({reason})") from None
    if not G.is_directed():
        raise GraphValueError("graph file: the GraphML graph is undirected; set edgedefault=\"directed\"")
    data: dict[str, Any] = {}
    allowed = {"format_version", "dimension", "noise_variance", "covariance"}
    unknown = sorted(set(G.graph) - allowed - {"node_default", "edge_default"})
    if unknown:
        raise GraphValueError(f"{_label(unknown[0])}: unknown graph attribute; allowed are {sorted(allowed)}")
    for key in allowed & set(G.graph):
        data[key] = G.graph[key]
    if isinstance(data.get("covariance"), str):
        data["covariance"] = parse_json(data["covariance"])
    data["models"] = [{"name": n, **attrs} for n, attrs in G.nodes(data=True)]
    data["edges"] = [{"source": s, "target": t, **attrs} for s, t, attrs in G.edges(data=True)]
    return InteractionGraph.from_dict(data)


_EDGELIST_HEADER = "# graphcollapse edge list, format_version 1"


def write_edgelist(graph: InteractionGraph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` as a networkx edge list (``source target samples`` per line) with
    the graph fields and the learners in ``#`` header lines, which networkx reads as
    comments::

        # graphcollapse edge list, format_version 1
        # dimension: 5
        # noise_variance: 1.0
        # learner: A initial_samples=30 real_samples=10 synthetic_noise_variance=0.5
        # learner: B initial_samples=30 real_samples=0
        B A 10

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graphio import write_edgelist
    >>> path = os.path.join(tempfile.mkdtemp(), "chain.edgelist")
    >>> write_edgelist(chain(2), path)
    >>> print(open(path).read().strip())
    # graphcollapse edge list, format_version 1
    # dimension: 5
    # noise_variance: 1
    # learner: L0 initial_samples=30 real_samples=10
    # learner: L1 initial_samples=30 real_samples=0
    L0 L1 10
    """
    G = _plain_networkx(graph)
    lines = [_EDGELIST_HEADER, f"# dimension: {G.graph['dimension']}",
             f"# noise_variance: {json.dumps(G.graph['noise_variance'])}"]
    if "covariance" in G.graph:
        lines.append(f"# covariance: {G.graph['covariance']}")
    for name, attrs in G.nodes(data=True):
        fields = " ".join(f"{k}={json.dumps(v)}" for k, v in attrs.items())
        lines.append(f"# learner: {name} {fields}")
    lines += nx.generate_edgelist(G, data=["samples"])
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_edgelist(path: str | os.PathLike[str]) -> InteractionGraph:
    """Read an edge-list graph file (see :func:`write_edgelist`); edges come back grouped
    by source. Field errors are the JSON reader's; header lines are numbered.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.graphio import read_edgelist
    >>> path = os.path.join(tempfile.mkdtemp(), "g.edgelist")
    >>> _ = open(path, "w").write("# dimension: 2\\n# noise_variance: 1\\n"
    ...                           "# learner: A real_samples=3 initial_samples=10\\nA A 4\\n")
    >>> read_edgelist(path).mixing_matrix
    Matrix([[4/7]])
    """
    path = Path(path)
    text = _read_text(path)
    data: dict[str, Any] = {"models": []}
    body: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped:
                body.append(stripped)
            continue
        key, sep, value = stripped[1:].strip().partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in ("dimension", "noise_variance", "covariance", "learner"):
            continue  # a plain comment
        if key == "learner":
            data["models"].append(_learner_line(value, lineno))
        else:
            if key in data:
                raise GraphValueError(f"graph file: line {lineno}: {key} is given twice; keep one")
            data[key] = _header_value(value, key, lineno)
    try:
        G = nx.parse_edgelist(body, create_using=nx.MultiDiGraph, nodetype=str, data=(("samples", str),))
    except Exception as exc:  # networkx: wrong number of fields on a line...
        reason = str(exc).split("\n")[0][:120] or type(exc).__name__
        raise GraphValueError(f"graph file: malformed edge line ({reason}); write 'source target samples'") from None
    data["edges"] = [{"source": s, "target": t, "samples": _header_value(n, f"edges[{s}->{t}].samples", None)}
                     for s, t, n in G.edges(data="samples")]
    return InteractionGraph.from_dict(data)


def _header_value(text: str, field: str, lineno: int | None) -> Any:
    try:
        return parse_json(text)
    except GraphValueError:
        where = f"graph file: line {lineno}: " if lineno is not None else ""
        raise GraphValueError(f"{where}{field}: expected a number, found {text[:40]!r}") from None


def _learner_line(value: str, lineno: int) -> dict[str, Any]:
    if not value.split():
        raise GraphValueError(f"graph file: line {lineno}: expected a learner name after 'learner:'")
    name, *fields = value.split()
    model: dict[str, Any] = {"name": name}
    for item in fields:
        key, sep, v = item.partition("=")
        if not sep:
            raise GraphValueError(f"graph file: line {lineno}: expected key=value after the learner name, "
                                  f"found {item[:40]!r}")
        if key in model:
            raise GraphValueError(f"graph file: line {lineno}: {key} is given twice; keep one")
        model[key] = _header_value(v, f"models[{name}].{key}", lineno)
    return model
