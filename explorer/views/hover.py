"""Hover on the heatmaps: what a pixel holds, in pair ids, modality and captions, at any size.

A heatmap tile has at most ~1,200 pixels along each axis whatever the size of the source
(explorer.engine.tiles). With every tile the view sends, per pixel bin of each axis, one line of
text and a thumbnail URL (:func:`axis_lookup`): never more than two axes × pixels short lines,
never the captions of the whole source.

- A bin of one row (or column) names its item: "image of pair 51 · a dog …" (modality, pair id,
  caption cut to one line); the difference matrix's rows are pairs ("pair 51 · …").
- A bin of many names the range in the block's display order and the item at its centre:
  "101 images 1,200–1,300 · centre: pair 4,711 · a dog …".

Positions are display positions (after clustering, the order's), the text always gives pair ids.
In the browser a ``CustomJSHover`` per axis finds the bin under the mouse in a small
ColumnDataSource that :class:`HoverLookup` refreshes with each tile (Bokeh escapes what a
formatter returns, so captions are shown as text, never as HTML).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

#: longest caption in a hover line (cut to one line: line breaks and runs of spaces become one space)
HOVER_CAPTION_CHARS = 90
#: a transparent placeholder for "no thumbnail" (a local data: URL; the <img> is hidden too)
NO_THUMB = "data:,"


def one_line(text: Any, limit: int = HOVER_CAPTION_CHARS) -> str:
    """`text` on one line (whitespace runs → one space), cut to `limit` characters with '…'."""
    s = re.sub(r"\s+", " ", "" if text is None else str(text)).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def axis_lookup(edges: np.ndarray, display_pairs: np.ndarray, kind: str, caption: Callable[[int], str],
                thumb: Callable[[int], str | None], how: str = "mean") -> dict[str, list]:
    """Per pixel bin [edges[k], edges[k+1]) of one axis: {'lo', 'hi', 'text', 'thumb', 'how'}.

    `display_pairs`: source pair ids in display order (M); the similarity axis has 2M positions
    (images 0…M−1, then captions), the difference axis M (pairs). `caption(pid)` and
    `thumb(pid)` describe a pair (thumb: URL or None)."""
    e = np.asarray(edges, dtype=np.int64)
    pairs = np.asarray(display_pairs, dtype=np.int64)
    m = int(pairs.size)
    out: dict[str, list] = {"lo": [], "hi": [], "text": [], "thumb": [], "how": []}
    if m == 0 or e.size < 2:
        return out
    for a, b in zip(e[:-1].tolist(), e[1:].tolist(), strict=True):
        c = (a + b - 1) // 2  # the centre cell
        pid = int(pairs[c % m])
        cap = one_line(caption(pid))
        if kind == "similarity":
            modality = "image" if c < m else "caption"
            block_a, block_b = (a, b) if c < m else (a - m, b - m)
            mixed = a < m <= b - 1
        else:
            modality, block_a, block_b, mixed = "pair", a, b, False
        if b - a == 1:
            text = f"{modality} of pair {pid:,} · {cap}" if kind == "similarity" else f"pair {pid:,} · {cap}"
        elif mixed:
            text = f"{b - a:,} images and captions (the blocks' border) · centre: {modality} of pair {pid:,} · {cap}"
        else:
            text = f"{b - a:,} {modality}s {block_a:,}–{block_b - 1:,} (display order) · centre: pair {pid:,} · {cap}"
        url = thumb(pid) if (modality in ("image", "pair")) else None
        out["lo"].append(int(a))
        out["hi"].append(int(b))
        out["text"].append(text)
        out["thumb"].append(url or NO_THUMB)
        out["how"].append(how)
    return out


def tile_lookup(state: Any, model: str, kind: str, tile: Any, display_pairs: np.ndarray) -> dict[str, dict[str, list]]:
    """{'x': columns, 'y': rows} of :func:`axis_lookup` for a tile of `model`'s matrix."""
    p = state.pairs

    def caption(pid: int) -> str:
        return p.captions[pid] if p is not None else ""

    def thumb(pid: int) -> str | None:
        return state.thumb_url(pid)

    return {axis: axis_lookup(edges, display_pairs, kind, caption, thumb, tile.how)
            for axis, edges in (("x", tile.x_edges), ("y", tile.y_edges))}


