"""HTML fragments describing items (thumbnail, caption, index, modality).

Captions, ids and file names are untrusted (DiffusionDB prompts are free text): every value
that reaches HTML goes through :func:`esc` (``html.escape`` with quotes, after truncation), and
thumbnail URLs are built by :mod:`explorer.thumbnails` from a hex token and an integer only.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from .style import CAPTION_CHARS, MODALITY_COLORS


def truncate(text: Any, limit: int = CAPTION_CHARS) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def esc(text: Any, limit: int = CAPTION_CHARS) -> str:
    """Truncated and HTML-escaped (quotes included), safe inside text and attribute values."""
    return html.escape(truncate(text, limit), quote=True)


def thumb_img(url: str | None, size: int = 96, alt: str = "") -> str:
    if not url:
        return f'<div style="width:{size}px;height:{size}px;background:#eee;display:inline-block" title="no image"></div>'
    return f'<img src="{esc(url, 200)}" alt="{esc(alt, 80)}" loading="lazy" style="max-width:{size}px;max-height:{size}px">'


def item_card(item: Mapping[str, Any], size: int = 96) -> str:
    """One item: its thumbnail (images) or caption (texts), pair index, dataset id and modality."""
    modality = str(item.get("modality", ""))
    color = MODALITY_COLORS.get(modality, "#888")
    pid = int(item["pair_id"])
    ident = esc(item.get("id", ""), 60)
    head = (
        f'<div style="font-size:11px;color:{color};font-weight:bold">'
        f"{esc(modality, 20)} · pair {pid} · id {ident}</div>"
    )
    # a caption has no picture: no empty thumbnail slot beside it
    body = "" if modality == "text" else thumb_img(item.get("thumb"), size, alt=f"image of pair {pid}")
    caption = esc(item.get("caption", ""))
    cap = f'<div style="font-size:12px;max-width:{max(size, 220)}px;overflow-wrap:anywhere">{caption}</div>'
    return f'<div class="bx-item" style="display:inline-block;vertical-align:top;margin:4px">{head}{body}{cap}</div>'


def inspected_html(info: Mapping[str, Any] | None) -> str:
    """The two items of a tapped cell (or a tapped pair) and the value between them."""
    if not info:
        return '<div class="bx-inspect" style="color:#666">Tap a heatmap cell or a point to see its two items.</div>'
    if info.get("kind") == "error":
        return f'<div class="bx-inspect" style="color:#b00020">{esc(info.get("message", ""), 400)}</div>'
    value = info.get("value")
    label = "pair similarity" if info.get("kind") == "pair" else ("difference" if info.get("matrix") == "difference" else "similarity")
    where = f" · row {int(info['row'])}, column {int(info['col'])}" if "row" in info else ""
    model = esc(info.get("model", ""), 80)
    head = f"<div><b>{model}</b>{where} · {label} <b>{float(value):.4f}</b></div>" if value is not None else ""
    return f'<div class="bx-inspect">{head}{item_card(info["row_item"])}{item_card(info["col_item"])}</div>'


def selection_html(rows: Iterable[Mapping[str, Any]], limit: int = 60, total: int | None = None) -> str:
    """Thumbnails, captions and cluster labels of selected pairs (first `limit`)."""
    rows = list(rows)
    total = len(rows) if total is None else total
    if not rows:
        return '<div class="bx-selection" style="color:#666">No pairs selected: draw a box or lasso in the scatter.</div>'
    plural = "s" if total != 1 else ""
    more = f" (first {limit} shown)" if total > limit else ""
    parts = [f"<div><b>{total}</b> selected pair{plural}{more}</div>"]
    for r in rows[:limit]:
        pid = int(r["pair_id"])
        cluster = ""
        if r.get("cluster"):
            cluster = f'<div style="font-size:11px;color:#555">cluster: {esc(r.get("cluster"), 80)}</div>'
        sim = r.get("sim")
        sim_s = f" · sim {sim:.3f}" if isinstance(sim, float) and sim == sim else ""
        thumb = thumb_img(r.get("thumb"), 64, alt=f"pair {pid}")
        meta = f'<div style="font-size:11px;color:#555">pair {pid} · id {esc(r.get("id", ""), 60)}{sim_s}</div>'
        caption = f'<div style="font-size:12px;overflow-wrap:anywhere">{esc(r.get("caption", ""))}</div>'
        parts.append(
            '<div class="bx-row" style="display:flex;gap:6px;margin:3px 0;align-items:flex-start">'
            f"{thumb}<div>{meta}{caption}{cluster}</div></div>"
        )
    return '<div class="bx-selection">' + "".join(parts) + "</div>"


def cluster_gallery_html(labels: list[str], sizes: list[int], examples: list[list[Mapping[str, Any]]], thumb: int = 96) -> str:
    """One row per cluster: its number, n-gram label and size, then its example images, each with
    its caption under it (`thumb` pixels wide)."""
    if not labels:
        return '<div class="bx-clusters" style="color:#666">Turn on clustering to see labelled clusters.</div>'
    parts = []
    for c, (label, size, items) in enumerate(zip(labels, sizes, examples, strict=True)):
        cells = "".join(
            f'<figure class="bx-example" style="display:inline-block;vertical-align:top;width:{thumb + 40}px;margin:0 8px 4px 0">'
            f'{thumb_img(it.get("thumb"), thumb, alt=truncate(it.get("caption", ""), 80))}'
            f'<figcaption style="font-size:12px;line-height:1.25;overflow-wrap:anywhere">{esc(it.get("caption", ""), 140)}</figcaption></figure>'
            for it in items)
        parts.append(
            f'<div class="bx-cluster" data-cluster="{c + 1}" style="margin:6px 0;border-top:1px solid #ddd;padding-top:4px">'
            f'<div style="font-size:13px"><b>{c + 1}.</b> {esc(label, 120)} '
            f'<span style="color:#777">({int(size)} pair{"" if int(size) == 1 else "s"})</span></div>'
            f"<div>{cells}</div></div>"
        )
    return '<div class="bx-clusters">' + "".join(parts) + "</div>"
