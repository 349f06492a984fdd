"""Hover on a rasterized scatter in a real browser (``python -m explorer serve --source synthetic:3000``,
above ``look.datashade_above`` = 2,000 pairs): moving the mouse over the points names a pair in the
pane below the plot (explorer.views.scatter_hover), and leaving the plot clears it."""

from __future__ import annotations

import re
import time

import pytest
from conftest import keep_log_on_failure, serve_module, wait_for_app

N_PAIRS = 3000


@pytest.fixture(scope="module")
def raster_server(tmp_path_factory):
    yield from serve_module(tmp_path_factory, "raster-hover", "--source", f"synthetic:{N_PAIRS}")


def test_hovering_the_rasterized_scatter_names_a_pair(open_page, raster_server, artifacts_dir, request):
    page, rec = open_page(raster_server.url)
    try:
        wait_for_app(page)
        pane = page.locator(".bx-scatter-hover .bx-hover-text").first
        pane.wait_for(state="attached")
        assert "Hover over a point" in pane.inner_text()
        box = page.locator(".bx-scatter canvas").first.bounding_box()
        named = ""
        deadline = time.monotonic() + 40
        # sweep across the plot (the two modalities' clouds lie left and right of the gap) until the pane names a pair
        spots = [(fx / 40, fy) for fy in (0.55, 0.5, 0.6) for fx in range(4, 34)]
        while not named and time.monotonic() < deadline:
            for fx, fy in spots:
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=2)
                page.wait_for_timeout(250)
                text = pane.inner_text()
                if re.search(r"pair [\d,]+ · similarity -?\d\.\d{3}", text):
                    named = text
                    break
        plot = page.locator(".bx-scatter").first.bounding_box()
        page.screenshot(path=str(artifacts_dir / "scatter-raster-hover.png"),  # the plot, the mouse's spot and the pane below
                        clip={"x": max(plot["x"] - 30, 0), "y": plot["y"], "width": plot["width"] + 30, "height": plot["height"] + 260})
        assert named, f"the hover pane never named a pair: {pane.inner_text()!r}"
        pid = re.search(r"pair ([\d,]+)", named).group(1)
        assert "its partner" in named and named.count(f"of pair {pid}") == 2
        # the pointer leaves the plot in one move (no move reported inside it on the way, over
        # empty space that would name nothing): the pane clears
        page.mouse.move(box["x"] + box["width"] + 300, box["y"] + box["height"] * 0.5, steps=1)
        deadline = time.monotonic() + 20
        while "Hover over a point" not in pane.inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        page.screenshot(path=str(artifacts_dir / "scatter-raster-hover-left.png"),
                        clip={"x": max(plot["x"] - 30, 0), "y": plot["y"], "width": plot["width"] + 30, "height": plot["height"] + 260})
        assert "Hover over a point" in pane.inner_text(), f"the pane still names an item after the pointer left: {pane.inner_text()!r}"
        assert rec.page_errors == []
    finally:
        if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
            keep_log_on_failure(raster_server, artifacts_dir, "scatter-raster-hover")
