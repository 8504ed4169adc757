r"""Monte Carlo verification of the OLS risk theory: simulation against the exact
(default) or large-sample recursion, per learner and generation.

For every learner :math:`k` and generation :math:`t` the result row holds the theory
:math:`R_k^{(t)}`, the Monte Carlo mean :math:`\bar R` of the excess risk over the
completed replications, its standard error :math:`s/\sqrt{n}` and
:math:`z = (\bar R - R)/\mathrm{se}`.

*Multiple-comparison rule.* The rows are dependent, so the verdict uses Bonferroni
(valid under any dependence): ``agrees`` is true iff every reliable row has
:math:`|z| < z_c`, :math:`z_c = \Phi^{-1}(1 - \alpha/(2m))`, :math:`m` the number of
reliable rows and family-wise level :math:`\alpha = 10^{-3}` (:math:`z_c \approx 4.1` for
20 rows, 4.6 for 200). A row is *reliable* when the learner and all its ancestors have
:math:`N_k \ge d + 8` and :math:`n^0_k \ge d + 8`: below that the risk has few finite
moments (its variance needs :math:`N > d + 3`) and the standard error and the normal
approximation of :math:`z` are not trustworthy.

Memory is bounded: each replication block returns only its per-row mean and centred sum
of squares, merged in block order (Chan et al.) so the result does not depend on workers.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

from .blocks import BLOCK_SIZE, block_generator, draw_seed, replication_blocks
from .simulate import OLSSetup, ols_setup, simulate_ols_blocks

__all__ = ["OLSVerification", "verify_ols", "auto_chunk", "with_covariance_file", "ProgressBar", "theory_risks", "reliable_learners", "bonferroni_bound",
           "ESTIMATORS", "FAMILY_WISE_LEVEL", "RELIABLE_MARGIN", "write_atomic"]

#: Estimators ``graphcollapse verify`` knows (``ols`` here, the rest in :mod:`graphcollapse.verify.mcompare`).
ESTIMATORS = ("ols", "gaussian", "logistic", "poisson", "huber", "location-scale", "custom")
FAMILY_WISE_LEVEL = 1e-3
RELIABLE_MARGIN = 8
ROW_KEYS = ("model", "generation", "theory", "mean", "se", "z", "se_reliable")


def _version() -> str:
    from graphcollapse.theory import __version__

    return __version__


def bonferroni_bound(rows: int, level: float = FAMILY_WISE_LEVEL) -> float:
    r"""The two-sided Bonferroni critical value :math:`\Phi^{-1}(1 - \alpha / (2m))`.

    Examples
    --------
    >>> round(bonferroni_bound(20), 2)
    4.06
    """
    from scipy.stats import norm

    return float(norm.isf(level / (2 * max(rows, 1))))


def theory_risks(graph: InteractionGraph, generations: int, theory: str = "exact") -> np.ndarray:
    """The theoretical risks as floats, shape (T + 1, K).

    Parameters
    ----------
    graph : InteractionGraph
    generations : int
    theory : {"exact", "large-sample"}

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    >>> theory_risks(G, 1).tolist()
    [[1.4375], [3.7375]]
    """
    from graphcollapse.theory.analysis import to_float

    if theory == "exact":
        from graphcollapse.theory.exact import exact_risk_trajectory as trajectory
    elif theory == "large-sample":
        from graphcollapse.theory.recursion import risk_trajectory as trajectory
    else:
        raise GraphValueError(f"theory: expected 'exact' or 'large-sample', found {theory!r}")
    return np.array([[to_float(v) for v in row] for row in trajectory(graph, generations)], dtype=float)


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
    small = {k for k in range(graph.num_learners)
             if int(graph.total_samples[k]) < d + RELIABLE_MARGIN or int(graph.initial_samples[k]) < d + RELIABLE_MARGIN}
    import networkx as nx

    D = nx.DiGraph()
    D.add_nodes_from(range(graph.num_learners))
    D.add_edges_from(zip(map(int, graph.edge_sources), map(int, graph.edge_targets)))
    return np.array([not (({k} | nx.ancestors(D, k)) & small) for k in range(graph.num_learners)])


@dataclass(frozen=True)
class OLSVerification:
    """The result of :func:`verify_ols` (``mean``/``se``/``theory`` have shape (T + 1, K))."""

    names: tuple[str, ...]
    seed: int
    replications: int
    completed: int
    interrupted: bool
    theory_name: str
    theory: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    reliable: np.ndarray

    @property
    def z(self) -> np.ndarray:
        """(mean - theory) / se (0 where both differences and se vanish)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (self.mean - self.theory) / self.se
        return np.where(np.isnan(z), 0.0, z)

    @property
    def critical_z(self) -> float:
        """The Bonferroni bound over the reliable rows (module docstring)."""
        return bonferroni_bound(int(self.reliable.sum()) * self.theory.shape[0])

    @property
    def agrees(self) -> bool:
        """Every reliable row has |z| below :attr:`critical_z` (needs >= 2 completed and
        at least one reliable row: with none, nothing was tested and this is False)."""
        if self.completed < 2 or not self.reliable.any():
            return False
        zz = np.abs(self.z[:, self.reliable])
        return bool(np.all(zz < self.critical_z))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (learner, generation) with the keys of ``ROW_KEYS``."""
        z = self.z
        return [{"model": name, "generation": t, "theory": float(self.theory[t, k]), "mean": float(self.mean[t, k]),
                 "se": float(self.se[t, k]), "z": float(z[t, k]), "se_reliable": bool(self.reliable[k])}
                for k, name in enumerate(self.names) for t in range(self.theory.shape[0])]

    def to_json(self) -> dict[str, Any]:
        """The ``graphcollapse verify --json`` object (keys documented in docs/cli.md)."""
        return {"version": _version(), "seed": self.seed, "replications": self.replications,
                "completed": self.completed, "interrupted": self.interrupted, "estimator": "ols",
                "theory": self.theory_name, "agrees": self.agrees, "rows": self.rows()}

    def report(self) -> str:
        """A readable table and the verdict with its rule."""
        lines = [f"graphcollapse verify: OLS excess risk, Monte Carlo vs {self.theory_name} theory "
                 f"(seed {self.seed}, {self.completed}/{self.replications} replications"
                 + (", INTERRUPTED" if self.interrupted else "") + ")",
                 f"{'model':>10} {'t':>4} {'theory':>12} {'mean':>12} {'se':>10} {'z':>7}"]
        for r in self.rows():
            lines.append(f"{r['model']:>10} {r['generation']:>4} {r['theory']:12.6g} {r['mean']:12.6g} "
                         f"{r['se']:10.3g} {r['z']:7.2f}" + ("" if r["se_reliable"] else "  (se unreliable)"))
        m = int(self.reliable.sum()) * self.theory.shape[0]
        lines.append(f"rule: Bonferroni over {m} reliable rows at family-wise level {FAMILY_WISE_LEVEL:g}: "
                     f"|z| < {self.critical_z:.2f}; unreliable rows (N_k or n0_k < d + {RELIABLE_MARGIN} "
                     f"upstream) are not counted")
        if not self.reliable.any():
            lines.append("agreement: not assessed (no reliable rows; add samples so that N_k, n0_k >= d + "
                         f"{RELIABLE_MARGIN})")
        else:
            lines.append(f"agreement: {'yes' if self.agrees else 'NO'}")
        return "\n".join(lines)

    def to_csv(self, path: str | Path) -> None:
        """Write the rows as CSV (columns ``ROW_KEYS``), atomically."""
        def write(f: Any) -> None:
            w = csv.DictWriter(f, fieldnames=list(ROW_KEYS))
            w.writeheader()
            w.writerows(self.rows())

        write_atomic(path, write)


def write_atomic(path: str | Path, write: Callable[[Any], None]) -> None:
    """Write a text file through a temporary file in the same directory and ``os.replace``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> write_atomic(p, lambda f: f.write("ok"))
    >>> open(p).read()
    'ok'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def _merge(acc: tuple[int, np.ndarray, np.ndarray] | None, part: tuple[int, np.ndarray, np.ndarray]):
    if acc is None:
        return part
    n_a, m_a, s_a = acc
    n_b, m_b, s_b = part
    n = n_a + n_b
    delta = m_b - m_a
    return n, m_a + delta * (n_b / n), s_a + s_b + delta ** 2 * (n_a * n_b / n)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GraphValueError(f"{name}: expected an integer >= {minimum}, found {value!r}")
    return int(value)


