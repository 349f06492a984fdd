"""DiffusionDB prompts and images: ``diffusiondb:ROOT``.

ROOT holds what the Hugging Face repository ``poloclub/diffusiondb`` serves, in part or whole::

    ROOT/metadata.parquet                  one row per image: image_name, prompt, part_id, seed, step,
                                           cfg, sampler, width, height, user_name, timestamp,
                                           image_nsfw, prompt_nsfw
    ROOT/images/part-000001.zip            the PNGs of part 1 and part-000001.json
    ROOT/images/part-000001/               ... or the same part unzipped into a folder

Parts may also sit directly in ROOT (``ROOT/part-000001/``, ``ROOT/part-000001.zip``), and the
large version's ``metadata-large.parquet`` is read when ``metadata.parquet`` is absent. Only
the parts present on disk are used (the metadata covers all 2,000 parts; ``2m_first_1k`` is part 1,
1,000 images). Pairs follow the metadata's row order. Without a metadata file the prompts come
from each part's ``part-XXXXXX.json`` (image name -> ``{"p": prompt, "se": seed, "c": cfg,
"st": step, "sa": sampler}``).

Zipped parts are read in place, lazily: an image is decompressed when it is opened, so nothing
needs to be extracted. Rows whose image is missing from its part, rows with an empty prompt and
repeated image names are skipped and listed in the PairSet's notes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError
from ..images import resolve_under
from ..pairs import PairSet
from .skips import SkipReport, clean_caption, reject_unknown_options

PART = re.compile(r"^part-(\d{6})(\.zip)?$")
METADATA_FILES = ("metadata.parquet", "metadata-large.parquet")
META_COLUMNS = ("part_id", "seed", "step", "cfg", "sampler", "width", "height", "user_name", "timestamp", "image_nsfw", "prompt_nsfw")
JSON_KEYS = {"se": "seed", "c": "cfg", "st": "step", "sa": "sampler"}
DOWNLOAD_HINT = "download metadata.parquet and images/part-000001.zip from huggingface.co/datasets/poloclub/diffusiondb (see datasets/README.md)"


def find_parts(root: Path) -> dict[int, Path]:
    """{part id: folder or zip} found in ROOT, ROOT/images and ROOT/diffusiondb-large-part-*/."""
    places = [root, root / "images"] + sorted(p for p in root.glob("diffusiondb-large-part-*") if p.is_dir())
    parts: dict[int, Path] = {}
    for place in places:
        if not place.is_dir():
            continue
        for p in sorted(place.iterdir()):
            m = PART.match(p.name)
            if not m:
                continue
            is_zip = m.group(2) is not None
            if (is_zip and p.is_file()) or (not is_zip and p.is_dir()):
                # a folder wins over a zip of the same part (it is the unzipped copy)
                pid = int(m.group(1))
                if pid not in parts or (not is_zip and parts[pid].suffix == ".zip"):
                    parts[pid] = p
    return parts


class _Part:
    """The member names of one part (a folder or a zip) and how to read them."""

    def __init__(self, path: Path):
        self.path = path
        self.is_zip = path.suffix == ".zip"
        if self.is_zip:
            try:
                with zipfile.ZipFile(path) as z:
                    self.members = {Path(i.filename).name: (i.filename, i.file_size, i.CRC) for i in z.infolist() if not i.is_dir()}
            except (OSError, zipfile.BadZipFile) as exc:
                raise DataError(f"{path}: not a readable zip archive ({exc})") from exc
        else:
            self.members = {}
            with os.scandir(path) as it:
                for e in it:
                    if e.is_file():
                        self.members[e.name] = (e.name, e.stat().st_size, None)

    def read_json(self) -> dict[str, Any]:
        name = f"{self.path.name.removesuffix('.zip')}.json"
        if name not in self.members:
            raise MissingResourceError(f"{self.path}: no {name} with the prompts of this part, and no metadata.parquet in the root")
        try:
            if self.is_zip:
                with zipfile.ZipFile(self.path) as z:
                    raw = z.read(self.members[name][0])
            else:
                raw = (self.path / name).read_bytes()
            data = json.loads(raw)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"{self.path}/{name}: not readable JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise DataError(f"{self.path}/{name}: expected an object of image name -> parameters")
        return data


class DiffusionDBImages:
    """Images of DiffusionDB parts, each either a folder of PNGs or the part's zip (read in place)."""

    def __init__(self, items: Sequence[tuple[str, str, str, int, Any]]):
        # (container path, member name in the container, ref, size, crc)
        self.items = tuple(tuple(i) for i in items)
        self._zips: dict[str, zipfile.ZipFile] = {}
        self._pid = os.getpid()

    def __getstate__(self):
        return {"items": self.items}

    def __setstate__(self, state):
        self.items = state["items"]
        self._zips = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.items)

    def ref(self, i: int) -> str:
        return self.items[i][2]

    def _zip(self, path: str) -> zipfile.ZipFile:
        if self._pid != os.getpid():  # a forked DataLoader worker must not share file handles
            self._zips, self._pid = {}, os.getpid()
        z = self._zips.get(path)
        if z is None:
            z = self._zips[path] = zipfile.ZipFile(path)
        return z

    def open(self, i: int):
        from PIL import Image

        container, member, ref, _, _ = self.items[i]
        if container.endswith(".zip"):
            try:
                raw = self._zip(container).read(member)
            except KeyError as exc:
                raise MissingResourceError(f"{container}: no member {member}") from exc
            except (OSError, zipfile.BadZipFile) as exc:
                raise DataError(f"{container}: cannot read {member} ({exc})") from exc
            try:
                with Image.open(io.BytesIO(raw)) as im:
                    im.load()
                    return im.convert("RGB")
            except Exception as exc:
                raise DataError(f"{container}/{member}: cannot decode image ({type(exc).__name__}: {exc})") from exc
        from ..images import open_rgb

        return open_rgb(resolve_under(Path(container), member))

    def fingerprint(self) -> str:
        """Hash of every image's reference, size and CRC (zips) or modification time (folders)."""
        h = hashlib.sha256(b"diffusiondb-v1")
        for container, member, ref, size, crc in self.items:
            if crc is None:
                try:
                    st = os.stat(Path(container) / member)
                    stamp = f"{st.st_size}:{st.st_mtime_ns}"
                except OSError:
                    stamp = "missing"
            else:
                stamp = f"{size}:{crc}"
            h.update(f"{ref}\0{stamp}\n".encode())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> DiffusionDBImages:
        return DiffusionDBImages([self.items[i] for i in indices])


