"""Work computed off the page's event loop, only when wanted, the latest settings winning.

Some results are too slow to recompute inside a slider move: projection faithfulness (k-means
and neighbour searches, about a second at 1,000 pairs), a UMAP or t-SNE of the gap-closed
embeddings (seconds to minutes). :class:`Deferred` keeps them out of the interaction path:

- it computes only while `active` (e.g. while its section of the page is open) and, with
  ``auto=False``, only when :meth:`~Deferred.refresh` is called (a button);
- the computation goes through a `runner` ``runner(work, done, failed)``: on a Panel server the
  app passes :func:`explorer.app.background.run_in_background` (a thread, the result handed back
  to the session), in a notebook or a test :func:`run_now` runs it at once;
- one computation at a time, and the latest settings win: changes arriving while it runs mark
  it stale, and when it finishes the latest settings are computed instead of showing stale
  results as current.

:class:`DeferredHTML` shows the result as an HTML pane (greyed with a note while computing or
out of date). :class:`Feed` publishes a view's data (a dict) for HoloViews DynamicMaps that
follow ``feed.params.version``; :func:`feed_provenance_pane` shows what a feed-driven view shows.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Callable, Sequence

import param

from .cards import esc

#: a view's data computed in less than this (seconds) last time are computed at once next time
SYNC_BELOW = 0.25

Runner = Callable[[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]], Any]


def run_now(work: Callable[[], Any], done: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None:
    """The synchronous runner (notebooks, tests)."""
    try:
        result = work()
    except Exception as exc:
        failed(exc)
        return
    done(result)


def _weak_callback(method: Callable[..., Any]) -> Callable[..., Any]:
    """A watcher calling `method` while its object lives (a replaced view's Deferred is not kept
    alive by the state it watches)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        m = ref()
        if m is not None:
            m(*args)

    return call


class Deferred:
    """compute() run by `runner` when the watched parameters change; results go to `on_result`.

    Callbacks: ``on_start()`` when a computation starts, ``on_result(value, current)`` and
    ``on_error(exc, current)`` when one ends (`current`: no change arrived meanwhile),
    ``on_stale()`` when the inputs changed and nothing will recompute them (inactive or manual).
    `sync_below`: when the last computation took less than this many CPU seconds, compute at
    once instead of through the runner (small sources stay as snappy as without a thread).
    """

    def __init__(
        self,
        compute: Callable[[], Any],
        watch: Sequence[tuple[Any, Sequence[str]]] = (),
        *,
        runner: Runner | None = None,
        active: bool = True,
        auto: bool = True,
        on_start: Callable[[], None] | None = None,
        on_result: Callable[[Any, bool], None] | None = None,
        on_error: Callable[[BaseException, bool], None] | None = None,
        on_stale: Callable[[], None] | None = None,
        start: bool = True,
        sync_below: float = 0.0,
    ):
        self.compute = compute
        self.runner = runner or run_now
        self.sync_below = float(sync_below)
        self.last_seconds: float | None = None  # CPU seconds the last computation took (its thread)
        self.auto = auto
        self.on_start = on_start or (lambda: None)
        self.on_result = on_result or (lambda value, current: None)
        self.on_error = on_error or (lambda exc, current: None)
        self.on_stale = on_stale or (lambda: None)
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every change of the inputs
        self.shown: int | None = None  # the generation of the last result handed out
        self._running = False
        self._active = bool(active)
        self.computations = 0  # how many times compute() ran (tests, profiling)
        self.disposed = False
        self._watchers = [(obj, obj.param.watch(_weak_callback(self.changed), list(dict.fromkeys(names)))) for obj, names in watch]
        if start and self._active and self.auto:
            self.refresh()

    def dispose(self) -> None:
        """Stop watching and computing (the view showing the results was replaced)."""
        self.disposed = True
        for obj, w in self._watchers:
            try:
                obj.param.unwatch(w)
            except Exception:
                pass
        self._watchers = []

    @property
    def active(self) -> bool:
        return self._active

    @property
    def running(self) -> bool:
        return self._running

    @property
    def current(self) -> bool:
        """The last result is for the current settings."""
        return self.shown == self._generation

    def set_active(self, active: bool) -> None:
        """Start (or stop) computing; becoming active computes at once if out of date."""
        self._active = bool(active)
        if self._active and self.auto and not self.current:
            self.refresh()

    def refresh(self) -> None:
        """Compute for the current settings (queued behind a running computation)."""
        with self._lock:
            if self._running or self.disposed:
                return  # _finished() starts the latest settings once the current run ends
            self._running = True
            generation = self._generation
        self.on_start()
        self._start(generation)

    def changed(self, *_: Any) -> None:
        """The inputs changed (a watched parameter, or a caller that knows better)."""
        with self._lock:
            self._generation += 1
            running = self._running
        if running:
            return
        if self._active and self.auto:
            self.refresh()
        else:
            self.on_stale()

    def _start(self, generation: int) -> None:
        def work() -> Any:
            self.computations += 1
            t = time.thread_time()  # CPU time: the work itself, not the wait for other threads
            try:
                return self.compute()
            finally:
                self.last_seconds = time.thread_time() - t

        # cheap work (the last run took less than sync_below seconds) is done at once: a thread
        # and a round trip through the event loop would only add latency
        quick = self.last_seconds is not None and self.last_seconds < self.sync_below
        (run_now if quick else self.runner)(work, lambda value: self._finished(generation, value, None),
                                            lambda exc: self._finished(generation, None, exc))

    def _finished(self, generation: int, value: Any, error: BaseException | None) -> None:
        with self._lock:
            latest = self._generation
            again = generation != latest and self._active and self.auto and not self.disposed
            if not again:
                self._running = False
        if self.disposed:
            return
        self.shown = generation
        current = generation == latest
        if error is not None:
            self.on_error(error, current)
        else:
            self.on_result(value, current)
        if again:  # the settings changed while computing: the latest settings now
            self.on_start()
            self._start(latest)


