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

import json
import math
import re
from fractions import Fraction
from functools import cached_property
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import sympy as sp

from .errors import GraphTypeError, GraphValueError

__all__ = ["InteractionGraph", "load_graph", "FORMAT_VERSION", "NAME_PATTERN"]

FORMAT_VERSION = 1
#: Learner names: letters, digits and underscores (they appear in LaTeX field
#: bindings such as ``B->A.samples`` and in sympy symbol names).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")

_TOP_KEYS = {"format_version", "dimension", "noise_variance", "models", "edges", "covariance"}
_MODEL_KEYS = {"name", "initial_samples", "real_samples", "synthetic_noise_variance"}
_EDGE_KEYS = {"source", "target", "samples"}

Value = Any  # int | sympy.Expr


# --------------------------------------------------------------------------- values
def _is_symbolic(value: Value) -> bool:
    return isinstance(value, sp.Basic) and bool(value.free_symbols)


def _normalise_number(value: Any, field: str, *, allow_float: bool) -> Value:
    """Return ``value`` as a Python int, a sympy Rational or a sympy expression."""
    if isinstance(value, bool):
        raise GraphTypeError(f"{field}: expected a number, found the boolean {value!r}")
    if isinstance(value, Integral):
        return int(value)
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
        Per learner :math:`m_k \ge 0` and :math:`n^0_k > 0` (int, sympy Rational or
        symbol).
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
    ) -> None:
        names = tuple(names)
        if not names:
            raise GraphValueError("models: the graph has no learners; give at least one model")
        for name in names:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise GraphValueError(
                    f"models.name: expected 1-64 letters, digits or underscores, found {name!r}"
                )
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in index:
                raise GraphValueError(f"models.name: duplicate learner name {name!r}; names must be unique")
            index[name] = i
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

        real = []
        init = []
        for k, name in enumerate(names):
            m = _normalise_number(real_samples[k], f"models[{name}].real_samples", allow_float=False)
            _check_sign(m, f"models[{name}].real_samples", positive=False)
            n0 = _normalise_number(initial_samples[k], f"models[{name}].initial_samples", allow_float=False)
            _check_sign(n0, f"models[{name}].initial_samples", positive=True)
            real.append(m)
            init.append(n0)
        self.real_samples: tuple[Value, ...] = tuple(real)
        self.initial_samples: tuple[Value, ...] = tuple(init)

        snv: list[Value | None] = [None] * K
        if synthetic_noise_variance is not None:
            if len(synthetic_noise_variance) != K:
                raise GraphValueError(
                    f"synthetic_noise_variance: expected {K} values, found {len(synthetic_noise_variance)}"
                )
            for k, v in enumerate(synthetic_noise_variance):
                if v is not None:
                    v = _normalise_number(v, f"models[{names[k]}].synthetic_noise_variance", allow_float=True)
                    _check_sign(v, f"models[{names[k]}].synthetic_noise_variance", positive=True)
                snv[k] = v
        self._synthetic_noise_variance = tuple(snv)

        sources: list[int] = []
        targets: list[int] = []
        samples: list[Value] = []
        seen: set[tuple[int, int]] = set()
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
        self.edge_sources: tuple[int, ...] = tuple(sources)
        self.edge_targets: tuple[int, ...] = tuple(targets)
        self.edge_samples: tuple[Value, ...] = tuple(samples)

        totals: list[Value] = list(self.real_samples)
        for s, t, n in zip(sources, targets, samples):
            totals[t] = totals[t] + n
        for k, total in enumerate(totals):
            if not _is_symbolic(total) and total == 0:
                raise GraphValueError(
                    f"models[{names[k]}]: the learner has no data (real_samples = 0 and no in-edges); "
                    "give it real_samples or an in-edge"
                )
        self.total_samples: tuple[Value, ...] = tuple(totals)

        self.covariance: tuple[tuple[Value, ...], ...] | None = None
        if covariance is not None:
            self.covariance = _check_covariance(covariance, self.dimension)

    # ------------------------------------------------------------------ helpers
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
        return "\n".join(lines)

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
        )
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise GraphTypeError(f"replace: unknown field(s) {sorted(unknown)}")
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
        )

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_networkx(cls, G: nx.DiGraph) -> "InteractionGraph":
        """Build from a networkx ``DiGraph``.

        Graph attributes ``dimension``, ``noise_variance`` (and optional ``covariance``);
        node attributes ``real_samples``, ``initial_samples`` and optional
        ``synthetic_noise_variance``; edge attribute ``samples``. Node keys become names.

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
                    raise GraphValueError(f"models[{n}].{key}: missing node attribute")
            data.append(attrs)
        edges = []
        for s, t, attrs in G.edges(data=True):
            if "samples" not in attrs:
                raise GraphValueError(f"edges[{s}->{t}].samples: missing edge attribute")
            edges.append((str(s), str(t), attrs["samples"]))
        return cls(
            names,
            real_samples=[a["real_samples"] for a in data],
            initial_samples=[a["initial_samples"] for a in data],
            edges=edges,
            dimension=G.graph["dimension"],
            noise_variance=G.graph["noise_variance"],
            synthetic_noise_variance=[a.get("synthetic_noise_variance") for a in data],
            covariance=G.graph.get("covariance"),
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
            G.add_node(name, **attrs)
        for s, t, n in self.edges:
            G.add_edge(s, t, samples=n)
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
                f"{sorted(unknown)[0]}: unknown field; allowed top-level fields are {sorted(_TOP_KEYS)}"
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
        if not isinstance(models, list):
            raise GraphTypeError(f"models: expected a list of learner objects, found {_json_type(models)}")
        if not models:
            raise GraphValueError("models: the graph has no learners; give at least one model")
        names, real, init, snv = [], [], [], []
        for i, model in enumerate(models):
            where = f"models[{i}]"
            if not isinstance(model, dict):
                raise GraphTypeError(f"{where}: expected an object, found {_json_type(model)}")
            unknown = set(model) - _MODEL_KEYS
            if unknown:
                raise GraphValueError(f"{where}.{sorted(unknown)[0]}: unknown field; allowed are {sorted(_MODEL_KEYS)}")
            for key in ("name", "initial_samples", "real_samples"):
                if key not in model:
                    raise GraphValueError(f"{where}.{key}: missing required field")
            name = model["name"]
            if not isinstance(name, str):
                raise GraphTypeError(f"{where}.name: expected a string, found {_json_type(name)}")
            where = f"models[{name}]"
            names.append(name)
            init.append(_json_int(model["initial_samples"], f"{where}.initial_samples", minimum=1))
            real.append(_json_int(model["real_samples"], f"{where}.real_samples", minimum=0))
            v = model.get("synthetic_noise_variance")
            snv.append(None if v is None else _json_positive(v, f"{where}.synthetic_noise_variance"))
        raw_edges = data.get("edges", [])
        if not isinstance(raw_edges, list):
            raise GraphTypeError(f"edges: expected a list of edge objects, found {_json_type(raw_edges)}")
        edges = []
        for i, edge in enumerate(raw_edges):
            where = f"edges[{i}]"
            if not isinstance(edge, dict):
                raise GraphTypeError(f"{where}: expected an object, found {_json_type(edge)}")
            unknown = set(edge) - _EDGE_KEYS
            if unknown:
                raise GraphValueError(f"{where}.{sorted(unknown)[0]}: unknown field; allowed are {sorted(_EDGE_KEYS)}")
            for key in ("source", "target", "samples"):
                if key not in edge:
                    raise GraphValueError(f"{where}.{key}: missing required field")
            for key in ("source", "target"):
                if not isinstance(edge[key], str):
                    raise GraphTypeError(f"{where}.{key}: expected a learner name (string), found {_json_type(edge[key])}")
            edges.append((edge["source"], edge["target"], _json_int(edge["samples"], f"{where}.samples", minimum=1)))
        covariance = data.get("covariance")
        if covariance is not None:
            if not isinstance(covariance, list) or not all(isinstance(r, list) for r in covariance):
                raise GraphTypeError("covariance: expected a d x d list of lists of numbers")
            covariance = [[_json_number(x, "covariance") for x in row] for row in covariance]
        return cls(
            names, real_samples=real, initial_samples=init, edges=edges, dimension=dimension,
            noise_variance=noise, synthetic_noise_variance=snv, covariance=covariance,
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
    if isinstance(x, sp.Rational):
        raise GraphTypeError(f"{field}: expected an integer count, found the number {x} written with a decimal point or exponent")
    if isinstance(x, bool) or not isinstance(x, int):
        raise GraphTypeError(f"{field}: expected an integer, found {_json_type(x)} {x!r}")
    if x < minimum:
        raise GraphValueError(f"{field}: expected an integer >= {minimum}, found {x}")
    return x


def _json_number(x: Any, field: str) -> Value:
    if isinstance(x, bool) or not isinstance(x, (int, float, sp.Rational)):
        raise GraphTypeError(f"{field}: expected a number, found {_json_type(x)} {x!r}")
    if isinstance(x, float) and not math.isfinite(x):
        raise GraphValueError(f"{field}: expected a finite number, found {x!r}")
    return _normalise_number(x, field, allow_float=True)


def _json_positive(x: Any, field: str) -> Value:
    v = _json_number(x, field)
    if not v > 0:
        raise GraphValueError(f"{field}: expected a positive number, found {x!r}")
    return v


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
    rows = [list(r) for r in cov]
    if len(rows) != d or any(len(r) != d for r in rows):
        shape = (len(rows), len(rows[0]) if rows else 0)
        raise GraphValueError(f"covariance: expected a {d} x {d} matrix, found {shape[0]} x {shape[1]}")
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


def load_graph(source: str | Path | Mapping[str, Any]) -> InteractionGraph:
    """Load an interaction graph from a JSON file path, JSON text or a parsed dictionary.

    JSON numbers are read exactly: ``0.1`` is the rational ``1/10``.

    Raises
    ------
    GraphValueError
        On a missing file, malformed JSON or invalid content (one-line message).

    Examples
    --------
    >>> from graphcollapse.theory import load_graph
    >>> G = load_graph('{"dimension": 2, "noise_variance": 0.5, '
    ...                '"models": [{"name": "A", "initial_samples": 10, "real_samples": 4}]}')
    >>> G.noise_variance
    1/2
    """
    if isinstance(source, Mapping):
        return InteractionGraph.from_dict(dict(source))
    text: str
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GraphValueError(f"graph file: {str(path)!r} does not exist; check the path") from None
        except IsADirectoryError:
            raise GraphValueError(f"graph file: {str(path)!r} is a directory; give a JSON file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise GraphValueError(f"graph file: cannot read {str(path)!r} ({exc.__class__.__name__})") from None
    else:
        text = str(source)
    return InteractionGraph.from_dict(parse_json(text))


def _reject_constant(name: str) -> Any:
    raise GraphValueError(f"graph file: {name} is not valid JSON; use a finite number")


def parse_json(text: str) -> Any:
    """Parse JSON text strictly, keeping decimal numbers exact (sympy Rational).

    Examples
    --------
    >>> from graphcollapse.theory.graph import parse_json
    >>> parse_json('{"x": 0.25, "n": 3}')
    {'x': 1/4, 'n': 3}
    """
    try:
        return json.loads(text, parse_float=lambda s: sp.Rational(s), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise GraphValueError(
            f"graph file: malformed JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
