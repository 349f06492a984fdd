"""ml-jku CLOOB checkpoints (``cloob:PATH``): RN50 / RN50x4 trained on CC or YFCC.

The published files (e.g. ``cloob_rn50_yfcc_epoch_28.pt``) are ``torch.save`` dicts with a
``state_dict`` (keys prefixed ``module.``) and a ``model_config_file`` naming the architecture
(``RN50.json``, ``RN50x4.json``), plus epoch/optimizer entries. The model class (ml-jku's
``CLIPGeneral``) keeps OpenAI's image tower under ``visual.*`` but nests the text tower one level
deeper, and stores the inverse temperature instead of CLIP's logit scale:

=====================================================  ==========================
ml-jku CLOOB key                                       OpenAI / open_clip key
=====================================================  ==========================
``transformer.transformer.resblocks.*``                ``transformer.resblocks.*``
``transformer.token_embedding.weight``                 ``token_embedding.weight``
``transformer.positional_embedding``                   ``positional_embedding``
``transformer.ln_final.*``                             ``ln_final.*``
``transformer.text_projection``                        ``text_projection``
``logit_inv_tau`` (log of tau^-1)                      ``logit_scale``
``logit_scale_hopfield`` (Hopfield beta, training)     dropped
=====================================================  ==========================

After this remapping the weights load into open_clip's ``RN50-quickgelu`` /
``RN50x4-quickgelu`` (ml-jku's text blocks use QuickGELU, like OpenAI's). The logit scale is
s = exp(logit_inv_tau) = 30 for the published models. Preprocessing is OpenAI's (bicubic resize of
the shorter side to the tower's input size, centre crop, OpenAI mean/std), as in ml-jku's
evaluation code.

Read with ``torch.load(weights_only=True)``: no code in the file runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import DataError
from .open_clip_backbone import (
    OpenClipModel,
    check_no_options,
    create_architecture,
    exp_scalar,
    load_checked,
    wrap_open_clip,
)
from .weights_file import (
    as_float32,
    read_torch_container,
    require_file,
    strip_prefix,
    tensor_dict,
)

WHAT = "ml-jku CLOOB checkpoint"
GET_IT = (
    "download a CLOOB checkpoint such as cloob_rn50_yfcc_epoch_28.pt (or the RN50x4 / CC ones) "
    "from https://ml.jku.at/research/CLOOB/downloads/ (linked from "
    "https://github.com/ml-jku/cloob), save it anywhere and pass its path, e.g. "
    "--model cloob:~/models/cloob_rn50_yfcc_epoch_28.pt"
)

#: ml-jku text-tower prefix -> OpenAI prefix (longest first)
_TEXT_RENAMES = (
    ("transformer.transformer.", "transformer."),
    ("transformer.token_embedding.", "token_embedding."),
    ("transformer.positional_embedding", "positional_embedding"),
    ("transformer.ln_final.", "ln_final."),
    ("transformer.text_projection", "text_projection"),
)
_DROPPED = ("logit_scale_hopfield",)

#: the ResNet CLIP configurations ml-jku's model_config_file can name
_RESNETS = ("RN50", "RN101", "RN50x4", "RN50x16", "RN50x64")


def remap_cloob_keys(sd: dict[str, Any], *, path: Path) -> dict[str, Any]:
    """ml-jku CLOOB key names -> OpenAI names (table in the module docstring)."""
    if not any(k.startswith("transformer.transformer.") for k in sd):
        raise DataError(
            f"{path}: not an {WHAT}: its text tower is not nested under "
            "'transformer.transformer.' (an OpenAI-layout file? load it with cyclip: or "
            "open_clip:ARCH@PATH)"
        )
    if "logit_inv_tau" not in sd:
        raise DataError(f"{path}: not an {WHAT}: it has no 'logit_inv_tau' entry")
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if key in _DROPPED:
            continue
        new = key
        if key == "logit_inv_tau":
            new = "logit_scale"
        else:
            for old, repl in _TEXT_RENAMES:
                if key.startswith(old):
                    new = repl + key[len(old):]
                    break
        out[new] = value
    return out


def _layers_and_width(sd: dict[str, Any]) -> tuple[tuple[int, ...], int, int] | None:
    conv1 = sd.get("visual.conv1.weight")
    pos = sd.get("visual.attnpool.positional_embedding")
    if conv1 is None or pos is None:
        return None
    counts = []
    for i in range(1, 5):
        blocks = {int(m.group(1)) for k in sd
                  if (m := re.match(rf"visual\.layer{i}\.(\d+)\.", k))}
        counts.append(len(blocks))
    grid = round((pos.shape[0] - 1) ** 0.5)
    return tuple(counts), int(conv1.shape[0]) * 2, grid * 32


def infer_resnet_arch(sd: dict[str, Any]) -> str | None:
    """The open_clip ``*-quickgelu`` ResNet whose layers/width/image size the weights have."""
    import open_clip

    found = _layers_and_width(sd)
    if found is None:
        return None
    layers, width, image_size = found
    for name in _RESNETS:
        cfg = open_clip.get_model_config(f"{name}-quickgelu")
        if cfg is None:
            continue
        v = cfg["vision_cfg"]
        if (tuple(v["layers"]) == layers and int(v["width"]) == width
                and int(v["image_size"]) == image_size):
            return f"{name}-quickgelu"
    return None


def arch_from_config_name(config_file: Any, *, path: Path) -> str:
    """``'RN50.json'`` -> ``'RN50-quickgelu'`` (the open_clip config with OpenAI's QuickGELU)."""
    import open_clip

    if not isinstance(config_file, str) or not config_file.strip():
        raise DataError(f"{path}: {WHAT} has an unreadable model_config_file entry {config_file!r}")
    stem = Path(config_file.strip()).name
    stem = stem[:-5] if stem.endswith(".json") else stem
    stem = stem.replace("/", "-")
    arch = stem if stem.endswith("-quickgelu") else f"{stem}-quickgelu"
    if arch not in open_clip.list_models():
        raise DataError(
            f"{path}: {WHAT} names model_config_file {config_file!r}, which has no open_clip "
            f"QuickGELU counterpart ({arch})"
        )
    return arch


def read_cloob_checkpoint(path: Path) -> tuple[dict[str, Any], str, float]:
    """(OpenAI-layout float32 state dict, open_clip architecture, s = exp(logit_inv_tau))."""
    obj = read_torch_container(path, what=WHAT)
    sd = as_float32(strip_prefix(tensor_dict(obj, path=path, what=WHAT, key="state_dict"),
                                 "module."))
    s = exp_scalar(sd["logit_inv_tau"]) if "logit_inv_tau" in sd else None
    sd = remap_cloob_keys(sd, path=path)
    inferred = infer_resnet_arch(sd)
    config_file = obj.get("model_config_file")
    if config_file is not None:
        arch = arch_from_config_name(config_file, path=path)
        if inferred is not None and inferred != arch:
            raise DataError(
                f"{path}: model_config_file says {config_file!r} but the image tower's weights "
                f"have the shapes of {inferred.replace('-quickgelu', '')}"
            )
    elif inferred is not None:
        arch = inferred
    else:
        raise DataError(
            f"{path}: {WHAT} has no model_config_file entry and its image tower matches none of "
            + ", ".join(_RESNETS)
        )
    return sd, arch, float(s)


def load_cloob(arg: str, *, device: str = "cpu", **options: Any) -> OpenClipModel:
    """``cloob:PATH`` -> the ml-jku CLOOB model of that file on `device`."""
    check_no_options(options, f"cloob:{arg}")
    path = require_file(arg, what=WHAT, get_it=GET_IT)
    sd, arch, s = read_cloob_checkpoint(path)
    model = create_architecture(arch)
    load_checked(model, sd, path=path, what=f"{WHAT} ({arch} after key remapping)")
    short = arch.replace("-quickgelu", "")
    return wrap_open_clip(
        model, family="cloob", arch=arch, path=path, name=f"CLOOB {short} ({path.name})",
        logit_scale=s, logit_scale_source="checkpoint logit_inv_tau (s = exp(logit_inv_tau))",
        id_extra=[f"s={s:.6g}"], device=device,
    )
