"""The article's gap table: one row of numbers per (source, model)."""

from __future__ import annotations

from typing import Any

from .gap import close_gap, gap_distance
from .loss import contrastive_loss
from .retrieval import recall_at_k
from .similarity import cross_modal_asymmetry, mean_abs_in_modal_difference

#: the keys of `gap-table --json`, in order
GAP_TABLE_KEYS = (
    "source",
    "model",
    "n",
    "logit_scale",
    "loss_variant",
    "original_distance",
    "original_loss",
    "closed_distance",
    "closed_loss",
    "loss_difference",
    "r1_image_to_text",
    "r1_text_to_image",
)


def gap_table_row(
    image,
    text,
    *,
    logit_scale: float,
    source: str = "",
    model: str = "",
    batch_size: int | None = 50,
    variant: str = "symmetric",
    alpha: float = 1.0,
    renormalize: bool = True,
) -> dict[str, Any]:
    """Distance and loss before and after closing the gap, and R@1 both ways (before closing)."""
    closed_x, closed_y = close_gap(image, text, alpha=alpha, renormalize=renormalize)
    original_loss = contrastive_loss(image, text, logit_scale, batch_size, variant)
    closed_loss = contrastive_loss(closed_x, closed_y, logit_scale, batch_size, variant)
    recall = recall_at_k(image, text, ks=(1,))
    row = {
        "source": source,
        "model": model,
        "n": int(len(image)),
        "logit_scale": float(logit_scale),
        "loss_variant": variant,
        "original_distance": gap_distance(image, text),
        "original_loss": original_loss,
        "closed_distance": gap_distance(closed_x, closed_y),
        "closed_loss": closed_loss,
        "loss_difference": closed_loss - original_loss,
        "r1_image_to_text": recall["image_to_text@1"],
        "r1_text_to_image": recall["text_to_image@1"],
    }
    assert tuple(row) == GAP_TABLE_KEYS
    return row


def consistency_summary(image, text) -> dict[str, float]:
    """CyCLIP's consistency measures: mean|XXᵀ − YYᵀ| and mean|XYᵀ − YXᵀ|."""
    return {
        "in_modal_difference": mean_abs_in_modal_difference(image, text),
        "cross_modal_asymmetry": cross_modal_asymmetry(image, text),
    }
