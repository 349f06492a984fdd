"""Thumbnails of pair images, and the URL scheme the app serves them under.

Thumbnails travel to the browser as URLs, never as base64 over the websocket:

    /thumb/<token>/<pair-index>.png

`token` names a registered PairSet (a short hash of its fingerprint, see :func:`register`);
`pair-index` is the row of that PairSet. The browser only ever sends a token and an integer, so
no path can come from it; the image itself is opened by the PairSet's ImageSource, which
resolves files strictly inside the dataset root.

The app mounts an HTTP handler that calls :func:`thumbnail_for_path` (or :func:`thumbnail_png`)
for ``/thumb/...``. Static reports may inline a few small thumbnails with :func:`data_url`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from collections import OrderedDict
from typing import Any

from .errors import DataError, MissingResourceError
from .pairs import PairSet

#: URL path prefix of the thumbnail endpoint (the app may mount it elsewhere and change this)
URL_PREFIX = "/thumb"
DEFAULT_SIZE = 128
MAX_SIZE = 512
_CACHE_ITEMS = 2048

_PATH = re.compile(r"^/?(?:.*/)?thumb/([0-9a-f]{8,64})/([0-9]{1,9})\.png$")
_TOKEN = re.compile(r"^[0-9a-f]{8,64}$")

_registry: dict[str, PairSet] = {}
#: token -> why the first refused thumbnail of that set was refused (shown once in the UI)
_refused: dict[str, str] = {}
_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_lock = threading.Lock()


def token_for(pairs: PairSet) -> str:
    """The token of a PairSet: 16 hex digits of its content fingerprint."""
    return hashlib.sha256(pairs.fingerprint().encode()).hexdigest()[:16]


def register(pairs: PairSet) -> str:
    """Make `pairs`' images servable; returns its token (stable across sessions)."""
    token = token_for(pairs)
    with _lock:
        _registry[token] = pairs
    return token


def registered(token: str) -> PairSet | None:
    with _lock:
        return _registry.get(token)


def thumb_url(token: str, index: int) -> str:
    """``/thumb/<token>/<index>.png``; index must be a non-negative integer."""
    if not _TOKEN.match(str(token)):
        raise ValueError(f"not a thumbnail token: {token!r}")
    i = int(index)
    if i < 0:
        raise ValueError(f"pair index must be non-negative, got {index}")
    return f"{URL_PREFIX}/{token}/{i}.png"


def parse_thumb_path(path: str) -> tuple[str, int]:
    """(token, index) from a request path; DataError for anything else (no other characters pass)."""
    m = _PATH.match(str(path).split("?", 1)[0])
    if not m:
        raise DataError(f"not a thumbnail path: {str(path)[:100]!r}")
    return m.group(1), int(m.group(2))


def render_png(image: Any, size: int = DEFAULT_SIZE) -> bytes:
    """A PIL image scaled to fit a size×size box (aspect kept, never enlarged), as PNG bytes."""
    from PIL import Image

    size = int(max(8, min(size, MAX_SIZE)))
    im = image.convert("RGB")
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def thumbnail_png(pairs: PairSet, index: int, size: int = DEFAULT_SIZE) -> bytes:
    """PNG bytes of pair `index`'s image, at most size×size (≤ 512), cached in memory.

    Raises MissingResourceError when the PairSet has no images, IndexError-free DataError for an
    index out of range, and the ImageSource's errors for missing or corrupt files.
    """
    i = int(index)
    if pairs.images is None:
        raise MissingResourceError(f"{pairs.recipe}: this source has no images (embeddings only)")
    if not 0 <= i < len(pairs):
        raise DataError(f"{pairs.recipe}: no pair {i} (there are {len(pairs)})")
    size = int(max(8, min(size, MAX_SIZE)))
    key = (token_for(pairs), i, size)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    png = render_png(pairs.images.open(i), size)
    with _lock:
        _cache[key] = png
        while len(_cache) > _CACHE_ITEMS:
            _cache.popitem(last=False)
    return png


def thumbnail_for_path(path: str, size: int = DEFAULT_SIZE) -> bytes:
    """Serve a ``/thumb/<token>/<i>.png`` request: PNG bytes, or DataError/MissingResourceError (→ 404)."""
    token, i = parse_thumb_path(path)
    pairs = registered(token)
    if pairs is None:
        raise MissingResourceError(f"unknown thumbnail set {token}")
    try:
        return thumbnail_png(pairs, i, size)
    except (DataError, MissingResourceError) as exc:
        note_refusal(token, f"pair {i}: {exc}")
        raise


def note_refusal(token: str, reason: str) -> None:
    """Remember why a thumbnail of set `token` was refused (the first reason only)."""
    with _lock:
        _refused.setdefault(token, str(reason)[:500])


def refusal(token: str | None) -> str | None:
    """Why a thumbnail of set `token` was refused, if one was (the first reason), else None."""
    if token is None:
        return None
    with _lock:
        return _refused.get(token)


def image_problem(pairs: PairSet | None) -> str | None:
    """Why the first image of `pairs` cannot be served as a thumbnail (a file missing, outside the
    dataset's image root, a link pointing out of it), or None. Cheap: resolves one path, opens no
    image; a file-backed source only."""
    if pairs is None or pairs.images is None or not len(pairs) or not hasattr(pairs.images, "path"):
        return None
    try:
        path = pairs.images.path(0)
    except (DataError, MissingResourceError) as exc:
        return str(exc)
    if not path.is_file():
        return f"image file not found: {path}"
    return None


def data_url(pairs: PairSet, index: int, size: int = 64) -> str:
    """A small inline ``data:image/png;base64,...`` thumbnail for static reports."""
    return "data:image/png;base64," + base64.b64encode(thumbnail_png(pairs, index, size)).decode("ascii")
