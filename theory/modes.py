"""The theories a graph can be analysed under, named once and validated once.

- ``"exact"``: the exact finite-sample theory of Gaussian-design OLS (``docs/exact.md``),
  the default;
- ``"large-sample"``: the first-order recursion :math:`C = W C W^\\top + D`
  (``docs/theory.md`` §2), also the theory of the M-estimator asymptotics.

``"default"`` is accepted wherever a theory is and means ``"exact"``.
"""

from __future__ import annotations

from typing import Literal

from .errors import GraphValueError

__all__ = ["Theory", "THEORIES", "resolve_theory"]

#: A theory's name.
Theory = Literal["exact", "large-sample"]
#: Every theory, the default first.
THEORIES: tuple[Theory, ...] = ("exact", "large-sample")


def resolve_theory(theory: str = "default") -> Theory:
    """The theory named ``theory`` (``"default"`` is the exact theory).

    Parameters
    ----------
    theory : {"default", "exact", "large-sample"}

    Returns
    -------
    str
        ``"exact"`` or ``"large-sample"``.

    Raises
    ------
    GraphValueError
        On any other name.

    Examples
    --------
    >>> from graphcollapse.theory.modes import resolve_theory
    >>> resolve_theory(), resolve_theory("large-sample")
    ('exact', 'large-sample')
    >>> resolve_theory("asymptotic")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: theory: expected one of default, exact, large-sample, found 'asymptotic'
    """
    if theory == "default":
        return "exact"
    if theory not in THEORIES:
        raise GraphValueError(f"theory: expected one of default, {', '.join(THEORIES)}, found {str(theory)[:40]!r}")
    return theory  # type: ignore[return-value]
