"""The projection scatter: points by modality and one edge per image–caption pair.

Each edge is coloured by the pair's cosine similarity *in the full space* (of the displayed,
gap-closed embeddings), which separates projection artefacts (long edges of well-matched pairs)
from pairs the model itself does not match. Edges follow the displayed components.

Up to ``look.datashade_above`` pairs, points and edges are plain Bokeh glyphs: hovering a point
shows an HTML tooltip (thumbnail, escaped caption) and box/lasso selection sets
``interaction.selected_pairs``. Above it, the visible window is rasterized by datashader in the
view's Feed (off the event loop, at the plot's pixel size, again after every zoom): edges by
the mean pair similarity per pixel, points by modality; a box selection (``BoundsXY``) selects
pairs, a tap inspects the nearest pair (its items in the side panel) and hovering names the point
under the pointer and its partner in a pane below the plot (``plot.hover``,
explorer.views.scatter_hover). A million pairs draw this way: what travels to the browser is two images.

Points are coloured by modality or by a measure: faithfulness per point, or each item's similarity
to the text probe (``projection.point_color = "probe similarity"``, :mod:`explorer.views.probe`;
rasterized: its mean per pixel).

Selected pairs are drawn on top whichever way they were selected: both points of each pair
outlined in black (a lasso's partner points too) and the edge between them in bold black.
Projections of sampled pairs (UMAP and t-SNE of large sources) say so in their provenance line.
"""

from __future__ import annotations

from typing import Any

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd

from ..state.parts import PROBE_COLOR
from .cards import esc, truncate
from .feed import Feed, params_of
from .probe import PROBE_CMAP, probe_column
from .provenance import provenance_dict, provenance_text, weak_hook, write_provenance
from .style import LEGEND_OPTS, MODALITY_COLORS, SCATTER_SIZE

#: what the scatter's data depend on (the edge colour map is applied without recomputing)
DEPENDS = ("data", "gap.alpha", "gap.renormalize", "projection", "order.k", "look.datashade_above", "probe.query")
POINT_VDIMS = ["modality", "pair_id", "sim", "knn_overlap", "trustworthiness", "probe", "caption_html", "thumb"]
COLOR_COLUMN = {"modality": "modality", "kNN overlap": "knn_overlap", "trustworthiness": "trustworthiness", PROBE_COLOR: "probe"}
#: the point colour of concatenated mode, where each point is a pair and there are no edges
PAIR_SIMILARITY = "pair similarity"
#: from this many pair edges the edges' raster is computed in parts, one per core (edge_means)
SPLIT_SEGMENTS_FROM = 100_000
#: longest side of a rasterized scatter in pixels
MAX_RASTER_PIXELS = 1200

TOOLTIP = """
<div class="bx-scatter-tip" style="max-width:260px">
  <div style="font-size:11px"><b>@modality</b> · pair @pair_id · sim @sim{0.000}</div>
  <img src="@thumb{safe}" style="max-width:96px;max-height:96px" alt="">
  <div style="font-size:12px;overflow-wrap:anywhere">@caption_html{safe}</div>
</div>
"""


def depends(model: str | None) -> tuple[str, ...]:
    return DEPENDS + (("model.active_model",) if model is None else ())


def large(state: Any) -> bool:
    """Whether the scatter of the shown pairs is rasterized."""
    return int(state.active_indices().size) > int(state.look.datashade_above)


def concatenated(state: Any) -> bool:
    """One point per pair coloured by its similarity (the edges' colour) instead of its modality."""
    return state.projection.projection_mode == "concatenated" and state.projection.point_color == "modality"


