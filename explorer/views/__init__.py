"""Views: functions of an :class:`explorer.state.ExplorerState` returning HoloViews / Panel objects.

HoloViews views return DynamicMaps (or overlays of them) wired to exactly the state parameters
they read, so a parameter change re-renders them in place; show them with ``pn.pane.HoloViews``
or directly in a notebook. Panel views return panes bound to the state.

Final API (module: function(state, model=None, ...) -> object):

- heatmap: ``similarity_heatmap(state, model=None, *, shared=False, size, interactive=True)``
  rasterized 2N×2N matrix (mean/max per `state.aggregation`, `state.cmap`; zoomed out it reads
  pre-aggregated levels, :mod:`explorer.views.pyramid`), separators,
  quadrant labels, cluster boxes + n-gram labels, selection bands; tap → ``state.inspected``,
  double tap → selects the row's pair (``plot.cell_streams``); ``hover_inspect=True`` makes the
  side panel follow the mouse. ``cluster_gallery(state, model)`` (Panel HTML: each
  cluster's label, size and example images). Helpers: ``matrix_image``, ``cell_from_xy``,
  ``attach_cell_streams``.
- difference: ``difference_heatmap(state, model=None, *, shared=False, size)`` XXᵀ − YYᵀ,
  diverging colour map centred at 0, mean|D| in the title.
- scatter: ``projection_scatter(state, model=None, *, size, interactive=True)`` points by
  modality (or faithfulness), one edge per pair coloured by its full-space similarity,
  rasterized above ``state.datashade_above`` pairs; box/lasso → ``state.selected_pairs``;
  ``plot.selection_streams`` (Selection1D, or BoundsXY + Tap when ``plot.rasterized``).
  Helpers: ``points_frame``, ``edges_frame``, ``pairs_in_bounds``, ``nearest_pair``.
- numbers: ``numbers_table(state, model=None)`` (hv.Table quantity/before/after),
  ``numbers_pane(state, model=None, faithfulness=True)`` (Panel, escaped HTML incl.
  consistency and, unless faithfulness=False, the projection's faithfulness),
  ``faithfulness_table(state, model=None)``,
  ``faithfulness_comparison(state, model=None, methods=("PCA", "UMAP", "t-SNE"))`` (one row
  per projection method: trustworthiness, kNN overlap, edges within clusters);
  ``faithfulness_pane(state, model=None, runner=None, active=True)`` and
  ``faithfulness_comparison_deferred(...)``: the same computed off the event loop and only
  when wanted (:class:`explorer.views.deferred.DeferredHTML`; show ``.pane``).
- provenance: ``provenance_pane(state, model=None, kind="similarity"|"difference"|"projection"|
  "numbers"|"landscape"|"histograms", shared=False)`` (the escaped line under a plot saying
  what produced it), ``provenance_text``, ``provenance_hook`` (Bokeh figure ``tags``).
- colour: ``color_limits(levels, color_range, kind, pixels)`` and the data / full ranges of
  the heatmaps (``state.color_range``; ``state.color_limits(model, kind, shared)``).
- landscape: ``loss_landscape_plot(state, model=None)``.
- histograms: ``similarity_histograms(state, model=None)``.
- selection: ``selection_panel(state, model=None)`` (thumbnails, captions, cluster labels of the
  selected pairs), ``inspect_panel(state)`` (the two items of the tapped cell / pair).
- compare: ``compare_view(state)`` (2–4 models side by side: heatmaps with shared ordering,
  numbers), ``compare_numbers_table(state)``.
- augment: ``augment_view(augment_state)`` (heatmaps of every selected model over the series).

Plot titles are short ("Similarity · own:clip"); what produced a plot (model id, source recipe
with filter/sample/seed, gap setting, ordering, projection method and parameters, aggregation
and colour limits) is in a text line beside it (``provenance_pane``) and in the Bokeh figure's
``tags`` as ``{"provenance": {...}}`` (kept when the plot is exported).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "similarity_heatmap": "heatmap",
    "cluster_gallery": "heatmap",
    "difference_heatmap": "difference",
    "projection_scatter": "scatter",
    "numbers_table": "numbers",
    "numbers_pane": "numbers",
    "faithfulness_table": "numbers",
    "faithfulness_comparison": "numbers",
    "faithfulness_pane": "numbers",
    "faithfulness_comparison_deferred": "numbers",
    "provenance_pane": "provenance",
    "provenance_text": "provenance",
    "DeferredHTML": "deferred",
    "loss_landscape_plot": "landscape",
    "similarity_histograms": "histograms",
    "selection_panel": "selection",
    "inspect_panel": "selection",
    "compare_view": "compare",
    "compare_numbers_table": "compare",
    "augment_view": "augment",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
