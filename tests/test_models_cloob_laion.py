"""cloob-laion:PATH on synthesised cloob-training pickles, checked against an independent NumPy
forward pass written directly from the Haiku parameter dicts and cloob-training's model code
(pre-LN blocks, Haiku MultiHeadAttention with the query-row padding mask, tanh GELU, token-0
pooling, patch convolution as an explicit sum over HWIO weights)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from synth_checkpoints import (
    CLOOB_LAION_TINY,
    CLOOB_LAION_VIT_B_16,
    EXAMPLE_CAPTIONS,
    cloob_laion_params,
    example_images,
    write_cloob_laion_checkpoint,
)

from explorer.errors import DataError, MissingResourceError
from explorer.models import load_model
from explorer.models.cloob_laion_arch import padding_query_mask

torch.set_num_threads(2)
SEED = 3
SOT, EOT = 49406, 49407
MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


# -- the NumPy reference -------------------------------------------------------------------------

def ref_tokens(captions, context=77):
    """cloob-training's TokenizerWrapper: SOT, the first context-2 BPE tokens, EOT, zeros."""
    from open_clip.tokenizer import SimpleTokenizer

    bpe = SimpleTokenizer()
    out = np.zeros((len(captions), context), dtype=np.int64)
    for i, text in enumerate(captions):
        ids = [SOT, *bpe.encode(text)[:context - 2], EOT]
        out[i, :len(ids)] = ids
    return out


def ref_pixels(images, size=224):
    """cloob-training's transform: Resize(size, LANCZOS) of the shorter side, CenterCrop, ToTensor,
    Normalize -- written with PIL and NumPy."""
    from PIL import Image

    batch = []
    for im in images:
        w, h = im.size
        if w <= h:
            new = (size, int(size * h / w))
        else:
            new = (int(size * w / h), size)
        im = im.resize(new, Image.LANCZOS)
        left = int(round((new[0] - size) / 2.0))
        top = int(round((new[1] - size) / 2.0))
        a = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float64) / 255.0
        batch.append(((a - MEAN) / STD).transpose(2, 0, 1))
    return np.stack(batch)


def _ln(x, p):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * p["scale"] + p["offset"]


def _lin(x, p):
    return x @ p["w"] + p["b"]


def _gelu(x):  # jax.nn.gelu's default (approximate=True)
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _layer(x, params, base, mask, mask_axis="query"):
    b, t, d = x.shape
    heads = d // 64
    h = _ln(x, params[f"{base}/self_attention/layer_norm"])
    mha = f"{base}/self_attention/multi_head_attention"
    q = _lin(h, params[f"{mha}/query"]).reshape(b, t, heads, 64)
    k = _lin(h, params[f"{mha}/key"]).reshape(b, t, heads, 64)
    v = _lin(h, params[f"{mha}/value"]).reshape(b, t, heads, 64)
    logits = np.einsum("bthd,bThd->bhtT", q, k) / np.sqrt(64.0)
    if mask is not None:
        m = mask[:, None, :, None] if mask_axis == "query" else mask[:, None, None, :]
        logits = np.where(m, logits, -1e30)
    att = np.einsum("bhtT,bThd->bthd", _softmax(logits), v).reshape(b, t, d)
    x = x + _lin(att, params[f"{mha}/linear"])
    h = _ln(x, params[f"{base}/feed_forward/layer_norm"])
    return x + _lin(_gelu(_lin(h, params[f"{base}/feed_forward/linear_0"])),
                    params[f"{base}/feed_forward/linear_1"])


def _f64(tree):
    return {m: {k: np.asarray(v, dtype=np.float64) for k, v in leaves.items()} for m, leaves in tree.items()}


def ref_image(params, pixels):
    p = _f64(params)
    r = "vi_t_image_encoder"
    w = p[f"{r}/embed"]["w"]  # (kh, kw, in, out)
    ps = w.shape[0]
    b, c, hh, ww = pixels.shape
    g = hh // ps
    patches = pixels.reshape(b, c, g, ps, g, ps)
    x = np.einsum("bcgihj,ijco->bgho", patches, w).reshape(b, g * g, -1)
    cls = np.broadcast_to(p[r]["class_embed"], (b, 1, x.shape[-1]))
    x = np.concatenate([cls, x], axis=1) + p[f"{r}/pos_embed"]["w"]
    n = len({m.split("/")[1] for m in p if m.split("/")[1:2] and m.split("/")[1].startswith("layer_")})
    for i in range(n):
        x = _layer(x, p, f"{r}/layer_{i}", None)
    y = _lin(x[:, 0], p[f"{r}/proj"])
    return y / np.linalg.norm(y, axis=-1, keepdims=True)


