"""The thumbnail HTTP endpoint: ``GET /thumb/<token>/<pair-index>.png``.

The browser sends only a token (hex digits naming a PairSet registered by a session with
:func:`explorer.thumbnails.register`) and an integer; the handler never sees a path. The image is
opened by the PairSet's own ImageSource, which resolves files strictly inside the dataset root,
so only the loaded dataset's images can be served. Anything else answers 404 with a plain-text
body (no echo of the request).

Three ways the route gets mounted:
- ``python -m explorer serve`` passes :func:`thumbnail_patterns` to ``pn.serve(extra_patterns=)``;
- ``panel serve apps/explorer_app.py --plugins explorer.app.routes`` reads :data:`ROUTES`;
- plain ``panel serve apps/explorer_app.py``: the app calls :func:`ensure_route` when a session
  starts, which adds the handler to the running Bokeh/Tornado application once.
"""

from __future__ import annotations

import gc
import logging
import threading

from tornado.web import RequestHandler

from .. import thumbnails
from ..errors import ExplorerError

log = logging.getLogger(__name__)

#: URL pattern of the endpoint (token: 8-64 hex digits; index: up to 9 decimal digits)
PATTERN = r"/thumb/([0-9a-f]{8,64})/([0-9]{1,9})\.png"

_mounted_on: set[int] = set()
_lock = threading.Lock()


class ThumbnailHandler(RequestHandler):
    """Serves PNG thumbnails of registered PairSets by index."""

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'")

    def get(self, token: str, index: str) -> None:
        try:
            png = thumbnails.thumbnail_for_path(f"/thumb/{token}/{index}.png")
        except ExplorerError:
            self._not_found()
            return
        except Exception:  # a broken image file must not take the page down; logged, not echoed
            log.exception("thumbnail %s/%s failed", token, index)
            self._not_found()
            return
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.write(png)

    def _not_found(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("no such thumbnail")


def thumbnail_patterns() -> list[tuple]:
    """Tornado URL rules for ``pn.serve(extra_patterns=...)``."""
    return [(PATTERN, ThumbnailHandler)]


#: for ``panel serve ... --plugins explorer.app.routes``
ROUTES = thumbnail_patterns()


def _route_present(app) -> bool:
    try:
        rules = app.wildcard_router.rules + app.default_router.rules
    except AttributeError:
        return False
    stack = list(rules)
    while stack:
        rule = stack.pop()
        target = getattr(rule, "target", None)
        if target is ThumbnailHandler:
            return True
        stack.extend(getattr(target, "rules", []) or [])
    return False


def ensure_route() -> int:
    """Mount the endpoint on every running Bokeh server of this process that lacks it.

    Returns the number of servers that have the route afterwards. Used by apps served with a
    plain ``panel serve`` (which offers no public hook for extra routes at run time).
    """
    try:
        from bokeh.server.tornado import BokehTornado
    except ImportError:  # pragma: no cover - bokeh is a dependency
        return 0
    with _lock:
        apps = [o for o in gc.get_referrers(BokehTornado) if isinstance(o, BokehTornado)]
        count = 0
        for app in apps:
            if id(app) in _mounted_on or _route_present(app):
                _mounted_on.add(id(app))
                count += 1
                continue
            app.add_handlers(r".*", thumbnail_patterns())
            _mounted_on.add(id(app))
            count += 1
        return count
