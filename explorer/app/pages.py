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
from ..views.deferred import dispose_views, feed_provenance_pane
from ..views.scatter import scatter_provenance_pane
from .controls import safe_multichoice
from .template import CSS, clickable_checkbox

#: frame size of the main heatmap and scatter: both fit side by side in a 1400 px wide window
PLOT_SIZE = 400
#: room around a plot's frame: axes, colour bar and toolbar
PLOT_MARGIN = 200


#: the parameters that change which pairs are shown
ACTIVE_PARAMS = ["source", "models", "sample_size", "seed", "caption_filter", "filter_mode"]


def rebuilt_on_change(state: Any, build: Any, key: Any, watch: list[str], *, tag: str = "", width: int | None = None,
                      after: Any = None, **pane_options: Any) -> pn.Column:
    """A holder showing ``pn.pane.HoloViews(build())``, rebuilt whenever ``key(state)`` changes
    after one of the `watch` parameters changed. The views' DynamicMaps re-render in place (and
    keep the zoom) for everything else; a new plot is needed when the axes must change, e.g.
    when a caption filter shrinks the 2N×2N matrix or UMAP replaces PCA, or when the scatter
    switches between plain glyphs and rasterized layers above ``state.datashade_above`` pairs. With `tag`, the pane also
    carries the CSS class ``<tag>-<key>`` (e.g. ``bx-n-48``), so a page test can wait for the
    rebuilt plot. `after(plot)`: components shown under the plot, rebuilt with it."""
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
        plot = build()
        old = list(holder.objects)
        holder[:] = [pn.pane.HoloViews(plot, linked_axes=False, **options), *(after(plot) if after else [])]
        for obj in old:  # the replaced plot stops computing
            dispose_views(obj)

    rebuild()
    state.param.watch(rebuild, watch)
    return holder


def _n_shown(state: Any) -> int:
    return int(state.active_indices().size)


def _scatter_key(state: Any) -> tuple[bool, bool, bool]:
    """The scatter is rebuilt only to switch between plain glyphs and rasterized layers, or
    between points coloured by modality (categories) and by a faithfulness measure (a colour
    scale: Bokeh cannot turn one colour mapper into the other in place); new coordinates (α,
    projection method, mode, components, filter) update it in place (its axes follow them); one
    point per pair (concatenated mode) is coloured by the pair's similarity, so entering or leaving
    that mode rebuilds it too."""
    from ..views.scatter import concatenated

    return _n_shown(state) > int(state.datashade_above), state.point_color == "modality", concatenated(state)


def scatter_holder(state: Any, runner: Any = None) -> pn.Column:
    """The scatter and its provenance line; its projection is computed by `runner` (a background
    thread on a server), so a slow UMAP never holds up the rest of the page."""
    return rebuilt_on_change(
        state, lambda: V.projection_scatter(state, size=PLOT_SIZE, runner=runner),
        _scatter_key, ACTIVE_PARAMS + ["datashade_above", "point_color", "projection_mode"],
        width=PLOT_SIZE + PLOT_MARGIN, name="scatter", css_classes=["bx-scatter"],
        after=lambda plot: [styled(scatter_provenance_pane(plot.feed))],
    )


def heatmap_holder(state: Any, runner: Any = None) -> pn.Column:
    """The similarity heatmap and its provenance line, rebuilt when the number of shown pairs
    changes (its axes must change); its data are computed by `runner`."""
    return rebuilt_on_change(state, lambda: V.similarity_heatmap(state, size=PLOT_SIZE, runner=runner), _n_shown, ACTIVE_PARAMS,
                             tag="bx-n", width=PLOT_SIZE + PLOT_MARGIN, name="heatmap", css_classes=["bx-heatmap"],
                             after=lambda plot: [styled(feed_provenance_pane(plot.feed))])


