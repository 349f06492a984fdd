"""The served explorer in Chromium, on a small synthetic Amumo export with hostile captions
(``panel serve apps/explorer_app.py --args --source amumo:<export>``): it loads cleanly and offline,
draws the heatmap and the scatter, follows the gap slider and the caption filter, shows the two
items of a tapped cell (with a served thumbnail), and never runs a caption as code.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import io
import re
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import figure_ranges, heatmap_span, on_failure_keep, wait_for_app
from hostile_export import HOSTILE, captions

from explorer.pairs import filter_captions

N = 48  # pairs in the export (hostile_export.write_export default)


def wait_until(fn, timeout: float = 120.0, interval: float = 0.25, what: str = "condition"):
    """Poll fn() until it returns a truthy value (the page updates over a websocket)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # element not there yet
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def numbers_row(page, quantity: str) -> tuple[float, float]:
    """(before, after) of a row of the numbers table."""
    text = page.locator(".bx-numbers .bx-numbers-table").first.inner_text()
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if cells and cells[0].startswith(quantity) and len(cells) >= 3:
            return float(cells[1]), float(cells[2])
    raise AssertionError(f"no row {quantity!r} in the numbers table:\n{text}")


def shown_pairs(page) -> int:
    text = page.locator(".bx-numbers").first.inner_text()
    m = re.search(r"\(n=(\d+)\)", text)
    assert m, f"the numbers pane names how many pairs are shown: {text!r}"
    return int(m.group(1))


def tap_heatmap_until_cards(page, n_shown: int, fx: float = 0.33, fy: float = 0.62, tries: int = 3) -> None:
    """Tap a cell of the heatmap showing `n_shown` pairs until the tapped-cell panel shows two items
    (a tap that lands while the plot is still being replaced is retried)."""
    canvas = page.locator(f".bx-heatmap.bx-n-{n_shown} canvas").first
    canvas.wait_for(state="attached")
    items = page.locator(".bx-inspect .bx-item")
    for attempt in range(tries):
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        try:
            wait_until(lambda: items.count() == 2, timeout=30 if attempt < tries - 1 else 90, what="two item cards")
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def wait_for_whole_matrix(page, n_pairs: int, title: str = "Similarity", cells_per_pair: int = 2) -> None:
    """Until the heatmap titled `title` shows its whole matrix (n_pairs × cells_per_pair cells a side)."""
    size = n_pairs * cells_per_pair
    wait_until(lambda: (lambda s: s is not None and abs(s[0] - size) < 1 and abs(s[1] - size) < 1)(heatmap_span(page, title)),
               what=f"the {title} heatmap showing all {size}×{size} cells (visible span {heatmap_span(page, title)})")


def figure_titles(page) -> list[str]:
    return list(figure_ranges(page))


