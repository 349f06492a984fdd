"""Histograms of in-modal and cross-modal similarities (explorer.engine.numbers.distributions).

Densities (each group normalised to area 1) of image–image, text–text, matched-pair and
unmatched cross-modal similarities over shared bins; with a modality gap the cross-modal groups
sit below the in-modal ones. Above 1,000 pairs the in-modal and unmatched groups are the cells of
a seeded sample of 1,000 pairs (the matched group is always every pair); the provenance line
says so, with the groups' means.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .feed import Feed, params_of
from .provenance import feed_provenance_hook, provenance_dict, provenance_text
from .style import LEGEND_OPTS

GROUP_COLORS = {"image-image": "#1f77b4", "text-text": "#ff7f0e", "matched": "#2ca02c", "unmatched": "#d62728"}
#: what the histograms depend on
DEPENDS = ("data", "gap.alpha", "gap.renormalize")


def density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.zeros(counts.shape, dtype=float)
    return counts / (total * np.diff(edges))


def histogram_data(state: Any, model: str | None, bins: int = 60) -> dict[str, Any]:
    m = state.resolve_model(model)
    dist, sample = state.distributions(m, bins)
    prov = provenance_dict(state, m, "histograms", means={g: float(v) for g, v in dist.means.items()},
                           estimate=sample.describe())
    return {"model": m, "dist": dist, "provenance": prov, "provenance_text": provenance_text(prov, "histograms")}


def histogram_overlay(value: dict[str, Any], bins: int = 60) -> hv.Overlay:
    dist = value["dist"]
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


def similarity_histograms(state: Any, model: str | None = None, bins: int = 60, width: int = 520, height: int = 300,
                          run: Any = None) -> hv.DynamicMap:
    """The four similarity distributions of `model` (densities over shared bins). ``plot.feed``
    is its Feed."""
    from .cards import truncate

    deps = DEPENDS + (("model.active_model",) if model is None else ())
    feed = Feed(lambda: histogram_data(state, model, bins), params_of(state, deps),
                empty=lambda: {"model": "", "dist": None, "provenance": {}, "provenance_text": ""}, run=run)

    def draw(data: dict) -> hv.Overlay:
        title = f"Similarity distributions · {truncate(data['model'], 40) if data['model'] else (truncate(feed.error, 60) or '…')}"
        return histogram_overlay(data, bins).opts(title=title)

    # framewise: the axes follow the distributions when α moves them; no x padding, so the axis
    # ends where the similarities do (never past ±1)
    plot = hv.DynamicMap(draw, streams=[feed.pipe]).opts(
        hv.opts.Overlay(width=width, height=height, legend_position="right", legend_opts=LEGEND_OPTS,
                        hooks=[feed_provenance_hook(feed)]),
        hv.opts.Histogram(framewise=True, padding=(0, (0, 0.05))))
    plot.feed = feed
    return plot
