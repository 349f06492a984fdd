"""The Panel app without a browser: options, the thumbnail route, the Explorer viewer in notebook
mode (synchronous loading), source switching, the Augment page's image files and the serve
command's argument handling."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import panel as pn
import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

sys.path.insert(0, str(Path(__file__).parent))

from hostile_export import HOSTILE, HOSTILE_MODEL, MODELS, write_export  # noqa: E402

from explorer import thumbnails  # noqa: E402
from explorer.app import routes  # noqa: E402
from explorer.app.options import DEFAULT_MODELS, DEFAULT_SOURCE, parse_app_args  # noqa: E402
from explorer.app.server import models_for  # noqa: E402
from explorer.errors import SpecError  # noqa: E402
from explorer.images import FileImages  # noqa: E402
from explorer.pairs import PairSet  # noqa: E402
from explorer.sources import load_pairs  # noqa: E402
from explorer.views.cards import esc as esc_  # noqa: E402


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return write_export(tmp_path_factory.mktemp("export") / "toy", n=24)


# -- options ----------------------------------------------------------------------------------


def test_options_default_to_the_embedded_source():
    o = parse_app_args([])
    assert o.sources == [DEFAULT_SOURCE] and o.source == DEFAULT_SOURCE and o.models == []


def test_options_repeatable_sources_and_models():
    o = parse_app_args(["--source", "shapes:50", "--source", "amumo:/x", "--source", "shapes:50", "--models", "own:clip, own:cloob",
                        "--sample-size", "7", "--seed", "3", "--series", "amumo:/s", "--set", "aggregation=max", "--set", "k=4"])
    assert o.sources == ["shapes:50", "amumo:/x"]  # a repeated source is offered once
    assert o.models == ["own:clip", "own:cloob"] and o.sample_size == 7 and o.seed == 3 and o.series == ["amumo:/s"]
    assert o.settings == {"aggregation": "max", "k": 4}
    with pytest.raises(SpecError, match="no explorer setting 'colour'"):
        parse_app_args(["--set", "colour=red"])
    with pytest.raises(SpecError, match="k=many"):
        parse_app_args(["--set", "k=many"])


def test_unknown_app_arguments_are_refused():
    with pytest.raises(SystemExit, match="--bogus"):
        parse_app_args(["--bogus"])


def test_models_apply_to_the_first_source_and_to_datasets(export):
    o = parse_app_args(["--source", f"amumo:{export}", "--source", "shapes:30", "--models", "toyA"])
    assert models_for(f"amumo:{export}", o) == ["toyA"]
    assert models_for("shapes:30", o) == ["toyA"]
    o2 = parse_app_args(["--source", "shapes:30", "--source", f"amumo:{export}"])
    assert models_for("shapes:30", o2) == list(DEFAULT_MODELS)
    assert models_for(f"amumo:{export}", o2) == []  # a precomputed source shows all its models


# -- thumbnail route --------------------------------------------------------------------------


class ThumbnailRouteTest(AsyncHTTPTestCase):
    """Only registered PairSets, only by index, 404 for everything else (never a path)."""

    @classmethod
    def setUpClass(cls):
        import tempfile

        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        cls.pairs = load_pairs(f"amumo:{write_export(root / 'toy', n=6)}")
        (root / "secret.txt").write_text("top secret")
        cls.token = thumbnails.register(cls.pairs)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def get_app(self):
        return Application(routes.thumbnail_patterns())

    def test_registered_pair_is_a_png(self):
        r = self.fetch(f"/thumb/{self.token}/2.png")
        assert r.code == 200
        assert r.headers["Content-Type"] == "image/png" and r.body[:8] == b"\x89PNG\r\n\x1a\n"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        import io

        from PIL import Image

        im = Image.open(io.BytesIO(r.body))
        assert max(im.size) <= thumbnails.DEFAULT_SIZE

    def test_everything_else_is_404_without_echo(self):
        bad = [
            f"/thumb/{self.token}/6.png",  # one past the end
            f"/thumb/{self.token}/-1.png",
            f"/thumb/{self.token}/1.jpg",
            f"/thumb/{self.token}/01x.png",
            f"/thumb/{'f' * 16}/0.png",  # unknown token
            f"/thumb/{self.token}/..%2Fsecret.txt",
            f"/thumb/{self.token}/0.png%2F..%2F..%2Fsecret.txt",
            "/thumb/../secret.txt",
            f"/thumb/{self.token}/images/0.jpg",
            "/thumb/<script>/0.png",
        ]
        for path in bad:
            r = self.fetch(path)
            assert r.code == 404, path
            assert b"secret" not in (r.body or b"") and b"<script>" not in (r.body or b""), path


def test_route_is_mounted_once_on_a_running_bokeh_server():
    from bokeh.server.tornado import BokehTornado

    app = BokehTornado({})
    assert not routes._route_present(app)
    assert routes.ensure_route() >= 1
    assert routes._route_present(app)
    n_rules = len(app.default_router.rules)
    routes.ensure_route()
    assert len(app.default_router.rules) == n_rules, "a second call adds nothing"


# -- work off the event loop -------------------------------------------------------------------


def test_work_runs_at_once_without_a_server():
    from explorer.views.feed import run_off_loop, session_id

    got = []
    run_off_loop(lambda: got.append(6 * 7))
    assert got == [42] and session_id() == ""


# -- the Explorer viewer ----------------------------------------------------------------------


@pytest.fixture
def explorer_app(export):
    from explorer.app.explorer import Explorer

    return Explorer(source=f"amumo:{export}")


def _widgets(layout, cls):
    return [w for w in layout.select(cls)]


def test_explorer_loads_and_builds_three_pages(explorer_app):
    ex = explorer_app
    assert ex.ready and not ex.busy and ex.message == ""
    assert [t.name for t in ex.main()] == ["Explore", "Compare", "Augment"]
    assert set(ex.state.model_names()) == set(MODELS)
    # the sidebar's widgets are generated from the state's parameters
    side = ex.sidebar()
    names = {w.name for w in side.select(pn.widgets.Widget)}
    for label in ("close the gap (α)", "caption filter", "cluster matrix by similarity", "model", "source", "clusters (k)"):
        assert label in names, label
    # the model menu lists the source's models and drives active_model
    menu = [w for w in side.select(pn.widgets.Select) if w.name == "model"][0]
    assert set(menu.options) == set(MODELS)
    menu.value = "toyA"
    assert ex.state.model.active_model == "toyA"


def test_sidebar_widgets_drive_the_state_and_follow_it(explorer_app):
    ex = explorer_app
    side = ex.sidebar()
    slider = [w for w in side.select(pn.widgets.FloatSlider) if w.name == "close the gap (α)"][0]
    d0 = ex.state.numbers()["gap_distance_after"]
    import param

    with param.edit_constant(slider):  # what a released slider sends
        slider.value, slider.value_throttled = 1.0, 1.0
    assert ex.state.gap.alpha == 1.0
    assert ex.state.numbers()["gap_distance_after"] < 0.1 * d0
    ex.state.order.k = 4  # the other way round: a notebook user sets the state
    k_slider = [w for w in side.select(pn.widgets.IntSlider) if w.name == "clusters (k)"][0]
    assert k_slider.value == 4
    sample = [w for w in side.select(pn.widgets.IntInput) if w.name.startswith("sample size")][0]
    sample.value = 10
    assert ex.state.data.sample_size == 10 and ex.state.active_indices().size == 10
    sample.value = 0
    assert ex.state.data.sample_size is None


def test_selected_pairs_come_back_as_a_dataframe(explorer_app):
    ex = explorer_app
    ex.state.select_pairs([3, 1, 3])
    df = ex.selected
    assert list(df["pair_id"]) == [3, 1]
    assert list(df["caption"]) == [ex.state.pairs.captions[3], ex.state.pairs.captions[1]]


def test_explore_page_heatmap_follows_the_pairs_in_place(explorer_app):
    """A caption filter resizes the heatmap's matrix without a new plot (a new Bokeh plot costs
    more than the filter): the same pane and Feed, the new size in its tag and its data."""
    ex = explorer_app

    def heatmap_panes():
        return [c for c in ex._explore.select(pn.pane.HoloViews) if "bx-heatmap" in c.css_classes]

    before = heatmap_panes()
    assert len(before) == 1 and "bx-n-24" in before[0].css_classes
    feed = before[0].object.feed
    ex.state.data.caption_filter = "red"
    n = int(ex.state.active_indices().size)
    assert 0 < n < 24
    after = heatmap_panes()
    assert after == before and after[0].object.feed is feed and not feed.disposed
    assert f"bx-n-{n}" in after[0].css_classes and "bx-n-24" not in after[0].css_classes
    assert feed.value["m"] == n and feed.value["tile"].window[1] == 2 * n


def test_replaced_plots_stop_computing(explorer_app):
    ex = explorer_app

    def scatter_pane():
        return [c for c in ex._explore.select(pn.pane.HoloViews) if "bx-scatter" in c.css_classes][0]

    old = scatter_pane().object.feed
    ex.state.projection.point_color = "kNN overlap"  # a colour scale: a new scatter
    new = scatter_pane().object.feed
    assert new is not old and old.disposed and not new.disposed
    done = old.computations, new.computations
    ex.state.gap.alpha = 0.4
    assert old.computations == done[0] and new.computations == done[1] + 1


def test_dispose_stops_every_view_of_a_session(explorer_app):
    from explorer.views.feed import feeds_in

    ex = explorer_app
    ex._tabs.active = 1  # the Compare page is built when its tab is first shown
    feeds = feeds_in(ex._explore) + feeds_in(ex._compare)
    assert len(feeds) >= 8  # heatmap, scatter, difference, landscape, histograms, numbers, gallery, compare…
    ex.dispose()
    counts = [f.computations for f in feeds]
    ex.state.gap.alpha = 0.7
    assert [f.computations for f in feeds] == counts and all(f.disposed for f in feeds)


def test_a_bad_source_shows_an_error_line_not_an_exception(tmp_path):
    from explorer.app.explorer import Explorer

    ex = Explorer(source=f"amumo:{tmp_path / 'missing'}")
    assert not ex.ready and not ex.busy
    assert ex.message.startswith("error:") and "missing" in ex.message
    assert "error" in ex._status.object


def test_switching_sources_keeps_the_settings(export, tmp_path):
    from explorer.app.explorer import Explorer

    other = write_export(tmp_path / "other", n=12, models=("solo",))
    a, b = f"amumo:{export}", f"amumo:{other}"
    ex = Explorer(source=a, sources=[a, b], alpha=0.5, cluster=True, k=3)
    first = ex.state
    ex._source_select.value = b
    assert ex.state is not first and ex.state.data.source == b
    assert ex.state.model_names() == ["solo"] and ex.state.active_indices().size == 12
    assert (ex.state.gap.alpha, ex.state.order.cluster, ex.state.order.k) == (0.5, True, 3)


def test_explorer_is_exported_lazily_and_renders_in_a_notebook(export):
    import explorer

    ex = explorer.Explorer(source=f"amumo:{export}", models=["toyA"])
    assert ex.state.model_names() == ["toyA"]
    root = pn.panel(ex).get_root()  # the Bokeh model a notebook would display
    assert root is not None and len(list(root.references())) > 50


def test_sidebar_checkboxes_have_clickable_labels(explorer_app):
    from explorer.app.template import CHECKBOX_CSS

    boxes = list(explorer_app.sidebar().select(pn.widgets.Checkbox))
    assert {b.name for b in boxes} >= {"re-normalise after closing", "cluster matrix by similarity", "optimal leaf order"}
    assert all(CHECKBOX_CSS in b.stylesheets for b in boxes)


def test_explore_page_shows_provenance_lines_and_a_lazy_faithfulness_section(explorer_app):
    ex = explorer_app
    from explorer.engine.memo import MEMO

    html = [p.object for p in ex._explore.select(pn.pane.HTML) if isinstance(p.object, str) and "bx-provenance" in p.object]
    assert len(html) == 5  # heatmap, scatter, difference, landscape, histograms
    assert any("PCA joint (seed 0)" in h for h in html) and any("mean per pixel" in h for h in html)
    card = [c for c in ex._explore.select(pn.Card) if c.title == "Projection faithfulness"][0]
    assert card.collapsed and MEMO.computed.get("faithfulness", 0) == 0
    ex.state.gap.alpha = 0.5
    assert MEMO.computed.get("faithfulness", 0) == 0  # closed: α moves never compute it
    card.collapsed = False  # opened: computed (synchronously here, in a thread on a server)
    assert MEMO.computed["faithfulness"] == 1
    lazy, every = card.deferred
    assert "trustworthiness" in lazy.pane.object
    assert every.computations == 0  # every method only on the button


def test_progress_text_and_bar_follow_the_work_a_session_waits_for():
    import threading

    from explorer.app.progress import ProgressView, work_percent, work_text
    from explorer.engine.memo import MEMO, REQUESTER, Work

    w = Work("k", "Embedding <x>", started=100.0, done=1, total=4, unit="models")
    assert work_text(w, now=112.4) == "Embedding <x> · 1/4 models · 12 s"
    assert work_percent(w) == 25 and work_percent(Work("k", "x", 0.0)) == -1 and work_text(None) == ""
    mine, other = ProgressView("session-a"), ProgressView("session-b")
    mine.render()
    assert not mine.bar.visible
    started, release = threading.Event(), threading.Event()

    def slow(progress):
        progress(None, None, "Clustering <b>6</b> pairs…")
        started.set()
        release.wait(20)
        return 1

    def ask():
        REQUESTER.set("session-a")
        MEMO.get(("slow",), slow, label="Clustering…")

    t = threading.Thread(target=ask)
    t.start()
    assert started.wait(20)
    mine.render()
    other.render()
    assert mine.bar.visible and mine.bar.value == -1  # unknown amount: an animated bar
    assert "Clustering &lt;b&gt;6&lt;/b&gt; pairs…" in mine.text.object
    assert not other.bar.visible  # another session's work is not shown on this page
    release.set()
    t.join(20)
    mine.render()
    assert not mine.bar.visible and not mine.text.visible


# -- augment page ------------------------------------------------------------------------------


class _Generated:
    """An ImageSource without files (like the shapes world)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def ref(self, i):
        return f"gen:{i}"

    def open(self, i):
        from PIL import Image

        return Image.new("RGB", (20, 10), (i * 40 % 256, 0, 0))

    def fingerprint(self):
        return f"gen{self.n}"

    def take(self, idx):
        return _Generated(len(idx))


