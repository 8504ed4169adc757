"""Seeded generators of large interaction graphs for the benchmarks."""

from __future__ import annotations

import numpy as np

from graphcollapse.theory import InteractionGraph


def layered_random_graph(n: int, layers: int, offending: int, *, in_degree: int = 2,
                         window: int | None = 8, seed: int = 2026) -> InteractionGraph:
    """``n`` learners in ``layers`` layers. Layer 0 holds ``offending`` source components
    without real data (sizes 1-4: a third plain cycles of length >= 2, so periodic, the
    rest with a self-loop or a chord, so aperiodic) and healthy sources with real data.
    Every learner of layer l >= 1 has real data and ``in_degree`` producers drawn from
    layer l - 1, plus one from any earlier layer with probability 1/2 (so genealogies
    mix components and phases). With ``window`` set, producers lie within ``window``
    positions of the learner's relative position in their layer (local mixing: a
    learner's genealogy reaches a number of components growing with depth, not the whole
    of layer 0); ``window=None`` draws them uniformly (every deep learner is fed by every
    component)."""
    rng = np.random.default_rng(seed)
    src: list[np.ndarray] = []
    tgt: list[np.ndarray] = []
    start = 0
    for c in range(offending):
        size = 1 + c % 4
        members = np.arange(start, start + size)
        start += size
        src.append(members)
        tgt.append(np.roll(members, -1))  # a cycle (a self-loop when size 1)
        if size >= 2 and c % 3 != 1:  # two thirds get a chord: aperiodic
            src.append(members[:1])
            tgt.append(members[:1])
    n0 = max(start + 1, n // layers)
    bounds = np.linspace(n0, n, layers).astype(np.int64)
    bounds = np.concatenate([[0], bounds])
    layer_of = np.zeros(n, dtype=np.int64)
    for l in range(layers):
        layer_of[bounds[l]:bounds[l + 1]] = l
    def draw(layer: int, targets: np.ndarray) -> np.ndarray:
        lo, hi = bounds[layer], bounds[layer + 1]
        if window is None:
            return rng.integers(lo, hi, len(targets))
        l_t = layer_of[targets]
        rel = (targets - bounds[l_t]) / (bounds[l_t + 1] - bounds[l_t])
        centre = lo + (rel * (hi - lo)).astype(np.int64)
        return np.clip(centre + rng.integers(-window, window + 1, len(targets)), lo, hi - 1)

    for l in range(1, layers):
        members = np.arange(bounds[l], bounds[l + 1])
        for _ in range(in_degree):
            src.append(draw(l - 1, members))
            tgt.append(members)
        extra = members[rng.random(len(members)) < 0.5]
        src.append(draw(int(rng.integers(0, l)), extra))
        tgt.append(extra)
    s = np.concatenate(src)
    t = np.concatenate(tgt)
    key = np.unique(s * n + t)
    s, t = key // n, key % n
    real = np.full(n, 10, dtype=np.int64)
    real[:start] = 0
    samples = rng.integers(5, 30, len(s))
    names = [f"L{k}" for k in range(n)]
    return InteractionGraph(names, real_samples=real.tolist(), initial_samples=[50] * n,
                            edges=list(zip(s.tolist(), t.tolist(), samples.tolist())),
                            dimension=5, noise_variance=1)
