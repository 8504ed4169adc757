"""LaTeX rendering of derived objects (theory/latex.py) and `graphcollapse latex`.

Round trip: every scalar formula is parsed back by sympy's LaTeX parser (antlr4 runtime
4.11, the version sympy 1.14 wants) and must equal the original (difference simplifies to
0); matrices entry by entry. Objects that cannot round-trip (the recursion with its
operator notation, the theorem prose, relations with text) are rendered by matplotlib's
mathtext instead, piece by piece.
"""

import functools
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
    # ("d \sigma" -> d(sigma)); a parser quirk, so rename a symbol d before the trip.
    expr = expr.subs({s: sp.Symbol("delta", **s.assumptions0) for s in expr.free_symbols if s.name == "d"})
    back = _as_products(parse_latex(tex(expr)))
    # parsed form of each original symbol (e.g. m_{h}, or sigma**2 for the symbol sigma^2)
    back = back.subs({parse_latex(tex(s)): s for s in expr.free_symbols})
    return sp.simplify(back - expr) == 0


def _as_products(e):
    """The parser reads the juxtaposition ``m \\left(m + n\\right)`` as a call m(m + n);
    our symbols are never functions, so a call of an undefined function is a product."""
    from sympy.core.function import AppliedUndef

    def call(x):
        return isinstance(x, AppliedUndef) and len(x.args) == 1

    # "m_{0} \\left(m + n\\right)^{2 k}" parses as m_0(m + n)**(2k): the power is the
    # argument's; a power -1 is a division ("\\frac{1}{m \\left(m + n\\right)}"), of the product
    e = e.replace(lambda x: x.is_Pow and call(x.base) and x.exp != -1,
                  lambda x: sp.Symbol(x.base.func.__name__) * x.base.args[0] ** x.exp)
    return e.replace(call, lambda x: sp.Symbol(x.func.__name__) * x.args[0])


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


@functools.lru_cache(maxsize=None)
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
    assert tex.startswith(r"\paragraph{Setting.}") and tex.endswith(r"\end{theorem}")
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
    assert th._repr_html_().startswith('<div class="graphcollapse-theorem">')
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
    assert r"if and only if (C1) fails" in out and r"\begin{equation} m > 0 \tag{C1} \end{equation}" in out


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


# --------------------------------------------------------------------------- paper-ready theorems
TRIANGLE = ('{"dimension": 4, "noise_variance": 1,'
            ' "models": [{"name": "A", "initial_samples": 20, "real_samples": 5},'
            '            {"name": "B", "initial_samples": 20, "real_samples": 0},'
            '            {"name": "C", "initial_samples": 20, "real_samples": 0}],'
            ' "edges": [{"source": "A", "target": "B", "samples": 10}, {"source": "B", "target": "C", "samples": 10},'
            '           {"source": "C", "target": "A", "samples": 10}, {"source": "C", "target": "B", "samples": 10}]}')


@pytest.fixture(scope="module")
def triangle():
    """The 3-learner cycle A -> B -> C -> A with the chord C -> B, d = 4, symbols
    m = A.real_samples and n = C->A.samples, in the exact theory."""
    from graphcollapse.theory import load_graph

    return derive_theorem(apply_symbols(load_graph(TRIANGLE), ["m=A.real_samples", "n=C-A.samples"]), "exact")


def test_triangle_states_each_condition_once(triangle):
    """Claim: the component's condition is stated once, labelled, and the three learners
    refer to it; the theorem is short (it was 27 937 characters when the condition was
    printed per learner, in full)."""
    text = theorem_latex(triangle)
    assert text.count(r"\tag{C1}") == 1
    assert r"Each of $\mathrm{A}$, $\mathrm{B}$ and $\mathrm{C}$ collapses if and only if (C1) fails." in text
    assert [c.stable for c in triangle.components] == [sp.Gt(triangle.graph.real_samples[0], 0)]
    assert len(text) < 5000


def test_display_forms_equal_the_derived_objects(triangle):
    """Claim: every printed form (written in N_k, P_i and the user's names) equals the
    derived expression once the definitions are substituted."""
    defs = triangle.definitions
    pos = {s.name: s for v in triangle.stationary_risks.values() for s in v.free_symbols}

    def expand(e):
        for _ in range(3):  # P_i may be written in N_A
            e = e.subs(defs)
        return e.subs({s: pos.get(s.name, s) for s in e.free_symbols})

    for n, v in triangle.stationary_risks.items():  # derived with the counts positive
        assert sp.cancel(expand(triangle.display[f"R[{n}]"]) - v) == 0
    for key, raw in [("W", triangle.W), ("gamma", triangle.design_corrections), ("D", triangle.noise_variance)]:
        assert all(sp.cancel(a.subs(defs) - b) == 0 for a, b in zip(triangle.display[key], raw)), key


