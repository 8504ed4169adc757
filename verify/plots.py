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

__all__ = ["plot_verification", "plot_interaction_graph", "plot_sweep_phase", "plot_sweep_trajectories"]


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


# ---------------------------------------------------------------------------- sweeps
#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies).
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")


def plot_sweep_phase(data: dict[str, Any], path: str | Path | None = None) -> Any:
    """A phase diagram of a sweep (:func:`graphcollapse.verify.sweep.phase_data`).

    Bounded cells are coloured by their stationary risk (log scale, cividis), cells that
    collapse linearly or polynomially are orange with ``//`` hatching, geometric collapse
    reddish purple with ``xx``, failed cells (e.g. outside the exact regime) white with
    dots; the exact theoretical boundary is a black curve; Monte Carlo cells carry a
    marker (open circle: agrees with the theory, cross: disagrees, grey dot: not assessed).

    Examples
    --------
    >>> import numpy as np
    >>> data = {"x": [0, 1], "y": [1, 2], "x_label": "m", "y_label": "n", "title": "t",
    ...         "region": np.array([["collapse", "bounded"], ["collapse", "bounded"]], dtype=object),
    ...         "stationary_risk": np.array([[np.nan, 0.5], [np.nan, 0.7]]), "growth": np.full((2, 2), np.nan),
    ...         "agrees": np.full((2, 2), None, dtype=object), "boundary": None}
    >>> fig = plot_sweep_phase(data)
    >>> fig.axes[0].get_xlabel()
    'm'
    """
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.lines import Line2D

    xs = np.asarray(data["x"], dtype=float)
    ys = np.asarray(data["y"], dtype=float)
    region = data["region"]
    risk = np.asarray(data["stationary_risk"], dtype=float)

    def edges(v: np.ndarray) -> np.ndarray:
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    xe, ye = edges(xs), edges(ys)
    fig = _figure(figsize=(5.6, 5.0))
    ax = fig.subplots()
    handles = []
    finite = risk[np.isfinite(risk) & (risk > 0)]
    if finite.size:
        norm = LogNorm(vmin=float(finite.min()), vmax=float(finite.max()) * (1 + 1e-9))
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(np.where(risk > 0, risk, np.nan)), cmap="cividis",
                             norm=norm, shading="flat")
        bar = fig.colorbar(mesh, ax=ax, pad=0.02)
        bar.set_label(r"stationary excess risk $R_\infty$ (units of $\sigma^2$)")
    styles = {"collapse": (OKABE_ITO[6], "//", "collapse (linear / polynomial)"),
              "geometric": (OKABE_ITO[7], "xx", "geometric collapse"),
              "failed": ("white", "..", "no theory (see sweep-report)")}
    for kind, (colour, hatch, label) in styles.items():
        mask = region == kind
        if not mask.any():
            continue
        for i, j in zip(*np.nonzero(mask)):
            ax.add_patch(Rectangle((xe[j], ye[i]), xe[j + 1] - xe[j], ye[i + 1] - ye[i], facecolor=colour,
                                   hatch=hatch, edgecolor="0.35", linewidth=0.0))
        handles.append(Patch(facecolor=colour, hatch=hatch, edgecolor="0.35", label=label))
    if finite.size:
        handles.insert(0, Patch(facecolor="#7f7f7f", label="bounded (colour: risk)"))
    b = data.get("boundary")
    if b is not None:
        ax.contour(b["x"], b["y"], b["margin"], levels=[0.0], colors="k", linewidths=1.6)
        handles.append(Line2D([], [], color="k", lw=1.6, label="exact boundary (theory)"))
    agrees = data["agrees"]
    for flag, marker, colour, label in ((True, "o", "white", "Monte Carlo agrees"),
                                        (False, "X", OKABE_ITO[6], "Monte Carlo disagrees"),
                                        ("not assessed", ".", "0.4", "Monte Carlo not assessed")):
        mask = np.array([[a is flag if isinstance(flag, bool) else a == flag for a in row] for row in agrees],
                        dtype=bool)
        if mask.any():
            ii, jj = np.nonzero(mask)
            hollow = flag is True
            ax.scatter(xs[jj], ys[ii], marker=marker, s=22, facecolors="none" if hollow else colour,
                       edgecolors="k" if hollow else colour, linewidths=0.9, zorder=5)
            handles.append(Line2D([], [], ls="", marker=marker, markerfacecolor="none" if hollow else colour,
                                  markeredgecolor="k" if hollow else colour, label=label))
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(data["x_label"])
    ax.set_ylabel(data["y_label"])
    ax.set_title(data.get("title", ""), fontsize=10)
    fig.tight_layout()
    if handles:
        fig.subplots_adjust(bottom=0.22)
        fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=2, frameon=False)
    return _save(fig, path)


def plot_sweep_trajectories(data: dict[str, Any], path: str | Path | None = None) -> Any:
    """Risk against generation per topology (:func:`graphcollapse.verify.sweep.trajectory_data`):
    one panel per value of the first axis, a theory line per cell (colours in order along
    a colour-blind-safe sequence) and the Monte Carlo means with +- 2 standard errors.

    Examples
    --------
    >>> import numpy as np
    >>> data = {"panels": [{"title": "K = 2", "lines": [{"label": "a", "learner": "L1",
    ...          "theory": np.array([1.0, 2.0, 3.0])}]}], "learner": None, "theory": "exact"}
    >>> fig = plot_sweep_trajectories(data)
    >>> fig.axes[0].get_xlabel()
    'generation t'
    """
    from matplotlib import colormaps

    panels = data["panels"]
    n = len(panels)
    cols = min(n, 2)
    rows = -(-n // cols)
    fig = _figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    cmap = colormaps["viridis"]
    for p, panel in enumerate(panels):
        ax = axes[p // cols][p % cols]
        lines = panel["lines"]
        for i, line in enumerate(lines):
            colour = cmap(0.9 * i / max(len(lines) - 1, 1))
            t = np.arange(len(line["theory"]))
            positive = np.all(line["theory"][1:] > 0)
            ax.plot(t, line["theory"], "-", color=colour, lw=1.4, label=line["label"])
            if "mean" in line:
                tm = np.arange(len(line["mean"]))
                ax.errorbar(tm, line["mean"], yerr=2 * line["se"], fmt="o", ms=2.5, color=colour, capsize=1.5,
                            elinewidth=0.8)
            if positive:
                ax.set_yscale("log")
        ax.set_title(panel["title"], fontsize=9)
        ax.set_xlabel("generation t")
        who = data.get("learner") or "last learner"
        ax.set_ylabel(f"excess risk $R^{{(t)}}$ of {who} (units of $\\sigma^2$)", fontsize=8)
        ax.legend(fontsize=6, ncol=2, frameon=False)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(f"{data.get('theory', 'exact')} theory (lines), Monte Carlo mean ± 2 se (points)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
