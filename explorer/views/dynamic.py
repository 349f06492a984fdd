"""Wiring views to the state: DynamicMaps that re-run when the state parameters they read change.

Each view is a function of an ExplorerState. Its HoloViews objects are DynamicMaps driven by a
``hv.streams.Params`` stream over exactly the parameters the view reads, so moving the α slider
re-renders the heatmap in place (keeping the zoom) and leaves unrelated views alone.

The streams do not watch the state themselves: one :class:`StreamHub` per state does, and on a
change triggers every dependent stream *at once* (``hv.streams.Stream.trigger``), so HoloViews
refreshes each plot once per change, however many of its layers depend on it; and it holds the
Bokeh document's model collection frozen over all of them (every plot refresh otherwise ends
with Bokeh re-collecting all models of the page's document): on the Explore page this halves
the server time of a slider move. The hub also runs hooks that must see a change
before the plots redraw (`StreamHub.before`).
"""

from __future__ import annotations

import threading
import weakref
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Sequence

import holoviews as hv

from ..errors import ExplorerError

# the state parameters that decide each kind of data (mirrors explorer.state)
SOURCE = ("source", "models", "source_options")
ACTIVE = SOURCE + ("sample_size", "seed", "caption_filter", "filter_mode")
GAP = ("alpha", "renormalize")
ORDER = ("cluster", "cluster_block", "k", "optimal_order")
PROJ = ("projection", "projection_mode", "x_component", "y_component", "faithfulness_k")
MODEL = ("active_model",)
COMPARE = ("compare_models", "shared_order")


class StreamHub:
    """Watches one state's parameters for all the views' Params streams (see module docstring)."""

    def __init__(self, state: Any):
        self._state = weakref.ref(state)
        self._streams: list[weakref.ref] = []
        self._hooks: list[tuple[frozenset, Callable[[], None]]] = []
        self._watched: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, state: Any) -> "StreamHub":
        hub = state.__dict__.get("_stream_hub")
        if hub is None:
            hub = state.__dict__["_stream_hub"] = cls(state)
        return hub

    def _watch(self, names: Sequence[str]) -> None:
        state = self._state()
        with self._lock:
            new = [n for n in dict.fromkeys(names) if n not in self._watched]
            self._watched.update(new)
        if new and state is not None:
            # after the other watchers (precedence 0): text panes update and background work
            # (explorer.views.deferred) starts before the plots' slower refreshes
            state.param.watch(self._changed, new, precedence=1)

    def stream(self, names: Sequence[str]) -> hv.streams.Params:
        """A Params stream over `names` of the state, triggered by the hub."""
        seen = list(dict.fromkeys(names))
        stream = hv.streams.Params(parameterized=self._state(), parameters=seen, watch=False)
        with self._lock:
            self._streams.append(weakref.ref(stream))
        self._watch(seen)
        return stream

    def before(self, names: Sequence[str], hook: Callable[[], None]) -> None:
        """Call hook() when one of `names` changes, before the plots redraw."""
        with self._lock:
            self._hooks.append((frozenset(names), hook))
        self._watch(names)

    def _changed(self, *events: Any) -> None:
        changed = {e.name for e in events}
        with self._lock:
            self._streams = [r for r in self._streams if r() is not None]
            streams = [r() for r in self._streams]
            hooks = [h for names, h in self._hooks if names & changed]
        for hook in hooks:
            hook()
        targets = [s for s in streams if s is not None and changed & {p.name for p in s.parameters}]
        if not targets:
            return
        for s in targets:
            s._events = list(events)
        try:
            with _frozen(_documents(targets)):
                hv.streams.Stream.trigger(targets)
        finally:
            for s in targets:
                s._events = []


def _documents(streams: Sequence[hv.streams.Stream]) -> list:
    """The Bokeh documents of the plots subscribed to `streams`."""
    docs: dict[int, Any] = {}
    for s in streams:
        for _, fn in getattr(s, "_subscribers", []):
            doc = getattr(getattr(fn, "__self__", None), "document", None)
            if doc is not None:
                docs[id(doc)] = doc
    return list(docs.values())


@contextmanager
def _frozen(docs: Sequence[Any]):
    """Bokeh re-collects every model of a document after each plot update (doc.models.freeze);
    holding the freeze over all the plots of one change makes that one re-collection."""
    with ExitStack() as stack:
        for doc in docs:
            models = getattr(doc, "models", None)
            if models is not None and hasattr(models, "freeze"):
                stack.enter_context(models.freeze())
        yield


def all_range_streams(obj: Any, found: list | None = None) -> list:
    """The RangeXY streams of a DynamicMap and of the DynamicMaps it is computed from (a
    rasterized layer has its own and its input's); resetting them all forgets the zoom."""
    found = [] if found is None else found
    if isinstance(obj, hv.DynamicMap):
        for s in obj.streams:
            if isinstance(s, hv.streams.RangeXY) and all(s is not f for f in found):
                found.append(s)
        for inp in getattr(obj.callback, "inputs", []):
            all_range_streams(inp, found)
    return found


def params_stream(state: Any, names: Sequence[str]) -> hv.streams.Params:
    """A Params stream over `names` of `state`, triggered together with the state's other
    view streams (StreamHub)."""
    return StreamHub.of(state).stream(names)


def guarded(state: Any, build: Callable[[], Any], fallback: Callable[[str], Any]) -> Any:
    """build(); on a user-fixable error set state.status and return fallback(message)."""
    try:
        return build()
    except ExplorerError as exc:
        state.status = str(exc)
        return fallback(str(exc))


def dynamic(
    state: Any,
    names: Sequence[str],
    build: Callable[..., Any],
    fallback: Callable[[str], Any],
    extra_streams: Sequence[hv.streams.Stream] = (),
) -> hv.DynamicMap:
    """A DynamicMap calling `build()` now and whenever one of the state parameters `names` changes.

    With `extra_streams` (e.g. RangeXY, PlotSize), `build` receives their values as keywords.
    """
    extra = set()
    for s in extra_streams:
        extra |= set(s.contents)

    def callback(**kwargs: Any) -> Any:
        return guarded(state, lambda: build(**{k: v for k, v in kwargs.items() if k in extra}), fallback)

    return hv.DynamicMap(callback, streams=[params_stream(state, names), *extra_streams])
