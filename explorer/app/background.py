"""Run long work (opening a source, embedding, UMAP) off the page's event loop.

On a Panel server the work runs in a daemon thread and its result is handed back to the session
with ``Document.add_next_tick_callback`` (the one Bokeh document method safe to call from other
threads), so the page stays responsive and shows progress meanwhile. In a notebook or a test
(no server session) the work runs at once, synchronously.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any, Callable

log = logging.getLogger(__name__)


def server_document():
    """The current session's Bokeh document when running on a Panel server, else None."""
    import panel as pn

    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return None
    return doc


def run_in_background(
    work: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[BaseException], None],
    *,
    name: str = "explorer-work",
) -> threading.Thread | None:
    """work() in a thread, then done(result) or failed(exc) back on the session's event loop.

    Returns the thread (None when run synchronously).
    """
    doc = server_document()
    if doc is None:
        try:
            result = work()
        except Exception as exc:  # reported to the caller's handler, like on the server
            failed(exc)
            return None
        done(result)
        return None

    def target() -> None:
        try:
            result = work()
            callback = partial(done, result)
        except Exception as exc:
            log.debug("background work failed", exc_info=True)
            callback = partial(failed, exc)
        try:
            doc.add_next_tick_callback(callback)
        except Exception:  # the session closed meanwhile
            log.debug("session gone; result dropped", exc_info=True)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