def test_augment_image_file_uses_the_dataset_file_or_writes_one_png(tmp_path, export):
    from explorer.app.augment import augment_image_file

    pairs = load_pairs(f"amumo:{export}")
    assert augment_image_file(pairs, 2, root=tmp_path) == str(pairs.images.path(2))
    gen = PairSet.build(["a", "b", "c"], _Generated(3), name="g", recipe="gen")
    p = Path(augment_image_file(gen, 1, root=tmp_path))
    assert p.is_file() and p.parent == tmp_path / "augment-images"
    mtime = p.stat().st_mtime_ns
    from PIL import Image

    assert np.asarray(Image.open(p)).shape == (10, 20, 3)
    assert augment_image_file(gen, 1, root=tmp_path) == str(p) and p.stat().st_mtime_ns == mtime  # written once
    with pytest.raises(SpecError, match="no pair 3"):
        augment_image_file(gen, 3, root=tmp_path)
    with pytest.raises(SpecError, match="no images"):
        augment_image_file(PairSet.build(["a"], None, name="n", recipe="n"), 0, root=tmp_path)


def test_augment_models_are_specs_or_the_defaults():
    from explorer.app.augment import augment_models

    assert augment_models(["CLIP", "own:clip"]) == ["own:clip"]
    assert augment_models(["CLIP", "CyCLIP"]) == list(DEFAULT_MODELS)


