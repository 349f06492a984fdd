"""coco:ROOT — the article's pairs (images[] order, first caption in file order), skips, options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from explorer.data.coco import load_coco
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.sources import detect_prefix, load_pairs


def make_coco(root, images, annotations, files):
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    (root / "annotations" / "captions_val2017.json").write_text(
        json.dumps({"info": {}, "images": images, "annotations": annotations}), encoding="utf-8"
    )
    for name, content in files.items():
        p = root / "val2017" / name
        if content == "png":
            Image.fromarray(np.full((6, 8, 3), (len(name) * 20) % 256, np.uint8)).save(p, format="PNG")
        else:
            p.write_bytes(content)
    return root


@pytest.fixture
def coco_root(tmp_path):
    images = [
        {"id": 30, "file_name": "c.jpg", "width": 8, "height": 6},
        {"id": 10, "file_name": "a.jpg", "width": 8, "height": 6},
        {"id": 20, "file_name": "b.jpg", "width": 8, "height": 6},
        {"id": 40, "file_name": "missing.jpg"},
        {"id": 50, "file_name": "nocap.jpg"},
        {"id": 10, "file_name": "a.jpg"},
        {"id": 60, "file_name": "empty.jpg"},
        {"id": 70, "file_name": "blankcaps.jpg"},
    ]
    anns = [
        {"id": 1, "image_id": 10, "caption": "A first caption of a."},
        {"id": 2, "image_id": 30, "caption": "  first of c  "},
        {"id": 3, "image_id": 10, "caption": "second of a"},
        {"id": 4, "image_id": 20, "caption": ""},
        {"id": 5, "image_id": 20, "caption": "second of b, the first non-empty"},
        {"id": 6, "image_id": 30, "caption": "second of c"},
        {"id": 7, "image_id": 40, "caption": "caption of a missing image"},
        {"id": 8, "image_id": 70, "caption": "   "},
        {"id": 9, "image_id": 10, "caption": "third of a"},
    ]
    files = {"a.jpg": "png", "b.jpg": "png", "c.jpg": "png", "nocap.jpg": "png", "empty.jpg": b"", "blankcaps.jpg": "png"}
    return make_coco(tmp_path / "coco", images, anns, files)


def test_images_order_and_first_caption_in_file_order(coco_root):
    pairs = load_coco(str(coco_root))
    assert pairs.ids == ("30", "10", "20")
    assert pairs.captions == ("first of c", "A first caption of a.", "second of b, the first non-empty")
    assert [pairs.images.ref(i) for i in range(3)] == ["c.jpg", "a.jpg", "b.jpg"]
    assert pairs.images.open(1).size == (8, 6)
    assert pairs.name == "MSCOCO-val2017"
    assert list(pairs.metadata["caption_index"]) == [0, 0, 1]
    assert list(pairs.metadata["n_captions"]) == [2, 3, 2]


def test_bad_items_are_reported_one_by_one(coco_root):
    notes = load_coco(str(coco_root)).notes
    assert notes[0].startswith(f"coco:{coco_root}: skipped 5 of 8 items (")
    body = "\n".join(notes[1:])
    assert len(notes) == 6
    assert "image 40 (missing.jpg): image file not found" in body
    assert "image 50 (nocap.jpg): no caption" in body
    assert "image 10 (a.jpg): duplicate image id" in body
    assert "image 60 (empty.jpg): image file is empty" in body
    assert "image 70 (blankcaps.jpg): empty caption" in body


def test_random_caption_is_seeded_and_belongs_to_the_image(coco_root):
    own = {
        "30": {"first of c", "second of c"},
        "10": {"A first caption of a.", "second of a", "third of a"},
        "20": {"second of b, the first non-empty"},
    }
    seen = set()
    for seed in range(12):
        a = load_coco(str(coco_root), caption="random", caption_seed=seed)
        b = load_coco(str(coco_root), caption="random", caption_seed=seed)
        assert a.captions == b.captions
        assert "--caption random --caption-seed" in a.recipe
        for pid, cap in zip(a.ids, a.captions, strict=True):
            assert cap in own[pid]
        seen.add(a.captions)
    assert len(seen) > 1  # different seeds pick different captions


def test_generic_limit_and_filter_apply(coco_root):
    sub = load_pairs(f"coco:{coco_root}", limit=2, seed=3)
    assert len(sub) == 2 and set(sub.ids) <= {"30", "10", "20"}
    assert "--limit 2 --seed 3" in sub.recipe
    f = load_pairs(f"coco:{coco_root}", filter="SECOND")
    assert f.ids == ("20",)
    assert detect_prefix(str(coco_root)) == "coco"


def test_missing_pieces_say_what_to_download(tmp_path):
    with pytest.raises(MissingResourceError, match="cocodataset.org"):
        load_coco(str(tmp_path / "nowhere"))
    (tmp_path / "c").mkdir()
    with pytest.raises(MissingResourceError, match="captions_val2017.json"):
        load_coco(str(tmp_path / "c"))
    (tmp_path / "c" / "annotations").mkdir()
    (tmp_path / "c" / "annotations" / "captions_val2017.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable COCO"):
        load_coco(str(tmp_path / "c"))


def test_nothing_usable_is_one_clear_error(tmp_path):
    root = make_coco(tmp_path / "c", [{"id": 1, "file_name": "x.jpg"}], [{"image_id": 1, "caption": "c"}], {})
    with pytest.raises(DataError, match="none of the 1 items is usable.*image file not found"):
        load_coco(str(root))


def test_options_are_checked(coco_root):
    with pytest.raises(SpecError, match="first, random"):
        load_coco(str(coco_root), caption="longest")
    with pytest.raises(SpecError, match="do not apply"):
        load_coco(str(coco_root), allow_urls=True)


def test_fingerprint_follows_caption_choice_and_image_files(coco_root):
    before = load_coco(str(coco_root)).fingerprint()
    assert before == load_coco(str(coco_root)).fingerprint()
    assert before != load_coco(str(coco_root), caption="random", caption_seed=5).fingerprint()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(coco_root / "val2017" / "a.jpg", format="PNG")
    import os

    os.utime(coco_root / "val2017" / "a.jpg", ns=(1, 1))
    assert load_coco(str(coco_root)).fingerprint() != before
