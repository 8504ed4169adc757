r"""The verification driver: Monte Carlo against theory for every estimator.

One driver (:func:`run`) serves every estimator, the way one integrator loop serves many
step methods. An estimator plugs in through the :class:`Simulator` protocol: it draws the
per-replication risks of replication blocks, gives the theory they are compared with and
says which rows enter the verdict. The driver owns everything else, identically for all
estimators (``docs/verify.md`` §3-§4):

* **Blocks and seeds.** Replications come in blocks of
  :data:`graphcollapse.verify.blocks.BLOCK_SIZE`; block ``b`` draws only from
  ``block_generator(seed, b)``. A *chunk* of ``simulator.chunk`` blocks is simulated in
  one call.
* **Streaming merge.** Each block is reduced where it was simulated to its count, mean
  and centred sum of squares per row (:func:`moments`), and the blocks are merged in
  block order by the Chan-Golub-LeVeque update (:func:`merge`): memory does not grow
  with the replications, and the result is bit-identical for every chunk size and
  number of workers.
* **Workers.** With ``workers > 1`` chunks run in a process pool, at most
  ``2 * workers`` in flight, merged in order.
* **Interruption.** Ctrl-C (KeyboardInterrupt) keeps the merged blocks: the result has
  ``interrupted=True`` and ``completed`` = replications merged. Workers ignore SIGINT and
  queued chunks are cancelled.
* **Statistics.** Per row: ``mean``, ``se`` :math:`= s/\sqrt n` and
  :math:`z = (\mathrm{mean} - \mathrm{theory})/\mathrm{se}` (:class:`Verification`).
* **Multiple testing.** The rows are dependent, so the verdict uses Bonferroni (valid
  under any dependence): ``agrees`` is true iff every *tested* row has
  :math:`|z| < z_c = \Phi^{-1}(1 - \alpha/(2m))`, :math:`m` the number of tested rows,
  family-wise level :math:`\alpha =` :data:`FAMILY_WISE_LEVEL` (:func:`bonferroni_bound`).
  Which rows are tested is the estimator's call (:meth:`Simulator.tested`): rows whose
  standard error is trustworthy and that the theory claims to predict.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np

from graphcollapse.theory.errors import GraphValueError

from .blocks import draw_seed, replication_blocks

__all__ = ["Simulator", "Sample", "Moments", "Verification", "run", "moments", "merge", "bonferroni_bound",
           "check_int", "write_atomic", "ProgressBar", "FAMILY_WISE_LEVEL"]

#: Family-wise level :math:`\alpha` of the Bonferroni rule.
FAMILY_WISE_LEVEL = 1e-3

#: A replication block handed to a simulator: (block index, replications in it).
Block = tuple[int, int]


class Sample(NamedTuple):
    """The per-replication risks of one block.

    ``risk`` has shape ``(n,) + row shape``, the row shape being that of the theory
    (``(T + 1, K)``, or ``(S, T + 1, K)`` over sample-size scales). ``valid`` is None when
    every replication counts, else a boolean array of shape ``(n,) + lead`` (``lead`` a
    prefix of the row shape, e.g. ``(S,)``): replications that failed are left out of
    those rows.
    """

    risk: np.ndarray
    valid: np.ndarray | None = None


class Moments(NamedTuple):
    """Count, mean and centred sum of squares per row (``n`` broadcasts to the rows)."""

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray


class Simulator(Protocol):
    """What an estimator supplies to :func:`run`.

    Implementations: :class:`graphcollapse.verify.montecarlo.OLSSimulator` (OLS, numba
    fast path) and :class:`graphcollapse.verify.mcompare.MSimulator` (M-estimators over
    sample-size scales). A simulator is sent to the worker processes, so it must pickle.
    """

    #: Blocks simulated in one :meth:`simulate` call (one task of the worker pool).
    chunk: int

    def prediction(self) -> np.ndarray:
        """The theory each row is compared with (floats; its shape is the row shape)."""
        ...

    def tested(self, used: np.ndarray) -> np.ndarray:
        """Boolean mask (broadcastable to the row shape) of the rows that enter the
        verdict, given the replications ``used`` per row (broadcastable likewise)."""
        ...

    def simulate(self, seed: int, blocks: Sequence[Block]) -> list[Sample]:
        """The risks of ``blocks``, one :class:`Sample` per block; block ``b`` draws only
        from ``block_generator(seed, b)``."""
        ...

    def result(self, stats: dict[str, Any]) -> "Verification":
        """The estimator's result object built from the driver's ``stats`` (the keyword
        arguments of :class:`Verification` other than the labels ``names``,
        ``estimator``, ``theory_name`` and ``tested_rule``, which the simulator adds)."""
        ...


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int, or a one-line GraphValueError naming the option.

    Examples
    --------
    >>> check_int(3, "--workers", 1)
    3
    >>> check_int(True, "--workers", 1)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --workers: expected an integer >= 1, found True
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GraphValueError(f"{name}: expected an integer >= {minimum}, found {value!r}")
    return int(value)


def bonferroni_bound(rows: int, level: float = FAMILY_WISE_LEVEL) -> float:
    r"""The two-sided Bonferroni critical value :math:`\Phi^{-1}(1 - \alpha / (2m))`.

    Examples
    --------
    >>> round(bonferroni_bound(20), 2)
    4.06
    >>> round(bonferroni_bound(3), 2)
    3.59
    """
    from scipy.stats import norm

    return float(norm.isf(level / (2 * max(rows, 1))))


# ============================================================================ statistics
def moments(sample: Sample) -> Moments:
    """Reduce one block to :class:`Moments` (replications with ``valid`` false left out).

    Examples
    --------
    >>> import numpy as np
    >>> m = moments(Sample(np.array([[1.0, 2.0], [3.0, 6.0]])))
    >>> int(m.n), m.mean.tolist(), m.m2.tolist()
    (2, [2.0, 4.0], [2.0, 8.0])
    >>> m = moments(Sample(np.array([[1.0], [3.0], [9.0]]), valid=np.array([True, True, False])))
    >>> m.n.tolist(), m.mean.tolist()
    ([2], [2.0])
    """
    risk, valid = sample
    if valid is None:
        mean = risk.mean(axis=0)
        return Moments(np.asarray(risk.shape[0]), mean, ((risk - mean) ** 2).sum(axis=0))
    w = valid.reshape(valid.shape + (1,) * (risk.ndim - valid.ndim))
    n = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(w, risk, 0.0).sum(axis=0) / n
    return Moments(n, mean, (np.where(w, risk - mean, 0.0) ** 2).sum(axis=0))


def merge(a: Moments | None, b: Moments) -> Moments:
    """Pool two sets of moments (Chan, Golub and LeVeque); rows with no replications on
    one side take the other side's.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [2.0], [4.0], [8.0]])
    >>> pooled = merge(moments(Sample(x[:1])), moments(Sample(x[1:])))
    >>> whole = moments(Sample(x))
    >>> bool(np.allclose(pooled.mean, whole.mean) and np.allclose(pooled.m2, whole.m2))
    True
    """
    if a is None:
        return b
    n = a.n + b.n
    delta = b.mean - a.mean
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = a.mean + delta * (b.n / n)
        m2 = a.m2 + b.m2 + delta ** 2 * (a.n * b.n / n)
    if np.all(a.n > 0) and np.all(b.n > 0):
        return Moments(n, mean, m2)
    return Moments(n, np.where(a.n == 0, b.mean, np.where(b.n == 0, a.mean, mean)),
                   np.where(a.n == 0, b.m2, np.where(b.n == 0, a.m2, m2)))


def _finish(acc: Moments | None, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, se, used) from the merged moments: mean NaN without replications, se
    infinite below two."""
    if acc is None:
        return np.full(shape, np.nan), np.full(shape, np.inf), np.zeros((), dtype=np.int64)
    n = acc.n
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(acc.m2 / (n - 1) / n)
    mean = np.where(n > 0, acc.mean, np.nan) if np.any(n == 0) else acc.mean
    se = np.where(n >= 2, se, np.inf) if np.any(n < 2) else se
    return np.broadcast_to(mean, shape).copy(), np.broadcast_to(se, shape).copy(), np.asarray(n)


