"""Compare: 2–4 models side by side on the same pairs with shared filter, ordering and gap setting.

All models read the same state (source, caption filter, sample, α, clustering settings). With
``model.shared_order`` every heatmap uses the first compared model's cluster ordering, so a row
is the same pair in every panel (the article's CLIP / CyCLIP / CLOOB / CLOOB-LAION view), and
the colour limits are shared (one colour means one value in every panel). Below them, the
in-modal difference heatmaps X'X'ᵀ − Y'Y'ᵀ of every model on one symmetric scale (±the largest
of the models' p99 of |D|, or the locked range): CyCLIP's near-zero difference looks pale beside
CLIP's, as in the article.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import holoviews as hv
import pandas as pd

from .cards import esc
from .feed import Feed, params_of
from .heatmap import difference_heatmap, similarity_heatmap

COMPARE_SIZE = 330
#: what the table and the provenance line depend on
DEPENDS = ("data", "gap", "order", "model.compare_models", "model.shared_order", "look.aggregation", "look.color_range", "look.locked_limits")


def compare_frame(state: Any, recall: bool = True) -> pd.DataFrame:
    """One row per compared model: gap distance and loss before/after, R@1 both ways, consistency."""
    rows = []
    for m in state.shown_compare_models():
        d = state.numbers(m, recall=recall)
        row = {
            "model": m,
            "n": d["n"],
            "gap before": d["gap_distance_before"],
            f"gap after (α={d['alpha']:g})": d["gap_distance_after"],
            f"loss before ({d['loss_variant']}, b={d['batch_size']})": d["loss_before"],
            "loss after": d["loss_after"],
        }
        if recall:
            row.update({"R@1 i→t": d["Ri2t@1_before"], "R@1 t→i": d["Rt2i@1_before"]})
        row.update({"mean|XXᵀ−YYᵀ|": d["in_modal_difference"], "mean|XYᵀ−YXᵀ|": d["cross_modal_asymmetry"]})
        rows.append(row)
    return pd.DataFrame(rows)


def compare_heatmaps(state: Any, size: int = COMPARE_SIZE, kind: str = "similarity") -> hv.Layout:
    """The heatmaps (`kind`: similarity or in-modal difference) of the compared models (shared
    ordering and colour limits, one colour bar at the end of each row), as one layout; two per
    row from three models on."""
    models = state.shown_compare_models()
    cols = len(models) if len(models) <= 2 else 2
    view = similarity_heatmap if kind == "similarity" else difference_heatmap
    plots = []
    for i, m in enumerate(models):
        last_in_row = (i % cols == cols - 1) or i == len(models) - 1
        plots.append(view(state, m, shared=True, size=size, colorbar=last_in_row))
    layout = hv.Layout(plots).cols(cols)
    layout.feeds = [p.feed for p in plots]
    return layout


def compare_provenance_text(state: Any, size: int = COMPARE_SIZE) -> str:
    """Every compared model with its id, then what they share (pairs, gap setting, ordering,
    what a pixel shows and the colour limits)."""
    from ..engine.colour import describe, shown_range

    models = state.shown_compare_models()
    named = []
    for m in models:
        mid = str(state.embeddings(m).provenance.get("model_id", m))
        named.append(m if mid == m else f"{m} [{mid}]")
    d = state.provenance(models[0])
    lo, hi = state.color_limits(models[0], "similarity", True, pixels=size)
    parts = [", ".join(named), f"on {d['source']} (n={d['n']})", f"gap α={d['alpha']:g}{' re-normalised' if d['renormalize'] else ''}"]
    if "ordering" in d:
        parts.append(f"clusters {d['ordering']}" + (f" of {models[0]} for all" if state.model.shared_order else " of each model"))
    parts.append(f"{state.look.aggregation} per pixel · colours {describe(shown_range(state.look.color_range, True), (lo, hi))}, shared by all")
    return " · ".join(parts)


def compare_numbers_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{v:.4f}</td>" if isinstance(v, float) else f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False))
    return f'<table class="bx-compare-table"><tr>{head}</tr>{body}</table>'


def compare_panes(state: Any, size: int = COMPARE_SIZE):
    """(provenance pane, numbers pane), computed off the event loop by one Feed."""
    import panel as pn

    def compute() -> Iterator[dict]:
        line = compare_provenance_text(state, size)
        yield {"line": line, "table": compare_numbers_html(compare_frame(state, recall=False))}
        yield {"line": line, "table": compare_numbers_html(compare_frame(state))}

    feed = Feed(compute, params_of(state, DEPENDS), empty=lambda: {"line": "", "table": ""})
    style = "font-size:11px;color:#555;overflow-wrap:anywhere"

    def line(*_: Any) -> str:
        return f'<div class="bx-provenance" style="{style}">{esc(feed.error or feed.value["line"], 2000)}</div>'

    def table(*_: Any) -> str:
        note = '<div style="font-size:11px;color:#a15c00">computing the numbers…</div>' if feed.pending else ""
        return f'<div class="bx-compare-lazy">{note}{feed.value["table"]}</div>'

    a = pn.pane.HTML(pn.bind(line, feed.param.version, feed.param.error), sizing_mode="stretch_width")
    b = pn.pane.HTML(pn.bind(table, feed.param.version, feed.param.pending), sizing_mode="stretch_width")
    a.feed = b.feed = feed
    return a, b


def compare_view(state: Any, size: int = COMPARE_SIZE):
    """Panel column: heatmaps of the compared models (rebuilt when the model set changes), what
    produced them, and the numbers table."""
    import panel as pn

    from .feed import dispose_views

    holder = pn.Column(sizing_mode="stretch_width")
    heading = ('<div class="bx-compare-difference" style="font-size:13px;margin-top:8px"><b>In-modal difference '
               "X'X'ᵀ − Y'Y'ᵀ</b> of each model, on one symmetric colour scale shared by all (0 = the two modalities agree)</div>")

    def rebuild(*_: Any) -> None:
        old = list(holder.objects)
        try:
            holder[:] = [pn.pane.HoloViews(compare_heatmaps(state, size), linked_axes=True), pn.pane.HTML(heading),
                         pn.pane.HoloViews(compare_heatmaps(state, size, "difference"), linked_axes=True)]
        except Exception as exc:
            holder[:] = [pn.pane.HTML(f'<div class="bx-compare">{esc(exc)}</div>')]
        for obj in old:  # the heatmaps of the previous model set stop computing
            dispose_views(obj)

    rebuild()
    watchers = [(part, part.param.watch(rebuild, names)) for part, names in params_of(state, ("model.compare_models",))]
    provenance, numbers = compare_panes(state, size)
    col = pn.Column(holder, provenance, numbers, sizing_mode="stretch_width")
    col.watchers = watchers
    return col
