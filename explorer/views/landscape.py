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

from .dynamic import ACTIVE, GAP, MODEL


def loss_landscape_plot(state: Any, model: str | None = None, width: int = 520, height: int = 320, runner: Any = None) -> hv.DynamicMap:
    """The loss along the gap of `model` with the original and the current gap setting marked.
    `runner`: where its data are computed (explorer.views.deferred). ``plot.feed`` is the Feed."""
    from .deferred import Feed
    from .dynamic import params_stream
    from .heatmap import feed_title
    from .provenance import feed_provenance_hook, provenance_dict, provenance_text

    deps = ACTIVE + GAP + ("loss_variant", "batch_size") + (MODEL if model is None else ())

    def compute() -> dict:
        m = state.resolve_model(model)
        d = state.numbers(m)
        marks = [(d["gap_distance_before"], d["loss_before"], "original"), (d["gap_distance_after"], d["loss_after"], "gap setting")]
        return {"model": m, "landscape": state.landscape(m), "marks": marks,
                "provenance": provenance_dict(state, m, "landscape"), "provenance_text": provenance_text(state, m, "landscape")}

    feed = Feed(state, compute, lambda: {"model": "", "landscape": None, "marks": []}, deps, runner=runner)

    def build(**_: Any) -> hv.Overlay:
        v = feed.value
        ls = v["landscape"]
        curve = hv.Curve((ls.distances, ls.losses) if ls is not None else ([], []), "signed gap distance", "loss", label="landscape")
        rows = v["marks"] or np.zeros((0, 3))
        marks = hv.Scatter(rows, "signed gap distance", ["loss", "state"], label="marks").opts(
            color="state", cmap={"original": "black", "gap setting": "red"}, size=9, show_legend=True)
        return curve * marks

    plot = hv.DynamicMap(build, streams=[params_stream(feed.params, ["version"])]).opts(
        hv.opts.Curve(width=width, height=height, color="#444", framewise=True),
        hv.opts.Overlay(hooks=[feed_provenance_hook(feed)]))
    plot = feed_title(plot, feed, "Loss along the gap")
    plot.feed = feed
    return plot
