"""The static HTML report: rasterisation helpers by hand, the page's content and numbers against
explorer.analysis computed independently here, self-containment, the CLI, and the real Amumo
export's numbers against the export's own meta_info."""

from __future__ import annotations

import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_export import write_export  # noqa: E402

from explorer.analysis.gap import gap_distance  # noqa: E402
from explorer.analysis.loss import contrastive_loss  # noqa: E402
from explorer.app import report as R  # noqa: E402
from explorer.cli import main  # noqa: E402
from explorer.sources import open_source  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402

# -- helpers by hand --------------------------------------------------------------------------


def test_esc_escapes_and_shortens():
    assert R.esc('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    assert R.esc("x" * 50, 10) == "x" * 9 + "…"


# -- the page ---------------------------------------------------------------------------------


class Page(HTMLParser):
    """Collects tags with attributes, and the text outside scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag in ("script", "style")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in_script = False

    def handle_data(self, data):
        if not self._in_script:
            self.text.append(data)


def bokeh_columns(page: str) -> list[dict[str, int]]:
    """Each ColumnDataSource of the embedded Bokeh document as {column: length}."""
    import html as _html
    import json

    m = re.search(r"const docs_json = '(.*?)';", page, re.S)
    assert m, "a Bokeh document is embedded"
    doc = json.loads(_html.unescape(m.group(1).replace("\\\\", "\\")))
    found = []

    def walk(o):
        if isinstance(o, dict):
            if o.get("name") == "ColumnDataSource":
                data = o["attributes"]["data"]
                entries = data.get("entries", []) if isinstance(data, dict) and "entries" in data else list(data.items())
                cols = {}
                for key, value in entries:
                    cols[key] = value["shape"][0] if isinstance(value, dict) and "shape" in value else len(value)
                found.append(cols)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    return found


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return write_export(tmp_path_factory.mktemp("rep") / "toy", n=40)


@pytest.fixture(scope="module")
def report_html(export):
    src = open_source(f"amumo:{export}")
    state = ExplorerState(src, cluster=True, k=4, alpha=1.0, loss_variant="article", batch_size=20)
    state.look.datashade_above = 5000
    return state, R.render_report(state, command="python -m explorer report --source x")


def test_report_is_self_contained(report_html):
    _, html = report_html
    p = parse(html)
    for tag, attrs in p.tags:
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith("data:"), (tag, key, attrs[key][:80])
    # the page's own CSS (<style> elements and style attributes; a caption's escaped text that spells
    # "@import url(http:..." is text, not CSS)
    css = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S) + re.findall(r'style="([^"]*)"', html)
    assert css and not [c for c in css if re.search(r"url\(\s*['\"]?(https?:)?//", c)]
    assert not [a for t, a in p.tags if t == "link"], "no external stylesheet"
    assert not [a for t, a in p.tags if t == "script" and "src" in a], "no external script"
    csp = [a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_report_numbers_match_the_analysis(report_html):
    state, html = report_html
    text = " ".join(parse(html).text)
    src = state.source_data()
    for model, emb in src.embeddings.items():
        d = gap_distance(emb.image, emb.text)
        loss = contrastive_loss(emb.image, emb.text, emb.logit_scale, 20, "article")
        assert f"{d:.4f}" in text, (model, d)
        assert f"{loss:.4f}" in text, (model, loss)
    assert "Loss: article" in text and "α = 1" in text


def test_report_has_heatmaps_scatter_clusters_and_settings(report_html):
    state, html = report_html
    p = parse(html)
    text = " ".join(p.text)
    for needle in ("Settings", "source", "gap setting", "projection", "clusters of the text-image block", "command"):
        assert needle in text, needle
    cols = bokeh_columns(html)
    images = [c for c in cols if set(c) >= {"image", "x", "y", "dw", "dh"}]
    assert len(images) == 2 * len(state.model_names()), "a similarity and a difference heatmap per model"
    edges = [c for c in cols if {"x0", "y0", "x1", "y1", "color"} <= set(c) and "line_width" not in c]  # (separators and cluster leaders are segments too)
    assert len(edges) == len(state.model_names()), "one edge source per model's scatter"
    assert all(c["x0"] == 40 for c in edges), "one edge per pair"
    points = [c for c in cols if {"x", "y", "caption_html", "pair_id"} <= set(c)]
    assert len(points) == len(state.model_names()) and all(c["caption_html"] == 80 for c in points)
    labels = state.cluster_labels(state.model_names()[0])
    assert any(R.esc(lab) in html for lab in labels if lab)
    assert "mean per pixel" in text and "data p1–p99" in text  # each plot's provenance line


def test_report_and_app_show_the_same_colour_limits_and_aggregation(report_html):
    """One set of builders: the report's heatmap is the app's whole-matrix tile."""
    from explorer.views.heatmap import heatmap_data

    state, _ = report_html
    for kind in ("similarity", "difference"):
        fig, line = R.heatmap_figure(state, "toyA", kind, R.MAX_PIXELS)
        app = heatmap_data(state, "toyA", kind, size=R.MAX_PIXELS)
        rep = fig.tags[0]["provenance"]
        assert (rep["clim"], rep["aggregation"], rep["color_range"]) == (app["provenance"]["clim"], app["tile"].how, app["color_range"])
        mapper = [r for r in fig.renderers if type(getattr(r, "glyph", None)).__name__ == "Image"][0].glyph.color_mapper
        assert (mapper.low, mapper.high) == pytest.approx(tuple(app["clim"]))
        assert line == app["provenance_text"]


def test_write_report_is_atomic(tmp_path, report_html, monkeypatch):
    state, _ = report_html
    out = tmp_path / "r.html"
    out.write_text("old")

    def boom(*a, **k):
        raise RuntimeError("render failed")

    monkeypatch.setattr(R, "render_report", boom)
    with pytest.raises(RuntimeError):
        R.write_report(state, out)
    assert out.read_text() == "old" and not list(tmp_path.glob(".report-*"))


# -- command line -----------------------------------------------------------------------------


def test_report_command_writes_the_file(export, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    rc = main(["report", "--source", f"amumo:{export}", "--models", "toyA", "--out", str(out), "--limit", "30",
               "--projection", "PCA", "--no-thumbnails"])
    assert rc == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert "toyA" in html and "toy&lt;img" not in html  # only the chosen model
    assert "--limit 30 --seed 0" in html  # the selection is part of the recorded source
    assert "data:image/jpeg" not in html
    assert re.search(r"python -m explorer report --source \S+ --out \S+report.html .*--models toyA.*--limit 30", html)
    assert "wrote" in capsys.readouterr().out
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask, "an ordinary file, not mkstemp's private one"


def test_report_command_errors_are_one_line(export, tmp_path, capsys):
    assert main(["report", "--source", f"amumo:{export}", "--models", "nope", "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
    assert main(["report", "--source", f"amumo:{export}", "--alpha", "2", "--out", str(tmp_path / "r.html")]) == 2


def test_report_of_the_real_amumo_export_matches_its_meta_info(amumo_dir, tmp_path):
    import json

    folder = amumo_dir("MSCOCO-Val_size-100")
    out = tmp_path / "coco.html"
    assert main(["report", "--source", f"amumo:{folder}", "--models", "CLIP,CyCLIP", "--loss", "article", "--cluster",
                 "--out", str(out)]) == 0
    text = " ".join(parse(out.read_text(encoding="utf-8")).text)
    for model in ("CLIP", "CyCLIP"):
        meta = json.loads((folder / "similarities" / f"{model}_meta_info.json").read_text())
        assert f"{meta['gap_distance']:.4f}" in text, model
        assert f"{meta['loss']:.4f}" in text, model
        # the views show α = 0 (the default), yet the gap table says what closing the whole gap does
        closed = json.loads((folder / "similarities" / f"{model}_nogap_meta_info.json").read_text())
        assert f"{closed['gap_distance']:.4f}" in text and f"{closed['loss']:.4f}" in text, model
