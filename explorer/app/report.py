"""A self-contained static HTML report of an :class:`~explorer.state.ExplorerState`.

Why its own renderer: DynamicMaps and datashader operations export only their first frame, so the
heatmaps are rasterised here at a fixed resolution (numpy pooling with the state's aggregation,
then a colour map) and inlined as PNG data URIs, with the quadrant separators, quadrant names and
cluster boxes drawn as SVG on top (crisp at any zoom). The projection scatter with its pair edges,
the loss landscape and the similarity histograms are Bokeh standalone plots with Bokeh's JS
inlined, so the file opens offline with pan, zoom and hover. Nothing in the page refers to
another file or host.

Every piece of text that comes from the data (captions, prompts, model names, file names, the
source spec, cluster labels) is HTML-escaped here or escaped by Bokeh (hover fields are escaped by
default; no ``{safe}`` formatter is used).

The numbers come from the state's methods (which call :mod:`explorer.analysis`), so the report
shows exactly what the app shows for the same settings, and the settings are written with it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: the heatmap is pooled down to at most this many pixels per side
MAX_PIXELS = 800
#: hover thumbnails in the scatter only for sources up to this many shown pairs
HOVER_THUMBS_UP_TO = 300
#: longest caption shown in tables and hovers (the full text is in the data, escaped)
CAPTION_CHARS = 300

MODALITY_COLORS = {"image": "#1f77b4", "text": "#ff7f0e", "pair": "#2ca02c"}


def esc(value: Any, limit: int | None = None) -> str:
    """HTML-escape any value (quotes too), shortening long text with an ellipsis."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


# -- colour maps and rasterisation ------------------------------------------------------------


def palette(name: str, n: int = 256) -> np.ndarray:
    """(n, 3) uint8 RGB of a colorcet or Bokeh colour map (by name, e.g. 'fire', 'coolwarm', 'viridis')."""
    import colorcet

    colors: Sequence[str] | None = colorcet.palette.get(name)
    if colors is None:
        import bokeh.palettes as bp

        for cand in (name, name.capitalize() + "256", name + "256", name.capitalize()):
            obj = getattr(bp, cand, None)
            if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], str):
                colors = obj
                break
            if isinstance(obj, dict) and obj:
                colors = obj[max(obj)]
                break
    if colors is None:
        raise ValueError(f"unknown colour map {name!r}")
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=np.float64)
    pos = np.linspace(0, 1, len(rgb))
    t = np.linspace(0, 1, n)
    return np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=1).round().astype(np.uint8)


def pool(matrix: np.ndarray, size: int, how: str = "max") -> np.ndarray:
    """Aggregate a matrix onto at most size×size cells ('max' keeps thin diagonals visible, 'mean' averages)."""
    m = np.asarray(matrix)
    rows, cols = m.shape
    if rows <= size and cols <= size:
        return m.astype(np.float32, copy=False)
    if how not in ("max", "mean"):
        raise ValueError(f"aggregation must be 'max' or 'mean', got {how!r}")
    r_edges = np.linspace(0, rows, min(size, rows) + 1).astype(np.int64)[:-1]
    c_edges = np.linspace(0, cols, min(size, cols) + 1).astype(np.int64)[:-1]
    out = np.empty((r_edges.size, c_edges.size), dtype=np.float64)
    r_bounds = np.append(r_edges, rows)
    chunk = 64
    for a in range(0, r_edges.size, chunk):  # row bands keep memory at O(band × cols)
        lo, hi = r_bounds[a], r_bounds[min(a + chunk, r_edges.size)]
        band = np.asarray(m[lo:hi], dtype=np.float64)
        starts = r_edges[a : a + chunk] - lo
        if how == "max":
            red = np.maximum.reduceat(band, starts, axis=0)
            out[a : a + chunk] = np.maximum.reduceat(red, c_edges, axis=1)
        else:
            red = np.add.reduceat(band, starts, axis=0)
            red = np.add.reduceat(red, c_edges, axis=1)
            nr = np.diff(np.append(starts, hi - lo))
            nc = np.diff(np.append(c_edges, cols))
            out[a : a + chunk] = red / nr[:, None] / nc[None, :]
    return out.astype(np.float32)


