"""Random-weight checkpoints in exactly the published container and key layouts.

Real weights cannot be downloaded in tests, so every loader is tested on a file written here:
right container, right key names, right shapes, random values (every entry random, BatchNorm
running statistics and LayerNorm gains included, so a mis-mapped key changes the outputs).
Everything is deterministic in `seed`.

Writers (all return the path written):

* :func:`write_cyclip_checkpoint` -- CyCLIP's ``cyclip-3M.pt`` layout: ``torch.save`` of
  ``{"epoch", "name", "state_dict", "optimizer"}``, keys ``module.`` + OpenAI names.
* :func:`write_cloob_checkpoint` -- ml-jku CLOOB: ``{"epoch", "name", "state_dict", "optimizer",
  "scheduler", "model_config_file"}``, ``module.`` prefix, text tower nested under
  ``transformer.transformer.*``, ``logit_inv_tau`` and ``logit_scale_hopfield``.
* :func:`write_cloob_laion_checkpoint` -- cloob-training: a pickle of
  ``{"params": (image_params, text_params), "epoch"}`` with Haiku module paths, Haiku leaf names
  and layouts (Linear ``w`` as (in, out), Conv2D ``w`` as HWIO) and arrays pickled the way JAX
  pickles its arrays (``jax._src.device_array.reconstruct_device_array`` for JAX 0.3,
  ``jax._src.array._reconstruct_array`` for JAX 0.4), written without JAX installed.
* :func:`write_open_clip_checkpoint` -- an open_clip state dict (``.pt`` or ``.safetensors``).
* :func:`write_hf_cache_entry` -- a Hugging Face hub cache entry as open_clip's downloads leave it.

Reference weights for comparisons: :func:`openai_layout_state_dict` (open_clip / OpenAI names,
the same tensors the CyCLIP and CLOOB writers store) and :func:`cloob_laion_params` (the Haiku
dicts the LAION writer stores).
"""

from __future__ import annotations

import functools
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

OPENAI_TEXT_BLOCK_PARAMS = (
    "ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
    "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight", "ln_2.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
)


# -- OpenAI layout (CyCLIP, CLOOB, open_clip) -----------------------------------------------------

@functools.lru_cache(maxsize=4)
def _open_clip_shapes(arch: str) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    import logging

    import open_clip

    logging.disable(logging.WARNING)
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            model = open_clip.create_model(arch, pretrained=None, load_weights=False, device="meta")
    finally:
        logging.disable(logging.NOTSET)
    return tuple((k, tuple(v.shape), str(v.dtype)) for k, v in model.state_dict().items())