class DeferredHTML:
    """A ``pn.pane.HTML`` (:attr:`pane`) showing ``render()``, computed by a :class:`Deferred`."""

    def __init__(
        self,
        render: Callable[[], str],
        watch: Sequence[tuple[Any, Sequence[str]]] = (),
        *,
        runner: Runner | None = None,
        active: bool = True,
        auto: bool = True,
        idle_html: str = "",
        busy_note: str = "computing…",
        stale_note: str = "the settings changed: compute again",
        css_class: str = "bx-deferred",
        sync_below: float = 0.0,
        **pane_options: Any,
    ):
        import panel as pn

        self.busy_note, self.stale_note, self.css_class = busy_note, stale_note, css_class
        self._body = idle_html
        pane_options.setdefault("sizing_mode", "stretch_width")
        self.pane = pn.pane.HTML(self._wrap(idle_html), **pane_options)
        self.pane.deferred = self  # found by dispose_views when the pane is replaced
        self.deferred = Deferred(
            render, watch, runner=runner, active=active, auto=auto, start=False, sync_below=sync_below,
            on_start=lambda: self._show(self._body, self.busy_note),
            on_result=lambda html, current: self._done(html, current),
            on_error=lambda exc, current: self._done(f'<div class="{css_class}-error">{esc(exc, 500)}</div>', current),
            on_stale=lambda: self._show(self._body, self.stale_note) if self.deferred.shown is not None else None,
        )
        if active and auto:
            self.deferred.refresh()

    @property
    def active(self) -> bool:
        return self.deferred.active

    @property
    def computations(self) -> int:
        return self.deferred.computations

    def set_active(self, active: bool) -> None:
        self.deferred.set_active(active)

    def refresh(self) -> None:
        self.deferred.refresh()

    def dispose(self) -> None:
        self.deferred.dispose()

    def _done(self, html: str, current: bool) -> None:
        self._body = html
        if current or not self.deferred.running:
            self._show(html, None if current else self.stale_note)

    def _show(self, body: str, note: str | None) -> None:
        self.pane.object = self._wrap(body, note)

    def _wrap(self, body: str, note: str | None = None) -> str:
        head = f'<div class="{self.css_class}-note" style="font-size:11px;color:#a15c00">{esc(note, 200)}</div>' if note else ""
        faded = ' style="opacity:0.55"' if note else ""
        return f'<div class="{self.css_class}">{head}<div{faded}>{body}</div></div>'


