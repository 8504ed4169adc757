"""The general linear solver theory.modular.solve_modular (evaluation modulo primes,
rational reconstruction, Chinese remaindering and an exact check over QQ(symbols)).

Checked here: equality with the direct field solve on random systems with several
right-hand sides and symbolic denominators; the routes (symbol-free, modular, field) and
their counters; the error for singular systems; the fallback when the primes run out;
wrong reconstructions (no slack, tiny primes) rejected by the exact check; the options'
validation; that the module keeps no mutable state; and that as_expressions builds the
very expressions of ``domain.to_sympy``."""

import dataclasses
import random
import types

import numpy as np
import pytest
import sympy as sp
from sympy.polys.matrices import DomainMatrix

import graphcollapse.theory.lyapunov as lyapunov
import graphcollapse.theory.modular as modular
from graphcollapse.theory.modular import (
    ModularOptions, ModularStats, SingularSystemError, as_expressions, solve_modular,
)

a, b, c = sp.symbols("a b c")


def _system(M, B):
    """DomainMatrices over the smallest field holding every entry."""
    Mm, Bm = sp.Matrix(M), sp.Matrix(B)
    dM = DomainMatrix.from_list_sympy(*Mm.shape, Mm.tolist())
    dB = DomainMatrix.from_list_sympy(*Bm.shape, Bm.tolist())
    dM, dB = dM.unify(dB)
    return dM.to_field(), dB.to_field()


def _random_system(seed: int, n: int, r: int):
    """A random sparse diagonally dominant system with symbols, a symbolic denominator and
    r right-hand sides."""
    rng = random.Random(seed)
    factors = [1, a, 1 - b, c / (1 + c), a * b, sp.Rational(1, 3)]
    M = sp.eye(n) * 4
    for i in range(n):
        for j in range(n):
            if i != j and rng.random() < 0.4:
                M[i, j] = sp.Rational(rng.randint(-3, 3), 7) * rng.choice(factors)
    M[0, 0] = 4 + a
    B = sp.Matrix(n, r, lambda i, j: rng.choice([0, 1, a, b - 1, sp.Rational(2, 5)]))
    return _system(M, B)


def _same(X: DomainMatrix, Y: DomainMatrix) -> bool:
    return X.shape == Y.shape and X.to_list() == Y.to_list()


@pytest.mark.parametrize("seed", range(6))
def test_modular_equals_field_solve_with_several_columns(seed):
    """Claim: the modular route returns exactly the field solve's solution (the same
    reduced rational functions), also with several right-hand sides."""
    M, B = _random_system(seed, n=3 + seed % 3, r=1 + seed % 3)
    sol = solve_modular(M, B)
    assert sol.method == "modular" and sol.stats.modular == 1 and sol.stats.primes >= 1, sol.stats
    ref = solve_modular(M, B, ModularOptions(interpolate=False))
    assert ref.method == "field" and ref.stats.field == 1 and ref.stats.primes == 0
    assert _same(sol.X, ref.X)
    assert (M * sol.X - B).to_Matrix().is_zero_matrix


def test_rational_system_is_solved_directly():
    M, B = _system([[2, 1], [1, 3]], [[1], [0]])
    sol = solve_modular(M, B)
    assert sol.method == "symbol_free" and sol.stats.symbol_free == 1 and sol.stats.points == 0
    assert sol.to_Matrix() == sp.Matrix([sp.Rational(3, 5), sp.Rational(-1, 5)])


def test_symbol_free_system_over_a_function_field():
    """A block of a symbolic problem can hold no symbol: solved directly, same answer."""
    F = sp.QQ.frac_field(a)
    M = DomainMatrix([[F(2), F(1)], [F(1), F(3)]], (2, 2), F)
    B = DomainMatrix([[F(1)], [F(0)]], (2, 1), F)
    sol = solve_modular(M, B)
    assert sol.method == "symbol_free"
    assert sol.to_Matrix() == sp.Matrix([sp.Rational(3, 5), sp.Rational(-1, 5)])


@pytest.mark.parametrize("interpolate", [True, False])
def test_singular_system_raises(interpolate):
    """Claim: a matrix singular for every value of the symbols raises, on either route."""
    opts = ModularOptions(interpolate=interpolate)
    with pytest.raises(SingularSystemError):
        solve_modular(*_system([[a, a * b], [1, b]], [[1], [b]]), opts)
    with pytest.raises(SingularSystemError):
        solve_modular(*_system([[1, 2], [2, 4]], [[1], [0]]), opts)
    # a nonsingular one of the same pattern is solved
    assert solve_modular(*_system([[a, a * b], [1, 1]], [[1], [b]]), opts).method == \
        ("modular" if interpolate else "field")