# ============================================================================ the result
@dataclass(frozen=True)
class Verification:
    """The result of a verification: per row the theory, the Monte Carlo mean, its
    standard error and :attr:`z`, and the Bonferroni verdict :attr:`agrees`.

    Arrays have the row shape ``(T + 1, K)``, or ``(S, T + 1, K)`` over sample-size
    scales (:class:`graphcollapse.verify.mcompare.MVerification`); ``used`` and
    ``tested`` broadcast to it.
    """

    estimator: str
    theory_name: str
    names: tuple[str, ...]
    seed: int
    replications: int
    completed: int
    interrupted: bool
    theory: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    used: np.ndarray    # replications used per row (completed minus failed ones)
    tested: np.ndarray  # rows that enter the verdict
    tested_rule: str    # when a row is tested, in words (for the report)

    #: What the rows measure (report and figure labels).
    quantity = "excess risk"

    @property
    def z(self) -> np.ndarray:
        """(mean - theory) / se; 0 where that is NaN (difference and se both 0, or no replications)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (self.mean - self.theory) / self.se
        return np.where(np.isnan(z), 0.0, z)

    @property
    def tested_rows(self) -> int:
        """The number :math:`m` of rows that enter the verdict."""
        return int(np.broadcast_to(self.tested, self.theory.shape).sum())

    @property
    def critical_z(self) -> float:
        """The Bonferroni bound over the tested rows (:func:`bonferroni_bound`)."""
        return bonferroni_bound(self.tested_rows)

    @property
    def agrees(self) -> bool:
        """Every tested row has |z| below :attr:`critical_z` (needs >= 2 completed
        replications and at least one tested row: with none, nothing was tested and this
        is False)."""
        if self.completed < 2 or self.tested_rows == 0:
            return False
        mask = np.broadcast_to(self.tested, self.theory.shape)
        return bool(np.all(np.abs(self.z[mask]) < self.critical_z))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (learner, generation): model, generation, theory, mean, se, z,
        se_reliable (the row is tested). Results with more axes (scales) override this."""
        z = self.z
        tested = np.broadcast_to(self.tested, self.theory.shape)
        return [{"model": name, "generation": t, "theory": float(self.theory[t, k]), "mean": float(self.mean[t, k]),
                 "se": float(self.se[t, k]), "z": float(z[t, k]), "se_reliable": bool(tested[t, k])}
                for k, name in enumerate(self.names) for t in range(self.theory.shape[0])]

    def series(self) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """What a figure draws: (label, theory, mean, se), each (T + 1, K)."""
        return [("Monte Carlo", self.theory, self.mean, self.se)]

    def panel_tested(self) -> np.ndarray:
        """Per learner: does any of its rows enter the verdict."""
        tested = np.broadcast_to(self.tested, self.theory.shape)
        return tested.reshape(-1, len(self.names)).any(axis=0)

    def to_json(self) -> dict[str, Any]:
        """The ``graphcollapse verify --json`` object (keys documented in docs/cli.md)."""
        return {"version": _version(), "seed": self.seed, "replications": self.replications,
                "completed": self.completed, "interrupted": self.interrupted, "estimator": self.estimator,
                "theory": self.theory_name, "agrees": self.agrees, "rows": self.rows()}

    def header(self) -> str:
        """The first line of :meth:`report`."""
        return (f"graphcollapse verify --estimator {self.estimator}: {self.quantity}, Monte Carlo vs "
                f"{self.theory_name} theory (seed {self.seed}, {self.completed}/{self.replications} replications"
                + (", INTERRUPTED" if self.interrupted else "") + ")")

    def table(self) -> list[str]:
        """The rows of :meth:`report`."""
        lines = [f"{'model':>10} {'t':>4} {'theory':>12} {'mean':>12} {'se':>10} {'z':>7}"]
        for r in self.rows():
            lines.append(f"{r['model']:>10} {r['generation']:>4} {r['theory']:12.6g} {r['mean']:12.6g} "
                         f"{r['se']:10.3g} {r['z']:7.2f}" + ("" if r["se_reliable"] else "  (not tested)"))
        return lines

    def verdict(self) -> list[str]:
        """The rule and the verdict, as report lines."""
        lines = [f"rule: Bonferroni over {self.tested_rows} tested rows at family-wise level {FAMILY_WISE_LEVEL:g}: "
                 f"|z| < {self.critical_z:.2f}; a row is tested when {self.tested_rule}"]
        if self.tested_rows == 0:
            lines.append(f"agreement: not assessed (no tested rows; a row is tested when {self.tested_rule})")
        else:
            lines.append(f"agreement: {'yes' if self.agrees else 'NO'}")
        return lines

    def report(self) -> str:
        """A readable table and the verdict with its rule."""
        return "\n".join([self.header(), *self.table(), *self.verdict()])

    def to_csv(self, path: str | Path) -> None:
        """Write :meth:`rows` as CSV (columns in row order), atomically."""
        rows = self.rows()

        def write(f: Any) -> None:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["model", "generation"])
            w.writeheader()
            w.writerows(rows)

        write_atomic(path, write)


