"""img2dataset's output, webdataset tar shards: ``webdataset:PATTERN``.

PATTERN names the shards: a path with a brace range ``{00000..00099}.tar`` (zero padding kept)
or list ``{a,b}``, glob characters (``*.tar``), a single ``.tar`` file or a folder (its ``*.tar``).
Each shard holds, per sample, ``KEY.jpg`` (or ``.jpeg``, ``.png``, ``.webp``), ``KEY.txt`` (the
caption) and optionally ``KEY.json`` (img2dataset's url, key, status, ...); a sample's key is its
member path up to the first dot of the file name. Pairs follow the shards' order, then the
members' order; pair ids are ``<shard stem>/<KEY>``.

Streaming: a shard is read once, header by header (``tarfile`` seeks past image data; only the
small .txt and .json members are read), and nothing is unpacked to disk. An image is read from its
shard by offset when it is embedded or its thumbnail is served. Reported per item (the PairSet's
notes), never fatal while something usable remains: shards of the pattern that are not there,
truncated or corrupt shards (the samples before the damage are kept), samples without an image or
without a caption, empty captions or images, captions that are not UTF-8, a key twice in a
shard. Images that do not decode are skipped, and listed, by the embedding pipeline.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError
from ..pairs import PairSet
from .skips import SkipReport, clean_caption, reject_unknown_options

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
#: largest caption / json member read (bytes); a bigger one is reported, not read
MAX_TEXT = 1 << 20
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_LIST = re.compile(r"\{([^{}]*,[^{}]*)\}")


def expand(pattern: str) -> list[str]:
    """The shard paths a pattern names (brace ranges and lists expanded left to right, as a shell
    does; not checked)."""
    found = [m for m in (_RANGE.search(pattern), _LIST.search(pattern)) if m]
    if not found:
        return [pattern]
    m = min(found, key=lambda x: x.start())
    if m.re is _RANGE:
        a, b = m.group(1), m.group(2)
        width = len(a) if a.startswith("0") or len(a) == len(b) else 0
        step = 1 if int(b) >= int(a) else -1
        parts = [f"{i:0{width}d}" for i in range(int(a), int(b) + step, step)]
    else:
        parts = m.group(1).split(",")
    return [p for part in parts for p in expand(pattern[: m.start()] + part + pattern[m.end():])]


def shard_paths(arg: str, report: SkipReport) -> list[Path]:
    """Existing shards of `arg` (module docstring); the pattern's missing shards are reported."""
    pattern = os.path.expanduser(arg)
    if os.path.isdir(pattern):
        found = sorted(Path(pattern).glob("*.tar"))
        if not found:
            raise MissingResourceError(f"{pattern}: no .tar shards in this folder")
        return found
    out: list[Path] = []
    for p in expand(pattern):
        if any(c in p for c in "*?["):
            out.extend(Path(q) for q in sorted(glob.glob(p)))
        elif os.path.isfile(p):
            out.append(Path(p))
        else:
            report.add(Path(p).name, "shard not found")
    if not out:
        raise MissingResourceError(f"webdataset:{arg}: no tar shard found (expected e.g. DIR/{{00000..00009}}.tar)")
    return list(dict.fromkeys(out))


def _split(name: str) -> tuple[str, str]:
    """(key, extension) of a member: the path up to the first dot of its file name."""
    head, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), (ext.lower() if dot else "")


def _members(path: Path, report: SkipReport) -> list[tarfile.TarInfo]:
    """The regular members of a shard, header by header; a truncated or corrupt shard keeps the
    members before the damage and is reported."""
    size = path.stat().st_size
    out: list[tarfile.TarInfo] = []
    try:
        with tarfile.open(path, mode="r:") as tf:
            for info in tf:
                if not info.isfile():
                    continue
                if info.offset_data + info.size > size:
                    report.add(path.name, f"truncated shard: {info.name} ends past the end of the file; later members are lost")
                    break
                out.append(info)
    except (tarfile.TarError, EOFError, OSError) as exc:
        report.add(path.name, f"truncated or corrupt shard after {len(out)} members ({type(exc).__name__}: {exc})")
    return out


def _read_small(path: Path, info: tarfile.TarInfo) -> bytes:
    if info.size > MAX_TEXT:
        raise DataError(f"{info.name} is {info.size} bytes, more than a caption")
    with open(path, "rb") as f:
        f.seek(info.offset_data)
        data = f.read(info.size)
    if len(data) != info.size:
        raise DataError(f"{info.name} is cut short")
    return data


