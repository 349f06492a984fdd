"""The numbers of the shown pairs at any size: gap, loss, landscape, R@k, consistency, histograms.

Each is a function of a :class:`~explorer.engine.space.PairSpace` and explicit settings,
memoised in the shared memo; each equals its exact counterpart in :mod:`explorer.analysis` on
the materialised, gap-closed embeddings (tests), and each says when it is estimated:

- gap distances, O(M·D): ‖Δ‖ and the distance between the displayed centroids;
- **loss** and **loss landscape**, O(M·B·D) once, then O(M·B) per setting (the landscape's 40
  steps over at most `LANDSCAPE_BATCHES` seeded batches, stated by ``landscape_batches``): the logits of a batch
  under a shift ±a of the two modalities are w_i v_j (x_i·y_j + x_i·a − a·y_j − ‖a‖²) (see
  :mod:`explorer.engine.space` for the weights), so the per-batch products x_i·y_j are computed
  once (:func:`batch_products`) and every α and every landscape step reuses them; the landscape's
  signed distances take one pass for all its steps (a K×M weighted sum);
- **R@k**: exact (every query ranked against every candidate, blocked) up to
  `RECALL_EXACT_UP_TO` pairs, above it estimated from `RECALL_QUERIES` seeded queries per
  direction ranked against all M candidates (one pass over the candidates);
- **consistency** (mean|X'X'ᵀ − Y'Y'ᵀ|, mean|X'Y'ᵀ − Y'X'ᵀ|) and **histograms**: exact up to
  `CELLS_EXACT_UP_TO` pairs, above it over the cells of a seeded sample of `CELL_SAMPLE` pairs
  (the matched-pair histogram always over all pairs).

Pure numpy (products through :mod:`explorer.engine.backend`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..analysis.distributions import SimilarityDistributions, similarity_distributions
from ..analysis.landscape import LossLandscape, default_deltas
from . import priority
from .backend import BLOCK_CELLS, CHUNK_ROWS, cores, matmul_t, rows_for, spread
from .memo import MEMO
from .space import PairSpace, gather

VARIANTS = ("symmetric", "article")
#: R@k is exact up to this many pairs (M² products per direction), estimated above
RECALL_EXACT_UP_TO = 10_000
#: queries per direction of an estimated R@k
RECALL_QUERIES = 1_000
#: consistency and histograms are exact up to this many pairs, over a sample's cells above
CELLS_EXACT_UP_TO = 1_000
#: pairs whose cells the estimates use
CELL_SAMPLE = 1_000
#: the loss landscape (40 steps) uses at most this many seeded batches; its distances use all pairs
LANDSCAPE_BATCHES = 500

Progress = Callable[..., None]


def _nothing(*_: object, **__: object) -> None:
    return None


def sample_positions(m: int, size: int, seed: int) -> np.ndarray:
    """A seeded random subset of `size` of the active positions 0..m−1 (sorted); all if m ≤ size."""
    if m <= size:
        return np.arange(m, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(m, size=size, replace=False)).astype(np.int64)


# -- gap ----------------------------------------------------------------------------------------
def gap_distance(space: PairSpace, alpha: float = 0.0, renormalize: bool = True) -> float:
    """‖mean x' − mean y'‖ of the displayed vectors (α = 0 without re-normalising: ‖Δ‖)."""
    mx, my = space.centroids(alpha, renormalize)
    return float(np.linalg.norm(mx - my))


# -- loss and landscape -------------------------------------------------------------------------
def batch_products(space: PairSpace, batch_size: int) -> np.ndarray:
    """x_i·y_j within each batch of `batch_size` consecutive shown pairs: (batches, B, B)."""
    return MEMO.get(("batch_products", space.key, int(batch_size)), lambda: _batch_products(space, int(batch_size)))


def _batch_products(space: PairSpace, b: int) -> np.ndarray:
    """In the embeddings' precision (float64 for float64 sources, exact to the article's 1e-6;
    float32 otherwise, kept as float32), one thread per core over the batches (numpy releases the
    GIL in matmul)."""
    nb = space.m // b
    if nb == 0:
        raise ValueError(f"{space.m} pairs are fewer than one batch of {b}; choose a smaller batch size")
    out = np.empty((nb, b, b), dtype=np.float64 if space.image.dtype == np.float64 else np.float32)
    per = max(1, CHUNK_ROWS // b)

    def run(s: int) -> None:
        e = min(s + per, nb)
        rows = space.active[s * b : e * b]
        x = gather(space.image, rows).reshape(e - s, b, -1)
        y = gather(space.text, rows).reshape(e - s, b, -1)
        out[s:e] = np.matmul(x, y.transpose(0, 2, 1))

    # small blocks: multi-threaded BLAS spends longer waking its threads than computing them
    with threadpool_limits(limits=1, user_api="blas"):
        spread(run, range(0, nb, per))
    return out


def _shift_terms(space: PairSpace, shift: np.ndarray, batch_size: int, renormalize: bool, batches: np.ndarray | None = None):
    """Per-pair weights and shift terms of images moved by −a and captions by +a (a = shift), of
    every batch or of `batches` only."""
    st = space.stats()
    nb = space.m // batch_size
    rows = np.arange(nb * batch_size) if batches is None else (batches[:, None] * batch_size + np.arange(batch_size)).ravel()
    delta = st.delta
    # x·a and y·a from x·Δ and y·Δ: a is a multiple of Δ in both uses (closing and landscape)
    dd = float(delta @ delta)
    scale = float(shift @ delta) / dd if dd > 0 else 0.0
    xa, ya, aa = scale * st.p[rows], scale * st.q[rows], float(shift @ shift)
    if renormalize:
        w = 1.0 / np.sqrt(np.maximum(st.sq_x[rows] - 2 * xa + aa, 1e-300))
        v = 1.0 / np.sqrt(np.maximum(st.sq_y[rows] + 2 * ya + aa, 1e-300))
    else:
        w = v = np.ones(rows.size)
    return w, v, xa, ya, aa


def _lse(a: np.ndarray, axis: int) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


#: batches whose logits are formed at once (2,000 × 50 × 50: a few MB, stays in cache)
LOSS_CHUNK = 2000


def _loss_from(g: np.ndarray, w, v, xa, ya, aa, logit_scale: float, variant: str, batches: np.ndarray | None = None) -> float:
    """Mean batch cross-entropy from the batch products `g` and the shift terms (of the pairs of
    `batches` only, when a sample of batches is given); in g's precision, LOSS_CHUNK batches at a time."""
    if batches is not None:
        g = g[batches]
    nb, b, _ = g.shape
    dt = g.dtype
    w, v, xa, ya = (np.asarray(a, dtype=dt).reshape(nb, b) for a in (w, v, xa, ya))
    total = 0.0
    for s in range(0, nb, LOSS_CHUNK):
        e = min(s + LOSS_CHUNK, nb)
        logits = g[s:e] + xa[s:e, :, None]
        logits -= ya[s:e, None, :]
        logits -= dt.type(aa)
        logits *= w[s:e, :, None]
        logits *= v[s:e, None, :]
        logits *= dt.type(logit_scale)
        diag = np.diagonal(logits, axis1=1, axis2=2)
        i2t = _lse(logits, 2) - diag
        if variant == "article":
            total += float(i2t.sum(dtype=np.float64))
        else:
            total += float((0.5 * (i2t + (_lse(logits, 1) - diag))).sum(dtype=np.float64))
    return total / (nb * b)


