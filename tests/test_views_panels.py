"""Panels and small plots: inspect and selection panels, numbers, histograms, loss landscape,
compare, augment; hostile captions are escaped everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import glyphs, render
from synthetic_source import HOSTILE, make_source

from explorer.analysis.gap import gap_distance
from explorer.state import AugmentState, ExplorerState
from explorer.views import (
    compare_view,
    inspect_panel,
    loss_landscape_plot,
    numbers_pane,
    selection_panel,
    similarity_histograms,
)
from explorer.views.cards import esc, inspected_html, item_card, selection_html
from explorer.views.compare import compare_frame, compare_heatmaps
from explorer.views.histograms import density
from explorer.views.numbers import faithfulness_comparison_html, faithfulness_rows

HOSTILE_ITEMS = [
    {"modality": "text", "pair_id": i, "id": f'id"{i}<b>', "caption": c, "thumb": None} for i, c in enumerate(HOSTILE)
]


def test_esc_escapes_quotes_and_truncates():
    assert esc("<a href='x'>\"") == "&lt;a href=&#x27;x&#x27;&gt;&quot;"
    long = esc("x" * 5000)
    assert len(long) == 300 and long.endswith("…")
    assert esc(None) == ""


@pytest.mark.parametrize("item", HOSTILE_ITEMS)
def test_item_cards_escape_hostile_captions_and_ids(item):
    html = item_card(item)
    assert "<script" not in html and "<img src=x" not in html and 'id"' not in html
    assert esc(item["caption"]) in html
    assert len(html) < 2000  # the 2,000-character caption is cut


def test_inspected_html_shows_both_items_and_value():
    info = {"kind": "cell", "model": "<i>m</i>", "row": 1, "col": 12, "value": 0.25,
            "row_item": HOSTILE_ITEMS[0] | {"modality": "image", "thumb": "/thumb/0123456789abcdef/0.png"}, "col_item": HOSTILE_ITEMS[1]}
    html = inspected_html(info)
    assert "0.2500" in html and "row 1, column 12" in html
    assert html.count('class="bx-item"') == 2
    assert 'src="/thumb/0123456789abcdef/0.png"' in html
    assert "<i>m</i>" not in html and "&lt;i&gt;m&lt;/i&gt;" in html
    assert "<script" not in html and "<img src=x" not in html
    assert "Tap a heatmap cell" in inspected_html(None)


def test_a_caption_card_has_no_empty_thumbnail_slot():
    text = {"pair_id": 3, "id": "3", "modality": "text", "caption": "a dog", "thumb": None}
    assert 'title="no image"' not in item_card(text) and "<img" not in item_card(text) and "a dog" in item_card(text)
    assert 'title="no image"' in item_card(text | {"modality": "image"})  # an image without a file keeps its slot


def test_selection_html_lists_rows_up_to_a_limit():
    rows = [{"pair_id": i, "id": str(i), "caption": HOSTILE[i % 4], "thumb": None, "cluster": "<u>c</u>", "sim": 0.5} for i in range(10)]
    html = selection_html(rows, limit=3, total=10)
    assert html.count('class="bx-row"') == 3 and "<b>10</b> selected pairs (first 3 shown)" in html
    assert "<u>c</u>" not in html and "<script" not in html and "<img src=x" not in html
    assert "No pairs selected" in selection_html([])


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=12, image_dir=tmp_path / "imgs", hostile=True))


def test_inspect_panel_follows_taps(state):
    pane = inspect_panel(state)
    assert "Tap a heatmap cell" in pane.object
    state.inspect_cell("A", 0, 12 + 1)  # image 0 (a <script> caption) × caption 1 (<img onerror>)
    html = pane.object
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<script" not in html and "<img src=x" not in html
    assert f"/thumb/{state.thumb_token()}/0.png" in html


def test_selection_panel_follows_selected_pairs(state):
    state.order.param.update(cluster=True, k=3)
    pane = selection_panel(state, "A")
    assert "No pairs selected" in pane.object
    state.interaction.selected_pairs = [0, 1, 3]
    html = pane.object
    assert html.count('class="bx-row"') == 3
    assert "<script" not in html and "<img src=x" not in html
    labels = state.cluster_labels("A")
    o = state.ordering("A")
    assert esc(labels[o.assignment[3]], 80) in html
    df = state.selected_table("A")
    assert df.pair_id.tolist() == [0, 1, 3] and df.caption.tolist()[0] == HOSTILE[0]  # the table keeps raw text


def test_numbers_frame_and_pane(state):
    e = state.source_data().embeddings["A"]
    df = state.numbers_frame("A")
    assert df.quantity.iloc[0] == "gap distance"
    assert df.before.iloc[0] == pytest.approx(gap_distance(e.image, e.text))
    state.gap.param.update(alpha=1.0, renormalize=False)
    df = state.numbers_frame("A")
    assert df.iloc[0, 2] == pytest.approx(0.0, abs=1e-9)
    pane = numbers_pane(state, "A")
    html = pane.object
    assert "loss (symmetric, batch 12)" in html and "in-modal difference" in html and "R@1 image→text" in html
    state.gap.loss_variant = "article"
    assert "loss (article, batch 12)" in pane.object


def test_faithfulness_rows_match_state(state):
    rows = dict(faithfulness_rows(state, "A"))
    f = state.faithfulness("A")
    assert rows[f"trustworthiness (k={f.k})"] == f"{f.trustworthiness:.4f}"
    assert rows["projection"].startswith("PCA joint")


def test_histograms_are_densities_of_the_four_groups(state):
    plot = render(similarity_histograms(state, "A", bins=10))
    quads = glyphs(plot, "Quad")
    assert len(quads) == 4
    dist, sample = state.distributions("A", 10)
    assert sample.exact
    for q, g in zip(quads, ["image-image", "text-text", "matched", "unmatched"], strict=True):
        d = q.data_source.data
        np.testing.assert_allclose(d["top"], density(dist.counts[g], dist.edges))
        area = np.sum(np.asarray(d["top"]) * (np.asarray(d["right"]) - np.asarray(d["left"])))
        assert area == pytest.approx(1.0)
    assert plot.state.title.text == "Similarity distributions · A"
    # the x axis ends where the similarities do (no padding past them, never past ±1)
    assert (plot.state.x_range.start, plot.state.x_range.end) == pytest.approx((dist.edges[0], dist.edges[-1]))
    from explorer.views.histograms import histogram_data

    line = histogram_data(state, "A", 10)["provenance_text"]
    assert "means: " + ", ".join(f"{g} {dist.means[g]:.3f}" for g in ["image-image", "text-text", "matched", "unmatched"]) in line
    assert density(np.zeros(3), np.arange(4.0)).tolist() == [0, 0, 0]


def test_loss_landscape_plot_marks_original_and_closed(state):
    plot = render(loss_landscape_plot(state, "A"))
    ls = state.landscape("A")
    line = glyphs(plot, "Line")[0].data_source.data
    np.testing.assert_allclose(line["signed gap distance"] if "signed gap distance" in line else line["x"], ls.distances)
    marks = glyphs(plot, "Scatter")[0].data_source.data
    d = state.numbers("A")
    xs = marks.get("signed gap distance", marks.get("x"))
    np.testing.assert_allclose(sorted(xs), sorted([d["gap_distance_before"], d["gap_distance_after"]]))
    assert plot.state.title.text == "Loss along the gap · A"
    from explorer.views.landscape import landscape_data

    assert "symmetric loss, batch 12, logit scale s=" in landscape_data(state, "A")["provenance_text"]


def test_compare_two_models_with_a_shared_ordering(state):
    state.order.param.update(cluster=True, k=3)
    df = compare_frame(state)
    assert df.model.tolist() == ["A", "B"]
    assert df["gap before"].iloc[1] == pytest.approx(state.numbers("B")["gap_distance_before"])
    layout = compare_heatmaps(state, size=200)
    plot = render(layout)
    has_image = [lambda p: "source" in getattr(p, "handles", {}) and "image" in p.handles["source"].data]
    images = [p.handles["source"].data["image"][0] for p in plot.traverse(lambda p: p, has_image)]
    assert len(images) == 2
    # shared ordering: model B's matrix uses model A's order
    order = state.ordering("A").order
    eb = state.embeddings("B")
    xb = np.asarray(eb.image)
    np.testing.assert_allclose(images[1][:12, :12], xb[order] @ xb[order].T, atol=1e-5)
    state.model.shared_order = False
    assert state.display_order("B", shared=True).tolist() == state.ordering("B").order.tolist()
    view = compare_view(state)
    view.get_root()
    assert "A, B · on made:test (n=12)" in view[1].object and "shared by all" in view[1].object
    assert "mean|XXᵀ−YYᵀ|" in view[2].object and "R@1 i→t" in view[2].object


def test_augment_heatmaps_and_curves_over_a_precomputed_series(amumo_dir):
    from explorer.views.augment import series_curves, series_heatmaps

    aug = AugmentState(series_source=f"amumo:{amumo_dir('Noisy-0_size-100')}", models=["CLIP", "CyCLIP"])
    st = aug.explorer_state()
    st.model.compare_models = st.model_names()
    layout = series_heatmaps(st, size=200)
    assert len(layout) == 2 and len(layout.feeds) == 2
    curves = series_curves(st)
    first = curves.values()[0].values()[0]  # CLIP: image i with the caption
    sims = first.dimension_values(1)
    e = st.embeddings("CLIP")
    np.testing.assert_allclose(sims, np.einsum("ij,ij->i", np.asarray(e.image), np.asarray(e.text)), atol=1e-9)


def test_faithfulness_for_each_projection(state):
    df = state.faithfulness_frame("A", methods=("PCA", "t-SNE"))
    assert [p.split()[0] for p in df.projection] == ["PCA", "t-SNE"]
    # the PCA row is the displayed projection's faithfulness (same numbers, one computation)
    f = state.faithfulness("A")
    assert df.trustworthiness.iloc[0] == pytest.approx(f.trustworthiness)
    assert df["edges within 2-D cluster"].iloc[1] == state.faithfulness("A", "t-SNE", "joint").edges_within_cluster_2d
    state.projection.projection_mode = "fit-image"  # t-SNE cannot place new points: left out
    assert [p.split()[0] for p in state.faithfulness_frame("A", methods=("PCA", "t-SNE")).projection] == ["PCA"]
    html = faithfulness_comparison_html(state, "A", methods=("PCA",))
    assert html.count("<tr>") == 2 and "fit-image" in html


def test_an_embeddings_only_source_renders_without_captions_or_images(liang_file):
    """Liang et al.'s real CLIP features: no captions, no images; every view still renders."""
    from explorer.views import cluster_gallery, difference_heatmap, projection_scatter, similarity_heatmap

    path = liang_file("features_clip.npy")
    st = ExplorerState(source=f"liang:{path}", cluster=True, k=4, sample_size=120)
    raw = np.load(path).astype(np.float64)
    raw /= np.linalg.norm(raw, axis=-1, keepdims=True)
    idx = st.active_indices()
    assert st.numbers()["gap_distance_before"] == pytest.approx(gap_distance(raw[0][idx], raw[1][idx]), abs=1e-6)
    for view in (similarity_heatmap, difference_heatmap, projection_scatter, loss_landscape_plot, similarity_histograms):
        v = view(st)
        assert render(v).state.title.text.split(" · ")[1] == "CLIP ViT-B/16"
        assert "(n=120)" in v.feed.value["provenance_text"]
    assert st.cluster_labels() == ["cluster 1", "cluster 2", "cluster 3", "cluster 4"][: len(st.ordering().members)]
    info = st.inspect_cell(None, 0, 130)
    assert info["row_item"]["thumb"] is None and info["col_item"]["caption"] == ""
    assert 'title="no image"' in inspected_html(info)
    assert "no image" in cluster_gallery(st).object
    st.data.caption_filter = "dog"
    with pytest.raises(Exception, match="no captions"):
        st.active_indices()


def test_histogram_provenance_of_a_single_pair_says_there_are_no_values():
    """One pair has no off-diagonal image–image or text–text similarity: no 'nan' in the page."""
    from explorer.views.histograms import histogram_data

    state = ExplorerState(make_source(n=6, d=4), sample_size=1)
    text = histogram_data(state, "A")["provenance_text"]
    assert "nan" not in text and "image-image – (no values)" in text, text
