r"""Asymptotic theory of model collapse for M-estimators (docs/mestimators.md §§2-3).

Statement
---------
Learner :math:`k` minimises the summed loss :math:`\sum_i \ell(z_i; \theta)` over its
pooled data: :math:`m_k` real samples from :math:`P_{\theta^*}` and, for every edge
:math:`j \to k`, :math:`n_{jk}` synthetic samples from the fitted model
:math:`P_{\theta_j^{(t-1)}}`. Let :math:`H = E\,\nabla^2\ell` and
:math:`V = \operatorname{Var}\nabla\ell` at :math:`\theta^*` (data from
:math:`P_{\theta^*}`), :math:`A = H^{-1} V H^{-1}` (the sandwich). For a Fisher-consistent
loss (:math:`E_{\theta}\nabla\ell(\theta) = 0` for every :math:`\theta`), as
:math:`n \to \infty` with :math:`N_k/n` fixed and :math:`t` fixed, the limits
:math:`S^{(t)}` of :math:`n\,\operatorname{Cov}` of the stacked errors satisfy

.. math:: S^{(t)} = (W\otimes I)\,S^{(t-1)}\,(W\otimes I)^\top
          + \operatorname{blockdiag}_k\Big(\tfrac{n}{N_k^2}\big(m_k A + \textstyle\sum_j n_{jk} A_j\big)\Big),
          \qquad S^{(0)} = \operatorname{blockdiag}(n A / n^0_k),

with :math:`A_j = A` except for Gaussian regression, whose producers may use their own
noise variance :math:`\sigma_j^2` (:math:`A_j = \sigma_j^2\Sigma^{-1}`). The risk is
:math:`R_k = \operatorname{tr}(G S_{kk})` with :math:`G = \Sigma` for regression families
and :math:`G = I` on :math:`(\mu, s^2)` for location-scale. Because the trace is linear
and :math:`W \otimes I` acts blockwise, the scalars :math:`c_{kl} = \operatorname{tr}(G S_{kl})`
obey the scalar recursion of :mod:`graphcollapse.theory.recursion`,

.. math:: c^{(t)} = W c^{(t-1)} W^\top + \operatorname{diag}(D_k), \quad
          D_k = \frac{m_k a + \sum_j n_{jk} a_j}{N_k^2}, \quad c^{(0)}_{kk} = a / n^0_k,

with the *per-sample risk* :math:`a = \operatorname{tr}(G A)`. So the verdict is the
topological condition of :mod:`graphcollapse.theory.condition`, collapse is linear with rate
:math:`a \times` (the rate for unit :math:`a`), and bounded learners settle at
:math:`a \times` (the unit stationary risk). Gaussian regression has
:math:`a = d\sigma^2`, :math:`a_j = d\sigma_j^2`: exactly the large-sample OLS theory.
Proofs: ``docs/mestimators.md``.

Reported risks are the limits :math:`\lim_n n R` expressed at the graph's own counts
(the first-order approximation of :math:`R` at those counts); at counts multiplied by
:math:`s` the risk is about that value divided by :math:`s`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from .analysis import Analysis, LearnerResult, MinimalFix, Prediction, _components, minimal_fix, spectral_radius
from .analysis import to_exact_string, to_float
from .condition import collapse_condition
from .loss_parser import numeric_function
from .errors import GraphValueError, NoClosedFormError
from .graph import InteractionGraph, _as_sympy
from .loss_parser import parse_expression
from .recursion import covariance_trajectory, growth_rates, stationary_covariance

__all__ = [
    "Family",
    "Sandwich",
    "MAnalysis",
    "MPrediction",
    "FAMILIES",
    "MODELS",
    "HUBER_THRESHOLD",
    "get_family",
    "load_loss",
    "parse_theta",
    "default_theta",
    "derive_score_and_hessian",
    "sandwich",
    "unit_noise_variance",
    "asymptotic_analysis",
    "asymptotic_prediction",
    "unit_risk_trajectory",
]

#: Huber threshold in units of the noise standard deviation sigma (c = 1.345 sigma).
HUBER_THRESHOLD = sp.Rational(269, 200)

#: Data-generating models a loss can be paired with (see ``docs/mestimators.md``).
MODELS = {
    "gaussian": "y = x^T theta + N(0, sigma^2), x ~ N(0, Sigma)",
    "logistic": "y ~ Bernoulli(1 / (1 + exp(-x^T theta))), x ~ N(0, Sigma)",
    "poisson": "y ~ Poisson(exp(x^T theta)), x ~ N(0, Sigma)",
    "student-t": "y = x^T theta + sigma/sqrt(3) * t_3, x ~ N(0, Sigma) (noise variance sigma^2)",
    "normal": "y ~ N(mu, s^2) with s^2 = noise_variance; no covariates",
}

#: Quasi-Monte Carlo design for losses without closed-form expectations.
QMC_POINTS = 2**13
QMC_RANDOMIZATIONS = 16


# --------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Family:
    """An M-estimator: a loss in parameter and data symbols plus the data-generating model.

    Built-in families are in :data:`FAMILIES`; custom ones come from :func:`load_loss`.
    ``loss_text`` is the whitelisted expression (parsed by
    :func:`graphcollapse.theory.loss_parser.parse_expression`), in the parameters ``theta1..thetad``,
    the data ``x1..xd``, ``y`` and the shorthand ``eta = theta1*x1 + ... + thetad*xd``
    (regression models), or ``mu``, ``v`` and ``y`` (model ``normal``, ``v`` = variance).
    """

    name: str
    model: str
    loss_text: str
    description: str = ""
    builtin: bool = False
    source: str | None = None

    @property
    def is_regression(self) -> bool:
        """Whether the family has covariates (all models except ``normal``)."""
        return self.model != "normal"

    def parameter_dimension(self, graph: InteractionGraph) -> int | sp.Expr:
        """Length of theta: ``dimension`` for regression models, 2 for ``normal``."""
        return graph.dimension if self.is_regression else 2

    def symbols(self, d: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], dict[str, sp.Expr]]:
        """(parameters, data, namespace for the parser)."""
        if not self.is_regression:
            mu, v, y = sp.symbols("mu v y", real=True)
            return (mu, v), (y,), {"mu": mu, "v": v, "y": y}
        th = sp.symbols(f"theta1:{d + 1}", real=True)
        xs = sp.symbols(f"x1:{d + 1}", real=True)
        y = sp.Symbol("y", real=True)
        ns: dict[str, sp.Expr] = {str(s): s for s in th + xs}
        ns["y"] = y
        ns["eta"] = sum((a * b for a, b in zip(th, xs)), sp.Integer(0))
        return tuple(th), tuple(xs) + (y,), ns

    def loss(self, d: int) -> sp.Expr:
        """The loss as a sympy expression (built through the safe parser)."""
        _, _, ns = self.symbols(d)
        return parse_expression(self.loss_text, ns, field=f"loss of {self.name}")


def _builtin(name: str, model: str, loss: str, description: str) -> Family:
    return Family(name, model, loss, description, builtin=True)


#: The built-in families (name -> :class:`Family`).
FAMILIES: dict[str, Family] = {
    "gaussian": _builtin("gaussian", "gaussian", "(y - eta)**2/2",
                         "Gaussian linear regression (least squares)"),
    "logistic": _builtin("logistic", "logistic", "log(1 + exp(eta)) - y*eta",
                         "logistic regression (maximum likelihood)"),
    "poisson": _builtin("poisson", "poisson", "exp(eta) - y*eta",
                        "Poisson regression, log link (maximum likelihood)"),
    "huber": _builtin("huber", "student-t", "huber(y - eta; c = 1.345 sigma)",
                      "Huber regression, threshold 1.345 sigma, Student-t(3) noise of variance sigma^2"),
    "location-scale": _builtin("location-scale", "normal", "(y - mu)**2/(2*v) + log(v)/2",
                               "Gaussian location-scale (MLE of mean and variance)"),
    "location-scale-unbiased": _builtin("location-scale-unbiased", "normal", "(y - mu)**2/(2*v) + log(v)/2",
                                        "Gaussian location-scale, unbiased variance (divisor N - 1; "
                                        "asymptotics as the MLE, docs/gaussian.md)"),
}


def get_family(name: str, loss_file: str | Path | None = None) -> Family:
    """The family called ``name``, or the custom family of ``loss_file``.

    Parameters
    ----------
    name : str
        A key of :data:`FAMILIES`, or ``"custom"`` (any name) when ``loss_file`` is given.
    loss_file : str or Path, optional
        A ``.loss`` file (format: :func:`load_loss`); it takes precedence over ``name``.

    Returns
    -------
    Family

    Raises
    ------
    GraphValueError
        Unknown family (one line, listing the known ones).

    Examples
    --------
    >>> get_family("logistic").model
    'logistic'
    >>> get_family("probit")
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: estimator: unknown family 'probit' (expected one of gaussian, logistic, poisson, huber, location-scale, location-scale-unbiased, or --loss FILE)
    """
    if loss_file is not None:
        return load_loss(loss_file)
    if name not in FAMILIES:
        raise GraphValueError(f"estimator: unknown family {name!r} (expected one of "
                              f"{', '.join(FAMILIES)}, or --loss FILE)")
    return FAMILIES[name]


_KEY = re.compile(r"^([a-z]+)\s*:\s*(.*)$")


def load_loss(path: str | Path) -> Family:
    r"""Read a custom loss from a small text file.

    Format: one ``key: value`` per line, ``#`` starts a comment, blank lines ignored.

    * ``loss:`` (required) the loss of one observation, a whitelisted expression (see
      :mod:`graphcollapse.theory.loss_parser`) in ``theta1..thetad``, ``x1..xd``, ``y`` and
      ``eta`` (:math:`= \theta^\top x`), or in ``mu``, ``v``, ``y`` for model ``normal``;
    * ``model:`` (required) the data-generating model, a key of :data:`MODELS`;
    * ``name:`` (optional) the estimator name used in reports (default: the file stem).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Family

    Raises
    ------
    GraphValueError
        Missing/unknown keys, unknown model, or an expression outside the whitelist.

    Examples
    --------
    >>> import tempfile, os
    >>> text = "name: cauchy\nmodel: student-t\nloss: log(1 + (y - eta)**2)\n"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".loss", delete=False) as f:
    ...     _ = f.write(text)
    >>> fam = load_loss(f.name); os.unlink(f.name)
    >>> fam.name, fam.model, fam.loss(1)
    ('cauchy', 'student-t', log((-theta1*x1 + y)**2 + 1))
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphValueError(f"--loss: cannot read {str(p)!r}: {exc.__class__.__name__}") from None
    fields: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _KEY.match(line)
        if not m or m.group(1) not in ("name", "model", "loss"):
            raise GraphValueError(f"--loss: line {lineno}: expected 'name:', 'model:' or 'loss:', found {line[:40]!r}")
        if m.group(1) in fields:
            raise GraphValueError(f"--loss: line {lineno}: duplicate key {m.group(1)!r}")
        fields[m.group(1)] = m.group(2).strip()
    for key in ("model", "loss"):
        if not fields.get(key):
            raise GraphValueError(f"--loss: missing '{key}:' line in {str(p)!r}")
    if fields["model"] not in MODELS:
        raise GraphValueError(f"--loss: unknown model {fields['model']!r} (expected one of {', '.join(MODELS)})")
    name = fields.get("name") or p.stem
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        raise GraphValueError(f"--loss: name {name!r} must be 1-64 letters, digits, '_', '-' or '.'")
    fam = Family(name, fields["model"], fields["loss"], f"custom loss from {p.name}", builtin=False, source=str(p))
    # syntax and whitelist check now (d = 1 for regression models; d is re-checked per graph)
    _check_custom_loss(fam, 1)
    return fam