def offdiagonal_range(matrix: np.ndarray, chunk: int = 1024) -> tuple[float, float]:
    """(min, max) of a square matrix ignoring its main diagonal (self-similarity 1 would flatten the scale)."""
    m = np.asarray(matrix)
    n = m.shape[0]
    if n < 2:
        v = float(m.ravel()[0]) if m.size else 0.0
        return v, v + 1e-9
    lo, hi = np.inf, -np.inf
    for start in range(0, n, chunk):
        band = np.array(m[start : start + chunk], dtype=np.float64)
        rows = np.arange(band.shape[0])
        band[rows, start + rows] = np.nan
        lo, hi = min(lo, np.nanmin(band)), max(hi, np.nanmax(band))
    if hi <= lo:
        hi = lo + 1e-9
    return float(lo), float(hi)


def colorize(values: np.ndarray, clim: tuple[float, float], cmap: str) -> np.ndarray:
    """(H, W, 3) uint8 image of `values` mapped linearly from clim onto the colour map."""
    lut = palette(cmap)
    lo, hi = clim
    t = (np.asarray(values, dtype=np.float64) - lo) / (hi - lo if hi > lo else 1.0)
    idx = np.clip(np.nan_to_num(t, nan=0.0) * (len(lut) - 1), 0, len(lut) - 1).round().astype(np.int64)
    return lut[idx]


def png_data_url(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), mode="RGB").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def colorbar_html(clim: tuple[float, float], cmap: str, label: str) -> str:
    strip = colorize(np.linspace(clim[0], clim[1], 256)[None, :].repeat(12, axis=0), clim, cmap)
    return (
        f'<div class="colorbar"><span>{clim[0]:.3f}</span><img alt="{esc(label)} colour scale" '
        f'src="{png_data_url(strip)}"><span>{clim[1]:.3f}</span> <em>{esc(label)}</em></div>'
    )


@dataclass
class Heatmap:
    """A rasterised matrix with its overlay geometry in matrix coordinates."""

    data_url: str
    size: int  # matrix side (cells)
    pixels: int  # image side (pixels)
    clim: tuple[float, float]


def raster(matrix: np.ndarray, cmap: str, clim: tuple[float, float], aggregation: str, max_pixels: int = MAX_PIXELS) -> Heatmap:
    pooled = pool(matrix, max_pixels, aggregation)
    return Heatmap(png_data_url(colorize(pooled, clim, cmap)), int(np.asarray(matrix).shape[0]), int(pooled.shape[0]), clim)


def heatmap_figure(
    hm: Heatmap,
    *,
    title: str,
    quadrants: bool,
    boundaries: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    alt: str,
) -> str:
    """The PNG with an SVG overlay: quadrant separators and names, cluster boxes numbered 1..k."""
    n2 = hm.size
    parts = []
    if quadrants and n2 >= 2:
        n = n2 // 2
        stroke = max(n2 / 400, 0.15)
        parts.append(
            f'<line x1="{n}" y1="0" x2="{n}" y2="{n2}" class="sep" stroke-width="{stroke:.3g}"/>'
            f'<line x1="0" y1="{n}" x2="{n2}" y2="{n}" class="sep" stroke-width="{stroke:.3g}"/>'
        )
    if boundaries and len(boundaries) > 2:
        m = n2 // 2 if quadrants else n2
        blocks = [(0, 0), (0, m), (m, 0), (m, m)] if quadrants else [(0, 0)]
        stroke = max(n2 / 500, 0.12)
        font = max(n2 / 45, 1.0)
        for c, (a, b) in enumerate(zip(boundaries[:-1], boundaries[1:])):
            for oy, ox in blocks:
                parts.append(
                    f'<rect x="{ox + a}" y="{oy + a}" width="{b - a}" height="{b - a}" class="box" stroke-width="{stroke:.3g}"/>'
                )
            if labels is not None:
                name = esc(f"{c + 1}: {labels[c] if c < len(labels) else ''}", 80)
                parts.append(f'<text x="{m + a + 0.5}" y="{a + font}" font-size="{font:.3g}" class="lbl"><title>{name}</title>{c + 1}</text>')
    svg = (
        f'<svg viewBox="0 0 {n2} {n2}" preserveAspectRatio="none" aria-hidden="true">{"".join(parts)}</svg>'
        if parts
        else ""
    )
    axis = ""
    if quadrants:
        axis = '<div class="qnames"><span>images</span><span>captions</span></div>'
    return (
        f'<figure class="heatmap"><figcaption>{esc(title)}</figcaption>{axis}'
        f'<div class="hm"><img alt="{esc(alt)}" src="{hm.data_url}" width="{hm.pixels}" height="{hm.pixels}">{svg}</div>'
        f"</figure>"
    )