def edges_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: (x0, y0) image point, (x1, y1) caption point, sim, pair_id."""
    img = frame[frame["modality"] == "image"]
    txt = frame[frame["modality"] == "text"]
    if img.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ("x0", "y0", "x1", "y1", "sim", "pair_id")})
    # image rows come first and captions in the same pair order (engine.projection's layout)
    return pd.DataFrame({"x0": img["x"].to_numpy(), "y0": img["y"].to_numpy(), "x1": txt["x"].to_numpy(),
                         "y1": txt["y"].to_numpy(), "sim": img["sim"].to_numpy(), "pair_id": img["pair_id"].to_numpy()})


def glyph_frame(state: Any, model: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with what plain glyphs show: faithfulness per point when the points are coloured
    by it, escaped caption HTML and thumbnail URLs (only ever for small sources)."""
    df = frame.copy()
    df["probe"] = probe_column(state, model, frame) if state.projection.point_color == PROBE_COLOR else np.nan
    if state.projection.point_color in ("kNN overlap", "trustworthiness"):
        f = state.faithfulness(model)
        df["knn_overlap"] = f.knn_overlap_per_point
        df["trustworthiness"] = f.trustworthiness_per_point
    else:
        df["knn_overlap"] = np.nan
        df["trustworthiness"] = np.nan
    caps = state.captions()
    df["caption_html"] = [esc(caps[int(i)]) if caps is not None else "" for i in df["pair_id"]]
    token = state.thumb_token()
    if token is None:
        df["thumb"] = ""
    else:
        from ..thumbnails import thumb_url

        df["thumb"] = [esc(thumb_url(token, int(i)), 200) for i in df["pair_id"]]
    return df


def _extent(frame: pd.DataFrame) -> tuple[float, float, float, float]:
    if frame.empty:
        return (-1.0, 1.0, -1.0, 1.0)
    x0, x1 = float(frame["x"].min()), float(frame["x"].max())
    y0, y1 = float(frame["y"].min()), float(frame["y"].max())
    px, py = max((x1 - x0) * 0.05, 1e-9), max((y1 - y0) * 0.05, 1e-9)
    return (x0 - px, x1 + px, y0 - py, y1 + py)


def rasters(frame: pd.DataFrame, edges: pd.DataFrame, pairs_only: bool, x_range, y_range, width: int, height: int,
            measure: str | None = None) -> dict:
    """The datashader aggregates of the window: mean pair similarity of the edges per pixel, and
    the points by modality (or their mean pair similarity, one point per pair; or the mean of the
    frame's column `measure` per pixel, e.g. the probe similarity)."""
    from holoviews.operation.datashader import dynspread, rasterize

    opts = dict(dynamic=False, x_range=tuple(x_range), y_range=tuple(y_range), width=int(width), height=int(height))
    out: dict[str, Any] = {}
    if not pairs_only:
        if len(edges) >= SPLIT_SEGMENTS_FROM:
            out["edges"] = edge_means(edges, x_range, y_range, int(width), int(height))
        else:
            seg = hv.Segments(edges, kdims=["x0", "y0", "x1", "y1"], vdims=["sim", "pair_id"])
            out["edges"] = sim_image(rasterize(seg, aggregator=ds.mean("sim"), **opts))
        if measure:
            pts = hv.Points(frame, kdims=["x", "y"], vdims=[measure])
            out["points"] = sim_image(dynspread(rasterize(pts, aggregator=ds.mean(measure), **opts), threshold=0.5, max_px=3, how="max"))
            return out
        pts = hv.Points(frame, kdims=["x", "y"], vdims=["modality"])
        out["points"] = dynspread(rasterize(pts, aggregator=ds.by("modality", ds.count()), **opts), threshold=0.5, max_px=3)
    else:
        pts = hv.Points(frame, kdims=["x", "y"], vdims=["sim"])
        out["points"] = sim_image(dynspread(rasterize(pts, aggregator=ds.mean("sim"), **opts), threshold=0.5, max_px=3, how="max"))
    return out