def derive_score_and_hessian(family: Family, d: int) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Score :math:`\nabla_\theta \ell` and Hessian :math:`\nabla^2_\theta \ell` of the loss,
    derived symbolically (``sympy.diff``).

    Parameters
    ----------
    family : Family
    d : int
        The dimension (ignored for model ``normal``).

    Returns
    -------
    (score, hessian) : sympy.Matrix, sympy.Matrix

    Raises
    ------
    GraphValueError
        The loss does not depend on the parameters or is not twice differentiable in them.

    Examples
    --------
    >>> g, H = derive_score_and_hessian(FAMILIES["poisson"], 1)
    >>> g
    Matrix([[-x1*y + x1*exp(theta1*x1)]])
    >>> H
    Matrix([[x1**2*exp(theta1*x1)]])
    """
    if family.builtin and family.name == "huber":
        raise NoClosedFormError("huber: the loss is piecewise; its score and Hessian are handled in closed form")
    return _check_custom_loss(family, d)


_NONSMOOTH = (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.Max, sp.Min, sp.Piecewise, sp.Derivative, sp.Subs)


def _check_custom_loss(family: Family, d: int) -> tuple[sp.Matrix, sp.Matrix]:
    params, _, _ = family.symbols(d)
    loss = family.loss(d)
    if not (loss.free_symbols & set(params)):
        raise GraphValueError(f"loss of {family.name}: does not depend on the parameters "
                              f"({', '.join(map(str, params))})")
    score = sp.Matrix([sp.diff(loss, p) for p in params])
    hess = sp.Matrix([[sp.diff(score[i], q) for q in params] for i in range(len(params))])
    for expr in list(score) + list(hess):
        for atom in expr.atoms(*_NONSMOOTH):
            if atom.free_symbols & set(params):
                raise GraphValueError(f"loss of {family.name}: not twice differentiable in the parameters "
                                      f"(its derivatives contain {type(atom).__name__}); use a smooth loss")
    return score, hess


# --------------------------------------------------------------------------- theta
def default_theta(family: Family, graph: InteractionGraph) -> tuple[sp.Rational, ...]:
    r"""The default :math:`\theta^*`.

    Regression: :math:`\theta^*_i = 1 - \tfrac32\,i/(d-1)`, :math:`i = 0..d-1` (evenly
    from 1 to -1/2, as ``numpy.linspace(1, -0.5, d)``; ``(1,)`` when d = 1).
    Location-scale: :math:`\mu^* = 0` (its :math:`s^2` is ``noise_variance``).

    Parameters
    ----------
    family : Family
    graph : InteractionGraph

    Returns
    -------
    tuple of sympy.Rational

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> default_theta(FAMILIES["logistic"], self_training(dimension=3))
    (1, 1/4, -1/2)
    """
    if not family.is_regression:
        return (sp.Integer(0),)
    if family.name == "gaussian" and family.builtin and _symbolic_dimension(graph):
        return ()  # the Gaussian theory does not depend on theta*; no vector of symbolic length
    d = _int_dimension(graph, family)
    if d == 1:
        return (sp.Integer(1),)
    return tuple(1 - sp.Rational(3, 2) * sp.Rational(i, d - 1) for i in range(d))


def _symbolic_dimension(graph: InteractionGraph) -> bool:
    d = graph.dimension
    return isinstance(d, sp.Basic) and not d.is_Integer


def _int_dimension(graph: InteractionGraph, family: Family) -> int:
    d = graph.dimension
    if isinstance(d, sp.Basic) and not d.is_Integer:
        raise GraphValueError(f"dimension: the {family.name} family needs a numeric dimension, found {d}")
    return int(d)


def parse_theta(theta: Any, family: Family, graph: InteractionGraph) -> tuple[sp.Rational, ...]:
    r"""Validate :math:`\theta^*` given as None, a sequence of numbers or the raw CLI string
    ``"1,-0.5"``; numbers are converted exactly (decimals to Rationals, no ``eval``).

    Parameters
    ----------
    theta : None, str or sequence of numbers
    family : Family
    graph : InteractionGraph

    Returns
    -------
    tuple of sympy.Rational
        Length ``dimension`` for regression families, 1 (:math:`\mu^*`) for location-scale.

    Raises
    ------
    GraphValueError
        Wrong length or a non-number (one line naming ``--theta``).

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> parse_theta("1,-0.5", FAMILIES["logistic"], self_training(dimension=2))
    (1, -1/2)
    >>> parse_theta("1", FAMILIES["logistic"], self_training(dimension=2))
    Traceback (most recent call last):
    ...
    graphcollapse.theory.errors.GraphValueError: --theta: expected 2 numbers (the dimension), found 1
    """
    if family.name == "gaussian" and family.builtin and _symbolic_dimension(graph):
        if theta is None or (isinstance(theta, tuple) and not theta):
            return ()
        raise GraphValueError("--theta: the dimension is symbolic; Gaussian theory needs no theta (omit --theta)")
    if theta is None:
        return default_theta(family, graph)
    items: list[Any]
    if isinstance(theta, str):
        items = [s.strip() for s in theta.split(",")]
    elif isinstance(theta, (list, tuple, np.ndarray)):
        items = list(theta)
    else:
        raise GraphValueError(f"--theta: expected comma-separated numbers, found {type(theta).__name__}")
    values = []
    for item in items:
        try:
            if isinstance(item, (bool, np.bool_)):
                raise ValueError
            if isinstance(item, sp.Rational):
                values.append(item)
                continue
            frac = Fraction(repr(float(item))) if isinstance(item, (float, np.floating)) else Fraction(str(item))
        except (ValueError, ZeroDivisionError, TypeError):
            raise GraphValueError(f"--theta: expected numbers, found {str(item)[:30]!r}") from None
        values.append(sp.Rational(frac.numerator, frac.denominator))
    want = _int_dimension(graph, family) if family.is_regression else 1
    what = "the dimension" if family.is_regression else "mu* of location-scale; s^2 is noise_variance"
    if len(values) != want:
        raise GraphValueError(f"--theta: expected {want} number{'s' if want > 1 else ''} ({what}), found {len(values)}")
    return tuple(values)


# --------------------------------------------------------------------------- sandwich
@dataclass(frozen=True)
class Sandwich:
    r"""The sandwich at :math:`\theta^*`: ``H``, ``V``, ``A = H^-1 V H^-1`` and the
    per-sample risk ``a = tr(G A)``.

    ``exact`` says whether the entries are exact sympy numbers; otherwise
    ``relative_accuracy`` bounds the relative error of ``a`` (quadrature error estimate,
    or 4 standard errors over quasi-Monte Carlo randomizations) and ``method`` names the
    method.
    """

    H: Any
    V: Any
    A: Any
    a: Any
    exact: bool
    method: str
    relative_accuracy: float
    producer_ratio: tuple[Any, ...] = ()
    mean_score: Any = None

    def to_json(self) -> dict[str, Any]:
        """JSON of the sandwich (floats; exact ``a`` as a string when exact)."""
        def num(x: Any) -> float | None:
            try:
                return to_float(x)
            except TypeError:  # symbolic (e.g. a symbolic noise variance or dimension)
                return None

        def mat(M: Any) -> list[list[float | None]]:
            return [[num(x) for x in row] for row in (M.tolist() if hasattr(M, "tolist") else M)]

        return {"H": mat(self.H), "V": mat(self.V), "A": mat(self.A),
                "per_sample_risk": num(self.a),
                "per_sample_risk_exact": to_exact_string(self.a) if self.exact else None,
                "method": self.method, "relative_accuracy": self.relative_accuracy}


def _sigma_matrix(graph: InteractionGraph, d: int) -> sp.Matrix:
    if graph.covariance is None:
        return sp.eye(d)
    return sp.Matrix([[_as_sympy(v) for v in row] for row in graph.covariance])


def _producer_ratio(graph: InteractionGraph, family: Family) -> tuple[Any, ...]:
    """a_j / a per producer: sigma_j^2 / sigma^2 for Gaussian regression, else 1."""
    if family.model != "gaussian":
        return tuple(sp.Integer(1) for _ in range(graph.num_learners))
    s2 = _as_sympy(graph.noise_variance)
    return tuple(sp.cancel(_as_sympy(v) / s2) for v in graph.synthetic_noise_variance)


def sandwich(graph: InteractionGraph, family: Family, theta: Any = None) -> Sandwich:
    r"""Evaluate :math:`H`, :math:`V`, :math:`A` and the per-sample risk :math:`a` at
    :math:`\theta^*`.

    Closed forms (exact): Gaussian (:math:`H=\Sigma`, :math:`V=\sigma^2\Sigma`,
    :math:`a = d\sigma^2`), Poisson (:math:`H = V = e^{\tau^2/2}(\Sigma + bb^\top)`,
    :math:`b = \Sigma\theta^*`, :math:`\tau^2 = \theta^{*\top}\Sigma\theta^*`,
    :math:`a = e^{-\tau^2/2}(d - \tau^2/(1+\tau^2))`), Huber with Student-t(3) noise,
    location-scale (:math:`a = s^2 + 2s^4`). Logistic: :math:`H = V = e_0(\Sigma - bb^\top/\tau^2)
    + e_2\,bb^\top/\tau^4` with two one-dimensional integrals :math:`e_0 = E\,w(u)`,
    :math:`e_2 = E\,w(u)u^2`, :math:`u \sim N(0,\tau^2)`, :math:`w = \sigma(1-\sigma)`
    (``scipy.integrate.quad``, error estimate reported), :math:`a = (d-1)/e_0 + \tau^2/e_2`.
    Custom losses: scrambled Sobol quasi-Monte Carlo over :math:`(x, y)` with
    :data:`QMC_RANDOMIZATIONS` independent randomizations (accuracy: 4 standard errors).

    Parameters
    ----------
    graph : InteractionGraph
    family : Family
    theta : None, str or sequence, optional
        :math:`\theta^*` (see :func:`parse_theta`).

    Returns
    -------
    Sandwich

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> sandwich(self_training(dimension=3, noise_variance=2), FAMILIES["gaussian"]).a
    6
    >>> sandwich(self_training(dimension=1), FAMILIES["poisson"], "1").a
    exp(-1/2)/2
    """
    th = parse_theta(theta, family, graph)
    ratio = _producer_ratio(graph, family)
    s2 = _as_sympy(graph.noise_variance)
    if not family.builtin:
        out = _sandwich_qmc(graph, family, th)
        return replace(out, producer_ratio=ratio)
    if family.name.startswith("multivariate-gaussian"):  # docs/gaussian.md §4
        from .gaussian import multivariate_sandwich, truth_covariance

        parts = multivariate_sandwich(truth_covariance(graph))
        A = parts["A"]  # in (mu, vec Sigma): singular on the antisymmetric directions, so H = V = A^+
        return Sandwich(A.pinv(), A.pinv(), A, parts["a"], True, "closed form", 0.0, ratio, sp.zeros(A.shape[0], 1))
    if family.name in ("location-scale", "location-scale-unbiased"):
        H = sp.diag(1 / s2, 1 / (2 * s2**2))
        A = H.inv()
        return Sandwich(H, H, A, sp.factor(A.trace()), True, "closed form", 0.0, ratio, sp.zeros(2, 1))
    d = graph.dimension if family.name == "gaussian" and _symbolic_dimension(graph) else _int_dimension(graph, family)
    if family.name == "gaussian":
        if _symbolic_dimension(graph):  # symbolic dimension: only a is needed
            a = sp.factor(d * s2)
            return Sandwich(sp.Matrix([[1]]), sp.Matrix([[s2]]), sp.Matrix([[s2]]), a, True,
                            "closed form (symbolic dimension: H, V shown per coordinate of whitened x)", 0.0, ratio)
        d = int(d)
        Sig = _sigma_matrix(graph, d)
        A = s2 * Sig.inv()
        return Sandwich(Sig, s2 * Sig, A, sp.factor((Sig * A).trace()), True, "closed form", 0.0, ratio, sp.zeros(d, 1))
    Sig = _sigma_matrix(graph, d)
    t = sp.Matrix(th)
    b = Sig * t
    tau2 = (t.T * Sig * t)[0, 0]
    if family.name == "poisson":
        H = sp.exp(tau2 / 2) * (Sig + b * b.T)
        a = sp.exp(-tau2 / 2) * (d - tau2 / (1 + tau2))
        return Sandwich(H, H, H.inv(), sp.simplify(a), True, "closed form", 0.0, ratio, sp.zeros(d, 1))
    if family.name == "huber":
        r = HUBER_THRESHOLD  # c / sigma
        P = 2 / sp.pi * (sp.atan(r) + r / (1 + r**2))           # P(|e| <= c)
        M = 6 / sp.pi * (sp.atan(r) - r / (1 + r**2))           # E[T^2; |T| <= k], T ~ t_3
        Epsi2 = s2 / 3 * (M + 3 * r**2 * (1 - P))               # E psi_c(e)^2
        H = P * Sig
        V = Epsi2 * Sig
        A = Epsi2 / P**2 * Sig.inv()
        return Sandwich(H, V, A, d * Epsi2 / P**2, True, "closed form (Student-t(3) integrals)", 0.0, ratio,
                        sp.zeros(d, 1))
    if family.name == "logistic":
        return _sandwich_logistic(Sig, b, tau2, d, ratio)
    raise GraphValueError(f"estimator: no sandwich for family {family.name!r}")  # pragma: no cover


def _sandwich_logistic(Sig: sp.Matrix, b: sp.Matrix, tau2: sp.Expr, d: int, ratio: tuple[Any, ...]) -> Sandwich:
    from scipy.integrate import quad

    tau = math.sqrt(float(tau2))
    Sf = np.array(Sig.tolist(), dtype=float)
    bf = np.array(b.tolist(), dtype=float).reshape(-1)

    def w(u: float) -> float:
        e = math.exp(-abs(u))  # stable: sigma(u)(1 - sigma(u)) = e / (1 + e)^2
        return e / (1.0 + e) ** 2

    if tau == 0.0:
        H = 0.25 * Sf
        a = 4.0 * d
        err = 0.0
    else:
        dens = lambda u: math.exp(-0.5 * (u / tau) ** 2) / (tau * math.sqrt(2 * math.pi))  # noqa: E731
        e0, err0 = quad(lambda u: w(u) * dens(u), -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)
        e2, err2 = quad(lambda u: w(u) * u * u * dens(u), -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)
        t2 = float(tau2)
        H = e0 * (Sf - np.outer(bf, bf) / t2) + e2 * np.outer(bf, bf) / t2**2
        a = (d - 1) / e0 + t2 / e2
        err = ((d - 1) / e0 * err0 / e0 + t2 / e2 * err2 / e2) / a
        err = max(err, 1e-15)
    A = np.linalg.inv(H)
    return Sandwich(H, H, A, float(a), False, "1-D adaptive quadrature (scipy.integrate.quad)", float(err), ratio,
                    np.zeros(d))


def _model_sample(model: str, X: np.ndarray | None, theta: np.ndarray, s2: float, u: np.ndarray) -> np.ndarray:
    """Responses from uniforms ``u`` by inverse CDF (for quasi-Monte Carlo)."""
    from scipy import stats

    if model == "normal":
        return theta[0] + math.sqrt(s2) * stats.norm.ppf(u)
    eta = X @ theta
    if model == "gaussian":
        return eta + math.sqrt(s2) * stats.norm.ppf(u)
    if model == "student-t":
        return eta + math.sqrt(s2 / 3.0) * stats.t.ppf(u, 3)
    if model == "logistic":
        return (u < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    if model == "poisson":
        return stats.poisson.ppf(u, np.exp(eta))
    raise GraphValueError(f"model: unknown model {model!r}")  # pragma: no cover


def _sandwich_qmc(graph: InteractionGraph, family: Family, th: tuple[sp.Rational, ...]) -> Sandwich:
    from scipy.stats import norm, qmc

    d = _int_dimension(graph, family) if family.is_regression else 1
    s2 = float(graph.noise_variance)
    score, hess = _check_custom_loss(family, d)
    params, data, _ = family.symbols(d)
    if family.is_regression:
        theta_star = np.array([float(v) for v in th])
        Sf = np.array(_sigma_matrix(graph, d).tolist(), dtype=float)
        L = np.linalg.cholesky(Sf)
        G = Sf
    else:
        theta_star = np.array([float(th[0]), s2])
        G = np.eye(2)
    subs = dict(zip(params, [sp.Float(v, 17) for v in theta_star]))
    f_score = numeric_function(data, [e.subs(subs) for e in score], field=f"score of the loss of {family.name}")
    f_hess = numeric_function(data, [e.subs(subs) for row in hess.tolist() for e in row],
                              field=f"Hessian of the loss of {family.name}")
    p = len(params)
    ndim = (d + 1) if family.is_regression else 1
    a_list, H_list, V_list, g_list = [], [], [], []
    for r in range(QMC_RANDOMIZATIONS):
        U = qmc.Sobol(ndim, scramble=True, seed=np.random.default_rng([20261126, r])).random(QMC_POINTS)
        U = np.clip(U, 1e-15, 1 - 1e-15)
        if family.is_regression:
            X = norm.ppf(U[:, :d]) @ L.T
            y = _model_sample(family.model, X, theta_star, s2, U[:, d])
            cols = [X[:, i] for i in range(d)] + [y]
        else:
            y = _model_sample("normal", None, theta_star, s2, U[:, 0])
            cols = [y]
        n = len(y)
        gs = np.array([np.broadcast_to(v, (n,)) for v in f_score(*cols)])  # (p, n); finite or raised
        hs = np.array([np.broadcast_to(v, (n,)) for v in f_hess(*cols)]).reshape(p, p, n)
        Hr = hs.mean(axis=2)
        Vr = gs @ gs.T / n
        try:
            Ar = np.linalg.solve(Hr, np.linalg.solve(Hr, Vr).T).T
        except np.linalg.LinAlgError:
            raise GraphValueError(f"loss of {family.name}: E Hessian is singular at theta*") from None
        H_list.append(Hr)
        V_list.append(Vr)
        g_list.append(gs.mean(axis=1))
        a_list.append(float(np.trace(G @ Ar)))
    H = np.mean(H_list, axis=0)
    V = np.mean(V_list, axis=0)
    g_mean = np.mean(g_list, axis=0)
    g_se = np.std(g_list, axis=0, ddof=1) / math.sqrt(QMC_RANDOMIZATIONS)
    scale = np.sqrt(np.diag(V))
    if np.any(np.abs(g_mean) > 6 * g_se + 1e-6 * scale):
        raise GraphValueError(f"loss of {family.name}: E score at theta* is {np.round(g_mean, 4).tolist()}, not 0: "
                              f"the loss is not Fisher-consistent for model {family.model!r}")
    if np.min(np.linalg.eigvalsh((H + H.T) / 2)) <= 0:
        raise GraphValueError(f"loss of {family.name}: E Hessian at theta* is not positive definite")
    A = np.linalg.solve(H, np.linalg.solve(H, V).T).T
    a = float(np.trace(G @ A))
    rel = 4 * float(np.std(a_list, ddof=1)) / math.sqrt(QMC_RANDOMIZATIONS) / abs(a)
    return Sandwich(H, V, A, a, False, f"randomized quasi-Monte Carlo (Sobol, {QMC_RANDOMIZATIONS} x {QMC_POINTS})",
                    max(rel, 1e-15), (), g_mean)


# --------------------------------------------------------------------------- recursion
def unit_noise_variance(graph: InteractionGraph, family: Family) -> tuple[sp.Expr, ...]:
    r"""The one-generation variances for unit per-sample risk,
    :math:`D_k / a = (m_k + \sum_j n_{jk} a_j/a) / N_k^2` (exact).

    Parameters
    ----------
    graph : InteractionGraph
    family : Family

    Returns
    -------
    tuple of sympy expressions

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> unit_noise_variance(self_training(real_samples=10, samples=30), FAMILIES["logistic"])
    (1/40,)
    """
    ratio = _producer_ratio(graph, family)
    num: list[sp.Expr] = [_as_sympy(m) for m in graph.real_samples]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        num[t] = num[t] + _as_sympy(n) * ratio[s]
    return tuple(sp.cancel(num[k] / _as_sympy(graph.total_samples[k]) ** 2) for k in range(graph.num_learners))


def _check_representable(values: dict[str, Any], graph: InteractionGraph, family: Family,
                          theta: tuple[Any, ...]) -> None:
    r"""Refuse values that are nonzero but round to 0, a subnormal or infinity in double
    precision (say a Poisson risk :math:`e^{-\tau^2/2}(\dots)` at a large
    :math:`\theta^*`): reported as floats they would read 0 or inf, a false answer."""
    for name, value in values.items():
        if value is None or (isinstance(value, sp.Expr) and (value.free_symbols or value.is_zero)):
            continue
        try:
            x = to_float(value)
        except (TypeError, OverflowError):
            x = math.inf
        if x is not None and math.isfinite(x) and abs(x) >= 2.2250738585072014e-308:
            continue
        what = "underflow to 0" if x is not None and math.isfinite(x) else "overflow"
        where = ""
        if family.builtin and family.name == "poisson":
            d = _int_dimension(graph, family)
            t = sp.Matrix(theta)
            tau2 = (t.T * _sigma_matrix(graph, d) * t)[0, 0]
            where = f" (a = exp(-tau^2/2) (d - tau^2/(1 + tau^2)) with tau^2 = theta*' Sigma theta* = {_short(tau2)})"
        raise GraphValueError(
            f"--theta: theta* = ({_short(', '.join(str(v) for v in theta))}) makes the {family.name} {name} = "
            f"{_short(value)} {what} in double precision{where}, so the risks cannot be reported as numbers; "
            "choose a theta* of smaller norm")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _scale(a: Any, x: Any, exact: bool) -> Any:
    if exact:
        return sp.factor(a * x) if isinstance(a * x, sp.Expr) and (a * x).free_symbols else a * x
    if isinstance(x, sp.Expr) and x.free_symbols:  # symbolic counts, numerical sandwich
        return sp.factor(sp.Float(float(a), 15) * x)
    return float(a) * float(x)


@dataclass(frozen=True)
class MAnalysis:
    """The result of :func:`asymptotic_analysis`: the lead's :class:`~graphcollapse.theory.analysis.Analysis`
    (theory ``"asymptotic"``, n-scaled risks) plus the family and its sandwich."""

    analysis: Analysis
    family: Family
    sandwich: Sandwich
    theta: tuple[Any, ...]

    @property
    def collapse(self) -> bool:
        """Whether some learner collapses (asymptotically)."""
        return self.analysis.collapse

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``graphcollapse analyze --estimator NAME --json`` (same shape as
        ``analyze``; ``*_exact`` keys only when the value is exact)."""
        out = self.analysis.to_json()
        if not self.sandwich.exact:
            for entry in out["models"].values():
                for key in [k for k in entry if k.endswith("_exact")]:
                    del entry[key]
        return out

    def report(self) -> str:
        """A readable report."""
        s = self.sandwich
        head = [
            f"estimator: {self.family.name} ({self.family.description}); data model {self.family.model}: "
            f"{MODELS[self.family.model]}",
            f"theta* = ({', '.join(str(v) for v in self.theta)})",
            ("per-sample risk a = tr(G H^-1 V H^-1) = "
             + (str(s.a) if getattr(s.a, "free_symbols", None) else f"{to_float(s.a):.6g}"))
            + (f" (= {s.a})" if s.exact and len(str(s.a)) < 60 and not getattr(s.a, "free_symbols", None) else "")
            + ("" if s.exact else f", {s.method}, relative accuracy {s.relative_accuracy:.1e}"),
            "risks below are n-scaled (lim n R, expressed at the graph's own sample counts)",
        ]
        body = self.analysis.report()
        if not self.family.is_regression:  # location-scale ignores the graph's dimension
            body = re.sub(r"d = [^,]+, sigma\^2 = ", "dimension ignored, s^2 = ", body, count=1)
        return "\n".join(head) + "\n\n" + body

    def _repr_latex_(self) -> str:
        return self.analysis._repr_latex_()

    def _repr_html_(self) -> str:
        import html

        return (f"<p>estimator: {html.escape(self.family.name)}; risks are n-scaled</p>"
                + self.analysis._repr_html_())


