"""LaTeX rendering of derived objects (theory/latex.py) and `graphcollapse latex`.

Round trip: every scalar formula is parsed back by sympy's LaTeX parser (antlr4 runtime
4.11, the version sympy 1.14 wants) and must equal the original (difference simplifies to
0); matrices entry by entry. Objects that cannot round-trip (the recursion with its
operator notation, the theorem prose, relations with text) are rendered by matplotlib's
mathtext instead, piece by piece.
"""

import io
import re

import pytest
import sympy as sp

from graphcollapse.theory.builders import chain, complete, cycle, self_training, star
from graphcollapse.theory.errors import NoClosedFormError
from graphcollapse.theory.families import FAMILIES, derive_family
from graphcollapse.theory.latex import tex, family_latex, theorem_latex
from graphcollapse.theory.theorem import derive_risk_closed_form, derive_theorem
from graphcollapse.theory.symbols import apply_symbols
from graphcollapse.verify.cli import main


def _parser():
    from sympy.parsing.latex import parse_latex

    try:
        parse_latex("x")
    except ImportError as exc:  # pragma: no cover - environment without the 4.11 runtime
        pytest.skip(f"sympy LaTeX parser unavailable: {exc}")
    return parse_latex


def round_trip_ok(expr) -> bool:
    """Parse sp.latex(expr) back; map parsed symbols to the originals by their LaTeX."""
    parse_latex = _parser()
    expr = sp.sympify(expr)
    # sympy's antlr grammar reads "d" followed by a letter or command as a differential
    # ("d \cdot" -> d(cdot)); a parser quirk, so rename a symbol d before the trip.
    expr = expr.subs({s: sp.Symbol("dim_d", **s.assumptions0) for s in expr.free_symbols if s.name == "d"})
    back = parse_latex(tex(expr))
    # parsed form of each original symbol (e.g. m_{h}, or sigma**2 for the symbol sigma^2)
    back = back.subs({parse_latex(tex(s)): s for s in expr.free_symbols})
    return sp.simplify(back - expr) == 0


GRAPHS = {
    "self-training-m-n": (self_training(real_samples=10, samples=30, dimension=2),
                          ["m=L0.real_samples", "n=L0->L0.samples"]),
    "chain3-m": (chain(3, dimension=2), ["m=L0.real_samples", "n=L0->L1.samples"]),
    "cycle3-mixed": (cycle(3, real_samples=[0, 4, 0], dimension=2), ["a=L1.real_samples"]),
    "star3-d-s2": (star(3, samples=20), ["d=dimension", "s2=noise_variance"]),
    "complete2": (complete(2, real_samples=[5, 0], dimension=1), ["q=L0.real_samples"]),
    "cycle2-collapsing": (cycle(2, real_samples=0, dimension=1), ["n=L0->L1.samples"]),
}
CASES = [pytest.param(g, th, id=f"{g}-{th}") for g in GRAPHS for th in ("large-sample", "exact")]


def _theorem(name, theory):
    G, bindings = GRAPHS[name]
    return derive_theorem(apply_symbols(G, bindings), theory)


@pytest.mark.parametrize("name,theory", CASES)
def test_every_scalar_round_trips(name, theory):
    """Claim: the LaTeX of every scalar (D_k, C0_k, gamma_k, stationary risks, growth rates)
    parses back to the same sympy expression."""
    th = _theorem(name, theory)
    bad = [k for k, v in th.scalars().items() if not round_trip_ok(v)]
    assert bad == []


@pytest.mark.parametrize("name,theory", CASES)
def test_mixing_matrix_round_trips_entrywise(name, theory):
    """Claim: every entry of W rendered to LaTeX parses back to itself."""
    th = _theorem(name, theory)
    assert all(round_trip_ok(x) for x in th.W)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_closed_forms_round_trip(family):
    """Claim: the symbolic-K closed forms of every family survive LaTeX and back."""
    cf = derive_family(family)
    assert all(round_trip_ok(v) for v in cf.unknowns.values())


def test_symbolic_verdict_round_trips():
    """Claim: the collapse condition (a sympy Boolean Eq(m, 0)) parses back to itself."""
    parse_latex = _parser()
    th = _theorem("self-training-m-n", "large-sample")
    (c,) = th.collapses
    back = parse_latex(tex(c))
    m = next(iter(c.free_symbols))
    assert back.subs({sp.Symbol("m"): m}) == c


def _mathtext_pieces(tex: str) -> list[str]:
    inline = re.findall(r"\$([^$]+)\$", tex)
    return [p for p in inline if r"\text" not in p]


