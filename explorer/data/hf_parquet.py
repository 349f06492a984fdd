"""Hugging Face parquet shards of image–text datasets: ``hf-parquet:PATTERN``.

PATTERN is a ``.parquet`` file, a folder (its ``*.parquet``, else those of its sub-folders, as
the Hub's ``data/train-00000-of-00010.parquet``) or a glob; files are read in sorted order, rows
in file order. The image column holds the encoded image (PNG, JPEG, WebP...) either as the
``datasets`` library's Image feature, a struct ``{bytes, path}``, or as a plain binary column. The
caption column is a string column (or a list of strings, whose first non-empty one is used).

Options (CLI ``--option KEY=VALUE``): ``image_column`` (default: the first struct column with a
binary ``bytes`` field or binary column, preferring the names image, img, jpg, png),
``text_column`` (default: the first of text, caption, prompt, sentence, title, sentences,
captions; ``caption_column`` is the same), ``id_column`` (optional; otherwise a pair's id is
``<file stem>/<row>``). Every file's columns are checked before anything is read: a missing
column (the columns that exist listed) or a column of the wrong type is one sentence naming the
file.

Reading: only the caption (and id) columns are read when the pairs are listed, in batches of row
groups (``ParquetFile.iter_batches``), never a whole file. An image is read when it is embedded
or its thumbnail is served, by its row group and its row in it: the image column of that row
group is read batch by batch up to that row (a cursor keeps the last batch, so rows read in
order cost one pass). Reported per item (the PairSet's notes): files of the pattern that are
truncated or not parquet, row groups that cannot be read (the rows before the damage are kept),
empty or missing captions, an id seen twice. Images that are missing (null, or only a ``path``
whose bytes are not in the file), empty or do not decode are skipped, and listed, by the
embedding pipeline (as ``webdataset:``).
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, MissingResourceError, SpecError, said
from ..pairs import PairSet
from .skips import SkipReport, clean_caption

IMAGE_NAMES = ("image", "img", "jpg", "png", "image_bytes")
TEXT_NAMES = ("text", "caption", "prompt", "sentence", "title", "sentences", "captions")
OPTIONS = ("image_column", "text_column", "caption_column", "id_column")
#: rows per batch when listing captions / when reading images
LIST_BATCH = 8192
IMAGE_BATCH = 64


def parquet_paths(arg: str) -> list[Path]:
    """The parquet files PATTERN names (module docstring), sorted; MissingResourceError if none."""
    pattern = os.path.expanduser(arg)
    if os.path.isdir(pattern):
        found = sorted(Path(pattern).glob("*.parquet")) or sorted(Path(pattern).rglob("*.parquet"))
        if not found:
            raise MissingResourceError(f"{pattern}: no .parquet files in this folder or its sub-folders")
        return found
    if any(c in pattern for c in "*?["):
        found = [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(p)]
        if not found:
            raise MissingResourceError(f"hf-parquet:{arg}: no file matches this pattern")
        return found
    if not os.path.isfile(pattern):
        raise MissingResourceError(f"hf-parquet:{arg}: no such file or folder")
    return [Path(pattern)]


def _open(path: Path):
    """A ParquetFile, or DataError naming the file when it is truncated or not parquet."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise MissingResourceError(f"{path}: file not found") from exc
        raise DataError(f"{path}: not a readable parquet file, truncated or corrupt ({said(exc)})") from exc
    except Exception as exc:  # pyarrow.ArrowInvalid for a bad footer
        raise DataError(f"{path}: not a readable parquet file, truncated or corrupt ({said(exc)})") from exc


def _is_binary(t) -> bool:
    import pyarrow as pa

    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or str(t) == "binary_view"


