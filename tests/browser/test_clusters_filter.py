"""Clusters and the caption filter on the Amumo article's MSCOCO export (issue 14, items 3 and 5;
skipped without ../shared): every cluster's tag is inside the heatmap's frame and none overlaps
another (their boxes in screen pixels, from the Bokeh figure's ranges and frame), a click on a
cluster in the legend selects its pairs, the "dog" substring filter counts (as you type) and keeps
every pair whose caption contains "dog", and a filter keeping one pair shows a message in place of
the plots. Screenshots: test-artifacts/clusters-*.png, filter-*.png."""

from __future__ import annotations

import itertools
import re

from conftest import wait_for_app
from test_explorer_page import shown_pairs, wait_until
from test_real_sources import click_checkbox

#: the numbered tags of the similarity heatmap's clusters, as boxes in the frame's screen pixels
TAGS_JS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  for (const d of Bokeh.documents) for (const m of d.all_models) {
    if (!(m.title && m.title.text && m.title.text.startsWith('Similarity') && m.renderers)) continue;
    const [xs, xe, ys, ye] = [m.x_range.start, m.x_range.end, m.y_range.start, m.y_range.end];
    const W = m.inner_width, H = m.inner_height;
    const out = {W, H, tags: []};
    for (const r of m.renderers) {
      const g = r.glyph;
      if (!g || g.type !== 'Text') continue;
      const data = r.data_source.data;
      const xk = g.x.field, yk = g.y.field, tk = g.text.field;
      let size = g.text_font_size; size = (size && size.value) || size || '9pt';
      ctx.font = `${size} helvetica`;
      const px = parseFloat(size) * (String(size).endsWith('pt') ? 4 / 3 : 1);
      for (let i = 0; i < data[tk].length; i++) {
        const t = String(data[tk][i]);
        if (!/^\\d+$/.test(t)) continue;
        const w = ctx.measureText(t).width, h = px;
        const sx = (data[xk][i] - xs) / (xe - xs) * W, sy = (data[yk][i] - ys) / (ye - ys) * H;
        out.tags.push({text: t, x0: sx - w / 2, x1: sx + w / 2, y0: sy - h / 2, y1: sy + h / 2});
      }
    }
    return out;
  }
  return null; }"""


def substring_pairs(folder, word: str) -> int:
    lines = (folder / "prompts.txt").read_text(encoding="utf-8").split("\n")
    return sum(word in line.lower() for line in lines[:100])


def unique_word(folder) -> str:
    """A word of the captions that, as a substring, is in exactly one caption."""
    lines = [line.lower() for line in (folder / "prompts.txt").read_text(encoding="utf-8").split("\n")[:100]]
    for word in sorted({w for line in lines for w in re.findall(r"[a-z]{6,}", line)}):
        if sum(word in line for line in lines) == 1:
            return word
    raise AssertionError("no word in exactly one caption")


def filter_box(page):
    return page.get_by_placeholder(re.compile("dog frisbee"))


def test_cluster_tags_inside_and_apart_and_a_click_selects_its_pairs(open_page, amumo_server, artifacts_dir):
    page, rec = open_page(amumo_server.url)
    wait_for_app(page)
    click_checkbox(page, "cluster matrix by similarity")  # k = 10 (the case: 4 labels were missing)
    buttons = page.locator(".bx-heatmap ~ * .bx-cluster-button button, .bx-cluster-legend-box .bx-cluster-button button")
    wait_until(lambda: buttons.count() >= 10, what="the cluster legend")

    def tags():
        found = page.evaluate(TAGS_JS)
        return found if found and len(found["tags"]) >= 10 else None

    found = wait_until(tags, what="numbered cluster tags on the heatmap")
    numbers = sorted(int(t["text"]) for t in found["tags"])
    k = len(numbers)
    assert numbers == list(range(1, k + 1)), "every cluster numbered once"
    for t in found["tags"]:
        assert 0 <= t["x0"] and t["x1"] <= found["W"] and 0 <= t["y0"] and t["y1"] <= found["H"], t
    for a, b in itertools.combinations(found["tags"], 2):
        apart = a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"] or b["y1"] <= a["y0"]
        assert apart, (a, b)
    page.locator(".bx-heatmap").first.screenshot(path=str(artifacts_dir / "clusters-heatmap-tags.png"))
    # a click on cluster 3 of the legend under the heatmap selects its pairs
    legend = page.locator(".bx-cluster-legend-box").first
    third = legend.locator(".bx-cluster-button button").nth(2)
    size = int(re.search(r"\((\d+)\)\s*$", third.inner_text().strip()).group(1))
    third.click()
    selection = page.locator(".bx-selection").first
    wait_until(lambda: f"{size} selected pair" in selection.inner_text(), what=f"{size} selected pairs")
    page.screenshot(path=str(artifacts_dir / "clusters-selected.png"), full_page=False)
    gallery = page.locator(".bx-cluster").first
    gallery.scroll_into_view_if_needed()
    wait_until(lambda: page.locator(".bx-cluster figcaption").count() >= k, what="example captions")
    page.screenshot(path=str(artifacts_dir / "clusters-gallery.png"))
    page.locator(".bx-cluster").last.scroll_into_view_if_needed()
    page.mouse.move(800, 600)
    page.mouse.wheel(0, 3000)  # the difference heatmap, the loss landscape and the histograms: legends beside, not over, the data
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts_dir / "clusters-lower-views.png"))
    assert rec.page_errors == []


def test_dog_filter_counts_as_you_type_and_one_pair_shows_a_message(open_page, amumo_server, artifacts_dir):
    page, rec = open_page(amumo_server.url)
    wait_for_app(page)
    expected = substring_pairs(amumo_server.extra["export"], "dog")
    assert expected > 1
    box = filter_box(page)
    box.click()
    box.press_sequentially("dog", delay=60)  # not applied yet: only counted
    count = page.locator(".bx-filter-count-text").first
    wait_until(lambda: count.inner_text().startswith(f"{expected} of 100 pairs match"), what=f"{expected} of 100 pairs match")
    assert shown_pairs(page) == 100
    count.screenshot(path=str(artifacts_dir / "filter-count.png"))
    box.press("Enter")
    message = page.locator(".bx-few-pairs-text")
    if expected < 3:  # the 100 pairs hold 2 ("dogs", "dog"): the message, not a 4×4 heatmap
        wait_until(lambda: message.count() and message.first.is_visible(), what="the few-pairs message")
        assert f"keeps {expected} pairs" in message.first.inner_text()
    else:
        wait_until(lambda: shown_pairs(page) == expected, what=f"n={expected} after the dog filter")
    page.screenshot(path=str(artifacts_dir / "filter-dog.png"))
    box.fill("man")  # a substring filter with plots: 'woman', 'man', 'manhole' alike
    box.press("Enter")
    many = substring_pairs(amumo_server.extra["export"], "man")
    wait_until(lambda: page.locator(".bx-heatmap").first.is_visible() and shown_pairs(page) == many, what=f"n={many} for 'man'")
    page.screenshot(path=str(artifacts_dir / "filter-man.png"))
    box.fill(unique_word(amumo_server.extra["export"]))  # a filter keeping one pair (the 2×2 heatmap)
    box.press("Enter")
    wait_until(lambda: message.count() and message.first.is_visible(), what="the few-pairs message")
    assert "keeps 1 pair" in message.first.inner_text() and "at least 3" in message.first.inner_text()
    assert not page.locator(".bx-heatmap").first.is_visible()
    page.screenshot(path=str(artifacts_dir / "filter-none.png"))
    box.fill("")
    box.press("Enter")
    wait_until(lambda: page.locator(".bx-heatmap").first.is_visible() and shown_pairs(page) == 100, what="the plots back")
    assert rec.page_errors == []
