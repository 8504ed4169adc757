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

For each route and family, K grows from 2 (3 on (b); or --kmin) until one solve needs
more than the budget of CPU time (default 60 s; each solve runs in a child process whose
CPU time the kernel limits, RLIMIT_CPU, so the budget does not depend on the load of a
shared machine). Times are CPU seconds of the solve in the child (time.process_time),
wall seconds beside them. Prints one line per solve (for our route also the counters of
the linear solver summed over the blocks) and a summary: the largest K done by each route
and the speed-up at the largest K the baseline finishes, measured in --rounds (>= 5)
interleaved rounds, each solve repeated (sympy's cache cleared) until it has used
--min-seconds of CPU time; median and range of the per-round ratio.

Checks (outside the timed solves): for every K, one random rational point of the symbols
is substituted into our C and compared with the exact QQ solve of the substituted system
(probabilistic: a wrong rational function agrees at a random point with probability
about degree / range); for K <= 6 also the exact residual C - W C W^T - D = 0 over
QQ(a, b[, c]); for every K that both routes finish, our C equals the baseline's at two
random rational points (exact values). Results: benchmarks/results/lyapunov.json.

Usage: python benchmarks/bench_lyapunov.py [--budget 60] [--kmin K] [--kmax 40]
       [--families a-cycle b-ring-plus] [--routes ours baseline] [--rounds 5]

Example (our solver only, cycle K = 10):
python benchmarks/bench_lyapunov.py --families a-cycle --routes ours --kmin 10 --kmax 10
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


def evaluation_points(W: sp.Matrix, D: sp.Matrix, K: int, count: int = 2) -> list[dict]:
    """``count`` random rational points of the symbols (seeded by K), shared by both routes."""
    rng = np.random.default_rng(1000 + K)
    syms = sorted(set().union(*(e.free_symbols for e in list(W) + list(D))), key=str)
    return [{s: Fraction(int(rng.integers(1, 10**6)), int(rng.integers(10**6, 4 * 10**6))) for s in syms}
            for _ in range(count)]


def values_at(C: sp.Matrix, points: list[dict]) -> list[list[Fraction]]:
    """The upper triangle of C evaluated exactly at each point."""
    K = C.shape[0]
    return [[exact_value(sp.sympify(C[i, j]), pt) for i in range(K) for j in range(i, K)] for pt in points]


def _child(route: str, family: str, K: int, q, budget: float, min_seconds: float = 0.0) -> None:
    """Solve in this process under a CPU-time limit of ``budget`` seconds (RLIMIT_CPU: the
    kernel stops the process at the limit); repeat the solve (sympy's cache cleared each
    time) until ``min_seconds`` of CPU time are used; report (CPU seconds per solve, wall
    seconds per solve, solves, info), then, with the limit lifted, the checks: our C at a
    random point against the exact QQ solve there (and the exact residual for K <= 6),
    and the values of C at the shared evaluation points."""
    import resource

    from sympy.core.cache import clear_cache

    W, D = FAMILIES[family](K)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = int(time.process_time() + budget) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    cpu = wall = 0.0
    solves = 0
    while solves == 0 or cpu < min_seconds:
        clear_cache()
        c0, w0 = time.process_time(), time.perf_counter()
        C, info = ROUTES[route](W, D)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        solves += 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    q.put((cpu / solves, wall / solves, solves, info))
    ok = True
    if route == "ours":
        ok = substitution_check(W, D, C, seed=K)
        if ok and K <= 6:  # exact residual on small instances
            ok = residual_is_zero(W, D, C)
    q.put((ok, values_at(C, evaluation_points(W, D, K))))


def timed(route: str, family: str, K: int, budget: float, min_seconds: float = 0.0) -> dict | None:
    """One solve (or repeated solves, see :func:`_child`) in a child process under a CPU
    budget; None when the child was stopped at the budget."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(route, family, K, q, budget, min_seconds))
    p.start()
    first = None
    while first is None:
        try:
            first = q.get(timeout=1.0)
        except queue.Empty:
            if not p.is_alive():
                try:
                    first = q.get(timeout=1.0)
                except queue.Empty:
                    p.join()
                    return None  # stopped by RLIMIT_CPU
    cpu, wall, solves, info = first
    try:
        ok, values = q.get(timeout=3600)
    except queue.Empty:
        ok, values = False, None
    p.join(5)
    if p.is_alive():
        p.terminate()
        p.join()
    return {"cpu_s": cpu, "wall_s": wall, "solves": solves, "info": info, "check": ok, "values": values}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="CPU seconds per solve")
    ap.add_argument("--kmin", type=int, default=None, help="first K (default 2, 3 on b-ring-plus)")
    ap.add_argument("--kmax", type=int, default=40)
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--routes", nargs="*", default=list(ROUTES), choices=list(ROUTES))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds at the baseline's largest K")
    ap.add_argument("--min-seconds", type=float, default=0.3, help="CPU seconds per timed run in those rounds")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import MIN_ROUNDS, spread, write_results

    if args.rounds < MIN_ROUNDS:
        ap.error(f"--rounds: at least {MIN_ROUNDS}")
    # import both routes' modules before forking, so that no timed solve pays an import
    import naive_lyapunov  # noqa: F401
    import graphcollapse.theory.lyapunov  # noqa: F401
    # and pay the one-time costs (lazy imports, tables) of both routes on small instances
    # before forking: the first solve in a fresh process costs about 0.4 s more
    for fam in FAMILIES.values():
        _ours(*fam(3))
    _baseline(*cycle_family(2))
    results: dict = {"budget_cpu_s": args.budget, "families": {}}
    checks: dict = {}
    for family in args.families:
        scan: dict[str, dict[int, dict]] = {r: {} for r in ROUTES}
        kmin = args.kmin if args.kmin is not None else 3 if family == "b-ring-plus" else 2
        for route in args.routes:
            for K in range(kmin, args.kmax + 1):
                res = timed(route, family, K, args.budget)
                if res is None:
                    print(f"{family:12s} {route:8s} K={K:3d} > {args.budget:.0f} s CPU", flush=True)
                    break
                print(f"{family:12s} {route:8s} K={K:3d} {res['cpu_s']:8.2f} s CPU ({res['wall_s']:.2f} s wall)"
                      f"{'' if res['check'] else '  CHECK FAILED'}{'  ' + res['info'] if res['info'] else ''}",
                      flush=True)
                scan[route][K] = res
                if not res["check"]:
                    break
        fam: dict = {"scan": {r: {K: {k: v for k, v in res.items() if k != "values"} for K, res in scan[r].items()}
                              for r in ROUTES}}
        for K, res in scan["ours"].items():
            checks[f"{family} K={K}: ours equals the exact QQ solve at a random point"] = bool(res["check"])
        for K in sorted(set(scan["ours"]) & set(scan["baseline"])):
            same = scan["ours"][K]["values"] == scan["baseline"][K]["values"]
            checks[f"{family} K={K}: ours equals the baseline's solution at 2 random points"] = same
        ko, kb = max(scan["ours"], default=None), max(scan["baseline"], default=None)
        fam["largest_K"] = {"ours": ko, "baseline": kb}
        if kb is not None and "ours" in args.routes and "baseline" in args.routes:
            per = {"ours": [], "baseline": []}
            for i in range(args.rounds):
                for route in (("ours", "baseline") if i % 2 == 0 else ("baseline", "ours")):
                    res = timed(route, family, kb, 10 * args.budget, args.min_seconds)
                    per[route].append(res["cpu_s"] if res else float("nan"))
                print(f"  round {i + 1} at K={kb}: ours {per['ours'][-1]:.3f} s, baseline {per['baseline'][-1]:.2f} s "
                      f"CPU per solve", flush=True)
            ratios = [b / o for o, b in zip(per["ours"], per["baseline"])]
            fam["speed_up_at_baseline_largest_K"] = {
                "K": kb, "ours_cpu_s": spread(per["ours"]), "baseline_cpu_s": spread(per["baseline"]),
                "ratio": spread(ratios), "per_round": per}
            r = spread(ratios)
            print(f"SUMMARY {family}: largest K in {args.budget:.0f} CPU s: ours {ko}, baseline {kb}; speed-up at "
                  f"K={kb}: {r['median']:.0f}x [{r['min']:.0f}-{r['max']:.0f}x] over {args.rounds} rounds", flush=True)
        else:
            print(f"SUMMARY {family}: largest K in {args.budget:.0f} CPU s: ours {ko}, baseline {kb}", flush=True)
        results["families"][family] = fam
    path = write_results("lyapunov", results, checks, "python benchmarks/bench_lyapunov.py")
    print(f"checks: {'all passed' if all(checks.values()) else 'FAILED'}; results in {path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
