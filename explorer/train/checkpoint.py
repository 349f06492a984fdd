"""The on-disk format of the project's own models.

A model is two files: ``<stem>.safetensors`` (float32 weights and BatchNorm statistics) and ``<stem>.json`` (the
config). A directory written by ``python -m explorer train`` holds ``model.safetensors``,
``model.json`` and ``loss_log.csv``; the shipped models are ``explorer/models/weights/<name>.*``.

The JSON config holds: ``format`` and ``format_version``; ``objective`` (clip|cyclip|cloob);
``architecture`` (:class:`~explorer.train.encoders.Architecture`); ``vocabulary`` (the words in id
order); ``logit_scale`` (s = exp(t) for CLIP/CyCLIP after training, τ⁻¹ = 30 for CLOOB);
``objective_params``; ``preprocessing``; ``weights_sha256`` (hash of the tensors, checked on
load, part of the model id); and ``training`` (the exact command, seeds, data recipe,
hyper-parameters, wall time, library versions, per-epoch losses).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import DataError, MissingResourceError
from .encoders import Architecture, BimodalNet
from .vocab import Vocabulary

FORMAT = "bimodal-explorer-own-model"
FORMAT_VERSION = 1


def weights_hash(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors (name, dtype, shape, bytes) in name order."""
    h = hashlib.sha256(b"own-weights-v1")
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_model(directory: Path | str, stem: str, net: BimodalNet, vocab: Vocabulary, config: dict[str, Any]) -> Path:
    """Write `<stem>.safetensors` and `<stem>.json` into `directory` (each atomically: a temp
    file then rename, so a crash never leaves a half-written model). Returns the JSON path."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    cfg = dict(config)
    cfg.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        architecture=net.arch.to_dict(),
        vocabulary=list(vocab.words),
        weights_sha256=weights_hash(state),
    )
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".safetensors.tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": FORMAT, "weights_sha256": cfg["weights_sha256"]})
        _readable(Path(tmp))
        os.replace(tmp, directory / f"{stem}.safetensors")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _write_text_atomic(directory / f"{stem}.json", json.dumps(cfg, indent=1, ensure_ascii=False) + "\n")
    return directory / f"{stem}.json"


def _readable(path: Path) -> None:
    """mkstemp makes files private (0600); give the model files the usual permissions."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        _readable(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def model_files(path: Path | str) -> tuple[Path, Path]:
    """(weights, config) of a model given as a directory, a .json or a .safetensors path."""
    p = Path(path).expanduser()
    if p.is_dir():
        return p / "model.safetensors", p / "model.json"
    if p.suffix in (".json", ".safetensors"):
        return p.with_suffix(".safetensors"), p.with_suffix(".json")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def load_model_files(weights: Path, config_path: Path) -> tuple[BimodalNet, Vocabulary, dict[str, Any]]:
    """Read and check a saved model; raises MissingResourceError / DataError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for f in (config_path, weights):
        if not f.is_file():
            raise MissingResourceError(
                f"own model file not found: {f}; a model needs both {weights.name} and {config_path.name} "
                "(write one with `python -m explorer train --out DIR`)"
            )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{config_path}: not a valid JSON model config ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DataError(f"{config_path}: not a bimodal-explorer own-model config (format {FORMAT!r} expected)")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(f"{config_path}: format version {config.get('format_version')} is newer than this code reads")
    try:
        arch = Architecture.from_dict(config["architecture"])
        vocab = Vocabulary(tuple(config["vocabulary"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{config_path}: incomplete model config ({type(exc).__name__}: {exc})") from exc
    if arch.vocab_size != len(vocab):
        raise DataError(f"{config_path}: vocabulary has {len(vocab)} words but the architecture expects {arch.vocab_size}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{weights}: cannot read the safetensors weights ({exc})") from exc
    digest = weights_hash(state)
    if config.get("weights_sha256") != digest:
        raise DataError(
            f"{weights}: the weights do not match the hash recorded in {config_path.name} "
            "(corrupted, or the two files belong to different models)"
        )
    net = BimodalNet(arch)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"{weights}: weights do not fit the architecture in {config_path.name} ({' '.join(str(exc).split())[:400]})") from exc
    net.eval()
    return net, vocab, config


def copy_model(src_dir: Path | str, dest_dir: Path | str, stem: str) -> None:
    """Copy a trained model directory's files to `dest_dir/<stem>.{safetensors,json,loss_log.csv}`."""
    src, dest = Path(src_dir), Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.safetensors", dest / f"{stem}.safetensors")
    shutil.copyfile(src / "model.json", dest / f"{stem}.json")
    if (src / "loss_log.csv").is_file():
        shutil.copyfile(src / "loss_log.csv", dest / f"{stem}.loss_log.csv")
