"""The pages of the explorer, each a Panel layout built from one ExplorerState.

- Explore: one model's 2M×2M similarity heatmap and projection scatter side by side, its numbers,
  the tapped cell's two items, the selected pairs, the labelled clusters, then the in-modal
  difference heatmap, the loss landscape along the gap and the similarity histograms.
- Compare: 2–4 models side by side on the same pairs (shared filter, ordering and gap setting).
- Augment: see :mod:`explorer.app.augment`.

The views live in :mod:`explorer.views`; this module only lays them out, and rebuilds a plot
when its axes must change (the number of shown pairs) or its kind (plain or rasterized scatter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import panel as pn

from .. import views as V
from ..views.feed import dispose_views, feeds_in, on_doc_loop, params_of, run_off_loop
from ..views.provenance import feed_provenance_pane
from .controls import safe_multichoice
from .template import CSS, clickable_checkbox

#: frame size of the main heatmap and scatter: both fit side by side in a 1400 px wide window
PLOT_SIZE = 400
#: room around a plot's frame: axes, colour bar and toolbar
PLOT_MARGIN = 200
#: room for the probe's strip beside the heatmap
STRIP_SPACE = 20
#: a settings change reaches every view's Feed within this time (a runner that waits for other
#: views first lets it: their watchers run in no order it can rely on)
SETTLE = 0.02


class Rebuilt(pn.viewable.Viewer):
    """A holder showing ``build()`` (a HoloViews plot, shown with what `after(plot)` adds below
    it), rebuilt whenever ``key()`` changes after one of the watched settings changed. Views update
    in place (keeping the zoom) for everything else, the heatmaps even when a caption filter
    resizes their matrix; a new plot is needed only for another kind of plot (plain or rasterized
    scatter). With `tag` the pane carries the CSS class ``<tag>-<tag_key()>`` (default `key`; e.g.
    ``bx-n-48``, kept in step in place), so a page test can wait for the plot of a setting."""

    def __init__(self, state: Any, build: Callable[[], Any], key: Callable[[], Any], depends: tuple[str, ...], *,
                 tag: str = "", tag_key: Callable[[], Any] | None = None, width: int | None = None,
                 after: Callable[[Any], list] | None = None, **pane_options: Any):
        super().__init__()
        self._build, self._key, self._after, self._tag, self._options = build, key, after, tag, pane_options
        self._tag_key = tag_key or key
        self.holder = pn.Column(sizing_mode="fixed", width=width) if width else pn.Column(sizing_mode="fixed")
        self._current: Any = object()
        self._watchers = [(part, part.param.watch(self.rebuild, names)) for part, names in params_of(state, depends)]
        self.rebuild()

    def _classes(self) -> list[str]:
        classes = list(self._options.get("css_classes", []))
        if self._tag:
            try:
                classes.append(f"{self._tag}-{self._tag_key()}")
            except Exception:  # the views show the error themselves
                pass
        return classes

    def rebuild(self, *_: Any) -> None:
        try:
            k = self._key()
        except Exception:  # the views show the error themselves
            k = self._current
        if k == self._current and self.holder.objects:
            if self._tag and self.holder.objects[0].css_classes != (classes := self._classes()):
                self.holder.objects[0].css_classes = classes
            return
        self._current = k
        options = dict(self._options, css_classes=self._classes())
        for obj in self.holder.objects:  # the plot being replaced stops computing first: nothing reaches it once cleaned up
            dispose_views(obj)
        plot = self._build()
        self.holder[:] = [pn.pane.HoloViews(plot, linked_axes=False, **options), *(self._after(plot) if self._after else [])]

    def dispose(self) -> None:
        for part, w in self._watchers:
            part.param.unwatch(w)
        self._watchers = []
        dispose_views(self.holder)

    def __panel__(self) -> pn.Column:
        return self.holder


def n_shown(state: Any) -> int:
    return int(state.active_indices().size)


def scatter_key(state: Any) -> tuple[bool, bool, bool, bool]:
    """The scatter is rebuilt only to switch between plain glyphs and rasterized layers, between
    points coloured by modality (categories) and by a measure (a colour scale: Bokeh cannot turn
    one colour mapper into the other in place), into or out of one point per pair, and into or
    out of probe similarities (rasterized, another kind of layer); new coordinates (α, method,
    mode, components, filter) and a new probe update it in place."""
    from ..state.parts import PROBE_COLOR
    from ..views.scatter import concatenated, large

    pc = state.projection.point_color
    return large(state), pc == "modality", concatenated(state), pc == PROBE_COLOR


def styled(pane: Any) -> Any:
    """Give an HTML pane the explorer's table/card CSS (Panel renders panes in shadow DOM)."""
    pane.stylesheets = [*pane.stylesheets, CSS]
    return pane


