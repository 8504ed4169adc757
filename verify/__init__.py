"""graphcollapse.verify: simulators, Monte Carlo comparison with the theory, plots and
the command-line program. Imports :mod:`graphcollapse.theory`; never the reverse.

:func:`verify` runs any estimator (:class:`Estimator`) through the one verification
driver (:mod:`graphcollapse.verify.driver`, ``docs/verify.md``)."""

from .api import verify
from .driver import Simulator, Verification
from .estimators import Estimator
from .mcompare import MVerification, verify_mestimator
from .montecarlo import verify_ols

__all__ = ["verify", "Estimator", "Simulator", "Verification", "MVerification", "verify_ols", "verify_mestimator"]
