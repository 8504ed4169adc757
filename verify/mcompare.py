r"""Monte Carlo verification of the M-estimator asymptotic theory over sample-size scales.

At scale :math:`s` every count (:math:`m_k`, :math:`n_{jk}`, :math:`n^0_k`) is multiplied
by :math:`s`; the simulated *n-scaled* risk :math:`s\,\hat R_k^{(t)}` is compared with the
asymptotic prediction :math:`\lim_n n R_k^{(t)}` (at the graph's own counts, see
:func:`graphcollapse.theory.mestimators.asymptotic_prediction`). The theory is a first-order
expansion: the relative error should shrink like :math:`1/s` until Monte Carlo noise
dominates. *Agreement* means :math:`|z| < 4` for every learner and generation at the
largest scale, with :math:`z` = (mean - theory) / se.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from graphcollapse.theory.analysis import to_float
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.mestimators import asymptotic_prediction, get_family, parse_theta

from .blocks import draw_seed, replication_blocks
from .msimulate import simulate_block, warn_failures

__all__ = ["MVerification", "parse_scales", "verify_mestimator", "plot_mverification", "DEFAULT_SCALES", "Z_BOUND"]

DEFAULT_SCALES = (1, 4, 16)
Z_BOUND = 4.0
MIN_RELIABLE = 100


def _version() -> str:
    from graphcollapse.theory import __version__

    return __version__


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


@dataclass(frozen=True)
class MVerification:
    """The result of :func:`verify_mestimator`."""

    seed: int
    replications: int
    completed: int
    interrupted: bool
    estimator: str
    scales: tuple[int, ...]
    generations: int
    theta: tuple[float, ...]
    rows: list[dict[str, Any]]
    failed: dict[int, int]
    sandwich: dict[str, Any] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        """|z| < 4 for every row at the largest scale (rows with an unreliable se count as
        disagreement only if |z| is large as well)."""
        top = max(self.scales)
        return bool(self.completed > 1 and all(abs(r["z"]) < Z_BOUND for r in self.rows if r["scale"] == top))

    def relative_error_by_scale(self) -> dict[int, float]:
        """Mean |relative error| over learners and generations, per scale."""
        out = {}
        for s in self.scales:
            errs = [abs(r["relative_error"]) for r in self.rows if r["scale"] == s and math.isfinite(r["relative_error"])]
            out[s] = float(np.mean(errs)) if errs else float("nan")
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON in the shape of the OLS ``verify`` output (rows also carry ``scale``)."""
        return {
            "version": _version(),
            "seed": self.seed,
            "replications": self.replications,
            "completed": self.completed,
            "interrupted": self.interrupted,
            "estimator": self.estimator,
            "theory": "asymptotic",
            "agrees": self.agrees,
            "scales": list(self.scales),
            "theta": list(self.theta),
            "failed_replications": {str(s): n for s, n in self.failed.items()},
            "relative_error_by_scale": {str(s): v for s, v in self.relative_error_by_scale().items()},
            "sandwich": self.sandwich,
            "rows": self.rows,
        }

    def report(self) -> str:
        """A readable table."""
        lines = [f"graphcollapse verify --estimator {self.estimator}: n-scaled risk s*R vs asymptotic theory "
                 f"(seed {self.seed}, {self.completed}/{self.replications} replications"
                 + (", INTERRUPTED" if self.interrupted else "") + ")",
                 f"{'model':>10} {'t':>4} {'scale':>6} {'theory':>12} {'mean':>12} {'se':>10} {'z':>7} {'rel.err':>9}"]
        for r in self.rows:
            lines.append(f"{r['model']:>10} {r['generation']:>4} {r['scale']:>6} {r['theory']:12.6g} {r['mean']:12.6g} "
                         f"{r['se']:10.3g} {r['z']:7.2f} {r['relative_error']:9.3f}"
                         + ("" if r["se_reliable"] else "  (se unreliable)"))
        rel = ", ".join(f"s={s}: {v:.3g}" for s, v in self.relative_error_by_scale().items())
        lines.append(f"mean |relative error| by scale: {rel}")
        for s, n in self.failed.items():
            if n:
                lines.append(f"scale {s}: {n} replications with a failed fit were excluded")
        lines.append(f"agreement (|z| < {Z_BOUND:g} at scale {max(self.scales)}): {'yes' if self.agrees else 'NO'}")
        return "\n".join(lines)

    def to_csv(self, path: str | Path) -> None:
        """Write the rows as CSV."""
        keys = list(self.rows[0]) if self.rows else ["model", "generation", "scale"]
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)


