"""The gap anatomy of the shown pairs at any size (the measures of :mod:`explorer.analysis.anatomy`).

Each is computed for a gap setting (α, re-normalised or not: the displayed vectors of
:class:`~explorer.engine.space.PairSpace`), memoised, and says when it is estimated:

- **one pass, exact**, O(M·D): alignment, the cone of each modality (from its unit sum), the
  centroid norms and the coordinate gap shares (from the displayed centroids; None when the
  residual gap is shorter than `NO_GAP_BELOW`, as after closing without re-normalising);
- **over a seeded sample above a stated size**: uniformity over all pairs of
  `UNIFORMITY_SAMPLE` points (exact up to `UNIFORMITY_EXACT_UP_TO`), the principal gap shares
  and effective ranks over the PCA of `PCA_SAMPLE` pairs (exact up to `PCA_EXACT_UP_TO`; the gap
  vector itself always over all pairs), the linear separability over `SEPARABILITY_SAMPLE` pairs
  (all up to `SEPARABILITY_EXACT_UP_TO`), `SEPARABILITY_FOLDS`-fold, after closing with the
  closing fitted on each fold's training pairs;
- **closing only the top-k gap dimensions**: distance, loss and R@1 by the engine's own closing
  arithmetic (:mod:`explorer.engine.numbers`) on a :class:`TopKGapSpace`, whose gap vector is
  Δ_k; so the loss is exact at any size and R@1 is estimated as the engine's R@k is.

Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis import anatomy as A
from ..errors import DataError
from .memo import MEMO
from .numbers import gap_distance, loss, recall, sample_positions
from .space import PairSpace, Stats, gather

#: k of the top-k shares and of the top-k closing
TOP_K = 10
#: how many of the largest coordinate / principal contributions the bar chart lists
BARS = 20
UNIFORMITY_EXACT_UP_TO = 2_000
UNIFORMITY_SAMPLE = 2_000
PCA_EXACT_UP_TO = 10_000
PCA_SAMPLE = 10_000
SEPARABILITY_EXACT_UP_TO = 5_000
SEPARABILITY_SAMPLE = 5_000
SEPARABILITY_FOLDS = 5
#: a residual gap shorter than this (e.g. closed without re-normalising) has no shares: they would
#: be those of rounding errors (float32 storage); the share keys are then None
NO_GAP_BELOW = 1e-6

#: the keys `gap-table --json` adds after explorer.analysis.summary.GAP_TABLE_KEYS, in order
#: ("original": the re-normalised embeddings; "closed": after the table's closing)
ANATOMY_KEYS = (
    "top_k",
    "original_alignment", "closed_alignment",
    "original_uniformity_image", "original_uniformity_text", "closed_uniformity_image", "closed_uniformity_text",
    "original_cone_image", "original_cone_text", "closed_cone_image", "closed_cone_text",
    "original_centroid_norm_image", "original_centroid_norm_text", "closed_centroid_norm_image", "closed_centroid_norm_text",
    "original_top_k_coordinates_share", "original_top_k_components_share",
    "closed_top_k_coordinates_share", "closed_top_k_components_share",
    "original_effective_rank_image", "original_effective_rank_text", "closed_effective_rank_image", "closed_effective_rank_text",
    "original_separability", "closed_separability",
    "closed_r1_image_to_text", "closed_r1_text_to_image",
    "top_k_closed_distance", "top_k_closed_loss", "top_k_loss_difference",
    "top_k_closed_r1_image_to_text", "top_k_closed_r1_text_to_image",
    "gap_dimensions", "gap_components",
    "uniformity_method", "pca_method", "separability_method", "recall_method",
)


@dataclass(frozen=True)
class PointSample:
    """Which shown pairs a sampled measure used: all, or a seeded sample of `positions`."""

    positions: np.ndarray
    m: int

    @property
    def exact(self) -> bool:
        return self.positions.size >= self.m

    def describe(self) -> str:
        return "exact" if self.exact else f"a seeded sample of {self.positions.size:,} of the {self.m:,} pairs"


def point_sample(m: int, exact_up_to: int, size: int, seed: int = 0) -> PointSample:
    return PointSample(np.arange(m, dtype=np.int64) if m <= exact_up_to else sample_positions(m, size, seed), m)


def _need_two(space: PairSpace) -> None:
    if space.m < 2:
        raise DataError(f"the gap anatomy needs at least 2 shown pairs, got {space.m}")


def _bars(order: np.ndarray, shares: np.ndarray, bars: int, name: str, offset: int = 0) -> list[dict[str, Any]]:
    return [{name: int(order[j]) + offset, "share": float(shares[j])} for j in range(min(int(bars), shares.size))]


# -- one pass -------------------------------------------------------------------------------
def pass_measures(space: PairSpace, alpha: float = 0.0, renormalize: bool = True, top_k: int = TOP_K,
                  bars: int = BARS) -> dict[str, Any]:
    """Alignment, cones, centroid norms and the coordinate gap shares (the top-k's sum and the
    `bars` largest, with Δ_d) of the displayed vectors: exact, one pass."""
    _need_two(space)
    raw = MEMO.get(("anatomy-pass", space.key, float(alpha), bool(renormalize)),
                   lambda: _one_pass(space, float(alpha), bool(renormalize)))
    out = {k: v for k, v in raw.items() if k not in ("order", "shares", "delta")}
    gap = float(np.linalg.norm(raw["delta"])) >= NO_GAP_BELOW
    out["top_k_coordinates_share"] = A.top_k_share(raw["shares"], top_k) if gap else None
    out["gap_dimensions"] = [dict(b, delta=float(raw["delta"][b["dimension"]]))
                             for b in _bars(raw["order"], raw["shares"], bars, "dimension")] if gap else []
    return out


def _one_pass(space: PairSpace, alpha: float, renorm: bool) -> dict[str, Any]:
    d = space.dim
    sums = {"image": np.zeros(d), "text": np.zeros(d)}
    aligned = 0.0
    for s, e, _rows in space.chunks():
        pos = np.arange(s, e)
        x, y = space.vectors("image", pos, alpha, renorm), space.vectors("text", pos, alpha, renorm)
        aligned += A.alignment(x, y) * (e - s)
        sums["image"] += A.unit_sum(x)
        sums["text"] += A.unit_sum(y)
    mx, my = space.centroids(alpha, renorm)
    order, shares = A.coordinate_gap_shares(mx - my)
    return {
        "alignment": aligned / space.m,
        "cone_image": A.cone_from_unit_sum(sums["image"], space.m), "cone_text": A.cone_from_unit_sum(sums["text"], space.m),
        "centroid_norm_image": float(np.linalg.norm(mx)), "centroid_norm_text": float(np.linalg.norm(my)),
        "order": order, "shares": shares, "delta": mx - my,
    }


# -- sampled --------------------------------------------------------------------------------
def sampled_measures(space: PairSpace, alpha: float = 0.0, renormalize: bool = True, top_k: int = TOP_K, bars: int = BARS,
                     *, seed: int = 0) -> dict[str, Any]:
    """Uniformity, principal gap shares (the top-k's sum and the `bars` largest), effective ranks
    and linear separability of the displayed vectors, over seeded samples above the stated sizes
    (``*_method`` says how)."""
    _need_two(space)
    raw = MEMO.get(("anatomy-sampled", space.key, float(alpha), bool(renormalize), int(seed)),
                   lambda: _sampled(space, float(alpha), bool(renormalize), int(seed)))
    out = {k: v for k, v in raw.items() if k != "shares"}
    gap = float(np.linalg.norm(np.subtract(*space.centroids(alpha, renormalize)))) >= NO_GAP_BELOW
    out["top_k_components_share"] = A.top_k_share(raw["shares"], top_k) if gap else None
    out["gap_components"] = _bars(np.arange(raw["shares"].size), raw["shares"], bars, "component", offset=1) if gap else []
    return out


def _sampled(space: PairSpace, alpha: float, renorm: bool, seed: int) -> dict[str, Any]:
    def rows(sample: PointSample):
        return (space.vectors("image", sample.positions, alpha, renorm), space.vectors("text", sample.positions, alpha, renorm))

    out: dict[str, Any] = {}
    uni = point_sample(space.m, UNIFORMITY_EXACT_UP_TO, UNIFORMITY_SAMPLE, seed)
    for name, z in zip(("image", "text"), rows(uni), strict=False):
        out[f"uniformity_{name}"] = A.uniformity(z)
    pca = point_sample(space.m, PCA_EXACT_UP_TO, PCA_SAMPLE, seed)
    x, y = rows(pca)
    out["effective_rank_image"], out["effective_rank_text"] = A.effective_rank(x), A.effective_rank(y)
    mx, my = space.centroids(alpha, renorm)
    out["shares"] = A.principal_gap_shares(np.vstack([x, y]), mx - my)  # Δ over all pairs, the directions from the sample
    sep = point_sample(space.m, SEPARABILITY_EXACT_UP_TO, SEPARABILITY_SAMPLE, seed)
    # the closing is fitted on each fold's training pairs (explorer.analysis.anatomy.linear_separability)
    originals = (space.vectors("image", sep.positions, 0.0, True), space.vectors("text", sep.positions, 0.0, True))
    out["separability"] = A.linear_separability(*originals, folds=SEPARABILITY_FOLDS, seed=seed, alpha=alpha, renormalize=renorm)
    folds = min(SEPARABILITY_FOLDS, sep.positions.size)
    out["uniformity_method"] = "exact" if uni.exact else f"over all pairs of {uni.describe()}"
    out["pca_method"] = "exact" if pca.exact else f"principal directions and spectra of {pca.describe()}"
    out["separability_method"] = (f"{folds}-fold (seed {seed}) logistic regression, C = {A.SEPARABILITY_C:g}, over "
                                  + ("all pairs" if sep.exact else sep.describe())
                                  + ("; after closing, each fold closed with its training pairs' Δ" if alpha > 0 else ""))
    return out


# -- closing the top-k gap dimensions -------------------------------------------------------
@dataclass(frozen=True)
class _TopKStats(Stats):
    """The shown pairs' statistics with the gap vector replaced by Δ_k (p, q = x·Δ_k, y·Δ_k)."""

    restricted: np.ndarray = None

    @property
    def delta(self) -> np.ndarray:
        return self.restricted


class TopKGapSpace(PairSpace):
    """The pairs of `space` whose gap vector is Δ_k (:func:`explorer.analysis.anatomy.top_k_gap_vector`):
    closing it by α shows x − αΔ_k/2 and y + αΔ_k/2 (re-normalised or not), and every function of
    :mod:`explorer.engine.numbers` (distance, loss, R@k) applies to it unchanged."""

    def __init__(self, space: PairSpace, k: int):
        super().__init__(space.image, space.text, None if space.all else space.active,
                         key=("top-k gap", int(k), space.key), active_key="shown")
        self.base, self.k = space, int(k)

    def _stats(self) -> Stats:
        st = self.base.stats()
        dk = A.top_k_gap_vector(st.delta, self.k)
        keep = np.flatnonzero(dk)
        p, q = np.empty(st.m), np.empty(st.m)
        for s, e, rows in self.chunks():
            x, y = gather(self.image, rows), gather(self.text, rows)
            p[s:e] = x[:, keep].astype(np.float64) @ dk[keep]
            q[s:e] = y[:, keep].astype(np.float64) @ dk[keep]
        return _TopKStats(st.m, st.dim, st.sum_x, st.sum_y, st.sq_x, st.sq_y, st.dot_xy, p, q, restricted=dk)


def top_k_closing(space: PairSpace, k: int, *, logit_scale: float, batch_size: int = 50, variant: str = "symmetric",
                  alpha: float = 1.0, renormalize: bool = True, seed: int = 0) -> dict[str, Any]:
    """Distance, loss and R@1 both ways after closing only the top-k gap dimensions by α."""
    top = TopKGapSpace(space, k)
    r = recall(top, alpha, renormalize, ks=(1,), seed=seed)
    return {
        "distance": gap_distance(top, alpha, renormalize),
        "loss": loss(top, logit_scale, batch_size, variant, alpha, renormalize),
        "r1_image_to_text": r.values["image_to_text@1"], "r1_text_to_image": r.values["text_to_image@1"],
        "recall_method": r.describe(),
    }


# -- the table's keys -----------------------------------------------------------------------
def anatomy_row(space: PairSpace, *, logit_scale: float, batch_size: int = 50, variant: str = "symmetric",
                alpha: float = 1.0, renormalize: bool = True, seed: int = 0, top_k: int = TOP_K, bars: int = BARS,
                original_loss: float | None = None) -> dict[str, Any]:
    """The ANATOMY_KEYS of one model: every measure before (the re-normalised embeddings) and
    after closing the gap by α, R@1 after closing, and the top-k closing (distance, loss, its
    difference from `original_loss` (computed when not given), R@1)."""
    row: dict[str, Any] = {"top_k": int(top_k)}
    when = {"original": (0.0, True), "closed": (float(alpha), bool(renormalize))}
    measured = {w: {**pass_measures(space, a, r, top_k, bars), **sampled_measures(space, a, r, top_k, bars, seed=seed)}
                for w, (a, r) in when.items()}
    for name in ("alignment", "uniformity_image", "uniformity_text", "cone_image", "cone_text", "centroid_norm_image",
                 "centroid_norm_text", "top_k_coordinates_share", "top_k_components_share", "effective_rank_image",
                 "effective_rank_text", "separability"):
        for w in when:
            row[f"{w}_{name}"] = measured[w][name]
    closed_r = recall(space, alpha, renormalize, seed=seed)  # R@1/5/10: the app's numbers ask for the same (memo)
    row["closed_r1_image_to_text"] = closed_r.values["image_to_text@1"]
    row["closed_r1_text_to_image"] = closed_r.values["text_to_image@1"]
    top = top_k_closing(space, top_k, logit_scale=logit_scale, batch_size=batch_size, variant=variant, alpha=alpha,
                        renormalize=renormalize, seed=seed)
    if original_loss is None:
        original_loss = loss(space, logit_scale, batch_size, variant, 0.0, True)
    row.update(top_k_closed_distance=top["distance"], top_k_closed_loss=top["loss"],
               top_k_loss_difference=top["loss"] - original_loss,
               top_k_closed_r1_image_to_text=top["r1_image_to_text"], top_k_closed_r1_text_to_image=top["r1_text_to_image"])
    row["gap_dimensions"] = measured["original"]["gap_dimensions"]
    row["gap_components"] = measured["original"]["gap_components"]
    for name in ("uniformity_method", "pca_method", "separability_method"):
        row[name] = measured["closed"][name]
    row["recall_method"] = closed_r.describe()
    row = {k: row[k] for k in ANATOMY_KEYS}
    return row