def _random_value(key: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A plausible random value for one OpenAI-layout entry (keeps activations finite)."""
    leaf = key.rsplit(".", 1)[-1]
    normal = rng.standard_normal(shape, dtype=np.float32)
    uniform = lambda lo, hi: rng.uniform(lo, hi, shape).astype(np.float32)  # noqa: E731
    is_bn = ".bn" in key or key.startswith("bn") or "downsample.1" in key
    if is_bn:
        return {"weight": uniform(0.5, 1.0), "bias": 0.1 * normal, "running_mean": 0.1 * normal,
                "running_var": uniform(0.5, 1.5)}[leaf]
    if ".ln_" in key or key.startswith("ln_"):
        return uniform(0.5, 1.5) if leaf == "weight" else 0.1 * normal
    if "bias" in leaf:
        return 0.02 * normal
    if key in ("positional_embedding",):
        return 0.1 * normal
    if key == "token_embedding.weight":
        return 0.5 * normal
    if key.endswith("attnpool.positional_embedding"):
        return normal / math.sqrt(shape[-1])
    if key == "text_projection":
        return normal / math.sqrt(shape[0])
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        gain = 1.0 if len(shape) == 2 else math.sqrt(2.0)
        return gain * normal / math.sqrt(fan_in)
    return normal


@functools.lru_cache(maxsize=3)
def _openai_layout_cached(arch: str, seed: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape, dtype in _open_clip_shapes(arch):
        if dtype == "torch.int64":  # BatchNorm num_batches_tracked
            out[key] = torch.tensor(int(rng.integers(1, 10_000)), dtype=torch.int64)
        elif key == "logit_scale":
            out[key] = torch.tensor(math.log(100.0), dtype=torch.float32)
        else:
            out[key] = torch.from_numpy(_random_value(key, shape, rng))
    return out


def openai_layout_state_dict(arch: str = "RN50-quickgelu", seed: int = 0, *,
                             logit_scale: float | None = None) -> dict[str, torch.Tensor]:
    """Random weights with open_clip `arch`'s names and shapes (= OpenAI's CLIP layout).

    ``logit_scale`` is the stored log-scale t (default ln 100). Returns a new dict (the tensors
    are shared with a small cache: do not modify them in place).
    """
    sd = dict(_openai_layout_cached(arch, seed))
    if logit_scale is not None:
        sd["logit_scale"] = torch.tensor(float(logit_scale), dtype=torch.float32)
    return sd


def _small_optimizer_state() -> dict[str, Any]:
    """An AdamW state dict of the shape torch writes (content irrelevant to inference)."""
    return {
        "state": {0: {"step": torch.tensor(1.0), "exp_avg": torch.zeros(3),
                      "exp_avg_sq": torch.zeros(3)}},
        "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1,
                          "amsgrad": False, "params": [0]}],
    }


def write_cyclip_checkpoint(path: str | Path, seed: int = 0, *,
                            logit_scale: float | None = math.log(100.0),
                            dtype: torch.dtype = torch.float32) -> Path:
    """CyCLIP's released layout; ``logit_scale=None`` omits the entry. Reference weights:
    ``openai_layout_state_dict("RN50-quickgelu", seed, logit_scale=...)``."""
    sd = openai_layout_state_dict("RN50-quickgelu", seed,
                                  logit_scale=logit_scale if logit_scale is not None else None)
    if logit_scale is None:
        sd.pop("logit_scale")
    sd = {f"module.{k}": (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}
    path = Path(path)
    torch.save({"epoch": 64, "name": "cyclip-3M", "state_dict": sd,
                "optimizer": _small_optimizer_state()}, path)
    return path


def mljku_cloob_names(openai_keys) -> dict[str, str]:
    """OpenAI key -> ml-jku CLIPGeneral key, written from ml-jku's model: the image tower keeps
    its names under ``visual.``, the text tower (``TextTransformer``) lives under
    ``transformer.`` with its own ``transformer.resblocks``; the log-scale is ``logit_inv_tau``."""
    names: dict[str, str] = {}
    for key in openai_keys:
        if key.startswith("visual."):
            names[key] = key
        elif key.startswith("transformer.resblocks."):
            _, _, index, rest = key.split(".", 3)
            assert rest in OPENAI_TEXT_BLOCK_PARAMS, key
            names[key] = f"transformer.transformer.resblocks.{index}.{rest}"
        else:
            names[key] = {
                "token_embedding.weight": "transformer.token_embedding.weight",
                "positional_embedding": "transformer.positional_embedding",
                "ln_final.weight": "transformer.ln_final.weight",
                "ln_final.bias": "transformer.ln_final.bias",
                "text_projection": "transformer.text_projection",
                "logit_scale": "logit_inv_tau",
            }[key]
    return names


def write_cloob_checkpoint(path: str | Path, seed: int = 0, *, arch: str = "RN50",
                           config_file: str | None = "default", inv_tau: float = 30.0,
                           hopfield_beta: float | None = 14.3) -> Path:
    """ml-jku CLOOB layout for ``arch`` in {"RN50", "RN50x4"}. Reference weights:
    ``openai_layout_state_dict(arch + "-quickgelu", seed, logit_scale=math.log(inv_tau))``.

    ``config_file="default"`` writes ``"<arch>.json"``; None leaves the entry out."""
    sd = openai_layout_state_dict(f"{arch}-quickgelu", seed, logit_scale=math.log(inv_tau))
    names = mljku_cloob_names(sd)
    published = {f"module.{names[k]}": v for k, v in sd.items()}
    if hopfield_beta is not None:
        published["module.logit_scale_hopfield"] = torch.tensor(math.log(hopfield_beta))
    container: dict[str, Any] = {
        "epoch": 28, "name": f"cloob_{arch.lower()}_yfcc", "state_dict": published,
        "optimizer": _small_optimizer_state(), "scheduler": {"last_epoch": 100, "_step_count": 101},
    }
    if config_file is not None:
        container["model_config_file"] = f"{arch}.json" if config_file == "default" else config_file
    path = Path(path)
    torch.save(container, path)
    return path


def write_open_clip_checkpoint(path: str | Path, arch: str = "RN50-quickgelu", seed: int = 0
                               ) -> Path:
    """A plain open_clip state dict: ``.safetensors`` or ``torch.save`` by the suffix."""
    sd = openai_layout_state_dict(arch, seed)
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    else:
        torch.save(sd, path)
    return path


def write_hf_cache_entry(hub_cache: str | Path, repo_id: str, filename: str, source: Path,
                         commit: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """Place `source` in a Hugging Face hub cache the way hf_hub_download leaves it."""
    repo_dir = Path(hub_cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    target = snapshot / filename
    target.write_bytes(Path(source).read_bytes())
    return target


# -- cloob-training (LAION CLOOB, Haiku) ----------------------------------------------------------

#: the published LAION-400M ViT-B/16 sizes (cloob-training's pretrained_configs)
CLOOB_LAION_VIT_B_16 = dict(d_embed=512, image_size=224, patch_size=16, image_width=768,
                            image_layers=12, text_width=512, text_layers=12, text_size=77,
                            vocab_size=49408)
#: the same layout, small: fast tests of mapping, masking and pooling
CLOOB_LAION_TINY = dict(d_embed=64, image_size=224, patch_size=16, image_width=128,
                        image_layers=2, text_width=128, text_layers=2, text_size=77,
                        vocab_size=49408)


def _haiku_tower(root: str, width: int, layers: int, rng: np.random.Generator, sep: str
                 ) -> dict[str, dict[str, np.ndarray]]:
    def linear(n_in, n_out):
        return {"w": rng.standard_normal((n_in, n_out), dtype=np.float32) / np.float32(math.sqrt(n_in)),
                "b": 0.02 * rng.standard_normal(n_out, dtype=np.float32)}

    def layer_norm():
        return {"scale": rng.uniform(0.5, 1.5, width).astype(np.float32),
                "offset": 0.1 * rng.standard_normal(width, dtype=np.float32)}

    params = {}
    for i in range(layers):
        base = f"{root}{sep}layer_{i}"
        params[f"{base}{sep}self_attention{sep}layer_norm"] = layer_norm()
        mha = f"{base}{sep}self_attention{sep}multi_head_attention"
        for name in ("query", "key", "value", "linear"):
            params[f"{mha}{sep}{name}"] = linear(width, width)
        params[f"{base}{sep}feed_forward{sep}layer_norm"] = layer_norm()
        params[f"{base}{sep}feed_forward{sep}linear_0"] = linear(width, 4 * width)
        params[f"{base}{sep}feed_forward{sep}linear_1"] = linear(4 * width, width)
    return params


def cloob_laion_params(seed: int = 0, config: dict | None = None, *, tilde: bool = False
                       ) -> tuple[dict, dict]:
    """(image_params, text_params): Haiku dicts ``{module path: {leaf: np.ndarray}}`` with
    cloob-training's names. ``tilde=True`` writes ``/~/`` separators."""
    c = dict(CLOOB_LAION_TINY if config is None else config)
    rng = np.random.default_rng(seed)
    sep = "/~/" if tilde else "/"
    iw, tw, e = c["image_width"], c["text_width"], c["d_embed"]
    grid = c["image_size"] // c["patch_size"]
    p = c["patch_size"]
    image = {
        "vi_t_image_encoder": {"class_embed": rng.standard_normal(iw, dtype=np.float32)},
        f"vi_t_image_encoder{sep}embed": {
            "w": rng.standard_normal((p, p, 3, iw), dtype=np.float32) / np.float32(p * math.sqrt(3))},
        f"vi_t_image_encoder{sep}pos_embed": {
            "w": 0.5 * rng.standard_normal((grid * grid + 1, iw), dtype=np.float32)},
    }
    image.update(_haiku_tower("vi_t_image_encoder", iw, c["image_layers"], rng, sep))
    image[f"vi_t_image_encoder{sep}proj"] = {
        "w": rng.standard_normal((iw, e), dtype=np.float32) / np.float32(math.sqrt(iw)),
        "b": 0.02 * rng.standard_normal(e, dtype=np.float32)}
    text = {
        f"text_encoder{sep}embed": {
            "embeddings": rng.standard_normal((c["vocab_size"], tw), dtype=np.float32)},
        f"text_encoder{sep}pos_embed": {
            "w": 0.5 * rng.standard_normal((c["text_size"], tw), dtype=np.float32)},
    }
    text.update(_haiku_tower("text_encoder", tw, c["text_layers"], rng, sep))
    text[f"text_encoder{sep}proj"] = {
        "w": rng.standard_normal((tw, e), dtype=np.float32) / np.float32(math.sqrt(tw)),
        "b": 0.02 * rng.standard_normal(e, dtype=np.float32)}
    return image, text


