"""graphcollapse.verify: simulators, Monte Carlo comparison with the theory, plots and
the command-line program. Imports :mod:`graphcollapse.theory`; never the reverse."""

from .montecarlo import OLSVerification, verify_ols

__all__ = ["OLSVerification", "verify_ols"]
