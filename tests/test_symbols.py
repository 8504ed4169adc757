"""The --symbol NAME=FIELD[,FIELD...] grammar (theory/symbols.py)."""

import pytest
import sympy as sp

from graphcollapse.theory.builders import chain
from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.symbols import apply_symbols, parse_symbol_binding


def test_one_symbol_binds_several_fields():
    """A symbol bound to two real-sample counts appears in both, nonnegative (m may be 0)."""
    G = apply_symbols(chain(2), ["m=L0.real_samples,L1.real_samples", "n=L0->L1.samples"])
    m = sp.Symbol("m", nonnegative=True, integer=True)
    n = sp.Symbol("n", positive=True, integer=True)
    assert G.real_samples == (m, m)
    assert G.edges == [("L0", "L1", n)]


def test_global_fields():
    """dimension and noise_variance accept symbols (positive)."""
    G = apply_symbols(chain(2), ["d=dimension", "s2=noise_variance"])
    assert G.dimension.is_positive and G.noise_variance.is_positive
    assert str(G.dimension) == "d" and str(G.noise_variance) == "s2"


@pytest.mark.parametrize(
    "text,match",
    [
        pytest.param("m", "expected NAME=FIELD", id="no-equals"),
        pytest.param("1m=dimension", "expected a name", id="bad-name"),
        pytest.param("sin=dimension", "clashes with the sympy name 'sin'", id="clash-sin"),
        pytest.param("E=dimension", "clashes with the sympy name 'E'", id="clash-E"),
        pytest.param("I=dimension", "clashes", id="clash-I"),
        pytest.param("gamma=dimension", "clashes", id="clash-gamma"),
        pytest.param("beta=dimension", "clashes", id="clash-beta"),
        pytest.param("S=dimension", "clashes", id="clash-S"),
        pytest.param("N=dimension", "clashes", id="clash-N"),
        pytest.param("O=dimension", "clashes", id="clash-O"),
        pytest.param("Q=dimension", "clashes", id="clash-Q"),
        pytest.param("lambda=dimension", "clashes", id="clash-lambda"),
        pytest.param("m=L0.weight", "unknown field 'L0.weight'", id="unknown-field"),
        pytest.param("m=", "expected FIELD", id="empty-field"),
        pytest.param("m=dimension,,noise_variance", "expected FIELD", id="empty-item"),
        pytest.param("m=dimension,dimension", "given twice", id="repeated-field"),
        pytest.param("m=__import__('os')", "unknown field", id="code-injection"),
    ],
)
def test_bad_binding_syntax(text, match):
    """Malformed bindings raise a one-line GraphValueError naming the problem."""
    with pytest.raises(GraphValueError, match=match) as info:
        parse_symbol_binding(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "bindings,match",
    [
        pytest.param(["m=L9.real_samples"], "unknown learner 'L9'", id="unknown-learner"),
        pytest.param(["n=L1->L0.samples"], "unknown edge L1->L0.samples", id="unknown-edge"),
        pytest.param(["m=dimension", "m=noise_variance"], "bound twice", id="name-twice"),
        pytest.param(["m=dimension", "k=dimension"], "already bound to m", id="field-twice"),
    ],
)
def test_bad_binding_against_graph(bindings, match):
    """Bindings naming fields the graph does not have are rejected (one line)."""
    with pytest.raises(GraphValueError, match=match):
        apply_symbols(chain(2), bindings)


def test_symbolic_noise_variance_in_the_large_sample_theorem():
    """s=noise_variance is a positive symbol; the large-sample theorem carries it."""
    from graphcollapse.theory.builders import cycle
    from graphcollapse.theory.theorem import derive_theorem

    G = apply_symbols(cycle(2, real_samples=5, samples=30), ["s=noise_variance"])
    assert G.noise_variance == sp.Symbol("s", positive=True)
    assert "s" in derive_theorem(G, "large-sample").to_latex()


def test_symbolic_noise_variance_in_the_exact_theory():
    """The exact verdict does not depend on sigma^2 (the noise only scales the solution),
    so a symbolic noise variance should give the numeric verdicts."""
    from graphcollapse.theory.builders import cycle
    from graphcollapse.theory.exact import exact_collapse_conditions

    numeric = exact_collapse_conditions(cycle(2, real_samples=5, samples=30))[0]
    symbolic = exact_collapse_conditions(apply_symbols(cycle(2, real_samples=5, samples=30),
                                                       ["s=noise_variance"]))[0]
    assert symbolic == numeric


def test_overflowing_custom_loss_gives_one_error_and_no_warnings():
    """A loss that overflows on the data raises one GraphValueError from the evaluator of
    user losses, with numpy's floating-point warnings off (no flood quoting generated code)."""
    import warnings

    import numpy as np

    from graphcollapse.theory.loss_parser import numeric_function, parse_expression

    y, eta = sp.symbols("y eta", real=True)
    loss = parse_expression("exp(1000*(y - eta)**2)", {"y": y, "eta": eta})
    f = numeric_function([y, eta], [sp.diff(loss, eta), sp.diff(loss, eta, 2)], field="loss of big")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy RuntimeWarning would fail the test
        with pytest.raises(GraphValueError, match=r"loss of big: the value is not finite .* at data point 2") as info:
            f(np.array([0.0, 0.1, 3.0]), np.zeros(3))
    assert "\n" not in str(info.value)
    finite = f(np.array([0.0, 0.01]), np.zeros(2))
    assert all(np.isfinite(v).all() for v in finite)


def test_symbolic_noise_variance_scales_the_exact_rates():
    """The exact growth rates are linear in sigma^2: with s = sigma^2 bound as a symbol,
    substituting s = 1 gives the numeric rates."""
    import sympy as sp

    from graphcollapse.theory.builders import cycle
    from graphcollapse.theory.exact import exact_growth_rates

    G = cycle(2, real_samples=0, samples=30)
    symbolic = exact_growth_rates(apply_symbols(G, ["s=noise_variance"]))
    numeric = exact_growth_rates(G)
    assert symbolic and symbolic.keys() == numeric.keys()
    for name, rate in symbolic.items():
        (s,) = rate.free_symbols
        assert sp.simplify(rate.subs(s, 1) - numeric[name]) == 0
        assert sp.simplify(rate.subs(s, 3) - 3 * numeric[name]) == 0
