"""The 2M×2M similarity heatmap and the M×M in-modal difference heatmap, at screen resolution.

The matrix is never materialised: the engine computes the visible window at the plot's pixel
resolution (:meth:`explorer.state.ExplorerState.tile`: exact mean per pixel, or exact max within
a cell budget), so a zoom costs one engine call and a million pairs draw as fast as a thousand.
The tile arrives through a :class:`~explorer.views.feed.Feed` (computed off the event loop on a
server, the latest window winning) as an ``hv.Image`` over integer cell coordinates (column j at
x = j, row i at y = i, row 0 at the top); Bokeh colour-maps it client-side.

Drawn on top: the quadrant separators and names, the matched-pair diagonal when a pixel holds
more than one cell (each diagonal pixel coloured by the mean similarity of its pairs, so matched
pairs stay visible zoomed out however large the source), cluster boxes and labels, the selection
(every cell outside the selected pairs' rows and columns dimmed; the selected cells keep their
colours), and the tapped cell.

Tapping a cell publishes both items and the value in ``interaction.inspected`` (shown by
:func:`explorer.views.selection.inspect_panel`); a tap inside a cluster's box also selects that
cluster (as its legend entry does); double-tapping selects the row's pair.

:func:`heatmap_data` (a dict) and :func:`heatmap_overlay` (its HoloViews elements) are the
builders the app, the notebook and the static report share.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np

from ..engine.colour import flat_quadrants_note, quadrant_ranges, shown_range, visible_limits
from .feed import Feed, params_of
from .hover import TOOLTIP, HoverLookup, tile_lookup
from .marks import DIM_ALPHA, DIM_COLOR, selection_marks
from .provenance import provenance_dict, provenance_text, weak_hook, write_provenance
from .style import CLUSTER_BOX_COLOR, HEATMAP_SIZE, SELECTION_COLOR, SEPARATOR_COLOR

QUADRANT_NAMES = (("image–image", "image–text"), ("text–image", "text–text"))  # [row block][column block]
#: the settings a heatmap's data depend on (the Feed watches exactly these; the colour map is
#: applied without recomputing anything)
DEPENDS = ("data", "gap.alpha", "gap.renormalize", "order", "look.aggregation", "look.color_range", "look.locked_limits",
           "look.pair_diagonal")
VDIM = {"similarity": "similarity", "difference": "difference"}
#: longest side of a tile in pixels (a HiDPI screen reports twice the frame size)
MAX_TILE_PIXELS = 1200


def depends(model: str | None, shared: bool) -> tuple[str, ...]:
    return DEPENDS + (("model.active_model",) if model is None else ()) + (("model.compare_models", "model.shared_order") if shared else ())


def axis_label(kind: str, n: int) -> str:
    """'row: images | captions, each 0–N−1 in display order' (the quadrant layout along one axis;
    the ticks say 'img q' / 'cap q', the hover the pair ids)."""
    return f"{kind}: images | captions, each 0–{n - 1} in display order"


def _kdims(m: int, kind: str):
    if kind == "similarity":
        return [hv.Dimension("column", label=axis_label("column", m)), hv.Dimension("row", label=axis_label("row", m))]
    # labels of their own: a Layout (Compare) shares one range between axes of the same label, and
    # one range for x and y cannot be inverted on y only (row 0 went to the bottom)
    return [hv.Dimension("column", label="column: pair (display order)"), hv.Dimension("row", label="row: pair (display order)")]


def heatmap_data(state: Any, model: str | None, kind: str = "similarity", shared: bool = False, size: int = HEATMAP_SIZE, *,
                 x_range=None, y_range=None, width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """Everything a heatmap draws for the current settings and window (see module docstring)."""
    from ..engine.tiles import pair_diagonal

    m = state.resolve_model(model)
    w = int(min(width or size, MAX_TILE_PIXELS))
    h = int(min(height or size, MAX_TILE_PIXELS))
    t = state.tile(m, kind, x_range=x_range, y_range=y_range, width=w, height=h, shared=shared)
    used = shown_range(state.look.color_range, shared)
    clim = tuple(state.color_limits(m, kind, shared, pixels=size))
    if used == "visible":
        clim = visible_limits(t.values, kind) or clim
    om = state.order_model(m, shared)
    o = state.ordering(om)
    diag = None
    if kind == "similarity" and state.look.pair_diagonal and not t.exact_cells:
        diag = pair_diagonal(state.shown(m, shared), t)
    extra = {"aggregation": t.how, "color_range": used, "clim": [float(clim[0]), float(clim[1])], "tile_note": t.note,
             "quadrant_note": quadrant_note(t, int(state.active_indices().size), clim) if kind == "similarity" else ""}
    if shared and used == "data":
        extra["clim_shared_by"] = list(state.shown_compare_models())
    prov = provenance_dict(state, m, kind, **extra)
    value = {
        "model": m, "kind": kind, "tile": t, "clim": clim, "color_range": used, "diagonal": diag,
        "m": int(state.active_indices().size),
        "boundaries": list(o.boundaries) if o is not None else [],
        "block": state.order.cluster_block, "display_pairs": state.display_pairs(m, shared), "size": size,
        "order_id": (state.selection_key(), state.order_key(m, shared)),
        "provenance": prov, "provenance_text": provenance_text(prov, kind),
    }
    if kind == "difference":
        value["mean_abs"] = float(state.numbers(m, recall=False)["in_modal_difference"])
    value["hover"] = tile_lookup(state, m, kind, t, value["display_pairs"])
    return value


def quadrant_note(t: Any, m: int, clim: tuple[float, float]) -> str:
    """What the provenance line says of the quadrants that read as one flat colour under `clim`
    (explorer.engine.colour.flat_quadrants_note; '' when none does). One colour scale for the
    whole matrix on purpose: the gap between the in-modal and the cross-modal quadrants is what it
    shows, and per-quadrant scales would hide it."""
    xa, xb, ya, yb = t.window
    cells = ((xb - xa) / max(t.x_edges.size - 1, 1)) * ((yb - ya) / max(t.y_edges.size - 1, 1))
    return flat_quadrants_note(quadrant_ranges(t.values, t.x_edges, t.y_edges, m), clim, cells, t.how)


def matrix_side(value: dict[str, Any]) -> int:
    """Rows (= columns) of the matrix a heatmap value belongs to: 2M, or M for the difference."""
    m = max(int(value["m"]), 1)
    return 2 * m if value["kind"] == "similarity" else m


def empty_data(m: int, kind: str = "similarity") -> dict[str, Any]:
    return {"model": "", "kind": kind, "tile": None, "clim": (0.0, 1.0), "color_range": "data", "diagonal": None, "m": m,
            "boundaries": [], "block": "text-image", "display_pairs": np.zeros(0, np.int64), "size": HEATMAP_SIZE,
            "provenance": {}, "provenance_text": ""}


# -- elements ------------------------------------------------------------------------------------
def tile_image(value: dict[str, Any]) -> hv.Image:
    """The tile as an hv.Image over cell coordinates (a NaN pixel over the whole matrix while
    there is none)."""
    kind, m = value["kind"], max(int(value["m"]), 1)
    n = 2 * m if kind == "similarity" else m
    dim = hv.Dimension(VDIM[kind], range=tuple(value["clim"]))
    t = value["tile"]
    if t is None:
        return hv.Image((np.array([(n - 1) / 2]), np.array([(n - 1) / 2]), np.full((1, 1), np.nan, np.float32)),
                        kdims=_kdims(m, kind), vdims=[dim], bounds=(-0.5, -0.5, n - 0.5, n - 0.5))
    xa, xb, ya, yb = t.window
    p, q = t.values.shape
    xs = (xa - 0.5) + (np.arange(q) + 0.5) * ((xb - xa) / q)
    ys = (ya - 0.5) + (np.arange(p) + 0.5) * ((yb - ya) / p)
    return hv.Image((xs, ys, t.values), kdims=_kdims(m, kind), vdims=[dim])


def diagonal_rects(value: dict[str, Any]) -> hv.Rectangles:
    """The matched-pair diagonal pixels of a zoomed-out similarity tile, coloured by value."""
    t, diag = value["tile"], value.get("diagonal")
    vdim = hv.Dimension("pair_sim", label="pair similarity", range=tuple(value["clim"]))
    if t is None or diag is None or not len(diag[0]):
        return hv.Rectangles([], kdims=["x0", "y0", "x1", "y1"], vdims=[vdim])
    cols, rows, vals = diag
    xe, ye = t.x_edges, t.y_edges
    xa, xb, ya, yb = t.window
    qx, qy = (xb - xa) / (xe.size - 1), (yb - ya) / (ye.size - 1)
    x0 = xa - 0.5 + cols * qx
    y0 = ya - 0.5 + rows * qy
    return hv.Rectangles((x0, y0, x0 + qx, y0 + qy, vals), kdims=["x0", "y0", "x1", "y1"], vdims=[vdim])


def separators(value: dict[str, Any], color: str = SEPARATOR_COLOR) -> hv.Segments:
    """The lines between the quadrants (between row/column M−1 and M; none for the difference)."""
    m = max(int(value["m"]), 1)
    rows = [] if value["kind"] != "similarity" else [(m - 0.5, -0.5, m - 0.5, 2 * m - 0.5), (-0.5, m - 0.5, 2 * m - 0.5, m - 0.5)]
    widths = [1.5] * len(rows)
    leaders = cluster_leaders(value)  # drawn in this layer (one layer fewer to redraw)
    rows, widths = rows + leaders, widths + [1.0] * len(leaders)
    colors = [color] * (len(rows) - len(leaders)) + [CLUSTER_BOX_COLOR] * len(leaders)
    return hv.Segments([(*r, c, w) for r, c, w in zip(rows, colors, widths, strict=True)], kdims=["x0", "y0", "x1", "y1"],
                       vdims=["stroke", "stroke_width"]).opts(color="stroke", line_width="stroke_width")


def quadrant_label_rows(m: int) -> list[tuple]:
    """(column, row, text, background, align) of each quadrant's name near its top-left corner."""
    pad = max(m * 0.03, 0.6)
    return [(qc * m - 0.5 + pad, qr * m - 0.5 + pad, QUADRANT_NAMES[qr][qc], "white", "left") for qr in (0, 1) for qc in (0, 1)]