def test_augment_page_shows_a_precomputed_series(explorer_app, export):
    from explorer.app.augment import AugmentPage

    page = AugmentPage(explorer_app.state, models=["own:clip"], series_sources=[f"amumo:{export}"])
    page.series.value = f"amumo:{export}"
    assert "precomputed series" in page.preview.object and not page.index.visible and not page.steps.visible and not page.models.visible
    page._show()
    panes = list(page.plots.select(pn.pane.HoloViews))
    assert [p.name for p in panes] == ["augment-curves", "augment-heatmaps"]
    assert page.button.disabled is False
    assert "caption of every step" in page.caption.object and f"series amumo:{export.name}" in page.caption.object
    assert str(export.parent) not in page.caption.object  # no file path
    st = page.series_state_
    assert st.color_limits(MODELS[0], shared=True) == st.color_limits(MODELS[1], shared=True)  # one colour scale


def test_augment_page_previews_the_chosen_pair(explorer_app):
    from explorer.app.augment import AugmentPage

    page = AugmentPage(explorer_app.state, models=["own:clip"])
    page.index.value = 1
    assert f"pair 1: {esc_(explorer_app.state.pairs.captions[1])}" in page.preview.object
    assert explorer_app.state.thumb_url(1) in page.preview.object
    name = explorer_app.state.data.source.rsplit("/", 1)[-1]
    assert page.describe() == f"rotation of pair 1 of amumo:{name}, 40 steps"  # no file path
    assert page.models_note == "", "own models embed the series: nothing to explain"