CDOT_NOT_BETWEEN_NUMERALS = re.compile(r"(?<![0-9}]) \\cdot|\\cdot (?![0-9])")


@pytest.mark.parametrize("name,theory", CASES)
def test_products_are_juxtaposed(name, theory):
    """Claim: \\cdot appears only between numerals (2 \\cdot 3^{k}), never between letters."""
    text = theorem_latex(_theorem(name, theory))
    assert not CDOT_NOT_BETWEEN_NUMERALS.search(text)
    assert r"\text{" not in text.replace(r"\text{and}", "").replace(r"\text{always}", "")


@pytest.mark.parametrize("expr,want", [
    pytest.param("5*m**2*n", "5 m^{2} n", id="juxtaposition"),
    pytest.param("d*s**2", "d s^{2}", id="d-sigma"),
    pytest.param("n**(2*k)*(m+n)**(-2*k)", r"\left(\frac{n}{m + n}\right)^{2 k}", id="power-of-fraction"),
    pytest.param("2*3**k", r"2 \cdot 3^{k}", id="numerals-keep-cdot"),
    pytest.param("m*(m+n)**(-k)", r"\frac{m}{\left(m + n\right)^{k}}", id="negative-power-down"),
])
def test_natural_notation(expr, want):
    """The printer writes what a mathematician writes (symbols positive, exponents symbolic)."""
    syms = {s: sp.Symbol(s, positive=True) for s in "mnkds"}
    e = sp.sympify(expr, locals=syms)  # our own literal test input
    assert tex(e) == want


def test_gamma_in_the_legend_is_the_design_correction():
    """Claim: the legend's formula for gamma(N, d) is design_correction."""
    from graphcollapse.theory.exact import design_correction
    from graphcollapse.theory.latex import GAMMA_LATEX

    parse_latex = _parser()
    back = _as_products(parse_latex(GAMMA_LATEX))
    N, d = sp.symbols("N d")
    assert sp.cancel(back.subs({sp.Symbol("N"): N, sp.Symbol("d"): d}) - design_correction(N, d)) == 0


# --------------------------------------------------------------------------- integrality split
def _split_cases():
    from graphcollapse.theory.graph import InteractionGraph

    pair = InteractionGraph(["A", "B"], real_samples=[1, 1], initial_samples=[30, 30],
                            edges=[("A", "A", 1), ("B", "B", 1), ("A", "B", 15), ("B", "A", 15)],
                            dimension=10, noise_variance=1)
    lone = self_training(real_samples=7, samples=27, initial_samples=40, dimension=23)
    return {
        # finite remainder with exceptions: the pair collapses at m = 1 although it has real data
        "pair-m": (pair, ["m=A.real_samples,B.real_samples"], {"m": range(0, 12)}),
        # two symbols, finite remainder in (m, n)
        "lone-m-n": (lone, ["m=L0.real_samples", "n=L0-L0.samples"], {"m": range(0, 12), "n": range(14, 34)}),
        # a 2-cycle, d = 3, N_A = m + 6 and N_B = 1 + c: the remainders N_A <= 6 (m = 0, c
        # free) and N_B <= 6 (c = 4, 5, m free) are infinite, stated slice by slice
        "two-cycle-m-c": (InteractionGraph(["A", "B"], real_samples=[2, 1], initial_samples=[30, 30],
                                           edges=[("A", "B", 5), ("B", "A", 6)], dimension=3, noise_variance=1),
                          ["m=A.real_samples", "c=A-B.samples"], {"m": range(0, 6), "c": range(3, 12)}),
    }


SPLIT = _split_cases()


@pytest.mark.parametrize("name", list(SPLIT))
def test_integrality_split_by_substitution(name):
    """Claim (docs/exact.md, integrality reduction): at every integer point of a grid in the
    exact regime, the split condition of each component equals the exact verdict decided
    independently by real-root counting on the numeric graph."""
    import itertools

    from graphcollapse.theory.exact import check_exact_regime, component_contracts
    from graphcollapse.theory.errors import ExactRegimeError

    G, bindings, grid = SPLIT[name]
    Gs = apply_symbols(G, bindings)
    th = derive_theorem(Gs, "exact")
    syms = {s.name: s for s in Gs.free_symbols}
    checked = 0
    for values in itertools.product(*grid.values()):
        point = {syms[k]: v for k, v in zip(grid, values)}
        Gp = Gs.subs(point)
        try:
            check_exact_regime(Gp)
        except ExactRegimeError:
            continue
        for c in th.components:
            members = [Gp.index[n] for n in c.members]
            assert bool(c.stable.subs(point)) == component_contracts(Gp, members), (c.label, point)
        checked += 1
    assert checked >= 8


