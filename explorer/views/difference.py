"""The in-modal difference heatmap D = XXᵀ − YYᵀ (CyCLIP's in-modal consistency).

Zoomed out, a pixel shows the mean of its cells (a max would tint a signed quantity towards
positive values). Diverging colour map centred at 0: symmetric colour limits, ±(99th percentile of |D| as the
zoomed-out heatmap shows it) for `color_range` 'data', ±2 for 'full' (explorer.views.colour).
Rasterized like the similarity heatmap (same pre-aggregated levels when zoomed out), same display
order; the short title carries mean|D| (explorer.analysis.summary.consistency_summary), the
provenance goes beside the plot (explorer.views.provenance).
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .heatmap import LevelCache, matrix_image, symmetric_clim  # noqa: F401 (symmetric_clim re-exported)
from .style import HEATMAP_SIZE


def difference_heatmap(state: Any, model: str | None = None, *, shared: bool = False, size: int = HEATMAP_SIZE,
                       runner: Any = None) -> hv.DynamicMap:
    """XXᵀ − YYᵀ of the displayed embeddings of `model` (None: `state.active_model`). `runner`:
    where its data are computed (explorer.views.deferred). ``plot.feed`` is the Feed."""
    from .dynamic import params_stream
    from .heatmap import colorbar_title_hook, element_clim, feed_title, heatmap_feed, matrix_raster
    from .provenance import feed_provenance_hook

    feed = heatmap_feed(state, model, "difference", shared, size, runner)

    def empty() -> hv.Image:
        return matrix_image(np.full((2, 2), np.nan, np.float32), vdim="difference", clim=(-1.0, 1.0), paired=False)

    raster, fit_hook = matrix_raster(feed, LevelCache(vdim="difference", paired=False), empty, "mean", size)
    raster = raster.apply.opts(cmap=state.param.diverging_cmap)
    raster = raster.apply(lambda el, **_: el.opts(clim=element_clim(el, feed.value, "difference", shared)),
                          streams=[params_stream(feed.params, ["version"])])
    raster = raster.opts(
        colorbar=True, invert_yaxis=True, frame_width=size, frame_height=size, tools=["hover"],
        xlabel="pair (display order)", ylabel="pair (display order)",
        hover_tooltips=[("row", "$y{0}"), ("column", "$x{0}"), ("difference", "@image{0.000}")],
        hooks=[fit_hook, feed_provenance_hook(feed), colorbar_title_hook(feed, "XXᵀ − YYᵀ")],
    )

    def mean_abs(v: dict) -> str:
        return f"mean|D| = {v['mean_abs']:.4f}" if v.get("mean_abs") is not None else ""

    plot = feed_title(raster, feed, "In-modal difference", mean_abs)
    plot.feed = feed
    return plot