def test_augment_page_says_whose_models_embed_a_series_of_a_precomputed_source(explorer_app):
    from explorer.app.augment import AugmentPage, short_source

    page = AugmentPage(explorer_app.state, models=["CLIP", "CyCLIP"])
    assert "precomputed embeddings of CLIP, CyCLIP" in page.models_note and "not with the source's models" in page.models_note
    assert "bx-augment-note" in "".join(p.object for p in page.panel().select(pn.pane.HTML) if isinstance(p.object, str))
    assert short_source("amumo:/data/exports/MSCOCO-Val_size-100") == "amumo:MSCOCO-Val_size-100"
    assert short_source("shapes:1000") == "shapes:1000"


# -- widgets with untrusted labels ------------------------------------------------------------


def test_multichoice_labels_are_escaped_values_are_not():
    from explorer.app.controls import safe_multichoice

    w = safe_multichoice("m", [HOSTILE_MODEL, "toyA"], [HOSTILE_MODEL])
    labels = list(w.options)
    assert all("<" not in lab for lab in labels)
    assert w.value == [HOSTILE_MODEL]
    assert set(w.options.values()) == {HOSTILE_MODEL, "toyA"}


def test_hostile_export_is_what_the_security_tests_think(export):
    pairs = load_pairs(f"amumo:{export}")
    assert pairs.captions[: len(HOSTILE)] == HOSTILE
    assert isinstance(pairs.images, FileImages)


