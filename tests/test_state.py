"""ExplorerState: parts, shown pairs, gap setting, ordering, tiles, sharing through the memo,
selection, items."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_source import make_source

from explorer.analysis.gap import close_gap, gap_distance
from explorer.engine.memo import MEMO
from explorer.errors import SpecError
from explorer.state import PARTS, AugmentState, ExplorerState, part_of


@pytest.fixture
def src(tmp_path):
    return make_source(n=40, image_dir=tmp_path / "imgs")


@pytest.fixture
def state(src):
    return ExplorerState(src)


def materialised(state, model, shared=False):
    """The 2M×2M matrix in display order, built the slow way (the reference of every tile)."""
    e = state.embeddings(model)
    x, y = close_gap(np.asarray(e.image)[state.active_indices()], np.asarray(e.text)[state.active_indices()],
                     state.gap.alpha, state.gap.renormalize if state.gap.alpha else True)
    order = state.display_order(model, shared)
    z = np.concatenate([x[order], y[order]])
    return z @ z.T


def test_settings_live_in_parts_and_route_by_name(src):
    s = ExplorerState(src, alpha=0.5, cluster=True, cmap="kbc", caption_filter="red")
    assert (s.gap.alpha, s.order.cluster, s.look.cmap, s.data.caption_filter) == (0.5, True, "kbc", "red")
    assert part_of("alpha") == "gap" and part_of("selected_pairs") == "interaction"
    s.update(k=3, renormalize=False)
    assert s.order.k == 3 and s.gap.renormalize is False
    with pytest.raises(TypeError, match="no explorer setting 'colour'"):
        ExplorerState(src, colour="red")
    # every part holds plain settings: no part refers to another part
    import param

    parts = tuple(PARTS.values())
    for cls in parts:
        refs = [n for n in cls.param if isinstance(cls.param[n], param.ClassSelector) and cls.param[n].class_ in parts]
        assert not refs


def test_defaults_and_model_resolution(state):
    assert state.data.source == "made:test"
    assert state.model_names() == ["A", "B"]
    assert state.resolve_model() == "A"
    state.model.active_model = "B"
    assert state.resolve_model() == "B"
    with pytest.raises(SpecError, match="no model"):
        state.resolve_model("C")


def test_models_param_restricts_a_precomputed_source(src):
    s = ExplorerState(src, models=["B"])
    assert s.model_names() == ["B"]
    with pytest.raises(SpecError):
        ExplorerState(src, models=["Z"]).model_names()


def test_filter_kinds_and_sample_select_source_pair_ids(state):
    d = state.data
    assert state.active_indices().tolist() == list(range(40))
    d.caption_filter = "red"
    assert state.active_indices().tolist() == list(range(0, 40, 4))
    d.caption_filter = "red circle, blue square"
    assert state.active_indices().tolist() == sorted(list(range(0, 40, 4)) + list(range(1, 40, 4)))
    d.filter_mode = "all"
    with pytest.raises(SpecError):  # no caption has both phrases
        state.active_indices()
    d.caption_filter = "red number"
    assert state.active_indices().tolist() == list(range(0, 40, 4))
    # substring (the default, as Amumo) vs whole words vs a regular expression
    d.filter_mode = "any"
    d.caption_filter = "numb"
    assert state.active_indices().size == 40
    d.filter_kind = "word"
    with pytest.raises(SpecError, match="numb"):
        state.active_indices()
    d.filter_kind = "regex"
    d.caption_filter = r"number 1\d$"
    assert state.active_indices().tolist() == list(range(10, 20))
    d.caption_filter = "(unclosed"
    with pytest.raises(SpecError, match="regular expression"):
        state.active_indices()
    d.param.update(caption_filter="", filter_kind="substring", sample_size=7)
    a = state.active_indices()
    assert a.size == 7 and np.all(np.diff(a) > 0)
    d.seed = 1
    assert state.active_indices().tolist() != a.tolist()


def test_a_filter_matching_nothing_is_a_clear_error(state):
    state.data.caption_filter = "zebra"
    with pytest.raises(SpecError, match="zebra"):
        state.active_indices()


@pytest.mark.parametrize("settings", [{}, {"alpha": 0.5}, {"alpha": 1.0, "renormalize": False}, {"caption_filter": "green"},
                                      {"cluster": True, "k": 4}, {"cluster": True, "alpha": 0.3, "sample_size": 25}])
def test_tiles_are_the_block_means_of_the_materialised_matrix(src, settings):
    state = ExplorerState(src, **settings)
    s = materialised(state, "A")
    n = s.shape[0]
    for window in [None, ((3.2, 61.7), (10.0, 70.0))]:
        xr, yr = window or (None, None)
        t = state.tile("A", x_range=xr, y_range=yr, width=17, height=13)
        xe, ye = t.x_edges, t.y_edges
        ref = np.array([[s[ye[i]:ye[i + 1], xe[j]:xe[j + 1]].mean() for j in range(xe.size - 1)] for i in range(ye.size - 1)])
        np.testing.assert_allclose(t.values, ref, atol=1e-5)
        tm = state.tile("A", x_range=xr, y_range=yr, width=17, height=13, how="max")
        ref = np.array([[s[ye[i]:ye[i + 1], xe[j]:xe[j + 1]].max() for j in range(xe.size - 1)] for i in range(ye.size - 1)])
        np.testing.assert_allclose(tm.values, ref, atol=1e-5)
    # one cell per pixel: the cells themselves
    exact = state.tile("A", width=n, height=n)
    assert exact.exact_cells
    np.testing.assert_allclose(exact.values, s, atol=1e-5)
    # the in-modal difference likewise
    m = n // 2
    dref = s[:m, :m] - s[m:, m:]
    dt = state.tile("A", "difference", width=m, height=m)
    np.testing.assert_allclose(dt.values, dref, atol=1e-5)


def test_cells_and_items_at_known_positions(state, src):
    e = src.embeddings["A"]
    x, y = np.asarray(e.image), np.asarray(e.text)
    n = 40
    assert state.cell_value("A", 3, 5) == pytest.approx(x[3] @ x[5], abs=1e-6)  # image–image
    assert state.cell_value("A", 3, n + 5) == pytest.approx(x[3] @ y[5], abs=1e-6)  # image–text
    assert state.cell_value("A", n + 3, 5) == pytest.approx(y[3] @ x[5], abs=1e-6)  # text–image
    assert state.cell_value("A", n + 3, n + 5) == pytest.approx(y[3] @ y[5], abs=1e-6)  # text–text
    assert state.cell_value("A", 3, 5, "difference") == pytest.approx(x[3] @ x[5] - y[3] @ y[5], abs=1e-6)


def test_gap_closing_is_applied_and_recorded(state, src):
    e = src.embeddings["A"]
    state.gap.param.update(alpha=1.0, renormalize=False)
    d = state.numbers("A")
    assert d["gap_distance_after"] == pytest.approx(0.0, abs=1e-12)
    state.gap.renormalize = True
    cx, cy = close_gap(e.image, e.text, 1.0, True)
    np.testing.assert_allclose(state.space("A").vectors("image", np.arange(40), *state.closing()), cx, atol=1e-12)
    d = state.numbers("A")
    assert d["gap_distance_before"] == pytest.approx(gap_distance(e.image, e.text))
    assert d["gap_distance_after"] == pytest.approx(gap_distance(cx, cy))
    assert d["gap_distance_after"] < 0.2 * d["gap_distance_before"]
    assert "α=1 renorm" in state.provenance_line("A")


def test_cluster_ordering_reorders_every_quadrant(state, src):
    state.order.param.update(cluster=True, k=4)
    o = state.ordering("A")
    assert len(o.members) == 4 and sorted(o.order.tolist()) == list(range(40))
    e = src.embeddings["A"]
    x, y = np.asarray(e.image), np.asarray(e.text)
    q, r = 2, 17
    i, j = o.order[q], o.order[r]
    assert state.cell_value("A", q, r) == pytest.approx(x[i] @ x[j], abs=1e-6)
    assert state.cell_value("A", 40 + q, r) == pytest.approx(y[i] @ x[j], abs=1e-6)
    assert state.cell_value("A", q, 40 + r) == pytest.approx(x[i] @ y[j], abs=1e-6)
    assert state.display_pairs("A").tolist() == o.order.tolist()
    # the synthetic clusters are the four colour words: each cluster label names its word
    labels = state.cluster_labels("A")
    assert len(labels) == 4
    for lab, mem in zip(labels, o.members, strict=True):
        words = {src.pairs.captions[i].split()[1] for i in mem}
        assert len(words) == 1 and words.pop() in lab
    ex = state.cluster_examples("A", per_cluster=2)
    assert [len(e) for e in ex] == [2] * 4
    assert all(o.assignment[a] == c for c, ids in enumerate(ex) for a in ids)


def test_appearance_and_interaction_never_recompute_data(state):
    state.order.cluster = True
    state.tile("A")
    state.ordering("A")
    state.numbers("A")
    before = dict(MEMO.computed)
    state.update(cmap="viridis", edge_cmap="kbc", selected_pairs=[1, 2], point_color="kNN overlap", projection="t-SNE",
                 loss_variant="article", datashade_above=10)
    state.tile("A")
    state.ordering("A")
    assert MEMO.computed["tile"] == before["tile"] and MEMO.computed["ordering"] == before["ordering"]
    # α changes the tile but not the ordering (of the original embeddings)
    state.gap.alpha = 0.5
    state.tile("A")
    state.ordering("A")
    assert MEMO.computed["tile"] == before["tile"] + 1 and MEMO.computed["ordering"] == before["ordering"]
    # the loss variant changes the loss, not the per-pair statistics
    stats = MEMO.computed["stats"]
    state.numbers("A")
    assert MEMO.computed["stats"] == stats
    state.order.k = 3  # re-clusters
    state.ordering("A")
    assert MEMO.computed["ordering"] == before["ordering"] + 1


def test_states_with_the_same_settings_share_their_data(src):
    """Two sessions (states) of one source share the opened source and everything derived."""
    a, b = ExplorerState(source="amumo:/x"), ExplorerState(source="amumo:/x")
    assert a.source_key() == b.source_key()
    a, b = ExplorerState(src, alpha=0.5), ExplorerState(src)
    b._preloaded_token = a._preloaded_token  # the same opened source
    b.gap.alpha = 0.5
    assert a.space("A") is b.space("A")
    assert a.tile("A") is b.tile("A")
    b.gap.alpha = 0.25  # different settings: different data, no cross-talk
    assert a.tile("A") is not b.tile("A")
    assert not np.allclose(a.tile("A").values, b.tile("A").values)


def test_moving_alpha_recomputes_only_the_closed_half_of_the_numbers(state):
    n0 = state.numbers("A")
    assert n0["gap_distance_after"] == n0["gap_distance_before"] and n0["Ri2t@1_after"] == n0["Ri2t@1_before"]
    products = MEMO.computed["batch_products"]
    for a in (0.25, 0.5, 1.0):
        state.gap.alpha = a
        d = state.numbers("A")
        e = state.embeddings("A")
        x, y = close_gap(e.image, e.text, a, True)
        assert d["gap_distance_after"] == pytest.approx(gap_distance(x, y))
        assert d["gap_distance_before"] == n0["gap_distance_before"] and d["loss_before"] == n0["loss_before"]
    assert MEMO.computed["batch_products"] == products  # the per-batch products are computed once
    assert MEMO.computed["loss"] == 4  # α = 0 (both halves) and three closed ones


def test_projection_cached_in_memory_and_on_disk(src):
    a = ExplorerState(src, projection="UMAP")
    p = a.projection_result("A")
    assert not p.from_cache
    assert a.projection_result("A") is p  # the memo
    MEMO.clear()
    b = ExplorerState(src, projection="UMAP")  # a new process finds it in the store's projections/ folder
    b.space("A").content  # noqa: B018
    assert b.projection_result("A").from_cache
    np.testing.assert_array_equal(b.projection_result("A").coords, p.coords)


def test_projection_frame_layout_and_components(state):
    state.data.caption_filter = "blue"
    df = state.projection_frame("A")
    active = state.active_indices()
    m = active.size
    assert len(df) == 2 * m
    assert df["pair_id"].tolist() == active.tolist() * 2
    assert df["modality"].tolist() == ["image"] * m + ["text"] * m
    p = state.projection_result("A")
    np.testing.assert_allclose(df["x"], p.coords[:, 0])
    state.projection.param.update(x_component=3, y_component=1)
    df2 = state.projection_frame("A")
    np.testing.assert_allclose(df2["x"], p.coords[:, 2])
    np.testing.assert_allclose(df2["y"], p.coords[:, 0])
    from explorer.analysis.similarity import pair_similarities

    e = state.embeddings("A")
    np.testing.assert_allclose(df2["sim"].to_numpy()[:m], pair_similarities(np.asarray(e.image)[active], np.asarray(e.text)[active]))
    state.projection.projection_mode = "concatenated"
    df3 = state.projection_frame("A")
    assert len(df3) == m and set(df3["modality"]) == {"pair"}


def test_numbers_clamp_the_batch_to_the_pairs(state):
    state.gap.batch_size = 50
    d = state.numbers("A")
    assert d["batch_size"] == 40 and d["n"] == 40
    frame = state.numbers_frame("A")
    assert frame["quantity"].iloc[1] == "loss (symmetric, batch 40)"
    assert {f"Ri2t@{k}_before" for k in (1, 5, 10)} <= set(d)
    assert d["recall_method"] == "exact" and d["consistency_method"] == "exact"


def test_inspect_cell_gives_both_items_and_value(state, src):
    info = state.inspect_cell("A", 2, 40 + 7)
    assert state.interaction.inspected == info
    assert info["row_item"]["modality"] == "image" and info["row_item"]["pair_id"] == 2
    assert info["col_item"]["modality"] == "text" and info["col_item"]["pair_id"] == 7
    assert info["col_item"]["caption"] == src.pairs.captions[7]
    e = src.embeddings["A"]
    assert info["value"] == pytest.approx(float(np.asarray(e.image)[2] @ np.asarray(e.text)[7]), abs=1e-6)
    assert info["row_item"]["thumb"].endswith("/2.png")
    with pytest.raises(SpecError):
        state.inspect_cell("A", 80, 0)


def test_selection_table(state, src):
    state.order.param.update(cluster=True, k=4)
    state.select_pairs([5, 5, 2, 99])
    assert state.interaction.selected_pairs == [5, 2, 99]
    df = state.selected_table("A")
    assert df["pair_id"].tolist() == [5, 2]  # 99 is not a pair of this source
    assert df["caption"].tolist() == [src.pairs.captions[5], src.pairs.captions[2]]
    labels = state.cluster_labels("A")
    o = state.ordering("A")
    assert df["cluster"].iloc[0] == labels[o.assignment[5]]
    assert df["thumb"].iloc[0] == state.thumb_url(5)
    e = src.embeddings["A"]
    assert df["sim"].iloc[1] == pytest.approx(float(np.asarray(e.image)[2] @ np.asarray(e.text)[2]), abs=1e-9)
    state.interaction.selected_pairs = []
    assert state.selected_table().empty


def test_selected_pair_outside_the_filter_keeps_its_caption(state):
    state.data.caption_filter = "red"
    state.interaction.selected_pairs = [1]  # a 'blue square' pair, filtered out
    df = state.selected_table("A")
    assert df["pair_id"].tolist() == [1] and np.isnan(df["sim"].iloc[0])


def test_source_spec_is_opened_lazily_and_once(amumo_dir):
    s = ExplorerState(source=f"amumo:{amumo_dir('MSCOCO-Val_size-100')}", models=["CLIP", "CLOOB"])
    assert MEMO.computed.get("source", 0) == 0
    assert s.model_names() == ["CLIP", "CLOOB"]
    s.gap.alpha = 0.3
    ExplorerState(source=s.data.source, models=["CLIP", "CLOOB"]).model_names()  # another session
    assert MEMO.computed["source"] == 1
    # the article's gap distance for CLIP (meta_info.json: 0.8135454303738534)
    assert s.numbers("CLIP")["gap_distance_before"] == pytest.approx(0.8135454303738534, abs=1e-8)
    s.gap.loss_variant = "article"
    assert s.numbers("CLIP")["loss_before"] == pytest.approx(0.30306759630738733, abs=1e-6)


def test_augment_state_builds_the_dataset_spec(tmp_path):
    from PIL import Image

    img = tmp_path / "cat.png"
    Image.new("RGB", (8, 8)).save(img)
    a = AugmentState(image=str(img), kind="blur", steps=10)
    assert a.spec() == f"augment:blur:{img}"
    a.caption = "a cat"
    assert a.spec() == f"augment:blur:{img}:a cat"
    inner = a.explorer_state(cmap="kbc")
    assert inner.data.source == a.spec() and inner.data.source_options == {"steps": 10} and inner.look.cmap == "kbc"
    with pytest.raises(SpecError):
        AugmentState(image=str(tmp_path / "missing.png")).spec()
    with pytest.raises(SpecError):
        AugmentState().spec()


def test_augment_state_over_a_precomputed_series(amumo_dir):
    a = AugmentState(series_source=f"amumo:{amumo_dir('Blurred-0_size-100')}", models=["CLIP"])
    s = a.explorer_state()
    assert s.model_names() == ["CLIP"] and s.tile(width=200, height=200).values.shape == (200, 200)


def test_a_long_computation_blocks_only_its_own_value(state, monkeypatch):
    """While a projection runs in a background thread, other values stay available, and the
    memo lists it as work in flight with who asked for it."""
    import threading

    import explorer.engine.projection as EP
    from explorer.engine.memo import REQUESTER

    release = threading.Event()
    started = threading.Event()
    real = EP._sampled

    def slow(*a, **kw):
        started.set()
        release.wait(30)
        return real(*a, **kw)

    monkeypatch.setattr(EP, "_sampled", slow)
    monkeypatch.setattr(EP, "TSNE_PAIRS", 30)  # a sample: the projection announces itself as work
    state.projection.projection = "t-SNE"

    def project():
        REQUESTER.set("session-1")
        state.projection_result("A")

    bg = threading.Thread(target=project)
    bg.start()
    assert started.wait(30)
    works = MEMO.in_flight("session-1")
    assert len(works) == 1 and works[0].label.startswith("t-SNE (joint) of 40 pairs")
    assert MEMO.in_flight("someone-else") == []
    done = []
    fg = threading.Thread(target=lambda: done.append(state.tile("A").values.shape))
    fg.start()
    fg.join(20)
    finished_while_projecting = bool(done)
    # a second caller of the same projection waits for the first instead of computing it again
    second = threading.Thread(target=state.projection_result, args=("A",))
    second.start()
    release.set()
    bg.join(30)
    second.join(30)
    fg.join(30)
    assert finished_while_projecting and done
    assert MEMO.computed["projection"] == 1 and MEMO.in_flight() == []


def test_a_dataset_source_is_embedded_model_by_model_like_open_source(monkeypatch):
    """The state embeds a dataset itself (to report each model); same result as open_source."""
    from explorer.engine.memo import Work
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
    real = Work.progress
    monkeypatch.setattr(Work, "progress", lambda self, *a, **kw: (real(self, *a, **kw), seen.append((self.done, self.total, self.label))))
    src = state.source_data()
    ref = open_source("shapes:12", models=models, progress=False)
    assert src.models == ref.models and src.pairs.captions == ref.pairs.captions and src.notes == ref.notes
    for m in models:
        np.testing.assert_array_equal(np.asarray(src.embeddings[m].image), np.asarray(ref.embeddings[m].image))
        np.testing.assert_array_equal(np.asarray(src.embeddings[m].text), np.asarray(ref.embeddings[m].text))
    assert [(d, t) for d, t, _ in seen] == [(0, 2), (1, 2), (2, 2)]
    assert "own:cloob (model 2 of 2)" in seen[1][2]
