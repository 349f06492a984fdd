"""Side panels: the selected pairs, and the two items of the last tapped cell or point.

Both are Panel HTML panes bound to the state (`selected_pairs`, `inspected`); every caption,
id and label is escaped (explorer.views.cards), thumbnails are ``/thumb/<token>/<i>.png`` URLs.
"""

from __future__ import annotations

from typing import Any

import param

from .cards import esc, inspected_html, selection_html
from .dynamic import ACTIVE, GAP, MODEL, ORDER


def selection_html_for(state: Any, model: str | None = None, limit: int = 60) -> str:
    try:
        df = state.selected_table(model)
    except Exception as exc:
        return f'<div class="bx-selection">{esc(exc)}</div>'
    return selection_html(df.head(limit).to_dict("records"), limit=limit, total=len(df))


def selection_panel(state: Any, model: str | None = None, limit: int = 60):
    """Thumbnails, captions and cluster labels of `state.selected_pairs` (first `limit`)."""
    import panel as pn

    deps = ("selected_pairs",) + ACTIVE + GAP + ORDER + (MODEL if model is None else ())

    def render(*_: Any) -> str:
        return selection_html_for(state, model, limit)

    return pn.pane.HTML(param.bind(render, *[state.param[p] for p in dict.fromkeys(deps)]), sizing_mode="stretch_width")


def inspect_panel(state: Any, model: str | None = None):
    """The two items (thumbnail, caption, index, modality) and the value of the tapped cell / pair."""
    import panel as pn

    def render(info: Any) -> str:
        try:
            return inspected_html(info)
        except Exception as exc:
            return f'<div class="bx-inspect">{esc(exc)}</div>'

    return pn.pane.HTML(param.bind(render, state.param.inspected), sizing_mode="stretch_width")