# -- serve command ----------------------------------------------------------------------------


def test_serve_command_rejects_a_bad_spec_before_starting(capsys):
    from explorer.cli import main

    assert main(["serve", "--source", "/no/such/folder"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_serve_passes_options_to_panel(monkeypatch, export):
    import explorer.app.server as server

    seen = {}
    monkeypatch.setattr(pn, "serve", lambda panels, **kw: seen.update(kw, panels=panels))
    from explorer.cli import main

    assert main(["serve", "--source", f"amumo:{export}", "--port", "5123", "--num-threads", "0"]) == 2  # views need threads
    assert main(["serve", "--source", f"amumo:{export}", "--port", "5123", "--session-lifetime", "2"]) == 0
    assert seen["port"] == 5123 and seen["show"] is False and seen["unused_session_lifetime_milliseconds"] == 2000
    assert seen["websocket_origin"] == ["localhost:5123", "127.0.0.1:5123"]
    assert any(p[1] is routes.ThumbnailHandler for p in seen["extra_patterns"])
    assert callable(seen["panels"]) and server is not None


def test_scatter_is_rebuilt_when_points_change_from_modality_to_a_measure(explorer_app):
    """Bokeh cannot turn the categorical modality colours into a colour scale in place: the
    scatter is a new plot when the points are coloured by a faithfulness measure, and its points
    carry the measure (and still follow new components)."""
    import holoviews as hv

    from explorer.app.pages import Rebuilt, scatter_key
    from explorer.views.scatter import projection_scatter

    state = explorer_app.state
    holder = Rebuilt(state, lambda: projection_scatter(state), lambda: scatter_key(state),
                     ("data", "look.datashade_above", "projection.point_color", "projection.projection_mode"))
    first = holder.holder[0].object
    state.projection.point_color = "kNN overlap"
    second = holder.holder[0].object
    assert second is not first, "a new plot for the colour scale"
    assert first.feed.disposed
    plot = hv.renderer("bokeh").get_plot(second)
    pts = [r for r in plot.state.renderers if type(getattr(r, "glyph", None)).__name__ == "Scatter"][0]
    mapper = pts.glyph.fill_color["transform"]
    assert type(mapper).__name__ == "LinearColorMapper"
    measure = np.asarray(pts.data_source.data["knn_overlap"], dtype=float)
    assert np.isfinite(measure).all() and ((0 <= measure) & (measure <= 1)).all()
    state.projection.x_component = 3
    x = np.asarray(pts.data_source.data["x"], dtype=float)
    np.testing.assert_allclose(np.sort(x), np.sort(state.projection_frame()["x"].to_numpy()))
    assert holder.holder[0].object is second, "new components update the plot in place"
    state.projection.point_color = "modality"
    assert holder.holder[0].object is not second


def test_the_compare_page_is_built_when_its_tab_is_first_shown(explorer_app):
    """Its heatmaps (one per model) would otherwise compute for every new session."""
    from explorer.views.feed import feeds_in

    ex = explorer_app
    assert feeds_in(ex._compare) == []
    ex._tabs.active = 1
    feeds = feeds_in(ex._compare)
    assert len(feeds) >= 2
    ex._tabs.active = 0
    ex._tabs.active = 1
    assert feeds_in(ex._compare) == feeds, "built once"


def test_a_server_process_compiles_the_scatter_kernels_once_before_it_serves(monkeypatch, capsys):
    """numba compiles datashader's kernels at their first use (seconds): `serve` does it once,
    before the first visitor comes, and says so."""
    from explorer.app import server
    from explorer.views import scatter

    monkeypatch.setattr(server, "_warm", {"done": False})
    ran = []
    monkeypatch.setattr(scatter, "warm_up_kernels", lambda: ran.append(1) or 1.5)
    server.warm_up_process()
    server.warm_up_process()
    assert ran == [1]
    assert f"{server.WARMED_UP} (the rasterized scatter's kernels compiled in 1.5 s)" in capsys.readouterr().out


def test_a_server_warms_its_source_up_so_a_first_page_finds_its_views_computed(monkeypatch, capsys, tmp_path):
    """serve opens the served source and computes the heatmap tile, the projection and the
    numbers without R@k before it listens (as Panel's --warm runs the app once); a page's state
    then reads them from the memo. A source that cannot open is said, not raised."""
    from explorer.app import server
    from explorer.app.options import AppOptions
    from explorer.engine.memo import MEMO
    from explorer.views import scatter

    monkeypatch.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path / "store"))
    monkeypatch.setattr(scatter, "warm_up_kernels", lambda: 0.1)
    options = AppOptions(sources=["synthetic:600:16:7"], seed=3)
    monkeypatch.setattr(server, "_warm", {"done": False})
    server.warm_up_process(options)
    out = capsys.readouterr().out
    assert "synthetic:600:16:7 opened and its first views computed in" in out and server.WARMED_UP in out
    before = dict(MEMO.computed)
    st = server.create_explorer(options).state  # what a session starts from (no session: loads at once)
    st.projection_frame(st.resolve_model(None))
    st.numbers(st.resolve_model(None), recall=False)
    assert MEMO.computed.get("projection", 0) == before.get("projection", 0), "the projection was computed again"
    monkeypatch.setattr(server, "_warm", {"done": False})
    server.warm_up_process(AppOptions(sources=[str(tmp_path / "missing.npy")]))
    assert "not warmed up" in capsys.readouterr().out
    # the cluster orderings were computed ahead too: clustering on, and a model switch with it on,
    # find every model's ordering and labels in the memo
    before = dict(MEMO.computed)
    st.order.param.update(cluster=True)
    for m in st.model_names():
        assert st.ordering(m) is not None and st.cluster_labels(m)
    assert MEMO.computed.get("ordering", 0) == before.get("ordering", 0), "an ordering was computed again"


