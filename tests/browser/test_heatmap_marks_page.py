"""What is drawn around the served similarity heatmap (``python -m explorer serve --source synthetic:1500``):
the probe's strip beside it shows nothing until a probe is set (no empty outlined box) and
appears without moving the heatmap; a tap inside a cluster's box selects that cluster, as its
legend entry does."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from conftest import keep_log_on_failure, serve_module, wait_for_app
from test_explorer_page import wait_until
from test_real_sources import click_checkbox

N_PAIRS = 1500

#: the page rectangle of the probe strip's frame and of the heatmap's frame (CSS pixels)
FRAMES_JS = """() => { const out = {}; const seen = new Set();
  function walk(v) { if (!v || seen.has(v)) return; seen.add(v);
    const m = v.model;
    if (v.frame && v.canvas_view) {
      const r = v.canvas_view.el.getBoundingClientRect(), b = v.frame.bbox;
      const box = {x: r.left + b.left, y: r.top + b.top, width: b.width, height: b.height};
      if ((m.css_classes || []).includes('bx-probe-strip')) out.strip = box;
      else if (m.title && m.title.text && m.title.text.startsWith('Similarity ·') && !out.heatmap) out.heatmap = box; }
    for (const c of (v.child_views || [])) walk(c); }
  const idx = Bokeh.index; for (const v of (idx.values ? [...idx.values()] : Object.values(idx))) walk(v);
  return out; }"""


@pytest.fixture(scope="module")
def synthetic_server(tmp_path_factory):
    yield from serve_module(tmp_path_factory, "heatmap-marks", "--source", f"synthetic:{N_PAIRS}")


def pixels(page, box: dict, pad: float = 2.0) -> np.ndarray:
    from PIL import Image

    clip = {"x": box["x"] - pad, "y": box["y"] - pad, "width": box["width"] + 2 * pad, "height": box["height"] + 2 * pad}
    return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB"), dtype=np.int64)


def test_the_probe_strip_is_blank_until_a_probe_is_set(open_page, synthetic_server, artifacts_dir, request):
    page, rec = open_page(synthetic_server.url)
    try:
        wait_for_app(page)
        frames = wait_until(lambda: (lambda f: f if "strip" in f and "heatmap" in f else None)(page.evaluate(FRAMES_JS)),
                            what="the strip's and the heatmap's frames")
        before = pixels(page, frames["strip"])
        page.screenshot(path=str(artifacts_dir / "probe-strip-none.png"))
        # nothing but the page's white where the strip would be: no grey frame around an empty box
        assert before.min() >= 245, f"something is drawn beside the heatmap without a probe (darkest {before.min()})"
        box = page.locator(".bx-probe-query input").first
        box.fill("#5")  # a caption of the source (synthetic models have no text encoder)
        box.press("Enter")
        wait_until(lambda: pixels(page, frames["strip"]).min() < 200, what="the probe's strip")
        after = page.evaluate(FRAMES_JS)
        page.screenshot(path=str(artifacts_dir / "probe-strip-set.png"))
        assert after["heatmap"] == frames["heatmap"], "the heatmap moved when the probe's strip appeared"
        assert abs(after["strip"]["y"] - after["heatmap"]["y"]) < 1, "the strip's rows sit beside the heatmap's"
        page.locator(".bx-probe-clear button").first.click()
        wait_until(lambda: pixels(page, frames["strip"]).min() >= 245, what="the strip to go blank again")
        assert rec.page_errors == []
    finally:
        if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
            keep_log_on_failure(synthetic_server, artifacts_dir, "heatmap-marks")


def test_a_tap_inside_a_clusters_box_selects_the_cluster(open_page, synthetic_server, artifacts_dir, request):
    page, rec = open_page(synthetic_server.url)
    try:
        wait_for_app(page)
        click_checkbox(page, "cluster matrix by similarity")
        buttons = page.locator(".bx-heatmap ~ * .bx-cluster-button button, .bx-cluster-legend-box .bx-cluster-button button")
        wait_until(lambda: buttons.count() >= 10, what="the cluster legend")
        sizes = [int(re.search(r"\((\d+)\)\s*$", t.strip()).group(1)) for t in buttons.all_inner_texts()[:10]]
        assert sum(sizes) == N_PAIRS, sizes
        page.wait_for_timeout(1500)  # the clustered tile drawn
        frame = page.evaluate(FRAMES_JS)["heatmap"]
        # the middle of cluster 2's box in the image–text quadrant (display order: cluster 1's pairs first)
        row = sizes[0] + sizes[1] / 2
        col = N_PAIRS + row
        x = frame["x"] + frame["width"] * (col + 0.5) / (2 * N_PAIRS)
        y = frame["y"] + frame["height"] * (row + 0.5) / (2 * N_PAIRS)
        page.mouse.click(x, y)
        selection = page.locator(".bx-selection").first
        wait_until(lambda: f"{sizes[1]} selected pair" in selection.inner_text(), what=f"cluster 2's {sizes[1]} pairs selected")
        page.screenshot(path=str(artifacts_dir / "cluster-box-tapped.png"))
        inspected = page.locator(".bx-inspect").first.inner_text()
        assert "pair" in inspected, f"the tapped cell is inspected too: {inspected!r}"
        assert rec.page_errors == []
    finally:
        if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
            keep_log_on_failure(synthetic_server, artifacts_dir, "heatmap-marks-cluster")
