"""Embeddings recovered from a similarity (Gram) matrix.

A similarity matrix of unit vectors S = ZZᵀ is symmetric positive semi-definite. With the
eigendecomposition S = V diag(w) Vᵀ, the rows of V·diag(√w) are vectors (in a rotated basis) whose
inner products reproduce S: everything rotation-invariant (gap, losses, retrieval, clustering,
cosine projections) can be recomputed from them.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

#: inner products of the recovered vectors match the matrix to this (checked, reported)
EXACT_TOLERANCE = 1e-10
#: beyond this the matrix is not a Gram matrix of unit vectors (reported as an error)
REJECT_TOLERANCE = 1e-4


def check_similarity_matrix(s: np.ndarray, source: str, expected_size: int | None = None) -> None:
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise DataError(f"{source}: a similarity matrix must be square, got shape {s.shape}")
    if expected_size is not None and s.shape[0] != expected_size:
        raise DataError(
            f"{source}: matrix is {s.shape[0]}x{s.shape[1]} but the export has {expected_size // 2} pairs "
            f"(expected {expected_size}x{expected_size}: images then captions)"
        )
    if s.shape[0] % 2:
        raise DataError(f"{source}: matrix size {s.shape[0]} is odd; expected 2N rows (N images, then N captions)")
    if not np.isfinite(s).all():
        bad = np.argwhere(~np.isfinite(s))[:3].tolist()
        raise DataError(f"{source}: matrix contains NaN or inf, e.g. at {bad}")
    asym = float(np.abs(s - s.T).max())
    if asym > 1e-8:
        i, j = np.unravel_index(np.argmax(np.abs(s - s.T)), s.shape)
        raise DataError(f"{source}: matrix is not symmetric (S[{i},{j}] - S[{j},{i}] = {s[i, j] - s[j, i]:.3g})")
    diag_err = float(np.abs(np.diag(s) - 1).max())
    if diag_err > 1e-3:
        i = int(np.argmax(np.abs(np.diag(s) - 1)))
        raise DataError(f"{source}: diagonal entry {i} is {s[i, i]:.6g}; cosine similarities of an item with itself must be 1")


def vectors_from_gram(s: np.ndarray, source: str = "similarity matrix") -> tuple[np.ndarray, float]:
    """(rows Z with ZZᵀ ≈ S, max |ZZᵀ − S|). Raises DataError if S is not (nearly) PSD."""
    s = np.asarray(s, dtype=np.float64)
    s = 0.5 * (s + s.T)
    w, v = np.linalg.eigh(s)
    scale = max(float(w.max()), 1.0)
    if w.min() < -REJECT_TOLERANCE * scale:
        raise DataError(
            f"{source}: matrix has a negative eigenvalue {w.min():.3g}; it is not a similarity matrix of embeddings"
        )
    keep = w > 0
    z = v[:, keep] * np.sqrt(w[keep])
    err = float(np.abs(z @ z.T - s).max())
    if err > REJECT_TOLERANCE:
        raise DataError(f"{source}: embeddings reproduce the matrix only to {err:.3g}")
    return z, err
