"""graphcollapse.verify: simulators, Monte Carlo comparison with the theory, plots and
the command-line program. Imports :mod:`graphcollapse.theory`; never the reverse.

:func:`verify` runs any estimator (:class:`Estimator`) through the one verification
driver (:mod:`graphcollapse.verify.driver`, ``docs/verify.md``). The names below load
their module on first use (PEP 562), so the command line starts without numpy, scipy
or sympy when it only prints help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphcollapse._lazy import lazy_exports

_EXPORTS = {
    "api": ("verify",),
    "driver": ("Simulator", "Verification"),
    "estimators": ("Estimator",),
    "mcompare": ("MVerification", "verify_mestimator"),
    "montecarlo": ("verify_ols",),
    "regsim": ("verify_regime",),
    "gaussian_sim": ("simulate_gaussian",),
    "experiment": ("run_experiment",),
}
_names, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = _names


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .api import verify
    from .driver import Simulator, Verification
    from .estimators import Estimator
    from .mcompare import MVerification, verify_mestimator
    from .montecarlo import verify_ols
    from .regsim import verify_regime
    from .gaussian_sim import simulate_gaussian
    from .experiment import run_experiment
