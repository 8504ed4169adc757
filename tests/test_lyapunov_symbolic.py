"""The symbolic path of theory.lyapunov.solve_lyapunov_exact (Schur elimination of the
symbol-free equations over QQ before the fraction-field solve)."""

import sys
from pathlib import Path

import pytest
import sympy as sp

from theory.linalg import common_field, domain_matrix
from theory.lyapunov import solve_lyapunov_exact

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_lyapunov import cycle_family, ring_plus_family  # noqa: E402


def _residual_is_zero(W, D, C) -> bool:
    F = common_field(list(W) + list(D) + list(C))
    Wd, Cd, Dd = (domain_matrix(M, F) for M in (W, C, D))
    return (Cd - Wd * Cd * Wd.transpose() - Dd).is_zero_matrix


@pytest.mark.parametrize("K", [3, 4, 5], ids=lambda k: f"ring-plus-{k}")
def test_ring_plus_residual_exactly_zero(K):
    """Claim: on the benchmark's ring-plus family (symbols a, b, c on a few rows, so the
    Schur path runs) the solution satisfies C = W C W^T + D exactly."""
    W, D = ring_plus_family(K)
    assert _residual_is_zero(W, D, solve_lyapunov_exact(W, D))


@pytest.mark.parametrize("K", [3, 4], ids=lambda k: f"cycle-{k}")
def test_cycle_family_residual_exactly_zero(K):
    """Claim: on the baseline's cycle family (symbols on every row: the plain path) the
    residual is exactly zero."""
    W, D = cycle_family(K)
    assert _residual_is_zero(W, D, solve_lyapunov_exact(W, D))


def test_schur_path_equals_numeric_substitution():
    """Claim: substituting numbers into the symbolic solution equals solving the
    numeric system (a = 1/3, b = 1/2, c = 1/5) exactly."""
    a, b, c = sp.symbols("a b c", positive=True)
    W, D = ring_plus_family(4)
    vals = {a: sp.Rational(1, 3), b: sp.Rational(1, 2), c: sp.Rational(1, 5)}
    C = solve_lyapunov_exact(W, D).subs(vals)
    C_num = solve_lyapunov_exact(W.subs(vals), D)
    assert (C - C_num).applyfunc(sp.simplify) == sp.zeros(4, 4)
