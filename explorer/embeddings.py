"""`Embeddings`: the paired image and text vectors of one model over one PairSet.

Row i of `image` and row i of `text` belong to pair i (the row index is the pair id). Rows are
L2-normalised when built with :meth:`Embeddings.from_arrays`. Arrays are float32, except where a
source is exact in float64 (embeddings reconstructed from an exported similarity matrix keep
float64, because their inner products must reproduce the matrix to 1e-10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import DataError

_ALLOWED_DTYPES = (np.float32, np.float64)


def validate_pair_arrays(image: Any, text: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Check two arrays can be paired embeddings; return them as float arrays.

    Raises DataError naming `source` for: non-2-D arrays, different numbers of rows or
    dimensions, empty arrays, NaN/inf entries and all-zero rows.
    """
    arrays = []
    for name, a in (("image", image), ("text", text)):
        try:
            a = np.asarray(a)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise DataError(f"{source}: {name} embeddings cannot be read as an array ({exc})") from exc
        if a.dtype.kind not in "fiu":
            raise DataError(f"{source}: {name} embeddings have dtype {a.dtype}, expected numbers")
        if a.ndim != 2:
            raise DataError(
                f"{source}: {name} embeddings must be a 2-D array (pairs x dimensions), got shape {a.shape}"
            )
        arrays.append(a)
    x, y = arrays
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{source}: {x.shape[0]} image embeddings but {y.shape[0]} text embeddings; "
            "every pair needs one of each"
        )
    if x.shape[1] != y.shape[1]:
        raise DataError(
            f"{source}: image embeddings have {x.shape[1]} dimensions but text embeddings {y.shape[1]}; "
            "both modalities must live in one space"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{source}: no embeddings (shape {x.shape})")
    for name, a in (("image", x), ("text", y)):
        bad = ~np.isfinite(a).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError(
                f"{source}: {name} embeddings contain NaN or inf in {rows.size} row(s), first rows {rows[:5].tolist()}"
            )
        norms = np.linalg.norm(a.astype(np.float64, copy=False), axis=1)
        zero = norms == 0
        if zero.any():
            rows = np.flatnonzero(zero)
            raise DataError(
                f"{source}: {name} embeddings have {rows.size} all-zero row(s) that cannot be normalised, "
                f"first rows {rows[:5].tolist()}"
            )
    return x, y


#: provenance keys that map rows to the pairs of the dataset they were embedded from; they are
#: true only of the stored rows, so a subset or an aligned copy drops them
ROW_MAP_KEYS = ("kept_indices", "skipped")


def _take(array: Any, idx: np.ndarray) -> np.ndarray:
    """Rows `idx` of an array or of sharded rows (explorer.engine.sharded), reading only those."""
    return np.asarray(array)[idx] if isinstance(array, np.ndarray) else np.asarray(array[idx])


def without_row_map(provenance: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in provenance.items() if k not in ROW_MAP_KEYS}


def l2_normalize(a: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Rows divided by their Euclidean norm, computed in float64 and cast to `dtype`."""
    a64 = np.asarray(a, dtype=np.float64)
    return (a64 / np.linalg.norm(a64, axis=-1, keepdims=True)).astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class Embeddings:
    """Image and text embeddings of N pairs by one model.

    Build with :meth:`from_arrays` (validates and normalises); the plain constructor trusts its
    input (used by the store after checksum verification, which keeps memory maps intact).

    `logit_scale` is the multiplier s = exp(t) applied to cosine similarities (100 for OpenAI
    CLIP, 30 for CLOOB), not the log-parameter t.
    """

    image: np.ndarray
    text: np.ndarray
    model: str
    logit_scale: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls,
        image: Any,
        text: Any,
        *,
        model: str,
        logit_scale: float,
        provenance: Mapping[str, Any] | None = None,
        source: str = "embeddings",
        dtype: type = np.float32,
    ) -> Embeddings:
        if dtype not in _ALLOWED_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        x, y = validate_pair_arrays(image, text, source)
        if not np.isfinite(logit_scale) or logit_scale <= 0:
            raise DataError(f"{source}: logit scale must be a positive number, got {logit_scale}")
        return cls(
            image=l2_normalize(x, dtype),
            text=l2_normalize(y, dtype),
            model=str(model),
            logit_scale=float(logit_scale),
            provenance=dict(provenance or {}),
        )

    @property
    def n(self) -> int:
        return int(self.image.shape[0])

    @property
    def dim(self) -> int:
        return int(self.image.shape[1])

    def __len__(self) -> int:
        return self.n

    def subset(self, indices: Any) -> Embeddings:
        """The embeddings of the pairs `indices` (in that order); provenance records the subset."""
        idx = np.asarray(indices, dtype=np.int64)
        prov = without_row_map(self.provenance)
        prov["subset_of_n"] = self.n
        return replace(self, image=_take(self.image, idx), text=_take(self.text, idx), provenance=prov)

    def with_logit_scale(self, logit_scale: float) -> Embeddings:
        prov = dict(self.provenance)
        prov["logit_scale_source"] = "override"
        return replace(self, logit_scale=float(logit_scale), provenance=prov)

    def stacked(self) -> np.ndarray:
        """The (2, N, D) array (images, texts) used by `--export` and Liang et al.'s files."""
        return np.stack([np.asarray(self.image), np.asarray(self.text)])