def test_shapes_are_checked():
    M, B = _system([[1, a], [0, 1]], [[1], [1]])
    with pytest.raises(ValueError, match="expected M of shape"):
        solve_modular(M, M.extract([0], [0, 1]))


def test_running_out_of_primes_falls_back_to_the_field_solve():
    """Claim: when the primes allowed are too few to reconstruct the coefficients, the
    field solve gives the answer (exactly the same)."""
    M, B = _random_system(3, n=4, r=1)
    sol = solve_modular(M, B, ModularOptions(primes=(1009,)))
    assert sol.method == "field" and sol.stats.field == 1, sol.stats
    assert _same(sol.X, solve_modular(M, B).X)


def test_wrong_reconstructions_are_rejected_by_the_exact_check():
    """Claim: with no slack in the rational reconstruction and tiny primes, wrong
    candidates are produced; the exact polynomial check rejects every one of them and the
    result is still exactly right."""
    opts = ModularOptions(slack_bits=0, primes=tuple(sp.primerange(1009, 1600)))
    failed = 0
    for seed in range(4):
        M, B = _random_system(seed, n=4, r=2)
        sol = solve_modular(M, B, opts)
        failed += sol.stats.failed_checks
        assert _same(sol.X, solve_modular(M, B, ModularOptions(interpolate=False)).X), seed
    assert failed > 0


def test_forced_singular_points_are_skipped():
    """Claim: grid points where the matrix is singular (a = 2, a = -2) or an entry's
    denominator vanishes (a = -1) are counted as unlucky and skipped."""
    M, B = _system([[1, -a / 2], [-a / 2 / (1 + a), 1 / (1 + a)]], [[1], [b]])
    sol = solve_modular(M, B, ModularOptions(forced_residues=(2, -2, -1)))
    assert sol.method == "modular" and sol.stats.unlucky_points > 0, sol.stats
    assert _same(sol.X, solve_modular(M, B, ModularOptions(interpolate=False)).X)


def test_options_are_validated_and_immutable():
    with pytest.raises(ValueError, match="prime"):
        ModularOptions(primes=(1000,))
    with pytest.raises(ValueError, match="primes must lie"):
        ModularOptions(primes=(2**31 + 11,))
    with pytest.raises(ValueError, match="max_primes"):
        ModularOptions(max_primes=0)
    opts = ModularOptions(primes=[1009, 1013])
    assert opts.primes == (1009, 1013)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 1  # type: ignore[misc]


def test_stats_merge():
    total = ModularStats()
    total.merge(ModularStats(modular=1, points=10))
    total.merge(ModularStats(field=2, points=5, failed_checks=1))
    assert (total.modular, total.field, total.points, total.failed_checks) == (1, 2, 15, 1)


@pytest.mark.parametrize("module", [modular, lyapunov], ids=lambda m: m.__name__)
def test_module_keeps_no_mutable_state(module):
    """No module-level dict, list, set or array that a call could change (results depend
    on the arguments and the options only)."""
    mutable = (dict, list, set, bytearray, np.ndarray)
    found = [name for name, value in vars(module).items()
             if not name.startswith("__") and isinstance(value, mutable)
             and not isinstance(value, types.ModuleType)]
    assert found == []


def _random_poly_field(seed: int):
    rng = random.Random(seed)
    F = sp.QQ.frac_field(a, b, c)
    coefs = [1, -1, 2, -3, sp.Rational(1, 2), sp.Rational(-1, 2), sp.Rational(3, 7), 10**30 + 1]

    def poly():
        terms = [rng.choice(coefs) * a**rng.randint(0, 3) * b**rng.randint(0, 2) * c**rng.randint(0, 2)
                 for _ in range(rng.randint(1, 12))]
        return sp.expand(sum(terms))

    values = []
    for _ in range(6):
        num, den = poly(), poly()
        values.append(F.from_sympy(num / den) if den != 0 else F.from_sympy(num))
    values += [F.zero, F.one, F.from_sympy(sp.Rational(-5, 3)), F.from_sympy(a), F.from_sympy(-a * b),
               F.from_sympy(2 / (a**2 * c)), values[0]]
    return F, values


@pytest.mark.parametrize("seed", range(8))
def test_as_expressions_builds_the_canonical_expressions(seed):
    """Claim: the fast conversion gives exactly domain.to_sympy's expressions (the same
    tree, argument order included), not merely equal values."""
    F, values = _random_poly_field(seed)
    fast = as_expressions(values, F)
    slow = [F.to_sympy(v) for v in values]
    assert [sp.srepr(e) for e in fast] == [sp.srepr(e) for e in slow]


def test_as_expressions_other_domains():
    assert as_expressions([sp.QQ(1, 2), sp.QQ(0)], sp.QQ) == [sp.Rational(1, 2), 0]
