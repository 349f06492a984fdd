"""The on-disk embedding store.

Entries are content-addressed by (dataset fingerprint, model id, preprocessing). Each entry is a
directory ``<root>/entries/<key>/`` with ``image.npy`` and ``text.npy`` (memory-mappable) and a
``manifest.json`` holding shapes, dtypes, the SHA-256 of each array file, the model id, logit
scale and provenance. An entry is written in a temporary directory and renamed into place, so a
reader sees either nothing or a complete entry. On load the checksums are verified; a corrupt or
truncated entry raises :class:`StoreError` and is never returned as data.

The root defaults to ``$BIMODAL_EXPLORER_CACHE`` or ``~/.cache/bimodal-explorer``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import Embeddings
from .errors import StoreError

MANIFEST = "manifest.json"
FORMAT = "bimodal-explorer/embeddings-v1"
_ARRAYS = ("image", "text")


#: errno -> what it means for a write into the store (the OSErrors a user fixes, not bugs)
WRITE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file-size limit (ulimit -f) was reached",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def write_error(exc: OSError, path: Path | str, root: Path | str | None = None) -> StoreError | None:
    """The one-sentence StoreError for an OSError met while writing `path`, or None for other errors."""
    why = WRITE_ERRNOS.get(exc.errno or -1)
    if why is None:
        return None
    where = f" of the embedding store {root}" if root is not None else ""
    return StoreError(f"cannot write {path}{where}: {why} ({exc.strerror or exc}); nothing was stored"
                      + ("; free some space or pass --store DIR on another disk" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "")
                      + ("; raise the limit (ulimit -f) or store less" if exc.errno == errno.EFBIG else "")
                      + ("; pass --store DIR to a writable folder" if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else ""))


@contextlib.contextmanager
def writing(path: Path | str, root: Path | str | None = None):
    """Turn a full disk, a file-size limit or a read-only folder met while writing `path` into a StoreError."""
    try:
        yield
    except OSError as exc:
        err = write_error(exc, getattr(exc, "filename", None) or path, root)
        if err is None:
            raise
        raise err from exc


def reserve(path: Path, size: int) -> None:
    """Allocate `size` bytes of `path` now, so a full disk is an OSError here rather than a SIGBUS
    when a memory map of a sparse file is written (file systems that cannot preallocate are let be)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def default_root() -> Path:
    env = os.environ.get("BIMODAL_EXPLORER_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "bimodal-explorer"


def entry_key(dataset_fingerprint: str, model_id: str, preprocessing: str = "") -> str:
    """The content address of an entry (hex, 32 characters)."""
    h = hashlib.sha256()
    for part in (dataset_fingerprint, model_id, preprocessing):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StoreEntry:
    key: str
    path: Path
    manifest: Mapping[str, Any]

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", "?"))

    @property
    def n(self) -> int:
        return int(self.manifest["arrays"]["image"]["shape"][0])


class EmbeddingStore:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()

    # -- layout -----------------------------------------------------------------------------
    @property
    def entries_dir(self) -> Path:
        return self.root / "entries"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise StoreError(f"not a store key: {key!r}")
        return self.entries_dir / key

    def contains(self, key: str) -> bool:
        return (self.path(key) / MANIFEST).is_file()

    # -- writing ----------------------------------------------------------------------------
    def save(self, key: str, emb: Embeddings, *, dataset: Mapping[str, Any] | None = None) -> StoreEntry:
        """Write `emb` under `key` atomically; an existing complete entry is kept as is."""

        def fill(arrays: Mapping[str, np.ndarray], progress: Any) -> None:
            for name in _ARRAYS:
                arrays[name][:] = np.asarray(getattr(emb, name))

        a = np.asarray(emb.image)
        return self.save_chunked(key, n=a.shape[0], dim=a.shape[1], dtype=a.dtype, fill=fill, model=emb.model,
                                 logit_scale=emb.logit_scale, provenance=emb.provenance, dataset=dataset)

    def save_chunked(self, key: str, *, n: int, dim: int, dtype: Any, fill: Any, model: str, logit_scale: float,
                     provenance: Mapping[str, Any] | None = None, dataset: Mapping[str, Any] | None = None,
                     progress: Any = None) -> StoreEntry:
        """Write an entry whose arrays ``fill(arrays, progress)`` fills in place (memory-mapped
        ``{'image': (n, dim), 'text': (n, dim)}`` arrays of `dtype`), so an entry larger than memory
        is written in chunks. Atomic like :meth:`save`: a temporary folder renamed into place once
        complete; a failure (a full disk included) leaves no entry and no temporary folder."""
        final = self.path(key)
        if self.contains(key):
            return self.entry(key)
        with writing(self.tmp_dir, self.root):
            self.entries_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=self.tmp_dir))
        try:
            with writing(tmp, self.root):
                return self._write_entry(key, tmp, final, n=n, dim=dim, dtype=dtype, fill=fill, model=model, logit_scale=logit_scale,
                                         provenance=provenance, dataset=dataset, progress=progress)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_entry(self, key: str, tmp: Path, final: Path, *, n: int, dim: int, dtype: Any, fill: Any, model: str, logit_scale: float,
                     provenance: Mapping[str, Any] | None, dataset: Mapping[str, Any] | None, progress: Any) -> StoreEntry:
        maps = {name: np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=np.dtype(dtype), shape=(int(n), int(dim)))
                for name in _ARRAYS}
        for name in _ARRAYS:
            reserve(tmp / f"{name}.npy", (tmp / f"{name}.npy").stat().st_size)
        fill(maps, progress)
        arrays: dict[str, Any] = {}
        for name, mm in maps.items():
            mm.flush()
            del mm
            f = tmp / f"{name}.npy"
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
            arrays[name] = {"file": f.name, "shape": [int(n), int(dim)], "dtype": str(np.dtype(dtype)),
                            "bytes": f.stat().st_size, "sha256": sha256_file(f)}
        maps.clear()
        manifest = {
            "format": FORMAT,
            "key": key,
            "model": model,
            "logit_scale": float(logit_scale),
            "normalized": True,
            "provenance": _jsonable(dict(provenance or {})),
            "dataset": _jsonable(dict(dataset or {})),
            "arrays": arrays,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        mf = tmp / MANIFEST
        with open(mf, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if self.contains(key):  # another writer finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return self.entry(key)
            if final.exists():  # a broken leftover without manifest: replace it
                shutil.rmtree(final)
                os.rename(tmp, final)
            else:
                raise
        fsync_dir(self.entries_dir)
        return self.entry(key)

    # -- reading ----------------------------------------------------------------------------
    def entry(self, key: str) -> StoreEntry:
        path = self.path(key)
        return StoreEntry(key, path, read_manifest(path))

    def load(self, key: str, *, mmap: bool = True, verify: bool = True) -> Embeddings:
        """The embeddings of entry `key`; raises StoreError if missing, corrupt or truncated."""
        return load_entry_dir(self.path(key), mmap=mmap, verify=verify)

    def entries(self) -> Iterator[StoreEntry]:
        if not self.entries_dir.is_dir():
            return
        for p in sorted(self.entries_dir.iterdir()):
            if (p / MANIFEST).is_file():
                try:
                    yield StoreEntry(p.name, p, read_manifest(p))
                except StoreError:
                    continue

    def remove(self, key: str) -> None:
        shutil.rmtree(self.path(key), ignore_errors=True)

    def clean_tmp(self, older_than_s: float = 3600.0, partial: bool = False) -> int:
        """Remove leftovers of interrupted writes older than `older_than_s`; returns how many.

        ``<key>.partial`` folders hold the finished shards of an interrupted embedding run, which a
        rerun resumes from: they are kept unless `partial` is true."""
        if not self.tmp_dir.is_dir():
            return 0
        removed = 0
        now = time.time()
        for p in self.tmp_dir.iterdir():
            if p.name.endswith(".partial") and not partial:
                continue
            try:
                if now - p.stat().st_mtime > older_than_s:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


def read_manifest(entry_dir: Path) -> dict[str, Any]:
    mf = Path(entry_dir) / MANIFEST
    if not mf.is_file():
        raise StoreError(f"store entry {entry_dir} has no {MANIFEST}: it is missing or was never completed")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"store entry {entry_dir}: {MANIFEST} is unreadable ({exc}); delete the entry and recompute") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError(f"store entry {entry_dir}: {MANIFEST} is not a {FORMAT} manifest")
    try:
        for name in _ARRAYS:
            info = manifest["arrays"][name]
            info["file"], info["shape"], info["dtype"], info["bytes"], info["sha256"]
        manifest["model"], manifest["logit_scale"]
    except (KeyError, TypeError) as exc:
        raise StoreError(f"store entry {entry_dir}: {MANIFEST} lacks field {exc}") from exc
    try:
        scale = float(manifest["logit_scale"])
        shapes = [[int(v) for v in manifest["arrays"][name]["shape"]] for name in _ARRAYS]
        np.dtype(manifest["arrays"]["image"]["dtype"])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"store entry {entry_dir}: {MANIFEST} has a malformed logit_scale, shape or dtype ({exc})") from exc
    if not np.isfinite(scale) or scale <= 0 or any(len(s) != 2 for s in shapes):
        raise StoreError(f"store entry {entry_dir}: {MANIFEST} has logit_scale {scale} or shapes {shapes} that no entry can have")
    return manifest