def _check(variant: str, batch_size: int) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"loss variant must be one of {VARIANTS}, got {variant!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")


def loss(space: PairSpace, logit_scale: float, batch_size: int = 50, variant: str = "symmetric",
         alpha: float = 0.0, renormalize: bool = True) -> float:
    """The contrastive validation loss (explorer.analysis.loss) of the displayed vectors."""
    _check(variant, batch_size)
    key = ("loss", space.key, float(logit_scale), int(batch_size), variant, float(alpha), bool(renormalize))

    def compute() -> float:
        g = batch_products(space, batch_size)
        shift = 0.5 * alpha * space.stats().delta
        return _loss_from(g, *_shift_terms(space, shift, batch_size, renormalize), logit_scale, variant)

    return MEMO.get(key, compute)


def landscape(space: PairSpace, logit_scale: float, batch_size: int = 50, variant: str = "symmetric",
              deltas: np.ndarray | None = None) -> LossLandscape:
    """The loss along the gap (explorer.analysis.landscape) of the shown pairs' original vectors."""
    _check(variant, batch_size)
    deltas = default_deltas() if deltas is None else np.asarray(deltas, dtype=np.float64)
    key = ("landscape", space.key, float(logit_scale), int(batch_size), variant, tuple(np.round(deltas, 12)))
    return MEMO.get(key, lambda: _landscape(space, float(logit_scale), int(batch_size), variant, deltas))


