"""A view's data, computed off the page's event loop, the latest settings winning.

Every plot and pane of the explorer is a function of the state's settings. Its data (a heatmap
tile, a projection frame, the numbers) come from the engine and can take from a millisecond to
minutes, so a :class:`Feed` computes them

- when one of the settings the view declared (`watch`, the ``DEPENDS`` of its module) changes,
  or when the view asks (:meth:`Feed.request`, e.g. a zoom gives the new window);
- on a Panel server, in Panel's own thread pool (``pn.state.execute(..., schedule="thread")``,
  so ``pn.config.nthreads`` must be set, as the app does); in a notebook or a test at once;
  a computation that took less than `SYNC_BELOW` seconds (wall time) last time runs at once everywhere
  (a thread hop would only add latency);
- one at a time, the latest request winning: requests arriving while it runs are merged, and
  when it ends the newest settings are computed instead of showing stale data as current.

The result is published, on the session's event loop, to ``feed.pipe`` (an ``hv.streams.Pipe``;
the view's DynamicMaps follow it) and ``feed.value``, with the
Feed's own ``version`` / ``pending`` / ``error`` parameters for panes. Long engine work is
attributed to the session that asked (``explorer.engine.memo.REQUESTER``) so its progress shows
on that page only, and counts as quick work that long labelled computations yield to
(:mod:`explorer.engine.priority`). This is the part Panel lacks; everything else is Panel's and
HoloViews'.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import holoviews as hv
import param

from ..engine import priority
from ..engine.backend import one_blas_thread_per_call
from ..engine.memo import REQUESTER
from ..errors import ExplorerError

log = logging.getLogger(__name__)
#: one line per computation (view, seconds queued, wall and CPU seconds) when serving with
#: BIMODAL_EXPLORER_TRACE=1 (explorer.app.server adds the handler)
trace = logging.getLogger("explorer.trace")

#: data computed in less than this many (thread CPU) seconds last time are computed at once
SYNC_BELOW = 0.05


def params_of(state: Any, depends: Iterable[str]) -> list[tuple[param.Parameterized, list[str]]]:
    """(part, parameter names) for dependency strings 'part' (all its parameters) or 'part.name'."""
    out: dict[int, tuple[param.Parameterized, list[str]]] = {}
    for dep in depends:
        part_name, _, name = dep.partition(".")
        part = getattr(state, part_name)
        names = [name] if name else [n for n in part.param if n != "name"]
        entry = out.setdefault(id(part), (part, []))
        entry[1].extend(n for n in names if n not in entry[1])
    return list(out.values())


def session_id() -> str:
    """The current Panel session's id ('' outside a server session)."""
    import panel as pn

    doc = pn.state.curdoc
    ctx = getattr(doc, "session_context", None) if doc is not None else None
    return str(getattr(ctx, "id", "") or "")


def run_off_loop(work: Callable[[], None]) -> None:
    """Run `work` in Panel's thread pool when serving a session with threads, else at once."""
    import panel as pn

    if session_id() and pn.config.nthreads:
        pn.state.execute(work, schedule="thread")
    else:
        work()


def _session_doc() -> Any:
    """A weak reference to the current server session's document (None outside a server)."""
    import panel as pn

    doc = pn.state.curdoc
    if doc is None or getattr(doc, "session_context", None) is None:
        return None
    return weakref.ref(doc)


def on_doc_loop(doc: Any, callback: Callable[[], None], *, later: bool = False) -> None:
    """Run `callback` with `doc` as Panel's current document: at once when this is the thread the
    document's session runs on (unless `later`: then after the current callback, once its changes
    went to the browser), else on its event loop (Bokeh's add_next_tick_callback). Panel objects
    built without their document current get CDN stylesheets and notebook-style plots."""
    import panel as pn
    from panel.io.state import set_curdoc

    def run() -> None:
        with set_curdoc(doc):
            callback()

    loop_thread = pn.state._thread_id_.get(doc, threading.main_thread().ident)
    if threading.get_ident() == loop_thread and not later:
        run()
        return
    try:
        doc.add_next_tick_callback(run)
    except Exception as exc:  # the session ended meanwhile
        log.debug("a result for an ended session was dropped: %s", exc)


