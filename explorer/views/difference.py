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
import param
from holoviews.operation.datashader import rasterize

from .dynamic import ACTIVE, COMPARE, GAP, MODEL, ORDER, dynamic
from .heatmap import LevelCache, matrix_image, symmetric_clim  # noqa: F401 (symmetric_clim re-exported)
from .style import HEATMAP_SIZE


def difference_heatmap(state: Any, model: str | None = None, *, shared: bool = False, size: int = HEATMAP_SIZE) -> hv.DynamicMap:
    """XXᵀ − YYᵀ of the displayed embeddings of `model` (None: `state.active_model`)."""
    from .heatmap import colorbar_title_hook, with_clim, with_title
    from .provenance import provenance_hook

    deps = ACTIVE + GAP + ORDER + (MODEL if model is None else ()) + (COMPARE if shared else ())

    levels = LevelCache(vdim="difference", paired=False)

    def build(x_range=None, y_range=None, width=None, height=None, **_: Any) -> hv.Image:
        m = state.resolve_model(model)
        lv = state.matrix_levels(m, "difference", shared=shared)
        clim = state.color_limits(m, "difference", shared, pixels=size)
        return levels.image(lv, clim, x_range, y_range, width or size, height or size)

    def empty(_msg: str) -> hv.Image:
        return matrix_image(np.full((2, 2), np.nan, np.float32), vdim="difference", clim=(-1.0, 1.0), paired=False)

    image = dynamic(state, deps + ("color_range",), build, empty,
                    extra_streams=[hv.streams.RangeXY(), hv.streams.PlotSize()])
    raster = rasterize(image, aggregator="mean", precompute=True)  # state.pixel_aggregation("difference")
    raster = with_clim(raster.apply.opts(cmap=state.param.diverging_cmap), state, model, "difference", shared, size, deps)
    raster = raster.opts(
        colorbar=True, invert_yaxis=True, frame_width=size, frame_height=size, tools=["hover"],
        xlabel="pair (display order)", ylabel="pair (display order)",
        hover_tooltips=[("row", "$y{0}"), ("column", "$x{0}"), ("difference", "@image{0.000}")],
        hooks=[provenance_hook(state, model, "difference", shared), colorbar_title_hook(state, "XXᵀ − YYᵀ")],
    )

    def mean_abs(m: str) -> str:
        return f"mean|D| = {state.numbers(m)['in_modal_difference']:.4f}"

    return with_title(raster, state, "In-modal difference", model, mean_abs, deps=ACTIVE + GAP)
