"""Pre-aggregated levels of the heatmap matrix: block reductions by hand, level choice, and the
rendered heatmap at zoomed-out and zoomed-in ranges."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.state import ExplorerState
from explorer.views.heatmap import similarity_heatmap
from explorer.views.pyramid import build_levels, choose_level, halve, level_coords
from render_helpers import data, glyphs, render
from synthetic_source import make_source


def test_halve_by_hand_including_an_odd_edge():
    a = np.arange(25, dtype=np.float32).reshape(5, 5)
    np.testing.assert_array_equal(halve(a, "max"), [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    # blocks {0,1,5,6} → 3, {2,3,7,8} → 5, the last column's 2×1 block {4, 9} → 6.5; last row likewise
    np.testing.assert_array_equal(halve(a, "mean"), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    assert halve(a, "mean").dtype == np.float32
    with pytest.raises(ValueError):
        halve(a, "median")


def test_levels_and_choice():
    a = np.random.default_rng(0).random((2000, 2000)).astype(np.float32)
    levels = build_levels(a, "max", min_size=512)
    assert [(f, x.shape[0]) for f, x in levels] == [(1, 2000), (2, 1000), (4, 500)]
    assert levels[2][1].max() == a.max()  # max survives every level
    assert levels[2][1][0, 0] == a[:4, :4].max()
    mean_levels = build_levels(a, "mean", min_size=512)
    assert mean_levels[2][1][3, 7] == pytest.approx(a[12:16, 28:32].mean(), rel=1e-5)
    assert choose_level(levels, 2000, 560)[0] == 1  # 3.6 cells per pixel: the full matrix
    assert choose_level(levels, 2000, 250)[0] == 4  # 8 cells per pixel: two 4-blocks per pixel
    assert choose_level(levels, 200, 250)[0] == 1  # zoomed in
    np.testing.assert_allclose(level_coords(4, 3), [1.5, 5.5, 9.5])


def pairs_state(n=600):
    # captions and images identical per pair (gap 0 and no noise would make a pure diagonal);
    # a 2N×2N matrix with strong matched-pair cells
    return ExplorerState(make_source(n=n, d=8, gap=0.0), aggregation="max")


def range_streams(plot):
    return [s for s in plot.streams if type(s).__name__ == "RangeXY"]


def test_zoomed_out_uses_a_level_and_keeps_max_and_mean(monkeypatch):
    import explorer.views.pyramid as pyramid

    chosen = []
    real = pyramid.choose_level
    monkeypatch.setattr(pyramid, "choose_level", lambda *a: chosen.append(real(*a)[0]) or real(*a))
    st = pairs_state()
    plot = render(similarity_heatmap(st, "A", size=150))
    for s in [s for s in plot.streams if type(s).__name__ == "PlotSize"]:
        s.event(width=150, height=150)
    sim = st.similarity("A")
    img = data(plot, "Image")["image"][0]
    assert img.shape[0] <= 150
    assert chosen[-1] == 4  # 1,200 cells on 150 pixels: the level of 4×4 blocks (300×300)
    assert np.nanmax(img) == pytest.approx(float(sim.max()), abs=1e-6)  # max of levels = max of cells
    st.aggregation = "mean"
    img_mean = data(plot, "Image")["image"][0]
    assert np.nanmean(img_mean) == pytest.approx(float(sim.mean()), abs=0.02)
    assert np.nanmax(img_mean) < np.nanmax(img)


def test_zoomed_in_shows_exact_cells():
    st = pairs_state()
    plot = render(similarity_heatmap(st, "A", size=150))
    for s in [s for s in plot.streams if type(s).__name__ == "PlotSize"]:
        s.event(width=150, height=150)
    for r in range_streams(plot):
        r.event(x_range=(99.5, 139.5), y_range=(599.5, 639.5))  # 40×40 cells: caption rows × image columns
    d = data(plot, "Image")
    img = d["image"][0]
    sim = st.similarity("A")
    assert img.shape == (40, 40)
    np.testing.assert_allclose(img, sim[600:640, 100:140], atol=1e-6)
    assert (d["x"][0], d["y"][0]) == (99.5, 599.5)


def test_visible_colour_range_follows_the_zoom():
    """'visible': the colour limits are the p1–p99 of the cells on screen after each zoom (zoomed
    into single cells of a max-aggregated overview, 'data' leaves most of them at the bottom colour)."""
    from explorer.views.colour import visible_limits

    st = pairs_state()
    st.color_range = "visible"
    plot = render(similarity_heatmap(st, "A", size=150))
    for s in [s for s in plot.streams if type(s).__name__ == "PlotSize"]:
        s.event(width=150, height=150)

    def limits():
        m = glyphs(plot, "Image")[0].glyph.color_mapper
        return m.low, m.high

    zoomed_out = limits()
    assert zoomed_out == pytest.approx(visible_limits(data(plot, "Image")["image"][0]))
    for r in range_streams(plot):
        r.event(x_range=(99.5, 139.5), y_range=(599.5, 639.5))
    cells = st.similarity("A")[600:640, 100:140].astype(np.float64)
    assert limits() == pytest.approx(tuple(np.percentile(cells, [1, 99])), abs=1e-6)
    assert limits() != pytest.approx(zoomed_out)
    colorbar = [r.title for r in plot.state.right if type(r).__name__ == "ColorBar"][0]
    assert colorbar.endswith("visible p1–p99")
    st.color_range = "data"  # back to the fixed limits of the overview
    assert limits() == pytest.approx(st.color_limits("A", pixels=150))
