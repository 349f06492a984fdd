"""What the caption filter will keep, and what the page shows when it keeps too few pairs.

- :class:`FilterCount`: under the filter box, the number of pairs the text typed so far matches
  ("12 of 100 pairs match"), counted from the source's captions (:func:`explorer.pairs.count_matches`,
  pyarrow: milliseconds for 100,000 captions), debounced while typing; the views change only when
  the filter is applied (Enter).
- :class:`FewPairsGuard`: a filter (or a sample) leaving fewer than MIN_PAIRS pairs shows one clear
  message in place of the page's plots (a 2×2 heatmap, a projection that cannot be fitted, a loss
  over one pair mean nothing); the plots come back, unchanged, when the filter is widened.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from ..pairs import count_matches
from ..views.cards import esc

#: fewest shown pairs the Explore and Compare pages draw their plots for
MIN_PAIRS = 3
#: seconds the count waits for the typing to pause
DEBOUNCE_S = 0.25


def count_text(state: Any, query: str) -> str:
    """'12 of 100 pairs match' for the text typed so far (escaped HTML), or why it cannot be counted."""
    d = state.data
    try:
        p = state.pairs
        if p is None:
            return ""
        total = len(p.captions)
        if not query.strip():
            return f"all {total:,} pairs"
        n = count_matches(p.captions, query, d.filter_mode, d.filter_kind, array=p.caption_array())
    except Exception as exc:
        return f'<span style="color:#b00020">{esc(exc, 200)}</span>'
    few = f' · <b style="color:#b00020">fewer than {MIN_PAIRS}: nothing to plot</b>' if n < MIN_PAIRS else ""
    return f"{n:,} of {total:,} pairs match{few}"


class FilterCount:
    """The live match count under `text_input` (a TextInput bound to ``data.caption_filter``)."""

    def __init__(self, state: Any, text_input: Any):
        self.state, self.input = state, text_input
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5), css_classes=["bx-filter-count"],
                                 styles={"font-size": "12px", "color": "#555"})
        self._pending = False
        text_input.param.watch(self._typed, "value_input")
        for name in ("filter_mode", "filter_kind", "caption_filter"):
            state.data.param.watch(self._typed, name)
        self.update()

    def current(self) -> str:
        v = self.input.value_input
        return self.input.value if v is None else v

    def update(self) -> None:
        self._pending = False
        self.pane.object = f'<div class="bx-filter-count-text">{count_text(self.state, self.current())}</div>'

    def _typed(self, *_: Any) -> None:
        doc = pn.state.curdoc
        if doc is None or getattr(doc, "session_context", None) is None:
            self.update()  # a notebook or a test: at once
            return
        if not self._pending:
            self._pending = True
            doc.add_timeout_callback(self.update, int(DEBOUNCE_S * 1000))


def filter_count(state: Any, group: Any) -> FilterCount | None:
    """A FilterCount under the caption filter's TextInput in a pn.Param `group` (None without one)."""
    boxes = [w for w in group.select(pn.widgets.TextInput) if not isinstance(w, pn.widgets.PasswordInput)]
    box = next((w for w in boxes if "filter" in str(w.name).lower()), None)
    return FilterCount(state, box) if box is not None else None


def few_pairs_message(state: Any) -> str:
    """'' when at least MIN_PAIRS pairs are shown, else the message shown instead of the plots."""
    d = state.data
    try:
        n = int(state.active_indices().size)
    except Exception as exc:  # a bad regular expression, a filter matching nothing
        return f"Nothing to plot: {exc}"
    if n >= MIN_PAIRS:
        return ""
    what = f"The caption filter {d.caption_filter.strip()!r} ({d.filter_kind}, {d.filter_mode})" if d.caption_filter.strip() else "The sample"
    shown = "no pair" if n == 0 else ("1 pair" if n == 1 else f"{n} pairs")
    return (f"{what} keeps {shown}. The heatmaps, the projection and the numbers need at least {MIN_PAIRS} pairs: "
            "widen the filter (e.g. substring matching, or 'any' of several terms).")


def kept_pairs_html(state: Any) -> str:
    """The (at most MIN_PAIRS − 1) pairs a too narrow filter keeps: a card each (image and caption)."""
    from ..views.cards import item_card

    try:
        ids = state.active_indices()[: MIN_PAIRS - 1]
        return "".join(item_card(state.item("image", int(i))) for i in ids)
    except Exception:  # nothing kept, or a bad pattern: the message says so
        return ""


class FewPairsGuard:
    """`content`, or in its place the few-pairs message while fewer than MIN_PAIRS pairs are shown."""

    def __init__(self, state: Any, content: Any):
        self.state, self.content = state, content
        self.message = pn.pane.HTML("", sizing_mode="stretch_width", visible=False, css_classes=["bx-few-pairs"])
        self.panel = pn.Column(self.message, content, sizing_mode="stretch_width")
        self._watchers = [state.data.param.watch(self.update, ["caption_filter", "filter_mode", "filter_kind", "sample_size", "seed"])]
        self.update()

    def update(self, *_: Any) -> None:
        text = few_pairs_message(self.state)
        self.message.object = (f'<div class="bx-few-pairs-text" style="font-size:14px;padding:12px;border:1px solid #e0b000;'
                               f'background:#fff8e0;margin:5px">{esc(text, 600)}</div>{kept_pairs_html(self.state)}') if text else ""
        self.message.visible = bool(text)
        self.content.visible = not text

    def dispose(self) -> None:
        for w in self._watchers:
            self.state.data.param.unwatch(w)
        self._watchers = []
