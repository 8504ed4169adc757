r"""Generative models on real data: scikit-learn learners on the digits of
``sklearn.datasets.load_digits`` trained along an interaction graph (``docs/experiments.md``).

Every learner is a class-conditional generative model of 8 x 8 digit images (pixels
scaled to [0, 1]). Generation 0: learner :math:`k` fits on :math:`n^0_k` real training
images. Generation :math:`t \ge 1`: it fits on :math:`m_k` real training images plus, for
every edge :math:`j \to k`, :math:`n_{jk}` images sampled from learner :math:`j`'s model of
generation :math:`t - 1`. Counts are those of the graph file times ``sample_scale``; every
batch is balanced over the ten classes (class :math:`c` gets :math:`\lfloor n/10\rfloor`,
plus one for :math:`c < n \bmod 10`), real images are drawn without replacement within a
batch.

Models (:data:`MODELS`), fitted per class:

* ``gaussian``: probabilistic PCA (``sklearn.decomposition.PCA``, :data:`PCA_COMPONENTS`
  components): a Gaussian whose covariance is the PCA subspace plus isotropic noise;
* ``gmm``: ``sklearn.mixture.GaussianMixture`` with :data:`GMM_COMPONENTS` diagonal components;
* ``kde``: ``sklearn.neighbors.KernelDensity``, Gaussian kernel of bandwidth :data:`KDE_BANDWIDTH`.

Quality on the held-out test split (:func:`digits_split`: 30 %, stratified, fixed), per
learner and generation (:data:`METRICS`): the mean test log-likelihood
:math:`\log p(x \mid y)` (nats per image), the Frechet distance between the model's
samples and the test images in the space of the first :data:`FEATURES` principal
components of the training split, and the accuracy on the real test digits of a linear
discriminant classifier (Ledoit-Wolf shrinkage) trained on :data:`EVAL_SAMPLES` labelled samples of the model.

The test of the theory (:meth:`ExperimentResult.trend_tests`): for each learner, the
per-replication least-squares slope of the Frechet distance over the second half of the
generations; a one-sided t-test across replications, Bonferroni over the learners of the
graph (family-wise error rate ``alpha`` of declaring a non-degrading learner degrading),
against the topological verdict of the large-sample theory.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.theory.graph import InteractionGraph

__all__ = ["MODELS", "METRICS", "DigitsData", "ExperimentResult", "digits_split", "fit_learner",
           "run_experiment", "plot_experiment", "plot_samples_grid", "add_subcommand"]

#: Learner families (``--model``).
MODELS = ("gaussian", "gmm", "kde")
#: Quality metrics: name -> (description, +1 if larger is better else -1).
METRICS = {
    "log_likelihood": ("mean test log-likelihood log p(x | y), nats per image", 1),
    "frechet": ("Frechet distance to the test split in the training split's PCA features", -1),
    "accuracy": ("accuracy on real test digits of a linear discriminant classifier trained on the model's samples", 1),
}
CLASSES = 10
PCA_COMPONENTS = 8
GMM_COMPONENTS = 3
GMM_REG = 1e-3
KDE_BANDWIDTH = 0.15
FEATURES = 16
EVAL_SAMPLES = 1000
TEST_FRACTION = 0.3
SPLIT_SEED = 0
#: Fewest images per class a learner may fit on.
MIN_PER_CLASS = 10


def _require_sklearn() -> None:
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:  # pragma: no cover - depends on the installation
        raise GraphValueError("--model: the experiment needs scikit-learn; install graphcollapse[experiments]")


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class DigitsData:
    """The fixed split of the digits and the fixed feature space of the Frechet distance."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    by_class: tuple[np.ndarray, ...]
    features: Any  # fitted sklearn PCA
    test_feature_mean: np.ndarray
    test_feature_cov: np.ndarray


@functools.lru_cache(maxsize=1)
def digits_split() -> DigitsData:
    """The digits (pixels / 16), split 70/30 stratified with a fixed seed, and the PCA
    features of the training split (:data:`FEATURES` components).

    Examples
    --------
    >>> data = digits_split()
    >>> data.X_train.shape, data.X_test.shape
    ((1257, 64), (540, 64))
    """
    _require_sklearn()
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    pca = PCA(FEATURES, random_state=SPLIT_SEED).fit(Xtr)
    F = pca.transform(Xte)
    return DigitsData(Xtr, ytr, Xte, yte, tuple(np.flatnonzero(ytr == c) for c in range(CLASSES)), pca,
                      F.mean(axis=0), np.cov(F, rowvar=False))


