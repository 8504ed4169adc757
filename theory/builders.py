"""Named builders of interaction graphs.

Every builder names its learners ``L0, L1, ...`` and shares the keyword arguments
``real_samples`` (per learner, m_k), ``samples`` (per edge, n_jk), ``initial_samples``
(n0_k), ``dimension`` (d) and ``noise_variance`` (sigma^2). ``real_samples`` may be a
single value or a sequence with one value per learner. Values may be sympy symbols.
The data-regime keywords of :class:`~graphcollapse.theory.graph.InteractionGraph`
(``data_policy``, ``real_data``, ``design``, ``real_weight``, ``edge_weights``,
``regime_defaults``; ``docs/regimes.md``) pass through every builder unchanged.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import GraphValueError
from .graph import InteractionGraph

__all__ = [
    "self_training",
    "chain",
    "cycle",
    "star",
    "complete",
    "random_digraph",
]

DEFAULTS = dict(real_samples=10, samples=10, initial_samples=30, dimension=5, noise_variance=1)


def _per_learner(value: Any, K: int, field: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != K:
            raise GraphValueError(f"{field}: expected {K} values (one per learner), found {len(value)}")
        return list(value)
    return [value] * K


def _check_size(K: Any, minimum: int, family: str) -> int:
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < minimum:
        raise GraphValueError(f"{family}: the number of learners must be an integer >= {minimum}, found {K!r}")
    return int(K)


def _build(K: int, edges: list[tuple[int, int]], real_samples: Any, samples: Any, initial_samples: Any,
           dimension: Any, noise_variance: Any, synthetic_noise_variance: Any = None,
           **regime: Any) -> InteractionGraph:
    names = [f"L{k}" for k in range(K)]
    return InteractionGraph(
        names,
        real_samples=_per_learner(real_samples, K, "real_samples"),
        initial_samples=_per_learner(initial_samples, K, "initial_samples"),
        edges=[(names[s], names[t], samples) for s, t in edges],
        dimension=dimension,
        noise_variance=noise_variance,
        synthetic_noise_variance=None if synthetic_noise_variance is None
        else _per_learner(synthetic_noise_variance, K, "synthetic_noise_variance"),
        **regime,
    )


def self_training(*, real_samples: Any = 0, samples: Any = 10, initial_samples: Any = 30,
                  dimension: Any = 5, noise_variance: Any = 1,
                  synthetic_noise_variance: Any = None, **regime: Any) -> InteractionGraph:
    """One learner trained on its own outputs (a self-loop) plus ``real_samples`` real data.

    Examples
    --------
    >>> from graphcollapse.theory.builders import self_training
    >>> self_training(real_samples=10, samples=30).mixing_matrix
    Matrix([[3/4]])
    >>> self_training(samples=30, data_policy="accumulate").data_policy
    ('accumulate',)
    """
    return _build(1, [(0, 0)], real_samples, samples, initial_samples, dimension, noise_variance,
                  synthetic_noise_variance, **regime)


def chain(K: int, *, real_samples: Any = None, samples: Any = 10, initial_samples: Any = 30,
          dimension: Any = 5, noise_variance: Any = 1, **regime: Any) -> InteractionGraph:
    """A chain L0 -> L1 -> ... -> L(K-1). By default only L0 gets real data (10 samples).

    Examples
    --------
    >>> from graphcollapse.theory.builders import chain
    >>> chain(3).real_samples
    (10, 0, 0)
    """
    K = _check_size(K, 1, "chain")
    if real_samples is None:
        real_samples = [DEFAULTS["real_samples"]] + [0] * (K - 1)
    return _build(K, [(k, k + 1) for k in range(K - 1)], real_samples, samples, initial_samples,
                  dimension, noise_variance, **regime)


def cycle(K: int, *, real_samples: Any = 0, samples: Any = 10, initial_samples: Any = 30,
          dimension: Any = 5, noise_variance: Any = 1, self_loops: bool = False, **regime: Any) -> InteractionGraph:
    """A directed cycle L0 -> L1 -> ... -> L(K-1) -> L0 (period K without self-loops).

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> cycle(2).mixing_matrix
    Matrix([
    [0, 1],
    [1, 0]])
    """
    K = _check_size(K, 1, "cycle")
    edges = [(k, (k + 1) % K) for k in range(K)]
    if self_loops and K > 1:
        edges += [(k, k) for k in range(K)]
    return _build(K, edges, real_samples, samples, initial_samples, dimension, noise_variance, **regime)


def star(K: int, *, direction: str = "out", real_samples: Any = None, samples: Any = 10,
         initial_samples: Any = 30, dimension: Any = 5, noise_variance: Any = 1,
         feedback: bool = False, **regime: Any) -> InteractionGraph:
    """A star with hub L0 and spokes L1..L(K-1).

    ``direction="out"``: the hub feeds every spoke (hub gets real data by default, spokes
    none); ``direction="in"``: every spoke feeds the hub (spokes get real data, the hub
    none). ``feedback=True`` adds the reverse edges too.

    Examples
    --------
    >>> from graphcollapse.theory.builders import star
    >>> star(3).edges
    [('L0', 'L1', 10), ('L0', 'L2', 10)]
    >>> star(3, direction="in").real_samples
    (0, 10, 10)
    """
    K = _check_size(K, 2, "star")
    if direction not in ("out", "in"):
        raise GraphValueError(f"star.direction: expected 'out' or 'in', found {direction!r}")
    out = [(0, k) for k in range(1, K)]
    inn = [(k, 0) for k in range(1, K)]
    edges = out if direction == "out" else inn
    if feedback:
        edges = edges + (inn if direction == "out" else out)
    if real_samples is None:
        m = DEFAULTS["real_samples"]
        real_samples = [m] + [0] * (K - 1) if direction == "out" else [0] + [m] * (K - 1)
    return _build(K, edges, real_samples, samples, initial_samples, dimension, noise_variance, **regime)


def complete(K: int, *, self_loops: bool = True, real_samples: Any = 0, samples: Any = 10,
             initial_samples: Any = 30, dimension: Any = 5, noise_variance: Any = 1, **regime: Any) -> InteractionGraph:
    """The complete digraph on K learners, with or without self-loops.

    Examples
    --------
    >>> from graphcollapse.theory.builders import complete
    >>> complete(2, self_loops=False).mixing_matrix
    Matrix([
    [0, 1],
    [1, 0]])
    """
    K = _check_size(K, 1 if self_loops else 2, "complete")
    edges = [(j, k) for j in range(K) for k in range(K) if self_loops or j != k]
    return _build(K, edges, real_samples, samples, initial_samples, dimension, noise_variance, **regime)


def random_digraph(K: int, edge_probability: float = 0.3, *, seed: int | np.random.Generator | None = 0,
                   self_loop_probability: float | None = None, real_probability: float = 0.5,
                   real_samples: tuple[int, int] = (1, 20), samples: tuple[int, int] = (1, 20),
                   initial_samples: Any = 30, dimension: Any = 5, noise_variance: Any = 1,
                   **regime: Any) -> InteractionGraph:
    """A seeded random interaction graph (Erdos-Renyi edges, random integer counts).

    Each ordered pair (j, k), j != k, is an edge with ``edge_probability``, each self-loop
    with ``self_loop_probability`` (default ``edge_probability``); a learner gets real data
    with ``real_probability``; counts are uniform on the inclusive ranges given. A learner
    left without any data gets real data.

    Examples
    --------
    >>> from graphcollapse.theory.builders import random_digraph
    >>> random_digraph(6, seed=1).edges == random_digraph(6, seed=1).edges
    True
    """
    K = _check_size(K, 1, "random_digraph")
    for name, p in (("edge_probability", edge_probability), ("real_probability", real_probability)):
        if not 0 <= p <= 1:
            raise GraphValueError(f"random_digraph.{name}: expected a probability in [0, 1], found {p}")
    rng = np.random.default_rng(seed)
    p_loop = edge_probability if self_loop_probability is None else self_loop_probability
    probs = np.full((K, K), edge_probability)
    np.fill_diagonal(probs, p_loop)
    mask = rng.random((K, K)) < probs
    lo, hi = samples
    n = rng.integers(lo, hi + 1, size=(K, K))
    has_real = rng.random(K) < real_probability
    mlo, mhi = real_samples
    m = np.where(has_real, rng.integers(mlo, mhi + 1, size=K), 0)
    for k in range(K):
        if m[k] == 0 and not mask[:, k].any():
            m[k] = rng.integers(mlo, mhi + 1)
    names = [f"L{k}" for k in range(K)]
    edges = [(names[j], names[k], int(n[j, k])) for j in range(K) for k in range(K) if mask[j, k]]
    return InteractionGraph(names, real_samples=[int(x) for x in m], initial_samples=[initial_samples] * K,
                            edges=edges, dimension=dimension, noise_variance=noise_variance, **regime)
