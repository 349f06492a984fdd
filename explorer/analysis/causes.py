"""The two causes of the modality gap (Liang et al. 2022, "Mind the Gap"), as numbers.

1. The cone effect: an encoder at random initialisation maps all its inputs into a narrow cone
   (a high mean pairwise cosine), and two encoders' cones point in different directions, so image
   and text embeddings are apart before any training.
2. The temperature: the contrastive loss at a low temperature (a large logit scale s) keeps, or
   widens, the gap that initialisation made.

:func:`cone_measures` is the row the ``causes cone`` command prints for each set of embeddings: a
composition of :mod:`explorer.analysis.gap` and :mod:`explorer.analysis.anatomy` on the whole
arrays (exact; the cone in O(N·D)):

- ``gap_distance`` ‖x̄ − ȳ‖;
- ``cone_image``, ``cone_text``: mean pairwise cosine within each modality over i < j;
- ``centroid_norm_image``, ``centroid_norm_text``: ‖x̄‖, ‖ȳ‖ (for unit rows √(1/N + (N−1)/N·cone));
- ``cross_cosine``: mean cosine between all images and all texts, x̂̄·ŷ̄ (after row normalisation);
  near 0 when the two cones point in unrelated directions;
- ``top_k_coordinate_share``: the share of ‖Δ‖² in the k largest coordinates of Δ.

:func:`seed_summary` gives the mean and standard deviation over seeds of each of these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .anatomy import centroid_norm, coordinate_gap_shares, mean_pairwise_cosine, top_k_share
from .gap import gap_distance, gap_vector, normalize_rows

CONE_KEYS = ("gap_distance", "cone_image", "cone_text", "centroid_norm_image", "centroid_norm_text", "cross_cosine",
             "top_k_coordinate_share")


def cone_measures(image, text, top_k: int = 10) -> dict[str, float]:
    """The cone-effect row of one set of pairs (see the module docstring); rows are normalised first."""
    x, y = normalize_rows(image), normalize_rows(text)
    if x.shape != y.shape or x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need two arrays of the same N >= 2 pairs, got {np.shape(image)} and {np.shape(text)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the embeddings hold NaN, infinite or all-zero rows")
    _, shares = coordinate_gap_shares(gap_vector(x, y))
    return {
        "n": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "gap_distance": gap_distance(x, y),
        "cone_image": mean_pairwise_cosine(x),
        "cone_text": mean_pairwise_cosine(y),
        "centroid_norm_image": centroid_norm(x),
        "centroid_norm_text": centroid_norm(y),
        "cross_cosine": float(x.mean(axis=0) @ y.mean(axis=0)),
        "top_k": int(top_k),
        "top_k_coordinate_share": top_k_share(shares, top_k),
    }


def seed_summary(rows: Sequence[dict], keys: Sequence[str] = CONE_KEYS) -> dict[str, dict[str, float]]:
    """{key: {"mean", "std", "min", "max"}} over `rows` (std with ddof 0; 0 for one row)."""
    if not rows:
        raise ValueError("no rows to summarise")
    out = {}
    for k in keys:
        v = np.array([float(r[k]) for r in rows])
        out[k] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}
    return out
