r"""Parameter sweeps: a grid of interaction graphs, theory and Monte Carlo per cell, one tidy table.

A *sweep specification* (TOML, schema ``verify/sweep.schema.json``, documented in
``docs/sweeps.md``) names a base graph (a file or a named builder of
:mod:`graphcollapse.theory.builders` with its parameters), *axes* (fields of the
``--symbol`` grammar of :mod:`graphcollapse.theory.symbols`, e.g. ``L0.real_samples`` or
``L0->L1.samples``, or a parameter of the builder, ``graph.K``), what to compute per cell
(the exact or large-sample theory, optional risk trajectories and an optional Monte Carlo
verification) and a seed.

Cells
-----
The grid is the product of the axis *groups*: axes with the same ``zip`` label run in
lockstep (equal lengths), every other axis is its own group. A cell's graph is the base
graph with the axis values put into the named fields: the field is bound to a symbol
(:func:`graphcollapse.theory.symbols.apply_symbols`) and the symbol replaced by the value,
so every field the grammar names is an axis, with no list of fields kept here.

A cell is identified by the SHA-256 of its *resolved* specification (the graph as
JSON, the estimator, the theory and Monte Carlo settings, the sweep seed) and the code
version (the package version; the manifest also records a digest of the sources). Rerunning a sweep skips every cell whose file exists; a changed specification
changes the hashes of exactly the cells it changes. The Monte Carlo seed of a cell is
drawn from ``numpy.random.SeedSequence(sweep seed, spawn_key=cell hash)``, so a cell's
numbers do not depend on the scheduler, the number of workers, the order in which cells
finish or interruptions.

Outputs (``DIR``)
-----------------
* ``cells/<hash>.json``: one file per finished cell, written atomically (temporary file,
  then :func:`os.replace`) by the process that runs the sweep;
* ``table.parquet`` (``table.csv`` with ``csv=True``): the tidy table, one row per cell and
  learner (and generation when trajectories are computed), assembled from the cell files
  (:func:`read_table`, columns in :data:`TABLE_COLUMNS` plus one column per axis);
* ``manifest.json``: the specification, the versions of the packages, the seed, the
  cells' hashes, counts and timings.

Schedulers: local processes (:class:`concurrent.futures.ProcessPoolExecutor`, the
default), a ``dask.distributed`` cluster at an address, or a ``LocalCluster`` started for
the sweep (``scheduler="local"``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import pickle
import platform
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from graphcollapse.theory.errors import GraphCollapseError, GraphTypeError, GraphValueError

__all__ = [
    "SweepSpec",
    "Axis",
    "Cell",
    "SweepResult",
    "load_spec",
    "expand_cells",
    "compute_cell",
    "run_sweep",
    "read_table",
    "read_cells",
    "sweep_summary",
    "TABLE_COLUMNS",
    "BUILDERS",
]

#: Named builders a specification may use (``[graph] builder = ...``).
BUILDERS = ("self_training", "chain", "cycle", "star", "complete", "random_digraph")
#: Columns of the tidy table besides one column per axis (in this order, after ``cell``).
TABLE_COLUMNS = (
    "cell", "learner", "generation", "status", "error", "collapses", "growth", "growth_degree",
    "growth_rate", "growth_factor", "stationary_risk", "stationary_risk_exact", "theory_risk",
    "mc_mean", "mc_se", "mc_z", "mc_tested", "agrees",
)
FORMAT = "graphcollapse-sweep/1"
#: ``symbolic="auto"`` solves symbolically from this many cells on (docs/benchmarks.md).
SYMBOLIC_MIN_CELLS = 500
SCHEMA_PATH = Path(__file__).with_name("sweep.schema.json")
#: Symbol name used to put an axis value into a field (never shown).
_AXIS_SYMBOL = "sweep_axis_value"


# --------------------------------------------------------------------------- specification
@dataclass(frozen=True)
class Axis:
    """One axis: ``field`` (a ``--symbol`` field list such as ``"A.real_samples,B.real_samples"``,
    or ``graph.KEY`` for a parameter of the builder), its ``values``, the column ``name``
    and the ``zip`` group (None: its own group)."""

    field: str
    values: tuple[Any, ...]
    name: str
    zip: str | None = None

    @property
    def is_graph_parameter(self) -> bool:
        """Whether the axis sets a builder parameter (``graph.KEY``) rather than a graph field."""
        return self.field.startswith("graph.")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (:func:`load_spec`)."""

    raw: dict[str, Any] = field(repr=False)
    seed: int
    estimator: str
    graph: dict[str, Any]
    axes: tuple[Axis, ...]
    theory: str
    theory_generations: int
    montecarlo: dict[str, int] | None
    base_dir: Path = field(repr=False, default=Path("."))

    @property
    def generations(self) -> int:
        """The last generation of the trajectories (0: no trajectories)."""
        mc = self.montecarlo["generations"] if self.montecarlo else 0
        return max(self.theory_generations, mc)


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _key_path(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _schema_error(raw: Any) -> str | None:
    """The first JSON-Schema violation of ``raw`` as one line naming the key, or None."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - the extra is missing
        raise GraphValueError("sweep spec: validating it needs jsonschema; pip install 'graphcollapse[distributed]'") from None
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return None
    e = errors[0]
    where = list(e.absolute_path)
    if e.validator == "additionalProperties":
        allowed = sorted(e.schema.get("properties", {}))
        extra = sorted(set(e.instance) - set(allowed))
        key = _key_path(where + [extra[0]]) if extra else _key_path(where)
        return f"{key}: unknown key; expected one of {', '.join(allowed)}"
    if e.validator == "required":
        missing = e.message.split("'")[1] if "'" in e.message else e.message
        return f"{_key_path(where + [missing])}: missing; add it"
    if e.validator == "oneOf" and isinstance(e.instance, dict):
        return f"{_key_path(where)}: expected exactly one of {_one_of_keys(e.schema)}"
    return f"{_key_path(where)}: {' '.join(e.message.split())}"


def _one_of_keys(schema: dict[str, Any]) -> str:
    keys = [k for s in schema.get("oneOf", []) for k in s.get("required", [])]
    return " or ".join(dict.fromkeys(keys)) or "the documented keys"


def load_spec(spec: str | os.PathLike[str] | Mapping[str, Any]) -> SweepSpec:
    """Read and validate a sweep specification (a TOML file or a dict).

    Parameters
    ----------
    spec : path or dict
        A TOML file (relative graph files are resolved against its folder) or the parsed
        dictionary.

    Returns
    -------
    SweepSpec

    Raises
    ------
    GraphValueError
        A malformed specification: one line naming the key (``axes[1].field: ...``).

    Examples
    --------
    >>> from graphcollapse.verify.sweep import load_spec
    >>> s = load_spec({"seed": 1, "graph": {"builder": "cycle", "K": 2},
    ...                "axes": [{"field": "L0.real_samples", "values": [0, 5]}]})
    >>> s.axes[0].name, s.axes[0].values, s.theory
    ('L0.real_samples', (0, 5), 'exact')
    >>> load_spec({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "axis": []})
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: sweep spec: axis: unknown key; expected one of axes, estimator, graph, montecarlo, seed, theory
    """
    base = Path(".")
    if isinstance(spec, Mapping):
        raw = dict(spec)
    elif isinstance(spec, (str, os.PathLike)):
        import tomllib

        path = Path(spec)
        try:
            text = path.read_text()
        except OSError as exc:
            raise GraphValueError(f"sweep spec {path}: cannot read it ({exc.strerror or exc})") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GraphValueError(f"sweep spec {path}: not valid TOML ({exc})") from None
        base = path.resolve().parent
    else:
        raise GraphTypeError(f"sweep spec: expected a TOML file path or a dict, found {type(spec).__name__}")
    problem = _schema_error(raw)
    if problem is not None:
        raise GraphValueError(f"sweep spec: {problem}")
    return _check_spec(raw, base)


def _builder_parameters(name: str) -> set[str]:
    """Keyword parameters of a builder; a builder taking ``**kwargs`` passes them to
    :class:`~graphcollapse.theory.graph.InteractionGraph`, whose keywords count too."""
    import inspect

    from graphcollapse.theory import builders
    from graphcollapse.theory.graph import InteractionGraph

    sig = inspect.signature(getattr(builders, name)).parameters
    params = {p for p, v in sig.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
    if any(v.kind == v.VAR_KEYWORD for v in sig.values()):
        init = inspect.signature(InteractionGraph.__init__).parameters
        params |= {p for p, v in init.items() if p != "self" and v.kind == v.KEYWORD_ONLY}
    return params


def _check_spec(raw: dict[str, Any], base: Path) -> SweepSpec:
    """The checks a JSON Schema cannot state (fields, builders, zip lengths)."""
    from graphcollapse.theory.modes import resolve_theory
    from graphcollapse.theory.symbols import parse_symbol_binding

    from .estimators import Estimator

    def fail(key: str, message: str) -> GraphValueError:
        return GraphValueError(f"sweep spec: {key}: {message}")

    graph = dict(raw["graph"])
    if "builder" in graph:
        params = _builder_parameters(graph["builder"])
        for key in graph:
            if key not in ("builder",) and key not in params:
                raise fail(f"graph.{key}", f"not a parameter of the builder {graph['builder']}; expected one of "
                           + ", ".join(sorted(params)))
    try:
        estimator = Estimator.parse(raw.get("estimator", "ols")).value
    except GraphCollapseError as exc:
        raise fail("estimator", str(exc)) from None
    theory_raw = raw.get("theory", {})
    try:
        theory = resolve_theory(theory_raw.get("theory", "exact"))
    except GraphCollapseError as exc:
        raise fail("theory.theory", str(exc)) from None
    mc = raw.get("montecarlo")
    if estimator != "ols" and mc is None:
        raise fail("montecarlo", f"the estimator {estimator} has no exact per-cell theory here; add a [montecarlo] table")
    axes = []
    names: set[str] = set()
    fields: set[str] = set()
    for i, a in enumerate(raw.get("axes", [])):
        key = f"axes[{i}]"
        text = a["field"]
        if text.startswith("graph."):
            param = text[len("graph."):]
            if "builder" not in graph:
                raise fail(f"{key}.field", f"{text!r} sets a builder parameter, but [graph] has no builder")
            if param != "builder" and param not in params:
                raise fail(f"{key}.field", f"{param!r} is not a parameter of the builder {graph['builder']}")
        else:
            try:
                parse_symbol_binding(f"{_AXIS_SYMBOL}={text}")
            except GraphCollapseError as exc:
                raise fail(f"{key}.field", str(exc).replace(f"--symbol {_AXIS_SYMBOL}: ", "")) from None
        if "values" in a:
            values = tuple(a["values"])
        else:
            r = a["range"]
            start, stop, step = r["start"], r["stop"], r.get("step", 1)
            if step <= 0:
                raise fail(f"{key}.range.step", f"expected a positive step, found {step}")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            if count < 1:
                raise fail(f"{key}.range", f"empty range: stop {stop} is below start {start}")
            values = tuple(start + j * step for j in range(count))
            if all(isinstance(x, int) for x in (start, stop, step)):
                values = tuple(int(v) for v in values)
        if not values:
            raise fail(f"{key}.values", "expected at least one value")
        name = a.get("name", text)
        if name in names:
            raise fail(f"{key}.name", f"the column name {name!r} is used twice; give each axis its own name")
        if text in fields:
            raise fail(f"{key}.field", f"{text!r} is swept twice; zip the values into one axis")
        names.add(name)
        fields.add(text)
        axes.append(Axis(text, values, name, a.get("zip")))
    groups: dict[str, int] = {}
    for i, a in enumerate(axes):
        if a.zip is not None:
            if a.zip in groups and groups[a.zip] != len(a.values):
                raise fail(f"axes[{i}].values", f"zip group {a.zip!r} needs equal lengths, found "
                           f"{len(a.values)} and {groups[a.zip]}")
            groups.setdefault(a.zip, len(a.values))
    if "file" in graph:
        path = Path(graph["file"])
        if not path.is_absolute():
            path = base / path
        graph["file"] = str(path)
    return SweepSpec(raw=raw, seed=int(raw["seed"]), estimator=estimator, graph=graph, axes=tuple(axes),
                     theory=theory, theory_generations=int(theory_raw.get("generations", 0)),
                     montecarlo=None if mc is None else {"generations": int(mc["generations"]),
                                                         "replications": int(mc["replications"])},
                     base_dir=base)


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    """One cell of the grid: its position, axis values, resolved graph and identity."""

    index: int
    values: dict[str, Any]
    graph: dict[str, Any] = field(repr=False)
    key: str
    seed: int

    def payload(self, spec: SweepSpec) -> dict[str, Any]:
        """What a worker needs to compute the cell (plain data, picklable)."""
        return {"key": self.key, "graph": self.graph, "seed": self.seed, "estimator": spec.estimator,
                "theory": spec.theory, "generations": spec.generations,
                "montecarlo": spec.montecarlo}


def code_version() -> str:
    """The code version in every cell's hash: the installed package version (a new release
    never reuses old cells; while developing, use a fresh ``--out`` after changing the
    theory). The manifest also records :func:`source_digest`.

    Examples
    --------
    >>> from graphcollapse.verify.sweep import code_version
    >>> code_version() == __import__("graphcollapse").__version__
    True
    """
    import graphcollapse

    return graphcollapse.__version__


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 (12 hex digits) of the installed ``theory`` and ``verify`` sources, recorded
    in the manifest so that a results folder names the exact code that wrote it."""
    import graphcollapse.theory
    import graphcollapse.verify

    h = hashlib.sha256()
    for pkg in (graphcollapse.theory, graphcollapse.verify):
        for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _cell_seed(sweep_seed: int, key: str) -> int:
    """A 63-bit seed from ``SeedSequence(sweep_seed, spawn_key=cell hash words)``."""
    words = tuple(int(key[i:i + 8], 16) for i in range(0, 32, 8))
    state = np.random.SeedSequence(sweep_seed, spawn_key=words).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)