def asymptotic_analysis(graph: InteractionGraph, family: Family | str, theta: Any = None,
                        fix_samples: int | None = None) -> MAnalysis:
    r"""Asymptotic verdicts, growth rates and stationary risks of an M-estimator on a graph.

    Parameters
    ----------
    graph : InteractionGraph
    family : Family or str
        A family or the name of a built-in one.
    theta : None, str or sequence, optional
        :math:`\theta^*` (default :func:`default_theta`).
    fix_samples : int, optional
        Real samples per generation given to each learner of the minimal fix (default as
        in :func:`graphcollapse.theory.analysis.minimal_fix`).

    Returns
    -------
    MAnalysis

    Raises
    ------
    GraphValueError
        A growth rate or stationary risk that is nonzero but outside the range of double
        precision (e.g. Poisson at a large :math:`\theta^*`): one line naming ``--theta``.

    Examples
    --------
    Gaussian regression reproduces the large-sample OLS theory exactly:

    >>> from graphcollapse.theory.builders import self_training
    >>> out = asymptotic_analysis(self_training(real_samples=10, samples=30, dimension=2), "gaussian")
    >>> out.to_json()["models"]["L0"]["stationary_risk_exact"]
    '4/35'

    A logistic learner that only trains on itself collapses linearly:

    >>> res = asymptotic_analysis(self_training(real_samples=0, dimension=2), "logistic", "1,-0.5")
    >>> res.collapse, res.to_json()["models"]["L0"]["growth"]
    (True, 'linear')
    """
    if not graph.has_default_regime:  # data regimes and loss weights: docs/regimes.md
        from .regimes import regime_m_analysis

        return regime_m_analysis(graph, family, theta, fix_samples)
    fam = get_family(family) if isinstance(family, str) else family
    th = parse_theta(theta, fam, graph)
    sw = sandwich(graph, fam, th)
    condition = collapse_condition(graph)
    condition.require_decided()
    D = unit_noise_variance(graph, fam)
    B, C = stationary_covariance(graph, condition, D)
    stationary = {k: C[i, i] for i, k in enumerate(B)}
    rates = growth_rates(graph, condition, D)
    value = [_scale(sw.a, rates[k] if condition.collapses[k] else stationary[k], sw.exact)
             for k in range(graph.num_learners)]
    _check_representable({"per-sample risk a": sw.a,
                          **{f"{'growth rate' if condition.collapses[k] else 'stationary risk'} of {name}": value[k]
                             for k, name in enumerate(graph.names)}}, graph, fam, th)
    learners = []
    for k, name in enumerate(graph.names):
        if condition.collapses[k]:
            learners.append(LearnerResult(name, True, "linear", 1, growth_rate=value[k],
                                          components=condition.feeding[k]))
        else:
            learners.append(LearnerResult(name, False, "none", None, stationary_risk=value[k]))
    fix: MinimalFix | None = None
    if not graph.is_symbolic:
        ols_fix = minimal_fix(graph, fix_samples, condition)
        if ols_fix is not None:
            # OLS large-sample risks are d sigma^2 times the unit ones; the argmin is the same.
            factor = float(sw.a) / (float(graph.dimension) * float(graph.noise_variance))
            fix = replace(ols_fix, max_stationary_risk=ols_fix.max_stationary_risk * factor)
    extra: dict[str, Any] = {
        "estimator": fam.name,
        "data_model": fam.model,
        "theta": [to_float(v) for v in th],
        "risk_scaling": "n-scaled: lim n R at the graph's own counts",
        "sandwich": sw.to_json(),
    }
    notes: tuple[str, ...] = ()
    if not sw.exact:
        notes = (f"numbers carry the accuracy of the sandwich ({sw.method}): relative {sw.relative_accuracy:.1e}; "
                 "verdicts are exact (structural).",)
    analysis = Analysis(graph=graph, theory="asymptotic", learners=tuple(learners),
                        components=_components(graph, condition),
                        spectral_radius=spectral_radius(graph, condition) if not graph.is_symbolic
                        else (1.0 if condition.any_collapse is True else float("nan")),
                        minimal_fix=fix, condition=condition, extra=extra, notes=notes)
    return MAnalysis(analysis, fam, sw, th)


