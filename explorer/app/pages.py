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
from .controls import safe_multichoice
from .template import CSS

#: frame size of the main heatmap and scatter: both fit side by side in a 1400 px wide window
PLOT_SIZE = 400
#: room around a plot's frame: axes, colour bar and toolbar
PLOT_MARGIN = 200


#: the parameters that change which pairs are shown
ACTIVE_PARAMS = ["source", "models", "sample_size", "seed", "caption_filter", "filter_mode"]


def rebuilt_on_change(state: Any, build: Any, key: Any, watch: list[str], *, tag: str = "", width: int | None = None,
                      **pane_options: Any) -> pn.Column:
    """A holder showing ``pn.pane.HoloViews(build())``, rebuilt whenever ``key(state)`` changes
    after one of the `watch` parameters changed. The views' DynamicMaps re-render in place (and
    keep the zoom) for everything else; a new plot is needed when the axes must change, e.g.
    when a caption filter shrinks the 2N×2N matrix or UMAP replaces PCA, or when the scatter
    switches between plain glyphs and rasterized layers above ``state.datashade_above`` pairs. With `tag`, the pane also
    carries the CSS class ``<tag>-<key>`` (e.g. ``bx-n-48``), so a page test can wait for the
    rebuilt plot."""
    holder = pn.Column(sizing_mode="fixed", width=width) if width else pn.Column(sizing_mode="fixed")
    current: dict[str, Any] = {"key": object()}

    def rebuild(*_: Any) -> None:
        try:
            k = key(state)
        except Exception:  # the views show the error themselves
            k = current["key"]
        if k == current["key"] and holder.objects:
            return
        current["key"] = k
        options = dict(pane_options)
        if tag:
            options["css_classes"] = [*options.get("css_classes", []), f"{tag}-{k}"]
        holder[:] = [pn.pane.HoloViews(build(), linked_axes=False, **options)]

    rebuild()
    state.param.watch(rebuild, watch)
    return holder


def _n_shown(state: Any) -> int:
    return int(state.active_indices().size)


#: a new projection (method, mode, components) has new coordinates: the scatter's axes must follow
PROJECTION_PARAMS = ["projection", "projection_mode", "x_component", "y_component"]


def _scatter_key(state: Any) -> tuple:
    n = _n_shown(state)
    return (n > int(state.datashade_above), n, *(getattr(state, p) for p in PROJECTION_PARAMS))


def scatter_holder(state: Any) -> pn.Column:
    return rebuilt_on_change(
        state, lambda: V.projection_scatter(state, size=PLOT_SIZE),
        _scatter_key, ACTIVE_PARAMS + PROJECTION_PARAMS + ["datashade_above"],
        width=PLOT_SIZE + PLOT_MARGIN, name="scatter", css_classes=["bx-scatter"],
    )


def heatmap_holder(state: Any) -> pn.Column:
    return rebuilt_on_change(state, lambda: V.similarity_heatmap(state, size=PLOT_SIZE), _n_shown, ACTIVE_PARAMS,
                             tag="bx-n", width=PLOT_SIZE + PLOT_MARGIN, name="heatmap", css_classes=["bx-heatmap"])


def styled(pane: Any) -> Any:
    """Give an HTML pane the explorer's table/card CSS (Panel renders panes in shadow DOM, so page
    CSS does not reach them)."""
    pane.stylesheets = [*pane.stylesheets, CSS]
    return pane


def explore_page(state: Any) -> pn.Column:
    top = pn.FlexBox(heatmap_holder(state), scatter_holder(state), flex_wrap="wrap", sizing_mode="stretch_width")
    numbers = pn.Column(pn.pane.HTML("<b>Numbers</b>", margin=(0, 5)), styled(V.numbers_pane(state)), width=470,
                        css_classes=["bx-numbers-box"])
    inspect = pn.Column(pn.pane.HTML("<b>Tapped cell</b> (tap the heatmap or a point)", margin=(0, 5)),
                        styled(V.inspect_panel(state)), width=520, css_classes=["bx-inspect-box"])
    selection = pn.Column(pn.pane.HTML("<b>Selected pairs</b> (box or lasso in the scatter, double-tap a heatmap row)",
                                       margin=(0, 5)),
                          styled(V.selection_panel(state)), min_width=360, max_height=520, scroll=True,
                          sizing_mode="stretch_width", css_classes=["bx-selection-box"])
    middle = pn.FlexBox(numbers, inspect, selection, flex_wrap="wrap", sizing_mode="stretch_width")
    clusters = pn.Card(styled(V.cluster_gallery(state)), title="Clusters (turn on 'cluster matrix by similarity')",
                       sizing_mode="stretch_width", collapsed=not state.cluster)
    state.param.watch(lambda e: setattr(clusters, "collapsed", not e.new), "cluster")
    lower = pn.FlexBox(
        rebuilt_on_change(state, lambda: V.difference_heatmap(state, size=400), _n_shown, ACTIVE_PARAMS, name="difference"),
        pn.pane.HoloViews(V.loss_landscape_plot(state, width=480, height=320), name="landscape", linked_axes=False),
        pn.pane.HoloViews(V.similarity_histograms(state, width=480, height=300), name="histograms", linked_axes=False),
        flex_wrap="wrap", sizing_mode="stretch_width",
    )
    return pn.Column(top, middle, clusters, lower, sizing_mode="stretch_width", name="Explore")


def compare_page(state: Any) -> pn.Column:
    names = state.model_names()
    chooser = safe_multichoice("models to compare (2–4; empty = the first four)", names, list(state.compare_models),
                               max_items=4, width=600)
    chooser.link(state, value="compare_models", bidirectional=True)
    shared = pn.widgets.Checkbox.from_param(state.param.shared_order, label="every heatmap in the first model's cluster order")
    intro = pn.pane.Markdown(
        "The same pairs, filter, sample, gap setting and clustering for every model; with a shared order a row is the "
        "same pair in every heatmap. Turn on *cluster matrix by similarity* in the sidebar to order them.",
        sizing_mode="stretch_width",
    )
    holder = pn.Column(sizing_mode="stretch_width")
    current: dict[str, Any] = {"n": None}

    def rebuild(*_: Any) -> None:  # new plots when the number of shown pairs changes (their axes must change)
        try:
            n = _n_shown(state)
        except Exception:
            n = current["n"]
        if n == current["n"] and holder.objects:
            return
        current["n"] = n
        view = V.compare_view(state)
        for obj in view.select(pn.pane.HTML):
            styled(obj)
        holder[:] = [view]

    rebuild()
    state.param.watch(rebuild, ACTIVE_PARAMS)
    return pn.Column(intro, pn.Row(chooser, shared), holder, sizing_mode="stretch_width", name="Compare", css_classes=["bx-compare"])
