"""Projections: modes, row layout, the on-disk cache, refusals; PCA against the article's export."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis import projection as P
from explorer.errors import SpecError


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def planar_pairs(n=12, seed=0):
    """Embeddings lying in a 2-D plane of a 5-D space (so 2 PCA components are an isometry)."""
    rng = np.random.default_rng(seed)
    ang_x = rng.uniform(0, np.pi / 2, n)
    ang_y = ang_x + 1.0
    basis = np.linalg.qr(rng.normal(size=(5, 5)))[0][:, :2]
    x = np.c_[np.cos(ang_x), np.sin(ang_x)] @ basis.T
    y = np.c_[np.cos(ang_y), np.sin(ang_y)] @ basis.T
    return x, y


def pdist(a):
    return np.linalg.norm(a[:, None, :] - a[None, :, :], axis=-1)


def test_pca_joint_is_an_isometry_for_planar_data():
    x, y = planar_pairs()
    p = P.project(x, y, "PCA", "joint")
    assert p.coords.shape[0] == 24 and p.n_pairs == 12
    np.testing.assert_allclose(pdist(p.coords[:, :2]), pdist(np.vstack([x, y])), atol=1e-10)
    # rows: images first, then captions
    np.testing.assert_allclose(p.image_coords(), p.coords[:12])
    np.testing.assert_allclose(p.text_coords(), p.coords[12:])
    assert p.explained_variance_ratio[:2].sum() == pytest.approx(1.0)


def test_pca_keeps_up_to_ten_components():
    rng = np.random.default_rng(1)
    x, y = unit(rng.normal(size=(30, 16))), unit(rng.normal(size=(30, 16)))
    assert P.project(x, y, "PCA").n_components == 10
    x3, y3 = unit(rng.normal(size=(30, 3))), unit(rng.normal(size=(30, 3)))
    assert P.project(x3, y3, "PCA").n_components == 3


def test_fit_image_places_identical_texts_on_their_images():
    rng = np.random.default_rng(2)
    x = unit(rng.normal(size=(20, 8)))
    p = P.project(x, x.copy(), "PCA", "fit-image")
    np.testing.assert_allclose(p.text_coords(), p.image_coords(), atol=1e-12)
    q = P.project(x, x.copy(), "PCA", "fit-text")
    np.testing.assert_allclose(q.text_coords(), q.image_coords(), atol=1e-12)


def test_fit_image_uses_only_images_for_the_fit():
    rng = np.random.default_rng(3)
    x = unit(rng.normal(size=(20, 8)))
    y1 = unit(rng.normal(size=(20, 8)))
    y2 = unit(rng.normal(size=(20, 8)))
    a = P.project(x, y1, "PCA", "fit-image")
    b = P.project(x, y2, "PCA", "fit-image")
    np.testing.assert_allclose(a.image_coords(), b.image_coords())  # texts did not move the fit
    assert not np.allclose(a.text_coords(), b.text_coords())


def test_concatenated_gives_one_point_per_pair():
    rng = np.random.default_rng(4)
    x, y = unit(rng.normal(size=(15, 6))), unit(rng.normal(size=(15, 6)))
    p = P.project(x, y, "PCA", "concatenated")
    assert p.one_point_per_pair and p.coords.shape[0] == 15
    with pytest.raises(ValueError):
        p.image_coords()
    # identical to PCA of the concatenated vectors: pairwise distances in 10 components of 12 dims
    z = np.hstack([x, y])
    full = P.project(z[:, :6], z[:, 6:], "PCA", "concatenated")
    np.testing.assert_allclose(pdist(full.coords), pdist(p.coords))


def test_tsne_has_no_out_of_sample_mode():
    x, y = planar_pairs()
    for mode in ("fit-image", "fit-text"):
        with pytest.raises(SpecError, match="t-SNE"):
            P.project(x, y, "t-SNE", mode)


def test_bad_method_mode_and_params_are_refused():
    x, y = planar_pairs()
    with pytest.raises(SpecError):
        P.project(x, y, "MDS")
    with pytest.raises(SpecError):
        P.project(x, y, "PCA", "sideways")
    with pytest.raises(SpecError, match="unknown"):
        P.project(x, y, "UMAP", params={"n_neigbors": 5})
    with pytest.raises(SpecError):
        P.project(x[:1], y[:1], "PCA", "fit-image")
    with pytest.raises(SpecError):
        P.project(x, y[:5], "PCA")


def test_default_params_clamp_neighbourhoods_below_n():
    assert P.default_params("UMAP", 8)["n_neighbors"] == 7
    assert P.default_params("t-SNE", 10)["perplexity"] == pytest.approx(3.0)
    assert P.default_params("t-SNE", 1000)["perplexity"] == 30.0


def test_cache_hit_on_second_call_without_recomputing(tmp_path, monkeypatch):
    x, y = planar_pairs()
    calls = []
    real = P.fit_pca
    monkeypatch.setattr(P, "fit_pca", lambda *a: calls.append(1) or real(*a))
    first = P.project(x, y, "PCA", cache_root=tmp_path)
    second = P.project(x, y, "PCA", cache_root=tmp_path)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert len(calls) == 1
    np.testing.assert_array_equal(first.coords, second.coords)
    np.testing.assert_allclose(first.explained_variance_ratio, second.explained_variance_ratio)
    files = sorted(p.name for p in (tmp_path / "projections").iterdir())
    assert files == [f"{first.key}.json", f"{first.key}.npy"]  # no temporary files left


def test_cache_key_follows_content_method_params_and_seed(tmp_path):
    x, y = planar_pairs()
    k = P.projection_key(x, y, "PCA", "joint", {}, 0)
    assert k == P.projection_key(x.copy(), y.copy(), "PCA", "joint", {}, 0)
    y2 = y.copy()
    y2[0, 0] += 1e-9
    others = {
        P.projection_key(x, y2, "PCA", "joint", {}, 0),
        P.projection_key(x, y, "UMAP", "joint", {}, 0),
        P.projection_key(x, y, "PCA", "fit-image", {}, 0),
        P.projection_key(x, y, "PCA", "joint", {"a": 1}, 0),
        P.projection_key(x, y, "PCA", "joint", {}, 1),
        P.projection_key(x.astype(np.float32), y.astype(np.float32), "PCA", "joint", {}, 0),
    }
    assert k not in others and len(others) == 6


def test_damaged_cache_file_is_recomputed_not_returned(tmp_path):
    x, y = planar_pairs()
    first = P.project(x, y, "PCA", cache_root=tmp_path)
    npy = tmp_path / "projections" / f"{first.key}.npy"
    npy.write_bytes(b"not a numpy file")
    again = P.project(x, y, "PCA", cache_root=tmp_path)
    assert not again.from_cache
    np.testing.assert_allclose(again.coords, first.coords)
    # a wrong-shaped array under the right name is not trusted either
    np.save(npy, np.zeros((3, 2)))
    assert not P.project(x, y, "PCA", cache_root=tmp_path).from_cache
    assert P.project(x, y, "PCA", cache_root=tmp_path).from_cache


def test_progress_callback_receives_status_lines():
    x, y = planar_pairs()
    lines = []
    P.project(x, y, "PCA", progress=lines.append)
    assert lines and "PCA" in lines[0] and lines[-1] == ""


def test_tsne_and_umap_joint_run_and_are_seeded(tmp_path):
    rng = np.random.default_rng(5)
    x, y = unit(rng.normal(size=(20, 8)) + 2), unit(rng.normal(size=(20, 8)) - 2)
    t1 = P.project(x, y, "t-SNE", params={"max_iter": 250})
    t2 = P.project(x, y, "t-SNE", params={"max_iter": 250})
    assert t1.coords.shape == (40, 2) and np.isfinite(t1.coords).all()
    np.testing.assert_allclose(t1.coords, t2.coords)
    u = P.project(x, y, "UMAP", mode="fit-image", cache_root=tmp_path)
    assert u.coords.shape == (40, 2) and np.isfinite(u.coords).all()
    assert "n_neighbors=15" in u.describe() and "seed 0" in u.describe()


def test_pca_matches_the_articles_exported_projection(amumo_dir):
    """The article's PCA coordinates (projections.csv) are reproduced up to the axes' signs."""
    import pandas as pd

    from explorer.sources import open_source

    folder = amumo_dir("MSCOCO-Val_size-100")
    src = open_source(f"amumo:{folder}")
    exported = pd.read_csv(folder / "projections.csv")
    for m in ("CLIP", "CyCLIP"):
        e = src.embeddings[m]
        p = P.project(e.image, e.text, "PCA", "joint")
        for c, axis in ((0, "x"), (1, "y")):
            a = exported[f"{m}_PCA_{axis}"].to_numpy()
            b = p.coords[:, c]
            np.testing.assert_allclose(a, np.sign(a @ b) * b, atol=2e-3)
