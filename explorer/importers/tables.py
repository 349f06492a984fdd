"""Import embeddings stored as tables: ``npz:FILE`` and ``parquet:FILE``.

npz: arrays ``image`` and ``text`` (N×D each; also accepted: ``images``/``texts``,
``image_embeddings``/``text_embeddings``) or one ``embeddings`` array of shape (2, N, D); optional
``captions`` (N strings), ``ids``, ``model`` (a string) and ``logit_scale`` (a number).

parquet: one row per pair with list-valued columns ``image`` and ``text`` (also accepted:
``image_embedding``/``text_embedding``); optional columns ``caption``, ``id``; the file's key/value
metadata may hold ``model`` and ``logit_scale``.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import DataError, MissingResourceError, said
from ..pairs import PairSet

IMAGE_KEYS = ("image", "images", "image_embeddings", "image_embedding")
TEXT_KEYS = ("text", "texts", "text_embeddings", "text_embedding")
DEFAULT_LOGIT_SCALE = 100.0


def _first(mapping_keys, candidates):
    for k in candidates:
        if k in mapping_keys:
            return k
    return None


def _scale(value, path: Path) -> float | None:
    if value is None:
        return None
    try:
        scale = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: logit_scale must be a number, got {value!r}") from exc
    return scale


def _build(path: Path, prefix: str, image, text, *, captions, ids, model, logit_scale, override):
    source = str(path)
    prov: dict[str, Any] = {"source": f"{prefix}:{path}", "file": source}
    if override is not None:
        scale, prov["logit_scale_source"] = float(override), "override"
    elif logit_scale is not None:
        scale, prov["logit_scale_source"] = float(logit_scale), "file"
    else:
        scale = DEFAULT_LOGIT_SCALE
        prov["logit_scale_source"] = "assumed"
        prov["note"] = f"logit scale {scale:g} assumed (none in the file); pass --logit-scale"
    name = model or path.stem
    emb = Embeddings.from_arrays(image, text, model=name, logit_scale=scale, provenance=prov, source=source)
    pairs = None
    if captions is not None:
        captions = [str(c) for c in captions]
        if len(captions) != emb.n:
            raise DataError(f"{source}: {len(captions)} captions but {emb.n} embedding pairs")
        pairs = PairSet.build(captions, None, ids=ids, name=path.stem, recipe=f"{prefix}:{path}")
    return pairs, {name: emb}


def load_numpy(path: Path, kind: str, mmap: bool = False):
    """``np.load`` of a .npy array (`kind` 'npy', memory-mapped with `mmap`) or a .npz archive
    ('npz'), never unpickling: anything else (a pickle, a text file, the other kind) is a
    DataError saying what it is."""
    names = {"npy": "a .npy array", "npz": "a .npz archive"}
    try:
        obj = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:
        if "pickle" in str(exc):  # numpy reads a file without the .npy/.npz magic as a pickle
            raise DataError(f"{path}: not {names[kind]}: the file is neither .npy nor .npz (a pickle or some other "
                            "format; pickles are never loaded)") from exc
        raise DataError(f"{path}: not a readable {names[kind]} ({exc})") from exc
    except Exception as exc:
        raise DataError(f"{path}: not a readable {names[kind]} ({type(exc).__name__}: {exc})") from exc
    got = "npz" if isinstance(obj, np.lib.npyio.NpzFile) else "npy"
    if got != kind:
        if got == "npz":
            obj.close()
        use = "npz:FILE" if got == "npz" else "liang:FILE (a (2, N, D) array)"
        raise DataError(f"{path}: {names[got]}, but {names[kind]} was expected; for this file use {use}")
    return obj


def import_npz(arg: str, *, logit_scale: float | None = None):
    path = Path(arg).expanduser()
    if not path.is_file():
        raise MissingResourceError(f"file not found: {path}")
    z = load_numpy(path, "npz")
    try:
        return _import_npz_members(path, z, logit_scale)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a member damaged inside the archive
        raise DataError(f"{path}: a damaged .npz archive ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    except ValueError as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: an array in this .npz archive cannot be read ({str(exc).splitlines()[0]})") from exc


def _import_npz_members(path: Path, z, logit_scale: float | None):
    keys = set(z.files)
    ik, tk = _first(keys, IMAGE_KEYS), _first(keys, TEXT_KEYS)
    if ik and tk:
        image, text = z[ik], z[tk]
    elif "embeddings" in keys:
        stacked = z["embeddings"]
        if stacked.ndim != 3 or stacked.shape[0] != 2:
            raise DataError(f"{path}: 'embeddings' must have shape (2, N, D), got {stacked.shape}")
        image, text = stacked[0], stacked[1]
    else:
        raise DataError(f"{path}: needs arrays 'image' and 'text' (or one 'embeddings' of shape (2, N, D)); found {sorted(keys)}")
    try:
        captions = z["captions"].tolist() if "captions" in keys else None
        ids = z["ids"].tolist() if "ids" in keys else None
        model = str(z["model"]) if "model" in keys else None
    except ValueError as exc:  # e.g. an object array, which is never unpickled
        raise DataError(f"{path}: captions, ids and model must be plain string arrays ({exc})") from exc
    scale = _scale(z["logit_scale"] if "logit_scale" in keys else None, path)
    return _build(path, "npz", image, text, captions=captions, ids=ids, model=model, logit_scale=scale, override=logit_scale)


def import_parquet(arg: str, *, logit_scale: float | None = None):
    import pyarrow.parquet as pq

    path = Path(arg).expanduser()
    if not path.is_file():
        raise MissingResourceError(f"file not found: {path}")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({said(exc)})") from exc
    from ..data.hf_parquet import image_kind

    held = [f.name for f in schema if image_kind(f.type)]
    if held:  # checked on the schema, before reading a table of images into memory
        raise DataError(f"{path}: column {held[0]!r} holds image bytes ({schema.field(held[0]).type}), not embeddings; "
                        f"a dataset of images and captions is read as hf-parquet:{arg} and embedded with --models")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({said(exc)})") from exc
    cols = set(table.column_names)
    ik, tk = _first(cols, IMAGE_KEYS), _first(cols, TEXT_KEYS)
    if not (ik and tk):
        raise DataError(f"{path}: needs list-valued columns 'image' and 'text'; found {sorted(cols)}")

    def matrix(col: str) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column(col).combine_chunks()
        if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type)):
            raise DataError(f"{path}: column {col!r} must hold one vector per row, found {column.type}")
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        if column.null_count or len(set(lengths.tolist())) != 1 or lengths[0] == 0:
            raise DataError(f"{path}: column {col!r} must hold one vector of the same length per row (lengths {sorted(set(lengths.tolist()))[:5]})")
        try:
            flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError, pa.ArrowInvalid) as exc:
            raise DataError(f"{path}: column {col!r} holds non-numbers ({exc})") from exc
        return flat.reshape(len(column), int(lengths[0]))

    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items() if not k.startswith(b"pandas")}
    captions = table.column("caption").to_pylist() if "caption" in cols else None
    ids = table.column("id").to_pylist() if "id" in cols else None
    scale = _scale(meta.get("logit_scale"), path)
    return _build(
        path, "parquet", matrix(ik), matrix(tk), captions=captions, ids=ids, model=meta.get("model"), logit_scale=scale, override=logit_scale
    )
