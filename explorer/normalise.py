"""Embeddings of any size from arrays: validated and normalised without a full copy in memory.

Small arrays (up to `IN_MEMORY_BYTES` per modality) go through :meth:`Embeddings.from_arrays`
(validated, normalised in float64, copied). Larger ones, typically memory-mapped files, are read
`CHUNK_ROWS` rows at a time: rows with NaN/inf or all zeros are reported exactly as for small
arrays (first rows named); rows that are unit vectors up to their storage precision are used in
place (memory-mapped, no copy); otherwise the normalised rows are written once, in chunks, to an
embedding-store entry keyed by `content_key` (e.g. the file's path, size and modification
time) and memory-mapped from there, so the next open costs one check of the stored entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .embeddings import Embeddings
from .errors import DataError

IN_MEMORY_BYTES = 256 * 2**20
CHUNK_ROWS = 65536
#: largest |‖x‖² − 1| of rows used as they are, by storage dtype
UNIT_TOLERANCE = {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}


def scan(image: np.ndarray, text: np.ndarray, source: str) -> bool:
    """Check two large arrays chunk by chunk (DataError naming `source` and the first bad rows);
    True when every row is a unit vector up to the storage precision."""
    for name, a in (("image", image), ("text", text)):
        if a.dtype.kind != "f":
            raise DataError(f"{source}: {name} embeddings have dtype {a.dtype}; large arrays must be float16, float32 or float64")
    if image.ndim != 2 or text.ndim != 2:
        raise DataError(f"{source}: embeddings must be 2-D arrays (pairs x dimensions), got shapes {image.shape} and {text.shape}")
    if image.shape[0] != text.shape[0]:
        raise DataError(f"{source}: {image.shape[0]} image embeddings but {text.shape[0]} text embeddings; every pair needs one of each")
    if image.shape[1] != text.shape[1]:
        raise DataError(f"{source}: image embeddings have {image.shape[1]} dimensions but text embeddings {text.shape[1]}; "
                        "both modalities must live in one space")
    unit = True
    for name, a in (("image", image), ("text", text)):
        tol = UNIT_TOLERANCE.get(a.dtype, 1e-5)
        bad_rows: list[int] = []
        zero_rows: list[int] = []
        n_bad = n_zero = 0
        for s in range(0, a.shape[0], CHUNK_ROWS):
            block = np.asarray(a[s : s + CHUNK_ROWS], dtype=np.float64)
            finite = np.isfinite(block).all(axis=1)
            if not finite.all():
                rows = np.flatnonzero(~finite) + s
                n_bad += rows.size
                bad_rows.extend(rows[: 5 - len(bad_rows)].tolist())
                continue
            sq = np.einsum("ij,ij->i", block, block)
            if (sq == 0).any():
                rows = np.flatnonzero(sq == 0) + s
                n_zero += rows.size
                zero_rows.extend(rows[: 5 - len(zero_rows)].tolist())
            unit = unit and bool(np.abs(sq - 1.0).max() <= tol)
        if n_bad:
            raise DataError(f"{source}: {name} embeddings contain NaN or inf in {n_bad} row(s), first rows {bad_rows[:5]}")
        if n_zero:
            raise DataError(f"{source}: {name} embeddings have {n_zero} all-zero row(s) that cannot be normalised, first rows {zero_rows[:5]}")
    return unit


def fill_normalised(target: np.ndarray, parts: Sequence[np.ndarray]) -> None:
    """Write the rows of `parts`, one array after the other, into `target` (e.g. a memory-mapped
    store array), each row divided by its norm in float64, `CHUNK_ROWS` rows at a time."""
    row = 0
    for src in parts:
        for s in range(0, src.shape[0], CHUNK_ROWS):
            block = np.asarray(src[s : s + CHUNK_ROWS], dtype=np.float64)
            target[row : row + block.shape[0]] = block / np.linalg.norm(block, axis=1, keepdims=True)
            row += block.shape[0]


def embeddings_from_arrays(image: Any, text: Any, *, model: str, logit_scale: float, provenance: Mapping[str, Any] | None = None,
                           source: str = "embeddings", content_key: str | None = None, store: Any = None) -> Embeddings:
    """Embeddings of `image` and `text` (see module docstring)."""
    prov = dict(provenance or {})
    if content_key:
        prov.setdefault("content_key", content_key)
    a = image if isinstance(image, np.ndarray) else np.asarray(image)
    b = text if isinstance(text, np.ndarray) else np.asarray(text)
    if a.nbytes <= IN_MEMORY_BYTES or not content_key:
        return Embeddings.from_arrays(a, b, model=model, logit_scale=logit_scale, provenance=prov, source=source)
    if not np.isfinite(logit_scale) or logit_scale <= 0:
        raise DataError(f"{source}: logit scale must be a positive number, got {logit_scale}")
    if scan(a, b, source):
        return Embeddings(a, b, model=str(model), logit_scale=float(logit_scale), provenance=prov)
    from .store import EmbeddingStore, entry_key

    store = store or EmbeddingStore()
    key = entry_key(f"normalised:{content_key}", str(model), str(a.dtype))
    if not store.contains(key):
        def fill(maps, _progress):
            for name, src in (("image", a), ("text", b)):
                fill_normalised(maps[name], [src])

        store.save_chunked(key, n=a.shape[0], dim=a.shape[1], dtype=np.float32 if a.dtype == np.float64 else a.dtype,
                           fill=fill, model=str(model), logit_scale=float(logit_scale), provenance=prov,
                           dataset={"normalised_from": source})
    emb = store.load(key)
    return Embeddings(emb.image, emb.text, model=str(model), logit_scale=float(logit_scale), provenance=prov)
