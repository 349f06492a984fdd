"""The 2N×2N similarity heatmap: all four quadrants, separators, labels, cluster boxes, selection.

The matrix is an ``hv.Image`` over integer coordinates (column j at x = j, row i at y = i, the
y axis inverted so row 0 is at the top) wrapped in ``rasterize``: the server aggregates it to
the plot's pixel grid (mean or max per pixel, `state.aggregation`; zoomed out, mean hides the
image–text diagonal, max keeps it) and re-aggregates on every zoom, so a 10,000×10,000 matrix
never travels to the browser. Bokeh colour-maps the aggregated grid client-side. Zoomed out,
rasterize reads pre-aggregated max/mean levels of the matrix (:mod:`explorer.views.pyramid`)
instead of all 100 million cells; zoomed in it reads the cells themselves.

Tapping a cell publishes both items and the value in ``state.inspected`` (shown by
:func:`explorer.views.selection.inspect_panel`); double-tapping selects the row's pair.
Selected pairs are highlighted as bands over their rows and columns.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from holoviews.operation.datashader import rasterize

from .dynamic import ACTIVE, COMPARE, GAP, MODEL, ORDER
from .style import CLUSTER_BOX_COLOR, HEATMAP_SIZE, SELECTION_COLOR, SEPARATOR_COLOR

QUADRANT_NAMES = (("image–image", "image–text"), ("text–image", "text–text"))  # [row block][column block]


def matrix_image(
    matrix: np.ndarray, vdim: str = "similarity", label: str = "", clim: tuple[float, float] | None = None, paired: bool = True
) -> hv.Image:
    """``hv.Image`` of a square matrix over integer coordinates: value at (x=col, y=row) is matrix[row, col].

    `paired`: the matrix is 2N×2N (images then captions) and the axis labels say so.
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    if clim is None and m.size:
        clim = (float(np.nanmin(m)), float(np.nanmax(m)))
    dim = hv.Dimension(vdim, range=clim) if clim is not None else hv.Dimension(vdim)
    return hv.Image((np.arange(m.shape[1]), np.arange(n), m), kdims=_kdims(n, paired), vdims=[dim], label=label)


def symmetric_clim(d: np.ndarray) -> tuple[float, float]:
    """(−m, m) with m = max|D| (never 0), so a diverging colour map is centred at 0."""
    m = float(np.nanmax(np.abs(d))) if np.size(d) else 1.0
    m = m if m > 0 else 1.0
    return -m, m


class LevelCache:
    """The hv.Images of the pre-aggregated levels (explorer.views.pyramid, cached by the state)
    of the matrix a view currently shows, with its colour limits; one matrix at a time."""

    def __init__(self, vdim: str = "similarity", paired: bool = True):
        self.vdim, self.paired = vdim, paired
        self.key: tuple | None = None
        self.images: dict[int, hv.Image] = {}

    def image(self, levels: list, clim: tuple[float, float], x_range, y_range, width: float, height: float) -> hv.Image:
        """The hv.Image of the level suited to the visible range (full matrix when zoomed in)."""
        from .pyramid import choose_level, level_coords

        if self.key is None or self.key[0] is not levels or self.key[1] != clim:
            self.key = (levels, tuple(clim))
            self.images = {}
        matrix = levels[0][1]
        n = matrix.shape[0]
        cells = max(_span(x_range, n), _span(y_range, n))
        f, a = choose_level(levels, cells, min(width, height))
        if f not in self.images:
            if f == 1:
                img = matrix_image(a, self.vdim, clim=clim, paired=self.paired)
            else:
                dim = hv.Dimension(self.vdim, range=clim)
                kd = _kdims(n, self.paired)
                img = hv.Image((level_coords(f, a.shape[1]), level_coords(f, a.shape[0]), a), kdims=kd, vdims=[dim])
            self.images[f] = img
        return self.images[f]


def _span(r, n: int) -> float:
    if r is None or r[0] is None or r[1] is None:
        return float(n)
    return float(min(abs(r[1] - r[0]), n))