def _landscape(space: PairSpace, scale: float, b: int, variant: str, deltas: np.ndarray) -> LossLandscape:
    st = space.stats()
    norm = st.gap
    if norm == 0:
        raise ValueError("the modalities have the same centroid; there is no gap direction")
    ghat = st.delta / norm
    g = batch_products(space, b)
    nb = g.shape[0]
    batches = None if nb <= LANDSCAPE_BATCHES else sample_positions(nb, LANDSCAPE_BATCHES, 0)
    losses = [_loss_from(g, *_shift_terms(space, 0.5 * d * ghat, b, True, batches), scale, variant, batches) for d in deltas]
    # signed centroid distances of all steps in one pass: Σ w_i(δ) x_i for every δ at once
    p_hat, q_hat = st.p / norm, st.q / norm
    wx = 1.0 / np.sqrt(np.maximum(st.sq_x[None, :] - deltas[:, None] * p_hat[None, :] + deltas[:, None] ** 2 / 4, 1e-300))
    vy = 1.0 / np.sqrt(np.maximum(st.sq_y[None, :] + deltas[:, None] * q_hat[None, :] + deltas[:, None] ** 2 / 4, 1e-300))
    sx, sy = np.zeros((deltas.size, space.dim)), np.zeros((deltas.size, space.dim))
    for s, e, rows in space.chunks():
        x, y = gather(space.image, rows), gather(space.text, rows)
        sx += wx[:, s:e].astype(x.dtype) @ x
        sy += vy[:, s:e].astype(y.dtype) @ y
    a = 0.5 * deltas[:, None] * ghat[None, :]
    gaps = (sx - a * wx.sum(axis=1)[:, None]) / st.m - (sy + a * vy.sum(axis=1)[:, None]) / st.m
    dist = np.linalg.norm(gaps, axis=1) * np.where(gaps @ st.delta >= 0, 1.0, -1.0)
    note = "" if batches is None else f"losses over {batches.size:,} seeded batches of {nb:,}"
    return LossLandscape(deltas, dist, np.asarray(losses), variant, b, scale, note)


# -- retrieval ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recall:
    """R@k both ways; `queries` per direction (all M when exact)."""

    values: dict[str, float]  # 'image_to_text@1', 'text_to_image@1', ...
    queries: int
    m: int

    @property
    def exact(self) -> bool:
        return self.queries >= self.m

    def describe(self) -> str:
        return "exact" if self.exact else f"estimated from {self.queries:,} seeded queries per direction against all {self.m:,}"


#: a float32 product within this of a query's true similarity is recomputed in float64 (float32
#: products of unit vectors in 512–1024 dims err by well under 1e-5)
NEAR_TIE = 1e-4


