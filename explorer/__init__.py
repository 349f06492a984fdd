"""bimodal-explorer: explore the shared latent space of CLIP-like bi-modal models.

Notebook API (imported lazily, so `import explorer` stays light)::

    import explorer
    src = explorer.open_source("amumo:../shared/data/amumo/MSCOCO-Val_size-100")
    state = explorer.ExplorerState(src, alpha=0.5)   # the settings, in parts (state.gap, state.data, ...)
    state.numbers("CLIP")                            # the numbers the app shows
    explorer.views.similarity_heatmap(state, "CLIP") # any view of the app, inline
    state.probe.query = "#12"                        # a text probe (typed text with a model's text encoder)
    state.probe_top()                                # the most similar images and captions; views.probe_panel(state)
    explorer.Explorer(state=state)                   # the whole app, inline
    pairs = explorer.load_pairs("shapes:500"); emb = explorer.embed(pairs, "own:clip")
    explorer.export_selection(state, "picked.parquet", [3, 14, 15])  # or .csv; see explorer.exports
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "open_source": ("explorer.sources", "open_source"),
    "load_pairs": ("explorer.sources", "load_pairs"),
    "Source": ("explorer.sources", "Source"),
    "PairSet": ("explorer.pairs", "PairSet"),
    "Embeddings": ("explorer.embeddings", "Embeddings"),
    "EmbeddingStore": ("explorer.store", "EmbeddingStore"),
    "load_model": ("explorer.models", "load_model"),
    "embed": ("explorer.embed", "embed_pairs"),
    "ExplorerState": ("explorer.state", "ExplorerState"),
    "AugmentState": ("explorer.state", "AugmentState"),
    "Explorer": ("explorer.app.explorer", "Explorer"),
    "write_report": ("explorer.app.report", "write_report"),
    "export_selection": ("explorer.exports", "export_selection"),
    "views": ("explorer.views", None),
    "engine": ("explorer.engine", None),
    "MEMO": ("explorer.engine.memo", "MEMO"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