class TarImages:
    """Images read in place from tar shards by offset: items (shard path, member, offset, size)."""

    def __init__(self, items: Sequence[tuple[str, str, int, int]]):
        self.items = tuple(tuple(i) for i in items)

    def __len__(self) -> int:
        return len(self.items)

    def ref(self, i: int) -> str:
        shard, member, _, _ = self.items[i]
        return f"{Path(shard).name}/{member}"

    def open(self, i: int):
        from PIL import Image

        shard, member, offset, size = self.items[i]
        try:
            with open(shard, "rb") as f:
                f.seek(offset)
                raw = f.read(size)
        except OSError as exc:
            raise MissingResourceError(f"{shard}: cannot read {member} ({exc.strerror or exc})") from exc
        if len(raw) != size:
            raise DataError(f"{shard}: {member} is cut short (the shard changed since it was read)")
        try:
            with Image.open(io.BytesIO(raw)) as im:
                im.load()
                return im.convert("RGB")
        except Exception as exc:
            raise DataError(f"{shard}/{member}: cannot decode image ({type(exc).__name__}: {exc})") from exc

    def fingerprint(self) -> str:
        """Hash of each shard's path, size and modification time and of every item's place in it."""
        h = hashlib.sha256(b"webdataset-v1")
        for shard in dict.fromkeys(i[0] for i in self.items):
            try:
                st = os.stat(shard)
                h.update(f"{shard}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{shard}\0missing\n".encode())
        for shard, member, offset, size in self.items:
            h.update(f"{Path(shard).name}\0{member}\0{offset}\0{size}\n".encode())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> TarImages:
        return TarImages([self.items[i] for i in indices])


def load_webdataset(arg: str, **options: Any) -> PairSet:
    """The image–caption samples of tar shards (module docstring)."""
    import pandas as pd

    recipe = f"webdataset:{arg}"
    reject_unknown_options(recipe, options, "no options")
    report = SkipReport(recipe)
    captions, items, ids, meta = [], [], [], []
    total = 0
    for shard in shard_paths(arg, report):
        groups: dict[str, dict[str, tarfile.TarInfo]] = {}
        for info in _members(shard, report):
            key, ext = _split(info.name)
            group = groups.setdefault(key, {})
            if ext in group:
                report.add(f"{shard.name}/{info.name}", "key appears twice in the shard; the first member is used")
                continue
            group[ext] = info
        for key, group in groups.items():
            total += 1
            where = f"{shard.name}/{key}"
            image = next((group[e] for e in IMAGE_EXTS if e in group), None)
            if image is None:
                report.add(where, f"no image member ({', '.join('.' + e for e in IMAGE_EXTS)})")
                continue
            if image.size == 0:
                report.add(where, f"empty image: {image.name} has 0 bytes")
                continue
            if "txt" not in group:
                report.add(where, f"no caption: {key}.txt is missing")
                continue
            try:
                caption = " ".join(clean_caption(_read_small(shard, group["txt"]).decode("utf-8")).split())
            except UnicodeDecodeError:
                report.add(where, f"caption unreadable: {key}.txt is not UTF-8")
                continue
            except DataError as exc:
                report.add(where, f"caption unreadable: {exc}")
                continue
            if not caption:
                report.add(where, f"empty caption: {key}.txt is empty")
                continue
            row: dict[str, Any] = {"shard": shard.name, "key": key, "url": None}
            if "json" in group:
                try:
                    info = json.loads(_read_small(shard, group["json"]).decode("utf-8"))
                    row["url"] = info.get("url") if isinstance(info, dict) else None
                except (DataError, UnicodeDecodeError, ValueError):
                    pass  # the json is optional metadata: a broken one costs only the url
            captions.append(caption)
            items.append((str(shard.resolve()), image.name, image.offset_data, image.size))
            ids.append(f"{shard.stem}/{key}")
            meta.append(row)
    if total == 0 and len(report):
        shown = "; ".join(f"{w}: {r}" for w, r in report.items[:3])
        raise DataError(f"{recipe}: no sample could be read ({shown})")
    report.check_usable(len(captions), total)
    name = os.path.basename(os.path.dirname(os.path.expanduser(arg)) or arg) or "webdataset"
    return PairSet.build(captions, TarImages(items), ids=ids, name=name, recipe=recipe, metadata=pd.DataFrame(meta),
                         notes=report.notes(total))
