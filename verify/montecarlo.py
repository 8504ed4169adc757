r"""OLS behind the verification driver: the fast simulator and the exact or large-sample
theory, per learner and generation (``docs/verify.md``).

:class:`OLSSimulator` implements :class:`graphcollapse.verify.driver.Simulator` with the
numba fast path of :mod:`graphcollapse.verify.simulate`; :func:`verify_ols` runs it
through :func:`graphcollapse.verify.driver.run`, which owns the statistics, the
Bonferroni rule, the streaming merge, the workers and the interrupt behaviour.

*Tested rows.* A row is tested when the learner and all its ancestors have
:math:`N_k \ge d + 8` and :math:`n^0_k \ge d + 8`: below that the risk has few finite
moments (its variance needs :math:`N > d + 3`) and the standard error and the normal
approximation of :math:`z` are not trustworthy. Every generation of a tested learner is
tested (the theory is exact).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from graphcollapse.theory.errors import GraphTypeError, GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator
from .driver import Block, Sample, Verification, check_exact_size, check_int, check_seed, run
from .simulate import OLSSetup, ols_setup, simulate_ols_blocks

__all__ = ["OLSSimulator", "verify_ols", "auto_chunk", "block_bytes", "with_covariance_file", "theory_risks",
           "reliable_learners", "RELIABLE_MARGIN", "THEORIES"]

RELIABLE_MARGIN = 8
#: The OLS theories a simulation can be compared with.
THEORIES = ("exact", "large-sample")


def theory_risks(graph: InteractionGraph, generations: int, theory: str = "exact") -> np.ndarray:
    """The theoretical risks as floats, shape (T + 1, K).

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
    theory : {"exact", "large-sample"}

    Raises
    ------
    GraphValueError
        When the exact values of T generations would exceed
        :data:`~graphcollapse.verify.driver.EXACT_BUDGET` (:func:`~graphcollapse.verify.driver.check_exact_size`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    >>> theory_risks(G, 1).tolist()
    [[1.4375], [3.7375]]
    """
    from graphcollapse.theory.analysis import EXACT_MAX_LEARNERS, to_float

    if graph.num_learners > EXACT_MAX_LEARNERS:  # floats on the pair closure (docs/exact.md §10)
        from graphcollapse.theory.exact_scale import scalable_risk_trajectory

        return scalable_risk_trajectory(graph, generations, exact_theory=theory == "exact")
    trajectory = _trajectory(theory)
    check_exact_size(lambda t: trajectory(graph, t), generations)
    return np.array([[to_float(v) for v in row] for row in trajectory(graph, generations)], dtype=float)


def _trajectory(theory: str) -> Callable[[InteractionGraph, int], list]:
    """The exact risk trajectory function of an OLS theory."""
    if theory == "exact":
        from graphcollapse.theory.exact import exact_risk_trajectory

        return exact_risk_trajectory
    if theory == "large-sample":
        from graphcollapse.theory.recursion import risk_trajectory

        return risk_trajectory
    raise GraphValueError(f"theory: expected 'exact' or 'large-sample', found {theory!r}")


def reliable_learners(graph: InteractionGraph) -> np.ndarray:
    """Boolean per learner: it and all its ancestors have N_k and n0_k >= d + 8.

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> reliable_learners(chain(3, real_samples=20, samples=10, initial_samples=30, dimension=2)).tolist()
    [True, True, True]
    >>> reliable_learners(chain(3, real_samples=5, samples=10, initial_samples=30, dimension=2)).tolist()
    [False, False, False]
    """
    d = int(graph.dimension)
    small = [k for k in range(graph.num_learners)
             if int(graph.total_samples[k]) < d + RELIABLE_MARGIN or int(graph.initial_samples[k]) < d + RELIABLE_MARGIN]
    reliable = np.ones(graph.num_learners, dtype=bool)
    if small:  # a learner is unreliable when a small learner is among its ancestors
        reliable[graph.structure.descendants(small)] = False
    return reliable


def auto_chunk(setup: OLSSetup, budget: int = 16 * 2**20) -> int:
    """Blocks per chunk so that one generation's random numbers stay within ``budget``
    bytes (1..8): larger arrays amortise numpy's per-call overhead, smaller ones stay in
    cache.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.verify.simulate import ols_setup
    >>> auto_chunk(ols_setup(self_training(real_samples=100, samples=100, dimension=10)))
    8
    """
    lay = setup.layout
    per_block = BLOCK_SIZE * lay.draws * 8
    return int(min(8, max(1, budget // per_block)))


def block_bytes(setup: OLSSetup, generations: int) -> int:
    """Bytes one replication block holds while simulated: its risks (T + 1 per learner,
    with the copies the moments reduction makes) and one generation's random numbers and
    estimates.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.verify.simulate import ols_setup
    >>> block_bytes(ols_setup(self_training(real_samples=100, samples=100, dimension=10)), 1000) // 2**20
    6
    """
    K, d = setup.K, setup.d
    return BLOCK_SIZE * 8 * (3 * (int(generations) + 1) * K + 2 * setup.layout.draws + 2 * (K + 1) * d)


class OLSSimulator:
    """Interactive OLS on a graph for :func:`graphcollapse.verify.driver.run`: rows
    (generation, learner), the fast path of :func:`simulate_ols_blocks`, compared with
    the exact or large-sample theory.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric; its ``covariance`` (if any) is :math:`\\Sigma`.
    generations : int
        Last generation :math:`T \\ge 0`.
    theory : {"exact", "large-sample"}
    chunk : int, optional
        Blocks simulated as one array; the result does not depend on it. Default:
        :func:`auto_chunk` (about 16 MB of factor buffer).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> sim = OLSSimulator(self_training(real_samples=20, samples=20, initial_samples=30, dimension=3), 2)
    >>> sim.prediction().shape, [s.risk.shape for s in sim.simulate(0, [(0, 5), (1, 3)])]
    ((3, 1), [(5, 3, 1), (3, 3, 1)])
    """

    def __init__(self, graph: InteractionGraph, generations: int, theory: str = "exact",
                 chunk: int | None = None) -> None:
        self.generations = check_int(generations, "--generations", 0)
        if theory not in THEORIES:
            raise GraphValueError(f"theory: expected 'exact' or 'large-sample', found {theory!r}")
        self.theory_name = theory
        self.names = tuple(graph.names)
        self.setup = ols_setup(graph)
        self.chunk = auto_chunk(self.setup) if chunk is None else check_int(chunk, "chunk", 1)
        self.block_bytes = block_bytes(self.setup, self.generations)
        self._graph = graph
        self._theory: np.ndarray | None = None  # computed on first use, after the driver's memory check
        self._reliable = reliable_learners(graph)
        self.tested_rule = (f"the learner and all its ancestors have N_k and n0_k >= d + {RELIABLE_MARGIN} "
                            "(else its se is unreliable)")

    def prediction(self) -> np.ndarray:
        """The theoretical risks, shape (T + 1, K) (:func:`theory_risks`, computed once)."""
        if self._theory is None:
            self._theory = theory_risks(self._graph, self.generations, self.theory_name)
        return self._theory

    def tested(self, used: np.ndarray) -> np.ndarray:
        """Every generation of the learners whose se is reliable (:func:`reliable_learners`)."""
        return self._reliable

    def simulate(self, seed: int, blocks: Sequence[Block]) -> list[Sample]:
        """All ``blocks`` in one batch of the fast path; one view of the risks per block."""
        risk, _ = simulate_ols_blocks(self.setup, self.generations,
                                      [(block_generator(seed, b), size) for b, size in blocks])
        bounds = np.cumsum([0] + [size for _, size in blocks])
        return [Sample(risk[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    def result(self, stats: dict[str, Any]) -> Verification:
        return Verification(estimator="ols", theory_name=self.theory_name, names=self.names,
                            tested_rule=self.tested_rule, **stats)


def verify_ols(graph: InteractionGraph, *, generations: int, replications: int, seed: int | None = None,
               theory: str = "exact", workers: int = 1, chunk: int | None = None,
               progress: Callable[[int, int], None] | None = None, max_memory: int | None = None) -> Verification:
    r"""Simulate interactive OLS on ``graph`` (fast path) and compare with the theory.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric; its ``covariance`` (if any) is :math:`\Sigma`.
    generations : int
        Last generation :math:`T \ge 0`.
    replications : int
        At least 2.
    seed : int, optional
        Drawn with :func:`graphcollapse.verify.blocks.draw_seed` (and recorded) when omitted.
    theory : {"exact", "large-sample"}
    workers : int
        Processes; the result does not depend on it.
    chunk : int, optional
        Replication blocks simulated as one array (see :class:`OLSSimulator`).
    progress : callable, optional
        ``progress(done, total)`` in replications after every chunk.
    max_memory : int, optional
        Bytes the simulation's arrays may take (default
        :data:`~graphcollapse.verify.driver.MEMORY_BUDGET`).

    Returns
    -------
    Verification
        Arrays of shape (T + 1, K). On Ctrl-C (KeyboardInterrupt) the finished chunks,
        with ``interrupted=True``.

    Raises
    ------
    GraphValueError
        Bad counts, a symbolic graph, fewer than 2 replications, negative generations,
        a run beyond the memory budget or an exact theory beyond
        :data:`~graphcollapse.verify.driver.EXACT_BUDGET`.
    GraphTypeError
        A seed that is not an integer, a progress that is not callable.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=3)
    >>> res = verify_ols(G, generations=3, replications=2000, seed=1)
    >>> res.agrees, res.completed, res.mean.shape
    (True, 2000, (4, 2))
    """
    _check_graph(graph)
    check_int(replications, "--replications", 2)  # cheap checks before the theory is computed
    check_int(workers, "--workers", 1)
    check_seed(seed)
    simulator = OLSSimulator(graph, generations, theory, chunk)
    return run(simulator, replications=replications, seed=seed, workers=workers, progress=progress,
               max_memory=max_memory)


def _check_graph(graph: Any) -> None:
    """A one-line GraphTypeError unless ``graph`` is an InteractionGraph."""
    if not isinstance(graph, InteractionGraph):
        raise GraphTypeError(f"graph: expected an InteractionGraph (graphcollapse.theory.load_graph(path) reads a "
                             f"file), found {type(graph).__name__}")


def with_covariance_file(graph: InteractionGraph, path: str | Path) -> InteractionGraph:
    """``graph`` with the covariance read from a JSON file holding a d x d list (decimals
    kept exact); validated symmetric positive definite by :class:`InteractionGraph`.

    Raises
    ------
    GraphValueError
        Unreadable file, bad JSON, wrong shape, non-symmetric or singular matrix.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from graphcollapse.theory.builders import self_training
    >>> p = os.path.join(tempfile.mkdtemp(), "cov.json")
    >>> _ = open(p, "w").write(json.dumps([[2, 0.5], [0.5, 1]]))
    >>> with_covariance_file(self_training(dimension=2), p).covariance
    ((2, 1/2), (1/2, 1))
    """
    from graphcollapse.theory.graph import parse_json

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphValueError(f"--covariance: cannot read {str(path)!r} ({exc.__class__.__name__})") from None
    data = parse_json(text)
    if isinstance(data, dict) and "covariance" in data:
        data = data["covariance"]
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise GraphValueError("--covariance: expected a JSON list of d lists of d numbers")
    return graph.replace(covariance=data)