def edge_means(edges: pd.DataFrame, x_range, y_range, width: int, height: int) -> hv.Image:
    """The mean pair similarity of the edges per pixel, as HoloViews' rasterize of the segments
    gives it, with the edges split over the cores: each part's per-pixel sum and count in one
    datashader pass (its kernels release the GIL), added, then divided (NaN where no edge)."""
    from ..engine.backend import cores, spread

    canvas = ds.Canvas(plot_width=int(width), plot_height=int(height), x_range=tuple(map(float, x_range)),
                       y_range=tuple(map(float, y_range)))
    step = -(-len(edges) // cores())

    def part(s: int):
        agg = canvas.line(edges.iloc[s : s + step], x=["x0", "x1"], y=["y0", "y1"], axis=1,
                          agg=ds.summary(total=ds.sum("sim"), count=ds.count()))
        return agg

    parts = spread(part, range(0, len(edges), step))
    total = sum(np.nan_to_num(p["total"].values) for p in parts)
    count = sum(p["count"].values.astype(np.float64) for p in parts)
    mean = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan).astype(np.float32)
    first = parts[0]["total"]
    return hv.Image((first.coords["x"].values, first.coords["y"].values, mean), kdims=["x", "y"], vdims=["sim"])


def warm_up_kernels() -> float:
    """Rasterize a tiny projection as :func:`rasters` does, both ways (numba compiles datashader's
    kernels for each aggregation and column type at first use: 7 s on this machine, which the first
    rasterized scatter of a server process would otherwise wait for). Returns the seconds taken."""
    import time

    t = time.perf_counter()
    n = 8
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"pair_id": np.tile(np.arange(n, dtype=np.int64), 2),
                          "modality": pd.Categorical(["image"] * n + ["text"] * n, categories=["image", "text"]),
                          "x": rng.normal(size=2 * n), "y": rng.normal(size=2 * n), "sim": rng.uniform(size=2 * n)})
    for pairs_only in (False, True):
        rasters(frame, edges_frame(frame), pairs_only, (-3.0, 3.0), (-3.0, 3.0), 16, 16)
    edge_means(edges_frame(frame), (-3.0, 3.0), (-3.0, 3.0), 16, 16)
    return time.perf_counter() - t


def sim_image(raster: hv.Image) -> hv.Image:
    """A rasterized mean-similarity grid as a float32 hv.Image with the value dimension 'sim'
    (half the bytes to the browser, one name for every layer's colour mapping)."""
    xs = raster.dimension_values(0, expanded=False)
    ys = raster.dimension_values(1, expanded=False)
    vals = np.asarray(raster.dimension_values(2, flat=False), dtype=np.float32)
    return hv.Image((xs, ys, vals), kdims=["x", "y"], vdims=["sim"])


def _finite_window(x_range: Any, y_range: Any) -> bool:
    return x_range is not None and y_range is not None and bool(np.isfinite(np.asarray([*x_range, *y_range], dtype=float)).all())