# -- bokeh standalone plots -------------------------------------------------------------------


def _short(captions: Sequence[str]) -> list[str]:
    return [c if len(c) <= CAPTION_CHARS else c[: CAPTION_CHARS - 1] + "…" for c in captions]


def scatter_plot(state: Any, model: str, *, thumbs: "InlineThumbnails | None" = None):
    """Bokeh figure: points by modality and one segment per pair coloured by its cosine similarity."""
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.plotting import figure

    df = state.projection_coords(model)
    proj = state.projection_result(model)
    cx, cy = state.components(model)
    p = figure(
        width=620, height=560, title=f"{model}: {proj.method} {proj.mode} (components {cx + 1}, {cy + 1})",
        tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom", match_aspect=True,
    )
    p.title.text_font_size = "11pt"
    sims = df["sim"].to_numpy(dtype=np.float64)
    mapper = LinearColorMapper(palette=[_hex(c) for c in palette(state.edge_cmap, 256)], low=float(sims.min()), high=float(sims.max()) + 1e-9)
    if not proj.one_point_per_pair:
        n = len(df) // 2
        img, txt = df.iloc[:n], df.iloc[n:]
        edges = ColumnDataSource(
            {
                "x0": img["x"].to_numpy(), "y0": img["y"].to_numpy(),
                "x1": txt["x"].to_numpy(), "y1": txt["y"].to_numpy(),
                "sim": img["sim"].to_numpy(), "pair_id": img["pair_id"].to_numpy(),
            }
        )
        p.segment("x0", "y0", "x1", "y1", source=edges, line_color={"field": "sim", "transform": mapper},
                  line_alpha=0.55 if n > 500 else 0.8, line_width=1)
        p.add_layout(ColorBar(color_mapper=mapper, title="pair cosine similarity", width=10), "right")
    renderers = []
    for modality, group in df.groupby("modality", sort=False):
        data = {
            "x": group["x"].to_numpy(), "y": group["y"].to_numpy(), "pair_id": group["pair_id"].to_numpy(),
            "caption": _short(list(group["caption"].astype(str))), "sim": group["sim"].to_numpy(),
            "modality": [modality] * len(group),
        }
        if thumbs is not None:
            data["thumb"] = [thumbs.url(i) for i in group["pair_id"]]
        src = ColumnDataSource(data)
        size = 4 if len(df) > 2000 else 6
        renderers.append(
            p.scatter("x", "y", source=src, size=size, color=MODALITY_COLORS.get(str(modality), "#555"),
                      alpha=0.8, legend_label=str(modality), marker="circle" if modality != "text" else "triangle")
        )
    tooltips = [("pair", "@pair_id"), ("modality", "@modality"), ("caption", "@caption"), ("pair similarity", "@sim{0.000}")]
    if thumbs is not None:
        # custom template: @-fields are HTML-escaped by Bokeh; @thumb is a data: URL we generated
        tooltips = (
            '<div style="max-width:260px"><img src="@thumb" width="48" height="48" alt=""> '
            "<div>pair <b>@pair_id</b> (@modality), similarity @sim{0.000}</div>"
            '<div style="white-space:normal">@caption</div></div>'
        )
    p.add_tools(HoverTool(renderers=renderers, tooltips=tooltips))
    p.legend.location = "top_left"
    p.legend.click_policy = "hide"
    return p


