"""The loss landscape along the gap (the article's and Liang et al.'s experiment).

For δ in arange(−5, 5, 0.25): shift images by −½δĝ and texts by +½δĝ (ĝ the unit gap vector),
re-normalise, and record the loss against the signed centroid distance, whose sign is taken
relative to the original gap vector (not a PCA axis, whose orientation is arbitrary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gap import gap_vector, shift_along_gap, signed_gap_distance
from .loss import contrastive_loss


def default_deltas() -> np.ndarray:
    return np.arange(-5.0, 5.0, 0.25)


@dataclass(frozen=True)
class LossLandscape:
    deltas: np.ndarray
    distances: np.ndarray
    losses: np.ndarray
    variant: str
    batch_size: int | None
    logit_scale: float
    note: str = ""  # how it was computed, when not over every batch


def loss_landscape(
    image,
    text,
    logit_scale: float,
    deltas=None,
    batch_size: int | None = 50,
    variant: str = "symmetric",
) -> LossLandscape:
    deltas = default_deltas() if deltas is None else np.asarray(deltas, dtype=np.float64)
    reference = gap_vector(image, text)
    distances, losses = [], []
    for d in deltas:
        x, y = shift_along_gap(image, text, float(d), direction=reference)
        distances.append(signed_gap_distance(x, y, reference))
        losses.append(contrastive_loss(x, y, logit_scale, batch_size=batch_size, variant=variant))
    return LossLandscape(deltas, np.asarray(distances), np.asarray(losses), variant, batch_size, float(logit_scale))
