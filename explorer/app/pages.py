"""The three pages of the explorer, each a Panel layout built from one ExplorerState.

- Explore: one model's 2N×2N similarity heatmap and projection scatter side by side, its numbers,
  the tapped cell's two items, the selected pairs, the labelled clusters, then the in-modal
  difference heatmap, the loss landscape along the gap and the similarity histograms.
- Compare: 2–4 models side by side on the same pairs (shared filter, ordering and gap setting).
- Augment: see :mod:`explorer.app.augment`.

The views themselves live in :mod:`explorer.views`; this module only lays them out.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from .. import views as V

#: frame size of the main heatmap and scatter: both fit side by side in a 1400 px wide window
PLOT_SIZE = 440


def _scatter_is_large(state: Any) -> bool:
    return int(state.active_indices().size) > int(state.datashade_above)


def scatter_holder(state: Any) -> pn.Column:
    """The projection scatter, rebuilt only when the number of shown pairs crosses
    ``state.datashade_above`` (plain glyphs with HTML hover below it, rasterized above)."""
    holder = pn.Column(sizing_mode="fixed")
    current: dict[str, Any] = {"large": None}

    def rebuild(*_: Any) -> None:
        try:
            large = _scatter_is_large(state)
        except Exception:  # the views show the error themselves
            large = current["large"]
        if large == current["large"] and holder.objects:
            return
        current["large"] = large
        holder[:] = [pn.pane.HoloViews(V.projection_scatter(state, size=PLOT_SIZE), name="scatter", css_classes=["bx-scatter"],
                                       linked_axes=False)]

    rebuild()
    state.param.watch(rebuild, ["sample_size", "seed", "caption_filter", "filter_mode", "datashade_above"])
    return holder


def explore_page(state: Any, model_select: Any = None) -> pn.Column:
    heat = pn.pane.HoloViews(V.similarity_heatmap(state, size=PLOT_SIZE), name="heatmap", css_classes=["bx-heatmap"],
                             linked_axes=False)
    side = pn.Column(
        pn.pane.HTML("<b>Numbers</b>", margin=(0, 5)),
        V.numbers_pane(state),
        pn.pane.HTML("<b>Tapped cell</b> (tap the heatmap or a point)", margin=(10, 5, 0, 5)),
        pn.Column(V.inspect_panel(state), css_classes=["bx-inspect-box"], sizing_mode="stretch_width"),
        width=440,
    )
    top = pn.FlexBox(heat, scatter_holder(state), side, flex_wrap="wrap", sizing_mode="stretch_width")
    selection = pn.Card(V.selection_panel(state), title="Selected pairs (box or lasso in the scatter, double-tap a heatmap row)",
                        sizing_mode="stretch_width", max_height=420, scroll=True)
    clusters = pn.Card(V.cluster_gallery(state), title="Clusters (turn on 'cluster matrix by similarity')",
                       sizing_mode="stretch_width", collapsed=not state.cluster)
    state.param.watch(lambda e: setattr(clusters, "collapsed", not e.new), "cluster")
    lower = pn.FlexBox(
        pn.pane.HoloViews(V.difference_heatmap(state, size=400), name="difference", linked_axes=False),
        pn.pane.HoloViews(V.loss_landscape_plot(state, width=480, height=320), name="landscape", linked_axes=False),
        pn.pane.HoloViews(V.similarity_histograms(state, width=480, height=300), name="histograms", linked_axes=False),
        flex_wrap="wrap", sizing_mode="stretch_width",
    )
    header = [model_select] if model_select is not None else []
    return pn.Column(*header, top, selection, clusters, lower, sizing_mode="stretch_width", name="Explore")


def compare_page(state: Any) -> pn.Column:
    names = state.model_names()
    chooser = pn.widgets.MultiChoice(
        name="models to compare (2–4; empty = the first four)", options=names,
        value=[m for m in state.compare_models if m in names], max_items=4, width=600,
    )
    chooser.link(state, value="compare_models", bidirectional=True)
    shared = pn.widgets.Checkbox.from_param(state.param.shared_order, name="every heatmap in the first model's cluster order")
    intro = pn.pane.Markdown(
        "The same pairs, filter, sample, gap setting and clustering for every model; with a shared order a row is the "
        "same pair in every heatmap. Turn on *cluster matrix by similarity* in the sidebar to order them.",
        sizing_mode="stretch_width",
    )
    return pn.Column(intro, pn.Row(chooser, shared), V.compare_view(state), sizing_mode="stretch_width", name="Compare")