def _quickly(gen: Any) -> Iterable[Any]:
    """The items of a generator, each computed as quick work (explorer.engine.priority)."""
    while True:
        with priority.quick():
            try:
                item = next(gen)
            except StopIteration:
                return
        yield item


def _weak(method: Callable[..., Any]) -> Callable[..., Any]:
    """A watcher calling `method` while its object lives (a replaced view's Feed is not kept
    alive by the settings it watches)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        m = ref()
        if m is not None:
            m(*args)

    return call


class Feed(param.Parameterized):
    """compute(**request) -> dict, published to :attr:`pipe` (see module docstring)."""

    version = param.Integer(0, doc="bumped when new data are published")
    pending = param.Boolean(False, doc="newer settings are being computed")
    error = param.String("", doc="why the last computation failed ('' when it did not)")

    def __init__(self, compute: Callable[..., dict], watch: Sequence[tuple[param.Parameterized, list[str]]], *,
                 empty: Callable[[], dict], request: dict | None = None, run: Callable[[Callable[[], None]], None] | None = None):
        super().__init__()
        one_blas_thread_per_call()  # the views' threads are the parallelism (explorer.engine.backend)
        self.compute = compute
        self.empty = empty
        self.value: dict = empty()
        self.pipe = hv.streams.Pipe(data=self.value)
        self.requester = session_id()
        self._doc = _session_doc()
        self._run = run or run_off_loop
        self._own_runner = run is not None
        self._request: dict = dict(request or {})
        self._lock = threading.Lock()
        self._generation = 0
        self._running = False
        self._last_seconds: float | None = None
        self.disposed = False
        self.computations = 0
        self.label = getattr(compute, "__qualname__", "view").split(".<locals>")[0]
        self._asked = time.perf_counter()
        self._watchers = [(part, part.param.watch(_weak(self._changed), names)) for part, names in watch if names]
        self.request()

    def _changed(self, *_: Any) -> None:
        self.request()

    def request(self, **changes: Any) -> None:
        """Compute for the current settings (merged with `changes` to the request, e.g. a window)."""
        with self._lock:
            if self.disposed:
                return
            self._request.update(changes)
            self._generation += 1
            if self._running:
                return  # the running computation starts over with the latest settings when it ends
            self._running = True
            self._asked = time.perf_counter()
        if self._last_seconds is not None and self._last_seconds < SYNC_BELOW:
            self._loop()
        else:
            self.pending = True
            self._run(self._loop)

    def forget(self, *names: str) -> None:
        """Drop `names` from the request kept for later computations (e.g. a zoom window that
        belongs to a matrix no longer shown)."""
        with self._lock:
            for n in names:
                self._request.pop(n, None)

    def _loop(self) -> None:
        token = REQUESTER.set(self.requester)
        try:
            while not self._run_once():
                # newer settings arrived meanwhile: compute those instead, through the runner
                # again when it is one of the view's own (it may hold the work back, e.g. while
                # the views above the fold compute the same change)
                if self._own_runner:
                    self._run(self._loop)
                    return
        finally:
            REQUESTER.reset(token)

    def _stale(self, generation: int) -> bool:
        with self._lock:
            return self.disposed or generation != self._generation

    def _run_once(self) -> bool:
        """One computation for the latest request; False when it went stale before the end.
        A compute function may be a generator: each value it yields is published at once (a
        quick first answer, then a refined one), the view marked pending until the last."""
        with self._lock:
            generation, request = self._generation, dict(self._request)
        self.pending = True
        self.computations += 1
        t = time.thread_time()
        started = time.perf_counter()
        shown = False  # a generator's last value is already published (only `pending` is left to clear)
        try:
            with priority.quick():
                result = self.compute(**request)
            if inspect.isgenerator(result):
                last = None
                for item in _quickly(result):
                    if self._stale(generation):
                        result.close()
                        return self._finish_stale()
                    self._publish(item, "", final=False)  # at once: the quick answer must not wait for the next
                    last = item
                shown = last is not None
                result, error = last if shown else self.empty(), ""
            else:
                error = ""
        except ExplorerError as exc:
            result, error = self.empty(), str(exc)
        except Exception as exc:  # a bug must not take the page down: shown in the view, logged
            log.exception("computing a view's data failed")
            result, error = self.empty(), f"{type(exc).__name__}: {exc}"
        # wall time: the engine's passes run on worker threads (explorer.engine.backend.spread), whose
        # CPU this thread's clock does not count; a 3 s heatmap took 0.05 s of it and then ran on the loop
        self._last_seconds = time.perf_counter() - started
        if trace.isEnabledFor(logging.INFO):
            trace.info("%s: queued %.2f s, computed in %.2f s (%.2f s CPU)%s", self.label, started - self._asked,
                       self._last_seconds, time.thread_time() - t, f", {error}" if error else "")
        self._asked = time.perf_counter()
        with self._lock:
            if self.disposed or generation != self._generation:
                stale = True
            else:
                stale = False
                self._running = False
        if stale:
            return self._finish_stale()
        if shown:
            self._on_loop(lambda: None if self.disposed else self.param.update(pending=False))
        else:
            self._publish(result, error, final=True)
        return True

    def _finish_stale(self) -> bool:
        with self._lock:
            if self.disposed:
                self._running = False
                return True
        return False

    def _publish(self, value: dict, error: str, final: bool) -> None:
        """Deliver a result on the session's event loop, with the session's document current: a
        plot redrawn from a worker thread would race the loop drawing the same DynamicMap (a page's
        first render then failed), and Bokeh changes made outside the loop are not safe."""
        self._on_loop(lambda: self._deliver(value, error, final))

    def _on_loop(self, callback: Callable[[], None]) -> None:
        if self._doc is None:  # a notebook or a test: at once
            callback()
            return
        doc = self._doc()
        if doc is None:  # the session ended meanwhile
            return
        on_doc_loop(doc, callback)

    def _deliver(self, value: dict, error: str, final: bool) -> None:
        if self.disposed:  # the view was replaced meanwhile: its plot may be gone
            return
        self.value = value
        self.param.update(error=error, pending=not final, version=self.version + 1)
        self.pipe.send(value)

    def dispose(self) -> None:
        """Stop following the settings (the view was replaced or its session ended)."""
        with self._lock:
            self.disposed = True
        for part, w in self._watchers:
            try:
                part.param.unwatch(w)
            except Exception:
                pass
        self._watchers = []


def feeds_in(obj: Any) -> list[Feed]:
    """The Feeds of the views inside a Panel object or HoloViews plot (``.feed`` / ``.feeds``)."""
    import panel as pn

    found: list[Feed] = []

    def from_obj(o: Any) -> None:
        for f in [getattr(o, "feed", None), *getattr(o, "feeds", [])]:
            if isinstance(f, Feed) and f not in found:
                found.append(f)

    from_obj(obj)
    if isinstance(obj, pn.viewable.Viewable):
        for pane in obj.select(lambda o: hasattr(o, "feed") or hasattr(o, "feeds")):
            from_obj(pane)
        for pane in obj.select(pn.pane.HoloViews):
            from_obj(pane.object)
    return found


def dispose_views(obj: Any) -> int:
    """Dispose the Feeds of the views inside `obj` (it is being replaced); returns how many."""
    feeds = feeds_in(obj)
    for f in feeds:
        f.dispose()
    return len(feeds)
