"""Closed forms of graph families for symbolic K (theory/families.py)."""

import pytest
import sympy as sp

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.families import FAMILIES, K, check_family, derive_family, family_instance

SIZES = [2, 3, 4, 5, 6, 7, 8, 13, 20]
PARAMS = {
    "complete": {"m": 3, "n": 2, "d": 5, "sigma2": sp.Rational(3, 2)},
    "complete_noloops": {"m": 1, "n": 4, "d": 2, "sigma2": 1},
    "cycle": {"m": 2, "n": 7, "d": 3, "sigma2": 2},
    "star": {"m_h": 5, "m_s": 1, "n": 3, "d": 2, "sigma2": 1},
    "star_feedback": {"m_h": 5, "m_s": 0, "n": 3, "n_b": 2, "d": 2, "sigma2": 1},
    "chain": {"m_0": 4, "m": 0, "n": 3, "d": 1, "sigma2": 1},
}


@pytest.mark.parametrize("family", FAMILIES)
def test_closed_form_solves_reduced_equations(family):
    """Claim: the symbolic-K closed form satisfies its reduced Lyapunov equations exactly."""
    cf = derive_family(family)
    assert all(r == 0 for r in cf.residuals())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"K{s}")
@pytest.mark.parametrize("family", FAMILIES)
def test_closed_form_matches_explicit_instance(family, size):
    """Claim: at K = size the closed form equals the exact SCC-blocked Lyapunov solution of
    the builder instance, entry by entry."""
    assert check_family(family, size, PARAMS[family])


@pytest.mark.parametrize("family", ["complete", "cycle", "star", "chain"])
def test_closed_form_matches_symbolic_instance(family):
    """Claim: the closed form with symbolic sample sizes equals the symbolic solver at K = 3."""
    cf = derive_family(family)
    G = family_instance(family, 3, cf.parameters)
    from graphcollapse.theory.lyapunov import solve_lyapunov_exact
    from graphcollapse.theory.recursion import large_sample_noise_variance

    C = solve_lyapunov_exact(G.mixing_matrix, sp.diag(*large_sample_noise_variance(G)))
    diffs = [sp.simplify(cf.entry(i, j).subs(K, 3) - C[i, j]) for i in range(3) for j in range(3)]
    assert diffs == [0] * 9


def test_complete_graph_limit_of_many_learners():
    """Claim: on the complete graph with self-loops, K times the stationary risk tends to
    d sigma^2 (2m + n) / (2 m n) as K grows with m, n fixed (each learner pools K n synthetic
    samples whose errors are averaged, so the risk decays like 1/K)."""
    cf = derive_family("complete")
    p = cf.parameters
    m, n = p["m"], p["n"]
    expected = p["d"] * p["sigma2"] * (2 * m + n) / (2 * m * n)
    assert sp.simplify(sp.limit(K * cf.unknowns["diagonal"], K, sp.oo) - expected) == 0


@pytest.mark.parametrize(
    "family,size,match",
    [
        pytest.param("star", 1, "star: the number of learners must be an integer >= 2", id="star-1"),
        pytest.param("complete_noloops", 1, "must be an integer >= 2", id="complete-noloops-1"),
        pytest.param("cycle", 0, "cycle: the number of learners must be an integer >= 1", id="cycle-0"),
        pytest.param("wheel", 3, "family: expected one of", id="unknown-family"),
    ],
)
def test_bad_family_input(family, size, match):
    """Bad family name or size below the family's minimum: one-line GraphValueError."""
    with pytest.raises(GraphValueError, match=match):
        family_instance(family, size)
