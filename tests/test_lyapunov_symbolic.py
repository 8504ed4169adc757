"""The symbolic path of theory.lyapunov.solve_lyapunov_exact: its block systems go through
theory.modular.solve_modular (evaluation modulo primes, nested rational reconstruction and
an exact polynomial check; see that module's docstring).

Checked here: exact residuals on both benchmark families up to K = 6, equality with the
direct fraction-field solve on random small symbolic systems (several SCC blocks,
symbolic denominators), unlucky evaluation points (singular systems, vanishing
denominators) that must be skipped, a small-prime stress run, the error for a singular
system, and a random-point substitution at a moderate K."""

import random
import sys
from pathlib import Path

import pytest
import sympy as sp

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.lyapunov import solve_lyapunov_exact, solve_lyapunov_exact_detailed
from graphcollapse.theory.modular import ModularOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_lyapunov import (  # noqa: E402
    cycle_family, residual_is_zero, ring_plus_family, substitution_check,
)

a, b, c = sp.symbols("a b c", positive=True)


def _field_route(W, D):
    """The same solve with the evaluation/interpolation route switched off."""
    return solve_lyapunov_exact(W, D, ModularOptions(interpolate=False))


def _same(C1, C2) -> bool:
    return all(sp.cancel(x - y) == 0 for x, y in zip(C1, C2))


@pytest.mark.parametrize("K", [3, 4, 5, 6], ids=lambda k: f"ring-plus-{k}")
def test_ring_plus_residual_exactly_zero(K):
    """Claim: on the benchmark's ring-plus family (symbols a, b, c) the interpolated
    solution satisfies C = W C W^T + D exactly."""
    W, D = ring_plus_family(K)
    sol = solve_lyapunov_exact_detailed(W, D)
    assert sol.stats.modular == 1 and sol.stats.field == 0, sol.stats
    assert residual_is_zero(W, D, sol.C)


@pytest.mark.parametrize("K", [2, 3, 4, 5, 6], ids=lambda k: f"cycle-{k}")
def test_cycle_family_residual_exactly_zero(K):
    """Claim: on the baseline's cycle family (symbols a, b on every row) the residual is
    exactly zero."""
    W, D = cycle_family(K)
    sol = solve_lyapunov_exact_detailed(W, D)
    assert sol.stats.modular == 1, sol.stats
    assert residual_is_zero(W, D, sol.C)


def test_residual_check_detects_a_wrong_entry():
    """The residual helper used above can fail: a perturbed entry is caught."""
    W, D = cycle_family(3)
    C = solve_lyapunov_exact(W, D)
    C[0, 1] = C[1, 0] = C[0, 1] + sp.Rational(1, 10**9)
    assert not residual_is_zero(W, D, C)


def _random_system(seed: int):
    """A random small system: 2-3 learners, random sparse pattern (often several SCCs),
    weights with symbols, a symbolic denominator c / (1 + c), symbolic D."""
    rng = random.Random(seed)
    K = rng.randint(2, 3)
    W = sp.zeros(K, K)
    factors = [1, a, 1 - b, c / (1 + c), a * b]
    for k in range(K):
        for j in range(K):
            if rng.random() < 0.45:
                W[k, j] = sp.Rational(rng.randint(1, 4), 5 * K) * rng.choice(factors)
    W[0, 0] = a / 3  # at least one symbol
    D = sp.diag(*[rng.choice([1, sp.Rational(1, 2), a, 1 + b]) for _ in range(K)])
    return W, D


@pytest.mark.parametrize("seed", range(8))
def test_interpolation_equals_field_solve_on_random_systems(seed):
    """Claim: the interpolation route and the direct fraction-field solve give the same
    rational functions (difference cancels to 0)."""
    W, D = _random_system(seed)
    sol = solve_lyapunov_exact_detailed(W, D)
    assert sol.stats.modular >= 1 and sol.stats.field == 0, sol.stats
    field = solve_lyapunov_exact_detailed(W, D, ModularOptions(interpolate=False))
    assert field.stats.modular == 0 and field.stats.field >= 1, field.stats
    assert _same(sol.C, field.C)


def test_unlucky_points_are_skipped():
    """Claim: evaluation points where the block is singular (a = 2, a = -2: 1 - a^2/4 = 0)
    or an entry's denominator vanishes (a = -1 in 1/(1 + a)) are detected and skipped; the
    result is still exactly the field solve's. The grid is forced to contain them."""
    W = sp.Matrix([[a / 2, 1 / (1 + a) / 3], [b / 5, a / 2]])
    D = sp.diag(1, b)
    sol = solve_lyapunov_exact_detailed(W, D, ModularOptions(forced_residues=(2, -2, -1)))
    assert sol.stats.unlucky_points > 0, sol.stats
    assert sol.stats.modular >= 1 and sol.stats.field == 0, sol.stats
    assert _same(sol.C, _field_route(W, D))
    assert residual_is_zero(W, D, sol.C)


def test_small_primes_never_silently_wrong():
    """Claim: with tiny primes (many unlucky points, coefficient denominators divisible
    by p, many primes needed) the result is still exactly right, whichever route ends up
    producing it."""
    tiny = ModularOptions(primes=tuple(sp.primerange(1009, 1600)))
    assert len(tiny.primes) >= tiny.max_primes
    used = {"tiny": 0, "default": 0}
    for seed in range(3):
        W, D = _random_system(100 + seed)
        sol = solve_lyapunov_exact_detailed(W, D, tiny)
        used["tiny"] += sol.stats.primes
        used["default"] += solve_lyapunov_exact_detailed(W, D).stats.primes
        assert _same(sol.C, _field_route(W, D)), seed
    assert used["tiny"] > used["default"], used  # the tiny primes were really used


def test_singular_system_raises():
    """Claim: a component with spectral radius 1 for every value of the symbol (rows of W
    sum to 1) still gives the one-line error."""
    W = sp.Matrix([[a, 1 - a], [1 - a, a]])
    with pytest.raises(GraphValueError, match="no unique solution"):
        solve_lyapunov_exact(W, sp.eye(2))


def test_random_point_substitution_moderate_K():
    """Claim (probabilistic): at a random rational point the symbolic solutions of both
    families equal the exact QQ solve of the substituted system (cycle K = 8, ring-plus
    K = 6)."""
    for W, D, seed in [(*cycle_family(8), 8), (*ring_plus_family(6), 6)]:
        assert substitution_check(W, D, solve_lyapunov_exact(W, D), seed=seed)


def test_substitution_check_detects_a_wrong_entry():
    W, D = ring_plus_family(3)
    C = solve_lyapunov_exact(W, D)
    C[1, 2] = C[2, 1] = C[1, 2] * (1 + a / 10**6)
    assert not substitution_check(W, D, C, seed=3)
