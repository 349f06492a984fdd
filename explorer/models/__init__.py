"""Bi-modal models behind one interface (:class:`explorer.models.base.BimodalModel`).

Model specs:
  open_clip:ARCH/TAG   any pair of open_clip.list_pretrained() (weights must be in the local cache)
  open_clip:ARCH@PATH  an open_clip architecture with a local checkpoint file
  cyclip:PATH          CyCLIP's released RN50 checkpoint
  cloob:PATH           ml-jku CLOOB RN50 / RN50x4 checkpoint
  cloob-laion:PATH     the LAION-400M ViT-B/16 CLOOB pickle (read only when passed explicitly)
  own:NAME             the project's own small models (own:clip, own:cyclip, own:cloob)
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import SpecError
from .base import BimodalModel

#: prefix -> "module:function"; function(arg: str, *, device: str) -> BimodalModel
MODEL_LOADERS: dict[str, str] = {
    "open_clip": "explorer.models.open_clip_models:load_open_clip",
    "cyclip": "explorer.models.cyclip:load_cyclip",
    "cloob": "explorer.models.cloob:load_cloob",
    "cloob-laion": "explorer.models.cloob_laion:load_cloob_laion",
    "own": "explorer.models.own:load_own",
}


def split_model_spec(spec: str) -> tuple[str, str]:
    prefix, sep, rest = spec.partition(":")
    if not sep or prefix not in MODEL_LOADERS:
        raise SpecError(
            f"unknown model spec {spec!r}; use one of "
            + ", ".join(f"{p}:..." for p in MODEL_LOADERS)
            + " (e.g. own:clip, open_clip:RN50-quickgelu/openai, cyclip:/path/cyclip-3M.pt)"
        )
    return prefix, rest


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def load_model(spec: str, device: str = "auto", **options: Any) -> BimodalModel:
    """Load the model named by `spec` on `device` (auto: cuda, then mps, then cpu)."""
    prefix, rest = split_model_spec(spec)
    module, _, name = MODEL_LOADERS[prefix].partition(":")
    try:
        loader = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            raise SpecError(f"model family {prefix!r} is not part of this installation yet") from exc
        raise
    return loader(rest, device=resolve_device(device), **options)


__all__ = ["BimodalModel", "MODEL_LOADERS", "load_model", "resolve_device", "split_model_spec"]
