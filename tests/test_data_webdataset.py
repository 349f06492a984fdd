"""webdataset:PATTERN (img2dataset's tar shards): samples read pair by pair from three shards,
images served from the shard by key, damaged members and a truncated shard reported per item."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.data.webdataset import expand, load_webdataset
from explorer.errors import MissingResourceError
from explorer.sources import load_pairs


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), (i * 7 % 256, 100, 50)).save(buf, format="PNG")
    return buf.getvalue()


def write_shard(path: Path, samples: list[tuple[str, dict[str, bytes]]]) -> None:
    with tarfile.open(path, "w") as tf:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))


def sample(i: int, **override) -> tuple[str, dict[str, bytes]]:
    members = {"jpg": png(i), "txt": f"caption of sample {i}".encode(), "json": json.dumps({"url": f"http://x.invalid/{i}"}).encode()}
    members.update(override)
    return f"{i:09d}", {k: v for k, v in members.items() if v is not None}


@pytest.fixture
def shards(tmp_path):
    """Three shards of uneven sizes (4, 6, 3 samples) with one damaged sample each in the first two."""
    write_shard(tmp_path / "00000.tar", [sample(i) for i in range(4)])
    second = [sample(i) for i in range(4, 10)]
    second[2] = sample(6, txt=None)  # no caption
    second[4] = sample(8, jpg=b"\xff\xd8 corrupt jpeg")  # kept here; the embedding pipeline skips it
    write_shard(tmp_path / "00001.tar", second)
    write_shard(tmp_path / "00002.tar", [sample(i) for i in range(10, 13)])
    return tmp_path


def test_three_shards_pair_by_pair(shards):
    pairs = load_pairs(f"webdataset:{shards}/{{00000..00002}}.tar")
    kept = [i for i in range(13) if i != 6]
    assert list(pairs.captions) == [f"caption of sample {i}" for i in kept]
    assert pairs.ids[4] == "00001/000000004" and pairs.metadata["url"].iloc[0] == "http://x.invalid/0"
    for r, i in enumerate(kept):
        if i == 8:
            continue
        im = pairs.images.open(r)  # read from the shard by offset
        assert im.size == (12, 10) and im.getpixel((0, 0))[0] == i * 7 % 256
    assert any("00001.tar/000000006: no caption" in n for n in pairs.notes)


def test_thumbnails_come_from_the_shard(shards):
    from explorer.thumbnails import thumbnail_png

    pairs = load_webdataset(str(shards))  # a folder: its *.tar
    assert Image.open(io.BytesIO(thumbnail_png(pairs, 11))).getpixel((0, 0))[0] == 12 * 7 % 256
    assert pairs.images.ref(0) == "00000.tar/000000000.jpg"


def test_corrupt_image_is_reported_by_the_pipeline(shards):
    from explorer.errors import DataError

    pairs = load_webdataset(str(shards / "0000[01].tar"))
    r = list(pairs.ids).index("00001/000000008")
    with pytest.raises(DataError, match="000000008.jpg: cannot decode image"):
        pairs.images.open(r)


def test_truncated_shard_keeps_what_precedes_the_damage(shards):
    data = (shards / "00002.tar").read_bytes()
    (shards / "00002.tar").write_bytes(data[: 512 * 7 + 10])  # cut inside the second sample's image
    pairs = load_pairs(f"webdataset:{shards}/{{00000..00003}}.tar")
    assert pairs.captions[-1] == "caption of sample 10"  # sample 10 is whole
    assert "00002/000000011" not in pairs.ids
    notes = " ".join(pairs.notes)
    assert "00002.tar: truncated shard" in notes and "00003.tar: shard not found" in notes


def test_other_damage_per_item(tmp_path):
    write_shard(tmp_path / "a.tar", [sample(0), sample(1, txt=b"   "), sample(2, txt=b"\xff\xfe"), sample(3, jpg=None),
                                     sample(4, jpg=b""), sample(5)])
    pairs = load_webdataset(str(tmp_path / "a.tar"))
    assert list(pairs.captions) == ["caption of sample 0", "caption of sample 5"]
    notes = "\n".join(pairs.notes)
    for text in ("000000001: empty caption", "000000002: caption unreadable", "000000003: no image member",
                 "000000004: empty image"):
        assert text in notes


def test_nothing_usable_or_nothing_there(tmp_path):
    from explorer.errors import DataError

    with pytest.raises(MissingResourceError, match="no tar shard found"):
        load_webdataset(str(tmp_path / "{0..3}.tar"))
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 40)
    with pytest.raises(DataError, match=r"no sample could be read \(junk.tar: truncated or corrupt shard after 0 members"):
        load_webdataset(str(tmp_path / "junk.tar"))


def test_brace_expansion():
    assert expand("d/{00008..00011}.tar") == ["d/00008.tar", "d/00009.tar", "d/00010.tar", "d/00011.tar"]
    assert expand("{a,b}/{1..2}.tar") == ["a/1.tar", "a/2.tar", "b/1.tar", "b/2.tar"]


def test_embeds_with_a_model_and_skips_the_corrupt_image(shards, monkeypatch):
    import tiny_model

    from explorer import models
    from explorer.embed import embed_to_store
    from explorer.store import EmbeddingStore

    monkeypatch.setitem(models.MODEL_LOADERS, "tiny", "tiny_model:load_tiny")
    pairs = load_pairs(f"webdataset:{shards}/{{00000..00002}}.tar")
    result = embed_to_store(pairs, "tiny:0", store=EmbeddingStore(shards / "store"), device="cpu", progress=False, num_workers=0)
    assert [s["image"] for s in result.skipped] == ["00001.tar/000000008.jpg"]
    assert result.embeddings.n == len(pairs) - 1
    model = tiny_model.TinyModel()
    x = model.encode_images([pairs.images.open(0), pairs.images.open(len(pairs) - 1)])
    np.testing.assert_allclose(np.asarray(result.embeddings.image)[[0, -1]], x, atol=2e-6)
