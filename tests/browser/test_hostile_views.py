"""Hostile text in every view (issue 12, item 3), in Chromium.

The export of tests/hostile_export.py: pairs 0..len(HOSTILE)-1 have captions that are attacks
(script tags, event handlers, ``javascript:`` and Markdown links, HTML entities, ``${}`` / ``{{ }}``
/ Bokeh ``@field{safe}`` syntax, SVG and iframe scripts, requests to evil.invalid, a 10,000-character
word), and the active model's name is an ``<img onerror>``. Every payload that could run sets
``window.__pwned`` or asks for a URL on another host.

One page walks the views: the heatmap's hover over each hostile caption's cells (both axes), a tap on
each (the tapped item's cards), the scatter's tooltips, the text probe's list (``#ID`` of each
hostile pair), clustering on (legend, gallery) and a click on every cluster of the legend (the
selection table), a download's file name, the provenance lines and source notices, the Compare and
Augment pages. The static report (``python -m explorer report``'s page) is opened from a file URL
and hovered. For each view × payload tried the test checks the payload is visible as text (cut, one
line where the view cuts), then that no script ran (``window.__pwned`` unset) and that no request
left the page's own origin (127.0.0.1/localhost, or the report file itself and data: URLs).

Prints a summary and writes test-artifacts/hostile-summary.txt. Screenshots:
test-artifacts/hostile-hover-*.png, hostile-tapped-*.png, hostile-report.png.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import on_failure_keep, wait_for_app
from hostile_export import HOSTILE, HOSTILE_MODEL, write_export
from test_explorer_page import wait_for_whole_matrix, wait_until
from test_interaction import figure
from test_real_sources import click_checkbox

from explorer.views.hover import one_line

N = 48  # pairs of the hostile_server export
K = len(HOSTILE)
#: per view: payload ids tried, and those found shown as text
TRIED: dict[str, set] = {}
SHOWN: dict[str, set] = {}
RESULTS: dict[str, int] = {"scripts run": 0, "requests out": 0}
PWNED_JS = "() => [window.__pwned, window.parent.__pwned, document.title].map(v => v === undefined ? null : String(v))"


def marker(i: int, n: int = 36) -> str:
    """What every view shows of payload i: its first characters on one line."""
    return one_line(HOSTILE[i])[:n]


def tally(view: str, ids, text: str) -> None:
    """Record payloads `ids` as tried in `view`, and which of them `text` shows (-1: the model name, cut in figure titles)."""
    ids = list(ids)
    TRIED.setdefault(view, set()).update(ids)
    SHOWN.setdefault(view, set()).update(i for i in ids if (HOSTILE_MODEL[:30] if i == -1 else marker(i)) in text)


def write_summary(artifacts) -> str:
    lines = ["hostile text in every view (tests/browser/test_hostile_views.py)",
             f"payloads: {K} captions + 1 model name; views: {len(TRIED)}"]
    tried = sum(len(v) for v in TRIED.values())
    shown = sum(len(SHOWN.get(k, ())) for k in TRIED)
    lines.append(f"payloads x views tried: {tried}; shown as text: {shown}; "
                 f"scripts run: {RESULTS['scripts run']}; requests out: {RESULTS['requests out']}")
    for view in TRIED:
        lines.append(f"  {view:38s} tried {len(TRIED[view]):3d}  shown as text {len(SHOWN.get(view, ())):3d}")
    text = "\n".join(lines) + "\n"
    (artifacts / "hostile-summary.txt").write_text(text, encoding="utf-8")
    print("\n" + text)
    return text


def check_inert(page, rec, base_ok) -> None:
    """No payload ran, nothing went to another host, no dialog, no <img src=x> in the document."""
    flags = [v for v in page.evaluate(PWNED_JS)[:2] if v is not None]
    out = [u for u in rec.requests if not u.startswith(base_ok)]
    RESULTS["scripts run"] += len(flags) + len(rec.dialogs)
    RESULTS["requests out"] += len(out)
    assert flags == [] and rec.dialogs == [], f"a payload ran: {flags} {rec.dialogs}"
    assert out == [], f"requests left the page: {out[:5]}"


@pytest.fixture(scope="module")
def page_rec(browser, hostile_server):
    from conftest import LOAD_TIMEOUT_MS, Recorder

    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = ctx.new_page()
    rec = Recorder()
    page.on("request", lambda r: rec.requests.append(r.url))
    page.on("pageerror", lambda e: rec.page_errors.append(str(e)))
    page.on("dialog", lambda d: (rec.dialogs.append(d.message), d.dismiss()))
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(hostile_server.url)
    wait_for_app(page)
    wait_for_whole_matrix(page, N, "Similarity ·")
    yield page, rec
    ctx.close()


@pytest.fixture
def app(page_rec, hostile_server, artifacts_dir, request):
    yield page_rec
    on_failure_keep(request, page_rec[0], hostile_server, artifacts_dir)


def local(server) -> tuple[str, ...]:
    return (server.base, server.base.replace("localhost", "127.0.0.1"), "data:", "blob:", "about:")


#: page positions (x, y, pair id; CSS pixels from the document's corner) of the points of pairs < k in the figures whose title starts with the prefix
POINTS_JS = """([prefix, k]) => { const out = [], seen = new Set(), stack = [...Bokeh.index.roots];
  while (stack.length) {
    const v = stack.pop();
    if (seen.has(v)) continue;
    seen.add(v);
    const m = v.model;
    if (m && m.title && m.title.text && m.title.text.startsWith(prefix) && v.frame && v.renderer_views) {
      const b = v.canvas_view.el.getBoundingClientRect(), r = {left: b.left + window.scrollX, top: b.top + window.scrollY};
      for (const rv of v.renderer_views.values()) {
        const g = rv.model.glyph, d = rv.model.data_source && rv.model.data_source.data;
        if (!g || !d || !d.pair_id || !g.x || !g.x.field) continue;
        const xs = d[g.x.field], ys = d[g.y.field];
        for (let i = 0; i < xs.length; i++) if (d.pair_id[i] < k)
          out.push([r.left + v.frame.x_scale.compute(xs[i]), r.top + v.frame.y_scale.compute(ys[i]), Number(d.pair_id[i])]);
      }
    }
    try { for (const c of v.children()) stack.push(c); } catch (e) {}
  }
  return out; }"""


def hover_points(page, prefix: str) -> str:
    """Hover each hostile pair's points of the scatters whose title starts with `prefix` (scrolled
    into view); the text of every tooltip that named the pair."""
    seen = ""
    tips = page.locator(".bx-scatter-tip")
    for x, y, pid in page.evaluate(POINTS_JS, [prefix, K]):
        page.evaluate(f"window.scrollTo({max(x - 700, 0)}, {max(y - 500, 0)})")
        sx, sy = page.evaluate("() => [window.scrollX, window.scrollY]")
        page.mouse.move(x - sx, y - sy)
        try:
            wait_until(lambda pid=pid: tips.count() and f"pair {pid} ·" in tips.first.inner_text(timeout=500), timeout=3)
        except AssertionError:
            continue
        seen += "\n" + tips.first.inner_text(timeout=500)
    return seen


def cell(f: dict, row: int, col: int) -> tuple[float, float]:
    """Screen position of cell (row, col) of the 2N×2N similarity heatmap (row 0 at the top)."""
    return f["x"] + f["w"] * (col + 0.5) / (2 * N), f["y"] + f["h"] * (row + 0.5) / (2 * N)


def test_heatmap_hover_and_tapped_items_show_hostile_captions_as_text(app, hostile_server, artifacts_dir):
    page, rec = app
    f = figure(page, "Similarity ·")
    tip = page.locator(".bx-hover")
    for i in range(K):
        # caption of pair i (row) × image of pair i (column), then image row × caption column
        for row, col in ((N + i, i), (i, N + i)):
            page.mouse.move(*cell(f, row, col))
            text = wait_until(lambda i=i: (lambda t: t if f"caption of pair {i} ·" in t else "")(tip.first.inner_text()),
                              timeout=30, what=f"the hover over pair {i}")
            tally("heatmap hover", [i], text)
            assert marker(i) in text, (i, text[:300])
            assert len(text) < 600, "the hover cuts captions to one short line"
            box = tip.first.bounding_box()
            assert box and box["width"] <= 360, box
        if i in (0, 1, K - 1):
            page.screenshot(path=str(artifacts_dir / f"hostile-hover-{i}.png"))
    page.mouse.move(5, 5)
    cards = page.locator(".bx-inspect")
    for i in range(K):
        for attempt in range(3):
            page.mouse.click(*cell(f, N + i, i))
            try:
                text = wait_until(lambda i=i: (lambda t: t if f"text · pair {i} ·" in t else "")(cards.first.inner_text()),
                                  timeout=20, what=f"the tapped cell of pair {i}")
                break
            except AssertionError:
                if attempt == 2:
                    raise
        tally("tapped item", [i], text)
        assert marker(i) in text, (i, text[:300])
        if i in (0, K - 1):
            page.mouse.move(5, 5)
            page.screenshot(path=str(artifacts_dir / f"hostile-tapped-{i}.png"))
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1600 + 20, f"a long caption stretched the page to {width}px"
    check_inert(page, rec, local(hostile_server))


def test_scatter_tooltips_show_hostile_captions_as_text(app, hostile_server):
    page, rec = app
    seen = hover_points(page, "Projection ·")
    hit = {int(p) for p in re.findall(r"pair (\d+) · sim", seen) if int(p) < K}
    tally("scatter tooltip", range(K), seen)
    assert hit == set(range(K)), f"the hover named the hostile pairs {sorted(hit)}"
    assert SHOWN["scatter tooltip"] == hit, sorted(hit - SHOWN["scatter tooltip"])
    check_inert(page, rec, local(hostile_server))


def test_probe_list_shows_hostile_captions_as_text(app, hostile_server):
    page, rec = app
    query = page.locator(".bx-probe-query input").first
    listing = page.locator(".bx-probe-list")
    for i in range(K):
        query.fill(f"#{i}")
        query.press("Enter")
        text = wait_until(lambda i=i: (lambda t: t if "Most similar" in t and re.search(rf"· pair {i}\b", t) else "")(
            listing.first.inner_text(timeout=2000)), timeout=30, what=f"the probe of #{i}")
        tally("text probe list", [i], text)
        assert marker(i) in text, (i, text[:300])
    page.locator(".bx-probe-clear button").first.click()
    check_inert(page, rec, local(hostile_server))


def test_clusters_selection_table_and_download_name(app, hostile_server, artifacts_dir):
    page, rec = app
    click_checkbox(page, "cluster matrix by similarity")
    legend = page.locator(".bx-cluster-legend-box .bx-cluster-button button")
    wait_until(lambda: legend.count() >= 2, what="the cluster legend")
    gallery = page.locator(".bx-cluster")
    wait_until(lambda: page.locator(".bx-cluster figcaption").count() >= legend.count(), what="the cluster gallery")
    labels = " ".join(legend.all_inner_texts())
    assert "<" not in labels or "&lt;" not in labels
    tally("cluster gallery", range(K), " ".join(gallery.all_inner_texts()))
    table = page.locator(".bx-selection").first
    seen = ""
    for c in range(legend.count()):
        size = int(re.search(r"\((\d+)\)\s*$", legend.nth(c).inner_text().strip()).group(1))
        legend.nth(c).click()
        seen += wait_until(lambda s=size: (lambda t: t if f"{s} selected pair" in t else "")(table.inner_text()),
                           what=f"cluster {c + 1}'s {size} pairs in the selection table")
    tally("selection table", range(K), seen)
    assert SHOWN["selection table"] == set(range(K)), sorted(set(range(K)) - SHOWN["selection table"])
    page.locator(".bx-selection").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "hostile-selection.png"))
    # the download's file name: the source and the (hostile) model name, made safe
    button = page.locator(".bx-selection-downloads button").first
    with page.expect_download(timeout=60_000) as info:
        button.click()
    name = info.value.suggested_filename
    TRIED.setdefault("model name: download file name", set()).add(-1)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
    SHOWN.setdefault("model name: download file name", set()).add(-1)  # present, reduced to safe characters
    # the hostile model's name in the provenance lines, heatmap titles and notices
    prov = " ".join(page.locator(".bx-provenance").all_inner_texts() + page.locator(".bx-notices-pane").all_inner_texts())
    tally("model name: provenance lines", [-1], prov)
    tally("model name: figure titles", [-1], " ".join(page.evaluate(
        "() => { const t = []; for (const d of Bokeh.documents) for (const m of d.all_models) if (m.title && m.title.text) t.push(m.title.text); return t; }")))
    click_checkbox(page, "cluster matrix by similarity")
    check_inert(page, rec, local(hostile_server))


def test_compare_and_augment_pages(app, hostile_server, artifacts_dir):
    page, rec = app
    page.get_by_text("Compare", exact=True).first.click()
    wait_until(lambda: "toyA" in page.locator(".bx-compare-table").first.inner_text(), what="the compare table")
    time.sleep(1.0)
    tally("model name: Compare table", [-1], page.locator(".bx-compare-table").first.inner_text())
    assert SHOWN["model name: Compare table"] == {-1}
    page.get_by_text("Augment", exact=True).first.click()
    preview = page.locator(".bx-augment-preview div").first
    index = page.locator(".bk-input-group").filter(has_text="pair index").locator("input").first
    for i in (0, 4, 10, K - 1):  # the chosen pair's thumbnail and caption beside the controls
        index.fill(str(i))
        index.press("Enter")
        text = wait_until(lambda i=i: (lambda t: t if t.startswith(f"pair {i}:") else "")(preview.inner_text(timeout=2000).strip()),
                          timeout=30, what=f"the augment preview of pair {i}")
        tally("Augment page (chosen pair)", [i], text)
        assert marker(i) in text, (i, text[:200])
    page.screenshot(path=str(artifacts_dir / "hostile-augment.png"))
    page.get_by_text("Explore", exact=True).first.click()
    check_inert(page, rec, local(hostile_server))


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    from explorer.app.report import write_report
    from explorer.sources import open_source
    from explorer.state import ExplorerState

    tmp = tmp_path_factory.mktemp("hostile-report")
    export = write_export(tmp / "export", n=N)
    return write_report(ExplorerState(open_source(f"amumo:{export}"), cluster=True, k=4), tmp / "report.html")


def test_static_report_from_a_file_url(open_page, report_file, artifacts_dir):
    page, rec = open_page(report_file.as_uri(), width=1400, height=1000)
    page.wait_for_selector("canvas", state="attached")
    text = page.inner_text("body")
    tally("report page text (galleries)", range(K), text)  # all are in its data; the galleries show a few
    tally("model name: report", [-1], text)
    page.set_default_timeout(20_000)
    seen = hover_points(page, "")
    hit = {int(p) for p in re.findall(r"pair (\d+)", seen) if int(p) < K}
    tally("report tooltips", hit, seen)
    assert hit and SHOWN["report tooltips"] == hit, (sorted(hit), seen[-500:])
    page.screenshot(path=str(artifacts_dir / "hostile-report.png"), full_page=True)
    check_inert(page, rec, ("data:", report_file.as_uri()))
    assert SHOWN["report page text (galleries)"], "the report shows hostile captions as text"
    summary = write_summary(artifacts_dir)
    assert RESULTS == {"scripts run": 0, "requests out": 0}, summary
