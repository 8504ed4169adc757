"""What the exact theory reports is true: algebraic growth factors never crash and are the
radii of the exact second-moment map, the exact fix fixes (and is minimal in the stated
order, against brute force), periodic components report per-phase limits instead of a
limit that does not exist, the radius that decides the exact verdict is reported, and
undefined inputs (OLS with N_k <= d + 1, fractional counts in the exact theory) are
refused with one-line errors (``theory/exact.py``, ``theory/analysis.py``,
``docs/exact.md`` sections 4, 7 and 9).
"""

from __future__ import annotations

import itertools
import json

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import interaction_graphs, small_n_graphs
from graphcollapse.theory.analysis import analyze, predict, resolve_theory, to_exact_string, to_float
from graphcollapse.theory.builders import complete, cycle, self_training
from graphcollapse.theory.errors import ExactRegimeError, GraphCollapseError
from graphcollapse.theory.exact import (
    _growth_phases,
    component_contracts,
    exact_analysis,
    exact_risk_trajectory,
    second_moment_map_matrix,
)
from graphcollapse.theory.graph import InteractionGraph
from graphcollapse.theory.lyapunov import scc_order
from graphcollapse.verify.cli import main

# --------------------------------------------------------------------------- helpers
def numeric_map_radius(G: InteractionGraph, learners) -> float:
    """rho of the exact second-moment map restricted to ``learners``, by numpy eigenvalues."""
    _, M = second_moment_map_matrix(G, sorted(learners))
    A = np.array(M.to_Matrix().tolist(), dtype=float)
    return float(np.max(np.abs(np.linalg.eigvals(A)))) if A.size else 0.0


def ancestors(G: InteractionGraph, k: int) -> set[int]:
    """k and every learner with a directed path to k."""
    seen, todo = {k}, [k]
    while todo:
        j = todo.pop()
        for s, t in zip(G.edge_sources, G.edge_targets):
            if t == j and s not in seen:
                seen.add(s)
                todo.append(s)
    return seen


def cubic_pair() -> InteractionGraph:
    """A (closed, self-loop 1) <-> B (one real sample), 4 samples each way, d = 3: the map
    radius is the largest of three real roots of an irreducible cubic."""
    return InteractionGraph(["A", "B"], real_samples=[0, 1], initial_samples=[8, 8],
                            edges=[("A", "A", 1), ("A", "B", 4), ("B", "A", 4)], dimension=3, noise_variance=1)


def all_additions(result) -> dict[str, int]:
    """Every real sample the analysis' minimal fix adds, by learner (JSON contract)."""
    out = result.to_json()
    add: dict[str, int] = {}
    for e in out["minimal_fix"] + out.get("minimal_fix_expanding", []):
        add[e["learner"]] = add.get(e["learner"], 0) + e["add_real_samples"]
    return add


def nothing_collapses(G: InteractionGraph) -> bool:
    """Every strongly connected component's exact map contracts (decided exactly)."""
    return all(component_contracts(G, A) for A in scc_order(G.mixing_matrix))


# --------------------------------------------------------------------------- 1. algebraic numbers
def test_cubic_growth_factor_with_three_real_roots_is_reported_not_crashed():
    """The casus irreducibilis: text and JSON reports succeed, the exact string keeps the
    minimal polynomial and the root index (CRootOf, no complex radicals) and parses back to
    the reported float, which is the numpy radius of the exact map."""
    G = cubic_pair()
    a = analyze(G)
    out = json.loads(json.dumps(a.to_json(), allow_nan=False))
    text = a.report()
    m = out["models"]["A"]
    assert m["growth"] == "geometric" and "geometric" in text
    exact = m["growth_factor_exact"]
    assert exact.startswith("CRootOf(") and "I" not in exact
    value = sp.sympify(exact)
    assert sp.Poly(value.poly.as_expr(), value.poly.gen).degree() == 3
    assert len(sp.real_roots(value.poly)) == 3
    assert float(value.evalf(30)) == pytest.approx(m["growth_factor"], rel=1e-14)
    assert m["growth_factor"] == pytest.approx(numeric_map_radius(G, [0, 1]), rel=1e-9)


