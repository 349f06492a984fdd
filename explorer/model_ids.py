"""What the embedding store knows about a model: its id, preprocessing and logit scale.

The store key of embeddings names the model's id; for a model given by a weights file
(``cyclip:PATH``, ``open_clip:ARCH@PATH``, ...) the id is remembered per file (size and
modification time, in ``<store>/model-ids.json``), so a cache hit does not load the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .file_memo import FileMemo
from .store import EmbeddingStore

MEMO_FILE = "model-ids.json"


@dataclass(frozen=True)
class ModelInfo:
    """What the store key and the provenance need to know about a model."""

    spec: str | None
    name: str
    id: str
    preprocessing: str
    logit_scale: float

    @classmethod
    def of(cls, model: Any, spec: str | None = None) -> ModelInfo:
        return cls(spec, str(getattr(model, "name", spec) or spec), str(model.id), str(getattr(model, "preprocessing", "") or ""), float(model.logit_scale))


def spec_file(spec: str) -> Path | None:
    """The local weights file a model spec names (``cyclip:PATH``, ``open_clip:ARCH@PATH``, ...), if any."""
    prefix, sep, rest = spec.partition(":")
    if not sep or prefix == "own":
        return None
    if prefix == "open_clip":
        if "@" not in rest:
            return None
        rest = rest.split("@", 1)[1]
    p = Path(rest).expanduser()
    return p if p.is_file() else None


def model_memo(store: EmbeddingStore) -> FileMemo:
    return FileMemo(store.root / MEMO_FILE)


def remembered_model(store: EmbeddingStore, spec: str) -> ModelInfo | None:
    """The ModelInfo of a file-backed spec seen before, if its file is unchanged since."""
    path = spec_file(spec)
    entry = model_memo(store).get(spec, path) if path is not None else None
    try:
        return ModelInfo(spec, entry["name"], entry["id"], entry["preprocessing"], float(entry["logit_scale"])) if entry else None
    except (KeyError, TypeError, ValueError):
        return None


def remember_model(store: EmbeddingStore, info: ModelInfo) -> None:
    """Remember a file-backed model's id (a failure only costs a later model load)."""
    path = spec_file(info.spec) if info.spec is not None else None
    if path is not None:
        value = {"name": info.name, "id": info.id, "preprocessing": info.preprocessing, "logit_scale": info.logit_scale}
        model_memo(store).put(info.spec, path, value)
