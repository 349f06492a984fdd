"""What the reader noted about the opened source, once, above the Explore page's views.

- the source's notes (e.g. "prompts.txt: blank line 7 skipped", a model's provenance note);
- why thumbnails cannot be shown: the first image's file checked when the page is built
  (:func:`explorer.thumbnails.image_problem`: missing, outside the image root, a link out of it),
  and the first reason the thumbnail endpoint refused one later (:func:`explorer.thumbnails.refusal`),
  so a refused thumbnail is not a silent broken image. Each reason is said once.

Every text is escaped (explorer.views.cards).
"""

from __future__ import annotations

from typing import Any

from .cards import esc

#: what the notices depend on
DEPENDS = ("data.source",)
#: notes shown at most (the rest counted)
SHOWN_NOTES = 5


def notices_html(notes: list[str], thumbnail_reason: str | None) -> str:
    """The notices as escaped HTML ('' when there is nothing to say)."""
    rows = [f"<div>{esc(n, 400)}</div>" for n in notes[:SHOWN_NOTES]]
    if len(notes) > SHOWN_NOTES:
        rows.append(f"<div>… and {len(notes) - SHOWN_NOTES} more notes</div>")
    if thumbnail_reason:
        rows.append(f'<div class="bx-thumb-refused">Thumbnails cannot be shown: {esc(thumbnail_reason, 400)}</div>')
    if not rows:
        return ""
    return '<div class="bx-notices" style="font-size:12px;color:#8a5a00;margin:2px 5px">' + "".join(rows) + "</div>"


class SourceNotices:
    """An HTML pane with the notices of `state`'s source; :meth:`refresh` (cheap: two dict
    look-ups) picks up a thumbnail refused since."""

    def __init__(self, state: Any):
        import panel as pn

        self.state = state
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["bx-notices-pane"])
        self._first_image: str | None = None
        self._checked = False
        self.refresh()

    def thumbnail_reason(self) -> str | None:
        from .. import thumbnails

        try:
            if not self._checked:
                self._checked = True
                self._first_image = thumbnails.image_problem(self.state.pairs)
            return self._first_image or thumbnails.refusal(self.state.thumb_token())
        except Exception as exc:  # the views show the source's own errors
            return str(exc)

    def refresh(self) -> None:
        try:
            notes = list(self.state.source_data().notes)
        except Exception:
            notes = []
        html = notices_html(notes, self.thumbnail_reason())
        if html != self.pane.object:
            self.pane.object = html
