"""cloob-training's LAION-400M CLOOB ViT-B/16 (``cloob-laion:PATH``).

The published checkpoints (``cloob_laion_400m_vit_b_16_16_epochs-<sha256>.pkl`` and
``..._32_epochs-<sha256>.pkl``) are Python pickles of ``{"params": (image_params, text_params),
"epoch": n}`` holding Haiku parameter dicts of JAX arrays. The architecture is cloob-training's
own (see :mod:`explorer.models.cloob_laion_arch`: pre-LN blocks, token-0 pooling, the
padding-mask quirk), preprocessing is cloob-training's: Resize(224, Lanczos) of the shorter side,
CenterCrop(224), OpenAI mean/std; text uses the CLIP BPE tokenizer with 77 tokens (SOT, at most
75 text tokens, EOT, zero padding). s = τ⁻¹ = 30, fixed in the model config (not in the file).

**Why the pickle is read only when you pass it explicitly.** Unpickling can execute arbitrary
code named inside the file. This loader therefore never looks for such files by itself, never
opens one unless it was given as ``cloob-laion:PATH``, and reads it with a restricted unpickler
that resolves only containers, NumPy arrays and JAX's array reconstructors (replaced by NumPy
ones, so JAX is not needed) and refuses everything else (:mod:`explorer.models.haiku_pickle`).
Still, only load files from a source you trust, and compare the SHA-256 in the published file
name with ``sha256sum`` of your copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from .cloob_laion_arch import CloobLaionConfig, build_model, config_and_state_from_haiku
from .haiku_pickle import read_haiku_pickle
from .open_clip_backbone import OPENAI_MEAN, OPENAI_STD, check_no_options, describe_normalisation, model_id
from .torch_model import TorchBimodalModel
from .weights_file import require_file, weights_digest

WHAT = "LAION-CLOOB checkpoint"
INV_TAU = 30.0
CLIP_VOCAB_SIZE = 49408
GET_IT = (
    "download cloob_laion_400m_vit_b_16_16_epochs-405a3c31572e0a38f8632fa0db704d0e4521ad663555479f8"
    "6babd3d178b1892.pkl or cloob_laion_400m_vit_b_16_32_epochs-646f61628eb4bc03a01ce5c23b727a3481"
    "05f0405b6037a329da062739a06441.pkl from https://the-eye.eu/public/AI/models/cloob/ (listed in "
    "https://github.com/crowsonkb/cloob-training, cloob_training/pretrained_configs), check that "
    "sha256sum matches the hex in its name, and pass its path, e.g. "
    "--model cloob-laion:~/models/cloob_laion_400m_vit_b_16_32_epochs-646f6162...pkl (the file is "
    "a Python pickle, which can execute code when loaded, so it is read only from a path you "
    "name, with a restricted unpickler)"
)


def _to_rgb(image):
    return image if image.mode == "RGB" else image.convert("RGB")


def cloob_laion_transform(image_size: int = 224):
    """cloob-training's evaluation transform: Lanczos resize, centre crop, OpenAI mean/std."""
    from torchvision import transforms

    return transforms.Compose([
        _to_rgb,
        transforms.Resize(image_size, interpolation=transforms.InterpolationMode.LANCZOS),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(OPENAI_MEAN, OPENAI_STD),
    ])


def describe_cloob_laion_preprocessing(image_size: int = 224) -> str:
    return (f"resize shorter side to {image_size} (lanczos), center crop {image_size}, "
            f"{describe_normalisation(OPENAI_MEAN, OPENAI_STD)}")


def read_cloob_laion_params(path: Path) -> tuple[Mapping[str, Any], Mapping[str, Any], Any]:
    """(image_params, text_params, epoch) of a cloob-training checkpoint (restricted unpickling)."""
    obj = read_haiku_pickle(path, what=WHAT)
    if not isinstance(obj, Mapping) or "params" not in obj:
        found = ", ".join(sorted(map(str, obj))[:6]) if isinstance(obj, Mapping) else type(obj).__name__
        raise DataError(f"{path}: not a {WHAT}: expected a dict with a 'params' entry, found {found}")
    params = obj["params"]
    if (not isinstance(params, (tuple, list)) or len(params) != 2
            or not all(isinstance(p, Mapping) for p in params)):
        raise DataError(f"{path}: not a {WHAT}: 'params' is not a pair (image_params, text_params) "
                        "of Haiku parameter dicts")
    epoch = obj.get("epoch")
    try:
        epoch = int(epoch) if epoch is not None and float(epoch) == int(epoch) else None
    except (TypeError, ValueError, OverflowError):
        epoch = None
    return params[0], params[1], epoch


def load_cloob_laion(arg: str, *, device: str = "cpu", **options: Any) -> TorchBimodalModel:
    """``cloob-laion:PATH`` -> the LAION-400M CLOOB model of that pickle on `device`."""
    from open_clip.tokenizer import SimpleTokenizer

    check_no_options(options, f"cloob-laion:{arg}")
    path = require_file(arg, what=WHAT, get_it=GET_IT)
    image_params, text_params, epoch = read_cloob_laion_params(path)
    cfg, sd = config_and_state_from_haiku(image_params, text_params, path=path)
    if cfg.vocab_size != CLIP_VOCAB_SIZE:
        raise DataError(f"{path}: text vocabulary has {cfg.vocab_size} entries; the CLIP BPE "
                        f"tokenizer cloob-training uses has {CLIP_VOCAB_SIZE}")
    model = build_model(cfg, sd)
    preprocessing = describe_cloob_laion_preprocessing(cfg.image_size)
    digest = weights_digest(path)
    arch = "cloob-laion-" + cfg.describe()
    epoch_text = f", epoch {epoch}" if isinstance(epoch, int) else ""
    return TorchBimodalModel(
        model,
        transform=cloob_laion_transform(cfg.image_size),
        tokenizer=SimpleTokenizer(context_length=cfg.context_length),
        name=f"CLOOB ViT-B/16 LAION-400M ({path.name}{epoch_text})"
        if cfg == CloobLaionConfig() else f"CLOOB (cloob-training, {cfg.describe()}, {path.name})",
        id=model_id("cloob-laion", arch, digest, preprocessing, f"s={INV_TAU:g}"),
        logit_scale=INV_TAU,
        preprocessing=preprocessing,
        provenance={
            "family": "cloob-laion", "architecture": arch, "weights_file": str(path),
            "weights_sha256": digest, "epoch": epoch if isinstance(epoch, int) else None,
            "logit_scale": INV_TAU,
            "logit_scale_source": "cloob-training config inv_tau = 30 (not stored in the file)",
        },
        device=device,
    )
