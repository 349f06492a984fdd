"""The images and prompts of an Amumo article export folder.

Layout: ``images/<i>.jpg`` for i = 0..N-1 and ``prompts.txt`` with one caption per line (line i
belongs to image i). A caption containing a line break makes the line count differ from the
image count. When the extra lines are exactly the blank ones (a caption ending in a line break),
they are skipped and the export opens with a note naming them (line numbers, 1-based); any other
mismatch is refused, naming the file, both counts and the first lines that have no image (or the
first images that have no line), rather than silently mis-pairing every later caption.

The images' root is the ``images/`` folder itself (resolved once, so ``images`` may be a link
to a folder elsewhere: that is the user's choice); files inside it that link outside it are
still refused (:func:`explorer.images.resolve_under`).
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
    """File names <i>.<ext> in images/, sorted by i; checks the numbering is 0..N-1."""
    images_dir = folder / "images"
    if not images_dir.is_dir():
        return []
    found: dict[int, str] = {}
    for p in images_dir.iterdir():
        m = _IMAGE.match(p.name)
        if m:
            found[int(m.group(1))] = p.name
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
    notes: list[str] = []
    if images:
        captions, notes = pair_caption_lines(captions, len(images), prompts, folder / "images")
    return PairSet.build(
        captions,
        FileImages(folder / "images", images) if images else None,
        ids=[str(i) for i in range(len(captions))],
        name=folder.resolve().name,
        recipe=f"amumo:{folder}",
        notes=notes,
    )


def line_list(numbers: list[int], limit: int = 5) -> str:
    """'7', '7 and 12', '7, 12, 30, … (9 in all)' of 1-based line numbers."""
    shown = [str(n) for n in numbers[:limit]]
    if len(numbers) > limit:
        return ", ".join(shown) + f", … ({len(numbers)} in all)"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def pair_caption_lines(lines: list[str], n_images: int, prompts: Path, images_dir: Path) -> tuple[list[str], list[str]]:
    """(captions, notes) pairing caption lines with `n_images` images (see module docstring)."""
    if len(lines) == n_images:
        return lines, []
    blank = [i for i, line in enumerate(lines) if not line.strip()]
    extra = len(lines) - n_images
    if extra > 0 and len(blank) == extra:
        kept = [line for line in lines if line.strip()]
        s = "s" if extra > 1 else ""
        return kept, [f"{prompts}: {len(lines)} caption lines for {n_images} images; blank line{s} {line_list([i + 1 for i in blank])} "
                      f"skipped (a caption ending in a line break), the other lines paired with the images in order"]
    head = f"{prompts}: {len(lines)} caption lines but {n_images} images in {images_dir}"
    if extra > 0:
        extra_lines = list(range(n_images + 1, len(lines) + 1))
        where = (f"line{'s' if extra > 1 else ''} {line_list(extra_lines)} {'have' if extra > 1 else 'has'} no image"
                 + (f"; blank line{'s' if len(blank) > 1 else ''} {line_list([i + 1 for i in blank])}" if blank else ""))
    else:
        missing = list(range(len(lines), n_images))
        where = f"image{'s' if len(missing) > 1 else ''} {line_list(missing)} (0-based) {'have' if len(missing) > 1 else 'has'} no caption line"
    raise DataError(f"{head} ({where}); a caption containing a line break splits into two lines, so captions and images cannot be paired")