def _version() -> str:
    from graphcollapse.theory import __version__

    return __version__


# ============================================================================ the driver
def run(simulator: Simulator, *, replications: int, seed: int | None = None, workers: int = 1,
        progress: Callable[[int, int], None] | None = None) -> Verification:
    """Simulate ``replications`` replications with ``simulator``, merge them block by
    block and compare with its theory.

    Parameters
    ----------
    simulator : Simulator
    replications : int
        At least 2.
    seed : int, optional
        Drawn with :func:`graphcollapse.verify.blocks.draw_seed` (and recorded) when omitted.
    workers : int
        Processes; the result does not depend on it.
    progress : callable, optional
        ``progress(done, total)`` in replications after every chunk.

    Returns
    -------
    Verification
        As built by ``simulator.result``. On Ctrl-C (KeyboardInterrupt) the finished
        chunks, with ``interrupted=True``.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.verify.montecarlo import OLSSimulator
    >>> sim = OLSSimulator(cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=3), 3)
    >>> res = run(sim, replications=2000, seed=1)
    >>> res.agrees, res.completed, res.mean.shape
    (True, 2000, (4, 2))
    """
    total = check_int(replications, "--replications", 2)
    workers = check_int(workers, "--workers", 1)
    chunk = check_int(simulator.chunk, "chunk", 1)
    theory = np.asarray(simulator.prediction(), dtype=float)
    seed = draw_seed(seed)
    blocks = [(b, stop - start) for b, start, stop in replication_blocks(total)]
    chunks = [blocks[i:i + chunk] for i in range(0, len(blocks), chunk)]
    acc: Moments | None = None
    done = 0

    def absorb(finished: Sequence[Block], parts: list[Moments]) -> None:
        nonlocal acc, done
        for (_, size), part in zip(finished, parts):  # completed always counts the merged blocks
            acc = merge(acc, part)
            done += size
        if progress:
            progress(done, total)

    interrupted = False
    try:
        if workers == 1:
            for ch in chunks:
                absorb(ch, _simulate_chunk(simulator, seed, ch))
        else:
            _run_pool(simulator, seed, chunks, workers, absorb)
    except KeyboardInterrupt:
        interrupted = True
    mean, se, used = _finish(acc, theory.shape)
    return simulator.result(dict(seed=seed, replications=total, completed=done, interrupted=interrupted,
                                 theory=theory, mean=mean, se=se, used=used, tested=simulator.tested(used)))


