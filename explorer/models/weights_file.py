"""Reading weights files safely and naming them by content.

* :func:`require_file` turns a missing checkpoint into one :class:`MissingResourceError`
  sentence: what is missing, where to get it, where to put it.
* :func:`weights_digest` is the SHA-256 of a weights file. It is part of every model id so the
  embedding store never mixes results of different weights under one name. Hashing a 400 MB file
  takes about a second, so digests are cached by (resolved path, size, mtime) in memory and in
  ``<store root>/weights-sha256.json`` (explorer.file_memo); a changed file is rehashed.
* :func:`read_torch_container` reads a ``torch.save`` file with ``weights_only=True`` (plain
  tensors, numbers, strings and containers only: no code runs while loading), a ``.safetensors``
  file, or an OpenAI TorchScript archive (loaded with ``torch.jit.load``, which runs no Python
  pickle code). Anything it cannot read becomes a :class:`DataError` naming the file.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError
from ..file_memo import FileMemo, file_stamp

_DIGEST_CACHE_FILE = "weights-sha256.json"
_memory_digests: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def require_file(path: str | os.PathLike, *, what: str, get_it: str) -> Path:
    """`path` as an existing regular file, else one clear MissingResourceError.

    `what` names the resource ("CyCLIP checkpoint"), `get_it` says where to get it and how to
    point the tool at it.
    """
    text = str(path).strip()
    if not text:
        raise MissingResourceError(f"no {what} file given; {get_it}")
    p = Path(text).expanduser()
    if not p.exists():
        raise MissingResourceError(f"{what} not found: {p}; {get_it}")
    if not p.is_file():
        raise MissingResourceError(f"{what} path is not a file: {p}; {get_it}")
    return p


def _digest_memo() -> FileMemo:
    from ..store import default_root

    return FileMemo(default_root() / _DIGEST_CACHE_FILE)


def weights_digest(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file at `path`, remembered while its size and mtime are unchanged."""
    from ..store import sha256_file

    p = Path(path)
    stamp = file_stamp(p)
    key = (stamp["file"], stamp["size"], stamp["mtime_ns"])
    with _lock:
        if key in _memory_digests:
            return _memory_digests[key]
    memo = _digest_memo()
    digest = memo.get(stamp["file"], p)
    if not (isinstance(digest, str) and len(digest) == 64):
        digest = sha256_file(p)
        memo.put(stamp["file"], p, digest)
    with _lock:
        _memory_digests[key] = digest
    return digest


def is_torchscript_archive(path: Path) -> bool:
    """True for a TorchScript zip (has a ``code/`` folder), as OpenAI's original ``RN50.pt``."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any("/code/" in name for name in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def read_torch_container(path: Path, *, what: str) -> Any:
    """The object stored in a torch / safetensors / TorchScript weights file (on the CPU).

    A TorchScript archive yields its state dict; a safetensors file its tensor dict.
    """
    import torch

    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise DataError(f"{path}: cannot read this {what} as safetensors ({exc})") from exc
    if is_torchscript_archive(path):
        import warnings

        try:
            with warnings.catch_warnings():  # "torch.jit.load is deprecated": still the reader
                warnings.simplefilter("ignore", FutureWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise DataError(f"{path}: cannot read this {what} TorchScript archive ({exc})") from exc
        sd = dict(module.state_dict())
        for key in ("input_resolution", "context_length", "vocab_size"):
            sd.pop(key, None)
        return sd
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: cannot read this {what} with torch.load(weights_only=True) "
            f"(not a PyTorch checkpoint, truncated, or it holds Python objects other than "
            f"tensors and containers): {first[:300]}"
        ) from exc


def strip_prefix(state_dict: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Remove `prefix` (e.g. DistributedDataParallel's ``module.``) from every key that has it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def as_float32(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Floating tensors as float32 (checkpoints saved in fp16 are common); others unchanged."""
    import torch

    out = {}
    for k, v in state_dict.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != torch.float32:
            v = v.float()
        out[k] = v
    return out


def tensor_dict(obj: Any, *, path: Path, what: str, key: str | None = None) -> dict[str, Any]:
    """`obj` (or ``obj[key]``) as a dict of str -> tensor, else a DataError naming the file."""
    import torch

    if key is not None:
        if not isinstance(obj, Mapping):
            raise DataError(
                f"{path}: not a {what}: expected a dict with a {key!r} entry, "
                f"found {type(obj).__name__}"
            )
        if key not in obj:
            found = ", ".join(sorted(map(str, obj))[:8]) or "nothing"
            raise DataError(f"{path}: not a {what}: no {key!r} entry (found {found})")
        obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        raise DataError(f"{path}: not a {what}: the weights are not a non-empty dict of tensors")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise DataError(f"{path}: not a {what}: entry {bad[0]!r} is not a named tensor")
    return dict(obj)