def scatter_data(state: Any, model: str | None, size: int = SCATTER_SIZE, memory: dict | None = None, *, x_range=None,
                 y_range=None, width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """What the scatter draws for the current settings (and window, when rasterized)."""
    m = state.resolve_model(model)
    frame = state.projection_frame(m)
    p = state.projection_result(m)
    key = (m, p.method, p.mode, p.key, state.closing(), state.components(m), state.selection_key())
    memory = {} if memory is None else memory
    # new coordinates are shown whole: compared with what was last *shown* (a computation that
    # went stale before it was published must not count, or its successor keeps the old window)
    reset = memory.get("shown") != key
    extent = _extent(frame)
    is_large = large(state)
    pairs_only = concatenated(state)
    prov = provenance_dict(state, m, "projection")
    value: dict[str, Any] = {
        "model": m, "frame": frame, "point_color": state.projection.point_color, "pairs_only": pairs_only,
        "method": f"{p.method} {p.mode}", "axes": state.axis_names(m), "extent": extent, "reset": reset, "large": is_large,
        "provenance": prov, "provenance_text": provenance_text(prov, "projection"), "key": key,
    }
    edges = edges_frame(frame)
    if not is_large:
        value["glyphs"] = glyph_frame(state, m, frame)
        value["edges"] = edges
        return value
    if reset or not _finite_window(x_range, y_range):  # a plot drawn before its data reports NaN ranges
        x_range, y_range = extent[:2], extent[2:]
    w = int(min(width or size, MAX_RASTER_PIXELS))
    h = int(min(height or size, MAX_RASTER_PIXELS))
    value["window"], value["pixels"] = (tuple(x_range), tuple(y_range)), (w, h)
    # the hover's k-d tree (views.scatter_hover): once per projection frame, shared by every session showing it
    # (built at the first hover: views.scatter_hover.LazyIndex)
    from .scatter_hover import LazyIndex

    value["index"] = LazyIndex(lambda: state.projection_index(m), len(frame)) if memory.get("hover") else None
    # the browser reports the window a reset drew (and the plot's size) back: the same pixels again
    probing = state.projection.point_color == PROBE_COLOR and not pairs_only
    asked = (key, pairs_only, tuple(float(f"{v:.10g}") for v in (*x_range, *y_range)), w, h, state.probe.query if probing else None)
    if memory.get("raster_asked") != asked:
        shown = frame.assign(probe=probe_column(state, m, frame)) if probing else frame
        memory["raster"] = rasters(shown, edges, pairs_only, x_range, y_range, w, h, "probe" if probing else None)
        memory["raster_asked"] = asked
    value.update(memory["raster"])
    return value


def empty_data() -> dict[str, Any]:
    frame = pd.DataFrame({"pair_id": np.zeros(0, np.int64), "modality": pd.Categorical([], categories=["image", "text"]),
                          "x": np.zeros(0), "y": np.zeros(0), "sim": np.zeros(0)})
    return {"model": "", "frame": frame, "point_color": "modality", "pairs_only": False, "method": "", "axes": ("x", "y"),
            "extent": (-1.0, 1.0, -1.0, 1.0), "reset": True, "large": False, "provenance": {}, "provenance_text": ""}


# -- elements ------------------------------------------------------------------------------------
def _empty_glyphs() -> pd.DataFrame:
    df = empty_data()["frame"].copy()
    for c in ("knn_overlap", "trustworthiness", "probe"):
        df[c] = np.zeros(0)
    df["caption_html"] = pd.Series(dtype=str)
    df["thumb"] = pd.Series(dtype=str)
    return df


def make_points(df: pd.DataFrame, color: str = "modality", cmap: str = "viridis") -> hv.Points:
    """Points coloured by modality, by a faithfulness measure, or (one point per pair) by the
    pair's full-space similarity in `cmap`."""
    pts = hv.Points(df, kdims=["x", "y"], vdims=POINT_VDIMS)
    if color == PAIR_SIMILARITY:
        return pts.opts(color="sim", cmap=cmap, colorbar=True, clabel="pair similarity")
    if color == "modality":
        return pts.opts(color="modality", cmap=MODALITY_COLORS, show_legend=True)
    if color == PROBE_COLOR:
        return pts.opts(color="probe", cmap=PROBE_CMAP, colorbar=True, clabel="similarity to the probe")
    return pts.opts(color=COLOR_COLUMN[color], cmap="RdYlGn", clim=(0.0, 1.0), colorbar=True)


def make_edges(edges: pd.DataFrame, cmap: str) -> hv.Segments:
    return hv.Segments(edges, kdims=["x0", "y0", "x1", "y1"], vdims=["sim", "pair_id"]).opts(color="sim", cmap=cmap, line_width=1,
                                                                                            alpha=0.7)


def selected_points(frame: pd.DataFrame, selected: Any) -> hv.Points:
    """The points of the selected pairs (at most 2,000), outlined in black."""
    sel = frame[frame["pair_id"].isin(np.asarray(selected or [], dtype=np.int64)[:2000])]
    return hv.Points(sel[["x", "y", "pair_id"]], kdims=["x", "y"], vdims=["pair_id"]).opts(
        size=9, fill_alpha=0.0, line_color="black", line_width=2)


def selected_edges(frame: pd.DataFrame, selected: Any) -> hv.Segments:
    """The edges of the selected pairs (at most 2,000), drawn over every other edge in black, so a
    lasso's partner points show where their pair lies (none in concatenated mode: one point per pair)."""
    sel = frame[frame["pair_id"].isin(np.asarray(selected or [], dtype=np.int64)[:2000])]
    return hv.Segments(edges_frame(sel), kdims=["x0", "y0", "x1", "y1"], vdims=["sim", "pair_id"]).opts(
        color="black", line_width=2.5, alpha=1.0)


def colour_by_modality(element: Any) -> Any:
    """The rasterized points in the modality colours (the empty frame gets the two layers too,
    so BokehJS never meets a palette of the wrong length)."""
    names = [d.name for d in element.vdims]
    if isinstance(element, hv.ImageStack) and not all(n in MODALITY_COLORS for n in names):
        xs = element.dimension_values(0, expanded=False)
        ys = element.dimension_values(1, expanded=False)
        xs, ys = (xs if len(xs) else np.zeros(1)), (ys if len(ys) else np.zeros(1))
        element = hv.ImageStack((xs, ys, np.zeros((len(ys), len(xs), 2))), kdims=element.kdims, vdims=["image", "text"])
        names = ["image", "text"]
    if names and all(n in MODALITY_COLORS for n in names):
        return element.opts(cmap=[MODALITY_COLORS[n] for n in names])
    return element


def _empty_raster(kind: str) -> Any:
    xs, ys = np.array([0.0]), np.array([0.0])
    if kind == "stack":
        return hv.ImageStack((xs, ys, np.zeros((1, 1, 2))), kdims=["x", "y"], vdims=["image", "text"])
    return hv.Image((xs, ys, np.full((1, 1), np.nan, np.float32)), kdims=["x", "y"], vdims=["sim"])


def scatter_layers(value: dict[str, Any], edge_cmap: str, rasterized: bool, pairs_only: bool, by_modality: bool,
                   probe: bool | None = None) -> tuple[Any, Any]:
    """(edges, points) of the scatter's data: always the same kinds of elements for one kind of
    plot (plain or rasterized, by modality or by a measure, one point per pair or two; `probe`:
    a plot for probe similarities, None = whatever the value shows)."""
    probing = value.get("point_color") == PROBE_COLOR
    probe = probing if probe is None else probe
    if not rasterized:
        glyphs = value.get("glyphs")
        if glyphs is None or value.get("large") or (value["point_color"] == "modality") != by_modality or probing != probe:
            glyphs = _empty_glyphs()  # no data yet, or data the app is about to rebuild this plot for
        edges = value.get("edges") if value.get("edges") is not None and not value.get("large") else edges_frame(_empty_glyphs())
        color = PAIR_SIMILARITY if pairs_only else (value["point_color"] if glyphs is value.get("glyphs") else
                                                    ("modality" if by_modality else PROBE_COLOR if probe else "kNN overlap"))
        return make_edges(edges, edge_cmap), make_points(glyphs, color, edge_cmap)
    if "points" not in value or probing != probe:
        edge_img = _empty_raster("image")
        point_img = _empty_raster("image" if pairs_only or probe else "stack")
    else:
        edge_img = value.get("edges") if not pairs_only else _empty_raster("image")
        point_img = value["points"]
    if probe and not pairs_only:
        return edge_img.opts(cmap=edge_cmap, alpha=0.9), point_img.opts(cmap=PROBE_CMAP, colorbar=True, clabel="similarity to the probe")
    if pairs_only:
        return edge_img.opts(cmap=edge_cmap, alpha=0.0), point_img.opts(cmap=edge_cmap, colorbar=True, clabel="pair similarity")
    return edge_img.opts(cmap=edge_cmap, colorbar=True, clabel="pair similarity", alpha=0.9), colour_by_modality(point_img)


def scatter_overlay(value: dict[str, Any], edge_cmap: str, rasterized: bool, pairs_only: bool, by_modality: bool,
                    probe: bool | None = None) -> hv.Overlay:
    """The scatter's layers as one overlay (the static report)."""
    edges, points = scatter_layers(value, edge_cmap, rasterized, pairs_only, by_modality, probe)
    return edges * points


# -- the interactive plot ------------------------------------------------------------------------
def projection_scatter(state: Any, model: str | None = None, *, size: int = SCATTER_SIZE, interactive: bool = True,
                       run: Any = None) -> hv.Overlay:
    """Scatter of the projection with similarity-coloured pair edges (see module docstring).

    Plain or rasterized from the current number of shown pairs, coloured by modality or by a
    measure: the app rebuilds the view when one of these changes. ``plot.feed`` is its Feed,
    ``plot.selection_streams`` the Selection1D (plain) or (BoundsXY, Tap) streams (rasterized).
    `run`: where its data are computed (explorer.views.feed)."""
    try:
        rasterized = large(state)
    except Exception:  # a filter matching nothing: the plot shows the error
        rasterized = False
    pairs_only = concatenated(state)
    by_modality = state.projection.point_color == "modality"
    probe = state.projection.point_color == PROBE_COLOR
    memory: dict[str, Any] = {"hover": rasterized and interactive}  # hovering needs the points' k-d tree
    feed = Feed(lambda **req: scatter_data(state, model, size, memory, **req), params_of(state, depends(model)), empty=empty_data,
                run=run)
    feed.pipe.add_subscriber(lambda data: memory.__setitem__("shown", data.get("key")))
    # one element per DynamicMap: HoloViews links streams (selection, zoom) only to those
    edge_cmap = hv.streams.Params(state.look, ["edge_cmap"])
    edges = hv.DynamicMap(lambda data, edge_cmap: scatter_layers(data, edge_cmap, rasterized, pairs_only, by_modality, probe)[0],
                          streams=[feed.pipe, edge_cmap])
    points = hv.DynamicMap(lambda data, edge_cmap: scatter_layers(data, edge_cmap, rasterized, pairs_only, by_modality, probe)[1],
                           streams=[feed.pipe, edge_cmap])
    chosen = hv.DynamicMap(lambda data, selected_pairs: selected_points(data["frame"], selected_pairs),
                           streams=[feed.pipe, hv.streams.Params(state.interaction, ["selected_pairs"])])
    chosen_edges = hv.DynamicMap(lambda data, selected_pairs: selected_edges(data["frame"], selected_pairs),
                                 streams=[feed.pipe, hv.streams.Params(state.interaction, ["selected_pairs"])])
    common = dict(frame_width=size, frame_height=size)

    def title(element: Any, data: dict) -> Any:
        name = truncate(data["model"], 40) if data["model"] else truncate(feed.error or "…", 60)
        x, y = data.get("axes") or ("x", "y")
        return element.opts(title=f"Projection · {name}{' · ' + data['method'] if data['method'] else ''}", xlabel=x, ylabel=y, legend_position="right",
                            legend_opts=LEGEND_OPTS)

    plot = (edges * chosen_edges * points * chosen).apply(title, streams=[feed.pipe])
    fitter = Fitter(feed)
    hooks = [weak_hook(fitter, Fitter.hook if rasterized else Fitter.provenance)]
    if rasterized:
        plot = plot.opts(hv.opts.Image(hooks=hooks, tools=["box_select", "tap"] if interactive else [], **common),
                         hv.opts.ImageStack(**common))
        window = hv.streams.RangeXY(source=edges)
        window.add_subscriber(lambda x_range=None, y_range=None: feed.request(x_range=x_range, y_range=y_range))
        pixels = hv.streams.PlotSize(source=edges)
        pixels.add_subscriber(lambda width=None, height=None, scale=1.0:
                              feed.request(width=int(width * (scale or 1)), height=int(height * (scale or 1))) if width and height else None)
        streams = attach_large_streams(state, edges, model, feed) if interactive else ()
        if interactive:
            from .scatter_hover import ScatterHover

            plot.hover = ScatterHover(state, feed, edges, width=size)
    else:
        plot = plot.opts(
            hv.opts.Segments(hooks=hooks, framewise=True, **common),
            hv.opts.Points(size=5, line_color=None, tools=["hover", "box_select", "lasso_select", "tap"] if interactive else ["hover"],
                           hover_tooltips=TOOLTIP, nonselection_alpha=0.3, framewise=True, **common),
        )
        streams = (attach_selection_stream(state, points, model, feed),) if interactive else ()
    plot.selection_streams = streams
    plot.rasterized = rasterized
    plot.feed = feed
    plot.fitter = fitter
    return plot


class Fitter:
    """What the scatter's plot hook does (held weakly by it: see explorer.views.provenance.weak_hook):
    the provenance in the figure's tags and, rasterized, a new projection shown whole (the old zoom
    means nothing for new coordinates)."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self.extent = None

    def provenance(self, plot: Any, element: Any) -> None:
        write_provenance(self.feed, plot)

    def hook(self, plot: Any, element: Any) -> None:
        write_provenance(self.feed, plot)
        v = self.feed.value
        if v.get("reset") and v.get("extent") != self.extent and v.get("model"):
            self.extent = v["extent"]
            x0, x1, y0, y1 = v["extent"]
            plot.state.x_range.start, plot.state.x_range.end = x0, x1
            plot.state.y_range.start, plot.state.y_range.end = y0, y1


def attach_selection_stream(state: Any, source: Any, model: str | None, feed: Feed) -> hv.streams.Selection1D:
    """Box/lasso/tap selection of points → interaction.selected_pairs (pairs of the selected points)."""
    sel = hv.streams.Selection1D(source=source)

    def on_select(index=None):
        df = feed.value["frame"]
        idx = [i for i in (index or []) if 0 <= i < len(df)]
        try:
            state.select_pairs(df["pair_id"].to_numpy()[idx].tolist())
            if len(idx) == 1:
                state.inspect_pair(model, int(df["pair_id"].iloc[idx[0]]))
        except Exception as exc:
            state.interaction.inspected = {"kind": "error", "message": f"selection failed: {exc}"}

    sel.add_subscriber(on_select)
    return sel


def pairs_in_bounds(frame: pd.DataFrame, bounds: tuple[float, float, float, float]) -> list[int]:
    """Pair ids with an image or caption point inside (left, bottom, right, top)."""
    left, bottom, right, top = bounds
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    inside = (x >= left) & (x <= right) & (y >= bottom) & (y <= top)
    return list(dict.fromkeys(frame["pair_id"].to_numpy()[inside].astype(int).tolist()))


def nearest_pair(frame: pd.DataFrame, x: float, y: float) -> int | None:
    if frame.empty:
        return None
    d = (frame["x"].to_numpy() - x) ** 2 + (frame["y"].to_numpy() - y) ** 2
    return int(frame["pair_id"].iloc[int(np.argmin(d))])


def attach_large_streams(state: Any, source: Any, model: str | None, feed: Feed) -> tuple[hv.streams.BoundsXY, hv.streams.Tap]:
    """Rasterized scatter: box select (BoundsXY) → selected pairs; tap → inspect the nearest pair."""
    bounds = hv.streams.BoundsXY(source=source, bounds=None)
    tap = hv.streams.Tap(source=source, x=None, y=None)

    def on_bounds(bounds=None):
        if bounds is not None:
            state.select_pairs(pairs_in_bounds(feed.value["frame"], bounds))

    def on_tap(x=None, y=None):
        if x is None or y is None:
            return
        try:
            pid = nearest_pair(feed.value["frame"], x, y)
            if pid is not None:
                state.inspect_pair(model, pid)
        except Exception as exc:
            state.interaction.inspected = {"kind": "error", "message": f"could not inspect: {exc}"}

    bounds.add_subscriber(on_bounds)
    tap.add_subscriber(on_tap)
    return bounds, tap