def image_stats(png: bytes) -> tuple[float, int]:
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    colours = np.unique(a.reshape(-1, 3) // 8, axis=0).shape[0]
    return float(a.std()), colours


@pytest.fixture
def app(open_page, hostile_server, artifacts_dir, request):
    page, rec = open_page(hostile_server.url)
    wait_for_app(page)
    yield page, rec
    on_failure_keep(request, page, hostile_server, artifacts_dir)


def test_page_loads_offline_without_console_errors(app, hostile_server, artifacts_dir):
    page, rec = app
    page.screenshot(path=str(artifacts_dir / "explorer-loaded.png"))
    assert rec.page_errors == []
    assert rec.console_errors == []
    assert rec.dialogs == []
    assert rec.requests, "the recorder saw the page's requests"
    assert rec.foreign_requests(hostile_server.base) == [], "every request stays on the app's own server"
    # the three pages exist
    for tab in ("Explore", "Compare", "Augment"):
        assert page.get_by_text(tab, exact=True).count() >= 1


def test_the_busy_spinner_stays_off_on_an_idle_page(app):
    """Once everything is drawn, the header's busy spinner stays off (a 1 s ticker run through
    Panel's periodic callbacks switched it on and off every second, so it never said whether
    work was running)."""
    page, _ = app
    wait_for_whole_matrix(page, N)
    assert page.locator(".loader").count() >= 1, "the template's busy indicator is on the page"
    time.sleep(3.0)  # the last redraws of the first load
    page.evaluate("""() => { window.__spins = 0; window.__polls = 0;
        window.__spinTimer = setInterval(() => { window.__polls += 1;
          if (document.querySelector('.loader.spin')) window.__spins += 1; }, 50); }""")
    time.sleep(5.0)
    spins, polls = page.evaluate("() => { clearInterval(window.__spinTimer); return [window.__spins, window.__polls]; }")
    assert polls > 20 and spins == 0, f"the spinner was on in {spins} of {polls} polls of an idle page"


def test_heatmap_and_scatter_draw_something(app, artifacts_dir):
    page, _ = app
    # the heatmaps show their whole matrices, not the placeholder's cells drawn before the data came
    wait_for_whole_matrix(page, N)
    wait_for_whole_matrix(page, N, "In-modal difference", cells_per_pair=1)
    for name in ("bx-heatmap", "bx-scatter"):
        pane = page.locator(f".{name}").first
        png = pane.screenshot(path=str(artifacts_dir / f"explorer-{name}.png"))
        std, colours = image_stats(png)
        assert std > 20 and colours > 30, f"{name} looks blank (std {std:.1f}, {colours} colours)"


def test_gap_slider_changes_the_shown_distance(app, artifacts_dir):
    page, _ = app
    before, after = numbers_row(page, "gap distance")
    assert before == pytest.approx(after), "α = 0: nothing closed yet"
    # zoom into the heatmap with the mouse wheel: moving α must keep that zoom
    wait_for_whole_matrix(page, N)
    hm = page.locator(".bx-heatmap canvas").first.bounding_box()
    page.mouse.move(hm["x"] + hm["width"] * 0.4, hm["y"] + hm["height"] * 0.5)
    page.mouse.wheel(0, -300)
    wait_until(lambda: (lambda s: s is not None and s[0] < 2 * N - 2)(heatmap_span(page)), what="the heatmap zoomed in")
    time.sleep(1.5)  # the wheel's last steps and the re-aggregation of the zoomed range
    zoomed = heatmap_span(page)
    title = page.get_by_text(re.compile(r"close the gap \(α\)")).first
    slider = title.locator("xpath=ancestor::*[contains(@class,'bk-input-group')][1]")
    handle = page.locator(".noUi-handle").first if slider.count() == 0 else slider.locator(".noUi-handle").first
    track = page.locator(".noUi-target").first if slider.count() == 0 else slider.locator(".noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(tb["x"] + tb["width"] + 20, hb["y"] + hb["height"] / 2, steps=8)
    page.mouse.up()
    closed = wait_until(lambda: (lambda b, a: a < b - 0.1 and (b, a))(*numbers_row(page, "gap distance")),
                        what="the closed gap distance")
    assert closed[0] == pytest.approx(before, abs=1e-4), "the original distance stays"
    assert closed[1] < 0.1 * before, "α = 1 with re-normalisation leaves only a small residual"
    time.sleep(2.0)  # the heatmap redraws after the numbers
    assert heatmap_span(page) == pytest.approx(zoomed, rel=1e-6), "the heatmap kept its zoom while α moved"
    page.screenshot(path=str(artifacts_dir / "explorer-gap-closed.png"))


def test_caption_filter_shrinks_the_set(app, artifacts_dir):
    page, _ = app
    wait_until(lambda: shown_pairs(page) == N, what=f"n={N} before filtering")
    expected = len(filter_captions(captions(N), "red"))
    assert 0 < expected < N
    box = page.get_by_placeholder(re.compile("dog frisbee"))
    box.fill("red")
    box.press("Enter")
    wait_until(lambda: shown_pairs(page) == expected, what=f"n={expected} after filtering")
    wait_for_whole_matrix(page, expected)  # the axes follow the smaller matrix
    page.screenshot(path=str(artifacts_dir / "explorer-filtered.png"))


def test_tap_on_a_heatmap_cell_shows_both_items(app, hostile_server, artifacts_dir):
    page, _ = app
    # a cell in the lower-left (caption rows × image columns) part of the frame
    tap_heatmap_until_cards(page, N)
    items = page.locator(".bx-inspect .bx-item")
    text = page.locator(".bx-inspect").first.inner_text()
    assert "similarity" in text and "pair" in text
    modalities = {t.split("·")[0].strip() for t in items.all_inner_texts()}
    assert modalities <= {"image", "text"} and modalities, modalities
    thumbs = page.locator(".bx-inspect img")
    if thumbs.count():  # an image item: its thumbnail comes from the app's /thumb route and loads
        src = thumbs.first.get_attribute("src")
        assert re.fullmatch(r"/thumb/[0-9a-f]{8,64}/\d+\.png", src), src
        wait_until(lambda: thumbs.first.evaluate("im => im.complete && im.naturalWidth > 0"), what="thumbnail loaded")
    page.screenshot(path=str(artifacts_dir / "explorer-tapped-cell.png"))


def test_hostile_captions_never_run(app, artifacts_dir):
    page, rec = app
    words = "script img svg onmouseover safe bold"
    box = page.get_by_placeholder(re.compile("dog frisbee"))
    box.fill(words)
    box.press("Enter")
    n = wait_until(lambda: (lambda k: k if k <= len(HOSTILE) else 0)(shown_pairs(page)), what="only the hostile pairs")
    page.locator(f".bx-heatmap.bx-n-{n} canvas").first.wait_for(state="attached")
    # hover the whole scatter (tooltips show captions), tap the heatmap (cards show captions)
    sc = page.locator(".bx-scatter canvas").first.bounding_box()
    for fx in np.linspace(0.1, 0.8, 8):
        for fy in np.linspace(0.1, 0.9, 8):
            page.mouse.move(sc["x"] + sc["width"] * fx, sc["y"] + sc["height"] * fy)
    tap_heatmap_until_cards(page, n)
    cards = page.locator(".bx-inspect").first.inner_text()
    assert "<" in cards or "&" in cards or "'" in cards, "hostile captions are shown as text"
    page.screenshot(path=str(artifacts_dir / "explorer-hostile.png"))
    assert page.evaluate("() => window.__pwned === undefined"), "a caption ran as code"
    assert rec.dialogs == []
    assert page.locator("img[src='x']").count() == 0


def test_thumbnail_route_serves_only_the_datasets_images(app, hostile_server):
    from explorer import thumbnails
    from explorer.sources import load_pairs

    pairs = load_pairs(f"amumo:{hostile_server.extra['export']}")
    token = thumbnails.token_for(pairs)
    base = hostile_server.base

    def get(path: str) -> tuple[int, bytes, str]:
        try:
            with urllib.request.urlopen(base + path, timeout=30) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")

    status, body, ctype = get(f"/thumb/{token}/3.png")
    assert status == 200 and ctype == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in (f"/thumb/{token}/{N}.png", f"/thumb/{token}/-1.png", f"/thumb/{'0' * 16}/0.png",
                f"/thumb/{token}/..%2F..%2Fprompts.txt", "/thumb/../../etc/passwd", f"/thumb/{token}/0.png/..%2F..%2Fx",
                f"/thumb/{token}/images%2F0.jpg"):
        status, body, _ = get(bad)
        assert status == 404, (bad, status)
        assert b"prompts" not in body and b"root:" not in body


def modality_pixels(png: bytes, colour: str = "#1f77b4", tol: int = 40) -> int:
    """How many pixels are close to a modality colour (image points are #1f77b4)."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    target = np.array([int(colour[i: i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(a - target).sum(axis=2) < tol).sum())


def test_switching_to_umap_redraws_the_scatter_in_view(app, artifacts_dir):
    page, rec = app
    before = modality_pixels(page.locator(".bx-scatter").first.screenshot())
    assert before > 300, "image points are drawn"
    page.get_by_text("UMAP", exact=True).first.click()
    line = page.locator(".bx-provenance").filter(has_text="UMAP joint")
    # computed in the background: the line under the scatter names the projection shown, without "updating"
    wait_until(lambda: line.count() and "updating" not in line.first.inner_text(), timeout=300, what="the UMAP projection")
    # the scatter follows the new coordinates: its points are inside the axes, not off-screen
    after = wait_until(lambda: (lambda k: k if k > 300 else 0)(modality_pixels(page.locator(".bx-scatter").first.screenshot())),
                       timeout=120, what="image points of the UMAP scatter")
    assert after > 300
    page.screenshot(path=str(artifacts_dir / "explorer-umap.png"))
    assert rec.page_errors == []


def test_compare_and_augment_pages(app, artifacts_dir):
    page, rec = app
    page.get_by_text("Compare", exact=True).first.click()
    wait_until(lambda: page.locator(".bx-compare canvas").count() >= 2, what="two compared heatmaps")
    wait_until(lambda: "toyA" in page.locator(".bx-compare-table").first.inner_text(), what="the compare table")
    page.screenshot(path=str(artifacts_dir / "compare.png"))
    page.get_by_text("Augment", exact=True).first.click()
    series = page.locator(".bx-augment select, select").filter(has_text="augment a pair of this source").first
    options = series.evaluate("s => Array.from(s.options).map(o => o.value)")
    export_option = [o for o in options if o.startswith("amumo:")]
    assert export_option, options
    series.select_option(export_option[0])
    page.get_by_role("button", name="Show heatmaps").click()
    wait_until(lambda: page.locator(".bx-augment-plots canvas").count() >= 1, what="augmentation heatmaps")
    page.screenshot(path=str(artifacts_dir / "augment.png"))
    assert rec.page_errors == []
    assert page.evaluate("() => window.__pwned === undefined"), "a model name ran as code"
    assert rec.foreign_requests(page.url.split("/explorer_app")[0]) == []
    assert not [u for u in rec.requests if u.rstrip("/").endswith("/x")], "an <img src=x> from a model name was rendered"


def test_point_colour_switches_redraw_the_scatter(app, hostile_server, artifacts_dir):
    """Modality ↔ a faithfulness measure replaces the scatter (a categorical colour mapper cannot
    become a linear one); the replaced plot must not break the new one (it raised on the server,
    the new scatter stayed empty and the broken update made the page fetch a CDN stylesheet)."""
    page, rec = app
    log_start = len(hostile_server.log_text(limit=None))
    select = page.locator("select").filter(has_text="points by modality").first
    options = select.evaluate("s => Array.from(s.options).map(o => [o.value, o.text])")
    for wanted in ("kNN overlap", "trustworthiness", "modality"):
        select.select_option([v for v, text in options if wanted in text][0])
        wait_until(lambda: any(t.startswith("Projection · ") and not t.endswith("…") and t.count("·") >= 2
                               for t in figure_titles(page)), what=f"a drawn scatter coloured by {wanted}")
        time.sleep(1.0)
        assert rec.page_errors == [] and rec.console_errors == [], (wanted, rec.page_errors, rec.console_errors)
    page.locator(".bx-scatter").first.screenshot(path=str(artifacts_dir / "explorer-point-colours.png"))
    assert rec.foreign_requests(hostile_server.base) == []
    # errors the server logged meanwhile (a closed page's websocket, from earlier tests, is no error of this one)
    new = hostile_server.log_text(limit=None)[log_start:]
    errors = [line for line in new.splitlines() if "Error" in line and "ClosedError" not in line]
    assert errors == [], new[-2000:]


def test_download_the_selected_pair(app, artifacts_dir):
    """Double-tap a heatmap row (selects its pair), then the parquet button: the file the browser
    receives holds that pair, with the caption the export has."""
    import pandas as pd

    page, _ = app
    button = page.locator(".bx-selection-downloads button").first
    assert button.is_disabled() and "select pairs" in button.inner_text()
    canvas = page.locator(f".bx-heatmap.bx-n-{N} canvas").first
    for attempt in range(3):
        box = canvas.bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.7)
        try:
            wait_until(lambda: not button.is_disabled(), timeout=30 if attempt < 2 else 90, what="the download button enabled")
            break
        except AssertionError:
            if attempt == 2:
                raise
    text = page.locator(".bx-selection").first.inner_text()
    pid = int(re.search(r"pair (\d+) ·", text).group(1))
    assert "Download 1 selected pair (parquet)" in button.inner_text()
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    df = pd.read_parquet(download.path())
    assert df["pair_id"].tolist() == [pid] and df["caption"].tolist() == [captions(N)[pid]]
    assert re.fullmatch(r"[A-Za-z0-9.-]+_[A-Za-z0-9.-]+_selected-1\.parquet", download.suggested_filename), download.suggested_filename
    page.screenshot(path=str(artifacts_dir / "explorer-download-selection.png"))
