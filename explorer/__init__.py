"""bimodal-explorer: explore the shared latent space of CLIP-like bi-modal models.

Notebook API (imported lazily, so `import explorer` stays light):

    import explorer
    src = explorer.open_source("amumo:../shared/data/amumo/MSCOCO-Val_size-100")
    pairs = explorer.load_pairs("shapes:500")
    emb = explorer.embed(pairs, "own:clip")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "open_source": ("explorer.sources", "open_source"),
    "load_pairs": ("explorer.sources", "load_pairs"),
    "Source": ("explorer.sources", "Source"),
    "PairSet": ("explorer.pairs", "PairSet"),
    "Embeddings": ("explorer.embeddings", "Embeddings"),
    "EmbeddingStore": ("explorer.store", "EmbeddingStore"),
    "load_model": ("explorer.models", "load_model"),
    "embed": ("explorer.embed", "embed_pairs"),
    "Explorer": ("explorer.app.explorer", "Explorer"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