def cluster_box_rows(boundaries: list[int], m: int, kind: str = "similarity") -> list[tuple]:
    """(x0, y0, x1, y1) of one box per cluster in each quadrant (k for the difference matrix)."""
    rects = []
    blocks = ((0, 0), (0, 1), (1, 0), (1, 1)) if kind == "similarity" else ((0, 0),)
    for qr, qc in blocks:
        for a, b in zip(boundaries[:-1], boundaries[1:], strict=False):
            rects.append((qc * m + a - 0.5, qr * m + a - 0.5, qc * m + b - 0.5, qr * m + b - 0.5))
    return rects


def cluster_label_rows(boundaries: list[int], m: int, block: str, size: int = HEATMAP_SIZE,
                       kind: str = "similarity") -> list[tuple]:
    """(column, row, text, background, align) of every cluster's numbered tag in a column along the
    clustered quadrant's outer edge, none overlapping another (explorer.views.cluster_layout; the
    legend under the heatmap gives each number its n-gram label)."""
    from .cluster_layout import cluster_tags

    return [(t["x"], t["y"], t["text"], "white", "center") for t in cluster_tags(boundaries, m, block, size, kind)]


def cluster_leaders(value: dict[str, Any]) -> list[tuple]:
    """(x0, y0, x1, y1) of the leader line from each cluster's tag to its box."""
    from .cluster_layout import cluster_tags

    return [t["leader"] for t in cluster_tags(value["boundaries"], max(int(value["m"]), 1), value["block"],
                                               value.get("size", HEATMAP_SIZE), value["kind"])]