def ref_text(params, tokens, *, mask_axis="query", pool="sot"):
    p = _f64(params)
    r = "text_encoder"
    eot_mask = tokens == EOT
    padding_mask = np.cumsum(eot_mask, axis=-1) == 0 | eot_mask  # as written in cloob-training
    x = p[f"{r}/embed"]["embeddings"][tokens] + p[f"{r}/pos_embed"]["w"]
    n = len({m.split("/")[1] for m in p if m.split("/")[1].startswith("layer_")})
    for i in range(n):
        x = _layer(x, p, f"{r}/layer_{i}", padding_mask, mask_axis)
    pooled = x[:, 0] if pool == "sot" else x[np.arange(len(tokens)), tokens.argmax(-1)]
    y = _lin(pooled, p[f"{r}/proj"])
    return y / np.linalg.norm(y, axis=-1, keepdims=True)


# -- tests ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    return write_cloob_laion_checkpoint(tmp_path_factory.mktemp("laion") / "cloob_tiny.pkl", SEED)


@pytest.fixture(scope="module")
def tiny_model(tiny_file):
    return load_model(f"cloob-laion:{tiny_file}", device="cpu")


CAPTIONS = list(EXAMPLE_CAPTIONS) + ["a cat <|endoftext|> on a mat"]


def test_tiny_model_equals_numpy_reference(tiny_model, amumo_dir):
    images = example_images(amumo_dir, 3)
    image_params, text_params = cloob_laion_params(SEED, CLOOB_LAION_TINY)
    ref_x = ref_image(image_params, ref_pixels(images))
    ref_y = ref_text(text_params, ref_tokens(CAPTIONS))
    x = tiny_model.encode_images(images)
    y = tiny_model.encode_texts(CAPTIONS)
    diff = max(np.abs(x - ref_x).max(), np.abs(y - ref_y).max())
    print(f"cloob-laion (tiny) max abs diff vs NumPy reference: {diff:.3g}")
    # well under 1e-4: float32 against a float64 reference gives ~1e-7 here, while the exact
    # erf GELU instead of JAX's tanh GELU would already show as ~6e-5
    assert x.shape == (3, 64) and y.shape == (len(CAPTIONS), 64) and diff < 1e-5
    assert (x @ x.T)[np.triu_indices(3, 1)].max() < 0.999
    # the reference can tell the quirks apart: masking keys instead of queries, or pooling the
    # EOT token instead of token 0, gives clearly different embeddings
    assert np.abs(ref_text(text_params, ref_tokens(CAPTIONS), mask_axis="key") - y).max() > 1e-2
    assert np.abs(ref_text(text_params, ref_tokens(CAPTIONS), pool="eot") - y).max() > 1e-2


def test_tokens_preprocessing_scale_and_id(tiny_model, tiny_file, amumo_dir):
    from explorer.models.weights_file import weights_digest

    assert torch.equal(tiny_model.tokenize(CAPTIONS), torch.from_numpy(ref_tokens(CAPTIONS)))
    images = example_images(amumo_dir, 2)
    pixels = torch.stack([tiny_model.preprocess(im) for im in images]).numpy()
    assert np.abs(pixels - ref_pixels(images)).max() < 1e-5
    assert tiny_model.logit_scale == 30.0
    assert "lanczos" in tiny_model.preprocessing and tiny_model.preprocessing in tiny_model.id
    assert weights_digest(tiny_file)[:16] in tiny_model.id
    assert tiny_model.provenance["epoch"] == 32


@pytest.mark.parametrize("array_format, tilde", [("jax-0.4", False), ("numpy", False),
                                                 ("jax-0.3", True)])
def test_other_array_formats_and_separators(tmp_path, tiny_model, array_format, tilde, amumo_dir):
    path = write_cloob_laion_checkpoint(tmp_path / "c.pkl", SEED, array_format=array_format,
                                        tilde=tilde)
    model = load_model(f"cloob-laion:{path}", device="cpu")
    images = example_images(amumo_dir, 1)
    assert np.abs(model.encode_images(images) - tiny_model.encode_images(images)).max() < 1e-6
    assert np.abs(model.encode_texts(CAPTIONS[:2]) - tiny_model.encode_texts(CAPTIONS[:2])).max() < 1e-6


def test_ids_differ_when_weights_differ(tmp_path, tiny_model):
    other = write_cloob_laion_checkpoint(tmp_path / "other.pkl", SEED + 1)
    assert load_model(f"cloob-laion:{other}", device="cpu").id != tiny_model.id


def test_padding_mask_hand_cases():
    tokens = torch.tensor([[SOT, 5, EOT, 0, 0], [SOT, EOT, 7, EOT, 0], [SOT, 5, 6, 7, 8]])
    assert padding_query_mask(tokens, EOT).tolist() == [
        [True, True, True, False, False],
        [True, True, False, False, False],   # cumsum == (0 | eot): a second EOT is False
        [True, True, True, True, True],
    ]


