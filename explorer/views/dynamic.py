"""Wiring views to the state: DynamicMaps that re-run when the state parameters they read change.

Each view is a function of an ExplorerState. Its HoloViews objects are DynamicMaps driven by a
``hv.streams.Params`` stream over exactly the parameters the view reads, so moving the α slider
re-renders the heatmap in place (keeping the zoom) and leaves unrelated views alone.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import holoviews as hv

from ..errors import ExplorerError

# the state parameters that decide each kind of data (mirrors explorer.state)
SOURCE = ("source", "models", "source_options")
ACTIVE = SOURCE + ("sample_size", "seed", "caption_filter", "filter_mode")
GAP = ("alpha", "renormalize")
ORDER = ("cluster", "cluster_block", "k", "optimal_order")
PROJ = ("projection", "projection_mode", "x_component", "y_component", "faithfulness_k")
MODEL = ("active_model",)
COMPARE = ("compare_models", "shared_order")


def params_stream(state: Any, names: Sequence[str]) -> hv.streams.Params:
    seen = list(dict.fromkeys(names))
    return hv.streams.Params(parameterized=state, parameters=seen)


def guarded(state: Any, build: Callable[[], Any], fallback: Callable[[str], Any]) -> Any:
    """build(); on a user-fixable error set state.status and return fallback(message)."""
    try:
        return build()
    except ExplorerError as exc:
        state.status = str(exc)
        return fallback(str(exc))


def dynamic(
    state: Any,
    names: Sequence[str],
    build: Callable[..., Any],
    fallback: Callable[[str], Any],
    extra_streams: Sequence[hv.streams.Stream] = (),
) -> hv.DynamicMap:
    """A DynamicMap calling `build()` now and whenever one of the state parameters `names` changes.

    With `extra_streams` (e.g. RangeXY, PlotSize), `build` receives their values as keywords.
    """
    extra = set()
    for s in extra_streams:
        extra |= set(s.contents)

    def callback(**kwargs: Any) -> Any:
        return guarded(state, lambda: build(**{k: v for k, v in kwargs.items() if k in extra}), fallback)

    return hv.DynamicMap(callback, streams=[params_stream(state, names), *extra_streams])
