"""Pre-aggregated levels of a large matrix, so zoomed-out renders never touch all its cells.

Level f holds f×f blocks of the matrix reduced by max or mean (the heatmap's aggregation). A
view showing R cells on P pixels reads the coarsest level with at least two blocks per pixel
(f ≤ R / 2P); rasterize then aggregates that level to the pixel grid exactly as it would the
full matrix (a pixel's max of block maxima is the max of its cells; its mean of equal-block
means is their mean, up to the partial blocks on pixel edges). Zoomed in (R ≤ 4P) the full
matrix is used, so cell values are exact. Pure numpy.
"""

from __future__ import annotations

import numpy as np

HOW = ("max", "mean")


def halve(a: np.ndarray, how: str) -> np.ndarray:
    """2×2 blocks reduced by `how`; an odd last row/column is its own (1-wide) block."""
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, got {how!r}")
    a = np.asarray(a)
    out = []
    for axis in (0, 1):
        even = a[0::2] if axis == 0 else a[:, 0::2]
        odd = a[1::2] if axis == 0 else a[:, 1::2]
        m = odd.shape[axis]
        head = even[:m] if axis == 0 else even[:, :m]
        red = np.fmax(head, odd) if how == "max" else (head + odd) * 0.5
        if even.shape[axis] > m:  # odd length: keep the last row/column as it is
            tail = even[m:] if axis == 0 else even[:, m:]
            red = np.concatenate([red, tail], axis=axis)
        a = red.astype(a.dtype, copy=False)
        out.append(a)
    return a


def build_levels(matrix: np.ndarray, how: str, min_size: int = 512) -> list[tuple[int, np.ndarray]]:
    """[(1, matrix), (2, …), (4, …), …] down to the first level no larger than `min_size`."""
    levels = [(1, np.asarray(matrix))]
    while max(levels[-1][1].shape) > min_size:
        f, a = levels[-1]
        levels.append((2 * f, halve(a, how)))
    return levels


def choose_level(levels: list[tuple[int, np.ndarray]], cells: float, pixels: float) -> tuple[int, np.ndarray]:
    """The coarsest level with at least two blocks per pixel for `cells` shown on `pixels`."""
    best = levels[0]
    if pixels <= 0:
        return best
    for f, a in levels:
        if f * 2 * pixels <= cells:
            best = (f, a)
    return best


def level_coords(f: int, size: int) -> np.ndarray:
    """Centres, in full-matrix coordinates, of the `size` blocks of level f (cells at integers)."""
    return np.arange(size) * f + (f - 1) / 2.0
