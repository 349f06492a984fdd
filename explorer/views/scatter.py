"""The projection scatter: points by modality and one edge per image–caption pair.

Each edge is coloured by the pair's cosine similarity *in the full space* (of the displayed,
gap-adjusted embeddings), which separates projection artefacts (long edges of well-matched
pairs) from pairs the model itself does not match. Edges follow the displayed components.

Up to `state.datashade_above` pairs, points and edges are plain Bokeh glyphs: hovering a point
shows an HTML tooltip (thumbnail, escaped caption) and box/lasso selection sets
`state.selected_pairs`. Above it, edges are ``rasterize(segments, aggregator=ds.mean('sim'))``
and points ``rasterize(points, aggregator=ds.by('modality', ds.count()))``; a box selection
(``BoundsXY``) selects pairs and a tap inspects the nearest pair (thumbnails in the side panel,
since server-side hover cannot show HTML).

Selected pairs are drawn on top with a black outline whichever way they were selected.

The data come from a :class:`~explorer.views.deferred.Feed`: the projection of the current settings computed by
a :class:`~explorer.views.deferred.Deferred`, in a background thread on a server (the app passes
its runner). Moving α in UMAP or t-SNE mode recomputes the projection (seconds to minutes), so
until it is ready the scatter keeps showing the previous one (its provenance line says which,
and that an update is under way) and the rest of the page responds at once. Axes follow every
new projection (framewise ranges; rasterized layers forget their old visible range first).
"""

from __future__ import annotations

from typing import Any

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import dynspread, rasterize

from .cards import esc
from .deferred import Feed, feed_provenance_pane
from .dynamic import ACTIVE, GAP, MODEL, PROJ, StreamHub, all_range_streams
from .provenance import feed_provenance_hook
from .style import LEGEND_OPTS, MODALITY_COLORS, SCATTER_SIZE

POINT_VDIMS = ["modality", "pair_id", "sim", "knn_overlap", "trustworthiness", "caption_html", "thumb"]
EDGE_VDIMS = ["sim", "pair_id"]
COLOR_COLUMN = {"modality": "modality", "kNN overlap": "knn_overlap", "trustworthiness": "trustworthiness"}

TOOLTIP = """
<div style="max-width:260px">
  <div style="font-size:11px"><b>@modality</b> · pair @pair_id · sim @sim{0.000}</div>
  <img src="@thumb{safe}" style="max-width:96px;max-height:96px" alt="">
  <div style="font-size:12px;overflow-wrap:anywhere">@caption_html{safe}</div>
</div>
"""


def points_frame(state: Any, model: str | None, coords: pd.DataFrame | None = None) -> pd.DataFrame:
    """The projection frame (`coords`, default state.projection_coords) with display columns:
    faithfulness per point when the points are coloured by it, escaped caption HTML, thumbnail URLs."""
    df = (state.projection_coords(model) if coords is None else coords).copy()
    if state.point_color != "modality":  # faithfulness is computed only when it is shown
        f = state.faithfulness(model)
        df["knn_overlap"] = f.knn_overlap_per_point
        df["trustworthiness"] = f.trustworthiness_per_point
    else:
        df["knn_overlap"] = np.nan
        df["trustworthiness"] = np.nan
    df["modality"] = pd.Categorical(df["modality"], categories=[m for m in MODALITY_COLORS if m in set(df["modality"])])
    df["caption_html"] = [esc(c) for c in df["caption"]]
    token = state.thumb_token()
    if token is None:
        df["thumb"] = ""
    else:
        from ..thumbnails import thumb_url

        df["thumb"] = [esc(thumb_url(token, int(i)), 200) for i in df["pair_id"]]
    return df


