"""The heatmaps' hover: per-pixel lookups naming both items by pair id, modality and caption,
at one cell per pixel and at many (the text a tooltip shows), and their Bokeh side."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import render
from synthetic_source import make_source

from explorer.engine.tiles import bin_edges
from explorer.state import ExplorerState
from explorer.views.heatmap import difference_heatmap, heatmap_data, similarity_heatmap
from explorer.views.hover import NO_THUMB, axis_lookup, one_line


def caption(pid: int) -> str:
    return f"caption\nof   <b>{pid}</b>"


def thumb(pid: int) -> str:
    return f"/thumb/t/{pid}.png"


def test_one_cell_per_bin_names_modality_pair_id_and_one_line_caption():
    pairs = np.array([7, 3, 9])  # display order ≠ pair id (a clustering)
    d = axis_lookup(bin_edges(0, 6, 100), pairs, "similarity", caption, thumb)
    assert d["lo"] == list(range(6)) and d["hi"] == list(range(1, 7))
    assert d["text"][1] == "image of pair 3 · caption of <b>3</b>"  # plain text: Bokeh escapes it in the tooltip
    assert d["text"][5] == "caption of pair 9 · caption of <b>9</b>"
    assert d["thumb"][:3] == ["/thumb/t/7.png", "/thumb/t/3.png", "/thumb/t/9.png"]
    assert d["thumb"][3:] == [NO_THUMB] * 3  # a caption has no thumbnail


def test_many_cells_per_bin_give_the_range_in_its_block_and_the_centre_pair():
    m = 10_000
    pairs = np.arange(m)[::-1]
    d = axis_lookup(bin_edges(0, 2 * m, 100), pairs, "similarity", caption, thumb, how="max")
    assert len(d["text"]) == 100 and d["how"][0] == "max"
    assert d["text"][0].startswith("200 images 0–199 (display order) · centre: pair 9,900")
    assert d["text"][99].startswith("200 captions 9,800–9,999 (display order) · centre: pair 100")
    # a window that straddles the border of the image and caption blocks says so
    e = axis_lookup(np.array([9_990, 10_010]), pairs, "similarity", caption, thumb)
    assert e["text"][0].startswith("20 images and captions")


def test_difference_rows_are_pairs_with_their_image():
    d = axis_lookup(np.array([0, 1, 2]), np.array([4, 2]), "difference", caption, thumb)
    assert d["text"] == ["pair 4 · caption of <b>4</b>", "pair 2 · caption of <b>2</b>"]
    assert d["thumb"] == ["/thumb/t/4.png", "/thumb/t/2.png"]


def test_one_line_cuts_long_captions():
    s = one_line("a " * 100, 20)
    assert len(s) == 20 and s.endswith("…") and "\n" not in one_line("a\nb")


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=10, image_dir=tmp_path / "imgs", hostile=True))


def test_heatmap_data_sends_the_window_lookup_in_display_order(state):
    state.order.cluster, state.order.k = True, 3
    v = heatmap_data(state, "A", "similarity", width=400, height=400)
    order = state.display_pairs("A")
    assert not np.array_equal(order, np.arange(10))  # the clustering moved pairs
    rows = v["hover"]["y"]
    p = state.pairs
    for q in (0, 4, 13):
        pid = int(order[q % 10])
        assert f"pair {pid} · " in rows["text"][q]
        assert rows["text"][q].endswith(one_line(p.captions[pid]))
    # a zoomed window: only its cells travel
    z = heatmap_data(state, "A", "similarity", x_range=(9.5, 14.5), y_range=(-0.5, 2.5), width=400, height=400)
    assert z["hover"]["x"]["lo"] == [10, 11, 12, 13, 14] and len(z["hover"]["y"]["text"]) == 3


def test_lookup_stays_small_at_pixel_resolution(state):
    v = heatmap_data(state, "A", "similarity", width=6, height=6)
    assert len(v["hover"]["x"]["text"]) == 6  # one line per pixel, not per cell
    assert v["hover"]["x"]["hi"][-1] == 20


@pytest.mark.parametrize("view", [similarity_heatmap, difference_heatmap])
def test_rendered_hover_has_both_axes_lookups_and_no_matrix_indices(state, view):
    plot = render(view(state, "A"))
    hovers = [t for t in plot.state.tools if type(t).__name__ == "HoverTool"]
    assert hovers
    tip = hovers[0].tooltips
    assert "$y{text}" in tip and "$x{text}" in tip and "$x{0}" not in tip
    fmt = hovers[0].formatters
    src = fmt["$y"].args["own"]
    assert src.data["text"] and all("pair " in t for t in src.data["text"])
    assert len(src.data["text"]) == (20 if view is similarity_heatmap else 10)