def heatmap_labels(value: dict[str, Any]) -> hv.Labels:
    """The quadrant names and the cluster labels, in one layer (dark text on a light box)."""
    m = max(int(value["m"]), 1)
    rows = quadrant_label_rows(m) if value["kind"] == "similarity" else []
    rows += cluster_label_rows(value["boundaries"], m, value["block"], value.get("size", HEATMAP_SIZE), value["kind"])
    return hv.Labels(rows, kdims=["column", "row"], vdims=["text", "background", "align"]).opts(
        text_color="#111", text_font_size="9pt", text_align=hv.dim("align"), text_baseline="middle",
        background_fill_color=hv.dim("background"), background_fill_alpha=0.8)


#: outline colours and widths: cluster boxes, the selected pairs' rows and columns, the tapped cell
OUTLINE_COLORS = {"cluster": CLUSTER_BOX_COLOR, "selected": SELECTION_COLOR, "tapped": "white"}
OUTLINE_WIDTHS = {"cluster": 1.2, "selected": 1.0, "tapped": 2.5}
OUTLINE_KINDS = tuple(OUTLINE_COLORS)


def outlines(value: dict[str, Any], selected: Any = None, inspected: Any = None) -> hv.Rectangles:
    """Every mark in one layer: cluster boxes, the selection (the cells outside the selected
    pairs' rows and columns dimmed, explorer.views.marks: never a colour wash over the selected
    cells) and the tapped cell."""
    kind, m = value["kind"], max(int(value["m"]), 1)
    rows = [(*r, "cluster") for r in cluster_box_rows(value["boundaries"], m, kind)]
    rows += [r for r in selection_rows(value, selected) if r[4] != "dimmed"]  # a scattered selection's bands
    info = inspected or {}
    if info.get("kind") == "cell" and info.get("model") == value["model"] and info.get("matrix", "similarity") == kind:
        r, c = float(info["row"]), float(info["col"])
        rows.append((c - 0.5, r - 0.5, c + 0.5, r + 0.5, "tapped"))
    # colours by a numeric code through a fixed palette: a layout (Compare) shares dimension ranges
    # across its plots, and an empty layer's float column met another plot's colour names there
    # ("low = 'white'": tap a cell, open Compare)
    rows = [(*r, float(OUTLINE_KINDS.index(r[4]))) for r in rows]  # floats: Bokeh takes an int for a colour
    return hv.Rectangles(rows, kdims=["x0", "y0", "x1", "y1"], vdims=["outline", "outline_code"]).opts(
        fill_alpha=0.0, line_color="outline_code", cmap=[OUTLINE_COLORS[k] for k in OUTLINE_KINDS],
        clim=(-0.5, len(OUTLINE_KINDS) - 0.5), line_width=hv.dim("outline_code").categorize({float(i): w for i, w in enumerate(OUTLINE_WIDTHS.values())}))