def edges_frame(coords: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: (x0, y0) image point, (x1, y1) caption point, sim, pair_id."""
    img = coords[coords["modality"] == "image"].set_index("pair_id")
    txt = coords[coords["modality"] == "text"].set_index("pair_id")
    if img.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ("x0", "y0", "x1", "y1", "sim", "pair_id")})
    txt = txt.loc[img.index]
    return pd.DataFrame(
        {
            "x0": img["x"].to_numpy(),
            "y0": img["y"].to_numpy(),
            "x1": txt["x"].to_numpy(),
            "y1": txt["y"].to_numpy(),
            "sim": img["sim"].to_numpy(),
            "pair_id": img.index.to_numpy(),
        }
    )


def _empty_points() -> pd.DataFrame:
    """No points, with the columns (and the modality categories) of points_frame: rasterized by
    modality, it gives the same kind of element (an ImageStack) as real points."""
    df = pd.DataFrame({"x": [0.0], "y": [0.0], "modality": ["image"], "pair_id": [0], "sim": [0.0],
                       "knn_overlap": [0.0], "trustworthiness": [0.0], "caption_html": [""], "thumb": [""]}).iloc[:0]
    df["modality"] = pd.Categorical(df["modality"], categories=["image", "text"])
    return df


def make_points(df: pd.DataFrame, color: str = "modality", cmap: str = "viridis") -> hv.Points:
    """Points coloured by modality, by a faithfulness measure, or (color 'pair similarity': one
    point per pair, concatenated mode) by the pair's full-space similarity in `cmap`."""
    pts = hv.Points(df, kdims=["x", "y"], vdims=POINT_VDIMS)
    if color == PAIR_SIMILARITY:
        return pts.opts(color="sim", cmap=cmap, colorbar=True, clabel="pair similarity")
    if color == "modality":
        return pts.opts(color="modality", cmap=MODALITY_COLORS, show_legend=True)
    return pts.opts(color=COLOR_COLUMN[color], cmap="RdYlGn", clim=(0.0, 1.0), colorbar=True)


#: the point colour of concatenated mode, where each point is a pair and there are no edges
PAIR_SIMILARITY = "pair similarity"


def concatenated(state: Any) -> bool:
    """One point per pair coloured by its similarity (the edges' colour) instead of its modality."""
    return state.projection_mode == "concatenated" and state.point_color == "modality"


def make_edges(edges: pd.DataFrame, cmap: str) -> hv.Segments:
    return hv.Segments(edges, kdims=["x0", "y0", "x1", "y1"], vdims=EDGE_VDIMS).opts(color="sim", cmap=cmap, line_width=1, alpha=0.7)


def as_float32(image: hv.Image) -> hv.Image:
    """Halve the bytes of a rasterized grid sent to the browser (float64 → float32).

    The densities are passed on: an empty frame (no points yet, its projection still being
    computed) has zero-width bounds, from which they cannot be recomputed."""
    return image.clone(image.data.astype(np.float32), xdensity=image.xdensity, ydensity=image.ydensity)


def colour_by_modality(element: Any) -> Any:
    """The rasterized points (one layer per modality present) in the modality colours."""
    names = [d.name for d in element.vdims]
    if isinstance(element, hv.ImageStack) and not all(n in MODALITY_COLORS for n in names):
        # the empty frame (no points yet) comes as one layer named after the aggregation; a stack
        # whose number of layers changes when the points arrive makes BokehJS meet a palette of
        # the wrong length, so the empty frame gets the two (empty) modality layers too
        xs = element.dimension_values(0, expanded=False)
        ys = element.dimension_values(1, expanded=False)
        xs = xs if len(xs) else np.zeros(1)
        ys = ys if len(ys) else np.zeros(1)
        element = hv.ImageStack((xs, ys, np.zeros((len(ys), len(xs), 2))), kdims=element.kdims, vdims=["image", "text"],
                                xdensity=1.0, ydensity=1.0)
        names = ["image", "text"]
    if names and all(n in MODALITY_COLORS for n in names):
        return element.opts(cmap=[MODALITY_COLORS[n] for n in names])
    return element


def _large(state: Any) -> bool:
    try:
        return int(state.active_indices().size) > int(state.datashade_above)
    except Exception:
        return False


#: what the scatter's data depend on (the feed recomputes when one of them changes)
FEED_DEPS = ACTIVE + GAP + PROJ + ("k", "point_color")


def scatter_frames(state: Any, model: str | None) -> dict[str, Any]:
    """The scatter's data for the current settings (computed by its Feed, in a thread on a server)."""
    from .provenance import provenance_dict, provenance_text

    m = state.resolve_model(model)
    coords = state.projection_coords(m)
    return {
        "model": m,
        "coords": coords,
        "points": points_frame(state, m, coords),
        "edges": edges_frame(coords),
        "point_color": state.point_color,
        "method": f"{state.projection} {state.projection_mode}",
        "axes": state.axis_names(m),
        "provenance": provenance_dict(state, m, "projection"),
        "provenance_text": provenance_text(state, m, "projection"),
    }


def scatter_feed(state: Any, model: str | None = None, runner: Any = None) -> Feed:
    """The Feed of a scatter: recomputed when the pairs, gap, projection or point colour change."""
    deps = FEED_DEPS + (MODEL if model is None else ())
    return Feed(state, lambda: scatter_frames(state, model), lambda: empty_frames(state.point_color), deps, runner=runner)


def empty_frames(point_color: str = "modality") -> dict[str, Any]:
    pts = _empty_points()
    return {"model": "", "coords": pts, "points": pts, "edges": edges_frame(pts), "point_color": point_color,
            "method": "", "provenance": {}, "provenance_text": ""}


def projection_scatter(state: Any, model: str | None = None, *, size: int = SCATTER_SIZE, interactive: bool = True,
                       runner: Any = None) -> hv.Overlay:
    """Scatter of the projection with similarity-coloured pair edges (see module docstring).

    Chooses the plain or the rasterized form from the current number of active pairs; the app
    rebuilds the view when that choice changes. `runner`: where the projection is computed
    (explorer.views.deferred; default at once). ``plot.feed`` is its :class:`~explorer.views.deferred.Feed`.
    """
    from .dynamic import params_stream

    large = _large(state)
    feed = scatter_feed(state, model, runner)
    range_streams: list[hv.streams.RangeXY] = []
    if large:
        # Rasterized layers draw the visible range of the data (RangeXY). New coordinates (α moved,
        # another projection) must be shown whole: forget the old range before the layers redraw
        # (the feed's StreamHub calls this before it triggers the layers).
        def forget_range() -> None:
            for s in range_streams:
                s.reset()

        StreamHub.of(feed.params).before(["version"], forget_range)

    def on_feed(*extra: str):
        return [params_stream(feed.params, ["version"])] + ([params_stream(state, list(extra))] if extra else [])

    edges = hv.DynamicMap(lambda **_: make_edges(feed.value["edges"], state.edge_cmap), streams=on_feed("edge_cmap"))
    pairs_only = concatenated(state)  # the app rebuilds the scatter when this changes
    if pairs_only:
        points = hv.DynamicMap(lambda **_: make_points(feed.value["points"], PAIR_SIMILARITY, state.edge_cmap),
                               streams=on_feed("edge_cmap"))
    else:
        # a plot's colour mapper is categorical (modality) or linear (a measure) for good: when the
        # point colour switches kind the app replaces this plot, but its feed may publish the new
        # colouring first; this plot then keeps its last points instead of failing to update
        by_modality = state.point_color == "modality"
        last: dict[str, Any] = {}

        def draw_points(**_: Any) -> hv.Points:
            v = feed.value
            if (v["point_color"] == "modality") != by_modality:
                return last.get("points") or make_points(_empty_points(), "modality" if by_modality else v["point_color"])
            last["points"] = make_points(v["points"], v["point_color"])
            return last["points"]

        points = hv.DynamicMap(draw_points, streams=on_feed())
    selected = hv.DynamicMap(lambda **_: _selected_points(feed.value["coords"], state.selected_pairs), streams=on_feed("selected_pairs"))

    # framewise: the axes (and the edge colours) follow each new projection, e.g. after α moved
    # the points, so they never sit outside the visible range
    common = dict(frame_width=size, frame_height=size, xlabel="x", ylabel="y", framewise=True)
    hooks = [feed_provenance_hook(feed)]
    if large:
        edge_layer = rasterize(edges, aggregator=ds.mean("sim"), line_width=1).apply(as_float32)
        edge_layer = edge_layer.apply.opts(cmap=state.param.edge_cmap).opts(
            colorbar=not pairs_only, clabel="pair similarity", alpha=0.9, hooks=hooks, **common
        )
        edge_layer = edge_layer.opts(tools=["box_select", "tap"] if interactive else [])
        if pairs_only:  # each pixel: the mean similarity of its pairs
            # spread by max: adding spread pixels would sum similarities
            point_layer = dynspread(rasterize(points, aggregator=ds.mean("sim")).apply(as_float32), threshold=0.5, max_px=3,
                                    how="max")
            point_layer = point_layer.apply.opts(cmap=state.param.edge_cmap).opts(colorbar=True, clabel="pair similarity")
        else:
            point_layer = dynspread(
                rasterize(points, aggregator=ds.by("modality", ds.count())), threshold=0.5, max_px=3
            ).apply(colour_by_modality)
        plot = edge_layer * point_layer * selected
        range_streams.extend(all_range_streams(edge_layer) + all_range_streams(point_layer))
        streams = attach_large_streams(state, edge_layer, model, feed) if interactive else ()
    else:
        edge_layer = edges.opts(colorbar=not pairs_only, clabel="pair similarity", hooks=hooks, **common)
        point_layer = points.opts(
            size=5, line_color=None, tools=["hover", "box_select", "lasso_select", "tap"] if interactive else ["hover"],
            hover_tooltips=TOOLTIP, nonselection_alpha=0.3, framewise=True,
        )
        plot = edge_layer * point_layer * selected
        streams = (attach_selection_stream(state, point_layer, model, feed),) if interactive else ()

    def title(element: Any, **_: Any) -> Any:
        from .cards import truncate

        f = feed.value
        name = truncate(f["model"], 40) if f["model"] else truncate(feed.error or "…", 60)
        x, y = f.get("axes") or ("x", "y")
        return element.opts(title=f"Projection · {name}{' · ' + f['method'] if f['method'] else ''}", xlabel=x, ylabel=y,
                            legend_opts=LEGEND_OPTS)

    plot = plot.apply(title, streams=[params_stream(feed.params, ["version"])])
    plot.selection_streams = streams  # Selection1D, or (BoundsXY, Tap) when rasterized
    plot.rasterized = large
    plot.feed = feed
    return plot


def scatter_provenance_pane(feed: Feed, **pane_options: Any):
    """The escaped provenance line of the projection the scatter shows (feed_provenance_pane)."""
    return feed_provenance_pane(feed, **pane_options)


def _selected_points(coords: pd.DataFrame, selected: Any) -> hv.Points:
    sel = coords[coords["pair_id"].isin(np.asarray(selected, dtype=np.int64))]
    return hv.Points(sel[["x", "y", "pair_id"]], kdims=["x", "y"], vdims=["pair_id"]).opts(
        size=9, fill_alpha=0.0, line_color="black", line_width=2
    )


def _selected_points_empty() -> hv.Points:
    return hv.Points(pd.DataFrame({"x": [], "y": [], "pair_id": []}), kdims=["x", "y"], vdims=["pair_id"]).opts(
        size=9, fill_alpha=0.0, line_color="black", line_width=2
    )


def _shown_coords(state: Any, model: str | None, feed: Any) -> pd.DataFrame:
    """The points the scatter shows (the feed's, which may lag the settings), else the state's."""
    return feed.value["coords"] if feed is not None else state.projection_coords(model)


def attach_selection_stream(state: Any, points: Any, model: str | None, feed: Any = None) -> hv.streams.Selection1D:
    """Box/lasso/tap selection of points → state.selected_pairs (pairs of the selected points)."""
    sel = hv.streams.Selection1D(source=points)

    def on_select(index=None):
        try:
            df = _shown_coords(state, model, feed)
            idx = [i for i in (index or []) if 0 <= i < len(df)]
            state.select_pairs(df["pair_id"].to_numpy()[idx].tolist())
            if len(idx) == 1:
                state.inspect_pair(model, int(df["pair_id"].iloc[idx[0]]))
        except Exception as exc:
            state.status = f"selection failed: {exc}"

    sel.add_subscriber(on_select)
    return sel


def pairs_in_bounds(coords: pd.DataFrame, bounds: tuple[float, float, float, float]) -> list[int]:
    """Pair ids with an image or caption point inside (left, bottom, right, top)."""
    l, b, r, t = bounds
    inside = (coords["x"] >= l) & (coords["x"] <= r) & (coords["y"] >= b) & (coords["y"] <= t)
    return list(dict.fromkeys(coords.loc[inside, "pair_id"].astype(int).tolist()))


def nearest_pair(coords: pd.DataFrame, x: float, y: float) -> int | None:
    if coords.empty:
        return None
    d = (coords["x"].to_numpy() - x) ** 2 + (coords["y"].to_numpy() - y) ** 2
    return int(coords["pair_id"].iloc[int(np.argmin(d))])


def attach_large_streams(state: Any, source: Any, model: str | None, feed: Any = None) -> tuple[hv.streams.BoundsXY, hv.streams.Tap]:
    """Rasterized scatter: box select (BoundsXY) → selected_pairs; tap → inspect the nearest pair."""
    bounds = hv.streams.BoundsXY(source=source, bounds=None)
    tap = hv.streams.Tap(source=source, x=None, y=None)

    def on_bounds(bounds=None):
        if bounds is None:
            return
        try:
            state.select_pairs(pairs_in_bounds(_shown_coords(state, model, feed), bounds))
        except Exception as exc:
            state.status = f"selection failed: {exc}"

    def on_tap(x=None, y=None):
        if x is None or y is None:
            return
        try:
            pid = nearest_pair(_shown_coords(state, model, feed), x, y)
            if pid is not None:
                state.inspect_pair(model, pid)
        except Exception as exc:
            state.status = f"could not inspect: {exc}"

    bounds.add_subscriber(on_bounds)
    tap.add_subscriber(on_tap)
    return bounds, tap