def heatmap_controls(state: Any) -> pn.Row:
    """The heatmap's look, beside it: what a pixel shows and the colour range (also in the sidebar)."""
    look = state.look
    pixels = pn.widgets.RadioButtonGroup.from_param(
        look.param.aggregation, options={"mean per pixel": "mean", "max per pixel": "max"}, label="", color="light",
        variant="outline", margin=(0, 5), css_classes=["bx-aggregation"],
        description="mean: the exact mean of the cells of a pixel; max: their exact max (up to 128 M cells in view)")
    colours = pn.widgets.RadioButtonGroup.from_param(
        look.param.color_range, options={"colours: data": "data", "visible": "visible", "full −1…1": "full", "lock": "locked"}, label="",
        color="light", variant="outline", margin=(0, 5), css_classes=["bx-color-range"],
        description="data: 1st–99th percentile of the zoomed-out pixels; visible: of the pixels on screen, after each zoom; full: −1…1; "
        "lock: keep the limits shown now across α, filters and models (pick another range, then lock, to lock anew)")
    return pn.Row(pixels, colours, margin=(0, 0, 0, 50))


def only_selected_toggle(state: Any) -> pn.widgets.Checkbox:
    """'show only the selected pairs': every view re-renders for the selected pairs
    (``data.only_pairs``, a snapshot of the selection when ticked); unticked shows every pair
    again. Disabled while nothing is selected and nothing is restricted."""
    data, inter = state.data, state.interaction
    box = clickable_checkbox(pn.widgets.Checkbox(name="show only the selected pairs", value=bool(data.only_pairs), margin=(0, 5),
                                                 css_classes=["bx-only-selected"]))

    def sync(*_: Any) -> None:
        box.value = bool(data.only_pairs)
        box.disabled = not (inter.selected_pairs or data.only_pairs)

    def toggled(event: Any) -> None:
        want = [int(i) for i in inter.selected_pairs] if event.new else []
        if want != list(data.only_pairs):
            data.only_pairs = want

    sync()
    box.param.watch(toggled, "value")
    data.param.watch(sync, "only_pairs")
    inter.param.watch(sync, "selected_pairs")
    return box


def scatter_controls(state: Any) -> pn.Row:
    """The projection method and the point colour, beside the scatter (also in the sidebar)."""
    pr = state.projection
    method = pn.widgets.RadioButtonGroup.from_param(pr.param.projection, label="", color="light", variant="outline",
                                                    margin=(0, 5), css_classes=["bx-projection"])
    colour = pn.widgets.Select.from_param(
        pr.param.point_color, label="", width=190, margin=(0, 5), css_classes=["bx-point-color"],
        options={"points by modality": "modality", "points by kNN overlap": "kNN overlap", "points by trustworthiness": "trustworthiness",
                 "points by probe similarity": "probe similarity"})
    return pn.Row(method, colour, margin=(0, 0, 0, 50))


def with_provenance(plot: Any) -> list:
    return [styled(feed_provenance_pane(plot.feed))]


def with_scatter_hover(plot: Any) -> list:
    """The provenance line and, rasterized, the hover pane (explorer.views.scatter_hover)."""
    hover = getattr(plot, "hover", None)
    return [*with_provenance(plot), *([hover.pane] if hover is not None else [])]


def plot_column(holder: Any, provenance: Any, *above: Any, width: int = PLOT_SIZE + PLOT_MARGIN) -> pn.Column:
    """A plot with what belongs to it: controls above, its provenance line below."""
    return pn.Column(*above, holder, provenance, width=width, margin=(0, 5))


