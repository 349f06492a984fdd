"""The projection scatter rendered with Bokeh: edges coloured by pair similarity, escaped
tooltips, selection streams → state, the rasterized form for many pairs."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import data, glyphs, render
from synthetic_source import make_source

from explorer.analysis.similarity import pair_similarities
from explorer.engine.memo import MEMO
from explorer.state import ExplorerState
from explorer.views.provenance import feed_provenance_pane
from explorer.views.scatter import TOOLTIP, edges_frame, glyph_frame, nearest_pair, pairs_in_bounds, projection_scatter


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=12, image_dir=tmp_path / "imgs", hostile=True))


def test_one_edge_per_pair_coloured_by_full_space_similarity(state):
    plot = render(projection_scatter(state, "A"))
    seg = glyphs(plot, "Segment")
    assert len(seg) == 2 and len(seg[1].data_source.data["x0"]) == 0  # every pair's edge; the selected pairs' (none)
    d = seg[0].data_source.data
    e = state.embeddings("A")
    assert len(d["x0"]) == 12
    # the glyph's colour is mapped from the pair similarities through a colour mapper
    color = seg[0].glyph.line_color
    np.testing.assert_allclose(d[color["field"]], pair_similarities(e.image, e.text))
    assert color["transform"].palette
    # endpoints: image point and caption point of the same pair
    p = state.projection_result("A")
    np.testing.assert_allclose(d["x0"], p.coords[:12, 0])
    np.testing.assert_allclose(d["y1"], p.coords[12:, 1])


def test_edges_follow_the_displayed_components(state):
    plot = render(projection_scatter(state, "A"))
    state.projection.param.update(x_component=3, y_component=2)
    d = data(plot, "Segment")
    p = state.projection_result("A")
    np.testing.assert_allclose(d["x0"], p.coords[:12, 2])
    np.testing.assert_allclose(d["y0"], p.coords[:12, 1])
    np.testing.assert_allclose(d["x1"], p.coords[12:, 2])
    assert plot.state.title.text == "Projection · A · PCA joint"
    # the axes name the components shown, and so does the faithfulness of this projection
    assert (plot.state.xaxis[0].axis_label, plot.state.yaxis[0].axis_label) == ("PC3", "PC2")
    assert state.projection_label("A").endswith("· PC3 × PC2")
    assert plot.state.tags[-1]["provenance"]["projection"] == "PCA joint (seed 0)"
    assert MEMO.computed.get("faithfulness", 0) == 0  # only computed when shown
    from explorer.views.numbers import faithfulness_rows

    assert dict(faithfulness_rows(state, "A"))["projection"] == state.projection_label("A")


def test_points_by_modality_with_escaped_html_tooltips(state):
    plot = render(projection_scatter(state, "A"))
    pts = glyphs(plot, "Scatter")
    d = pts[0].data_source.data
    assert sorted(set(d["modality"])) == ["image", "text"]
    html = " ".join(d["caption_html"])
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&quot;" in html and "&#x27;" in html
    assert max(len(c) for c in d["caption_html"]) < 400  # 2,000-character caption truncated
    assert all(t.startswith("/thumb/") and t.endswith(".png") for t in d["thumb"])
    # the tooltip template only marks escaped columns as {safe}
    hover = [t for t in plot.state.tools if type(t).__name__ == "HoverTool"]
    import re

    safe = re.findall(r"@\{?(\w+)\}?\{safe\}", str(hover[0].tooltips))
    assert "caption_html" in safe and set(safe) <= {"caption_html", "thumb"}
    assert "@caption " not in TOOLTIP and "@{caption}" not in TOOLTIP


def test_box_or_lasso_selection_sets_selected_pairs(state):
    sc = projection_scatter(state, "A")
    render(sc)
    (sel,) = sc.selection_streams
    df = state.projection_frame("A")
    sel.event(index=[0, 12 + 3, 5])  # image 0, caption 3, image 5
    assert state.interaction.selected_pairs == [int(df.pair_id[0]), int(df.pair_id[15]), int(df.pair_id[5])] == [0, 3, 5]
    sel.event(index=[7])  # a single point also shows its pair in the inspect panel
    assert state.interaction.inspected["kind"] == "pair" and state.interaction.inspected["row_item"]["pair_id"] == 7


def test_selected_pairs_are_outlined(state):
    plot = render(projection_scatter(state, "A"))
    state.interaction.selected_pairs = [2]
    outlined = glyphs(plot, "Scatter")[-1].data_source.data
    p = state.projection_result("A")
    np.testing.assert_allclose(outlined["x"], p.coords[[2, 12 + 2], 0])  # its image and its caption
    np.testing.assert_allclose(outlined["y"], p.coords[[2, 12 + 2], 1])
    # and the edge between the two, in bold black over the others
    bold = glyphs(plot, "Segment")[1]
    d = bold.data_source.data
    assert len(d["x0"]) == 1 and bold.glyph.line_width == 2.5 and bold.glyph.line_color == "black"
    np.testing.assert_allclose([d["x0"][0], d["x1"][0]], p.coords[[2, 12 + 2], 0])


def test_many_pairs_are_rasterized_and_box_selection_still_works(state):
    state.look.datashade_above = 5
    sc = projection_scatter(state, "A")
    assert sc.rasterized
    plot = render(sc)
    kinds = {type(getattr(r, "glyph", None)).__name__ for r in plot.state.renderers}
    assert {"Image", "ImageStack"} <= kinds
    # no glyph per pair: the only segments are the selected pairs' edges (none yet)
    assert all(len(g.data_source.data["x0"]) == 0 for g in glyphs(plot, "Segment"))
    bounds, tap = sc.selection_streams
    df = state.projection_frame("A")
    left, r = df.x.min() - 1, df.x.median()
    b, t = df.y.min() - 1, df.y.max() + 1
    bounds.event(bounds=(left, b, r, t))
    assert state.interaction.selected_pairs == pairs_in_bounds(df, (left, b, r, t))
    assert state.interaction.selected_pairs  # at least the leftmost points
    assert len(glyphs(plot, "Segment")[0].data_source.data["x0"]) == len(state.interaction.selected_pairs)  # their edges in bold
    x0, y0 = df.x.iloc[4], df.y.iloc[4]
    tap.event(x=x0, y=y0)
    assert state.interaction.inspected["row_item"]["pair_id"] == int(df.pair_id.iloc[4])


def test_a_zoomed_rasterized_scatter_rasterizes_the_visible_window(state):
    state.look.datashade_above = 5
    sc = projection_scatter(state, "A", size=40)
    plot = render(sc)
    df = state.projection_frame("A")
    x0, x1 = float(df.x.min()), float(df.x.median())
    sc.feed.request(x_range=(x0, x1), y_range=(float(df.y.min()), float(df.y.max())), width=40, height=40)
    img = glyphs(plot, "Image")[0].data_source.data
    assert img["x"][0] == pytest.approx(x0) and img["dw"][0] == pytest.approx(x1 - x0)


def test_rasterized_edges_average_similarity():
    import datashader as ds
    import holoviews as hv
    from holoviews.operation.datashader import rasterize

    # two crossing edges with sims 0.2 and 0.8: where they cross the mean is 0.5
    seg = hv.Segments([(0, 0, 1, 1, 0.2, 0), (0, 1, 1, 0, 0.8, 1)], kdims=["x0", "y0", "x1", "y1"], vdims=["sim", "pair_id"])
    img = rasterize(seg, aggregator=ds.mean("sim"), dynamic=False, width=21, height=21, x_range=(0, 1), y_range=(0, 1))
    vals = img.dimension_values(2, flat=False)
    assert np.nanmin(vals) == pytest.approx(0.2) and np.nanmax(vals) == pytest.approx(0.8)
    assert vals[10, 10] == pytest.approx(0.5)


def test_helpers():
    import pandas as pd

    coords = pd.DataFrame({"pair_id": [0, 1, 0, 1], "modality": ["image", "image", "text", "text"],
                           "x": [0.0, 5.0, 1.0, 6.0], "y": [0.0, 0.0, 1.0, 1.0], "sim": [0.5, 0.1, 0.5, 0.1]})
    e = edges_frame(coords)
    assert e[["x0", "y0", "x1", "y1"]].values.tolist() == [[0, 0, 1, 1], [5, 0, 6, 1]]
    assert e.sim.tolist() == [0.5, 0.1]
    assert pairs_in_bounds(coords, (0.5, 0.5, 1.5, 1.5)) == [0]
    assert pairs_in_bounds(coords, (-1, -1, 10, 10)) == [0, 1]
    assert nearest_pair(coords, 5.9, 0.8) == 1


def test_concatenated_mode_has_no_edges(state):
    state.projection.projection_mode = "concatenated"
    df = glyph_frame(state, "A", state.projection_frame("A"))
    assert len(df) == 12 and len(edges_frame(df)) == 0
    plot = render(projection_scatter(state, "A"))
    assert len(data(plot, "Segment")["x0"]) == 0


def test_point_colour_by_faithfulness(state):
    state.projection.point_color = "kNN overlap"
    plot = render(projection_scatter(state, "A"))
    pts = glyphs(plot, "Scatter")[0]
    field = pts.glyph.fill_color["field"]
    f = state.faithfulness("A")
    np.testing.assert_allclose(pts.data_source.data[field], f.knn_overlap_per_point)
    assert not np.allclose(f.knn_overlap_per_point, f.trustworthiness_per_point)


@pytest.mark.parametrize("rasterized", [False, True])
def test_axes_follow_new_coordinates_when_alpha_moves(rasterized):
    """Closing the gap moves every point: the visible range must follow (plain glyphs: framewise
    ranges; rasterized layers: the old visible range is forgotten first)."""
    state = ExplorerState(make_source(n=60, d=8, gap=3.0), alpha=1.0, datashade_above=10 if rasterized else 2000)
    sc = projection_scatter(state, "A")
    assert sc.rasterized is rasterized
    plot = render(sc)
    for alpha in (0.0, 0.5):  # (with the ranges of α = 1 kept, α = 0 puts points off the axes)
        state.gap.alpha = alpha
        df = state.projection_frame("A")
        xr, yr = plot.state.x_range, plot.state.y_range
        assert xr.start <= df.x.min() + 1e-9 and df.x.max() - 1e-9 <= xr.end, (alpha, xr.start, xr.end)
        assert yr.start <= df.y.min() + 1e-9 and df.y.max() - 1e-9 <= yr.end, (alpha, yr.start, yr.end)


def test_a_new_projection_is_computed_off_the_slider_move(state):
    """With a runner (the app's thread pool), moving α returns at once; the scatter keeps the
    previous projection, says it is updating, and shows the new one when it is ready."""
    jobs = []
    sc = projection_scatter(state, "A", run=jobs.append)
    plot = render(sc)
    line = feed_provenance_pane(sc.feed)

    assert len(data(plot, "Segment")["x0"]) == 0 and sc.feed.pending  # nothing yet
    jobs.pop(0)()
    old = np.asarray(data(plot, "Segment")["x0"]).copy()
    assert len(old) == 12 and not sc.feed.pending and "α=0 " in line.object
    sc.feed._last_seconds = 5.0  # as slow as a UMAP of thousands of pairs
    projections = MEMO.computed["projection"]
    state.gap.alpha = 0.7
    assert MEMO.computed["projection"] == projections  # the α move computed nothing
    assert sc.feed.pending and "updating" in line.object and "α=0 " in line.object
    np.testing.assert_array_equal(data(plot, "Segment")["x0"], old)
    jobs.pop(0)()
    assert jobs == [] and not sc.feed.pending and "updating" not in line.object and "α=0.7" in line.object
    np.testing.assert_allclose(data(plot, "Segment")["x0"], state.projection_result("A").coords[:12, 0])
    assert plot.state.tags[-1]["provenance"]["alpha"] == 0.7


def test_a_quick_projection_is_computed_at_once_even_with_a_runner(state):
    """Work that took less than SYNC_BELOW seconds last time skips the thread (no added latency)."""
    jobs = []
    sc = projection_scatter(state, "A", run=jobs.append)
    jobs.pop(0)()  # the first computation goes through the runner (its cost is unknown)
    assert sc.feed._last_seconds is not None  # measured
    sc.feed._last_seconds = 0.01  # (12 pairs, PCA: milliseconds)
    state.gap.alpha = 0.6
    assert jobs == [] and not sc.feed.pending
    assert sc.feed.value["provenance"]["alpha"] == 0.6


def test_rasterized_scatter_draws_while_its_first_projection_is_computed(state):
    """On a server the first projection comes from a background thread: the rasterized layers
    must draw the empty placeholder (no points yet) and then the projection, whole."""
    state.look.datashade_above = 5
    jobs = []
    sc = projection_scatter(state, "A", run=jobs.append)
    assert sc.rasterized and sc.feed.pending
    plot = render(sc)  # the placeholder: an empty frame, not an exception

    def stack():
        g = glyphs(plot, "ImageStack")[0]
        return np.asarray(g.data_source.data["image"][0]), list(g.glyph.color_mapper.palette)

    empty, palette = stack()
    # already the two modality layers (BokehJS fails on a palette longer than the stack while the
    # number of layers changes from the placeholder's one to two)
    assert empty.shape[-1] == 2 and palette == ["#1f77b4", "#ff7f0e"] and empty.sum() == 0
    jobs.pop(0)()
    df = state.projection_frame("A")
    xr = plot.state.x_range
    assert xr.start <= df.x.min() + 1e-9 and df.x.max() - 1e-9 <= xr.end, (xr.start, xr.end)
    img = glyphs(plot, "Image")[0].data_source.data["image"][0]
    assert np.isfinite(img).any(), "the edges are drawn"
    counts, palette = stack()
    assert counts.shape[-1] == 2 and (counts.sum(axis=(0, 1)) > 0).all(), "points of both modalities are drawn"
    assert palette == ["#1f77b4", "#ff7f0e"]


def test_the_first_projection_is_shown_whole_when_the_browser_reports_nan_ranges_meanwhile(state):
    """What Chromium does: the plot drawn before its data reports its ranges as NaN while the
    first projection is computed. That request makes the first computation stale; the one that
    is shown must still fit the whole projection (it showed the unit square, cutting the data)."""
    state.look.datashade_above = 5
    jobs = []
    sc = projection_scatter(state, "A", run=jobs.append)
    plot = render(sc)
    nan = (float("nan"), float("nan"))
    compute, calls = sc.feed.compute, []

    def compute_while_the_browser_reports(**req):
        if not calls:  # the browser's NaN ranges arrive while the first computation runs
            sc.feed.request(x_range=nan, y_range=nan, width=40, height=40)
        calls.append(req)
        return compute(**req)

    sc.feed.compute = compute_while_the_browser_reports
    jobs.pop(0)()  # computes, finds itself stale: the newer request goes to the runner
    jobs.pop(0)()  # computes again with the NaN window, publishes that
    assert len(calls) == 2 and calls[1]["x_range"] is nan
    df = state.projection_frame("A")
    xr, yr = plot.state.x_range, plot.state.y_range
    assert xr.start <= df.x.min() and df.x.max() <= xr.end and yr.start <= df.y.min() and df.y.max() <= yr.end, (xr.start, xr.end)
    img = glyphs(plot, "Image")[0].data_source.data
    assert img["x"][0] <= df.x.min() and img["x"][0] + img["dw"][0] >= df.x.max(), "the raster covers every point"


@pytest.mark.parametrize("rasterized", [False, True])
def test_concatenated_pairs_are_coloured_by_their_similarity(state, rasterized):
    """One point per pair and no edges: the points carry the pair-similarity colours and the only
    colour bar (an edge colour bar would describe nothing)."""
    state.projection.projection_mode = "concatenated"
    state.look.datashade_above = 5 if rasterized else 2000
    plot = render(projection_scatter(state, "A"))
    bars = [r for r in plot.state.right if type(r).__name__ == "ColorBar"]
    assert len(bars) == 1 and bars[0].title == "pair similarity"
    e = state.embeddings("A")
    if rasterized:
        img = np.asarray(glyphs(plot, "Image")[-1].data_source.data["image"][0], dtype=float)
        vals = img[np.isfinite(img)]
        sims = pair_similarities(e.image, e.text)
        assert vals.size and vals.min() >= sims.min() - 1e-5 and vals.max() <= sims.max() + 1e-5
    else:
        pts = glyphs(plot, "Scatter")[0]
        d = pts.data_source.data
        field = pts.glyph.fill_color["field"]
        assert type(pts.glyph.fill_color["transform"]).__name__ == "LinearColorMapper"
        np.testing.assert_allclose(np.sort(d[field]), np.sort(pair_similarities(e.image, e.text)), rtol=1e-6)


def test_selections_and_zooms_reach_the_scatter_from_the_browser(state):
    """The streams are linked to the rendered plot, not just callable from a test."""
    from test_views_heatmap import callbacks_of

    assert callbacks_of(render(projection_scatter(state, "A"))) == ["Selection1DCallback"]
    state.look.datashade_above = 5
    assert sorted(callbacks_of(render(projection_scatter(state, "A")))) == [
        "BoundsCallback", "MouseLeaveCallback", "PlotSizeCallback", "PointerXYCallback", "RangeXYCallback",
        "TapCallback"]  # the pointer and its leaving: the hover


def test_the_same_window_is_rasterized_once(state, monkeypatch):
    """The browser reports back the window a new projection was drawn in (and the plot's size):
    those pixels are not rasterized again; another window or another α is."""
    from explorer.views import scatter

    calls = []
    real = scatter.rasters
    monkeypatch.setattr(scatter, "rasters", lambda *a, **k: calls.append(a[3:]) or real(*a, **k))
    state.look.datashade_above = 5
    sc = projection_scatter(state, "A", size=40)
    render(sc)
    n = len(calls)
    x_range, y_range = sc.feed.value["window"]
    sc.feed.request(x_range=x_range, y_range=y_range, width=40, height=40)
    assert len(calls) == n, "the window just drawn was rasterized again"
    sc.feed.request(x_range=(x_range[0], (x_range[0] + x_range[1]) / 2))
    assert len(calls) == n + 1
    state.gap.alpha = 0.5
    assert len(calls) == n + 2 and sc.feed.value["reset"]


@pytest.mark.parametrize("window, empties", [(((-1.0, 1.3), (-0.8, 0.9)), True), (((0.1, 0.4), (-0.2, 0.1)), False)])
def test_edges_split_over_the_cores_give_holoviews_raster_of_all_segments(monkeypatch, window, empties):
    """edge_means (the edges in parts, one per core, sums and counts added) equals HoloViews'
    rasterize of every segment with the mean aggregator: same pixels, same means, same empties."""
    import datashader as ds
    import holoviews as hv
    import pandas as pd
    from holoviews.operation.datashader import rasterize

    from explorer.engine import backend
    from explorer.views.scatter import edge_means, sim_image

    monkeypatch.setattr(backend, "cores", lambda: 3)
    rng = np.random.default_rng(8)
    n = 30_001
    x0, y0 = rng.normal(size=n) * 0.3, rng.normal(size=n) * 0.3
    edges = pd.DataFrame({"x0": x0, "y0": y0, "x1": x0 + 0.5 + rng.normal(size=n) * 0.1, "y1": y0 + rng.normal(size=n) * 0.2,
                          "sim": rng.uniform(size=n), "pair_id": np.arange(n)})
    (xr, yr), w, h = window, 120, 90
    seg = hv.Segments(edges, kdims=["x0", "y0", "x1", "y1"], vdims=["sim", "pair_id"])
    want = sim_image(rasterize(seg, aggregator=ds.mean("sim"), dynamic=False, x_range=xr, y_range=yr, width=w, height=h))
    got = edge_means(edges, xr, yr, w, h)
    for d in (0, 1):
        np.testing.assert_allclose(got.dimension_values(d, expanded=False), want.dimension_values(d, expanded=False), rtol=1e-12)
    a = got.dimension_values(2, flat=False)
    b = want.dimension_values(2, flat=False)
    assert a.shape == (h, w) and np.array_equal(np.isnan(a), np.isnan(b)) and (~np.isnan(b)).sum() > 100
    assert np.isnan(b).any() == empties  # the zoomed-out window has pixels no edge crosses
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-6)

