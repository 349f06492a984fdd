"""2-D projections of the shown pairs at any size (PCA, UMAP, t-SNE), cached in memory and on disk.

- **PCA** from the covariance of the displayed (gap-closed) vectors, accumulated in one chunked
  pass (O(M·D²)); above `PCA_FIT_UP_TO` points it is fitted on a seeded sample of that many points
  and every point is transformed (O(M·D·10)). Components and signs follow scikit-learn's PCA
  (the max-|·| entry of each component positive), so small sources get exactly what
  :func:`explorer.analysis.projection.project` gives.
- **UMAP** is fitted on a seeded sample of at most `UMAP_FIT_PAIRS` pairs; the other pairs, up to
  `UMAP_SHOWN_PAIRS` in all (a seeded sample above that), are placed with UMAP's own transform.
- **t-SNE** has no transform: it is fitted on (and shows) a seeded sample of at most
  `TSNE_PAIRS` pairs.

Row layout of :attr:`Projection.coords` as in :mod:`explorer.analysis.projection` over the shown
pairs (``Projection.pairs``, active positions; None = all): images of the shown pairs, then their
captions (one row per pair in the concatenated mode). Every sample is stated in the projection's
notes (its ``describe()`` line). Results of UMAP and t-SNE are cached on disk under the store's
``projections/`` folder when the space has a content key. Pure numpy / scikit-learn / umap-learn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..analysis.projection import MAX_PCA_COMPONENTS, Projection, ProjectionCache, check_mode, default_params, fit_tsne, fit_umap
from ..errors import SpecError
from .backend import CHUNK_ROWS, spread
from .memo import MEMO
from .numbers import sample_positions
from .space import PairSpace

PCA_FIT_UP_TO = 100_000
#: PCA fits of up to this many points are computed in float64 throughout
EXACT_FIT_POINTS = 50_000
UMAP_FIT_PAIRS = 5_000
UMAP_SHOWN_PAIRS = 50_000
TSNE_PAIRS = 5_000
CACHE_VERSION = "engine-projection-v1"


def _nothing(*_: object, **__: object) -> None:
    return None


def _points(space: PairSpace, mode: str, pairs: np.ndarray, alpha: float, renorm: bool, which: str | None = None) -> np.ndarray:
    """The displayed vectors a projection is fitted on or places, for the given pairs."""
    x = space.vectors("image", pairs, alpha, renorm) if which in (None, "image") else None
    y = space.vectors("text", pairs, alpha, renorm) if which in (None, "text") else None
    if mode == "concatenated":
        return np.concatenate([x, y], axis=1)
    if which == "image":
        return x
    if which == "text":
        return y
    return np.concatenate([x, y])


def _flip(vt: np.ndarray) -> np.ndarray:
    """scikit-learn's sign convention: the largest-|·| entry of each component positive."""
    idx = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), idx])
    signs[signs == 0] = 1.0
    return vt * signs[:, None]


