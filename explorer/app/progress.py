"""Progress of long work in the page: a bar and a line of text following an ExplorerState's `work`.

The state announces long work (opening a source, embedding it model by model, clustering,
UMAP / t-SNE) in ``state.work`` = {'label', 'done', 'total', 'unit', 'started'}, from whichever
thread does it. :class:`ProgressView` shows it: a determinate bar when done/total are known
("Embedding … · 2/3 models · 14 s"), an animated (indeterminate) one otherwise, and the elapsed
seconds, refreshed once a second by the Explorer's ticker so the page visibly stays alive.
Hidden when there is no work.
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn

from ..views.cards import esc


def work_text(work: dict[str, Any] | None, now: float | None = None) -> str:
    """'label · done/total unit · 12 s' (plain text; escaped by the caller)."""
    if not work:
        return ""
    now = time.time() if now is None else now
    parts = [str(work.get("label", "") or "working…")]
    done, total = work.get("done"), work.get("total")
    if total:
        unit = f" {work.get('unit')}" if work.get("unit") else ""
        parts.append(f"{int(done or 0)}/{int(total)}{unit}")
    started = work.get("started")
    if started:
        parts.append(f"{max(0.0, now - float(started)):.0f} s")
    return " · ".join(parts)


def work_percent(work: dict[str, Any] | None) -> int:
    """0–100 when the amount of work is known, −1 (an animated bar) when it is not."""
    if not work or not work.get("total"):
        return -1
    return int(max(0, min(100, round(100.0 * float(work.get("done") or 0) / float(work["total"])))))


class ProgressView:
    """A text line and a progress bar for the `work` of one ExplorerState at a time (`follow`)."""

    def __init__(self, *, margin: Any = (0, 10)):
        self.text = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=margin, css_classes=["bx-progress-text"])
        self.bar = pn.indicators.Progress(value=-1, max=100, visible=False, height=10, sizing_mode="stretch_width",
                                          margin=margin, bar_color="primary", css_classes=["bx-progress"])
        self._state: Any = None
        self._watcher: Any = None
        self._last: tuple | None = None

    def panel(self) -> pn.Column:
        return pn.Column(self.text, self.bar, sizing_mode="stretch_width", margin=0)

    def follow(self, state: Any) -> None:
        """Show `state`'s work from now on (the previous state is no longer followed)."""
        if self._state is not None and self._watcher is not None:
            try:
                self._state.param.unwatch(self._watcher)
            except Exception:
                pass
        self._state = state
        self._watcher = state.param.watch(self.render, "work") if state is not None else None
        self.render()

    @property
    def working(self) -> bool:
        return self._state is not None and bool(getattr(self._state, "work", None))

    def render(self, *_: Any) -> None:
        """Update the bar and the text (also called by the Explorer's 1 s ticker for the elapsed time)."""
        work = getattr(self._state, "work", None) if self._state is not None else None
        key = (work_text(work), work_percent(work))
        if key == self._last:
            return
        self._last = key
        if not work:
            self.text.visible = self.bar.visible = False
            return
        self.text.object = f'<div class="bx-progress-line" style="font-size:12px;color:#333;overflow-wrap:anywhere">{esc(key[0], 400)}</div>'
        self.bar.value = key[1]
        self.text.visible = self.bar.visible = True
