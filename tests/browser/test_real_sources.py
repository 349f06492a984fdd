"""The explorer on real sources: the Amumo article's export (four real models over 100 MSCOCO
pairs; skipped without ../shared) and the embedded default that `make serve` opens (the shapes
world with the project's own models). Screenshots: test-artifacts/amumo-*.png, default.png."""

from __future__ import annotations

import re
import time

from conftest import wait_for_app
from test_explorer_page import image_stats, wait_until

REAL_MODELS = {"CLIP", "CyCLIP", "CLOOB", "CLOOB_LAION400M"}


def model_options(page) -> list[str]:
    menus = page.locator("select")
    for i in range(menus.count()):
        values = menus.nth(i).evaluate("s => Array.from(s.options).map(o => o.value)")
        label = menus.nth(i).evaluate("s => (s.closest('.bk-input-group') || s.parentElement).innerText")
        if label.strip().startswith("model"):
            return values
    raise AssertionError("no model menu")


def click_checkbox(page, label: str) -> None:
    """Click the box of a Bokeh checkbox by its label (the label itself does not toggle it)."""
    text = page.get_by_text(label, exact=True).first
    box = text.evaluate_handle("e => e.getRootNode().querySelector('input[type=checkbox]')").as_element()
    assert box is not None, f"no checkbox labelled {label!r}"
    box.click()


def test_amumo_export_shows_four_real_models_and_labelled_clusters(open_page, amumo_server, artifacts_dir):
    page, rec = open_page(amumo_server.url)
    wait_for_app(page)
    assert set(model_options(page)) == REAL_MODELS
    page.screenshot(path=str(artifacts_dir / "amumo-explore.png"))
    png = page.locator(".bx-heatmap").first.screenshot()
    assert image_stats(png)[0] > 20
    click_checkbox(page, "cluster matrix by similarity")
    clusters = page.locator(".bx-cluster")
    wait_until(lambda: clusters.count() >= 5, what="labelled clusters")
    labels = clusters.all_inner_texts()
    assert all(re.search(r"\(\d+ pairs\)", t) for t in labels)
    sizes = [int(re.search(r"\((\d+) pairs\)", t).group(1)) for t in labels]
    assert sum(sizes) == 100
    thumbs = page.locator(".bx-cluster img")
    assert thumbs.count() >= 5
    wait_until(lambda: thumbs.first.evaluate("im => im.complete && im.naturalWidth > 0"), what="a real image thumbnail")
    page.locator(".bx-cluster").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "amumo-clusters.png"))
    assert rec.page_errors == [] and rec.console_errors == []
    assert rec.foreign_requests(amumo_server.base) == []


def test_embedded_default_opens(open_page, default_server, artifacts_dir):
    page, rec = open_page(default_server.url)
    wait_for_app(page, timeout_ms=600_000)  # first start embeds 1000 shapes with three models
    assert set(model_options(page)) == {"own:clip", "own:cyclip", "own:cloob"}
    page.screenshot(path=str(artifacts_dir / "default.png"))
    for name in ("bx-heatmap", "bx-scatter"):
        std, colours = image_stats(page.locator(f".{name}").first.screenshot())
        assert std > 20 and colours > 30, name
    assert rec.page_errors == [] and rec.console_errors == []
    assert rec.foreign_requests(default_server.base) == []


#: the probe's strip and the scatter's points as the browser holds them: finite values of the strip's
#: image, the scatter glyphs' "probe" column, and the top of the strip's and the heatmap's frames
PROBE_STATE_JS = """() => { const out = {strip: null, points: null, frames: {}}; const seen = new Set();
  function walk(v) { if (!v || seen.has(v)) return; seen.add(v);
    const m = v.model;
    if (v.frame && v.canvas_view) {
      const top = v.canvas_view.el.getBoundingClientRect().top + v.frame.bbox.top;
      if ((m.css_classes || []).includes('bx-probe-strip')) out.frames.strip = top;
      else if (m.title && m.title.text && m.title.text.startsWith('Similarity ·') && out.frames.heatmap === undefined) out.frames.heatmap = top;
      for (const r of m.renderers || []) {
        const d = r.data_source && r.data_source.data; if (!d) continue;
        if ((m.css_classes || []).includes('bx-probe-strip') && d.image) {
          const a = Array.from(d.image[0]); out.strip = a.filter(Number.isFinite).length; }
        if (d.probe) out.points = Array.from(d.probe).filter(Number.isFinite).length; } }
    for (const c of (v.child_views || [])) walk(c); }
  const idx = Bokeh.index; for (const v of (idx.values ? [...idx.values()] : Object.values(idx))) walk(v);
  return out; }"""


def test_text_probe_on_the_embedded_default(open_page, default_server, artifacts_dir):
    """Issue 13's done criterion: type a query into the served app; the scatter's points and the
    heatmap's strip are coloured by each item's similarity to it, and the most similar items are listed."""
    import io

    import numpy as np
    from PIL import Image

    page, rec = open_page(default_server.url)
    wait_for_app(page, timeout_ms=600_000)
    scatter = page.locator(".bx-scatter").first
    before = np.asarray(Image.open(io.BytesIO(scatter.screenshot())).convert("RGB"), dtype=np.int64)
    assert page.evaluate(PROBE_STATE_JS)["strip"] == 0, "no probe yet: the strip is empty"
    box = page.locator(".bx-probe-query input").first
    box.fill("a red circle")
    box.press("Enter")
    captions = page.locator(".bx-probe-list .bx-probe-caption")
    wait_until(lambda: captions.count() == 8, what="the probe's list of captions")
    first = captions.first.inner_text()
    sims = [float(t.split("·")[0]) for t in captions.all_inner_texts()]
    assert sims == sorted(sims, reverse=True) and "red" in first, (first, sims)
    assert "“a red circle” embedded by own:clip" in page.locator(".bx-probe-head").first.inner_text()
    image = page.locator(".bx-probe-list .bx-probe-image img").first
    wait_until(lambda: image.evaluate("im => im.complete && im.naturalWidth > 0"), what="the top image's thumbnail")
    # the colouring: every scatter point and every pixel row of the strip has a probe similarity
    state = wait_until(lambda: (lambda s: s if s["points"] == 2000 and s["strip"] else None)(page.evaluate(PROBE_STATE_JS)),
                       what="probe colours in the scatter (2,000 points) and the strip")
    assert state["strip"] >= 300, state
    assert abs(state["frames"]["strip"] - state["frames"]["heatmap"]) < 1, f"the strip's rows sit beside the heatmap's: {state}"
    time.sleep(1.0)  # the redrawn canvas
    after = np.asarray(Image.open(io.BytesIO(scatter.screenshot())).convert("RGB"), dtype=np.int64)
    h, w = min(before.shape[0], after.shape[0]), min(before.shape[1], after.shape[1])  # the probe adds a colour bar on the right
    changed = np.abs(after[:h, :w] - before[:h, :w]).sum(axis=-1) > 60
    assert changed.mean() > 0.02, f"the scatter's colours changed ({changed.mean():.3f} of its pixels)"
    page.screenshot(path=str(artifacts_dir / "probe-default.png"))
    # a caption id out of range: one sentence where the list was
    box.fill("#5000")
    box.press("Enter")
    error = page.locator(".bx-probe-error")
    wait_until(lambda: error.count() == 1, what="the probe's error")
    assert "there is no pair 5000" in error.inner_text() and "1000 pairs" in error.inner_text()
    assert rec.page_errors == [] and rec.console_errors == []
