"""Cross-modal retrieval recall over the whole set.

R@k image→text: the share of images whose own caption is among the k most similar captions
(rank = number of captions strictly more similar than the true one, so ties count in the
item's favour). Text→image likewise over the columns.
"""

from __future__ import annotations

import numpy as np


def true_partner_ranks(image, text, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of each item's true partner: (image→text ranks, text→image ranks)."""
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(text, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image and text arrays differ in shape: {x.shape} vs {y.shape}")
    n = x.shape[0]
    i2t = np.empty(n, dtype=np.int64)
    t2i = np.empty(n, dtype=np.int64)
    for a, b, out in ((x, y, i2t), (y, x, t2i)):
        for start in range(0, n, chunk):
            s = a[start : start + chunk] @ b.T
            rows = np.arange(s.shape[0])
            true = s[rows, start + rows]
            out[start : start + chunk] = (s > true[:, None]).sum(axis=1)
    return i2t, t2i


def recall_at_k(image, text, ks=(1, 5, 10)) -> dict[str, float]:
    """{'image_to_text@1': ..., 'text_to_image@1': ..., ...} for each k in `ks`."""
    i2t, t2i = true_partner_ranks(image, text)
    out: dict[str, float] = {}
    for k in ks:
        out[f"image_to_text@{k}"] = float(np.mean(i2t < k))
        out[f"text_to_image@{k}"] = float(np.mean(t2i < k))
    return out
