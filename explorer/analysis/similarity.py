"""The 2N×2N similarity matrix, its quadrants and their summaries.

S = [X; Y][X; Y]ᵀ: top-left XXᵀ (image in-modal), bottom-right YYᵀ (text in-modal), top-right
XYᵀ and bottom-left YXᵀ (cross-modal, matched pairs on their diagonals).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

QUADRANTS = ("image-image", "image-text", "text-image", "text-text")


class Quadrants(NamedTuple):
    image_image: np.ndarray
    image_text: np.ndarray
    text_image: np.ndarray
    text_text: np.ndarray


def similarity_matrix(image, text, dtype=None) -> np.ndarray:
    """[X; Y][X; Y]ᵀ in `dtype` (default: the embeddings' dtype; float32 keeps 10k×10k at 400 MB)."""
    x, y = np.asarray(image), np.asarray(text)
    dt = np.result_type(x.dtype, y.dtype) if dtype is None else np.dtype(dtype)
    z = np.concatenate([x, y], axis=0).astype(dt, copy=False)
    return z @ z.T


def quadrants(s: np.ndarray) -> Quadrants:
    """The four N×N views (no copies) of a 2N×2N similarity matrix."""
    s = np.asarray(s)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] % 2:
        raise ValueError(f"expected a square matrix of even size, got {s.shape}")
    n = s.shape[0] // 2
    return Quadrants(s[:n, :n], s[:n, n:], s[n:, :n], s[n:, n:])


def block(s: np.ndarray, name: str) -> np.ndarray:
    """One quadrant by name: 'image-image', 'image-text', 'text-image' or 'text-text' (rows-columns)."""
    if name not in QUADRANTS:
        raise ValueError(f"block must be one of {QUADRANTS}, got {name!r}")
    return quadrants(s)[QUADRANTS.index(name)]


def block_from_embeddings(image, text, name: str) -> np.ndarray:
    """One quadrant computed directly (N×N, without the 2N×2N matrix)."""
    if name not in QUADRANTS:
        raise ValueError(f"block must be one of {QUADRANTS}, got {name!r}")
    rows, cols = name.split("-")
    arrays = {"image": np.asarray(image), "text": np.asarray(text)}
    return arrays[rows] @ arrays[cols].T


def in_modal_difference(image, text) -> np.ndarray:
    """D = XXᵀ − YYᵀ (CyCLIP's in-modal consistency; 0 where both modalities agree)."""
    x, y = _pair_f64(image, text)
    return x @ x.T - y @ y.T


#: rows per block when a mean over an N×N difference is accumulated (bounded memory at 10k pairs)
CHUNK = 1024


def mean_abs_in_modal_difference(image, text, chunk: int = CHUNK) -> float:
    """mean|XXᵀ − YYᵀ|, accumulated in row blocks (never holds an N×N matrix)."""
    x, y = _pair_f64(image, text)
    return _mean_abs_block_difference(x, x, y, y, chunk)


def cross_modal_asymmetry(image, text, chunk: int = CHUNK) -> float:
    """mean|XYᵀ − YXᵀ| (CyCLIP's cross-modal consistency), accumulated in row blocks."""
    x, y = _pair_f64(image, text)
    return _mean_abs_block_difference(x, y, y, x, chunk)


def _mean_abs_block_difference(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, chunk: int) -> float:
    """mean|ABᵀ − CDᵀ| over the N×N matrix, computed `chunk` rows at a time."""
    total = 0.0
    for s in range(0, a.shape[0], chunk):
        total += float(np.abs(a[s : s + chunk] @ b.T - c[s : s + chunk] @ d.T).sum())
    return total / a.shape[0] ** 2


def _pair_f64(image, text) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(text, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image and text arrays differ in shape: {x.shape} vs {y.shape}")
    return x, y


def pair_similarities(image, text) -> np.ndarray:
    """cos(x_i, y_i) for each pair: the diagonal of XYᵀ, without forming it."""
    x, y = _pair_f64(image, text)
    return np.einsum("ij,ij->i", x, y)
