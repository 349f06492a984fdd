"""The text probe through the state and the views (no browser): the query embedded by the active
model's text encoder or a caption of the source, clear errors, the strip beside the heatmap and
the scatter's point colours following the query, the list of the most similar items escaped."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import glyphs, render
from synthetic_source import make_source

from explorer.engine.probe import probe_similarities
from explorer.errors import SpecError
from explorer.state import PROBE_COLOR, ExplorerState
from explorer.state import probe as state_probe
from explorer.views.heatmap import similarity_heatmap
from explorer.views.probe import probe_column, probe_list_data, probe_panel, probe_strip
from explorer.views.scatter import glyph_frame, projection_scatter, scatter_data


@pytest.fixture
def synthetic(tmp_path):
    """A precomputed source (no encoder) with hostile captions and images."""
    return ExplorerState(make_source(n=24, image_dir=tmp_path / "imgs", hostile=True), alpha=0.5)


@pytest.fixture(scope="module")
def shapes_source(tmp_path_factory):
    """shapes:48 embedded by own:clip (its text encoder embeds queries)."""
    import os

    from explorer.errors import ExplorerError
    from explorer.models import load_model

    try:
        load_model("own:clip", device="cpu")
    except ExplorerError as exc:
        pytest.skip(f"needs the project's own model weights: {exc}")
    old = os.environ.get("BIMODAL_EXPLORER_CACHE")
    os.environ["BIMODAL_EXPLORER_CACHE"] = str(tmp_path_factory.mktemp("probe-store"))
    try:
        import explorer

        return explorer.open_source("shapes:48", models=["own:clip"], progress=False)
    finally:
        if old is None:
            os.environ.pop("BIMODAL_EXPLORER_CACHE", None)
        else:
            os.environ["BIMODAL_EXPLORER_CACHE"] = old


def test_a_caption_id_probes_any_source_with_alpha(synthetic):
    st = synthetic
    st.probe.query = "#5"
    sims = st.probe_result("A")
    e = st.embeddings("A")
    brute = probe_similarities(st.space("A"), e.text[5], 0.5, True)
    np.testing.assert_allclose(sims.image, brute.image, atol=1e-12)
    # the caption is its own best match, at similarity 1 (it is placed as its displayed caption)
    top = st.probe_top("A", k=3)
    assert top["captions"][0]["pair_id"] == 5 and top["captions"][0]["sim"] == pytest.approx(1.0)
    assert [r["sim"] for r in top["images"]] == sorted((r["sim"] for r in top["images"]), reverse=True)
    assert top["images"][0]["pair_id"] == int(np.argmax(sims.image))
    assert top["images"][0]["thumb"].startswith("/thumb/")


def test_errors_say_what_to_do(synthetic, monkeypatch):
    st = synthetic
    with pytest.raises(SpecError, match="empty"):
        st.probe_query("A", "   ")
    with pytest.raises(SpecError, match="no text encoder.*#ID"):
        st.probe_query("A", "a red circle")
    with pytest.raises(SpecError, match=r"#24: there is no pair 24; made:test has 24 pairs \(#0–#23\)"):
        st.probe_query("A", "#24")
    with pytest.raises(SpecError, match="no pair -1"):
        st.probe_query("A", "#-1")
    assert "no text encoder" in st.probe_hint("A") and "#ID" in st.probe_hint("A")
    # the list says so in one sentence, the scatter's points stay uncoloured (NaN), nothing raises
    st.probe.query = "a red circle"
    panel = probe_panel(st)
    assert "no text encoder" in panel.feed.error
    frame = st.projection_frame("A")
    assert np.isnan(probe_column(st, "A", frame)).all()


def test_the_point_colour_follows_the_probe(synthetic):
    st = synthetic
    assert st.projection.point_color == "modality"
    st.probe.query = "#3"
    assert st.projection.point_color == PROBE_COLOR
    st.probe.query = ""
    assert st.projection.point_color == "modality"
    st.projection.point_color = "kNN overlap"  # a measure the user chose stays
    st.probe.query = "#3"
    assert st.projection.point_color == "kNN overlap"
    # a state carried over from another source starts without a probe, coloured by modality
    assert ExplorerState(make_source(n=8), point_color=PROBE_COLOR).projection.point_color == "modality"
    # and one opened with a probe (serve --set query=#2) starts coloured by it
    assert ExplorerState(make_source(n=8), query="#2").projection.point_color == PROBE_COLOR


def test_strip_and_points_change_with_the_query(synthetic):
    st = synthetic
    hm = similarity_heatmap(st, "A", size=30)
    plot = render(hm)
    strip = probe_strip(st, hm, 30)
    assert strip.figure.y_range is plot.state.y_range, "the strip follows the heatmap's zoom"
    assert strip.feed.value["values"].size == 0  # no probe yet
    import panel as pn

    from explorer.views.feed import feeds_in

    assert strip.feed in feeds_in(pn.Row(strip.pane)), "a replaced page disposes the strip's feed"
    st.probe.query = "#2"
    v2 = strip.feed.value
    t = hm.feed.value["tile"]
    assert v2["values"].size == t.y_edges.size - 1 == 30  # one value per pixel row of the 48-row matrix
    assert (v2["y"], v2["dh"]) == (-0.5, 48.0)
    # exactly the heatmap's rows: mean similarity of the rows of each pixel (display order: images, then captions)
    sims = st.probe_result("A")
    axis = np.concatenate([sims.image, sims.text])
    e = t.y_edges
    np.testing.assert_allclose(v2["values"], [axis[e[k]:e[k + 1]].mean() for k in range(e.size - 1)], atol=1e-12)
    np.testing.assert_allclose(strip.source.data["image"][0][:, 0], v2["values"].astype(np.float32))
    st.probe.query = "#17"
    assert np.abs(strip.feed.value["values"] - v2["values"]).max() > 0.05
    # a zoom: the strip bins the new window's rows
    hm.feed.request(x_range=(-0.5, 9.5), y_range=(9.5, 19.5))
    z = strip.feed.value
    assert (z["y"], z["dh"], z["values"].size) == (9.5, 10.0, 10)
    np.testing.assert_allclose(z["values"], st.probe_axis("A")[10:20], atol=1e-12)
    # clustering reorders the rows: the strip follows the display order
    st.order.param.update(cluster=True, k=3)
    hm.feed.request(x_range=None, y_range=None)
    order = st.display_order("A")
    sims = st.probe_result("A")
    np.testing.assert_allclose(st.probe_axis("A"), np.concatenate([sims.image[order], sims.text[order]]))


def test_the_strip_draws_nothing_without_a_probe(synthetic):
    """No probe: no outlined empty box beside the heatmap (no frame, no image, no hover), in a
    column of the same width, so a probe's strip does not move the heatmap."""
    st = synthetic
    hm = similarity_heatmap(st, "A", size=30)
    render(hm)
    strip = probe_strip(st, hm, 30)
    fig = strip.figure
    width = fig.frame_width
    assert fig.outline_line_color is None and strip.glyph.visible is False
    st.probe.query = "#2"
    assert fig.outline_line_color is not None and strip.glyph.visible is True
    assert fig.frame_width == width
    st.probe.query = ""
    assert fig.outline_line_color is None and strip.glyph.visible is False


