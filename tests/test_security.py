"""Untrusted text (captions, prompts, model and file names, specs) never becomes markup or code,
thumbnails come only from the dataset's own images, and nothing the app or the report ships
refers to another host. (The browser tests check the same in Chromium, recording every request.)

Hostile inputs: tests/hostile_export.py (script tags, event handlers, quote breakouts, Bokeh
tooltip syntax, a closing </script>, a very long caption, and a model name that is an <img>).
"""

from __future__ import annotations

import html as _html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import panel as pn
import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

sys.path.insert(0, str(Path(__file__).parent))

from hostile_export import HOSTILE, HOSTILE_MODEL, write_export  # noqa: E402

from explorer import thumbnails  # noqa: E402
from explorer.app import routes  # noqa: E402
from explorer.images import FileImages  # noqa: E402
from explorer.pairs import PairSet  # noqa: E402

ALLOWED_TAGS = {"div", "span", "b", "i", "em", "strong", "table", "tr", "td", "th", "thead", "tbody", "img", "br", "p",
                "small", "code", "ul", "li", "h3", "h4", "a", "figure", "figcaption"}


class Markup(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._script = a

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts.append((self._script, data))
        else:
            self.text.append(data)


def markup(fragment: str) -> Markup:
    m = Markup()
    m.feed(fragment)
    m.close()
    return m


def assert_inert(fragment: str, *, allow_scripts: bool = False, where: str = "") -> Markup:
    """No event-handler attribute, no javascript: URL, no unexpected tag, images only from
    data: URLs or the app's /thumb route."""
    m = markup(fragment)
    for tag, attrs in m.tags:
        if not allow_scripts:
            assert tag in ALLOWED_TAGS, f"{where}: unexpected <{tag}> in {fragment[:300]!r}"
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), f"{where}: event handler {name}={value!r} on <{tag}>"
            v = (value or "").strip().lower()
            assert not v.startswith("javascript:"), f"{where}: javascript: URL on <{tag}>"
        if tag == "img":
            src = attrs.get("src", "")
            assert src.startswith("data:image/") or re.fullmatch(r"/thumb/[0-9a-f]{8,64}/\d+\.png", src), f"{where}: <img src={src!r}>"
    return m


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return write_export(tmp_path_factory.mktemp("sec") / "toy", n=24)


# -- the app's HTML fragments -----------------------------------------------------------------


def _html_of(layout) -> list[str]:
    """The current HTML of every HTML pane (bound panes hold their evaluated value)."""
    return [pane.object for pane in layout.select(pn.pane.HTML) if isinstance(pane.object, str)]


def test_every_html_pane_of_the_app_escapes_hostile_text(export):
    from explorer.app.explorer import Explorer

    ex = Explorer(source=f"amumo:{export}", cluster=True, k=3)
    st = ex.state
    assert st.model_names()[0] == HOSTILE_MODEL
    st.select_pairs(range(len(HOSTILE)))
    n = st.active_indices().size
    st.inspect_cell(None, n + 0, 1)  # caption of pair 0 × image of pair 1
    ex.message = "error: could not open <img src=x onerror=alert(1)>"
    layout = pn.Column(ex.sidebar(), ex.main())
    # force the lazily built tabs
    for i in range(3):
        ex.main().active = i
    seen_text = []
    fragments = [f for f in _html_of(layout) if f]
    assert len(fragments) >= 5, "status, numbers, tapped cell, selection, cluster gallery"
    for frag in fragments:
        m = assert_inert(frag, where="app pane")
        seen_text.append(" ".join(m.text))
    text = " ".join(seen_text)
    # the attacks are visible as text (escaped once, not twice, not dropped)
    assert "<script>window.__pwned='script'</script>" in text
    assert "<img src=x onerror" in text
    assert HOSTILE_MODEL in text
    assert "&lt;script&gt;" not in text and "&amp;" not in text.replace("&amp; <i>", ""), "double-escaped markup"
    assert "&lt;b&gt;entity&lt;/b&gt;" in text or "&lt;b&gt;entity" in text, "entities in a caption are shown as typed"


def test_scatter_tooltips_escape_captions(export):
    from explorer.sources import open_source
    from explorer.state import ExplorerState
    from explorer.views.scatter import TOOLTIP, glyph_frame

    st = ExplorerState(open_source(f"amumo:{export}"))
    df = glyph_frame(st, st.resolve_model(), st.projection_frame())
    df["caption"] = [st.pairs.captions[int(i)] for i in df["pair_id"]]
    # the tooltip renders caption_html unescaped ({safe}), so caption_html must be inert markup
    assert "@caption_html{safe}" in TOOLTIP and "@caption{safe}" not in TOOLTIP
    for cap_html, cap in zip(df["caption_html"], df["caption"], strict=True):
        m = assert_inert(f"<div>{cap_html}</div>", where="scatter tooltip")
        assert m.tags == [("div", {})]
        assert _html.unescape(cap_html) == cap[: len(_html.unescape(cap_html))].rstrip("…") or cap_html.endswith("…")


def test_status_line_escapes_a_hostile_spec(tmp_path):
    from explorer.app.explorer import Explorer

    bad = tmp_path / "<img src=x onerror=alert(1)>"
    ex = Explorer(source=f"amumo:{bad}")
    assert ex.message.startswith("error:")
    m = assert_inert(ex._status.object, where="status")
    assert "<img src=x onerror=alert(1)>" in " ".join(m.text)


