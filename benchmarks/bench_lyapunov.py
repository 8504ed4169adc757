"""Exact stationary covariance with symbolic parameters: our SCC-blocked solver
(theory.lyapunov.solve_lyapunov_exact) against the naive baseline
(../shared/baselines/naive_lyapunov.py: sympy.solve on the K^2 equations), timed in the
same run.

Families
--------
(a) the baseline's cycle family: W[k,k] = b, W[k,k-1] = 1-b, W[0,K-1] = 1-a-b, D = I.
(b) a ring of K learners plus one extra out-edge per learner to a random other learner
    (numpy seed 1); rational weights n_jk/N_k from random counts; learner 0's row scaled
    by (1 - a); two random edges carry the symbols b and c; D = diag(1/N_k).

For each route and family, K grows from 2 (3 on (b); or --kmin) until one solve takes
longer than the budget (default 60 s of wall time; each solve runs in a child process
killed at the budget). Prints one line per solve (for our route also the counters of the
linear solver summed over the blocks: primes, evaluation points, unlucky points) and a
summary: largest K done by each route and the speed-up at the largest K the baseline
finishes. Times are wall-clock seconds of the solve alone, or with --clock cpu the CPU
seconds of the child process (time.process_time), which a shared machine disturbs less.

Checks (outside the timed solve): for every K, one random rational point of the symbols
is substituted into our C and compared with the exact QQ solve of the substituted system
(probabilistic: a wrong rational function agrees at a random point with probability
about degree / range); for K <= 6 also the exact residual C - W C W^T - D = 0 over
QQ(a, b[, c]). A failed check stops the family and is printed.

Usage: python benchmarks/bench_lyapunov.py [--budget 60] [--kmin K] [--kmax 40]
       [--families a-cycle b-ring-plus] [--routes ours baseline] [--clock wall|cpu]

Example (our solver only, cycle K = 10, CPU time):
python benchmarks/bench_lyapunov.py --families a-cycle --routes ours --kmin 10 --kmax 10 --clock cpu
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "baselines"))

a, b, c = sp.symbols("a b c", positive=True)


def cycle_family(K: int) -> tuple[sp.Matrix, sp.Matrix]:
    """The baseline's own cycle family with two symbols a, b."""
    W = sp.zeros(K, K)
    for k in range(K):
        W[k, k] = b
        W[k, (k - 1) % K] = 1 - b
    W[0, K - 1] = 1 - a - b
    return W, sp.eye(K)


def ring_plus_family(K: int, seed: int = 1) -> tuple[sp.Matrix, sp.Matrix]:
    """Ring plus one random extra out-edge per learner; symbols a (row 0), b, c (two edges)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((K, K), dtype=int)  # counts[k, j] = n_jk
    for k in range(K):
        counts[(k + 1) % K, k] = rng.integers(1, 10)
        others = [j for j in range(K) if j != k and j != (k + 1) % K] or [j for j in range(K) if j != k]
        t = int(rng.choice(others))
        counts[t, k] += rng.integers(1, 10)
    m = rng.integers(1, 10, size=K)
    N = counts.sum(axis=1) + m
    W = sp.Matrix(K, K, lambda k, j: sp.Rational(int(counts[k, j]), int(N[k])))
    W[0, :] = W[0, :] * (1 - a)
    nz = [(k, j) for k in range(K) for j in range(K) if counts[k, j] and k != 0]
    picks = rng.choice(len(nz), size=2, replace=False)
    (k1, j1), (k2, j2) = nz[int(picks[0])], nz[int(picks[1])]
    W[k1, j1] = W[k1, j1] * b
    W[k2, j2] = W[k2, j2] * c
    D = sp.diag(*[sp.Rational(1, int(n)) for n in N])
    return W, D


FAMILIES = {"a-cycle": cycle_family, "b-ring-plus": ring_plus_family}


def _ours(W, D):
    """C and the linear solver's counters summed over the blocks."""
    from graphcollapse.theory.lyapunov import solve_lyapunov_exact_detailed

    sol = solve_lyapunov_exact_detailed(W, D)
    s = sol.stats
    return sol.C, (f"primes={s.primes} points={s.points} unlucky={s.unlucky_points} "
                   f"modular={s.modular} field={s.field}")


