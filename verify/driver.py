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
  ``2 * workers`` in flight, merged in order; ``workers`` is capped at the cores
  available to the process (:func:`available_cores`, with a warning).
* **Memory.** Blocks are generated lazily, so nothing grows with the replications; what
  one chunk needs (``simulator.block_bytes`` per block, when the simulator gives it) is
  kept within ``max_memory`` (:data:`MEMORY_BUDGET` by default) by lowering the chunk,
  or refused up front (:func:`check_memory`). The exact theory is estimated before it is
  computed (:func:`check_exact_size`).
* **Interruption.** Ctrl-C (KeyboardInterrupt) keeps the merged blocks: the result has
  ``interrupted=True`` and ``completed`` = replications merged. Workers ignore SIGINT,
  queued chunks are cancelled and the running workers are stopped.
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
import itertools
import os
import sys
import tempfile
import time
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np

from graphcollapse.theory.errors import GraphCollapseWarning, GraphTypeError, GraphValueError

from .blocks import BLOCK_SIZE, draw_seed, replication_blocks

__all__ = ["Simulator", "Sample", "Moments", "Verification", "run", "moments", "merge", "bonferroni_bound",
           "check_int", "check_seed", "check_memory", "check_exact_size", "exact_size", "available_cores",
           "format_bytes", "warn", "write_atomic", "ProgressBar", "FAMILY_WISE_LEVEL", "MEMORY_BUDGET",
           "EXACT_BUDGET"]

#: Family-wise level :math:`\alpha` of the Bonferroni rule.
FAMILY_WISE_LEVEL = 1e-3

#: Default budget (bytes) of the arrays a simulation holds at once (``--max-memory``).
MEMORY_BUDGET = 2 * 2**30

#: Budget (characters) of the exact theory's values over all generations: their digits
#: grow about linearly with the generation, so the cost of T generations grows like T^2.
EXACT_BUDGET = 64 * 2**20

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


def check_seed(seed: Any) -> None:
    """Raise our one-line error unless ``seed`` is None or a nonnegative integer (or a
    numpy generator / seed sequence, for :func:`~graphcollapse.verify.blocks.draw_seed`).

    Examples
    --------
    >>> check_seed(3)
    >>> check_seed(1.5)
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphTypeError: seed: expected a nonnegative integer or None, found '1.5' (float)
    """
    draw_seed(seed if not isinstance(seed, np.random.Generator) else 0)


def warn(message: str, category: type[Warning] = GraphCollapseWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside the ``graphcollapse``
    package (what ``skip_file_prefixes`` does from Python 3.12), so that the warning
    points at the user's line whatever path led to it.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("--workers: 8 requested, 2 cores available; using 2")
    >>> caught[0].message.args[0], caught[0].category.__name__
    ('--workers: 8 requested, 2 cores available; using 2', 'GraphCollapseWarning')
    """
    frame, level = sys._getframe(1), 2  # stacklevel 2 is the frame that called warn()
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("graphcollapse."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def available_cores() -> int:
    """The cores this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def format_bytes(n: float) -> str:
    """A size in words.

    Examples
    --------
    >>> format_bytes(3 * 2**30), format_bytes(1536 * 2**10), format_bytes(2.5e15)
    ('3.0 GB', '1.5 MB', '2274 TB')
    """
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} TB" if n >= 1024 else f"{n:.1f} TB"


def _format_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.3g} days"


