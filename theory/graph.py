r"""Interaction graphs: learners, who trains on whose synthetic data, and how much.

Notation (see ``docs/theory.md``)
---------------------------------
A directed graph :math:`G = (V, E)`; every node :math:`k` is a learner. An edge
:math:`j \to k` means learner :math:`k` trains on :math:`n_{jk} > 0` synthetic samples
produced by learner :math:`j` (self-loops allowed). Learner :math:`k` also gets
:math:`m_k \ge 0` fresh real samples per generation and :math:`n^0_k` real samples at
generation 0, so :math:`N_k = m_k + \sum_j n_{jk}`. The *mixing matrix* is
:math:`W_{kj} = n_{jk} / N_k` and the real-data fraction is
:math:`\alpha_k = m_k / N_k = 1 - \sum_j W_{kj}`.

Counts are Python ``int`` (or sympy ``Rational`` / symbolic expressions in the
library); every derived quantity is exact. Floats given as noise variances are read
as their shortest decimal representation (``0.1`` is ``1/10``).
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
from fractions import Fraction
from functools import cached_property
from itertools import repeat
from numbers import Integral
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, Sequence

import networkx as nx
import numpy as np
import sympy as sp

from .errors import GraphTypeError, GraphValueError

__all__ = ["InteractionGraph", "load_graph", "save_graph", "parse_json", "FORMAT_VERSION", "NAME_PATTERN",
           "MAX_COUNT", "DATA_POLICIES", "REAL_DATA_MODES", "DESIGN_MODES", "REGIME_DEFAULTS"]

FORMAT_VERSION = 1
#: Learner names: letters, digits and underscores (they appear in LaTeX field
#: bindings such as ``B->A.samples`` and in sympy symbol names).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}\Z")
#: The largest integer a graph file may give for a count or the dimension (2^53, the
#: largest integer up to which every integer is exactly a float64).
MAX_COUNT = 2**53
#: The longest number literal a graph file may contain, in characters.
MAX_NUMBER_LENGTH = 100

_TOP_KEYS = {"format_version", "dimension", "noise_variance", "models", "edges", "covariance", "defaults"}
_MODEL_KEYS = {"name", "initial_samples", "real_samples", "synthetic_noise_variance",
               "data_policy", "real_data", "design", "real_weight"}
_EDGE_KEYS = {"source", "target", "samples", "weight"}
#: The data policies of a learner (docs/regimes.md): ``replace`` trains on the current
#: generation's data only, ``accumulate`` on everything seen so far, ``accumulate-subsample``
#: on N_k samples drawn without replacement from everything seen so far.
DATA_POLICIES = ("replace", "accumulate", "accumulate-subsample")
#: ``fresh``: new real samples (or covariates) every generation; ``fixed``: drawn once, reused.
REAL_DATA_MODES = ("fresh", "fixed")
DESIGN_MODES = ("fresh", "fixed")
#: The graph-level defaults of the regime fields (today's behaviour); the JSON key
#: ``defaults`` overrides them for the whole graph, per-model and per-edge keys per item.
REGIME_DEFAULTS: dict[str, Any] = {"data_policy": "replace", "real_data": "fresh", "design": "fresh",
                                   "real_weight": 1, "weight": 1}
_REGIME_CHOICES = {"data_policy": DATA_POLICIES, "real_data": REAL_DATA_MODES, "design": DESIGN_MODES}
_LEARNER_REGIME = ("data_policy", "real_data", "design", "real_weight")
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_]")
#: Columns shorter than this are checked item by item (numpy's overhead would dominate).
_VECTORISE_MIN = 200

Value = Any  # int | sympy.Expr


# --------------------------------------------------------------------------- values
class _OutOfRange:
    """A number literal of a graph file that is not accepted as written: an integer with
    too many digits, a literal longer than :data:`MAX_NUMBER_LENGTH`, or a decimal outside
    the float64 range (``1e400``, ``1e-400``). The parser keeps the text so that the field
    check can reject it with a message naming the field."""

    __slots__ = ("text", "integer")

    def __init__(self, text: str, integer: bool) -> None:
        self.text = text
        self.integer = integer

    def describe(self) -> str:
        if self.integer:
            return f"an integer with {len(self.text.lstrip('-'))} digits"
        if len(self.text) > 40:
            return f"a number written with {len(self.text)} characters"
        return self.text

    def error(self, field: str) -> GraphValueError:
        if self.integer:
            return GraphValueError(f"{field}: expected an integer <= 2^53, found {self.describe()}")
        if len(self.text) > MAX_NUMBER_LENGTH:
            return GraphValueError(f"{field}: expected a number written with at most {MAX_NUMBER_LENGTH} "
                                   f"characters, found {self.describe()}")
        return GraphValueError(f"{field}: expected a finite number within the float64 range "
                               f"(magnitude 1e-307 to 1e308), found {self.describe()}")

    def __repr__(self) -> str:
        return self.describe()


def _label(text: Any) -> str:
    """User text (a key, a learner name) as it may appear in a one-line message: as is when
    short and printable, else quoted with escapes and shortened."""
    if isinstance(text, str) and text.isprintable() and 0 < len(text) <= 80:
        return text
    shown = repr(text[:60] if isinstance(text, str) else text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _first_key(keys: Iterable[Any]) -> str:
    """The first of some unknown keys (sorted as text), as :func:`_label` shows it."""
    return _label(sorted(keys, key=str)[0])


def _is_symbolic(value: Value) -> bool:
    return isinstance(value, sp.Basic) and bool(value.free_symbols)


def _normalise_number(value: Any, field: str, *, allow_float: bool) -> Value:
    """Return ``value`` as a Python int, a sympy Rational or a sympy expression."""
    if isinstance(value, (bool, np.bool_)):
        raise GraphTypeError(f"{field}: expected a number, found the boolean {value!r}")
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, _OutOfRange):
        raise value.error(field)
    if isinstance(value, Fraction):
        value = sp.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise GraphValueError(f"{field}: expected a finite number, found {value!r}")
        if not allow_float:
            raise GraphTypeError(
                f"{field}: expected an integer count (or a sympy Rational/symbol), "
                f"found the float {value!r}"
            )
        value = sp.Rational(repr(float(value)))
    if isinstance(value, sp.Basic):
        if not isinstance(value, sp.Expr):
            raise GraphTypeError(f"{field}: expected a number or sympy expression, found {value!r}")
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise GraphValueError(f"{field}: expected a finite number, found {value}")
        if value.is_Float:
            if not allow_float:
                raise GraphTypeError(f"{field}: expected an integer count, found the float {value}")
            value = sp.Rational(str(value))
        if value.is_Integer:
            return int(value)
        if value.is_number and not value.is_real:
            raise GraphValueError(f"{field}: expected a real number, found {value}")
        return value
    raise GraphTypeError(
        f"{field}: expected a number or sympy expression, found {type(value).__name__} {value!r}"
    )


def _check_sign(value: Value, field: str, *, positive: bool) -> None:
    """Raise unless ``value`` is > 0 (``positive``) or >= 0; symbols are assumed valid."""
    if _is_symbolic(value):
        if (positive and value.is_positive is False) or (not positive and value.is_nonnegative is False):
            raise GraphValueError(f"{field}: the expression {value} can never be {'positive' if positive else 'nonnegative'}")
        return
    if positive and not value > 0:
        raise GraphValueError(f"{field}: expected a positive number, found {value}")
    if not positive and not value >= 0:
        raise GraphValueError(f"{field}: expected a nonnegative number, found {value}")


def _as_sympy(value: Value) -> sp.Expr:
    return sp.Integer(value) if isinstance(value, int) else value


def _regime_value(value: Any, key: str, field: str) -> Any:
    """Check one regime value: a choice for the policy fields, a positive number (or
    sympy expression) for the weights."""
    if key in _REGIME_CHOICES:
        choices = _REGIME_CHOICES[key]
        if not isinstance(value, str) or value not in choices:
            shown = repr(value) if isinstance(value, str) else _label(repr(value))
            raise GraphValueError(f"{field}: expected one of {', '.join(choices)}, found {shown}")
        return value
    if isinstance(value, _OutOfRange):
        raise value.error(field)
    w = _normalise_number(value, field, allow_float=True)
    _check_sign(w, field, positive=True)
    return w


class _EdgeColumns(NamedTuple):
    """Edges as three columns (sources and targets as names or indices, samples), the
    form in which the file readers hand edges to :class:`InteractionGraph`."""

    sources: Sequence[Any]
    targets: Sequence[Any]
    samples: Sequence[Any]


def _edge_columns(edges: Sequence[Any]) -> _EdgeColumns | None:
    """The columns of a sequence of (source, target, samples) triples, or ``None`` when
    some item is not a triple (the item-by-item check then reports it)."""
    try:
        if set(map(len, edges)) - {3}:
            return None
    except TypeError:
        return None
    if not edges:
        return _EdgeColumns((), (), ())
    return _EdgeColumns(*zip(*edges))


def _int_column(seq: Any) -> np.ndarray | None:
    """``seq`` as an int64 array when it holds only plain integers (Python ``int`` or numpy
    integers, not booleans) that fit in int64; ``None`` otherwise."""
    if isinstance(seq, np.ndarray):
        if seq.ndim != 1 or seq.dtype.kind not in "iu":
            return None
        if seq.dtype.kind == "u" and seq.dtype.itemsize >= 8 and seq.size and int(seq.max()) >= 2**63:
            return None
        return seq.astype(np.int64, copy=False)
    try:
        types = set(map(type, seq))
    except TypeError:
        return None
    if not all(t is int or (issubclass(t, np.integer) and t is not np.uint64) for t in types):
        return None
    try:
        return np.array(seq, dtype=np.int64).reshape(-1)
    except (OverflowError, ValueError, TypeError):
        return None


def _name_index(names: tuple[Any, ...]) -> dict[str, int]:
    """Check the learner names (pattern, uniqueness) and return name -> index."""
    if set(map(type, names)) == {str}:
        lengths = set(map(len, names))
        if min(lengths) >= 1 and max(lengths) <= 64 and not _BAD_NAME_CHAR.search("".join(names)):
            index = dict(zip(names, range(len(names))))
            if len(index) == len(names):
                return index
    for name in names:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise GraphValueError(
                f"models.name: expected 1-64 letters, digits or underscores, found {name!r}"
            )
    index = {}
    for i, name in enumerate(names):
        if name in index:
            raise GraphValueError(f"models.name: duplicate learner name {name!r}; names must be unique")
        index[name] = i
    return index


if TYPE_CHECKING:  # pragma: no cover
    from .structure import GraphStructure

# --------------------------------------------------------------------------- graph
class InteractionGraph:
    r"""An interaction graph of learners, immutable once built.

    Build one with :meth:`from_networkx`, :meth:`from_dict`, :func:`load_graph` or a
    builder of :mod:`graphcollapse.theory.builders`; the constructor takes already-indexed data.

    Parameters
    ----------
    names : sequence of str
        Learner names, unique, matching :data:`NAME_PATTERN`.
    real_samples, initial_samples : sequence
        Per learner :math:`m_k \ge 0` and :math:`n^0_k > 0` (int, numpy integer, sympy
        Rational or symbol). Long columns of plain integers (lists or numpy integer
        arrays) are checked with numpy; the attributes hold Python ints either way.
    edges : iterable of (source, target, samples)
        Learner names (or indices) and :math:`n_{jk} > 0`; data flow from source to target.
    dimension : int or sympy expression
        The parameter dimension :math:`d \ge 1`.
    noise_variance : number
        The real label-noise variance :math:`\sigma^2 > 0`.
    synthetic_noise_variance : sequence, optional
        Per producer :math:`\sigma_j^2` (``None`` entries mean :math:`\sigma^2`).
    covariance : d x d nested sequence, optional
        The covariate covariance :math:`\Sigma` (identity when omitted).
    data_policy, real_data, design : str or sequence, optional
        The data regime (``docs/regimes.md``): per learner ``data_policy`` in
        :data:`DATA_POLICIES`, ``real_data`` and ``design`` in ``("fresh", "fixed")``. A
        single string sets the graph-level default; a sequence gives one value per learner
        (``None`` entries take the default).
    real_weight : value or sequence, optional
        Per learner the loss weight :math:`w_k > 0` of its real samples (default 1; may be
        a sympy symbol); a single value sets the graph-level default.
    edge_weights : value or sequence, optional
        The loss weight :math:`u_{jk} > 0` of each edge's synthetic samples, aligned with
        ``edges`` in input order (``None`` entries take the default); a single value sets
        the graph-level default.
    regime_defaults : mapping, optional
        Graph-level defaults for ``data_policy``, ``real_data``, ``design``,
        ``real_weight`` and ``weight`` (the JSON ``defaults`` object); unset keys keep
        :data:`REGIME_DEFAULTS`, today's behaviour.

    Raises
    ------
    GraphValueError, GraphTypeError
        On any invalid field, with a one-line message naming it.

    Examples
    --------
    >>> from graphcollapse.theory import InteractionGraph
    >>> G = InteractionGraph(["A", "B"], real_samples=[10, 0], initial_samples=[30, 30],
    ...                      edges=[("A", "B", 10), ("B", "B", 10)], dimension=5,
    ...                      noise_variance=1)
    >>> G.mixing_matrix
    Matrix([
    [  0,   0],
    [1/2, 1/2]])
    >>> G.real_fraction
    (1, 0)
    >>> H = G.replace(data_policy="accumulate")
    >>> H.data_policy, H.has_default_regime
    (('accumulate', 'accumulate'), False)
    """

    def __init__(
        self,
        names: Sequence[str],
        real_samples: Sequence[Any],
        initial_samples: Sequence[Any],
        edges: Iterable[tuple[Any, Any, Any]],
        *,
        dimension: Any,
        noise_variance: Any,
        synthetic_noise_variance: Sequence[Any] | None = None,
        covariance: Sequence[Sequence[Any]] | None = None,
        data_policy: Any = None,
        real_data: Any = None,
        design: Any = None,
        real_weight: Any = None,
        edge_weights: Any = None,
        regime_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        # Every stage below has a vectorised check for plain integer data (Python or numpy
        # ints) and the item-by-item check that also normalises sympy values; when the
        # vectorised check finds a problem, the item-by-item check runs from the first
        # offending item, so that the error is the one the item-by-item order gives.
        names = tuple(names)
        if not names:
            raise GraphValueError("models: the graph has no learners; give at least one model")
        index = _name_index(names)
        K = len(names)
        for field, seq in (("real_samples", real_samples), ("initial_samples", initial_samples)):
            if len(seq) != K:
                raise GraphValueError(f"{field}: expected {K} values (one per learner), found {len(seq)}")

        self.names: tuple[str, ...] = names
        self.index: dict[str, int] = index
        self.dimension = _normalise_number(dimension, "dimension", allow_float=False)
        if not _is_symbolic(self.dimension):
            if not isinstance(self.dimension, int) or self.dimension < 1:
                raise GraphValueError(f"dimension: expected a positive integer, found {self.dimension}")
        else:
            _check_sign(self.dimension, "dimension", positive=True)
        self.noise_variance = _normalise_number(noise_variance, "noise_variance", allow_float=True)
        _check_sign(self.noise_variance, "noise_variance", positive=True)

        real_arr = init_arr = None
        if K >= _VECTORISE_MIN:
            real_arr, init_arr = _int_column(real_samples), _int_column(initial_samples)
        start = None
        if real_arr is not None and init_arr is not None:
            bad = (real_arr < 0) | (init_arr < 1)
            if bad.any():
                start = int(np.argmax(bad))  # the check below raises there
            else:
                self.real_samples: tuple[Value, ...] = tuple(real_arr.tolist())
                self.initial_samples: tuple[Value, ...] = tuple(init_arr.tolist())
        if real_arr is None or init_arr is None or start is not None:
            real_arr = init_arr = None
            real, init = self._learner_counts(real_samples, initial_samples, start or 0)
            self.real_samples = tuple(real)
            self.initial_samples = tuple(init)

        snv: list[Value | None] = [None] * K
        if synthetic_noise_variance is not None:
            if len(synthetic_noise_variance) != K:
                raise GraphValueError(
                    f"synthetic_noise_variance: expected {K} values, found {len(synthetic_noise_variance)}"
                )
            seen_values: dict[Any, Value] = {}  # many learners share a few variances
            for k, v in enumerate(synthetic_noise_variance):
                if v is not None:
                    key = (type(v), v)
                    try:
                        v = seen_values[key]
                    except (KeyError, TypeError):
                        field = f"models[{names[k]}].synthetic_noise_variance"
                        w = _normalise_number(v, field, allow_float=True)
                        _check_sign(w, field, positive=True)
                        try:
                            seen_values[key] = w
                        except TypeError:
                            pass
                        v = w
                snv[k] = v
        self._synthetic_noise_variance = tuple(snv)

        if not isinstance(edges, _EdgeColumns):
            edges = edges if isinstance(edges, (list, tuple)) else list(edges)
        columns = edges if isinstance(edges, _EdgeColumns) else (
            _edge_columns(edges) if len(edges) >= _VECTORISE_MIN else None)
        fast = None if columns is None else self._edges_vectorised(columns)
        if fast is not None:
            src, tgt, num = fast
            self.edge_sources: tuple[int, ...] = tuple(src.tolist())
            self.edge_targets: tuple[int, ...] = tuple(tgt.tolist())
            self.edge_samples: tuple[Value, ...] = tuple(num.tolist())
        else:
            if isinstance(edges, _EdgeColumns):
                edges = list(zip(*edges))
            sources, targets, samples = self._edges_checked(edges, 0, set())
            self.edge_sources = tuple(sources)
            self.edge_targets = tuple(targets)
            self.edge_samples = tuple(samples)

        totals_arr = None
        if real_arr is not None and fast is not None:
            num = fast[2]
            largest = int(num.max()) if len(num) else 0
            if largest * len(num) + int(real_arr.max()) < 2**62:  # no int64 overflow
                totals_arr = real_arr.copy()
                np.add.at(totals_arr, fast[1], num)
        if totals_arr is not None:
            empty = totals_arr == 0
            if empty.any():
                self._no_data(int(np.argmax(empty)))
            self.total_samples: tuple[Value, ...] = tuple(totals_arr.tolist())
        else:
            totals: list[Value] = list(self.real_samples)
            for s, t, n in zip(self.edge_sources, self.edge_targets, self.edge_samples):
                totals[t] = totals[t] + n
            for k, total in enumerate(totals):
                if not _is_symbolic(total) and total == 0:
                    self._no_data(k)
            self.total_samples = tuple(totals)

        self.covariance: tuple[tuple[Value, ...], ...] | None = None
        if covariance is not None:
            self.covariance = _check_covariance(covariance, self.dimension)
        self._init_regime(dict(data_policy=data_policy, real_data=real_data, design=design,
                               real_weight=real_weight), edge_weights, regime_defaults)

    # ------------------------------------------------------------------ data regime
    def _init_regime(self, learner: dict[str, Any], edge_weights: Any,
                     defaults: Mapping[str, Any] | None) -> None:
        """Check and store the regime fields compactly: the graph-level defaults and, per
        field, a tuple of per-item overrides only when some item is given one (``None``
        otherwise, so that a graph of 10^6 default learners stores nothing per learner)."""
        resolved = dict(REGIME_DEFAULTS)
        if defaults is not None:
            if not isinstance(defaults, Mapping):
                raise GraphTypeError(f"defaults: expected an object, found {type(defaults).__name__}")
            unknown = set(defaults) - set(REGIME_DEFAULTS)
            if unknown:
                raise GraphValueError(f"defaults.{_first_key(unknown)}: unknown field; allowed are "
                                      f"{sorted(REGIME_DEFAULTS)}")
            for key, value in defaults.items():
                resolved[key] = _regime_value(value, key, f"defaults.{key}")
        K, E = len(self.names), len(self.edge_sources)
        overrides: dict[str, tuple[Any, ...] | None] = {}
        for key, given in list(learner.items()) + [("weight", edge_weights)]:
            overrides[key] = None
            if given is None:
                continue
            if isinstance(given, str) or not isinstance(given, (Sequence, np.ndarray)):
                field = "edge_weights" if key == "weight" else key
                resolved[key] = _regime_value(given, key, field)
                continue
            n = E if key == "weight" else K
            if len(given) != n:
                what = "one per edge" if key == "weight" else "one per learner"
                raise GraphValueError(f"{'edge_weights' if key == 'weight' else key}: expected {n} values "
                                      f"({what}), found {len(given)}")
            if not any(v is not None for v in given):
                continue
            cache: dict[Any, Any] = {}
            values = []
            for i, v in enumerate(given):
                if v is not None:
                    try:
                        v = cache[(type(v), v)]
                    except (KeyError, TypeError):
                        field = (f"edges[{self.names[self.edge_sources[i]]}->{self.names[self.edge_targets[i]]}].weight"
                                 if key == "weight" else f"models[{self.names[i]}].{key}")
                        w = _regime_value(v, key, field)
                        try:
                            cache[(type(v), v)] = w
                        except TypeError:
                            pass
                        v = w
                values.append(v)
            overrides[key] = tuple(values)
        self.regime_defaults: dict[str, Any] = resolved
        self._regime_overrides = overrides
        # combinations that no generation can realise
        if "fixed" in (resolved["design"], *(overrides["design"] or ())):
            for k in range(K):
                if self.design[k] != "fixed":
                    continue
                if self.data_policy[k] == "accumulate-subsample":
                    raise GraphValueError(
                        f"models[{self.names[k]}].design: fixed needs data_policy replace or accumulate "
                        "(a subsample of the pool is a different design every generation)")
                n0, N = self.initial_samples[k], self.total_samples[k]
                if not (_is_symbolic(n0) or _is_symbolic(N)) and n0 != N:
                    raise GraphValueError(
                        f"models[{self.names[k]}].design: fixed reuses one design of N_k = {N} rows from "
                        f"generation 0 on, so initial_samples must be {N}, found {n0}")

    def _regime_column(self, key: str) -> tuple[Any, ...]:
        default = self.regime_defaults[key]
        given = self._regime_overrides[key]
        if given is None:
            return (default,) * (len(self.edge_sources) if key == "weight" else len(self.names))
        return tuple(default if v is None else v for v in given)

    @cached_property
    def data_policy(self) -> tuple[str, ...]:
        """Per learner its data policy (:data:`DATA_POLICIES`; default ``"replace"``)."""
        return self._regime_column("data_policy")

    @cached_property
    def real_data(self) -> tuple[str, ...]:
        """Per learner ``"fresh"`` (new real samples every generation, the default) or
        ``"fixed"`` (one dataset of m_k samples drawn once and reused)."""
        return self._regime_column("real_data")

    @cached_property
    def design(self) -> tuple[str, ...]:
        """Per learner ``"fresh"`` (new covariates every sample, the default) or ``"fixed"``
        (one design of N_k rows drawn once and reused every generation; OLS only)."""
        return self._regime_column("design")

    @cached_property
    def real_weight(self) -> tuple[Value, ...]:
        """Per learner the loss weight of its real samples (default 1)."""
        return self._regime_column("real_weight")

    @cached_property
    def edge_weights(self) -> tuple[Value, ...]:
        """Per edge (aligned with :attr:`edge_sources`) the loss weight of its synthetic
        samples (default 1)."""
        return self._regime_column("weight")

    @cached_property
    def has_default_regime(self) -> bool:
        """Whether every regime field is at its default (replace, fresh real data, fresh
        design, unit weights): today's model of ``docs/theory.md``.

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> chain(2).has_default_regime, chain(2).replace(real_weight=[2, None]).has_default_regime
        (True, False)
        """
        for key, default in REGIME_DEFAULTS.items():
            if self.regime_defaults[key] != default:
                return False
            given = self._regime_overrides[key]
            if given is not None and any(v is not None and v != default for v in given):
                return False
        return True

    def regime_arguments(self) -> dict[str, Any]:
        """The constructor arguments that reproduce this graph's regime (graph-level
        defaults and per-item overrides), for :meth:`replace` and copies."""
        out: dict[str, Any] = {"regime_defaults": dict(self.regime_defaults)}
        for key in _LEARNER_REGIME:
            out[key] = self._regime_overrides[key]
        out["edge_weights"] = self._regime_overrides["weight"]
        return out

    # ------------------------------------------------------------------ helpers
    def _no_data(self, k: int) -> None:
        raise GraphValueError(
            f"models[{self.names[k]}]: the learner has no data (real_samples = 0 and no in-edges); "
            "give it real_samples or an in-edge"
        )

    def _learner_counts(self, real_samples: Sequence[Any], initial_samples: Sequence[Any],
                        start: int) -> tuple[list[Value], list[Value]]:
        """Normalise and check the per-learner counts one by one from learner ``start``."""
        real, init = [], []
        for k in range(start, len(self.names)):
            name = self.names[k]
            m = _normalise_number(real_samples[k], f"models[{name}].real_samples", allow_float=False)
            _check_sign(m, f"models[{name}].real_samples", positive=False)
            n0 = _normalise_number(initial_samples[k], f"models[{name}].initial_samples", allow_float=False)
            _check_sign(n0, f"models[{name}].initial_samples", positive=True)
            real.append(m)
            init.append(n0)
        return real, init

    def _edges_checked(self, edges: Iterable[Any], start: int,
                       seen: set[tuple[int, int]]) -> tuple[list[int], list[int], list[Value]]:
        """Resolve and check the edges one by one (``edges`` from position ``start``)."""
        names = self.names
        sources: list[int] = []
        targets: list[int] = []
        samples: list[Value] = []
        for edge in edges:
            if len(edge) != 3:
                raise GraphValueError(f"edges: expected (source, target, samples), found {edge!r}")
            s, t, n = edge
            s, t = self._resolve(s, "source"), self._resolve(t, "target")
            field = f"edges[{names[s]}->{names[t]}].samples"
            if (s, t) in seen:
                raise GraphValueError(f"edges: the edge {names[s]}->{names[t]} appears twice; merge the samples into one edge")
            seen.add((s, t))
            n = _normalise_number(n, field, allow_float=False)
            _check_sign(n, field, positive=True)
            sources.append(s)
            targets.append(t)
            samples.append(n)
        return sources, targets, samples

    def _edges_vectorised(self, columns: "_EdgeColumns") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Check integer edge columns with numpy: (sources, targets, samples) as int64
        arrays, or ``None`` when the columns are not plain integer data (names or indices,
        integer samples). On a problem, raises the error of the first offending edge."""
        K = len(self.names)
        src = self._index_column(columns.sources)
        tgt = self._index_column(columns.targets)
        num = _int_column(columns.samples)
        if src is None or tgt is None or num is None:
            return None
        E = len(num)
        if len(src) != E or len(tgt) != E:
            return None
        unresolved = (src < 0) | (tgt < 0)
        bad = unresolved | (num < 1)
        keys = np.where(unresolved, -1 - np.arange(E, dtype=np.int64), src * K + tgt)
        ordered = np.sort(keys)
        repeated = np.zeros(E, dtype=bool)
        if E > 1 and (ordered[1:] == ordered[:-1]).any():
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            repeated[order[1:][sorted_keys[1:] == sorted_keys[:-1]]] = True  # later occurrences
            bad |= repeated
        if bad.any():
            i = int(np.argmax(bad))
            edge = (columns.sources[i], columns.targets[i], columns.samples[i])
            seen = {(int(src[i]), int(tgt[i]))} if repeated[i] else set()
            self._edges_checked([edge], i, seen)  # raises the message of edge i
            return None  # pragma: no cover - the line above raises
        return src, tgt, num

    def _index_column(self, column: Sequence[Any]) -> np.ndarray | None:
        """Learner indices (int64, -1 where the name or index is not a learner) of a column
        of names or of integer indices; ``None`` for anything else."""
        if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
            idx = _int_column(column)
        else:
            try:
                types = set(map(type, column))
            except TypeError:
                return None
            if types <= {str}:
                try:
                    return np.fromiter(map(self.index.__getitem__, column), dtype=np.int64, count=len(column))
                except KeyError:  # some name is not a learner: -1 there
                    return np.array(list(map(self.index.get, column, repeat(-1))), dtype=np.int64)
            idx = _int_column(column)
        if idx is None:
            return None
        return np.where((idx >= 0) & (idx < len(self.names)), idx, -1)

    def _resolve(self, node: Any, role: str) -> int:
        if isinstance(node, str):
            if node not in self.index:
                raise GraphValueError(
                    f"edges.{role}: unknown learner {node!r}; declare it under models first"
                )
            return self.index[node]
        if isinstance(node, Integral) and not isinstance(node, bool) and 0 <= node < len(self.names):
            return int(node)
        raise GraphValueError(f"edges.{role}: expected a learner name, found {node!r}")

    def __repr__(self) -> str:
        return (
            f"InteractionGraph({len(self.names)} learners, {len(self.edge_sources)} edges, "
            f"d={self.dimension}, sigma^2={self.noise_variance})"
        )

    def describe(self) -> str:
        """A few readable lines: each learner's real data and whom it trains on.

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> print(chain(2).describe())
        d = 5, sigma^2 = 1
          L0: 10 real samples per generation (generation 0: 30)
          L1: trains on L0 (10); generation 0: 30 real samples
        """
        inputs: list[list[str]] = [[] for _ in self.names]
        for s, t, n in zip(self.edge_sources, self.edge_targets, self.edge_samples):
            inputs[t].append(f"{'itself' if s == t else self.names[s]} ({n})")
        lines = [f"d = {self.dimension}, sigma^2 = {self.noise_variance}"]
        for k, name in enumerate(self.names):
            parts = []
            m = self.real_samples[k]
            if not (isinstance(m, int) and m == 0):
                parts.append(f"{m} real samples per generation")
            if inputs[k]:
                parts.append("trains on " + ", ".join(inputs[k]))
            parts_text = ", ".join(parts)
            sep = "; generation 0: " if inputs[k] else " (generation 0: "
            tail = " real samples" if inputs[k] else ")"
            lines.append(f"  {name}: {parts_text}{sep}{self.initial_samples[k]}{tail}")
        if not self.has_default_regime:
            lines.extend(self._describe_regime())
        return "\n".join(lines)

    def _describe_regime(self) -> list[str]:
        """The regime lines of :meth:`describe`: the graph-level defaults, then each
        learner or edge that differs from them."""
        d = self.regime_defaults
        lines = [f"regime: data_policy = {d['data_policy']}, real_data = {d['real_data']}, "
                 f"design = {d['design']}, real_weight = {d['real_weight']}, edge weight = {d['weight']}"]
        for k, name in enumerate(self.names):
            diff = [f"{key} = {getattr(self, key)[k]}" for key in _LEARNER_REGIME
                    if getattr(self, key)[k] != d[key]]
            if diff:
                lines.append(f"  {name}: " + ", ".join(diff))
        if self._regime_overrides["weight"] is not None:
            for (s, t, _), w in zip(self.edges, self.edge_weights):
                if w != d["weight"]:
                    lines.append(f"  {s}->{t}: weight = {w}")
        return lines

    def __len__(self) -> int:
        return len(self.names)

    # ------------------------------------------------------------------ properties
    @property
    def num_learners(self) -> int:
        """Number of learners :math:`K`."""
        return len(self.names)

    @property
    def synthetic_noise_variance(self) -> tuple[Value, ...]:
        r"""Per producer :math:`\sigma_j^2` (defaults resolved to :math:`\sigma^2`)."""
        return tuple(self.noise_variance if v is None else v for v in self._synthetic_noise_variance)

    @property
    def edges(self) -> list[tuple[str, str, Value]]:
        """Edges as ``(source, target, samples)`` name triples, in input order."""
        return [
            (self.names[s], self.names[t], n)
            for s, t, n in zip(self.edge_sources, self.edge_targets, self.edge_samples)
        ]

    @cached_property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The sympy symbols appearing anywhere in the graph's parameters."""
        syms: set[sp.Symbol] = set()
        values = (
            [self.dimension, self.noise_variance]
            + list(self.real_samples)
            + list(self.initial_samples)
            + list(self.edge_samples)
            + [v for v in self._synthetic_noise_variance if v is not None]
            + [self.regime_defaults["real_weight"], self.regime_defaults["weight"]]
            + [v for key in ("real_weight", "weight") for v in (self._regime_overrides[key] or ())
               if v is not None]
        )
        for v in values:
            if isinstance(v, sp.Basic):
                syms |= v.free_symbols
        return frozenset(syms)

    @property
    def is_symbolic(self) -> bool:
        """Whether any parameter is a symbolic expression."""
        return bool(self.free_symbols)

    def has_real_data(self, k: int) -> bool | sp.Basic:
        r"""Whether learner ``k`` gets real data each generation: ``True``, ``False``, or
        the sympy Boolean :math:`m_k \ne 0` when :math:`m_k` is symbolic.

        Examples
        --------
        >>> import sympy as sp
        >>> from graphcollapse.theory.builders import self_training
        >>> m = sp.Symbol("m", nonnegative=True)
        >>> self_training(real_samples=m).has_real_data(0)
        Ne(m, 0)
        """
        m = self.real_samples[k]
        if _is_symbolic(m):
            if m.is_positive:
                return True
            return sp.Ne(m, 0)
        return bool(m > 0)

    @cached_property
    def digraph(self) -> nx.DiGraph:
        """A bare networkx DiGraph on learner indices (data flow direction, no attributes)."""
        G = nx.DiGraph()
        G.add_nodes_from(range(self.num_learners))
        G.add_edges_from(zip(self.edge_sources, self.edge_targets))
        return G

    @cached_property
    def structure(self) -> "GraphStructure":
        """The graph's structure (components in topological order, condensation, levels,
        periods, cyclic classes, reachability), computed once and shared by every graph
        with the same learners and edges (see :mod:`graphcollapse.theory.structure`).

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> G = chain(3)
        >>> G.structure.num_components, G.structure.ancestors(2).tolist()
        (3, [0, 1, 2])
        >>> G.with_real_samples({"L2": 1}).structure is G.structure
        True
        """
        from .structure import GraphStructure

        return GraphStructure(self.num_learners, self.edge_sources, self.edge_targets)

    @property
    def adjacency(self):
        """Sparse 0/1 adjacency (scipy CSR, float64) with ``A[source, target] = 1``."""
        return self.structure.adjacency

    @cached_property
    def derived(self) -> dict[str, Any]:
        """Objects derived from this graph's exact values, cached by the functions that
        compute them (e.g. :func:`graphcollapse.theory.collapse_condition`); the graph is
        immutable, so a cached object never goes stale."""
        return {}

    @cached_property
    def mixing_matrix(self) -> sp.Matrix:
        r"""The exact mixing matrix :math:`W_{kj} = n_{jk} / N_k` (sympy Matrix).

        Examples
        --------
        >>> from graphcollapse.theory.builders import cycle
        >>> cycle(3, real_samples=0, samples=5).mixing_matrix
        Matrix([
        [0, 0, 1],
        [1, 0, 0],
        [0, 1, 0]])
        """
        K = self.num_learners
        W = sp.zeros(K, K)
        for s, t, n in zip(self.edge_sources, self.edge_targets, self.edge_samples):
            W[t, s] = sp.cancel(_as_sympy(n) / _as_sympy(self.total_samples[t]))
        return W

    def mixing_matrix_float(self):
        """The mixing matrix as a scipy CSR matrix of floats (for large graphs).

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> chain(2, samples=10, real_samples=10).mixing_matrix_float().toarray()
        array([[0. , 0. ],
               [0.5, 0. ]])
        """
        from scipy.sparse import csr_matrix

        self._require_numeric("mixing_matrix_float")
        K = self.num_learners
        tot = np.array(self.total_samples, dtype=float)
        src = np.asarray(self.edge_sources, dtype=np.int64)
        tgt = np.asarray(self.edge_targets, dtype=np.int64)
        vals = np.array(self.edge_samples, dtype=float) / tot[tgt]
        return csr_matrix((vals, (tgt, src)), shape=(K, K))

    @cached_property
    def real_fraction(self) -> tuple[sp.Expr, ...]:
        r"""Exact real-data fractions :math:`\alpha_k = m_k / N_k`."""
        return tuple(
            sp.cancel(_as_sympy(m) / _as_sympy(n)) for m, n in zip(self.real_samples, self.total_samples)
        )

    def _require_numeric(self, what: str) -> None:
        if self.is_symbolic:
            names = ", ".join(sorted(map(str, self.free_symbols)))
            raise GraphTypeError(f"{what}: needs numeric parameters, but the graph has symbols ({names}); substitute them first")

    # ------------------------------------------------------------------ transforms
    def subs(self, mapping: Mapping[Any, Any]) -> "InteractionGraph":
        """A copy with sympy symbols substituted (``mapping`` as for ``sympy.Expr.subs``).

        Examples
        --------
        >>> import sympy as sp
        >>> from graphcollapse.theory.builders import self_training
        >>> m = sp.Symbol("m", nonnegative=True)
        >>> self_training(real_samples=m).subs({m: 0}).real_samples
        (0,)
        """

        def sub(v: Any) -> Any:
            if isinstance(v, sp.Basic):
                return v.subs(mapping)
            return v

        return self.replace(
            real_samples=[sub(v) for v in self.real_samples],
            initial_samples=[sub(v) for v in self.initial_samples],
            edges=[(s, t, sub(n)) for s, t, n in self.edges],
            dimension=sub(self.dimension),
            noise_variance=sub(self.noise_variance),
            synthetic_noise_variance=[None if v is None else sub(v) for v in self._synthetic_noise_variance],
            regime_defaults={key: sub(v) for key, v in self.regime_defaults.items()},
            real_weight=None if self._regime_overrides["real_weight"] is None
            else [None if v is None else sub(v) for v in self._regime_overrides["real_weight"]],
            edge_weights=None if self._regime_overrides["weight"] is None
            else [None if v is None else sub(v) for v in self._regime_overrides["weight"]],
        )

    def replace(self, **changes: Any) -> "InteractionGraph":
        """A copy with some constructor arguments replaced.

        Examples
        --------
        >>> from graphcollapse.theory.builders import self_training
        >>> self_training(real_samples=0).replace(real_samples=[5]).real_samples
        (5,)
        """
        kwargs: dict[str, Any] = dict(
            names=self.names,
            real_samples=self.real_samples,
            initial_samples=self.initial_samples,
            edges=self.edges,
            dimension=self.dimension,
            noise_variance=self.noise_variance,
            synthetic_noise_variance=self._synthetic_noise_variance,
            covariance=self.covariance,
            **self.regime_arguments(),
        )
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise GraphTypeError(f"replace: unknown field(s) {sorted(unknown)}")
        if "edges" in changes and "edge_weights" not in changes and kwargs["edge_weights"] is not None:
            # new edges keep the weight of the old edge with the same endpoints
            old = {(s, t): w for (s, t, _), w in zip(self.edges, kwargs["edge_weights"])}
            new_edges = list(changes["edges"])
            changes["edges"] = new_edges
            changes["edge_weights"] = [old.get((self.names[s] if isinstance(s, int) else s,
                                                self.names[t] if isinstance(t, int) else t))
                                       for s, t, *_ in new_edges]
        for key in ("data_policy", "real_data", "design", "real_weight", "edge_weights"):
            value = changes.get(key)
            if value is not None and (isinstance(value, str) or not isinstance(value, (Sequence, np.ndarray))):
                # one value for every item: it replaces the default and every override
                changes[key] = None
                changes["regime_defaults"] = {**changes.get("regime_defaults", kwargs["regime_defaults"]),
                                              ("weight" if key == "edge_weights" else key): value}
        kwargs.update(changes)
        names = kwargs.pop("names")
        new = InteractionGraph(names, **kwargs)
        if new.edge_sources == self.edge_sources and new.edge_targets == self.edge_targets:
            new.__dict__["structure"] = self.structure  # same topology, same structure
        return new

    def with_real_samples(self, extra: Mapping[str, Any]) -> "InteractionGraph":
        """A copy where the named learners get the given real samples per generation
        *added* to what they have.

        Examples
        --------
        >>> from graphcollapse.theory.builders import cycle
        >>> cycle(2, real_samples=0).with_real_samples({"L1": 4}).real_samples
        (0, 4)
        """
        real = list(self.real_samples)
        for name, amount in extra.items():
            real[self._resolve(name, "name")] = real[self._resolve(name, "name")] + amount
        return self.replace(real_samples=real)

    def relabel(self, mapping: Mapping[str, str] | None = None, order: Sequence[str] | None = None) -> "InteractionGraph":
        """A copy with learners renamed (``mapping``) and/or reordered (``order``, old names).

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> chain(2).relabel({"L0": "first"}, order=["L1", "L0"]).names
        ('L1', 'first')
        """
        mapping = dict(mapping or {})
        order = list(order) if order is not None else list(self.names)
        if sorted(order) != sorted(self.names):
            raise GraphValueError("relabel.order: expected a permutation of the learner names")
        idx = [self.index[n] for n in order]
        ren = lambda n: mapping.get(n, n)  # noqa: E731
        return InteractionGraph(
            [ren(self.names[i]) for i in idx],
            real_samples=[self.real_samples[i] for i in idx],
            initial_samples=[self.initial_samples[i] for i in idx],
            edges=[(ren(s), ren(t), n) for s, t, n in self.edges],
            dimension=self.dimension,
            noise_variance=self.noise_variance,
            synthetic_noise_variance=[self._synthetic_noise_variance[i] for i in idx],
            covariance=self.covariance,
            regime_defaults=self.regime_defaults,
            **{key: None if self._regime_overrides[key] is None else [self._regime_overrides[key][i] for i in idx]
               for key in _LEARNER_REGIME},
            edge_weights=self._regime_overrides["weight"],
        )

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_networkx(cls, G: nx.DiGraph) -> "InteractionGraph":
        """Build from a networkx ``DiGraph``.

        Graph attributes ``dimension``, ``noise_variance`` (and optional ``covariance`` and
        ``defaults``, the regime defaults); node attributes ``real_samples``,
        ``initial_samples`` and optional ``synthetic_noise_variance``, ``data_policy``,
        ``real_data``, ``design``, ``real_weight``; edge attribute ``samples`` and optional
        ``weight``. Node keys become names.

        Examples
        --------
        >>> import networkx as nx
        >>> from graphcollapse.theory import InteractionGraph
        >>> G = nx.DiGraph(dimension=3, noise_variance=1)
        >>> G.add_node("A", real_samples=10, initial_samples=20)
        >>> G.add_node("B", real_samples=0, initial_samples=20)
        >>> G.add_edge("A", "B", samples=5)
        >>> InteractionGraph.from_networkx(G).mixing_matrix
        Matrix([
        [0, 0],
        [1, 0]])
        """
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise GraphTypeError(f"graph: expected a networkx DiGraph, found {type(G).__name__}")
        if G.number_of_nodes() == 0:
            raise GraphValueError("models: the graph has no learners; add at least one node")
        for key in ("dimension", "noise_variance"):
            if key not in G.graph:
                raise GraphValueError(f"{key}: missing graph attribute; set G.graph[{key!r}]")
        names = [str(n) for n in G.nodes]
        data = []
        for n in G.nodes:
            attrs = G.nodes[n]
            for key in ("real_samples", "initial_samples"):
                if key not in attrs:
                    raise GraphValueError(f"models[{_label(n)}].{key}: missing node attribute")
            data.append(attrs)
        edges = []
        for s, t, attrs in G.edges(data=True):
            if "samples" not in attrs:
                raise GraphValueError(f"edges[{_label(s)}->{_label(t)}].samples: missing edge attribute")
            edges.append((str(s), str(t), attrs["samples"]))
        regime: dict[str, Any] = {}
        for key in _LEARNER_REGIME:
            if any(key in a for a in data):
                regime[key] = [a.get(key) for a in data]
        if any("weight" in a for _, _, a in G.edges(data=True)):
            regime["edge_weights"] = [a.get("weight") for _, _, a in G.edges(data=True)]
        return cls(
            names,
            real_samples=[a["real_samples"] for a in data],
            initial_samples=[a["initial_samples"] for a in data],
            edges=edges,
            dimension=G.graph["dimension"],
            noise_variance=G.graph["noise_variance"],
            synthetic_noise_variance=[a.get("synthetic_noise_variance") for a in data],
            covariance=G.graph.get("covariance"),
            regime_defaults=G.graph.get("defaults"),
            **regime,
        )

    def to_networkx(self) -> nx.DiGraph:
        """The graph as an attributed networkx ``DiGraph`` (inverse of :meth:`from_networkx`).

        Examples
        --------
        >>> from graphcollapse.theory.builders import chain
        >>> sorted(chain(3).to_networkx().edges(data="samples"))
        [('L0', 'L1', 10), ('L1', 'L2', 10)]
        """
        G = nx.DiGraph(dimension=self.dimension, noise_variance=self.noise_variance)
        if self.covariance is not None:
            G.graph["covariance"] = [list(r) for r in self.covariance]
        for k, name in enumerate(self.names):
            attrs = dict(real_samples=self.real_samples[k], initial_samples=self.initial_samples[k])
            if self._synthetic_noise_variance[k] is not None:
                attrs["synthetic_noise_variance"] = self._synthetic_noise_variance[k]
            for key in _LEARNER_REGIME:
                given = self._regime_overrides[key]
                if given is not None and given[k] is not None:
                    attrs[key] = given[k]
            G.add_node(name, **attrs)
        if self.regime_defaults != REGIME_DEFAULTS:
            G.graph["defaults"] = {k: v for k, v in self.regime_defaults.items() if v != REGIME_DEFAULTS[k]}
        weights = self._regime_overrides["weight"] or repeat(None)
        for (s, t, n), w in zip(self.edges, weights):
            if w is None:
                G.add_edge(s, t, samples=n)
            else:
                G.add_edge(s, t, samples=n, weight=w)
        return G

    @classmethod
    def from_dict(cls, data: Any) -> "InteractionGraph":
        """Build from the JSON-format dictionary (see ``docs/format.md`` and
        :func:`graphcollapse.theory.schema.graph_schema`); counts must be integers.

        Examples
        --------
        >>> from graphcollapse.theory import InteractionGraph
        >>> G = InteractionGraph.from_dict({
        ...     "dimension": 5, "noise_variance": 1.0,
        ...     "models": [{"name": "A", "initial_samples": 30, "real_samples": 0}],
        ...     "edges": [{"source": "A", "target": "A", "samples": 10}]})
        >>> G.mixing_matrix
        Matrix([[1]])
        """
        if not isinstance(data, dict):
            raise GraphTypeError(f"graph: expected a JSON object at the top level, found {_json_type(data)}")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise GraphValueError(
                f"{_first_key(unknown)}: unknown field; allowed top-level fields are {sorted(_TOP_KEYS)}"
            )
        version = data.get("format_version", FORMAT_VERSION)
        if isinstance(version, bool) or version != FORMAT_VERSION:
            raise GraphValueError(f"format_version: expected {FORMAT_VERSION}, found {version!r}")
        for key in ("dimension", "noise_variance", "models"):
            if key not in data:
                raise GraphValueError(f"{key}: missing required field")
        dimension = _json_int(data["dimension"], "dimension", minimum=1)
        noise = _json_positive(data["noise_variance"], "noise_variance")
        models = data["models"]
        if isinstance(models, dict):  # the columnar layout: one list per field
            models = _model_table(models)
        if not isinstance(models, (list, tuple)):
            raise GraphTypeError(f"models: expected a list of learner objects (or an object of columns), found {_json_type(models)}")
        if not models:
            raise GraphValueError("models: the graph has no learners; give at least one model")
        columns = models if isinstance(models, tuple) else _model_columns(models)
        if columns is None:
            columns = _model_items(models)
        names, init, real, snv = columns
        models = models if isinstance(models, list) else []  # the rows the regime keys are read from
        raw_edges = data.get("edges", [])
        edges = None
        if isinstance(raw_edges, dict):
            raw_edges = _edge_table(raw_edges, names)
            if isinstance(raw_edges, _EdgeColumns):
                edges, raw_edges = raw_edges, []
        if not isinstance(raw_edges, list):
            raise GraphTypeError(f"edges: expected a list of edge objects (or an object of columns), found {_json_type(raw_edges)}")
        if edges is None:
            edges = _edge_object_columns(raw_edges)
        if edges is None:
            edges = _edge_items(raw_edges)
        covariance = data.get("covariance")
        if covariance is not None:
            if not isinstance(covariance, list) or not all(isinstance(r, list) for r in covariance):
                raise GraphTypeError("covariance: expected a d x d list of lists of numbers")
            covariance = [[_json_number(x, "covariance") for x in row] for row in covariance]
        regime: dict[str, Any] = {}
        defaults = data.get("defaults")
        if defaults is not None:
            if not isinstance(defaults, dict):
                raise GraphTypeError(f"defaults: expected an object, found {_json_type(defaults)}")
            regime["regime_defaults"] = {k: _json_regime(v, k, f"defaults.{k}") for k, v in defaults.items()
                                         if k in REGIME_DEFAULTS} | {k: v for k, v in defaults.items()
                                                                       if k not in REGIME_DEFAULTS}
        if sum(map(len, models)) > 3 * len(models):  # some optional model key: look for regime keys
            for key in _LEARNER_REGIME:
                if any(key in m for m in models):
                    regime[key] = [None if key not in m else _json_regime(m[key], key, f"models[{_label(n)}].{key}")
                                   for m, n in zip(models, names)]
        if raw_edges and sum(map(len, raw_edges)) > 3 * len(raw_edges):
            if any("weight" in e for e in raw_edges):
                regime["edge_weights"] = [None if "weight" not in e else _json_regime(e["weight"], "weight", f"edges[{i}].weight")
                                          for i, e in enumerate(raw_edges)]
        return cls(
            names, real_samples=real, initial_samples=init, edges=edges, dimension=dimension,
            noise_variance=noise, synthetic_noise_variance=snv, covariance=covariance, **regime,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-format dictionary: counts as integers (a non-integer count raises),
        variances and covariance entries as JSON numbers (floats unless integral).

        Examples
        --------
        >>> from graphcollapse.theory.builders import self_training
        >>> self_training(real_samples=5, samples=10, dimension=2)
        InteractionGraph(1 learners, 1 edges, d=2, sigma^2=1)
        >>> self_training(real_samples=5, samples=10, dimension=2).to_dict()["edges"]
        [{'source': 'L0', 'target': 'L0', 'samples': 10}]
        """
        self._require_numeric("to_dict")
        models = []
        for k, name in enumerate(self.names):
            entry: dict[str, Any] = {
                "name": name,
                "initial_samples": _to_json_int(self.initial_samples[k], f"models[{name}].initial_samples"),
                "real_samples": _to_json_int(self.real_samples[k], f"models[{name}].real_samples"),
            }
            if self._synthetic_noise_variance[k] is not None:
                entry["synthetic_noise_variance"] = _to_json_number(self._synthetic_noise_variance[k])
            for key in _LEARNER_REGIME:
                given = self._regime_overrides[key]
                if given is not None and given[k] is not None:
                    entry[key] = _to_json_number(given[k]) if key == "real_weight" else given[k]
            models.append(entry)
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "dimension": self.dimension,
            "noise_variance": _to_json_number(self.noise_variance),
            "models": models,
            "edges": [
                {"source": s, "target": t, "samples": _to_json_int(n, f"edges[{s}->{t}].samples")}
                for s, t, n in self.edges
            ],
        }
        if self.covariance is not None:
            out["covariance"] = [[_to_json_number(x) for x in row] for row in self.covariance]
        if self.regime_defaults != REGIME_DEFAULTS:
            out["defaults"] = {k: (_to_json_number(v) if k in ("real_weight", "weight") else v)
                               for k, v in self.regime_defaults.items() if v != REGIME_DEFAULTS[k]}
        if self._regime_overrides["weight"] is not None:
            for entry, w in zip(out["edges"], self._regime_overrides["weight"]):
                if w is not None:
                    entry["weight"] = _to_json_number(w)
        return out

    def dumps(self) -> str:
        """The graph as JSON text (see :meth:`to_dict`).

        Examples
        --------
        >>> from graphcollapse.theory.builders import self_training
        >>> from graphcollapse.theory import InteractionGraph
        >>> G = self_training(real_samples=3)
        >>> InteractionGraph.from_dict(__import__("json").loads(G.dumps())).real_samples
        (3,)
        """
        return json.dumps(self.to_dict(), indent=1)


# --------------------------------------------------------------------------- JSON helpers
def _json_type(x: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(x), type(x).__name__
    )


def _json_int(x: Any, field: str, *, minimum: int) -> int:
    if isinstance(x, _OutOfRange):
        if not x.integer:
            raise GraphTypeError(f"{field}: expected an integer count, found the number {x.describe()}")
        raise x.error(field)
    if isinstance(x, sp.Rational):
        raise GraphTypeError(f"{field}: expected an integer count, found the number {x} written with a decimal point or exponent")
    if isinstance(x, np.integer):
        x = int(x)
    if isinstance(x, bool) or not isinstance(x, int):
        raise GraphTypeError(f"{field}: expected an integer, found {_json_type(x)} {x!r}")
    if x < minimum:
        raise GraphValueError(f"{field}: expected an integer >= {minimum}, found {_show_int(x)}")
    if x > MAX_COUNT:
        raise GraphValueError(f"{field}: expected an integer <= 2^53, found {_show_int(x)}")
    return x


def _show_int(x: int) -> str:
    """``x`` in full, or its number of digits when it is long."""
    if abs(x) < 10**30:
        return str(x)
    digits = int(abs(x).bit_length() * math.log10(2)) + 1
    if 10 ** (digits - 1) > abs(x):
        digits -= 1
    return f"an integer with {digits} digits"


def _json_number(x: Any, field: str) -> Value:
    if isinstance(x, _OutOfRange):
        raise x.error(field)
    if isinstance(x, bool) or not isinstance(x, (int, float, sp.Rational, np.integer, np.floating)):
        raise GraphTypeError(f"{field}: expected a number, found {_json_type(x)} {x!r}")
    if isinstance(x, (float, np.floating)) and not math.isfinite(x):
        raise GraphValueError(f"{field}: expected a finite number, found {x!r}")
    if isinstance(x, (int, np.integer)) and abs(int(x)) > MAX_COUNT:
        raise GraphValueError(f"{field}: expected a number of magnitude <= 2^53 when written as an integer, "
                              f"found {_show_int(int(x))}")
    return _normalise_number(x, field, allow_float=True)


def _json_regime(x: Any, key: str, field: str) -> Any:
    """A regime value of a JSON file: a choice (string) or a positive JSON number."""
    if key in ("real_weight", "weight"):
        return _json_positive(x, field)
    return _regime_value(x, key, field)


def _json_positive(x: Any, field: str) -> Value:
    v = _json_number(x, field)
    if not v > 0:
        raise GraphValueError(f"{field}: expected a positive number, found {x!r}")
    return v


def _int_values(values: list[Any], minimum: int) -> np.ndarray | None:
    """A column of JSON integers in ``[minimum, MAX_COUNT]`` as int64, or ``None``."""
    if not set(map(type, values)) <= {int}:
        return None
    try:
        arr = np.array(values, dtype=np.int64)
    except OverflowError:
        return None
    if arr.size and (arr.min() < minimum or arr.max() > MAX_COUNT):
        return None
    return arr


def _model_columns(models: list[Any]) -> tuple[list[str], np.ndarray, np.ndarray, list[Any]] | None:
    """The learner columns of well-formed plain-integer model objects, checked with numpy
    (``None`` when anything needs the item-by-item check of :func:`_model_items`)."""
    if set(map(type, models)) != {dict}:
        return None
    try:
        names = list(map(itemgetter("name"), models))
        init = list(map(itemgetter("initial_samples"), models))
        real = list(map(itemgetter("real_samples"), models))
    except KeyError:
        return None
    has_snv = sum(map(methodcaller("__contains__", "synthetic_noise_variance"), models))
    if sum(map(len, models)) != 3 * len(models) + has_snv:  # an unknown field
        return None
    if set(map(type, names)) != {str}:
        return None
    init_arr, real_arr = _int_values(init, 1), _int_values(real, 0)
    if init_arr is None or real_arr is None:
        return None
    snv: list[Any] = [None] * len(models)
    if has_snv:
        values = list(map(methodcaller("get", "synthetic_noise_variance"), models))
        checked: dict[Any, Value] = {}
        for k, v in enumerate(values):
            if v is None:
                continue
            try:
                snv[k] = checked[(type(v), v)]
            except KeyError:
                snv[k] = checked[(type(v), v)] = _json_positive(v, f"models[{_label(names[k])}].synthetic_noise_variance")
            except TypeError:  # unhashable: not a number, so this raises
                snv[k] = _json_positive(v, f"models[{_label(names[k])}].synthetic_noise_variance")
    return names, init_arr, real_arr, snv


def _model_items(models: list[Any]) -> tuple[list[str], list[int], list[int], list[Any]]:
    """Check the model objects one by one (raises the error of the first bad one)."""
    names, real, init, snv = [], [], [], []
    for i, model in enumerate(models):
        where = f"models[{i}]"
        if not isinstance(model, dict):
            raise GraphTypeError(f"{where}: expected an object, found {_json_type(model)}")
        unknown = set(model) - _MODEL_KEYS
        if unknown:
            raise GraphValueError(f"{where}.{_first_key(unknown)}: unknown field; allowed are {sorted(_MODEL_KEYS)}")
        for key in ("name", "initial_samples", "real_samples"):
            if key not in model:
                raise GraphValueError(f"{where}.{key}: missing required field")
        name = model["name"]
        if not isinstance(name, str):
            raise GraphTypeError(f"{where}.name: expected a string, found {_json_type(name)}")
        where = f"models[{_label(name)}]"
        names.append(name)
        init.append(_json_int(model["initial_samples"], f"{where}.initial_samples", minimum=1))
        real.append(_json_int(model["real_samples"], f"{where}.real_samples", minimum=0))
        v = model.get("synthetic_noise_variance")
        snv.append(None if v is None else _json_positive(v, f"{where}.synthetic_noise_variance"))
    return names, init, real, snv


_MODEL_TABLE_KEYS = ("name", "initial_samples", "real_samples")
_EDGE_TABLE_KEYS = ("source", "target", "samples")


def _table(obj: dict[str, Any], field: str, required: tuple[str, ...], allowed: set[str]) -> int:
    """Check a columnar table (an object of equally long lists); return its length."""
    for key in obj:
        if key not in allowed:
            raise GraphValueError(f"{field}.{key}: unknown column; allowed columns are {sorted(allowed)}")
    for key in required:
        if key not in obj:
            raise GraphValueError(f"{field}.{key}: missing column (the columnar layout needs {', '.join(required)})")
    n = None
    for key, column in obj.items():
        if not isinstance(column, list):
            raise GraphTypeError(f"{field}.{key}: expected a list (one entry per row), found {_json_type(column)}")
        if n is None:
            n = len(column)
        elif len(column) != n:
            raise GraphValueError(f"{field}.{key}: expected {n} entries (as many as {field}.{required[0]}), "
                                  f"found {len(column)}")
    return n or 0


def _rows(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The row objects of a columnar table (null entries are absent fields)."""
    keys = list(obj)
    return [{k: v for k, v in zip(keys, row) if v is not None} for row in zip(*obj.values())]


def _model_table(models: dict[str, Any]) -> Any:
    """Columnar models: the learner columns when every value is plain, else the row objects
    (whose item-by-item check names the learner)."""
    _table(models, "models", _MODEL_TABLE_KEYS, set(_MODEL_KEYS) | set(_LEARNER_REGIME))
    if set(models) == set(_MODEL_TABLE_KEYS) and set(map(type, models["name"])) == {str}:
        init, real = _int_values(models["initial_samples"], 1), _int_values(models["real_samples"], 0)
        if init is not None and real is not None:
            return models["name"], init, real, [None] * len(init)
    return _rows(models)


def _edge_table(edges: dict[str, Any], names: Sequence[str]) -> Any:
    """Columnar edges: an :class:`_EdgeColumns` when every value is plain (sources and
    targets all names or all learner indices), else the row objects."""
    _table(edges, "edges", _EDGE_TABLE_KEYS, set(_EDGE_KEYS) | {"weight"})
    kinds = set(map(type, edges["source"])) | set(map(type, edges["target"]))
    if kinds == {str, int}:
        raise GraphValueError("edges.source, edges.target: give learner names or learner indices throughout, not both")
    if kinds == {int}:  # learner indices: check the range here, then use the names
        K = len(names)
        arrays = {}
        for key in ("source", "target"):
            try:
                arrays[key] = arr = np.array(edges[key], dtype=np.int64)
                ok = not arr.size or (arr.min() >= 0 and arr.max() < K)
            except OverflowError:
                ok = False
            if not ok:
                i = next(i for i, v in enumerate(edges[key]) if not 0 <= v < K)
                raise GraphValueError(f"edges.{key}[{i}]: learner index {edges[key][i]} is out of range "
                                      f"0..{K - 1}; indices count the learners of models.name from 0")
        if set(edges) == set(_EDGE_TABLE_KEYS):
            samples = _int_values(edges["samples"], 1)
            if samples is not None:
                return _EdgeColumns(arrays["source"], arrays["target"], samples)
        edges = dict(edges, source=[names[j] for j in edges["source"]], target=[names[j] for j in edges["target"]])
    elif set(edges) == set(_EDGE_TABLE_KEYS) and kinds <= {str}:
        samples = _int_values(edges["samples"], 1)
        if samples is not None:
            return _EdgeColumns(edges["source"], edges["target"], samples)
    return _rows(edges)


def _edge_object_columns(edges: list[Any]) -> _EdgeColumns | None:
    """The columns of well-formed edge objects with plain integer samples (``None`` when
    anything needs the item-by-item check of :func:`_edge_items`)."""
    if not edges:
        return _EdgeColumns((), (), ())
    if set(map(type, edges)) != {dict} or sum(map(len, edges)) != 3 * len(edges):
        return None
    try:
        sources = list(map(itemgetter("source"), edges))
        targets = list(map(itemgetter("target"), edges))
        samples = _int_values(list(map(itemgetter("samples"), edges)), 1)
    except KeyError:
        return None
    if samples is None or not set(map(type, sources)) | set(map(type, targets)) <= {str}:
        return None
    return _EdgeColumns(sources, targets, samples)


def _edge_items(edges: list[Any]) -> list[tuple[str, str, int]]:
    """Check the edge objects one by one (raises the error of the first bad one)."""
    out = []
    for i, edge in enumerate(edges):
        where = f"edges[{i}]"
        if not isinstance(edge, dict):
            raise GraphTypeError(f"{where}: expected an object, found {_json_type(edge)}")
        unknown = set(edge) - _EDGE_KEYS
        if unknown:
            raise GraphValueError(f"{where}.{_first_key(unknown)}: unknown field; allowed are {sorted(_EDGE_KEYS)}")
        for key in ("source", "target", "samples"):
            if key not in edge:
                raise GraphValueError(f"{where}.{key}: missing required field")
        for key in ("source", "target"):
            if not isinstance(edge[key], str):
                raise GraphTypeError(f"{where}.{key}: expected a learner name (string), found {_json_type(edge[key])}")
        out.append((edge["source"], edge["target"], _json_int(edge["samples"], f"{where}.samples", minimum=1)))
    return out


def _to_json_int(v: Value, field: str) -> int:
    if isinstance(v, int):
        return v
    raise GraphValueError(f"{field}: {v} is not an integer, so it cannot be written in the JSON format")


def _to_json_number(v: Value) -> int | float:
    if isinstance(v, int):
        return v
    return float(v)


def _check_covariance(cov: Sequence[Sequence[Any]], d: Any) -> tuple[tuple[Value, ...], ...]:
    if _is_symbolic(d):
        raise GraphValueError("covariance: needs a numeric dimension")
    try:
        rows = [list(r) for r in cov]
    except TypeError:
        raise GraphTypeError("covariance: expected a d x d nested sequence of numbers") from None
    if len(rows) != d:
        raise GraphValueError(f"covariance: expected a {d} x {d} matrix, found {len(rows)} rows")
    for i, r in enumerate(rows):
        if len(r) != d:
            raise GraphValueError(f"covariance: expected a {d} x {d} matrix, found {len(r)} entries in row {i + 1}; "
                                  f"give every row {d} entries")
    M = sp.Matrix([[_normalise_number(x, "covariance", allow_float=True) for x in r] for r in rows])
    if M.free_symbols:
        raise GraphValueError("covariance: expected numbers, found symbols")
    if M != M.T:
        raise GraphValueError("covariance: expected a symmetric matrix; make covariance[i][j] equal covariance[j][i]")
    # exact positive-definiteness test: all leading principal minors positive (Sylvester)
    for i in range(1, d + 1):
        if not M[:i, :i].det(method="bareiss") > 0:
            raise GraphValueError("covariance: expected a positive-definite matrix, found a singular or indefinite one")
    return tuple(tuple(_normalise_number(x, "covariance", allow_float=True) for x in r) for r in M.tolist())


def load_graph(source: str | os.PathLike[str] | Mapping[str, Any]) -> InteractionGraph:
    """Load an interaction graph from a file, JSON text or a parsed dictionary.

    A path is read by its suffix: ``.npz`` (numpy columns), ``.parquet`` (needs
    pyarrow), ``.graphml`` and ``.edgelist`` (through networkx), anything else as JSON
    (see ``docs/format.md``). JSON numbers are read exactly: ``0.1`` is the rational
    ``1/10``.

    Parameters
    ----------
    source : str, path-like or mapping
        A file path, JSON text (a string starting with ``{``) or the JSON-format
        dictionary.

    Returns
    -------
    InteractionGraph

    Raises
    ------
    GraphTypeError
        When ``source`` is none of these (bytes, ``None``, a number...).
    GraphValueError
        On a missing file, malformed JSON or invalid content (one-line message).

    Examples
    --------
    >>> from graphcollapse.theory import load_graph
    >>> G = load_graph('{"dimension": 2, "noise_variance": 0.5, '
    ...                '"models": [{"name": "A", "initial_samples": 10, "real_samples": 4}]}')
    >>> G.noise_variance
    1/2
    >>> load_graph(None)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphTypeError: graph: expected a file path, JSON text or a dictionary, found None
    """
    if isinstance(source, Mapping):
        return InteractionGraph.from_dict(dict(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise GraphTypeError(
            f"graph: expected a file path, JSON text or a dictionary, found {type(source).__name__}; "
            "decode JSON bytes first (data.decode('utf-8'))"
        )
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return InteractionGraph.from_dict(_parse_graph_text(source))
    if not isinstance(source, (str, os.PathLike)):
        found = "None" if source is None else type(source).__name__
        raise GraphTypeError(f"graph: expected a file path, JSON text or a dictionary, found {found}")
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".parquet", ".graphml", ".edgelist"):
        from . import graphio

        return graphio.read_graph(path)
    return InteractionGraph.from_dict(_parse_graph_text(_read_text(path)))


def save_graph(graph: InteractionGraph, path: str | os.PathLike[str], *, columnar: bool = False) -> None:
    """Write ``graph`` to ``path`` in the format its suffix names (``.json``, ``.npz``,
    ``.parquet``, ``.graphml``, ``.edgelist``); see :func:`graphcollapse.theory.graphio.save_graph`.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import chain
    >>> from graphcollapse.theory.graph import load_graph, save_graph
    >>> path = os.path.join(tempfile.mkdtemp(), "chain.npz")
    >>> save_graph(chain(3), path)
    >>> load_graph(path).edges
    [('L0', 'L1', 10), ('L1', 'L2', 10)]
    """
    from . import graphio

    graphio.save_graph(graph, path, columnar=columnar)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphValueError(f"graph file: {str(path)!r} does not exist; check the path") from None
    except IsADirectoryError:
        raise GraphValueError(f"graph file: {str(path)!r} is a directory; give a graph file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphValueError(f"graph file: cannot read {str(path)!r} ({exc.__class__.__name__})") from None


def _reject_constant(name: str) -> Any:
    raise GraphValueError(f"graph file: {name} is not valid JSON; use a finite number")


def _number_parsers() -> tuple[Any, Any]:
    """``parse_float`` and ``parse_int`` hooks for :func:`json.loads`: decimals become
    exact sympy Rationals (one per distinct literal), and literals that cannot be taken as
    written become :class:`_OutOfRange` so that the field check names them."""
    cache: dict[str, Any] = {}

    def parse_float(text: str) -> Any:
        try:
            return cache[text]
        except KeyError:
            pass
        value: Any
        if len(text) > MAX_NUMBER_LENGTH:
            value = _OutOfRange(text, integer=False)
        else:
            x = float(text)
            mantissa = text.lower().partition("e")[0]
            if not math.isfinite(x) or (x == 0 and mantissa.strip("-+0.")):
                value = _OutOfRange(text, integer=False)  # overflows to inf or underflows to 0
            else:
                value = sp.Rational(text)
        cache[text] = value
        return value

    def parse_int(text: str) -> Any:
        if len(text) > 20:
            return _OutOfRange(text, integer=True)
        return int(text)

    return parse_float, parse_int


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise GraphValueError(f"{_label(key)}: the key appears twice in one JSON object; keep one")
            seen.add(key)
    return out


def _json_error(exc: json.JSONDecodeError) -> GraphValueError:
    return GraphValueError(f"graph file: malformed JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})")


def _nesting_error() -> GraphValueError:
    return GraphValueError("graph file: malformed JSON: nesting too deep; a graph file nests at most 3 levels")


def parse_json(text: str) -> Any:
    """Parse JSON text strictly, keeping decimal numbers exact (sympy Rational).

    Strict means: NaN and Infinity, a key given twice in one object, nesting deeper than
    the parser's recursion limit are errors; an integer literal of more than 20 digits,
    a number literal longer than :data:`MAX_NUMBER_LENGTH` characters and a decimal
    outside the float64 range (``1e400``) are kept as placeholders that the field checks
    of :meth:`InteractionGraph.from_dict` reject naming the field.

    Parameters
    ----------
    text : str
        JSON text.

    Returns
    -------
    The parsed value (dicts, lists, str, int, sympy Rational, None, bool).

    Raises
    ------
    GraphTypeError
        When ``text`` is not a str.
    GraphValueError
        On malformed JSON, NaN/Infinity or a repeated key (one-line message).

    Examples
    --------
    >>> from graphcollapse.theory.graph import parse_json
    >>> parse_json('{"x": 0.25, "n": 3}')
    {'x': 1/4, 'n': 3}
    >>> parse_json('{"n": 3, "n": 4}')
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: n: the key appears twice in one JSON object; keep one
    """
    if not isinstance(text, str):
        found = "None" if text is None else type(text).__name__
        raise GraphTypeError(f"graph: expected JSON text (str), found {found}")
    parse_float, parse_int = _number_parsers()
    try:
        return json.loads(text, parse_float=parse_float, parse_int=parse_int,
                          parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _json_error(exc) from None
    except RecursionError:
        raise _nesting_error() from None


def _parse_graph_text(text: str) -> Any:
    """:func:`parse_json` for a whole graph file, fast on large files.

    The C parser builds plain dicts (with the garbage collector paused: a large graph file
    makes millions of objects, none of them cyclic); it cannot report a repeated key, so
    the number of key-value pairs kept is compared with the number of ``:`` characters in
    the text, which counts every pair written plus every colon inside a string. In a
    well-formed graph file no string contains a colon (learner names cannot), so the two
    agree unless some key was repeated (or a string has a colon); then the text is parsed
    again by :func:`parse_json`, which reports the repeated key. Integer literals the C
    parser refuses (too many digits) also send the text to :func:`parse_json`.
    """
    parse_float, _ = _number_parsers()
    enabled = gc.isenabled()
    gc.disable()
    try:
        data = json.loads(text, parse_float=parse_float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _json_error(exc) from None
    except RecursionError:
        raise _nesting_error() from None
    except ValueError:  # an integer literal beyond the interpreter's digit limit
        return parse_json(text)
    finally:
        if enabled:
            gc.enable()
    if _pair_count(data) != text.count(":"):
        return parse_json(text)
    return data


def _pair_count(data: Any) -> int:
    """Key-value pairs of the top-level object, of the model and edge objects (or of their
    column objects) and of ``defaults`` (-1 when the document does not have that shape)."""
    if type(data) is not dict:
        return -1
    count = len(data)
    for key in ("models", "edges"):
        items = data.get(key)
        if type(items) is dict:  # the columnar layout: one pair per column
            count += len(items)
        elif type(items) is list and items:
            if set(map(type, items)) != {dict}:
                return -1
            count += sum(map(len, items))
    if type(data.get("defaults")) is dict:
        count += len(data["defaults"])
    return count

