"""The similarity and difference heatmaps rendered with Bokeh: tiles, quadrants, what a pixel
shows, the pair diagonal, cluster boxes, selection outlines, taps, zooms, off-loop computation."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import data, glyphs, render
from synthetic_source import make_source

from explorer.analysis.gap import close_gap
from explorer.state import ExplorerState
from explorer.views.clusters import cluster_gallery
from explorer.views.heatmap import OUTLINE_COLORS, cell_from_xy, difference_heatmap, similarity_heatmap


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=10, image_dir=tmp_path / "imgs", hostile=True))


def matrix(state, model="A"):
    e = state.embeddings(model)
    active = state.active_indices()
    x, y = close_gap(np.asarray(e.image)[active], np.asarray(e.text)[active], state.gap.alpha, True)
    o = state.display_order(model)
    z = np.concatenate([x[o], y[o]])
    return z @ z.T


def test_rendered_tile_holds_every_quadrant_at_full_resolution(state):
    plot = render(similarity_heatmap(state, "A"))
    d = data(plot, "Image")
    img = d["image"][0]
    e = state.embeddings("A")
    x, y = np.asarray(e.image), np.asarray(e.text)
    assert img.shape == (20, 20)
    # row r, column c of the rendered grid is cell (r, c): image i = row i, caption i = row 10 + i
    assert img[1, 4] == pytest.approx(x[1] @ x[4], abs=1e-6)
    assert img[1, 14] == pytest.approx(x[1] @ y[4], abs=1e-6)
    assert img[11, 4] == pytest.approx(y[1] @ x[4], abs=1e-6)
    assert img[11, 14] == pytest.approx(y[1] @ y[4], abs=1e-6)
    assert (d["x"][0], d["y"][0], d["dw"][0]) == (-0.5, -0.5, 20.0)
    assert plot.state.y_range.start > plot.state.y_range.end  # row 0 at the top
    assert plot.state.x_range.bounds == (-0.5, 19.5)  # panning stays on the matrix


def outline_rows(plot, kind):
    quad = glyphs(plot, "Quad")[2]  # 0: the pair diagonal, 1: the selection's veil, 2: every outline
    d = quad.data_source.data
    palette = quad.glyph.line_color.transform.palette  # each kind's code → its colour
    colors = [palette[int(c)] for c in d["line_color"]]
    return [(lo, r, b, t) for lo, r, b, t, c in zip(d["left"], d["right"], d["bottom"], d["top"], colors, strict=True) if c == OUTLINE_COLORS[kind]]


def test_separators_quadrant_labels_title_and_provenance(state):
    plot = render(similarity_heatmap(state, "A"))
    seps = data(plot, "Segment")
    assert sorted(zip(seps["x0"], seps["y0"], seps["x1"], seps["y1"], strict=False)) == [(-0.5, 9.5, 19.5, 9.5), (9.5, -0.5, 9.5, 19.5)]
    labels = data(plot, "Text", 0)
    assert sorted(labels["text"]) == ["image–image", "image–text", "text–image", "text–text"]
    # a short title; what produced the plot is in the figure's tags (and in the line beside it)
    assert plot.state.title.text == "Similarity · A"
    prov = plot.state.tags[-1]["provenance"]
    assert (prov["model"], prov["source"], prov["n"], prov["alpha"], prov["aggregation"]) == ("A", "made:test", 10, 0.0, "mean")
    assert plot.state.xaxis[0].axis_label == "column: images | captions, each 0–9 in display order"
    assert plot.state.yaxis[0].axis_label == "row: images | captions, each 0–9 in display order"
    assert plot.state.xaxis[0].formatter.args == {"m": 10}  # ticks 'img q' / 'cap q', not matrix indices
    state.gap.alpha = 0.5
    assert plot.state.tags[-1]["provenance"]["alpha"] == 0.5
    assert plot.state.title.text == "Similarity · A"


def test_zoomed_out_pixels_are_exact_block_means_or_maxima_and_the_diagonal_is_drawn():
    src = make_source(n=300, d=8, gap=0.5)
    st = ExplorerState(src)
    hm = similarity_heatmap(st, "A", size=60)
    plot = render(hm)
    img = data(plot, "Image")["image"][0]
    assert img.shape == (60, 60)  # 600 cells on 60 pixels
    s = matrix(st)
    t = hm.feed.value["tile"]
    e = t.x_edges
    np.testing.assert_allclose(img[7, 31], s[e[7]:e[8], e[31]:e[32]].mean(), atol=1e-6)
    # the matched pairs' diagonal, binned like the pixels, on top of both cross-modal quadrants
    rects = data(plot, "Quad", 0)
    assert len(rects["left"]) == 2 * 30  # 10 pairs per pixel: 30 pixels per diagonal
    sims = np.diagonal(s[:300, 300:])
    assert rects["color"][0] == pytest.approx(sims[e[0]:e[1]].mean(), abs=1e-6)
    assert plot.state.right[0].title == "cosine similarity · mean per pixel · data p1–p99"
    st.look.aggregation = "max"
    img = data(plot, "Image")["image"][0]
    np.testing.assert_allclose(img[7, 31], s[e[7]:e[8], e[31]:e[32]].max(), atol=1e-6)
    assert plot.state.right[0].title == "cosine similarity · max per pixel · data p1–p99"
    st.look.pair_diagonal = False
    assert len(data(plot, "Quad", 0)["left"]) == 0
    assert len(glyphs(plot, "Segment")) == 1 and len(glyphs(plot, "Text")) == 1  # few layers: each redraw costs ~30 ms


def test_a_zoom_computes_the_visible_window():
    src = make_source(n=300, d=8)
    st = ExplorerState(src)
    hm = similarity_heatmap(st, "A", size=50)
    plot = render(hm)
    s = matrix(st)
    hm.feed.request(x_range=(99.5, 149.5), y_range=(399.5, 449.5))  # what a RangeXY event does
    d = data(plot, "Image")
    img = d["image"][0]
    assert img.shape == (50, 50) and d["x"][0] == 99.5 and d["dw"][0] == 50.0
    np.testing.assert_allclose(img, s[400:450, 100:150], atol=1e-6)  # one cell per pixel: the cells themselves
    st.gap.alpha = 0.5  # the zoom is kept when the data change
    np.testing.assert_allclose(data(plot, "Image")["image"][0], matrix(st)[400:450, 100:150], atol=1e-6)


def test_cluster_boxes_and_labels(state):
    state.order.param.update(cluster=True, k=4)
    plot = render(similarity_heatmap(state, "A"))
    o = state.ordering("A")
    boxes = outline_rows(plot, "cluster")
    assert len(boxes) == 4 * len(o.members)  # one box per cluster in each quadrant
    b = o.boundaries
    top_left = sorted(r for r in boxes if r[1] <= 9.5 and r[3] <= 9.5)
    assert top_left == [(a - 0.5, c - 0.5, a - 0.5, c - 0.5) for a, c in zip(b[:-1], b[1:], strict=False)]
    texts = data(plot, "Text", 0)["text"]
    shown_labels = [t for t in texts if t[0].isdigit()]
    assert shown_labels == [str(c + 1) for c in range(len(o.members))]  # every cluster numbered (the legend names them)
    leaders = [r for r in zip(*(data(plot, "Segment", 0)[k] for k in ("x0", "y0", "x1", "y1")), strict=True)]
    assert len(leaders) == 2 + len(o.members)  # two quadrant separators, one leader line per cluster
    state.order.cluster = False
    assert outline_rows(plot, "cluster") == []


def test_selection_dims_the_rest_and_leaves_the_selected_cells_alone(state):
    state.order.param.update(cluster=True, k=3)
    plot = render(similarity_heatmap(state, "A"))

    def veil_rows():
        quad = glyphs(plot, "Quad")[1]
        d = quad.data_source.data
        return quad, list(zip(d["left"], d["right"], d["bottom"], d["top"], strict=True))

    assert veil_rows()[1] == []
    before = np.array(data(plot, "Image")["image"][0])
    state.interaction.selected_pairs = [4]
    q = int(np.flatnonzero(state.display_pairs("A") == 4)[0])
    quad, veil = veil_rows()
    assert veil  # the rest is dimmed ...
    inside = [(r, c) for r in range(20) for c in range(20) if any(lo < c < ri and b < r < t for lo, ri, b, t in veil)]
    chosen = {q, 10 + q}
    # ... exactly the cells in neither a selected row nor a selected column
    assert sorted(inside) == [(r, c) for r in range(20) for c in range(20) if r not in chosen and c not in chosen]
    assert quad.glyph.fill_alpha == 0.6 and quad.glyph.line_alpha == 0.0  # a grey veil, no lines
    assert outline_rows(plot, "selected") == []  # no lines over the selected cells either
    np.testing.assert_array_equal(data(plot, "Image")["image"][0], before)  # the data are untouched


def test_compare_layout_renders_after_a_tap_on_one_model(state):
    """A tapped cell outlines one compared heatmap only: the others' outline layers are empty,
    and a layout shares dimension ranges across its plots (a colour name as a colour mapper's
    low crashed the Compare page when its outlines were coloured by category names)."""
    from explorer.views.compare import compare_heatmaps

    state.inspect_cell("A", 2, 5)
    for kind in ("similarity", "difference"):
        plot = render(compare_heatmaps(state, 120, kind))
        assert plot.state is not None
    state.interaction.selected_pairs = [1, 3]  # and updates


def test_tap_inspects_both_items_marks_the_cell_and_double_tap_selects_the_row(state):
    import holoviews as hv

    hm = similarity_heatmap(state, "A")
    plot = render(hm)
    tap, dtap = hm.cell_streams
    assert isinstance(tap, hv.streams.Tap) and isinstance(dtap, hv.streams.DoubleTap)
    tap.event(x=13.2, y=2.9)  # column 13 = caption 3, row 3 = image 3
    info = state.interaction.inspected
    assert (info["row"], info["col"]) == (3, 13)
    assert info["row_item"]["modality"] == "image" and info["col_item"]["modality"] == "text"
    assert info["row_item"]["pair_id"] == 3 and info["col_item"]["pair_id"] == 3
    assert info["value"] == pytest.approx(float(matrix(state)[3, 13]), abs=1e-9)
    assert outline_rows(plot, "tapped") == [(12.5, 13.5, 2.5, 3.5)]  # the tapped cell is outlined
    dtap.event(x=1.0, y=16.0)  # caption row of pair 6
    assert state.interaction.selected_pairs == [6]
    tap.event(x=50.0, y=2.0)  # outside: nothing changes
    assert state.interaction.inspected is info


def test_a_tap_inside_a_clusters_box_selects_that_cluster(state):
    """As its legend entry does (state.select_cluster); a tap outside every box selects nothing
    new; the tapped cell is inspected either way."""
    from explorer.views.heatmap import cluster_at

    assert cluster_at([0, 3, 10], 10, 1, 2) == 0 and cluster_at([0, 3, 10], 10, 11, 12) == 0  # image–image, text–text
    assert cluster_at([0, 3, 10], 10, 4, 19) == 1 and cluster_at([0, 3, 10], 10, 2, 5) is None
    assert cluster_at([], 10, 1, 1) is None
    state.order.param.update(cluster=True, k=3)
    hm = similarity_heatmap(state, "A")
    render(hm)
    tap, _ = hm.cell_streams
    o = state.ordering("A")
    b = o.boundaries
    big = int(np.argmax(np.diff(b)))  # a cluster of at least two pairs: an off-diagonal cell inside its box
    a = int(b[big])
    tap.event(x=float(10 + a + 1), y=float(a))  # image–text quadrant, inside the box
    assert state.interaction.selected_pairs == state.cluster_pairs("A", big)
    assert (state.interaction.inspected["row"], state.interaction.inspected["col"]) == (a, 10 + a + 1)
    other = (big + 1) % len(o.members)
    tap.event(x=float(b[other]), y=float(10 + b[other]))  # text–image quadrant, the other cluster's box
    assert state.interaction.selected_pairs == state.cluster_pairs("A", other)
    before = list(state.interaction.selected_pairs)
    outside = next((r, c) for r in range(10) for c in range(10) if cluster_at(b, 10, r, c) is None)
    tap.event(x=float(outside[1]), y=float(outside[0]))  # outside every box: inspected, the selection stays
    assert state.interaction.selected_pairs == before and state.interaction.inspected["row"] == outside[0]
    state.order.cluster = False  # no boxes: a tap only inspects
    state.interaction.selected_pairs = []
    tap.event(x=1.0, y=1.0)
    assert state.interaction.selected_pairs == []


def test_cell_from_xy():
    assert cell_from_xy(0.49, -0.49, 4) == (0, 0)
    assert cell_from_xy(3.4, 3.4, 4) == (3, 3)
    assert cell_from_xy(3.6, 0, 4) is None
    assert cell_from_xy(None, 0, 4) is None


def test_a_filter_matching_nothing_shows_an_empty_plot_and_says_why(state):
    hm = similarity_heatmap(state, "A")
    plot = render(hm)
    state.data.caption_filter = "nothing-matches-this"
    assert "no caption matches" in hm.feed.error
    assert np.isnan(data(plot, "Image")["image"][0]).all()
    assert plot.state.title.text.startswith("Similarity · no caption matches")


def test_difference_heatmap_is_centred_and_titled(state):
    plot = render(difference_heatmap(state, "A"))
    d = data(plot, "Image")["image"][0]
    e = state.embeddings("A")
    x, y = np.asarray(e.image), np.asarray(e.text)
    assert d.shape == (10, 10)
    dm = x @ x.T - y @ y.T
    assert d[2, 7] == pytest.approx(dm[2, 7], abs=1e-6)
    mapper = glyphs(plot, "Image")[0].glyph.color_mapper
    assert mapper.low == pytest.approx(-mapper.high)
    off = np.abs(dm[~np.eye(10, dtype=bool)])
    assert mapper.high == pytest.approx(np.percentile(off, 99), rel=1e-5)  # ±p99 of |D| off the diagonal
    assert f"mean|D| = {np.abs(dm).mean():.4f}" in plot.state.title.text


def test_views_compute_off_the_event_loop_and_show_the_latest_settings(state):
    """With a runner (the app's thread pool), a settings change returns at once; the heatmap
    keeps the previous tile, its Feed says it is pending, and a burst of changes is computed once,
    for the newest settings."""
    jobs = []
    hm = similarity_heatmap(state, "A", run=jobs.append)
    plot = render(hm)
    assert hm.feed.pending and len(jobs) == 1
    assert np.isnan(data(plot, "Image")["image"][0]).all()  # the placeholder, over the whole matrix
    jobs.pop()()
    first = np.array(data(plot, "Image")["image"][0])
    hm.feed._last_seconds = 5.0  # as slow as a million pairs
    state.gap.alpha = 0.3
    state.gap.alpha = 0.6  # arrives while the first change waits: merged
    assert len(jobs) == 1 and hm.feed.pending
    np.testing.assert_array_equal(data(plot, "Image")["image"][0], first)
    jobs.pop()()
    assert not hm.feed.pending and hm.feed.computations == 2
    np.testing.assert_allclose(data(plot, "Image")["image"][0], matrix(state), atol=1e-6)
    assert plot.state.tags[-1]["provenance"]["alpha"] == 0.6


def test_a_disposed_view_stops_following_the_settings(state):
    hm = similarity_heatmap(state, "A")
    render(hm)
    n = hm.feed.computations
    hm.feed.dispose()
    state.gap.alpha = 0.5
    assert hm.feed.computations == n


def test_cluster_gallery_escapes_labels_and_shows_examples(state):
    state.order.param.update(cluster=True, k=3)
    pane = cluster_gallery(state, "A", per_cluster=2)
    html = pane.feed.value["html"]
    assert html.count('class="bx-cluster"') == len(state.ordering("A").members)
    assert "<script" not in html and "onerror=" not in html.replace("onerror=&quot;", "")
    assert html.count("/thumb/") == sum(min(2, s) for s in state.ordering("A").sizes)


def test_every_cluster_has_a_tag_inside_the_matrix_none_overlapping():
    import pandas as pd

    from explorer.views.heatmap import cluster_label_rows

    n = 100  # on 400 px: 2 px per row; tiny clusters too get a tag
    bounds = [0, 3, 6, 40, 97, 98, 99, 100]
    rows = pd.DataFrame(cluster_label_rows(bounds, n, "text-image", size=400), columns=["column", "row", "text", "bg", "align"])
    assert list(rows["text"]) == [str(c + 1) for c in range(7)]
    assert all(99.5 <= r <= 199.5 for r in rows["row"]) and all(-0.5 < c < 100 for c in rows["column"])
    assert rows["row"].diff().dropna().min() >= 8 - 1e-9, "16 px tags at 2 px per row: at least 8 rows apart"


def test_a_new_tile_of_the_same_frame_is_written_straight_into_the_plot():
    """Zooms and α moves of a plot shown in a document skip HoloViews' redraw of every layer:
    the tile goes into the image's data source, the same data HoloViews itself would draw."""
    from bokeh.document import Document

    st = ExplorerState(make_source(n=300, d=8, gap=0.5))
    hm = similarity_heatmap(st, "A", size=60)
    plot = render(hm)
    Document().add_root(plot.state)
    frames = []
    hm.feed.pipe.add_subscriber(lambda data: frames.append(data))
    hm.feed.request(x_range=(99.5, 159.5), y_range=(399.5, 459.5))
    fast = {k: v for k, v in data(plot, "Image").items()}
    s = matrix(st)
    np.testing.assert_allclose(fast["image"][0], s[400:460, 100:160], atol=1e-6)
    assert (fast["x"][0], fast["y"][0], fast["dw"][0]) == (99.5, 399.5, 60.0)
    assert frames and hm.feed.value["tile"].window == (100, 160, 400, 460)
    # the same data as HoloViews' own drawing of that tile
    other = similarity_heatmap(st, "A", size=60)
    other_plot = render(other)  # no document: HoloViews redraws
    other.feed.request(x_range=(99.5, 159.5), y_range=(399.5, 459.5))
    slow = data(other_plot, "Image")
    assert set(slow) == set(fast)
    for k in fast:
        np.testing.assert_allclose(np.asarray(fast[k][0], dtype=float), np.asarray(slow[k][0], dtype=float), atol=1e-7)
    st.gap.alpha = 0.5  # a new tile and new colour limits, same frame
    mapper = glyphs(plot, "Image")[0].glyph.color_mapper
    assert (mapper.low, mapper.high) == pytest.approx(hm.feed.value["clim"])
    np.testing.assert_allclose(data(plot, "Image")["image"][0], matrix(st)[400:460, 100:160], atol=1e-6)
    assert plot.state.tags[-1]["provenance"]["alpha"] == 0.5


def callbacks_of(plot) -> list[str]:
    out = [type(c).__name__ for c in plot.callbacks]
    for sub in (getattr(plot, "subplots", None) or {}).values():
        out += callbacks_of(sub)
    return out


def test_zooms_and_taps_reach_the_heatmap_from_the_browser(state):
    """The streams are linked to the rendered plot (HoloViews links a stream only to a DynamicMap
    of one element: calling stream.event() in a test would pass without it, a browser would not)."""
    assert sorted(callbacks_of(render(similarity_heatmap(state, "A")))) == [
        "DoubleTapCallback", "PlotSizeCallback", "RangeXYCallback", "TapCallback"]
    assert "TapCallback" not in callbacks_of(render(similarity_heatmap(state, "A", interactive=False)))


def test_a_caption_filter_resizes_the_heatmap_in_place_and_a_zoom_does_not_outlive_its_matrix(state):
    """The same plot follows a filter (axes on the whole new matrix, its tile whole); a zoom window
    drawn on the full matrix is not reused once the filter is cleared (the axes then show the
    whole matrix, so must the tile)."""
    hm = similarity_heatmap(state, "A")
    plot = render(hm)
    word = next(w for w in state.pairs.captions[0].split() if w.isalpha() and len(w) > 2)
    hm.feed.request(x_range=(2.5, 7.5), y_range=(2.5, 7.5), window_of=20)  # zoomed in on the 20×20 matrix
    assert hm.feed.value["tile"].window == (3, 8, 3, 8)
    state.data.caption_filter = word
    m = int(state.active_indices().size)
    assert 0 < m < 10, (word, m)
    rng = [r for r in plot.traverse(lambda p: p) if type(r).__name__ == "RasterPlot"][0].state
    assert (min(rng.x_range.start, rng.x_range.end), max(rng.x_range.start, rng.x_range.end)) == (-0.5, 2 * m - 0.5)
    assert hm.feed.value["tile"].window == (0, 2 * m, 0, 2 * m)
    assert data(plot, "Image")["image"][0].shape == (2 * m, 2 * m)
    state.data.caption_filter = ""
    assert hm.feed.value["tile"].window == (0, 20, 0, 20), "the old zoom window is not drawn on the axes of the whole matrix"
    assert (min(rng.x_range.start, rng.x_range.end), max(rng.x_range.start, rng.x_range.end)) == (-0.5, 19.5)
