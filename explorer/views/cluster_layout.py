"""Where a clustered heatmap's cluster tags go: every cluster numbered, no two tags overlapping.

Each cluster of the clustered quadrant gets a small numbered tag ("1", "2", …; the legend under
the heatmap and the gallery give each number its n-gram label) in a column along the quadrant's
outer edge (the matrix's left edge for the image/text–image blocks, its right edge for the others;
below the quadrant's name), as near as possible to its box's middle row, with a leader line from the tag to the box. Tags are
spread by a 1-D layout (:func:`spread`) so that none overlaps another at the zoomed-out size; when
more tags than fit in one column, they go in several columns (cluster c in column c mod columns).
Zoomed in, tags only move apart.

Pure functions of the boundaries and the plot's size in pixels (tested without a browser).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: a tag's height and the width of one digit, in screen pixels (9pt text on its light box)
TAG_HEIGHT_PX = 16.0
TAG_CHAR_PX = 7.5
TAG_PAD_PX = 4.0
#: room kept free at the top of the quadrant for its name ("text–image"), in pixels
NAME_ROOM_PX = 18.0
#: gap between the matrix edge and the first column of tags, in pixels
EDGE_GAP_PX = 3.0


def spread(centers: Sequence[float], height: float, lo: float, hi: float) -> list[float]:
    """Positions as near as possible to `centers` (sorted ascending) with consecutive ones at least
    `height` apart and every one within [lo + height/2, hi − height/2]; they must fit
    (len(centers)·height ≤ hi − lo)."""
    n = len(centers)
    if n == 0:
        return []
    if n * height > (hi - lo) + 1e-9:
        raise ValueError(f"{n} tags of height {height} do not fit in {hi - lo}")
    first, last = lo + height / 2.0, hi - height / 2.0
    y = [min(max(float(c), first), last) for c in centers]
    for i in range(1, n):
        y[i] = max(y[i], y[i - 1] + height)
    y[-1] = min(y[-1], last)
    for i in range(n - 2, -1, -1):
        y[i] = min(y[i], y[i + 1] - height)
    return y


def tag_width_px(k: int) -> float:
    """Width of the widest tag of k clusters ("k"), in pixels."""
    return len(str(max(int(k), 1))) * TAG_CHAR_PX + TAG_PAD_PX


def cluster_tags(boundaries: Sequence[int], m: int, block: str, size: int, kind: str = "similarity") -> list[dict]:
    """One tag per cluster of the clustered quadrant, in data coordinates (cell units: column j at
    x = j, row i at y = i): ``{"cluster": c, "text": "c+1", "x", "y" (the tag's centre),
    "width", "height" (data units), "leader": (x0, y0, x1, y1)}`` (from the tag's inner side to the
    middle of the box's outer side). `size`: the heatmap's frame in pixels (its zoomed-out scale)."""
    k = len(boundaries) - 1
    if k <= 0:
        return []
    similarity = kind == "similarity"
    qr = 0 if (not similarity or block.startswith("image")) else 1
    qc = 0 if (not similarity or block.endswith("image")) else 1
    n = (2 if similarity else 1) * max(int(m), 1)
    per_px = n / float(max(size, 1))  # data units per pixel
    h, w = TAG_HEIGHT_PX * per_px, tag_width_px(k) * per_px
    lo, hi = qr * m - 0.5 + NAME_ROOM_PX * per_px, qr * m + m - 0.5
    if hi - lo < h:  # a tiny heatmap: no room kept for the name
        lo = qr * m - 0.5
    per_column = max(1, math.floor((hi - lo) / h + 1e-9))
    columns = math.ceil(k / per_column)
    edge = -0.5 if qc == 0 else n - 0.5
    inward = 1.0 if qc == 0 else -1.0
    tags: list[dict] = []
    for col in range(columns):
        members = list(range(col, k, columns))
        centers = [qr * m + (boundaries[c] + boundaries[c + 1]) / 2.0 - 0.5 for c in members]
        ys = spread(centers, h, lo, hi)
        x = edge + inward * (EDGE_GAP_PX * per_px + col * (w + EDGE_GAP_PX * per_px) + w / 2.0)
        for c, y, cy in zip(members, ys, centers, strict=True):
            box_side = qc * m + (boundaries[c] if qc == 0 else boundaries[c + 1]) - 0.5
            start = x + inward * w / 2.0
            end = max(box_side, start) if qc == 0 else min(box_side, start)  # a box at the edge: the tag is beside it already
            tags.append({"cluster": c, "text": str(c + 1), "x": x, "y": y, "width": w, "height": h,
                         "leader": (start, y, end, cy)})
    tags.sort(key=lambda t: t["cluster"])
    return tags


def overlaps(a: dict, b: dict) -> bool:
    """Whether two tags' boxes overlap (touching edges do not)."""
    return (abs(a["x"] - b["x"]) * 2 < (a["width"] + b["width"]) - 1e-9
            and abs(a["y"] - b["y"]) * 2 < (a["height"] + b["height"]) - 1e-9)
