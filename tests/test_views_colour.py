"""Heatmap colour limits (explorer.engine.colour, state.color_limits): 'data' = robust limits of the
off-diagonal pixels the zoomed-out heatmap shows, 'full' = the possible range; rendered plots
follow them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render_helpers import glyphs, render
from synthetic_source import make_source

from explorer.analysis.gap import close_gap
from explorer.engine.colour import FULL_LIMITS, color_limits, data_limits, describe, symmetric_data_limits, union
from explorer.state import ExplorerState


def test_data_limits_are_percentiles_of_the_offdiagonal_values():
    g = np.full((11, 11), 100.0)  # the diagonal (self-similarity) must not count
    off = ~np.eye(11, dtype=bool)
    g[off] = np.arange(110.0)  # off-diagonal values 0..109
    lo, hi = data_limits(g)
    # linear interpolation over 110 sorted values: position 0.01·109 and 0.99·109
    assert lo == pytest.approx(1.09) and hi == pytest.approx(107.91)


def test_symmetric_limits_use_the_magnitude_and_are_centred():
    g = np.zeros((3, 3))
    g[0, 1], g[1, 0], g[0, 2], g[2, 0], g[1, 2], g[2, 1] = -4.0, -4.0, 1.0, 1.0, 2.0, 2.0
    lo, hi = symmetric_data_limits(g, q=50)  # |values| 1,1,2,2,4,4: median 2
    assert (lo, hi) == (-2.0, 2.0)


def test_a_constant_matrix_still_gets_a_usable_range():
    lo, hi = data_limits(np.full((4, 4), 0.3))
    assert lo < 0.3 < hi and hi - lo == pytest.approx(1e-3)


def test_full_range_and_unknown_choices():
    grid = np.zeros((8, 8), np.float32)
    assert color_limits(grid, "full", "similarity") == (-1.0, 1.0)
    assert color_limits(grid, "full", "difference") == (-2.0, 2.0)
    with pytest.raises(ValueError, match="color_range"):
        color_limits(grid, "auto")
    assert "full range" in describe("full", (-1.0, 1.0)) and "p1–p99" in describe("data", (0.1, 0.5))


def test_union_covers_every_range():
    assert union([(-0.2, 0.5), (0.1, 0.9)]) == (-0.2, 0.9)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 40), st.integers(0, 10_000))
def test_data_limits_lie_within_the_values_and_clip_few(n, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, n))
    off = g[~np.eye(n, dtype=bool)]
    lo, hi = data_limits(g)
    assert off.min() - 1e-3 <= lo <= hi <= off.max() + 1e-3
    outside = np.mean((off < lo) | (off > hi))
    assert outside <= 0.02 + 2.0 / off.size  # 1% each side, up to rounding of the rank


def _matrix(state, model="A"):
    e = state.embeddings(model)
    x, y = close_gap(np.asarray(e.image), np.asarray(e.text), state.gap.alpha, True)
    z = np.concatenate([x, y])
    return z @ z.T


def test_state_limits_come_from_the_overview_the_heatmap_shows():
    """600×600 matrix, 100-pixel overview: 6×6 cells per pixel, their mean or max is what is shown."""
    src = make_source(n=300, d=6, gap=0.5)
    state = ExplorerState(src, aggregation="max")
    s = _matrix(state)
    blocks = s.reshape(100, 6, 100, 6).max(axis=(1, 3))  # 6×6 maxima, computed here by hand
    expected = tuple(np.percentile(blocks[~np.eye(100, dtype=bool)], [1, 99]))
    assert state.color_limits("A", pixels=100) == pytest.approx(expected, abs=1e-6)
    state.look.aggregation = "mean"
    blocks = s.reshape(100, 6, 100, 6).mean(axis=(1, 3))
    assert state.color_limits("A", pixels=100) == pytest.approx(tuple(np.percentile(blocks[~np.eye(100, dtype=bool)], [1, 99])), abs=1e-6)
    state.look.color_range = "full"
    assert state.color_limits("A", pixels=100) == FULL_LIMITS["similarity"]


def test_difference_limits_are_symmetric_from_the_mean_overview():
    state = ExplorerState(make_source(n=12, d=5))
    s = _matrix(state)
    d = s[:12, :12] - s[12:, 12:]
    m = np.percentile(np.abs(d[~np.eye(12, dtype=bool)]), 99)
    assert state.color_limits("A", "difference") == pytest.approx((-m, m))
    assert state.pixel_aggregation("difference") == "mean"


def test_compared_heatmaps_share_one_range():
    state = ExplorerState(make_source(n=20, d=6))
    a, b = state.color_limits("A"), state.color_limits("B")
    assert a != b
    assert state.color_limits("A", shared=True) == state.color_limits("B", shared=True) == union([a, b])


def test_rendered_heatmap_follows_the_colour_range_and_the_gap(tmp_path):
    from explorer.views.heatmap import similarity_heatmap

    state = ExplorerState(make_source(n=10, image_dir=tmp_path / "imgs"))
    plot = render(similarity_heatmap(state, "A"))

    def mapper():
        return glyphs(plot, "Image")[0].glyph.color_mapper

    def colorbar_title():
        return [r.title for r in plot.state.right if type(r).__name__ == "ColorBar"][0]

    assert (mapper().low, mapper().high) == pytest.approx(state.color_limits("A"))
    assert colorbar_title() == "cosine similarity · mean per pixel · data p1–p99"
    state.gap.alpha = 1.0  # closing the gap raises the cross-modal similarities: new limits
    assert (mapper().low, mapper().high) == pytest.approx(state.color_limits("A"))
    state.look.color_range = "full"
    assert (mapper().low, mapper().high) == (-1.0, 1.0)
    assert colorbar_title() == "cosine similarity · mean per pixel · full range"
    assert plot.state.tags[-1]["provenance"]["clim"] == [-1.0, 1.0]


def test_visible_limits_of_one_cell_and_of_nothing():
    from explorer.engine.colour import visible_limits

    lo, hi = visible_limits(np.array([[np.nan, 0.3], [np.nan, np.nan]]))
    assert lo < 0.3 < hi and hi - lo == pytest.approx(1e-3)
    assert visible_limits(np.full((2, 2), np.nan)) is None
    assert visible_limits(np.array([0.1, -0.4]), "difference") == pytest.approx((-0.397, 0.397))  # ±p99 of |D|


def test_quadrant_ranges_take_each_quadrants_own_pixels_without_its_diagonal():
    from explorer.engine.colour import quadrant_ranges

    m = 6  # a 12×12 matrix drawn at one cell per pixel: each quadrant a constant plus its diagonal
    g = np.zeros((12, 12))
    g[:6, :6], g[:6, 6:], g[6:, :6], g[6:, 6:] = 0.5, 0.1, 0.2, 0.6
    idx = np.arange(6)
    for qr, qc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        g[qr * m + idx, qc * m + idx] = 1.0  # self-similarity and matched pairs: left out
    edges = np.arange(13)
    r = quadrant_ranges(g, edges, edges, m)
    assert {k: v[:2] for k, v in r.items()} == {"image–image": (0.5, 0.5), "image–text": (0.1, 0.1), "text–image": (0.2, 0.2),
                                                 "text–text": (0.6, 0.6)}
    assert r["image–text"][2] == 30  # 36 pixels, 6 on the diagonal
    # 4 pixels of 3 cells each: the pixels straddling M (none here) and those holding a diagonal cell are left out
    coarse = np.array([0, 3, 6, 9, 12])
    r = quadrant_ranges(np.arange(16.0).reshape(4, 4), coarse, coarse, m)
    assert {k: v[2] for k, v in r.items()} == {"image–image": 2, "image–text": 2, "text–image": 2, "text–text": 2}
    assert r["image–text"][:2] == pytest.approx((np.percentile([3.0, 6.0], 1), np.percentile([3.0, 6.0], 99)))
    odd = np.array([0, 2, 4, 8, 10, 12])  # the middle pixel straddles M = 6: in no quadrant
    got = {k: v[2] for k, v in quadrant_ranges(np.zeros((5, 5)), odd, odd, m).items()}
    assert got == {"image–image": 2, "image–text": 3, "text–image": 3, "text–text": 2}


def test_a_flat_quadrant_is_named_with_its_values_and_share_of_the_colour_range():
    from explorer.engine.colour import flat_quadrants_note

    ranges = {"image–image": (0.47, 0.48, 100), "image–text": (0.1, 0.4, 100)}
    note = flat_quadrants_note(ranges, (0.15, 0.48), cells_per_pixel=250_000)
    assert "image–image 0.470…0.480 (3 %)" in note and "image–text" not in note
    assert "250,000 cells" in note and "zoom in" in note
    assert "cells" not in flat_quadrants_note(ranges, (0.15, 0.48), cells_per_pixel=1.0)  # the cells themselves
    assert flat_quadrants_note({"image–text": (0.1, 0.4, 9)}, (0.15, 0.48)) == ""


def test_the_heatmaps_provenance_says_which_quadrants_read_as_one_colour():
    """Synthetic data (issue: a white image–image quadrant under 'data p1–p99'): the in-modal cells
    vary (exact cells spread over ~0.3), but zoomed out each pixel is the mean of hundreds of cells,
    so the quadrant's pixels span a few % of the one colour scale; the provenance line says so."""
    from explorer.engine.colour import quadrant_ranges
    from explorer.views.heatmap import heatmap_data

    st = ExplorerState(source="synthetic:2000")
    v = heatmap_data(st, None, size=100)
    t, (lo, hi) = v["tile"], v["clim"]
    r = quadrant_ranges(t.values, t.x_edges, t.y_edges, 2000)
    ii = r["image–image"]
    assert (ii[1] - ii[0]) < 0.1 * (hi - lo), (ii, v["clim"])  # flat under the whole-matrix scale ...
    assert f"image–image {ii[0]:.3f}…{ii[1]:.3f}" in v["provenance_text"] and "1,600 cells" in v["provenance_text"]
    # ... but the cells are not: a zoom to single cells of that quadrant spreads them over much of the range
    cells = st.tile(None, "similarity", x_range=(99.5, 199.5), y_range=(299.5, 399.5), width=100, height=100)
    assert cells.exact_cells and np.ptp(np.percentile(cells.values, [1, 99])) > 0.3 * (hi - lo)
    st.order.param.update(cluster=True, k=4)  # clustered, the quadrants show structure: nothing to say
    assert "nearly one colour" not in heatmap_data(st, None, size=100)["provenance_text"]
