"""cloob:PATH on synthesised checkpoints in ml-jku CLOOB's published layout (module. prefix,
nested text tower, logit_inv_tau, logit_scale_hopfield, model_config_file), checked against a
plain open_clip RN50-quickgelu / RN50x4-quickgelu forward pass with the same weights."""

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
    write_cloob_checkpoint,
)

from explorer.errors import DataError, MissingResourceError
from explorer.models import load_model
from explorer.models.cloob import infer_resnet_arch, remap_cloob_keys

torch.set_num_threads(2)
SEED = 1


@pytest.fixture(scope="module")
def cloob_file(tmp_path_factory):
    return write_cloob_checkpoint(tmp_path_factory.mktemp("cloob") / "cloob_rn50_yfcc_epoch_28.pt",
                                  SEED)


@pytest.fixture(scope="module")
def cloob_model(cloob_file):
    return load_model(f"cloob:{cloob_file}", device="cpu")


@pytest.mark.slow
def test_rn50_embeddings_equal_open_clip_forward(cloob_model, amumo_dir):
    images = example_images(amumo_dir, 3)
    ref_x, ref_y = openai_reference_embeddings(
        "RN50-quickgelu", openai_layout_state_dict("RN50-quickgelu", SEED, logit_scale=math.log(30)),
        images, EXAMPLE_CAPTIONS)
    x = cloob_model.encode_images(images)
    y = cloob_model.encode_texts(list(EXAMPLE_CAPTIONS))
    diff = max(np.abs(x - ref_x).max(), np.abs(y - ref_y).max())
    print(f"cloob RN50 max abs diff vs open_clip RN50-quickgelu: {diff:.3g}")
    assert x.shape == (3, 1024) and diff < 1e-4
    assert (x @ x.T)[np.triu_indices(3, 1)].max() < 0.999


@pytest.mark.slow
def test_rn50x4_embeddings_equal_open_clip_forward(tmp_path, amumo_dir):
    path = write_cloob_checkpoint(tmp_path / "cloob_rn50x4_yfcc_epoch_28.pt", SEED, arch="RN50x4")
    model = load_model(f"cloob:{path}", device="cpu")
    assert "RN50x4-quickgelu" in model.id and "288" in model.preprocessing
    images = example_images(amumo_dir, 2)
    captions = list(EXAMPLE_CAPTIONS[:2])
    ref_x, ref_y = openai_reference_embeddings(
        "RN50x4-quickgelu",
        openai_layout_state_dict("RN50x4-quickgelu", SEED, logit_scale=math.log(30)),
        images, captions, image_size=288)
    diff = max(np.abs(model.encode_images(images) - ref_x).max(),
               np.abs(model.encode_texts(captions) - ref_y).max())
    print(f"cloob RN50x4 max abs diff vs open_clip RN50x4-quickgelu: {diff:.3g}")
    assert diff < 1e-4


@pytest.mark.slow
def test_scale_is_exp_logit_inv_tau_and_id(cloob_model, cloob_file):
    from explorer.models.weights_file import weights_digest

    assert cloob_model.logit_scale == pytest.approx(30.0, rel=1e-6)
    assert "logit_inv_tau" in cloob_model.provenance["logit_scale_source"]
    assert cloob_model.id.startswith("cloob:RN50-quickgelu:")
    assert weights_digest(cloob_file)[:16] in cloob_model.id
    assert cloob_model.preprocessing in cloob_model.id and "s=30" in cloob_model.id
    # the remapped logit_inv_tau became the module's logit_scale; Hopfield beta was dropped
    assert float(cloob_model.module.logit_scale) == pytest.approx(math.log(30.0), rel=1e-6)


def test_remap_exact_small_case(tmp_path):
    t = {k: torch.tensor(float(i)) for i, k in enumerate([
        "visual.conv1.weight", "transformer.transformer.resblocks.0.ln_1.weight",
        "transformer.token_embedding.weight", "transformer.positional_embedding",
        "transformer.ln_final.bias", "transformer.text_projection", "logit_inv_tau",
        "logit_scale_hopfield"])}
    out = remap_cloob_keys(t, path=tmp_path / "x.pt")
    assert {k: float(v) for k, v in out.items()} == {
        "visual.conv1.weight": 0.0, "transformer.resblocks.0.ln_1.weight": 1.0,
        "token_embedding.weight": 2.0, "positional_embedding": 3.0, "ln_final.bias": 4.0,
        "text_projection": 5.0, "logit_scale": 6.0}