def _base_graph(graph_spec: Mapping[str, Any]):
    from graphcollapse.theory import builders
    from graphcollapse.theory.graph import load_graph

    if "file" in graph_spec:
        return load_graph(graph_spec["file"])
    kwargs = {k: v for k, v in graph_spec.items() if k != "builder"}
    return getattr(builders, graph_spec["builder"])(**kwargs)


def _set_field(graph, text: str, value: Any):
    """``graph`` with the fields of ``text`` (the ``--symbol`` grammar) set to ``value``."""
    import sympy as sp

    from graphcollapse.theory.symbols import apply_symbols, parse_symbol_binding

    binding = parse_symbol_binding(f"{_AXIS_SYMBOL}={text}")
    g = apply_symbols(graph, [binding])
    v = sp.Rational(value) if isinstance(value, int) else sp.Float(value) if isinstance(value, float) else value
    return g.subs({binding.symbol: v})


#: Placeholders for integer axis values in a graph's JSON text (:func:`_template`).
_SENTINELS = tuple(7_310_000_001 + 1_009 * i for i in range(64))


def _template(base: Any, fields: Sequence[tuple[int, str, Any]], spec: SweepSpec) -> str | None:
    """The canonical JSON text of ``base`` with each integer axis field holding a
    placeholder number, or None when that shortcut does not apply (a non-integer axis, a
    placeholder that does not show up once). Every distinct value of every axis is first
    put into the base graph on its own, so a bad value is still reported up front."""
    int_axes = [spec.axes[i] for i, _, _ in fields]
    if len(fields) > len(_SENTINELS) or not all(
            all(isinstance(v, int) and not isinstance(v, bool) for v in a.values) for a in int_axes):
        return None
    from graphcollapse.theory.symbols import apply_symbols, parse_symbol_binding

    for i, text, _ in fields:
        binding = parse_symbol_binding(f"{_AXIS_SYMBOL}={text}")
        try:
            bound = apply_symbols(base, [binding])  # the field exists
        except GraphCollapseError as exc:
            message = str(exc).replace(f"--symbol {_AXIS_SYMBOL}: ", "")
            raise GraphValueError(f"sweep spec: axes[{i}].field: {message}") from None
        for v in dict.fromkeys(spec.axes[i].values):
            try:
                bound.subs({binding.symbol: v})
            except GraphCollapseError as exc:
                raise GraphValueError(f"sweep spec: axes[{i}].values: {v}: {exc}") from None
    g = base
    for sentinel, (_, text, _) in zip(_SENTINELS, fields):
        g = _set_field(g, text, sentinel)
    out = _canonical(g.to_dict())
    if any(out.count(str(s)) == 0 for s in _SENTINELS[:len(fields)]):
        return None
    return out


