"""2-D projections of paired embeddings (PCA, UMAP, t-SNE), cached on disk.

Modes (the article's projections and its visual gap-closing variants):

- ``joint``: fit on all 2N points (images then texts); the coordinates are the fitted ones
  (``embedding_`` / ``fit_transform``), never a second ``transform`` of the training points.
- ``fit-image`` / ``fit-text``: fit on one modality and place the other with the fitted model's
  out-of-sample ``transform`` (PCA and UMAP; t-SNE has none and is refused).
- ``concatenated``: one point per pair, from the concatenated vectors [x_i, y_i] (N points).

Row layout of :attr:`Projection.coords`: for the first three modes row i is image i and row N+i
is caption i (the similarity matrix's layout); for ``concatenated`` row i is pair i.

Results are cached under ``<root>/projections/<key>.npy`` (+ ``<key>.json`` with metadata),
written atomically (temporary file in the same folder, then rename), keyed by the SHA-256 of the
embeddings' bytes, the method, mode, parameters and seed. A damaged cache file is ignored and
rewritten, never returned.

Pure numpy / scikit-learn / umap-learn: no UI imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError

METHODS = ("PCA", "UMAP", "t-SNE")
MODES = ("joint", "fit-image", "fit-text", "concatenated")
#: bump when the computation changes so old cache files are not reused
CACHE_VERSION = "projection-v1"
#: PCA keeps this many components, so the scatter can show any pair of them
MAX_PCA_COMPONENTS = 10

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Projection:
    """Projected coordinates and what produced them."""

    coords: np.ndarray  # (2N, C) or (N, C) for mode "concatenated"
    method: str
    mode: str
    params: Mapping[str, Any]
    seed: int
    n_pairs: int
    key: str
    from_cache: bool = False
    explained_variance_ratio: np.ndarray | None = None  # PCA only
    notes: tuple[str, ...] = field(default=())
    #: the pairs shown (positions among the projected pairs) when not all are (a sample); None = all
    pairs: np.ndarray | None = None

    @property
    def n_components(self) -> int:
        return int(self.coords.shape[1])

    @property
    def one_point_per_pair(self) -> bool:
        return self.mode == "concatenated"

    def describe(self) -> str:
        """A one-line record for plot titles and exports, e.g. 'UMAP joint (n_neighbors=15, …, seed 0)'."""
        p = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        extra = "".join(f"; {n}" for n in self.notes)
        return f"{self.method} {self.mode} ({p}{', ' if p else ''}seed {self.seed}{extra})"

    def image_coords(self) -> np.ndarray:
        if self.one_point_per_pair:
            raise ValueError("a concatenated projection has one point per pair, not per image")
        return self.coords[: self.n_pairs]

    def text_coords(self) -> np.ndarray:
        if self.one_point_per_pair:
            raise ValueError("a concatenated projection has one point per pair, not per caption")
        return self.coords[self.n_pairs :]


def default_params(method: str, n_points: int) -> dict[str, Any]:
    """Sensible parameters for `n_points` points (neighbour counts clamped below n)."""
    check_method(method)
    if method == "PCA":
        return {}
    if method == "UMAP":
        return {"n_neighbors": int(max(2, min(15, n_points - 1))), "min_dist": 0.1, "metric": "cosine"}
    # t-SNE: perplexity must stay below the number of points
    return {"perplexity": float(max(1.0, min(30.0, (n_points - 1) / 3.0))), "metric": "cosine", "max_iter": 1000}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise SpecError(f"projection method must be one of {', '.join(METHODS)}, got {method!r}")


def check_mode(method: str, mode: str) -> None:
    check_method(method)
    if mode not in MODES:
        raise SpecError(f"projection mode must be one of {', '.join(MODES)}, got {mode!r}")
    if method == "t-SNE" and mode in ("fit-image", "fit-text"):
        raise SpecError(
            f"t-SNE cannot place new points (no out-of-sample transform), so mode {mode!r} is not "
            "available; use PCA or UMAP, or the joint mode"
        )


def _array_digest(h: hashlib._Hash, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))


def projection_key(image, text, method: str, mode: str, params: Mapping[str, Any], seed: int) -> str:
    """Content address of a projection: embeddings bytes + method + mode + params + seed."""
    h = hashlib.sha256(CACHE_VERSION.encode())
    _array_digest(h, np.asarray(image))
    _array_digest(h, np.asarray(text))
    h.update(json.dumps({"method": method, "mode": mode, "params": dict(params), "seed": int(seed)}, sort_keys=True).encode())
    return h.hexdigest()[:40]


class ProjectionCache:
    """``<root>/projections/<key>.npy`` + ``.json``, written atomically."""

    def __init__(self, root: Path | str):
        self.dir = Path(root).expanduser() / "projections"

    def paths(self, key: str) -> tuple[Path, Path]:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a projection key: {key!r}")
        return self.dir / f"{key}.npy", self.dir / f"{key}.json"

    def load(self, key: str, n_rows: int) -> tuple[np.ndarray, dict] | None:
        """The cached coordinates and metadata, or None when absent or damaged."""
        npy, meta_path = self.paths(key)
        if not npy.is_file():
            return None
        try:
            coords = np.load(npy, allow_pickle=False)
            meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        except (OSError, ValueError, EOFError):
            return None
        if coords.ndim != 2 or coords.shape[0] != n_rows or not np.isfinite(coords).all():
            return None
        if meta.get("key") not in (None, key):
            return None
        return coords, meta

    def save(self, key: str, coords: np.ndarray, meta: Mapping[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        npy, meta_path = self.paths(key)
        # metadata first, coordinates last: the .npy's presence marks a complete entry
        for target, write in (
            (meta_path, lambda f: f.write(json.dumps({**meta, "key": key}, sort_keys=True).encode())),
            (npy, lambda f: np.save(f, np.ascontiguousarray(coords), allow_pickle=False)),
        ):
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{key}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    write(f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise


def _say(progress: Progress | bool | None, msg: str) -> None:
    if callable(progress):
        progress(msg)


def fit_pca(train: np.ndarray, other: np.ndarray | None, seed: int):
    from sklearn.decomposition import PCA

    k = int(min(MAX_PCA_COMPONENTS, train.shape[0], train.shape[1]))
    # exact either way; the covariance route is much faster when points far outnumber dimensions
    solver = "covariance_eigh" if train.shape[0] >= 2 * train.shape[1] else "full"
    pca = PCA(n_components=k, svd_solver=solver, random_state=seed)
    fitted = pca.fit_transform(train)
    placed = pca.transform(other) if other is not None else None
    return fitted, placed, pca.explained_variance_ratio_


def fit_umap(train: np.ndarray, other: np.ndarray | None, params: Mapping[str, Any], seed: int, verbose: bool):
    try:
        import umap
    except ImportError as exc:  # pragma: no cover - umap-learn is a dependency
        raise SpecError("UMAP needs the umap-learn package (pip install umap-learn)") from exc
    import warnings

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=int(params["n_neighbors"]),
        min_dist=float(params["min_dist"]),
        metric=str(params["metric"]),
        random_state=seed,
        verbose=verbose,
        tqdm_kwds={"disable": not verbose, "desc": "UMAP epochs"},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*gradient function is not yet implemented.*")
        reducer.fit(train)
        fitted = np.asarray(reducer.embedding_)
        placed = np.asarray(reducer.transform(other)) if other is not None else None
    return fitted, placed


def fit_tsne(train: np.ndarray, params: Mapping[str, Any], seed: int, verbose: bool) -> np.ndarray:
    from sklearn.manifold import TSNE

    tsne = TSNE(
        n_components=2,
        perplexity=float(params["perplexity"]),
        metric=str(params["metric"]),
        max_iter=int(params["max_iter"]),
        init="pca",
        learning_rate="auto",
        random_state=seed,
        verbose=int(verbose),
    )
    return np.asarray(tsne.fit_transform(train))


def project(
    image,
    text,
    method: str = "PCA",
    mode: str = "joint",
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    cache_root: Path | str | None = None,
    progress: Progress | bool | None = None,
    verbose: bool | None = None,
) -> Projection:
    """Project N image and N text embeddings to 2-D (PCA keeps up to 10 components).

    `params` override :func:`default_params`. `cache_root` (e.g. the embedding store's root)
    enables the on-disk cache; None disables it. `progress` is a callable receiving status
    lines, or True to let UMAP / t-SNE print their own progress (tqdm epochs); `verbose`
    sets the latter independently of a callable.
    """
    check_mode(method, mode)
    x = np.asarray(image)
    y = np.asarray(text)
    if x.shape != y.shape or x.ndim != 2:
        raise SpecError(f"image and text embeddings must have the same 2-D shape, got {x.shape} and {y.shape}")
    n = int(x.shape[0])
    n_fit = {"joint": 2 * n, "fit-image": n, "fit-text": n, "concatenated": n}[mode]
    if n_fit < 3:
        raise SpecError(f"a {method} projection needs at least 3 points to fit, this {mode} projection has {n_fit}")
    merged = default_params(method, n_fit)
    unknown = set(params or {}) - set(merged)
    if unknown:
        raise SpecError(f"unknown {method} parameter(s): {', '.join(sorted(unknown))}")
    merged.update(params or {})
    key = projection_key(x, y, method, mode, merged, seed)
    n_rows = n if mode == "concatenated" else 2 * n
    cache = ProjectionCache(cache_root) if cache_root is not None else None
    if cache is not None:
        hit = cache.load(key, n_rows)
        if hit is not None:
            coords, meta = hit
            evr = meta.get("explained_variance_ratio")
            return Projection(
                coords, method, mode, merged, int(seed), n, key, True,
                np.asarray(evr) if evr is not None else None, tuple(meta.get("notes", ())),
            )

    verbose = (progress is True) if verbose is None else bool(verbose)
    dtype = np.float64 if method == "PCA" else np.float32
    xf, yf = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    if mode == "joint":
        train, other = np.concatenate([xf, yf]), None
    elif mode == "fit-image":
        train, other = xf, yf
    elif mode == "fit-text":
        train, other = yf, xf
    else:
        train, other = np.concatenate([xf, yf], axis=1), None
    _say(progress, f"{method} ({mode}) of {train.shape[0]} points in {train.shape[1]} dimensions…")
    evr = None
    if method == "PCA":
        fitted, placed, evr = fit_pca(train, other, seed)
    elif method == "UMAP":
        fitted, placed = fit_umap(train, other, merged, seed, verbose)
    else:
        fitted, placed = fit_tsne(train, merged, seed, verbose), None
    if mode == "fit-image":
        coords = np.concatenate([fitted, placed])
    elif mode == "fit-text":
        coords = np.concatenate([placed, fitted])
    else:
        coords = fitted
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if not np.isfinite(coords).all():
        raise SpecError(f"{method} produced non-finite coordinates for these embeddings")
    _say(progress, "")
    notes: tuple[str, ...] = ()
    if cache is not None:
        meta = {
            "method": method,
            "mode": mode,
            "params": merged,
            "seed": int(seed),
            "n_pairs": n,
            "explained_variance_ratio": evr.tolist() if evr is not None else None,
            "notes": list(notes),
        }
        cache.save(key, coords, meta)
    return Projection(coords, method, mode, merged, int(seed), n, key, False, evr, notes)