def test_scatter_points_coloured_by_probe_similarity(synthetic):
    st = synthetic
    st.probe.query = "#4"
    plot = render(projection_scatter(st, "A"))
    d = glyphs(plot, "Scatter")[0].data_source.data
    sims = st.probe_result("A")
    m = 24
    np.testing.assert_allclose(d["probe"][:m], sims.image)
    np.testing.assert_allclose(d["probe"][m:], sims.text)
    color = glyphs(plot, "Scatter")[0].glyph.fill_color
    np.testing.assert_allclose(d[color["field"]], d["probe"])  # the colour is mapped from the probe similarity
    assert color["transform"].palette[-1] != color["transform"].palette[0]
    st.probe.query = "#9"
    d9 = glyph_frame(st, "A", st.projection_frame("A"))["probe"].to_numpy()
    assert np.abs(d9 - np.concatenate([sims.image, sims.text])).max() > 0.05
    # rasterized (a million pairs draw this way): the points are the mean probe similarity per pixel
    st.look.datashade_above = 10
    sims = st.probe_result("A")
    v = scatter_data(st, "A", size=60)
    assert v["large"] and v["points"].vdims[0].name == "sim"
    img = v["points"].dimension_values(2)
    finite = img[np.isfinite(img)]
    lo, hi = min(sims.image.min(), sims.text.min()), max(sims.image.max(), sims.text.max())
    assert finite.size > 10 and finite.min() >= lo - 1e-6 and finite.max() <= hi + 1e-6
    st.probe.query = "#4"
    again = scatter_data(st, "A", size=60)["points"].dimension_values(2)
    assert not np.allclose(np.nan_to_num(again), np.nan_to_num(img)), "a new probe rasterizes new colours"


def test_the_list_is_escaped_and_names_the_query(synthetic):
    st = synthetic
    st.probe.query = "#1"  # a hostile caption: <img src=x onerror=...>
    html = probe_list_data(st)["html"]
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; a dog" in html
    assert "the caption of pair 1" in html
    assert 'class="bx-probe-caption" data-pair="1"' in html
    st.probe.query = ""
    assert "#ID" in probe_list_data(st)["html"]


def test_a_typed_query_is_embedded_by_the_active_models_text_encoder(shapes_source):
    st = ExplorerState(shapes_source, alpha=0.3)
    st.probe.query = "a red circle"
    q = st.probe_query()
    from explorer.models import load_model

    direct = load_model("own:clip", device="cpu").encode_texts(["a red circle"])[0].astype(np.float64)
    np.testing.assert_allclose(q.vector, direct / np.linalg.norm(direct), atol=1e-6)
    assert q.describe == "“a red circle” embedded by own:clip" and q.note == ""
    top = st.probe_top(k=3)
    captions = st.captions()
    assert "red" in captions[top["captions"][0]["pair_id"]], top  # the shapes world's red things come first
    st.probe.query = "zebra xylophone"
    assert "none of the words" in st.probe_top()["note"]


def test_a_failing_or_changed_encoder_is_one_sentence(shapes_source, monkeypatch):
    st = ExplorerState(shapes_source)

    def broken(spec):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(state_probe, "text_encoder", broken)
    with pytest.raises(SpecError, match="the text encoder of own:clip could not be loaded: RuntimeError: CUDA out of memory"):
        st.probe_query(query="a blue square")

    class Failing:
        id = st.embeddings().provenance["model_id"]

        def encode_texts(self, texts):
            raise ValueError("tokenizer exploded")

    monkeypatch.setattr(state_probe, "text_encoder", lambda spec: Failing())
    with pytest.raises(SpecError, match="failed on the query: ValueError: tokenizer exploded"):
        st.probe_query(query="a green star")

    class Retrained(Failing):
        id = "own-clip/other-weights"

    monkeypatch.setattr(state_probe, "text_encoder", lambda spec: Retrained())
    with pytest.raises(SpecError, match="weights of own:clip changed"):
        st.probe_query(query="a yellow heart")
