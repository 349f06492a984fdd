"""Shared look of the views: modality colours and default sizes."""

from __future__ import annotations

MODALITY_COLORS = {"image": "#1f77b4", "text": "#ff7f0e", "pair": "#2ca02c"}
SEPARATOR_COLOR = "white"
SELECTION_COLOR = "#00e5ff"
CLUSTER_BOX_COLOR = "#39ff14"
HEATMAP_SIZE = 560
SCATTER_SIZE = 560
#: longest caption shown in a tooltip or card (the full text stays in tables)
CAPTION_CHARS = 300
#: legends over plots: see-through, and a click on an entry hides its series (so it never hides data for good)
LEGEND_OPTS = {"background_fill_alpha": 0.5, "click_policy": "hide"}
