"""Read and write clip-retrieval embedding folders: ``clip-retrieval:DIR``.

``clip-retrieval inference`` writes, per output partition i (zero-padded to the width of the
partition count, e.g. ``img_emb_07.npy``)::

    DIR/img_emb/img_emb_{i}.npy          (rows, D) image embeddings (float16, L2-normalised)
    DIR/text_emb/text_emb_{i}.npy        (rows, D) caption embeddings (float16; float32 with --use_mclip)
    DIR/metadata/metadata_{i}.parquet    one row per pair: image_path, caption and the rest

Shards are taken in numeric order (``img_emb_10`` after ``img_emb_9``) and row r of shard i is
the same pair in all three files; pair ids number the rows of all shards one after another.
Checked before anything is used, each failure one sentence naming the shard file: a shard
missing from one of the folders or from the numbering, row counts that disagree between a
shard's three files, dimensions or dtypes that differ between shards of one modality (a
float16/float32 mix), arrays that are not 2-D floats, NaN/inf and all-zero rows, a metadata file
without a ``caption`` column. Rows that are not unit vectors up to their storage precision are
normalised and reported per shard (clip-retrieval's own output always is normalised). Image and
caption shards of different dtypes (float16 images with float32 --use_mclip captions) are read as
float32.

Out of core: shards are memory-mapped (``np.load(mmap_mode='r')``). Shards of unit rows of one
dtype are used in place: one shard as it is, several as one array
(:class:`explorer.engine.sharded.ShardedRows`, reading each row from the shard that holds it);
the check that found them unit (NaN, zero and non-unit rows, a full read) is remembered in the
store's ``scans.json`` by the shard files' paths, sizes and modification times, so later opens
read only the headers and the metadata. Otherwise (rows to normalise, mixed modality dtypes) the
rows are written once, shard by shard in chunks, to an embedding-store entry keyed by the same
stamps (explorer.normalise), and memory-mapped from there. Small folders (≤ 256 MB per
modality) are read into memory.

Thumbnails come from ``image_path`` when those files exist: absolute paths as they are, relative
ones under the first of DIR, DIR's parent and the working directory that holds them (clip-retrieval
records the paths as it was given them); otherwise the source has no images (never a download).
The model's name and logit scale are the parquet key/value metadata ``model`` and ``logit_scale``
of ``metadata_0`` when present (this module's writer records them), else the folder's name and
an assumed 100 (pass --logit-scale). Other metadata columns are kept as the pairs' metadata; a
unique ``key`` column gives the pair ids.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import DataError, MissingResourceError, SpecError, said
from ..images import FileImages
from ..pairs import PairSet
from .tables import DEFAULT_LOGIT_SCALE, load_numpy

#: kind -> (folder, file-name prefix, suffix)
LAYOUT = {"image": ("img_emb", "img_emb_", ".npy"), "text": ("text_emb", "text_emb_", ".npy"),
          "metadata": ("metadata", "metadata_", ".parquet")}
#: clip-retrieval's default partition size (write_batch_size)
DEFAULT_SHARD_ROWS = 1_000_000
#: how many image_path values are tried when looking for the image root
ROOT_SAMPLE = 16


@dataclass(frozen=True)
class Shard:
    """Partition `index`: its three files, its rows and the pair id of its first row."""

    index: int
    image: Path
    text: Path
    metadata: Path
    rows: int = 0
    start: int = 0

    def rel(self, path: Path) -> str:
        return f"{path.parent.name}/{path.name}"

    def describe(self) -> str:
        return (f"shard {self.index} ({self.rel(self.image)}, {self.rel(self.text)}; local rows, pairs "
                f"{self.start}..{self.start + self.rows - 1})")


def _numbered(folder: Path, kind: str) -> dict[int, Path]:
    sub, prefix, suffix = LAYOUT[kind]
    place = folder / sub
    if not place.is_dir():
        raise MissingResourceError(f"{folder}: no {sub}/ folder; a clip-retrieval folder has img_emb/, text_emb/ and metadata/")
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+){re.escape(suffix)}$")
    found: dict[int, Path] = {}
    for p in sorted(place.iterdir()):
        m = pattern.match(p.name)
        if not m:
            continue
        i = int(m.group(1))
        if i in found:
            raise DataError(f"{p}: shard {i} appears twice in {sub}/ ({found[i].name} and {p.name})")
        found[i] = p
    return found


def find_shards(folder: Path) -> list[Shard]:
    """The shards of a clip-retrieval folder in numeric order; DataError naming a missing one."""
    files = {kind: _numbered(folder, kind) for kind in LAYOUT}
    if not files["image"]:
        raise DataError(f"{folder / 'img_emb'}: no img_emb_<i>.npy shards")
    indices = sorted(set().union(*(set(f) for f in files.values())))
    for i in indices:
        have = {kind: f.get(i) for kind, f in files.items()}
        missing = [k for k, p in have.items() if p is None]
        if missing:
            sub, prefix, suffix = LAYOUT[missing[0]]
            present = next(p for p in have.values() if p is not None)
            width = len(re.search(r"(\d+)\.\w+$", present.name).group(1))
            raise DataError(f"{folder / sub / f'{prefix}{i:0{width}d}{suffix}'} is missing "
                            f"({present.parent.name}/{present.name} is there; every shard needs all three files)")
    expected = list(range(len(indices)))
    if indices != expected:
        gap = next(i for i, j in zip(expected, indices, strict=False) if i != j)
        raise DataError(f"{folder / 'img_emb'}: shard {gap} is missing (shards {indices[:8]}{'...' if len(indices) > 8 else ''} "
                        "are there; clip-retrieval numbers them from 0 without gaps, so the run looks incomplete)")
    return [Shard(i, files["image"][i], files["text"][i], files["metadata"][i]) for i in indices]


def open_shards(shards: list[Shard]) -> tuple[list[Shard], list[np.ndarray], list[np.ndarray]]:
    """Memory-map every embedding shard and check shapes, dtypes and row counts (headers only)."""
    import pyarrow.parquet as pq

    images, texts, out = [], [], []
    start = 0
    first: dict[str, tuple[Path, np.ndarray]] = {}
    for sh in shards:
        pair = []
        for kind, path in (("image", sh.image), ("text", sh.text)):
            a = load_numpy(path, "npy", mmap=True)
            if a.ndim != 2 or a.dtype not in (np.float16, np.float32, np.float64):
                raise DataError(f"{path}: expected a 2-D float16/float32/float64 array (rows x dimensions), got {a.dtype} {a.shape}")
            if kind not in first:
                first[kind] = (path, a)
            ref_path, ref = first[kind]
            if a.dtype != ref.dtype:
                raise DataError(f"{path} is {a.dtype} but {ref_path.name} is {ref.dtype}: the shards of one modality must share "
                                "one dtype (a float16/float32 mix means they come from different runs)")
            if a.shape[1] != first["image"][1].shape[1]:
                raise DataError(f"{path} has {a.shape[1]} dimensions but {first['image'][0].name} has "
                                f"{first['image'][1].shape[1]}; all shards must live in one space")
            pair.append(a)
        img, txt = pair
        try:
            meta_rows = pq.ParquetFile(sh.metadata).metadata.num_rows
        except Exception as exc:
            raise DataError(f"{sh.metadata}: not a readable Parquet file ({type(exc).__name__}: {said(exc)})") from exc
        if not img.shape[0] == txt.shape[0] == meta_rows:
            raise DataError(f"shard {sh.index} disagrees on its rows: {sh.rel(sh.image)} has {img.shape[0]}, {sh.rel(sh.text)} "
                            f"{txt.shape[0]} and {sh.rel(sh.metadata)} {meta_rows}; row r of a shard must be one pair in all three")
        out.append(Shard(sh.index, sh.image, sh.text, sh.metadata, int(img.shape[0]), start))
        start += int(img.shape[0])
        images.append(img)
        texts.append(txt)
    if start == 0:
        raise DataError(f"{shards[0].image.parent.parent}: the shards hold no rows")
    return out, images, texts


def read_metadata(shards: list[Shard]):
    """The shards' metadata as one pyarrow table (rows in pair order); DataError naming a file
    without a caption column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for sh in shards:
        try:
            t = pq.read_table(sh.metadata)
        except Exception as exc:
            raise DataError(f"{sh.metadata}: not a readable Parquet file ({type(exc).__name__}: {said(exc)})") from exc
        if "caption" not in t.column_names:
            raise DataError(f"{sh.metadata}: no 'caption' column (columns {t.column_names}); a clip-retrieval folder of "
                            "pairs has one caption per row")
        tables.append(t.replace_schema_metadata(None))
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{shards[0].metadata.parent}: the metadata shards' columns do not agree ({exc})") from exc


