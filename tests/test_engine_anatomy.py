"""The gap anatomy at any size (explorer.engine.anatomy) against explorer.analysis on the
materialised, gap-closed embeddings: exact below the stated sizes, the stated seeded samples
above them, and the top-k closing through the engine's own closing arithmetic."""

import json

import numpy as np
import pytest

from explorer.analysis import anatomy as A
from explorer.analysis.gap import gap_distance
from explorer.analysis.loss import contrastive_loss
from explorer.analysis.retrieval import recall_at_k
from explorer.engine import anatomy as E
from explorer.engine import numbers as engine_numbers
from explorer.engine.space import PairSpace


def _space(m=300, d=24, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, d)) + 0.8
    y = x + rng.normal(size=(m, d)) - 0.8
    x[:, 3] += 2.0  # one coordinate holds much of the gap
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return PairSpace(x.astype(dtype), y.astype(dtype), key=("anatomy-test", m, d, seed, np.dtype(dtype).name))


def _shown(space, alpha, renorm, positions=None):
    pos = np.arange(space.m) if positions is None else positions
    return (space.vectors("image", pos, alpha, renorm).astype(np.float64),
            space.vectors("text", pos, alpha, renorm).astype(np.float64))


@pytest.mark.parametrize("alpha,renorm", [(0.0, True), (0.6, True), (1.0, False)])
def test_one_pass_measures_equal_the_analysis_on_the_shown_vectors(alpha, renorm, monkeypatch):
    monkeypatch.setattr("explorer.engine.space.CHUNK_ROWS", 64)  # several chunks
    sp = _space()
    got = E.pass_measures(sp, alpha, renorm, top_k=3, bars=5)
    x, y = _shown(sp, alpha, renorm)
    assert got["alignment"] == pytest.approx(A.alignment(x, y), rel=1e-6)
    assert got["cone_image"] == pytest.approx(A.mean_pairwise_cosine(x), abs=1e-6)
    assert got["cone_text"] == pytest.approx(A.mean_pairwise_cosine(y), abs=1e-6)
    assert got["centroid_norm_image"] == pytest.approx(A.centroid_norm(x), rel=1e-6)
    delta = x.mean(axis=0) - y.mean(axis=0)
    if not renorm:  # closed without re-normalising: no gap is left, and no shares of one
        assert np.linalg.norm(delta) < 1e-6 and got["top_k_coordinates_share"] is None and got["gap_dimensions"] == []
        return
    order, shares = A.coordinate_gap_shares(delta)
    assert got["top_k_coordinates_share"] == pytest.approx(shares[:3].sum(), rel=1e-6)
    assert [b["dimension"] for b in got["gap_dimensions"]] == order[:5].tolist()
    assert got["gap_dimensions"][0]["delta"] == pytest.approx(delta[order[0]], rel=1e-5)
    if alpha == 0.0:
        assert got["gap_dimensions"][0]["dimension"] == 3


@pytest.mark.parametrize("alpha,renorm", [(0.0, True), (1.0, True)])
def test_sampled_measures_are_exact_below_the_stated_sizes(alpha, renorm):
    sp = _space()
    got = E.sampled_measures(sp, alpha, renorm, top_k=2, bars=4, seed=1)
    x, y = _shown(sp, alpha, renorm)
    assert got["uniformity_image"] == pytest.approx(A.uniformity(x), abs=1e-6)
    assert got["uniformity_text"] == pytest.approx(A.uniformity(y), abs=1e-6)
    assert got["effective_rank_text"] == pytest.approx(A.effective_rank(y), rel=1e-5)
    shares = A.principal_gap_shares(np.vstack([x, y]), x.mean(axis=0) - y.mean(axis=0))
    assert got["top_k_components_share"] == pytest.approx(shares[:2].sum(), abs=1e-5)
    assert [c["component"] for c in got["gap_components"]] == [1, 2, 3, 4]
    x0, y0 = _shown(sp, 0.0, True)
    assert got["separability"] == A.linear_separability(x0, y0, folds=5, seed=1, alpha=alpha, renormalize=renorm)
    assert got["uniformity_method"] == got["pca_method"] == "exact"
    assert "all pairs" in got["separability_method"] and "5-fold" in got["separability_method"]