def selection_rows(value: dict[str, Any], selected: Any) -> list[tuple]:
    """explorer.views.marks.selection_marks of the selected pairs shown in `value`'s matrix."""
    pairs = np.asarray(value["display_pairs"])
    pos = np.flatnonzero(np.isin(pairs, np.asarray(selected or [], dtype=np.int64)))
    return selection_marks(pos, max(int(value["m"]), 1), value["kind"])


def veil(value: dict[str, Any], selected: Any = None) -> hv.Rectangles:
    """The grey veil over every cell outside the selected pairs' rows and columns (constant
    styles: no colour mapping), under the outlines."""
    rows = [r[:4] for r in selection_rows(value, selected) if r[4] == "dimmed"]
    return hv.Rectangles(rows, kdims=["x0", "y0", "x1", "y1"]).opts(fill_color=DIM_COLOR, fill_alpha=DIM_ALPHA, line_alpha=0.0)


def frame_key(value: dict[str, Any]) -> tuple:
    """What the annotations, the selection outlines and the title of a heatmap depend on: a new
    value with the same key changed only the tile (a zoom, α, the colours)."""
    return (value["model"], value["kind"], value["m"], tuple(value["boundaries"]), value["block"],
            value.get("order_id"), value.get("mean_abs"), bool(value.get("tile") is None))


def heatmap_overlay(value: dict[str, Any], cmap: str) -> hv.Overlay:
    """The layers of a heatmap's data: the tile, the pair diagonal and the annotations."""
    img = tile_image(value).opts(cmap=cmap, clim=tuple(value["clim"]))
    layers = img * styled_diagonal(value, cmap) if value["kind"] == "similarity" else img
    return layers * heatmap_annotations(value)


def styled_diagonal(value: dict[str, Any], cmap: str) -> hv.Rectangles:
    return diagonal_rects(value).opts(color="pair_sim", cmap=cmap, clim=tuple(value["clim"]), line_alpha=0)


def heatmap_annotations(value: dict[str, Any], selected: Any = None, inspected: Any = None) -> hv.Overlay:
    """What is drawn on the tile, in four layers (HoloViews redraws each layer of an overlay on
    every change, so fewer is faster): the selection's veil, quadrant separators, outlines
    (clusters, a scattered selection's bands, tapped cell), labels (quadrant names, cluster labels)."""
    return veil(value, selected) * separators(value) * outlines(value, selected, inspected) * heatmap_labels(value)


