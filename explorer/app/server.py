"""Serving the explorer: one page per browser session, the thumbnail route, offline resources.

Both entry points build the same page from :class:`~explorer.app.options.AppOptions`:
``panel serve apps/explorer_app.py --args ...`` (via :func:`create_page`) and
``python -m explorer serve ...`` (via :func:`serve`, which mounts the thumbnail route with
``extra_patterns`` and serves the page at ``/``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .options import DEFAULT_MODELS, AppOptions

log = logging.getLogger(__name__)

#: callback threads when the server was started without --num-threads (the views compute their
#: data in them, so one session's UMAP never stalls another session's zoom)
DEFAULT_THREADS = 8


def models_for(spec: str, options: AppOptions) -> list[str]:
    """The models of a source in the menu: the given --models for the first source and for
    datasets; a precomputed source's own models (all) otherwise."""
    from ..sources import IMPORTERS, normalized_spec

    try:
        prefix, _ = normalized_spec(spec)
    except Exception:
        prefix = None
    dataset_only = prefix is not None and prefix not in IMPORTERS
    if spec == options.source or dataset_only:
        return list(options.models) or (list(DEFAULT_MODELS) if dataset_only else [])
    return []


#: what the server prints once warm (benchmarks/serve_scale.py waits for it)
WARMED_UP = "bimodal-explorer: warmed up"
_warm = {"done": False}


def warm_up_process(options: AppOptions | None = None) -> None:
    """Once per server process, before it serves: compile the kernels the views would compile at
    their first use (datashader's, for the rasterized scatter: ~7 s here), so the first visitor does
    not wait for them, and with `options` warm the served source up (:func:`warm_up_source`). Not
    in a background thread: Panel models created while another thread ran datashader's compilation
    came out with CDN stylesheet URLs (seen in the browser tests)."""
    if _warm["done"]:
        return
    _warm["done"] = True
    from ..engine.backend import one_blas_thread_per_call
    from ..views.scatter import warm_up_kernels

    one_blas_thread_per_call()  # as the views will compute (warm-up computes without them)

    said = []
    try:
        said.append(f"the rasterized scatter's kernels compiled in {warm_up_kernels():.1f} s")
    except Exception:  # a view compiles them itself when it first needs them
        log.exception("warming up the rasterized scatter's kernels failed")
    if options is not None:
        try:
            said.append(f"{options.source} opened and its first views computed in {warm_up_source(options):.1f} s")
        except Exception as exc:  # the page opens it again and shows the error
            said.append(f"{options.source} not warmed up ({type(exc).__name__}: {exc})")
    print(f"{WARMED_UP} ({'; '.join(said)})", flush=True)


def settings_of(options: AppOptions) -> dict[str, Any]:
    """The settings a session starts with."""
    kwargs: dict[str, Any] = {"seed": options.seed}
    if options.settings:
        kwargs.update(options.settings)
    if options.sample_size:
        kwargs["sample_size"] = options.sample_size
    return kwargs


def warm_up_source(options: AppOptions) -> float:
    """Open the served source and compute what a first page shows first (heatmap tile, projection,
    numbers without R@k) into the process-wide memo, as Panel's ``--warm`` would by running the
    app once: the first visitor then waits only for the page. Returns the seconds taken."""
    import time

    from ..state import ExplorerState
    from .explorer import compute_first_views, warm_up

    t = time.perf_counter()
    state = ExplorerState(source=options.source, models=list(models_for(options.source, options)), **settings_of(options))
    warm_up(state)
    compute_first_views(state)
    return time.perf_counter() - t


def create_explorer(options: AppOptions):
    """An Explorer for one session (the source opens in the background)."""
    from .explorer import Explorer

    by_source = {s: models_for(s, options) for s in options.sources}
    kwargs = settings_of(options)
    return Explorer(
        source=options.source,
        models=by_source[options.source],
        sources=options.sources,
        models_by_source=by_source,
        series_sources=options.series,
        title=options.title,
        **kwargs,
    )


