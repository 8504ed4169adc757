"""The analysis results: minimal fix against brute force, JSON contract, reports."""

from __future__ import annotations

import itertools
import json

import pytest
import sympy as sp
from hypothesis import assume, given, settings

from strategies import interaction_graphs
from graphcollapse.theory import collapse_condition
from graphcollapse.theory.analysis import analyze, demo_graph, minimal_fix, predict
from graphcollapse.theory.builders import cycle, self_training
from graphcollapse.theory.recursion import stationary_covariance


def ols_defined(G):
    """G with the dimension lowered (and, if need be, real samples added) so that every
    N_k > d + 1 and n0_k > d + 1: OLS has a finite risk in both theories."""
    nmin = min(int(N) for N in G.total_samples)
    d = max(1, min(int(G.dimension), nmin - 2))
    low = {n: d + 2 - int(N) for n, N in zip(G.names, G.total_samples) if int(N) <= d + 1}
    G = G.with_real_samples(low) if low else G
    return G.replace(dimension=d, initial_samples=[max(int(n0), d + 2) for n0 in G.initial_samples])


def _exact_max_risk(G):
    B, C = stationary_covariance(G)
    assert len(B) == len(G)
    return max(C[i, i] for i in range(len(B)))


@given(interaction_graphs(max_learners=6))
@settings(max_examples=30)
def test_minimal_fix_is_optimal_against_exact_brute_force(G):
    """The chosen fix minimises the largest stationary risk among all one-learner-per-
    component fixes (compared in exact arithmetic, ties allowed)."""
    cond = collapse_condition(G)
    assume(cond.components)
    fix = minimal_fix(G, 5, cond)
    assert fix.optimal
    chosen = _exact_max_risk(G.with_real_samples({n: 5 for n in fix.learners}))
    best = min(
        _exact_max_risk(G.with_real_samples({G.names[j]: 5 for j in combo}))
        for combo in itertools.product(*[c.members for c in cond.components])
    )
    assert float(chosen) == pytest.approx(float(best), rel=1e-9)
    assert fix.max_stationary_risk == pytest.approx(float(chosen), rel=1e-9)


@given(interaction_graphs(max_learners=6))
@settings(max_examples=30)
def test_no_fix_with_fewer_learners_exists(G):
    """Fixing all chosen learners stops collapse; leaving any one of them out does not
    (each offending component needs real data of its own, claim 1)."""
    cond = collapse_condition(G)
    assume(cond.components)
    fix = minimal_fix(G, 3, cond)
    fixed = G.with_real_samples({n: 3 for n in fix.learners})
    assert not any(collapse_condition(fixed).collapses)
    for left_out in fix.learners:
        partial = G.with_real_samples({n: 3 for n in fix.learners if n != left_out})
        assert any(collapse_condition(partial).collapses)
    # and no single component can be fixed by a learner outside it
    for comp in cond.components:
        outside = [n for n in G.names if G.index[n] not in comp.members]
        for n in outside:
            assert any(collapse_condition(G.with_real_samples({n: 3})).collapses)


def test_minimal_fix_default_samples_is_the_lower_median_of_positive_real_samples():
    """Default fix_samples: median_low of positive real_samples (else 1)."""
    G = demo_graph()  # positive real samples 20, 10, 15 -> 15
    assert minimal_fix(G).fix_samples == 15
    assert minimal_fix(cycle(3, real_samples=0)).fix_samples == 1


def test_analyze_json_contract():
    """The documented keys and types of `analyze --json` (the contract of docs/cli.md)."""
    out = json.loads(json.dumps(analyze(demo_graph(), theory="large-sample").to_json(), allow_nan=False))
    assert set(out) >= {"version", "theory", "collapse", "spectral_radius", "models", "components", "minimal_fix"}
    assert out["theory"] == "large-sample" and out["collapse"] is True and out["spectral_radius"] == 1.0
    for name, m in out["models"].items():
        assert set(m) >= {"collapses", "growth", "growth_degree", "growth_rate", "growth_factor", "stationary_risk"}
        assert sum(m[k] is not None for k in ("growth_rate", "growth_factor", "stationary_risk")) == 1
        if m["collapses"]:
            assert m["growth"] == "linear" and m["growth_degree"] == 1
            assert sp.Rational(m["growth_rate_exact"]) == pytest.approx(m["growth_rate"])
        else:
            assert m["growth"] == "none" and m["growth_degree"] is None
            assert sp.Rational(m["stationary_risk_exact"]) == pytest.approx(m["stationary_risk"])
    comp = out["components"]
    assert [c["members"] for c in comp] == [["C", "D"], ["F"]]
    assert comp[0]["period"] == 2 and comp[0]["cyclic_classes"] == [["C"], ["D"]]
    assert comp[0]["stationary_distribution_exact"] == {"C": "1/2", "D": "1/2"}
    assert comp[0]["affects"] == ["C", "D", "E"]
    assert [f["learner"] for f in out["minimal_fix"]] in (["C", "F"], ["D", "F"])