class TileWriter:
    """Writes a new tile of an unchanged frame into the Bokeh data sources of the heatmap's image
    and pair diagonal (and the colour mappers' limits), on the document's event loop. Its hooks
    find the glyphs when HoloViews draws the plot (and keep the colour bar's title and the figure's
    provenance tags in step). In a notebook (no server document) it writes nothing: HoloViews'
    own update path pushes the change there."""

    def __init__(self, feed: Any, n: int, label: str, aggregation: Any):
        self.feed, self.n, self.label = feed, n, label
        self.aggregation = aggregation  # () -> the pixel aggregation named while no tile is shown
        self.image = None  # the RasterPlot of the tile
        self.diagonal = None  # the RectanglesPlot of the diagonal
        self.on_drawn: list = []  # f(plot) called whenever the image is drawn (the probe strip shares its y range)
        self.hover: HoverLookup | None = None  # the hover's per-pixel lookup (explorer.views.hover)

    def image_hook(self, plot: Any, element: Any) -> None:
        self.image = plot
        self.finish(plot)
        for f in list(self.on_drawn):
            f(plot)

    def diagonal_hook(self, plot: Any, element: Any) -> None:
        if self.diagonal is None and getattr(element, "vdims", None) and element.vdims[0].name == "pair_sim":
            self.diagonal = plot

    def finish(self, plot: Any) -> None:
        """Keep the axes on the whole matrix when its size changed (a caption filter: the plot is
        updated in place, not rebuilt), panning inside it, the colour bar's title in step with what
        it shows, the provenance in the figure's tags."""
        v = self.feed.value
        n = matrix_side(v)
        resized = n != self.n
        self.n = n
        for r in (plot.state.x_range, plot.state.y_range):
            if resized or getattr(r, "bounds", None) is None:
                r.bounds = (-0.5, n - 0.5)
            if resized:  # the whole new matrix (the y axis is inverted: row 0 at the top)
                lo, hi = (n - 0.5, -0.5) if r.start > r.end else (-0.5, n - 0.5)
                r.update(start=lo, end=hi, reset_start=lo, reset_end=hi)
        how = v["tile"].how if v["tile"] is not None else self.aggregation()
        title = colorbar_label(self.label, v["color_range"], how)
        for r in plot.state.right:
            if type(r).__name__ == "ColorBar" and r.title != title:
                r.title = title
        write_provenance(self.feed, plot)
        if self.hover is not None:
            self.hover.update(v)

    def write(self, value: dict[str, Any]) -> bool:
        """Write `value`'s tile; False when it cannot (nothing drawn yet, a notebook, no tile)."""
        p = self.image
        if p is None or value.get("tile") is None or p.comm is not None:
            return False
        doc = p.document
        if doc is None:
            return False
        image = tile_image(value)
        left, b, r, t = image.bounds.lbrt()
        data = {"image": [np.asarray(image.dimension_values(2, flat=False))], "x": [left], "y": [b], "dw": [r - left], "dh": [t - b]}
        rects = diagonal_rects(value)
        diag = {"left": rects.dimension_values(0), "bottom": rects.dimension_values(1), "right": rects.dimension_values(2),
                "top": rects.dimension_values(3), "color": rects.dimension_values(4)}
        lo, hi = (float(v) for v in value["clim"])

        import panel as pn

        def apply() -> None:
            # as HoloViews does when it redraws: the changes go to the browser at once, without
            # waiting for the document lock (which a stream callback on the event loop does not hold)
            with pn.io.unlocked():
                p.handles["source"].data.update(data)
                for plot in (p, self.diagonal):
                    mapper = plot.handles.get("color_mapper") if plot is not None else None
                    if mapper is not None:
                        mapper.update(low=lo, high=hi)
                if self.diagonal is not None and "source" in self.diagonal.handles:
                    self.diagonal.handles["source"].data = diag
                self.finish(p)

        from .feed import on_doc_loop

        on_doc_loop(doc, apply)  # at once when delivered by a Feed (on the session's loop), else scheduled there
        return True


def colorbar_label(label: str, color_range: str, how: str = "mean") -> str:
    """The colour bar's title, naming what a pixel shows and the colour range (explorer.engine.colour)."""
    what = {"data": "data p1–p99", "visible": "visible p1–p99", "locked": "locked range"}.get(color_range, "full range")
    return f"{label} · {how} per pixel · {what}"


