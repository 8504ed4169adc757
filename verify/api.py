"""One entry point for every estimator: :func:`verify`.

It turns the estimator name into an :class:`~graphcollapse.verify.estimators.Estimator`
once, checks that the options fit the estimator, and runs the estimator's simulator
through the one driver (:func:`graphcollapse.verify.driver.run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .driver import Verification
from .estimators import Estimator

__all__ = ["verify"]


def verify(graph: InteractionGraph, estimator: Estimator | str = Estimator.OLS, *, generations: int,
           replications: int, seed: int | None = None, workers: int = 1,
           progress: Callable[[int, int], None] | None = None, theory: str = "exact", chunk: int | None = None,
           theta: Any = None, scales: Any = None, loss_file: str | Path | None = None,
           max_memory: int | None = None) -> Verification:
    """Simulate ``estimator`` on ``graph`` and compare with its theory.

    Parameters
    ----------
    graph : InteractionGraph
    estimator : Estimator or str
        ``ols`` (default) or an M-estimator (``custom`` with ``loss_file``).
    generations : int
        Last generation :math:`T \\ge 0`.
    replications : int
        At least 2 (per scale for M-estimators).
    seed : int, optional
        Drawn and recorded when omitted.
    workers : int
        Processes; the result does not depend on it.
    progress : callable, optional
        ``progress(done, total)`` in replications after every chunk.
    theory : {"exact", "large-sample"}
        OLS only.
    chunk : int, optional
        OLS only: blocks simulated as one array.
    theta, scales, loss_file : optional
        M-estimators only (:func:`graphcollapse.verify.mcompare.verify_mestimator`);
        on a graph with a data regime ``theta`` sets the :math:`\\theta^*` of the
        simulation and of the regime theory alike, and ``scales`` also applies to an
        OLS comparison with the large-sample regime theory
        (:func:`graphcollapse.verify.regsim.verify_regime`).
    max_memory : int, optional
        Bytes the simulation's arrays may take (default
        :data:`graphcollapse.verify.driver.MEMORY_BUDGET`, ``--max-memory``).

    Returns
    -------
    Verification
        :class:`~graphcollapse.verify.mcompare.MVerification` for M-estimators.

    Raises
    ------
    GraphValueError
        Unknown estimator, an option that does not apply to it, a bad count, a run
        beyond the memory budget.
    GraphTypeError
        ``graph`` is not an :class:`~graphcollapse.theory.graph.InteractionGraph` (load a
        file with :func:`graphcollapse.theory.load_graph`), ``seed`` is not an integer,
        ``progress`` is not callable.

    Warns
    -----
    GraphCollapseWarning
        ``workers`` beyond the available cores (capped); failed M-estimator fits.
        Warnings point at the caller's line.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=2)
    >>> verify(G, "ols", generations=2, replications=1000, seed=3).agrees
    True
    >>> verify(G, "ols", generations=2, replications=1000, theta="1,2")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --theta, --scales and --loss apply to M-estimators; add --estimator NAME
    """
    from .montecarlo import _check_graph

    _check_graph(graph)
    if not getattr(graph, "has_default_regime", True):  # data regimes and loss weights: verify/regsim.py
        from .regsim import verify_regime

        return verify_regime(graph, estimator, generations=generations, replications=replications, seed=seed,
                             workers=workers, progress=progress, theory=theory, chunk=chunk, theta=theta,
                             scales=scales, loss_file=loss_file, max_memory=max_memory)
    est = Estimator.parse(estimator, loss_file)
    if est is Estimator.OLS:
        if theta is not None or scales is not None or loss_file is not None:
            raise GraphValueError("--theta, --scales and --loss apply to M-estimators; add --estimator NAME")
        from .montecarlo import verify_ols

        return verify_ols(graph, generations=generations, replications=replications, seed=seed, theory=theory,
                          workers=workers, chunk=chunk, progress=progress, max_memory=max_memory)
    if theory != "exact" or chunk is not None:
        raise GraphValueError("theory and chunk apply to --estimator ols (M-estimators use the asymptotic theory)")
    from .mcompare import verify_mestimator

    return verify_mestimator(graph, est, generations=generations, replications=replications, theta=theta,
                             scales=scales, loss_file=loss_file, seed=seed, workers=workers, progress=progress,
                             max_memory=max_memory)