def _file_meta(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).schema_arrow.metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if not k.startswith(b"pandas")}


def find_images(folder: Path, column: Any) -> tuple[FileImages | None, str | None]:
    """FileImages for the image_path values (a pyarrow column) when those files exist (module
    docstring), else (None, why not). The column becomes Python strings only when the files are
    there: at a million rows that conversion alone takes seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    try:
        text = pc.cast(column, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. a list column: as str() would print it
        text = pa.chunked_array([[None if v is None else str(v) for v in column.to_pylist()]], pa.large_string())
    if column.null_count or pc.any(pc.equal(pc.utf8_length(text), 0)).as_py():
        return None, "some rows have no image_path; the source has no thumbnails"
    at = sorted({int(k * (n - 1) / max(ROOT_SAMPLE - 1, 1)) for k in range(ROOT_SAMPLE)})
    sample = [str(column[i].as_py()) for i in at]
    paths = _LazyList(column)
    absolute = [os.path.isabs(p) for p in sample]
    if all(absolute):
        if not any(os.path.isfile(p) for p in sample):
            return None, f"the image files named by image_path (e.g. {sample[0]}) are not on this machine; no thumbnails"
        strs = [str(p) for p in paths]
        if not all(os.path.isabs(p) for p in strs):
            return None, "image_path mixes absolute and relative paths; no thumbnails"
        root = os.path.commonpath(strs)
        if os.path.isfile(root):
            root = os.path.dirname(root)
        cut = len(root.rstrip(os.sep)) + 1
        return FileImages(root, [p[cut:] for p in strs]), None
    if any(absolute):
        return None, "image_path mixes absolute and relative paths; no thumbnails"
    roots = [folder, folder.parent, Path.cwd()]
    for root in roots:
        if any((root / p).is_file() for p in sample):
            return FileImages(root, [str(p) for p in paths]), None
    return None, (f"the image files named by image_path (e.g. {sample[0]}) are not under {', '.join(str(r) for r in roots)}; "
                  "no thumbnails")


class _LazyList:
    """The column's values as a Python list, made on first use (only when thumbnails exist)."""

    def __init__(self, column: Any):
        self.column = column
        self._values: list[Any] | None = None

    def values(self) -> list[Any]:
        if self._values is None:
            self._values = self.column.to_pylist()
        return self._values

    def __iter__(self):
        return iter(self.values())


