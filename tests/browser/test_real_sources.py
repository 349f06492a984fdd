"""The explorer on real sources: the Amumo article's export (four real models over 100 MSCOCO
pairs; skipped without ../shared) and the embedded default that `make serve` opens (the shapes
world with the project's own models). Screenshots: test-artifacts/amumo-*.png, default.png."""

from __future__ import annotations

import re

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