def heatmap_plot(state: Any, model: str | None = None, kind: str = "similarity", *, shared: bool = False,
                 size: int = HEATMAP_SIZE, interactive: bool = True, colorbar: bool = True, run: Any = None) -> hv.Overlay:
    """The heatmap of `model` (None: follow ``model.active_model``); see the module docstring.

    shared=True: the Compare page's shared ordering and colour limits. `run`: where its data
    are computed (explorer.views.feed; default Panel's thread pool on a server, at once
    elsewhere). ``plot.feed`` is its Feed, ``plot.cell_streams`` the (Tap, DoubleTap) streams
    when `interactive`."""
    try:
        m_shown = int(state.active_indices().size)
    except Exception:  # a filter matching nothing: the plot shows the error (its feed fails the same way)
        m_shown = 1
    n = 2 * m_shown if kind == "similarity" else m_shown
    def compute(window_of: int | None = None, **req: Any) -> dict[str, Any]:
        # a zoom window belongs to the matrix it was drawn on: after a caption filter changed the
        # matrix, the whole new one is shown until the browser reports a window on it
        if window_of is not None and window_of != shown_side(state, kind):
            req.update(x_range=None, y_range=None)
            feed.forget("x_range", "y_range", "window_of")  # for good: the browser reports no new window when the axes are reset
        return heatmap_data(state, model, kind, shared, size, **req)

    feed = Feed(compute, params_of(state, depends(model, shared)), empty=lambda: empty_data(m_shown, kind), run=run)
    feed.label = f"heatmap_plot ({kind})"  # for the trace: the similarity and the difference heatmaps apart
    look = state.look
    cmap_param = "cmap" if kind == "similarity" else "diverging_cmap"

    # A new value that changed only the tile (a zoom, α, the colour range) is written straight into
    # the image's and the diagonal's Bokeh data sources (TileWriter); anything else (a new model,
    # order, filter, the first tile) goes through HoloViews, which redraws every layer of the overlay
    # (about 30 ms a layer: the zoom would cost ten times more).
    label = "cosine similarity" if kind == "similarity" else "XXᵀ − YYᵀ"
    frame = hv.streams.Pipe(data=feed.value)
    writer = TileWriter(feed, n, label, lambda: state.pixel_aggregation(kind))
    last = {"key": frame_key(feed.value)}

    def publish(data: dict) -> None:
        if feed.disposed:  # replaced: its plot may already be cleaned up
            return
        key = frame_key(data)
        if key == last["key"] and writer.write(data):
            return
        last["key"] = key
        frame.send(data)

    feed.pipe.add_subscriber(publish)
    cmap_stream = hv.streams.Params(look, [cmap_param])

    # the tile alone in its DynamicMap: HoloViews links streams (zoom, taps) only to a DynamicMap
    # of one element, not to one returning an overlay
    def draw(data: dict, **cmaps: Any) -> hv.Image:
        return tile_image(data).opts(cmap=cmaps[cmap_param], clim=tuple(data["clim"]))

    matrix = hv.DynamicMap(draw, streams=[frame, cmap_stream])
    diagonal = hv.DynamicMap(lambda data, **cmaps: styled_diagonal(data, cmaps[cmap_param]), streams=[frame, cmap_stream])
    notes = hv.DynamicMap(lambda data, selected_pairs, inspected: heatmap_annotations(data, selected_pairs, inspected),
                          streams=[frame, hv.streams.Params(state.interaction, ["selected_pairs", "inspected"])])
    window = hv.streams.RangeXY(source=matrix)
    pixels = hv.streams.PlotSize(source=matrix)
    window.add_subscriber(lambda x_range=None, y_range=None: feed.request(x_range=x_range, y_range=y_range, window_of=writer.n))

    def resized(width=None, height=None, scale=1.0):
        if width and height:
            s = float(scale or 1.0)
            feed.request(width=int(width * s), height=int(height * s))

    pixels.add_subscriber(resized)
    def title(element: Any, data: dict) -> Any:
        from .cards import truncate

        what = "Similarity" if kind == "similarity" else "In-modal difference"
        if not data.get("model"):
            return element.opts(title=f"{what} · {truncate(feed.error, 60) if feed.error else '…'}")
        extra = f" · mean|D| = {data['mean_abs']:.4f}" if data.get("mean_abs") is not None else ""
        return element.opts(title=f"{what} · {truncate(data['model'], 40)}{extra}")

    hover = writer.hover = HoverLookup(kind)
    layers = (matrix * diagonal * notes) if kind == "similarity" else (matrix * notes)
    plot = layers.apply(title, streams=[frame])
    plot = plot.opts(
        hv.opts.Image(colorbar=colorbar, frame_width=size, frame_height=size, invert_yaxis=True,
                      tools=["hover", "tap", "doubletap"] if interactive else ["hover"], hover_tooltips=TOOLTIP,
                      hover_formatters=hover.formatters, **({"xformatter": hover.ticks, "yformatter": hover.ticks} if hover.ticks else {}),
                      hooks=[weak_hook(writer, TileWriter.image_hook)], xlim=(-0.5, n - 0.5), ylim=(-0.5, n - 0.5)),
        hv.opts.Rectangles(hooks=[weak_hook(writer, TileWriter.diagonal_hook)]),
    )
    plot.writer = writer
    plot.cell_streams = attach_cell_streams(state, matrix, model, shared, kind) if interactive else ()
    plot.feed = feed
    return plot


