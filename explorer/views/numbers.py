"""The numbers of one model: gap distance, loss before/after closing, R@k, consistency, faithfulness.

All values come from :meth:`ExplorerState.numbers` / :meth:`ExplorerState.faithfulness`, i.e.
from the engine and explorer.analysis. The loss variant and batch size are part of the row
label, the gap setting of the column label; estimated numbers say how they were estimated. The
panes are computed off the event loop by a Feed: first everything but R@k (milliseconds), then
with R@k (exact up to 10,000 pairs, estimated from sampled queries above, seconds at a million).
The gap anatomy (explorer.engine.anatomy) is computed on demand, while its card is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from .cards import esc
from .feed import Feed, params_of

#: what the numbers depend on
DEPENDS = ("data", "gap")
#: what the gap anatomy depends on (closed by the whole gap: not α)
ANATOMY_DEPENDS = ("data", "gap.renormalize", "gap.loss_variant", "gap.batch_size")
#: what the projection's faithfulness depends on
FAITHFULNESS_DEPENDS = ("data", "gap.alpha", "gap.renormalize", "projection", "order.k")


def _with_model(deps: tuple[str, ...], model: str | None) -> tuple[str, ...]:
    return deps + (("model.active_model",) if model is None else ())


def numbers_frame(d: dict[str, Any]) -> pd.DataFrame:
    """numbers() as a table: quantity | before | after (R@k rows only when computed)."""
    rows = [("gap distance", d["gap_distance_before"], d["gap_distance_after"]),
            (f"loss ({d['loss_variant']}, batch {d['batch_size']})", d["loss_before"], d["loss_after"])]
    for k in (1, 5, 10):
        if f"Ri2t@{k}_before" in d:
            rows.append((f"R@{k} image→text", d[f"Ri2t@{k}_before"], d[f"Ri2t@{k}_after"]))
            rows.append((f"R@{k} text→image", d[f"Rt2i@{k}_before"], d[f"Rt2i@{k}_after"]))
    return pd.DataFrame(rows, columns=["quantity", "before", f"after (α={d['alpha']:g})"])


#: said instead of the loss and R@k of a series whose pairs all have one caption
ONE_CAPTION_NOTE = ("every pair has the same caption (an augmentation series): the loss and R@k, which tell a pair's caption "
                    "from the others', mean nothing here and are not shown")


def numbers_html(d: dict[str, Any], provenance: str, one_caption: bool = False) -> str:
    """The numbers as an escaped HTML table (model names and recipes are untrusted text);
    `one_caption`: the gap only, with ONE_CAPTION_NOTE in place of the loss and R@k."""
    df = numbers_frame(d)
    if one_caption:
        df = df[df["quantity"] == "gap distance"]
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = "".join(f"<tr><td>{esc(q)}</td><td>{b:.4f}</td><td>{a:.4f}</td></tr>" for q, b, a in df.itertuples(index=False))
    if one_caption:
        body += f'<tr><td colspan=3 class="bx-one-caption" style="font-size:12px;color:#555">{esc(ONE_CAPTION_NOTE)}</td></tr>'
    elif "recall_method" not in d:
        body += '<tr><td>R@1/5/10</td><td colspan=2 class="bx-pending">computing…</td></tr>'
    extra = [
        ("mean |XXᵀ − YYᵀ| (in-modal difference)", f"{d['in_modal_difference']:.4f}"),
        ("mean |XYᵀ − YXᵀ| (cross-modal asymmetry)", f"{d['cross_modal_asymmetry']:.4f}"),
        ("logit scale", f"{d['logit_scale']:.4g}"),
    ]
    for key, what in (("recall_method", "R@k"), ("consistency_method", "consistency")):
        if d.get(key) and d[key] != "exact" and not (one_caption and key == "recall_method"):
            extra.append((what, d[key]))
    body += "".join(f"<tr><td>{esc(k)}</td><td colspan=2>{esc(v, 300)}</td></tr>" for k, v in extra)
    return (f'<div class="bx-numbers"><div style="font-size:11px;color:#555">{esc(provenance, 400)}</div>'
            f'<table class="bx-numbers-table"><tr>{head}</tr>{body}</table></div>')


def numbers_pane(state: Any, model: str | None = None):
    """Panel HTML pane with the numbers, computed off the event loop; while newer settings are
    computed the previous numbers are shown greyed with a note. ``pane.feed`` is its Feed."""
    import panel as pn

    def compute() -> Iterator[dict]:
        m = state.resolve_model(model)
        line = state.provenance_line(m)
        quick = state.numbers(m, recall=False)
        one = state.one_caption()
        yield {"html": numbers_html(quick, line, one), "numbers": quick}
        if one:  # no R@k to compute
            return
        full = state.numbers(m)
        yield {"html": numbers_html(full, line), "numbers": full}

    feed = Feed(compute, params_of(state, _with_model(DEPENDS, model)), empty=lambda: {"html": "", "numbers": None})

    def render(*_: Any) -> str:
        if feed.error:
            return f'<div class="bx-numbers">{esc(feed.error)}</div>'
        faded = ' style="opacity:0.55"' if feed.pending else ""
        note = '<div style="font-size:11px;color:#a15c00">computing the numbers…</div>' if feed.pending else ""
        return f'<div class="bx-numbers-lazy">{note}<div{faded}>{feed.value["html"]}</div></div>'

    pane = pn.pane.HTML(pn.bind(render, feed.param.version, feed.param.pending, feed.param.error), sizing_mode="stretch_width")
    pane.feed = feed
    return pane


def anatomy_pane(state: Any, model: str | None = None, *, active: bool = True) -> OnDemandHTML:
    """The gap anatomy of the shown pairs before and after closing the whole gap (as gap-table and
    the report; so moving α changes nothing here), computed off the event loop only while `active`
    (its card open): its sampled measures take seconds at any size. Show its ``.pane``."""
    return OnDemandHTML(
        lambda: anatomy_html(anatomy_of(state, model, alpha=1.0), whole_gap_loss_difference(state, model), 1.0), state,
        _with_model(ANATOMY_DEPENDS, model), active=active,
        idle_html='<div style="color:#666;font-size:12px">Open this section to compute what the gap is made of.</div>',
        busy_note="computing the gap anatomy…", css_class="bx-anatomy-card")


# -- the gap anatomy -----------------------------------------------------------------------
#: the anatomy table's rows: (label, key after "original_" / "closed_"); {k} is the row's top_k
ANATOMY_MEASURES = (
    ("alignment E‖x − y‖²", "alignment"),
    ("uniformity of the images (t = 2)", "uniformity_image"),
    ("uniformity of the captions (t = 2)", "uniformity_text"),
    ("cone: mean cosine between images", "cone_image"),
    ("cone: mean cosine between captions", "cone_text"),
    ("‖image centroid‖", "centroid_norm_image"),
    ("‖caption centroid‖", "centroid_norm_text"),
    ("share of ‖Δ‖² in the top-{k} coordinates", "top_k_coordinates_share"),
    ("share of ‖Δ‖² in the top-{k} principal directions", "top_k_components_share"),
    ("effective rank of the images", "effective_rank_image"),
    ("effective rank of the captions", "effective_rank_text"),
    ("linear separability (held-out accuracy)", "separability"),
)


def anatomy_of(state: Any, model: str | None = None, alpha: float | None = None) -> dict[str, Any]:
    """explorer.engine.anatomy.anatomy_row of a model's shown pairs: closed by the views' gap
    setting, or by `alpha` (re-normalised as the setting says), with the state's loss and seed."""
    from ..engine.anatomy import anatomy_row

    m = state.resolve_model(model)
    a, renorm = state.closing() if alpha is None else (float(alpha), bool(state.gap.renormalize) if alpha else True)
    return anatomy_row(state.space(m), logit_scale=state.logit_scale(m), batch_size=state.effective_batch_size(m),
                       variant=state.gap.loss_variant, alpha=a, renormalize=renorm, seed=state.data.seed)