def _exact_dots(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """x[rows[k]] · y[cols[k]] in float64, chunked."""
    out = np.empty(rows.size)
    for s in range(0, rows.size, chunk):
        r, c = rows[s : s + chunk], cols[s : s + chunk]
        out[s : s + chunk] = np.einsum("ij,ij->i", x[r].astype(np.float64), y[c].astype(np.float64))
    return out


def exact_ranks(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ranks of every true partner, image→text and text→image: the number of candidates
    strictly more similar than it in float64 (ties count in the query's favour), as a float64
    product would give. One float32 product X Yᵀ serves both directions (rows rank the captions
    of an image, columns the images of a caption); the few cells within NEAR_TIE of a query's
    true similarity are recomputed in float64, so the float32 error never changes a rank."""
    m = x.shape[0]
    true = np.einsum("ij,ij->i", x.astype(np.float64), y.astype(np.float64))
    tol = NEAR_TIE * (1.0 + np.abs(true))
    x32, y32 = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    i2t, t2i = np.zeros(m, np.int64), np.zeros(m, np.int64)

    def block(s: int) -> tuple[int, np.ndarray, np.ndarray]:
        sims = matmul_t(x32[s : s + step], y32)  # rows: images s.., columns: every caption
        e = s + sims.shape[0]
        out = []
        for ref, lo_tol, axis in ((true[s:e, None], tol[s:e, None], 1), (true[None, :], tol[None, :], 0)):
            above = sims > ref + lo_tol
            counts = above.sum(axis=axis)
            near_r, near_c = np.nonzero((sims >= ref - lo_tol) & ~above)
            if near_r.size:
                exact = _exact_dots(x, y, near_r + s, near_c)
                query = near_r if axis == 1 else near_c
                query_true = true[query + s] if axis == 1 else true[query]
                counts = counts + np.bincount(query[exact > query_true], minlength=counts.size)
            out.append(counts)
        return s, out[0], out[1]

    # blocks of rows on one thread per core (the blocks' cells share BLOCK_CELLS)
    step = rows_for(BLOCK_CELLS // (2 * cores()), m)
    for s, rows, cols in spread(block, range(0, m, step)):
        i2t[s : s + rows.size] += rows
        t2i += cols
    return i2t, t2i


def recall(space: PairSpace, alpha: float = 0.0, renormalize: bool = True, ks=(1, 5, 10), *, seed: int = 0,
           exact_up_to: int = RECALL_EXACT_UP_TO, queries: int = RECALL_QUERIES, progress: Progress | None = None) -> Recall:
    """R@k of the displayed vectors (see module docstring). Rank = number of candidates strictly
    more similar than the true partner (ties count in the item's favour)."""
    ks = tuple(int(k) for k in ks)
    exact = space.m <= exact_up_to
    key = ("recall", space.key, float(alpha), bool(renormalize), ks, exact, int(queries), int(seed))
    label = None if exact or space.m <= 20_000 else f"R@k of {space.m:,} pairs ({queries:,} queries per direction)"
    def compute(*p):
        return _recall(space, float(alpha), bool(renormalize), ks, exact, int(queries), int(seed), p[0] if p else None)

    return MEMO.get(key, compute, label=label, unit="candidates") if label else MEMO.get(key, compute)


def _recall(space: PairSpace, alpha: float, renorm: bool, ks, exact: bool, n_queries: int, seed: int, progress) -> Recall:
    progress = progress or _nothing
    m = space.m
    if exact:
        x = space.vectors("image", np.arange(m), alpha, renorm)
        y = space.vectors("text", np.arange(m), alpha, renorm)
        ranks = list(exact_ranks(x, y))
        queries = m
    else:
        q = sample_positions(m, n_queries, seed)
        queries = int(q.size)
        qx, qy = space.vectors("image", q, alpha, renorm), space.vectors("text", q, alpha, renorm)
        true = np.einsum("ij,ij->i", qx.astype(np.float64), qy.astype(np.float64))
        tol = 1e-5 * (1.0 + np.abs(true))  # float32 products: near-ties count in the item's favour
        ranks = [np.zeros(queries, dtype=np.int64), np.zeros(queries, dtype=np.int64)]
        step = rows_for(BLOCK_CELLS // cores(), queries)

        def block(s: int) -> tuple[np.ndarray, np.ndarray]:
            pos = np.arange(s, min(s + step, m))
            cy, cx = space.vectors("text", pos, alpha, renorm), space.vectors("image", pos, alpha, renorm)
            return ((matmul_t(qx, cy) > (true + tol)[:, None]).sum(axis=1),
                    (matmul_t(qy, cx) > (true + tol)[:, None]).sum(axis=1))

        progress(0, m)
        starts = range(0, m, step)
        g = 0
        while g < len(starts):  # one block per core (one core left to the views while they compute), then a report
            workers = cores() - 1 if priority.quick_work_elsewhere() else cores()
            group = starts[g : g + max(1, workers)]
            g += len(group)
            for i2t, t2i in spread(block, group):
                ranks[0] += i2t
                ranks[1] += t2i
            progress(min(group[-1] + step, m), m)
    out: dict[str, float] = {}
    for k in ks:
        out[f"image_to_text@{k}"] = float(np.mean(ranks[0] < k))
        out[f"text_to_image@{k}"] = float(np.mean(ranks[1] < k))
    return Recall(out, queries, m)


# -- consistency and histograms ---------------------------------------------------------------
@dataclass(frozen=True)
class CellSample:
    """Which pairs' cells an N² measure used: all, or a seeded sample."""

    positions: np.ndarray
    m: int

    @property
    def exact(self) -> bool:
        return self.positions.size >= self.m

    def describe(self) -> str:
        return "exact" if self.exact else f"estimated from the cells of {self.positions.size:,} seeded pairs of {self.m:,}"


def cell_sample(space: PairSpace, seed: int = 0, exact_up_to: int = CELLS_EXACT_UP_TO, size: int = CELL_SAMPLE) -> CellSample:
    m = space.m
    return CellSample(np.arange(m, dtype=np.int64) if m <= exact_up_to else sample_positions(m, size, seed), m)


def consistency(space: PairSpace, alpha: float = 0.0, renormalize: bool = True, *, seed: int = 0,
                exact_up_to: int = CELLS_EXACT_UP_TO, size: int = CELL_SAMPLE) -> dict:
    """mean|X'X'ᵀ − Y'Y'ᵀ| and mean|X'Y'ᵀ − Y'X'ᵀ| over all M² cells (zero on the diagonal), and
    the CellSample used."""
    sample = cell_sample(space, seed, exact_up_to, size)
    key = ("consistency", space.key, float(alpha), bool(renormalize), sample.exact, int(seed), int(size))
    return MEMO.get(key, lambda: _consistency(space, float(alpha), bool(renormalize), sample))


def _consistency(space: PairSpace, alpha: float, renorm: bool, sample: CellSample) -> dict:
    pos = sample.positions
    x = space.vectors("image", pos, alpha, renorm)
    y = space.vectors("text", pos, alpha, renorm)
    s = pos.size
    in_modal = cross = 0.0
    step = rows_for(BLOCK_CELLS // 4, s)
    for a in range(0, s, step):
        in_modal += float(np.abs(x[a : a + step] @ x.T - y[a : a + step] @ y.T).sum())
        cross += float(np.abs(x[a : a + step] @ y.T - y[a : a + step] @ x.T).sum())
    m = sample.m
    # the sample's off-diagonal cells estimate the M(M−1) off-diagonal cells (the diagonal is 0)
    factor = (m * (m - 1)) / (m * m) / max(s * (s - 1), 1) if not sample.exact else 1.0 / (m * m)
    return {"in_modal_difference": in_modal * factor, "cross_modal_asymmetry": cross * factor, "sample": sample}


def distributions(space: PairSpace, alpha: float = 0.0, renormalize: bool = True, bins: int = 60, *, seed: int = 0,
                  exact_up_to: int = CELLS_EXACT_UP_TO, size: int = CELL_SAMPLE) -> tuple[SimilarityDistributions, CellSample]:
    """Histograms of image–image, text–text, matched and unmatched similarities (explorer.analysis.
    distributions) of the displayed vectors; matched over all pairs, the rest over the sample."""
    sample = cell_sample(space, seed, exact_up_to, size)
    key = ("distributions", space.key, float(alpha), bool(renormalize), int(bins), sample.exact, int(seed), int(size))

    def compute():
        pos = sample.positions
        x = space.vectors("image", pos, alpha, renormalize)
        y = space.vectors("text", pos, alpha, renormalize)
        matched = None if sample.exact else space.pair_similarities(alpha, renormalize)
        return similarity_distributions(x, y, bins=bins, matched=matched), sample

    return MEMO.get(key, compute)


def gap_table_row(space: PairSpace, *, logit_scale: float, source: str = "", model: str = "", batch_size: int = 50,
                  variant: str = "symmetric", alpha: float = 1.0, renormalize: bool = True, seed: int = 0) -> dict:
    """The article's table row (explorer.analysis.summary.GAP_TABLE_KEYS) at any size: distance
    and loss before and after closing the gap, R@1 both ways before closing (estimated from sampled
    queries above RECALL_EXACT_UP_TO pairs; ``r1_method`` says how)."""
    from ..analysis.summary import GAP_TABLE_KEYS

    r = recall(space, 0.0, True, ks=(1,), seed=seed)
    original = loss(space, logit_scale, batch_size, variant, 0.0, True)
    closed = loss(space, logit_scale, batch_size, variant, alpha, renormalize)
    row = {
        "source": source, "model": model, "n": space.m, "logit_scale": float(logit_scale), "loss_variant": variant,
        "original_distance": gap_distance(space, 0.0, True), "original_loss": original,
        "closed_distance": gap_distance(space, alpha, renormalize), "closed_loss": closed, "loss_difference": closed - original,
        "r1_image_to_text": r.values["image_to_text@1"], "r1_text_to_image": r.values["text_to_image@1"],
    }
    assert tuple(row) == GAP_TABLE_KEYS
    return row