def _baseline(W, D):
    import naive_lyapunov

    return naive_lyapunov.stationary(W, D), ""


ROUTES = {"ours": _ours, "baseline": _baseline}


def exact_value(expr: sp.Expr, values: dict) -> Fraction:
    """Exact value of a rational expression (Add, Mul, integer Pow, numbers, symbols) at
    rational symbol values, by walking the tree with Fractions (much faster than subs on
    large rational functions)."""
    cache: dict = {}

    def ev(e):
        if e in cache:
            return cache[e]
        if e.is_Symbol:
            v = values[e]
        elif e.is_Integer:
            v = Fraction(int(e))
        elif e.is_Rational:
            v = Fraction(int(e.p), int(e.q))
        elif e.is_Add:
            v = sum((ev(t) for t in e.args), Fraction(0))
        elif e.is_Mul:
            v = Fraction(1)
            for t in e.args:
                v *= ev(t)
        elif e.is_Pow and e.exp.is_Integer:
            v = ev(e.base) ** int(e.exp)
        else:
            raise TypeError(f"not a rational expression: {e}")
        cache[e] = v
        return v

    return ev(expr)


def substitution_check(W: sp.Matrix, D: sp.Matrix, C: sp.Matrix, seed: int = 0) -> bool:
    """Whether C at one random rational point of its symbols equals the exact QQ solve of
    C = W C W^T + D at that point."""
    from graphcollapse.theory.lyapunov import solve_lyapunov_exact

    rng = np.random.default_rng(seed)
    syms = sorted(set().union(*(e.free_symbols for e in list(W) + list(D))), key=str)
    vals = {s: Fraction(int(rng.integers(1, 10**6)), int(rng.integers(10**6, 4 * 10**6))) for s in syms}
    sub = {s: sp.Rational(v.numerator, v.denominator) for s, v in vals.items()}
    C0 = solve_lyapunov_exact(W.xreplace(sub), D.xreplace(sub))
    K = W.shape[0]
    return all(exact_value(C[i, j], vals) == exact_value(C0[i, j], {})
               for i in range(K) for j in range(i, K))


def residual_is_zero(W: sp.Matrix, D: sp.Matrix, C: sp.Matrix) -> bool:
    """Whether C - W C W^T - D is exactly zero, with polynomial arithmetic only: with
    common denominators w, c, d of W, C, D (numerators Wn, Cn, Dn) the residual times
    w^2 c d is w^2 d Cn - d Wn Cn Wn^T - w^2 c Dn. (The field-matrix product does a
    polynomial gcd per operation and takes half a minute at K = 6.)"""
    from sympy.polys.rings import PolyRing

    K = W.shape[0]
    syms = sorted(set().union(*(sp.sympify(e).free_symbols for e in list(W) + list(D) + list(C))), key=str)
    ring = PolyRing(syms or [sp.Dummy("z")], sp.QQ, "lex")
    gens = dict(zip(syms, ring.gens))

    def frac(e):
        """(numerator, denominator) of a rational expression as ring elements, without
        gcds (denominators are multiplied, never cancelled)."""
        one = ring.one
        if e.is_Symbol:
            return gens[e], one
        if e.is_Rational:
            return ring(sp.QQ.from_sympy(e)), one
        if e.is_Add:
            num, den = ring.zero, one
            for t in e.args:
                n2, d2 = frac(t)
                if d2 == den:
                    num += n2
                else:
                    num, den = num * d2 + n2 * den, den * d2
            return num, den
        if e.is_Mul:
            num, den = one, one
            for t in e.args:
                n2, d2 = frac(t)
                num, den = num * n2, den * d2
            return num, den
        if e.is_Pow and e.exp.is_Integer:
            n2, d2 = frac(e.base)
            k = int(e.exp)
            return (n2 ** k, d2 ** k) if k >= 0 else (d2 ** -k, n2 ** -k)
        raise TypeError(f"not a rational expression: {e}")

    def numerators(M):
        els = [[frac(sp.sympify(M[i, j])) for j in range(K)] for i in range(K)]
        distinct = {}
        for row in els:
            for _, dn in row:
                distinct.setdefault(frozenset(dn.items()), dn)
        den = ring.one
        for dn in distinct.values():
            den = den.lcm(dn)
        return [[nm * den.exquo(dn) for nm, dn in row] for row in els], den

    (Wn, w), (Cn, c), (Dn, d) = numerators(W), numerators(C), numerators(D)
    nzW = [[(p, v) for p, v in enumerate(row) if v] for row in Wn]
    w2 = w * w
    for i in range(K):
        for j in range(i, K):
            acc = ring.zero
            for p, wip in nzW[i]:
                for q, wjq in nzW[j]:
                    acc += wip * wjq * Cn[p][q]
            if w2 * d * Cn[i][j] - d * acc - w2 * c * Dn[i][j]:
                return False
    return True


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _child(route: str, family: str, K: int, q, clock: str = "wall") -> None:
    W, D = FAMILIES[family](K)
    tick = CLOCKS[clock]
    start = tick()
    C, info = ROUTES[route](W, D)
    elapsed = tick() - start
    q.put((elapsed, info))
    ok = True
    if route == "ours":
        ok = substitution_check(W, D, C, seed=K)
        if ok and K <= 6:  # exact residual on small instances
            ok = residual_is_zero(W, D, C)
    q.put(ok)


