"""`PairSpace`: one model's embeddings of the shown pairs, read in chunks, and the gap closing.

The base arrays are the source's image and text embeddings (N×D, memory-mapped where the source
allows, float16 or float32, rows L2-normalised up to their storage precision); `active` lists the
shown pairs (source pair ids, filter and sample applied). Nothing here copies the arrays: every
pass reads `CHUNK_ROWS` rows at a time.

Closing the gap by a fraction α (FORMATS.md) never materialises new vectors. With the gap vector
Δ = mean x − mean y over the shown pairs and h = αΔ/2, the displayed vectors are

    x'_i = w_i (x_i − h),   y'_i = v_i (y_i + h),

with w_i = 1/‖x_i − h‖ and v_i = 1/‖y_i + h‖ when re-normalising (else 1). Since
‖x_i − h‖² = ‖x_i‖² − α p_i + α²‖Δ‖²/4 with p_i = x_i·Δ (and likewise q_i = y_i·Δ), the weights of
any α come from per-pair numbers computed once (:class:`Stats`), and any mean of displayed
vectors over a set of rows is (Σ w_i x_i − h Σ w_i)/|set|: one weighted pass. At α = 0 with
re-normalisation the weights are 1/‖x_i‖, which re-normalises float16 rows exactly.

`Shown` adds the display order (display position → active position) and is what tiles,
orderings and projections are computed for. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from .backend import CHUNK_ROWS, spread, spread_each
from .memo import MEMO

MODALITIES = ("image", "text")


def work_dtype(array: np.ndarray) -> np.dtype:
    """float64 for float64 embeddings (Gram reconstructions exact to 1e-10), else float32."""
    return np.dtype(np.float64) if array.dtype == np.float64 else np.dtype(np.float32)


def gather(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows of `array` as a block in its work dtype (a slice when the rows are consecutive)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.zeros((0, array.shape[1]), dtype=work_dtype(array))
    first, last = int(rows[0]), int(rows[-1])
    if last - first + 1 == rows.size and (rows.size == 1 or bool(np.all(np.diff(rows) == 1))):
        block = array[first : last + 1]
    else:
        block = array[rows]
    return np.asarray(block, dtype=work_dtype(array))


@dataclass(frozen=True)
class Stats:
    """Per-pair numbers of the shown pairs (source order), from two passes over the embeddings."""

    m: int
    dim: int
    sum_x: np.ndarray  # (D,) float64
    sum_y: np.ndarray
    sq_x: np.ndarray  # (M,) ‖x_i‖²
    sq_y: np.ndarray
    dot_xy: np.ndarray  # (M,) x_i·y_i
    p: np.ndarray  # (M,) x_i·Δ
    q: np.ndarray  # (M,) y_i·Δ

    @property
    def delta(self) -> np.ndarray:
        return (self.sum_x - self.sum_y) / self.m

    @cached_property
    def gap(self) -> float:
        return float(np.linalg.norm(self.delta))


@dataclass(frozen=True)
class Closing:
    """The gap setting applied: h = αΔ/2 and the per-pair normalising weights."""

    alpha: float
    renormalize: bool
    h: np.ndarray  # (D,) float64
    w: np.ndarray  # (M,) image weights
    v: np.ndarray  # (M,) text weights

    @property
    def hh(self) -> float:
        return float(self.h @ self.h)


class PairSpace:
    """The shown pairs of one model (see module docstring).

    `key` identifies the base arrays (e.g. the source and model) and `active_key` the selection
    (filter, sample); together they key every derived value in the shared memo.
    """

    def __init__(self, image: np.ndarray, text: np.ndarray, active: np.ndarray | None = None, *,
                 key: Hashable = None, active_key: Hashable = None):
        if image.shape != text.shape or image.ndim != 2:
            raise ValueError(f"image and text embeddings must have the same 2-D shape, got {image.shape} and {text.shape}")
        self.image, self.text = image, text
        n = int(image.shape[0])
        self.active = np.arange(n, dtype=np.int64) if active is None else np.asarray(active, dtype=np.int64)
        self.all = active is None or (self.active.size == n and bool(np.all(self.active == np.arange(n))))
        self.key = (key if key is not None else ("arrays", id(image), id(text)), active_key if active is not None else "all")

    @property
    def m(self) -> int:
        return int(self.active.size)

    @property
    def dim(self) -> int:
        return int(self.image.shape[1])

    def array(self, modality: str) -> np.ndarray:
        return self.image if modality == "image" else self.text

    def chunks(self, positions: np.ndarray | None = None, chunk: int = CHUNK_ROWS):
        """(start, stop, source rows) over active positions (all, in order, by default)."""
        rows = self.active if positions is None else self.active[np.asarray(positions, dtype=np.int64)]
        for s in range(0, rows.size, chunk):
            yield s, min(s + chunk, rows.size), rows[s : s + chunk]

    # -- statistics -------------------------------------------------------------------------
    def stats(self) -> Stats:
        return MEMO.get(("stats", self.key), self._stats)

    def _stats(self) -> Stats:
        m, d = self.m, self.dim
        if m == 0:
            raise ValueError("no pairs are shown")
        sum_x, sum_y = np.zeros(d), np.zeros(d)
        sq_x, sq_y, dot = np.empty(m), np.empty(m), np.empty(m)
        chunks = list(self.chunks())

        # products in the embeddings' precision (float32 for float32 / float16 sources), sums in
        # float64 (added in chunk order: the same numbers on any number of cores)
        def first(chunk) -> tuple[np.ndarray, np.ndarray]:
            s, e, rows = chunk
            x, y = gather(self.image, rows), gather(self.text, rows)
            sq_x[s:e] = np.einsum("ij,ij->i", x, x)
            sq_y[s:e] = np.einsum("ij,ij->i", y, y)
            dot[s:e] = np.einsum("ij,ij->i", x, y)
            return x.sum(axis=0, dtype=np.float64), y.sum(axis=0, dtype=np.float64)

        for part_x, part_y in spread(first, chunks):
            sum_x += part_x
            sum_y += part_y
        delta = (sum_x - sum_y) / m
        p, q = np.empty(m), np.empty(m)

        def second(chunk) -> None:
            s, e, rows = chunk
            x, y = gather(self.image, rows), gather(self.text, rows)
            p[s:e] = x @ delta.astype(x.dtype)
            q[s:e] = y @ delta.astype(y.dtype)

        spread(second, chunks)
        return Stats(m, d, sum_x, sum_y, sq_x, sq_y, dot, p, q)

    def closing(self, alpha: float = 0.0, renormalize: bool = True) -> Closing:
        """The weights of the gap setting (O(M) from the stats)."""
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        return MEMO.get(("closing", self.key, float(alpha), bool(renormalize)), lambda: self._closing(float(alpha), bool(renormalize)))

    def _closing(self, alpha: float, renormalize: bool) -> Closing:
        st = self.stats()
        h = 0.5 * alpha * st.delta
        hh = float(h @ h)
        if renormalize:
            w = 1.0 / np.sqrt(np.maximum(st.sq_x - alpha * st.p + hh, 1e-300))
            v = 1.0 / np.sqrt(np.maximum(st.sq_y + alpha * st.q + hh, 1e-300))
        else:
            w = v = np.ones(st.m)
        return Closing(alpha, renormalize, h, w, v)

    # -- displayed vectors ------------------------------------------------------------------
    def pair_similarities(self, alpha: float = 0.0, renormalize: bool = True) -> np.ndarray:
        """x'_i·y'_i of every shown pair (active order), O(M)."""
        st, c = self.stats(), self.closing(alpha, renormalize)
        return c.w * c.v * (st.dot_xy + 0.5 * alpha * st.p - 0.5 * alpha * st.q - c.hh)

    def vectors(self, modality: str, positions: np.ndarray, alpha: float = 0.0, renormalize: bool = True) -> np.ndarray:
        """The displayed (gap-closed) vectors of active `positions` of one modality (work dtype)."""
        positions = np.asarray(positions, dtype=np.int64)
        c = self.closing(alpha, renormalize)
        z = gather(self.array(modality), self.active[positions])
        sign = -1.0 if modality == "image" else 1.0
        w = (c.w if modality == "image" else c.v)[positions].astype(z.dtype)
        if alpha == 0.0:
            return z * w[:, None]
        return (z + (sign * c.h).astype(z.dtype)[None, :]) * w[:, None]

    def projected(self, modality: str, positions: np.ndarray, basis: np.ndarray, alpha: float = 0.0,
                  renormalize: bool = True) -> np.ndarray:
        """The displayed vectors of active `positions` times `basis` (D×k) without forming them:
        w_i (z_i·B ∓ h·B), one product with the stored rows (in `basis`'s dtype) and O(k) per row."""
        positions = np.asarray(positions, dtype=np.int64)
        c = self.closing(alpha, renormalize)
        zb = gather(self.array(modality), self.active[positions]).astype(basis.dtype, copy=False) @ basis
        w = (c.w if modality == "image" else c.v)[positions].astype(zb.dtype)
        if alpha != 0.0:
            sign = -1.0 if modality == "image" else 1.0
            zb += (sign * c.h @ basis).astype(zb.dtype)[None, :]
        return zb * w[:, None]

    def similarities_to(self, modality: str, position: int, alpha: float = 0.0, renormalize: bool = True) -> np.ndarray:
        """cos(z_i, z_position) of one modality's displayed vectors with one of them (active order),
        e.g. each step's image with the first one along an augmentation series."""
        ref = self.vectors(modality, np.array([int(position)]), alpha, renormalize)[0].astype(np.float64)
        out = np.empty(self.m)
        for s, e, _rows in self.chunks():
            out[s:e] = self.vectors(modality, np.arange(s, e), alpha, renormalize).astype(np.float64) @ ref
        return out

    def centroids(self, alpha: float = 0.0, renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Means of the displayed image and text vectors (one weighted pass)."""
        return MEMO.get(("centroids", self.key, float(alpha), bool(renormalize)),
                        lambda: self._centroids(float(alpha), bool(renormalize)))

    def _centroids(self, alpha: float, renormalize: bool):
        st, c = self.stats(), self.closing(alpha, renormalize)
        if alpha == 0.0 and not renormalize:
            return st.sum_x / st.m, st.sum_y / st.m
        sx, sy = np.zeros(self.dim), np.zeros(self.dim)
        for s, e, rows in self.chunks():
            x, y = gather(self.image, rows), gather(self.text, rows)
            sx += c.w[s:e].astype(x.dtype) @ x
            sy += c.v[s:e].astype(y.dtype) @ y
        mx = (sx - c.h * c.w.sum()) / st.m
        my = (sy + c.h * c.v.sum()) / st.m
        return mx, my

    def binned_means(self, modality: str, positions: np.ndarray, bins: np.ndarray, n_bins: int,
                     alpha: float = 0.0, renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-bin means of the displayed vectors of active `positions` (bins: the bin of each
        position, non-decreasing). Returns (sums (n_bins, D) float64, counts (n_bins,)); a bin
        without rows has sum 0 and count 0."""
        positions = np.asarray(positions, dtype=np.int64)
        bins = np.asarray(bins, dtype=np.int64)
        c = self.closing(alpha, renormalize)
        w = (c.w if modality == "image" else c.v)[positions]
        sign = -1.0 if modality == "image" else 1.0
        array = self.array(modality)
        sums = np.zeros((n_bins, self.dim))
        rows = self.active[positions]

        def part(s: int) -> tuple[int, int, np.ndarray]:
            e = min(s + CHUNK_ROWS, rows.size)
            chunk = rows[s:e]
            # rows read in storage order (a clustered display order scatters them): the sparse
            # product below takes its columns in any order
            read = np.argsort(chunk, kind="stable")
            column = np.empty_like(read)
            column[read] = np.arange(read.size)
            block = gather(array, chunk[read])
            # Σ_{i in bin} w_i z_i as a sparse (bins × rows) product: one pass, ~20× faster than reduceat
            b = bins[s:e]
            lo, hi = int(b[0]), int(b[-1]) + 1
            weights = sparse.csr_matrix((w[s:e].astype(block.dtype), (b - lo, column)), shape=(hi - lo, e - s))
            return lo, hi, weights @ block

        def add(result: tuple[int, int, np.ndarray]) -> None:
            lo, hi, partial = result
            sums[lo:hi] += partial

        spread_each(part, range(0, rows.size, CHUNK_ROWS), add)  # chunks on every core, added in order
        wsum = np.bincount(bins, weights=w, minlength=n_bins)
        sums += sign * wsum[:, None] * c.h[None, :]
        counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
        return sums, counts


@dataclass(frozen=True, eq=False)
class Shown:
    """What a matrix view shows: a PairSpace, the gap setting and the display order.

    Display axis of the 2M×2M similarity matrix: position q < M is the image of active position
    ``order[q]``, position M + q its caption. `order` None = active order."""

    space: PairSpace
    alpha: float = 0.0
    renormalize: bool = True
    order: np.ndarray | None = None
    order_key: Hashable = None

    @property
    def m(self) -> int:
        return self.space.m

    @property
    def key(self) -> tuple:
        return (self.space.key, float(self.alpha), bool(self.renormalize), self.order_key if self.order is not None else None)

    def active_positions(self, display: np.ndarray) -> np.ndarray:
        display = np.asarray(display, dtype=np.int64)
        return display if self.order is None else np.asarray(self.order)[display]

    def pair_ids(self, display: np.ndarray | None = None) -> np.ndarray:
        """Source pair ids of display positions (all by default)."""
        if display is None:
            display = np.arange(self.m)
        return self.space.active[self.active_positions(display)]

    def pair_similarities(self) -> np.ndarray:
        """Pair similarities in display order."""
        sims = self.space.pair_similarities(self.alpha, self.renormalize)
        return sims if self.order is None else sims[np.asarray(self.order)]

    def vectors(self, modality: str, display: np.ndarray) -> np.ndarray:
        return self.space.vectors(modality, self.active_positions(display), self.alpha, self.renormalize)

    def axis_vectors(self, cells: np.ndarray) -> np.ndarray:
        """Displayed vectors of positions on the 2M axis (images < M, captions ≥ M)."""
        cells = np.asarray(cells, dtype=np.int64)
        out = np.empty((cells.size, self.space.dim), dtype=work_dtype(self.space.image))
        img = cells < self.m
        if img.any():
            out[img] = self.vectors("image", cells[img])
        if (~img).any():
            out[~img] = self.vectors("text", cells[~img] - self.m)
        return out

    def axis_means(self, start: int, stop: int, edges: np.ndarray, modality: str | None = None) -> np.ndarray:
        """Means of the displayed vectors over the bins [edges[k], edges[k+1]) of an axis.

        modality None: the 2M axis of the similarity matrix (a bin may hold images and captions);
        'image' / 'text': the M axis of the in-modal difference (that modality's vectors)."""
        edges = np.asarray(edges, dtype=np.int64)
        n_bins = edges.size - 1
        sums = np.zeros((n_bins, self.space.dim))
        counts = np.zeros(n_bins)
        m = self.m
        parts = [(modality, start, stop, 0)] if modality else [("image", start, min(stop, m), 0), ("text", max(start, m), stop, m)]
        for mod, a, b, offset in parts:
            if b <= a:
                continue
            display = np.arange(a, b, dtype=np.int64)
            bins = np.searchsorted(edges, display, side="right") - 1
            s, c = self.space.binned_means(mod, self.active_positions(display - offset), bins, n_bins, self.alpha, self.renormalize)
            sums += s
            counts += c
        return sums / np.maximum(counts, 1.0)[:, None]