#: the formatter of one axis: finds the bin under `value` (a data coordinate; cell j spans
#: j − 0.5 … j + 0.5) and returns its text, thumbnail URL or the <img>'s style; 'value' tells what
#: the pixel's value is (one cell, or the mean/max of R × C cells)
FORMATTER_JS = """
function bin(d, v) {
  const lo = d.lo, n = lo.length;
  if (!n) return -1;
  const cell = Math.floor(v + 0.5);
  let a = 0, b = n - 1;
  if (cell < lo[0] || cell >= d.hi[n - 1]) return -1;
  while (a < b) { const h = (a + b + 1) >> 1; if (lo[h] <= cell) a = h; else b = h - 1; }
  return a;
}
const d = own.data, k = bin(d, value);
if (format == "value") {
  const o = other.data, j = bin(o, axis == "x" ? special_vars.y : special_vars.x);
  if (k < 0 || j < 0) return "";
  const c = d.hi[k] - d.lo[k], r = o.hi[j] - o.lo[j];
  if (c * r == 1) return label + " of the cell";
  return label + ", " + d.how[k] + " of " + r.toLocaleString() + " × " + c.toLocaleString() + " cells";
}
if (k < 0) return format == "thumb" ? "data:," : (format == "thumbstyle" ? "display:none" : "outside the matrix");
if (format == "thumb") return d.thumb[k];
if (format == "thumbstyle") return d.thumb[k] == "data:," ? "display:none" : "max-width:80px;max-height:80px;display:block";
return d.text[k];
"""

TOOLTIP = """
<div class="bx-hover" style="max-width:340px;font-size:12px;overflow-wrap:anywhere">
  <div><b>row</b> $y{text}</div>
  <img src="$y{thumb}" style="$y{thumbstyle}" alt="">
  <div><b>column</b> $x{text}</div>
  <img src="$x{thumb}" style="$x{thumbstyle}" alt="">
  <div><b>$x{value}</b>: @image{0.000}</div>
</div>
"""


#: tick labels of the similarity matrix's axes: the modality and the position in its block
#: ("img 50", "cap 0"), not the index into the 2M×2M matrix
TICK_JS = """
const q = Math.round(tick);
if (!(m > 0) || q < 0 || q >= 2 * m) return "";
return q < m ? "img " + q.toLocaleString() : "cap " + (q - m).toLocaleString();
"""


class HoverLookup:
    """The Bokeh side of a heatmap's hover: one ColumnDataSource per axis and the two formatters
    (``formatters`` for ``hover_formatters``), and the similarity axes' tick labels (``ticks``);
    :meth:`update` writes a new tile's lookup."""

    def __init__(self, kind: str):
        from bokeh.models import ColumnDataSource, CustomJSHover, CustomJSTickFormatter

        empty = {"lo": [], "hi": [], "text": [], "thumb": [], "how": []}
        self.x = ColumnDataSource(data=dict(empty))
        self.y = ColumnDataSource(data=dict(empty))
        label = "similarity" if kind == "similarity" else "difference"
        self.formatters = {
            "$x": CustomJSHover(args={"own": self.x, "other": self.y, "axis": "x", "label": label}, code=FORMATTER_JS),
            "$y": CustomJSHover(args={"own": self.y, "other": self.x, "axis": "y", "label": label}, code=FORMATTER_JS),
        }
        self.ticks = CustomJSTickFormatter(args={"m": 0}, code=TICK_JS) if kind == "similarity" else None

    def update(self, value: dict[str, Any]) -> None:
        look = value.get("hover") or {}
        for axis, source in (("x", self.x), ("y", self.y)):
            data = look.get(axis)
            if data is not None and source.data != data:
                source.data = data
        m = int(value.get("m") or 0)
        if self.ticks is not None and self.ticks.args.get("m") != m:
            self.ticks.args = {"m": m}