def verify_ols(graph: InteractionGraph, *, generations: int, replications: int, seed: int | None = None,
               theory: str = "exact", workers: int = 1, chunk: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> OLSVerification:
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
        Replication blocks simulated as one array; the result does not depend on it.
        Default: :func:`auto_chunk` (about 16 MB of factor buffer).
    progress : callable, optional
        ``progress(done, total)`` in replications after every chunk.

    Returns
    -------
    OLSVerification
        On Ctrl-C (KeyboardInterrupt) the finished chunks, with ``interrupted=True``.

    Raises
    ------
    GraphValueError
        Bad counts, a symbolic graph, fewer than 2 replications, negative generations.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> G = cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=3)
    >>> res = verify_ols(G, generations=3, replications=2000, seed=1)
    >>> res.agrees, res.completed, res.mean.shape
    (True, 2000, (4, 2))
    """
    T = _check_int(generations, "--generations", 0)
    R = _check_int(replications, "--replications", 2)
    workers = _check_int(workers, "--workers", 1)
    if theory not in ("exact", "large-sample"):
        raise GraphValueError(f"theory: expected 'exact' or 'large-sample', found {theory!r}")
    setup = ols_setup(graph)
    chunk = auto_chunk(setup) if chunk is None else _check_int(chunk, "chunk", 1)
    th = theory_risks(graph, T, theory)
    seed = draw_seed(seed)
    blocks = list(replication_blocks(R))
    chunks = [blocks[i:i + chunk] for i in range(0, len(blocks), chunk)]
    acc = None
    interrupted = False
    done = 0

    def absorb(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        nonlocal acc, done
        for part in parts:
            acc = _merge(acc, part)
            done += part[0]
        if progress:
            progress(done, R)

    try:
        if workers == 1:
            for ch in chunks:
                absorb(_run_chunk((setup, T, seed, ch)))
        else:
            from collections import deque
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
            pending: deque = deque()
            todo = iter(chunks)
            try:
                while True:  # at most 2 * workers chunks in flight, merged in order
                    while len(pending) < 2 * workers:
                        ch = next(todo, None)
                        if ch is None:
                            break
                        pending.append(pool.submit(_run_chunk, (setup, T, seed, ch)))
                    if not pending:
                        break
                    absorb(pending.popleft().result())
            finally:  # on Ctrl-C: drop queued chunks, do not wait for the running ones
                pool.shutdown(wait=not pending, cancel_futures=True)
    except KeyboardInterrupt:
        interrupted = True
    shape = th.shape
    if acc is None or acc[0] < 2:
        mean = np.full(shape, np.nan) if acc is None else acc[1]
        se = np.full(shape, np.inf)
    else:
        n, mean, ss = acc
        se = np.sqrt(ss / (n - 1) / n)
    return OLSVerification(tuple(graph.names), seed, R, done, interrupted,
                           "exact" if theory == "exact" else "large-sample", th, mean, se, reliable_learners(graph))


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is handled by the parent alone."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_chunk(task: tuple[OLSSetup, int, int, list[tuple[int, int, int]]]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Simulate a chunk of replication blocks in one batch; per block (n, mean, centred
    sum of squares)."""
    setup, T, seed, ch = task
    risk, _ = simulate_ols_blocks(setup, T, [(block_generator(seed, b), stop - start) for b, start, stop in ch])
    out, row = [], 0
    for _, start, stop in ch:
        part = risk[row:row + stop - start]
        row += stop - start
        mean = part.mean(axis=0)
        out.append((stop - start, mean, ((part - mean) ** 2).sum(axis=0)))
    return out


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


class ProgressBar:
    """A plain ``\\r`` progress bar on a stream (stderr), shown only when the stream is a
    TTY or ``force`` is set, and only once ``delay`` seconds have passed.

    Examples
    --------
    >>> import io
    >>> s = io.StringIO()
    >>> bar = ProgressBar(stream=s, force=True, delay=0)
    >>> bar(50, 100); bar.close()
    >>> "50/100" in s.getvalue()
    True
    """

    def __init__(self, stream: Any = None, *, force: bool = False, delay: float = 2.0) -> None:
        import sys
        import time

        self.stream = sys.stderr if stream is None else stream
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = delay
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        import time

        elapsed = time.monotonic() - self.start
        if not self.enabled or elapsed < self.delay:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        eta = elapsed * (total - done) / done if done else float("nan")
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} replications, "
                          f"{elapsed:.0f}s elapsed, ~{eta:.0f}s left ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the line if anything was shown."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
