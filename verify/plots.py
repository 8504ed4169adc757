"""Figures of a verification (matplotlib, imported lazily; PNG or PDF by file suffix).

* :func:`plot_verification`: per learner, the theory curve and the Monte Carlo means with
  error bars (+- 2 standard errors) over the generations; one series per sample-size
  scale for M-estimators.
* :func:`plot_interaction_graph`: the interaction graph, learners coloured by verdict
  (:func:`graphcollapse.theory.condition.collapse_condition`), offending source components outlined.

Figures are :class:`matplotlib.figure.Figure` objects with an Agg canvas, made without
pyplot: the library never selects or switches matplotlib's global backend, and the
figures are not registered with pyplot (nothing to close; they are freed like any object).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graphcollapse.theory.graph import InteractionGraph

__all__ = ["plot_verification", "plot_interaction_graph"]


def _figure(**kwargs: Any) -> Any:
    """A new Figure on its own Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path | None) -> Any:
    """Save ``fig`` to ``path`` atomically (format from the suffix, PNG without one)."""
    if path is not None:
        import os
        import tempfile

        from .driver import _publish

        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=path.suffix or ".png")
        os.close(fd)
        try:
            fig.savefig(tmp, format=(path.suffix[1:] or "png"), bbox_inches="tight")
            _publish(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return fig


def plot_verification(result: Any, path: str | Path | None = None) -> Any:
    """Theory curves with Monte Carlo error bars (+- 2 se), one panel per learner.

    Parameters
    ----------
    result : graphcollapse.verify.driver.Verification
        Of any estimator (:meth:`~graphcollapse.verify.driver.Verification.series` gives
        the series: one for OLS, one per scale for M-estimators).
    path : str or Path, optional
        Where to save (atomically); the figure is returned either way.

    Returns
    -------
    matplotlib.figure.Figure

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
    K = len(result.names)
    cols = min(K, 4)
    rows = -(-K // cols)
    fig = _figure(figsize=(3.2 * cols, 2.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    series = result.series()
    tested = result.panel_tested()
    for k, name in enumerate(result.names):
        ax = axes[k // cols][k % cols]
        _draw_panel(ax, k, series, result.theory_name)
        ax.set_title(name + ("" if tested[k] else " (not tested)"), fontsize=9)
        ax.set_xlabel("generation t")
        ax.set_ylabel(result.quantity)
    for k in range(K, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{result.estimator}: seed {result.seed}, {result.completed} replications, "
                 f"agrees: {result.agrees}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _draw_panel(ax: Any, k: int, series: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                theory_name: str) -> None:
    """Learner ``k``: the theory line, then each series' means +- 2 se (side by side)."""
    t = np.arange(series[0][1].shape[0])
    ax.plot(t, series[0][1][:, k], "-", color="k", label=f"{theory_name} theory")
    for i, (label, _, mean, se) in enumerate(series):
        shift = 0.08 * (i - (len(series) - 1) / 2)
        ax.errorbar(t + shift, mean[:, k], yerr=2 * se[:, k], fmt="o", ms=3, color=f"C{i + 1}", capsize=2,
                    label=f"{label} (+-2 se)")


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

    cond = collapse_condition(graph)
    G = graph.to_networkx()  # nodes are the learner names
    pos = nx.spring_layout(G, seed=0) if len(G) > 2 else nx.circular_layout(G)
    collapses = [bool(c) for c in cond.collapses]
    colors = ["#d62728" if c else "#2ca02c" for c in collapses]
    fig = _figure(figsize=(5, 4))
    ax = fig.subplots()
    # the parts of nx.draw_networkx, which would also make pyplot pick a backend
    nx.draw_networkx_nodes(G, pos, ax=ax, node_color=[colors[graph.names.index(n)] for n in G.nodes], node_size=500)
    nx.draw_networkx_edges(G, pos, ax=ax, arrows=True, node_size=500, connectionstyle="arc3,rad=0.1")
    nx.draw_networkx_labels(G, pos, ax=ax, font_size=8)
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
