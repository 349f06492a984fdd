"""`Explorer`: the explorer's pages around one ExplorerState, for notebooks and ``panel serve``.

In a notebook::

    import explorer
    ex = explorer.Explorer(source="amumo:../shared/data/amumo/MSCOCO-Val_size-100")
    ex                          # sidebar + Explore / Compare / Augment tabs, inline
    ex.state.gap.alpha = 1.0    # the views follow (and so does the slider)
    ex.selected                 # the pairs selected in the scatter, as a DataFrame

On a server (:mod:`explorer.app.server`) the page appears at once with a progress bar; the
source is opened in Panel's thread pool (embedding a dataset can take a while: the bar counts the
models and the seconds), then the pages are built. Switching sources works the same way, with a
fresh state that keeps the current settings. Later long work (clustering a large source, UMAP,
t-SNE, R@k of a million pairs, an augmentation series) shows in the same bar. Opened sources and
everything derived from them live in the process-wide memo, shared by all sessions; a session
holds its settings and its pixels, and :meth:`Explorer.dispose` (called when the session ends)
lets go of them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import panel as pn
import param

from ..engine import priority
from ..state import DEFAULT_DATASET_MODELS, DEFAULT_SOURCE, ExplorerState
from ..views.cards import esc
from ..views.feed import dispose_views, run_off_loop, session_id, trace
from .progress import ProgressView
from .template import configure_panel, offline_template

#: parts whose settings are carried over when another source is opened
CARRIED = ("gap", "order", "projection", "look")


def warm_up(state: ExplorerState, model: str | None = None, *, first_views: bool = False) -> ExplorerState:
    """Open the source and compute the heatmap's first tile (kept in the memo), so the page is
    built with it. With `first_views`, the scatter's projection and the numbers' first answer are
    computed meanwhile in a thread of their own (:func:`compute_first_views`): on a server they are
    under way before the page's views ask for them, and a view asking waits for the memo's value
    instead of computing it again."""
    from ..engine import priority

    state.source_data()
    m = state.resolve_model(model)
    if first_views:
        in_background(lambda: compute_first_views(state, m))
    with priority.quick():
        state.tile(m, width=400, height=400)
    return state


def compute_first_views(state: ExplorerState, model: str | None = None) -> None:
    """The data of the page's first views besides the heatmap: the projection frame of the scatter
    and the numbers without R@k (in the memo; errors are left to the views, which show them)."""
    from ..engine import priority

    try:
        with priority.quick():  # a view's work, done ahead: long work yields to it
            m = state.resolve_model(model)
            state.projection_frame(m)
            state.numbers(m, recall=False)
    except Exception as exc:  # the views compute (and show) it themselves
        trace.info("first views not computed ahead: %s", exc)
        return
    compute_ahead(state)


#: sources of up to this many shown pairs get their cluster orderings computed ahead (about 0.15 s
#: of CPU a model at 5,000 pairs, 1.5 s at 50,000; at a million it would be a minute of two cores)
AHEAD_UP_TO = 50_000


def compute_ahead(state: ExplorerState) -> list[str]:
    """What a visitor is likely to ask for next, computed after the first views as long work (it
    yields to every view's computation, and shows on nobody's progress bar): for up to
    `AHEAD_UP_TO` shown pairs, the cluster ordering and labels of every model under the current
    clustering settings, so turning clustering on, or switching models with it on, finds them in
    the memo. A page that asks while one is under way waits for it (and then sees its progress).
    Returns the models done."""
    from ..engine import priority
    from ..engine.memo import REQUESTER

    token = REQUESTER.set("")
    done: list[str] = []
    try:
        if state.active_indices().size > AHEAD_UP_TO:
            return done
        for m in [state.resolve_model(), *state.model_names()]:
            if m in done:
                continue
            with priority.long():
                state.ordering(m, even_if_off=True)
                state.cluster_labels(m, even_if_off=True)
            done.append(m)
    except Exception as exc:  # the views compute (and show) it themselves when asked
        trace.info("cluster orderings not computed ahead: %s", exc)
    finally:
        REQUESTER.reset(token)
    return done


def in_background(work: Any) -> None:
    """Run `work` in a daemon thread, attributed to the current requester (its progress shows on
    the page that asked)."""
    import contextvars
    import threading

    threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True, name="bx-first-views").start()


class Explorer(pn.viewable.Viewer):
    """Sidebar of controls + Explore / Compare / Augment pages over an ExplorerState."""

    state = param.ClassSelector(class_=ExplorerState, doc="the state every view reads")
    ready = param.Boolean(False, doc="True once the source is open and the pages are built")
    busy = param.Boolean(False, doc="True while a source is being opened")
    message = param.String("", doc="the app's own progress or error line")

    def __init__(self, source: Any = None, models: Sequence[str] | None = None, *, state: ExplorerState | None = None,
                 sources: Sequence[str] | None = None, models_by_source: Mapping[str, Sequence[str]] | None = None,
                 series_sources: Sequence[str] = (), title: str = "bimodal-explorer", **settings: Any):
        """`source`: a spec or an opened Source (default the embedded shapes world); `models`: model
        specs to embed a dataset with, or names of a precomputed source's models; `state`: use an
        existing ExplorerState instead. `sources`: the menu of sources a visitor may switch between
        (default: just this one). Other keyword arguments set settings (alpha=..., cluster=...)."""
        configure_panel()
        if state is None:
            if source is not None and not isinstance(source, str):  # an opened Source
                state = ExplorerState(source, models=list(models or []), **settings)
            else:
                state = ExplorerState(source=source or DEFAULT_SOURCE, models=list(models or []), **settings)
        super().__init__(state=state)
        self.title = title
        self.sources = list(dict.fromkeys([*(sources or []), state.data.source])) if sources else [state.data.source]
        self.models_by_source = {k: list(v) for k, v in (models_by_source or {}).items()}
        self.series_sources = list(series_sources)
        self.session = session_id()
        self._source_select = pn.widgets.Select(label="source", options=self.sources, value=state.data.source,
                                                sizing_mode="stretch_width", disabled=len(self.sources) < 2)
        self._source_select.param.watch(self._on_source, "value")
        self._spinner = pn.indicators.LoadingSpinner(value=False, size=22, margin=(5, 10))
        self._status = pn.pane.HTML("", css_classes=["bx-status"], sizing_mode="stretch_width")
        self._progress = ProgressView(self.session or None)
        self._main_progress = ProgressView(self.session or None, margin=(5, 10))
        self._progress_views = [self._progress, self._main_progress]
        self._controls = pn.Column(sizing_mode="stretch_width")
        placeholder = pn.Column(pn.pane.Markdown("Opening the source…"), self._main_progress.panel(), sizing_mode="stretch_width")
        self._explore = pn.Column(placeholder, sizing_mode="stretch_width", name="Explore")
        self._compare = pn.Column(pn.pane.Markdown("Opening the source…"), sizing_mode="stretch_width", name="Compare")
        self._augment = pn.Column(pn.pane.Markdown("Opening the source…"), sizing_mode="stretch_width", name="Augment")
        self._tabs = pn.Tabs(("Explore", self._explore), ("Compare", self._compare), ("Augment", self._augment),
                             dynamic=True, sizing_mode="stretch_width")
        self._compare_built = True  # nothing to build before a source is open
        self._tabs.param.watch(self._show_compare, "active")
        self.augment_page = None
        self._ticker = None
        self._doc = None
        self.param.watch(self._render_status, ["message", "busy"])
        if not self.session:
            self.load()  # notebooks and tests: at once, so the cell shows the views
        else:  # the progress bar and the elapsed seconds of long work, once a second (cheap when idle)
            # Bokeh's own periodic callback, not Panel's: Panel marks the page busy (the header's
            # spinner) for every run of its periodic callbacks, even when nothing changes
            self._doc = pn.state.curdoc
            self._ticker = self._doc.add_periodic_callback(self._tick, 1000)

    # -- public -----------------------------------------------------------------------------
    @property
    def selected(self):
        """The selected pairs (pair_id, id, caption, image, thumb, cluster, sim) as a DataFrame."""
        return self.state.selected_table()

    def load(self, state: ExplorerState | None = None) -> None:
        """Open `state`'s source (default the current one) off the event loop, then build the pages."""
        target = state or self.state
        self.busy = True
        self.message = f"Opening {target.data.source}…"

        def work() -> None:
            from ..engine.memo import REQUESTER

            token = REQUESTER.set(self.session)
            trace.info("opening %s", target.data.source)
            try:
                warm_up(target, first_views=bool(self.session))
                trace.info("opened, first tile computed")
            except Exception as exc:
                pn.state.execute(lambda exc=exc: self._failed(target, exc))
                return
            finally:
                REQUESTER.reset(token)
            pn.state.execute(lambda: self._loaded(target))

        run_off_loop(work)

    def prepare(self) -> None:
        """Start opening the source and computing the first views in the background (a server
        page does so before the browser has shown it; :meth:`load` then finds them under way)."""
        from ..engine.memo import REQUESTER

        state = self.state

        def work() -> None:
            token = REQUESTER.set(self.session)
            try:
                warm_up(state, first_views=True)
            except Exception:  # load() opens it again and shows the error
                pass
            finally:
                REQUESTER.reset(token)

        in_background(work)

    def sidebar(self) -> pn.Column:
        return pn.Column(pn.Row(self._spinner, self._status, sizing_mode="stretch_width"), self._progress.panel(),
                         self._source_select, self._controls, sizing_mode="stretch_width")

    def main(self) -> pn.Tabs:
        return self._tabs

    def template(self) -> pn.template.BootstrapTemplate:
        """The full page for ``panel serve`` (offline resources only)."""
        return offline_template(self.title, sidebar=[self.sidebar()], main=[self._tabs])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(pn.Column(self.sidebar(), width=330), self._tabs, sizing_mode="stretch_width")

    def dispose(self) -> None:
        """Stop every view of this explorer (its session ended): they let go of their data and
        stop following the settings."""
        if self._ticker is not None:
            try:
                pn.state.curdoc.remove_periodic_callback(self._ticker)
            except Exception:
                pass
            self._ticker = None
        for holder in (self._explore, self._compare, self._augment):
            for page in holder.objects:
                for r in getattr(page, "rebuilt", []):
                    r.dispose()
                if hasattr(page, "rebuilt"):
                    page.rebuilt = []
            dispose_views(holder)
            holder.clear()
        if self.augment_page is not None:
            self.augment_page.dispose()

    # -- internals --------------------------------------------------------------------------
    def _tick(self) -> None:
        # the changes of a tick go to the browser as one message (each message indexes every model of the page)
        with pn.io.hold(self._doc) if self._doc is not None else nullcontext():
            for view in self._progress_views:
                view.render()
            for page in self._explore.objects:  # a thumbnail refused since: said once, above the views
                notices = getattr(page, "notices", None)
                if notices is not None:
                    notices.refresh()

    def _render_status(self, *_: Any) -> None:
        text = self.message
        error = text.startswith(("error", "could not", "failed")) or "failed" in text[:40]
        self._status.object = f'<div class="bx-status{" error" if error else ""}">{esc(text, 500)}</div>' if text else ""
        self._spinner.value = bool(self.busy)

    def _loaded(self, state: ExplorerState) -> None:
        old = self.state
        self.state = state
        if old is not state:
            self._dispose_pages()
        t = time.perf_counter()
        with priority.quick():  # long work (R@k, clustering) yields to the page being built
            self._build_pages()
        trace.info("pages built in %.2f s", time.perf_counter() - t)
        self.busy = False
        self.message = ""
        self.ready = True
        self._tick()

    def _failed(self, state: ExplorerState, exc: BaseException) -> None:
        self.busy = False
        self.message = f"error: could not open {state.data.source}: {exc}"
        if not self.ready:
            self._explore[:] = [pn.pane.HTML(f'<div class="bx-status error">{esc(self.message, 1000)}</div>')]
        else:  # a failed switch: show the source still open
            self._source_select.value = self.state.data.source

    def _set_message(self, text: str, error: bool = False) -> None:
        self.busy = bool(text) and not error
        self.message = f"error: {text}" if error and not text.startswith("error") else text

    def _dispose_pages(self) -> None:
        for holder in (self._explore, self._compare):
            for page in holder.objects:
                for r in getattr(page, "rebuilt", []):
                    r.dispose()
                if hasattr(page, "rebuilt"):
                    page.rebuilt = []
            dispose_views(holder)
        if self.augment_page is not None:
            self.augment_page.dispose()

    def _build_pages(self) -> None:
        from .augment import AugmentPage, augment_models
        from .controls import model_widget, sidebar_groups
        from .pages import explore_page

        st = self.state
        self._controls[:] = [model_widget(st, st.model_names()), *sidebar_groups(st)]
        self._explore[:] = [explore_page(st)]
        # the Compare page's views (a heatmap per model) are built when its tab is first shown
        self._compare[:] = [pn.pane.Markdown("The models side by side are drawn when this tab is opened.")]
        self._compare_built = False
        self._show_compare()
        models = self.models_by_source.get(st.data.source) or list(st.data.models) or list(DEFAULT_DATASET_MODELS)
        try:
            page = AugmentPage(st, models=augment_models(models), series_sources=self.series_sources, set_message=self._set_message,
                               requester=self.session)
            self._augment[:] = [page.panel()]
            self.augment_page = page
            self._progress_views = [self._progress, self._main_progress, page.progress]
        except Exception as exc:
            self._augment[:] = [pn.pane.HTML(f'<div class="bx-status">{esc(exc)}</div>')]

    def _show_compare(self, *_: Any) -> None:
        from .pages import compare_page

        if self._tabs.active == 1 and not self._compare_built:
            self._compare_built = True
            self._compare[:] = [compare_page(self.state)]

    def _on_source(self, event: Any) -> None:
        spec = event.new
        if spec == self.state.data.source or self.busy:
            return
        settings = {**self.state.settings(CARRIED), "seed": self.state.data.seed}
        self.load(ExplorerState(source=spec, models=list(self.models_by_source.get(spec, [])), **settings))
