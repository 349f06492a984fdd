"""`python -m explorer embed`: --json, --export, cache hits, skipped items, options and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tiny_model
from PIL import Image

from explorer import cli
from explorer.commands.embed import parse_options
from explorer.errors import SpecError
from explorer.store import EmbeddingStore


@pytest.fixture(autouse=True)
def tiny_spec(monkeypatch):
    from explorer import models

    monkeypatch.setitem(models.MODEL_LOADERS, "tiny", "tiny_model:load_tiny")


def run(capsys, *argv):
    code = cli.main(["embed", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def csv_file(tmp_path):
    tiny_model.write_images(tmp_path / "imgs", 6)
    (tmp_path / "imgs" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\ncorrupt")
    rows = [(f"imgs/{i}.png", f"caption {i}") for i in range(6)] + [("imgs/missing.png", "no file")]
    pd.DataFrame(rows, columns=["image", "caption"]).to_csv(tmp_path / "pairs.csv", index=False)
    return tmp_path / "pairs.csv"


def test_json_then_cache_hit(capsys, csv_file, tmp_path):
    code, out, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--json", "--no-progress", "--batch-size", "2")
    assert code == 0, err
    first = json.loads(out)
    assert set(first) == {"store_path", "n", "dim", "model", "dataset", "cache_hit"}
    assert first["n"] == 5 and first["dim"] == 16 and first["model"] == "tiny:0" and first["cache_hit"] is False
    assert first["dataset"] == f"pairs:{csv_file}"
    # both the loader's skip (missing file) and the pipeline's (corrupt image) are printed
    assert "row 6: image file not found" in err
    assert "1 of 6 pairs could not be embedded" in err and "skipped pair 3 (3.png)" in err
    code, out, _ = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--json", "--no-progress")
    second = json.loads(out)
    assert second["cache_hit"] is True and second["store_path"] == first["store_path"]
    manifest = json.loads((Path(first["store_path"]) / "manifest.json").read_text(encoding="utf-8"))
    assert [s["index"] for s in manifest["provenance"]["skipped"]] == [3]
    assert any("image file not found" in n for n in manifest["dataset"]["notes"])


def test_export_writes_the_stacked_array(capsys, tmp_path, csv_file):
    out_file = tmp_path / "out" / "emb.npy"
    store = tmp_path / "my-store"
    code, out, err = run(
        capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--export", str(out_file), "--store", str(store), "--no-progress"
    )
    assert code == 0, err
    a = np.load(out_file)
    assert a.shape == (2, 5, 16) and a.dtype == np.float32
    (entry,) = EmbeddingStore(store).entries()
    emb = EmbeddingStore(store).load(entry.key)
    assert np.array_equal(a[0], emb.image) and np.array_equal(a[1], emb.text)
    model = tiny_model.TinyModel()
    kept = [0, 1, 2, 4, 5]
    x = model.encode_images([Image.open(csv_file.parent / "imgs" / f"{i}.png") for i in kept])
    np.testing.assert_allclose(a[0], x, atol=2e-6)
    assert "5 pairs x 16 dims" in out and "computed" in out and str(out_file) in out
    # the rows skip the corrupt pair 3: the sidecar table says which pair each row is
    table = pd.read_csv(out_file.with_name("emb.pairs.csv"))
    assert table["row"].tolist() == [0, 1, 2, 3, 4]
    assert table["pair_index"].tolist() == kept
    assert table["caption"].tolist() == [f"caption {i}" for i in kept]


def test_augment_rotation_series(capsys, tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    out_file = tmp_path / "rot.npy"
    code, out, err = run(
        capsys, "--dataset", f"augment:rotation:{tmp_path / 'p.png'}:a picture", "--model", "tiny:0", "--json", "--export", str(out_file), "--no-progress"
    )
    assert code == 0, err
    assert json.loads(out)["n"] == 100
    a = np.load(out_file)
    assert np.allclose(a[1], a[1][0], atol=1e-7)  # one caption
    assert not np.allclose(a[0][0], a[0][25], atol=1e-3)


def test_limit_and_loader_options(capsys, tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    code, out, err = run(
        capsys, "--dataset", f"augment:blur:{tmp_path / 'p.png'}:c", "--option", "steps=12", "--limit", "5", "--model", "tiny:0", "--json", "--no-progress"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 5 and "--steps 12" in result["dataset"] and "--limit 5 --seed 0" in result["dataset"]


def test_user_errors_are_one_line(capsys, csv_file):
    code, _, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "nosuch:model", "--no-progress")
    assert code == 2 and err.strip().startswith("error: unknown model spec") and "\n" not in err.strip()
    code, _, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--dask", "local", "--scheduler", "tcp://x:1")
    assert code == 2 and "either --dask" in err
    code, _, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--caption", "random")
    assert code == 2 and err.strip().startswith("error: pairs:") and "do not apply" in err
    code, _, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--export", "x.txt", "--no-progress")
    assert code == 2 and "--export writes a .npy file" in err
    # checked before any dataset work: a wrong export name is reported even when the dataset is missing too
    code, _, err = run(capsys, "--dataset", "pairs:/nonexistent/pairs.csv", "--model", "tiny:0", "--export", "x.txt", "--no-progress")
    assert code == 2 and "--export writes a .npy file" in err


def test_open_source_keeps_pairs_and_embeddings_aligned(csv_file):
    from explorer.sources import open_source

    source = open_source(f"pairs:{csv_file}", models=["tiny:0", "tiny:1"], progress=False)
    assert source.n == 5 and source.pairs.ids == ("0", "1", "2", "4", "5")
    assert all(e.n == 5 for e in source.embeddings.values())
    assert any("tiny:0: 1 of 6 pairs skipped" in n and "3.png" in n for n in source.notes)
    assert any("image file not found" in n for n in source.notes)  # the loader's skip report too
    x = tiny_model.TinyModel(seed=1).encode_images([source.pairs.images.open(i) for i in range(5)])
    np.testing.assert_allclose(source.embeddings["tiny:1"].image, x, atol=2e-6)


def test_parse_options():
    assert parse_options(["steps=12", "noise-seed=3", "split=train2017", "x=0.5", "flag=true"]) == {
        "steps": 12, "noise_seed": 3, "split": "train2017", "x": 0.5, "flag": True
    }
    with pytest.raises(SpecError):
        parse_options(["novalue"])


@pytest.mark.slow
def test_dask_local_cluster_from_the_command_line(capsys, tmp_path, csv_file):
    import dask

    # the workers of the cluster the command starts learn the tiny model's spec prefix from a
    # preload script (dask runs it in every worker process before any task)
    preload = tmp_path / "register_tiny.py"
    preload.write_text(
        f"import sys\nsys.path.insert(0, {str(Path(tiny_model.__file__).parent)!r})\n"
        "import tiny_model\ntiny_model.register()\n"
    )
    a, b = tmp_path / "local.npy", tmp_path / "dask.npy"
    code, _, err = run(capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--export", str(a), "--store", str(tmp_path / "s1"), "--no-progress")
    assert code == 0, err
    with dask.config.set({"distributed.worker.preload": [str(preload)]}):
        code, out, err = run(
            capsys, "--dataset", f"pairs:{csv_file}", "--model", "tiny:0", "--export", str(b), "--store", str(tmp_path / "s2"),
            "--no-progress", "--dask", "local:1", "--json",
        )
    assert code == 0, err
    assert json.loads(out)["cache_hit"] is False and "skipped pair 3 (3.png)" in err
    np.testing.assert_allclose(np.load(a), np.load(b), atol=1e-6)
