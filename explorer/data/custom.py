"""The user's own pairs: ``pairs:FILE`` (a table) and ``folder:DIR`` (images with sidecar captions).

``pairs:FILE``
    A CSV, TSV, JSONL (one object per line), JSON (a list of objects) or Parquet table with one
    row per pair. The image column is the first of ``image``, ``image_path``, ``path``, ``file``,
    ``filename``, ``file_name``, ``img``, ``url``, ``image_url`` that exists (or
    ``image_column=``); the caption column the first of ``caption``, ``text``, ``prompt``,
    ``title`` (or ``caption_column=``); an optional ``id`` column (or ``id_column=``) gives the
    pair ids, otherwise the row number does. Relative image paths are relative to the table's
    folder. Images must lie under the *image root*: the table's folder, or ``image_root=DIR``
    (CLI ``--option image_root=DIR``). A row pointing elsewhere (``../../secret.png``, an
    absolute path outside, a symlink leading out) is skipped and reported: the app serves the
    images of a dataset as thumbnails, so a table from elsewhere must not reach any image on the
    machine by naming it.

    Image URLs (``http://``, ``https://``) are never fetched unless the caller allows it
    (``allow_urls=True``, CLI ``--allow-urls``): offline, a URL row is reported as unusable and
    skipped. When allowed, each URL is downloaded once into ``download_dir`` (default
    ``<embedding store>/downloads``; a file name is the hash of its URL) and read from there.

``folder:DIR``
    Every image under DIR (``.jpg .jpeg .png .webp .bmp .gif .tif .tiff``, sub-folders included,
    hidden files ignored) whose caption is in a text file beside it with the same stem
    (``cat.jpg`` + ``cat.txt``, or ``cat.jpg.txt``). Pairs are in the order of the relative paths;
    the pair id is the relative path.

In both, unusable items are skipped and listed in the PairSet's notes: a missing or empty image
file, an empty caption, a missing caption file, an id seen before, a URL not allowed or not
downloadable. Images that exist but cannot be decoded are reported and skipped by the embedding
pipeline.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingResourceError, SpecError
from ..images import FileImages, resolved
from ..pairs import PairSet
from .skips import SkipReport, clean_caption, reject_unknown_options

IMAGE_COLUMNS = ("image", "image_path", "path", "file", "filename", "file_name", "img", "url", "image_url")
CAPTION_COLUMNS = ("caption", "text", "prompt", "title")
ID_COLUMNS = ("id",)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
URL_PREFIXES = ("http://", "https://")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet")


def read_table(path: Path):
    """The rows of a CSV/TSV/JSONL/JSON/Parquet file as a pandas DataFrame (cells as read, no NaN for '')."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
            return pd.read_json(path, dtype=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot be read as a {suffix[1:].upper()} table ({type(exc).__name__}: {exc})") from exc
    raise SpecError(f"{path}: unknown table type {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}")


def _pick_column(df, wanted: str | None, candidates: Sequence[str], what: str, path: Path, required: bool = True) -> str | None:
    cols = [str(c) for c in df.columns]
    if wanted is not None:
        if wanted not in cols:
            raise DataError(f"{path}: no column {wanted!r} for the {what} (columns: {', '.join(cols)})")
        return wanted
    lower = {c.lower(): c for c in cols}
    for c in candidates:
        if c in lower:
            return lower[c]
    if required:
        raise DataError(
            f"{path}: no {what} column; name one of {', '.join(candidates)} or pass {what}_column= "
            f"(columns found: {', '.join(cols) or 'none'})"
        )
    return None


def url_file_name(url: str) -> str:
    """Where a downloaded URL is kept: the SHA-256 of the URL plus the URL's image suffix, if any."""
    suffix = Path(url.split("?")[0].split("#")[0]).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        suffix = ""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32] + suffix


#: an image URL that sends more than this is refused (a hostile or mistaken link must not fill the disk)
MAX_DOWNLOAD_BYTES = 50 * 2**20


