"""graphcollapse.verify: simulators, Monte Carlo comparison with the theory, plots and
the command-line program. Imports :mod:`theory`; never the reverse."""

__all__: list[str] = []
