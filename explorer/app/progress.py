"""Progress of long work in the page: a bar and a line of text.

Long computations announce themselves in the shared memo (:meth:`explorer.engine.memo.Memo.
in_flight`: opening and embedding a source, clustering a large source, UMAP / t-SNE, R@k of a
large source, a max tile over many cells), with who asked for them. :class:`ProgressView` shows
the oldest one this session waits for: a determinate bar when done/total are known ("Embedding …
· 2/3 models · 14 s"), an animated one otherwise, and the elapsed seconds; the app refreshes it
once a second. Hidden when there is no work.
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn

from ..engine.memo import MEMO, Work
from ..views.cards import esc


def work_text(work: Work | None, now: float | None = None) -> str:
    """'label · done/total unit · 12 s' (plain text; escaped by the caller)."""
    if work is None:
        return ""
    now = time.time() if now is None else now
    parts = [str(work.label or "working…")]
    if work.total:
        unit = f" {work.unit}" if work.unit else ""
        parts.append(f"{int(work.done or 0):,}/{int(work.total):,}{unit}")
    parts.append(f"{max(0.0, now - float(work.started)):.0f} s")
    return " · ".join(parts)


def work_percent(work: Work | None) -> int:
    """0–100 when the amount of work is known, −1 (an animated bar) when it is not."""
    if work is None or not work.total:
        return -1
    return int(max(0, min(100, round(100.0 * float(work.done or 0) / float(work.total)))))


class ProgressView:
    """A text line and a progress bar for the work a session waits for (`requester`: its id;
    None = any work of the process)."""

    def __init__(self, requester: str | None = None, *, margin: Any = (0, 10)):
        self.requester = requester
        self.text = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=margin, css_classes=["bx-progress-text"])
        self.bar = pn.indicators.Progress(value=-1, max=100, visible=False, height=10, sizing_mode="stretch_width",
                                          margin=margin, bar_color="primary", css_classes=["bx-progress"])
        self._last: tuple | None = None

    def panel(self) -> pn.Column:
        return pn.Column(self.text, self.bar, sizing_mode="stretch_width", margin=0)

    def current(self) -> Work | None:
        works = MEMO.in_flight(self.requester or None)
        return works[0] if works else None

    @property
    def working(self) -> bool:
        return self.current() is not None

    def render(self, *_: Any) -> None:
        """Update the bar and the text (called once a second by the app)."""
        work = self.current()
        key = (work_text(work), work_percent(work))
        if key == self._last:
            return
        self._last = key
        if work is None:
            self.text.visible = self.bar.visible = False
            return
        self.text.object = f'<div class="bx-progress-line" style="font-size:12px;color:#333;overflow-wrap:anywhere">{esc(key[0], 400)}</div>'
        self.bar.value = key[1]
        self.text.visible = self.bar.visible = True