@pytest.mark.parametrize("root, expected", [
    pytest.param(sp.CRootOf(sp.Symbol("x") ** 2 - 2, 1), "sqrt(2)", id="quadratic-real-radicals"),
    pytest.param(sp.CRootOf(sp.Symbol("x") ** 3 - 2, 0), "2**(1/3)", id="cubic-real-radical"),
    pytest.param(sp.CRootOf(sp.Symbol("x") ** 3 - 3 * sp.Symbol("x") + 1, 2), "CRootOf(x**3 - 3*x + 1, 2)",
                 id="cubic-three-real-roots"),
    pytest.param(sp.Rational(7118, 6615), "7118/6615", id="rational"),
])
def test_exact_strings_use_real_radicals_or_the_minimal_polynomial(root, expected):
    """Radicals only where they are real; otherwise CRootOf(minimal polynomial, index). The
    float comes from the polynomial (certified isolation) and equals the exact value."""
    assert to_exact_string(root) == expected
    assert to_float(root) == pytest.approx(float(sp.N(sp.sympify(expected), 30)), rel=1e-15)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(G=small_n_graphs())
def test_analyze_never_raises_and_growth_factors_are_the_map_radii(G):
    """On random small-N graphs analyze (exact) yields its text report and strict JSON, and
    every growth factor and per-learner map radius equals the numpy spectral radius of the
    exact second-moment map restricted to the learner's ancestors."""
    a = analyze(G)
    a.report()
    out = json.loads(json.dumps(a.to_json(), allow_nan=False))
    for k, name in enumerate(G.names):
        m = out["models"][name]
        rho = numeric_map_radius(G, ancestors(G, k))
        assert m["map_spectral_radius"] == pytest.approx(rho, rel=1e-6, abs=1e-12)
        if m["growth"] == "geometric":
            assert m["growth_factor"] == pytest.approx(rho, rel=1e-6)
            assert m["growth_factor"] > 1
        if m["collapses"]:
            assert m["growth_rate_mean"] > 0
            if m["growth_rate_phases"] is not None:
                assert len(m["growth_rate_phases"]) == m["growth_period"]
                assert m["growth_rate_mean"] == pytest.approx(np.mean(m["growth_rate_phases"]), rel=1e-9)
            if m["growth_rate"] is not None:
                assert m["growth_period"] == 1 and m["growth_rate"] == pytest.approx(m["growth_rate_mean"])
    assert out["collapse"] is bool(sp.sympify(out["exact_map_spectral_radius_exact"]) >= 1)


# --------------------------------------------------------------------------- 2. the exact fix
def test_closed_pair_fix_leaves_nothing_collapsing():
    """Two closed learners feeding themselves and each other (N = 12 < 2d + 1, d = 8): one
    real sample for one learner still expands; the proposed fix contracts and is minimal."""
    G = complete(2, real_samples=0, samples=6, initial_samples=20, dimension=8)
    assert not nothing_collapses(G.with_real_samples({"L0": 1}))
    a = analyze(G)
    add = all_additions(a)
    assert nothing_collapses(G.with_real_samples(add))
    assert not analyze(G.with_real_samples(add)).collapse
    assert a.to_json()["minimal_fix_optimal"] is True
    size, total = len(add), sum(add.values())
    assert (size, total) == brute_force_fix(G, max_total=total)


def test_fix_needs_two_learners_when_no_single_one_suffices():
    """Two weakly coupled self-trainers (24 own + 4 from the other, d = 20, no real data):
    each alone expands at factor 7118/6615 whatever the other gets, so the minimal fix adds
    real data to both; the search proves it (size 1 excluded exactly) and brute force agrees."""
    G = InteractionGraph(["A", "B"], real_samples=[0, 0], initial_samples=[40, 40],
                         edges=[("A", "A", 24), ("B", "A", 4), ("B", "B", 24), ("A", "B", 4)],
                         dimension=20, noise_variance=1)
    a = analyze(G)
    add = all_additions(a)
    assert sorted(add) == ["A", "B"] and nothing_collapses(G.with_real_samples(add))
    assert a.to_json()["minimal_fix_optimal"] is True
    assert (2, sum(add.values())) == brute_force_fix(G, max_total=sum(add.values()))
    for name in ("A", "B"):
        assert not any(nothing_collapses(G.with_real_samples({name: v})) for v in range(1, 41))