def expand_cells(spec: SweepSpec, fast: bool = True) -> list[Cell]:
    """Every cell of the grid, in grid order (the last group varies fastest).

    With ``fast`` (integer axes), a cell's graph is the JSON text of the base graph with
    placeholders replaced by the axis values (:func:`_template`), the same text the field
    by field route gives (tested); a combination of values that makes the graph invalid
    (e.g. a learner left without data) is then a failed cell with its one-line error.

    Raises
    ------
    GraphValueError
        A cell whose graph is invalid (one line naming the axis values and the field).

    Examples
    --------
    >>> from graphcollapse.verify.sweep import load_spec, expand_cells
    >>> s = load_spec({"seed": 1, "graph": {"builder": "chain", "K": 2},
    ...                "axes": [{"field": "graph.K", "values": [2, 3]},
    ...                         {"field": "L0.real_samples", "values": [5, 10], "name": "m"}]})
    >>> [(c.values["graph.K"], c.values["m"]) for c in expand_cells(s)]
    [(2, 5), (2, 10), (3, 5), (3, 10)]
    >>> len({c.key for c in expand_cells(s)})
    4
    """
    from graphcollapse.theory.graph import InteractionGraph

    groups: list[list[Axis]] = []
    by_label: dict[str, list[Axis]] = {}
    for a in spec.axes:
        if a.zip is None:
            groups.append([a])
        elif a.zip in by_label:
            by_label[a.zip].append(a)
        else:
            by_label[a.zip] = [a]
            groups.append(by_label[a.zip])
    version = code_version()
    common = {"estimator": spec.estimator, "theory": spec.theory, "generations": spec.generations,
              "montecarlo": spec.montecarlo, "seed": spec.seed, "version": version}
    cells = []
    bases: dict[str, Any] = {}
    templates: dict[str, str | None] = {}
    for index, combo in enumerate(itertools.product(*[range(len(g[0].values)) for g in groups])):
        values: dict[str, Any] = {}
        graph_spec = dict(spec.graph)
        fields: list[tuple[int, str, Any]] = []
        for g, j in zip(groups, combo):
            for a in g:
                values[a.name] = a.values[j]
                if a.is_graph_parameter:
                    graph_spec[a.field[len("graph."):]] = a.values[j]
                else:
                    fields.append((spec.axes.index(a), a.field, a.values[j]))
        where = ", ".join(f"{k}={v}" for k, v in values.items())
        try:
            bkey = _canonical(graph_spec)
            if bkey not in bases:
                bases[bkey] = _base_graph(graph_spec)
                templates[bkey] = _template(bases[bkey], fields, spec) if fast else None
            g = bases[bkey]
            if templates[bkey] is not None:
                text = templates[bkey]
                for sentinel, (_, _, v) in zip(_SENTINELS, fields):
                    text = text.replace(str(sentinel), str(v))
                resolved = json.loads(text)
                key = hashlib.sha256(_canonical({"graph": resolved, **common}).encode()).hexdigest()
                cells.append(Cell(index, values, resolved, key, _cell_seed(spec.seed, key)))
                continue
            for i, text, v in fields:
                try:
                    g = _set_field(g, text, v)
                except GraphCollapseError as exc:
                    message = str(exc).replace(f"--symbol {_AXIS_SYMBOL}: ", "")
                    raise GraphValueError(f"sweep spec: axes[{i}].field: {message}") from None
            resolved = g.to_dict()
            InteractionGraph.from_dict(resolved)  # the resolved graph is valid input
        except GraphCollapseError as exc:
            if str(exc).startswith("sweep spec: "):
                raise
            raise GraphValueError(f"sweep cell ({where}): {exc}") from None
        except TypeError as exc:  # a builder parameter of the wrong type
            raise GraphValueError(f"sweep cell ({where}): graph: {exc}") from None
        key = hashlib.sha256(_canonical({"graph": resolved, **common}).encode()).hexdigest()
        cells.append(Cell(index, values, resolved, key, _cell_seed(spec.seed, key)))
    return cells


# --------------------------------------------------------------------------- one cell
def _num(x: Any) -> float | None:
    from graphcollapse.theory.report import to_float

    return to_float(x)