def check_memory(block_bytes: int, *, workers: int, max_memory: int | None = None, chunk: int = 1,
                 what: str = "--generations") -> int:
    """The chunk (blocks per task, at most ``chunk``) that keeps the simulation's arrays
    within ``max_memory`` bytes when each of ``workers`` processes holds one chunk of
    blocks needing ``block_bytes`` each; a one-line GraphValueError naming ``what`` and
    ``--max-memory`` when even one block per process does not fit.

    Examples
    --------
    >>> check_memory(10 * 2**20, workers=2, max_memory=100 * 2**20, chunk=8)
    5
    >>> check_memory(10 * 2**30, workers=1, max_memory=2**30, what="--scales")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --scales: one block of 256 replications needs about 10.0 GB per process (1 process), over the memory budget of 1.0 GB (--max-memory); use smaller values or raise --max-memory
    """
    budget = MEMORY_BUDGET if max_memory is None else check_int(max_memory, "max_memory", 1)
    need = int(block_bytes) * workers
    if need > budget:
        raise GraphValueError(
            f"{what}: one block of {BLOCK_SIZE} replications needs about {format_bytes(block_bytes)} per process "
            f"({workers} process{'es' if workers > 1 else ''}), over the memory budget of {format_bytes(budget)} "
            f"(--max-memory); use smaller values or raise --max-memory")
    return int(max(1, min(chunk, budget // max(need, 1))))


class ExactSize(NamedTuple):
    """The estimate of :func:`exact_size`."""

    chars: int       # characters of the exact values (and their floats) of generations 0..T
    seconds: float   # a rough lower bound of the time to compute them (the probe's pace)
    growth: float    # digits gained per generation by the longest value


def exact_size(values_at: Callable[[int], Sequence[Sequence[Any]]], generations: int,
               probe: int = 64) -> ExactSize:
    """Estimated size and time of exact values for generations ``0..T``.

    ``values_at(t)`` computes the values of generations ``0..t`` (one row of learners per
    generation). Exact rationals of a linear recursion gain about the same number of
    digits every generation, so the longest value at ``probe // 2`` and ``probe``
    generations gives the growth; each value is counted with 24 characters more (its
    float). The time is a rough lower bound: the time per generation between the two
    runs, times T (later generations, with longer numbers, cost more). All zero when
    ``T <= probe`` (small enough to compute).

    Examples
    --------
    >>> import sympy as sp
    >>> rows = lambda t: [[sp.Rational(3**i, 2**i)] for i in range(t + 1)]
    >>> est = exact_size(rows, 1000)
    >>> 800_000 > est.chars > 400_000, round(est.growth, 1)
    (True, 0.8)
    """
    T = int(generations)
    if T <= probe:
        return ExactSize(0, 0.0, 0.0)
    half = probe // 2
    with unlimited_int_digits():
        start = time.perf_counter()
        values_at(half)
        middle = time.perf_counter()
        rows = values_at(probe)
        end = time.perf_counter()
        lengths = [max((len(str(v)) for v in row), default=0) for row in rows]
    per_generation = (end - middle - (middle - start)) / (probe - half)  # without the fixed cost of a call
    if per_generation <= 0:
        per_generation = (end - middle) / (probe + 1)
    K = max((len(row) for row in rows), default=0)
    growth = max(0.0, (lengths[probe] - lengths[half]) / (probe - half))
    size = K * (T + 1) * (24 + lengths[probe]) + K * growth * (T - probe) * (T - probe + 1) / 2
    return ExactSize(int(size), per_generation * T, growth)


def check_exact_size(values_at: Callable[[int], Sequence[Sequence[Any]]], generations: int,
                     what: str = "--generations") -> None:
    """Refuse (one-line GraphValueError naming ``what``) when :func:`exact_size` exceeds
    :data:`EXACT_BUDGET`.

    Examples
    --------
    >>> import sympy as sp
    >>> rows = lambda t: [[sp.Rational(3**i, 2**i)] for i in range(t + 1)]
    >>> check_exact_size(rows, 100)
    >>> check_exact_size(rows, 10**6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --generations: T = 1000000 needs exact values of about ... GB (their digits grow by 0.78 per generation...), over the budget of 64.0 MB; use a smaller T
    """
    est = exact_size(values_at, generations)
    if est.chars > EXACT_BUDGET:
        when = f"; at least {_format_seconds(est.seconds)} to compute" if est.seconds >= 1 else ""
        raise GraphValueError(
            f"{what}: T = {generations} needs exact values of about {format_bytes(est.chars)} (their digits grow by "
            f"{est.growth:.2g} per generation{when}), over the budget of {format_bytes(EXACT_BUDGET)}; use a smaller T")


class unlimited_int_digits:
    """Context manager lifting Python's limit on int-to-str conversion (4300 digits by
    default), within which exact rationals of many generations print."""

    def __enter__(self) -> "unlimited_int_digits":
        self.saved = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
        if self.saved is not None:
            sys.set_int_max_str_digits(0)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.saved is not None:
            sys.set_int_max_str_digits(self.saved)


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
        """The rule and the verdict (and a hint when they disagree), as report lines."""
        lines = [f"rule: Bonferroni over {self.tested_rows} tested rows at family-wise level {FAMILY_WISE_LEVEL:g}: "
                 f"|z| < {self.critical_z:.2f}; a row is tested when {self.tested_rule}"]
        if self.tested_rows == 0:
            lines.append(f"agreement: not assessed (no tested rows; a row is tested when {self.tested_rule})")
        else:
            lines.append(f"agreement: {'yes' if self.agrees else 'NO'}")
            hint = None if self.agrees else self.hint()
            if hint:
                lines.append(f"hint: {hint}")
        return lines

    def _row_label(self, index: tuple[int, ...]) -> str:
        """A row in words (``index`` into the row shape)."""
        t, k = index[-2:]
        return f"{self.names[k]} at t = {t}"

    def hint(self) -> str | None:
        """What to try when the tested rows disagree (None when there is nothing to say).

        With fewer than 1000 replications the mean of a skewed risk is not yet normal,
        so a single large |z| can be chance."""
        if self.completed < 1000:
            return (f"with {self.completed} replications the z of a skewed risk is not yet normal and can exceed "
                    "the bound by chance; confirm with -R 10000 or more")
        return None

    def disagreement(self) -> str | None:
        """One line on the largest tested |z| when the tested rows disagree, else None."""
        if self.agrees or self.tested_rows == 0 or self.completed < 2:
            return None
        mask = np.broadcast_to(self.tested, self.theory.shape)
        z = np.where(mask, np.abs(self.z), -1.0)
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(z)), z.shape))
        hint = self.hint()
        return (f"theory and simulation disagree: |z| = {z[index]:.2f} for {self._row_label(index)} is not below "
                f"{self.critical_z:.2f} (Bonferroni over {self.tested_rows} tested rows)"
                + (f"; hint: {hint}" if hint else ""))

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
        progress: Callable[[int, int], None] | None = None, max_memory: int | None = None) -> Verification:
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
        Processes; the result does not depend on it. Capped at :func:`available_cores`
        (with a :class:`~graphcollapse.theory.errors.GraphCollapseWarning`) and at the
        number of chunks.
    progress : callable, optional
        ``progress(done, total)`` in replications after every chunk.
    max_memory : int, optional
        Bytes the simulation's arrays may take at once (default :data:`MEMORY_BUDGET`);
        applies when the simulator gives ``block_bytes`` (:func:`check_memory`).

    Returns
    -------
    Verification
        As built by ``simulator.result``. On Ctrl-C (KeyboardInterrupt) the finished
        chunks, with ``interrupted=True``; likewise when a worker process dies (with a
        warning).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.verify.montecarlo import OLSSimulator
    >>> sim = OLSSimulator(cycle(2, real_samples=20, samples=10, initial_samples=40, dimension=3), 3)
    >>> res = run(sim, replications=2000, seed=1)
    >>> res.agrees, res.completed, res.mean.shape
    (True, 2000, (4, 2))
    """
    from concurrent.futures.process import BrokenProcessPool

    total = check_int(replications, "--replications", 2)
    workers = check_int(workers, "--workers", 1)
    chunk = check_int(simulator.chunk, "chunk", 1)
    check_seed(seed)
    if progress is not None and not callable(progress):
        raise GraphTypeError(f"progress: expected a callable progress(done, total) or None, found "
                             f"{type(progress).__name__}")
    cores = available_cores()
    if workers > cores:
        warn(f"--workers: {workers} requested, {cores} core{'s' if cores > 1 else ''} available; using {cores}")
        workers = cores
    n_blocks = -(-total // BLOCK_SIZE)
    block_bytes = getattr(simulator, "block_bytes", None)
    if block_bytes is not None or max_memory is not None:
        chunk = check_memory(block_bytes or 0, workers=min(workers, n_blocks), max_memory=max_memory, chunk=chunk)
    workers = min(workers, -(-n_blocks // chunk))  # no more processes than chunks
    theory = np.asarray(simulator.prediction(), dtype=float)
    seed = draw_seed(seed)
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
            for ch in _chunks(total, chunk):
                absorb(ch, _simulate_chunk(simulator, seed, ch))
        else:
            _run_pool(simulator, seed, _chunks(total, chunk), workers, absorb)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenProcessPool:
        interrupted = True
        warn(f"a worker process died (killed?); the run stops with the {done} replications merged so far")
    mean, se, used = _finish(acc, theory.shape)
    return simulator.result(dict(seed=seed, replications=total, completed=done, interrupted=interrupted,
                                 theory=theory, mean=mean, se=se, used=used, tested=simulator.tested(used)))


def _chunks(total: int, chunk: int) -> Any:
    """The chunks of ``chunk`` blocks covering ``total`` replications, generated lazily
    (memory does not grow with ``total``).

    Examples
    --------
    >>> [list(c) for c in _chunks(600, 2)]
    [[(0, 256), (1, 256)], [(2, 88)]]
    """
    blocks = ((b, stop - start) for b, start, stop in replication_blocks(total))
    while True:
        ch = list(itertools.islice(blocks, chunk))
        if not ch:
            return
        yield ch


def _simulate_chunk(simulator: Simulator, seed: int, blocks: Sequence[Block]) -> list[Moments]:
    """Simulate a chunk of blocks and reduce each block to its moments (runs in a worker)."""
    return [moments(sample) for sample in simulator.simulate(seed, blocks)]


_WORKER_SIMULATOR: Simulator | None = None


def _init_worker(simulator: Simulator) -> None:
    """Worker initializer: keep the simulator (sent once) and leave Ctrl-C to the parent.

    SIGTERM keeps its default action: a worker that receives it (say from a batch
    scheduler signalling the whole process group) ends at once, and the parent, which
    stops on the same signal, keeps the finished chunks."""
    import signal

    global _WORKER_SIMULATOR
    _WORKER_SIMULATOR = simulator
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _simulate_in_worker(seed: int, blocks: Sequence[Block]) -> list[Moments]:
    assert _WORKER_SIMULATOR is not None
    return _simulate_chunk(_WORKER_SIMULATOR, seed, blocks)


def _run_pool(simulator: Simulator, seed: int, chunks: Any, workers: int,
              absorb: Callable[[Sequence[Block], list[Moments]], None]) -> None:
    """Run the chunks in a process pool, at most ``2 * workers`` in flight, merged in
    chunk order. On any exit before the end (Ctrl-C, an error) the queued chunks are
    cancelled and the worker processes are stopped and reaped before returning, so
    none outlives the call."""
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(simulator,))
    pending: deque = deque()
    todo = iter(chunks)
    finished = False
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
        finished = True
    finally:
        if not finished:
            _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: Any) -> None:
    """Kill the pool's worker processes (their chunks are abandoned) and reap them.

    ``ProcessPoolExecutor`` has no public way to do this before Python 3.14
    (``kill_workers``), hence its ``_processes`` mapping."""
    if hasattr(pool, "kill_workers"):  # pragma: no cover - Python >= 3.14
        pool.kill_workers()
        return
    procs = getattr(pool, "_processes", None)
    processes = list(procs.values()) if isinstance(procs, dict) else []
    for p in processes:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):  # already gone
            pass
    for p in processes:
        try:
            p.join(timeout=5)
        except (OSError, ValueError, AssertionError):
            pass


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
