"""The numbers of one model: gap distance, loss before/after closing, R@k, consistency, faithfulness.

All values come from :meth:`ExplorerState.numbers` / :meth:`ExplorerState.faithfulness`, i.e.
from explorer.analysis (gap, loss, retrieval, summary, faithfulness). The loss variant and
batch size are part of the row label, the gap setting of the column label.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import pandas as pd
import param

from .cards import esc
from .dynamic import ACTIVE, GAP, MODEL, PROJ, dynamic

_NUMBER_DEPS = ACTIVE + GAP + ("loss_variant", "batch_size")


def numbers_table(state: Any, model: str | None = None) -> hv.DynamicMap:
    """hv.Table: quantity | before | after (α=…)."""
    deps = _NUMBER_DEPS + (MODEL if model is None else ())

    def build() -> hv.Table:
        m = state.resolve_model(model)
        df = state.numbers_frame(m)
        df.columns = ["quantity", "before", "after"]
        return hv.Table(df, kdims=["quantity"], vdims=["before", "after"])

    def empty(msg: str) -> hv.Table:
        return hv.Table(pd.DataFrame({"quantity": [msg[:200]], "before": [float("nan")], "after": [float("nan")]}),
                        kdims=["quantity"], vdims=["before", "after"])

    return dynamic(state, deps, build, empty).opts(width=520, height=260)


def faithfulness_rows(state: Any, model: str | None = None) -> list[tuple[str, str]]:
    m = state.resolve_model(model)
    f = state.faithfulness(m)
    est = f" (sample of {f.n_evaluated} of {f.n_points} points)" if f.estimated else ""
    rows = [
        ("projection", state.projection_label(m)),
        (f"trustworthiness (k={f.k}){est}", f"{f.trustworthiness:.4f}"),
        (f"kNN overlap (k={f.k}){est}", f"{f.knn_overlap:.4f}"),
    ]
    if f.edges_within_cluster_2d is not None:
        rows.append((f"pair edges within a 2-D cluster (k-means, {f.n_clusters})", f"{f.edges_within_cluster_2d:.3f}"))
        rows.append((f"pair edges within a full-space cluster ({f.n_clusters})", f"{f.edges_within_cluster_full:.3f}"))
    return rows


def faithfulness_table(state: Any, model: str | None = None) -> hv.DynamicMap:
    """hv.Table of the projection's faithfulness numbers."""
    deps = ACTIVE + GAP + PROJ + ("k",) + (MODEL if model is None else ())

    def build() -> hv.Table:
        return hv.Table(pd.DataFrame(faithfulness_rows(state, model), columns=["measure", "value"]), kdims=["measure"], vdims=["value"])

    def empty(msg: str) -> hv.Table:
        return hv.Table(pd.DataFrame({"measure": [msg[:200]], "value": [""]}), kdims=["measure"], vdims=["value"])

    return dynamic(state, deps, build, empty).opts(width=520, height=160)


def numbers_html(state: Any, model: str | None = None, faithfulness: bool = True) -> str:
    """The numbers as an escaped HTML table (model names and recipes are untrusted text)."""
    m = state.resolve_model(model)
    d = state.numbers(m)
    df = state.numbers_frame(m)
    head = f"<tr><th>{esc(df.columns[0])}</th><th>{esc(df.columns[1])}</th><th>{esc(df.columns[2])}</th></tr>"
    body = "".join(
        f"<tr><td>{esc(q)}</td><td>{b:.4f}</td><td>{a:.4f}</td></tr>" for q, b, a in df.itertuples(index=False)
    )
    extra = [
        ("mean |XXᵀ − YYᵀ| (in-modal difference)", f"{d['in_modal_difference']:.4f}"),
        ("mean |XYᵀ − YXᵀ| (cross-modal asymmetry)", f"{d['cross_modal_asymmetry']:.4f}"),
        ("logit scale", f"{d['logit_scale']:.4g}"),
    ]
    if faithfulness:
        try:
            extra += faithfulness_rows(state, m)
        except Exception as exc:  # a projection that cannot run must not hide the numbers
            extra.append(("projection", f"unavailable: {exc}"))
    body += "".join(f"<tr><td>{esc(k)}</td><td colspan=2>{esc(v, 200)}</td></tr>" for k, v in extra)
    return (
        f'<div class="bx-numbers"><div style="font-size:11px;color:#555">{esc(state.provenance_line(m), 400)}</div>'
        f'<table class="bx-numbers-table">{head}{body}</table></div>'
    )