def _read_metadata(path: Path, part_ids: list[int]):
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    names = set(schema.names)
    for need in ("image_name", "prompt", "part_id"):
        if need not in names:
            raise DataError(f"{path}: column {need!r} missing (found {sorted(names)})")
    columns = ["image_name", "prompt"] + [c for c in META_COLUMNS if c in names]
    try:
        table = pq.read_table(path, columns=columns, filters=[("part_id", "in", part_ids)])
    except Exception as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    return table.to_pandas()


def load_diffusiondb(arg: str, **options: Any) -> PairSet:
    """The image–prompt pairs of the DiffusionDB parts present under ROOT (module docstring)."""
    import pandas as pd

    reject_unknown_options(f"diffusiondb:{arg}", options, "no options")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise MissingResourceError(f"DiffusionDB root folder not found: {root}; {DOWNLOAD_HINT}")
    part_paths = find_parts(root)
    if not part_paths:
        raise MissingResourceError(f"{root}: no part-XXXXXX folders or zips (in {root} or {root / 'images'}); {DOWNLOAD_HINT}")
    parts = {pid: _Part(p) for pid, p in sorted(part_paths.items())}
    meta_file = next((root / m for m in METADATA_FILES if (root / m).is_file()), None)

    if meta_file is not None:
        df = _read_metadata(meta_file, list(parts))
        if len(df) == 0:
            raise DataError(f"{meta_file}: no rows for the parts present ({sorted(parts)})")
        source = f"diffusiondb:{root}"
    else:
        rows = []
        for pid, part in parts.items():
            for name, params in part.read_json().items():
                params = params if isinstance(params, dict) else {}
                row = {"image_name": name, "prompt": params.get("p"), "part_id": pid}
                row.update({col: params.get(k) for k, col in JSON_KEYS.items()})
                rows.append(row)
        df = pd.DataFrame(rows)
        source = f"diffusiondb:{root}"
        if len(df) == 0:
            raise DataError(f"{root}: the parts' JSON files list no images")

    report = SkipReport(source)
    keep_rows: list[int] = []
    items = []
    seen: set[str] = set()
    names = df["image_name"].astype(str).tolist()
    prompts = df["prompt"].tolist()
    pids = df["part_id"].astype(int).tolist()
    captions = []
    for r, (name, prompt, pid) in enumerate(zip(names, prompts, pids, strict=True)):
        where = f"row {r} ({name})"
        if name in seen:
            report.add(where, "duplicate image name: it appeared in an earlier row")
            continue
        part = parts.get(pid)
        member = part.members.get(name) if part is not None else None
        if member is None:
            report.add(where, f"image not found in its part: {part_paths.get(pid, f'part {pid}')}")
            continue
        if member[1] == 0:
            report.add(where, "image file is empty")
            continue
        cap = clean_caption(prompt)
        if not cap:
            report.add(where, "empty caption: the prompt is empty")
            continue
        seen.add(name)
        keep_rows.append(r)
        captions.append(cap)
        items.append((str(part.path), member[0], f"{part.path.name.removesuffix('.zip')}/{name}", member[1], member[2]))

    report.check_usable(len(keep_rows), len(df))
    meta = df.iloc[keep_rows].drop(columns=["prompt"]).reset_index(drop=True)
    return PairSet.build(
        captions,
        DiffusionDBImages(items),
        ids=[names[r] for r in keep_rows],
        name="DiffusionDB",
        recipe=source,
        metadata=meta,
        notes=report.notes(len(df)),
    )
