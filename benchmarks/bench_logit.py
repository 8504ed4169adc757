"""Logistic-regression fits per CPU second against statsmodels, like for like, interleaved.

Ours, end to end: :func:`graphcollapse.verify.msimulate.logistic_data` draws a batch of
data sets (X ~ N(0, I_d), y ~ Bernoulli(sigmoid(X theta)), theta = linspace(1, -0.5, d))
in the layout the fitter reads, and :func:`graphcollapse.verify.msimulate.fit_logistic_batch`
fits them: the path the M-estimator simulator takes. Baseline, end to end:
``../shared/baselines/naive_logit.fits_per_second`` (statsmodels ``Logit(...).fit()``,
one fit at a time, its own data generation inside its loop; needs
``pip install statsmodels``, not a package dependency). Both include data generation.

Also measured, like for like: fitting alone on pre-drawn data, ours against the same
statsmodels call in a loop (``Logit(y, X).fit(disp=0)``) on the same data sets.

Every round (``--rounds``, at least 5) runs each case for at least ``--min-seconds`` of
CPU time, in alternating order; the report gives medians and ranges of the rates and of
the per-round ratios. Check (outside the timed runs): on ``--check`` of our data sets,
our estimates equal statsmodels' (max |delta theta| < 1e-8) and every fit converged.

Run: ``python benchmarks/bench_logit.py [--d 5] [--n 200] [--batch 256] [--rounds 5]``;
writes ``benchmarks/results/logit.json``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "shared" / "baselines"))

from common import fmt, interleave, summary, write_results  # noqa: E402

from graphcollapse.verify.msimulate import fit_logistic_batch, logistic_data  # noqa: E402

COMMAND = "python benchmarks/bench_logit.py"
TOLERANCE = 1e-8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256, help="data sets per call (one replication block)")
    parser.add_argument("--baseline-fits", type=int, default=100, help="statsmodels fits per call")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    parser.add_argument("--check", type=int, default=256, help="data sets compared with statsmodels")
    args = parser.parse_args(argv)
    import naive_logit  # ../shared/baselines, imported, never copied
    import statsmodels.api as sm

    d, n, batch = args.d, args.n, args.batch
    theta = np.linspace(1.0, -0.5, d)
    thetas = np.broadcast_to(theta, (1, batch, d))
    rng = np.random.default_rng(0)
    failed = [0]

    def ours_end_to_end() -> float:
        X, y = logistic_data(rng, thetas, [n])
        _, ok = fit_logistic_batch(X, y)
        failed[0] += int(np.count_nonzero(~ok))
        return batch

    def baseline_end_to_end() -> float:
        naive_logit.fits_per_second(d, n, args.baseline_fits)
        return args.baseline_fits

    fixed_X, fixed_y = logistic_data(np.random.default_rng(1), thetas, [n])
    fixed_X = np.ascontiguousarray(fixed_X)  # the same (R, N, d) arrays for both fitters

    def ours_fit_only() -> float:
        fit_logistic_batch(fixed_X, fixed_y)
        return batch

    def statsmodels_fit_only() -> float:
        for i in range(args.baseline_fits):
            sm.Logit(fixed_y[i % batch], fixed_X[i % batch]).fit(disp=0)
        return args.baseline_fits

    print(f"d = {d}, N = {n}: fits per CPU second, median [min-max] over {args.rounds} interleaved rounds",
          flush=True)
    e2e = interleave({"statsmodels": baseline_end_to_end, "ours": ours_end_to_end},
                     rounds=args.rounds, min_seconds=args.min_seconds)
    fit = interleave({"statsmodels": statsmodels_fit_only, "ours": ours_fit_only},
                     rounds=args.rounds, min_seconds=args.min_seconds)
    s_e2e, s_fit = summary(e2e, "ours", "statsmodels"), summary(fit, "ours", "statsmodels")

    # check: our estimates equal statsmodels' on our own data sets
    X, y = logistic_data(np.random.default_rng(2), np.broadcast_to(theta, (1, args.check, d)), [n])
    est, ok = fit_logistic_batch(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.array([sm.Logit(y[i], np.ascontiguousarray(X[i])).fit(disp=0).params for i in range(args.check)])
    delta = float(np.abs(est - ref).max())
    checks = {f"estimates equal statsmodels' (max |delta theta| < {TOLERANCE:g})": delta < TOLERANCE,
              "every fit converged (check sets)": bool(ok.all()),
              "every timed fit converged": failed[0] == 0}
    for label, s in (("end to end (data generation included on both sides)", s_e2e),
                     ("fitting alone (same pre-drawn data sets)", s_fit)):
        print(f"  {label}: ours {fmt(s['cases']['ours']['rate_cpu'])}, statsmodels "
              f"{fmt(s['cases']['statsmodels']['rate_cpu'])}; ratio {fmt(s['ratio_cpu'], 'x', 1)}")
    print(f"  check: max |delta theta| against statsmodels on {args.check} data sets = {delta:.1e}; "
          f"converged {int(ok.sum())}/{args.check}; timed fits not converged: {failed[0]}")
    results = {"d": d, "N": n, "theta": theta.tolist(), "batch": batch, "end_to_end": s_e2e, "fit_only": s_fit,
               "max_abs_delta_theta_vs_statsmodels": delta, "check_data_sets": args.check}
    path = write_results("logit", results, checks, COMMAND)
    print(f"checks: {'all passed' if all(checks.values()) else 'FAILED'}; results in {path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
