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
