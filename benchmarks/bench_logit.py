"""Batched logistic-regression fits per second against the naive baseline.

Ours: :func:`graphcollapse.verify.msimulate.fit_logistic_batch` fits a whole batch of data sets at once
(damped Newton, batched BLAS). Baseline: ``../shared/baselines/naive_logit.py``
(statsmodels ``Logit(...).fit()``, one fit at a time; needs ``pip install statsmodels``,
which is not a package dependency). Both draw X ~ N(0, I_d) and y ~ Bernoulli(sigmoid(X theta))
with theta = linspace(1, -0.5, d) *inside* the timed region, at d = 5 and N = 200, in the
same run.

Run: ``python benchmarks/bench_logit.py [--fits 4096] [--batch 1024] [--baseline-fits 300]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "baselines"))

from graphcollapse.verify.msimulate import fit_logistic_batch  # noqa: E402


def batched_fits_per_second(d: int, n: int, fits: int, batch: int, seed: int = 0) -> tuple[float, float, int]:
    """(fits/s including data generation, fits/s of the fitting alone, fits not converged)."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(1.0, -0.5, d)
    failed = 0
    fit_time = 0.0
    start = time.perf_counter()
    done = 0
    while done < fits:
        b = min(batch, fits - done)
        X = rng.standard_normal((b, n, d))
        y = (rng.random((b, n)) < 1 / (1 + np.exp(-X @ theta))).astype(float)
        t0 = time.perf_counter()
        _, ok = fit_logistic_batch(X, y)
        fit_time += time.perf_counter() - t0
        failed += int(np.count_nonzero(~ok))
        done += b
    return fits / (time.perf_counter() - start), fits / fit_time, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--fits", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--baseline-fits", type=int, default=300)
    args = parser.parse_args(argv)
    import naive_logit  # ../shared/baselines, imported, never copied

    ours, fit_only, failed = batched_fits_per_second(args.d, args.n, args.fits, args.batch)
    base = naive_logit.fits_per_second(args.d, args.n, args.baseline_fits)
    print(f"d={args.d} N={args.n}: batched {ours:,.0f} fits/s with data generation ({fit_only:,.0f} fits/s fitting "
          f"alone; {failed} of {args.fits} not converged), statsmodels one at a time {base:,.0f} fits/s "
          f"(data generation included); ratio {ours / base:.1f}x end to end, {fit_only / base:.1f}x fitting alone "
          f"(target >= 30x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
