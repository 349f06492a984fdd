"""The in-modal difference heatmap D = XXᵀ − YYᵀ (CyCLIP's in-modal consistency).

Diverging colour map centred at 0 (symmetric colour limits ±max|D|), rasterized like the
similarity heatmap (same pre-aggregated levels when zoomed out), same display order; the title carries mean|D|
(:func:`explorer.analysis.similarity.mean_abs_in_modal_difference`).
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
    deps = ACTIVE + GAP + ORDER + (MODEL if model is None else ()) + (COMPARE if shared else ())

    levels = LevelCache(vdim="difference", paired=False, symmetric=True)

    def build(x_range=None, y_range=None, width=None, height=None, **_: Any) -> hv.Image:
        m = state.resolve_model(model)
        return levels.image(state.difference(m, shared), state.aggregation, x_range, y_range, width or size, height or size)

    def empty(_msg: str) -> hv.Image:
        return matrix_image(np.full((2, 2), np.nan, np.float32), vdim="difference", clim=(-1.0, 1.0), paired=False)

    image = dynamic(state, deps + ("aggregation",), build, empty, extra_streams=[hv.streams.RangeXY(), hv.streams.PlotSize()])
    raster = rasterize(image, aggregator=state.param.aggregation, precompute=True).apply.opts(cmap=state.param.diverging_cmap)
    raster = raster.opts(
        colorbar=True, invert_yaxis=True, frame_width=size, frame_height=size, tools=["hover"],
        xlabel="pair (display order)", ylabel="pair (display order)", symmetric=True,
        colorbar_opts={"title": "XXᵀ − YYᵀ"},
    )

    def title(*_: Any) -> str:
        try:
            m = state.resolve_model(model)
            mad = state.numbers(m)["in_modal_difference"]  # analysis.summary.consistency_summary
            return f"In-modal difference · mean|D| = {mad:.4f} · {state.provenance_line(m)}"
        except Exception as exc:
            return f"In-modal difference · {exc}"

    return raster.apply.opts(title=param.bind(title, *[state.param[p] for p in dict.fromkeys(deps)]))