def _pca(space: PairSpace, mode: str, alpha: float, renorm: bool, seed: int, progress) -> Projection:
    m = space.m
    fit_which = {"joint": None, "fit-image": "image", "fit-text": "text", "concatenated": None}[mode]
    n_fit_points = 2 * m if mode == "joint" else m
    per_pair = 2 if mode == "joint" else 1
    notes: tuple[str, ...] = ()
    fit_pairs = np.arange(m)
    if n_fit_points > PCA_FIT_UP_TO:
        fit_pairs = sample_positions(m, PCA_FIT_UP_TO // per_pair, seed)
        notes = (f"fitted on a seeded sample of {fit_pairs.size * per_pair:,} of {n_fit_points:,} points, all placed",)
    dim = space.dim * (2 if mode == "concatenated" else 1)
    # small fits in float64 (as scikit-learn); above EXACT_FIT_POINTS the products in the
    # embeddings' precision (float32 BLAS, twice as fast), summed in float64; chunks on every core
    precise = fit_pairs.size * per_pair <= EXACT_FIT_POINTS

    def moments(s: int) -> tuple[np.ndarray, np.ndarray, int]:
        z = _points(space, mode, fit_pairs[s : s + CHUNK_ROWS // 2], alpha, renorm, fit_which)
        if precise:
            z = z.astype(np.float64)
        return z.sum(axis=0, dtype=np.float64), (z.T @ z).astype(np.float64, copy=False), z.shape[0]

    total, outer, n = np.zeros(dim), np.zeros((dim, dim)), 0
    for part_total, part_outer, part_n in spread(moments, range(0, fit_pairs.size, CHUNK_ROWS // 2)):
        total += part_total
        outer += part_outer
        n += part_n
    progress(1, 3)
    mean = total / n
    cov = (outer - n * np.outer(mean, mean)) / max(n - 1, 1)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = np.clip(lam[::-1], 0.0, None), vec[:, ::-1]
    k = int(min(MAX_PCA_COMPONENTS, n, dim))
    vt = _flip(vec.T)[:k]
    evr = lam[:k] / lam.sum() if lam.sum() > 0 else np.zeros(k)
    rows = 2 * m if mode in ("joint", "fit-image", "fit-text") else m
    coords = np.empty((rows, k), dtype=np.float64)
    dt = np.float64 if (precise or space.image.dtype == np.float64) else np.float32
    # z·V − mean·V: the projection of the mean once, the points in their own precision
    vt_t = np.ascontiguousarray(vt.T, dtype=dt)
    offset = mean @ vt.T

    def place(s: int) -> None:
        pairs = np.arange(s, min(s + CHUNK_ROWS // 2, m))
        if mode == "concatenated":
            d = space.dim
            coords[pairs] = (space.projected("image", pairs, vt_t[:d], alpha, renorm)
                             + space.projected("text", pairs, vt_t[d:], alpha, renorm) - offset)
        else:
            coords[pairs] = space.projected("image", pairs, vt_t, alpha, renorm) - offset
            coords[m + pairs] = space.projected("text", pairs, vt_t, alpha, renorm) - offset

    spread(place, range(0, m, CHUNK_ROWS // 2))  # every point placed, chunks on every core
    progress(2, 3)
    return Projection(coords, "PCA", mode, {}, int(seed), m, "", False, evr, notes, None)


def _content_key(space: PairSpace, method: str, mode: str, params: Mapping[str, Any], alpha: float, renorm: bool,
                 seed: int, fit: np.ndarray, shown: np.ndarray) -> str | None:
    content = getattr(space, "content", None)
    if not content:
        return None
    h = hashlib.sha256(CACHE_VERSION.encode())
    h.update(json.dumps([content, method, mode, dict(params), float(alpha), bool(renorm), int(seed)], sort_keys=True,
                        default=str).encode())
    for a in (space.active, fit, shown):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()[:40]


def _sampled(space: PairSpace, method: str, mode: str, alpha: float, renorm: bool, seed: int, cache_root, progress,
             verbose: bool) -> Projection:
    m = space.m
    per_pair = 2 if mode == "joint" else 1
    notes = []
    if method == "UMAP":
        shown = sample_positions(m, UMAP_SHOWN_PAIRS, seed)
        fit = shown if shown.size <= UMAP_FIT_PAIRS else shown[sample_positions(shown.size, UMAP_FIT_PAIRS, seed + 1)]
        if shown.size < m:
            notes.append(f"a seeded sample of {shown.size:,} of {m:,} pairs shown")
        rows = (1 if mode == "concatenated" else 2) * shown.size
        if fit.size * per_pair < rows:
            notes.append(f"fitted on {fit.size * per_pair:,} points, the other {rows - fit.size * per_pair:,} placed by UMAP's transform")
    else:
        shown = fit = sample_positions(m, TSNE_PAIRS, seed)
        if shown.size < m:
            notes.append(f"fitted on a seeded sample of {shown.size:,} of {m:,} pairs (t-SNE places no other points)")
    n_fit = fit.size * per_pair
    if n_fit < 3:
        raise SpecError(f"a {method} projection needs at least 3 points to fit, this {mode} projection has {n_fit}")
    params = default_params(method, n_fit)
    key = _content_key(space, method, mode, params, alpha, renorm, seed, fit, shown)
    rows = (2 if per_pair == 2 or mode in ("fit-image", "fit-text") else 1) * shown.size
    cache = ProjectionCache(cache_root) if (cache_root is not None and key) else None
    if cache is not None:
        hit = cache.load(key, rows)
        if hit is not None:
            return Projection(hit[0], method, mode, params, int(seed), int(shown.size), key, True, None, tuple(notes),
                              None if shown.size == m else shown)
    rest = np.setdiff1d(shown, fit, assume_unique=True)
    order = np.concatenate([fit, rest])  # fitted pairs first, then the placed ones
    fit_which = {"joint": None, "fit-image": "image", "fit-text": "text", "concatenated": None}[mode]
    train = _points(space, mode, fit, alpha, renorm, fit_which).astype(np.float32)
    progress(1, 3)
    if method == "UMAP":
        other_parts = []
        if mode in ("fit-image", "fit-text"):
            other_parts.append(_points(space, mode, fit, alpha, renorm, "text" if mode == "fit-image" else "image"))
        if rest.size:
            other_parts.append(_points(space, mode, rest, alpha, renorm, None))
        other = np.concatenate(other_parts).astype(np.float32) if other_parts else None
        fitted, placed = fit_umap(train, other, params, seed, verbose)
    else:
        fitted, placed = fit_tsne(train, params, seed, verbose), None
    progress(2, 3)
    f = fit.size
    # reassemble images of `order` then captions of `order`, from fitted / placed rows
    if mode == "joint":
        img = [fitted[:f]]
        txt = [fitted[f:]]
        if rest.size:
            img.append(placed[: rest.size])
            txt.append(placed[rest.size :])
    elif mode in ("fit-image", "fit-text"):
        same, opposite = fitted, placed[:f]
        img, txt = ([same], [opposite]) if mode == "fit-image" else ([opposite], [same])
        if rest.size:
            extra = placed[f:]
            img.append(extra[: rest.size])
            txt.append(extra[rest.size :])
    else:
        img, txt = [fitted] + ([placed] if rest.size else []), []
    inverse = np.argsort(order, kind="stable")  # back to the order of `shown` (sorted positions)
    parts = [np.concatenate(img)[inverse]] + ([np.concatenate(txt)[inverse]] if txt else [])
    coords = np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)
    if not np.isfinite(coords).all():
        raise SpecError(f"{method} produced non-finite coordinates for these embeddings")
    if cache is not None:
        cache.save(key, coords, {"method": method, "mode": mode, "params": params, "seed": int(seed), "n_pairs": int(shown.size),
                                 "notes": notes})
    return Projection(coords, method, mode, params, int(seed), int(shown.size), key or "", False, None, tuple(notes),
                      None if shown.size == m else shown)


def projection(space: PairSpace, method: str = "PCA", mode: str = "joint", *, alpha: float = 0.0, renormalize: bool = True,
               seed: int = 0, cache_root=None, verbose: bool = False) -> Projection:
    """The projection of the displayed vectors of the shown pairs (see module docstring)."""
    check_mode(method, mode)
    n_fit = 2 * space.m if mode == "joint" else space.m
    if n_fit < 3:
        raise SpecError(f"a {method} projection needs at least 3 points to fit, this {mode} projection has {n_fit}")
    key = ("projection", space.key, method, mode, float(alpha), bool(renormalize), int(seed))
    label = None if method == "PCA" and space.m < 100_000 else f"{method} ({mode}) of {space.m:,} pairs"

    def compute(progress: Callable[..., None] = _nothing) -> Projection:
        if method == "PCA":
            return _pca(space, mode, float(alpha), bool(renormalize), int(seed), progress)
        return _sampled(space, method, mode, float(alpha), bool(renormalize), int(seed), cache_root, progress, verbose)

    # PCA is what a scatter shows first (a few passes): long work (R@k, UMAP, clustering) yields to it
    return MEMO.get(key, compute, label=label, unit="steps", foreground=method == "PCA") if label else MEMO.get(key, compute)