def create_page(options: AppOptions):
    """The served page of one session: the template, with loading started once the page is shown."""
    import panel as pn

    from .routes import ensure_route
    from .template import configure_panel

    configure_panel()
    ensure_route()
    if not pn.config.nthreads:  # plain `panel serve`: callbacks in threads, so one session's UMAP never stalls another
        pn.config.nthreads = DEFAULT_THREADS
    from ..views.feed import trace

    trace.info("page asked for")
    ex = create_explorer(options)
    page = ex.template()
    ex.prepare()  # the source opens while the browser loads the page

    def shown() -> None:
        trace.info("page shown in the browser")
        ex.load()

    pn.state.onload(shown)
    pn.state.on_session_destroyed(lambda context: session_ended(ex))
    page.explorer = ex  # handy for debugging sessions
    return page


def enable_trace() -> None:
    """Print the views' computations and the page's loading steps with a timestamp
    (BIMODAL_EXPLORER_TRACE=1): where a page's seconds go."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d trace %(message)s", "%H:%M:%S"))
    trace = logging.getLogger("explorer.trace")
    trace.addHandler(handler)
    trace.setLevel(logging.INFO)
    trace.propagate = False


def session_ended(ex) -> None:
    """A browser session ended: its views stop and let go of their data (what the sessions share
    stays in the size-bounded memo), and the freed memory is handed back to the system."""
    ex.dispose()
    release_memory()
    import os

    if os.environ.get("BIMODAL_EXPLORER_DEBUG_SESSIONS"):
        log_survivors()


def log_survivors() -> None:
    """What a server process holds once a session ended (BIMODAL_EXPLORER_DEBUG_SESSIONS=1): the
    memo, HoloViews' option store, Panel's views, and the most common object types."""
    import gc
    import logging
    from collections import Counter

    import holoviews as hv
    import panel as pn

    from ..engine.memo import MEMO

    kinds = Counter(type(o).__name__ for o in gc.get_objects())
    logging.getLogger("explorer.sessions").warning(
        "after a session: memo %d values %.1f MB; hv custom options %d; panel views %d; objects %d; top %s",
        len(MEMO), MEMO.bytes / 1e6, len(hv.core.options.Store._custom_options.get("bokeh", {})), len(pn.state._views),
        sum(kinds.values()), kinds.most_common(12))


def release_memory() -> None:
    """Collect garbage and ask glibc to return freed heap pages to the system (a no-op elsewhere)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def serve(options: AppOptions, *, port: int = 5006, address: str | None = None, show: bool = False,
          allow_websocket_origin: list[str] | None = None, num_threads: int | None = None, session_lifetime: float = 15.0,
          warm: bool = True) -> None:
    """Start a Panel server with the explorer at ``/`` and the thumbnail route; blocks. With
    `warm` the source is opened and its first views computed before the server listens."""
    import panel as pn

    from .routes import thumbnail_patterns
    from .template import configure_panel

    configure_panel()
    if num_threads:
        pn.config.nthreads = num_threads
    if os.environ.get("BIMODAL_EXPLORER_TRACE"):
        enable_trace()
    warm_up_process(options if warm else None)
    origins = allow_websocket_origin or [f"localhost:{port}", f"127.0.0.1:{port}"]
    pn.serve(
        lambda: create_page(options),
        port=port,
        address=address,
        show=show,
        title=options.title,
        websocket_origin=origins,
        extra_patterns=thumbnail_patterns(),
        # a closed page's session (and the memory only it held) is released this long after it closed
        unused_session_lifetime_milliseconds=int(session_lifetime * 1000),
        check_unused_sessions_milliseconds=int(max(0.5, min(session_lifetime, 17.0)) * 1000),
        start=True,
        threaded=False,
        print_url=True,
    )
