r"""Theorems as data: the derived objects of an interaction graph under one theory.

Statement
---------
For a graph with exact (rational or symbolic) parameters, :func:`derive_theorem` collects

* the mixing matrix :math:`W` (:math:`W_{kj} = n_{jk}/N_k`),
* the recursion: large sample :math:`C^{(t)} = W C^{(t-1)} W^\top + D`,
  :math:`D_k = d(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)/N_k^2`,
  :math:`C^{(0)} = \operatorname{diag}(\sigma^2 d/n^0_k)`; exact (default)
  :math:`C^{(t)} = W C W^\top + \operatorname{diag}(\gamma_k(\sum_j W_{kj}C_{jj} - (WCW^\top)_{kk})) + D`
  with the design corrections :math:`\gamma_k = \gamma(N_k, d)` and
  :math:`D_k = d(\dots)/(N_k(N_k-d-1))` of :mod:`graphcollapse.theory.exact`,
* the collapse condition per learner (a sympy Boolean in the symbolic real-data counts;
  in the exact theory, also the contraction inequality of every self-training learner),
* the stationary risks of the bounded learners (rational functions, factored),
* the growth rates of the collapsing learners,

as sympy objects in a :class:`Theorem`. Symbolic real-data counts are assumed positive for
the stationary risks and rates, an assumption the theorem records. Printing is apart:
:mod:`graphcollapse.theory.latex` renders a :class:`Theorem` and derives nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .condition import collapse_condition
from .errors import GraphValueError, NoClosedFormError
from .graph import InteractionGraph
from .linalg import common_field
from .modes import resolve_theory
from .lyapunov import solve_lyapunov_exact
from .recursion import (
    growth_rates,
    large_sample_initial_covariance,
    large_sample_noise_variance,
)

__all__ = ["Theorem", "derive_theorem", "derive_risk_closed_form"]



def _positive_counts(graph: InteractionGraph) -> tuple[InteractionGraph, list[sp.Symbol]]:
    """Replace nonnegative real-count symbols by positive ones of the same name."""
    mapping: dict[sp.Symbol, sp.Symbol] = {}
    for m in graph.real_samples:
        if isinstance(m, sp.Basic):
            for s in m.free_symbols:
                if not s.is_positive:
                    mapping[s] = sp.Symbol(s.name, positive=True, integer=bool(s.is_integer))
    return (graph.subs(mapping) if mapping else graph), sorted(mapping.values(), key=str)


@dataclass(frozen=True)
class Theorem:
    r"""The derived objects of a graph under one theory, renderable as LaTeX.

    Attributes
    ----------
    graph : InteractionGraph
    theory : str
        ``"exact"`` or ``"large-sample"``.
    W : sympy.Matrix
    noise_variance : tuple
        :math:`D_k`.
    initial_covariance : sympy.Matrix
    design_corrections : tuple or None
        :math:`\gamma_k` (exact theory only).
    collapses : tuple
        Per learner: ``True``/``False`` or a sympy Boolean "collapses" (topological in the
        large-sample theory; in the exact theory with symbols,
        :func:`graphcollapse.theory.exact.exact_collapse_conditions`).
    contraction : dict
        Exact theory: learner name -> the inequality its self-training map must satisfy;
        with symbols also ``"A, B, ..."`` (a larger component) -> its contraction condition.
    stationary_risks : dict
        Bounded learner name -> stationary risk (symbolic counts assumed positive).
    growth_rates : dict
        Collapsing learner name -> growth rate :math:`\lim R_k^{(t)}/t` (large-sample, or
        exact from :func:`graphcollapse.theory.exact.exact_growth_rates`).
    assumptions : list of str
        LaTeX assumptions the statement makes.
    """

    graph: InteractionGraph = field(repr=False)
    theory: str
    W: sp.Matrix
    noise_variance: tuple[sp.Expr, ...]
    initial_covariance: sp.Matrix
    design_corrections: tuple[sp.Expr, ...] | None
    collapses: tuple[Any, ...]
    contraction: dict[str, sp.Basic]
    stationary_risks: dict[str, sp.Expr]
    growth_rates: dict[str, sp.Expr]
    assumptions: list[str]

    def scalars(self) -> dict[str, sp.Expr]:
        """Every scalar formula by a readable key (for round-trip tests and JSON)."""
        out: dict[str, sp.Expr] = {}
        for k, name in enumerate(self.graph.names):
            out[f"D[{name}]"] = self.noise_variance[k]
            out[f"C0[{name}]"] = self.initial_covariance[k, k]
            if self.design_corrections is not None:
                out[f"gamma[{name}]"] = self.design_corrections[k]
        out.update({f"R[{n}]": v for n, v in self.stationary_risks.items()})
        out.update({f"r[{n}]": v for n, v in self.growth_rates.items()})
        return out

    def to_latex(self, document: bool = False) -> str:
        """The theorem statement (a LaTeX snippet, or a standalone document), printed by
        :func:`graphcollapse.theory.latex.theorem_latex`."""
        from .latex import document_latex, theorem_latex

        body = theorem_latex(self)
        return document_latex(body, title=f"Model collapse on a {self.graph.num_learners}-learner graph") if document else body

    def _repr_latex_(self) -> str:
        from .latex import tex

        return "$\\displaystyle W = " + tex(self.W) + "$"


def _exact_parts(graph: InteractionGraph):
    from . import exact

    gam = tuple(sp.factor(exact.design_correction(N, graph.dimension)) for N in graph.total_samples)
    return gam, exact.exact_noise_variance(graph), exact.exact_initial_covariance(graph)


def _exact_stationary(graph: InteractionGraph, B: list[int], gam, Dv) -> sp.Matrix:
    """Solve C = L(C) + D on the ancestor-closed set B (exact second-moment map)."""
    W = graph.mixing_matrix.extract(B, B)
    n = len(B)
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    idx = {p: r for r, p in enumerate(pairs)}
    key = lambda p, q: idx[(p, q) if p <= q else (q, p)]  # noqa: E731
    M = sp.zeros(len(pairs), len(pairs))
    rhs = sp.zeros(len(pairs), 1)
    for r, (i, j) in enumerate(pairs):
        M[r, r] += 1
        for p in range(n):
            for q in range(n):
                if W[i, p] != 0 and W[j, q] != 0:
                    coeff = W[i, p] * W[j, q]
                    if i == j:
                        coeff = coeff * (1 - gam[B[i]])
                    M[r, key(p, q)] -= coeff
        if i == j:
            for p in range(n):
                if W[i, p] != 0:
                    M[r, key(p, p)] -= gam[B[i]] * W[i, p]
            rhs[r] = Dv[B[i]]
    from sympy.polys.matrices import DomainMatrix

    F = common_field(list(M) + list(rhs))
    Md = DomainMatrix([[F.from_sympy(x) for x in M.row(i)] for i in range(M.rows)], M.shape, F)
    bd = DomainMatrix([[F.from_sympy(x)] for x in rhs], rhs.shape, F)
    try:
        x = Md.lu_solve(bd).to_Matrix()
    except Exception as exc:
        raise GraphValueError("exact: the second-moment map has eigenvalue 1 on the bounded learners; "
                              "no stationary risk exists") from exc
    C = sp.zeros(n, n)
    for r, (i, j) in enumerate(pairs):
        C[i, j] = C[j, i] = x[r]
    return C


def derive_theorem(graph: InteractionGraph, theory: str = "exact") -> Theorem:
    r"""Derive every object of the theorem for ``graph``.

    Parameters
    ----------
    graph : InteractionGraph
        Exact parameters (rationals or sympy symbols, e.g. from :func:`graphcollapse.theory.symbols.apply_symbols`).
    theory : {"exact", "large-sample", "default"}
        ``"default"`` is the exact theory (:func:`graphcollapse.theory.modes.resolve_theory`).

    Returns
    -------
    Theorem

    Raises
    ------
    GraphValueError
        On an unknown theory.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.symbols import apply_symbols
    >>> G = apply_symbols(self_training(real_samples=10, samples=30, dimension=2),
    ...                   ["m=L0.real_samples", "n=L0->L0.samples"])
    >>> th = derive_theorem(G, "large-sample")
    >>> th.collapses
    (Eq(m, 0),)
    >>> th.stationary_risks["L0"]
    2*(m + n)/(m*(m + 2*n))
    """
    theory = resolve_theory(theory)
    cond = collapse_condition(graph)
    collapses = tuple(sp.simplify(c) if isinstance(c, sp.Basic) else c for c in cond.collapses)
    pos_graph, made_positive = _positive_counts(graph)
    assumptions: list[str] = []
    if made_positive:
        assumptions.append(", ".join(sp.latex(s) for s in made_positive) + r" > 0 \text{ (for the risks and rates)}")
    pcond = collapse_condition(pos_graph)
    pcond.require_decided()
    B = [k for k, c in enumerate(pcond.collapses) if not c]
    if theory == "exact" and not graph.is_symbolic:
        from .exact import exact_analysis

        ea = exact_analysis(graph)
        collapses = tuple(ea.learners[n].collapses for n in graph.names)
        B = [k for k, c in enumerate(collapses) if not c]
    W = graph.mixing_matrix
    simplify = sp.factor if graph.is_symbolic else (lambda e: e)
    contraction: dict[str, sp.Basic] = {}
    if theory == "large-sample":
        Dv = large_sample_noise_variance(graph)
        C0 = large_sample_initial_covariance(graph)
        gam = None
        Dp = large_sample_noise_variance(pos_graph)
        Cb = (solve_lyapunov_exact(pos_graph.mixing_matrix.extract(B, B), sp.diag(*[Dp[k] for k in B]),
                                   components=graph.structure.components_within(B)) if B else sp.zeros(0, 0))
    else:
        gam, Dv, C0 = _exact_parts(graph)
        gam_p, Dp, _ = _exact_parts(pos_graph)
        S = graph.structure
        singletons = {int(S.members(c)[0]) for c in range(S.num_components) if S.component_sizes[c] == 1}
        for k, name in enumerate(graph.names):
            w = W[k, k]
            if w != 0 and k in singletons:  # a one-learner component with a self-loop
                contraction[name] = sp.Lt(sp.factor(w**2 + gam[k] * (w - w**2)), 1)
        if graph.is_symbolic:  # the exact verdict as conditions on the symbols
            from .exact import exact_collapse_conditions

            exact_c, contracts = exact_collapse_conditions(graph)
            collapses = tuple(exact_c[n] for n in graph.names)
            for members, cond in contracts.items():
                if len(members) > 1:
                    contraction[", ".join(members)] = cond
        Cb = _exact_stationary(pos_graph, B, gam_p, Dp) if B else sp.zeros(0, 0)
        from .exact import exact_growth_rates

        exact_rates = exact_growth_rates(graph)
        assumptions.append(r"N_k > d + 1 \text{ and } n^0_k > d + 1 \text{ for every learner } k")
        assumptions.append(r"\text{the stationary risks hold where the learner does not collapse}")
        if exact_rates:
            assumptions.append(r"\text{the growth rates hold where no ancestor component has } \rho(\mathcal{L}_A) > 1 "
                               r"\text{ (every } N_k \ge 2d + 1 \text{ suffices)}")
    risks = {graph.names[k]: simplify(Cb[i, i]) for i, k in enumerate(B)}
    rates: dict[str, sp.Expr] = {}
    if theory == "large-sample" and len(B) < graph.num_learners:
        rates = {pos_graph.names[k]: v for k, v in growth_rates(pos_graph, pcond).items()}
    elif theory == "exact":
        rates = exact_rates
    return Theorem(graph, theory, W, tuple(Dv), C0, gam, collapses, contraction, risks, rates, assumptions)


def derive_risk_closed_form(graph: InteractionGraph, t: sp.Symbol | None = None) -> tuple[sp.Expr, ...]:
    r"""Closed forms in :math:`t` of the large-sample risks :math:`R_k^{(t)}` when :math:`W`
    is diagonalisable with explicit eigenvalues.

    With :math:`W = P\Lambda P^{-1}`, :math:`\hat C = P^{-1} C^{(0)} P^{-\top}` and
    :math:`\hat D = P^{-1} D P^{-\top}`,
    :math:`C^{(t)} = P M^{(t)} P^\top` where
    :math:`M^{(t)}_{ij} = (\lambda_i\lambda_j)^t \hat C_{ij} + \hat D_{ij}\,\frac{1 - (\lambda_i\lambda_j)^t}{1-\lambda_i\lambda_j}`
    (:math:`t\,\hat D_{ij}` when :math:`\lambda_i\lambda_j = 1`).

    Parameters
    ----------
    graph : InteractionGraph
    t : sympy.Symbol, optional
        The generation symbol (default ``t``, nonnegative integer).

    Returns
    -------
    tuple of sympy.Expr
        :math:`R_k^{(t)}` per learner.

    Raises
    ------
    NoClosedFormError
        If :math:`W` is not diagonalisable or its eigenvalues have no explicit form.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> derive_risk_closed_form(self_training(real_samples=10, samples=30, initial_samples=20, dimension=2))
    (4/35 - 9**t/(70*2**(4*t)),)
    """
    t = sp.Symbol("t", integer=True, nonnegative=True) if t is None else t
    W = graph.mixing_matrix
    K = W.shape[0]
    try:
        if not W.is_diagonalizable():
            raise NoClosedFormError("risk closed form: W is not diagonalisable; use the recursion (predict) instead")
        P, Lam = W.diagonalize()
    except NoClosedFormError:
        raise
    except Exception as exc:
        raise NoClosedFormError("risk closed form: the eigenvalues of W have no explicit form; use the recursion") from exc
    if any(isinstance(x, sp.CRootOf) for x in Lam.atoms(sp.CRootOf)):
        raise NoClosedFormError("risk closed form: the eigenvalues of W have no explicit form; use the recursion")
    Pinv = P.inv()
    D = sp.diag(*large_sample_noise_variance(graph))
    C0 = large_sample_initial_covariance(graph)
    Ch = Pinv * C0 * Pinv.T
    Dh = Pinv * D * Pinv.T
    lam = [Lam[i, i] for i in range(K)]
    M = sp.zeros(K, K)
    for i in range(K):
        for j in range(K):
            q = sp.simplify(lam[i] * lam[j])
            geo = t if q == 1 else (1 - q**t) / (1 - q)
            M[i, j] = q**t * Ch[i, j] + Dh[i, j] * geo
    C = P * M * P.T
    return tuple(sp.simplify(C[k, k]) for k in range(K))
