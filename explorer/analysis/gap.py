"""The modality gap: its vector, its length, and closing it.

Δ = mean_i x_i − mean_i y_i, d = ‖Δ‖₂. Closing by a fraction α shifts images by −αΔ/2 and texts by
+αΔ/2; with re-normalisation (the article's method) a small residual distance remains, without it
α = 1 gives exactly 0.
"""

from __future__ import annotations

import numpy as np


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def normalize_rows(a: np.ndarray) -> np.ndarray:
    a = _f64(a)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def gap_vector(image, text) -> np.ndarray:
    """Δ = mean of the image embeddings − mean of the text embeddings (of the same N pairs)."""
    x, y = _f64(image), _f64(text)
    if x.shape != y.shape:
        raise ValueError(f"image and text arrays differ in shape: {x.shape} vs {y.shape}; they must hold the same pairs")
    return x.mean(axis=0) - y.mean(axis=0)


def gap_distance(image, text) -> float:
    """‖Δ‖₂, the Euclidean distance between the two modality centroids."""
    return float(np.linalg.norm(gap_vector(image, text)))


def gap_distance_from_similarity(similarity, n: int) -> float:
    """The gap distance from the 2N×2N matrix alone: d² = mean(XXᵀ) + mean(YYᵀ) − 2·mean(XYᵀ)."""
    s = _f64(similarity)
    if s.shape != (2 * n, 2 * n):
        raise ValueError(f"similarity matrix must be {2 * n}x{2 * n}, got {s.shape}")
    d2 = s[:n, :n].mean() + s[n:, n:].mean() - 2.0 * s[:n, n:].mean()
    return float(np.sqrt(max(d2, 0.0)))


def close_gap(image, text, alpha: float = 1.0, renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Move both modalities toward each other by the fraction `alpha` of the gap.

    x' = x − αΔ/2, y' = y + αΔ/2, then optionally re-normalised to the unit sphere.
    Returns float64 arrays.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    x, y = _f64(image), _f64(text)
    half = 0.5 * alpha * gap_vector(x, y)
    x2, y2 = x - half, y + half
    if renormalize:
        x2, y2 = normalize_rows(x2), normalize_rows(y2)
    return x2, y2


def shift_along_gap(image, text, delta: float, direction=None) -> tuple[np.ndarray, np.ndarray]:
    """The loss-landscape shift: x − ½δĝ and y + ½δĝ, re-normalised, with ĝ = Δ/‖Δ‖."""
    x, y = _f64(image), _f64(text)
    g = gap_vector(x, y) if direction is None else _f64(direction)
    norm = np.linalg.norm(g)
    if norm == 0:
        raise ValueError("the modalities have the same centroid; there is no gap direction")
    g = g / norm
    return normalize_rows(x - 0.5 * delta * g), normalize_rows(y + 0.5 * delta * g)


def signed_gap_distance(image, text, reference) -> float:
    """sign(⟨mean x − mean y, reference⟩) · ‖mean x − mean y‖ (the landscape's x-axis)."""
    g = gap_vector(image, text)
    d = float(np.linalg.norm(g))
    s = float(np.dot(g, _f64(reference)))
    return d if s >= 0 else -d
