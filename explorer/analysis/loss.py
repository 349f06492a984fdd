"""The contrastive validation loss, as in the article's table.

Consecutive batches of B pairs (remainder dropped), logits L = s·X_b Y_bᵀ with s the model's
logit scale, cross-entropy with labels 0..B−1, mean over batches.

variant="symmetric" (the default, what the reference code meant): ½[CE(L) + CE(Lᵀ)].
variant="article": CE(L) only, image→text: the numbers in the article and its exports, whose
code transposed the logits twice.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

VARIANTS = ("symmetric", "article")


def cross_entropy_diagonal(logits: np.ndarray) -> float:
    """Mean over rows of −log softmax(row)[i] for row i (labels 0..B−1)."""
    logits = np.asarray(logits, dtype=np.float64)
    return float(np.mean(logsumexp(logits, axis=1) - np.diag(logits)))


def contrastive_loss(
    image,
    text,
    logit_scale: float,
    batch_size: int | None = 50,
    variant: str = "symmetric",
) -> float:
    """Mean batch cross-entropy of image/text pairs (see module docstring).

    batch_size=None uses all pairs as one batch. Raises ValueError when fewer pairs than one batch.
    """
    if variant not in VARIANTS:
        raise ValueError(f"loss variant must be one of {VARIANTS}, got {variant!r}")
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(text, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image and text arrays differ in shape: {x.shape} vs {y.shape}")
    n = x.shape[0]
    b = n if batch_size is None else int(batch_size)
    if b < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    n_batches = n // b
    if n_batches == 0:
        raise ValueError(f"{n} pairs are fewer than one batch of {b}; choose a smaller batch size")
    losses = []
    for k in range(n_batches):
        xb, yb = x[k * b : (k + 1) * b], y[k * b : (k + 1) * b]
        logits = logit_scale * (xb @ yb.T)
        if variant == "article":
            losses.append(cross_entropy_diagonal(logits))
        else:
            losses.append(0.5 * (cross_entropy_diagonal(logits) + cross_entropy_diagonal(logits.T)))
    return float(np.mean(losses))
