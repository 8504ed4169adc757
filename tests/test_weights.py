"""Optimal loss weights (docs/regimes.md §7).

Anchor: He, Xu, Cheng 2025 (arXiv 2502.18049), the golden-ratio weight 1/phi of real data
for one learner with equal real and synthetic counts.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize_scalar

from graphcollapse.theory import InteractionGraph
from graphcollapse.theory.builders import cycle, random_digraph, self_training
from graphcollapse.theory.errors import GraphValueError, NoClosedFormError
from graphcollapse.theory.regimes import regime_analysis, regime_verdicts
from graphcollapse.theory.weights import (
    best_response_shares,
    golden_share,
    optimal_real_share,
    optimize_weights,
    self_training_risk,
    stationary_risks_for_shares,
)


def test_golden_ratio_he_xu_cheng():
    """He, Xu, Cheng 2025: with equal real and synthetic counts the optimal real weight is
    1/phi, for every count (symbolic m)."""
    m = sp.Symbol("m", positive=True)
    phi = (1 + sp.sqrt(5)) / 2
    assert sp.simplify(optimal_real_share(m, m) - 1 / phi) == 0
    assert sp.simplify(golden_share() - 1 / phi) == 0


def test_general_one_learner_formula_is_the_minimum():
    """Claim 5: a* zeroes the derivative of R(a) (sympy), and a numeric minimisation over
    (0, 1] finds it (tolerance 1e-7 from the scalar optimiser's xatol)."""
    a, m, n, v, vs = sp.symbols("a m n v v_s", positive=True)
    R = self_training_risk(a, m, n, real_risk=v, synthetic_risk=vs)
    star = optimal_real_share(m, n, real_risk=v, synthetic_risk=vs)
    assert sp.simplify(sp.diff(R, a).subs(a, star)) == 0
    for mm, nn, vv, vvs in [(10, 30, 1, 1), (3, 50, 2, sp.Rational(1, 2)), (40, 5, 1, 3)]:
        f = sp.lambdify(a, R.subs({m: mm, n: nn, v: vv, vs: vvs}))
        res = minimize_scalar(f, bounds=(1e-9, 1), method="bounded", options={"xatol": 1e-10})
        assert abs(res.x - float(star.subs({m: mm, n: nn, v: vv, vs: vvs}))) < 1e-7


def test_optimize_one_learner_is_exact_and_consistent():
    """The closed form is used and its risk is the regime theory's stationary risk."""
    opt = optimize_weights(self_training(real_samples=10, samples=10, dimension=1))
    assert opt.exact and sp.simplify(opt.shares["L0"]["real"] - golden_share()) == 0
    assert opt.value < opt.unit_value and opt.gain > 0
    assert abs(opt.risk["L0"] - float((sp.sqrt(5) - 1) / 20)) < 1e-15


def _bounded_random_graph(seed: int) -> InteractionGraph:
    for s in range(seed, seed + 50):
        G = random_digraph(5, seed=s, real_probability=0.7, dimension=2)
        if not any(regime_verdicts(G).collapses):
            return G
    raise AssertionError("no bounded graph found")  # pragma: no cover


@pytest.mark.parametrize("objective", ["max", "mean"])
@pytest.mark.parametrize("seed", [0, 7])
def test_joint_optimum_beats_unit_weights_and_matches_the_theory(objective, seed):
    """The optimum is never worse than unit weights, and the graph it returns (weights
    set) has, in the exact regime analysis, the stationary risks it reports."""
    G = _bounded_random_graph(seed)
    opt = optimize_weights(G, objective)
    assert opt.value <= opt.unit_value * (1 + 1e-12)
    exact = {r.name: float(r.stationary_risk) for r in regime_analysis(opt.graph).learners}
    for name, r in opt.risk.items():
        assert abs(exact[name] - r) <= 1e-9 * max(1.0, r)


def test_best_response_is_the_exact_minimum():
    """Claim 6: the exact best response beats random perturbations of the shares."""
    G = InteractionGraph(["A", "B", "C"], real_samples=[10, 4, 6], initial_samples=[30] * 3,
                         edges=[("A", "B", 10), ("A", "C", 10), ("B", "C", 20)], dimension=2, noise_variance=1)
    shares = best_response_shares(G, "C")
    assert sp.nsimplify(sum(shares.values())) == 1
    best = np.array([float(shares[k]) for k in ("real", "A", "B")])

    def risk_C(s):
        base = [np.array([1.0]), np.array([4 / 14, 10 / 14]), s]
        return stationary_risks_for_shares(G, base)[2]

    rng = np.random.default_rng(0)
    r0 = risk_C(best)
    for _ in range(20):
        s = np.abs(best + rng.normal(scale=0.05, size=3))
        assert risk_C(s / s.sum()) >= r0 - 1e-15


def test_best_response_refuses_cycles():
    with pytest.raises(NoClosedFormError, match="lies on a cycle"):
        best_response_shares(self_training(real_samples=5), "L0")


@pytest.mark.parametrize("graph, match", [
    pytest.param(cycle(3, real_samples=0), "collapses for every choice of weights", id="collapsing"),
    pytest.param(self_training(real_samples=5, data_policy="accumulate"), "derived for data_policy replace",
                 id="accumulate"),
])
def test_optimize_refuses(graph, match):
    with pytest.raises(GraphValueError, match=match):
        optimize_weights(graph)


def test_cli_optimize_weights(tmp_path, capsys):
    from graphcollapse.verify.cli import main

    path = tmp_path / "g.json"
    path.write_text(self_training(real_samples=10, samples=10, dimension=1).dumps())
    assert main(["optimize-weights", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] and abs(out["shares"]["L0"]["real"] - 0.6180339887498949) < 1e-15
    assert out["exact_values"]["real share"] == "-1/2 + sqrt(5)/2"
    bad = tmp_path / "c.json"
    bad.write_text(cycle(2, real_samples=0).dumps())
    assert main(["optimize-weights", str(bad)]) == 2
    assert "collapses for every choice of weights" in capsys.readouterr().err
