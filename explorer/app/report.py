"""A self-contained static HTML report of an :class:`~explorer.state.ExplorerState`.

The report draws the same elements as the app and the notebook, from the same builders
(:func:`explorer.views.heatmap.heatmap_data` / ``heatmap_overlay``, ``scatter_data`` /
``scatter_overlay``, ``landscape_overlay``, ``histogram_overlay``), rendered once at a fixed
resolution as Bokeh standalone plots with Bokeh's JS inlined: the heatmaps are the engine's tiles
of the whole matrix (the same colour limits, the same mean or max per pixel, the same pair
diagonal as the app), the scatter is plain or rasterized as in the app. The file opens offline
with pan, zoom and hover; nothing in the page refers to another file or host (CSP
``default-src 'none'``), and small thumbnails are inlined.

Every piece of text that comes from the data (captions, prompts, model names, file names, the
source spec, cluster labels) is HTML-escaped here or escaped by Bokeh (the tooltips' caption
field is escaped by us before Bokeh shows it as HTML).

The numbers come from the state's methods (the engine), so the report shows exactly what the app
shows for the same settings, and the settings are written with it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: the heatmaps' frame size in pixels (their tiles are computed at this resolution)
MAX_PIXELS = 560
#: hover thumbnails in the scatter only for sources up to this many shown pairs
HOVER_THUMBS_UP_TO = 300
#: longest caption shown in tables and hovers (the full text is in the data, escaped)
CAPTION_CHARS = 300


def esc(value: Any, limit: int | None = None) -> str:
    """HTML-escape any value (quotes too), shortening long text with an ellipsis."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


# -- the app's elements, rendered once ---------------------------------------------------------
def _render(element: Any):
    import holoviews as hv

    return hv.render(element, backend="bokeh")


def _load_bokeh() -> None:
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401  (registers the options the builders use)

    hv.Store.set_current_backend("bokeh")
    from bokeh.core.validation import silence
    from bokeh.core.validation.warnings import FIXED_SIZING_MODE

    silence(FIXED_SIZING_MODE, True)  # the plots' frames are sized; Bokeh warns about their outer size


def heatmap_figure(state: Any, model: str, kind: str, size: int):
    """The app's heatmap of the whole matrix as a Bokeh figure (same tile, limits and layers)."""
    import holoviews as hv

    from ..views.heatmap import colorbar_label, heatmap_data, heatmap_overlay

    v = heatmap_data(state, model, kind, size=size)
    m = max(int(v["m"]), 1)
    n = 2 * m if kind == "similarity" else m
    label = "cosine similarity" if kind == "similarity" else "XXᵀ − YYᵀ"
    title = f"{model}: similarity of all {n} embeddings" if kind == "similarity" else (
        f"{model}: in-modal difference XXᵀ − YYᵀ (mean |D| = {v['mean_abs']:.4f})")
    cmap = state.look.cmap if kind == "similarity" else state.look.diverging_cmap
    overlay = heatmap_overlay(v, cmap).opts(
        hv.opts.Image(colorbar=True, frame_width=size, frame_height=size, invert_yaxis=True, tools=["hover"],
                      clabel=colorbar_label(label, v["color_range"], v["tile"].how), xlim=(-0.5, n - 0.5), ylim=(-0.5, n - 0.5)),
        hv.opts.Overlay(title=title))
    fig = _render(overlay)
    fig.tags = [{"provenance": v["provenance"]}]
    return fig, v["provenance_text"]


def scatter_figure(state: Any, model: str, thumbs: InlineThumbnails | None, size: int = 520):
    """The app's projection scatter (plain or rasterized as in the app) as a Bokeh figure."""
    import holoviews as hv

    from ..views.scatter import TOOLTIP, concatenated, scatter_data, scatter_overlay

    v = scatter_data(state, model, size)
    if v.get("glyphs") is not None:
        g = v["glyphs"]
        g["thumb"] = [thumbs.url(i) for i in g["pair_id"]] if thumbs is not None else ""
    by_modality = state.projection.point_color == "modality"
    overlay = scatter_overlay(v, state.look.edge_cmap, v["large"], concatenated(state), by_modality)
    x, y = v["axes"]
    overlay = overlay.opts(hv.opts.Points(size=5, line_color=None, tools=["hover"], hover_tooltips=TOOLTIP, frame_width=size,
                                          frame_height=size),
                           hv.opts.Segments(frame_width=size, frame_height=size), hv.opts.Image(frame_width=size, frame_height=size),
                           hv.opts.Overlay(title=f"{model}: {v['method']}", xlabel=x, ylabel=y))
    fig = _render(overlay)
    fig.tags = [{"provenance": v["provenance"]}]
    return fig, v["provenance_text"]