class Feed:
    """The data of one view, computed by a :class:`Deferred` when the watched state parameters
    change, published as :attr:`value` with :attr:`params` ``.version`` bumped (the view's
    DynamicMaps follow ``version``) and ``.pending`` True while newer settings are computed.

    `compute()` returns a dict; a failure publishes ``empty()`` and the message in ``.error``
    (and in ``state.status`` for errors the user can fix).
    """

    def __init__(self, state: Any, compute: Callable[[], dict], empty: Callable[[], dict], watch: Sequence[str], *,
                 runner: Runner | None = None, sync_below: float = SYNC_BELOW):
        self.state = state
        self.empty = empty
        self.value: dict = empty()
        self.params = FeedParams()
        self.deferred = Deferred(compute, [(state, watch)], runner=runner, start=False, sync_below=sync_below,
                                 on_start=lambda: setattr(self.params, "pending", True),
                                 on_result=self._publish, on_error=self._failed)
        self.deferred.refresh()

    def dispose(self) -> None:
        """Stop following the state (the view was replaced)."""
        self.deferred.dispose()

    @property
    def version(self) -> int:
        return self.params.version

    @property
    def pending(self) -> bool:
        return self.params.pending

    @property
    def error(self) -> str:
        return self.params.error

    def _publish(self, value: dict, current: bool) -> None:
        self.value = value
        self.params.param.update(error="", pending=self.deferred.running)
        self.params.version += 1

    def _failed(self, exc: BaseException, current: bool) -> None:
        from ..errors import ExplorerError

        if isinstance(exc, ExplorerError):
            self.state.status = str(exc)
        self.value = self.empty()
        self.params.param.update(error=str(exc), pending=self.deferred.running)
        self.params.version += 1


class FeedParams(param.Parameterized):
    """What a feed-driven view watches."""

    version = param.Integer(0, doc="bumped when new data are published")
    pending = param.Boolean(False, doc="newer settings are being computed")
    error = param.String("", doc="why the last computation failed")


def feed_provenance_pane(feed: Feed, **pane_options: Any):
    """The escaped provenance line (``value['provenance_text']``) of what a feed-driven view shows,
    and whether newer settings are being computed."""
    import panel as pn

    def render(*_: Any) -> str:
        text = feed.value.get("provenance_text") or feed.error
        note = ""
        if feed.pending:
            note = ('<span style="color:#a15c00">updating to the current settings… (the progress bar says how far)</span> '
                    "shown: ")
        return (f'<div class="bx-provenance" style="font-size:11px;color:#555;overflow-wrap:anywhere;line-height:1.3">'
                f"{note}{esc(text, 1000)}</div>")

    pane_options.setdefault("sizing_mode", "stretch_width")
    pane_options.setdefault("margin", (0, 10))
    return pn.pane.HTML(param.bind(render, feed.params.param.version, feed.params.param.pending), **pane_options)


def dispose_views(obj: Any) -> int:
    """Dispose the Feeds and DeferredHTMLs of the views inside a Panel object or HoloViews plot
    that is being replaced (so they stop computing for a page that no longer shows them).
    Returns how many were disposed."""
    found: list[Any] = []

    def from_hv(o: Any) -> None:
        for f in [getattr(o, "feed", None), *getattr(o, "feeds", [])]:
            if f is not None:
                found.append(f)

    from_hv(obj)
    import panel as pn

    if isinstance(obj, pn.viewable.Viewable):
        for pane in obj.select(pn.pane.HTML):
            d = getattr(pane, "deferred", None)
            if d is not None:
                found.append(d)
        for pane in obj.select(pn.pane.HoloViews):
            from_hv(pane.object)
    for f in found:
        f.dispose()
    return len(found)