def test_padding_rows_attend_uniformly_under_half_precision(tiny_model):
    """The query-row mask as a mean over values must not overflow in bf16 (no NaN)."""
    tokens = tiny_model.tokenize(CAPTIONS[:2])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = tiny_model.encode_token_tensors(tokens)
    assert torch.isfinite(y).all()


@pytest.mark.slow
def test_published_vit_b_16_shapes_equal_numpy_reference(tmp_path, amumo_dir):
    path = write_cloob_laion_checkpoint(tmp_path / "cloob_laion_400m_vit_b_16_32_epochs.pkl", SEED,
                                        config=CLOOB_LAION_VIT_B_16)
    model = load_model(f"cloob-laion:{path}", device="cpu")
    assert model.name.startswith("CLOOB ViT-B/16 LAION-400M")
    assert "ViT-768x12/p16@224+text-512x12/ctx77->d512" in model.id
    image_params, text_params = cloob_laion_params(SEED, CLOOB_LAION_VIT_B_16)
    images = example_images(amumo_dir, 2)
    captions = CAPTIONS[:2]
    x, y = model.encode_images(images), model.encode_texts(captions)
    del model
    diff = max(np.abs(x - ref_image(image_params, ref_pixels(images))).max(),
               np.abs(y - ref_text(text_params, ref_tokens(captions))).max())
    print(f"cloob-laion ViT-B/16 max abs diff vs NumPy reference: {diff:.3g}")
    assert x.shape == (2, 512) and diff < 1e-4


# -- errors ----------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(MissingResourceError) as err:
        load_model(f"cloob-laion:{tmp_path / 'x.pkl'}")
    msg = str(err.value)
    assert str(tmp_path / "x.pkl") in msg and "the-eye.eu" in msg and "sha256sum" in msg
    assert "pickle, which can execute code" in msg
    assert "\n" not in msg


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_the_pickle_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"params": _Exploit(marker), "epoch": 1}))
    with pytest.raises(DataError) as err:
        load_model(f"cloob-laion:{path}")
    assert "refusing to unpickle" in str(err.value) and "system" in str(err.value)
    assert str(path) in str(err.value)
    assert not marker.exists()


def _write(path, obj):
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_wrong_containers(tmp_path):
    image, text = cloob_laion_params(SEED, CLOOB_LAION_TINY)
    cases = {
        "text.pkl": (b"not a pickle at all", "cannot read"),
        "list.pkl": ([1, 2], "expected a dict with a 'params' entry"),
        "noparams.pkl": ({"weights": 1}, "expected a dict with a 'params' entry"),
        "single.pkl": ({"params": image, "epoch": 1}, "not a pair"),
    }
    for name, (obj, expected) in cases.items():
        path = tmp_path / name
        if isinstance(obj, bytes):
            path.write_bytes(obj)
        else:
            _write(path, obj)
        with pytest.raises(DataError) as err:
            load_model(f"cloob-laion:{path}")
        assert str(path) in str(err.value) and expected in str(err.value), name


def test_missing_and_misshapen_parameters(tmp_path):
    image, text = cloob_laion_params(SEED, CLOOB_LAION_TINY)
    no_proj = {k: v for k, v in text.items() if k != "text_encoder/proj"}
    path = _write(tmp_path / "a.pkl", {"params": (image, no_proj), "epoch": 1})
    with pytest.raises(DataError, match="missing.*text.proj"):
        load_model(f"cloob-laion:{path}")

    bad = dict(image)
    bad["vi_t_image_encoder/layer_1/feed_forward/linear_0"] = {
        "w": np.zeros((128, 100), np.float32), "b": np.zeros(100, np.float32)}
    path = _write(tmp_path / "b.pkl", {"params": (bad, text), "epoch": 1})
    with pytest.raises(DataError) as err:
        load_model(f"cloob-laion:{path}")
    assert str(path) in str(err.value) and "blocks.1.ff_in" in str(err.value)

    odd = dict(image)
    odd["vi_t_image_encoder/extra_head"] = {"w": np.zeros(3, np.float32)}
    path = _write(tmp_path / "c.pkl", {"params": (odd, text), "epoch": 1})
    with pytest.raises(DataError, match="unexpected module 'vi_t_image_encoder/extra_head'"):
        load_model(f"cloob-laion:{path}")

    small_vocab = dict(text)
    small_vocab["text_encoder/embed"] = {"embeddings": np.zeros((1000, 128), np.float32)}
    path = _write(tmp_path / "d.pkl", {"params": (image, small_vocab), "epoch": 1})
    with pytest.raises(DataError, match="49408"):
        load_model(f"cloob-laion:{path}")