@pytest.mark.parametrize("name,theory", CASES)
def test_theorem_inline_maths_renders(name, theory):
    """The theorem prose cannot round-trip; every inline formula of it must render with
    matplotlib mathtext (a syntax check of the LaTeX we emit)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.mathtext import math_to_image

    tex = theorem_latex(_theorem(name, theory))
    assert tex.startswith(r"\begin{theorem}") and tex.endswith(r"\end{theorem}")
    for piece in _mathtext_pieces(tex):
        math_to_image(f"${piece}$", io.BytesIO(), format="png")


def test_exact_self_training_contraction_inequality():
    """Claim: in the exact theory a self-training learner contracts iff
    w^2 + gamma (w - w^2) < 1; at m = 7, n = 27, d = 23 the ratio is exactly 1 (not < 1)."""
    G = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    th = derive_theorem(G, "exact")
    assert th.contraction["L0"] == sp.false


@pytest.mark.parametrize("G,T", [
    pytest.param(complete(2, real_samples=[1, 3], samples=2, dimension=1), 6, id="complete-2"),
    pytest.param(cycle(2, real_samples=[1, 2], samples=3, dimension=2), 5, id="two-cycle-eigenvalues-pm-w"),
])
def test_closed_form_in_t_matches_recursion(G, T):
    """Claim: the closed form in t equals the large-sample recursion at t = 0..T."""
    from graphcollapse.theory.recursion import risk_trajectory

    t = sp.Symbol("t", integer=True, nonnegative=True)
    forms = derive_risk_closed_form(G, t)
    traj = risk_trajectory(G, T)
    diffs = [sp.simplify(f.subs(t, s) - traj[s][k]) for s in range(T + 1) for k, f in enumerate(forms)]
    assert diffs == [0] * ((T + 1) * len(G))


def test_no_closed_form_for_defective_w():
    """A chain's W is nilpotent (not diagonalisable): NoClosedFormError, not None."""
    with pytest.raises(NoClosedFormError, match="not diagonalisable"):
        derive_risk_closed_form(chain(3))


def test_repr_latex():
    """Result objects display as LaTeX in Jupyter."""
    th = _theorem("chain3-m", "large-sample")
    assert th._repr_latex_().startswith("$")
    assert derive_family("cycle")._repr_latex_().startswith("$")
    assert family_latex(derive_family("star")).startswith("C_{00}")


@pytest.fixture
def graph_file(tmp_path):
    p = tmp_path / "g.json"
    p.write_text('{"models": [{"name": "A", "real_samples": 10, "initial_samples": 30}, '
                 '{"name": "B", "real_samples": 0, "initial_samples": 30}], '
                 '"edges": [{"source": "A", "target": "B", "samples": 20}, '
                 '{"source": "B", "target": "B", "samples": 5}], "dimension": 2, "noise_variance": 1}')
    return str(p)


def test_cli_document(graph_file, tmp_path, capsys):
    """`latex --document --output` writes a standalone document (exit 0)."""
    out = tmp_path / "t.tex"
    assert main(["latex", graph_file, "--symbol", "m=A.real_samples", "--document", "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(r"\documentclass{article}") and r"\end{document}" in text


def test_cli_large_sample_snippet(graph_file, capsys):
    """`latex --large-sample` prints a theorem snippet naming the symbol's condition."""
    assert main(["latex", graph_file, "--symbol", "m=A.real_samples", "--large-sample"]) == 0
    out = capsys.readouterr().out
    assert r"collapses if and only if $m = 0$" in out


@pytest.mark.parametrize(
    "argv,match",
    [
        pytest.param(["--symbol", "m=C.real_samples"], "unknown learner 'C'", id="unknown-learner"),
        pytest.param(["--symbol", "m=A.weight"], "unknown field", id="unknown-field"),
        pytest.param(["--symbol", "gamma=dimension"], "clashes with the sympy name", id="clash"),
        pytest.param(["--symbol", "m"], "expected NAME=FIELD", id="no-equals"),
    ],
)
def test_cli_bad_input(graph_file, capsys, argv, match):
    """Bad --symbol input: one-line error, exit 2."""
    assert main(["latex", graph_file, *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_contraction_only_for_one_learner_components():
    """The scalar contraction inequality is stated only for one-learner components with a
    self-loop; a 3-cycle with self-loops is one component, so none is stated for it."""
    G = cycle(3, real_samples=20, samples=10, dimension=2, self_loops=True)
    assert derive_theorem(G, "exact").contraction == {}
