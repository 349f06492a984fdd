"""Augmentations: one image, a series (rotation, noise, blur, shifts) and every model's heatmap.

The series is the dataset ``augment:KIND:IMAGE[:CAPTION]`` (explorer.data.augment) embedded by
each selected model, or a precomputed series (e.g. the Amumo export's ``Blurred-0_size-100``)
given as `AugmentState.series_source`. Each model's 2N×2N heatmap shows how similarities drift
along the series (all captions are the same text).
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import param

from .cards import esc
from .heatmap import similarity_heatmap

AUGMENT_SIZE = 330


def augment_heatmaps(aug_state: Any, size: int = AUGMENT_SIZE) -> hv.Layout:
    state = aug_state.explorer_state()
    plots = [similarity_heatmap(state, m, size=size) for m in state.model_names()]
    return hv.Layout(plots).cols(min(len(plots), 2) if len(plots) == 4 else len(plots))


def augment_view(aug_state: Any, size: int = AUGMENT_SIZE):
    """Panel column of every model's heatmap of the series; rebuilt when the series changes."""
    import panel as pn

    def layout(*_: Any):
        try:
            return pn.pane.HoloViews(augment_heatmaps(aug_state, size))
        except Exception as exc:
            return pn.pane.HTML(f'<div class="bx-augment">{esc(exc)}</div>')

    deps = [aug_state.param[p] for p in ("image", "caption", "base_source", "kind", "steps", "models", "series_source")]
    return pn.Column(pn.panel(param.bind(layout, *deps)), sizing_mode="stretch_width")