def _run_block(args: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    graph, family, T, seed, b, size, theta, scale = args
    return simulate_block(graph, family, T, seed, b, size, theta=theta, scale=scale)


def verify_mestimator(graph: InteractionGraph, estimator: str, *, generations: int, replications: int,
                      theta: Any = None, scales: Any = None, loss_file: str | Path | None = None,
                      seed: int | None = None, workers: int = 1,
                      progress: Callable[[int, int], None] | None = None) -> MVerification:
    r"""Simulate an M-estimator on ``graph`` at several scales and compare the n-scaled
    risks with the asymptotic theory.

    Parameters
    ----------
    graph : InteractionGraph
    estimator : str
        A built-in family name (ignored when ``loss_file`` is given).
    generations : int
    replications : int
        Per scale.
    theta : None, str or sequence, optional
        :math:`\theta^*`, e.g. the raw ``--theta`` string ``"1,-0.5"``.
    scales : None, str or sequence of int, optional
        Default ``1,4,16``.
    loss_file : str or Path, optional
        A custom ``.loss`` file.
    seed : int, optional
    workers : int
        Processes (blocks are independent; results do not depend on ``workers``).
    progress : callable, optional
        Called as ``progress(done, total)`` in replications after every block.

    Returns
    -------
    MVerification

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=100, samples=100, initial_samples=200, dimension=1)
    >>> res = verify_mestimator(G, "location-scale", generations=2, replications=256, scales="1,4", seed=5)
    >>> res.agrees, len(res.rows)
    (True, 6)
    """
    family = get_family(estimator, loss_file)
    th = parse_theta(theta, family, graph)
    sc = parse_scales(scales)
    if isinstance(generations, bool) or not isinstance(generations, (int, np.integer)) or generations < 0:
        raise GraphValueError(f"--generations: expected a nonnegative integer, found {generations!r}")
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)) or replications < 2:
        raise GraphValueError(f"--replications: expected an integer >= 2, found {replications!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise GraphValueError(f"--workers: expected a positive integer, found {workers!r}")
    if graph.is_symbolic:
        raise GraphValueError("graph: simulation needs numeric sample counts and variances (substitute the symbols)")
    seed = draw_seed(seed)
    pred = asymptotic_prediction(graph, family, int(generations), th)
    theory = np.array([[to_float(pred.risk[n][t]) for n in graph.names] for t in range(generations + 1)])
    blocks = list(replication_blocks(int(replications)))
    results: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {s: [] for s in sc}
    interrupted = False
    done = 0
    tasks = [(graph, family, int(generations), seed, b, stop - start, th, s) for b, start, stop in blocks for s in sc]
    try:
        if workers == 1:
            for task in tasks:
                results[task[-1]].append(_run_block(task))
                if task[-1] == sc[-1]:
                    done += task[5]
                    if progress:
                        progress(done, int(replications))
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=int(workers)) as pool:
                for task, out in zip(tasks, pool.map(_run_block, tasks)):
                    results[task[-1]].append(out)
                    if task[-1] == sc[-1]:
                        done += task[5]
                        if progress:
                            progress(done, int(replications))
    except KeyboardInterrupt:
        interrupted = True
    n_blocks = min(len(v) for v in results.values())
    completed = sum(stop - start for _, start, stop in blocks[:n_blocks])
    rows: list[dict[str, Any]] = []
    failed: dict[int, int] = {}
    for s in sc:
        chunks = results[s][:n_blocks]
        if not chunks:
            failed[s] = 0
            continue
        risk = np.concatenate([c[0] for c in chunks]) * s
        bad = np.concatenate([c[1] for c in chunks])
        failed[s] = int(bad.sum())
        warn_failures(failed[s], completed, f"{family.name} at scale {s}")
        good = risk[~bad]
        n = good.shape[0]
        mean = good.mean(axis=0) if n else np.full(theory.shape, np.nan)
        se = good.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.full(theory.shape, np.inf)
        for t in range(int(generations) + 1):
            for k, name in enumerate(graph.names):
                z = float((mean[t, k] - theory[t, k]) / se[t, k]) if se[t, k] > 0 else (0.0 if mean[t, k] == theory[t, k] else math.inf)
                rows.append({
                    "model": name, "generation": t, "scale": s,
                    "theory": float(theory[t, k]), "mean": float(mean[t, k]), "se": float(se[t, k]), "z": z,
                    "se_reliable": bool(n >= MIN_RELIABLE),
                    "relative_error": float((mean[t, k] - theory[t, k]) / theory[t, k]),
                    "replications_used": int(n),
                })
    return MVerification(seed, int(replications), completed, interrupted, family.name, sc, int(generations),
                         tuple(float(v) for v in th), rows, failed, pred.sandwich.to_json())


def plot_mverification(result: MVerification, path: str | Path | None = None) -> Any:
    r"""Plot the n-scaled risks of a verification: one panel per learner, the asymptotic
    theory as a line, the simulated means (± 2 se) per scale as points.

    Parameters
    ----------
    result : MVerification
    path : str or Path, optional
        Save the figure there (format from the suffix); otherwise only return it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from graphcollapse.theory.builders import self_training
    >>> res = verify_mestimator(self_training(real_samples=50, samples=50, initial_samples=100, dimension=1),
    ...                         "gaussian", generations=2, replications=64, scales="1,4", seed=1)
    >>> len(plot_mverification(res).axes)
    1
    """
    import matplotlib.pyplot as plt  # lazy: plotting is optional

    models = list(dict.fromkeys(r["model"] for r in result.rows))
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.2), squeeze=False)
    for ax, name in zip(axes[0], models):
        rows = [r for r in result.rows if r["model"] == name]
        ts = sorted({r["generation"] for r in rows})
        theory = {r["generation"]: r["theory"] for r in rows}
        ax.plot(ts, [theory[t] for t in ts], "k-", label="asymptotic theory")
        for i, s in enumerate(result.scales):
            pts = sorted((r["generation"], r["mean"], r["se"]) for r in rows if r["scale"] == s)
            if pts:
                t, m, e = zip(*pts)
                ax.errorbar(np.array(t) + 0.08 * (i - (len(result.scales) - 1) / 2), m, yerr=2 * np.array(e),
                            fmt="o", ms=3, capsize=2, label=f"simulated, scale {s}")
        ax.set_title(name)
        ax.set_xlabel("generation t")
        ax.set_ylabel("n-scaled risk  s R")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{result.estimator}: simulation vs asymptotic theory", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