def test_architecture_inferred_from_shapes():
    for arch in ("RN50-quickgelu", "RN50x4-quickgelu", "RN101-quickgelu"):
        assert infer_resnet_arch(_meta_shapes(arch)) == arch
    assert infer_resnet_arch({"visual.conv1.weight": torch.empty(1)}) is None


def _meta_shapes(arch):
    from synth_checkpoints import _open_clip_shapes

    return {k: torch.empty(s, device="meta") for k, s, _ in _open_clip_shapes(arch)}


@pytest.mark.slow
def test_without_model_config_file_the_shapes_decide(tmp_path):
    path = write_cloob_checkpoint(tmp_path / "noconfig.pt", SEED, config_file=None, hopfield_beta=None)
    model = load_model(f"cloob:{path}", device="cpu")
    assert model.id.startswith("cloob:RN50-quickgelu:") and model.logit_scale == pytest.approx(30.0)


@pytest.fixture(scope="module")
def published_state(cloob_file):
    """The published state dict of `cloob_file` (module. prefix, ml-jku names), in memory."""
    return torch.load(cloob_file, weights_only=True)["state_dict"]


@pytest.mark.parametrize("config_file, expected", [
    ("RN50x4.json", "the image tower's weights have the shapes of RN50"),
    ("Hopfield-9000.json", "no open_clip QuickGELU counterpart"),
])
@pytest.mark.slow
def test_bad_model_config_file(tmp_path, published_state, config_file, expected):
    path = tmp_path / "config.pt"
    torch.save({"state_dict": published_state, "model_config_file": config_file}, path)
    with pytest.raises(DataError) as err:
        load_model(f"cloob:{path}")
    assert str(path) in str(err.value) and config_file in str(err.value)
    assert expected in str(err.value)


def test_openai_layout_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "cyclip-3M.pt"
    torch.save({"epoch": 1, "state_dict": {"module.transformer.resblocks.0.ln_1.weight": torch.ones(512),
                                           "module.logit_scale": torch.tensor(4.6)}}, path)
    with pytest.raises(DataError) as err:
        load_model(f"cloob:{path}")
    assert str(path) in str(err.value) and "cyclip:" in str(err.value)


def test_missing_keys(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"state_dict": {"module.transformer.transformer.resblocks.0.ln_1.weight": torch.ones(512),
                               "module.logit_inv_tau": torch.tensor(math.log(30))},
                "model_config_file": "RN50.json"}, path)
    with pytest.raises(DataError) as err:
        load_model(f"cloob:{path}")
    assert str(path) in str(err.value) and "missing" in str(err.value)


@pytest.mark.slow
def test_wrong_shape_and_missing_tau(tmp_path, published_state):
    sd = dict(published_state)
    sd["module.transformer.ln_final.weight"] = torch.ones(7)
    torch.save({"state_dict": sd, "model_config_file": "RN50.json"}, tmp_path / "shape.pt")
    with pytest.raises(DataError) as err:
        load_model(f"cloob:{tmp_path / 'shape.pt'}")
    assert str(tmp_path / "shape.pt") in str(err.value)
    assert "ln_final.weight" in str(err.value) and "(7,)" in str(err.value)

    sd = {k: v for k, v in published_state.items() if k != "module.logit_inv_tau"}
    torch.save({"state_dict": sd, "model_config_file": "RN50.json"}, tmp_path / "tau.pt")
    with pytest.raises(DataError, match="logit_inv_tau"):
        load_model(f"cloob:{tmp_path / 'tau.pt'}")


def test_missing_file(tmp_path):
    with pytest.raises(MissingResourceError) as err:
        load_model(f"cloob:{tmp_path / 'cloob_rn50_yfcc_epoch_28.pt'}")
    msg = str(err.value)
    assert "ml.jku.at/research/CLOOB" in msg and "cloob_rn50_yfcc_epoch_28.pt" in msg and "\n" not in msg
