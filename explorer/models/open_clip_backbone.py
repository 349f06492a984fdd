"""open_clip architectures as :class:`BimodalModel`: shared by the open_clip, CyCLIP and CLOOB
loaders.

CyCLIP and ml-jku CLOOB released their weights in OpenAI's CLIP layout, which is exactly the
layout of open_clip's ``*-quickgelu`` configurations (QuickGELU matters: OpenAI's text tower
uses it). So all three families build an open_clip model *without* weights, check a state dict
against it key by key and shape by shape (a clear :class:`DataError` naming the file on any
mismatch) and wrap it in :class:`OpenClipModel`.

Nothing here downloads anything: model creation runs with the Hugging Face hub in offline mode
and without any "pretrained" source, so a missing resource fails at once instead of hanging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError, SpecError
from .torch_model import TorchBimodalModel

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


_offline_lock = threading.RLock()


@contextlib.contextmanager
def offline_hub() -> Iterator[None]:
    """Hugging Face hub offline for the duration: any HTTP request raises at once.

    Serialised by a lock so concurrent loads (threads of a dask worker) cannot interleave the
    save/restore of the process-wide settings and leave them changed."""
    with _offline_lock:
        saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            from huggingface_hub import constants  # read by is_offline_mode() at request time
        except ImportError:  # pragma: no cover - open_clip depends on huggingface_hub
            constants = None
        saved_flag = getattr(constants, "HF_HUB_OFFLINE", None)
        if constants is not None:
            constants.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            if constants is not None:
                constants.HF_HUB_OFFLINE = saved_flag
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class _DropRandomInitNotice(logging.Filter):
    """open_clip logs "No pretrained weights loaded ... initialized randomly" on the root logger
    when a model is created empty; here that is intended (the weights come next)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()


@contextlib.contextmanager
def _quiet_open_clip() -> Iterator[None]:
    notice = _DropRandomInitNotice()
    logging.root.addFilter(notice)
    try:
        yield
    finally:
        logging.root.removeFilter(notice)


def create_architecture(arch: str, *, force_quick_gelu: bool = False):
    """An open_clip model of architecture `arch` with freshly initialised weights, in eval mode.

    `force_quick_gelu` swaps GELU for QuickGELU (weights trained by OpenAI need it)."""
    import open_clip

    if arch not in open_clip.list_models():
        import difflib

        close = difflib.get_close_matches(arch, open_clip.list_models(), n=4)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SpecError(f"unknown open_clip architecture {arch!r}{hint}")
    with offline_hub(), _quiet_open_clip():
        model = open_clip.create_model(
            arch, pretrained=None, load_weights=False, pretrained_text=False,
            pretrained_image=False, device="cpu", precision="fp32",
            force_quick_gelu=force_quick_gelu,
        )
    return model.eval()


def check_state_dict(
    model, state_dict: Mapping[str, Any], *, path: Path, what: str,
    may_be_missing: Iterable[str] = (),
) -> None:
    """Raise one DataError naming `path` if keys are missing or unexpected or shapes differ."""
    expected = model.state_dict()
    optional = set(may_be_missing)
    missing = [k for k in expected if k not in state_dict and k not in optional]
    unexpected = [k for k in state_dict if k not in expected]
    if missing:
        raise DataError(
            f"{path}: not a complete {what}: {len(missing)} weight(s) missing, e.g. "
            + ", ".join(missing[:4])
        )
    if unexpected:
        raise DataError(
            f"{path}: not a {what}: {len(unexpected)} unexpected weight(s), e.g. "
            + ", ".join(unexpected[:4])
        )
    for k, v in state_dict.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise DataError(
                f"{path}: not a {what}: weight {k} has shape {tuple(v.shape)}, "
                f"expected {tuple(expected[k].shape)}"
            )


def load_checked(model, state_dict: Mapping[str, Any], *, path: Path, what: str,
                 may_be_missing: Iterable[str] = ()):
    """Check `state_dict` against `model` (see :func:`check_state_dict`) and load it."""
    check_state_dict(model, state_dict, path=path, what=what, may_be_missing=may_be_missing)
    # assign: the freshly read float32 CPU tensors become the parameters (no second copy)
    model.load_state_dict(dict(state_dict), strict=False, assign=True)
    return model.eval()


