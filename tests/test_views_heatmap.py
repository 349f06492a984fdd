"""The similarity and difference heatmaps rendered with Bokeh: values, quadrants, aggregation,
cluster boxes, selection bands, taps."""

from __future__ import annotations

import numpy as np
import pytest
from holoviews.operation.datashader import rasterize

from explorer.state import ExplorerState
from explorer.views.difference import difference_heatmap, symmetric_clim
from explorer.views.heatmap import cell_from_xy, cluster_gallery, matrix_image, similarity_heatmap
from render_helpers import data, glyphs, render
from synthetic_source import make_source


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=10, image_dir=tmp_path / "imgs", hostile=True))


def test_rendered_matrix_holds_every_quadrant_at_full_resolution(state):
    plot = render(similarity_heatmap(state, "A"))
    d = data(plot, "Image")
    img = d["image"][0]
    e = state.source_data().embeddings["A"]
    x, y = np.asarray(e.image), np.asarray(e.text)
    assert img.shape == (20, 20)
    # row r, column c of the rendered grid is cell (r, c): image i = row i, caption i = row 10 + i
    assert img[1, 4] == pytest.approx(x[1] @ x[4], abs=1e-6)
    assert img[1, 14] == pytest.approx(x[1] @ y[4], abs=1e-6)
    assert img[11, 4] == pytest.approx(y[1] @ x[4], abs=1e-6)
    assert img[11, 14] == pytest.approx(y[1] @ y[4], abs=1e-6)
    assert (d["x"][0], d["y"][0], d["dw"][0]) == (-0.5, -0.5, 20.0)
    assert plot.state.y_range.start > plot.state.y_range.end  # row 0 at the top


def test_separators_quadrant_labels_and_title(state):
    plot = render(similarity_heatmap(state, "A"))
    spans = [r for r in plot.state.renderers if type(r).__name__ == "Span"]
    assert sorted((s.dimension, s.location) for s in spans) == [("height", 9.5), ("width", 9.5)]
    labels = data(plot, "Text", 0)
    assert sorted(labels["quadrant"]) == ["image–image", "image–text", "text–image", "text–text"]
    # a short title; what produced the plot is in the figure's tags (and in the line beside it)
    assert plot.state.title.text == "Similarity · A"
    prov = plot.state.tags[-1]["provenance"]
    assert (prov["model"], prov["source"], prov["n"], prov["alpha"], prov["aggregation"]) == ("A", "synthetic:test", 10, 0.0, "max")
    assert plot.state.xaxis[0].axis_label == "column: images 0–9 | captions 10–19"
    assert plot.state.yaxis[0].axis_label == "row: images 0–9 | captions 10–19"
    state.alpha = 0.5
    assert plot.state.tags[-1]["provenance"]["alpha"] == 0.5
    assert plot.state.title.text == "Similarity · A"
    state.caption_filter = "red"  # pairs 4 and 8 (pair 0's caption is a hostile one)
    assert plot.state.yaxis[0].axis_label == "row: images 0–1 | captions 2–3"
    spans = [r for r in plot.state.renderers if type(r).__name__ == "Span"]
    assert sorted(s.location for s in spans) == [1.5, 1.5]


def test_mean_hides_the_diagonal_that_max_keeps():
    n = 1000
    m = np.zeros((n, n), np.float32)
    np.fill_diagonal(m, 1.0)
    img = matrix_image(m)
    mx = rasterize(img, aggregator="max", width=100, height=100, dynamic=False)
    mean = rasterize(img, aggregator="mean", width=100, height=100, dynamic=False)
    assert np.nanmax(mx.dimension_values("similarity")) == 1.0
    assert np.nanmax(mean.dimension_values("similarity")) == pytest.approx(0.1)