def test_orderings_are_computed_ahead_only_up_to_a_size_and_on_nobodys_progress_bar(monkeypatch, tmp_path):
    from explorer.app import explorer as app_explorer
    from explorer.engine.memo import MEMO, REQUESTER
    from explorer.state import ExplorerState

    monkeypatch.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path / "store"))
    st = ExplorerState(source="synthetic:2500:16:11", k=4)
    monkeypatch.setattr(app_explorer, "AHEAD_UP_TO", 2_000)
    before = MEMO.computed.get("ordering", 0)
    assert app_explorer.compute_ahead(st) == [] and MEMO.computed.get("ordering", 0) == before
    monkeypatch.setattr(app_explorer, "AHEAD_UP_TO", 2_500)
    seen = []
    real = MEMO.get

    def spy(key, compute, **kw):
        if kw.get("label"):
            seen.append(REQUESTER.get())
        return real(key, compute, **kw)

    monkeypatch.setattr(MEMO, "get", spy)
    token = REQUESTER.set("a-session")
    try:
        done = app_explorer.compute_ahead(st)
    finally:
        REQUESTER.reset(token)
    assert done == st.model_names() and MEMO.computed.get("ordering", 0) == before + len(done)
    assert seen and set(seen) == {""}  # computed for nobody: no page shows its progress
    assert not st.order.cluster and st.ordering() is None  # the settings are untouched
    st.order.cluster = True
    assert st.ordering().method.startswith("complete on")  # two-level above 2,000 pairs, from the memo
    assert MEMO.computed.get("ordering", 0) == before + len(done)