def _kdims(n: int, paired: bool):
    if paired and n % 2 == 0:
        return [hv.Dimension("column", label=axis_label("column", n // 2)), hv.Dimension("row", label=axis_label("row", n // 2))]
    return ["column", "row"]


def empty_image(vdim: str = "similarity") -> hv.Image:
    """A 2×2 NaN image (shown while a view has nothing to show, e.g. a filter matching nothing)."""
    return matrix_image(np.full((2, 2), np.nan, dtype=np.float32), vdim, clim=(0.0, 1.0))


def separators(n: int, color: str = SEPARATOR_COLOR) -> hv.Overlay:
    """The lines between the quadrants (between row/column N−1 and N)."""
    return hv.HLine(n - 0.5).opts(color=color, line_width=1.5) * hv.VLine(n - 0.5).opts(color=color, line_width=1.5)


def quadrant_labels(n: int) -> hv.Labels:
    """A label near the top-left corner of each quadrant (rows–columns), dark on a light box so
    it reads on any cell colour."""
    pad = max(n * 0.03, 0.6)
    rows = [(qc * n - 0.5 + pad, qr * n - 0.5 + pad, QUADRANT_NAMES[qr][qc]) for qr in (0, 1) for qc in (0, 1)]
    return hv.Labels(rows, kdims=["column", "row"], vdims=["quadrant"]).opts(
        text_color="#222", text_font_size="9pt", text_align="left", text_baseline="top",
        background_fill_color="white", background_fill_alpha=0.75,
    )


def cluster_rectangles(boundaries: list[int], n: int) -> hv.Rectangles:
    """One box per cluster in each of the four quadrants (4k boxes), in matrix coordinates."""
    rects = []
    for qr in (0, 1):
        for qc in (0, 1):
            for a, b in zip(boundaries[:-1], boundaries[1:]):
                rects.append((qc * n + a - 0.5, qr * n + a - 0.5, qc * n + b - 0.5, qr * n + b - 0.5))
    return hv.Rectangles(rects, kdims=["x0", "y0", "x1", "y1"]).opts(
        fill_alpha=0.0, line_color=CLUSTER_BOX_COLOR, line_width=1.2
    )


#: height in pixels a cluster's box needs on the heatmap to carry its label (about one text line)
LABEL_MIN_PIXELS = 14
#: longest cluster label drawn on the heatmap (the gallery shows it whole)
LABEL_CHARS = 32


def cluster_label_points(boundaries: list[int], labels: list[str], n: int, block: str, size: int = HEATMAP_SIZE) -> hv.Labels:
    """Each cluster's n-gram label beside its box in the clustered quadrant, on the box colour.

    Only boxes at least LABEL_MIN_PIXELS high on a `size`-pixel heatmap get one (smaller
    clusters' labels would pile up; the gallery lists every cluster). A box in the left half of
    its quadrant is labelled to its right, one in the right half to its left, so labels stay
    inside the matrix."""
    qr = 0 if block.startswith("image") else 1
    qc = 0 if block.endswith("image") else 1
    px_per_row = size / max(2 * n, 1)
    pad = max(n * 0.005, 0.3)
    rows = []
    for c, (a, b, label) in enumerate(zip(boundaries[:-1], boundaries[1:], labels)):
        if (b - a) * px_per_row < LABEL_MIN_PIXELS:
            continue
        text = f"{c + 1}. {label}"
        text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
        left_half = (a + b) / 2.0 < n / 2.0
        x = qc * n + (b - 0.5 + pad if left_half else a - 0.5 - pad)
        rows.append((x, qr * n + (a + b) / 2.0 - 0.5, text, "left" if left_half else "right"))
    return hv.Labels(rows, kdims=["column", "row"], vdims=["cluster", "align"]).opts(
        text_color="#111", text_font_size="9pt", text_align=hv.dim("align"), text_baseline="middle",
        background_fill_color=CLUSTER_BOX_COLOR, background_fill_alpha=0.85,
    )


def band_alpha(selected: int) -> float:
    """Opacity of the selection bands: 0.35 for a few pairs, fading as more are selected (a box
    over dozens of pairs would otherwise cover the whole matrix), never below 0.08."""
    return 0.35 if selected <= 5 else max(0.08, 0.35 * 5.0 / selected)


def selection_bands(positions: np.ndarray, n: int) -> tuple[hv.HSpans, hv.VSpans]:
    """Bands over the rows and columns of the given display positions (image and caption each)."""
    q = np.asarray(positions, dtype=np.float64)
    starts = np.concatenate([q, q + n]) - 0.5
    alpha = band_alpha(q.size)
    h = hv.HSpans((starts, starts + 1.0), kdims=["y0", "y1"]).opts(color=SELECTION_COLOR, alpha=alpha)
    v = hv.VSpans((starts, starts + 1.0), kdims=["x0", "x1"]).opts(color=SELECTION_COLOR, alpha=alpha)
    return h, v


def heatmap_frames(state: Any, model: str | None, kind: str = "similarity", shared: bool = False, size: int = HEATMAP_SIZE) -> dict:
    """A heatmap's data for the current settings (computed by its Feed, in a thread on a server):
    the matrix's pre-aggregated levels and colour limits, the cluster boxes and labels, the
    display order, what produced it."""
    from .colour import shown_range
    from .provenance import provenance_dict, provenance_text

    m = state.resolve_model(model)
    om = state.order_model(m, shared)
    o = state.ordering(om)
    value = {
        "model": m,
        "levels": state.matrix_levels(m, kind, shared=shared),
        "clim": tuple(state.color_limits(m, kind, shared, pixels=size)),
        "color_range": shown_range(state.color_range, shared),
        "n": int(state.active_indices().size),
        "boundaries": list(o.boundaries) if o is not None else [],
        "labels": state.cluster_labels(om) if o is not None else [],
        "block": state.cluster_block,
        "size": size,
        "display_pairs": state.display_pairs(m, shared),
        "provenance": provenance_dict(state, m, kind, shared, size),
        "provenance_text": provenance_text(state, m, kind, shared, size),
    }
    if kind == "difference":
        value["mean_abs"] = float(state.numbers(m)["in_modal_difference"])
    return value


def empty_heatmap_frames(state: Any) -> dict:
    return {"model": "", "levels": None, "clim": (0.0, 1.0), "color_range": state.color_range, "n": 1, "boundaries": [],
            "labels": [], "block": state.cluster_block, "display_pairs": np.zeros(0, dtype=np.int64), "provenance": {},
            "provenance_text": "", "mean_abs": None}


def heatmap_feed(state: Any, model: str | None, kind: str = "similarity", shared: bool = False, size: int = HEATMAP_SIZE,
                 runner: Any = None):
    """The Feed of a heatmap: recomputed when the pairs, gap, ordering, model or look change."""
    from .deferred import Feed

    deps = ACTIVE + GAP + ORDER + ("aggregation", "color_range") + (MODEL if model is None else ()) + (COMPARE if shared else ())
    return Feed(state, lambda: heatmap_frames(state, model, kind, shared, size), lambda: empty_heatmap_frames(state), deps,
                runner=runner)


def _annotations(v: dict) -> hv.Overlay:
    n = max(int(v["n"]), 1)
    boxes = cluster_rectangles(v["boundaries"], n)
    labels = cluster_label_points(v["boundaries"], v["labels"], n, v["block"], v.get("size", HEATMAP_SIZE))
    return separators(n) * quadrant_labels(n) * boxes * labels


def _bands(v: dict, selected: Any) -> hv.Overlay:
    pairs = np.asarray(v["display_pairs"])
    pos = np.flatnonzero(np.isin(pairs, np.asarray(selected, dtype=np.int64)))
    h, vs = selection_bands(pos, max(pairs.size, 1))
    return h * vs


def similarity_heatmap(
    state: Any,
    model: str | None = None,
    *,
    shared: bool = False,
    size: int = HEATMAP_SIZE,
    interactive: bool = True,
    hover_inspect: bool = False,
    colorbar: bool = True,
    runner: Any = None,
) -> hv.DynamicMap:
    """The full 2N×2N similarity heatmap of `model` (None: follow `state.active_model`).

    shared=True uses the Compare page's shared ordering (and colour limits shared by the
    compared models). Returns an overlay of DynamicMaps: the rasterized matrix, separators/
    quadrant labels/cluster boxes and selection bands. The title is short ("Similarity ·
    model"); what produced the plot is in :func:`explorer.views.provenance.provenance_pane`
    and in the Bokeh figure's ``tags`` (``{"provenance": {...}}``, kept by exports).
    ``plot.cell_streams`` holds the (Tap, DoubleTap) streams when `interactive` (and a
    PointerXY stream when `hover_inspect`: hovering then updates ``state.inspected`` too, so
    the side panel follows the mouse; server round trips, so off by default). `colorbar`:
    draw the colour bar (Compare draws one for heatmaps sharing their colour limits). `runner`:
    where the matrix, its levels and limits are computed when the settings change (explorer.views.
    deferred; default at once, the app passes a background thread). ``plot.feed`` is the Feed.
    """
    from .dynamic import params_stream
    from .provenance import feed_provenance_hook

    feed = heatmap_feed(state, model, "similarity", shared, size, runner)

    def on_feed(*extra: str) -> list:
        return [params_stream(feed.params, ["version"])] + ([params_stream(state, list(extra))] if extra else [])

    raster, fit_hook = matrix_raster(feed, LevelCache(), empty_image, state.param.aggregation, size)
    raster = raster.apply.opts(cmap=state.param.cmap)
    raster = raster.apply(lambda el, **_: el.opts(clim=element_clim(el, feed.value, "similarity", shared)), streams=on_feed())
    raster = raster.opts(
        colorbar=colorbar,
        invert_yaxis=True,
        frame_width=size,
        frame_height=size,
        tools=["hover", "tap", "doubletap"] if interactive else ["hover"],
        hover_tooltips=[("row", "$y{0}"), ("column", "$x{0}"), ("similarity", "@image{0.000}")],
        hooks=[fit_hook, feed_provenance_hook(feed), colorbar_title_hook(feed, "cosine similarity")],
    )
    annotations = hv.DynamicMap(lambda **_: _annotations(feed.value), streams=on_feed())
    bands = hv.DynamicMap(lambda **_: _bands(feed.value, state.selected_pairs), streams=on_feed("selected_pairs"))
    plot = raster * annotations * bands
    plot = feed_title(plot, feed, "Similarity")
    # the streams, for callers that drive the plot programmatically (tests, notebooks)
    plot.cell_streams = attach_cell_streams(state, raster, model, shared, hover_inspect) if interactive else ()
    plot.feed = feed
    return plot


def matrix_raster(feed: Any, levels: LevelCache, empty: Any, aggregator: Any, size: int) -> tuple[hv.DynamicMap, Any]:
    """``rasterize`` of the matrix a heatmap feed publishes (its pre-aggregated level suited to
    the visible range; ``empty()`` while there is none), re-aggregated on every zoom, and a plot
    hook the caller must add to the plot's hooks.

    The zoom is kept while the matrix keeps its size (α moved, another ordering). When the size
    changes (the first matrix replaces the empty placeholder, a filter, another source) the
    visible range is forgotten before the plot redraws, and the hook sets the axes to the whole
    new matrix: otherwise the plot would stay zoomed into the placeholder's 2×2 cells.
    """
    from .dynamic import StreamHub, all_range_streams, params_stream

    drawn: dict[str, Any] = {"n": None, "fit": False}

    def matrix_size(v: dict) -> int:
        return 0 if v["levels"] is None else int(v["levels"][0][1].shape[0])

    def build(x_range=None, y_range=None, width=None, height=None, **_: Any) -> hv.Image:
        v = feed.value
        drawn["n"] = matrix_size(v)
        if v["levels"] is None:
            return empty()
        return levels.image(v["levels"], v["clim"], x_range, y_range, width or size, height or size)

    image = hv.DynamicMap(build, streams=[params_stream(feed.params, ["version"]), hv.streams.RangeXY(), hv.streams.PlotSize()])
    raster = rasterize(image, aggregator=aggregator, precompute=True)
    streams = all_range_streams(raster)

    def forget_range() -> None:
        if drawn["n"] is not None and matrix_size(feed.value) != drawn["n"]:
            for s in streams:
                s.reset()
            drawn["fit"] = True

    def fit_hook(plot: Any, element: Any) -> None:
        if not drawn["fit"]:
            return
        drawn["fit"] = False
        n = max(drawn["n"] or 0, 2)
        x, y = plot.state.x_range, plot.state.y_range
        x.start, x.end = -0.5, n - 0.5
        # the y axis is inverted (row 0 at the top): keep the direction the plot has
        y.start, y.end = (n - 0.5, -0.5) if (y.start or 0) > (y.end or 0) else (-0.5, n - 0.5)

    StreamHub.of(feed.params).before(["version"], forget_range)
    return raster, fit_hook


def feed_title(obj: Any, feed: Any, what: str, suffix: Any = None) -> Any:
    """`obj` titled "<what> · <model>" (+ " · suffix(value)") from what its feed shows."""
    from .cards import truncate
    from .dynamic import params_stream

    def title(element: Any, **_: Any) -> Any:
        v = feed.value
        if not v.get("model"):
            return element.opts(title=f"{what} · {truncate(feed.error, 60) if feed.error else '…'}")
        extra = suffix(v) if suffix is not None else ""
        return element.opts(title=f"{what} · {truncate(v['model'], 40)}{' · ' + extra if extra else ''}")

    return obj.apply(title, streams=[params_stream(feed.params, ["version"])])


def element_clim(element: Any, value: dict, kind: str, shared: bool = False) -> tuple[float, float]:
    """The colour limits of one rasterized frame: the feed's, or under the 'visible' colour range
    (not shared by compared heatmaps) those of the pixels of this frame (explorer.views.colour)."""
    if value.get("color_range") == "visible" and not shared and value.get("levels") is not None:
        from .colour import visible_limits

        lim = visible_limits(element.dimension_values(2, flat=True), kind)
        if lim is not None:
            return lim
    return tuple(value["clim"])


def colorbar_label(label: str, color_range: str) -> str:
    """The colour bar's title, naming the colour range (explorer.views.colour)."""
    what = {"data": "data p1–p99", "visible": "visible p1–p99"}.get(color_range, "full range")
    return f"{label} · {what}"


def colorbar_title_hook(feed: Any, label: str):
    """A plot hook keeping the colour bar's title in step with the colour range shown (HoloViews
    sets a colour bar's title only when the plot is first drawn)."""

    def hook(plot: Any, element: Any) -> None:
        title = colorbar_label(label, feed.value["color_range"])
        for r in plot.state.right:
            if type(r).__name__ == "ColorBar" and r.title != title:
                r.title = title

    return hook


def axis_label(kind: str, n: int) -> str:
    """'row: images 0–N−1 | captions N–2N−1' (the quadrant layout along one axis)."""
    return f"{kind}: images 0–{n - 1} | captions {n}–{2 * n - 1}"


def cell_from_xy(x: float, y: float, n2: int) -> tuple[int, int] | None:
    """(row, col) of the cell under data coordinates (x, y), or None outside the matrix."""
    if x is None or y is None:
        return None
    r, c = int(np.floor(y + 0.5)), int(np.floor(x + 0.5))
    if 0 <= r < n2 and 0 <= c < n2:
        return r, c
    return None


def attach_cell_streams(
    state: Any, source: Any, model: str | None, shared: bool = False, hover: bool = False
) -> tuple[hv.streams.Stream, ...]:
    """Tap → state.inspect_cell (both items + value); double tap → select the row's pair;
    with `hover`, a PointerXY stream inspects the cell under the mouse as well."""
    tap = hv.streams.Tap(source=source, x=None, y=None)
    dtap = hv.streams.DoubleTap(source=source, x=None, y=None)

    def on_tap(x=None, y=None):
        try:
            n2 = 2 * int(state.active_indices().size)
            cell = cell_from_xy(x, y, n2)
            if cell is None:
                return
            cur = state.inspected or {}
            if cur.get("kind") == "cell" and (cur.get("row"), cur.get("col")) == cell and cur.get("model") == state.resolve_model(model):
                return  # same cell: nothing to send
            state.inspect_cell(model, cell[0], cell[1], shared)
        except Exception as exc:
            state.status = f"could not inspect that cell: {exc}"

    def on_double_tap(x=None, y=None):
        try:
            pairs = state.display_pairs(model, shared)
            cell = cell_from_xy(x, y, 2 * pairs.size)
            if cell is not None:
                state.select_pairs([int(pairs[cell[0] % pairs.size])])
        except Exception as exc:
            state.status = f"could not select that row: {exc}"

    tap.add_subscriber(on_tap)
    dtap.add_subscriber(on_double_tap)
    if not hover:
        return tap, dtap
    pointer = hv.streams.PointerXY(source=source, x=None, y=None)
    pointer.add_subscriber(on_tap)
    return tap, dtap, pointer


def cluster_gallery(state: Any, model: str | None = None, per_cluster: int = 3):
    """Panel pane: each cluster's n-gram label, size and a few example images (escaped HTML)."""
    import panel as pn

    from .cards import cluster_gallery_html

    def render(*_: Any) -> str:
        try:
            m = state.resolve_model(model)
            o = state.ordering(m)
            if o is None:
                return cluster_gallery_html([], [], [])
            examples = [[state.item("image", pid) for pid in ids] for ids in state.cluster_examples(m, per_cluster)]
            return cluster_gallery_html(state.cluster_labels(m), o.sizes, examples)
        except Exception as exc:
            from .cards import esc

            return f'<div class="bx-clusters">{esc(exc)}</div>'

    deps = [state.param[p] for p in ACTIVE + ORDER + MODEL]
    return pn.pane.HTML(pn.bind(render, *deps), sizing_mode="stretch_width")