def whole_gap_loss_difference(state: Any, model: str | None = None) -> float:
    """The loss after closing the whole gap (α = 1, re-normalised as the setting says) minus the
    loss of the original embeddings (memo hits when the report's gap table computed them)."""
    from ..engine import numbers as engine_numbers

    m = state.resolve_model(model)
    sp, g = state.space(m), state.gap
    args = (sp, state.logit_scale(m), state.effective_batch_size(m), g.loss_variant)
    return engine_numbers.loss(*args, 1.0, g.renormalize) - engine_numbers.loss(*args, 0.0, True)


def anatomy_frame(a: dict[str, Any]) -> pd.DataFrame:
    """The anatomy row as a table: quantity | original | closed (None where a measure has no value)."""
    rows = [(label.format(k=a["top_k"]), a[f"original_{key}"], a[f"closed_{key}"]) for label, key in ANATOMY_MEASURES]
    return pd.DataFrame(rows, columns=["quantity", "original", "closed"])


def top_k_closing_text(a: dict[str, Any], loss_difference: float) -> str:
    """One sentence: what closing only the top-k coordinates of Δ does, beside the whole closing."""
    return (f"Closing only the top-{a['top_k']} coordinates of Δ: distance {a['top_k_closed_distance']:.4f}, loss change "
            f"{a['top_k_loss_difference']:+.4f} (whole gap {loss_difference:+.4f}), R@1 image→text "
            f"{a['top_k_closed_r1_image_to_text']:.3f} and text→image {a['top_k_closed_r1_text_to_image']:.3f} "
            f"(whole gap {a['closed_r1_image_to_text']:.3f} / {a['closed_r1_text_to_image']:.3f}).")