def explore_page(state: Any) -> pn.Column:
    """The Explore page (see module docstring). Every view computes its data off the event loop:
    a slider move returns at once and each view fills in when its data are ready (its provenance
    line says "updating" meanwhile), the latest settings winning."""
    width = PLOT_SIZE + PLOT_MARGIN
    heatmap = Rebuilt(state, lambda: V.similarity_heatmap(state, size=PLOT_SIZE), lambda: "heatmap", ("data",), tag="bx-n",
                      tag_key=lambda: n_shown(state), width=width, name="heatmap", css_classes=["bx-heatmap"],
                      after=lambda plot: [*with_provenance(plot), V.cluster_legend(state)])  # the clusters' numbers, clickable
    after_heatmap = AfterHeatmap(state, lambda: [f for obj in list(heatmap.holder.objects) for f in feeds_in(obj)])
    scatter = Rebuilt(state, lambda: V.projection_scatter(state, size=PLOT_SIZE, run=after_heatmap.run), lambda: scatter_key(state),
                      ("data", "look.datashade_above", "projection.point_color", "projection.projection_mode"), width=width,
                      after=with_scatter_hover, name="scatter", css_classes=["bx-scatter"])
    # the text probe: the query box above the plots, its matches below them, a strip beside the heatmap's rows
    strip = V.probe_strip(state, heatmap.holder.objects[0].object, size=PLOT_SIZE)
    probe_query, probe_list = V.probe_query(state), styled(V.probe_list(state))
    top = pn.FlexBox(pn.Column(heatmap_controls(state), pn.Row(strip.pane, heatmap, margin=0), width=width + STRIP_SPACE, margin=(0, 5)),
                     pn.Column(scatter_controls(state), scatter, width=width, margin=(0, 5)),
                     flex_wrap="wrap", sizing_mode="stretch_width")
    numbers = pn.Column(pn.pane.HTML("<b>Numbers</b>", margin=(0, 5)), styled(V.numbers_pane(state)), width=470,
                        css_classes=["bx-numbers-box"])
    inspect = pn.Column(pn.pane.HTML("<b>Tapped cell</b> (tap the heatmap or a point)", margin=(0, 5)), styled(V.inspect_panel(state)),
                        width=520, css_classes=["bx-inspect-box"])
    selection = pn.Column(pn.pane.HTML("<b>Selected pairs</b> (box or lasso in the scatter, double-tap a heatmap row)", margin=(0, 5)),
                          V.selection_downloads(state), only_selected_toggle(state), styled(V.selection_panel(state)),
                          min_width=360, max_height=520, scroll=True, sizing_mode="stretch_width",
                          css_classes=["bx-selection-box"])
    middle = pn.FlexBox(numbers, inspect, selection, flex_wrap="wrap", sizing_mode="stretch_width")
    faithfulness = faithfulness_card(state)
    anatomy = anatomy_card(state)

    def clusters_title(on: bool) -> str:
        return "Clusters" if on else "Clusters (turn on 'cluster matrix by similarity')"

    clusters = pn.Card(V.cluster_legend(state), V.cluster_downloads(state), styled(V.cluster_gallery(state)),
                       title=clusters_title(state.order.cluster), sizing_mode="stretch_width",
                       collapsed=not state.order.cluster)
    state.order.param.watch(lambda e: clusters.param.update(collapsed=not e.new, title=clusters_title(e.new)), "cluster")
    # the views below the fold are built, and compute, once the heatmap and scatter have shown
    # the setting (two cores: they would otherwise compete with them; and every plot in the page
    # makes each later update of any plot slower, see views.feed.on_doc_loop)
    gate = AfterFirstViews(lambda: [f for h in (heatmap, scatter) for obj in list(h.holder.objects) for f in feeds_in(obj)])
    lower = pn.FlexBox(styled(pn.pane.HTML('<div class="bx-provenance">The difference heatmap, the loss landscape and the histograms '
                                           "follow once the views above are drawn.</div>", sizing_mode="stretch_width")),
                       flex_wrap="wrap", sizing_mode="stretch_width", css_classes=["bx-lower"])

    def build_lower() -> None:
        difference = Rebuilt(state, lambda: V.difference_heatmap(state, size=400, run=gate.run), lambda: "difference", (),
                             width=600, after=with_provenance, name="difference")
        landscape = V.loss_landscape_plot(state, width=480, height=320, run=gate.run)
        histograms = V.similarity_histograms(state, width=480, height=300, run=gate.run)
        lower[:] = [
            difference,
            plot_column(pn.pane.HoloViews(landscape, name="landscape", linked_axes=False), styled(feed_provenance_pane(landscape.feed)),
                        width=560),
            plot_column(pn.pane.HoloViews(histograms, name="histograms", linked_axes=False), styled(feed_provenance_pane(histograms.feed)),
                        width=560)]
        page.rebuilt.append(difference)

    from ..views.notices import SourceNotices
    from .filter_feedback import FewPairsGuard

    body = pn.Column(probe_query, top, probe_list, middle, anatomy, faithfulness, clusters, lower, sizing_mode="stretch_width")
    guard = FewPairsGuard(state, body)  # a filter leaving < 3 pairs: one message in place of degenerate plots
    notices = SourceNotices(state)  # what the reader noted, why thumbnails are refused
    page = pn.Column(notices.pane, guard.panel, sizing_mode="stretch_width", name="Explore")
    page.rebuilt = [heatmap, scatter, guard]
    page.notices = notices
    page.probe = (probe_list, strip)
    page.lower = lower
    gate.when_open(build_lower)
    return page


