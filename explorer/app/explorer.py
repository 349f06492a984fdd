"""`Explorer`: the explorer's pages around one ExplorerState, for notebooks and ``panel serve``.

In a notebook::

    import explorer
    ex = explorer.Explorer(source="amumo:../shared/data/amumo/MSCOCO-Val_size-100")
    ex                      # sidebar + Explore / Compare / Augment tabs, inline
    ex.state.alpha = 1.0    # the views follow (and so does the slider)
    ex.selected             # the pairs selected in the scatter, as a DataFrame

On a server (:mod:`explorer.app.server`) the page appears at once with a progress bar; the source
is opened and the first views' data computed in a background thread (embedding a dataset can take
a while: the bar counts the models, the text names the one being embedded and the seconds
elapsed), then the pages are filled in. Switching sources works the same way, with a fresh state
that keeps the current settings. Later long work (clustering, UMAP, t-SNE, an augmentation
series) shows in the same bar (:mod:`explorer.app.progress`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import panel as pn
import param

from ..state import DEFAULT_DATASET_MODELS, DEFAULT_SOURCE, ExplorerState
from ..views.cards import esc
from .background import run_in_background, server_document
from .progress import ProgressView
from .template import configure_panel, offline_template

#: settings carried over when another source is opened
CARRIED = (
    "seed", "cluster", "cluster_block", "k", "optimal_order", "alpha", "renormalize", "loss_variant", "batch_size",
    "projection", "projection_mode", "x_component", "y_component", "point_color", "faithfulness_k", "cmap",
    "diverging_cmap", "edge_cmap", "aggregation", "datashade_above",
)


def warm_up(state: ExplorerState, model: str | None = None) -> ExplorerState:
    """Open the source and compute what the Explore page shows first (all cached in the state)."""
    state.source_data()
    m = state.resolve_model(model)
    state.similarity(m)
    state.numbers(m)
    state.projection_coords(m)
    return state


class Explorer(pn.viewable.Viewer):
    """Sidebar of controls + Explore / Compare / Augment pages over an ExplorerState."""

    state = param.ClassSelector(class_=ExplorerState, doc="the state every view reads")
    ready = param.Boolean(False, doc="True once the source is open and the pages are built")
    busy = param.Boolean(False, doc="True while a source is being opened")
    message = param.String("", doc="the app's own progress or error line (the state has `status`)")

    def __init__(
        self,
        source: Any = None,
        models: Sequence[str] | None = None,
        *,
        state: ExplorerState | None = None,
        sources: Sequence[str] | None = None,
        models_by_source: Mapping[str, Sequence[str]] | None = None,
        series_sources: Sequence[str] = (),
        title: str = "bimodal-explorer",
        **state_params: Any,
    ):
        """`source`: a spec or an opened Source (default the embedded shapes world); `models`: model
        specs to embed a dataset with, or names of a precomputed source's models; `state`: use an
        existing ExplorerState instead. `sources`: the menu of sources a visitor may switch between
        (default: just this one). Other keyword arguments set state parameters (alpha=..., cluster=...)."""
        configure_panel()
        if state is None:
            if source is not None and not isinstance(source, str):  # an opened Source
                state = ExplorerState(source, models=list(models or []), **state_params)
            else:
                state = ExplorerState(source=source or DEFAULT_SOURCE, models=list(models or []), **state_params)
        super().__init__(state=state)
        self.title = title
        self.sources = list(dict.fromkeys([*(sources or []), state.source])) if sources else [state.source]
        self.models_by_source = {k: list(v) for k, v in (models_by_source or {}).items()}
        self.series_sources = list(series_sources)
        self._source_select = pn.widgets.Select(label="source", options=self.sources, value=state.source, sizing_mode="stretch_width",
                                                disabled=len(self.sources) < 2)
        self._source_select.param.watch(self._on_source, "value")
        self._spinner = pn.indicators.LoadingSpinner(value=False, size=22, margin=(5, 10))
        self._status = pn.pane.HTML("", css_classes=["bx-status"], sizing_mode="stretch_width")
        self._progress = ProgressView()
        self._main_progress = ProgressView(margin=(5, 10))
        self._progress_views = [self._progress, self._main_progress]
        self._controls = pn.Column(sizing_mode="stretch_width")
        placeholder = pn.Column(pn.pane.Markdown("Opening the source…"), self._main_progress.panel(), sizing_mode="stretch_width")
        self._explore = pn.Column(placeholder, sizing_mode="stretch_width", name="Explore")
        self._compare = pn.Column(pn.pane.Markdown("Opening the source…"), sizing_mode="stretch_width", name="Compare")
        self._augment = pn.Column(pn.pane.Markdown("Opening the source…"), sizing_mode="stretch_width", name="Augment")
        self._tabs = pn.Tabs(("Explore", self._explore), ("Compare", self._compare), ("Augment", self._augment),
                             dynamic=True, sizing_mode="stretch_width")
        self._watchers: list[Any] = []
        self.param.watch(self._render_status, ["message", "busy"])
        self._bind_state(state)
        if server_document() is None:
            self.load()  # notebooks and tests: synchronously, so the cell shows the views
        else:  # the elapsed seconds of long work, once a second (cheap when idle)
            # Bokeh's own periodic callback, not Panel's: Panel marks the page busy (the header's
            # spinner) for every run of its periodic callbacks, even when nothing changes
            server_document().add_periodic_callback(self._tick, 1000)

    # -- public -----------------------------------------------------------------------------
    @property
    def selected(self):
        """The selected pairs (pair_id, id, caption, image, thumb, cluster, sim) as a DataFrame."""
        return self.state.selected_table()

    def load(self, state: ExplorerState | None = None) -> None:
        """Open `state`'s source (default the current one) in the background, then build the pages."""
        target = state or self.state
        self.busy = True
        self.message = f"Opening {target.source}…"
        self._bind_state(target)
        run_in_background(lambda: warm_up(target), self._loaded, self._failed, name="explorer-load")

    def sidebar(self) -> pn.Column:
        return pn.Column(
            pn.Row(self._spinner, self._status, sizing_mode="stretch_width"),
            self._progress.panel(),
            self._source_select,
            self._controls,
            sizing_mode="stretch_width",
        )

    def main(self) -> pn.Tabs:
        return self._tabs

    def template(self) -> pn.template.BootstrapTemplate:
        """The full page for ``panel serve`` (offline resources only)."""
        return offline_template(self.title, sidebar=[self.sidebar()], main=[self._tabs])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(pn.Column(self.sidebar(), width=330), self._tabs, sizing_mode="stretch_width")

    # -- internals --------------------------------------------------------------------------
    def _bind_state(self, state: ExplorerState) -> None:
        for obj, w in self._watchers:
            obj.param.unwatch(w)
        self._watchers = [(state, state.param.watch(self._render_status, "status"))]
        self._status_state = state
        self._progress.follow(state)
        self._main_progress.follow(state)
        self._render_status()

    def _tick(self) -> None:
        for view in self._progress_views:
            if view.working or view.bar.visible:
                view.render()

    def _render_status(self, *_: Any) -> None:
        st = getattr(self, "_status_state", self.state)
        text = self.message or st.status
        error = text.startswith(("error", "could not", "failed")) or "failed" in text[:40]
        self._status.object = f'<div class="bx-status{" error" if error else ""}">{esc(text, 500)}</div>' if text else ""
        self._spinner.value = bool(self.busy)

    def _loaded(self, state: ExplorerState) -> None:
        self.state = state
        self._build_pages()
        self.busy = False
        self.message = ""
        self.ready = True

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.message = f"error: could not open {self._status_state.source}: {exc}"
        if not self.ready:
            msg = pn.pane.HTML(f'<div class="bx-status error">{esc(self.message, 1000)}</div>')
            self._explore[:] = [msg]
        if self.ready:  # a failed switch: show the source still open
            self._source_select.value = self.state.source

    def _set_message(self, text: str, error: bool = False) -> None:
        self.busy = bool(text) and not error
        self.message = (f"error: {text}" if error and not text.startswith("error") else text)

    def _build_pages(self) -> None:
        from .augment import AugmentPage, augment_models
        from .controls import model_widget, sidebar_groups
        from .pages import compare_page, explore_page

        st = self.state
        self._controls[:] = [model_widget(st, st.model_names()), *sidebar_groups(st)]
        self._explore[:] = [explore_page(st, runner=run_in_background)]
        self._compare[:] = [compare_page(st, runner=run_in_background)]
        models = self.models_by_source.get(st.source) or list(st.models) or list(DEFAULT_DATASET_MODELS)
        try:
            page = AugmentPage(st, models=augment_models(models), series_sources=self.series_sources, set_message=self._set_message,
                               runner=run_in_background)
            self._augment[:] = [page.panel()]
            self.augment_page = page
            self._progress_views = [self._progress, self._main_progress, page.progress]
        except Exception as exc:
            self._augment[:] = [pn.pane.HTML(f'<div class="bx-status">{esc(exc)}</div>')]

    def _on_source(self, event: Any) -> None:
        spec = event.new
        if spec == self.state.source or self.busy:
            return
        settings = {k: getattr(self.state, k) for k in CARRIED if k in self.state.param}
        models = self.models_by_source.get(spec, [])
        self.load(ExplorerState(source=spec, models=list(models), **settings))

