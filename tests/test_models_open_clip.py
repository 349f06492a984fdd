"""open_clip:ARCH/TAG (local cache only, never the network) and open_clip:ARCH@PATH, plus the
weights-file helpers they share with the other loaders."""

from __future__ import annotations

import hashlib
import json
import os
import socket

import numpy as np
import pytest
import torch
from synth_checkpoints import (
    EXAMPLE_CAPTIONS,
    example_images,
    openai_layout_state_dict,
    openai_reference_embeddings,
    write_hf_cache_entry,
    write_open_clip_checkpoint,
)

from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.models import load_model
from explorer.models.open_clip_models import find_cached_weights, parse_open_clip_arg
from explorer.models.weights_file import read_torch_container, weights_digest

torch.set_num_threads(2)
SEED = 2


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test loudly instead of hanging."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    hub = tmp_path / "hf-hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.cache/clip is empty
    return hub


def test_parse_specs():
    assert parse_open_clip_arg("RN50-quickgelu/openai") == ("RN50-quickgelu", "openai", None)
    assert parse_open_clip_arg("ViT-B-32@/w/a@b.pt") == ("ViT-B-32", None, "/w/a@b.pt")
    for bad in ("RN50", "/openai", "RN50@", ""):
        with pytest.raises(SpecError):
            parse_open_clip_arg(bad)


def test_tag_without_cached_weights_is_one_clear_sentence(empty_caches, no_network):
    with pytest.raises(MissingResourceError) as err:
        load_model("open_clip:RN50-quickgelu/openai", device="cpu")
    msg = str(err.value)
    assert "RN50-quickgelu/openai" in msg and "not in the local cache" in msg
    assert str(empty_caches) in msg and "models--timm--resnet50_clip.openai" in msg
    assert "create_model('RN50-quickgelu', pretrained='openai')" in msg
    assert "open_clip:RN50-quickgelu@/path/to/weights" in msg
    assert "\n" not in msg


def test_url_published_tags_are_looked_up_in_dot_cache_clip(empty_caches, tmp_path, monkeypatch):
    import open_clip

    monkeypatch.setattr(open_clip, "get_pretrained_cfg",
                        lambda arch, tag: {"url": "https://example.invalid/abc/RN50.pt"})
    found, looked = find_cached_weights("RN50-quickgelu", "openai")
    target = tmp_path / "home" / ".cache" / "clip" / "RN50.pt"
    assert found is None and looked == [str(target)]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"weights")
    assert find_cached_weights("RN50-quickgelu", "openai")[0] == target


def test_unknown_tag_and_architecture():
    with pytest.raises(SpecError, match="its tags: .*openai"):
        load_model("open_clip:RN50-quickgelu/no-such-tag")
    with pytest.raises(SpecError, match="did you mean .*RN50"):
        load_model("open_clip:RN5O/openai")


@pytest.fixture(scope="module")
def weights_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("oc")
    return {"safetensors": write_open_clip_checkpoint(d / "open_clip_model.safetensors",
                                                      "RN50-quickgelu", SEED),
            "pt": write_open_clip_checkpoint(d / "rn50.pt", "RN50-quickgelu", SEED)}


_REFERENCE: dict = {}


@pytest.fixture
def reference(amumo_dir):
    """Images, captions and the reference embeddings of the seed-SEED RN50 weights (computed once)."""
    if not _REFERENCE:
        images = example_images(amumo_dir, 2)
        captions = list(EXAMPLE_CAPTIONS[:3])
        x, y = openai_reference_embeddings(
            "RN50-quickgelu", openai_layout_state_dict("RN50-quickgelu", SEED), images, captions)
        _REFERENCE["value"] = (images, captions, x, y)
    return _REFERENCE["value"]


def _max_diff(model, reference):
    images, captions, x, y = reference
    return max(np.abs(model.encode_images(images) - x).max(),
               np.abs(model.encode_texts(captions) - y).max())