def test_predict_json_contract():
    """`predict --json`: generations 0..T and one risk list per learner, exact siblings."""
    out = predict(self_training(real_samples=10, samples=30, dimension=2), 3, theory="large-sample").to_json()
    assert out["generations"] == [0, 1, 2, 3]
    assert len(out["risk"]["L0"]) == 4 and len(out["risk_exact"]["L0"]) == 4
    assert out["risk_exact"]["L0"][0] == str(sp.Rational(2, 30))


def test_report_names_theory_components_and_fix():
    """The readable report says which theory it used, the verdicts and the fix."""
    text = analyze(demo_graph(), theory="large-sample").report()
    assert "large-sample theory" in text
    assert "collapses" in text and "bounded" in text
    assert "period 2" in text and "minimal fix" in text


@given(interaction_graphs(max_learners=6))
@settings(max_examples=20)
def test_float_analysis_matches_exact_analysis(G):
    """Beyond exact reach analyze() switches to floats; on small graphs both agree."""
    G = ols_defined(G)
    a = analyze(G, theory="large-sample", exact=True)
    b = analyze(G, theory="large-sample", exact=False)
    assert b.extra["accuracy"]["stationary_risk_relative_residual"] < 1e-12
    for ra, rb in zip(a.learners, b.learners):
        assert ra.collapses == rb.collapses and ra.growth == rb.growth
        for key in ("growth_rate", "stationary_risk"):
            va, vb = getattr(ra, key), getattr(rb, key)
            assert (va is None) == (vb is None)
            if va is not None:
                assert vb == pytest.approx(float(va), rel=1e-9)


def test_symbolic_stationary_risk_and_growth_rate():
    """With symbolic counts, stationary risks and growth rates are rational functions:
    a self-training learner with m real and n own samples settles at
    D / (1 - w^2) = 2 (m + n) / (m (m + 2 n)) for d = 2, sigma^2 = 1; a 3-ring of learners
    without real data grows by sigma^2 d / n per generation."""
    n, m = sp.symbols("n m", positive=True)
    a = analyze(self_training(real_samples=m, samples=n, dimension=2), theory="large-sample")
    assert sp.simplify(a.learners[0].stationary_risk - 2 * (m + n) / (m * (m + 2 * n))) == 0
    b = analyze(cycle(3, real_samples=0, samples=n, dimension=5), theory="large-sample")
    assert all(sp.simplify(r.growth_rate - 5 / n) == 0 for r in b.learners)


def test_exact_analysis_json_reports_expanding_components_and_differing_verdicts():
    """Exact mode (claim 5): d = 20, N = 28 with 24 own and 4 real samples grows
    geometrically although it gets real data; the JSON carries the map radius, the
    expanding component with its fix, and the large-sample verdict it contradicts."""
    G = self_training(real_samples=4, samples=24, initial_samples=40, dimension=20)
    a = analyze(G)
    out = json.loads(json.dumps(a.to_json(), allow_nan=False))
    m = out["models"]["L0"]
    assert out["theory"] == "exact" and m["collapses"] is True and m["large_sample_collapses"] is False
    assert m["growth"] == "geometric" and m["growth_factor"] == pytest.approx(1.076, abs=5e-4)
    assert sp.Rational(m["growth_factor_exact"]) == sp.Rational(7118, 6615)
    assert m["map_spectral_radius"] == pytest.approx(m["growth_factor"])
    assert out["expanding"][0]["members"] == ["L0"] and out["expanding"][0]["fix"]["L0"] >= 1
    assert out["spectral_radius"] == pytest.approx(24 / 28)
    assert "differ" in a.report()


def test_exact_mode_outside_its_regime_refuses_on_one_line():
    """N_k <= d + 1: a one-line error naming the learner and N_k (OLS has infinite risk)."""
    from graphcollapse.theory.errors import ExactRegimeError

    with pytest.raises(ExactRegimeError, match=r"models\[L0\]: OLS needs N_k > d \+ 1"):
        analyze(self_training(real_samples=1, samples=4, dimension=5))


@pytest.mark.parametrize("source", [
    pytest.param("path", id="path"), pytest.param("dict", id="dict")])
def test_analyze_accepts_a_path_or_a_dict(source):
    """The Python API reads a graph given as a file path or a dictionary."""
    import json
    from pathlib import Path

    path = Path(__file__).parent.parent / "docs" / "examples" / "ring.json"
    graph = str(path) if source == "path" else json.loads(path.read_text())
    assert analyze(graph, theory="large-sample").collapse


@pytest.mark.parametrize("bad", [None, 3, b"{}"], ids=["None", "int", "bytes"])
def test_analyze_rejects_what_is_not_a_graph(bad):
    """Not a graph: our GraphTypeError naming the field, not an AttributeError."""
    from graphcollapse.theory.errors import GraphTypeError

    with pytest.raises(GraphTypeError, match="^graph: expected"):
        analyze(bad)
