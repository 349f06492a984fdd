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
  ``numbers_pane(state, model=None)`` (Panel, escaped HTML incl. faithfulness and
  consistency), ``faithfulness_table(state, model=None)``,
  ``faithfulness_comparison(state, model=None, methods=("PCA", "UMAP", "t-SNE"))`` (one row
  per projection method: trustworthiness, kNN overlap, edges within clusters).
- landscape: ``loss_landscape_plot(state, model=None)``.
- histograms: ``similarity_histograms(state, model=None)``.
- selection: ``selection_panel(state, model=None)`` (thumbnails, captions, cluster labels of the
  selected pairs), ``inspect_panel(state)`` (the two items of the tapped cell / pair).
- compare: ``compare_view(state)`` (2–4 models side by side: heatmaps with shared ordering,
  numbers), ``compare_numbers_table(state)``.
- augment: ``augment_view(augment_state)`` (heatmaps of every selected model over the series).

Every plot title records what produced it (``state.provenance_line``: model, source recipe with
filter/sample/seed, gap setting, ordering, projection method and parameters).
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
