"""Histograms of in-modal and cross-modal similarities (explorer.analysis.distributions).

Densities (each group normalised to area 1) of image–image, text–text, matched-pair and
unmatched cross-modal similarities over shared bins; with a modality gap the cross-modal groups
sit below the in-modal ones.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import param

from .dynamic import ACTIVE, GAP, MODEL, dynamic

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

    def title(*_: Any) -> str:
        try:
            m = state.resolve_model(model)
            means = state.distributions(m, bins).means
            mean_s = ", ".join(f"{g} {v:.3f}" for g, v in means.items())
            return f"Similarity distributions (means: {mean_s}) · {state.provenance_line(m)}"
        except Exception as exc:
            return f"Similarity distributions · {exc}"

    plot = dynamic(state, deps, build, empty).opts(hv.opts.Overlay(width=width, height=height, legend_position="top_left"))
    return plot.apply.opts(title=param.bind(title, *[state.param[p] for p in dict.fromkeys(deps)]))
