r"""LaTeX printing of the objects :mod:`graphcollapse.theory.theorem` derives.

This module only prints: :func:`theorem_latex` renders a
:class:`~graphcollapse.theory.theorem.Theorem`, :func:`family_latex` a family's closed forms,
:func:`tex` any sympy object (``sympy.latex`` with explicit products, so the LaTeX says what
the sympy object says; the tests parse every scalar back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from .graph import _as_sympy

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import Analysis
    from .theorem import Theorem

__all__ = [
    "tex",
    "analysis_latex",
    "theorem_latex",
    "document_latex",
    "family_latex",
    "learner_latex",
]


def tex(obj: Any) -> str:
    r"""``sympy.latex`` with explicit ``\cdot`` products, so that a product with a
    parenthesised factor (``m \cdot \left(m + 2 n\right)``) cannot be read as a function
    application ``m(m + 2n)``, by readers or by LaTeX parsers.

    Examples
    --------
    >>> import sympy as sp
    >>> m, n = sp.symbols("m n")
    >>> tex(2 / (m * (m + n)))
    '\\frac{2}{m \\cdot \\left(m + n\\right)}'
    """
    return sp.latex(obj, mul_symbol="dot")


def learner_latex(name: str) -> str:
    r"""The LaTeX label of a learner: ``\mathrm{name}`` with underscores escaped.

    Examples
    --------
    >>> learner_latex("L_0")
    '\\mathrm{L\\_0}'
    """
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def theorem_latex(th: Theorem) -> str:
    r"""A theorem-style LaTeX statement (``\begin{theorem} ... \end{theorem}``) with its
    assumptions, the recursion, :math:`W`, :math:`D`, the condition, risks and rates.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.theorem import derive_theorem
    >>> tex = theorem_latex(derive_theorem(self_training(real_samples=10, samples=30, dimension=2), "large-sample"))
    >>> tex.splitlines()[0]
    '\\begin{theorem}[Large-sample model collapse on a 1-learner graph]'
    """
    g = th.graph
    lines = [rf"\begin{{theorem}}[{'Exact' if th.theory == 'exact' else 'Large-sample'} model collapse "
             rf"on a {g.num_learners}-learner graph]"]
    edges = ", ".join(rf"{learner_latex(s)} \to {learner_latex(t)}" for s, t, _ in g.edges) or r"\text{none}"
    lines.append(rf"Learners ${', '.join(learner_latex(n) for n in g.names)}$; edges (data flow) ${edges}$; "
                 rf"dimension $d = {tex(_as_sympy(g.dimension))}$, noise variance "
                 rf"$\sigma^2 = {tex(_as_sympy(g.noise_variance))}$.")
    if th.assumptions:
        lines.append("Assume " + "; ".join(f"${a}$" for a in th.assumptions) + ".")
    lines.append(r"With the mixing matrix")
    lines.append(r"\[ W = " + tex(th.W) + r" \]")
    if th.theory == "large-sample":
        lines.append(r"the risks $R_k^{(t)} = C^{(t)}_{kk}$ follow, up to $o(1/n)$,")
        lines.append(r"\[ C^{(t)} = W C^{(t-1)} W^\top + D, \qquad C^{(0)} = " + tex(th.initial_covariance) + r", \]")
    else:
        lines.append(r"the risks $R_k^{(t)} = C^{(t)}_{kk}$ follow exactly")
        lines.append(r"\[ C^{(t)} = W C^{(t-1)} W^\top + \operatorname{diag}_k\Big(\gamma_k \big(\textstyle\sum_j W_{kj} "
                     r"C^{(t-1)}_{jj} - (W C^{(t-1)} W^\top)_{kk}\big)\Big) + D, \qquad C^{(0)} = "
                     + tex(th.initial_covariance) + r", \]")
        lines.append(r"\[ \gamma = \left(" + r",\ ".join(tex(x) for x in th.design_corrections or ()) + r"\right), \]")
    lines.append(r"\[ D = \operatorname{diag}\left(" + r",\ ".join(tex(x) for x in th.noise_variance) + r"\right). \]")
    lines.append(r"\begin{enumerate}")
    verdicts = []
    for name, c in zip(g.names, th.collapses):
        if c is True or c == sp.true:
            verdicts.append(rf"${learner_latex(name)}$ collapses ($\sup_t R^{{(t)}} = \infty$)")
        elif c is False or c == sp.false:
            verdicts.append(rf"${learner_latex(name)}$ stays bounded"
                            + (" (topologically)" if th.theory == "large-sample" else ""))
        else:
            verdicts.append(rf"${learner_latex(name)}$ collapses if and only if ${tex(c)}$")
    lines.append(r"\item " + "; ".join(verdicts) + ".")
    for name, rel in th.contraction.items():
        members = name.split(", ")
        always, never = rel is True or rel == sp.true, rel is False or rel == sp.false
        if len(members) == 1:
            how = ("always contracts" if always else "never contracts" if never
                   else f"contracts if and only if ${tex(rel)}$")
            lines.append(rf"\item In the exact theory the self-training learner ${learner_latex(name)}$ {how}.")
        else:
            how = ("always contracts: its exact second-moment map has spectral radius below 1" if always else
                   "never contracts: its exact second-moment map has spectral radius at least 1" if never else
                   f"contracts, i.e. its exact second-moment map has spectral radius below 1, if and only if ${tex(rel)}$")
            lines.append(r"\item In the exact theory the component $\{" + ", ".join(learner_latex(m) for m in members)
                         + r"\}$ " + how + ".")
    if th.stationary_risks:
        lines.append(r"\item The bounded learners converge to the stationary risks "
                     + ", ".join(rf"$R_{{{learner_latex(n)}}}^{{(\infty)}} = {tex(v)}$" for n, v in th.stationary_risks.items()) + ".")
    if th.growth_rates:
        lines.append(r"\item The collapsing learners grow linearly ("
                     + ("large sample" if th.theory == "large-sample" else "exact")
                     + "), "
                     + ", ".join(rf"$\lim_{{t\to\infty}} R_{{{learner_latex(n)}}}^{{(t)}}/t = {tex(v)}$" for n, v in th.growth_rates.items()) + ".")
    lines.append(r"\end{enumerate}")
    lines.append(r"\end{theorem}")
    return "\n".join(lines)


def document_latex(body: str, title: str = "Model collapse") -> str:
    r"""A standalone LaTeX document (``amsmath``, ``amsthm``) around ``body``.

    Examples
    --------
    >>> document_latex("x").splitlines()[0]
    '\\documentclass{article}'
    """
    return "\n".join([
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb,amsthm}",
        r"\newtheorem{theorem}{Theorem}",
        rf"\title{{{title}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        body,
        r"\end{document}",
        "",
    ])


def family_latex(cf: Any) -> str:
    r"""LaTeX of a family's closed forms (:class:`graphcollapse.theory.families.FamilyClosedForm`).

    Examples
    --------
    >>> from graphcollapse.theory.families import derive_family
    >>> family_latex(derive_family("cycle")).startswith("C_{kk}")
    True
    """
    labels = {"diagonal": "C_{kk}", "off_diagonal": r"C_{kl}\ (k \ne l)", "hub": "C_{00}",
              "hub_spoke": "C_{0s}", "spoke": "C_{ss}", "spoke_spoke": r"C_{ss'}\ (s \ne s')", "x_k": "C_{kk}"}
    return r",\quad ".join(f"{labels.get(k, k)} = {tex(v)}" for k, v in cf.unknowns.items())


def analysis_latex(a: Analysis) -> str:
    r"""A table of the verdicts, growth and stationary risks of an analysis (for notebooks).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> analysis_latex(analyze(self_training(real_samples=0), theory="large-sample"))
    '$\\begin{array}{lll}\\text{L0} & \\text{linear} & R_t / t^{1} \\to \\frac{1}{2}\\end{array}$'
    """
    rows = []
    for r in a.learners:
        if r.stationary_risk is not None:
            rows.append(rf"\text{{{r.name}}} & \text{{bounded}} & R_\infty = {sp.latex(r.stationary_risk)}")
        elif r.growth_factor is not None:
            rows.append(rf"\text{{{r.name}}} & \text{{geometric}} & \rho = {sp.latex(r.growth_factor)}")
        else:
            q = r.growth_degree
            rows.append(rf"\text{{{r.name}}} & \text{{{r.growth}}} & R_t / t^{{{q}}} \to {sp.latex(r.growth_rate)}")
    return r"$\begin{array}{lll}" + r" \\ ".join(rows) + r"\end{array}$"
