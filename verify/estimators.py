"""The estimators ``graphcollapse`` knows: one vocabulary, validated once at the boundary.

:class:`Estimator` lists them: ``ols`` (finite-sample theory, ``docs/theory.md``) and the
M-estimator families of :data:`graphcollapse.theory.mestimators.FAMILIES` plus
``custom`` (a ``.loss`` file, ``docs/mestimators.md``). The command line
(:mod:`graphcollapse.verify.cli`) and the public functions of :mod:`graphcollapse.verify`
turn a name into an :class:`Estimator` with :meth:`Estimator.parse`, the only place that
checks a name; code behind them receives the enum.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from graphcollapse.theory.errors import GraphValueError

if TYPE_CHECKING:
    from graphcollapse.theory.mestimators import Family

__all__ = ["Estimator"]


class Estimator(str, Enum):
    """An estimator name (the value is what ``--estimator`` takes).

    Examples
    --------
    >>> Estimator.parse("location-scale")
    <Estimator.LOCATION_SCALE: 'location-scale'>
    >>> Estimator.parse("probit")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --estimator: unknown estimator 'probit' (expected one of ols, gaussian, logistic, poisson, huber, location-scale, location-scale-unbiased, custom)
    """

    OLS = "ols"
    GAUSSIAN = "gaussian"
    LOGISTIC = "logistic"
    POISSON = "poisson"
    HUBER = "huber"
    LOCATION_SCALE = "location-scale"
    LOCATION_SCALE_UNBIASED = "location-scale-unbiased"
    CUSTOM = "custom"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def named(cls, name: "str | Estimator") -> "Estimator":
        """The estimator called ``name`` (the name only: :meth:`parse` also checks that
        ``custom`` and a loss file come together).

        Examples
        --------
        >>> Estimator.named("custom")
        <Estimator.CUSTOM: 'custom'>
        """
        if isinstance(name, cls):
            return name
        try:
            return cls(name)
        except ValueError:
            raise GraphValueError(f"--estimator: unknown estimator {str(name)[:40]!r} (expected one of "
                                  f"{', '.join(e.value for e in cls)})") from None

    @classmethod
    def parse(cls, name: "str | Estimator", loss_file: str | Path | None = None) -> "Estimator":
        """The estimator called ``name``; an :class:`Estimator` passes through unchecked.

        ``custom`` needs ``loss_file`` and ``loss_file`` needs ``custom``.

        Raises
        ------
        GraphValueError
            Unknown name (one line listing the known ones), or ``custom`` and
            ``loss_file`` not given together.
        """
        estimator = cls.named(name)
        if estimator is cls.CUSTOM and loss_file is None:
            raise GraphValueError("--estimator custom needs --loss FILE")
        if loss_file is not None and estimator is not cls.CUSTOM:
            raise GraphValueError(f"--loss FILE applies to --estimator custom, not {estimator.value}")
        return estimator

    def family(self, loss_file: str | Path | None = None) -> "Family | None":
        """The M-estimator family (None for OLS); ``custom`` reads ``loss_file``.

        Examples
        --------
        >>> Estimator.HUBER.family().model
        'student-t'
        >>> Estimator.OLS.family() is None
        True
        """
        if self is Estimator.OLS:
            return None
        from graphcollapse.theory.mestimators import FAMILIES, load_loss

        if self is Estimator.CUSTOM:
            if loss_file is None:
                raise GraphValueError("--estimator custom needs --loss FILE")
            return load_loss(loss_file)
        return FAMILIES[self.value]
