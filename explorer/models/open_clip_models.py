"""Any open_clip model (``open_clip:ARCH/TAG`` and ``open_clip:ARCH@PATH``).

``open_clip:ARCH/TAG`` names a pair of ``open_clip.list_pretrained()``, e.g.
``open_clip:RN50-quickgelu/openai`` or ``open_clip:ViT-B-32-quickgelu/openai``. The weights are
taken **only from the local cache** that open_clip itself fills when it downloads them: the
Hugging Face hub cache (``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``) for tags
published on the hub, and ``~/.cache/clip`` for tags published as plain URLs (or the
``cache_dir=`` loader option, as open_clip's own ``cache_dir``). Nothing is downloaded at run time:
model creation runs with the hub in offline mode, so a missing file is reported at once, in one
sentence saying what is missing, where to get it and where to put it.

``open_clip:ARCH@PATH`` loads a local checkpoint file into architecture ARCH: an open_clip /
OpenAI-layout state dict (``.pt``/``.pth``/``.bin`` read with ``weights_only=True``, a
``.safetensors`` file, a training checkpoint with a ``state_dict`` entry, or an OpenAI TorchScript
archive such as the original ``RN50.pt``).

Preprocessing follows the tag's settings (mean/std, interpolation, resize mode) or, for files,
open_clip's default for the architecture (OpenAI's: bicubic shorter-side resize, centre crop,
OpenAI mean/std). s is the weights' own ``exp(logit_scale)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError, SpecError
from .open_clip_backbone import (
    OpenClipModel,
    check_no_options,
    check_state_dict,
    create_architecture,
    exp_scalar,
    wrap_open_clip,
)
from .weights_file import (
    as_float32,
    read_torch_container,
    require_file,
    strip_prefix,
    tensor_dict,
)

_HF_WEIGHTS = "open_clip_pytorch_model.bin"
_HF_SAFE_WEIGHTS = "open_clip_model.safetensors"


def hf_hub_cache_dir() -> Path:
    """The Hugging Face hub cache as huggingface_hub resolves it (read at call time)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def url_cache_dir() -> Path:
    """Where open_clip keeps weights downloaded from plain URLs."""
    return Path("~/.cache/clip").expanduser()


def _hub_candidates(filename: str) -> list[str]:
    """The file names open_clip tries on the hub, safetensors first."""
    filename = filename or _HF_WEIGHTS
    names = []
    if filename == _HF_WEIGHTS:
        names.append(_HF_SAFE_WEIGHTS)
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    names.append(filename)
    return names


def find_cached_weights(arch: str, tag: str, *, cache_dir: str | os.PathLike | None = None
                        ) -> tuple[Path | None, list[str]]:
    """(path of the cached weights file or None, the places looked at). Never touches the network."""
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    looked: list[str] = []
    if cfg.get("file"):
        p = Path(cfg["file"]).expanduser()
        if p.is_file():
            return p, looked
        looked.append(str(p))
    hub = cfg.get("hf_hub")
    if hub:
        repo, filename = os.path.split(hub)
        hub_dir = Path(cache_dir).expanduser() if cache_dir else hf_hub_cache_dir()
        names = _hub_candidates(filename)
        for name in names:
            found = try_to_load_from_cache(repo, name, cache_dir=str(hub_dir))
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found), looked
        looked.append(f"{hub_dir}/models--{repo.replace('/', '--')} ({' or '.join(names)})")
    url = cfg.get("url")
    if url:
        url_dir = Path(cache_dir).expanduser() if cache_dir else url_cache_dir()
        p = url_dir / os.path.basename(url)
        if p.is_file():
            return p, looked
        looked.append(str(p))
    return None, looked


def parse_open_clip_arg(arg: str) -> tuple[str, str | None, str | None]:
    """``ARCH/TAG`` -> (arch, tag, None); ``ARCH@PATH`` -> (arch, None, path)."""
    text = arg.strip()
    if "@" in text:
        arch, _, path = text.partition("@")
        if arch and path:
            return arch.strip(), None, path.strip()
    elif "/" in text:
        arch, _, tag = text.partition("/")
        if arch and tag:
            return arch.strip(), tag.strip(), None
    raise SpecError(
        f"model spec open_clip:{arg} is not open_clip:ARCH/TAG (e.g. open_clip:RN50-quickgelu/openai, "
        "a pair of open_clip.list_pretrained()) or open_clip:ARCH@PATH (a local weights file)"
    )


