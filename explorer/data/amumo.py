"""The images and prompts of an Amumo article export folder.

Layout: ``images/<i>.jpg`` for i = 0..N-1 and ``prompts.txt`` with one caption per line (line i
belongs to image i). A caption containing a line break makes the line count differ from the
image count; that is reported, naming the file and both counts, rather than silently
mis-pairing every later caption.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError, MissingResourceError
from ..images import FileImages
from ..pairs import PairSet

_IMAGE = re.compile(r"^(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)


def read_caption_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return [line.rstrip("\r") for line in lines]


def export_image_files(folder: Path) -> list[str]:
    """Relative paths images/<i>.<ext>, sorted by i; checks the numbering is 0..N-1."""
    images_dir = folder / "images"
    if not images_dir.is_dir():
        return []
    found: dict[int, str] = {}
    for p in images_dir.iterdir():
        m = _IMAGE.match(p.name)
        if m:
            found[int(m.group(1))] = f"images/{p.name}"
    if not found:
        return []
    n = max(found) + 1
    missing = [i for i in range(n) if i not in found]
    if missing:
        raise DataError(f"{images_dir}: images are numbered up to {n - 1} but {len(missing)} are missing, e.g. {missing[:5]}")
    return [found[i] for i in range(n)]


def load_amumo_pairs(arg: str, **_: object) -> PairSet:
    folder = Path(arg).expanduser()
    if not folder.is_dir():
        raise MissingResourceError(f"Amumo export folder not found: {folder}")
    prompts = folder / "prompts.txt"
    if not prompts.is_file():
        raise MissingResourceError(f"{folder}: no prompts.txt (one caption per line, line i for image i)")
    captions = read_caption_lines(prompts)
    images = export_image_files(folder)
    if images and len(images) != len(captions):
        raise DataError(
            f"{prompts}: {len(captions)} caption lines but {len(images)} images in {folder / 'images'}; "
            "a caption containing a line break splits into two lines, so captions and images cannot be paired"
        )
    return PairSet.build(
        captions,
        FileImages(folder, images) if images else None,
        ids=[str(i) for i in range(len(captions))],
        name=folder.resolve().name,
        recipe=f"amumo:{folder}",
    )