def timed(route: str, family: str, K: int, budget: float, clock: str = "wall") -> tuple[float | None, bool, str]:
    """Seconds (wall or CPU) for one solve in a child process (None past the budget of
    wall time), whether the checks done after the timed solve passed, and the route's
    counters."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(route, family, K, q, clock))
    p.start()
    try:
        elapsed, info = q.get(timeout=budget)
    except queue.Empty:
        p.terminate()
        p.join()
        return None, True, ""
    try:
        ok = q.get(timeout=max(600.0, 10 * budget))
    except queue.Empty:
        ok = False
    p.join(5)
    if p.is_alive():
        p.terminate()
        p.join()
    return elapsed, ok, info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of wall time per solve")
    ap.add_argument("--kmin", type=int, default=None, help="first K (default 2, 3 on b-ring-plus)")
    ap.add_argument("--kmax", type=int, default=40)
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--routes", nargs="*", default=list(ROUTES), choices=list(ROUTES))
    ap.add_argument("--clock", choices=list(CLOCKS), default="wall",
                    help="time the solve in wall-clock or CPU seconds of the child process")
    args = ap.parse_args(argv)
    # import both routes' modules before forking, so that no timed solve pays an import
    import naive_lyapunov  # noqa: F401
    import graphcollapse.theory.lyapunov  # noqa: F401
    for family in args.families:
        times: dict[str, dict[int, float]] = {r: {} for r in ROUTES}
        kmin = args.kmin if args.kmin is not None else 3 if family == "b-ring-plus" else 2
        for route in args.routes:
            for K in range(kmin, args.kmax + 1):
                t, ok, info = timed(route, family, K, args.budget, args.clock)
                print(f"{family:12s} {route:8s} K={K:3d} "
                      f"{'> budget' if t is None else f'{t:8.2f} s'}{'' if ok else '  CHECK FAILED'}"
                      f"{'  ' + info if info else ''}", flush=True)
                if t is None or not ok:
                    break
                times[route][K] = t
        kb = max(times["baseline"], default=None)
        ko = max(times["ours"], default=None)
        speed = times["baseline"][kb] / times["ours"][kb] if kb and kb in times["ours"] else float("nan")
        print(f"SUMMARY {family}: largest K in {args.budget:.0f} s: ours {ko}, baseline {kb}; "
              f"speed-up at K={kb}: {speed:.0f}x", flush=True)


if __name__ == "__main__":
    main()