def landscape_plot(state: Any, model: str):
    from bokeh.models import ColumnDataSource, HoverTool, Span
    from bokeh.plotting import figure

    ls = state.landscape(model)
    d0 = state.numbers(model)["gap_distance_before"]
    p = figure(width=420, height=300, title=f"{model}: loss along the gap ({ls.variant})", tools="pan,wheel_zoom,reset,save",
               x_axis_label="signed gap distance", y_axis_label="loss")
    p.title.text_font_size = "10pt"
    src = ColumnDataSource({"d": ls.distances, "loss": ls.losses, "delta": ls.deltas})
    p.line("d", "loss", source=src, line_width=2)
    p.scatter("d", "loss", source=src, size=4)
    p.add_layout(Span(location=d0, dimension="height", line_dash="dashed", line_color="#d62728"))
    p.add_tools(HoverTool(tooltips=[("δ", "@delta{0.00}"), ("distance", "@d{0.000}"), ("loss", "@loss{0.000}")]))
    return p


def histogram_plot(state: Any, model: str):
    from bokeh.plotting import figure

    dist = state.distributions(model)
    p = figure(width=420, height=300, title=f"{model}: similarity distributions", tools="pan,wheel_zoom,reset,save",
               x_axis_label="cosine similarity", y_axis_label="density")
    p.title.text_font_size = "10pt"
    colors = {"image-image": "#1f77b4", "text-text": "#ff7f0e", "matched": "#2ca02c", "unmatched": "#7f7f7f"}
    edges = np.asarray(dist.edges)
    width = np.diff(edges)
    for group, counts in dist.counts.items():
        c = np.asarray(counts, dtype=np.float64)
        dens = c / max(c.sum(), 1) / width
        p.quad(top=dens, bottom=0, left=edges[:-1], right=edges[1:], fill_alpha=0.35, line_alpha=0.6,
               color=colors.get(group, "#555"), legend_label=f"{group} (mean {dist.means[group]:.3f})")
    p.legend.label_text_font_size = "8pt"
    return p


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


def _hex(rgb: np.ndarray) -> str:
    return "#%02x%02x%02x" % tuple(int(v) for v in rgb)


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


def gap_table(state: Any, models: Sequence[str]) -> str:
    """The article's table, as ``python -m explorer gap-table`` computes it: the whole gap closed
    (α = 1), whatever α the views show, so a report always says what closing the gap does."""
    from ..analysis.summary import gap_table_row

    rows = []
    for m in models:
        e = state.original_embeddings(m)
        r = gap_table_row(e.image, e.text, logit_scale=e.logit_scale, model=m, batch_size=state.effective_batch_size(m),
                          variant=state.loss_variant, alpha=1.0, renormalize=state.renormalize)
        cells = [m, r["n"], r["original_distance"], r["original_loss"], r["closed_distance"], r["closed_loss"],
                 r["loss_difference"], r["r1_image_to_text"], r["r1_text_to_image"]]
        rows.append("<tr>" + "".join(_num(c) for c in cells) + "</tr>")
    head = ("<tr><th>model</th><th>n</th><th>Original Distance</th><th>Original Loss</th><th>Closed Distance</th>"
            "<th>Closed Loss</th><th>Loss Difference</th><th>R@1 i→t</th><th>R@1 t→i</th></tr>")
    note = (f'<p class="note">Closed: the whole gap (α = 1{", re-normalised" if state.renormalize else ", not re-normalised"}), '
            f"as <code>python -m explorer gap-table</code>; loss {esc(state.loss_variant)}, batches of "
            f"{state.effective_batch_size(models[0])}.</p>")
    return f'<table class="numbers gap-table">{head}{"".join(rows)}</table>{note}'


def numbers_table(state: Any, models: Sequence[str]) -> str:
    a = f"α = {state.alpha:g}"
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
        f"with α = {state.alpha:g}{', re-normalised' if state.renormalize else ', not re-normalised'}. "
        "Recall is before closing; the consistency measures are of the shown (closed) embeddings.</p>"
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


def clusters_table(state: Any, model: str, thumbs: "InlineThumbnails | None") -> str:
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
        f"<h3>{esc(model)}: clusters of the {esc(state.cluster_block)} block</h3>"
        '<table class="clusters"><tr><th>#</th><th>size</th><th>label (top caption n-grams)</th><th>examples</th><th>example captions</th></tr>'
        + "".join(rows) + "</table>"
    )


