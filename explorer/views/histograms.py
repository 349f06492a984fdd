"""Histograms of in-modal and cross-modal similarities (explorer.analysis.distributions).

Densities (each group normalised to area 1) of image–image, text–text, matched-pair and
unmatched cross-modal similarities over shared bins; with a modality gap the cross-modal groups
sit below the in-modal ones. The groups' means are in the line beside the plot, with the
provenance (explorer.views.provenance; legend labels stay fixed, so moving α only updates data).
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .dynamic import ACTIVE, GAP, MODEL
from .style import LEGEND_OPTS

GROUP_COLORS = {"image-image": "#1f77b4", "text-text": "#ff7f0e", "matched": "#2ca02c", "unmatched": "#d62728"}


def density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.zeros(counts.shape, dtype=float)
    return counts / (total * np.diff(edges))


def similarity_histograms(state: Any, model: str | None = None, bins: int = 60, width: int = 520, height: int = 300,
                          runner: Any = None) -> hv.DynamicMap:
    """The four similarity distributions of `model` (densities over shared bins). `runner`: where
    they are computed when α or the pairs change (explorer.views.deferred; 10,000×10,000
    similarities take seconds). ``plot.feed`` is the Feed."""
    from .deferred import Feed
    from .dynamic import params_stream
    from .heatmap import feed_title
    from .provenance import feed_provenance_hook, provenance_dict, provenance_text

    def compute() -> dict:
        m = state.resolve_model(model)
        return {"model": m, "dist": state.distributions(m, bins), "provenance": provenance_dict(state, m, "histograms"),
                "provenance_text": provenance_text(state, m, "histograms")}

    feed = Feed(state, compute, lambda: {"model": "", "dist": None}, ACTIVE + GAP + (MODEL if model is None else ()), runner=runner)

    def build(**_: Any) -> hv.Overlay:
        dist = feed.value["dist"]
        if dist is None:
            edges = np.linspace(0, 1, bins + 1)
            counts = {g: np.zeros(bins) for g in GROUP_COLORS}
        else:
            edges, counts = dist.edges, dist.counts
        return hv.Overlay([
            hv.Histogram((edges, density(counts[g], edges)), kdims=["cosine similarity"], vdims=["density"], label=g)
            .opts(fill_color=GROUP_COLORS[g], fill_alpha=0.45, line_alpha=0)
            for g in GROUP_COLORS
        ])

    # framewise: the axes follow the distributions when α moves them; no padding along x, so the
    # axis ends where the similarities do (never past ±1)
    plot = hv.DynamicMap(build, streams=[params_stream(feed.params, ["version"])]).opts(
        hv.opts.Overlay(width=width, height=height, legend_position="top_left", legend_opts=LEGEND_OPTS,
                        hooks=[feed_provenance_hook(feed)]),
        hv.opts.Histogram(framewise=True, padding=(0, (0, 0.05))))
    plot = feed_title(plot, feed, "Similarity distributions")
    plot.feed = feed
    return plot
