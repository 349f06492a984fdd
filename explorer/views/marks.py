"""How a heatmap marks the selected pairs: the rest is dimmed, the selected cells keep their colours.

Every cell in a selected pair's rows or columns (its image and its caption, in display order)
is left as it is, so the colour bar still reads them; every other cell gets a grey veil
(:data:`DIM_ALPHA`). The veil is a few rectangles: the gaps between the runs of selected display
positions, crossed (``(runs + 1)²`` rectangles). With more than :data:`MAX_DIM_RUNS` runs
(many scattered pairs) it would take too many, and the runs' bands are outlined instead (at
most :data:`MAX_OUTLINED_RUNS`; the lines sit on the bands' borders, never over their inside).
"""

from __future__ import annotations

import numpy as np

#: grey veil over the cells of unselected rows × unselected columns
DIM_COLOR = "#808080"
DIM_ALPHA = 0.6
#: most runs of consecutive selected positions dimmed around (the veil is (runs + 1)² rectangles)
MAX_DIM_RUNS = 40
#: most runs outlined when there are too many to dim around
MAX_OUTLINED_RUNS = 200


def runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) of each run of consecutive integers among `positions` (any order, repeats allowed)."""
    p = np.unique(np.asarray(positions, dtype=np.int64))
    if p.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(p) > 1)
    starts = np.r_[p[0], p[breaks + 1]]
    stops = np.r_[p[breaks] + 1, p[-1] + 1]
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def gaps(bands: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The intervals of [0, n) outside the sorted, disjoint `bands`."""
    out, at = [], 0
    for a, b in bands:
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < n:
        out.append((at, n))
    return out


def selection_marks(positions: np.ndarray, m: int, kind: str = "similarity") -> list[tuple]:
    """(x0, y0, x1, y1, 'dimmed' | 'selected') rectangles marking the selected display
    `positions` (of M shown pairs) on the similarity (2M×2M) or difference (M×M) matrix."""
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size == 0:
        return []
    n = 2 * m if kind == "similarity" else m
    bands = runs(np.concatenate([pos, pos + m]) if kind == "similarity" else pos)
    if len(bands) <= MAX_DIM_RUNS:
        free = gaps(bands, n)
        return [(c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5, "dimmed") for r0, r1 in free for c0, c1 in free]
    rows = []
    for a, b in bands[:MAX_OUTLINED_RUNS]:
        rows.append((-0.5, a - 0.5, n - 0.5, b - 0.5, "selected"))  # the rows of the run
        rows.append((a - 0.5, -0.5, b - 0.5, n - 0.5, "selected"))  # its columns
    return rows
