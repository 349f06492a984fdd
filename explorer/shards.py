"""The shards of one embedding run: the unit of resumption and of work on a dask cluster.

A run cuts its pairs into shards (explorer.embed); each finished shard is written atomically under
``<store>/tmp/<key>.partial/`` (:class:`PartialShards`), so an interrupted run leaves no store entry
and the next one computes only the missing shards. A full disk, a file-size limit or a read-only
folder while writing is one sentence naming the file (:func:`explorer.store.writing`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .store import EmbeddingStore, writing


@dataclass
class ShardResult:
    """Embeddings of pairs start..stop-1; rows of `failed` (global index -> reason) are zeros."""

    start: int
    stop: int
    image: np.ndarray
    text: np.ndarray
    failed: dict[int, str]


class PartialShards:
    """Finished shards of one interrupted or running computation, under ``<store>/tmp/<key>.partial``.

    ``meta.json`` records what the shards belong to (number of pairs, dataset fingerprint, model id,
    shard size); a folder left by a different computation under the same key is discarded. Each
    shard is one ``.npz`` written to a temporary name, flushed and renamed, so a shard file is
    either complete or absent; an unreadable one is recomputed.
    """

    def __init__(self, store: EmbeddingStore, key: str):
        self.dir = store.tmp_dir / f"{key}.partial"

    def prepare(self, meta: Mapping[str, Any], shard_size: int) -> int:
        """Create or validate the folder; returns the shard size to use (a resumed run keeps the old one)."""
        with writing(self.dir):
            return self._prepare(meta, shard_size)

    def _prepare(self, meta: Mapping[str, Any], shard_size: int) -> int:
        mf = self.dir / "meta.json"
        if mf.is_file():
            try:
                old = json.loads(mf.read_text(encoding="utf-8"))
                if all(old.get(k) == v for k, v in meta.items()) and int(old["shard_size"]) > 0:
                    return int(old["shard_size"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".meta.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps({**meta, "shard_size": shard_size}, indent=1), encoding="utf-8")
            os.replace(tmp, mf)
        finally:
            tmp.unlink(missing_ok=True)
        return shard_size

    def _file(self, start: int, stop: int) -> Path:
        return self.dir / f"shard-{start:010d}-{stop:010d}.npz"

    def read(self, start: int, stop: int) -> ShardResult | None:
        f = self._file(start, stop)
        if not f.is_file():
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                image, text = z["image"], z["text"]
                failed = dict(zip(z["failed_index"].tolist(), z["failed_reason"].tolist(), strict=True))
            if image.shape[0] != stop - start or text.shape != image.shape:
                raise ValueError("wrong shape")
            return ShardResult(start, stop, image, text, {int(k): str(v) for k, v in failed.items()})
        except Exception:
            f.unlink(missing_ok=True)
            return None

    def write(self, shard: ShardResult) -> None:
        target = self._file(shard.start, shard.stop)
        tmp = self.dir / f".{target.name}.{os.getpid()}.tmp"
        idx = np.asarray(sorted(shard.failed), dtype=np.int64)
        reasons = np.asarray([shard.failed[i] for i in idx.tolist()], dtype=str) if idx.size else np.zeros(0, dtype="<U1")
        try:
            with writing(target):
                self.dir.mkdir(parents=True, exist_ok=True)  # a concurrent run of the same key may have finished and removed it
                with open(tmp, "wb") as f:
                    np.savez(f, image=shard.image, text=shard.text, failed_index=idx, failed_reason=reasons)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