def anatomy_methods(a: dict[str, Any]) -> list[str]:
    """How the sampled anatomy measures were computed (those not exact)."""
    out = [f"{what}: {a[key]}" for key, what in (("uniformity_method", "uniformity"), ("pca_method", "PCA"),
                                                 ("recall_method", "R@1 after closing")) if a[key] != "exact"]
    return out + [f"separability: {a['separability_method']}"]


def anatomy_bars(a: dict[str, Any], title: str = ""):
    """A bar chart of the largest per-coordinate contributions Δ_d²/‖Δ‖² (in %), largest first."""
    import holoviews as hv

    bars = [(str(b["dimension"]), 100.0 * b["share"], b["delta"]) for b in a["gap_dimensions"]]
    return hv.Bars(bars, hv.Dimension("coordinate", label="coordinate d of Δ"),
                   [hv.Dimension("share", label="share of ‖Δ‖² (%)"), hv.Dimension("delta", label="Δ_d")]).opts(
        title=title, tools=["hover"], color="#1f77b4", xrotation=90)


def anatomy_html(a: dict[str, Any], loss_difference: float, alpha: float) -> str:
    """The anatomy as an escaped HTML table, the top-k sentence and how it was computed."""
    def cell(v: Any) -> str:
        return "<td>–</td>" if v is None else f"<td>{v:.4f}</td>"

    df = anatomy_frame(a)
    body = "".join(f"<tr><td>{esc(q)}</td>{cell(o)}{cell(c)}</tr>" for q, o, c in df.itertuples(index=False))
    notes = "".join(f"<div>{esc(n, 300)}</div>" for n in [top_k_closing_text(a, loss_difference)] + anatomy_methods(a))
    return (f'<div class="bx-anatomy"><b>Gap anatomy</b><table class="bx-numbers-table bx-anatomy-table">'
            f"<tr><th>quantity</th><th>original</th><th>{esc(f'after closing (α={alpha:g})')}</th></tr>{body}</table>"
            f'<div style="font-size:11px;color:#555">{notes}</div></div>')


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


def faithfulness_html(state: Any, model: str | None = None) -> str:
    """The displayed projection's faithfulness as an escaped HTML table."""
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v, 200)}</td></tr>" for k, v in faithfulness_rows(state, model))
    return f'<table class="bx-numbers-table bx-faithfulness-table">{body}</table>'


def faithfulness_comparison_html(state: Any, model: str | None = None, methods=("PCA", "UMAP", "t-SNE")) -> str:
    m = state.resolve_model(model)
    df = state.faithfulness_frame(m, methods)
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"<td>{v:.4f}</td>" if v == v else "<td>–</td>"
        return f"<td>{esc('–' if v is None else v, 200)}</td>"

    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in df.itertuples(index=False))
    return (f'<div class="bx-faithfulness"><div style="font-size:11px;color:#555">{esc(state.provenance_line(m), 400)}</div>'
            f'<table class="bx-faithfulness-table"><tr>{head}</tr>{body}</table></div>')