def test_the_scatter_kernels_warm_up_rasterizes_both_kinds():
    from holoviews.operation import datashader as hd

    from explorer.views import scatter

    calls = []
    real = hd.rasterize.__call__

    def recording(self, *a, **k):
        calls.append(k.get("aggregator"))
        return real(self, *a, **k)

    import unittest.mock as mock

    with mock.patch.object(hd.rasterize, "__call__", recording):
        assert scatter.warm_up_kernels() >= 0.0
    kinds = {type(a).__name__ for a in calls}
    assert {"mean", "by"} <= kinds, kinds  # mean similarity of edges / points, points by modality


def test_views_below_the_fold_compute_once_the_first_views_have_shown_their_data(monkeypatch):
    """First at the open, and again after each change: the heatmap and scatter come first."""
    import param

    from explorer.app.pages import AfterFirstViews

    class FakeFeed(param.Parameterized):
        version = param.Integer(0)
        pending = param.Boolean(True)
        disposed = False

    heat, scatter = FakeFeed(), FakeFeed()
    started = []
    monkeypatch.setattr(AfterFirstViews, "start", staticmethod(started.append))
    gate = AfterFirstViews([heat, scatter], serving=True)
    gate.run("difference")
    gate.run("histograms")
    heat.param.update(version=1, pending=False)
    assert started == [], "the scatter has not shown its data yet"
    scatter.param.update(version=1)
    assert started == [], "shown, but still computing"
    scatter.pending = False
    assert started == ["difference", "histograms"]
    ran = []
    gate.run(lambda: ran.append("landscape"))
    later = started[-1]
    heat.pending = True  # a slider move: the heatmap computes the new setting
    import threading

    worker = threading.Thread(target=later, daemon=True)
    worker.start()
    worker.join(0.3)
    assert ran == [], "a later computation waits while the first views compute the new setting"
    heat.pending = False
    worker.join(5)
    assert ran == ["landscape"]
    gate.MAX_HOLD = 0.2
    scatter.pending = True
    t = threading.Thread(target=lambda: gate.run(lambda: ran.append("histograms")) or started[-1](), daemon=True)
    t.start()
    t.join(5)
    assert ran[-1] == "histograms", "never held for good"
    assert AfterFirstViews([heat], serving=False).open, "outside a server nothing waits"


