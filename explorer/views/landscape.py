"""The loss landscape along the gap (explorer.engine.numbers.landscape).

The loss of the shown pairs while shifting images and captions along the unit gap vector,
against the signed centroid distance; the original embeddings and the current gap setting are
marked. The loss variant, batch size and logit scale are in the provenance line beside the plot.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .feed import Feed, params_of
from .provenance import feed_provenance_hook, provenance_dict, provenance_text
from .style import LEGEND_OPTS

#: what the landscape depends on
DEPENDS = ("data", "gap")


def landscape_data(state: Any, model: str | None) -> dict[str, Any]:
    m = state.resolve_model(model)
    d = state.numbers(m, recall=False)
    ls = state.landscape(m)
    marks = [(d["gap_distance_before"], d["loss_before"], "original"), (d["gap_distance_after"], d["loss_after"], "gap setting")]
    prov = provenance_dict(state, m, "landscape", landscape_note=ls.note)
    return {"model": m, "landscape": ls, "marks": marks, "provenance": prov, "provenance_text": provenance_text(prov, "landscape")}


def landscape_overlay(value: dict[str, Any]) -> hv.Overlay:
    ls = value["landscape"]
    curve = hv.Curve((ls.distances, ls.losses) if ls is not None else ([], []), "signed gap distance", "loss", label="landscape")
    rows = value["marks"] or np.zeros((0, 3))
    marks = hv.Scatter(rows, "signed gap distance", ["loss", "state"], label="marks").opts(
        color="state", cmap={"original": "black", "gap setting": "red"}, size=9, show_legend=True)
    return curve * marks


def loss_landscape_plot(state: Any, model: str | None = None, width: int = 520, height: int = 320, run: Any = None) -> hv.DynamicMap:
    """The loss along the gap of `model` with the original and the current gap setting marked.
    ``plot.feed`` is its Feed."""
    from .cards import truncate

    deps = DEPENDS + (("model.active_model",) if model is None else ())
    feed = Feed(lambda: landscape_data(state, model), params_of(state, deps),
                empty=lambda: {"model": "", "landscape": None, "marks": [], "provenance": {}, "provenance_text": ""}, run=run)

    def draw(data: dict) -> hv.Overlay:
        title = f"Loss along the gap · {truncate(data['model'], 40) if data['model'] else (truncate(feed.error, 60) or '…')}"
        return landscape_overlay(data).opts(title=title)

    plot = hv.DynamicMap(draw, streams=[feed.pipe]).opts(
        hv.opts.Curve(width=width, height=height, color="#444", framewise=True),
        hv.opts.Overlay(hooks=[feed_provenance_hook(feed)], legend_opts=LEGEND_OPTS, legend_position="top"))
    plot.feed = feed
    return plot