def test_sampled_measures_state_and_use_their_seeded_samples(monkeypatch):
    for name, size in (("UNIFORMITY", 40), ("PCA", 60), ("SEPARABILITY", 50)):
        monkeypatch.setattr(E, f"{name}_EXACT_UP_TO", size)
        monkeypatch.setattr(E, f"{name}_SAMPLE", size)
    sp = _space(m=200)
    got = E.sampled_measures(sp, 0.0, True, seed=3)
    pos = engine_numbers.sample_positions(200, 40, 3)
    x, y = _shown(sp, 0.0, True, pos)
    assert got["uniformity_text"] == pytest.approx(A.uniformity(y), abs=1e-6)
    pos = engine_numbers.sample_positions(200, 60, 3)
    x, _ = _shown(sp, 0.0, True, pos)
    assert got["effective_rank_image"] == pytest.approx(A.effective_rank(x), rel=1e-5)
    assert "seeded sample of 40 of the 200 pairs" in got["uniformity_method"]
    assert "seeded sample of 60 of the 200 pairs" in got["pca_method"]
    assert "seeded sample of 50 of the 200 pairs" in got["separability_method"]


@pytest.mark.parametrize("renorm", [True, False])
def test_top_k_closing_equals_the_analysis_on_the_materialised_closing(renorm):
    sp = _space(m=300)
    got = E.top_k_closing(sp, 4, logit_scale=30.0, batch_size=50, alpha=0.8, renormalize=renorm)
    x2, y2 = A.close_gap_top_k(sp.image, sp.text, 4, 0.8, renorm)
    assert got["distance"] == pytest.approx(gap_distance(x2, y2), rel=1e-5)
    assert got["loss"] == pytest.approx(contrastive_loss(x2, y2, 30.0, 50), rel=1e-5)
    r = recall_at_k(x2, y2, ks=(1,))
    assert (got["r1_image_to_text"], got["r1_text_to_image"]) == (r["image_to_text@1"], r["text_to_image@1"])
    assert got["recall_method"] == "exact"


def test_top_k_closing_of_every_dimension_is_the_whole_closing():
    sp = _space(m=200, d=16)
    got = E.top_k_closing(sp, 16, logit_scale=50.0, batch_size=20, alpha=1.0)
    assert got["loss"] == pytest.approx(engine_numbers.loss(sp, 50.0, 20, "symmetric", 1.0, True), rel=1e-6)
    assert got["distance"] == pytest.approx(engine_numbers.gap_distance(sp, 1.0, True), rel=1e-6)


def test_top_k_closing_of_a_selection_uses_the_selection():
    base = _space(m=300)
    active = np.arange(0, 300, 2)
    sp = PairSpace(base.image, base.text, active, key=base.key[0], active_key="even")
    got = E.top_k_closing(sp, 3, logit_scale=30.0, batch_size=25, alpha=1.0)
    x2, y2 = A.close_gap_top_k(base.image[active], base.text[active], 3, 1.0, True)
    assert got["loss"] == pytest.approx(contrastive_loss(x2, y2, 30.0, 25), rel=1e-5)


def test_anatomy_row_has_the_documented_keys_and_is_valid_json():
    sp = _space(m=120)
    row = E.anatomy_row(sp, logit_scale=30.0, batch_size=20, top_k=3)
    assert tuple(row) == E.ANATOMY_KEYS
    json.dumps(row, allow_nan=False)
    assert row["top_k"] == 3 and len(row["gap_dimensions"]) == E.BARS
    assert row["top_k_loss_difference"] == pytest.approx(row["top_k_closed_loss"] - engine_numbers.loss(sp, 30.0, 20), abs=1e-12)
    assert row["closed_separability"] < row["original_separability"]


def test_too_few_pairs_is_a_clear_error():
    x = np.ones((1, 3), np.float32) / np.sqrt(3)
    with pytest.raises(ValueError, match="at least 2 shown pairs"):
        E.pass_measures(PairSpace(x, x, key="one"))
