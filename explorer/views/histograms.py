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

from .dynamic import ACTIVE, GAP, MODEL, dynamic
from .heatmap import with_title

GROUP_COLORS = {"image-image": "#1f77b4", "text-text": "#ff7f0e", "matched": "#2ca02c", "unmatched": "#d62728"}


def density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.zeros(counts.shape, dtype=float)
    return counts / (total * np.diff(edges))


def similarity_histograms(state: Any, model: str | None = None, bins: int = 60, width: int = 520, height: int = 300) -> hv.DynamicMap:
    deps = ACTIVE + GAP + (MODEL if model is None else ())

    def build() -> hv.Overlay:
        m = state.resolve_model(model)
        dist = state.distributions(m, bins)
        layers = [
            hv.Histogram((dist.edges, density(dist.counts[g], dist.edges)), kdims=["cosine similarity"], vdims=["density"],
                         label=g).opts(fill_color=GROUP_COLORS[g], fill_alpha=0.45, line_alpha=0)
            for g in GROUP_COLORS
        ]
        return hv.Overlay(layers)

    def empty(msg: str) -> hv.Overlay:
        edges = np.linspace(0, 1, bins + 1)
        return hv.Overlay([hv.Histogram((edges, np.zeros(bins)), kdims=["cosine similarity"], vdims=["density"], label=g)
                           .opts(fill_color=GROUP_COLORS[g], fill_alpha=0.45, line_alpha=0) for g in GROUP_COLORS])

    # framewise: the axes follow the distributions when α moves them
    plot = dynamic(state, deps, build, empty).opts(hv.opts.Overlay(width=width, height=height, legend_position="top_left"),
                                                   hv.opts.Histogram(framewise=True))
    return with_title(plot, state, "Similarity distributions", model)
