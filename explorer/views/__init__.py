"""Views: functions of an :class:`explorer.state.ExplorerState` returning HoloViews / Panel objects.

Each view declares the settings it depends on once (``DEPENDS`` in its module, parts and
parameter names); a :class:`~explorer.views.feed.Feed` computes its data from the state (through
the engine) off the event loop when one of them changes, and its DynamicMaps follow the Feed's
Pipe. Views never write to the state except ``interaction`` (selection, tapped items). Each
plot's data builder (``heatmap_data``, ``scatter_data``, ...) and element builder
(``heatmap_overlay``, ``scatter_overlay``, ...) are shared with the static report.

- heatmap: ``similarity_heatmap(state, model=None, *, shared=False, size, interactive=True)``,
  ``difference_heatmap(...)``: the matrix at screen resolution (explorer.engine.tiles), pair
  diagonal, separators, quadrant names, cluster boxes and labels, selection outlines; tap →
  ``interaction.inspected``, double tap → selects the row's pair.
- clusters: ``cluster_legend`` (every cluster's number, label and size; a click selects its
  pairs), ``cluster_gallery`` (example images with captions per cluster).
- scatter: ``projection_scatter(state, model=None, *, size, interactive=True)``: points by
  modality (or faithfulness), one edge per pair coloured by its full-space similarity, rasterized
  above ``look.datashade_above`` pairs; box/lasso → ``interaction.selected_pairs``.
- numbers: ``numbers_pane``, ``anatomy_pane``, ``faithfulness_pane``, ``faithfulness_comparison_deferred``.
- landscape: ``loss_landscape_plot``; histograms: ``similarity_histograms``.
- selection: ``selection_panel``, ``inspect_panel``; downloads: ``selection_downloads``,
  ``cluster_downloads`` (parquet / CSV of the selected pairs or a cluster).
- probe: ``probe_panel`` (``probe_query`` box + ``probe_list`` of the most similar images and captions), ``probe_strip`` (beside a
  heatmap's rows); the scatter colours points by ``projection.point_color = "probe similarity"``.
- compare: ``compare_view`` (2–4 models side by side); augment: ``series_heatmaps``, ``series_curves``.
- provenance: what produced each plot, in a line beside it and in the Bokeh figure's ``tags``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "similarity_heatmap": "heatmap",
    "difference_heatmap": "heatmap",
    "heatmap_data": "heatmap",
    "heatmap_overlay": "heatmap",
    "cluster_gallery": "clusters",
    "cluster_legend": "clusters",
    "projection_scatter": "scatter",
    "scatter_data": "scatter",
    "scatter_overlay": "scatter",
    "numbers_pane": "numbers",
    "anatomy_pane": "numbers",
    "faithfulness_pane": "numbers",
    "faithfulness_comparison_deferred": "numbers",
    "feed_provenance_pane": "provenance",
    "loss_landscape_plot": "landscape",
    "similarity_histograms": "histograms",
    "selection_panel": "selection",
    "inspect_panel": "selection",
    "selection_downloads": "downloads",
    "cluster_downloads": "downloads",
    "compare_view": "compare",
    "series_heatmaps": "augment",
    "series_curves": "augment",
    "probe_panel": "probe",
    "probe_query": "probe",
    "probe_list": "probe",
    "probe_strip": "probe",
    "Feed": "feed",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
