"""diffusiondb:ROOT — metadata parquet + part folders or zips, read in place; skips; JSON fallback."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.data.diffusiondb import find_parts, load_diffusiondb
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.sources import detect_prefix, load_pairs


def png_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 5, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def ddb(tmp_path):
    root = tmp_path / "ddb"
    (root / "images" / "part-000001").mkdir(parents=True)
    for name, v in (("a.png", 10), ("b.png", 20), ("e.png", 30)):
        (root / "images" / "part-000001" / name).write_bytes(png_bytes(v))
    with zipfile.ZipFile(root / "images" / "part-000002.zip", "w") as z:
        z.writestr("c.png", png_bytes(40))
        z.writestr("d.png", png_bytes(50))
        z.writestr("part-000002.json", json.dumps({"c.png": {"p": "prompt c"}, "d.png": {"p": "prompt d"}}))
    meta = pd.DataFrame(
        {
            "image_name": ["c.png", "a.png", "x.png", "b.png", "e.png", "d.png", "z.png", "a.png"],
            "prompt": ["prompt c", "prompt a", "prompt x", "  prompt b ", "", "prompt d", "prompt z (part 3 absent)", "again a"],
            "part_id": [2, 1, 1, 1, 1, 2, 3, 1],
            "seed": [1, 2, 3, 4, 5, 6, 7, 8],
            "cfg": [7.0] * 8,
            "sampler": [8] * 8,
            "width": [5] * 8,
            "height": [4] * 8,
        }
    )
    meta.to_parquet(root / "metadata.parquet")
    return root


def test_pairs_follow_metadata_order_over_present_parts(ddb):
    pairs = load_diffusiondb(str(ddb))
    assert pairs.ids == ("c.png", "a.png", "b.png", "d.png")
    assert pairs.captions == ("prompt c", "prompt a", "prompt b", "prompt d")
    assert [pairs.images.ref(i) for i in range(4)] == ["part-000002/c.png", "part-000001/a.png", "part-000001/b.png", "part-000002/d.png"]
    assert list(pairs.metadata["seed"]) == [1, 2, 4, 6]
    assert "prompt" not in pairs.metadata.columns


def test_images_open_from_zip_and_folder(ddb):
    pairs = load_diffusiondb(str(ddb))
    values = [int(np.asarray(pairs.images.open(i))[0, 0, 0]) for i in range(4)]
    assert values == [40, 10, 20, 50]


def test_skips_are_listed(ddb):
    notes = load_diffusiondb(str(ddb)).notes
    assert "skipped 3 of 7 items (1 image not found in its part, 1 empty caption, 1 duplicate image name)" in notes[0]  # part 3 is absent: its row is not read
    body = "\n".join(notes)
    assert "row 2 (x.png): image not found" in body
    assert "row 4 (e.png): empty caption" in body
    assert "duplicate image name" in body


def test_image_source_pickles_and_subsets(ddb):
    images = load_diffusiondb(str(ddb)).images
    images.open(0)  # opens a zip handle, which must not travel
    clone = pickle.loads(pickle.dumps(images))
    assert np.array_equal(np.asarray(clone.open(3)), np.asarray(images.open(3)))
    sub = images.take([3, 1])
    assert [sub.ref(0), sub.ref(1)] == ["part-000002/d.png", "part-000001/a.png"]
    assert sub.fingerprint() != images.fingerprint()


def test_fingerprint_changes_with_an_image(ddb):
    before = load_diffusiondb(str(ddb)).fingerprint()
    with zipfile.ZipFile(ddb / "images" / "part-000002.zip", "w") as z:
        z.writestr("c.png", png_bytes(41))
        z.writestr("d.png", png_bytes(50))
    assert load_diffusiondb(str(ddb)).fingerprint() != before


def test_without_metadata_the_part_json_is_used(ddb):
    (ddb / "metadata.parquet").unlink()
    (ddb / "images" / "part-000001").rename(ddb / "images" / "gone")
    pairs = load_diffusiondb(str(ddb))
    assert pairs.ids == ("c.png", "d.png")
    assert pairs.captions == ("prompt c", "prompt d")


def test_part_folders_directly_in_root(tmp_path):
    root = tmp_path / "r"
    (root / "part-000007").mkdir(parents=True)
    (root / "part-000007" / "q.png").write_bytes(png_bytes(5))
    (root / "part-000007" / "part-000007.json").write_text(json.dumps({"q.png": {"p": "a prompt", "se": 3, "c": 7.5, "st": 50, "sa": 8}}))
    assert list(find_parts(root)) == [7]
    pairs = load_pairs(f"diffusiondb:{root}")
    assert pairs.captions == ("a prompt",)
    assert pairs.metadata.loc[0, "seed"] == 3 and pairs.metadata.loc[0, "step"] == 50


def test_errors_name_what_is_missing(tmp_path, ddb):
    with pytest.raises(MissingResourceError, match="poloclub/diffusiondb"):
        load_diffusiondb(str(tmp_path / "none"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingResourceError, match="no part-XXXXXX"):
        load_diffusiondb(str(tmp_path / "empty"))
    (ddb / "images" / "part-000009.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        load_diffusiondb(str(ddb))
    with pytest.raises(SpecError, match="do not apply"):
        load_diffusiondb(str(tmp_path), caption="random")


def test_detected_from_the_folder(ddb):
    assert detect_prefix(str(ddb)) == "diffusiondb"
    assert len(load_pairs(f"diffusiondb:{ddb}", limit=2, seed=1)) == 2
