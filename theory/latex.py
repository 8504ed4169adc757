r"""LaTeX (and notebook HTML) printing of the objects :mod:`graphcollapse.theory.theorem` derives.

This module only prints: :func:`theorem_latex` renders a
:class:`~graphcollapse.theory.theorem.Theorem`, :func:`family_latex` a family's closed forms,
:func:`tex` any sympy object. Nothing is derived here: the theorem's named sub-expressions,
its component conditions and their integrality split are data of the theorem.

Notation
--------
:class:`NaturalLatexPrinter` writes as a mathematician does: juxtaposition for products
(``5 m^{2} n``, ``d \sigma^{2}``), ``\cdot`` only between two numerals, powers with a
common symbolic exponent gathered into one fraction
(``\left(\frac{n}{m + n}\right)^{2 k}`` rather than ``n^{2 k} \left(m + n\right)^{- 2 k}``).
A theorem is prose with formulas (never prose inside ``\text{}``), in ``amsthm``
environments (:data:`PREAMBLE`), preceded by a legend of its symbols.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .graph import _as_sympy

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import Analysis, Prediction
    from .theorem import ComponentCondition, Theorem

__all__ = [
    "PREAMBLE",
    "NaturalLatexPrinter",
    "tex",
    "analysis_latex",
    "analysis_html",
    "prediction_latex",
    "prediction_html",
    "theorem_latex",
    "theorem_html",
    "theorem_notebook_latex",
    "document_latex",
    "family_latex",
    "learner_latex",
]

#: What a document needs for :func:`theorem_latex` (standard LaTeX packages only).
PREAMBLE = "\n".join([
    r"\usepackage{amsmath,amssymb,amsthm}",
    r"\newtheorem{theorem}{Theorem}",
])


#: The design correction gamma(N, d) of :func:`graphcollapse.theory.exact.design_correction`
#: as written in the legend, inline with a slash so that a line may break inside it (a
#: test parses it back and compares).
GAMMA_LATEX = r"((d + 1) N^{2} - (d + 5) N + 2 (d + 1)) / ((N - d - 1) (N - 1) (N + 2))"


class NaturalLatexPrinter(LatexPrinter):
    r"""``sympy``'s LaTeX printer with the notation of a paper.

    Products are juxtaposed (``\cdot`` only between numerals, sympy's own rule), and a
    product of powers sharing a symbolic exponent is printed as one power of a fraction.

    Examples
    --------
    >>> import sympy as sp
    >>> m, n, k = sp.symbols("m n k", positive=True)
    >>> NaturalLatexPrinter().doprint(5 * m**2 * n)
    '5 m^{2} n'
    >>> NaturalLatexPrinter().doprint(n**(2 * k) * (m + n)**(-2 * k))
    '\\left(\\frac{n}{m + n}\\right)^{2 k}'
    >>> NaturalLatexPrinter().doprint(sp.Integer(9)**k / (70 * sp.Integer(2)**(4 * k)))
    '\\frac{1}{70} \\left(\\frac{9}{16}\\right)^{k}'
    """

    def _print_Mul(self, expr: sp.Mul) -> str:
        groups: dict[sp.Expr, list[tuple[sp.Expr, sp.Expr]]] = {}
        rest = []
        powers = []  # (a/b)^{k} with a symbolic k: printed after the other factors
        for f in expr.args:
            b, e = f.as_base_exp()
            if not e.is_number and f.is_Pow and sp.fraction(b)[1] != 1:
                powers.append(r"\left(" + self._print(b) + r"\right)^{" + self._print(e) + "}")
            elif not e.is_number:
                c, s = e.as_coeff_Mul()
                groups.setdefault(s, []).append((b, c))
            else:
                rest.append(f)
        joint = {s: g for s, g in groups.items() if len(g) > 1 and all(c.is_Rational for _, c in g)}
        if powers and not joint:
            coeff = sp.Mul(*rest, *[b ** (c * s) for s, g in groups.items() for b, c in g])
            head = "" if coeff == 1 else "- " if coeff == -1 else self._print(coeff) + " "
            if coeff.is_Add:
                head = r"\left(" + self._print(coeff) + r"\right) "
            return head + " ".join(powers)
        if not joint:
            if any(c.is_negative for g in groups.values() for _, c in g):
                # b^{-2k} goes to the denominator, as for numeric exponents
                num, den = sp.fraction(expr)
                if den != 1:
                    if num.could_extract_minus_sign():
                        return r"- \frac{" + self._print(-num) + "}{" + self._print(den) + "}"
                    return r"\frac{" + self._print(num) + "}{" + self._print(den) + "}"
            return super()._print_Mul(expr)
        pieces = list(powers)
        for s, g in groups.items():
            if s not in joint:
                rest += [b ** (c * s) for b, c in g]
                continue
            unit = sp.gcd_list([abs(c) for _, c in g])
            base = sp.Mul(*[b ** (c / unit) for b, c in g])
            pieces.append(r"\left(" + self._print(base) + r"\right)^{" + self._print(unit * s) + "}")
        coeff = sp.Mul(*rest)
        head = "" if coeff == 1 else "- " if coeff == -1 else self._print(coeff) + " "
        if coeff.is_Add:
            head = r"\left(" + self._print(coeff) + r"\right) "
        return head + " ".join(pieces)


def tex(obj: Any, **settings: Any) -> str:
    r"""LaTeX of a sympy object in natural notation (:class:`NaturalLatexPrinter`).

    Examples
    --------
    >>> import sympy as sp
    >>> m, n = sp.symbols("m n")
    >>> tex(2 / (m * (m + n)))
    '\\frac{2}{m \\left(m + n\\right)}'
    >>> tex(5 * m**2 * n)
    '5 m^{2} n'
    """
    return NaturalLatexPrinter(settings).doprint(obj)


def learner_latex(name: str) -> str:
    r"""The LaTeX label of a learner: ``\mathrm{name}`` with underscores escaped.

    Examples
    --------
    >>> learner_latex("L_0")
    '\\mathrm{L\\_0}'
    """
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def _names(names: Any) -> str:
    """``A``, ``A and B``, ``A, B and C`` (each a learner label in math)."""
    items = [f"${learner_latex(n)}$" for n in names]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _labels(labels: list[str]) -> str:
    items = [f"({x})" for x in labels]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _top_level_splits(s: str) -> list[int]:
    """Positions of `` + `` / `` - `` at brace and ``\\left``/``\\right`` depth 0."""
    out, depth, i = [], 0, 0
    while i < len(s):
        if s.startswith(r"\left", i):
            depth += 1
            i += 5
            continue
        if s.startswith(r"\right", i):
            depth -= 1
            i += 6
            continue
        ch = s[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch in "+-" and i > 1 and s[i - 1] == " " and s[i + 1: i + 2] == " ":
            out.append(i)
        i += 1
    return out


def _broken(s: str, width: int = 90) -> list[str]:
    """A long sum cut into lines of about ``width`` characters at its top-level signs."""
    lines, start, last = [], 0, 0
    for p in _top_level_splits(s):
        if p - start > width and last > start:
            lines.append(s[start:last].rstrip())
            start = last
        last = p
    if len(s) - start > width and last > start:
        lines.append(s[start:last].rstrip())
        start = last
    lines.append(s[start:].strip())
    return lines


# --------------------------------------------------------------------------- theorem blocks
# A theorem is printed from a list of blocks, rendered by theorem_latex (LaTeX) and
# theorem_html (notebooks): ("par", text) prose with $...$ formulas; ("display", latex, tag)
# a displayed formula (tag: an equation label or None); ("lines", [latex, ...]) a long
# formula broken over lines; ("items", [[block, ...], ...]) an enumeration.


def _condition_tex(cond: Any) -> str:
    """A Boolean condition, its conjunctions and disjunctions in words between formulas."""
    if cond is True or cond == sp.true:
        return "always"
    if cond is False or cond == sp.false:
        return "never"
    if isinstance(cond, sp.And):
        return " and ".join(_condition_tex(a) if isinstance(a, sp.Or) else f"${tex(a)}$" for a in cond.args)
    if isinstance(cond, sp.Or):
        return " or ".join(f"${tex(a)}$" for a in cond.args)
    return f"${tex(cond)}$"


def _tuple_tex(values: tuple[int, ...]) -> str:
    return values[0].__str__() if len(values) == 1 else "(" + ", ".join(map(str, values)) + ")"


def _component_blocks(th: Theorem, c: ComponentCondition) -> list[tuple]:
    members = r"\{" + ", ".join(learner_latex(n) for n in c.members) + r"\}"
    what = ("its exact second-moment map has spectral radius below 1" if th.theory == "exact"
            else r"$\rho(W_{AA}) < 1$ on it")
    blocks: list[tuple] = []
    if c.stable == sp.false:
        radius = ("its exact second-moment map has spectral radius at least $1$" if th.theory == "exact"
                  else r"$\rho(W_{AA}) = 1$ on it")
        why = ("it receives neither real data nor data from outside, so " if c.topological == sp.false
               else "at every value of the symbols ")
        return [("par", f"The component ${members}$ is never stable: {why}{radius}.")]
    lead = f"The component ${members}$ is stable, that is {what}, if and only if"
    if not c.reduced:
        shown = th.display.get(c.label, c.stable)
        if isinstance(shown, sp.And):
            lead += f" the following conditions ({c.label}) hold:"
            blocks.append(("par", lead))
            blocks.append(("display", r",\qquad ".join(tex(a) for a in shown.args), c.label))
        else:
            blocks.append(("par", lead))
            blocks.append(("display", tex(shown), c.label))
        return blocks
    syms = "(" + ", ".join(tex(s) for s in c.symbols) + ")" if len(c.symbols) > 1 else tex(c.symbols[0])
    parts = [] if c.topological == sp.true else [tex(c.topological)]
    if c.exceptions:
        parts.append(syms + r" \notin \{" + ", ".join(_tuple_tex(e) for e in c.exceptions) + r"\}")
    for i, (key, _) in enumerate(c.slices):
        parts.append(r"(\text{" + f"{c.label}.{i + 1}" + r"})")
    blocks.append(("par", lead))
    blocks.append(("display", r" \quad\text{and}\quad ".join(parts) if parts else r"\text{always}", c.label))
    where = "every $N_k \\geq 2d + 1$ in the component"
    if c.regime != sp.true:
        where += f" (here ${tex(c.regime)}$)"
    explain = (f"Where {where} this is the topological condition "
               + ("(the component receives data from outside)" if c.topological == sp.true
                  else f"${tex(c.topological)}$")
               + "; the exact verdict is topological there. ")
    if c.exceptions:
        explain += (f"The listed values of ${syms}$ are every integer point outside that region "
                    "(with $N_k > d + 1$) at which the component is nevertheless unstable. ")
    elif not c.slices:
        explain += ("At every integer point outside that region (with $N_k > d + 1$) the exact verdict "
                    "is the topological one as well. ")
    blocks.append(("par", explain.rstrip()))
    for i, (key, _) in enumerate(c.slices):
        at = ", ".join(f"{tex(s)} = {v}" for s, v in key)
        cond = th.display.get(f"{c.label}.{i}", c.slices[i][1])
        blocks.append(("par", f"({c.label}.{i + 1}) where ${at}$: {_condition_tex(cond)}."))
    return blocks


def _matrix_tex(M: sp.Matrix) -> str:
    if M.is_diagonal() and M.rows > 1:
        return r"\operatorname{diag}\left(" + ", ".join(tex(M[i, i]) for i in range(M.rows)) + r"\right)"
    return tex(M)


def _setting_sentence(g: Any) -> str:
    """Learners, edges, dimension and noise variance: the first sentence of every setting."""
    edges = ", ".join(f"${learner_latex(s)} \\to {learner_latex(t)}$" for s, t, _ in g.edges) or "none"
    return (f"Learners {_names(g.names)}; edges (data flow) {edges}; dimension "
            f"$d = {tex(_as_sympy(g.dimension))}$; noise variance of the real labels "
            f"$\\sigma^2 = {tex(_as_sympy(g.noise_variance))}$.")


def _theorem_blocks(th: Theorem) -> tuple[str, list[tuple], list[tuple]]:
    """(title, notation blocks, theorem blocks)."""
    if th.regime is not None:
        return _regime_theorem_blocks(th)
    g = th.graph
    exact = th.theory == "exact"
    title = f"{'Exact' if exact else 'Large-sample'} model collapse on a {g.num_learners}-learner graph"
    # ---- setting and legend (prose, before the theorem)
    setting = _setting_sentence(g)
    if th.setting:
        setting += " " + th.setting
    notation: list[tuple] = [("par", r"\paragraph{Setting.} " + setting)]
    legend = [f"${tex(s)}$: " + " and ".join(_field_text(f) for f in fields) for s, fields in th.legend]
    defs = [(s, f) for s, f in th.definitions.items() if not str(s).startswith("P_")]
    for s, f in defs:
        owners = [n for n, N in zip(g.names, g.total_samples) if sp.expand(_as_sympy(N) - f) == 0]
        what = ""
        if str(s).startswith("N_") and owners:
            what = (": the samples per generation of learner" + ("s " if len(owners) > 1 else " ") + _names(owners))
        legend.append(f"${tex(s)} = {tex(f)}$" + what)
    legend.append("$N_k$: the samples per generation of learner $k$, $W_{kj} = n_{jk}/N_k$ the share of them "
                  "produced by learner $j$, $R_k^{(t)}$ its excess risk at generation $t$; learner $k$ "
                  "collapses when $\\sup_t R_k^{(t)} = \\infty$")
    if exact:
        legend.append(r"$\gamma_k = \gamma(N_k, d)$ with $\gamma(N, d) = " + GAMMA_LATEX
                      + r"$: the design correction of learner $k$; $D_k = d(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)"
                      r"/(N_k(N_k - d - 1))$: its one-generation noise variance")
    else:
        legend.append(r"$D_k = d(m_k\sigma^2 + \sum_j n_{jk}\sigma_j^2)/N_k^2$: the one-generation noise variance")
    notation.append(("par", r"\paragraph{Notation.} " + "; ".join(legend) + "."))
    # ---- the theorem
    body: list[tuple] = []
    if exact:
        body.append(("par", "Suppose $N_k > d + 1$ and $n^0_k > d + 1$ for every learner $k$. "
                            "The risks $R_k^{(t)} = C^{(t)}_{kk}$ follow exactly the recursion"))
        body.append(("display", r"C^{(t)} = W C^{(t-1)} W^\top + \operatorname{diag}_k\Big(\gamma_k \big(\textstyle"
                                r"\sum_j W_{kj} C^{(t-1)}_{jj} - (W C^{(t-1)} W^\top)_{kk}\big)\Big) + D", None))
    else:
        body.append(("par", "The risks $R_k^{(t)} = C^{(t)}_{kk}$ follow, up to $o(1/n)$, the recursion"))
        body.append(("display", r"C^{(t)} = W C^{(t-1)} W^\top + D", None))
    body.append(("par", "with"))
    W = th.display.get("W", th.W)
    body.append(("display", r"W = " + tex(W) + r", \qquad C^{(0)} = " + _matrix_tex(th.initial_covariance), None))
    names = list(g.names)
    if th.design_corrections is not None:
        body.append(("gather", _equal_groups(r"\gamma_{%s}", names, th.display.get("gamma", th.design_corrections))))
    body.append(("gather", _equal_groups(r"D_{%s}", names, th.display.get("D", th.noise_variance), end=".")))
    items: list[list[tuple]] = []
    symbolic = g.is_symbolic
    if symbolic:
        for c in th.components:
            if c.stable == sp.true:  # stable at every value: nothing to state
                continue
            items.append(_component_blocks(th, c))
    items.append([("par", _verdict_sentence(th))])
    if th.stationary_risks:
        lead = ("Where they do not collapse, the bounded learners" if symbolic else "The bounded learners")
        risks = _equal_groups(r"R_{%s}^{(\infty)}", list(th.stationary_risks),
                              [th.display.get(f"R[{n}]", v) for n, v in th.stationary_risks.items()], end=".")
        items.append([("par", lead + " converge to the stationary risks"), ("gather", risks)])
    if th.growth_rates:
        cond = (" where no ancestor component has radius above $1$ (every $N_k \\geq 2d + 1$ suffices)"
                if exact else "")
        rates = _equal_groups(r"\lim_{t\to\infty} R_{%s}^{(t)}/t", list(th.growth_rates),
                              [th.display.get(f"r[{n}]", v) for n, v in th.growth_rates.items()], end=".")
        items.append([("par", "The collapsing learners grow linearly" + cond + ":"), ("gather", rates)])
    factors = [(s, f) for s, f in th.definitions.items() if str(s).startswith("P_")]
    if factors:
        items.append([("par", "Here")] + [("lines", _broken(f"{tex(s)} = {tex(f)}")) for s, f in factors])
    body.append(("items", items))
    return title, notation, body


def _equal_groups(pattern: str, names: list[str], values: Any, end: str = ",", width: int = 110) -> list[str]:
    """``X_{A} = X_{B} = v`` once per distinct value, packed into lines of about ``width``
    characters of LaTeX (a long formula alone on its line)."""
    groups: dict[str, list[str]] = {}
    for n, v in zip(names, values):
        groups.setdefault(tex(v), []).append(n)
    items = [" = ".join(pattern % learner_latex(n) for n in ns) + " = " + v for v, ns in groups.items()]
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(item) < width:
            lines[-1] += r", \qquad " + item
        else:
            lines.append(item)
    return [line + ("," if i < len(lines) - 1 else end) for i, line in enumerate(lines)]


def _field_text(f: tuple[str, ...]) -> str:
    if f[0] == "real_samples":
        return f"the fresh real samples per generation of learner ${learner_latex(f[1])}$"
    if f[0] == "initial_samples":
        return f"the real samples of learner ${learner_latex(f[1])}$ at generation $0$"
    if f[0] == "samples":
        return f"the synthetic samples per generation on the edge ${learner_latex(f[1])} \\to {learner_latex(f[2])}$"
    if f[0] == "real_weight":
        return f"the loss weight $w_{{{learner_latex(f[1])}}}$ of the real samples of learner ${learner_latex(f[1])}$"
    if f[0] == "weight":
        return (f"the loss weight $u_{{{learner_latex(f[1])} {learner_latex(f[2])}}}$ of the samples on the edge "
                f"${learner_latex(f[1])} \\to {learner_latex(f[2])}$")
    return {"dimension": "the dimension of the covariates",
            "noise_variance": "the noise variance of the real labels"}.get(f[0], f[0])


def _verdict_sentence(th: Theorem) -> str:
    g = th.graph
    if g.is_symbolic:
        comp_of = {n: c for c in th.components for n in c.members}
        from .theorem import _ancestors  # structure only, no derivation

        groups: dict[tuple[str, ...], list[str]] = {}
        never: list[str] = []
        always: list[str] = []
        for k, anc in enumerate(_ancestors(g)):
            if any(comp_of[g.names[j]].stable == sp.false for j in anc):
                always.append(g.names[k])
                continue
            labels = sorted({comp_of[g.names[j]].label for j in anc if comp_of[g.names[j]].stable != sp.true},
                            key=lambda x: int(x[1:]))
            if not labels:
                never.append(g.names[k])
            else:
                groups.setdefault(tuple(labels), []).append(g.names[k])
        parts = []
        if always:
            parts.append(f"{_names(always)} {'collapses' if len(always) == 1 else 'collapse'}")
        for labels, names in groups.items():
            who = _names(names) if len(names) == 1 else "each of " + _names(names)
            parts.append(f"{who} collapses if and only if {_labels(list(labels))} fails")
        if never:
            parts.append(f"{_names(never)} {'stays' if len(never) == 1 else 'stay'} bounded")
        text = "; ".join(parts) + "."
        return text[0].upper() + text[1:]
    collapsing = [n for n, c in zip(g.names, th.collapses) if c is True or c == sp.true]
    bounded = [n for n in g.names if n not in collapsing]
    parts = []
    if collapsing:
        parts.append(f"{_names(collapsing)} {'collapses' if len(collapsing) == 1 else 'collapse'}")
    if bounded:
        parts.append(f"{_names(bounded)} {'stays' if len(bounded) == 1 else 'stay'} bounded")
    return "; ".join(parts) + "."


# --------------------------------------------------------------------------- regime theorems
_POLICY_WORDS = {  # (singular, plural)
    "replace": ("replaces its training set every generation", "replace their training sets every generation"),
    "accumulate": ("accumulates every batch it has seen into a pool and trains on the whole pool",
                   "accumulate every batch they have seen into a pool and train on the whole pool"),
    "accumulate-subsample": ("trains on $N_k$ samples drawn without replacement from its pool of every batch "
                             "it has seen", "train on $N_k$ samples drawn without replacement from their pools "
                                            "of every batch they have seen"),
}


def _cite(where: str) -> str:
    r"""A citation of ``docs/regimes.md``: ``_cite(r"\S3.2")`` is ``(docs/regimes.md, \S3.2)``."""
    return r"(docs/\allowbreak regimes.md, " + where + ")"


_C_THM2 = _cite(r"Theorem 2, \S4")
_C_32 = _cite(r"\S3.2")
_C_33 = _cite(r"\S3.3")
_C_CLAIM3 = _cite(r"Claim 3 of \S3.3 and \S5")
_C_THM4 = _cite(r"Theorem 4, \S6.1")


def _prose(text: str) -> str:
    """Plain text (a reason string of the regime module) made safe for LaTeX prose."""
    text = text.replace("\\", "").replace("_", r"\_").replace("&", r"\&").replace("%", r"\%").replace("#", r"\#")
    return text.replace("docs/regimes.md §", r"docs/\allowbreak regimes.md, \S").replace("§", r"\S")


def _who(names: list[str], singular: str, plural: str) -> str:
    return f"{_names(names)} {singular if len(names) == 1 else plural}"


def _regime_words(th: Theorem) -> str:
    """The data regime in words (``docs/regimes.md`` §1)."""
    g, st = th.graph, th.regime
    K = g.num_learners
    parts = []
    groups = {p: [g.names[k] for k in range(K) if st.policies[k] == p] for p in _POLICY_WORDS}
    used = [p for p in _POLICY_WORDS if groups[p]]
    if len(used) == 1 and K > 1:
        parts.append("Every learner " + _POLICY_WORDS[used[0]][0])
    else:
        parts.append("; ".join(_who(groups[p], *_POLICY_WORDS[p]) for p in used))
    fixed = [g.names[k] for k in range(K) if st.real_data[k] == "fixed"]
    if fixed:
        parts.append(_who(fixed, "reuses one real dataset of $m_k$ samples, drawn once (fixed real data)",
                          "reuse one real dataset of $m_k$ samples each, drawn once (fixed real data)")
                     + ("" if len(fixed) == K else "; the others get fresh real samples every generation"))
    else:
        parts.append("real samples are fresh every generation")
    design = [g.names[k] for k in range(K) if st.design[k] == "fixed"]
    if design:
        parts.append(_who(design, "reuses", "reuse") + " one design of $N_k$ covariate rows drawn once "
                     "(fixed design: generation $0$ labels every row, later batches relabel them)"
                     + ("" if len(design) == K else "; the others draw fresh covariates for every sample"))
    weights = [f"$w_{{{learner_latex(n)}}} = {tex(w)}$" for n, w in zip(g.names, st.real_weight) if w != 1]
    weights += [f"$u_{{{learner_latex(s)} {learner_latex(t)}}} = {tex(u)}$"
                for (s, t, _), u in zip(g.edges, st.edge_weights) if u != 1]
    if weights:
        parts.append("loss weights " + ", ".join(weights) + ", every other loss weight is $1$")
    else:
        parts.append("every loss weight is $1$")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + " " + _cite(r"\S1") + "."


def _coefficient_tex(c: Any) -> str:
    """A coefficient written before a sum (``\\frac{2}{9} ``, ``\\left(a + b\\right) ``)."""
    if c == 1:
        return ""
    body = tex(c)
    return (r"\left(" + body + r"\right) " if isinstance(c, sp.Add) else body + " ")


def _regime_component_blocks(c: ComponentCondition, display: Any) -> list[tuple]:
    members = r"\{" + ", ".join(learner_latex(n) for n in c.members) + r"\}"
    if c.stable == sp.false:
        return [("par", f"The source component ${members}$ has no real data and every learner in it replaces, "
                        f"so it feeds collapse {_C_THM2}.")]
    shown = display.get(c.label, c.stable)
    return [("par", f"The source component ${members}$, in which every learner replaces, is harmless, that is "
                    f"it has real data {_C_THM2}, if and only if"),
            ("display", tex(shown), c.label)]


def _theorem4_blocks(one: Any) -> list[tuple]:
    """The exact risk and digamma limit of an own-output accumulator with a fresh design
    (``docs/regimes.md`` §6.1, Theorem 4)."""
    n = learner_latex(one.name)
    c, a, b = one.digamma
    risk = f"{tex(one.initial)} + {_coefficient_tex(one.coefficient)}{tex(one.series)}"
    limit = (rf"{tex(one.initial)} + {_coefficient_tex(c)}\left(\psi\left({tex(a)}\right) - "
             rf"\psi\left({tex(b)}\right)\right)")
    if not one.limit.free_symbols:
        limit += rf" \approx {sp.N(one.limit, 6)}"
    return [("par", f"The risk of ${n}$, which has a fresh design, accumulates its own outputs only and weighs "
                    f"them like its generation-$0$ samples, is exactly, at every generation $t$ {_C_THM4},"),
            ("display", f"R_{{{n}}}^{{(t)}} = {risk}".replace("+ - ", "- "), None),
            ("par", rf"(the terms are $N_{{{n}}}/(n_s(n_s - d - 1))$ with $n_s = n^0_{{{n}}} + sN_{{{n}}}$ the "
                    r"size of its pool at generation $s$), and it increases to"),
            ("display", rf"R_{{{n}}}^{{(\infty)}} = {limit}".replace("+ - ", "- "), None),
            ("par", r"where $\psi$ is the digamma function: the terms telescope, "
                    rf"$N_{{{n}}}/(n_s(n_s - d - 1)) = \frac{{N_{{{n}}}}}{{d + 1}}"
                    r"\bigl(1/(n_s - d - 1) - 1/n_s\bigr)$.")]


def _regime_theorem_blocks(th: Theorem) -> tuple[str, list[tuple], list[tuple]]:
    """(title, notation blocks, theorem blocks) of a theorem under a data regime."""
    g, st = th.graph, th.regime
    exact = st.theory == "exact"
    title = f"{'Exact' if exact else 'Large-sample'} model collapse under a data regime"
    setting = _setting_sentence(g)
    notation: list[tuple] = [("par", r"\paragraph{Setting.} " + setting),
                             ("par", r"\paragraph{Data regime.} " + _regime_words(th))]
    legend = [f"${tex(s)}$: " + " and ".join(_field_text(f) for f in fields) for s, fields in th.legend]
    for s, f in [(s, f) for s, f in th.definitions.items() if not str(s).startswith("P_")]:
        owners = [n for n, N in zip(g.names, g.total_samples) if sp.expand(_as_sympy(N) - f) == 0]
        what = ""
        if str(s).startswith("N_") and owners:
            what = (": the samples per generation of learner" + ("s " if len(owners) > 1 else " ") + _names(owners))
        legend.append(f"${tex(s)} = {tex(f)}$" + what)
    legend.append(r"$w_k$ and $u_{jk}$: the loss weights of learner $k$'s real samples and of the samples of "
                  r"the edge $j \to k$; $\Omega_k = w_k m_k + \sum_j u_{jk} n_{jk}$; "
                  r"$\tilde W_{kj} = u_{jk} n_{jk}/\Omega_k$ and $\tilde\alpha_k = w_k m_k/\Omega_k$ the weighted "
                  r"shares of learner $j$'s samples and of the real samples; $R_k^{(t)}$ the excess risk of "
                  r"learner $k$ at generation $t$; learner $k$ collapses when $\sup_t R_k^{(t)} = \infty$")
    if exact:
        legend.append(r"$D_k = d\sigma_{\mathrm{src}}^2/(N_k - d - 1)$ with $\sigma_{\mathrm{src}}^2$ the label "
                      r"noise of learner $k$'s single source: its exact one-batch noise variance, and "
                      r"$R_k^{(0)} = d\sigma^2/(n^0_k - d - 1)$ " + _cite(r"Theorem 3, \S6"))
    else:
        legend.append(r"$\tilde D_k = (w_k^2 m_k d\sigma^2 + \sum_j u_{jk}^2 n_{jk} d\sigma_j^2)/\Omega_k^2$: "
                      r"the noise variance of one weighted fit, and $R_k^{(0)} = d\sigma^2/n^0_k$ " + _cite(r"\S3.1"))
    notation.append(("par", r"\paragraph{Notation.} " + "; ".join(legend) + "."))
    Dname = "D" if exact else r"\tilde D"
    body: list[tuple] = []
    if st.theory != st.requested:
        exact_ones = [one.name for one in st.self_accumulating if one.theorem4]
        but = ("" if not exact_ones else " Only the risk" + ("" if len(exact_ones) == 1 else "s") + " of "
               + _names(exact_ones) + (" is" if len(exact_ones) == 1 else " are")
               + r" exact, by Theorem 4 of \S6.1 (below).")
        body.append(("par", "The statements are large-sample ones: " + _prose(st.reason) + "." + but))
    how = ("exactly " + _cite(r"Theorem 3, \S6") + " the recursion" if exact
           else r"up to $o(1/n)$, the recursion")
    W = th.display.get("W", th.W)
    if st.recursion == "replace":
        body.append(("par", f"The risks $R_k^{{(t)}} = C^{{(t)}}_{{kk}}$ follow, {how} {_C_32}"))
        body.append(("display", r"C^{(t)} = \tilde W C^{(t-1)} \tilde W^\top + \operatorname{diag}(" + Dname + ")",
                     None))
    elif st.recursion == "replace-fixed":
        body.append(("par", f"The risks $R_k^{{(t)}} = C^{{(t)}}_{{kk}}$ follow, {how} for fixed real datasets "
                            f"{_C_32}, with $X^{{(0)}} = 0$"))
        body.append(("lines", [r"X^{(t)} = \tilde W X^{(t-1)} + F \Xi,",
                               r"C^{(t)} = \tilde W C^{(t-1)} \tilde W^\top + \tilde W X^{(t-1)} F + "
                               r"F X^{(t-1)\top} \tilde W^\top + F \Xi F + \operatorname{diag}(q)"]))
    else:
        body.append(("par", f"The risks $R_k^{{(t)}}$ follow, {how} of pools {_C_33}: an accumulating "
                            r"learner $k$ fits its whole pool, in which the newest batch has the weight "
                            r"$\Omega_k/(w_k n^0_k + t\Omega_k)$ at generation $t$ (with fresh real data), a "
                            r"subsampling learner fits $N_k$ samples of its pool (an extra noise, Claim 2) and a "
                            r"replacing learner fits its newest batch alone; they are built from"))
    if st.recursion != "pool":
        body.append(("par", "with"))
    body.append(("display", r"\tilde W = " + tex(W) + r", \qquad C^{(0)} = " + _matrix_tex(th.initial_covariance),
                 None))
    names = list(g.names)
    body.append(("gather", _equal_groups(Dname + r"_{%s}", names, th.display.get("D", th.noise_variance),
                                         end="," if st.recursion == "replace-fixed" else ".")))
    if st.recursion == "replace-fixed":
        fixed = [k for k, f in enumerate(st.fixed_share) if f != 0]
        body.append(("par", r"where $q_k$ is $" + Dname + r"_k$ without its real term for the learners with a "
                            r"fixed dataset ($" + Dname + r"_k$ for the others), $F = \operatorname{diag}(f_k)$ "
                            r"with $f_k = \tilde\alpha_k$ for them and $0$ otherwise, and "
                            r"$\Xi = \operatorname{diag}(d\sigma^2/m_k)$:"))
        body.append(("gather", _equal_groups(r"q_{%s}", [names[k] for k in fixed], [st.batch_noise[k] for k in fixed])
                     + _equal_groups(r"f_{%s}", [names[k] for k in fixed], [st.fixed_share[k] for k in fixed])
                     + _equal_groups(r"\Xi_{%s}", [names[k] for k in fixed], [st.fixed_variance[k] for k in fixed],
                                     end=".")))
    items: list[list[tuple]] = []
    for c in th.components:
        if c.stable != sp.true and (g.is_symbolic or c.stable == sp.false):
            items.append(_regime_component_blocks(c, th.display))
    verdict = _verdict_sentence(th)
    why = ("A learner collapses if and only if it is reachable from a source component without real data in "
           "which every learner replaces; loss weights and fixed real data never change a verdict, nor does a "
           "fixed design in which every learner has one source of data " + _cite(r"Theorem 2, \S4") + ". ")
    items.append([("par", why + verdict[0].upper() + verdict[1:])])
    if th.stationary_risks:
        conditional = any(c is not True and c is not False for c in th.collapses)
        lead = "Where they do not collapse, the" if conditional else "The"
        whose = (" learners whose ancestors all replace follow the replace recursion on their ancestors; the bounded "
                 "ones among them" if st.replace_part else " bounded learners")
        risks = _equal_groups(r"R_{%s}^{(\infty)}", list(th.stationary_risks),
                              [th.display.get(f"R[{n}]", v) for n, v in th.stationary_risks.items()], end=".")
        items.append([("par", lead + whose + " converge to the stationary risks " + _cite(r"\S3.2")),
                      ("gather", risks)])
    if th.growth_rates:
        rates = _equal_groups(r"\lim_{t\to\infty} R_{%s}^{(t)}/t", list(th.growth_rates),
                              [th.display.get(f"r[{n}]", v) for n, v in th.growth_rates.items()], end=".")
        items.append([("par", "The collapsing learners" + (" whose ancestors all replace" if st.replace_part else "")
                       + " grow linearly, at the rate given by the stationary distribution of $\\tilde W$ on the "
                         "offending component " + _cite(r"\S3.2") + ":"), ("gather", rates)])
    others = [n for n, c in zip(g.names, th.collapses) if (c is True or c == sp.true) and n not in th.growth_rates]
    if others:
        items.append([("par", _who(others, "grows", "grow") + " without bound; no closed-form growth rate is "
                       "proved for it" + ("" if len(others) == 1 else " (each)") + " " + _C_THM2 + ".")])
    for one in st.self_accumulating:
        if one.theorem4:
            items.append(_theorem4_blocks(one))
            continue
        n = learner_latex(one.name)
        s_, i_ = sp.Symbol("s", integer=True, positive=True), sp.Symbol("i", integer=True, positive=True)
        series = tex(sp.Sum(1 / (one.r + s_) ** 2, (s_, 1, one.t)))
        risk = f"{tex(one.initial)} + {_coefficient_tex(one.noise)}{series}"
        if one.gerstgrasser is not None:
            risk += f" = {_coefficient_tex(one.noise)}{tex(sp.Sum(1 / i_ ** 2, (i_, 1, one.t + 1)))}"
        block = [("par", f"The risk of ${n}$ is, at every generation $t$ {_C_CLAIM3},"),
                 ("display", f"R_{{{n}}}^{{(t)}} = {risk}".replace("+ - ", "- "), None)]
        if one.gerstgrasser is not None:
            block.append(("par", "(Gerstgrasser et al. 2024, with $T = N$ design rows " + _cite(r"Corollary of \S6")
                          + "), and it increases to"))
        else:
            block.append(("par", f"with $r = w_{{{n}}} n^0_{{{n}}}/\\Omega_{{{n}}} = {tex(one.r)}$; it increases to"))
        limit = f"{tex(one.initial)} + {_coefficient_tex(one.noise)}\\psi'\\left({tex(one.r + 1)}\\right)"
        if not one.limit.has(sp.polygamma):
            limit += f" = {tex(one.limit)}"
        block.append(("display", f"R_{{{n}}}^{{(\\infty)}} = {limit}".replace("+ - ", "- "), None))
        block.append(("par", r"where $\psi'$ is the trigamma function, "
                             r"$\sum_{s \geq 1} (r + s)^{-2} = \psi'(r + 1)$."))
        items.append(block)
    if st.bound is not None:
        exact4 = [one.name for one in st.self_accumulating if one.theorem4]
        lead = ("In the large-sample theory, every " if exact4 else "Every ") + "risk stays bounded at every generation "
        tail = (":" if not exact4 else "; the bound is not one on the exact risk" + ("" if len(exact4) == 1 else "s")
                + " of " + _names(exact4) + " stated above:")
        items.append([("par", lead + _cite(r"Claim 4, \S5") + tail),
                      ("display", r"R_k^{(t)} \leq \max_j R_j^{(0)} + \frac{\pi^{2}}{6} \max_j " + Dname + "_j = "
                       + tex(st.bound), None)])
        zero = [n for n, c in st.vanishing.items() if c is True]
        conditional: dict[str, list[str]] = {}
        for n, c in st.vanishing.items():
            if c is not True and c is not False:
                conditional.setdefault(_condition_tex(c), []).append(n)
        sentences = []
        if zero:
            sentences.append(_who(zero, "has", "have") + " only source components with real data among "
                             + ("its" if len(zero) == 1 else "their") + " ancestors, so "
                             + ("its risk tends" if len(zero) == 1 else "their risks tend") + " to $0$")
        for cond, ns in conditional.items():
            sentences.append(f"where {cond}, " + ("the risk of " if len(ns) == 1 else "the risks of ") + _names(ns)
                             + (" tends" if len(ns) == 1 else " tend") + " to $0$")
        if sentences:
            text = "; ".join(sentences)
            items.append([("par", text[0].upper() + text[1:] + " " + _cite(r"Claim 4b, \S5") + ".")])
    if st.recursion_only:
        lead = "Where they stay bounded, " if any(c is not True and c is not False for c in th.collapses) else ""
        text = (lead + "no closed form is proved for the risks of " + _names(list(st.recursion_only))
                + " beyond these statements; they follow from the recursion " + _cite(r"\S3.3 and \S5") + ".")
        items.append([("par", text[0].upper() + text[1:])])
    factors = [(s, f) for s, f in th.definitions.items() if str(s).startswith("P_")]
    if factors:
        items.append([("par", "Here")] + [("lines", _broken(f"{tex(s)} = {tex(f)}")) for s, f in factors])
    body.append(("items", items))
    return title, notation, body


def _render_latex(blocks: list[tuple]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b[0] == "par":
            out.append(b[1])
        elif b[0] == "display":
            tag = rf" \tag{{{b[2]}}}" if b[2] else ""
            out.append((r"\begin{equation}" if b[2] else r"\[") + " " + b[1] + tag + " "
                       + (r"\end{equation}" if b[2] else r"\]"))
        elif b[0] == "gather":
            out.append(r"\[ " + b[1][0] + r" \]" if len(b[1]) == 1
                       else "\\begin{gather*}\n" + " \\\\\n".join(b[1]) + "\n\\end{gather*}")
        elif b[0] == "lines":
            if len(b[1]) == 1:
                out.append(r"\[ " + b[1][0] + r" \]")
            else:
                out.append("\\begin{multline*}\n" + " \\\\\n".join(b[1]) + "\n\\end{multline*}")
        elif b[0] == "items":
            out.append(r"\begin{enumerate}")
            for item in b[1]:
                out.append(r"\item " + "\n".join(_render_latex(item)))
            out.append(r"\end{enumerate}")
    return out


def theorem_latex(th: Theorem) -> str:
    r"""The theorem as LaTeX: a setting and notation paragraph (the legend of its symbols),
    then an ``amsthm`` theorem stating the recursion, each component's stability condition
    once (labelled (C1), (C2), ...), the learners' verdicts by those labels, the stationary
    risks and the growth rates. Needs :data:`PREAMBLE` (``amsmath``, ``amssymb``, ``amsthm``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.theorem import derive_theorem
    >>> text = theorem_latex(derive_theorem(self_training(real_samples=10, samples=30, dimension=2), "large-sample"))
    >>> [line for line in text.splitlines() if line.startswith(r"\begin{theorem}")]
    ['\\begin{theorem}[Large-sample model collapse on a 1-learner graph]']
    """
    title, notation, body = _theorem_blocks(th)
    return "\n".join(_render_latex(notation) + [rf"\begin{{theorem}}[{title}]"] + _render_latex(body)
                     + [r"\end{theorem}"])


def document_latex(body: str, title: str = "Model collapse") -> str:
    r"""A standalone LaTeX document (:data:`PREAMBLE`) around ``body``.

    Examples
    --------
    >>> document_latex("x").splitlines()[0]
    '\\documentclass{article}'
    """
    return "\n".join([
        r"\documentclass{article}",
        PREAMBLE,
        rf"\title{{{title}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        body,
        r"\end{document}",
        "",
    ])


# --------------------------------------------------------------------------- notebooks
_INLINE = re.compile(r"\$([^$]+)\$")


def _html_text(text: str) -> str:
    """Prose with ``$...$`` formulas as HTML (MathJax typesets the formulas)."""
    text = text.replace(r"\paragraph{", "<b>").replace(r"Setting.} ", "Setting.</b> ").replace(
        r"Notation.} ", "Notation.</b> ").replace(r"Data regime.} ", "Data regime.</b> ")
    text = re.sub(r"\\S(?=\d)", "§", text.replace(r"\allowbreak ", ""))
    pieces = []
    last = 0
    for m in _INLINE.finditer(text):
        pieces.append(html.escape(text[last:m.start()], quote=False).replace("&lt;b&gt;", "<b>")
                      .replace("&lt;/b&gt;", "</b>"))
        pieces.append("$" + html.escape(m.group(1), quote=False) + "$")
        last = m.end()
    pieces.append(html.escape(text[last:], quote=False).replace("&lt;b&gt;", "<b>").replace("&lt;/b&gt;", "</b>"))
    return "".join(pieces).replace(r"\S ", "§")


def _render_html(blocks: list[tuple]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b[0] == "par":
            out.append(f"<p>{_html_text(b[1])}</p>")
        elif b[0] == "display":
            tag = rf" \tag{{{b[2]}}}" if b[2] else ""
            out.append("<p>$$" + html.escape(b[1], quote=False) + tag + "$$</p>")
        elif b[0] == "gather":
            out.append("<p>$$\\begin{gathered}" + html.escape(r" \\ ".join(b[1]), quote=False) + "\\end{gathered}$$</p>")
        elif b[0] == "lines":
            out.append("<p>$$\\begin{split}" + html.escape(r" \\ ".join(b[1]), quote=False) + "\\end{split}$$</p>")
        elif b[0] == "items":
            out.append("<ol>" + "".join("<li>" + "".join(_render_html(i)) + "</li>" for i in b[1]) + "</ol>")
    return out


def theorem_html(th: Theorem) -> str:
    """The theorem as HTML with ``$...$`` formulas (Jupyter's ``_repr_html_``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.theorem import derive_theorem
    >>> theorem_html(derive_theorem(self_training(real_samples=0, dimension=1), "large-sample"))[:40]
    '<div class="graphcollapse-theorem"><p><b'
    """
    title, notation, body = _theorem_blocks(th)
    return ('<div class="graphcollapse-theorem">' + "".join(_render_html(notation))
            + f"<p><b>Theorem</b> ({html.escape(title)}).</p>" + "".join(_render_html(body)) + "</div>")


def theorem_notebook_latex(th: Theorem) -> str:
    r"""The formulas of a theorem as one LaTeX display (Jupyter's ``_repr_latex_``, which
    renders maths only): the recursion's :math:`W` and each component condition.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.theorem import derive_theorem
    >>> theorem_notebook_latex(derive_theorem(self_training(real_samples=0, dimension=1), "large-sample"))
    '$\\displaystyle \\begin{aligned} W &= \\left[\\begin{matrix}1\\end{matrix}\\right]\\end{aligned}$'
    """
    rows = [(r"\tilde W &= " if th.regime is not None else r"W &= ") + tex(th.display.get("W", th.W))]
    if th.graph.is_symbolic:
        for c in th.components:
            if c.stable != sp.true:
                rows.append(rf"\text{{({c.label})}} &: " + tex(c.stable))
    return r"$\displaystyle \begin{aligned} " + r" \\ ".join(rows) + r"\end{aligned}$"


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


def _analysis_rows(a: Analysis) -> list[tuple[str, str, str]]:
    rows = []
    for r in a.learners:
        if r.stationary_risk is not None:
            rows.append((r.name, "bounded", rf"R_\infty = {tex(r.stationary_risk)}"))
        elif r.growth_factor is not None:
            rows.append((r.name, "geometric", rf"\rho = {tex(r.growth_factor)}"))
        else:
            q = r.growth_degree
            rows.append((r.name, str(r.growth), rf"R_t / t^{{{q}}} \to {tex(r.growth_rate)}"))
    return rows


def analysis_latex(a: Analysis) -> str:
    r"""A table of the verdicts, growth and stationary risks of an analysis (for notebooks).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> analysis_latex(analyze(self_training(real_samples=0), theory="large-sample"))
    '$\\begin{array}{lll}\\mathrm{L0} & \\text{linear} & R_t / t^{1} \\to \\frac{1}{2}\\end{array}$'
    """
    rows = [rf"{learner_latex(n)} & \text{{{g}}} & {v}" for n, g, v in _analysis_rows(a)]
    return r"$\begin{array}{lll}" + r" \\ ".join(rows) + r"\end{array}$"


def analysis_html(a: Analysis) -> str:
    """An HTML table of an analysis (Jupyter's ``_repr_html_``): learner, growth, value.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import analyze
    >>> "<td>linear</td>" in analysis_html(analyze(self_training(real_samples=0), theory="large-sample"))
    True
    """
    head = (f"<p>{html.escape(str(a.theory))} theory: "
            + ("some learner collapses" if a.collapse else "no learner collapses") + "</p>")
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(g)}</td><td>${html.escape(v, quote=False)}$</td></tr>"
                   for n, g, v in _analysis_rows(a))
    return head + "<table><tr><th>learner</th><th>growth</th><th>limit</th></tr>" + rows + "</table>"


def _prediction_series(p: Any) -> tuple[list[str], dict[str, list[Any]]]:
    return list(p.risk), p.risk


def prediction_latex(p: Any, max_rows: int = 8) -> str:
    r"""The predicted risks :math:`R_k^{(t)}` as a LaTeX array (first and last generations).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import predict
    >>> prediction_latex(predict(self_training(real_samples=0, dimension=1, initial_samples=10), 1,
    ...                          theory="large-sample"))
    '$\\begin{array}{r|l}t & \\mathrm{L0} \\\\ \\hline 0 & \\frac{1}{10} \\\\ 1 & \\frac{1}{5}\\end{array}$'
    """
    names, risk = _prediction_series(p)
    T = len(next(iter(risk.values()))) if risk else 0
    ts = list(range(T)) if T <= max_rows else [*range(max_rows // 2), None, *range(T - max_rows // 2, T)]
    head = "t & " + " & ".join(learner_latex(n) for n in names)
    rows = [r"\vdots & " + " & ".join([r"\vdots"] * len(names)) if t is None
            else f"{t} & " + " & ".join(_value_tex(risk[n][t]) for n in names) for t in ts]
    return r"$\begin{array}{r|" + "l" * len(names) + "}" + head + r" \\ \hline " + r" \\ ".join(rows) + r"\end{array}$"


def _value_tex(v: Any) -> str:
    if isinstance(v, (sp.Basic, int)):
        e = sp.sympify(v)
        if e.is_Rational and len(str(e)) > 24:
            return tex(sp.Float(e, 6))
        return tex(e)
    return f"{float(v):.6g}"


def prediction_html(p: Any) -> str:
    """The predicted risks as an HTML table and an inline plot (Jupyter's ``_repr_html_``).

    The plot is an SVG drawn by matplotlib (imported only here), risks on a log scale
    when they span more than two decades.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> from graphcollapse.theory.analysis import predict
    >>> out = prediction_html(predict(self_training(real_samples=0, dimension=1, initial_samples=10), 3,
    ...                               theory="large-sample"))
    >>> "<svg" in out, "<table>" in out
    (True, True)
    """
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    names, risk = _prediction_series(p)
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    values = []
    for n in names:
        ys = [float(sp.sympify(v)) if isinstance(v, sp.Basic) else float(v) for v in risk[n]]
        values += ys
        ax.plot(range(len(ys)), ys, marker="o", ms=3, label=n)
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("generation t")
    ax.set_ylabel("risk")
    ax.legend(fontsize="small")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    T = len(next(iter(risk.values()))) if risk else 0
    last = T - 1
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>${_value_tex(risk[n][0])}$</td>"
                   f"<td>${_value_tex(risk[n][last])}$</td></tr>" for n in names)
    table = (f"<table><tr><th>learner</th><th>t = 0</th><th>t = {last}</th></tr>" + rows + "</table>")
    return svg + table
