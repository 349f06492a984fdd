"""The loss landscape along the gap (explorer.analysis.landscape.loss_landscape).

The loss of the active pairs while shifting images and captions along the unit gap vector,
against the signed centroid distance; the original embeddings (and the current gap-closed ones)
are marked. The loss variant, batch size and logit scale are in the provenance line beside the
plot (explorer.views.provenance).
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .dynamic import ACTIVE, GAP, MODEL, dynamic
from .heatmap import with_title


def loss_landscape_plot(state: Any, model: str | None = None, width: int = 520, height: int = 320) -> hv.DynamicMap:
    deps = ACTIVE + GAP + ("loss_variant", "batch_size") + (MODEL if model is None else ())

    def build() -> hv.Overlay:
        m = state.resolve_model(model)
        ls = state.landscape(m)
        d = state.numbers(m)
        curve = hv.Curve((ls.distances, ls.losses), "signed gap distance", "loss", label="landscape")
        marks = hv.Scatter(
            [(d["gap_distance_before"], d["loss_before"], "original"), (d["gap_distance_after"], d["loss_after"], "gap setting")],
            "signed gap distance", ["loss", "state"], label="marks",
        ).opts(color="state", cmap={"original": "black", "gap setting": "red"}, size=9, show_legend=True)
        return curve * marks

    def empty(msg: str) -> hv.Overlay:
        return (hv.Curve(([], []), "signed gap distance", "loss", label="landscape")
                * hv.Scatter(np.zeros((0, 3)), "signed gap distance", ["loss", "state"], label="marks").opts(color="state", size=9))

    plot = dynamic(state, deps, build, empty).opts(hv.opts.Curve(width=width, height=height, color="#444", framewise=True))
    return with_title(plot, state, "Loss along the gap", model)
