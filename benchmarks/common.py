"""Shared timing helpers of the benchmarks: interleaved rounds, CPU time, median and
spread, and a machine-readable results file.

On a shared machine one timing window says little: another job can take the core for
part of it, so the same ratio reads 28x in one run and 61x in the next. The helpers here
make a measurement settle a claim:

* **interleaved**: in every round each case (the baseline and the project) runs once, in
  alternating order, so slow phases of the machine hit both;
* **repeated**: at least :data:`MIN_ROUNDS` rounds, each run of a case repeated until it
  has used at least ``min_seconds`` of CPU time (so a round is long enough to measure);
* **CPU time** (``time.process_time``: this process; work done in child processes is
  timed by the child or through ``os.times`` and reported with wall time next to it),
  plus wall time for reference;
* **median and spread** (min, max and the interquartile range over rounds) of every
  rate and of the per-round ratios, which cancel the load common to both cases of a
  round;
* **a results file** ``benchmarks/results/NAME.json`` (:func:`write_results`) with the
  environment, the raw per-round numbers and the summaries, plus the outcome of the
  checks each benchmark makes on its own results.

Usage::

    rounds = interleave({"baseline": lambda: base_work(), "ours": lambda: our_work()},
                        rounds=5, min_seconds=0.3)
    summary(rounds, "ours", "baseline")   # rate and ratio statistics

A case is a callable doing some work and returning the number of work units it did
(fits, solves); rates are units per CPU second.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

RESULTS = Path(__file__).resolve().parent / "results"

#: Fewest rounds a benchmark may report a median and spread from.
MIN_ROUNDS = 5


@dataclass
class Run:
    """One timed run of a case inside a round: units of work, CPU and wall seconds."""

    units: float
    cpu: float
    wall: float
    calls: int

    @property
    def rate(self) -> float:
        """Units per CPU second."""
        return self.units / self.cpu if self.cpu > 0 else float("inf")

    @property
    def wall_rate(self) -> float:
        return self.units / self.wall if self.wall > 0 else float("inf")


@dataclass
class Rounds:
    """Per-round runs of every case, in round order."""

    names: list[str]
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def rates(self, name: str, clock: str = "cpu") -> list[float]:
        return [r.rate if clock == "cpu" else r.wall_rate for r in self.runs[name]]

    def ratios(self, num: str, den: str, clock: str = "cpu") -> list[float]:
        """Per-round ratio of rates num / den (the same round's load cancels)."""
        return [a / b for a, b in zip(self.rates(num, clock), self.rates(den, clock))]

    def seconds_per_unit(self, name: str) -> list[float]:
        return [r.cpu / r.units for r in self.runs[name]]


def spread(values: Iterable[float]) -> dict:
    """Median, min, max and interquartile range (quartiles by linear interpolation)."""
    v = sorted(float(x) for x in values)
    if not v:
        return {"n": 0}
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) >= 2 else [v[0], v[0], v[0]]
    return {"n": len(v), "median": statistics.median(v), "min": v[0], "max": v[-1], "q1": q[0], "q3": q[2]}


def fmt(s: dict, unit: str = "", digits: int = 0, scale: float = 1.0) -> str:
    """``median [min-max]`` of a :func:`spread` summary."""
    f = f"{{:,.{digits}f}}"
    return (f"{f.format(s['median'] * scale)}{unit} [{f.format(s['min'] * scale)}-"
            f"{f.format(s['max'] * scale)}{unit}]")


def timed_call(case: Callable[[], float]) -> Run:
    """One call of a case: (units, CPU seconds, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    units = case()
    return Run(float(units), time.process_time() - c0, time.perf_counter() - w0, 1)


def run_for(case: Callable[[], float], min_seconds: float) -> Run:
    """Call ``case`` until at least ``min_seconds`` of CPU time have been used; sum."""
    total = Run(0.0, 0.0, 0.0, 0)
    while total.cpu < min_seconds:
        r = timed_call(case)
        total = Run(total.units + r.units, total.cpu + r.cpu, total.wall + r.wall, total.calls + 1)
    return total


def interleave(cases: Mapping[str, Callable[[], float]], rounds: int = MIN_ROUNDS, min_seconds: float = 0.3,
               warmup: bool = True, progress: bool = True) -> Rounds:
    """Time every case in each of ``rounds`` rounds, the order alternating between rounds
    (forward, then backward), each run lasting at least ``min_seconds`` of CPU time.

    ``warmup`` calls every case once untimed first (JIT compilation, imports, caches)."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"rounds: at least {MIN_ROUNDS} give a median and a spread, found {rounds}")
    names = list(cases)
    if warmup:
        for name in names:
            cases[name]()
    out = Rounds(names, {n: [] for n in names})
    for i in range(rounds):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            out.runs[name].append(run_for(cases[name], min_seconds))
        if progress:
            print("  round " + str(i + 1) + ": " + ", ".join(
                f"{n} {out.runs[n][-1].rate:,.0f}/s" for n in names), file=sys.stderr, flush=True)
    return out


def summary(rounds: Rounds, ours: str | None = None, baseline: str | None = None) -> dict:
    """Rates (units per CPU second and per wall second) of every case with their spread,
    and the ratio ours / baseline per round with its spread."""
    out: dict = {"rounds": len(rounds.runs[rounds.names[0]]), "cases": {}}
    for n in rounds.names:
        out["cases"][n] = {
            "rate_cpu": spread(rounds.rates(n)),
            "rate_wall": spread(rounds.rates(n, "wall")),
            "per_round": [{"units": r.units, "cpu_s": round(r.cpu, 4), "wall_s": round(r.wall, 4), "calls": r.calls}
                          for r in rounds.runs[n]],
        }
    if ours and baseline:
        out["ratio_cpu"] = spread(rounds.ratios(ours, baseline))
        out["ratio_wall"] = spread(rounds.ratios(ours, baseline, "wall"))
    return out


def environment() -> dict:
    """The machine and library versions a results file was measured with."""
    import numpy as np

    env = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
           "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "clock": "time.process_time (CPU seconds of the timing process), wall time recorded beside it"}
    try:
        env["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        pass
    for mod in ("numba", "scipy", "sympy", "statsmodels"):
        if mod in sys.modules:
            env[mod] = getattr(sys.modules[mod], "__version__", "?")
    return env


def write_results(name: str, results: dict, checks: Mapping[str, bool], command: str) -> Path:
    """Write ``benchmarks/results/NAME.json`` (the environment, the command that
    reproduces it, the results and the checks) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"benchmark": name, "command": command, "environment": environment(),
           "checks": dict(checks), "all_checks_passed": all(checks.values()), "results": results}
    path.write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(x):
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(x)


def child_cpu_seconds() -> float:
    """CPU seconds used so far by this process's waited-for children (``os.times``)."""
    t = os.times()
    return t.children_user + t.children_system