def test_pair_exception_is_enumerated():
    """The mixing pair (d = 10) with m real samples each: (C) lists m = 1 as the only
    integer point where it is unstable although it has real data."""
    G, bindings, _ = SPLIT["pair-m"]
    (c,) = derive_theorem(apply_symbols(G, bindings), "exact").components
    assert c.reduced and c.exceptions == ((1,),) and c.slices == ()


def test_slices_state_a_reduced_condition():
    """With the cross count c a symbol, the remainders N_A <= 2d (m bounded, c free) and
    N_B <= 2d (c bounded, m free) are infinite: they are stated slice by slice, each a
    condition in the other symbol (or decided outright on it)."""
    G, bindings, _ = SPLIT["two-cycle-m-c"]
    (c,) = derive_theorem(apply_symbols(G, bindings), "exact").components
    assert c.reduced and c.exceptions == ()
    assert c.slices and all(len(key) == 1 for key, _ in c.slices)
    assert all({s.name for s in cond.free_symbols} <= ({"c"} if str(key[0][0]) == "m" else {"m"})
               for key, cond in c.slices)


# --------------------------------------------------------------------------- --define and shell safety
def test_cli_define(graph_file, capsys):
    """`--define T=m+n` names a sub-expression; the theorem is written in it."""
    assert main(["latex", graph_file, "--symbol", "m=A.real_samples", "--symbol", "n=B-B.samples",
                 "--define", "T=m+n", "--large-sample"]) == 0
    out = capsys.readouterr().out
    assert "$T = m + n$" in out


@pytest.mark.parametrize("define,match", [
    pytest.param("T=m+k", "unknown name 'k'", id="unknown-symbol"),
    pytest.param("T=__import__('os')", "--define T", id="no-code"),
    pytest.param("m=2*m", "already a symbol", id="taken"),
    pytest.param("T", "expected NAME=EXPRESSION", id="no-equals"),
])
def test_cli_define_bad_input(graph_file, capsys, define, match):
    """Bad --define: one-line error naming the flag, exit 2, nothing evaluated."""
    assert main(["latex", graph_file, "--symbol", "m=A.real_samples", "--define", define, "--large-sample"]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_documented_commands_are_shell_safe():
    """Every command in a runnable block of README.md and docs/*.md lexes in a POSIX shell
    without an operator other than &&: no unquoted > (a silent redirection), <, |, ;, &."""
    import shlex

    from test_docs_run import DOCS, RUN_LANGS, _blocks

    bad = []
    for path in DOCS:
        for lang, body, line in _blocks(path):
            if lang not in RUN_LANGS:
                continue
            prompted = any(x.startswith("$ ") for x in body.splitlines())
            for cmd in body.splitlines():
                if prompted and not cmd.startswith("$ "):
                    continue  # output shown after a command
                cmd = cmd[2:] if cmd.startswith("$ ") else cmd
                if not cmd.startswith("graphcollapse"):
                    continue
                lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
                lex.whitespace_split = True
                ops = [t for t in lex if t and set(t) <= set("();<>|&") and t != "&&"]
                if ops:
                    bad.append(f"{path.name}:{line}: {cmd}")
    assert bad == []


def test_symbol_command_runs_in_bash(tmp_path):
    """The documented spelling runs as typed in bash: same theorem as the quoted arrow, and
    no stray file (an unquoted '>' would create one)."""
    import contextlib
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    (tmp_path / "g.json").write_text(TRIANGLE)
    typed = subprocess.run(["bash", "-c", "graphcollapse latex g.json --large-sample --symbol m=A.real_samples "
                            "--symbol n=C-A.samples"], cwd=tmp_path, capture_output=True, text=True)
    assert typed.returncode == 0, typed.stderr
    quoted = io.StringIO()
    with contextlib.redirect_stdout(quoted):  # the arrow spelling, as a quoted shell word would pass it
        assert main(["latex", str(tmp_path / "g.json"), "--large-sample", "--symbol", "m=A.real_samples",
                     "--symbol", "n=C->A.samples"]) == 0
    assert typed.stdout == quoted.getvalue() and r"\frac{n}{N_{A}}" in typed.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]
