"""Side panels: the selected pairs, and the two items of the last tapped cell or point.

Both are Panel HTML panes bound to the state (``interaction.selected_pairs``,
``interaction.inspected``); every caption, id and label is escaped (explorer.views.cards),
thumbnails are ``/thumb/<token>/<i>.png`` URLs.
"""

from __future__ import annotations

from typing import Any

from .cards import esc, inspected_html, selection_html
from .feed import params_of

#: what the selection table depends on (besides the selection itself)
DEPENDS = ("interaction.selected_pairs", "data", "gap.alpha", "gap.renormalize", "order")


def selection_html_for(state: Any, model: str | None = None, limit: int = 60) -> str:
    try:
        total = len(state.interaction.selected_pairs)
        df = state.selected_table(model, limit=limit)
    except Exception as exc:
        return f'<div class="bx-selection">{esc(exc)}</div>'
    return selection_html(df.to_dict("records"), limit=limit, total=total)


def selection_panel(state: Any, model: str | None = None, limit: int = 60):
    """Thumbnails, captions and cluster labels of the selected pairs (the first `limit`)."""
    import panel as pn

    deps = DEPENDS + (("model.active_model",) if model is None else ())
    params = [part.param[n] for part, names in params_of(state, deps) for n in names]
    return pn.pane.HTML(pn.bind(lambda *_: selection_html_for(state, model, limit), *params), sizing_mode="stretch_width")


def inspect_panel(state: Any):
    """The two items (thumbnail, caption, pair id, modality) and the value of the tapped cell / pair."""
    import panel as pn

    def render(info: Any) -> str:
        try:
            return inspected_html(info)
        except Exception as exc:
            return f'<div class="bx-inspect">{esc(exc)}</div>'

    return pn.pane.HTML(pn.bind(render, state.interaction.param.inspected), sizing_mode="stretch_width")