class AfterHeatmap:
    """A Feed runner (``run=gate.run``) for the scatter of a large source: its computation for a
    new setting first waits in its worker thread (at most `MAX_HOLD` seconds) while the heatmap's
    Feed computes that setting, so on two cores the matrix comes first instead of both sharing
    them (at a million pairs and α = 1 the heatmap's 1.4 s of CPU took 5 s beside the scatter's
    3.7 s). Below `FROM_PAIRS` shown pairs both are quick: the scatter starts at once."""

    MAX_HOLD = 5.0
    FROM_PAIRS = 100_000

    def __init__(self, state: Any, feeds: Callable[[], list]):
        self.state, self._feeds = state, feeds
        self.waited: list[float] = []

    def run(self, job: Callable[[], None]) -> None:
        try:
            large = n_shown(self.state) >= self.FROM_PAIRS
        except Exception:  # a filter matching nothing: the scatter shows the error at once
            large = False
        run_off_loop((lambda: (self.wait_for_heatmap(), job())) if large else job)

    def wait_for_heatmap(self, poll: float = 0.02) -> float:
        """Wait (in a worker thread) while a heatmap Feed computes; the seconds waited."""
        t0 = time.monotonic()
        time.sleep(SETTLE)
        while time.monotonic() - t0 < self.MAX_HOLD and any(f.pending and not f.disposed for f in self._feeds()):
            time.sleep(poll)
        self.waited.append(time.monotonic() - t0)
        return self.waited[-1]