def content_key(shards: list[Shard]) -> str:
    """What names the shards' embeddings in the store: every embedding file's path, size and mtime."""
    from ..file_memo import file_stamp

    stamps = [file_stamp(p) for sh in shards for p in (sh.image, sh.text)]
    return "clip-retrieval:" + hashlib.sha256(json.dumps(stamps, sort_keys=True).encode()).hexdigest()[:32]


def scanned_not_unit(folder: Path, shards: list[Shard], images: list[np.ndarray], texts: list[np.ndarray], store: Any,
                     key_text: str, *, remember: bool) -> list[Shard]:
    """The shards whose rows are not unit vectors (explorer.normalise.scan, shard by shard: NaN,
    inf and zero rows raise). Large folders remember the answer in the store's ``scans.json``
    under the content key (every shard file's path, size and mtime), so a folder used in place is
    read whole once, not at every open."""
    from ..file_memo import FileMemo
    from ..normalise import scan

    memo = FileMemo(store.root / "scans.json") if remember else None
    known = memo.get(key_text, shards[0].image) if memo is not None else None
    if isinstance(known, list):
        return [sh for sh in shards if sh.index in set(known)]
    not_unit = [sh for sh, a, b in zip(shards, images, texts, strict=True) if not scan(a, b, f"{folder}: {sh.describe()}")]
    if memo is not None:
        memo.put(key_text, shards[0].image, [sh.index for sh in not_unit])
    return not_unit