@dataclass(frozen=True)
class MPrediction:
    """The result of :func:`asymptotic_prediction`: n-scaled risk trajectories."""

    prediction: Prediction
    family: Family
    sandwich: Sandwich
    theta: tuple[Any, ...]

    @property
    def risk(self) -> dict[str, list[Any]]:
        """``risk[name][t]`` (exact when the sandwich is exact)."""
        return self.prediction.risk

    def to_json(self) -> dict[str, Any]:
        """JSON of ``graphcollapse predict --estimator NAME --json``."""
        out = self.prediction.to_json()
        if not self.sandwich.exact:
            out.pop("risk_exact", None)
        out["estimator"] = self.family.name
        out["sandwich"] = self.sandwich.to_json()
        return out

    def report(self, max_rows: int = 25) -> str:
        """A table of n-scaled risks."""
        return (f"estimator: {self.family.name}; risks are n-scaled (lim n R at the graph's own counts)\n"
                + self.prediction.report(max_rows))

    def _repr_latex_(self) -> str:
        return self.prediction._repr_latex_()

    def _repr_html_(self) -> str:
        import html

        return (f"<p>estimator: {html.escape(self.family.name)}; risks are n-scaled</p>"
                + self.prediction._repr_html_())


def asymptotic_prediction(graph: InteractionGraph, family: Family | str, generations: int,
                          theta: Any = None) -> MPrediction:
    r"""n-scaled risk trajectories :math:`a\,c^{(t)}_{kk}`, :math:`t = 0..T`.

    Parameters
    ----------
    graph : InteractionGraph
    family : Family or str
    generations : int
    theta : None, str or sequence, optional

    Returns
    -------
    MPrediction

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=10, initial_samples=10, dimension=1)
    >>> asymptotic_prediction(G, "location-scale", 2).risk["L0"]
    [3/10, 3/5, 9/10]
    """
    if not graph.has_default_regime:  # data regimes and loss weights: docs/regimes.md
        from .regimes import regime_m_prediction

        return regime_m_prediction(graph, family, generations, theta)
    fam = get_family(family) if isinstance(family, str) else family
    th = parse_theta(theta, fam, graph)
    sw = sandwich(graph, fam, th)
    traj = unit_risk_trajectory(graph, fam, generations)
    risk = {name: [_scale(sw.a, row[k], sw.exact) for row in traj] for k, name in enumerate(graph.names)}
    _check_representable({"per-sample risk a": sw.a,
                          **{f"risk of {name} at t = {t}": v for name, r in risk.items() for t, v in enumerate(r)
                             if t in (0, len(r) - 1)}}, graph, fam, th)
    pred = Prediction(graph=graph, theory="asymptotic", generations=int(generations), risk=risk)
    return MPrediction(pred, fam, sw, th)


def unit_risk_trajectory(graph: InteractionGraph, family: Family | str, generations: int) -> list[tuple[Any, ...]]:
    r"""The risks for unit per-sample risk, :math:`(c^{(t)}_{kk})_k` for :math:`t = 0..T`
    (exact): the n-scaled risks are :math:`a` times these.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=10, initial_samples=10, dimension=1)
    >>> unit_risk_trajectory(G, "location-scale", 2)
    [(1/10,), (1/5,), (3/10,)]
    """
    fam = get_family(family) if isinstance(family, str) else family
    D = unit_noise_variance(graph, fam)
    C0 = sp.diag(*[1 / _as_sympy(n0) for n0 in graph.initial_samples])
    return [tuple(C[k, k] for k in range(graph.num_learners))
            for C in covariance_trajectory(graph, generations, D=D, C0=C0)]