def landscape_figure(state: Any, model: str):
    import holoviews as hv

    from ..views.landscape import landscape_data, landscape_overlay

    v = landscape_data(state, model)
    fig = _render(landscape_overlay(v).opts(hv.opts.Curve(width=520, height=300, color="#444"),
                                           hv.opts.Overlay(title=f"{model}: loss along the gap")))
    return fig, v["provenance_text"]


def histogram_figure(state: Any, model: str):
    import holoviews as hv

    from ..views.histograms import histogram_data, histogram_overlay

    v = histogram_data(state, model)
    fig = _render(histogram_overlay(v).opts(hv.opts.Overlay(width=520, height=300, legend_position="top_left",
                                                           title=f"{model}: similarity distributions")))
    return fig, v["provenance_text"]


class InlineThumbnails:
    """Small JPEG data URLs of a PairSet's images, made once per pair for the whole report."""

    def __init__(self, pairs: Any, size: int = 48):
        self.pairs = pairs
        self.size = size
        self._urls: dict[int, str] = {}

    @property
    def available(self) -> bool:
        return self.pairs is not None and self.pairs.images is not None

    def url(self, index: int) -> str:
        i = int(index)
        if i not in self._urls:
            from PIL import Image

            im = self.pairs.images.open(i).convert("RGB")
            im.thumbnail((self.size, self.size), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=80)
            self._urls[i] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        return self._urls[i]


