"""Interaction a researcher can trust, on the Amumo article's MSCOCO export (100 pairs, four
real models; skipped without ../shared): the heatmap's hover names both items by pair id and
caption, a locked colour range stays put while α moves, Compare draws the four models'
in-modal difference heatmaps on one symmetric scale, and a selection leaves the selected cells'
pixels as they were. Screenshots: test-artifacts/interaction-*.png."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from conftest import on_failure_keep, wait_for_app
from test_explorer_page import wait_for_whole_matrix, wait_until

from explorer.views.hover import one_line

N = 100

#: the figure whose title starts with the prefix: its frame on the page (x, y, width, height in
#: CSS pixels), its image's colour limits and its colour bar's title
FIGURE_JS = """(prefix) => {
  const seen = new Set(), stack = [...Bokeh.index.roots];
  while (stack.length) {
    const v = stack.pop();
    if (seen.has(v)) continue;
    seen.add(v);
    const m = v.model;
    if (m && m.title && m.title.text && m.title.text.startsWith(prefix) && v.frame) {
      const b = v.frame.bbox, r = v.canvas_view.el.getBoundingClientRect();
      let lim = null, bar = null;
      for (const g of m.renderers) if (g.glyph && g.glyph.color_mapper) { lim = [g.glyph.color_mapper.low, g.glyph.color_mapper.high]; break; }
      for (const a of m.right) if (a.color_mapper) bar = a.title;
      return {x: r.left + b.left, y: r.top + b.top, w: b.width, h: b.height, lim: lim, bar: bar, title: m.title.text};
    }
    try { for (const c of v.children()) stack.push(c); } catch (e) {}
  }
  return null; }"""

ALL_FIGURES_JS = """(prefix) => { const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.title && m.title.text && m.title.text.startsWith(prefix) && m.renderers)
      for (const g of m.renderers) if (g.glyph && g.glyph.color_mapper && g.glyph.type == "Image") {
        out.push([m.title.text, g.glyph.color_mapper.low, g.glyph.color_mapper.high, m.y_range.start > m.y_range.end,
                  m.x_range.start < m.x_range.end]); break; }
  return out; }"""


def figure(page, prefix: str = "Similarity ·") -> dict | None:
    return page.evaluate(FIGURE_JS, prefix)


def pixels(page, frame: dict) -> np.ndarray:
    """The figure's frame as an RGB array (a screenshot of that region of the page)."""
    from PIL import Image

    png = page.screenshot(clip={"x": frame["x"], "y": frame["y"], "width": frame["w"], "height": frame["h"]})
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)


@pytest.fixture(scope="module")
def captions(amumo_server):
    from explorer.sources import open_source

    return list(open_source(f"amumo:{amumo_server.extra['export']}").pairs.captions)


@pytest.fixture(scope="module")
def shared_page(browser, amumo_server):
    """One page for the module's tests (a page load takes ~30 s on a busy machine); they run in
    file order: hover, selection, locked range (moves α), Compare."""
    from conftest import LOAD_TIMEOUT_MS, Recorder

    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = ctx.new_page()
    rec = Recorder()
    page.on("console", lambda m: rec.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: rec.page_errors.append(str(e)))
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(amumo_server.url)
    wait_for_app(page)
    wait_for_whole_matrix(page, N, "Similarity ·")
    yield page, rec
    ctx.close()


@pytest.fixture
def app(shared_page, amumo_server, artifacts_dir, request):
    yield shared_page
    on_failure_keep(request, shared_page[0], amumo_server, artifacts_dir)


def test_hover_names_both_items_by_pair_id_and_caption(app, captions, artifacts_dir):
    page, rec = app
    f = figure(page)
    # a caption row × an image column (lower-left quadrant), then an image row × a caption column
    for fx, fy, rows, cols in ((0.3, 0.7, "caption", "image"), (0.8, 0.2, "image", "caption")):
        page.mouse.move(f["x"] + f["w"] * fx, f["y"] + f["h"] * fy)
        tip = page.locator(".bx-hover")
        wait_until(lambda t=tip: t.count() >= 1 and t.first.is_visible(), what="the hover tooltip")
        text = tip.first.inner_text()
        found = re.findall(r"(image|caption) of pair (\d+) · (.*)", text)
        assert [k for k, _, _ in found] == [rows, cols], text
        for _, pid, cap in found:  # the pair id's own caption, on one line
            assert cap.strip() == one_line(captions[int(pid)]), (pid, cap)
        assert re.search(r"similarity of the cell: -?\d\.\d{3}", text), text
        assert "column" in text and "row" in text and not re.search(r"row \d+|column \d+", text)  # no matrix indices
        if cols == "image":
            img = tip.first.locator("img").nth(1)
            wait_until(lambda img=img: img.evaluate("im => im.complete && im.naturalWidth > 0"), what="the image item's thumbnail")
            page.screenshot(path=str(artifacts_dir / "interaction-hover.png"))
    assert rec.page_errors == [] and rec.console_errors == []