_JAX_RECONSTRUCTORS = {
    "jax-0.3": ("jax._src.device_array", "reconstruct_device_array"),
    "jax-0.4": ("jax._src.array", "_reconstruct_array"),
}


def _jax_reconstructor_placeholder(*args):  # pragma: no cover - never called, only pickled
    raise AssertionError("placeholder for a JAX global")


class _JaxArray:
    """Pickles like a JAX device array (its NumPy value's reduce, wrapped in JAX's reconstructor)."""

    def __init__(self, value: np.ndarray):
        self.value = value

    def __reduce__(self):
        fun, args, state = self.value.__reduce__()
        return (_jax_reconstructor_placeholder, (fun, args, state, {"weak_type": False,
                                                                    "named_shape": {}}))


class _JaxStylePickler(pickle._Pickler):  # the pure-Python pickler lets save_global be replaced
    def __init__(self, file, reconstructor: tuple[str, str]):
        super().__init__(file, protocol=4)
        self._reconstructor = reconstructor

    def save_global(self, obj, name=None):
        if obj is _jax_reconstructor_placeholder:
            module, qualname = self._reconstructor
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[type(_jax_reconstructor_placeholder)] = save_global


def write_cloob_laion_checkpoint(path: str | Path, seed: int = 0, *, config: dict | None = None,
                                 array_format: str = "jax-0.3", epoch: int = 32,
                                 tilde: bool = False) -> Path:
    """cloob-training's checkpoint layout (see module docstring). ``array_format``: "jax-0.3",
    "jax-0.4" or "numpy". Reference weights: ``cloob_laion_params(seed, config, tilde=tilde)``."""
    image, text = cloob_laion_params(seed, config, tilde=tilde)
    path = Path(path)
    if array_format == "numpy":
        obj = {"params": (image, text), "epoch": epoch}
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=4)
        return path
    wrap = lambda tree: {m: {k: _JaxArray(v) for k, v in leaves.items()}  # noqa: E731
                         for m, leaves in tree.items()}
    obj = {"params": (wrap(image), wrap(text)), "epoch": epoch}
    with open(path, "wb") as f:
        _JaxStylePickler(f, _JAX_RECONSTRUCTORS[array_format]).dump(obj)
    return path


