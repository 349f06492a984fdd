"""Heatmap tiles at screen resolution, never materialising the 2M×2M matrix.

A tile is the matrix (similarity S = [X'; Y'][X'; Y']ᵀ, or the in-modal difference
D = X'X'ᵀ − Y'Y'ᵀ, displayed vectors in display order, see :mod:`explorer.engine.space`) over a
window of rows × columns, reduced to at most `height` × `width` pixels:

- **mean** per pixel is exact and cheap: the mean of x_i·y_j over rows I and columns J is
  x̄_I·ȳ_J, so a P×Q tile costs one weighted pass over the window's R + C vectors and a P×D by
  D×Q product: O((R + C)·D + P·Q·D), whatever the number of cells. The difference likewise:
  x̄_I·x̄_J − ȳ_I·ȳ_J.
- **max** per pixel is not separable: it is computed exactly by blocked products of the window's
  vectors when the window holds at most `max_cells` cells (:data:`MAX_CELLS`), otherwise the tile
  falls back to the mean and says so in `note` (the pair diagonal, :func:`pair_diagonal`, keeps
  matched pairs visible zoomed out at any size).

Pixel k of an axis window [a, b) covers the cells [edges[k], edges[k+1]) with
edges = a + round(k·(b − a)/P): equal bins up to one cell. Pure numpy (products through
:mod:`explorer.engine.backend`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend import BLOCK_CELLS, matmul_t, rows_for
from .space import Shown

KINDS = ("similarity", "difference")
HOWS = ("mean", "max")
#: a max tile is computed exactly up to this many cells of the window (about 1 s of BLAS on 2 cores)
MAX_CELLS = 128 * 2**20


def axis_size(shown: Shown, kind: str) -> int:
    return 2 * shown.m if kind == "similarity" else shown.m


def cell_window(lo: float | None, hi: float | None, n: int) -> tuple[int, int]:
    """The cells [a, b) visible in the data range (lo, hi) of an axis of n cells (cell j spans
    j − 0.5 … j + 0.5); the whole axis when the range is unknown."""
    if lo is None or hi is None or not np.isfinite(lo) or not np.isfinite(hi):
        return 0, n
    lo, hi = min(lo, hi), max(lo, hi)
    a = int(np.clip(np.floor(lo + 0.5), 0, n))
    b = int(np.clip(np.ceil(hi + 0.5), 0, n))
    if b <= a:  # zoomed into less than a cell: the nearest cell
        a = int(np.clip(np.floor((lo + hi) / 2 + 0.5), 0, n - 1))
        b = a + 1
    return a, b


def bin_edges(a: int, b: int, pixels: int) -> np.ndarray:
    """P + 1 integer edges splitting [a, b) into P = min(pixels, b − a) near-equal bins."""
    n = max(b - a, 0)
    p = int(max(1, min(int(pixels), n))) if n else 0
    if p == 0:
        return np.array([a], dtype=np.int64)
    return (a + np.round(np.arange(p + 1) * (n / p))).astype(np.int64)


@dataclass(frozen=True)
class Tile:
    """A window of a matrix at screen resolution: values[row bin, column bin]."""

    kind: str
    how: str  # what the pixels show: 'mean' or 'max' (cells themselves when one cell per pixel)
    values: np.ndarray  # (P, Q) float32
    x_edges: np.ndarray  # (Q + 1,) cell edges of the columns
    y_edges: np.ndarray  # (P + 1,) of the rows
    n: int  # cells along each axis of the whole matrix
    note: str = ""
    cells_per_pixel: float = field(default=1.0)

    @property
    def window(self) -> tuple[int, int, int, int]:
        """(column start, column stop, row start, row stop) in cells."""
        return int(self.x_edges[0]), int(self.x_edges[-1]), int(self.y_edges[0]), int(self.y_edges[-1])

    @property
    def exact_cells(self) -> bool:
        """One cell per pixel: the values are the cells themselves."""
        return self.cells_per_pixel <= 1.0


def tile(shown: Shown, kind: str = "similarity", how: str = "mean", *, x_range=None, y_range=None,
         width: int = 400, height: int = 400, max_cells: int = MAX_CELLS) -> Tile:
    """The tile of the window x_range × y_range (data coordinates, None = whole axis) at most
    width × height pixels (see module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if how not in HOWS:
        raise ValueError(f"how must be one of {HOWS}, got {how!r}")
    n = axis_size(shown, kind)
    xa, xb = cell_window(*(x_range or (None, None)), n)
    ya, yb = cell_window(*(y_range or (None, None)), n)
    xe, ye = bin_edges(xa, xb, width), bin_edges(ya, yb, height)
    cpp = max((xb - xa) / max(xe.size - 1, 1), (yb - ya) / max(ye.size - 1, 1))
    note = ""
    if how == "max" and cpp > 1.0:
        if kind == "difference":
            how, note = "mean", "the signed difference is shown as the mean per pixel"
        elif (xb - xa) * (yb - ya) <= max_cells:
            return Tile(kind, "max", max_grid(shown, xa, xb, xe, ya, yb, ye), xe, ye, n, "", cpp)
        else:
            how = "mean"
            note = (f"mean per pixel: the window holds {(xb - xa) * (yb - ya):,} cells, the exact max is computed "
                    f"up to {max_cells:,}; zoom in for the max")
    same = (xa, xb) == (ya, yb) and np.array_equal(xe, ye)  # the whole matrix: rows and columns share their bins
    if kind == "similarity":
        rows = shown.axis_means(ya, yb, ye)
        cols = rows if same else shown.axis_means(xa, xb, xe)
        values = matmul_t(rows, cols)
    else:
        rx, ry = shown.axis_means(ya, yb, ye, "image"), shown.axis_means(ya, yb, ye, "text")
        cx, cy = (rx, ry) if same else (shown.axis_means(xa, xb, xe, "image"), shown.axis_means(xa, xb, xe, "text"))
        values = (rx @ cx.T - ry @ cy.T).astype(np.float32)
    return Tile(kind, "mean" if cpp > 1.0 else how, values.astype(np.float32, copy=False), xe, ye, n, note, cpp)


def max_grid(shown: Shown, xa: int, xb: int, xe: np.ndarray, ya: int, yb: int, ye: np.ndarray) -> np.ndarray:
    """The exact max per pixel of the similarity window by blocked products (rows streamed,
    columns held: the window's displayed vectors, float32)."""
    cols = shown.axis_vectors(np.arange(xa, xb))
    col_starts = (xe[:-1] - xa).astype(np.int64)
    out = np.full((ye.size - 1, xe.size - 1), -np.inf, dtype=np.float32)
    row_bins = np.searchsorted(ye, np.arange(ya, yb), side="right") - 1
    step = rows_for(BLOCK_CELLS, xb - xa)
    for s in range(ya, yb, step):
        e = min(s + step, yb)
        sims = matmul_t(shown.axis_vectors(np.arange(s, e)), cols)
        red = np.maximum.reduceat(sims, col_starts, axis=1)
        b = row_bins[s - ya : e - ya]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        out[b[starts]] = np.maximum(out[b[starts]], np.maximum.reduceat(red, starts, axis=0))
    return out


def pair_diagonal(shown: Shown, t: Tile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matched pairs inside a similarity tile, binned like its pixels: (column bin, row bin,
    mean pair similarity) of every pixel on the two cross-modal diagonals (image q ↔ caption
    M + q). Zoomed out, a pixel's mean or max hides the diagonal among unmatched cells; these
    pixels, drawn on top, keep it visible at any size."""
    if t.kind != "similarity":
        raise ValueError("the pair diagonal belongs to the similarity matrix")
    m = shown.m
    sims = shown.pair_similarities()
    xa, xb, ya, yb = t.window
    cols, rows, vals = [], [], []
    q = np.arange(m)
    for r, c in ((q, q + m), (q + m, q)):  # image rows × caption columns, caption rows × image columns
        inside = (r >= ya) & (r < yb) & (c >= xa) & (c < xb)
        if not inside.any():
            continue
        rb = np.searchsorted(t.y_edges, r[inside], side="right") - 1
        cb = np.searchsorted(t.x_edges, c[inside], side="right") - 1
        width = t.x_edges.size - 1
        key = rb * width + cb  # < P·Q pixels: counted by bincount, no sort of the M keys
        pixels = width * (t.y_edges.size - 1)
        count = np.bincount(key, minlength=pixels)
        total = np.bincount(key, weights=sims[q[inside]], minlength=pixels)
        uniq = np.flatnonzero(count)
        rows.append(uniq // width)
        cols.append(uniq % width)
        vals.append(total[uniq] / count[uniq])
    if not vals:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty
    return np.concatenate(cols), np.concatenate(rows), np.concatenate(vals)
