r"""A safe parser for user-written loss expressions.

A loss such as ``log(1 + exp(-y*eta))`` arrives as untrusted text (a ``.loss`` file or a
command-line string). ``sympy.sympify`` and ``sympy.parse_expr`` both *evaluate* Python
code, so they are never given such text. Instead the text is parsed by :func:`ast.parse`
(which only builds a syntax tree and runs nothing), every node of the tree is checked
against a whitelist of node types, and the sympy object is built here node by node.

Whitelist
---------
* node types: numbers (int, decimal float, converted *exactly* to a Rational), names,
  ``+ - * / **`` and unary ``+ -``, calls of whitelisted functions with positional
  arguments only;
* names: the symbols the caller allows (parameters and data) and the constants ``pi``
  and ``E``;
* functions: :data:`FUNCTIONS` (``exp``, ``log``, ``sqrt``, ``abs``, ...).

Anything else (attributes, subscripts, keywords, lambdas, comprehensions, strings,
comparisons, ``^``...) raises :class:`~graphcollapse.theory.errors.GraphValueError` with a one-line
message naming the offending piece.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import GraphValueError

__all__ = ["FUNCTIONS", "CONSTANTS", "parse_expression", "numeric_function"]

#: Whitelisted functions: name -> sympy constructor (called on sympy arguments only).
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int]] = {
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "abs": (sp.Abs, 1),
    "tanh": (sp.tanh, 1),
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "atan": (sp.atan, 1),
    "erf": (sp.erf, 1),
}

#: Whitelisted constants.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

MAX_LENGTH = 2000
MAX_NODES = 500
MAX_EXPONENT = 64

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def parse_expression(text: str, symbols: Mapping[str, sp.Expr], *, field: str = "loss") -> sp.Expr:
    r"""Build a sympy expression from untrusted ``text`` using only whitelisted names.

    Parameters
    ----------
    text : str
        The expression, Python syntax (``**`` for powers).
    symbols : mapping of str to sympy expression
        The allowed names and what they stand for (for example ``{"y": y, "eta": x1*t1}``).
    field : str
        The field named in error messages.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    GraphValueError
        On syntax errors, names outside the whitelist, forbidden constructs, or overly
        large input (one-line message).

    Examples
    --------
    >>> import sympy as sp
    >>> y, eta = sp.symbols("y eta", real=True)
    >>> parse_expression("log(1 + exp(-y*eta))", {"y": y, "eta": eta})
    log(1 + exp(-eta*y))
    >>> parse_expression("0.5*(y - eta)**2", {"y": y, "eta": eta})
    (-eta + y)**2/2
    >>> parse_expression("__import__('os')", {"y": y})
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: loss: function '__import__' is not allowed (allowed: exp, log, sqrt, abs, tanh, sin, cos, atan, erf)
    >>> parse_expression("y + z", {"y": y})
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: loss: name 'z' is not allowed (allowed: y, functions exp, log, sqrt, abs, tanh, sin, cos, atan, erf, constants pi, E)
    """
    if not isinstance(text, str):
        raise GraphValueError(f"{field}: expected a string expression, found {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise GraphValueError(f"{field}: expression longer than {MAX_LENGTH} characters")
    if "\n" in text.strip() or ";" in text:
        raise GraphValueError(f"{field}: expected a single expression on one line")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise GraphValueError(f"{field}: syntax error at column {exc.offset}: {exc.msg}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise GraphValueError(f"{field}: expression too large ({count} nodes > {MAX_NODES})")
    allowed = ", ".join(symbols)
    names_msg = (f"allowed: {allowed}, functions {', '.join(FUNCTIONS)}, "
                 f"constants {', '.join(CONSTANTS)}")

    def build(node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise GraphValueError(f"{field}: constant {value!r} is not a number")
            if isinstance(value, float):
                if value != value or value in (float("inf"), float("-inf")):
                    raise GraphValueError(f"{field}: constant {value!r} is not finite")
                # exact decimal as written: 1.345 -> 269/200
                frac = Fraction(repr(value))
                return sp.Rational(frac.numerator, frac.denominator)
            return sp.Integer(value)
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return symbols[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise GraphValueError(f"{field}: name {node.id!r} is not allowed ({names_msg})")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                raise GraphValueError(f"{field}: '^' is not a power; write '**'")
            if isinstance(node.op, ast.Pow):
                base, exponent = build(node.left), build(node.right)
                if exponent.is_number and (not exponent.is_finite or abs(exponent) > MAX_EXPONENT):
                    raise GraphValueError(f"{field}: exponent {exponent} out of range (|p| <= {MAX_EXPONENT})")
                return base**exponent
            op = _BINARY.get(type(node.op))
            if op is None:
                raise GraphValueError(f"{field}: operator {type(node.op).__name__} is not allowed (use + - * / **)")
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise GraphValueError(f"{field}: division by zero")
            return op(left, right)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
                raise GraphValueError(f"{field}: function {what!r} is not allowed "
                                      f"(allowed: {', '.join(FUNCTIONS)})")
            if node.keywords:
                raise GraphValueError(f"{field}: keyword arguments are not allowed in {node.func.id}()")
            func, arity = FUNCTIONS[node.func.id]
            if len(node.args) != arity:
                raise GraphValueError(f"{field}: {node.func.id}() takes {arity} argument(s), found {len(node.args)}")
            return func(*[build(a) for a in node.args])
        raise GraphValueError(f"{field}: {type(node).__name__} is not allowed in an expression")

    try:
        expr = build(tree)
    except RecursionError:  # pragma: no cover - bounded by MAX_NODES
        raise GraphValueError(f"{field}: expression nested too deeply") from None
    if not isinstance(expr, sp.Expr):  # pragma: no cover - every branch builds an Expr
        raise GraphValueError(f"{field}: not an expression")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise GraphValueError(f"{field}: the expression is not finite (division by zero or similar)")
    return expr


def numeric_function(args: Sequence[sp.Symbol], exprs: Sequence[sp.Expr], *,
                     field: str = "loss") -> Callable[..., list[np.ndarray]]:
    r"""A numpy function of ``args`` returning the values of ``exprs`` as float arrays, for
    evaluating a user's loss (or its derivatives) on many data points.

    The generated code runs with numpy's floating-point warnings off: a loss that
    overflows (``exp(1000*(y - eta)**2)``) would otherwise print one warning per
    operation, each quoting the whole generated expression. Instead, a non-finite value
    raises one :class:`~graphcollapse.theory.errors.GraphValueError` naming the field and
    the first offending data point.

    Parameters
    ----------
    args : sequence of sympy Symbol
        The data symbols, in call order.
    exprs : sequence of sympy expression
        What to evaluate.
    field : str
        The field named in error messages.

    Returns
    -------
    callable
        ``f(*arrays)`` -> list of float arrays (scalars broadcast to the data shape).

    Raises
    ------
    GraphValueError
        From the returned function, when a value is NaN or infinite.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> y = sp.Symbol("y", real=True)
    >>> f = numeric_function([y], [y**2, sp.Integer(1)])
    >>> [v.tolist() for v in f(np.array([1.0, 2.0]))]
    [[1.0, 4.0], [1.0, 1.0]]
    >>> numeric_function([y], [sp.exp(1000*y**2)], field="loss of mine")(np.array([0.0, 3.0]))
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: loss of mine: the value is not finite (overflow or division by zero) at data point 1 (y = 3.0); rescale the loss
    """
    compiled = sp.lambdify(list(args), list(exprs), modules="numpy")
    names = [str(a) for a in args]

    def evaluate(*data: np.ndarray) -> list[np.ndarray]:
        arrays = [np.asarray(a, dtype=float) for a in data]
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        with np.errstate(all="ignore"):
            values = compiled(*arrays)
            out = [np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values]
        for v in out:
            bad = ~np.isfinite(v)
            if bad.any():
                i = int(np.argmax(bad.reshape(-1)))
                point = ", ".join(f"{n} = {a.reshape(-1)[i] if a.size > 1 else a.reshape(-1)[0]}"
                                  for n, a in zip(names, arrays))
                raise GraphValueError(f"{field}: the value is not finite (overflow or division by zero) at "
                                      f"data point {i} ({point}); rescale the loss")
        return out

    return evaluate