# -- the static report ------------------------------------------------------------------------


def hover_tooltips(page: str) -> list:
    """The `tooltips` of every HoverTool in the report's embedded Bokeh document."""
    import json

    m = re.search(r"const docs_json = '(.*?)';", page, re.S)
    doc = json.loads(_html.unescape(m.group(1).replace("\\\\", "\\")))
    out = []

    def walk(o):
        if isinstance(o, dict):
            if o.get("name") == "HoverTool":
                out.append(o.get("attributes", {}).get("tooltips"))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    return out


def test_report_escapes_hostile_captions_model_names_and_specs(export):
    from explorer.app.report import render_report
    from explorer.sources import open_source
    from explorer.state import ExplorerState

    st = ExplorerState(open_source(f"amumo:{export}"), cluster=True, k=3, caption_filter="")
    page = render_report(st)
    m = markup(page)
    for tag, attrs in m.tags:
        for name in attrs:
            assert not name.lower().startswith("on"), (tag, name)
        if tag == "img":
            assert attrs["src"].startswith("data:image/")
    assert not [a for t, a in m.tags if t == "svg" and "onload" in a]
    # scripts: Bokeh's own code and one document script; payloads only inside its escaped JSON string
    for attrs, code in m.scripts:
        assert "src" not in attrs
        if "__pwned" in code:
            assert "const docs_json = '" in code
            assert "<script" not in code and "</script" not in code and "<img" not in code
    text = " ".join(m.text)
    shown = [h for h in HOSTILE if h[:40] in text]
    assert shown and any("<" in h for h in shown), "hostile example captions appear as text"
    assert HOSTILE_MODEL in text
    assert max(len(t) for t in m.text) < 2000, "long captions are shortened"
    # Bokeh escapes @field values in hover templates unless {safe} is asked for: only for the
    # scatter's caption_html (escaped by us, as in the app) and thumb (an inline data URL)
    hovers = hover_tooltips(page)
    assert hovers
    safe = set(re.findall(r"@\{?(\w+)\}?\{safe\}", " ".join(str(t) for t in hovers)))
    assert safe <= {"caption_html", "thumb"}, safe
    assert "&lt;script&gt;" in page or "&amp;lt;script&amp;gt;" in page


# -- thumbnails: only the dataset's own images --------------------------------------------------


class OwnImagesOnlyTest(AsyncHTTPTestCase):
    """A PairSet whose references try to leave its root (a ``..`` path, a symlink) serves 404."""

    @classmethod
    def setUpClass(cls):
        import os
        import tempfile

        from PIL import Image

        cls.tmp = tempfile.TemporaryDirectory()
        base = Path(cls.tmp.name)
        root = base / "dataset"
        root.mkdir()
        Image.new("RGB", (8, 8), (255, 0, 0)).save(root / "inside.png")
        Image.new("RGB", (8, 8), (0, 0, 255)).save(base / "outside.png")
        os.symlink(base / "outside.png", root / "link.png")
        pairs = PairSet.build(["inside", "dotdot", "link"], FileImages(root, ["inside.png", "../outside.png", "link.png"]),
                              name="t", recipe="t")
        cls.token = thumbnails.register(pairs)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def get_app(self):
        return Application(routes.thumbnail_patterns())

    def test_inside_is_served_outside_is_not(self):
        assert self.fetch(f"/thumb/{self.token}/0.png").code == 200
        for i in (1, 2):
            r = self.fetch(f"/thumb/{self.token}/{i}.png")
            assert r.code == 404, i
            assert b"outside" not in r.body


# -- nothing from the internet ------------------------------------------------------------------


def test_page_resources_are_all_local():
    from explorer.app.template import configure_panel, offline_template

    configure_panel()
    res = offline_template("t", [], []).resolve_resources(cdn=False)
    urls = [str(v) for group in res.values() if isinstance(group, dict) for v in group.values()]
    assert urls, "the template has resources"
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert external == [], external
    # the check can fail: Panel's Fast template pulls a Google font
    fast = pn.template.FastListTemplate(title="t").resolve_resources(cdn=False)
    fast_urls = [str(v) for group in fast.values() if isinstance(group, dict) for v in group.values()]
    assert [u for u in fast_urls if re.match(r"^(https?:)?//", u)]


def test_report_refers_to_no_other_host(export):
    from explorer.app.report import render_report
    from explorer.sources import open_source
    from explorer.state import ExplorerState

    page = render_report(ExplorerState(open_source(f"amumo:{export}")), thumbnails=True)
    m = markup(page)
    refs = [v for _, a in m.tags for k, v in a.items() if k in ("src", "href", "action", "poster")]
    assert all(r.startswith("data:") for r in refs), [r[:60] for r in refs if not r.startswith("data:")]
    assert "data:image/jpeg;base64," in page, "the scatter's hover thumbnails are inlined"
    assert "/thumb/" not in page, "no link to the app's thumbnail route"
    for _, code in m.scripts:
        assert not re.search(r"""(fetch|XMLHttpRequest|import)\s*\(\s*['"]https?://""", code)
