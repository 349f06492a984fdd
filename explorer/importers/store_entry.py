"""Import one entry of the embedding store: ``store:KEY`` (in the default store) or ``store:DIR``."""

from __future__ import annotations

from pathlib import Path

from ..store import EmbeddingStore, load_entry_dir


def import_store_entry(arg: str, *, logit_scale: float | None = None):
    p = Path(arg).expanduser()
    entry_dir = p if p.is_dir() else EmbeddingStore().path(arg)
    emb = load_entry_dir(entry_dir)
    if logit_scale is not None:
        emb = emb.with_logit_scale(logit_scale)
    return None, {emb.model: emb}