def test_aggregation_param_drives_the_rendered_plot():
    n = 300
    src = make_source(n=n, d=4, gap=0.0)
    st = ExplorerState(src, aggregation="max")
    plot = render(similarity_heatmap(st, "A", size=100))
    img = data(plot, "Image")["image"][0]
    assert img.shape[0] < 600  # aggregated to the plot, not 600×600
    top_max = np.nanmax(img)
    st.aggregation = "mean"
    img_mean = data(plot, "Image")["image"][0]
    assert np.nanmax(img_mean) < top_max


def test_cluster_boxes_and_labels(state):
    state.cluster = True
    state.k = 4
    plot = render(similarity_heatmap(state, "A"))
    o = state.ordering("A")
    quads = data(plot, "Quad")
    assert len(quads["left"]) == 4 * len(o.members)  # one box per cluster in each quadrant
    b = o.boundaries
    # the image–image quadrant's boxes span each cluster's display positions on both axes
    top_left = sorted((lo, r, bo, t) for lo, r, bo, t in zip(quads["left"], quads["right"], quads["bottom"], quads["top"]) if r <= 9.5 and t <= 9.5)
    assert top_left == [(a - 0.5, c - 0.5, a - 0.5, c - 0.5) for a, c in zip(b[:-1], b[1:])]
    cl = data(plot, "Text", 1)
    full = [f"{c + 1}. {label}" for c, label in enumerate(state.cluster_labels("A"))]
    assert len(cl["cluster"]) == len(full)  # 10 pairs on 560 px: every box is high enough for a label
    for shown, whole in zip(cl["cluster"], full):  # long labels are shortened with an ellipsis
        assert shown == whole or (shown.endswith("…") and whole.startswith(shown[:-1])), (shown, whole)
    state.cluster = False
    assert len(data(plot, "Quad")["left"]) == 0


def test_selected_pairs_highlight_rows_and_columns(state):
    state.cluster = True
    state.k = 3
    plot = render(similarity_heatmap(state, "A"))
    assert len(data(plot, "HStrip")["y0"]) == 0
    state.selected_pairs = [4]
    q = int(np.flatnonzero(state.display_pairs("A") == 4)[0])
    h = data(plot, "HStrip")
    v = data(plot, "VStrip")
    assert sorted(h["y0"]) == [q - 0.5, 10 + q - 0.5]  # the image row and the caption row
    assert sorted(v["x0"]) == [q - 0.5, 10 + q - 0.5]
    assert sorted(h["y1"]) == [q + 0.5, 10 + q + 0.5]


def test_tap_inspects_both_items_and_double_tap_selects_the_row(state):
    import holoviews as hv

    hm = similarity_heatmap(state, "A")
    render(hm)
    tap, dtap = hm.cell_streams
    assert isinstance(tap, hv.streams.Tap) and isinstance(dtap, hv.streams.DoubleTap)
    tap.event(x=13.2, y=2.9)  # column 13 = caption 3, row 3 = image 3
    info = state.inspected
    assert (info["row"], info["col"]) == (3, 13)
    assert info["row_item"]["modality"] == "image" and info["col_item"]["modality"] == "text"
    assert info["row_item"]["pair_id"] == 3 and info["col_item"]["pair_id"] == 3
    assert info["value"] == pytest.approx(float(state.similarity("A")[3, 13]))
    dtap.event(x=1.0, y=16.0)  # caption row of pair 6
    assert state.selected_pairs == [6]
    tap.event(x=50.0, y=2.0)  # outside: nothing changes
    assert state.inspected is info
    tap.event(x=13.0, y=3.1)  # the same cell again: no new event
    assert state.inspected is info


def test_hover_inspection_follows_the_mouse_when_enabled(state):
    import holoviews as hv

    hm = similarity_heatmap(state, "A", hover_inspect=True)
    render(hm)
    pointer = hm.cell_streams[2]
    assert isinstance(pointer, hv.streams.PointerXY)
    pointer.event(x=2.0, y=17.0)
    assert (state.inspected["row"], state.inspected["col"]) == (17, 2)
    assert state.inspected["row_item"]["modality"] == "text" and state.inspected["col_item"]["modality"] == "image"
    assert len(similarity_heatmap(state, "A").cell_streams) == 2  # off by default