def test_three_learner_fix_fixes_and_is_not_claimed_optimal():
    """Three closed learners (4 own samples, 1 from each other, d = 4): no single learner and
    no pair with total <= T = 9 suffices, so the three-learner fix found is reported but
    minimal_fix_optimal is false (a pair with a larger total is not excluded); it fixes,
    and brute force finds nothing smaller with totals up to 12."""
    names = ["A", "B", "C"]
    edges = [(a, a, 4) for a in names] + [(a, b, 1) for a in names for b in names if a != b]
    G = InteractionGraph(names, real_samples=[0, 0, 0], initial_samples=[10] * 3, edges=edges,
                         dimension=4, noise_variance=1)
    a = analyze(G)
    add = all_additions(a)
    assert len(add) == 3 and nothing_collapses(G.with_real_samples(add))
    assert a.to_json()["minimal_fix_optimal"] is False
    assert "not proved minimal" in a.report()
    assert brute_force_fix(G, max_total=12) == (3, sum(add.values()))


def brute_force_fix(G: InteractionGraph, max_total: int) -> tuple[int, int]:
    """Smallest (learners, added samples) making every component contract, by enumerating
    every addition vector with total <= max_total (order: size, then total)."""
    K = G.num_learners
    for size in range(0, K + 1):
        for total in range(size, max_total + 1):
            for S in itertools.combinations(range(K), size):
                for parts in _compositions(total, size):
                    if nothing_collapses(G.with_real_samples({G.names[k]: v for k, v in zip(S, parts)})):
                        return size, total
    return K + 1, max_total + 1


def _compositions(total: int, parts: int):
    """Ordered tuples of ``parts`` positive integers summing to ``total``."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(1, total - parts + 2):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


@settings(max_examples=20, deadline=None, derandomize=True)
@given(G=st.one_of(small_n_graphs(), interaction_graphs(max_learners=3, exact_regime=True)))
def test_every_proposed_fix_fixes_and_is_minimal_against_brute_force(G):
    """Large- and small-N random graphs: applying the whole proposed fix (minimal_fix and
    minimal_fix_expanding, which each expanding[].fix repeats) leaves nothing collapsing;
    brute force finds no smaller fix in the order (learners, samples), and finds one of the
    same size when the fix is reported optimal."""
    a = analyze(G)
    out = a.to_json()
    if not out["collapse"]:
        assert out["minimal_fix"] == [] and "minimal_fix_optimal" not in out
        return
    add = all_additions(a)
    for e in out["expanding"]:
        assert {n: v for n, v in e["fix"].items() if v} == {n: add[n] for n in e["members"] if n in add}
    fixed = G.with_real_samples(add)
    assert nothing_collapses(fixed) and not analyze(fixed).collapse
    size, total = len(add), sum(add.values())
    if total <= 12:
        best = brute_force_fix(G, max_total=total)
        assert best <= (size, total)
        if out["minimal_fix_optimal"]:
            assert best == (size, total)


# --------------------------------------------------------------------------- 3. periodic asymptotics
def two_cycle() -> InteractionGraph:
    """L0 <-> L1 without self-loops, 9 samples each way, 1 and 2 real samples, d = 8
    (N = 10, 11 < 2d + 1): rho ~ 1.338 and rho^t R_0 alternates by about 8%."""
    return cycle(2, real_samples=[1, 2], samples=9, initial_samples=21, dimension=8)


def three_cycle() -> InteractionGraph:
    """L0 -> L1 -> L2 -> L0 without self-loops, 7 samples per edge, 1, 1, 2 real, d = 6."""
    return cycle(3, real_samples=[1, 1, 2], samples=7, initial_samples=15, dimension=6)


def test_two_cycle_risk_over_rho_t_alternates_and_has_no_limit():
    """On the two-cycle R_0(t)/rho^t alternates between two values (no limit): growth_rate is
    absent, the per-phase limits and their mean are reported, the text says 'oscillates with
    period 2'."""
    G = two_cycle()
    a = analyze(G)
    m = a.to_json()["models"]["L0"]
    assert m["growth"] == "geometric" and m["growth_period"] == 2
    assert m["growth_rate"] is None and "growth_rate_exact" not in m
    p0, p1 = m["growth_rate_phases"]
    assert abs(p0 - p1) > 1e-3 * max(p0, p1)
    assert m["growth_rate_mean"] == pytest.approx((p0 + p1) / 2, rel=1e-12)
    assert "oscillates with period 2" in a.report()