def _is_string(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view"


def image_kind(t) -> str | None:
    """'struct' for {bytes: binary, ...}, 'binary' for a binary column, None otherwise."""
    import pyarrow as pa

    if _is_binary(t):
        return "binary"
    if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0 and _is_binary(t.field("bytes").type):
        return "struct"
    return None


def _text_kind(t) -> str | None:
    import pyarrow as pa

    if _is_string(t):
        return "string"
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and _is_string(t.value_type):
        return "list"
    return None


def _columns(schema) -> str:
    return ", ".join(f"{f.name} ({f.type})" for f in schema)


def pick_columns(schema, path: Path, options: dict[str, Any]) -> tuple[str, str, str, str, str | None]:
    """(image column, 'struct'|'binary', text column, 'string'|'list', id column) of a file's schema."""
    names = list(schema.names)
    lower = {n.lower(): n for n in names}

    def field(name: str, what: str):
        if name not in names:
            raise DataError(f"{path}: no column {name!r} for the {what} (columns: {_columns(schema)})")
        return schema.field(name).type

    image = options.get("image_column")
    if image is not None:
        kind = image_kind(field(str(image), "image"))
        if kind is None:
            raise DataError(f"{path}: column {image!r} is {schema.field(str(image)).type}, not image bytes "
                            "(a struct {bytes, path} or a binary column)")
    else:
        found = [n for n in names if image_kind(schema.field(n).type)]
        if not found:
            raise DataError(f"{path}: no image column: none is a struct {{bytes, path}} or binary (columns: {_columns(schema)}); "
                            "name it with --option image_column=NAME")
        image = next((lower[n] for n in IMAGE_NAMES if lower.get(n) in found), found[0])
        kind = image_kind(schema.field(image).type)
    text = options.get("text_column", options.get("caption_column"))
    if text is not None:
        tkind = _text_kind(field(str(text), "caption"))
        if tkind is None:
            raise DataError(f"{path}: column {text!r} is {schema.field(str(text)).type}, not text (a string or list of strings column)")
    else:
        text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
        if text is None:
            raise DataError(f"{path}: no caption column (none of {', '.join(TEXT_NAMES)}; columns: {_columns(schema)}); "
                            "name it with --option text_column=NAME")
        tkind = _text_kind(schema.field(text).type)
        if tkind is None:
            raise DataError(f"{path}: column {text!r} is {schema.field(text).type}, not text (a string or list of strings column); "
                            "name the caption column with --option text_column=NAME")
    ident = options.get("id_column")
    if ident is not None:
        field(str(ident), "pair ids")
    return str(image), kind, str(text), tkind, (str(ident) if ident is not None else None)


def _caption(value, kind: str) -> str:
    if kind == "list":
        value = next((v for v in (value or []) if clean_caption(v)), None)
    return " ".join(clean_caption(value).split())


class ParquetImages:
    """Images read in place from parquet files: row i is (file, row group, row in the group)."""

    def __init__(self, files: Sequence[str], column: str, kind: str, file: Any, group: Any, row: Any, start: Any):
        self.files = tuple(str(f) for f in files)
        self.column, self.kind = column, kind
        self.file = np.asarray(file, np.int32)
        self.group = np.asarray(group, np.int32)
        self.row = np.asarray(row, np.int64)  # row within its row group
        self.start = np.asarray(start, np.int64)  # row within its file (for references)
        self._lock = threading.Lock()
        self._cursor: dict[str, Any] | None = None

    def __getstate__(self):  # DataLoader workers: no lock or open file travels
        state = dict(self.__dict__)
        state["_lock"], state["_cursor"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.file.size)

    def ref(self, i: int) -> str:
        return f"{Path(self.files[self.file[i]]).name}:{int(self.start[i])}"

    def raw(self, i: int) -> bytes:
        """The encoded image bytes of row i (DataError when the row has none)."""
        f, g, r = int(self.file[i]), int(self.group[i]), int(self.row[i])
        path = self.files[f]
        with self._lock:
            cur = self._cursor
            if cur is None or cur["key"] != (f, g) or cur["pid"] != os.getpid() or r < cur["first"]:
                same_file = cur is not None and cur["key"][0] == f and cur["pid"] == os.getpid()
                pf = cur["file"] if same_file else _open(Path(path))  # the footer is read once per file in a row
                cur = {"key": (f, g), "pid": os.getpid(), "file": pf, "first": 0, "batch": None, "stop": 0,
                       "it": pf.iter_batches(batch_size=IMAGE_BATCH, row_groups=[g], columns=[self.column], use_threads=False)}
                self._cursor = cur
            try:
                while r >= cur["stop"]:
                    batch = next(cur["it"])
                    cur["first"], cur["stop"], cur["batch"] = cur["stop"], cur["stop"] + batch.num_rows, batch.column(0)
            except StopIteration:
                self._cursor = None
                raise DataError(f"{path}: row group {g} has no row {r} (the file changed since it was read)") from None
            except Exception as exc:
                self._cursor = None
                raise DataError(f"{path}: cannot read row group {g} ({type(exc).__name__}: {said(exc)})") from exc
            value = cur["batch"][r - cur["first"]].as_py()
        where = f"{path}: row {int(self.start[i])}"
        if isinstance(value, dict):
            data = value.get("bytes")
            if data is None and value.get("path"):
                raise DataError(f"{where} has no image bytes, only a path ({value['path']!r}) that is not read")
        else:
            data = value
        if data is None:
            raise DataError(f"{where} has no image (null)")
        if len(data) == 0:
            raise DataError(f"{where} has an empty image (0 bytes)")
        return bytes(data)

    def open(self, i: int):
        from PIL import Image

        data = self.raw(i)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return im.convert("RGB")
        except Image.UnidentifiedImageError as exc:
            raise DataError(f"{self.ref(i)}: cannot decode image ({len(data)} bytes in no image format Pillow reads)") from exc
        except Exception as exc:
            raise DataError(f"{self.ref(i)}: cannot decode image ({type(exc).__name__}: {said(exc)})") from exc

    def fingerprint(self) -> str:
        """Hash of each file's path, size and modification time, the column and every row's place."""
        h = hashlib.sha256(f"hf-parquet-v1\0{self.column}\0{self.kind}\n".encode())
        for path in self.files:
            try:
                st = os.stat(path)
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{path}\0missing\n".encode())
        for a in (self.file, self.group, self.row):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> ParquetImages:
        idx = np.asarray(indices, np.int64)
        return ParquetImages(self.files, self.column, self.kind, self.file[idx], self.group[idx], self.row[idx], self.start[idx])


def load_hf_parquet(arg: str, **options: Any) -> PairSet:
    """The image–caption rows of Hugging Face parquet shards (module docstring)."""
    import pandas as pd

    recipe = f"hf-parquet:{arg}"
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SpecError(f"{recipe}: option(s) {', '.join(unknown)} do not apply here (it takes {', '.join(OPTIONS)})")
    report = SkipReport(recipe)
    files = parquet_paths(arg)
    captions: list[str] = []
    ids: list[str] = []
    seen: set[str] = set()
    place: list[tuple[int, int, int, int]] = []
    meta: list[tuple[str, int]] = []
    total = 0
    chosen: tuple | None = None
    for fi, path in enumerate(files):
        try:
            pf = _open(path)
        except DataError as exc:
            report.add(path.name, str(exc).removeprefix(f"{path}: "))
            continue
        cols = pick_columns(pf.schema_arrow, path, options)
        if chosen is not None and cols[:2] != chosen[:2]:
            raise DataError(f"{path}: its image column is {cols[0]!r} ({cols[1]}) but {files[0].name}'s is {chosen[0]!r} ({chosen[1]}); "
                            "name it with --option image_column=NAME")
        chosen = chosen or cols
        image_col, _, text_col, tkind, id_col = cols
        read = [text_col] + ([id_col] if id_col and id_col != text_col else [])
        start = 0
        for g in range(pf.metadata.num_row_groups):
            expected = pf.metadata.row_group(g).num_rows
            row = 0
            try:
                for batch in pf.iter_batches(batch_size=LIST_BATCH, row_groups=[g], columns=read, use_threads=False):
                    texts = batch.column(text_col).to_pylist()
                    keys = batch.column(id_col).to_pylist() if id_col else None
                    for j, value in enumerate(texts):
                        at = start + row + j
                        where = f"{path.name}:{at}"
                        caption = _caption(value, tkind)
                        key = f"{path.stem}/{at}" if keys is None else clean_caption(keys[j])
                        if not caption:
                            report.add(where, "empty caption" if value is not None else "missing caption: null")
                        elif not key:
                            report.add(where, f"missing id: {id_col} is empty")
                        elif key in seen:
                            report.add(where, f"duplicate id: {key} appears before")
                        else:
                            seen.add(key)
                            captions.append(caption)
                            ids.append(key)
                            place.append((fi, g, row + j, at))
                            meta.append((path.name, at))
                    row += batch.num_rows
            except Exception as exc:  # a damaged page: keep the rows before it
                report.add(f"{path.name}: row group {g}",
                           f"unreadable row group: rows {start + row}..{start + expected - 1} lost ({type(exc).__name__}: {said(exc)})")
            total += expected
            start += expected
    if chosen is None:
        shown = "; ".join(f"{w}: {r}" for w, r in report.items[:3])
        raise DataError(f"{recipe}: no file could be read ({shown})")
    report.check_usable(len(captions), total)
    arr = np.asarray(place, np.int64).reshape(-1, 4)
    images = ParquetImages([str(p.resolve()) for p in files], chosen[0], chosen[1], arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    name = files[0].parent.name if len(files) > 1 else files[0].stem
    return PairSet.build(captions, images, ids=ids, name=name or "hf-parquet", recipe=recipe,
                         metadata=pd.DataFrame(meta, columns=["file", "row"]), notes=report.notes(total))