# -- inputs and the OpenAI-layout reference forward pass -----------------------------------------

EXAMPLE_CAPTIONS = (
    "A man riding a wave on top of a surfboard.",
    "two plates of food on a wooden table",
    # longer than 77 tokens: truncation must keep EOT last
    " ".join(["a very long caption about a red bus parked next to a tall building"] * 8),
    "",
)


def drawn_images(n: int = 3, seed: int = 0):
    """Procedurally drawn RGB PIL images of different sizes and aspect ratios."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    sizes = [(320, 240), (200, 300), (257, 257), (640, 180)]
    images = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(base, "RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
            x1, y1 = x0 + int(rng.integers(5, w // 2)), y0 + int(rng.integers(5, h // 2))
            draw.ellipse([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        images.append(image)
    return images


def example_images(amumo_dir_factory, n: int = 3):
    """`n` real MSCOCO images from ../shared (via the `amumo_dir` fixture), or drawn ones when
    ../shared is absent."""
    import pytest
    from PIL import Image

    try:
        root = amumo_dir_factory("MSCOCO-Val_size-100") / "images"
    except pytest.skip.Exception:
        return drawn_images(n)
    files = sorted(root.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
    return [Image.open(f).convert("RGB") for f in files[:n]]


def openai_reference_embeddings(arch: str, state_dict: dict, images, captions,
                                image_size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """Unit image and text rows from a plain open_clip `arch` holding `state_dict`, with the
    preprocessing written out as OpenAI's ``clip._transform`` defines it (torchvision Resize of
    the shorter side, bicubic; CenterCrop; ToTensor; Normalize with OpenAI mean/std) and
    ``open_clip.tokenize`` (the CLIP BPE tokenizer)."""
    import logging

    import open_clip
    from torchvision import transforms

    logging.disable(logging.WARNING)
    try:
        model = open_clip.create_model(arch, pretrained=None, load_weights=False)
    finally:
        logging.disable(logging.NOTSET)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    tf = transforms.Compose([
        transforms.Resize(image_size, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize((0.48145466, 0.4578275, 0.40821073),
                             (0.26862954, 0.26130258, 0.27577711)),
    ])
    with torch.no_grad():
        x = model.encode_image(torch.stack([tf(im) for im in images]))
        y = model.encode_text(open_clip.tokenize(list(captions)))
    unit = lambda t: (t / t.norm(dim=-1, keepdim=True)).numpy().astype(np.float32)  # noqa: E731
    return unit(x.double()), unit(y.double())