def compute_cell(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Compute one cell (in any process): the theory per learner, the risk trajectories
    and the Monte Carlo verification; a bad cell is a record with ``status = "failed"``
    and its one-line error.

    Parameters
    ----------
    payload : dict
        :meth:`Cell.payload`.

    Returns
    -------
    dict
        The cell record (written to ``cells/<hash>.json``).

    Examples
    --------
    >>> from graphcollapse.verify.sweep import load_spec, expand_cells, compute_cell
    >>> s = load_spec({"seed": 1, "graph": {"builder": "self_training", "real_samples": 0, "dimension": 2},
    ...                "theory": {"theory": "large-sample"}})
    >>> rec = compute_cell(expand_cells(s)[0].payload(s))
    >>> rec["status"], rec["learners"][0]["growth"], rec["learners"][0]["growth_rate"]
    ('ok', 'linear', 0.2)
    """
    start = time.perf_counter()
    cpu = time.process_time()
    record: dict[str, Any] = {"key": payload["key"], "seed": payload["seed"], "status": "ok", "error": None,
                              "learners": [], "trajectory": None, "montecarlo": None, "route": "analysis"}
    try:
        _compute_into(payload, record)
    except (GraphCollapseError, ValueError, ArithmeticError) as exc:
        record.update(status="failed", error=" ".join(f"{type(exc).__name__}: {exc}".split()) if not
                      isinstance(exc, GraphCollapseError) else " ".join(str(exc).split()),
                      learners=[], trajectory=None, montecarlo=None)
    record["seconds"] = time.perf_counter() - start
    record["cpu_seconds"] = time.process_time() - cpu
    return record


def _compute_into(payload: Mapping[str, Any], record: dict[str, Any]) -> None:
    from graphcollapse.theory.analysis import analyze, predict
    from graphcollapse.theory.graph import InteractionGraph
    from graphcollapse.theory.report import to_exact_string

    G = InteractionGraph.from_dict(payload["graph"])
    mc = payload["montecarlo"]
    T = int(payload["generations"])
    if payload["estimator"] == "ols":
        a = analyze(G, theory=payload["theory"])
        record["learners"] = [_learner_entry(r, to_exact_string) for r in a.learners]
        if T > 0:
            pred = predict(G, T, theory=payload["theory"])
            record["trajectory"] = {name: [_num(x) for x in pred.risk[name]] for name in G.names}
    if mc is not None:
        from .api import verify

        kwargs: dict[str, Any] = {"theory": payload["theory"]} if payload["estimator"] == "ols" else {}
        v = verify(G, payload["estimator"], generations=mc["generations"], replications=mc["replications"],
                   seed=payload["seed"], workers=1, **kwargs)
        z = v.z
        record["montecarlo"] = {
            # None: no row could be tested (e.g. risks without a finite variance), not assessed
            "agrees": bool(v.agrees) if v.tested_rows else None, "completed": int(v.completed),
            "tested_rows": int(v.tested_rows), "tested_rule": v.tested_rule,
            "theory": np.asarray(v.theory).tolist(), "mean": np.asarray(v.mean).tolist(),
            "se": np.asarray(v.se).tolist(), "z": np.asarray(z).tolist(),
            "tested": np.broadcast_to(v.tested, np.shape(v.theory)).tolist(),
        }
        if not record["learners"]:  # M-estimators: the asymptotic theory of the verification
            record["learners"] = [{"name": n, "collapses": None, "growth": None, "growth_degree": None,
                                   "growth_rate": None, "growth_factor": None, "stationary_risk": None,
                                   "stationary_risk_exact": None} for n in G.names]


def _learner_entry(r: Any, exact_string: Callable[[Any], str | None]) -> dict[str, Any]:
    return {"name": r.name, "collapses": bool(r.collapses), "growth": r.growth,
            "growth_degree": r.growth_degree, "growth_rate": _num(r.growth_rate),
            "growth_factor": _num(r.growth_factor), "stationary_risk": _num(r.stationary_risk),
            "stationary_risk_exact": exact_string(r.stationary_risk)}


# --------------------------------------------------------------------------- files
def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and :func:`os.replace`: a reader,
    or a rerun after the process was killed, sees the whole file or none of it (no fsync:
    a power cut may lose the last cells, which a rerun computes again)."""
    from .driver import _publish

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cell_path(out: Path, key: str) -> Path:
    return out / "cells" / f"{key}.json"


def _is_done(out: Path, key: str) -> bool:
    path = _cell_path(out, key)
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _save_record(out: Path, record: dict[str, Any]) -> None:
    _write_atomic(_cell_path(out, record["key"]), json.dumps(_clean(record), allow_nan=False))


# --------------------------------------------------------------------------- execution
@dataclass
class SweepResult:
    """What :func:`run_sweep` did: counts, where the table is, the manifest."""

    out: Path
    cells: int
    computed: int
    reused: int
    failed: int
    interrupted: bool
    table: Path | None
    manifest: dict[str, Any]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "graphcollapse_sources": source_digest()}
    for pkg in ("graphcollapse", "numpy", "scipy", "sympy", "networkx", "pyarrow", "dask", "distributed"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None  # type: ignore[assignment]
    return out


class WorkersLostError(GraphValueError):
    """Worker processes died repeatedly (the local pool's) or dask gave up on tasks whose
    workers were lost: the sweep stops, its finished cells stay on disk and the manifest
    says what is left."""


def _compute_batch(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [compute_cell(p) for p in payloads]


def _compute_pickled_batch(blob: bytes) -> list[dict[str, Any]]:
    return _compute_batch(pickle.loads(blob))  # our own pickle, made by _run_dask


def _batches(payloads: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [payloads[i:i + size] for i in range(0, len(payloads), size)]


def _batch_size(spec: SweepSpec, n: int, workers: int, dask: bool = False) -> int:
    """Cells per task, so that the per-task overhead (a pickle round trip, a scheduler
    decision) stays small and the load stays balanced: Monte Carlo cells at most 8 a task
    and at least 16 tasks per worker on the local pool; on dask, whose tasks cost more (a
    scheduler decision, messages between three processes, the worker's event loop), at
    most 32 and 8 tasks per worker; theory-only cells at most 32 and 8 tasks per worker.
    An interruption loses at most the tasks in flight."""
    if spec.montecarlo is not None and not dask:
        return max(1, min(8, n // (16 * max(workers, 1))))
    return max(1, min(32, n // (8 * max(workers, 1))))


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


#: Modules the worker processes import before their first cell.
_PRELOAD = ("graphcollapse.theory.analysis", "graphcollapse.theory.exact", "graphcollapse.verify.api",
            "graphcollapse.verify.montecarlo", "graphcollapse.verify.sweep")


def _forkserver(*extra: str) -> Any:
    """The ``forkserver`` multiprocessing context, its server started with the heavy modules
    (sympy, numba-compiled simulators, ``extra``) imported once: every worker process, of
    the local pool or of a dask ``LocalCluster``, and every replacement of a dead one, is
    forked from it with them loaded instead of importing them again. The server is started
    once per process; the preload list of the first call stays."""
    import multiprocessing
    import multiprocessing.forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([*extra, *_PRELOAD])
    multiprocessing.forkserver.ensure_running()
    return ctx


def _run_local(batches: list[list[dict[str, Any]]], workers: int, done: Callable[[list[dict[str, Any]]], None]) -> None:
    """Run on a local process pool; a worker that dies is replaced (up to 3 times) and
    only its batches in flight are computed again."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers == 1:
        for b in batches:
            done(_compute_batch(b))
        return
    pending = list(range(len(batches)))
    restarts = 0
    ctx = _forkserver()
    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        broken = False
        try:
            window = 2 * workers
            queue = list(pending)
            running: dict[Any, int] = {}
            while queue or running:
                while queue and len(running) < window:
                    i = queue.pop(0)
                    running[pool.submit(_compute_batch, batches[i])] = i
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    i = running.pop(f)
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    done(result)
                    pending.remove(i)
                if broken:
                    break
        except BaseException:
            _stop_pool(pool)
            raise
        if broken:
            _stop_pool(pool)
            restarts += 1
            if restarts > 3:
                raise WorkersLostError(f"sweep: worker processes died {restarts} times; "
                                      f"{len(pending)} tasks are left (rerun the sweep to resume)")
        else:
            pool.shutdown(wait=True)


def _stop_pool(pool: Any) -> None:
    """Cancel the queued tasks and end the workers now (their cells in flight are lost)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def _run_dask(batches: list[list[dict[str, Any]]], scheduler: str, workers: int,
              done: Callable[[list[dict[str, Any]]], None]) -> str:
    """Run on a dask.distributed cluster (``"local"``: a LocalCluster of ``workers``
    single-threaded processes). Returns the scheduler's address."""
    try:
        from distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - the extra is missing
        raise GraphValueError("--scheduler: dask.distributed is not installed; "
                              "pip install 'graphcollapse[distributed]'") from None
    import contextlib
    import warnings
    from concurrent.futures import CancelledError

    import dask

    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            # workers (and the nannies' replacements of lost ones) forked from the preloaded
            # forkserver, as the local pool's: with dask's default, spawn, every worker
            # imports Python, dask and the library from scratch
            _forkserver("distributed")
            # and without the diagnostics a dashboard would show (there is none): the worker's
            # statistical profiler samples the task thread's stack every 10 ms, the system and
            # GIL monitors poll; the nannies pass this configuration to their workers
            stack.enter_context(dask.config.set({"distributed.worker.multiprocessing-method": "forkserver",
                                                 "distributed.worker.profile.enabled": False,
                                                 "distributed.admin.system-monitor.gil.enabled": False,
                                                 "distributed.admin.system-monitor.interval": "5s"}))
            with warnings.catch_warnings():  # "port 8787 is in use, hosting on another port"
                warnings.simplefilter("ignore")
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=None, silence_logs=50))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:
                raise GraphValueError(f"--scheduler: cannot connect to {scheduler!r} ({exc}); "
                                      "start a dask scheduler there or use --scheduler local") from None
        address = client.scheduler.address
        futures = []
        try:
            # a batch travels as one pickled blob: dask would otherwise walk every nested
            # dict and list of its payloads looking for futures (a third of the client's CPU)
            futures = [client.submit(_compute_pickled_batch, pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL),
                                     pure=False, key=f"graphcollapse-sweep-{b[0]['key'][:16]}-{i}")
                       for i, b in enumerate(batches)]
            lost: list[str] = []
            for f in as_completed(futures):
                try:
                    records = f.result()
                except (KilledWorker, CancelledError) as exc:  # the others still finish and are kept
                    lost.append(" ".join(f"{type(exc).__name__}: {str(exc).split('. ')[0]}".split()))
                    continue
                done(records)
            if lost:
                raise WorkersLostError(f"sweep: dask gave up on {len(lost)} tasks whose workers kept dying "
                                       f"({lost[0][:300]}); rerun the sweep to resume")
        finally:
            for f in futures:
                if not f.done():
                    f.cancel()
    return address


def run_sweep(spec: SweepSpec | str | os.PathLike[str] | Mapping[str, Any], out: str | os.PathLike[str], *,
              scheduler: str | None = None, workers: int | None = None, csv: bool = False,
              progress: Callable[[int, int], None] | None = None, symbolic: bool | str = "auto") -> SweepResult:
    """Run a sweep: compute every cell not yet on disk, then assemble the table.

    Parameters
    ----------
    spec : SweepSpec, path or dict
        Read with :func:`load_spec` unless already a :class:`SweepSpec`.
    out : path
        The output folder (created; its finished cells are reused).
    scheduler : str, optional
        None: local processes; ``"local"``: a dask ``LocalCluster``; else the address of a
        dask scheduler (``tcp://host:8786``).
    workers : int, optional
        Processes (local pool or LocalCluster; default: the available cores). One runs
        the cells in this process.
    csv : bool
        Write ``table.csv`` instead of ``table.parquet``.
    progress : callable, optional
        ``progress(done, total)`` in cells after every finished batch.
    symbolic : {"auto", True, False}
        Theory-only exact sweeps over integer graph fields: solve once symbolically and
        evaluate per cell (:mod:`graphcollapse.verify.sweep_symbolic`; cells it cannot
        decide go to the per-cell analysis). ``"auto"``: when at least
        :data:`SYMBOLIC_MIN_CELLS` cells are left.

    Returns
    -------
    SweepResult
        ``interrupted`` is never True here: an interruption (KeyboardInterrupt) is raised
        after the finished cells and the manifest are written.

    Examples
    --------
    >>> import tempfile
    >>> from graphcollapse.verify.sweep import run_sweep, read_table
    >>> spec = {"seed": 7, "graph": {"builder": "self_training", "dimension": 2},
    ...         "theory": {"theory": "large-sample"},
    ...         "axes": [{"field": "L0.real_samples", "values": [0, 10], "name": "m"}]}
    >>> out = tempfile.mkdtemp()
    >>> r = run_sweep(spec, out, workers=1)
    >>> r.cells, r.computed, r.failed
    (2, 2, 0)
    >>> t = read_table(out)
    >>> t["m"].tolist(), t["collapses"].tolist()
    ([0, 10], [True, False])
    >>> run_sweep(spec, out, workers=1).computed
    0
    """
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GraphValueError(f"--out {out}: exists and is not a folder; choose a folder")
    (out / "cells").mkdir(parents=True, exist_ok=True)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise GraphValueError(f"--workers: expected a positive integer, found {workers!r}")
    workers = workers or _default_workers()
    t0, c0 = time.perf_counter(), time.process_time()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cells = expand_cells(spec)
    todo: dict[str, dict[str, Any]] = {}
    for c in cells:
        if c.key not in todo and not _is_done(out, c.key):
            todo[c.key] = c.payload(spec)
    reused = len({c.key for c in cells}) - len(todo)
    state = {"computed": 0, "failed": 0, "cell_seconds": 0.0, "symbolic": 0}
    total = len(todo)

    def done(records: list[dict[str, Any]]) -> None:
        for rec in records:
            _save_record(out, rec)
            state["computed"] += 1
            state["failed"] += rec["status"] != "ok"
            state["cell_seconds"] += rec["seconds"]
        if progress is not None:
            progress(state["computed"], total)

    interrupted = False
    lost: WorkersLostError | None = None
    address = "processes"
    route = "analysis"
    try:
        use_symbolic = symbolic is True or (symbolic == "auto" and len(todo) >= SYMBOLIC_MIN_CELLS)
        if use_symbolic and todo:
            from .sweep_symbolic import SymbolicTopology, evaluate_cells, symbolic_applies

            if symbolic_applies(spec):
                route = "symbolic"
                topology = SymbolicTopology(_base_graph(spec.graph), [a.field for a in spec.axes])
                first = {c.key: c for c in reversed(cells)}
                pending = [{"key": k, "seed": first[k].seed, "values": first[k].values} for k in todo]
                decided, rest = evaluate_cells(topology, pending, [a.name for a in spec.axes], done)
                rest_keys = {pending[i]["key"] for i in rest}
                todo = {k: v for k, v in todo.items() if k in rest_keys}
                state["symbolic"] = decided
        payloads = list(todo.values())
        batches = _batches(payloads, _batch_size(spec, len(payloads), workers, dask=scheduler is not None))
        if batches:
            if scheduler is None:
                _run_local(batches, min(workers, len(batches)), done)
            else:
                address = _run_dask(batches, scheduler, workers, done)
    except KeyboardInterrupt:
        interrupted = True
    except WorkersLostError as exc:
        interrupted, lost = True, exc
    manifest = {
        "format": FORMAT, "spec": spec.raw, "seed": spec.seed, "versions": _versions(),
        "scheduler": ("this process" if workers == 1 else "processes") if scheduler is None
        else ("dask LocalCluster" if scheduler == "local" else "dask"),
        "scheduler_address": address if scheduler is not None else None,
        "workers": workers, "axes": [a.name for a in spec.axes],
        "cells": [{"index": c.index, "key": c.key, "seed": c.seed, "values": c.values} for c in cells],
        "route": route,
        "counts": {"cells": len(cells), "computed": state["computed"], "symbolic": state["symbolic"], "reused": reused,
                   "failed_now": state["failed"], "left": total - state["computed"]},
        "timing": {"started": started, "wall_seconds": time.perf_counter() - t0,
                   "cpu_seconds_main": time.process_time() - c0, "cell_seconds": state["cell_seconds"]},
        "interrupted": interrupted,
        "error": None if lost is None else str(lost),
        "table": None,
    }
    table = None
    if not interrupted:
        table = out / ("table.csv" if csv else "table.parquet")
        _write_table(out, cells, spec, table)
        manifest["table"] = table.name
        manifest["timing"]["wall_seconds"] = time.perf_counter() - t0
    _write_atomic(out / "manifest.json", json.dumps(_clean(manifest), indent=1, allow_nan=False))
    if lost is not None:
        raise lost
    if interrupted:
        raise KeyboardInterrupt
    failed = sum(1 for c in cells if read_cell(out, c.key).get("status") != "ok")
    return SweepResult(out, len(cells), state["computed"], reused, failed, False, table, manifest)


# --------------------------------------------------------------------------- tables
def read_cell(out: str | os.PathLike[str], key: str) -> dict[str, Any]:
    """The record of one finished cell (``{}`` when it is not on disk)."""
    path = _cell_path(Path(out), key)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_cells(out: str | os.PathLike[str]) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The manifest and, per cell of the sweep in grid order, (manifest entry, record).

    Raises
    ------
    GraphValueError
        ``out`` holds no sweep (no ``manifest.json``).

    Examples
    --------
    >>> from graphcollapse.verify.sweep import read_cells
    >>> read_cells("/nonexistent-folder")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: /nonexistent-folder: no manifest.json; run graphcollapse sweep SPEC --out /nonexistent-folder first
    """
    out = Path(out)
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except FileNotFoundError:
        raise GraphValueError(f"{out}: no manifest.json; run graphcollapse sweep SPEC --out {out} first") from None
    except (OSError, ValueError) as exc:
        raise GraphValueError(f"{out}/manifest.json: cannot read it ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise GraphValueError(f"{out}/manifest.json: not a sweep manifest (format {manifest.get('format')!r})")
    return manifest, [(c, read_cell(out, c["key"])) for c in manifest["cells"]]


def _rows(cells: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]], axes: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry, rec in cells:
        base = {"cell": entry["key"], **{a: entry["values"][a] for a in axes}}
        if not rec:
            continue
        if rec.get("status") != "ok":
            rows.append({**base, "learner": None, "generation": None, "status": rec.get("status"),
                         "error": rec.get("error")})
            continue
        traj = rec.get("trajectory")
        mc = rec.get("montecarlo")
        for k, lr in enumerate(rec["learners"]):
            info = {**base, "learner": lr["name"], "status": "ok", "error": None,
                    **{c: lr.get(c) for c in ("collapses", "growth", "growth_degree", "growth_rate",
                                              "growth_factor", "stationary_risk", "stationary_risk_exact")},
                    "agrees": None if mc is None else mc["agrees"]}
            gens = len(traj[lr["name"]]) if traj else (len(mc["mean"]) if mc else 0)
            if gens == 0:
                rows.append({**info, "generation": None})
            for t in range(gens):
                row = {**info, "generation": t,
                       "theory_risk": traj[lr["name"]][t] if traj else (mc["theory"][t][k] if mc else None)}
                if mc and t < len(mc["mean"]):
                    row.update(mc_mean=mc["mean"][t][k], mc_se=mc["se"][t][k], mc_z=mc["z"][t][k],
                               mc_tested=mc["tested"][t][k] if "tested" in mc else None)
                rows.append(row)
    return rows


def _arrow_table(rows: list[dict[str, Any]], axes: Sequence[str]):
    import pyarrow as pa

    types = {"cell": pa.string(), "learner": pa.string(), "generation": pa.int64(), "status": pa.string(),
             "error": pa.string(), "collapses": pa.bool_(), "growth": pa.string(), "growth_degree": pa.int64(),
             "growth_rate": pa.float64(), "growth_factor": pa.float64(), "stationary_risk": pa.float64(),
             "stationary_risk_exact": pa.string(), "theory_risk": pa.float64(), "mc_mean": pa.float64(),
             "mc_se": pa.float64(), "mc_z": pa.float64(), "mc_tested": pa.bool_(), "agrees": pa.bool_()}
    names = ["cell", *axes, *TABLE_COLUMNS[1:]]
    columns = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if name in types:
            columns[name] = pa.array(values, type=types[name])
        else:  # an axis: ints, floats or strings as given
            columns[name] = pa.array(values)
    return pa.table(columns)


def _write_table(out: Path, cells: list[Cell], spec: SweepSpec, path: Path) -> None:
    axes = [a.name for a in spec.axes]
    entries = [({"key": c.key, "values": c.values}, read_cell(out, c.key)) for c in cells]
    table = _arrow_table(_rows(entries, axes), axes)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        if path.suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        from .driver import _publish

        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_table(out: str | os.PathLike[str]):
    """The sweep's tidy table as a :class:`pandas.DataFrame` (from ``table.parquet`` or
    ``table.csv``; assembled from the cell files when neither exists).

    Raises
    ------
    GraphValueError
        ``out`` holds no sweep.

    Examples
    --------
    >>> import tempfile
    >>> from graphcollapse.verify.sweep import run_sweep, read_table
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep({"seed": 1, "graph": {"builder": "self_training", "dimension": 2},
    ...                "theory": {"generations": 2},
    ...                "axes": [{"field": "L0.real_samples", "values": [10]}]}, out, workers=1)
    >>> read_table(out)[["learner", "generation", "theory_risk"]].round(4).values.tolist()
    [['L0', 0, 0.0741], ['L0', 1, 0.1389], ['L0', 2, 0.1576]]
    """
    out = Path(out)
    if (out / "table.parquet").exists():
        import pyarrow.parquet as pq

        return pq.read_table(out / "table.parquet").to_pandas()
    manifest, cells = read_cells(out)
    return _arrow_table(_rows(cells, manifest["axes"]), manifest["axes"]).to_pandas()


def sweep_summary(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts of a sweep folder: cells, finished, failed (with their errors), Monte Carlo
    disagreements, verdicts.

    Examples
    --------
    >>> import tempfile
    >>> from graphcollapse.verify.sweep import run_sweep, sweep_summary
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep({"seed": 1, "graph": {"builder": "self_training", "dimension": 2},
    ...                "axes": [{"field": "L0.real_samples", "values": [0, 10]}]}, out, workers=1)
    >>> s = sweep_summary(out)
    >>> s["cells"], s["finished"], s["collapsing_cells"], s["failed"]
    (2, 2, 1, [])
    """
    manifest, cells = read_cells(out)
    failed, disagree = [], []
    finished = collapsing = mc_cells = not_assessed = 0
    for entry, rec in cells:
        if not rec:
            continue
        finished += 1
        if rec["status"] != "ok":
            failed.append({"cell": entry["key"][:12], "values": entry["values"], "error": rec["error"]})
            continue
        collapsing += any(lr.get("collapses") for lr in rec["learners"])
        if rec.get("montecarlo") is not None:
            mc_cells += 1
            if rec["montecarlo"]["agrees"] is None:
                not_assessed += 1
            elif not rec["montecarlo"]["agrees"]:
                z = rec["montecarlo"]["z"]
                disagree.append({"cell": entry["key"][:12], "values": entry["values"],
                                 "max_abs_z": max((abs(x) for row in z for x in row if x is not None), default=None)})
    return {"out": str(out), "cells": len(cells), "finished": finished, "missing": len(cells) - finished,
            "collapsing_cells": collapsing, "montecarlo_cells": mc_cells, "disagreements": disagree,
            "not_assessed": not_assessed,
            "failed": failed, "interrupted": manifest.get("interrupted", False), "error": manifest.get("error"),
            "table": manifest.get("table"),
            "timing": manifest.get("timing", {}), "versions": manifest.get("versions", {})}


# --------------------------------------------------------------------------- figure data
_UNITS = {"real_samples": "real samples per generation", "samples": "synthetic samples per generation",
          "initial_samples": "initial samples", "dimension": "dimension", "noise_variance": "noise variance"}


def axis_label(name: str, field_text: str) -> str:
    """A label with units for an axis (``m: L0.real_samples (real samples per generation)``).

    Examples
    --------
    >>> from graphcollapse.verify.sweep import axis_label
    >>> axis_label("m", "L0.real_samples,L1.real_samples")
    'm (real samples per generation)'
    >>> axis_label("L0->L1.samples", "L0->L1.samples")
    'L0->L1.samples (synthetic samples per generation)'
    """
    kind = field_text.split(",")[0].split(".")[-1]
    unit = _UNITS.get(kind, "number of learners" if field_text == "graph.K" else "")
    fields = [f.strip() for f in field_text.split(",")]
    if name == field_text:
        head = fields[0] + (", ..." if len(fields) > 1 else "")
        return f"{head} ({unit})" if unit else head
    return f"{name} ({unit})" if unit else name


def _margin(cond: Any, symbols: Sequence[Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """A function positive exactly where the sympy Boolean ``cond`` holds (its zero set is the
    boundary): b - a for a < b or a <= b, min over And, max over Or, minus for Not. None
    when ``cond`` has no boundary in the plane (a constant, or an equation)."""
    import sympy as sp

    if cond is True or cond is sp.true or cond is False or cond is sp.false:
        return None
    if isinstance(cond, (sp.Equality, sp.Unequality)):
        return None
    if isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
        f = sp.lambdify(symbols, cond.rhs - cond.lhs, "numpy")
        return lambda x, y: np.asarray(f(x, y), dtype=float) * np.ones_like(x, dtype=float)
    if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
        f = sp.lambdify(symbols, cond.lhs - cond.rhs, "numpy")
        return lambda x, y: np.asarray(f(x, y), dtype=float) * np.ones_like(x, dtype=float)
    if isinstance(cond, sp.Not):
        g = _margin(cond.args[0], symbols)
        return None if g is None else (lambda x, y: -g(x, y))
    if isinstance(cond, (sp.And, sp.Or)):
        parts = [_margin(a, symbols) for a in cond.args]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        combine = np.minimum if isinstance(cond, sp.And) else np.maximum

        def both(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            out = parts[0](x, y)
            for p in parts[1:]:
                out = combine(out, p(x, y))
            return out

        return both
    return None


def collapse_boundary(spec: SweepSpec, x: Axis, y: Axis, learner: str | None, fixed: Mapping[str, Any],
                      resolution: int = 400) -> dict[str, Any] | None:
    """The exact theoretical boundary of the collapse region in the plane of two axes.

    Both axes are bound to symbols (:func:`graphcollapse.theory.symbols.apply_symbols`),
    the other axes fixed at ``fixed``; the collapse condition (the exact theory:
    :func:`graphcollapse.theory.exact.exact_collapse_conditions`; large sample:
    :func:`graphcollapse.theory.condition.collapse_condition`) of ``learner`` (None: of
    any learner) is a sympy Boolean in the two symbols, and the boundary is the zero set of
    :func:`_margin` on a ``resolution`` x ``resolution`` grid of real values spanning the axes.

    Returns
    -------
    dict or None
        ``x``, ``y`` (1-d grids), ``margin`` (2-d, positive where the learner collapses),
        ``condition`` (the Boolean as text), ``function`` (the margin as a function of
        arrays x, y); None when the condition has no boundary in the
        plane (a graph parameter axis, a constant verdict, or an equation such as m = 0).
    """
    import sympy as sp

    from graphcollapse.theory.symbols import apply_symbols, parse_symbol_binding

    if x.is_graph_parameter or y.is_graph_parameter:
        return None
    graph_spec = dict(spec.graph)
    for a in spec.axes:
        if a.is_graph_parameter:
            graph_spec[a.field[len("graph."):]] = fixed[a.name]
    g = _base_graph(graph_spec)
    for a in spec.axes:
        if a is not x and a is not y and not a.is_graph_parameter:
            g = _set_field(g, a.field, fixed[a.name])
    bx = parse_symbol_binding(f"sweep_x={x.field}")
    by = parse_symbol_binding(f"sweep_y={y.field}")
    G = apply_symbols(g, [bx, by])
    sx, sy = bx.symbol, by.symbol
    if spec.theory == "exact":
        from graphcollapse.theory.exact import exact_collapse_conditions

        conds, _ = exact_collapse_conditions(G)
        per = [conds[n] for n in G.names]
    else:
        from graphcollapse.theory.condition import collapse_condition

        per = list(collapse_condition(G).collapses)
    cond = per[G.index[learner]] if learner is not None else sp.Or(*per)
    f = _margin(cond, [sx, sy])
    if f is None:
        return None
    ex, ey = _edges(np.array(sorted(set(x.values)), float)), _edges(np.array(sorted(set(y.values)), float))
    xs = np.linspace(ex[0], ex[-1], resolution)
    ys = np.linspace(ey[0], ey[-1], resolution)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        M = f(X, Y)
    if not (np.nanmax(M) > 0 > np.nanmin(M)):
        return None
    return {"x": xs, "y": ys, "margin": M, "condition": str(cond), "function": f}


def phase_data(out: str | os.PathLike[str], x: str | None = None, y: str | None = None,
               learner: str | None = None) -> dict[str, Any]:
    """What a phase diagram of a sweep shows: per cell of the (x, y) plane the region
    (``bounded``, ``collapse`` for linear or polynomial growth, ``geometric``, ``failed``),
    the stationary risk of bounded cells, the growth rate, the Monte Carlo agreement, and
    the exact boundary (:func:`collapse_boundary`).

    ``learner`` None: a cell is as bad as its worst learner (geometric over collapse over
    bounded; the largest stationary risk).

    Raises
    ------
    GraphValueError
        Fewer than two numeric axes, an unknown axis or learner, or more than one cell at
        a point of the plane (fix the other axes by a zip or a smaller sweep).
    """
    manifest, cells = read_cells(out)
    spec = load_spec(manifest["spec"]) if "file" not in manifest["spec"]["graph"] else _spec_from_manifest(manifest)
    axes = {a.name: a for a in spec.axes}
    numeric = [a.name for a in spec.axes if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in a.values)]
    if len(numeric) < 2 and (x is None or y is None):
        raise GraphValueError(f"{out}: a phase diagram needs two numeric axes; this sweep has {numeric or 'none'}")
    x = x or numeric[0]
    y = y or [n for n in numeric if n != x][0]
    for flag, name in (("--x", x), ("--y", y)):
        if name not in axes:
            raise GraphValueError(f"{flag} {name}: not an axis of this sweep; expected one of {', '.join(axes)}")
    if x == y:
        raise GraphValueError("--x and --y: choose two different axes")
    xs = sorted(set(axes[x].values))
    ys = sorted(set(axes[y].values))
    shape = (len(ys), len(xs))
    region = np.full(shape, "missing", dtype=object)
    risk = np.full(shape, np.nan)
    rate = np.full(shape, np.nan)
    agrees = np.full(shape, None, dtype=object)
    seen = np.zeros(shape, dtype=bool)
    fixed: dict[str, Any] = {}
    rank = {"bounded": 0, "collapse": 1, "geometric": 2}
    for entry, rec in cells:
        i, j = ys.index(entry["values"][y]), xs.index(entry["values"][x])
        if seen[i, j]:
            raise GraphValueError(f"{out}: several cells at {x}={xs[j]}, {y}={ys[i]}; a phase diagram needs the "
                                  "other axes fixed (zip them with x or y, or sweep only two axes)")
        seen[i, j] = True
        fixed = fixed or dict(entry["values"])
        if not rec:
            continue
        if rec["status"] != "ok":
            region[i, j] = "failed"
            continue
        lrs = rec["learners"]
        if learner is not None:
            lrs = [lr for lr in lrs if lr["name"] == learner]
            if not lrs:
                raise GraphValueError(f"--learner {learner}: no such learner in cell {entry['key'][:12]}")
        worst = max((("geometric" if lr["growth"] == "geometric" else "collapse" if lr["collapses"] else "bounded")
                     for lr in lrs), key=rank.__getitem__)
        region[i, j] = worst
        if worst == "bounded":
            risk[i, j] = max(lr["stationary_risk"] for lr in lrs)
        else:
            rates = [lr["growth_rate"] or lr["growth_factor"] for lr in lrs if lr["collapses"]]
            rates = [r for r in rates if r is not None]
            rate[i, j] = max(rates) if rates else np.nan
        if rec.get("montecarlo") is not None:
            a = rec["montecarlo"]["agrees"]
            agrees[i, j] = "not assessed" if a is None else a
    boundary = None
    others_fixed = len({tuple(sorted((k, v) for k, v in e["values"].items() if k not in (x, y)))
                        for e, _ in cells}) == 1
    if others_fixed:
        try:
            boundary = collapse_boundary(spec, axes[x], axes[y], learner, fixed)
        except GraphCollapseError:
            boundary = None
    if boundary is not None:  # the condition means nothing where the theory does not apply
        bi = np.clip(np.searchsorted(_edges(np.asarray(ys, float)), boundary["y"]) - 1, 0, len(ys) - 1)
        bj = np.clip(np.searchsorted(_edges(np.asarray(xs, float)), boundary["x"]) - 1, 0, len(xs) - 1)
        valid = np.isin(region, ("bounded", "collapse", "geometric"))[np.ix_(bi, bj)]
        inside = ((boundary["y"] >= ys[0]) & (boundary["y"] <= ys[-1]))[:, None] & \
            ((boundary["x"] >= xs[0]) & (boundary["x"] <= xs[-1]))[None, :]
        valid &= inside  # only between the sampled values (a count below 0 means nothing)
        boundary["margin"] = np.where(valid, boundary["margin"], np.nan)
    return {"x": xs, "y": ys, "x_label": axis_label(x, axes[x].field), "y_label": axis_label(y, axes[y].field),
            "region": region, "stationary_risk": risk, "growth": rate, "agrees": agrees, "boundary": boundary,
            "theory": spec.theory, "learner": learner,
            "title": f"{'exact' if spec.theory == 'exact' else 'large-sample'} theory"
                     + (f", learner {learner}" if learner else ", worst learner per cell")}


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres ``v`` (midpoints; half a step beyond the ends)."""
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _spec_from_manifest(manifest: Mapping[str, Any]) -> SweepSpec:
    raw = manifest["spec"]
    return _check_spec(json.loads(json.dumps(raw)), Path("."))


def trajectory_data(out: str | os.PathLike[str], learner: str | None = None) -> dict[str, Any]:
    """Risk trajectories of a sweep: one panel per value of the first axis, one line per
    value of the second (every cell its own line when there is one axis), the theory as a
    line and the Monte Carlo means with their standard errors; ``learner`` None: the last
    learner of each cell.

    Raises
    ------
    GraphValueError
        The sweep has no trajectories (``theory.generations`` and ``montecarlo`` unset).
    """
    manifest, cells = read_cells(out)
    names = manifest["axes"]
    panels: dict[Any, list[dict[str, Any]]] = {}
    any_traj = False
    for entry, rec in cells:
        if not rec or rec["status"] != "ok":
            continue
        traj, mc = rec.get("trajectory"), rec.get("montecarlo")
        if not traj and not mc:
            continue
        any_traj = True
        lnames = [lr["name"] for lr in rec["learners"]]
        who = learner if learner is not None else lnames[-1]
        if who not in lnames:
            raise GraphValueError(f"--learner {learner}: no such learner in cell {entry['key'][:12]}")
        k = lnames.index(who)
        panel = entry["values"][names[0]] if len(names) >= 2 else None
        label_keys = names[1:] if len(names) >= 2 else names
        label = ", ".join(f"{n}={entry['values'][n]}" for n in label_keys) or who
        line: dict[str, Any] = {"label": label, "learner": who}
        if traj:
            line["theory"] = np.array(traj[who], dtype=float)
        elif mc:
            line["theory"] = np.array([row[k] for row in mc["theory"]], dtype=float)
        if mc:
            line["mean"] = np.array([row[k] for row in mc["mean"]], dtype=float)
            line["se"] = np.array([row[k] for row in mc["se"]], dtype=float)
        panels.setdefault(panel, []).append(line)
    if not any_traj:
        raise GraphValueError(f"{out}: no trajectories in this sweep; set [theory] generations or add [montecarlo]")
    spec_raw = manifest["spec"]
    theory = spec_raw.get("theory", {}).get("theory", "exact")
    return {"panels": [{"title": (f"{names[0]} = {p}" if p is not None else ""), "lines": lines}
                       for p, lines in panels.items()],
            "learner": learner, "theory": theory}