@pytest.mark.slow
def test_tag_from_the_hub_cache(empty_caches, no_network, weights_files, reference):
    write_hf_cache_entry(empty_caches, "timm/resnet50_clip.openai", "open_clip_model.safetensors",
                         weights_files["safetensors"])
    found, _ = find_cached_weights("RN50-quickgelu", "openai")
    assert found is not None and found.name == "open_clip_model.safetensors"
    model = load_model("open_clip:RN50-quickgelu/openai", device="cpu")
    diff = _max_diff(model, reference)
    print(f"open_clip tag max abs diff: {diff:.3g}")
    assert diff < 1e-4
    assert model.logit_scale == pytest.approx(100.0, rel=1e-5)
    assert "tag=openai" in model.id and weights_digest(found)[:16] in model.id
    assert model.name == "open_clip RN50-quickgelu/openai"
    # RN50 (plain GELU config) with OpenAI's weights runs with QuickGELU, as the weights need
    plain = load_model("open_clip:RN50/openai", device="cpu")
    assert plain.provenance["quick_gelu_forced"] is True and "quickgelu" in plain.id
    assert _max_diff(plain, reference) < 1e-4


@pytest.mark.slow
def test_arch_at_path(weights_files, reference):
    model = load_model(f"open_clip:RN50-quickgelu@{weights_files['pt']}", device="cpu")
    diff = _max_diff(model, reference)
    print(f"open_clip ARCH@PATH max abs diff: {diff:.3g}")
    assert diff < 1e-4
    assert "rn50.pt" in model.name and "bicubic" in model.preprocessing
    # the same weights in another container: another file digest, the same embeddings
    other = load_model(f"open_clip:RN50-quickgelu@{weights_files['safetensors']}", device="cpu")
    assert other.id != model.id and _max_diff(other, reference) < 1e-4


@pytest.mark.slow
def test_arch_at_path_errors(tmp_path, weights_files):
    with pytest.raises(MissingResourceError, match="not found"):
        load_model(f"open_clip:RN50-quickgelu@{tmp_path / 'missing.pt'}")
    with pytest.raises(DataError) as err:
        load_model(f"open_clip:ViT-B-32-quickgelu@{weights_files['pt']}")
    assert str(weights_files["pt"]) in str(err.value)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(DataError) as err:
        load_model(f"open_clip:RN50-quickgelu@{bad}")
    assert str(bad) in str(err.value)


# -- weights-file helpers --------------------------------------------------------------------------

def test_digest_is_sha256_cached_and_follows_changes(tmp_path):
    from explorer.store import default_root

    f = tmp_path / "w.bin"
    f.write_bytes(b"abc" * 1000)
    assert weights_digest(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
    cache = json.loads((default_root() / "weights-sha256.json").read_text())
    assert [e["value"] for e in cache.values()] == [hashlib.sha256(b"abc" * 1000).hexdigest()]
    f.write_bytes(b"abcd" * 1000)  # new size -> rehashed
    assert weights_digest(f) == hashlib.sha256(b"abcd" * 1000).hexdigest()


def test_digest_cache_is_used(tmp_path, monkeypatch):
    import explorer.models.weights_file as wf

    f = tmp_path / "w.bin"
    f.write_bytes(b"x" * 100)
    first = weights_digest(f)
    wf._memory_digests.clear()
    monkeypatch.setattr("explorer.store.sha256_file", lambda p: pytest.fail("rehashed"))
    assert weights_digest(f) == first  # from the on-disk cache, no rehash


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(2, 3)

    def forward(self, x):
        return self.proj(x)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_archives_yield_their_state_dict(tmp_path):
    m = _Tiny()
    path = tmp_path / "RN50.pt"
    torch.jit.save(torch.jit.script(m), str(path))
    sd = read_torch_container(path, what="test weights")
    assert set(sd) == {"proj.weight", "proj.bias"}
    assert torch.equal(sd["proj.weight"], m.proj.weight.detach())


def test_tokenizer_that_needs_the_network_is_a_missing_resource(monkeypatch):
    import open_clip

    from explorer.models.open_clip_backbone import tokenizer_for

    def hub_only(name):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load this file")

    monkeypatch.setattr(open_clip, "get_tokenizer", hub_only)
    with pytest.raises(MissingResourceError, match="tokenizer of open_clip ViT-B-16-SigLIP .*offline"):
        tokenizer_for("ViT-B-16-SigLIP")


def test_offline_hub_is_on_inside_and_restored_after(monkeypatch):
    from huggingface_hub import constants

    from explorer.models.open_clip_backbone import offline_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with offline_hub():
        assert constants.is_offline_mode() and os.environ["HF_HUB_OFFLINE"] == "1"
    assert not constants.is_offline_mode() and "HF_HUB_OFFLINE" not in os.environ
