"""The loss landscape along the gap (explorer.analysis.landscape.loss_landscape).

The loss of the active pairs while shifting images and captions along the unit gap vector,
against the signed centroid distance; the original embeddings (and the current gap-closed ones)
are marked.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import param

from .dynamic import ACTIVE, GAP, MODEL, dynamic


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

    def title(*_: Any) -> str:
        try:
            m = state.resolve_model(model)
            ls = state.landscape(m)
            return (f"Loss along the gap · {state.provenance_line(m)} · {ls.variant} loss, "
                    f"batch {ls.batch_size}, s={ls.logit_scale:.4g}")
        except Exception as exc:
            return f"Loss along the gap · {exc}"

    plot = dynamic(state, deps, build, empty).opts(hv.opts.Curve(width=width, height=height, color="#444"))
    return plot.apply.opts(title=param.bind(title, *[state.param[p] for p in dict.fromkeys(deps)]))
