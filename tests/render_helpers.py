"""Render HoloViews objects with the Bokeh renderer and pick out glyphs (no browser)."""

from __future__ import annotations

import holoviews as hv

hv.extension("bokeh")


def render(obj):
    return hv.renderer("bokeh").get_plot(obj)


def glyphs(plot, name: str) -> list:
    """Glyph renderers of the figure whose glyph class is `name` (Image, Quad, Text, Segment, ...)."""
    return [r for r in plot.state.renderers if type(getattr(r, "glyph", None)).__name__ == name]


def data(plot, name: str, i: int = 0) -> dict:
    return glyphs(plot, name)[i].data_source.data
