"""Augmentations: one image, a series (rotation, noise, blur, shifts) and every model's heatmap.

The series is the dataset ``augment:KIND:IMAGE[:CAPTION]`` (explorer.data.augment) embedded by
each selected model, or a precomputed series (e.g. the Amumo export's ``Blurred-0_size-100``)
given as `AugmentState.series_source`. Each model's 2N×2N heatmap shows how similarities drift
along the series (all captions are the same text); the curves show two rows of it per model:
step i's image with the caption and with the first image.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import param

from .cards import esc
from .heatmap import similarity_heatmap
from .style import LEGEND_OPTS

AUGMENT_SIZE = 330


def series_heatmaps(state: Any, size: int = AUGMENT_SIZE, runner: Any = None) -> hv.Layout:
    """Every model's heatmap of a series' ExplorerState, with colour limits shared by the models
    (one colour bar per row); two per row from three models on."""
    models = state.model_names()
    if list(state.compare_models) != models:
        state.compare_models = models
    cols = len(models) if len(models) <= 2 else 2
    plots = [similarity_heatmap(state, m, shared=True, size=size, colorbar=(i % cols == cols - 1) or i == len(models) - 1,
                                runner=runner) for i, m in enumerate(models)]
    layout = hv.Layout(plots).cols(cols)
    layout.feeds = [p.feed for p in plots]
    return layout


def series_curves(state: Any, width: int = 420, height: int = 260) -> hv.Layout:
    """How each model's similarities drift along the series (step i = row i): step i's image with
    its caption (the same text at every step) and with the first image (step 0)."""
    to_caption, to_first = [], []
    for m in state.model_names():
        s = np.asarray(state.similarity(m), dtype=np.float64)
        n = s.shape[0] // 2
        steps = np.arange(n)
        to_caption.append(hv.Curve((steps, s[np.arange(n), n + np.arange(n)]), "step", "image–caption similarity", label=m))
        to_first.append(hv.Curve((steps, s[np.arange(n), 0]), "step", "similarity to the first image", label=m))
    opts = dict(width=width, height=height, tools=["hover"], show_grid=True, framewise=True)
    a = hv.Overlay(to_caption).opts(hv.opts.Curve(**opts), hv.opts.Overlay(title="Image i with the caption", legend_position="bottom_left", legend_opts=LEGEND_OPTS))
    b = hv.Overlay(to_first).opts(hv.opts.Curve(**opts), hv.opts.Overlay(title="Image i with the first image", legend_position="bottom_left", legend_opts=LEGEND_OPTS))
    return (a + b).opts(shared_axes=False)


def augment_heatmaps(aug_state: Any, size: int = AUGMENT_SIZE) -> hv.Layout:
    return series_heatmaps(aug_state.explorer_state(), size)


def augment_view(aug_state: Any, size: int = AUGMENT_SIZE):
    """Panel column of every model's heatmap of the series and the similarity curves; rebuilt when
    the series changes (computed when shown: embedding a series takes a while)."""
    import panel as pn

    def layout(*_: Any):
        try:
            st = aug_state.explorer_state()
            return pn.Column(pn.pane.HoloViews(series_curves(st)), pn.pane.HoloViews(series_heatmaps(st, size)))
        except Exception as exc:
            return pn.pane.HTML(f'<div class="bx-augment">{esc(exc)}</div>')

    deps = [aug_state.param[p] for p in ("image", "caption", "base_source", "kind", "steps", "models", "series_source")]
    return pn.Column(pn.panel(param.bind(layout, *deps)), sizing_mode="stretch_width")