def _simulate_chunk(simulator: Simulator, seed: int, blocks: Sequence[Block]) -> list[Moments]:
    """Simulate a chunk of blocks and reduce each block to its moments (runs in a worker)."""
    return [moments(sample) for sample in simulator.simulate(seed, blocks)]


_WORKER_SIMULATOR: Simulator | None = None


def _init_worker(simulator: Simulator) -> None:
    """Worker initializer: keep the simulator (sent once) and leave Ctrl-C to the parent."""
    import signal

    global _WORKER_SIMULATOR
    _WORKER_SIMULATOR = simulator
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _simulate_in_worker(seed: int, blocks: Sequence[Block]) -> list[Moments]:
    assert _WORKER_SIMULATOR is not None
    return _simulate_chunk(_WORKER_SIMULATOR, seed, blocks)


def _run_pool(simulator: Simulator, seed: int, chunks: list[list[Block]], workers: int,
              absorb: Callable[[Sequence[Block], list[Moments]], None]) -> None:
    """Run the chunks in a process pool, at most ``2 * workers`` in flight, merged in
    chunk order. On Ctrl-C the queued chunks are cancelled and the running ones are not
    waited for."""
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(simulator,))
    pending: deque = deque()
    todo = iter(chunks)
    try:
        while True:
            while len(pending) < 2 * workers:
                ch = next(todo, None)
                if ch is None:
                    break
                pending.append((ch, pool.submit(_simulate_in_worker, seed, ch)))
            if not pending:
                break
            ch, future = pending.popleft()
            absorb(ch, future.result())
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)


# ============================================================================ output helpers
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
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _publish(tmp: str, path: Path) -> None:
    """Give ``tmp`` the usual permissions (mkstemp creates 0600) and move it to ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


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
