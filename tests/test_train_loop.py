"""The training loop, the model files it writes and the train command, on a tiny model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from explorer.data.shapes import load_shapes
from explorer.errors import DataError
from explorer.train.checkpoint import load_model_files, model_files, save_model, weights_hash
from explorer.train.encoders import Architecture, BimodalNet, image_to_tensor, image_to_uint8
from explorer.train.loop import TrainConfig, decode_images, evaluate, train
from explorer.train.vocab import Vocabulary

torch.set_num_threads(1)

TINY = Architecture(dim=32, image_size=32, cnn_width=16, image_hidden=64, text_width=32, text_layers=1, text_heads=2,
                    max_len=24)


@pytest.fixture(scope="module")
def pairs():
    return load_shapes("320:3:32")


def test_vocabulary_and_tokenizer():
    v = Vocabulary.build(["a red circle", "a blue circle", "Two RED stars"])
    assert v.words[:3] == ("<pad>", "<unk>", "<cls>")
    assert v.words[3:6] == ("a", "circle", "red")  # by count, then alphabetically
    ids = v.encode("a red dog", 6)
    assert ids == [2, v.id("a"), v.id("red"), 1, 0, 0]
    assert v.encode("a a a a a a a a", 4) == [2, v.id("a"), v.id("a"), v.id("a")]
    assert v.tokenize(["a", "red circle"], 5).shape == (2, 5)
    assert v.unknown_share(["a dog"]) == 0.5
    with pytest.raises(ValueError):
        Vocabulary(("a", "b", "c"))


def test_preprocessing_resizes_crops_and_normalises():
    from PIL import Image

    im = Image.new("RGB", (80, 40), (255, 0, 128))
    a = image_to_uint8(im, 32)
    assert a.shape == (3, 32, 32) and a.dtype == np.uint8
    t = image_to_tensor(im, 32)
    assert torch.allclose(t[0], torch.full((32, 32), (1.0 - 0.5) / 0.25))
    assert torch.allclose(t[1], torch.full((32, 32), (0.0 - 0.5) / 0.25))


def test_short_training_lowers_the_loss(pairs):
    images = decode_images(pairs, TINY.image_size, progress=False)
    vocab = Vocabulary.build(pairs.captions)
    arch = Architecture.from_dict({**TINY.to_dict(), "vocab_size": len(vocab)})
    tokens = vocab.tokenize(pairs.captions, arch.max_len)
    b = 32
    for objective in ("clip", "cyclip", "cloob"):
        torch.manual_seed(0)
        before = evaluate(BimodalNet(arch), objective, images, tokens, b)
        result = train(pairs, TrainConfig(objective, epochs=10, batch_size=b, lr=1e-3, warmup_steps=10, seed=0),
                       arch=TINY, vocab=vocab, progress=False)
        after = evaluate(result.net, objective, images, tokens, b)
        margin = 0.01 if objective == "cloob" else 0.3  # CLOOB's loss is scaled by τ = 1/30
        assert after["loss"] < before["loss"] - margin, (objective, before, after)
        assert after["r1_image_to_text"] > 2 / len(pairs), (objective, after)  # chance is 1/320
        assert len(result.steps) == 10 * (len(pairs) // b)
        assert [e["epoch"] for e in result.epochs] == list(range(1, 11))
        if objective == "cloob":
            # below the value of collapsed embeddings (all k equal): 2·log(B−1)/τ⁻¹
            assert after["loss"] < 2 * np.log(b - 1) / 30 - 0.01


def test_training_is_deterministic_by_seed_and_logs(pairs, tmp_path):
    sub = pairs.subset(range(64))
    cfg = TrainConfig("cyclip", epochs=1, batch_size=32, warmup_steps=1, seed=4)
    a = train(sub, cfg, arch=TINY, val_pairs=pairs.subset(range(64, 96)), progress=False)
    b = train(sub, cfg, arch=TINY, progress=False)
    assert weights_hash(a.net.state_dict()) == weights_hash(b.net.state_dict())
    c = train(sub, TrainConfig("cyclip", epochs=1, batch_size=32, warmup_steps=1, seed=5), arch=TINY, progress=False)
    assert weights_hash(c.net.state_dict()) != weights_hash(a.net.state_dict())
    assert {"val_loss", "val_r1_image_to_text", "val_r1_text_to_image"} <= set(a.epochs[0])
    assert 1.0 <= a.logit_scale <= 100.0
    a.write_loss_log(tmp_path / "log.csv")
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert len(rows) == 2 and float(rows[0]["loss"]) == pytest.approx(a.steps[0]["loss"])


def test_temperature_stays_clamped(pairs):
    net = train(pairs.subset(range(32)), TrainConfig("clip", epochs=1, batch_size=16, lr=50.0, warmup_steps=1),
                arch=TINY, progress=False).net
    t = float(net.logit_t.detach())
    # Adam at lr 50 moves t by about 50 per step: it must sit on a bound of [0, ln 100]
    assert t == pytest.approx(0.0, abs=1e-6) or t == pytest.approx(np.log(100), abs=1e-6), t


def test_save_and_load_round_trip_and_corruption(pairs, tmp_path):
    result = train(pairs.subset(range(32)), TrainConfig("cloob", epochs=1, batch_size=16), arch=TINY, progress=False)
    save_model(tmp_path, "model", result.net, result.vocab, {"objective": "cloob", "logit_scale": 30.0})
    weights, config = model_files(tmp_path)
    net, vocab, cfg = load_model_files(weights, config)
    assert vocab == result.vocab
    assert weights_hash(net.state_dict()) == cfg["weights_sha256"] == weights_hash(result.net.state_dict())
    assert not list(tmp_path.glob("*.tmp"))

    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match="do not match"):
        load_model_files(weights, config)
    config.write_text("{not json")
    with pytest.raises(DataError, match="JSON"):
        load_model_files(weights, config)
    config.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataError, match="own-model"):
        load_model_files(weights, config)


def test_training_needs_images(pairs):
    from dataclasses import replace

    with pytest.raises(DataError, match="images"):
        train(replace(pairs, images=None), TrainConfig("clip", epochs=1, batch_size=16), arch=TINY, progress=False)