class AfterFirstViews:
    """A Feed runner (``run=gate.run``) for the views below the fold: it holds the computations it
    is given until `feeds` (the heatmap's and the scatter's) have shown their first data, then runs
    them as Feeds do by default (explorer.views.feed.run_off_loop). Later ones (a slider move, a
    filter) first wait in their worker thread, at most `MAX_HOLD` seconds, while those feeds are
    computing the new setting: on two cores the views on screen come first. `feeds` may be a
    callable giving the current feeds (a rebuilt scatter has a new one). Outside a server
    (`serving` False; default: whether a server session's document is current) it runs them at once."""

    #: longest wait of a later computation for the first views
    MAX_HOLD = 10.0

    def __init__(self, feeds: Any, serving: bool | None = None):
        self.waiting: list[Callable[[], None]] = []
        self.opening: list[Callable[[], None]] = []
        self._feeds = feeds if callable(feeds) else (lambda: list(feeds))
        if serving is None:
            doc = pn.state.curdoc
            serving = doc is not None and getattr(doc, "session_context", None) is not None
        self.serving = bool(serving)
        first = self._feeds()
        self.open = not serving or not first
        self._watchers = [] if self.open else [(f, f.param.watch(self._check, ["version", "pending"])) for f in first]
        self._check()

    def run(self, job: Callable[[], None]) -> None:
        if not self.open:
            self.waiting.append(job)
        elif self.serving:
            self.start(lambda: (self.wait_for_first_views(), job()))
        else:
            self.start(job)

    @staticmethod
    def start(job: Callable[[], None]) -> None:
        run_off_loop(job)

    def quiet(self) -> bool:
        """Whether the first views show data for the current settings (or are gone)."""
        return all(f.disposed or (f.version > 0 and not f.pending) for f in self._feeds())

    def wait_for_first_views(self, poll: float = 0.05) -> float:
        """Wait (in a worker thread, at most MAX_HOLD s) until :meth:`quiet`; the seconds waited.
        It first lets the same change reach the first views' Feeds (watchers run in no order this
        can rely on: at a million pairs the difference heatmap once computed beside the heatmap)."""
        t0 = time.monotonic()
        time.sleep(SETTLE)
        while not self.quiet() and time.monotonic() - t0 < self.MAX_HOLD:
            time.sleep(poll)
        return time.monotonic() - t0

    def when_open(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the first views have shown their data (at once if they have, or
        outside a server), on the session's loop with its document current: e.g. to build views."""
        if self.open:
            callback()
        else:
            self.opening.append(callback)

    def _check(self, *_: Any) -> None:
        if self.open and not self.waiting and not self.opening:
            return
        if not self.quiet():
            return
        self.open = True  # called on the session's loop with its document current (a Feed's delivery)
        for f, w in self._watchers:
            f.param.unwatch(w)
        self._watchers = []
        callbacks, self.opening = self.opening, []
        doc = pn.state.curdoc
        for callback in callbacks:  # after this delivery's changes went to the browser: the first views first
            if doc is not None and self.serving:
                on_doc_loop(doc, callback, later=True)
            else:
                callback()
        jobs, self.waiting = self.waiting, []
        for job in jobs:
            self.start(job)


def anatomy_card(state: Any) -> pn.Card:
    """What the gap is made of (alignment, uniformity, cone, the coordinates that hold Δ,
    separability, closing only those): computed only while the card is open (its sampled measures
    take seconds at any size), off the event loop."""
    pane = V.anatomy_pane(state, active=False)
    card = pn.Card(styled(pane.pane), title="Gap anatomy", collapsed=True, sizing_mode="stretch_width",
                   css_classes=["bx-anatomy-card"])
    card.param.watch(lambda e: pane.set_active(not e.new), "collapsed")
    card.deferred = (pane,)
    card.feeds = [pane.feed]
    return card


def faithfulness_card(state: Any) -> pn.Card:
    """How faithful the projection is: computed only while the card is open (k-means and neighbour
    searches take about a second per 1,000 pairs), off the event loop; a button measures every
    projection method (runs UMAP and t-SNE)."""
    pane = V.faithfulness_pane(state, active=False)
    every = V.faithfulness_comparison_deferred(state)
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
    card.feeds = [pane.feed, every.feed]
    return card


def compare_page(state: Any) -> pn.Column:
    """2–4 models side by side (see module docstring)."""
    names = state.model_names()
    chooser = safe_multichoice("models to compare (2–4; empty = the first four)", names,
                               list(state.model.compare_models) or state.shown_compare_models(), max_items=4, width=600)
    chooser.link(state.model, value="compare_models", bidirectional=True)
    shared = clickable_checkbox(pn.widgets.Checkbox.from_param(state.model.param.shared_order,
                                                               label="every heatmap in the first model's cluster order", width=380))
    intro = pn.pane.Markdown(
        "The same pairs, filter, sample, gap setting and clustering for every model; with a shared order a row is the "
        "same pair in every heatmap. Turn on *cluster matrix by similarity* in the sidebar to order them.", sizing_mode="stretch_width")

    def build() -> pn.Column:
        view = V.compare_view(state)
        for obj in view.select(pn.pane.HTML):
            styled(obj)
        return view

    holder = pn.Column(sizing_mode="stretch_width")
    current: dict[str, Any] = {"n": None}

    def rebuild(*_: Any) -> None:  # new plots when the number of shown pairs changes (their axes must change)
        try:
            n = n_shown(state)
        except Exception:
            n = current["n"]
        if n == current["n"] and holder.objects:
            return
        current["n"] = n
        old = list(holder.objects)
        holder[:] = [build()]
        for obj in old:
            dispose_views(obj)

    rebuild()
    for part, names in params_of(state, ("data",)):
        part.param.watch(rebuild, names)
    from .filter_feedback import FewPairsGuard

    guard = FewPairsGuard(state, holder)  # fewer than 3 pairs: a message in place of the heatmaps
    page = pn.Column(intro, pn.Row(chooser, shared), guard.panel, sizing_mode="stretch_width", name="Compare", css_classes=["bx-compare"])
    page.rebuilt = [guard]
    return page