def _download(url: str, target: Path, timeout: float) -> str | None:
    """Fetch `url` into `target` atomically; None on success, else the reason."""
    import urllib.request

    if target.is_file() and target.stat().st_size > 0:
        return None
    import time

    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    deadline = time.monotonic() + 4 * timeout  # `timeout` bounds each read; this bounds the whole download
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "bimodal-explorer"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as f:
            size = 0
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ValueError(f"larger than {MAX_DOWNLOAD_BYTES // 2**20} MB, not an image to embed")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"took longer than {4 * timeout:g} s")
                f.write(chunk)
        os.replace(tmp, target)
        return None
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        return f"download failed: {type(exc).__name__}: {exc}"


def _default_download_dir() -> Path:
    from ..store import default_root

    return default_root() / "downloads"


def _file_images(paths: Sequence[Path]) -> FileImages:
    """A FileImages over absolute `paths`, rooted at their deepest common folder."""
    parents = {str(p.parent) for p in paths}
    root = Path(os.path.commonpath(sorted(parents)))
    return FileImages(root, [p.relative_to(root).as_posix() for p in paths])


def load_pairs_file(
    arg: str,
    *,
    image_column: str | None = None,
    caption_column: str | None = None,
    id_column: str | None = None,
    image_root: str | Path | None = None,
    allow_urls: bool = False,
    download_dir: str | Path | None = None,
    timeout: float = 30.0,
    **options: Any,
) -> PairSet:
    """Pairs listed in a table file (module docstring)."""
    reject_unknown_options(
        f"pairs:{arg}", options, "image_column, caption_column, id_column, image_root, allow_urls, download_dir, timeout"
    )
    path = Path(arg).expanduser()
    if not path.is_file():
        raise MissingResourceError(f"pairs file not found: {path}")
    df = read_table(path)
    icol = _pick_column(df, image_column, IMAGE_COLUMNS, "image", path)
    ccol = _pick_column(df, caption_column, CAPTION_COLUMNS, "caption", path)
    idcol = _pick_column(df, id_column, ID_COLUMNS, "id", path, required=False)
    base = path.resolve().parent
    root = Path(image_root).expanduser().resolve() if image_root else base
    if not root.is_dir():
        raise MissingResourceError(f"pairs:{arg}: image_root is not a folder: {root}")
    recipe = f"pairs:{path}" + (f" image_root={root}" if image_root else "") + (" --allow-urls" if allow_urls else "")
    report = SkipReport(recipe)

    rows: list[tuple[int, str, str, Path | str]] = []  # (row, id, caption, local path or url)
    seen: set[str] = set()
    images = df[icol].tolist()
    caps = df[ccol].tolist()
    ids = df[idcol].tolist() if idcol else list(range(len(df)))
    for r, (img, cap, pid) in enumerate(zip(images, caps, ids, strict=True)):
        pid = clean_caption(pid)
        where = f"row {r}" + (f" (id {pid})" if idcol else "")
        ref = clean_caption(img)
        caption = clean_caption(cap)
        if idcol and not pid:
            report.add(where, "empty id")
            continue
        if pid in seen:
            report.add(where, f"duplicate id: {pid!r} appeared in an earlier row")
            continue
        if not ref:
            report.add(where, "no image: the image cell is empty")
            continue
        if not caption:
            report.add(where, "empty caption")
            continue
        if ref.lower().startswith(URL_PREFIXES):
            if not allow_urls:
                report.add(where, f"URL not fetched offline: {ref} (pass --allow-urls / allow_urls=True to download it)")
                continue
            rows.append((r, pid, caption, ref))
        else:
            if ref.lower().startswith("file://"):
                ref = ref[len("file://"):]
            p = Path(ref).expanduser()
            try:
                p = resolved(p if p.is_absolute() else base / p)
            except DataError as exc:
                report.add(where, str(exc))
                continue
            if not p.is_relative_to(root):
                report.add(where, f"image outside the image root {root}: {p} (pass --option image_root=DIR to allow a wider folder)")
                continue
            if not p.is_file():
                report.add(where, f"image file not found: {p}")
                continue
            if p.stat().st_size == 0:
                report.add(where, f"image file is empty: {p}")
                continue
            rows.append((r, pid, caption, p))
        seen.add(pid)

    urls = [x for _, _, _, x in rows if isinstance(x, str)]
    if urls:
        rows = _fetch_urls(rows, Path(download_dir).expanduser() if download_dir else _default_download_dir(), timeout, report)

    report.check_usable(len(rows), len(df))
    import pandas as pd

    meta = df.iloc[[r for r, _, _, _ in rows]].drop(columns=[ccol]).reset_index(drop=True)
    meta.insert(0, "row", [r for r, _, _, _ in rows])
    return PairSet.build(
        [c for _, _, c, _ in rows],
        _file_images([p for _, _, _, p in rows]),
        ids=[pid for _, pid, _, _ in rows],
        name=path.stem,
        recipe=recipe,
        metadata=pd.DataFrame(meta),
        notes=report.notes(len(df)),
    )


