"""Compare: 2–4 models side by side on the same pairs with shared filter, ordering and gap setting.

All models read the same state (source, caption filter, sample, α, clustering settings). With
`state.shared_order` every heatmap uses the first compared model's cluster ordering, so a row
is the same pair in every panel (the article's CLIP / CyCLIP / CLOOB / CLOOB-LAION view).
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import pandas as pd
import param

from .cards import esc
from .dynamic import ACTIVE, GAP, ORDER
from .heatmap import similarity_heatmap

COMPARE_SIZE = 330


def compare_frame(state: Any) -> pd.DataFrame:
    """One row per compared model: gap distance and loss before/after, R@1 both ways, consistency."""
    rows = []
    for m in state.shown_compare_models():
        d = state.numbers(m)
        rows.append(
            {
                "model": m,
                "n": d["n"],
                "gap before": d["gap_distance_before"],
                f"gap after (α={d['alpha']:g})": d["gap_distance_after"],
                f"loss before ({d['loss_variant']}, b={d['batch_size']})": d["loss_before"],
                "loss after": d["loss_after"],
                "R@1 i→t": d["Ri2t@1_before"],
                "R@1 t→i": d["Rt2i@1_before"],
                "mean|XXᵀ−YYᵀ|": d["in_modal_difference"],
                "mean|XYᵀ−YXᵀ|": d["cross_modal_asymmetry"],
            }
        )
    return pd.DataFrame(rows)


def compare_heatmaps(state: Any, size: int = COMPARE_SIZE, runner: Any = None) -> hv.Layout:
    """The heatmaps of the compared models (shared ordering and colour limits, one colour bar at
    the end of each row), as one HoloViews layout (zooming one zooms all); two per row from
    three models on, so they fit beside the sidebar."""
    models = state.shown_compare_models()
    cols = len(models) if len(models) <= 2 else 2
    plots = []
    for i, m in enumerate(models):
        last_in_row = (i % cols == cols - 1) or i == len(models) - 1
        plots.append(similarity_heatmap(state, m, shared=True, size=size, colorbar=last_in_row, runner=runner))
    layout = hv.Layout(plots).cols(cols)
    layout.feeds = [p.feed for p in plots]  # disposed when the layout is replaced (dispose_views)
    return layout


def compare_provenance_html(state: Any, size: int = COMPARE_SIZE) -> str:
    """One escaped line: every compared model with its id, then what they share (pairs, gap
    setting, ordering, aggregation and colour limits)."""
    from .colour import describe

    try:
        models = state.shown_compare_models()
        named = []
        for m in models:
            mid = str(state.source_data().embeddings[m].provenance.get("model_id", m))
            named.append(m if mid == m else f"{m} [{mid}]")
        d = state.provenance(models[0])
        lo, hi = state.color_limits(models[0], "similarity", True, pixels=size)
        parts = [", ".join(named), f"on {d['source']} (n={d['n']})",
                 f"gap α={d['alpha']:g}{' re-normalised' if d['renormalize'] else ''}"]
        if "ordering" in d:
            parts.append(f"clusters {d['ordering']}" + (f" of {models[0]} for all" if state.shared_order else " of each model"))
        parts.append(f"{state.aggregation} per pixel · colours {describe(state.color_range, (lo, hi))}, shared by all")
        text = " · ".join(parts)
    except Exception as exc:
        text = str(exc)
    return f'<div class="bx-provenance" style="font-size:11px;color:#555;overflow-wrap:anywhere">{esc(text, 2000)}</div>'


def compare_numbers_html(state: Any) -> str:
    """The compare table as escaped HTML."""
    try:
        df = compare_frame(state)
    except Exception as exc:
        return f'<div class="bx-compare">{esc(exc)}</div>'
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{v:.4f}</td>" if isinstance(v, float) else f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f'<table class="bx-compare-table"><tr>{head}</tr>{body}</table>'


def _bound_or_deferred(state: Any, render: Any, deps: tuple, runner: Any, note: str):
    """An HTML pane of render(): bound to the state, or with a `runner` computed off the event
    loop (explorer.views.deferred)."""
    import panel as pn

    if runner is None:
        return pn.pane.HTML(param.bind(lambda *_: render(), *[state.param[p] for p in dict.fromkeys(deps)]), sizing_mode="stretch_width")
    from .deferred import SYNC_BELOW, DeferredHTML

    lazy = DeferredHTML(render, [(state, deps)], runner=runner, busy_note=note, css_class="bx-compare-lazy", sync_below=SYNC_BELOW)
    return lazy.pane


def compare_numbers_table(state: Any, runner: Any = None):
    """Panel pane: the compare table (escaped HTML), updated with the state."""
    deps = ACTIVE + GAP + ("loss_variant", "batch_size", "compare_models")
    return _bound_or_deferred(state, lambda: compare_numbers_html(state), deps, runner, "computing the numbers…")


def compare_view(state: Any, size: int = COMPARE_SIZE, runner: Any = None):
    """Panel column: heatmaps of the compared models (rebuilt when the model set changes), what
    produced them, and the numbers table. `runner`: where their data are computed when the
    settings change (explorer.views.deferred; default at once)."""
    import panel as pn

    from .deferred import dispose_views

    shown: list[Any] = []

    def layout(*_: Any):
        for old in shown:  # the heatmaps of the previous model set stop computing
            dispose_views(old)
        shown.clear()
        try:
            shown.append(compare_heatmaps(state, size, runner))
            return pn.pane.HoloViews(shown[0], linked_axes=True)
        except Exception as exc:
            return pn.pane.HTML(f'<div class="bx-compare">{esc(exc)}</div>')

    deps = [state.param[p] for p in ("source", "models", "source_options", "compare_models")]
    prov_deps = ACTIVE + GAP + ORDER + ("aggregation", "color_range", "compare_models", "shared_order")
    provenance = _bound_or_deferred(state, lambda: compare_provenance_html(state, size), prov_deps, runner, "")
    return pn.Column(pn.panel(param.bind(layout, *deps)), provenance, compare_numbers_table(state, runner), sizing_mode="stretch_width")
