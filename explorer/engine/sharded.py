"""`ShardedRows`: several 2-D arrays (memory-mapped shards) addressed as one (N, D) array.

A clip-retrieval folder holds its embeddings in shards (``img_emb_0.npy``, ``img_emb_1.npy``,
...). When every shard already holds unit rows of one dtype, nothing needs converting: the
shards stay memory-mapped, and this class answers the reads the engine makes (``gather`` in
:mod:`explorer.engine.space`: a slice of consecutive rows, or the rows of an index array), each
reading only the rows asked for from the shards that hold them. Row r of the whole is row
``r - offsets[k]`` of shard k, where k is the last shard whose offset is ≤ r.

Supported: ``shape``, ``dtype``, ``ndim``, ``len``, ``nbytes``; indexing by an integer, a slice,
an integer or boolean array, and a tuple whose first item is one of those (the rest applied to
the rows read). A slice inside one shard is that shard's view (no copy); anything else is a new
array of just the rows read. ``np.asarray`` of the whole copies every shard into memory (for
small exports only: the engine never does it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ShardedRows:
    """Rows of `parts` (2-D arrays of one dtype and width) one after another (module docstring)."""

    def __init__(self, parts: Sequence[Any]):
        parts = list(parts)
        if not parts:
            raise ValueError("ShardedRows needs at least one shard")
        first = parts[0]
        for p in parts:
            if getattr(p, "ndim", None) != 2 or p.shape[1] != first.shape[1] or p.dtype != first.dtype:
                raise ValueError(f"shards must be 2-D arrays of one dtype and width; got {getattr(p, 'dtype', '?')} "
                                 f"{getattr(p, 'shape', '?')} after {first.dtype} {first.shape}")
        self.parts = parts
        self.offsets = np.concatenate([[0], np.cumsum([int(p.shape[0]) for p in parts])]).astype(np.int64)
        self.shape = (int(self.offsets[-1]), int(first.shape[1]))
        self.dtype = first.dtype
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        return int(sum(p.nbytes for p in self.parts))

    def __memo_bytes__(self) -> int:  # memory-mapped: nothing held in memory (explorer.engine.memo)
        return 0

    def __repr__(self) -> str:
        return f"ShardedRows({len(self.parts)} shards, shape={self.shape}, dtype={self.dtype})"

    def shard_of(self, rows: np.ndarray) -> np.ndarray:
        """The shard holding each (non-negative, in range) row."""
        return np.searchsorted(self.offsets, rows, side="right") - 1

    def _slice(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        k, last = (int(v) for v in self.shard_of(np.array([start, stop - 1])))
        if k == last:
            o = int(self.offsets[k])
            return self.parts[k][start - o : stop - o]
        pieces = []
        for j in range(k, last + 1):
            o = int(self.offsets[j])
            pieces.append(np.asarray(self.parts[j][max(start - o, 0) : min(stop, int(self.offsets[j + 1])) - o]))
        return np.concatenate(pieces)

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((rows.size, self.shape[1]), dtype=self.dtype)
        if rows.size == 0:
            return out
        which = self.shard_of(rows)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(self.parts) + 1))
        for k in range(len(self.parts)):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if a == b:
                continue
            sel = order[a:b]
            out[sel] = self.parts[k][rows[sel] - self.offsets[k]]
        return out

    def _index(self, key: Any) -> np.ndarray:
        n = self.shape[0]
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"boolean index of shape {idx.shape} for {n} rows")
            return np.flatnonzero(idx)
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        if idx.ndim > 1:
            raise IndexError(f"rows must be a 1-D index, got shape {idx.shape}")
        if idx.dtype.kind not in "iu":
            raise IndexError(f"rows must be integers, slices or booleans, got {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        return idx

    def __getitem__(self, key: Any):
        if isinstance(key, tuple):
            head = self[key[0]] if key else self[slice(None)]
            rest = key[1:]
            if not rest:
                return head
            return head[rest] if np.ndim(head) == 1 else head[(slice(None),) + rest]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.shape[0] if int(key) < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {int(key)} out of range for {self.shape[0]} rows")
            k = int(self.shard_of(np.array([i]))[0])
            return self.parts[k][i - int(self.offsets[k])]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1:
                return self._slice(start, max(start, stop))
            return self._rows(np.arange(start, stop, step, dtype=np.int64))
        return self._rows(self._index(key))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = np.concatenate([np.asarray(p) for p in self.parts]) if len(self.parts) > 1 else np.array(self.parts[0])
        return whole if dtype is None else whole.astype(dtype, copy=False)
