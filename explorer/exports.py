"""Selected pairs as a table others can read: :func:`export_selection` (parquet or CSV).

One row per pair, in the order given::

    pair_id          the row of the source (the pair id everywhere in the explorer)
    id               the dataset's own identifier
    caption
    image            the image's path (absolute for file-backed images), its reference in the
                     dataset, or the metadata's image_path / url; empty when unknown
    shown            whether the pair is among the shown pairs (caption filter and sample)
    cluster, label   its cluster (0-based, display order) and the cluster's n-gram label, when
                     clustering is on
    pair_similarity  cos(image, caption) as shown (the gap setting applied)
    x, y             its point of the shown projection when the projection has one point per
                     pair, else image_x, image_y, text_x, text_y (a sampled projection of a large
                     source leaves the unsampled pairs empty)

Values that are not known for a pair (not shown, no clustering) are left empty, never guessed.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SpecError

FORMATS = {".parquet": "parquet", ".csv": "csv"}


def image_references(pairs: Any, indices: Sequence[int], columns: Sequence[str] = ("image_path", "url")) -> list[Any]:
    """The image reference of each pair in `indices` (see module docstring; `columns`: the
    metadata columns tried when the pairs have no images), None when unknown."""
    if pairs is None:
        return [None] * len(indices)
    if pairs.images is not None:
        path = getattr(pairs.images, "path", None)
        return [str(path(i)) if path is not None else pairs.images.ref(i) for i in indices]
    meta = pairs.metadata
    for col in columns:
        if meta is not None and col in meta.columns:
            values = meta[col].to_numpy()[np.asarray(indices, dtype=np.int64)]
            return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]
    return [None] * len(indices)


def selection_frame(state: Any, pair_ids: Sequence[int] | None = None, *, model: str | None = None, cluster: int | None = None,
                    projection: bool | None = None):
    """The table of :func:`export_selection` as a pandas DataFrame (same arguments, no file)."""
    import pandas as pd

    state = _as_state(state)
    m = state.resolve_model(model)
    src = state.source_data()
    active = state.active_indices()
    o = state.ordering(m)
    if cluster is not None:
        if o is None:
            raise SpecError("cluster= needs clustering on (state.order.cluster = True)")
        if not 0 <= int(cluster) < len(o.members):
            raise SpecError(f"no cluster {cluster}; there are {len(o.members)} (0..{len(o.members) - 1})")
        ids = active[np.sort(o.members[int(cluster)])]
    elif pair_ids is None:
        ids = np.asarray(state.interaction.selected_pairs or active, dtype=np.int64)
    else:
        ids = np.asarray(list(dict.fromkeys(int(i) for i in pair_ids)), dtype=np.int64)
    bad = ids[(ids < 0) | (ids >= src.n)]
    if bad.size:
        raise SpecError(f"{src.spec}: no pair {int(bad[0])} (there are {src.n}, ids 0..{src.n - 1})")
    pos = np.minimum(np.searchsorted(active, ids), max(active.size - 1, 0))
    shown = active.size > 0
    shown = (active[pos] == ids) if shown else np.zeros(ids.size, dtype=bool)
    p = src.pairs
    frame = pd.DataFrame({
        "pair_id": ids,
        "id": [p.ids[i] for i in ids] if p is not None else [str(i) for i in ids],
        "caption": [p.captions[i] for i in ids] if p is not None else [None] * ids.size,
        "image": image_references(p, ids.tolist()),
        "shown": shown,
    })
    if o is not None:
        labels = state.cluster_labels(m)
        assign = o.assignment[pos] if active.size else np.zeros(ids.size, dtype=np.int64)
        frame["cluster"] = pd.array([int(a) if s else None for a, s in zip(assign, shown, strict=False)], dtype="Int64")
        frame["label"] = [labels[int(a)] if s else None for a, s in zip(assign, shown, strict=False)]
    sims = state.space(m).pair_similarities(*state.closing())
    frame["pair_similarity"] = np.where(shown, sims[pos] if sims.size else np.nan, np.nan)
    method = state.projection.projection
    if projection or (projection is None and method == "PCA"):
        pf = state.projection_frame(m)
        for modality, cols in (("pair", ("x", "y")), ("image", ("image_x", "image_y")), ("text", ("text_x", "text_y"))):
            part = pf[pf["modality"] == modality]
            if len(part):
                xy = part.set_index("pair_id")[["x", "y"]].reindex(ids)
                frame[cols[0]], frame[cols[1]] = xy["x"].to_numpy(), xy["y"].to_numpy()
    return frame


def export_selection(state: Any, path: str | os.PathLike, pair_ids: Sequence[int] | None = None, *, model: str | None = None,
                     cluster: int | None = None, projection: bool | None = None, format: str | None = None) -> Path:
    """Write the selected pairs of `state` (an ExplorerState, or a Source, opened with default
    settings) to `path` as parquet or CSV (by the suffix, or `format`); returns the path.

    `pair_ids`: source pair ids (default: the state's selected pairs, else all shown pairs);
    `cluster`: instead, the members of that cluster (clustering on); `model`: whose similarity,
    cluster and projection (default the state's); `projection`: include the projection's x/y
    (default: when the projection is PCA, which is cheap; True computes UMAP / t-SNE too).
    Written to a temporary file renamed into place. Columns: see the module docstring."""
    path = Path(path).expanduser()
    fmt = format or FORMATS.get(path.suffix.lower())
    if fmt not in FORMATS.values():
        raise SpecError(f"{path}: export_selection writes .parquet or .csv (or pass format='parquet' / 'csv')")
    frame = selection_frame(state, pair_ids, model=model, cluster=cluster, projection=projection)
    if not path.parent.is_dir():
        raise SpecError(f"{path}: the folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def frame_bytes(frame: Any, fmt: str) -> bytes:
    """A selection table as the bytes of a parquet or CSV file."""
    if fmt not in FORMATS.values():
        raise SpecError(f"no export format {fmt!r}; use parquet or csv")
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(buf, index=False)
    else:
        frame.to_csv(buf, index=False)
    return buf.getvalue()


def selection_bytes(state: Any, fmt: str, pair_ids: Sequence[int] | None = None, *, model: str | None = None,
                    cluster: int | None = None) -> bytes:
    """What :func:`export_selection` would write, as bytes (the app's download buttons)."""
    return frame_bytes(selection_frame(state, pair_ids, model=model, cluster=cluster), fmt)


def export_filename(state: Any, fmt: str, *, model: str | None = None, cluster: int | None = None, count: int | None = None) -> str:
    """``<source>_<model>_<selected-N | cluster-K>.<fmt>``, with only letters, digits, ``._-``."""
    state = _as_state(state)
    what = f"cluster-{int(cluster)}" if cluster is not None else f"selected-{count}" if count is not None else "selection"
    parts = (state.source_data().name or "source", state.resolve_model(model) or "model", what)
    stem = "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", str(p)).strip("-.") or "x" for p in parts)
    return f"{stem[:150]}.{fmt}"


def _as_state(obj: Any):
    from .sources import Source
    from .state import ExplorerState

    if isinstance(obj, Source):
        return ExplorerState(obj)
    if isinstance(obj, ExplorerState):
        return obj
    raise SpecError(f"export_selection takes an ExplorerState or a Source, got {type(obj).__name__}")
