"""The text probe in the views: the query box, the most similar items, the heatmap's strip and
the scatter's point colours.

The user types a query (``probe.query``): text embedded by the active model's text encoder, or
``#ID`` for the caption of pair ID (the only way on precomputed sources without encoders). Every
shown image and caption gets its similarity to the query (:mod:`explorer.engine.probe`, through
:meth:`explorer.state.ExplorerState.probe_result`: exact, α applied as the views show the items,
one chunked pass off the event loop), and

- the scatter colours its points by it (``projection.point_color = "probe similarity"``, set
  when a probe is set; :func:`probe_column` gives the scatter its values);
- a thin strip beside the heatmap shows the mean similarity of each pixel row, binned exactly
  like the heatmap's rows (:func:`strip_data`), following every zoom of the heatmap (it shares
  the heatmap's vertical range);
- :func:`probe_panel` lists the most similar images and captions (thumbnails and escaped
  captions, :mod:`explorer.views.cards`) and says what embedded the query, or why it could not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExplorerError
from .cards import esc, thumb_img
from .feed import Feed, params_of

#: what the probe's list depends on
DEPENDS = ("data", "gap.alpha", "gap.renormalize", "probe", "model.active_model")
#: the colour map of probe similarities (scatter points and the heatmap's strip)
PROBE_CMAP = "plasma"
#: frame width of the strip beside the heatmap, in pixels
STRIP_WIDTH = 14
#: the strip's frame while a probe is set (none without one: an empty box would look like a broken view)
STRIP_OUTLINE = "#ccc"


def palette(name: str = PROBE_CMAP, n: int = 256) -> list[str]:
    """The hex colours of a colour map (Bokeh's palettes, or colorcet's)."""
    from bokeh import palettes

    try:
        return list(palettes.interp_palette(getattr(palettes, f"{name.capitalize()}256"), n))
    except AttributeError:
        import colorcet

        return list(colorcet.palette[name])


# -- data ----------------------------------------------------------------------------------------
def probe_column(state: Any, model: str, frame: Any) -> np.ndarray:
    """Each point of a projection frame's probe similarity (NaN without a probe, or when the probe
    fails: the probe panel says why). Points of one pair (concatenated mode) get the mean of its
    image's and caption's."""
    n = len(frame)
    if not state.probe.query.strip() or n == 0:
        return np.full(n, np.nan)
    try:
        sims = state.probe_result(model)
    except ExplorerError:
        return np.full(n, np.nan)
    active = state.active_indices()
    pos = np.searchsorted(active, frame["pair_id"].to_numpy())
    modality = np.asarray(frame["modality"].cat.codes if hasattr(frame["modality"], "cat") else frame["modality"])
    names = list(frame["modality"].cat.categories) if hasattr(frame["modality"], "cat") else None
    image = sims.image[pos]
    text = sims.text[pos]
    if names == ["pair"]:
        return 0.5 * (image + text)
    is_image = modality == names.index("image") if names is not None else modality == "image"
    return np.where(is_image, image, text)


def probe_limits(state: Any, model: str | None = None) -> tuple[float, float]:
    """(min, max) of the similarities of every shown item: one colour scale for the strip and the points."""
    sims = state.probe_result(model)
    lo = float(min(sims.image.min(), sims.text.min()))
    hi = float(max(sims.image.max(), sims.text.max()))
    return (lo, hi) if hi > lo else (lo - 1e-6, hi + 1e-6)


def strip_data(state: Any, heatmap_value: dict[str, Any]) -> dict[str, Any]:
    """The strip beside a similarity heatmap for its current tile: the mean probe similarity of
    each pixel row (binned exactly like the tile's rows) and where to draw it (y, dh in cells)."""
    t = heatmap_value.get("tile")
    out: dict[str, Any] = {"values": np.zeros(0), "y": -0.5, "dh": 1.0, "clim": (0.0, 1.0), "query": "", "model": ""}
    query = state.probe.query.strip()
    if t is None or heatmap_value.get("kind") != "similarity" or not query:
        return out
    m = heatmap_value["model"]
    if t.n != 2 * int(state.active_indices().size):  # a tile of another selection: the next one follows
        return out
    ya, yb = int(t.y_edges[0]), int(t.y_edges[-1])
    values = state.probe_strip(t.y_edges, m)
    return {"values": values, "y": ya - 0.5, "dh": float(yb - ya), "clim": probe_limits(state, m), "query": query, "model": m}


def probe_list_html(top: dict[str, Any], thumbs: int = 64) -> str:
    """The query and the most similar images and captions (escaped; thumbnails by URL)."""
    head = (f'<div class="bx-probe-head" style="font-size:12px">Most similar to {esc(top["query"], 200)} '
            f'<span style="color:#777">(of {top["n"]:,} images and {top["n"]:,} captions; {esc(top["model"], 80)}; the points of the '
            f'projection are coloured by it, and the strip left of the heatmap shows the mean of each of its rows)</span></div>')
    note = f'<div class="bx-probe-note" style="font-size:12px;color:#a15c00">{esc(top["note"], 300)}</div>' if top.get("note") else ""
    images = []
    for r in top["images"]:
        pid = int(r["pair_id"])
        images.append(
            f'<div class="bx-probe-image" data-pair="{pid}" style="display:inline-block;vertical-align:top;width:{thumbs + 46}px;margin:3px">'
            f'{thumb_img(r.get("thumb"), thumbs, alt=f"image of pair {pid}")}'
            f'<div style="font-size:11px;color:#555">pair {pid} · {r["sim"]:.3f}</div>'
            f'<div style="font-size:11px;overflow-wrap:anywhere">{esc(r.get("caption", ""), 80)}</div></div>')
    captions = []
    for r in top["captions"]:
        pid = int(r["pair_id"])
        captions.append(
            f'<div class="bx-probe-caption" data-pair="{pid}" style="font-size:12px;margin:2px 0">'
            f'<span style="color:#555">{r["sim"]:.3f} · pair {pid}</span> {esc(r.get("caption", ""), 160)}</div>')
    return (f'<div class="bx-probe-list">{head}{note}<div style="display:flex;flex-wrap:wrap;gap:12px">'
            f'<div style="flex:1 1 420px"><b style="font-size:12px">images</b><div>{"".join(images)}</div></div>'
            f'<div style="flex:1 1 320px"><b style="font-size:12px">captions</b>{"".join(captions)}</div></div></div>')


def probe_list_data(state: Any) -> dict[str, Any]:
    """{'html': ...}: the list of the most similar items, or what the query box accepts."""
    if not state.probe.query.strip():
        return {"html": f'<div class="bx-probe-hint" style="font-size:12px;color:#666">Text probe: {esc(state.probe_hint(), 300)}</div>'}
    return {"html": probe_list_html(state.probe_top())}


# -- views ---------------------------------------------------------------------------------------
def probe_query(state: Any):
    """The query box (Enter to probe, × to clear), linked to ``probe.query``."""
    import panel as pn

    query = pn.widgets.TextInput.from_param(state.probe.param.query, label="", placeholder="probe: type a query and press Enter, or #ID",
                                            width=420, margin=(5, 5), css_classes=["bx-probe-query"])
    clear = pn.widgets.Button(label="×", width=36, margin=(5, 5), description="clear the probe", css_classes=["bx-probe-clear"])
    clear.on_click(lambda *_: setattr(state.probe, "query", ""))
    return pn.Row(query, clear, margin=0)


def probe_list(state: Any, run: Any = None):
    """The most similar images and captions (or what the query box accepts, or why the probe
    failed), computed off the event loop. ``pane.feed`` is its Feed."""
    import panel as pn

    feed = Feed(lambda **_: probe_list_data(state), params_of(state, DEPENDS),
                empty=lambda: {"html": '<div class="bx-probe-list">…</div>'}, run=run)

    def render(*_: Any) -> str:
        if feed.error:
            return f'<div class="bx-probe-error" style="font-size:12px;color:#b00020">Probe: {esc(feed.error, 500)}</div>'
        pending = '<div style="font-size:11px;color:#a15c00">updating…</div>' if feed.pending else ""
        return pending + feed.value["html"]

    pane = pn.pane.HTML(pn.bind(render, feed.param.version, feed.param.error, feed.param.pending), sizing_mode="stretch_width",
                        css_classes=["bx-probe"], margin=(0, 10))
    pane.feed = feed
    return pane


def probe_panel(state: Any, run: Any = None):
    """The query box above the list of the most similar items (a notebook's probe; the app puts
    the list below its plots). ``panel.feed`` is the list's Feed."""
    import panel as pn

    listing = probe_list(state, run)
    panel = pn.Column(probe_query(state), listing, sizing_mode="stretch_width", css_classes=["bx-probe-box"])
    panel.feed = listing.feed
    panel.listing = listing
    return panel


class ProbeStrip:
    """The strip beside a similarity heatmap (see module docstring): a Bokeh figure one pixel
    column wide per heatmap pixel row, sharing the heatmap figure's vertical range (set by the
    heatmap's TileWriter when it draws), recomputed for every new tile of the heatmap and every
    new probe, off the event loop. ``strip.feed`` is its Feed, ``strip.pane`` the Panel pane."""

    def __init__(self, state: Any, heatmap: Any, size: int, run: Any = None):
        import panel as pn
        from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
        from bokeh.plotting import figure

        self.state, self.heatmap = state, heatmap
        self.mapper = LinearColorMapper(palette=palette(), low=0.0, high=1.0, nan_color="#f2f2f2")
        self.source = ColumnDataSource({"image": [np.full((1, 1), np.nan)], "x": [0.0], "y": [-0.5], "dw": [1.0], "dh": [1.0]})
        n = 2 * max(int(heatmap.feed.value.get("m") or 1), 1)
        fig = figure(frame_width=STRIP_WIDTH, frame_height=size, x_range=(0, 1), y_range=(n - 0.5, -0.5), tools="",
                     toolbar_location=None, title="\u00a0", min_border_left=2, min_border_right=2)
        self.glyph = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
        fig.add_tools(HoverTool(tooltips=[("row", "$y{0}"), ("mean probe similarity", "@image{0.000}")], renderers=[self.glyph]))
        fig.axis.visible = False
        fig.grid.visible = False
        fig.outline_line_color = None  # drawn only while a probe is set (write): no empty box without one
        self.figure = fig
        self.feed = Feed(lambda **_: strip_data(state, heatmap.feed.value), params_of(state, ("probe.query",)),
                         empty=lambda: {"values": np.zeros(0), "y": -0.5, "dh": 1.0, "clim": (0.0, 1.0), "query": "", "model": ""},
                         run=run)
        heatmap.feed.pipe.add_subscriber(lambda data: self.feed.request())
        self.feed.pipe.add_subscriber(lambda data: self.write(data))
        writer = getattr(heatmap, "writer", None)
        if writer is not None and hasattr(writer, "on_drawn"):
            writer.on_drawn.append(self.share_range)
            if writer.image is not None:  # drawn already (a notebook cell)
                self.share_range(writer.image)
        # the figure itself carries the margin (Panel's Bokeh pane shows the figure as it is): level with the
        # heatmap's figure, whose pane gives it a top margin of 5 px (the browser test checks the frames line up)
        fig.margin = (5, 0, 5, 0)
        fig.css_classes = ["bx-probe-strip"]
        self.pane = pn.pane.Bokeh(fig)
        self.pane.feed = self.feed  # disposed with the page's other views (explorer.views.feed.dispose_views)
        self.write(self.feed.value)

    def share_range(self, plot: Any) -> None:
        """Follow the heatmap's vertical range and frame (called when the heatmap draws): the same
        range object, and a title and borders of the same height, so row k of the strip sits
        beside row k of the heatmap."""
        hm = plot.state
        doc, other = self.figure.document, hm.document
        if doc is not None and other is not None and doc is not other:
            return  # shown in another document (another notebook cell): cannot share models
        fig = self.figure
        if fig.y_range is not hm.y_range:
            fig.y_range = hm.y_range
        for name in ("min_border_top", "min_border_bottom"):
            if getattr(fig, name) != getattr(hm, name):
                setattr(fig, name, getattr(hm, name))
        for name in ("text_font_size", "text_font", "text_font_style", "offset", "standoff"):
            if getattr(fig.title, name) != getattr(hm.title, name):
                setattr(fig.title, name, getattr(hm.title, name))

    def write(self, value: dict[str, Any]) -> None:
        """Draw a strip value (on the session's loop when served). Without a probe the strip
        draws nothing (no outline, no image, no hover) but keeps its narrow column, so the
        heatmap's axes stay where they are when a probe is set."""
        vals = np.asarray(value["values"], dtype=np.float32)
        shown = bool(vals.size and value.get("query"))
        data = {"image": [vals[:, None] if vals.size else np.full((1, 1), np.nan, np.float32)], "x": [0.0], "y": [float(value["y"])],
                "dw": [1.0], "dh": [float(value["dh"])]}
        lo, hi = (float(v) for v in value["clim"])

        import panel as pn

        with pn.io.unlocked():
            self.source.data = data
            self.mapper.update(low=lo, high=hi)
            self.glyph.visible = shown
            self.figure.outline_line_color = STRIP_OUTLINE if shown else None


def probe_strip(state: Any, heatmap: Any, size: int, run: Any = None) -> ProbeStrip:
    """The strip beside `heatmap` (a :func:`explorer.views.heatmap.similarity_heatmap` plot)."""
    return ProbeStrip(state, heatmap, size, run)