def _read_state_dict(path: Path, *, what: str) -> dict:
    """The tensors of the weights file `path` (read before any architecture is built, so an empty,
    truncated or foreign file is rejected at once rather than after seconds of model construction)."""
    obj = read_torch_container(path, what=what)
    key = "state_dict" if isinstance(obj, dict) and "state_dict" in obj else None
    return as_float32(strip_prefix(tensor_dict(obj, path=path, what=what, key=key), "module."))


def _load_weights(model, sd: dict, path: Path, *, what: str) -> None:
    """Load the state dict `sd` read from `path` into `model` strictly (with open_clip's own format
    conversions), turning every failure into a DataError naming the file."""
    from open_clip.factory import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

    try:
        sd = convert_state_dict(model, sd)
        if "positional_embedding" in sd and not hasattr(model, "positional_embedding"):
            sd = convert_to_custom_text_state_dict(sd)
        for name in ("logit_scale", "logit_bias"):
            target = getattr(model, name, None)
            if name in sd and target is not None and sd[name].ndim != target.ndim:
                sd[name] = sd[name].reshape(target.shape)
        resize_pos_embed(sd, model)
        resize_text_pos_embed(sd, model)
        check_state_dict(model, sd, path=path, what=what)
        model.load_state_dict(sd, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, DataError):
            raise
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise DataError(f"{path}: does not fit {what}: {' '.join(lines[:2])[:400]}") from exc


def load_open_clip(arg: str, *, device: str = "cpu", cache_dir: str | None = None,
                   **options: Any) -> OpenClipModel:
    """``open_clip:ARCH/TAG`` (cached pretrained weights) or ``open_clip:ARCH@PATH`` (a file)."""
    import open_clip

    check_no_options(options, f"open_clip:{arg}")
    arch, tag, file = parse_open_clip_arg(arg)
    if arch not in open_clip.list_models():
        create_architecture(arch)  # raises SpecError with suggestions
    overrides: dict[str, Any] = {}
    quick_gelu = False
    if tag is not None:
        tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
        if not tag_cfg:
            tags = open_clip.list_pretrained_tags_by_model(arch)
            raise SpecError(
                f"open_clip has no pretrained tag {tag!r} for {arch}; "
                + (f"its tags: {', '.join(tags)}" if tags else
                   "it has no pretrained tags (see open_clip.list_pretrained())")
            )
        path, looked = find_cached_weights(arch, tag, cache_dir=cache_dir)
        if path is None:
            raise MissingResourceError(
                f"open_clip weights {arch}/{tag} are not in the local cache (looked in "
                f"{'; '.join(looked) or 'no known location'}) and nothing is downloaded at run "
                f"time: on a machine with network run python -c \"import open_clip; "
                f"open_clip.create_model('{arch}', pretrained='{tag}')\" and copy the files it "
                f"downloads to the same cache here (or pass a weights file as "
                f"open_clip:{arch}@/path/to/weights)"
            )
        overrides = tag_cfg
        arch_cfg = open_clip.get_model_config(arch) or {}
        quick_gelu = bool(tag_cfg.get("quick_gelu")) and not arch_cfg.get("quick_gelu", False)
        what = f"open_clip {arch}/{tag} weights"
    else:
        path = require_file(
            file, what=f"open_clip weights file for {arch}",
            get_it="give the path of a local open_clip/OpenAI checkpoint, e.g. "
                   f"open_clip:{arch}@/path/to/weights.safetensors",
        )
        what = f"open_clip architecture {arch}"
    sd = _read_state_dict(path, what=what)
    model = create_architecture(arch, force_quick_gelu=quick_gelu)
    _load_weights(model, sd, path, what=what)
    model.eval()
    s = exp_scalar(model.logit_scale)
    extra = [f"tag={tag}"] if tag else []
    if quick_gelu:
        extra.append("quickgelu")
    name = f"open_clip {arch}/{tag}" if tag else f"open_clip {arch} ({path.name})"
    return wrap_open_clip(
        model, family="open_clip", arch=arch, path=path, name=name, logit_scale=s,
        logit_scale_source="weights logit_scale", id_extra=extra, device=device, overrides=overrides,
        provenance={"pretrained_tag": tag, "quick_gelu_forced": quick_gelu},
    )