@pytest.mark.parametrize("graph, learner, T", [
    pytest.param(two_cycle(), "L0", 300, id="two-cycle-L0"),
    pytest.param(two_cycle(), "L1", 300, id="two-cycle-L1"),
    pytest.param(three_cycle(), "L2", 300, id="three-cycle-L2"),
    pytest.param(self_training(real_samples=4, samples=24, initial_samples=40, dimension=20), "L0", 450,
                 id="lone-geometric"),
    pytest.param(complete(2, real_samples=0, samples=6, initial_samples=20, dimension=8), "L1", 250,
                 id="closed-pair-geometric"),
])
def test_per_phase_limits_match_the_exact_recursion(graph, learner, T):
    """lim R_k(t) / (t^q rho^t) along t = r mod p equals R_k(t) / (t^q rho^t) of the exact
    rational recursion at the last generation of each phase (60-digit arithmetic, relative
    1e-8); the exact strings equal the floats."""
    r = exact_analysis(graph).learners[learner]
    p, q = r.growth_period, r.growth_degree
    assert len(r.growth_rate_phases) == p
    traj = exact_risk_trajectory(graph, T + p)
    k = graph.index[learner]
    mpmath.mp.dps = 60
    rho = mpmath.mpf(str(sp.N(r.growth_factor, 70)))
    for t in range(T, T + p):
        ratio = mpmath.mpf(sp.Rational(traj[t][k]).p) / sp.Rational(traj[t][k]).q / (mpmath.mpf(t) ** q * rho**t)
        phase = r.growth_rate_phases[t % p]
        assert float(ratio) == pytest.approx(to_float(phase), rel=1e-8)
        assert to_float(sp.sympify(to_exact_string(phase))) == pytest.approx(to_float(phase), rel=1e-12)
    assert to_float(r.growth_rate_mean) == pytest.approx(np.mean([to_float(x) for x in r.growth_rate_phases]))


@pytest.mark.parametrize("rotation, P, periodic", [
    pytest.param(-1, 2, True, id="sign-flip-period-2"),
    pytest.param(-1, 1, False, id="sign-flip-not-period-1"),
    pytest.param(sp.Rational(3, 5), 12, False, id="irrational-rotation"),
])
def test_periodicity_is_certified_exactly_or_not_claimed(rotation, P, periodic):
    """a(t) = 2^t (2 + Re w^t) with |w| = 1: per-phase limits are reported only when every
    top-order pole of modulus 2 is 2 times a P-th root of unity (w = -1 and P = 2); for
    w = (3 + 4i)/5, not a root of unity, no period is claimed; the Cesaro mean 2 is exact."""
    a, b = (sp.Integer(-1), sp.Integer(0)) if rotation == -1 else (rotation, sp.sqrt(1 - rotation**2))
    seq, re, im = [], sp.Integer(1), sp.Integer(0)  # w^t = re + i im, w = a + i b (b rational)
    for t in range(40):
        seq.append(sp.QQ.from_sympy(2**t * (2 + re)))
        re, im = re * a - im * b, re * b + im * a
    phases, mean = _growth_phases(seq, sp.Integer(2), 0, P, 6)
    assert mean == 2
    assert (phases is not None) is periodic
    if periodic:
        assert phases == (3, 1)


@pytest.mark.parametrize("graph, learner", [
    pytest.param(cycle(3, real_samples=0, samples=10, initial_samples=20, dimension=1), "L0", id="three-cycle-closed"),
    pytest.param(cycle(2, real_samples=0, samples=7, initial_samples=20, dimension=4), "L1", id="two-cycle-closed"),
])
def test_linear_growth_on_a_periodic_component_has_a_limit(graph, learner):
    """rho = 1 on a periodic closed cycle: R/t has a limit (period 1), growth_rate is that
    limit and R(t + 1) - R(t) averages to it over a period."""
    r = exact_analysis(graph).learners[learner]
    assert (r.growth, r.growth_period) == ("linear", 1) and r.growth_rate_phases == (r.growth_rate,)
    k = graph.index[learner]
    P = graph.num_learners
    R = [row[k] for row in exact_risk_trajectory(graph, 40 + P)]
    assert (R[40 + P] - R[40]) / P == r.growth_rate


