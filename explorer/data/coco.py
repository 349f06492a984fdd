"""MSCOCO captions: ``coco:ROOT``.

ROOT holds the standard layout of the COCO 2017 download::

    ROOT/annotations/captions_val2017.json   images[] (id, file_name, ...), annotations[] (image_id, caption)
    ROOT/val2017/<file_name>                 the 5,000 validation images

One pair per entry of ``images[]``, in file order, with the image's **first** (non-empty) caption in the
order of ``annotations[]``: with the default options this is the article's set of 5,000 pairs
(``--limit N --seed S`` then takes a seeded random subset). ``caption="random"`` picks one of
each image's captions at random instead, seeded by ``caption_seed`` (the CLI passes ``--seed``),
so the choice is reproducible. ``split="train2017"`` reads ``captions_train2017.json`` and
``train2017/`` instead.

Items that cannot be used are skipped and listed in the PairSet's notes: an image entry whose file
is missing or empty, an image without any non-empty caption, an image id that appears twice. Files
are only checked for existence here; an image that exists but cannot be decoded is reported and
skipped by the embedding pipeline (see :mod:`explorer.embed`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, MissingResourceError, SpecError
from ..images import FileImages
from ..pairs import PairSet
from .skips import SkipReport, clean_caption, reject_unknown_options

CAPTION_CHOICES = ("first", "random")

DOWNLOAD_HINT = (
    "download val2017.zip and annotations_trainval2017.zip from https://cocodataset.org/#download "
    "and unzip both into ROOT (see datasets/README.md)"
)


def annotation_file(root: Path, split: str = "val2017") -> Path:
    return root / "annotations" / f"captions_{split}.json"


def read_annotations(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MissingResourceError(f"{path} not found; {DOWNLOAD_HINT}")
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable COCO captions JSON file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise DataError(f"{path}: expected a JSON object with lists 'images' and 'annotations' (COCO captions format)")
    return data


def _existing_files(folder: Path) -> dict[str, int]:
    """{file name: size} of the files directly in `folder` (one directory scan, not 5,000 stats)."""
    out: dict[str, int] = {}
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    if e.is_file():
                        out[e.name] = e.stat().st_size
                except OSError:
                    continue
    except FileNotFoundError:
        pass
    return out


def load_coco(
    arg: str,
    *,
    caption: str = "first",
    caption_seed: int = 0,
    split: str = "val2017",
    **options: Any,
) -> PairSet:
    """The pairs of a COCO captions split; see the module docstring."""
    reject_unknown_options(f"coco:{arg}", options, "caption, caption_seed, split")
    if caption not in CAPTION_CHOICES:
        raise SpecError(f"coco: --caption must be one of {', '.join(CAPTION_CHOICES)}, got {caption!r}")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise MissingResourceError(f"MSCOCO root folder not found: {root}; {DOWNLOAD_HINT}")
    ann_path = annotation_file(root, split)
    data = read_annotations(ann_path)
    image_dir = root / split
    if not image_dir.is_dir():
        raise MissingResourceError(f"{image_dir} not found (the images of {split}); {DOWNLOAD_HINT}")

    captions_by_image: dict[Any, list[str]] = {}
    for k, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise DataError(f"{ann_path}: annotations[{k}] has no image_id")
        captions_by_image.setdefault(ann["image_id"], []).append(clean_caption(ann.get("caption")))

    files = _existing_files(image_dir)
    recipe = f"coco:{root}"
    if split != "val2017":
        recipe += f" --split {split}"
    if caption == "random":
        recipe += f" --caption random --caption-seed {caption_seed}"
    report = SkipReport(recipe)
    rng = np.random.default_rng(caption_seed)

    captions: list[str] = []
    relpaths: list[str] = []
    ids: list[str] = []
    meta: dict[str, list] = {"image_id": [], "file_name": [], "width": [], "height": [], "caption_index": [], "n_captions": []}
    seen: set[str] = set()
    for k, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            report.add(f"images[{k}]", "entry without id or file_name")
            continue
        image_id, name = img["id"], str(img["file_name"])
        where = f"image {image_id} ({name})"
        if str(image_id) in seen:
            report.add(where, "duplicate image id: this id appeared earlier in images[]")
            continue
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            report.add(where, "file_name is not a plain file name")
            continue
        size = files.get(name)
        if size is None:
            report.add(where, f"image file not found: {image_dir / name}")
            continue
        if size == 0:
            report.add(where, f"image file is empty: {image_dir / name}")
            continue
        caps = captions_by_image.get(image_id, [])
        usable = [j for j, c in enumerate(caps) if c]
        if not usable:
            report.add(where, "no caption" if not caps else "empty caption: all captions of this image are empty")
            continue
        j = usable[0] if caption == "first" else usable[int(rng.integers(len(usable)))]
        seen.add(str(image_id))
        captions.append(caps[j])
        relpaths.append(name)
        ids.append(str(image_id))
        meta["image_id"].append(image_id)
        meta["file_name"].append(name)
        meta["width"].append(img.get("width"))
        meta["height"].append(img.get("height"))
        meta["caption_index"].append(j)
        meta["n_captions"].append(len(caps))

    total = len(data["images"])
    report.check_usable(len(captions), total)
    import pandas as pd

    return PairSet.build(
        captions,
        FileImages(image_dir, relpaths),
        ids=ids,
        name=f"MSCOCO-{split}",
        recipe=recipe,
        metadata=pd.DataFrame(meta),
        notes=report.notes(total),
    )