def similarity_heatmap(state: Any, model: str | None = None, **options: Any) -> hv.Overlay:
    """The full 2M×2M similarity heatmap of `model` (see :func:`heatmap_plot`)."""
    return heatmap_plot(state, model, "similarity", **options)


def difference_heatmap(state: Any, model: str | None = None, **options: Any) -> hv.Overlay:
    """The M×M in-modal difference X'X'ᵀ − Y'Y'ᵀ (CyCLIP's in-modal consistency): mean per pixel,
    diverging colour map centred at 0, mean|D| in the title (see :func:`heatmap_plot`)."""
    return heatmap_plot(state, model, "difference", **options)


def shown_side(state: Any, kind: str) -> int:
    """Rows of the matrix of the shown pairs (2M, or M for the difference); 0 when none are."""
    try:
        m = int(state.active_indices().size)
    except Exception:  # a filter matching nothing
        return 0
    return 2 * m if kind == "similarity" else m


def cell_from_xy(x: float, y: float, n: int) -> tuple[int, int] | None:
    """(row, col) of the cell under data coordinates (x, y), or None outside the n×n matrix."""
    if x is None or y is None:
        return None
    r, c = int(np.floor(y + 0.5)), int(np.floor(x + 0.5))
    if 0 <= r < n and 0 <= c < n:
        return r, c
    return None


def cluster_at(boundaries: Any, m: int, row: int, col: int) -> int | None:
    """The cluster (0-based, display order) whose box holds cell (row, col) in any quadrant of a
    matrix of blocks of m rows (the boxes of :func:`cluster_box_rows`), or None."""
    b = np.asarray(boundaries, dtype=np.int64)
    if b.size < 2 or m <= 0:
        return None
    r, c = int(row) % m, int(col) % m
    cr, cc = (int(np.searchsorted(b, v, side="right")) - 1 for v in (r, c))
    return cr if cr == cc and 0 <= cr < b.size - 1 else None


def attach_cell_streams(state: Any, source: Any, model: str | None, shared: bool = False,
                        kind: str = "similarity") -> tuple[hv.streams.Stream, ...]:
    """Tap → state.inspect_cell (both items + value), and a tap inside a cluster's box selects
    that cluster's pairs (as its legend entry does); double tap → select the row's pair."""
    tap = hv.streams.Tap(source=source, x=None, y=None)
    dtap = hv.streams.DoubleTap(source=source, x=None, y=None)

    def size() -> int:
        return shown_side(state, kind)

    def on_tap(x=None, y=None):
        try:
            cell = cell_from_xy(x, y, size())
            if cell is None:
                return
            state.inspect_cell(model, cell[0], cell[1], shared, kind)
            om = state.order_model(model, shared)
            o = state.ordering(om)
            if o is not None:
                c = cluster_at(o.boundaries, int(state.active_indices().size), cell[0], cell[1])
                if c is not None:
                    state.select_cluster(om, c)
        except Exception as exc:  # shown where the items would be
            state.interaction.inspected = {"kind": "error", "message": f"could not inspect that cell: {exc}"}

    def on_double_tap(x=None, y=None):
        try:
            pairs = state.display_pairs(model, shared)
            cell = cell_from_xy(x, y, size())
            if cell is not None:
                state.select_pairs([int(pairs[cell[0] % pairs.size])])
        except Exception as exc:
            state.interaction.inspected = {"kind": "error", "message": f"could not select that row: {exc}"}

    tap.add_subscriber(on_tap)
    dtap.add_subscriber(on_double_tap)
    return tap, dtap
