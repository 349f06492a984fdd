"""ExplorerState: active pairs, gap setting, ordering, caching (counted), selection, items."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.gap import close_gap, gap_distance
from explorer.errors import SpecError
from explorer.state import AugmentState, ExplorerState
from synthetic_source import make_source


@pytest.fixture
def src(tmp_path):
    return make_source(n=40, image_dir=tmp_path / "imgs")


@pytest.fixture
def state(src):
    return ExplorerState(src)


def test_defaults_and_model_resolution(state):
    assert state.source == "synthetic:test"
    assert state.model_names() == ["A", "B"]
    assert state.resolve_model() == "A"
    state.active_model = "B"
    assert state.resolve_model() == "B"
    with pytest.raises(SpecError, match="no model"):
        state.resolve_model("C")


def test_models_param_restricts_a_precomputed_source(src):
    s = ExplorerState(src, models=["B"])
    assert s.model_names() == ["B"]
    with pytest.raises(SpecError):
        ExplorerState(src, models=["Z"]).model_names()


def test_filter_and_sample_select_source_pair_ids(state):
    assert state.active_indices().tolist() == list(range(40))
    state.caption_filter = "red"
    assert state.active_indices().tolist() == list(range(0, 40, 4))
    state.caption_filter = "red circle, blue square"
    assert state.active_indices().tolist() == sorted(list(range(0, 40, 4)) + list(range(1, 40, 4)))
    state.filter_mode = "all"
    with pytest.raises(SpecError):  # no caption has both phrases
        state.active_indices()
    state.caption_filter = "red number"
    assert state.active_indices().tolist() == list(range(0, 40, 4))
    state.caption_filter = ""
    state.sample_size = 7
    a = state.active_indices()
    assert a.size == 7 and np.all(np.diff(a) > 0)
    state.seed = 1
    assert state.active_indices().tolist() != a.tolist()


def test_a_filter_matching_nothing_is_a_clear_error(state):
    state.caption_filter = "zebra"
    with pytest.raises(SpecError, match="zebra"):
        state.active_indices()


def test_similarity_quadrants_at_known_cells(state, src):
    e = src.embeddings["A"]
    x, y = np.asarray(e.image), np.asarray(e.text)
    s = state.similarity("A")
    n = 40
    assert s.shape == (80, 80) and s.dtype == np.float32
    assert s[3, 5] == pytest.approx(x[3] @ x[5], abs=1e-6)  # image–image
    assert s[3, n + 5] == pytest.approx(x[3] @ y[5], abs=1e-6)  # image–text
    assert s[n + 3, 5] == pytest.approx(y[3] @ x[5], abs=1e-6)  # text–image
    assert s[n + 3, n + 5] == pytest.approx(y[3] @ y[5], abs=1e-6)  # text–text


def test_subset_rows_are_the_active_pairs(state, src):
    state.caption_filter = "green"
    active = state.active_indices()
    e = src.embeddings["A"]
    s = state.similarity("A")
    m = active.size
    assert s[1, m + 2] == pytest.approx(np.asarray(e.image)[active[1]] @ np.asarray(e.text)[active[2]], abs=1e-6)


def test_gap_closing_is_applied_and_recorded(state, src):
    e = src.embeddings["A"]
    state.alpha = 1.0
    state.renormalize = False
    closed = state.embeddings("A")
    assert gap_distance(closed.image, closed.text) == pytest.approx(0.0, abs=1e-12)
    assert closed.provenance["gap_closing"] == {"alpha": 1.0, "renormalize": False}
    state.renormalize = True
    cx, cy = close_gap(e.image, e.text, 1.0, True)
    np.testing.assert_allclose(state.embeddings("A").image, cx)
    d = state.numbers("A")
    assert d["gap_distance_before"] == pytest.approx(gap_distance(e.image, e.text))
    assert d["gap_distance_after"] < 0.2 * d["gap_distance_before"]
    assert "α=1 renorm" in state.provenance_line("A")


def test_cluster_ordering_reorders_every_quadrant(state, src):
    state.cluster = True
    state.k = 4
    o = state.ordering("A")
    assert len(o.members) == 4 and sorted(o.order.tolist()) == list(range(40))
    e = src.embeddings["A"]
    x, y = np.asarray(e.image), np.asarray(e.text)
    s = state.similarity("A")
    q, r = 2, 17
    i, j = o.order[q], o.order[r]
    assert s[q, r] == pytest.approx(x[i] @ x[j], abs=1e-6)
    assert s[40 + q, r] == pytest.approx(y[i] @ x[j], abs=1e-6)
    assert s[q, 40 + r] == pytest.approx(x[i] @ y[j], abs=1e-6)
    assert state.display_pairs("A").tolist() == o.order.tolist()
    # the synthetic clusters are the four colour words: each cluster label names its word
    labels = state.cluster_labels("A")
    assert len(labels) == 4
    for lab, mem in zip(labels, o.members):
        words = {src.pairs.captions[i].split()[1] for i in mem}
        assert len(words) == 1 and words.pop() in lab
    ex = state.cluster_examples("A", per_cluster=2)
    assert [len(e) for e in ex] == [2] * 4
    assert all(o.assignment[a] == c for c, ids in enumerate(ex) for a in ids)


def test_unrelated_params_do_not_recompute(state):
    state.cluster = True
    state.similarity("A")
    state.ordering("A")
    state.numbers("A")
    before = dict(state.compute_counts)
    for name, value in [("cmap", "viridis"), ("aggregation", "mean"), ("selected_pairs", [1, 2]), ("point_color", "kNN overlap"),
                        ("projection", "t-SNE"), ("loss_variant", "article")]:
        setattr(state, name, value)
        state.similarity("A")
        state.ordering("A")
    assert state.compute_counts["similarity"] == before["similarity"]
    assert state.compute_counts["ordering"] == before["ordering"]
    # α changes the matrix but not the ordering (computed on the original embeddings)
    state.alpha = 0.5
    state.similarity("A")
    state.ordering("A")
    assert state.compute_counts["similarity"] == before["similarity"] + 1
    assert state.compute_counts["ordering"] == before["ordering"]
    # the loss variant changes the numbers, not the embeddings
    emb = state.compute_counts["embeddings"]
    state.numbers("A")
    state.loss_variant = "symmetric"
    state.numbers("A")
    assert state.compute_counts["embeddings"] == emb
    # changing k re-clusters
    state.k = 3
    state.ordering("A")
    assert state.compute_counts["ordering"] == before["ordering"] + 1


def test_projection_cached_in_memory_and_on_disk(src):
    a = ExplorerState(src)
    p = a.projection_result("A")
    assert not p.from_cache
    assert a.projection_result("A") is p
    b = ExplorerState(src)  # a new session finds it in the store's projections/ folder
    assert b.projection_result("A").from_cache
    np.testing.assert_array_equal(b.projection_result("A").coords, p.coords)


def test_projection_frame_layout_and_components(state, src):
    state.caption_filter = "blue"
    df = state.projection_coords("A")
    active = state.active_indices()
    m = active.size
    assert len(df) == 2 * m
    assert df["pair_id"].tolist() == active.tolist() * 2
    assert df["modality"].tolist() == ["image"] * m + ["text"] * m
    p = state.projection_result("A")
    np.testing.assert_allclose(df["x"], p.coords[:, 0])
    state.x_component, state.y_component = 3, 1
    df2 = state.projection_coords("A")
    np.testing.assert_allclose(df2["x"], p.coords[:, 2])
    np.testing.assert_allclose(df2["y"], p.coords[:, 0])
    from explorer.analysis.similarity import pair_similarities

    e = state.embeddings("A")
    np.testing.assert_allclose(df2["sim"].to_numpy()[:m], pair_similarities(e.image, e.text))
    state.projection_mode = "concatenated"
    df3 = state.projection_coords("A")
    assert len(df3) == m and set(df3["modality"]) == {"pair"}


def test_numbers_clamp_the_batch_to_the_pairs(state):
    state.batch_size = 50
    d = state.numbers("A")
    assert d["batch_size"] == 40 and d["n"] == 40
    frame = state.numbers_frame("A")
    assert frame["quantity"].iloc[1] == "loss (symmetric, batch 40)"
    assert {f"Ri2t@{k}_before" for k in (1, 5, 10)} <= set(d)


def test_inspect_cell_gives_both_items_and_value(state, src):
    info = state.inspect_cell("A", 2, 40 + 7)
    assert state.inspected == info
    assert info["row_item"]["modality"] == "image" and info["row_item"]["pair_id"] == 2
    assert info["col_item"]["modality"] == "text" and info["col_item"]["pair_id"] == 7
    assert info["col_item"]["caption"] == src.pairs.captions[7]
    e = src.embeddings["A"]
    assert info["value"] == pytest.approx(float(np.asarray(e.image)[2] @ np.asarray(e.text)[7]), abs=1e-6)
    assert info["row_item"]["thumb"].endswith("/2.png")
    with pytest.raises(SpecError):
        state.inspect_cell("A", 80, 0)


def test_selection_table(state, src):
    state.cluster = True
    state.k = 4
    state.select_pairs([5, 5, 2, 99])
    assert state.selected_pairs == [5, 2, 99]
    df = state.selected_table("A")
    assert df["pair_id"].tolist() == [5, 2]  # 99 is not a pair of this source
    assert df["caption"].tolist() == [src.pairs.captions[5], src.pairs.captions[2]]
    labels = state.cluster_labels("A")
    o = state.ordering("A")
    assert df["cluster"].iloc[0] == labels[o.assignment[5]]
    assert df["thumb"].iloc[0] == state.thumb_url(5)
    state.selected_pairs = []
    assert state.selected_table().empty


def test_selected_pair_outside_the_filter_keeps_its_caption(state):
    state.caption_filter = "red"
    state.selected_pairs = [1]  # a 'blue square' pair, filtered out
    df = state.selected_table("A")
    assert df["pair_id"].tolist() == [1] and np.isnan(df["sim"].iloc[0])


def test_source_spec_is_opened_lazily_and_cached(amumo_dir):
    s = ExplorerState(source=f"amumo:{amumo_dir('MSCOCO-Val_size-100')}", models=["CLIP", "CLOOB"])
    assert s.compute_counts["source_data"] == 0
    assert s.model_names() == ["CLIP", "CLOOB"]
    s.alpha = 0.3
    s.model_names()
    assert s.compute_counts["source_data"] == 1
    # the article's gap distance for CLIP (meta_info.json: 0.8135454303738534)
    assert s.numbers("CLIP")["gap_distance_before"] == pytest.approx(0.8135454303738534, abs=1e-8)
    s.loss_variant = "article"
    assert s.numbers("CLIP")["loss_before"] == pytest.approx(0.30306759630738733, abs=1e-6)


def test_augment_state_builds_the_dataset_spec(tmp_path):
    from PIL import Image

    img = tmp_path / "cat.png"
    Image.new("RGB", (8, 8)).save(img)
    a = AugmentState(image=str(img), kind="blur", steps=10)
    assert a.spec() == f"augment:blur:{img}"
    a.caption = "a cat"
    assert a.spec() == f"augment:blur:{img}:a cat"
    inner = a.explorer_state()
    assert inner.source == a.spec() and inner.source_options == {"steps": 10}
    with pytest.raises(SpecError):
        AugmentState(image=str(tmp_path / "missing.png")).spec()
    with pytest.raises(SpecError):
        AugmentState().spec()


def test_augment_state_over_a_precomputed_series(amumo_dir):
    a = AugmentState(series_source=f"amumo:{amumo_dir('Blurred-0_size-100')}", models=["CLIP"])
    s = a.explorer_state()
    assert s.model_names() == ["CLIP"] and s.similarity().shape == (200, 200)


def test_a_long_computation_blocks_only_its_own_value(state, monkeypatch):
    """While a projection runs in a background thread, other values stay available."""
    import threading

    import explorer.analysis.projection as P

    release = threading.Event()
    started = threading.Event()
    real = P.project

    def slow_project(*a, **kw):
        started.set()
        release.wait(30)
        return real(*a, **kw)

    monkeypatch.setattr(P, "project", slow_project)
    bg = threading.Thread(target=state.projection_result, args=("A",))
    bg.start()
    assert started.wait(30)
    done = []
    fg = threading.Thread(target=lambda: done.append(state.similarity("A").shape))
    fg.start()
    fg.join(20)
    finished_while_projecting = bool(done)
    release.set()
    bg.join(30)
    fg.join(30)
    assert finished_while_projecting and done == [(80, 80)]
    assert state.compute_counts["projection"] == 1


def test_long_work_reports_progress_in_status(state):
    seen = []
    state.param.watch(lambda ev: seen.append(ev.new), "status")
    state.projection_result("A")
    assert any(s.startswith("PCA (joint) of A, 40 pairs") for s in seen)
    assert any("PCA (joint) of 80 points" in s for s in seen)  # the projection's own line
    assert state.status == ""  # cleared when done


def test_moving_alpha_recomputes_only_the_closed_half_of_the_numbers(state):
    n0 = state.numbers("A")
    assert state.compute_counts["numbers_before"] == 1 and state.compute_counts["numbers_after"] == 0  # α = 0: after = before
    assert n0["gap_distance_after"] == n0["gap_distance_before"] and n0["Ri2t@1_after"] == n0["Ri2t@1_before"]
    for a in (0.25, 0.5, 1.0):
        state.alpha = a
        d = state.numbers("A")
        e = state.embeddings("A")
        assert d["gap_distance_after"] == pytest.approx(gap_distance(e.image, e.text))
        assert d["gap_distance_before"] == n0["gap_distance_before"] and d["loss_before"] == n0["loss_before"]
    assert state.compute_counts["numbers_before"] == 1  # never again for α
    assert state.compute_counts["numbers_after"] == 3
    state.loss_variant = "article"  # the loss settings change both halves
    state.numbers("A")
    assert state.compute_counts["numbers_before"] == 2 and state.compute_counts["numbers_after"] == 4


def test_long_work_is_published_with_its_progress(state):
    seen = []
    state.param.watch(lambda ev: seen.append(ev.new), "work")
    with state._working("outer work") as outer:
        with state._working("counting", done=0, total=4, unit="steps") as inner:
            for i in range(1, 5):
                state.report_progress(i, entry=inner, force=True)
            assert state.work["label"] == "counting" and state.work["done"] == 4 and state.work["total"] == 4
        assert state.work["label"] == "outer work" and state.work["total"] is None  # the inner one ended
        assert outer["label"] == "outer work"
    assert state.work is None and state.status == ""
    assert [w["done"] for w in seen if w and w["label"] == "counting"] == [0, 1, 2, 3, 4]
    assert all(set(w) == {"label", "done", "total", "unit", "started"} for w in seen if w)


def test_progress_updates_are_throttled_but_the_last_one_shows(state):
    seen = []
    state.param.watch(lambda ev: seen.append(ev.new), "work")
    with state._working("many", done=0, total=1000) as w:
        for i in range(1, 1001):
            state.report_progress(i, entry=w)
    done = [x["done"] for x in seen if x]
    assert done[-1] == 1000 and len(done) < 50  # not one update per item, but the end is shown


def test_a_dataset_source_is_embedded_model_by_model_like_open_source():
    """The state embeds a dataset itself (to report each model); same result as open_source."""
    from explorer.errors import ExplorerError
    from explorer.models import load_model
    from explorer.sources import open_source

    try:
        load_model("own:clip", device="cpu")
    except ExplorerError as exc:
        pytest.skip(f"needs the project's own model weights: {exc}")
    models = ["own:clip", "own:cloob"]
    state = ExplorerState(source="shapes:12", models=models)
    seen = []
    state.param.watch(lambda ev: seen.append(ev.new), "work")
    src = state.source_data()
    ref = open_source("shapes:12", models=models, progress=False)
    assert src.models == ref.models and src.pairs.captions == ref.pairs.captions and src.notes == ref.notes
    for m in models:
        np.testing.assert_array_equal(np.asarray(src.embeddings[m].image), np.asarray(ref.embeddings[m].image))
        np.testing.assert_array_equal(np.asarray(src.embeddings[m].text), np.asarray(ref.embeddings[m].text))
    steps = [(w["done"], w["total"]) for w in seen if w and w.get("unit") == "models"]
    assert (0, 2) in steps and (1, 2) in steps and (2, 2) in steps
    assert any("own:cloob (model 2 of 2)" in w["label"] for w in seen if w)
    assert state.work is None
