"""The static report in Chromium, opened from a file: it draws, needs no network (every request
is the file itself or a data: URL), and hovering the scatter shows captions without running them.
Screenshot: test-artifacts/report.png."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_export import write_export


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    from explorer.app.report import write_report
    from explorer.sources import open_source
    from explorer.state import ExplorerState

    tmp = tmp_path_factory.mktemp("report-page")
    export = write_export(tmp / "export", n=40)
    state = ExplorerState(open_source(f"amumo:{export}"), cluster=True, k=4)
    return write_report(state, tmp / "report.html")


def test_report_opens_offline_and_hover_is_inert(open_page, report_file, artifacts_dir):
    page, rec = open_page(report_file.as_uri(), width=1400, height=1000)
    page.wait_for_selector(".bk-Canvas, canvas", state="attached")
    # the heatmaps are Bokeh figures of the app's own tiles: titled, drawn
    page.wait_for_function("""() => { let n = 0; for (const d of Bokeh.documents) for (const m of d.all_models)
        if (m.title && m.title.text && (m.title.text.includes('similarity of all') || m.title.text.includes('in-modal'))) n++;
        return n >= 4; }""")
    # hover over every plot canvas: tooltips show the hostile captions
    for canvas in page.locator("canvas").all()[:6]:
        box = canvas.bounding_box()
        if not box or box["width"] < 200:
            continue
        for fx in np.linspace(0.1, 0.9, 7):
            for fy in np.linspace(0.1, 0.9, 7):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
    assert page.evaluate("() => window.__pwned === undefined"), "a caption ran as code"
    assert rec.dialogs == [] and rec.page_errors == [] and rec.console_errors == []
    others = [u for u in rec.requests if not (u.startswith("data:") or u == report_file.as_uri())]
    assert others == [], others