def _fetch_urls(rows, folder: Path, timeout: float, report: SkipReport):
    """Replace URL entries of `rows` by downloaded files; failed downloads are reported and dropped."""
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    todo = [(k, x) for k, (_, _, _, x) in enumerate(rows) if isinstance(x, str)]
    targets = {k: folder / url_file_name(url) for k, url in todo}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            tqdm(pool.map(lambda kx: _download(kx[1], targets[kx[0]], timeout), todo), total=len(todo), desc="downloading", unit="img")
        )
    failed = {}
    for (k, _url), reason in zip(todo, results, strict=True):
        if reason is not None:
            failed[k] = reason
    out = []
    for k, (r, pid, cap, x) in enumerate(rows):
        if k in failed:
            report.add(f"row {r}", f"{failed[k]} ({x})")
        elif isinstance(x, str):
            out.append((r, pid, cap, targets[k].resolve()))
        else:
            out.append((r, pid, cap, x))
    return out


def _caption_file(image: Path) -> Path | None:
    for c in (image.with_suffix(".txt"), image.with_name(image.name + ".txt")):
        if c.is_file():
            return c
    return None


def load_folder(arg: str, **options: Any) -> PairSet:
    """Images with sidecar .txt captions under a folder (module docstring)."""
    reject_unknown_options(f"folder:{arg}", options, "no options")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise MissingResourceError(f"image folder not found: {root}")
    root = root.resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath, f))
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    recipe = f"folder:{arg}"
    report = SkipReport(recipe)
    captions, rels = [], []
    for p in found:
        rel = p.relative_to(root).as_posix()
        txt = _caption_file(p)
        if txt is None:
            report.add(rel, f"no caption file {p.with_suffix('.txt').name}")
            continue
        try:
            caption = clean_caption(txt.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            report.add(rel, f"caption file unreadable: {txt.name} ({exc})")
            continue
        caption = " ".join(caption.split())
        if not caption:
            report.add(rel, f"empty caption: {txt.name} is empty")
            continue
        try:
            target = resolved(p)
            if not target.is_relative_to(root):
                report.add(rel, f"a link to an image outside the folder {root}: {target}")
                continue
            if target.stat().st_size == 0:
                report.add(rel, "image file is empty")
                continue
        except (DataError, OSError) as exc:
            report.add(rel, f"image file unreadable: {exc}")
            continue
        captions.append(caption)
        rels.append(rel)
    if not found:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    report.check_usable(len(rels), len(found))
    return PairSet.build(
        captions,
        FileImages(root, rels),
        ids=rels,
        name=root.name,
        recipe=recipe,
        notes=report.notes(len(found)),
    )
