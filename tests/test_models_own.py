"""The project's own models: the three shipped ones load offline and embed deterministically;
own:PATH loads what `python -m explorer train` writes; bad files give clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.cli import main as cli_main
from explorer.data.shapes import load_shapes
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.models import load_model
from explorer.models.own import SHIPPED, WEIGHTS_DIR, load_own

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def few():
    return load_shapes("12")


@pytest.fixture(scope="module")
def shipped():
    return {name: load_model(f"own:{name}", device="cpu") for name in SHIPPED}


def test_shipped_files_are_small_and_record_how_they_were_made():
    for name in SHIPPED:
        weights, config = WEIGHTS_DIR / f"{name}.safetensors", WEIGHTS_DIR / f"{name}.json"
        assert weights.is_file() and config.is_file()
        assert weights.stat().st_size < 8 * 1024 * 1024
        cfg = json.loads(config.read_text())
        assert cfg["objective"] == name
        training = cfg["training"]
        assert training["command"].startswith("python -m explorer train")
        assert f"--objective {name}" in training["command"]
        assert "--seed" in training["command"] and "--data-seed 1" in training["command"]
        assert training["data"]["data_seed"] == 1  # not the evaluation seed 0
        assert isinstance(training["seed"], int)


def test_shipped_models_load_with_distinct_ids_and_scales(shipped):
    ids = {m.id for m in shipped.values()}
    assert len(ids) == 3
    for name, m in shipped.items():
        assert m.name == f"own:{name}"
        assert m.id.startswith(f"own-{name}/") and m.weights_sha256[:16] in m.id
        assert m.preprocessing and m.preprocessing in m.id
    assert shipped["cloob"].logit_scale == 30.0
    for name in ("clip", "cyclip"):
        assert 1.0 <= shipped[name].logit_scale <= 100.0


def test_shipped_models_embed_deterministically(shipped, few):
    images = [few.images.open(i) for i in range(len(few))]
    for name, m in shipped.items():
        x1, y1 = m.encode_images(images), m.encode_texts(list(few.captions))
        again = load_own(name, device="cpu")
        x2, y2 = again.encode_images(images), again.encode_texts(list(few.captions))
        assert x1.shape == (12, m.net.arch.dim) and y1.shape == x1.shape
        assert x1.dtype == np.float32
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_allclose(np.linalg.norm(x1, axis=1), 1, atol=1e-5)
        # a row does not depend on the rest of its batch
        np.testing.assert_allclose(m.encode_texts([few.captions[3]])[0], y1[3], atol=1e-5)
        np.testing.assert_allclose(m.encode_images([images[5]])[0], x1[5], atol=1e-5)


def test_shipped_models_match_captions_better_than_chance(shipped):
    """On 100 held-out pairs (evaluation seed) the true caption outranks most others."""
    pairs = load_shapes("100")
    images = [pairs.images.open(i) for i in range(len(pairs))]
    for name, m in shipped.items():
        x, y = m.encode_images(images), m.encode_texts(list(pairs.captions))
        s = x @ y.T
        ranks = (s > np.diag(s)[:, None]).sum(axis=1)
        assert np.median(ranks) < 25, (name, np.median(ranks))  # chance: about 50


def test_unknown_words_and_empty_captions_still_embed(shipped):
    y = shipped["clip"].encode_texts(["", "a zebra on the moon", "a red circle"])
    assert np.isfinite(y).all()


def test_own_path_loads_what_train_writes(tmp_path, few, capsys):
    out = tmp_path / "run"
    rc = cli_main(["train", "--objective", "cloob", "--n", "48", "--val", "16", "--epochs", "1", "--batch-size", "16",
                   "--out", str(out), "--quiet"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "model.json", "loss_log.csv"}
    cfg = json.loads((out / "model.json").read_text())
    assert cfg["objective"] == "cloob" and cfg["logit_scale"] == 30.0
    assert "--n 48" in cfg["training"]["command"] and "--data-seed 1" in cfg["training"]["command"]
    assert cfg["training"]["data"]["data_seed"] == 1
    m = load_model(f"own:{out}", device="cpu")
    assert m.name == f"own:{out}" and cfg["weights_sha256"][:16] in m.id
    x = m.encode_images([few.images.open(0)])
    assert x.shape == (1, cfg["architecture"]["dim"])
    assert load_own(str(out / "model.json")).id == m.id
    # a second run into the same directory needs --force
    assert cli_main(["train", "--objective", "cloob", "--n", "48", "--val", "0", "--epochs", "1", "--batch-size", "16",
                     "--out", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err


def test_clear_errors_for_missing_or_broken_models(tmp_path):
    with pytest.raises(SpecError):
        load_own("", device="cpu")
    with pytest.raises(MissingResourceError, match="no such model"):
        load_own(str(tmp_path / "nothing"), device="cpu")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.json").write_text("{}")
    with pytest.raises(MissingResourceError, match="model.safetensors"):
        load_own(str(tmp_path / "half"), device="cpu")
    (tmp_path / "half" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(DataError):
        load_own(str(tmp_path / "half"), device="cpu")