# --------------------------------------------------------------------------- 4. the radius that decides
@pytest.mark.parametrize("graph, collapse, exact", [
    pytest.param(self_training(real_samples=4, samples=24, initial_samples=40, dimension=20), True, "7118/6615",
                 id="lone-geometric"),
    pytest.param(self_training(real_samples=7, samples=27, initial_samples=40, dimension=23), True, "1",
                 id="lone-radius-one"),
    pytest.param(self_training(real_samples=10, samples=30, initial_samples=40, dimension=2), False, None,
                 id="lone-bounded"),
])
def test_exact_report_states_the_map_radius_that_decides_the_verdict(graph, collapse, exact):
    """rho(W) < 1 here, yet the exact verdict follows the exact map's radius: the JSON has
    exact_map_spectral_radius (>= 1 iff something collapses) with its exact twin, and the
    report says that radius decides the verdict."""
    a = analyze(graph)
    out = a.to_json()
    assert out["spectral_radius"] < 1 and out["collapse"] is collapse
    value = sp.sympify(out["exact_map_spectral_radius_exact"])
    assert bool(value >= 1) is collapse
    assert out["exact_map_spectral_radius"] == pytest.approx(float(value), rel=1e-14)
    assert out["exact_map_spectral_radius"] == pytest.approx(numeric_map_radius(graph, [0]), rel=1e-9)
    if exact is not None:
        assert out["exact_map_spectral_radius_exact"] == exact
    line = [s for s in a.report().splitlines() if "exact second-moment map" in s]
    assert len(line) == 1 and "decides" in line[0]


# --------------------------------------------------------------------------- 5. refusing the undefined
UNDEFINED_OLS = [
    pytest.param(self_training(real_samples=1, samples=4, dimension=5), r"models\[L0\]: .*N_k > d \+ 1", id="N-small"),
    pytest.param(self_training(real_samples=20, samples=3, initial_samples=6, dimension=5),
                 r"models\[L0\]: .*n0_k > d \+ 1", id="n0-small"),
]


@pytest.mark.parametrize("graph, match", UNDEFINED_OLS)
def test_large_sample_theory_refuses_ols_outside_its_definition(graph, match):
    """OLS needs N_k > d + 1 (and n0_k > d + 1): analyze and predict in the large-sample theory
    raise the same one-line ExactRegimeError as the exact theory, naming learner and field."""
    with pytest.raises(ExactRegimeError, match=match) as large:
        analyze(graph, theory="large-sample")
    with pytest.raises(ExactRegimeError) as exact:
        analyze(graph, theory="exact")
    assert str(large.value) == str(exact.value) and "\n" not in str(large.value)
    with pytest.raises(ExactRegimeError, match=match):
        predict(graph, 3, theory="large-sample")


@pytest.mark.parametrize("graph, match", UNDEFINED_OLS)
def test_command_line_large_sample_refuses_undefined_ols(graph, match, tmp_path, capsys):
    """`analyze --large-sample` on such a graph exits 2 with one line, no report."""
    path = tmp_path / "g.json"
    path.write_text(graph.dumps())
    assert main(["analyze", str(path), "--large-sample"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "models[L0]" in captured.err


@pytest.mark.parametrize("graph, field", [
    pytest.param(self_training(real_samples=sp.Rational(5, 2), samples=30, dimension=2),
                 "models[L0].real_samples", id="real"),
    pytest.param(self_training(real_samples=3, samples=sp.Rational(61, 2), dimension=2),
                 "edges[L0->L0].samples", id="edge"),
    pytest.param(self_training(real_samples=3, samples=30, initial_samples=sp.Rational(41, 2), dimension=2),
                 "models[L0].initial_samples", id="initial"),
])
def test_exact_theory_refuses_fractional_counts(graph, field):
    """A fractional sample count has no finite-sample meaning: the exact theory (analysis,
    trajectories) raises an ExactRegimeError naming the field, on one line."""
    for call in (lambda: analyze(graph), lambda: exact_risk_trajectory(graph, 2), lambda: exact_analysis(graph)):
        with pytest.raises(ExactRegimeError) as info:
            call()
        assert field in str(info.value) and "integer" in str(info.value) and "\n" not in str(info.value)
    analyze(graph, theory="large-sample")  # the formal large-sample formulas accept them


def test_theory_error_messages_name_no_command_line_flags():
    """Messages raised by theory/ speak of 'the large-sample theory', never of CLI flags."""
    messages = []
    for graph in (self_training(real_samples=1, samples=4, dimension=5),
                  self_training(real_samples=sp.Rational(5, 2), samples=30, dimension=2)):
        for theory in ("exact", "large-sample"):
            try:
                analyze(graph, theory=theory)
            except GraphCollapseError as exc:
                messages.append(str(exc))
    assert len(messages) == 3
    assert all("--" not in m for m in messages)
    assert any("the large-sample theory" in m for m in messages)
    assert resolve_theory("exact") == "exact"