def numbers_pane(state: Any, model: str | None = None, faithfulness: bool = True, runner: Any = None):
    """Panel HTML pane with the numbers (and the projection's faithfulness), updated with the state.
    With a `runner` (the app's background thread) they are computed off the slider move: the
    pane shows the previous numbers greyed, with a note, until the new ones are ready
    (explorer.views.deferred; ``pane.deferred``)."""
    import panel as pn

    deps = _NUMBER_DEPS + (PROJ + ("k",) if faithfulness else ()) + (MODEL if model is None else ())

    def render(*_: Any) -> str:
        try:
            return numbers_html(state, model, faithfulness)
        except Exception as exc:
            return f'<div class="bx-numbers">{esc(exc)}</div>'

    if runner is None:
        return pn.pane.HTML(param.bind(render, *[state.param[p] for p in dict.fromkeys(deps)]), sizing_mode="stretch_width")
    from .deferred import SYNC_BELOW, DeferredHTML

    lazy = DeferredHTML(render, [(state, deps)], runner=runner, busy_note="computing the numbers…", css_class="bx-numbers-lazy",
                        sync_below=SYNC_BELOW)
    return lazy.pane


def faithfulness_comparison_html(state: Any, model: str | None = None, methods=("PCA", "UMAP", "t-SNE")) -> str:
    m = state.resolve_model(model)
    df = state.faithfulness_frame(m, methods)
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"<td>{v:.4f}</td>" if v == v else "<td>–</td>"
        return f"<td>{esc('–' if v is None else v, 200)}</td>"

    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in df.itertuples(index=False))
    return (
        f'<div class="bx-faithfulness"><div style="font-size:11px;color:#555">{esc(state.provenance_line(m), 400)}</div>'
        f'<table class="bx-faithfulness-table"><tr>{head}</tr>{body}</table></div>'
    )


def faithfulness_comparison(state: Any, model: str | None = None, methods=("PCA", "UMAP", "t-SNE")):
    """Panel pane: the faithfulness of every projection method in the current mode (runs
    UMAP and t-SNE when first shown; their results are cached on disk)."""
    import panel as pn

    deps = ACTIVE + GAP + ("projection_mode", "x_component", "y_component", "faithfulness_k", "k") + (MODEL if model is None else ())

    def render(*_: Any) -> str:
        try:
            return faithfulness_comparison_html(state, model, methods)
        except Exception as exc:
            return f'<div class="bx-faithfulness">{esc(exc)}</div>'

    return pn.pane.HTML(param.bind(render, *[state.param[p] for p in dict.fromkeys(deps)]), sizing_mode="stretch_width")


FAITHFULNESS_DEPS = ACTIVE + GAP + PROJ + ("k",)


def faithfulness_html(state: Any, model: str | None = None) -> str:
    """The displayed projection's faithfulness as an escaped HTML table."""
    m = state.resolve_model(model)
    rows = faithfulness_rows(state, m)
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v, 200)}</td></tr>" for k, v in rows)
    return f'<table class="bx-numbers-table bx-faithfulness-table">{body}</table>'


def faithfulness_pane(state: Any, model: str | None = None, *, runner: Any = None, active: bool = True):
    """The projection's faithfulness (trustworthiness, kNN overlap, pair edges within clusters),
    computed off the event loop by `runner` (explorer.views.deferred) and only while `active`, so
    moving α never waits for k-means. Returns the DeferredHTML; show its ``.pane``."""
    from .deferred import DeferredHTML

    deps = FAITHFULNESS_DEPS + (MODEL if model is None else ())
    return DeferredHTML(
        lambda: faithfulness_html(state, model), [(state, deps)], runner=runner, active=active,
        idle_html='<div style="color:#666;font-size:12px">Open this section to compute how faithful the projection is.</div>',
        busy_note="computing the faithfulness of the projection…", css_class="bx-faithfulness",
    )


def faithfulness_comparison_deferred(state: Any, model: str | None = None, methods=("PCA", "UMAP", "t-SNE"), *, runner: Any = None):
    """faithfulness_comparison computed on demand (``.refresh()``, e.g. a button): runs UMAP and
    t-SNE, which take a while; when the settings change the table is marked out of date."""
    from .deferred import DeferredHTML

    deps = ACTIVE + GAP + ("projection_mode", "x_component", "y_component", "faithfulness_k", "k") + (MODEL if model is None else ())
    return DeferredHTML(
        lambda: faithfulness_comparison_html(state, model, methods), [(state, deps)], runner=runner, auto=False,
        idle_html="", busy_note="projecting with every method and measuring each (UMAP and t-SNE take a while)…",
        stale_note="the settings changed: press the button again", css_class="bx-faithfulness-all",
    )
