"""Hover on the rasterized scatter: the item under the pointer and its partner, at any size.

A rasterized scatter (more than ``look.datashade_above`` pairs) is two images: no glyph per point
for Bokeh's HoverTool. Its hover is looked up on the server instead: a ``PointerXY`` stream on the
plot reports the mouse position, :func:`hover_rows` finds the shown point nearest it within
:data:`~explorer.engine.nearest.HOVER_RADIUS_PX` screen pixels of the current window (a k-d tree
built once per projection frame when the pointer first moves over it — in a background thread
above :data:`SYNC_INDEX_UP_TO` points, the pane saying so meanwhile, so drawing a new projection
never waits for it — and shared by every session showing that frame:
``ExplorerState.projection_index``; one O(log N) query per event, explorer.engine.nearest) and a small pane below the plot names it: modality, pair id, caption
(escaped, cut to one line) and thumbnail of the item and of its partner (the other modality of
the same pair), and the pair's similarity. Only the two items' captions are read.

A moving mouse does not flood the server: HoloViews sends one pointer event at a time (newer
ones replace those waiting), the lookup runs at most every :data:`THROTTLE_MS` ms with the latest
position, and the pane is rewritten only when the point under the pointer changes. When the
pointer leaves the plot (a ``MouseLeave`` stream) the pane shows its hint again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import holoviews as hv
import panel as pn

from ..engine.nearest import nearest_point, partner_row
from .cards import esc
from .hover import one_line
from .style import MODALITY_COLORS

#: the lookup runs at most this often while the mouse moves (the latest position wins)
THROTTLE_MS = 80
#: after the pointer left the plot, pointer moves delivered within this many seconds are stale (ignored)
LEAVE_GRACE_S = 0.3
HINT = '<div class="bx-hover-text" style="color:#888">Hover over a point to name it and its partner.</div>'
NAMES = {"image": "image", "text": "caption", "pair": "pair"}


#: frames of up to this many points get their k-d tree at the first hover, in the hover's callback
#: (2 ms at 10,000 points); larger ones in a background thread (2,000,000 points: seconds), so a
#: new projection is drawn without waiting for it and the hover works once it is built
SYNC_INDEX_UP_TO = 200_000


class LazyIndex:
    """The hover's k-d tree of a projection frame, built when the pointer first moves over the
    plot, not when the frame is drawn (explorer.state.ExplorerState.projection_index: memoised,
    shared by the sessions showing the frame)."""

    def __init__(self, build: Callable[[], Any], points: int):
        self._build, self.points = build, int(points)
        self._index: Any = None
        self._lock = threading.Lock()
        self._started = False
        self.error: str = ""

    def get(self) -> Any:
        """The tree, or None while it is being built in the background (started by this call)."""
        if self._index is not None:
            return self._index
        if self.points <= SYNC_INDEX_UP_TO:
            self._index = self._build()
            return self._index
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, daemon=True, name="bx-hover-index").start()
        return None

    def _run(self) -> None:
        from ..engine import priority

        try:
            with priority.long():  # not a view's work: the views' computations come first
                self._index = self._build()
        except Exception as exc:  # shown in the pane instead of the hover
            self.error = one_line(exc)

    @property
    def building(self) -> bool:
        return self._index is None and self._started and not self.error


def hover_rows(value: dict[str, Any], x: float | None, y: float | None) -> tuple[int, int | None] | None:
    """(row, partner row) in ``value['frame']`` of the point under (x, y), or None: nothing within
    a few pixels of the window ``value['window']`` drawn at ``value['pixels']`` (or the frame's
    k-d tree is still being built)."""
    index, window, pixels = value.get("index"), value.get("window"), value.get("pixels")
    if isinstance(index, LazyIndex) and x is not None and y is not None:
        index = index.get()
    if x is None or y is None or index is None or not window or not pixels:
        return None
    (x0, x1), (y0, y1) = window
    w, h = pixels
    row = nearest_point(index, float(x), float(y), abs(x1 - x0) / max(w, 1), abs(y1 - y0) / max(h, 1))
    if row is None:
        return None
    frame = value["frame"]
    if str(frame["modality"].iloc[row]) == "pair":  # concatenated: one point per pair
        return row, None
    return row, partner_row(frame["pair_id"].to_numpy(), frame["modality"].cat.codes.to_numpy(), row)


def _item_html(state: Any, modality: str, pid: int, role: str) -> str:
    item = state.item("image" if modality in ("image", "pair") else "text", pid)
    color = MODALITY_COLORS.get(modality, "#555")
    thumb = item.get("thumb") if modality in ("image", "pair") else None
    img = (f'<img src="{esc(thumb, 200)}" alt="" style="max-width:56px;max-height:56px;float:left;margin-right:6px">'
           if thumb else "")
    return (f'<div class="bx-hover-{role}" style="overflow:hidden;margin-bottom:3px">{img}'
            f'<b style="color:{color}">{NAMES.get(modality, esc(modality, 20))}</b> of pair {pid:,}'
            f'<div style="white-space:nowrap;overflow:hidden;text-overflow:ellipsis">{esc(one_line(item["caption"]))}</div></div>')


def hover_html(state: Any, value: dict[str, Any], rows: tuple[int, int | None] | None) -> str:
    """The pane's HTML for :func:`hover_rows`' answer (escaped captions, one line each)."""
    if rows is None:
        index = value.get("index")
        if isinstance(index, LazyIndex) and index.error:
            return f'<div style="color:#a00">hover unavailable: {esc(index.error)}</div>'
        if isinstance(index, LazyIndex) and index.building:
            return (f'<div class="bx-hover-text" style="color:#888">Indexing {index.points:,} points for the hover '
                    f'(once per projection)…</div>')
        return HINT
    frame = value["frame"]
    row, partner = rows
    pid = int(frame["pair_id"].iloc[row])
    sim = float(frame["sim"].iloc[row])
    parts = [f'<div><b>pair {pid:,}</b> · similarity {sim:.3f}</div>',
             _item_html(state, str(frame["modality"].iloc[row]), pid, "item")]
    if partner is not None:
        parts.append('<div style="color:#888;font-size:11px">its partner</div>')
        parts.append(_item_html(state, str(frame["modality"].iloc[partner]), int(frame["pair_id"].iloc[partner]), "partner"))
    return f'<div class="bx-hover-text">{"".join(parts)}</div>'


class ScatterHover:
    """The hover of a rasterized scatter: ``stream`` (PointerXY on `source`) and ``pane`` (HTML)."""

    def __init__(self, state: Any, feed: Any, source: Any, width: int = 400):
        self.state, self.feed = state, feed
        self.pane = pn.pane.HTML(HINT, width=width, height=160, margin=(0, 5), css_classes=["bx-scatter-hover"],
                                 styles={"font-size": "12px", "overflow": "hidden"})
        self.stream = hv.streams.PointerXY(source=source, x=None, y=None)
        self.stream.add_subscriber(self.on_pointer)
        # the pointer leaving the plot clears the pane (PointerXY reports moves inside it only)
        self.leave = hv.streams.MouseLeave(source=source, x=None, y=None)
        self.leave.add_subscriber(self.on_leave)
        self._latest: tuple[Any, Any] = (None, None)
        self._pending = False
        self._shown: Any = None
        self._left_at = -1e9

    def on_leave(self, x: float | None = None, y: float | None = None) -> None:
        """The pointer left the plot: the hint again, at once; a move reported just before the
        leave but delivered after it (another stream's queue) is ignored for `LEAVE_GRACE_S`."""
        self._left_at = time.monotonic()
        self._latest = (None, None)
        self.show()

    def on_pointer(self, x: float | None = None, y: float | None = None) -> None:
        if time.monotonic() - self._left_at < LEAVE_GRACE_S:
            return
        self._latest = (x, y)
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:  # no server (tests, a notebook): at once
            self.show()
            return
        if not self._pending:
            self._pending = True
            doc.add_timeout_callback(self._fire, THROTTLE_MS)

    def _fire(self) -> None:
        self._pending = False
        self.show()

    def show(self) -> None:
        value = self.feed.value
        try:
            rows = hover_rows(value, *self._latest)
            shown = (value.get("key"), rows)
            if shown == self._shown:
                return
            self._shown = shown
            self.pane.object = hover_html(self.state, value, rows)
        except Exception as exc:  # a source closed under the pointer: say so, never a traceback
            self.pane.object = f'<div style="color:#a00">hover failed: {esc(one_line(exc))}</div>'

