"""Distributions of similarities: the histograms of in-modal and cross-modal cosine similarities.

Groups (each pair of distinct items counted once):
- ``image-image``: cos(x_i, x_j), i < j;   ``text-text``: cos(y_i, y_j), i < j;
- ``matched``: cos(x_i, y_i) (the true pairs);   ``unmatched``: cos(x_i, y_j), i ≠ j.
With a modality gap the cross-modal groups sit well below the in-modal ones.
All groups share one set of bin edges spanning their joint range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUPS = ("image-image", "text-text", "matched", "unmatched")


@dataclass(frozen=True)
class SimilarityDistributions:
    edges: np.ndarray  # (bins + 1,)
    counts: dict[str, np.ndarray]  # group -> (bins,) counts
    means: dict[str, float]
    sizes: dict[str, int]


def _group_blocks(x: np.ndarray, y: np.ndarray, chunk: int, matched: np.ndarray | None = None):
    """Yield (group, 1-D values) in row chunks so no N×N matrix is held at once."""
    n = x.shape[0]
    yield "matched", np.einsum("ij,ij->i", x, y) if matched is None else np.asarray(matched, dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        rows = np.arange(start, stop)
        upper = np.arange(n)[None, :] > rows[:, None]
        off = np.arange(n)[None, :] != rows[:, None]
        yield "image-image", (x[start:stop] @ x.T)[upper]
        yield "text-text", (y[start:stop] @ y.T)[upper]
        yield "unmatched", (x[start:stop] @ y.T)[off]


def _histograms(blocks, bins: int) -> SimilarityDistributions:
    """Two passes over blocks() (group, values): the joint range and sums, then the counts."""
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    lo, hi = np.inf, -np.inf
    sums = dict.fromkeys(GROUPS, 0.0)
    sizes = dict.fromkeys(GROUPS, 0)
    for g, v in blocks():
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
            sums[g] += float(v.sum(dtype=np.float64))
            sizes[g] += int(v.size)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = {g: np.zeros(bins, dtype=np.int64) for g in GROUPS}
    for g, v in blocks():
        counts[g] += np.histogram(v, bins=edges)[0]
    means = {g: (sums[g] / sizes[g] if sizes[g] else float("nan")) for g in GROUPS}
    return SimilarityDistributions(edges, counts, means, sizes)


def similarity_distributions(image, text, bins: int = 60, chunk: int = 1024, matched=None) -> SimilarityDistributions:
    """Histogram counts of the four groups over shared bin edges (see module docstring).

    `matched`: the matched-pair similarities to use instead of those of `image` and `text`
    (e.g. of all pairs, when `image` and `text` are a sample of them)."""
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(text, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"image and text must have the same 2-D shape, got {x.shape} and {y.shape}")
    return _histograms(lambda: _group_blocks(x, y, chunk, matched), bins)
