"""graphcollapse: model collapse in structured interactive learning.

Two subpackages:

- :mod:`graphcollapse.theory`, the exact layer (sympy, networkx, scipy.sparse graph
  algorithms): the interaction graph, its structure, the collapse condition, the error
  recursions, closed forms and theorems.
- :mod:`graphcollapse.verify`, the numeric layer (numpy, scipy, numba): simulators,
  Monte Carlo comparison with the theory, plots and the command line. It imports
  ``theory``; ``theory`` never imports it.

Importing :mod:`graphcollapse` itself is cheap: it only reads the version.

Examples
--------
>>> import graphcollapse
>>> graphcollapse.__version__ == __import__("importlib.metadata").metadata.version("graphcollapse")
True
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__: str = _version("graphcollapse")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
