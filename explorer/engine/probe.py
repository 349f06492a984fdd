"""The text probe: how similar every shown image and caption is to one query.

The query q is a unit text embedding (a typed query embedded by the model's text encoder, or a
caption of the source). It is placed where the views place captions (:mod:`explorer.engine.space`):
with the gap vector Δ of the shown pairs and h = αΔ/2,

    q' = u (q + h),   u = 1/‖q + h‖ when re-normalising (else 1),

so a caption of the source used as the probe is exactly its own displayed caption. The similarity
of each shown item is the inner product the heatmap shows for two items (a cosine whenever the
rows are re-normalised, the default):

    x'_i·q' = w_i (x_i·q' − h·q'),   y'_i·q' = v_i (y_i·q' + h·q'),

one chunked pass over the stored rows (:meth:`PairSpace.projected` with q' as a one-column
basis), O(M·D) in time and O(M) in memory: the displayed vectors are never formed. At a million
pairs of 512 dimensions that is one read of the 4 GB of embeddings.

The heatmap's strip bins these values exactly like the heatmap's rows (:func:`binned_means`: the
mean per pixel row over the cells [edges[k], edges[k+1]) of the 2M display axis). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .memo import MEMO
from .space import PairSpace, work_dtype

#: above this many shown pairs the pass is shown with a progress bar
LABEL_ABOVE = 100_000


@dataclass(frozen=True, eq=False)
class ProbeSims:
    """Similarities of the shown items to the placed query (active order, float64)."""

    image: np.ndarray  # (M,) x'_i·q'
    text: np.ndarray  # (M,) y'_i·q'
    query: np.ndarray  # (D,) q' as placed among the displayed captions

    @property
    def m(self) -> int:
        return int(self.image.size)

    def of(self, modality: str) -> np.ndarray:
        if modality not in ("image", "text"):
            raise ValueError(f"modality must be 'image' or 'text', got {modality!r}")
        return self.image if modality == "image" else self.text

    def top(self, modality: str, k: int) -> np.ndarray:
        """Active positions of the `k` items of `modality` most similar to the query, best first."""
        return top_positions(self.of(modality), k)

    def axis(self, order: np.ndarray | None = None) -> np.ndarray:
        """The values along the 2M display axis of the similarity matrix: images in display
        order (`order`: display position -> active position; None = active order), then captions."""
        if order is None:
            return np.concatenate([self.image, self.text])
        order = np.asarray(order, dtype=np.int64)
        return np.concatenate([self.image[order], self.text[order]])


def unit_query(query: np.ndarray, dim: int) -> np.ndarray:
    """The query as a float64 unit vector of `dim` entries; ValueError for a wrong shape, NaN or zero."""
    q = np.asarray(query, dtype=np.float64).reshape(-1)
    if q.size != dim:
        raise ValueError(f"the query has {q.size} dimensions, the embeddings {dim}")
    norm = float(np.linalg.norm(q))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the query embedding is zero, NaN or infinite")
    return q / norm


def place_query(space: PairSpace, query: np.ndarray, alpha: float = 0.0, renormalize: bool = True) -> np.ndarray:
    """q' = u (q + h): the query placed as the views place captions (see module docstring)."""
    q = unit_query(query, space.dim)
    c = space.closing(alpha, renormalize)
    placed = q + c.h
    return placed / np.linalg.norm(placed) if renormalize else placed


def probe_similarities(space: PairSpace, query: np.ndarray, alpha: float = 0.0, renormalize: bool = True,
                       progress: Callable[..., None] | None = None) -> ProbeSims:
    """z'_i·q' of every shown image and caption (see module docstring), one chunked pass."""
    placed = place_query(space, query, alpha, renormalize)
    basis = placed.astype(work_dtype(space.image))[:, None]
    m = space.m
    out = {"image": np.empty(m), "text": np.empty(m)}
    if progress is not None:
        progress(0, m)
    for s, e, _rows in space.chunks():
        pos = np.arange(s, e)
        for modality in ("image", "text"):
            out[modality][s:e] = space.projected(modality, pos, basis, alpha, renormalize)[:, 0]
        if progress is not None:
            progress(e, m)
    return ProbeSims(out["image"], out["text"], placed)


def probe(space: PairSpace, query: np.ndarray, query_key: object, alpha: float = 0.0, renormalize: bool = True) -> ProbeSims:
    """:func:`probe_similarities` through the shared memo (`query_key` names the query, e.g. the
    model and the text: every view of every session asking for it shares one pass)."""
    key = ("probe", space.key, query_key, float(alpha), bool(renormalize))

    def compute(progress=None) -> ProbeSims:
        return probe_similarities(space, query, float(alpha), bool(renormalize), progress)

    if space.m > LABEL_ABOVE:
        return MEMO.get(key, compute, label=f"Probe similarity of {2 * space.m:,} items…", unit="pairs", foreground=True)
    return MEMO.get(key, compute)


def top_positions(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first (ties: the lower index first)."""
    values = np.asarray(values)
    k = int(max(0, min(int(k), values.size)))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-values, k - 1)[:k] if k < values.size else np.arange(values.size)
    # among the k found, order by value then index (argpartition may pick any of equal values at the border)
    border = values[part].min()
    cand = np.flatnonzero(values >= border)
    order = np.lexsort((cand, -values[cand]))
    return cand[order][:k].astype(np.int64)


def binned_means(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of `values[edges[k]:edges[k+1]]` for each bin k (NaN for an empty bin): the strip
    beside the heatmap, binned like its pixel rows (`edges`: a tile's ``y_edges``)."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    if edges.size < 2:
        return np.zeros(0)
    if edges[0] < 0 or edges[-1] > values.size or np.any(np.diff(edges) < 0):
        raise ValueError(f"bin edges must be non-decreasing within [0, {values.size}], got {edges[0]}…{edges[-1]}")
    cs = np.concatenate([[0.0], np.cumsum(values)])
    counts = np.diff(edges)
    sums = cs[edges[1:]] - cs[edges[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
