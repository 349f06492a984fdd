"""CyCLIP's released checkpoints (``cyclip:PATH``).

CyCLIP (Goel et al. 2022) trained OpenAI's RN50 CLIP on CC3M with two extra consistency terms
and published the weights as the files its training script writes: ``torch.save`` of a dict
``{"epoch", "name", "state_dict", "optimizer"}`` whose ``state_dict`` keys carry
DistributedDataParallel's ``module.`` prefix and otherwise follow OpenAI's CLIP layout
(``visual.*``, ``transformer.resblocks.*``, ``token_embedding``, ``positional_embedding``,
``ln_final``, ``text_projection``, ``logit_scale``). That is open_clip's ``RN50-quickgelu``
layout, so the weights load into that architecture unchanged.

The file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings and containers
only (the optimizer state included); no code in the file runs.

The logit scale s is the checkpoint's own ``exp(logit_scale)`` (CyCLIP clamps it at 100 during
training, so it is 100 up to rounding); a file without that entry gets s = 100. Which one was used
is recorded in ``provenance["logit_scale_source"]`` and in the model id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

WHAT = "CyCLIP checkpoint"
ARCH = "RN50-quickgelu"
DEFAULT_LOGIT_SCALE = 100.0
GET_IT = (
    "download cyclip-3M.pt (RN50 trained on CC3M) from the pretrained-checkpoints Google Drive "
    "folder linked in the CyCLIP README (https://github.com/goel-shashank/CyCLIP, "
    "https://drive.google.com/drive/folders/1K0kPJZ3MA4KAdx3Fpq25dgW59wIf7M-x), save it anywhere "
    "and pass its path, e.g. --model cyclip:~/models/cyclip-3M.pt"
)


def read_cyclip_state_dict(path: Path) -> dict[str, Any]:
    """The OpenAI-layout float32 state dict stored in a CyCLIP checkpoint file."""
    obj = read_torch_container(path, what=WHAT)
    sd = tensor_dict(obj, path=path, what=WHAT, key="state_dict")
    return as_float32(strip_prefix(sd, "module."))


def load_cyclip(arg: str, *, device: str = "cpu", **options: Any) -> OpenClipModel:
    """``cyclip:PATH`` -> the CyCLIP RN50 model of that file on `device`."""
    check_no_options(options, f"cyclip:{arg}")
    path = require_file(arg, what=WHAT, get_it=GET_IT)
    sd = read_cyclip_state_dict(path)
    model = create_architecture(ARCH)
    load_checked(model, sd, path=path, what=f"{WHAT} ({ARCH}, OpenAI layout)",
                 may_be_missing=("logit_scale",))
    if "logit_scale" in sd:
        s, source = exp_scalar(sd["logit_scale"]), "checkpoint logit_scale"
    else:
        s, source = DEFAULT_LOGIT_SCALE, "CyCLIP default (file has no logit_scale)"
    return wrap_open_clip(
        model, family="cyclip", arch=ARCH, path=path, name=f"CyCLIP RN50 ({path.name})",
        logit_scale=s, logit_scale_source=source, id_extra=[f"s={s:.6g}"], device=device,
    )