def styled(pane: Any) -> Any:
    """Give an HTML pane the explorer's table/card CSS (Panel renders panes in shadow DOM, so page
    CSS does not reach them)."""
    pane.stylesheets = [*pane.stylesheets, CSS]
    return pane


def heatmap_controls(state: Any) -> pn.Row:
    """The heatmap's look, beside it: what a pixel shows (max keeps the diagonal visible when
    zoomed out, mean shows averages) and the colour range (data = robust limits from the values
    shown, full = [-1, 1]); the same parameters as in the sidebar's Appearance group."""
    pixels = pn.widgets.RadioButtonGroup.from_param(
        state.param.aggregation, options={"max per pixel": "max", "mean per pixel": "mean"}, label="", color="light",
        variant="outline", margin=(0, 5), css_classes=["bx-aggregation"])
    colours = pn.widgets.RadioButtonGroup.from_param(
        state.param.color_range, options={"colours: data p1–p99": "data", "visible": "visible", "full −1…1": "full"}, label="",
        color="light", variant="outline", margin=(0, 5), css_classes=["bx-color-range"],
        description="data: 1st–99th percentile of the zoomed-out values; visible: of the cells on screen, after each zoom; full: −1…1")
    return pn.Row(pixels, colours, margin=(0, 0, 0, 50))


def scatter_controls(state: Any) -> pn.Row:
    """The projection method and the point colour, beside the scatter (also in the sidebar)."""
    method = pn.widgets.RadioButtonGroup.from_param(state.param.projection, label="", color="light", variant="outline",
                                                    margin=(0, 5), css_classes=["bx-projection"])
    colour = pn.widgets.Select.from_param(
        state.param.point_color, label="", width=190, margin=(0, 5), css_classes=["bx-point-color"],
        options={"points by modality": "modality", "points by kNN overlap": "kNN overlap", "points by trustworthiness": "trustworthiness"})
    return pn.Row(method, colour, margin=(0, 0, 0, 50))


def plot_column(holder: Any, provenance: Any, *above: Any, width: int = PLOT_SIZE + PLOT_MARGIN) -> pn.Column:
    """A plot with what belongs to it: controls above, its provenance line below."""
    return pn.Column(*above, holder, provenance, width=width, margin=(0, 5))


def explore_page(state: Any, runner: Any = None) -> pn.Column:
    """The Explore page (see module docstring). `runner` computes the views' data off the event
    loop (explorer.app.background.run_in_background on a server): a slider move returns at once,
    each view fills in when its data are ready (its provenance line says "updating" meanwhile),
    the latest settings winning; faithfulness only while its section is open."""
    width = PLOT_SIZE + PLOT_MARGIN
    top = pn.FlexBox(
        pn.Column(heatmap_controls(state), heatmap_holder(state, runner), width=width, margin=(0, 5)),
        pn.Column(scatter_controls(state), scatter_holder(state, runner), width=width, margin=(0, 5)),
        flex_wrap="wrap", sizing_mode="stretch_width",
    )
    numbers = pn.Column(pn.pane.HTML("<b>Numbers</b>", margin=(0, 5)), styled(V.numbers_pane(state, faithfulness=False, runner=runner)),
                        width=470, css_classes=["bx-numbers-box"])
    inspect = pn.Column(pn.pane.HTML("<b>Tapped cell</b> (tap the heatmap or a point)", margin=(0, 5)),
                        styled(V.inspect_panel(state)), width=520, css_classes=["bx-inspect-box"])
    selection = pn.Column(pn.pane.HTML("<b>Selected pairs</b> (box or lasso in the scatter, double-tap a heatmap row)",
                                       margin=(0, 5)),
                          styled(V.selection_panel(state)), min_width=360, max_height=520, scroll=True,
                          sizing_mode="stretch_width", css_classes=["bx-selection-box"])
    middle = pn.FlexBox(numbers, inspect, selection, flex_wrap="wrap", sizing_mode="stretch_width")
    faithfulness = faithfulness_card(state, runner)
    def clusters_title(on: bool) -> str:
        return "Clusters" if on else "Clusters (turn on 'cluster matrix by similarity')"

    clusters = pn.Card(styled(V.cluster_gallery(state)), title=clusters_title(state.cluster),
                       sizing_mode="stretch_width", collapsed=not state.cluster)
    state.param.watch(lambda e: clusters.param.update(collapsed=not e.new, title=clusters_title(e.new)), "cluster")
    landscape = V.loss_landscape_plot(state, width=480, height=320, runner=runner)
    histograms = V.similarity_histograms(state, width=480, height=300, runner=runner)
    lower = pn.FlexBox(
        rebuilt_on_change(state, lambda: V.difference_heatmap(state, size=400, runner=runner), _n_shown, ACTIVE_PARAMS,
                          width=600, name="difference", after=lambda plot: [styled(feed_provenance_pane(plot.feed))]),
        plot_column(pn.pane.HoloViews(landscape, name="landscape", linked_axes=False), styled(feed_provenance_pane(landscape.feed)),
                    width=560),
        plot_column(pn.pane.HoloViews(histograms, name="histograms", linked_axes=False), styled(feed_provenance_pane(histograms.feed)),
                    width=560),
        flex_wrap="wrap", sizing_mode="stretch_width",
    )
    return pn.Column(top, middle, faithfulness, clusters, lower, sizing_mode="stretch_width", name="Explore")