def _balanced(n: int) -> np.ndarray:
    """Images per class in a batch of n: n // 10 each, one more for the first n % 10 classes."""
    return np.array([n // CLASSES + (c < n % CLASSES) for c in range(CLASSES)])


def _real_batch(data: DigitsData, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    counts = _balanced(n)
    idx = np.concatenate([rng.choice(data.by_class[c], counts[c], replace=False) for c in range(CLASSES)])
    return data.X_train[idx], data.y_train[idx]


# --------------------------------------------------------------------------- learners
class _ClassConditional:
    """A fitted class-conditional model: ``parts[c]`` is the model of class c."""

    def __init__(self, kind: str, parts: list[Any]) -> None:
        self.kind = kind
        self.parts = parts

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``counts[c]`` samples of class c (drawn from ``rng`` only)."""
        X = [self._sample_class(self.parts[c], int(counts[c]), rng) for c in range(CLASSES)]
        return np.concatenate(X), np.repeat(np.arange(CLASSES), counts)

    def _sample_class(self, m: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        if n == 0:
            return np.empty((0, 64))
        if self.kind == "gaussian":
            mean, root = m[1], m[2]
            return mean + rng.standard_normal((n, mean.size)) @ root.T
        if self.kind == "gmm":
            comp = rng.choice(len(m.weights_), size=n, p=m.weights_)
            return m.means_[comp] + rng.standard_normal((n, m.means_.shape[1])) * np.sqrt(m.covariances_[comp])
        data = m.tree_.data if hasattr(m.tree_, "data") else None  # KernelDensity keeps its training points
        pts = np.asarray(data)
        return pts[rng.integers(0, len(pts), n)] + KDE_BANDWIDTH * rng.standard_normal((n, pts.shape[1]))

    def log_likelihood(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(x | y) per image."""
        out = np.empty(len(X))
        for c in range(CLASSES):
            sel = y == c
            if sel.any():
                m = self.parts[c]
                out[sel] = (m[0] if self.kind == "gaussian" else m).score_samples(X[sel])
        return out


def fit_learner(kind: str, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> _ClassConditional:
    """Fit a class-conditional model of ``kind`` (:data:`MODELS`) to images ``X`` with labels ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> data = digits_split()
    >>> rng = np.random.default_rng(0)
    >>> X, y = _real_batch(data, 200, rng)
    >>> model = fit_learner("gmm", X, y, rng)
    >>> Xs, ys = model.sample(_balanced(30), rng)
    >>> Xs.shape, np.bincount(ys).tolist()
    ((30, 64), [3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import KernelDensity

    parts: list[Any] = []
    for c in range(CLASSES):
        Xc = X[y == c]
        if kind == "gaussian":
            p = PCA(min(PCA_COMPONENTS, len(Xc) - 1), svd_solver="full").fit(Xc)
            cov = p.get_covariance()
            w, V = np.linalg.eigh((cov + cov.T) / 2)
            parts.append((p, p.mean_, V * np.sqrt(np.clip(w, 0, None))))
        elif kind == "gmm":
            parts.append(GaussianMixture(GMM_COMPONENTS, covariance_type="diag", reg_covar=GMM_REG,
                                         init_params="k-means++", random_state=int(rng.integers(2**31))).fit(Xc))
        elif kind == "kde":
            parts.append(KernelDensity(bandwidth=KDE_BANDWIDTH).fit(Xc))
        else:
            raise GraphValueError(f"--model: unknown model {kind!r} (expected one of {', '.join(MODELS)})")
    return _ClassConditional(kind, parts)


def _frechet(F: np.ndarray, data: DigitsData) -> float:
    import scipy.linalg

    mu, S = F.mean(axis=0), np.cov(F, rowvar=False)
    root = scipy.linalg.sqrtm(S @ data.test_feature_cov)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((mu - data.test_feature_mean) ** 2) + np.trace(S + data.test_feature_cov - 2 * root))


def _evaluate(model: _ClassConditional, data: DigitsData, rng: np.random.Generator) -> tuple[float, float, float]:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    ll = float(np.mean(model.log_likelihood(data.X_test, data.y_test)))
    Xs, ys = model.sample(_balanced(EVAL_SAMPLES), rng)
    fd = _frechet(data.features.transform(Xs), data)
    clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(Xs, ys)
    return ll, fd, float(clf.score(data.X_test, data.y_test))


# --------------------------------------------------------------------------- the run
@dataclass
class ExperimentResult:
    """Result of :func:`run_experiment`.

    ``values[metric]`` has shape ``(R, T + 1, K)`` (completed replications only);
    ``samples`` has shape ``(T + 1, K, 10, 64)``: one sample per class of every learner
    and generation in replication 0.
    """

    graph: InteractionGraph
    model: str
    generations: int
    replications: int
    seed: int
    sample_scale: int
    values: dict[str, np.ndarray] = field(repr=False)
    samples: np.ndarray = field(repr=False)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def completed(self) -> int:
        """Replications finished."""
        return int(self.values["frechet"].shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.graph.names)

    def mean_ci(self, metric: str, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Mean over replications and the half-width of its t confidence interval, each ``(T + 1, K)``
        (half-width NaN with one replication)."""
        from scipy import stats

        x = self.values[metric]
        R = x.shape[0]
        mean = x.mean(axis=0)
        if R < 2:
            return mean, np.full_like(mean, np.nan)
        half = stats.t.ppf(0.5 + level / 2, R - 1) * x.std(axis=0, ddof=1) / math.sqrt(R)
        return mean, half

    def theory(self) -> dict[str, Any]:
        """The large-sample verdicts and stationary risks of the graph (OLS, unit scale)."""
        from graphcollapse.theory.analysis import analyze, to_float

        an = analyze(self.graph, theory="large-sample")
        return {r.name: {"collapses": bool(r.collapses),
                         "stationary_risk": None if r.stationary_risk is None else to_float(r.stationary_risk)}
                for r in an.learners}

    def trend_tests(self, alpha: float = 0.05, metric: str = "frechet") -> dict[str, dict[str, Any]]:
        """Per learner: slope of ``metric`` in the direction of degradation over generations
        ``T//2..T`` (per replication, least squares), one-sided t-test of a positive mean
        slope at level ``alpha / K`` (Bonferroni over the K learners), against the theory."""
        from scipy import stats

        sign = -METRICS[metric][1]  # degradation = larger frechet, smaller likelihood/accuracy
        x = sign * self.values[metric]
        T = self.generations
        t = np.arange(T // 2, T + 1)
        K = len(self.names)
        theory = self.theory()
        out = {}
        for k, name in enumerate(self.names):
            pred = theory[name]["collapses"]
            entry: dict[str, Any] = {"predicted_collapse": pred}
            if len(t) < 3 or self.completed < 2:
                entry.update(slope=None, p_value=None, degrades=None, matches=None)
            else:
                slopes = np.polyfit(t, x[:, T // 2:, k].T, 1)[0]
                mean = float(slopes.mean())
                se = float(slopes.std(ddof=1) / math.sqrt(len(slopes)))
                p = float(stats.t.sf(mean / se, len(slopes) - 1)) if se > 0 else (0.0 if mean > 0 else 1.0)
                deg = p < alpha / K
                entry.update(slope=mean, slope_se=se, p_value=p, degrades=bool(deg), matches=bool(deg) == pred)
            out[name] = entry
        return out

    def ordering(self, metric: str = "frechet") -> dict[str, Any]:
        """Observed stationary level (mean of ``metric`` over the last third of the
        generations) of the learners the theory calls bounded, ranked against the theory's
        stationary risks (Kendall's tau; discordant pairs listed)."""
        from scipy import stats

        theory = self.theory()
        T = self.generations
        start = T - max(1, (T + 1) // 3) + 1
        level = -METRICS[metric][1] * self.values[metric][:, start:, :].mean(axis=(0, 1))
        bounded = [k for k, n in enumerate(self.names) if not theory[n]["collapses"]]
        rows = {self.names[k]: {"theory": theory[self.names[k]]["stationary_risk"], "observed": float(level[k])}
                for k in bounded}
        disc = []
        for i, a in enumerate(bounded):
            for b in bounded[i + 1:]:
                na, nb = self.names[a], self.names[b]
                dt = rows[na]["theory"] - rows[nb]["theory"]
                do = rows[na]["observed"] - rows[nb]["observed"]
                if dt * do < 0:
                    disc.append([na, nb])
        tau = None
        if len(bounded) >= 2:
            th = [rows[self.names[k]]["theory"] for k in bounded]
            if len(set(th)) > 1:
                tau = float(stats.kendalltau(th, [rows[self.names[k]]["observed"] for k in bounded]).statistic)
        return {"metric": metric, "generations_averaged": [start, T], "learners": rows, "kendall_tau": tau,
                "discordant_pairs": disc}

    def to_json(self, alpha: float = 0.05) -> dict[str, Any]:
        """Everything as JSON-ready Python objects."""
        per: dict[str, Any] = {}
        for metric in METRICS:
            mean, half = self.mean_ci(metric)
            per[metric] = {name: {"mean": mean[:, k].tolist(), "ci95": half[:, k].tolist()}
                           for k, name in enumerate(self.names)}
        return {"model": self.model, "generations": self.generations, "replications": self.replications,
                "completed": self.completed, "seed": self.seed, "sample_scale": self.sample_scale,
                "interrupted": self.interrupted, "seconds": self.seconds,
                "metrics": {m: d for m, (d, _) in METRICS.items()}, "per_generation": per,
                "trend_tests": {"alpha": alpha, "metric": "frechet", "window": [self.generations // 2,
                                                                                self.generations],
                                "learners": self.trend_tests(alpha)},
                "ordering": self.ordering()}

    def report(self, alpha: float = 0.05) -> str:
        """A readable table: final-generation metrics with 95 % intervals, trend test, verdict."""
        T = self.generations
        trends = self.trend_tests(alpha)
        lines = [f"experiment: {self.model} on sklearn digits, {self.completed}/{self.replications} replications, "
                 f"T = {T}, seed {self.seed}, sample scale {self.sample_scale}, {self.seconds:.1f} s",
                 f"trend test: Frechet slope over generations {T // 2}..{T}, one-sided t-test, "
                 f"Bonferroni over {len(self.names)} learners (family-wise alpha {alpha})",
                 f"{'learner':>10} {'loglik(T)':>17} {'frechet(T)':>15} {'accuracy(T)':>15} "
                 f"{'slope':>9} {'p':>8} {'theory':>9} {'observed':>9} match"]
        stats_ = {m: self.mean_ci(m) for m in METRICS}

        def cell(m: str, k: int, fmt: str) -> str:
            mean, half = stats_[m]
            h = "" if not np.isfinite(half[T, k]) else f"±{half[T, k]:{fmt}}"
            return f"{mean[T, k]:{fmt}}{h}"

        for k, name in enumerate(self.names):
            tr = trends[name]
            slope = "-" if tr["slope"] is None else f"{tr['slope']:.3g}"
            p = "-" if tr["p_value"] is None else f"{tr['p_value']:.2g}"
            obs = "-" if tr["degrades"] is None else ("degrades" if tr["degrades"] else "stable")
            match = "-" if tr["matches"] is None else ("yes" if tr["matches"] else "NO")
            lines.append(f"{name:>10} {cell('log_likelihood', k, '.1f'):>17} {cell('frechet', k, '.2f'):>15} "
                         f"{cell('accuracy', k, '.3f'):>15} {slope:>9} {p:>8} "
                         f"{'collapse' if tr['predicted_collapse'] else 'bounded':>9} {obs:>9} {match}")
        order = self.ordering()
        if order["kendall_tau"] is not None:
            lines.append(f"ordering of bounded learners (Frechet, last generations {order['generations_averaged'][0]}.."
                         f"{T}) vs theory's stationary risks: Kendall tau {order['kendall_tau']:.2f}, discordant "
                         f"pairs: {', '.join('/'.join(p) for p in order['discordant_pairs']) or 'none'}")
        return "\n".join(lines)

    def to_csv(self, path: str) -> None:
        """One row per replication, generation and learner."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["replication", "generation", "learner", *METRICS])
            for r in range(self.completed):
                for t in range(self.generations + 1):
                    for k, name in enumerate(self.names):
                        w.writerow([r, t, name, *(f"{self.values[m][r, t, k]:.6g}" for m in METRICS)])


def _check_graph(graph: InteractionGraph, scale: int, data: DigitsData) -> None:
    if graph.is_symbolic:
        raise GraphValueError("graph: the experiment needs numeric sample counts")
    most = min(len(ix) for ix in data.by_class) * CLASSES
    per_class = [_balanced(int(m) * scale) for m in graph.real_samples]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        per_class[int(t)] = per_class[int(t)] + _balanced(int(n) * scale)  # each batch is balanced on its own
    for k, name in enumerate(graph.names):
        for field_, fewest in (("initial_samples", _balanced(int(graph.initial_samples[k]) * scale).min()),
                               ("total samples N_k", per_class[k].min())):
            if fewest < MIN_PER_CLASS:
                raise GraphValueError(f"{field_} of {name}: with sample scale {scale} some digit gets {fewest} "
                                      f"images, fewer than {MIN_PER_CLASS}; raise --sample-scale")
        for field_, n in (("initial_samples", graph.initial_samples[k]), ("real_samples", graph.real_samples[k])):
            if int(n) * scale > most:
                raise GraphValueError(f"{field_} of {name}: {int(n)} x sample scale {scale} exceeds the "
                                      f"{most} balanced training images; lower --sample-scale")


def run_experiment(graph: InteractionGraph, model: str = "gmm", generations: int = 10, replications: int = 3, *,
                   seed: int | None = None, sample_scale: int = 1,
                   progress: Callable[[int, int], None] | None = None) -> ExperimentResult:
    """Train the learners of ``graph`` for ``generations`` generations, ``replications`` times.

    Replication ``r`` draws from ``numpy.random.default_rng(SeedSequence(seed).spawn(R)[r])``
    only, so results depend on the seed alone. Ctrl-C (KeyboardInterrupt) keeps the
    finished replications (``interrupted`` is set); with none finished it propagates.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> G = self_training(real_samples=0, samples=100, initial_samples=100)
    >>> res = run_experiment(G, "gaussian", 1, 1, seed=0)
    >>> res.values["accuracy"].shape
    (1, 2, 1)
    """
    _require_sklearn()
    if model not in MODELS:
        raise GraphValueError(f"--model: unknown model {model!r} (expected one of {', '.join(MODELS)})")
    T, R, scale = int(generations), int(replications), int(sample_scale)
    if T < 0 or R < 1 or scale < 1:
        raise GraphValueError("--generations >= 0, --replications >= 1 and --sample-scale >= 1 expected")
    data = digits_split()
    _check_graph(graph, scale, data)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)
    inn: list[list[tuple[int, int]]] = [[] for _ in range(graph.num_learners)]
    for s, t, n in zip(graph.edge_sources, graph.edge_targets, graph.edge_samples):
        inn[int(t)].append((int(s), int(n) * scale))
    streams = np.random.SeedSequence(seed).spawn(R)
    done: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    samples = np.zeros((T + 1, graph.num_learners, CLASSES, 64))
    start = time.process_time()
    interrupted = False
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(1):  # small matrices: BLAS threads only contend
            _replications(model, graph, data, T, R, inn, streams, scale, done, samples, progress)
    except KeyboardInterrupt:
        if not done["frechet"]:
            raise
        interrupted = True
    values = {m: np.stack(v) for m, v in done.items()}
    return ExperimentResult(graph, model, T, R, int(seed), scale, values, samples,
                            time.process_time() - start, interrupted)


def _replications(model: str, graph: InteractionGraph, data: DigitsData, T: int, R: int,
                  inn: list[list[tuple[int, int]]], streams: list[Any], scale: int,
                  done: dict[str, list[np.ndarray]], samples: np.ndarray,
                  progress: Callable[[int, int], None] | None) -> None:
    """Run the replications in order, appending each finished one to ``done``."""
    K = graph.num_learners
    for r in range(R):
        rng = np.random.default_rng(streams[r])
        vals = {m: np.empty((T + 1, K)) for m in METRICS}
        models: list[_ClassConditional] = []
        for t in range(T + 1):
            new = []
            for k in range(K):
                if t == 0:
                    X, y = _real_batch(data, int(graph.initial_samples[k]) * scale, rng)
                else:
                    parts = []
                    m_k = int(graph.real_samples[k]) * scale
                    if m_k:
                        parts.append(_real_batch(data, m_k, rng))
                    parts += [models[j].sample(_balanced(n), rng) for j, n in inn[k]]
                    X = np.concatenate([p[0] for p in parts])
                    y = np.concatenate([p[1] for p in parts])
                new.append(fit_learner(model, X, y, rng))
            models = new
            for k in range(K):
                ll, fd, acc = _evaluate(models[k], data, rng)
                vals["log_likelihood"][t, k], vals["frechet"][t, k], vals["accuracy"][t, k] = ll, fd, acc
                if r == 0:
                    samples[t, k] = models[k].sample(np.ones(CLASSES, dtype=int), rng)[0]
        for m in METRICS:
            done[m].append(vals[m])
        if progress is not None:
            progress(r + 1, R)


# --------------------------------------------------------------------------- figures
def plot_experiment(result: ExperimentResult, path: str) -> None:
    """Three panels (log-likelihood, Frechet distance, accuracy) against the generation,
    one line per learner with its 95 % band; dashed lines: learners the theory says collapse.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphcollapse.theory.builders import self_training
    >>> res = run_experiment(self_training(samples=100, initial_samples=100), "kde", 1, 2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "kde.png")
    >>> plot_experiment(res, path); plot_samples_grid(res, path.replace(".png", "-grid.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    theory = result.theory()
    t = np.arange(result.generations + 1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, metric in zip(axes, METRICS):
        mean, half = result.mean_ci(metric)
        for k, name in enumerate(result.names):
            style = "--" if theory[name]["collapses"] else "-"
            line, = ax.plot(t, mean[:, k], style, label=f"{name} ({'collapse' if theory[name]['collapses'] else 'bounded'})")
            if np.isfinite(half).all():
                ax.fill_between(t, mean[:, k] - half[:, k], mean[:, k] + half[:, k], alpha=0.15,
                                color=line.get_color())
        ax.set_xlabel("generation")
        ax.set_title(metric.replace("_", " "))
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{result.model} on sklearn digits ({result.completed} replications, seed {result.seed})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples_grid(result: ExperimentResult, path: str, columns: int = 6) -> None:
    """A grid of samples (replication 0): one row per learner, one column per shown
    generation (about ``columns`` of them, always 0 and T); each cell shows one sample of
    every class (two rows of five digits, pixels clipped to [0, 1]).

    Examples
    --------
    See :func:`plot_experiment`; on the command line: ``--samples-grid FILE``.

    >>> plot_samples_grid.__name__
    'plot_samples_grid'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = result.generations
    gens = sorted(set(np.linspace(0, T, min(columns, T + 1)).round().astype(int).tolist()))
    K = len(result.names)
    fig, axes = plt.subplots(K, len(gens), figsize=(1.7 * len(gens) + 0.6, 0.95 * K + 0.6), squeeze=False)
    for k, name in enumerate(result.names):
        for i, g in enumerate(gens):
            imgs = np.clip(result.samples[g, k], 0, 1).reshape(2, 5, 8, 8)
            cell = np.zeros((2 * 9 - 1, 5 * 9 - 1))  # white gaps between the digits
            for a in range(2):
                for b in range(5):
                    cell[a * 9:a * 9 + 8, b * 9:b * 9 + 8] = imgs[a, b]
            ax = axes[k, i]
            ax.imshow(cell, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_title(f"t = {g}", fontsize=9)
            if i == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(f"{result.model}: one sample per class, replication 0", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- command line
def _cmd_experiment(args: argparse.Namespace) -> int:
    from graphcollapse.verify import cli
    from graphcollapse.verify.driver import ProgressBar

    cli._check_outputs([("--csv", args.csv, None), ("--plot", args.plot, cli.FIGURE_SUFFIXES),
                        ("--samples-grid", args.samples_grid, cli.FIGURE_SUFFIXES)], [("the graph", args.graph)])
    graph = cli._load(args.graph)
    bar = ProgressBar(force=args.progress)
    try:
        result = run_experiment(graph, args.model, args.generations, args.replications, seed=args.seed,
                                sample_scale=args.sample_scale, progress=bar)
    finally:
        bar.close()
    signals = cli._SIGNALS
    if signals is not None:
        signals.hold()
    errors = []
    for option, path, write in (("--csv", args.csv, result.to_csv), ("--plot", args.plot, lambda p: plot_experiment(result, p)),
                                ("--samples-grid", args.samples_grid, lambda p: plot_samples_grid(result, p))):
        if path:
            try:
                write(path)
            except Exception as exc:  # noqa: BLE001 - one failed output must not lose the others
                errors.append(f"{option}: cannot write {path!r} ({' '.join(str(exc).split())[:200]})")
    print(cli.strict_json(result.to_json(args.alpha)) if args.json else result.report(args.alpha))
    for line in errors:
        print(f"graphcollapse: error: {line}", file=sys.stderr)
    if result.interrupted or (signals is not None and signals.received):
        print(f"graphcollapse: interrupted after {result.completed} of {result.replications} replications",
              file=sys.stderr)
        return signals.status if signals is not None and signals.received else 130
    return cli.EXIT_OUTPUT if errors else 0


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--alpha: expected a number in (0, 1), found {text[:30]!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"--alpha: expected a number in (0, 1), found {value}")
    return value


def add_subcommand(sub: Any) -> None:
    """Add ``graphcollapse experiment`` to the subparsers ``sub``.

    Examples
    --------
    >>> from graphcollapse.verify.cli import build_parser
    >>> args = build_parser().parse_args(["experiment", "g.json", "--model", "kde", "-T", "3"])
    >>> args.model, args.generations, args.replications
    ('kde', 3, 3)
    """
    from graphcollapse.verify import cli

    p = sub.add_parser(
        "experiment", help="scikit-learn generative models on the digits, trained along the graph",
        epilog="exit status: 0 done, 1 an output could not be written, 2 bad input, 130 Ctrl-C, 143 SIGTERM "
               "(both print and write\nthe finished replications). Details: docs/experiments.md.\n\n"
               + cli._examples("experiment docs/examples/experiments/self_training.json --model gmm -T 4 -R 2 --seed 1",
                               "experiment docs/examples/demo.json --model kde --sample-scale 10 -T 6 -R 3 --seed 1 "
                               "--plot kde.png --samples-grid kde-grid.png"))
    p.add_argument("graph", type=cli._file("graph"), help="interaction graph JSON file (see docs/format.md)")
    p.add_argument("--model", choices=MODELS, default="gmm", help="the learners' family (default gmm)")
    p.add_argument("-T", "--generations", type=cli._int_at_least("--generations", 0), default=10, metavar="T",
                   help="generations after generation 0 (default 10)")
    p.add_argument("-R", "--replications", type=cli._int_at_least("--replications", 1), default=3, metavar="R",
                   help="independent replications (default 3; the trend test needs >= 2)")
    p.add_argument("--seed", type=cli._int_at_least("--seed", 0), default=None, metavar="S",
                   help="random seed (drawn and recorded when omitted)")
    p.add_argument("--sample-scale", type=cli._int_at_least("--sample-scale", 1), default=1, metavar="S",
                   help="multiply every sample count of the graph by S (each learner needs >= 100 images)")
    p.add_argument("--alpha", type=_alpha, default=0.05, help="family-wise level of the trend tests (default 0.05)")
    p.add_argument("--json", action="store_true", help="print one strict JSON object instead of the table")
    p.add_argument("--csv", type=cli._file("--csv"), default=None, metavar="FILE",
                   help="per replication, generation and learner metrics")
    p.add_argument("--plot", type=cli._file("--plot"), default=None, metavar="FILE",
                   help="metrics against the generation (" + ", ".join(cli.FIGURE_SUFFIXES) + ")")
    p.add_argument("--samples-grid", type=cli._file("--samples-grid"), default=None, metavar="FILE",
                   help="samples per learner across generations (" + ", ".join(cli.FIGURE_SUFFIXES) + ")")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=_cmd_experiment)
