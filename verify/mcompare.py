r"""M-estimators behind the verification driver: simulated n-scaled risks over sample-size
scales against the asymptotic theory (``docs/mestimators.md`` §7).

At scale :math:`s` every count (:math:`m_k`, :math:`n_{jk}`, :math:`n^0_k`) is multiplied
by :math:`s`; the simulated *n-scaled* risk :math:`s\,\hat R_k^{(t)}` is compared with the
asymptotic prediction :math:`\lim_n n R_k^{(t)}` (at the graph's own counts, see
:func:`graphcollapse.theory.mestimators.asymptotic_prediction`). The theory is a
first-order expansion: the relative error should shrink like :math:`1/s` until Monte
Carlo noise dominates.

:class:`MSimulator` implements :class:`graphcollapse.verify.driver.Simulator`; rows are
(scale, generation, learner). *Tested rows*: those at the largest scale (the smaller ones
show the :math:`O(1/s)` bias the first-order theory leaves out) with at least
:data:`MIN_RELIABLE` replications used (replications with a failed fit are excluded). The
verdict is the driver's Bonferroni rule over them (``docs/verify.md`` §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from graphcollapse.theory.analysis import to_float
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.mestimators import Family, asymptotic_prediction, parse_theta, unit_risk_trajectory

from .blocks import BLOCK_SIZE
from .driver import Block, Sample, Verification, check_exact_size, check_int, check_seed, run, warn
from .estimators import Estimator
from .msimulate import MEstimatorConvergenceWarning, simulate_block

__all__ = ["MSimulator", "MVerification", "parse_scales", "verify_mestimator", "block_bytes", "DEFAULT_SCALES",
           "MIN_RELIABLE"]

DEFAULT_SCALES = (1, 4, 16)
#: Replications used (after excluding failed fits) for a row's se to count as reliable.
MIN_RELIABLE = 100


def parse_scales(scales: Any) -> tuple[int, ...]:
    """Validate the scales: None (default ``1,4,16``), a raw string ``"1,4,16"`` or a
    sequence of positive integers; returned sorted and without duplicates.

    Parameters
    ----------
    scales : None, str or sequence of int

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> parse_scales("16,1,4")
    (1, 4, 16)
    >>> parse_scales("1,0.5")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --scales: expected positive integers, found '0.5'
    """
    if scales is None:
        return DEFAULT_SCALES
    items = [s.strip() for s in scales.split(",")] if isinstance(scales, str) else list(scales)
    out = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or isinstance(item, float):
            raise GraphValueError(f"--scales: expected positive integers, found {str(item)!r}")
        try:
            value = int(item) if not isinstance(item, str) else int(item, 10)
        except (ValueError, TypeError):
            raise GraphValueError(f"--scales: expected positive integers, found {str(item)[:20]!r}") from None
        if value < 1 or value > 10**6:
            raise GraphValueError(f"--scales: expected integers in 1..1000000, found {value}")
        out.append(value)
    if not out:
        raise GraphValueError("--scales: expected at least one positive integer")
    return tuple(sorted(set(out)))


def block_bytes(graph: InteractionGraph, family: Family, generations: int, scales: tuple[int, ...]) -> int:
    """Bytes one replication block holds while simulated: the data of one batched fit at
    the largest scale (every replication's covariates and responses, with the fitters'
    working copies) and the risks at every scale (with the moments reduction's copies).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.mestimators import FAMILIES
    >>> G = self_training(real_samples=50, samples=50, initial_samples=100, dimension=2)
    >>> block_bytes(G, FAMILIES["logistic"], 3, (1, 4, 16)) // 2**20
    50
    """
    d = int(graph.dimension) if family.is_regression else 0
    counts = [int(n) for n in graph.total_samples] + [int(n) for n in graph.initial_samples]
    fit = max(counts) * max(scales) * (d + 2) * 4
    risks = 3 * len(scales) * (int(generations) + 1) * graph.num_learners
    return BLOCK_SIZE * 8 * (fit + risks)


class MSimulator:
    """An M-estimator family on a graph for :func:`graphcollapse.verify.driver.run`: rows
    (scale, generation, learner), the n-scaled risks of :func:`simulate_block`, compared
    with the asymptotic theory.

    Every scale of a block draws from the block's own generator (common random numbers
    across scales); a replication whose fit fails at some scale is left out of that
    scale's rows.

    Parameters
    ----------
    graph : InteractionGraph
        Numeric.
    family : Family
    generations : int
    theta : None, str or sequence, optional
        :math:`\\theta^*`, e.g. the raw ``--theta`` string ``"1,-0.5"``.
    scales : None, str or sequence of int, optional
        Default ``1,4,16`` (:func:`parse_scales`).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.mestimators import FAMILIES
    >>> sim = MSimulator(self_training(real_samples=50, samples=50, initial_samples=100, dimension=1),
    ...                  FAMILIES["gaussian"], 2, scales="1,4")
    >>> sim.prediction().shape, sim.simulate(0, [(0, 8)])[0].risk.shape
    ((2, 3, 1), (8, 2, 3, 1))
    """

    chunk = 1

    def __init__(self, graph: InteractionGraph, family: Family, generations: int, theta: Any = None,
                 scales: Any = None) -> None:
        self.theta = parse_theta(theta, family, graph)
        self.scales = parse_scales(scales)
        self.generations = check_int(generations, "--generations", 0)
        if graph.is_symbolic:
            raise GraphValueError("graph: simulation needs numeric sample counts and variances (substitute the symbols)")
        self.graph, self.family, self.names = graph, family, tuple(graph.names)
        self.block_bytes = block_bytes(graph, family, self.generations, self.scales)
        self._theory: np.ndarray | None = None  # computed on first use, after the driver's memory check
        self._sandwich: dict[str, Any] | None = None
        self.tested_rule = (f"it is at the largest scale ({max(self.scales)}) and at least {MIN_RELIABLE} "
                            "replications without a failed fit were used")

    def _predict(self) -> Any:
        """The asymptotic prediction, after checking the size of the exact values
        (:func:`~graphcollapse.verify.driver.check_exact_size`)."""
        graph, family = self.graph, self.family
        check_exact_size(lambda t: unit_risk_trajectory(graph, family, t), self.generations)
        return asymptotic_prediction(graph, family, self.generations, self.theta)

    def _compute(self) -> None:
        """The prediction's risks and the sandwich (once)."""
        if self._theory is None:
            pred = self._predict()
            self._theory = np.array([[to_float(pred.risk[n][t]) for n in self.names]
                                     for t in range(self.generations + 1)], dtype=float)
            self._sandwich = pred.sandwich.to_json()

    @property
    def sandwich(self) -> dict[str, Any]:
        """The sandwich's JSON (:meth:`graphcollapse.theory.mestimators.Sandwich.to_json`)."""
        self._compute()
        assert self._sandwich is not None
        return self._sandwich

    def prediction(self) -> np.ndarray:
        """The asymptotic n-scaled risks, the same at every scale: shape (S, T + 1, K)."""
        self._compute()
        assert self._theory is not None
        return np.broadcast_to(self._theory, (len(self.scales),) + self._theory.shape).copy()

    def tested(self, used: np.ndarray) -> np.ndarray:
        """The largest scale, where at least :data:`MIN_RELIABLE` replications were used."""
        top = (np.arange(len(self.scales)) == len(self.scales) - 1).reshape(-1, 1, 1)
        return top & (np.asarray(used) >= MIN_RELIABLE)

    def simulate(self, seed: int, blocks: Sequence[Block]) -> list[Sample]:
        """Per block: the n-scaled risks at every scale, (n, S, T + 1, K), and which
        replications fitted at each scale, (n, S)."""
        out = []
        for b, size in blocks:
            runs = [simulate_block(self.graph, self.family, self.generations, seed, b, size, theta=self.theta, scale=s)
                    for s in self.scales]
            risk = np.stack([r * s for (r, _, _), s in zip(runs, self.scales)], axis=1)
            out.append(Sample(risk, ~np.stack([failed for _, failed, _ in runs], axis=1)))
        return out

    def result(self, stats: dict[str, Any]) -> "MVerification":
        return MVerification(estimator=self.family.name, theory_name="asymptotic", names=self.names,
                             tested_rule=self.tested_rule, scales=self.scales,
                             theta=tuple(float(v) for v in self.theta), sandwich=self.sandwich, **stats)