def test_cell_from_xy():
    assert cell_from_xy(0.49, -0.49, 4) == (0, 0)
    assert cell_from_xy(3.4, 3.4, 4) == (3, 3)
    assert cell_from_xy(3.6, 0, 4) is None
    assert cell_from_xy(None, 0, 4) is None


def test_a_filter_matching_nothing_shows_an_empty_plot_and_a_status(state):
    plot = render(similarity_heatmap(state, "A"))
    state.caption_filter = "nothing-matches-this"
    assert "no caption matches" in state.status
    assert np.isnan(data(plot, "Image")["image"][0]).all()


def test_difference_heatmap_is_centred_and_titled(state):
    plot = render(difference_heatmap(state, "A"))
    d = data(plot, "Image")["image"][0]
    e = state.embeddings("A")
    x, y = np.asarray(e.image), np.asarray(e.text)
    assert d.shape == (10, 10)
    assert d[2, 7] == pytest.approx(x[2] @ x[7] - y[2] @ y[7], abs=1e-6)
    mapper = glyphs(plot, "Image")[0].glyph.color_mapper
    assert mapper.low == pytest.approx(-mapper.high)
    assert mapper.high == pytest.approx(np.abs(x @ x.T - y @ y.T).max(), rel=1e-5)
    mad = np.abs(x @ x.T - y @ y.T).mean()
    assert f"mean|D| = {mad:.4f}" in plot.state.title.text
    assert symmetric_clim(np.zeros((2, 2))) == (-1.0, 1.0)


def test_cluster_gallery_escapes_labels_and_shows_examples(state):
    state.cluster = True
    state.k = 3
    pane = cluster_gallery(state, "A", per_cluster=2)
    html = pane.object
    assert html.count('class="bx-cluster"') == len(state.ordering("A").members)
    assert "<script" not in html and "onerror=" not in html.replace("onerror=&quot;", "")
    assert html.count("/thumb/") == sum(min(2, s) for s in state.ordering("A").sizes)


def test_cluster_labels_only_where_they_fit_and_inside_the_matrix():
    from explorer.views.heatmap import LABEL_CHARS, cluster_label_points

    n = 100  # on 400 px: 2 px per row, so a box needs 7 rows for a 14 px label
    bounds = [0, 3, 6, 40, 97, 100]
    labels = ["tiny", "small", "left half", "right half " + "x" * 60, "end"]
    lab = cluster_label_points(bounds, labels, n, "text-image", size=400)
    rows = lab.dframe()
    assert list(rows["cluster"].str.split(". ").str[0]) == ["3", "4"], "clusters under 7 rows carry no label"
    assert list(rows["align"]) == ["left", "right"]
    # text-image: rows of the lower quadrants, columns of the image quadrant; the left box is labelled
    # to its right, the right box to its left, so no label runs out of the quadrant's side of the matrix
    assert rows["column"].iloc[0] > 40 - 0.5 and rows["column"].iloc[1] < 40 - 0.5
    assert all(100 <= r < 200 for r in rows["row"])
    assert max(len(t) for t in rows["cluster"]) == LABEL_CHARS and rows["cluster"].iloc[1].endswith("…")


def test_selection_bands_fade_as_more_pairs_are_selected():
    from explorer.views.heatmap import band_alpha, selection_bands

    assert band_alpha(1) == band_alpha(5) == 0.35
    assert band_alpha(10) < band_alpha(6) < 0.35 and band_alpha(1000) == 0.08
    h, v = selection_bands(np.arange(50), 100)
    assert h.opts.get().kwargs["alpha"] == v.opts.get().kwargs["alpha"] == band_alpha(50)