def shard_embeddings(folder: Path, shards: list[Shard], images: list[np.ndarray], texts: list[np.ndarray], *, model: str,
                     logit_scale: float, provenance: dict[str, Any]) -> Embeddings:
    """One Embeddings over all shards (module docstring: in place, in memory or via the store)."""
    from ..normalise import IN_MEMORY_BYTES, fill_normalised
    from ..store import EmbeddingStore, entry_key

    n, dim = sum(sh.rows for sh in shards), int(images[0].shape[1])
    same = images[0].dtype == texts[0].dtype
    dtype = images[0].dtype if same and images[0].dtype != np.float64 else np.dtype(np.float32)
    key_text = provenance["content_key"]
    store = EmbeddingStore()
    key = entry_key(f"normalised:{key_text}", model, f"{images[0].dtype}/{texts[0].dtype}")
    small = sum(a.nbytes for a in images) <= IN_MEMORY_BYTES
    if not small and store.contains(key):
        emb = store.load(key)  # the report of the first open is in its provenance; the scale is this open's
        prov = {**emb.provenance, "logit_scale_source": provenance["logit_scale_source"]}
        return Embeddings(emb.image, emb.text, model=model, logit_scale=logit_scale, provenance=prov)
    not_unit = scanned_not_unit(folder, shards, images, texts, store, key_text, remember=not small)
    prov = dict(provenance)
    if not_unit:
        named = "; ".join(f"{sh.rel(sh.image)} / {sh.rel(sh.text)}" for sh in not_unit[:5])
        prov["note"] = (f"the rows of {len(not_unit)} of {len(shards)} shard(s) are not unit vectors ({named}"
                        f"{'; ...' if len(not_unit) > 5 else ''}); normalised on load (clip-retrieval's own output is)")
        prov["not_unit_shards"] = [sh.index for sh in not_unit]
    if not same:
        prov["dtypes"] = f"images {images[0].dtype}, captions {texts[0].dtype}; read as float32"
    if small:
        return Embeddings.from_arrays(np.concatenate(images), np.concatenate(texts), model=model, logit_scale=logit_scale,
                                      provenance=prov, source=str(folder))
    if same and not not_unit:  # unit rows of one dtype: the shards in place, memory-mapped, as one array
        if len(shards) == 1:
            return Embeddings(images[0], texts[0], model=model, logit_scale=logit_scale, provenance=prov)
        from ..engine.sharded import ShardedRows

        return Embeddings(ShardedRows(images), ShardedRows(texts), model=model, logit_scale=logit_scale,
                          provenance={**prov, "in_place_shards": len(shards)})

    def fill(maps, _progress):
        fill_normalised(maps["image"], images)
        fill_normalised(maps["text"], texts)

    store.save_chunked(key, n=n, dim=dim, dtype=dtype, fill=fill, model=model, logit_scale=logit_scale, provenance=prov,
                       dataset={"normalised_from": f"clip-retrieval:{folder}", "shards": len(shards)})
    emb = store.load(key)
    return Embeddings(emb.image, emb.text, model=model, logit_scale=logit_scale, provenance=dict(emb.provenance))


def import_clip_retrieval(arg: str, *, logit_scale: float | None = None):
    """(PairSet, {model: Embeddings}) of a clip-retrieval folder (module docstring)."""
    import pyarrow.compute as pc

    folder = Path(arg).expanduser()
    if not folder.is_dir():
        raise MissingResourceError(f"clip-retrieval folder not found: {folder}")
    shards, images, texts = open_shards(find_shards(folder))
    table = read_metadata(shards)
    meta = _file_meta(shards[0].metadata)
    model = meta.get("model") or folder.resolve().name
    prov: dict[str, Any] = {"source": f"clip-retrieval:{folder}", "folder": str(folder), "shards": len(shards),
                            "content_key": content_key(shards)}
    if logit_scale is not None:
        scale, prov["logit_scale_source"] = float(logit_scale), "override"
    elif meta.get("logit_scale"):
        try:
            scale = float(meta["logit_scale"])
        except ValueError as exc:
            raise DataError(f"{shards[0].metadata}: logit_scale must be a number, got {meta['logit_scale']!r}") from exc
        prov["logit_scale_source"] = "file"
    else:
        scale, prov["logit_scale_source"] = DEFAULT_LOGIT_SCALE, "assumed"
    emb = shard_embeddings(folder, shards, images, texts, model=model, logit_scale=scale, provenance=prov)
    if prov["logit_scale_source"] == "assumed":
        said = [emb.provenance["note"]] if emb.provenance.get("note") else []
        said.append(f"logit scale {scale:g} assumed (clip-retrieval folders do not record it); pass --logit-scale")
        emb = Embeddings(emb.image, emb.text, model=emb.model, logit_scale=emb.logit_scale,
                         provenance={**emb.provenance, "note": "; ".join(said)})

    notes: list[str] = []
    caption_col = table.column("caption")
    if caption_col.null_count:
        notes.append(f"{folder}: {caption_col.null_count} of {table.num_rows} rows have no caption (read as empty)")
        caption_col = pc.fill_null(caption_col.cast("large_string"), "")
    captions = caption_col.to_pylist()
    ids = None
    if "key" in table.column_names:
        key_col = table.column("key")
        if key_col.null_count == 0 and pc.count_distinct(key_col).as_py() == table.num_rows:
            ids = key_col.to_pylist()
        else:
            notes.append(f"{folder}: the 'key' column is not unique; pairs are numbered by row instead")
    pair_images = None
    if "image_path" in table.column_names:
        pair_images, why = find_images(folder, table.column("image_path"))
        if why:
            notes.append(f"{folder}: {why}")
    extra = table.drop_columns(["caption"])
    metadata = extra.to_pandas() if extra.num_columns else None
    pairs = PairSet.build(captions, pair_images, ids=ids, name=folder.resolve().name, recipe=f"clip-retrieval:{folder}",
                          metadata=metadata, notes=notes)
    return pairs, {model: emb}