class OnDemandHTML:
    """An HTML pane computed by a Feed only when wanted: while `active` (e.g. its card is open),
    or when :meth:`refresh` is called (a button); out-of-date results are marked, not recomputed."""

    def __init__(self, render: Any, state: Any, deps: tuple[str, ...], *, active: bool = True, auto: bool = True, idle_html: str = "",
                 busy_note: str = "computing…", stale_note: str = "the settings changed: compute again", css_class: str = "bx-deferred"):
        import panel as pn
        import param

        self._active, self.auto = bool(active), auto
        self.stale = False
        self.busy_note, self.stale_note, self.css_class = busy_note, stale_note, css_class
        self._wanted = 0
        self.feed = Feed(lambda wanted=0: {"html": render() if wanted else idle_html, "computed": bool(wanted)}, [],
                         empty=lambda: {"html": idle_html, "computed": False})
        self._watchers = [(part, part.param.watch(self._changed, names)) for part, names in params_of(state, deps)]
        self.pane = pn.pane.HTML(param.bind(self._render, self.feed.param.version, self.feed.param.pending),
                                 sizing_mode="stretch_width")
        self.pane.feed = self.feed
        if self._active and auto:
            self.refresh()

    @property
    def active(self) -> bool:
        return self._active

    @property
    def computations(self) -> int:
        """How many times the HTML was computed (not counting the idle placeholder)."""
        return self._wanted

    def set_active(self, active: bool) -> None:
        self._active = bool(active)
        if self._active and self.auto and (self.stale or not self.feed.value.get("computed")):
            self.refresh()

    def refresh(self) -> None:
        self._wanted += 1
        self.stale = False
        self.feed.request(wanted=self._wanted)

    def _changed(self, *_: Any) -> None:
        if self._active and self.auto:
            self.refresh()
        else:
            self.stale = True
            self.feed.param.trigger("version")

    def _render(self, *_: Any) -> str:
        note = self.busy_note if self.feed.pending else (self.stale_note if self.stale and self.feed.value.get("computed") else "")
        if self.feed.error:
            body = f'<div class="{self.css_class}-error">{esc(self.feed.error, 500)}</div>'
        else:
            body = self.feed.value["html"]
        head = f'<div class="{self.css_class}-note" style="font-size:11px;color:#a15c00">{esc(note, 200)}</div>' if note else ""
        faded = ' style="opacity:0.55"' if note else ""
        return f'<div class="{self.css_class}">{head}<div{faded}>{body}</div></div>'

    def dispose(self) -> None:
        self.feed.dispose()
        for part, w in self._watchers:
            part.param.unwatch(w)
        self._watchers = []


def faithfulness_pane(state: Any, model: str | None = None, *, active: bool = True) -> OnDemandHTML:
    """The projection's faithfulness (trustworthiness, kNN overlap, pair edges within clusters),
    computed off the event loop and only while `active`. Show its ``.pane``."""
    return OnDemandHTML(
        lambda: faithfulness_html(state, model), state, _with_model(FAITHFULNESS_DEPENDS, model), active=active,
        idle_html='<div style="color:#666;font-size:12px">Open this section to compute how faithful the projection is.</div>',
        busy_note="computing the faithfulness of the projection…", css_class="bx-faithfulness")


def faithfulness_comparison_deferred(state: Any, model: str | None = None, methods=("PCA", "UMAP", "t-SNE")) -> OnDemandHTML:
    """Every projection method's faithfulness, computed on demand (``.refresh()``, a button): it
    runs UMAP and t-SNE; when the settings change the table is marked out of date."""
    deps = ("data", "gap.alpha", "gap.renormalize", "projection.projection_mode", "projection.x_component",
            "projection.y_component", "projection.faithfulness_k", "order.k")
    return OnDemandHTML(
        lambda: faithfulness_comparison_html(state, model, methods), state, _with_model(deps, model), auto=False,
        busy_note="projecting with every method and measuring each (UMAP and t-SNE take a while)…",
        stale_note="the settings changed: press the button again", css_class="bx-faithfulness-all")