def faithfulness_card(state: Any, runner: Any = None) -> pn.Card:
    """How faithful the projection is: computed only while the card is open (k-means and neighbour
    searches take about a second per 1,000 pairs), off the event loop, so moving α stays cheap;
    a button measures every projection method (runs UMAP and t-SNE)."""
    pane = V.faithfulness_pane(state, runner=runner, active=False)
    every = V.faithfulness_comparison_deferred(state, runner=runner)
    button = pn.widgets.Button(label="Compare PCA, UMAP and t-SNE", color="default", margin=(10, 5))
    button.on_click(lambda *_: every.refresh())
    intro = pn.pane.HTML(
        '<div style="font-size:12px;color:#555">Trustworthiness and kNN overlap: how many of each point\'s neighbours in the '
        "projection are neighbours in the full space; pair edges within a cluster: the share of image–caption pairs that "
        "k-means puts in one cluster in 2-D and in the full space. Colour the points by a faithfulness measure in the "
        "sidebar's Projection group.</div>", sizing_mode="stretch_width")
    card = pn.Card(intro, styled(pane.pane), button, styled(every.pane), title="Projection faithfulness", collapsed=True,
                   sizing_mode="stretch_width", css_classes=["bx-faithfulness-card"])
    card.param.watch(lambda e: pane.set_active(not e.new), "collapsed")
    card.deferred = (pane, every)  # for tests and notebooks
    return card


def compare_page(state: Any, runner: Any = None) -> pn.Column:
    """2–4 models side by side (see module docstring); their data are computed by `runner`."""
    names = state.model_names()
    chooser = safe_multichoice("models to compare (2–4; empty = the first four)", names,
                               list(state.compare_models) or state.shown_compare_models(), max_items=4, width=600)
    chooser.link(state, value="compare_models", bidirectional=True)
    shared = clickable_checkbox(pn.widgets.Checkbox.from_param(state.param.shared_order, label="every heatmap in the first model's cluster order", width=380))
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
        view = V.compare_view(state, runner=runner)
        for obj in view.select(pn.pane.HTML):
            styled(obj)
        old = list(holder.objects)
        holder[:] = [view]
        for obj in old:  # the replaced heatmaps stop computing
            dispose_views(obj)

    rebuild()
    state.param.watch(rebuild, ACTIVE_PARAMS)
    return pn.Column(intro, pn.Row(chooser, shared), holder, sizing_mode="stretch_width", name="Compare", css_classes=["bx-compare"])