def settings_table(state: Any, models: Sequence[str], command: str | None) -> str:
    from .. import __version__

    src = state.source_data()
    rows: list[tuple[str, str]] = [
        ("source", state.selection_recipe()),
        ("dataset", f"{src.name} ({src.n} pairs; {int(state.active_indices().size)} shown)"),
        ("sample", f"{state.sample_size if state.sample_size else 'all'} (seed {state.seed})"),
        ("caption filter", f"{state.caption_filter!r} ({state.filter_mode})" if state.caption_filter.strip() else "none"),
        ("gap setting", f"α = {state.alpha:g}, {'re-normalised' if state.renormalize else 'not re-normalised'}"),
        ("loss", f"{state.loss_variant}, batch {state.batch_size}"),
        ("ordering", f"clusters of {state.cluster_block}, k = {state.k}{', optimal leaf order' if state.optimal_order else ''}"
                     if state.cluster else "dataset order"),
        ("projection", f"{state.projection} {state.projection_mode}, components {state.x_component}, {state.y_component}"),
        ("heatmap", f"colour map {state.cmap}, {state.aggregation} aggregation when pooled to ≤ {MAX_PIXELS} px"),
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
    plots = {}
    for m in names:
        say(f"similarity heatmap of {m}")
        s = state.similarity(m)
        o = state.ordering(m)
        clim = offdiagonal_range(s)
        hm = raster(s, state.cmap, clim, state.aggregation, max_pixels)
        fig_sim = heatmap_figure(
            hm, title=f"{m}: similarity of all {2 * n_shown} embeddings", quadrants=True,
            boundaries=o.boundaries if o is not None else None, labels=state.cluster_labels(m) if o is not None else None,
            alt=f"similarity heatmap of {m}",
        )
        say(f"difference heatmap of {m}")
        dmat = state.difference(m)
        lim = float(np.max(np.abs(dmat))) or 1e-9
        hd = raster(dmat, state.diverging_cmap, (-lim, lim), "mean" if state.aggregation == "mean" else "max", max_pixels)
        mean_abs = float(np.abs(dmat).mean())
        fig_diff = heatmap_figure(
            hd, title=f"{m}: in-modal difference XXᵀ − YYᵀ (mean |D| = {mean_abs:.4f})", quadrants=False,
            boundaries=o.boundaries if o is not None else None, alt=f"in-modal difference of {m}",
        )
        say(f"projection of {m}")
        plots[f"scatter_{len(plots)}"] = scatter_plot(state, m, thumbs=hover_thumbs)
        scatter_key = f"scatter_{len(plots) - 1}"
        say(f"loss landscape of {m}")
        plots[f"landscape_{len(plots)}"] = landscape_plot(state, m)
        land_key = f"landscape_{len(plots) - 1}"
        plots[f"hist_{len(plots)}"] = histogram_plot(state, m)
        hist_key = f"hist_{len(plots) - 1}"
        sections.append(
            (m, f'<div class="row"><div>{fig_sim}{colorbar_html(clim, state.cmap, "cosine similarity")}</div>'
                f'<div>{fig_diff}{colorbar_html((-lim, lim), state.diverging_cmap, "XXᵀ − YYᵀ")}</div></div>'
                f"{clusters_table(state, m, inline)}"
                f'<div class="row"><div>@{mark}:{scatter_key}@</div><div>@{mark}:{land_key}@@{mark}:{hist_key}@</div></div>')
        )
    say("bokeh plots")
    script, divs = components(plots)
    # Bokeh's own JS, inline; not render_js(), which (once Panel is imported) also emits a
    # <script src="static/..."> shim that a standalone file cannot load
    bokeh_js = "".join(f'<script type="text/javascript">\n{code}\n</script>\n'
                       for code in Resources(mode="inline", components=["bokeh"]).js_raw)
    body = []
    for m, chunk in sections:
        for key, div in divs.items():
            chunk = chunk.replace(f"@{mark}:{key}@", div)
        body.append(f'<section><h2>{esc(m)}</h2>{chunk}</section>')

    intro = (
        "<p class=\"note\">Heatmaps: image rows/columns first, caption rows/columns second; matched pairs lie on the "
        "diagonals of the two cross-modal quadrants. The scatter draws one line per image–caption pair coloured by the "
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
