"""Figures of a verification (matplotlib, imported lazily; PNG or PDF by file suffix).

* :func:`plot_verification`: per learner, the theory curve and the Monte Carlo means with
  error bars (+- 2 standard errors) over the generations.
* :func:`plot_interaction_graph`: the interaction graph, learners coloured by verdict
  (:func:`graphcollapse.theory.condition.collapse_condition`), offending source components outlined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graphcollapse.theory.graph import InteractionGraph

__all__ = ["plot_verification", "plot_interaction_graph"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path | None) -> Any:
    if path is not None:
        import os
        import tempfile

        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=path.suffix or ".png")
        os.close(fd)
        try:
            fig.savefig(tmp, format=(path.suffix[1:] or "png"), bbox_inches="tight")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _pyplot().close(fig)
    return fig


def plot_verification(result: Any, path: str | Path | None = None) -> Any:
    """Theory curves with Monte Carlo error bars (+- 2 se), one panel per learner.

    Parameters
    ----------
    result : verify.montecarlo.OLSVerification
    path : str or Path, optional
        Where to save (atomically); the figure is returned either way.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> from graphcollapse.verify.montecarlo import verify_ols
    >>> res = verify_ols(cycle(2, real_samples=20, initial_samples=40, dimension=2),
    ...                  generations=2, replications=100, seed=0)
    >>> fig = plot_verification(res)
    >>> len(fig.axes)
    2
    """
    plt = _pyplot()
    K = len(result.names)
    cols = min(K, 4)
    rows = -(-K // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    t = np.arange(result.theory.shape[0])
    for k, name in enumerate(result.names):
        ax = axes[k // cols][k % cols]
        ax.plot(t, result.theory[:, k], "-", color="C0", label=f"{result.theory_name} theory")
        ax.errorbar(t, result.mean[:, k], yerr=2 * result.se[:, k], fmt="o", ms=3, color="C1", capsize=2,
                    label="Monte Carlo (+-2 se)")
        ax.set_title(name + ("" if result.reliable[k] else " (se unreliable)"), fontsize=9)
        ax.set_xlabel("generation t")
        ax.set_ylabel("excess risk")
    for k in range(K, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"seed {result.seed}, {result.completed} replications, agrees: {result.agrees}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_interaction_graph(graph: InteractionGraph, path: str | Path | None = None) -> Any:
    """Draw ``graph``: red learners collapse (topological verdict), green stay bounded; offending source
    components are outlined by dashed ellipses; edge labels are the sample counts.

    Examples
    --------
    >>> from graphcollapse.theory.builders import cycle
    >>> fig = plot_interaction_graph(cycle(3))
    >>> fig.axes[0].get_title()
    '3 learners: 3 collapse'
    """
    import networkx as nx
    from matplotlib.patches import Ellipse

    from graphcollapse.theory.condition import collapse_condition

    plt = _pyplot()
    cond = collapse_condition(graph)
    G = graph.to_networkx() if hasattr(graph, "to_networkx") else graph.digraph()
    pos = nx.spring_layout(G, seed=0) if len(G) > 2 else nx.circular_layout(G)
    collapses = [bool(c) for c in cond.collapses]
    colors = ["#d62728" if c else "#2ca02c" for c in collapses]
    fig, ax = plt.subplots(figsize=(5, 4))
    nx.draw_networkx(G, pos, ax=ax, node_color=[colors[graph.names.index(n)] for n in G.nodes],
                     font_size=8, node_size=500, arrows=True, connectionstyle="arc3,rad=0.1")
    nx.draw_networkx_edge_labels(G, pos, ax=ax, font_size=7,
                                 edge_labels={(s, t): str(n) for s, t, n in graph.edges})
    xy = np.array(list(pos.values()))
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    for comp in cond.components:
        pts = np.array([pos[graph.names[i]] for i in comp.members])
        centre = pts.mean(axis=0)
        size = (np.ptp(pts, axis=0) + 0.35) * 1.3
        ax.add_patch(Ellipse(centre, size[0], size[1], fill=False, ls="--", ec="k", lw=1.2))
        lo, hi = np.minimum(lo, centre - size / 2), np.maximum(hi, centre + size / 2)
    pad = 0.12 * max(float(np.max(hi - lo)), 1.0)  # room for the outlines and node labels
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_title(f"{graph.num_learners} learners: {sum(collapses)} collapse")
    ax.axis("off")
    return _save(fig, path)