def load_entry_dir(entry_dir: Path | str, *, mmap: bool = True, verify: bool = True) -> Embeddings:
    """Load a store entry directory (also usable for an entry copied elsewhere)."""
    entry_dir = Path(entry_dir)
    manifest = read_manifest(entry_dir)
    arrays = {}
    for name in _ARRAYS:
        info = manifest["arrays"][name]
        f = entry_dir / Path(info["file"]).name
        if not f.is_file():
            raise StoreError(f"store entry {entry_dir}: {f.name} is missing")
        size = f.stat().st_size
        if size != info["bytes"]:
            raise StoreError(
                f"store entry {entry_dir}: {f.name} has {size} bytes, manifest says {info['bytes']} (truncated or overwritten)"
            )
        if verify and not _verified(f, info["sha256"]):
            raise StoreError(f"store entry {entry_dir}: {f.name} fails its checksum (corrupt); delete the entry and recompute")
        try:
            a = np.load(f, mmap_mode="r" if mmap else None, allow_pickle=False)
        except Exception as exc:
            raise StoreError(f"store entry {entry_dir}: {f.name} cannot be read ({exc})") from exc
        if list(a.shape) != list(info["shape"]) or str(a.dtype) != info["dtype"]:
            raise StoreError(f"store entry {entry_dir}: {f.name} has shape {a.shape} {a.dtype}, manifest says {info['shape']} {info['dtype']}")
        arrays[name] = a
    prov = dict(manifest.get("provenance") or {})
    prov.setdefault("store_entry", str(entry_dir))
    return Embeddings(
        image=arrays["image"],
        text=arrays["text"],
        model=str(manifest["model"]),
        logit_scale=float(manifest["logit_scale"]),
        provenance=prov,
    )


def _verified(path: Path, sha256: str) -> bool:
    """Whether `path` has the checksum `sha256`. A file checked before and unchanged since (same
    size and modification time, see explorer.file_memo) is not hashed again: hashing a 2 GB array
    takes seconds, and every open of an entry verifies it."""
    from .file_memo import FileMemo

    memo = FileMemo(Path(path).parent.parent.parent / "verified.json")
    name = f"{Path(path).parent.name}/{Path(path).name}"
    if memo.get(name, path) == sha256:
        return True
    ok = sha256_file(path) == sha256
    if ok:
        memo.put(name, path, sha256)
    return ok


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