def test_selection_leaves_the_selected_cells_pixels_unchanged(app, artifacts_dir):
    page, _ = app
    f = figure(page)
    away = (f["x"] + f["w"] + 300, f["y"] - 60)  # no tooltip over the frame
    page.mouse.move(*away)
    time.sleep(0.5)
    before = pixels(page, f)
    # double-tap a row of the image block: its pair is selected (its image row and caption row)
    fx, fy = 0.62, 0.3
    px, py = int(f["w"] * fx), int(f["h"] * fy)
    page.mouse.dblclick(f["x"] + px, f["y"] + py)
    page.mouse.move(*away)
    wait_until(lambda: page.locator(".bx-selection").first.inner_text().count("pair") >= 1
               and "No pairs selected" not in page.locator(".bx-selection").first.inner_text(), what="the selected pair")
    (changed,) = wait_until(lambda: (lambda d: d.mean() > 0.5 and (d,))(np.abs(pixels(page, f) - before).max(axis=2) > 6),
                            what="the rest of the matrix dimmed")
    page.screenshot(path=str(artifacts_dir / "interaction-selection.png"))
    # the selected pair's row (the pixel row tapped) and column keep their colours, away from the tapped cell's outline
    # (the pixel row of the tapped cell: within a pixel or two of the click, the crop being at a fractional offset)
    cols = np.r_[0:max(px - 6, 0), min(px + 7, int(f["w"])):int(f["w"])]
    row_changed = min(changed[y, cols].mean() for y in range(py - 3, py + 4))
    assert row_changed < 0.02, f"{row_changed:.1%} of the selected row's pixels changed"
    assert changed[py - 8, cols].mean() > 0.5 and changed[py + 8, cols].mean() > 0.5, "the rows beside it are dimmed"
    # the same pair's image column: the matrix is symmetric, so at the tapped row's place along x
    cx = int(round((py + 0.5) * f["w"] / f["h"]))
    rows = np.r_[0:max(py - 6, 0), min(py + 7, int(f["h"])):int(f["h"])]
    best = min(changed[rows, x].mean() for x in range(max(cx - 3, 0), min(cx + 4, int(f["w"]))))
    assert best < 0.02, f"{best:.1%} of the selected pair's image column changed"


def drag_alpha_to(page, fraction: float) -> None:
    title = page.get_by_text(re.compile(r"close the gap \(α\)")).first
    slider = title.locator("xpath=ancestor::*[contains(@class,'bk-input-group')][1]")
    handle, track = slider.locator(".noUi-handle").first, slider.locator(".noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(tb["x"] + tb["width"] * fraction, hb["y"] + hb["height"] / 2, steps=6)
    page.mouse.up()


def test_a_locked_colour_range_stays_put_when_alpha_moves(app, artifacts_dir):
    page, _ = app
    data = wait_until(lambda: figure(page)["lim"], what="the similarity heatmap's colour limits")
    page.locator(".bx-color-range button", has_text="lock").first.click()
    wait_until(lambda: "locked" in (figure(page)["bar"] or ""), what="the colour bar saying the range is locked")
    locked = figure(page)["lim"]
    assert locked == pytest.approx(data, abs=1e-6)  # the limits in effect when locked
    drag_alpha_to(page, 0.6)
    line = page.get_by_text(re.compile(r"gap α=0\.[1-9]\d* re-normalised · mean per pixel · colours locked"))
    wait_until(lambda: line.count() >= 1, what="the heatmap's provenance line at the new α with the locked colours")
    time.sleep(1.0)
    assert figure(page)["lim"] == pytest.approx(locked, abs=1e-6)
    page.screenshot(path=str(artifacts_dir / "interaction-locked.png"))
    # the data's own range did move with α: unlocking shows it
    page.locator(".bx-color-range button", has_text="data").first.click()
    moved = wait_until(lambda: (lambda lim: lim is not None and abs(lim[0] - locked[0]) > 0.01 and lim)(figure(page)["lim"]),
                       what="the data range of the new α")
    assert "data p1–p99" in figure(page)["bar"] and moved


def test_compare_draws_the_four_difference_heatmaps_on_one_symmetric_scale(app, artifacts_dir):
    page, rec = app
    page.get_by_text("Compare", exact=True).first.click()
    limits = wait_until(lambda: (lambda f: len(f) == 4 and f)(page.evaluate(ALL_FIGURES_JS, "In-modal difference")),
                        what="four in-modal difference heatmaps on the Compare page")
    names = {re.search(r"In-modal difference · (\S+)", t).group(1) for t, *_ in limits}
    assert names == {"CLIP", "CyCLIP", "CLOOB", "CLOOB_LAION400M"}
    lows, highs = {round(lo, 9) for _, lo, *_ in limits}, {round(hi, 9) for _, _, hi, *_ in limits}
    assert all(down and right for *_, down, right in limits), "row 0 at the top, column 0 at the left, as on Explore"
    assert len(lows) == len(highs) == 1, limits  # one scale
    assert lows.pop() == pytest.approx(-highs.pop())  # symmetric about 0
    page.get_by_text("of each model, on one symmetric colour scale").first.scroll_into_view_if_needed()
    time.sleep(1.0)
    page.screenshot(path=str(artifacts_dir / "interaction-compare-difference.png"))
    assert rec.page_errors == []
