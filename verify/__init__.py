"""graphcollapse.verify: simulators, Monte Carlo comparison with the theory, plots and
the command-line program. Imports :mod:`graphcollapse.theory`; never the reverse.

:func:`verify` runs any estimator (:class:`Estimator`) through the one verification
driver (:mod:`graphcollapse.verify.driver`, ``docs/verify.md``). The names below load
their module on first use (PEP 562), so the command line starts without numpy, scipy
or sympy when it only prints help.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "api": ("verify",),
    "driver": ("Simulator", "Verification"),
    "estimators": ("Estimator",),
    "mcompare": ("MVerification", "verify_mestimator"),
    "montecarlo": ("verify_ols",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .api import verify
    from .driver import Simulator, Verification
    from .estimators import Estimator
    from .mcompare import MVerification, verify_mestimator
    from .montecarlo import verify_ols
