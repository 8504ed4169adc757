"""Exceptions and warnings of graphcollapse.

Every error raised on bad input subclasses the matching built-in (``ValueError`` or
``TypeError``) so that generic handlers keep working, and carries a one-line message
that names the offending field, what was expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "GraphCollapseError",
    "GraphValueError",
    "GraphTypeError",
    "UndecidableError",
    "NoClosedFormError",
    "ExactRegimeError",
    "GraphCollapseWarning",
]


class GraphCollapseError(Exception):
    """Base class of every exception raised by graphcollapse."""


class GraphValueError(GraphCollapseError, ValueError):
    """An input has the right type but an invalid value (negative count, unknown name...).

    Examples
    --------
    >>> from graphcollapse.theory.errors import GraphValueError
    >>> issubclass(GraphValueError, ValueError)
    True
    """


class GraphTypeError(GraphCollapseError, TypeError):
    """An input has the wrong type (a float where a count is expected...).

    Examples
    --------
    >>> from graphcollapse.theory.errors import GraphTypeError
    >>> issubclass(GraphTypeError, TypeError)
    True
    """


class UndecidableError(GraphCollapseError, ValueError):
    """A question has no definite answer for symbolic inputs (say, a verdict that hinges on
    whether a symbolic sample count is zero) and the caller asked for a definite one.

    Examples
    --------
    >>> from graphcollapse.theory.errors import UndecidableError
    >>> issubclass(UndecidableError, ValueError)
    True
    """


class NoClosedFormError(GraphCollapseError, ValueError):
    """A derivation has no closed form (it is raised rather than returning ``None``).

    Examples
    --------
    >>> from graphcollapse.theory.errors import NoClosedFormError
    >>> issubclass(NoClosedFormError, ValueError)
    True
    """


class ExactRegimeError(GraphValueError):
    """The exact finite-sample theory is not defined for these sample sizes.

    Examples
    --------
    >>> from graphcollapse.theory.errors import ExactRegimeError
    >>> issubclass(ExactRegimeError, ValueError)
    True
    """


class GraphCollapseWarning(UserWarning):
    """Base class of the warnings issued by graphcollapse."""
