"""The shown point nearest the pointer, within a few screen pixels, at any number of points.

The rasterized scatter (explorer.views.scatter) has no glyph per point for Bokeh's hover, so its
hover looks items up on the server (explorer.views.scatter_hover): a :class:`PointIndex` is built
once per projection frame (a k-d tree over the coordinates divided by the frame's extent, so that
the default square view is isotropic) and each pointer event is one O(log N) query
(:func:`nearest_point`). The radius is in screen pixels of the current window, whose x and y
scales may differ (a box zoom): the tree returns the `candidates` nearest points within the
larger of the two radii and the nearest of them in pixel distance wins — exact whenever fewer
than `candidates` points lie in that ball, which at a few pixels' radius is every visible case.

Pure numpy / scipy; no UI imports.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

#: how far from a point (in screen pixels) the pointer still names it
HOVER_RADIUS_PX = 6.0


@dataclasses.dataclass(frozen=True)
class PointIndex:
    """A k-d tree over a frame's points (x / sx, y / sy) and the coordinates it was built from."""

    tree: cKDTree | None
    x: np.ndarray
    y: np.ndarray
    scale: tuple[float, float]

    @property
    def n(self) -> int:
        return int(self.x.size)

    def __memo_bytes__(self) -> int:  # explorer.engine.memo: the coordinates and the tree's points, indices and nodes
        held = self.x.nbytes + self.y.nbytes
        if self.tree is not None:
            held += self.tree.data.nbytes + self.tree.indices.nbytes + 64 * max(self.n // 8, 1)
        return int(held)


def point_index(x: np.ndarray, y: np.ndarray) -> PointIndex:
    """The index of the points (x[i], y[i]) (non-finite points are never found)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size:,} and {y.size:,})")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return PointIndex(None, x, y, (1.0, 1.0))
    sx = float(np.ptp(x[ok])) or 1.0
    sy = float(np.ptp(y[ok])) or 1.0
    pts = np.column_stack([x / sx, y / sy])
    pts[~ok] = 1e300  # non-finite points sit far away: a query within the frame never reaches them
    return PointIndex(cKDTree(pts), x, y, (sx, sy))


def nearest_point(index: PointIndex, x: float, y: float, x_per_px: float, y_per_px: float,
                  radius_px: float = HOVER_RADIUS_PX, candidates: int = 32) -> int | None:
    """Row of the point nearest (x, y) in screen pixels (a pixel is `x_per_px` × `y_per_px` data
    units), if it lies within `radius_px` pixels; else None."""
    if index.tree is None or index.n == 0 or not np.isfinite([x, y, x_per_px, y_per_px]).all() or x_per_px <= 0 or y_per_px <= 0:
        return None
    sx, sy = index.scale
    reach = radius_px * max(x_per_px / sx, y_per_px / sy)
    k = min(int(candidates), index.n)
    dist, rows = index.tree.query([x / sx, y / sy], k=k, distance_upper_bound=reach * (1 + 1e-9))
    rows = np.atleast_1d(rows)[np.isfinite(np.atleast_1d(dist))]
    if rows.size == 0:
        return None
    px = np.hypot((index.x[rows] - x) / x_per_px, (index.y[rows] - y) / y_per_px)
    best = int(np.argmin(px))
    return int(rows[best]) if px[best] <= radius_px else None


def partner_row(pair_ids: np.ndarray, modality_codes: np.ndarray, row: int) -> int | None:
    """The row of the other modality of `row`'s pair in a projection frame (images first, then
    the captions in the same pair order: engine.projection's layout), or None (one point per pair)."""
    ids = np.asarray(pair_ids)
    n = ids.size
    if n % 2 or n == 0:
        return None
    half = n // 2
    other = row + half if row < half else row - half
    if ids[other] == ids[row] and modality_codes[other] != modality_codes[row]:
        return int(other)
    hits = np.flatnonzero((ids == ids[row]) & (np.asarray(modality_codes) != modality_codes[row]))
    return int(hits[0]) if hits.size else None
