"""cyclip:PATH on a synthesised checkpoint in CyCLIP's published layout, checked against a plain
open_clip RN50-quickgelu forward pass with the same weights and OpenAI's preprocessing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from synth_checkpoints import (
    EXAMPLE_CAPTIONS,
    example_images,
    openai_layout_state_dict,
    openai_reference_embeddings,
    write_cyclip_checkpoint,
)

from explorer.errors import DataError, MissingResourceError
from explorer.models import load_model

torch.set_num_threads(2)
SEED = 0


@pytest.fixture(scope="module")
def cyclip_file(tmp_path_factory):
    return write_cyclip_checkpoint(tmp_path_factory.mktemp("cyclip") / "cyclip-3M.pt", SEED)


@pytest.fixture(scope="module")
def cyclip_model(cyclip_file):
    return load_model(f"cyclip:{cyclip_file}", device="cpu")


@pytest.mark.slow
def test_embeddings_equal_open_clip_rn50_forward(cyclip_model, cyclip_file, amumo_dir):
    images = example_images(amumo_dir, 3)
    ref_x, ref_y = openai_reference_embeddings(
        "RN50-quickgelu", openai_layout_state_dict("RN50-quickgelu", SEED), images, EXAMPLE_CAPTIONS)
    x = cyclip_model.encode_images(images)
    y = cyclip_model.encode_texts(list(EXAMPLE_CAPTIONS))
    assert x.shape == (3, 1024) and y.shape == (len(EXAMPLE_CAPTIONS), 1024)
    assert x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    diff = max(np.abs(x - ref_x).max(), np.abs(y - ref_y).max())
    print(f"cyclip max abs diff vs open_clip RN50-quickgelu: {diff:.3g}")
    assert diff < 1e-4
    # the images are told apart (a degenerate random model would make this test meaningless)
    assert (x @ x.T)[np.triu_indices(3, 1)].max() < 0.999


@pytest.mark.slow
def test_tokenizer_truncates_keeping_eot(cyclip_model):
    tokens = cyclip_model.tokenize(list(EXAMPLE_CAPTIONS))
    assert tokens.shape == (len(EXAMPLE_CAPTIONS), 77)
    assert tokens[2, -1].item() == 49407  # the long caption: EOT kept as last token
    assert tokens[0, 0].item() == 49406 and (tokens[3, :2] == torch.tensor([49406, 49407])).all()


@pytest.mark.slow
def test_scale_id_and_provenance(cyclip_model, cyclip_file):
    import hashlib

    from explorer.models.weights_file import weights_digest

    assert cyclip_model.logit_scale == pytest.approx(100.0, rel=1e-6)
    assert cyclip_model.provenance["logit_scale_source"] == "checkpoint logit_scale"
    sha = hashlib.sha256(cyclip_file.read_bytes()).hexdigest()
    assert weights_digest(cyclip_file) == sha
    assert "RN50-quickgelu" in cyclip_model.id and sha[:16] in cyclip_model.id
    assert "bicubic" in cyclip_model.preprocessing and "224" in cyclip_model.preprocessing
    assert cyclip_model.preprocessing in cyclip_model.id
    assert "cyclip-3M.pt" in cyclip_model.name


@pytest.mark.slow
def test_own_logit_scale_fp16_and_missing_scale(tmp_path, cyclip_model):
    custom = write_cyclip_checkpoint(tmp_path / "a.pt", SEED, logit_scale=math.log(50.0),
                                     dtype=torch.float16)
    m = load_model(f"cyclip:{custom}", device="cpu")
    assert m.logit_scale == pytest.approx(50.0, rel=1e-3)  # t stored in fp16
    assert "s=50" in m.id
    assert m.id != cyclip_model.id  # other weights (fp16-rounded, other t) -> other id
    assert all(p.dtype == torch.float32 for p in m.module.parameters())
    none = write_cyclip_checkpoint(tmp_path / "b.pt", SEED, logit_scale=None)
    m2 = load_model(f"cyclip:{none}", device="cpu")
    assert m2.logit_scale == 100.0 and "default" in m2.provenance["logit_scale_source"]


@pytest.mark.slow
def test_ids_follow_the_weights_not_the_path(tmp_path, cyclip_file, cyclip_model):
    same = tmp_path / "renamed.pt"
    same.write_bytes(cyclip_file.read_bytes())
    assert load_model(f"cyclip:{same}", device="cpu").id == cyclip_model.id


def test_missing_file_says_what_where_and_how(tmp_path):
    missing = tmp_path / "nope" / "cyclip-3M.pt"
    with pytest.raises(MissingResourceError) as err:
        load_model(f"cyclip:{missing}")
    msg = str(err.value)
    assert str(missing) in msg and "cyclip-3M.pt" in msg and "drive.google.com" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("content, expected", [
    ("text", "cannot read"),
    ("list", "expected a dict with a 'state_dict'"),
    ("no_state_dict", "no 'state_dict' entry"),
    ("pickled_object", "weights_only"),
    ("few_keys", "missing"),
])
def test_wrong_files_name_the_file(tmp_path, content, expected):
    path = tmp_path / f"{content}.pt"
    if content == "text":
        path.write_text("this is not a checkpoint")
    elif content == "list":
        torch.save([torch.zeros(2)], path)
    elif content == "no_state_dict":
        torch.save({"epoch": 1, "model": {}}, path)
    elif content == "pickled_object":
        torch.save({"state_dict": {"module.x": torch.zeros(1)}, "extra": _Unsafe()}, path)
    else:
        torch.save({"state_dict": {"module.visual.conv1.weight": torch.zeros(32, 3, 3, 3)}}, path)
    with pytest.raises(DataError) as err:
        load_model(f"cyclip:{path}")
    assert str(path) in str(err.value) and expected in str(err.value)


@pytest.mark.slow
def test_wrong_shape_names_the_key(tmp_path):
    sd = openai_layout_state_dict("RN50-quickgelu", SEED)
    sd["text_projection"] = torch.zeros(512, 512)
    path = tmp_path / "shape.pt"
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, path)
    with pytest.raises(DataError) as err:
        load_model(f"cyclip:{path}")
    assert str(path) in str(err.value) and "text_projection" in str(err.value)
    assert "(512, 512)" in str(err.value)


class _Unsafe:
    """An arbitrary Python object: torch.load(weights_only=True) must refuse it."""