# -- writing ----------------------------------------------------------------------------------
def check_destination(folder: Path | str) -> Path:
    """A folder to write into, checked before any work: absent or empty, its parent creatable."""
    folder = Path(folder).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SpecError(f"{folder} exists and is not an empty folder; the clip-retrieval export writes a new folder")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create the folder {folder.parent}: {exc.strerror or exc}") from exc
    if not os.access(folder.parent, os.W_OK):
        raise SpecError(f"the folder {folder.parent} is not writable")
    return folder


def write_clip_retrieval(folder: Path | str, emb: Embeddings, pairs: PairSet, *, shard_rows: int = DEFAULT_SHARD_ROWS,
                         dtype: Any = None) -> Path:
    """Write `emb` and `pairs` (row i = pair i) as a clip-retrieval folder (module docstring),
    shard by shard and in chunks (memory-mapped sources are never read whole). `dtype`: of the
    arrays (default the embeddings' own, float64 as float32). Written in a temporary folder
    beside `folder` and renamed into place: a failure leaves no folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..exports import image_references
    from ..normalise import CHUNK_ROWS

    folder = check_destination(folder)
    if pairs is None or len(pairs) != emb.n:
        raise DataError(f"{folder}: a clip-retrieval folder needs one caption per embedding row "
                        f"({emb.n} rows, {'no captions' if pairs is None else f'{len(pairs)} pairs'})")
    out_dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float32 if emb.image.dtype == np.float64 else emb.image.dtype)
    count = max(1, math.ceil(emb.n / int(shard_rows)))
    width = int(math.log10(count)) + 1  # clip-retrieval's zero padding
    refs = image_references(pairs, range(len(pairs)), columns=("image_path",))
    if all(r is None for r in refs):
        refs = None
    extra = pairs.metadata.reset_index(drop=True) if pairs.metadata is not None else None
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for kind in LAYOUT:
            (tmp / LAYOUT[kind][0]).mkdir(parents=True)
        for k in range(count):
            s, e = k * int(shard_rows), min((k + 1) * int(shard_rows), emb.n)
            name = f"{k:0{width}d}"
            for kind, src in (("image", emb.image), ("text", emb.text)):
                sub, prefix, suffix = LAYOUT[kind]
                mm = np.lib.format.open_memmap(tmp / sub / f"{prefix}{name}{suffix}", mode="w+", dtype=out_dtype, shape=(e - s, emb.dim))
                for c in range(s, e, CHUNK_ROWS):
                    mm[c - s : min(c + CHUNK_ROWS, e) - s] = np.asarray(src[c : min(c + CHUNK_ROWS, e)])
                mm.flush()
                del mm
            cols: dict[str, Any] = {}
            if refs is not None:
                cols["image_path"] = pa.array([None if r is None else str(r) for r in refs[s:e]], type=pa.string())
            cols["caption"] = pa.array(list(pairs.captions[s:e]), type=pa.string())
            if extra is None or "key" not in extra.columns:
                cols["key"] = pa.array(list(pairs.ids[s:e]), type=pa.string())
            table = pa.table(cols)
            if extra is not None:
                rest = extra.iloc[s:e].drop(columns=[c for c in extra.columns if c in ("image_path", "caption")])
                for c in rest.columns:
                    try:
                        col = pa.array(rest[c].tolist())
                    except (pa.ArrowInvalid, pa.ArrowTypeError):
                        col = pa.array([None if v is None else str(v) for v in rest[c].tolist()], type=pa.string())
                    table = table.append_column(str(c), col)
            table = table.replace_schema_metadata({"model": emb.model, "logit_scale": repr(float(emb.logit_scale)),
                                                   "written_by": "bimodal-explorer", "recipe": pairs.recipe})
            sub, prefix, suffix = LAYOUT["metadata"]
            pq.write_table(table, tmp / sub / f"{prefix}{name}{suffix}")
        if folder.exists():
            folder.rmdir()  # checked empty above
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
