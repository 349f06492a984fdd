"""Augmentations: one image, a series (rotation, noise, blur, shifts) and every model's heatmap.

The series is the dataset ``augment:KIND:IMAGE[:CAPTION]`` (explorer.data.augment) embedded by
each selected model, or a precomputed series (e.g. the Amumo export's ``Blurred-0_size-100``).
Each model's 2N×2N heatmap shows how similarities drift along the series (all captions are the
same text); the curves show two rows of it per model: step i's image with the caption and with
the first image.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from .heatmap import similarity_heatmap
from .style import LEGEND_OPTS

AUGMENT_SIZE = 330


def series_heatmaps(state: Any, size: int = AUGMENT_SIZE) -> hv.Layout:
    """Every model's heatmap of a series' ExplorerState, colour limits shared by the models (one
    colour bar per row); two per row from three models on. The state must compare all its models
    (``model.compare_models``), which the caller sets when it builds the series' state."""
    models = state.shown_compare_models()
    cols = len(models) if len(models) <= 2 else 2
    plots = [similarity_heatmap(state, m, shared=True, size=size, colorbar=(i % cols == cols - 1) or i == len(models) - 1)
             for i, m in enumerate(models)]
    layout = hv.Layout(plots).cols(cols)
    layout.feeds = [p.feed for p in plots]
    return layout


def series_curves(state: Any, width: int = 420, height: int = 260, xlabel: str = "step", steps=None) -> hv.Layout:
    """How each model's similarities drift along the series (step i = pair i): step i's image with
    its caption (the same text at every step) and with the first image (step 0)."""
    to_caption, to_first = [], []
    for m in state.model_names():
        sp = state.space(m)
        n = sp.m
        x = np.arange(n) if steps is None else np.asarray(steps)[:n]
        to_caption.append(hv.Curve((x, sp.pair_similarities(*state.closing())), xlabel, "image–caption similarity", label=m))
        to_first.append(hv.Curve((x, sp.similarities_to("image", 0, *state.closing())), xlabel, "similarity to the first image", label=m))
    # the frame keeps its size beside the legend (outside the plot area, never over a curve)
    opts = dict(frame_width=width - 80, frame_height=height - 70, tools=["hover"], show_grid=True, framewise=True)
    a = hv.Overlay(to_caption).opts(hv.opts.Curve(**opts), hv.opts.Overlay(title="Image i with the caption", legend_position="right",
                                                                       legend_opts=LEGEND_OPTS))
    b = hv.Overlay(to_first).opts(hv.opts.Curve(**opts), hv.opts.Overlay(title="Image i with the first image", legend_position="right",
                                                                     legend_opts=LEGEND_OPTS))
    return (a + b).opts(shared_axes=False)
