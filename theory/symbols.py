r"""Binding sympy symbols to fields of an interaction graph (the ``--symbol`` grammar).

Grammar
-------
A binding is ``NAME=FIELD[,FIELD...]``: one symbol may stand for several fields. ``FIELD``
is one of

* ``A.real_samples`` (symbol nonnegative: a learner's real data may be 0),
* ``A.initial_samples`` (positive),
* ``B->A.samples`` (the edge ``B -> A``; positive), also spelled ``B-A.samples``: the
  same edge without ``>``, which a shell would read as a redirection unless quoted,
* ``dimension`` (positive), ``noise_variance`` (positive),
* ``A.real_weight`` (the loss weight of A's real samples; positive) and ``B->A.weight``
  (the loss weight of the edge's synthetic samples; positive), see ``docs/regimes.md``.

``NAME`` must match ``[A-Za-z][A-Za-z0-9_]*`` (at most 32 characters) and must not be the
name of a sympy function or constant (``sin``, ``E``, ``I``, ``pi``, ``gamma``, ``beta``,
``S``, ``N``, ``O``, ``Q``, ...), which would make the LaTeX and any later parsing
ambiguous. The symbol is built with ``sympy.Symbol(name, positive=True)`` (or
``nonnegative=True`` when every bound field is a real-sample count); text is never handed
to ``sympify``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from .errors import GraphValueError
from .graph import InteractionGraph

__all__ = ["SymbolBinding", "parse_symbol_binding", "apply_symbols"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_FIELD_LEARNER = re.compile(r"([A-Za-z0-9_]{1,64})\.(real_samples|initial_samples|real_weight)\Z")
# an edge is written B->A or, without a shell metacharacter, B-A (names hold no '-')
_FIELD_EDGE = re.compile(r"([A-Za-z0-9_]{1,64})->?([A-Za-z0-9_]{1,64})\.(samples|weight)\Z")
_GLOBAL_FIELDS = ("dimension", "noise_variance")


def _is_sympy_name(name: str) -> bool:
    """Whether ``name`` names something in the sympy namespace (function, constant, class)."""
    return hasattr(sp, name) or name in {"lambda", "Lambda", "oo", "zoo", "nan", "ln"}


@dataclass(frozen=True)
class SymbolBinding:
    """One ``NAME=FIELD[,FIELD...]`` binding.

    Attributes
    ----------
    name : str
        The symbol name.
    fields : tuple of tuple
        Parsed fields: ``("real_samples", A)``, ``("initial_samples", A)``,
        ``("samples", B, A)``, ``("dimension",)`` or ``("noise_variance",)``.
    """

    name: str
    fields: tuple[tuple[str, ...], ...]

    @property
    def symbol(self) -> sp.Symbol:
        """The sympy symbol: nonnegative if it only binds real-sample counts, else positive."""
        if all(f[0] == "real_samples" for f in self.fields):
            return sp.Symbol(self.name, nonnegative=True, integer=True)
        if all(f[0] in ("initial_samples", "samples", "dimension") for f in self.fields):
            return sp.Symbol(self.name, positive=True, integer=True)
        return sp.Symbol(self.name, positive=True)


def parse_symbol_binding(text: str) -> SymbolBinding:
    """Parse one ``NAME=FIELD[,FIELD...]`` binding (syntax only; learners are checked by
    :func:`apply_symbols`).

    Parameters
    ----------
    text : str
        The binding, e.g. ``"m=A.real_samples,B.real_samples"``.

    Returns
    -------
    SymbolBinding

    Raises
    ------
    GraphValueError
        On a malformed binding, a bad or sympy-clashing name, or an unknown field.

    Examples
    --------
    >>> from graphcollapse.theory.symbols import parse_symbol_binding
    >>> b = parse_symbol_binding("n=A->B.samples,dimension")
    >>> b.fields
    (('samples', 'A', 'B'), ('dimension',))
    >>> parse_symbol_binding("n=A-B.samples").fields
    (('samples', 'A', 'B'),)
    >>> parse_symbol_binding("m=A.real_samples").symbol.is_nonnegative
    True
    >>> parse_symbol_binding("pi=dimension")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --symbol pi: the name clashes with the sympy name 'pi'; choose another name (e.g. pi_1)
    """
    if not isinstance(text, str) or "=" not in text:
        raise GraphValueError(f"--symbol: expected NAME=FIELD[,FIELD...], found {text!r}")
    name, _, rhs = text.partition("=")
    name = name.strip()
    if not _NAME.match(name):
        raise GraphValueError(
            f"--symbol: expected a name of letters, digits and underscores starting with a letter "
            f"(at most 32), found {name!r}"
        )
    if _is_sympy_name(name):
        raise GraphValueError(
            f"--symbol {name}: the name clashes with the sympy name {name!r}; choose another name (e.g. {name}_1)"
        )
    parts = [p.strip() for p in rhs.split(",")]
    if not rhs.strip() or any(not p for p in parts):
        raise GraphValueError(f"--symbol {name}: expected FIELD[,FIELD...] after '=', found {rhs!r}")
    fields: list[tuple[str, ...]] = []
    for p in parts:
        if p in _GLOBAL_FIELDS:
            f: tuple[str, ...] = (p,)
        elif (m := _FIELD_LEARNER.match(p)):
            f = (m.group(2), m.group(1))
        elif (m := _FIELD_EDGE.match(p)):
            f = (m.group(3), m.group(1), m.group(2))
        else:
            raise GraphValueError(
                f"--symbol {name}: unknown field {p!r}; expected A.real_samples, A.initial_samples, "
                f"A.real_weight, B->A.samples, B->A.weight, dimension or noise_variance"
            )
        if f in fields:
            raise GraphValueError(f"--symbol {name}: field {p!r} is given twice")
        fields.append(f)
    return SymbolBinding(name, tuple(fields))


def apply_symbols(graph: InteractionGraph, bindings: Sequence[SymbolBinding | str]) -> InteractionGraph:
    """A copy of ``graph`` with the bound fields replaced by their symbols.

    Parameters
    ----------
    graph : InteractionGraph
    bindings : sequence of SymbolBinding or str
        Strings are parsed with :func:`parse_symbol_binding`.

    Returns
    -------
    InteractionGraph

    Raises
    ------
    GraphValueError
        If a learner or edge does not exist, a field is bound twice, or two bindings use
        one name.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=10), ["m=L0.real_samples", "n=L0->L0.samples"])
    >>> G.mixing_matrix
    Matrix([[n/(m + n)]])
    """
    parsed = [parse_symbol_binding(b) if isinstance(b, str) else b for b in bindings]
    names = [b.name for b in parsed]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise GraphValueError(f"--symbol: the name {sorted(dup)[0]!r} is bound twice; use one binding per name")
    real = list(graph.real_samples)
    init = list(graph.initial_samples)
    edges = list(graph.edges)
    edge_pos = {(s, t): i for i, (s, t, _) in enumerate(edges)}
    real_weight = list(graph.real_weight)
    edge_weights = list(graph.edge_weights)
    changes: dict[str, object] = {}
    seen: dict[tuple[str, ...], str] = {}
    for b in parsed:
        sym = b.symbol
        for f in b.fields:
            if f in seen:
                raise GraphValueError(f"--symbol {b.name}: field {_show(f)} is already bound to {seen[f]}")
            seen[f] = b.name
            if f[0] in _GLOBAL_FIELDS:
                changes[f[0]] = sym
            elif f[0] in ("samples", "weight"):
                if (f[1], f[2]) not in edge_pos:
                    raise GraphValueError(f"--symbol {b.name}: unknown edge {_show(f)}; the graph has no edge {f[1]} -> {f[2]}")
                i = edge_pos[(f[1], f[2])]
                if f[0] == "weight":
                    edge_weights[i] = sym
                else:
                    edges[i] = (f[1], f[2], sym)
            else:
                if f[1] not in graph.index:
                    raise GraphValueError(f"--symbol {b.name}: unknown learner {f[1]!r} in {_show(f)}")
                {"real_samples": real, "initial_samples": init, "real_weight": real_weight}[f[0]][graph.index[f[1]]] = sym
    if real_weight != list(graph.real_weight):
        changes["real_weight"] = real_weight
    if edge_weights != list(graph.edge_weights):
        changes["edge_weights"] = edge_weights
    return graph.replace(real_samples=real, initial_samples=init, edges=edges, **changes)


def _show(f: tuple[str, ...]) -> str:
    if f[0] in ("samples", "weight"):
        return f"{f[1]}->{f[2]}.{f[0]}"
    if len(f) == 2:
        return f"{f[1]}.{f[0]}"
    return f[0]
