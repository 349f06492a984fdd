"""amumo-csv:PATH — Amumo's per-modality embedding caches (<dataset>_<model>_<arch>_<modality>-embedding.csv)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.analysis.gap import gap_distance
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.importers.amumo_csv import import_amumo_csv, parse_cache_name
from explorer.sources import open_source


def write_cache(folder, dataset, model, arch, image, text):
    """As Amumo writes them: np.savetxt(..., delimiter=','), '/' replaced by '-' in the prefix."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{dataset}_{model}_{arch}".replace("/", "-")
    np.savetxt(folder / f"{prefix}_image-embedding.csv", image, delimiter=",")
    np.savetxt(folder / f"{prefix}_text-embedding.csv", text, delimiter=",")


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.fixture
def caches(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "data_checkpoints"
    arrays = {}
    for model, arch in (("CLIP", "RN50"), ("CLOOB-LAION400M", "ViT/B/16"), ("OpenCLIP", "RN50"), ("Mystery", "X1")):
        x, y = rng.normal(size=(6, 4)) * 3, rng.normal(size=(6, 4)) * 0.2
        arrays[model] = (x, y)
        write_cache(d, "MSCOCO-Val_size-6", model, arch, x, y)
    return d, arrays


def test_names_are_read_from_the_right():
    assert parse_cache_name("MSCOCO-Val_size-100_CLOOB-LAION400M_ViT-B-16_text-embedding.csv") == {
        "dataset": "MSCOCO-Val_size-100", "model": "CLOOB-LAION400M", "arch": "ViT-B-16", "modality": "text"
    }
    assert parse_cache_name("random.csv") is None


def test_folder_import_normalises_and_names_models(caches):
    d, arrays = caches
    pairs, embs = import_amumo_csv(str(d))
    assert pairs is None
    assert set(embs) == {"CLIP", "CLOOB_LAION400M", "OpenCLIP", "Mystery"}
    x, y = arrays["CLIP"]
    np.testing.assert_allclose(embs["CLIP"].image, unit(x), atol=1e-6)
    np.testing.assert_allclose(embs["CLIP"].text, unit(y), atol=1e-6)
    assert embs["CLIP"].logit_scale == pytest.approx(100.0, abs=1e-4)
    assert embs["CLOOB_LAION400M"].logit_scale == 30.0
    assert embs["CLOOB_LAION400M"].provenance["architecture"] == "ViT-B-16"
    assert embs["OpenCLIP"].logit_scale == 100.0
    assert "assumed" in embs["Mystery"].provenance["note"]
    _, over = import_amumo_csv(str(d), logit_scale=7.0)
    assert {e.logit_scale for e in over.values()} == {7.0}


def test_single_file_and_dataset_prefix(caches):
    d, _ = caches
    _, one = import_amumo_csv(str(d / "MSCOCO-Val_size-6_CLIP_RN50_text-embedding.csv"))
    assert list(one) == ["CLIP"]
    _, by_prefix = import_amumo_csv(str(d / "MSCOCO-Val_size-6"))
    assert len(by_prefix) == 4


def test_several_datasets_need_a_choice(caches):
    d, arrays = caches
    write_cache(d, "DiffusionDB_size-6", "CLIP", "RN50", *arrays["CLIP"])
    with pytest.raises(SpecError, match="2 datasets.*DiffusionDB_size-6, MSCOCO-Val_size-6"):
        import_amumo_csv(str(d))
    _, embs = import_amumo_csv(str(d / "DiffusionDB_size-6"))
    assert list(embs) == ["CLIP"]


def test_two_architectures_of_one_model_get_distinct_names(tmp_path):
    rng = np.random.default_rng(1)
    for arch in ("RN50", "ViT-B-32"):
        write_cache(tmp_path, "D", "CLIP", arch, rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    _, embs = import_amumo_csv(str(tmp_path))
    assert sorted(embs) == ["CLIP/RN50", "CLIP/ViT-B-32"]


def test_bad_caches(tmp_path, caches):
    d, _ = caches
    (d / "MSCOCO-Val_size-6_Mystery_X1_text-embedding.csv").unlink()
    with pytest.raises(MissingResourceError, match="MSCOCO-Val_size-6_Mystery_X1_text-embedding.csv is missing"):
        import_amumo_csv(str(d))
    e = tmp_path / "e"
    write_cache(e, "D", "CLIP", "RN50", np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(DataError, match="3 image embeddings but 4 text"):
        import_amumo_csv(str(e))
    (e / "D_CLIP_RN50_text-embedding.csv").write_text("1,2\nx,y\n")
    with pytest.raises(DataError, match="cannot be read as a comma-separated numeric matrix"):
        import_amumo_csv(str(e))
    with pytest.raises(MissingResourceError):
        import_amumo_csv(str(tmp_path / "nothing"))
    (tmp_path / "f").mkdir()
    with pytest.raises(MissingResourceError, match="no Amumo cache files"):
        import_amumo_csv(str(tmp_path / "f"))
    (tmp_path / "f" / "x.csv").write_text("1\n")
    with pytest.raises(SpecError, match="not an Amumo cache file name"):
        import_amumo_csv(str(tmp_path / "f" / "x.csv"))


def test_real_article_geometry_survives_the_cache_format(amumo_dir, tmp_path):
    """Write the article's CLIP and CyCLIP embeddings (recovered from its export) as Amumo caches,
    unnormalised like raw features, and import them: the gap distance is the article's."""
    from explorer.importers.amumo import import_export

    folder = amumo_dir("MSCOCO-Val_size-100")
    _, exported = import_export(str(folder))
    rng = np.random.default_rng(2)
    for model in ("CLIP", "CyCLIP"):
        e = exported[model]
        scale = rng.uniform(0.5, 20, size=(e.n, 1))
        write_cache(tmp_path / "cache", "MSCOCO-Val_size-100", model, "RN50", np.asarray(e.image) * scale, np.asarray(e.text) * scale)
    source = open_source(f"amumo-csv:{tmp_path / 'cache'}")
    assert source.models == ["CLIP", "CyCLIP"]
    for model in ("CLIP", "CyCLIP"):
        meta = json.loads((folder / "similarities" / f"{model}_meta_info.json").read_text())
        emb = source.embeddings[model]
        assert gap_distance(emb.image, emb.text) == pytest.approx(meta["gap_distance"], abs=1e-6)