@dataclass(frozen=True)
class MVerification(Verification):
    """The result of :func:`verify_mestimator`: a :class:`Verification` whose arrays
    have shape (S, T + 1, K) over the sample-size ``scales``."""

    scales: tuple[int, ...]
    theta: tuple[float, ...]
    sandwich: dict[str, Any]

    quantity = "n-scaled risk s*R"

    @property
    def failed(self) -> dict[int, int]:
        """Replications excluded at each scale because a fit failed."""
        used = np.broadcast_to(self.used, (len(self.scales), 1, 1)).reshape(-1)
        return {s: int(self.completed - used[i]) for i, s in enumerate(self.scales)}

    @property
    def relative_error(self) -> np.ndarray:
        """(mean - theory) / theory per row."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.mean - self.theory) / self.theory

    def relative_error_by_scale(self) -> dict[int, float]:
        """Mean |relative error| over learners and generations, per scale."""
        out = {}
        for i, s in enumerate(self.scales):
            errs = np.abs(self.relative_error[i])
            errs = errs[np.isfinite(errs)]
            out[s] = float(errs.mean()) if errs.size else float("nan")
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (scale, generation, learner): model, generation, scale, theory,
        mean, se, z, se_reliable (at least :data:`MIN_RELIABLE` replications used),
        relative_error, replications_used."""
        z, rel = self.z, self.relative_error
        used = np.broadcast_to(self.used, (len(self.scales), 1, 1)).reshape(-1)
        return [{"model": name, "generation": t, "scale": s, "theory": float(self.theory[i, t, k]),
                 "mean": float(self.mean[i, t, k]), "se": float(self.se[i, t, k]), "z": float(z[i, t, k]),
                 "se_reliable": bool(used[i] >= MIN_RELIABLE), "relative_error": float(rel[i, t, k]),
                 "replications_used": int(used[i])}
                for i, s in enumerate(self.scales) for t in range(self.theory.shape[1])
                for k, name in enumerate(self.names)]

    def _row_label(self, index: tuple[int, ...]) -> str:
        i, t, k = index
        return f"{self.names[k]} at t = {t}, scale {self.scales[i]}"

    def hint(self) -> str | None:
        """When the relative error falls with the scale, as the :math:`O(1/s)` bias of the
        first-order theory does, the scale at which that bias would drop below the Monte
        Carlo noise at these replications: the bias is estimated as :math:`B/s` from the
        largest scale, the noise as the median relative standard error of the tested
        rows, and the suggestion is the next power of 4 above :math:`B /` noise."""
        errors = self.relative_error_by_scale()
        top = self.scales[-1]
        if len(self.scales) < 2 or not all(np.isfinite(v) for v in errors.values()):
            return None
        if not errors[self.scales[0]] > errors[top] > 0:
            return None  # not the first-order bias: nothing to suggest
        mask = np.broadcast_to(self.tested, self.theory.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            rse = np.abs(self.se / self.theory)[mask]
        rse = rse[np.isfinite(rse) & (rse > 0)]
        if rse.size == 0:
            return None
        noise = float(np.median(rse))
        need = errors[top] * top / noise
        if need <= top:
            return None
        suggest = 4 ** math.ceil(math.log(need, 4))
        scales = ",".join(str(s) for s in (suggest // 16, suggest // 4, suggest) if s >= 1)
        by_scale = ", ".join(f"s={s}: {v:.3g}" for s, v in errors.items())
        return (f"the mean |relative error| falls with the scale ({by_scale}), "
                f"like the O(1/s) bias of the first-order theory, and at {self.completed} replications it stays above "
                f"the Monte Carlo noise (relative se {noise:.2g}) until s = {need:.0f} or so: try --scales {scales} "
                "(or fewer replications)")

    def series(self) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """One series per scale."""
        return [(f"scale {s}", self.theory[i], self.mean[i], self.se[i]) for i, s in enumerate(self.scales)]

    def to_json(self) -> dict[str, Any]:
        """JSON in the shape of the OLS ``verify`` output (rows also carry ``scale``) plus
        scales, theta, failed_replications, relative_error_by_scale and sandwich."""
        out = super().to_json()
        rows = out.pop("rows")
        out.update({"scales": list(self.scales), "theta": list(self.theta),
                    "failed_replications": {str(s): n for s, n in self.failed.items()},
                    "relative_error_by_scale": {str(s): v for s, v in self.relative_error_by_scale().items()},
                    "sandwich": self.sandwich, "rows": rows})
        return out

    def table(self) -> list[str]:
        lines = [f"{'model':>10} {'t':>4} {'scale':>6} {'theory':>12} {'mean':>12} {'se':>10} {'z':>7} {'rel.err':>9}"]
        for r in self.rows():
            lines.append(f"{r['model']:>10} {r['generation']:>4} {r['scale']:>6} {r['theory']:12.6g} {r['mean']:12.6g} "
                         f"{r['se']:10.3g} {r['z']:7.2f} {r['relative_error']:9.3f}"
                         + ("" if r["se_reliable"] else "  (se unreliable)"))
        rel = ", ".join(f"s={s}: {v:.3g}" for s, v in self.relative_error_by_scale().items())
        lines.append(f"mean |relative error| by scale: {rel}")
        lines += [f"scale {s}: {n} replications with a failed fit were excluded" for s, n in self.failed.items() if n]
        return lines


def verify_mestimator(graph: InteractionGraph, estimator: Estimator | str, *, generations: int, replications: int,
                      theta: Any = None, scales: Any = None, loss_file: str | Path | None = None,
                      seed: int | None = None, workers: int = 1,
                      progress: Callable[[int, int], None] | None = None,
                      max_memory: int | None = None) -> MVerification:
    r"""Simulate an M-estimator on ``graph`` at several scales and compare the n-scaled
    risks with the asymptotic theory.

    Parameters
    ----------
    graph : InteractionGraph
    estimator : Estimator or str
        A built-in family, or ``custom`` with ``loss_file``.
    generations : int
    replications : int
        Per scale.
    theta : None, str or sequence, optional
        :math:`\theta^*`, e.g. the raw ``--theta`` string ``"1,-0.5"``.
    scales : None, str or sequence of int, optional
        Default ``1,4,16``.
    loss_file : str or Path, optional
        A custom ``.loss`` file (with ``estimator="custom"``).
    seed : int, optional
    workers : int
        Processes (blocks are independent; results do not depend on ``workers``).
    progress : callable, optional
        Called as ``progress(done, total)`` in replications after every block.
    max_memory : int, optional
        Bytes the simulation's arrays may take (default
        :data:`~graphcollapse.verify.driver.MEMORY_BUDGET`); the data of a fit grow with
        the largest scale (:func:`block_bytes`).

    Returns
    -------
    MVerification

    Warns
    -----
    MEstimatorConvergenceWarning
        When some fits failed (their replications are excluded and counted per scale);
        attributed to the caller's line.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=100, samples=100, initial_samples=200, dimension=1)
    >>> res = verify_mestimator(G, "location-scale", generations=2, replications=256, scales="1,4", seed=5)
    >>> res.agrees, len(res.rows()), res.tested_rows
    (True, 6, 3)
    """
    from .montecarlo import _check_graph

    _check_graph(graph)
    est = Estimator.parse(estimator, loss_file)
    if est is Estimator.OLS:
        raise GraphValueError("--estimator: ols is not an M-estimator (use verify_ols)")
    family = est.family(loss_file)
    check_int(replications, "--replications", 2)  # cheap checks before the theory is computed
    check_int(workers, "--workers", 1)
    check_seed(seed)
    return run_msimulator(MSimulator(graph, family, generations, theta, scales), replications=replications,
                          seed=seed, workers=workers, progress=progress, max_memory=max_memory)


def run_msimulator(simulator: MSimulator, *, replications: int, seed: int | None, workers: int,
                   progress: Callable[[int, int], None] | None, max_memory: int | None) -> MVerification:
    """Run an M-estimator simulator through the driver and warn (at the caller's line)
    about the replications excluded at each scale because a fit failed."""
    res = run(simulator, replications=replications, seed=seed, workers=workers, progress=progress,
              max_memory=max_memory)
    for s, n in res.failed.items():
        if n:
            warn(f"{simulator.family.name} at scale {s}: {n} of {res.completed} replications had a fit that did not "
                 "converge (or separated data); they are excluded from the averages", MEstimatorConvergenceWarning)
    return res