# -- the page ---------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1400px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin:.2rem 0} h2{font-size:1.3rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.1rem} table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top} td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4} .settings td:first-child{font-weight:600;white-space:nowrap} .settings td{max-width:70rem;overflow-wrap:anywhere}
.row{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
figure.heatmap{margin:0;max-width:min(560px,90vw)} figure.heatmap figcaption{font-weight:600;margin-bottom:.3rem;overflow-wrap:anywhere}
.hm{position:relative;width:min(560px,90vw);aspect-ratio:1/1;border:1px solid #ccc}
.hm img{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
.hm svg{position:absolute;inset:0;width:100%;height:100%}
.sep{stroke:#fff;stroke-opacity:.9} .box{fill:none;stroke:#00e5ff;stroke-opacity:.9} .lbl{fill:#00e5ff;font-family:sans-serif}
.qnames{display:flex;justify-content:space-around;width:min(560px,90vw);font-size:.8rem;color:#555}
.colorbar{display:flex;align-items:center;gap:.4rem;font-size:.8rem;margin-top:.3rem} .colorbar img{width:200px;height:12px}
.clusters td.cap{max-width:40rem;overflow-wrap:anywhere} .clusters img{width:48px;height:48px;object-fit:cover;margin-right:2px}
.note{color:#666;font-size:.85rem} code{background:#f4f4f4;padding:0 .2rem;overflow-wrap:anywhere}
"""


def _num(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f'<td class="num">{float(v):.4f}</td>'
    if isinstance(v, (int, np.integer)):
        return f'<td class="num">{int(v)}</td>'
    return f"<td>{esc(v)}</td>"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _gap_table_row(state: Any, model: str) -> dict:
    from ..engine.numbers import gap_table_row

    return gap_table_row(state.space(model), logit_scale=state.logit_scale(model), model=model, batch_size=state.effective_batch_size(model),
                         variant=state.gap.loss_variant, alpha=1.0, renormalize=state.gap.renormalize, seed=state.data.seed)


def gap_table(state: Any, models: Sequence[str]) -> str:
    """The article's table, as ``python -m explorer gap-table`` computes it: the whole gap closed
    (α = 1), whatever α the views show, so a report always says what closing the gap does."""
    rows = []
    g = state.gap
    for m in models:
        r = _gap_table_row(state, m)
        cells = [m, r["n"], r["original_distance"], r["original_loss"], r["closed_distance"], r["closed_loss"],
                 r["loss_difference"], r["r1_image_to_text"], r["r1_text_to_image"]]
        rows.append("<tr>" + "".join(_num(c) for c in cells) + "</tr>")
    head = ("<tr><th>model</th><th>n</th><th>Original Distance</th><th>Original Loss</th><th>Closed Distance</th>"
            "<th>Closed Loss</th><th>Loss Difference</th><th>R@1 i→t</th><th>R@1 t→i</th></tr>")
    note = (f'<p class="note">Closed: the whole gap (α = 1{", re-normalised" if g.renormalize else ", not re-normalised"}), '
            f"as <code>python -m explorer gap-table</code>; loss {esc(g.loss_variant)}, batches of "
            f"{state.effective_batch_size(models[0])}.</p>")
    return f'<table class="numbers gap-table">{head}{"".join(rows)}</table>{note}'


def anatomy_table(state: Any, models: Sequence[str], rows: dict[str, dict]) -> str:
    """The gap anatomy (explorer.engine.anatomy) of each model before and after closing the whole
    gap, as the gap table closes it, with what closing only the top-k coordinates of Δ does."""
    from ..views.numbers import ANATOMY_MEASURES, anatomy_methods, top_k_closing_text, whole_gap_loss_difference

    k = rows[models[0]]["top_k"]
    head = "<tr><th>quantity</th>" + "".join(f"<th>{esc(m)}: original</th><th>{esc(m)}: closed</th>" for m in models) + "</tr>"
    body = "".join(
        f"<tr><td>{esc(label.format(k=k))}</td>"
        + "".join(_num("–" if rows[m][f"{w}_{key}"] is None else rows[m][f"{w}_{key}"]) for m in models for w in ("original", "closed"))
        + "</tr>" for label, key in ANATOMY_MEASURES)
    lines = "".join(f"<p>{esc(m)}: {esc(top_k_closing_text(rows[m], whole_gap_loss_difference(state, m)))}</p>"
                    for m in models)
    methods = sorted({n for m in models for n in anatomy_methods(rows[m])})
    note = (f'<p class="note">Closed: the whole gap (α = 1{", re-normalised" if state.gap.renormalize else ", not re-normalised"}), '
            "as in the table above. Cone: mean pairwise cosine within a modality; shares of ‖Δ‖², Δ = mean image − mean "
            f"caption; top-{k} principal directions of the joint embeddings; {esc('; '.join(methods))}.</p>")
    return f'<table class="numbers anatomy">{head}{body}</table>{lines}{note}'


def anatomy_figure(row: dict, model: str):
    """The bar chart of the largest per-coordinate contributions to ‖Δ‖² (the app's builder)."""
    from ..views.numbers import anatomy_bars

    fig = _render(anatomy_bars(row, f"{model}: the coordinates that hold the gap").opts(width=520, height=300))
    n = len(row["gap_dimensions"])
    return fig, f"{model}: Δ_d²/‖Δ‖² of the {n} largest coordinates of Δ (original embeddings); top {row['top_k']} hold " \
                f"{100 * row['original_top_k_coordinates_share']:.1f}%"


def numbers_table(state: Any, models: Sequence[str]) -> str:
    g = state.gap
    a = f"α = {g.alpha:g}"
    head = (
        f"<tr><th>model</th><th>n</th><th>logit scale</th><th>gap distance</th><th>gap distance after closing ({a})</th>"
        f"<th>loss</th><th>loss after closing ({a})</th><th>loss difference</th><th>R@1 i→t</th><th>R@5 i→t</th>"
        "<th>R@10 i→t</th><th>R@1 t→i</th><th>R@5 t→i</th><th>R@10 t→i</th><th>mean |XXᵀ−YYᵀ|</th><th>mean |XYᵀ−YXᵀ|</th></tr>"
    )
    rows = []
    for m in models:
        d = state.numbers(m)
        cells = [m, d["n"], d["logit_scale"], d["gap_distance_before"], d["gap_distance_after"], d["loss_before"],
                 d["loss_after"], d["loss_difference"]]
        cells += [d[f"Ri2t@{k}_before"] for k in (1, 5, 10)] + [d[f"Rt2i@{k}_before"] for k in (1, 5, 10)]
        cells += [d["in_modal_difference"], d["cross_modal_asymmetry"]]
        rows.append("<tr>" + "".join(_num(c) for c in cells) + "</tr>")
    d = state.numbers(models[0])
    note = (
        f'<p class="note">Loss: {esc(d["loss_variant"])} '
        f'({"image→text cross-entropy only, as in the article" if d["loss_variant"] == "article" else "½(image→text + text→image) cross-entropy"}), '
        f"consecutive batches of {d['batch_size']}, each model's logit scale. Closing: shift images by −αΔ/2 and captions by +αΔ/2 "
        f"with α = {g.alpha:g}{', re-normalised' if g.renormalize else ', not re-normalised'}. "
        "Recall is before closing; the consistency measures are of the shown (closed) embeddings"
        + "".join(f"; {esc(d[k])}" for k in ("recall_method", "consistency_method") if d.get(k) and d[k] != "exact") + ".</p>"
    )
    return f'<table class="numbers">{head}{"".join(rows)}</table>{note}'


def faithfulness_table(state: Any, models: Sequence[str]) -> str:
    rows = []
    for m in models:
        f = state.faithfulness(m).as_dict()
        rows.append(
            "<tr>" + "".join(_num(v) for v in (m, state.projection_label(m), f["k"], f["trustworthiness"], f["knn_overlap"],
                                              f["edges_within_cluster_2d"] if f["edges_within_cluster_2d"] is not None else "–",
                                              f["edges_within_cluster_full"] if f["edges_within_cluster_full"] is not None else "–")) + "</tr>"
        )
    return (
        '<table class="faithfulness"><tr><th>model</th><th>projection</th><th>k</th><th>trustworthiness</th><th>kNN overlap</th>'
        "<th>pair edges within a 2-D cluster</th><th>… within a full-space cluster</th></tr>" + "".join(rows) + "</table>"
    )


def clusters_table(state: Any, model: str, thumbs: InlineThumbnails | None) -> str:
    o = state.ordering(model)
    if o is None:
        return ""
    labels = state.cluster_labels(model)
    examples = state.cluster_examples(model, per_cluster=3)
    pairs = state.pairs
    rows = []
    for c, members in enumerate(o.members):
        ex = examples[c] if c < len(examples) else []
        imgs = ""
        if thumbs is not None:
            imgs = "".join(f'<img alt="pair {int(i)}" src="{thumbs.url(i)}">' for i in ex)
        caps = "<br>".join(esc(pairs.captions[int(i)], 160) for i in ex) if pairs is not None else ""
        rows.append(
            f'<tr><td class="num">{c + 1}</td><td class="num">{members.size}</td><td>{esc(labels[c] if c < len(labels) else "")}</td>'
            f'<td>{imgs}</td><td class="cap">{caps}</td></tr>'
        )
    return (
        f"<h3>{esc(model)}: clusters of the {esc(state.order.cluster_block)} block</h3>"
        '<table class="clusters"><tr><th>#</th><th>size</th><th>label (top caption n-grams)</th><th>examples</th><th>example captions</th></tr>'
        + "".join(rows) + "</table>"
    )


def settings_table(state: Any, models: Sequence[str], command: str | None) -> str:
    from .. import __version__

    src = state.source_data()
    d, g, o, pr, look = state.data, state.gap, state.order, state.projection, state.look
    rows: list[tuple[str, str]] = [
        ("source", state.selection_recipe()),
        ("dataset", f"{src.name} ({src.n} pairs; {int(state.active_indices().size)} shown)"),
        ("sample", f"{d.sample_size if d.sample_size else 'all'} (seed {d.seed})"),
        ("caption filter", f"{d.caption_filter!r} ({d.filter_kind}, {d.filter_mode})" if d.caption_filter.strip() else "none"),
        ("gap setting", f"α = {g.alpha:g}, {'re-normalised' if g.renormalize else 'not re-normalised'}"),
        ("loss", f"{g.loss_variant}, batch {g.batch_size}"),
        ("ordering", f"clusters of {o.cluster_block}, k = {o.k}{', optimal leaf order' if o.optimal_order else ''}"
                     if o.cluster else "dataset order"),
        ("projection", f"{pr.projection} {pr.projection_mode}, components {pr.x_component}, {pr.y_component}"),
        ("heatmap", f"colour map {look.cmap}, {look.aggregation} per pixel, colours {look.color_range}, {MAX_PIXELS} px tiles"),
    ]
    for m in models:
        prov = state.provenance(m, projection=True)
        emb = src.embeddings[m]
        desc = emb.provenance.get("description")
        rows.append((f"model {m}", f"id {prov['model_id']}; logit scale {emb.logit_scale:.6g}" + (f"; {desc}" if desc else "")))
        rows.append((f"projection {m}", prov.get("projection", "")))
    for note in src.notes:
        rows.append(("note", note))
    rows.append(("generated", f"{_dt.datetime.now().astimezone().isoformat(timespec='seconds')} by bimodal-explorer {__version__}"))
    if command:
        rows.append(("command", command))
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="settings">{body}</table>'


def render_report(
    state: Any,
    models: Sequence[str] | None = None,
    *,
    title: str | None = None,
    command: str | None = None,
    max_pixels: int = MAX_PIXELS,
    thumbnails: bool = True,
    progress: Any = None,
) -> str:
    """The report as one HTML string (see module docstring). `models`: default all of the state's."""
    from bokeh.embed import components
    from bokeh.resources import Resources

    _load_bokeh()
    say = progress or (lambda msg: None)
    names = list(models) if models else state.model_names()
    for m in names:
        state.resolve_model(m)  # SpecError for an unknown model, before any work
    src = state.source_data()
    n_shown = int(state.active_indices().size)
    has_images = src.pairs is not None and src.pairs.images is not None
    inline = InlineThumbnails(src.pairs) if thumbnails and has_images else None
    hover_thumbs = inline if n_shown <= HOVER_THUMBS_UP_TO else None
    title = title or f"bimodal-explorer report: {src.name}"

    import uuid

    mark = uuid.uuid4().hex  # placeholders no caption can spell
    sections = []
    plots: dict[str, Any] = {}
    lines: dict[str, str] = {}

    def add(key: str, made: tuple) -> str:
        plots[key], lines[key] = made
        return f"@{mark}:{key}@"

    for i, m in enumerate(names):
        say(f"similarity heatmap of {m}")
        sim = add(f"sim_{i}", heatmap_figure(state, m, "similarity", max_pixels))
        say(f"difference heatmap of {m}")
        diff = add(f"diff_{i}", heatmap_figure(state, m, "difference", max_pixels))
        say(f"projection of {m}")
        scatter = add(f"scatter_{i}", scatter_figure(state, m, hover_thumbs))
        say(f"loss landscape and histograms of {m}")
        land = add(f"landscape_{i}", landscape_figure(state, m))
        hist = add(f"hist_{i}", histogram_figure(state, m))
        sections.append((m, f'<div class="row"><div>{sim}</div><div>{diff}</div></div>{clusters_table(state, m, inline)}'
                            f'<div class="row"><div>{scatter}</div><div>{land}{hist}</div></div>'))
    say("gap anatomy")
    from ..views.numbers import anatomy_of

    anatomy = {m: anatomy_of(state, m, alpha=1.0) for m in names}
    bars = "".join(f"<div>{add(f'anatomy_{i}', anatomy_figure(anatomy[m], m))}</div>" for i, m in enumerate(names))
    sections.insert(0, (None, f'{anatomy_table(state, names, anatomy)}<div class="row">{bars}</div>'))
    say("bokeh plots")
    script, divs = components(plots)
    # Bokeh's own JS, inline; not render_js(), which (once Panel is imported) also emits a
    # <script src="static/..."> shim that a standalone file cannot load
    bokeh_js = "".join(f'<script type="text/javascript">\n{code}\n</script>\n'
                       for code in Resources(mode="inline", components=["bokeh"]).js_raw)
    body = []
    for m, chunk in sections:
        for key, div in divs.items():
            chunk = chunk.replace(f"@{mark}:{key}@", f'{div}<p class="note prov">{esc(lines[key], 1000)}</p>')
        if m is None:  # the gap anatomy, placed after the gap table
            anatomy_html = chunk
            continue
        body.append(f'<section><h2>{esc(m)}</h2>{chunk}</section>')

    intro = (
        "<p class=\"note\">Heatmaps: image rows/columns first, caption rows/columns second; matched pairs lie on the "
        "diagonals of the two cross-modal quadrants (drawn on top, by their binned pair similarity, where a pixel holds "
        "more than one cell). The scatter draws one line per image–caption pair coloured by the "
        "pair's cosine similarity in the full embedding space (so projection artefacts can be told from pairs the model "
        "itself does not match); hover a point for its caption.</p>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'">
<title>{esc(title)}</title><style>{CSS}</style>
{bokeh_js}
</head><body>
<h1>{esc(title)}</h1>
<h2>Settings</h2>{settings_table(state, names, command)}
<h2>Closing the gap</h2>{gap_table(state, names)}
<h2>Gap anatomy</h2>{anatomy_html}
<h2>Gap, loss and retrieval at the views' setting</h2>{numbers_table(state, names)}
<h2>Projection faithfulness</h2>{faithfulness_table(state, names)}
{intro}
{"".join(body)}
{script}
</body></html>
"""
    return page


def write_report(state: Any, out: str | os.PathLike, **kwargs: Any) -> Path:
    """Render and write atomically (temporary file in the same folder, then rename)."""
    path = Path(out)
    page = render_report(state, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private; a report is a normal file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
