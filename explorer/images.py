"""Where a PairSet's images come from.

An image source knows how many images it has, a short reference for each (a path relative to
its root, a URL or a generator key), how to open one as an RGB PIL image, and a fingerprint
that changes when the images change (used to address cached embeddings).

File-backed sources resolve every reference strictly inside their root, so a thumbnail
endpoint built on them cannot be led outside the dataset (no path traversal).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import DataError, MissingResourceError


@runtime_checkable
class ImageSource(Protocol):
    def __len__(self) -> int: ...

    def ref(self, i: int) -> str: ...

    def open(self, i: int):  # -> PIL.Image.Image
        ...

    def fingerprint(self) -> str: ...

    def take(self, indices: Sequence[int]) -> ImageSource: ...


def resolved(path: Path) -> Path:
    """``path.resolve()``, with a symlink loop (RuntimeError on Python 3.11, OSError later) or a
    name too long for the system as a DataError naming the path."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as exc:
        raise DataError(f"{path}: cannot be resolved ({exc.strerror if isinstance(exc, OSError) and exc.strerror else 'a symlink loop'})") from exc


def resolve_under(root: Path, rel: str) -> Path:
    """`root / rel`, refusing anything that resolves outside `root` (``..``, absolute, links)."""
    root = Path(root).resolve()
    if not rel or "\x00" in rel:
        raise DataError(f"invalid image reference {rel!r}")
    candidate = resolved(root / rel)
    if candidate != root and root not in candidate.parents:
        raise DataError(f"image reference {rel!r} points outside the dataset root {root}")
    return candidate


def open_rgb(path: Path):
    """Open an image file fully (so truncated files fail here, not later) as RGB."""
    from PIL import Image

    if not path.exists():
        raise MissingResourceError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except MissingResourceError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc


class FileImages:
    """Images stored as files under one root directory."""

    def __init__(self, root: Path | str, relpaths: Sequence[str]):
        self.root = Path(root).resolve()
        self.relpaths = tuple(str(p) for p in relpaths)

    def __len__(self) -> int:
        return len(self.relpaths)

    def ref(self, i: int) -> str:
        return self.relpaths[i]

    def path(self, i: int) -> Path:
        return resolve_under(self.root, self.relpaths[i])

    def open(self, i: int):
        return open_rgb(self.path(i))

    def fingerprint(self) -> str:
        """Hash of each file's relative path, size and modification time (like make)."""
        h = hashlib.sha256(b"files-v1")
        for rel in self.relpaths:
            p = self.root / rel
            try:
                st = os.stat(p)
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{rel}\0missing\n".encode())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> FileImages:
        return FileImages(self.root, [self.relpaths[i] for i in indices])