def preprocess_config(model, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """open_clip's preprocessing settings of `model` (size from the image tower), with the
    keys of `overrides` that describe preprocessing (mean, std, interpolation, resize_mode)."""
    from open_clip.model import get_model_preprocess_cfg

    cfg = {"mean": OPENAI_MEAN, "std": OPENAI_STD, "interpolation": "bicubic",
           "resize_mode": "shortest", "fill_color": 0}
    cfg.update(get_model_preprocess_cfg(model))
    for key in ("mean", "std", "interpolation", "resize_mode", "fill_color"):
        if overrides and key in overrides:
            cfg[key] = overrides[key]
    cfg["mean"] = tuple(float(m) for m in cfg["mean"])
    cfg["std"] = tuple(float(s) for s in cfg["std"])
    return cfg


def _size_text(size) -> str:
    if isinstance(size, (tuple, list)):
        return f"{size[0]}x{size[1]}" if size[0] != size[1] else str(size[0])
    return str(size)


def describe_normalisation(mean: Sequence[float], std: Sequence[float]) -> str:
    def same(a, b):
        return len(a) == len(b) and all(abs(x - y) < 1e-7 for x, y in zip(a, b, strict=True))

    if same(mean, OPENAI_MEAN) and same(std, OPENAI_STD):
        return "normalize OpenAI mean/std"
    return ("normalize mean=(" + ",".join(f"{m:.6g}" for m in mean) + ") std=("
            + ",".join(f"{s:.6g}" for s in std) + ")")


def describe_preprocessing(cfg: Mapping[str, Any]) -> str:
    """A short, deterministic description, part of the model id and of the store key."""
    size = _size_text(cfg["size"])
    interp = cfg.get("interpolation", "bicubic")
    mode = cfg.get("resize_mode", "shortest")
    if mode == "shortest":
        geometry = f"resize shorter side to {size} ({interp}), center crop {size}"
    elif mode == "longest":
        geometry = f"resize longer side to {size} ({interp}), pad to {size}"
    else:
        geometry = f"resize to {size} ({interp}, squash)"
    return f"{geometry}, {describe_normalisation(cfg['mean'], cfg['std'])}"


def image_transform(cfg: Mapping[str, Any]):
    """open_clip's evaluation transform (the reference for OpenAI-style preprocessing)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    keys = ("size", "mean", "std", "interpolation", "resize_mode", "fill_color")
    return image_transform_v2(PreprocessCfg(**{k: cfg[k] for k in keys if k in cfg}), is_train=False)


def tokenizer_for(arch: str):
    """open_clip's tokenizer for `arch` (CLIP BPE, 77 tokens, EOT kept on truncation)."""
    import open_clip

    with offline_hub():
        try:
            return open_clip.get_tokenizer(arch)
        except Exception as exc:  # HF tokenizers: missing package or not in the offline cache
            raise MissingResourceError(
                f"the tokenizer of open_clip {arch} is not available offline "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                "install what it needs and run open_clip.get_tokenizer once on a machine with "
                "network, then copy the Hugging Face cache (~/.cache/huggingface) here"
            ) from exc


def model_id(family: str, arch: str, digest: str, preprocessing: str, *extra: str) -> str:
    """``family:arch:sha256=<16 hex>[:extra...]:<preprocessing>``."""
    parts = [family, arch, f"sha256={digest[:16]}", *extra, preprocessing]
    return ":".join(parts)


class OpenClipModel(TorchBimodalModel):
    """An open_clip CLIP module with its transform and tokenizer behind the BimodalModel API."""


def wrap_open_clip(
    model,
    *,
    family: str,
    arch: str,
    path: Path,
    name: str,
    logit_scale: float,
    logit_scale_source: str,
    device: str,
    id_extra: Sequence[str] = (),
    provenance: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> OpenClipModel:
    """A loaded open_clip module as a BimodalModel: its preprocessing, tokenizer, and an id of
    family, architecture, weights digest, `id_extra` and preprocessing."""
    from .weights_file import weights_digest

    cfg = preprocess_config(model, overrides)
    preprocessing = describe_preprocessing(cfg)
    digest = weights_digest(path)
    return OpenClipModel(
        model,
        transform=image_transform(cfg),
        tokenizer=tokenizer_for(arch),
        name=name,
        id=model_id(family, arch, digest, preprocessing, *id_extra),
        logit_scale=logit_scale,
        preprocessing=preprocessing,
        provenance={
            "family": family, "architecture": arch, "weights_file": str(path), "weights_sha256": digest,
            "logit_scale": logit_scale, "logit_scale_source": logit_scale_source, **(provenance or {}),
        },
        device=device,
    )


def check_no_options(options: Mapping[str, Any], spec: str) -> None:
    if options:
        raise SpecError(f"model {spec}: unknown option(s) " + ", ".join(sorted(options)))


def exp_scalar(t) -> float:
    """exp of a 0-d or 1-element tensor, as float (a learned log-scale -> multiplier s)."""
    import math

    value = float(t.detach().float().reshape(-1)[0])
    return math.exp(value)