def test_views_below_the_fold_are_built_once_the_first_views_have_shown_their_data():
    """A served page builds its lower views only when the heatmap and scatter show data (every
    plot in a page makes each plot update recompute more models); outside a server at once."""
    import param

    from explorer.app.pages import AfterFirstViews

    class FakeFeed(param.Parameterized):
        version = param.Integer(0)
        pending = param.Boolean(True)
        disposed = False

    heat = FakeFeed()
    gate = AfterFirstViews([heat], serving=True)
    built = []
    gate.when_open(lambda: built.append("lower"))
    assert built == []
    heat.param.update(version=1, pending=False)
    assert built == ["lower"]
    heat.pending = True
    heat.pending = False
    assert built == ["lower"], "built once"
    gate.when_open(lambda: built.append("again"))
    assert built == ["lower", "again"], "an open gate calls at once"
    at_once = []
    AfterFirstViews([FakeFeed()], serving=False).when_open(lambda: at_once.append(1))
    assert at_once == [1]


def test_the_explore_pages_lower_views_are_in_a_notebooks_page_at_once():
    from explorer.app.pages import explore_page
    from explorer.state import ExplorerState

    page = explore_page(ExplorerState(source="synthetic:300:16"))
    names = {p.name for p in page.lower.select(pn.pane.HoloViews)}
    assert {"difference", "landscape", "histograms"} <= names, names
    assert len(page.rebuilt) == 4, "the difference heatmap is disposed with the page"


def test_a_large_sources_scatter_waits_while_the_heatmap_computes_the_same_setting(monkeypatch):
    """At a million pairs both at once starve the heatmap on two cores: the scatter's computation
    waits in its worker thread while the heatmap's Feed is pending (never for good); below
    FROM_PAIRS, or with the heatmap idle, it starts at once."""
    import threading

    from explorer.app import pages

    class FakeFeed:
        pending, disposed = False, False

    heat = FakeFeed()
    shown = {"n": 1_000_000}
    monkeypatch.setattr(pages, "n_shown", lambda state: shown["n"])
    monkeypatch.setattr(pages, "run_off_loop", lambda job: threading.Thread(target=job, daemon=True).start())
    gate = pages.AfterHeatmap(object(), lambda: [heat])
    ran = threading.Event()
    heat.pending = True
    gate.run(ran.set)
    assert not ran.wait(0.3), "the scatter waits while the heatmap computes"
    heat.pending = False
    assert ran.wait(5) and 0.3 <= gate.waited[-1] < 5
    ran.clear()
    gate.run(ran.set)  # the heatmap idle: at once (after the settle time)
    assert ran.wait(5) and gate.waited[-1] < 0.3
    gate.MAX_HOLD = 0.2
    heat.pending, ran = True, threading.Event()
    gate.run(ran.set)
    assert ran.wait(5), "never held for good"
    shown["n"], ran, count = 5_000, threading.Event(), len(gate.waited)
    gate.run(ran.set)
    assert ran.wait(5) and len(gate.waited) == count, "a small source's scatter does not wait"
