"""hf-parquet:PATTERN (Hugging Face parquet shards with image bytes): both layouts (struct {bytes,
path} and binary), two shards of several row groups checked pair by pair against what was
written, images read by row group and row, damaged rows and files reported, and an embedding
through the CLI with own:clip."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from explorer.data.hf_parquet import load_hf_parquet
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.sources import load_pairs, open_source

STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def colour(i: int) -> tuple[int, int, int]:
    return (i * 23 % 256, 255 - i * 11 % 256, 40 + i % 7)


def encoded(i: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (14 + i % 3, 9), colour(i)).save(buf, format=fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    return buf.getvalue()


def write(path, rows, layout: str, row_group_size: int = 3, text="text", extra=None) -> None:
    """rows: (index, image bytes or None, caption or None)."""
    if layout == "struct":
        images = pa.array([None if b is None else {"bytes": b, "path": f"{i}.png"} for i, b, _ in rows], type=STRUCT)
    else:
        images = pa.array([b for _, b, _ in rows], type=pa.binary())
    cols = {"image": images, text: pa.array([c for _, _, c in rows], type=pa.string())}
    cols.update(extra or {})
    pq.write_table(pa.table(cols), path, row_group_size=row_group_size)


def rows(lo: int, hi: int, fmt: str = "PNG"):
    return [(i, encoded(i, fmt), f"a picture number {i}") for i in range(lo, hi)]


@pytest.fixture(params=["struct", "binary"])
def shards(request, tmp_path):
    """Two shards (7 and 5 rows, row groups of 3); shard 1 holds a corrupt image, an empty caption and a null one."""
    layout = request.param
    write(tmp_path / "train-00000-of-00002.parquet", rows(0, 7), layout)
    second = rows(7, 12, "JPEG")
    second[1] = (8, b"\xff\xd8\xff corrupt jpeg", "a picture number 8")
    second[2] = (9, encoded(9, "PNG"), "   ")
    second[3] = (10, encoded(10, "PNG"), None)
    write(tmp_path / "train-00001-of-00002.parquet", second, layout)
    return tmp_path


def test_two_shards_pair_by_pair(shards):
    pairs = load_pairs(f"hf-parquet:{shards}")
    kept = [i for i in range(12) if i not in (9, 10)]
    assert list(pairs.captions) == [f"a picture number {i}" for i in kept]
    assert pairs.ids[7] == "train-00001-of-00002/0" and pairs.ids[8] == "train-00001-of-00002/1"
    assert pairs.images.ref(9) == "train-00001-of-00002.parquet:4"
    for r, i in enumerate(kept):
        if i == 8:
            continue
        im = pairs.images.open(r)  # by row group and row, in order and below out of order
        assert im.size == (14 + i % 3, 9)
        got = im.getpixel((4, 4))
        assert got == colour(i) if i < 7 else max(abs(a - b) for a, b in zip(got, colour(i), strict=True)) <= 3
    assert pairs.images.open(4).getpixel((0, 0)) == colour(4)  # back to an earlier row group
    notes = "\n".join(pairs.notes)
    assert "skipped 2 of 12 items" in notes
    assert "train-00001-of-00002.parquet:2: empty caption" in notes and "train-00001-of-00002.parquet:3: missing caption" in notes


def test_corrupt_image_is_reported_by_the_pipeline(shards):
    pairs = load_hf_parquet(str(shards / "train-0000[1]-*.parquet"))
    assert pairs.ids[1] == "train-00001-of-00002/1"
    with pytest.raises(DataError, match=r"train-00001-of-00002.parquet:1: cannot decode image"):
        pairs.images.open(1)


def test_thumbnails_read_the_row(shards):
    from explorer.thumbnails import register, thumb_url, thumbnail_for_path

    pairs = load_hf_parquet(str(shards / "train-00000-of-00002.parquet")).subset([5, 2], " sub")
    png = thumbnail_for_path(thumb_url(register(pairs), 0))
    assert Image.open(io.BytesIO(png)).getpixel((2, 2)) == colour(5)


def test_missing_and_null_images(tmp_path):
    pq.write_table(pa.table({"image": pa.array([{"bytes": encoded(0, "PNG"), "path": "a.png"}, {"bytes": None, "path": "b.png"},
                                                 None, {"bytes": b"", "path": None}], type=STRUCT),
                             "caption": ["one", "two", "three", "four"]}), tmp_path / "x.parquet")
    pairs = load_hf_parquet(str(tmp_path / "x.parquet"))
    assert len(pairs) == 4 and pairs.images.open(0).getpixel((0, 0)) == colour(0)
    for i, text in ((1, "no image bytes, only a path \\('b.png'\\)"), (2, "no image \\(null\\)"), (3, "an empty image \\(0 bytes\\)")):
        with pytest.raises(DataError, match=rf"x.parquet: row {i} has {text}"):
            pairs.images.open(i)


def test_truncated_and_not_parquet(shards):
    one = shards / "train-00001-of-00002.parquet"
    one.write_bytes(one.read_bytes()[:-40])
    pairs = load_hf_parquet(str(shards))  # the other shard is still read
    assert len(pairs) == 7
    assert any("train-00001-of-00002.parquet: not a readable parquet file, truncated or corrupt" in n for n in pairs.notes)
    with pytest.raises(DataError, match=r"no file could be read \(train-00001-of-00002.parquet: not a readable parquet file"):
        load_hf_parquet(str(one))
    with pytest.raises(MissingResourceError, match="no such file"):
        load_hf_parquet(str(shards / "nope.parquet"))
    (shards / "empty").mkdir()
    with pytest.raises(MissingResourceError, match="no .parquet files"):
        load_hf_parquet(str(shards / "empty"))


def test_damaged_row_group_keeps_earlier_rows(tmp_path):
    write(tmp_path / "d.parquet", rows(0, 9), "binary", row_group_size=3)
    meta = pq.ParquetFile(tmp_path / "d.parquet").metadata
    col = meta.row_group(2).column(1)  # the text column chunk of the last row group
    data = bytearray((tmp_path / "d.parquet").read_bytes())
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    data[start:start + col.total_compressed_size] = b"\x07" * col.total_compressed_size
    (tmp_path / "d.parquet").write_bytes(bytes(data))
    pairs = load_hf_parquet(str(tmp_path / "d.parquet"))
    assert list(pairs.captions) == [f"a picture number {i}" for i in range(6)]
    assert any("d.parquet: row group 2: unreadable row group: rows 6..8 lost" in n for n in pairs.notes)


def test_columns_options_and_errors(tmp_path):
    path = tmp_path / "c.parquet"
    write(path, rows(0, 3), "binary", text="prompt", extra={"n": pa.array([1, 2, 3]), "other": pa.array(["x", "y", "x"])})
    assert load_hf_parquet(str(path)).captions[0] == "a picture number 0"  # prompt found by name
    pairs = load_hf_parquet(str(path), image_column="image", text_column="prompt", id_column="other")
    assert list(pairs.ids) == ["x", "y"] and "c.parquet:2: duplicate id: x appears before" in "\n".join(pairs.notes)
    with pytest.raises(DataError, match=r"c.parquet: no column 'caption_text' for the caption \(columns: image \(binary\), prompt \(string\), n"):
        load_hf_parquet(str(path), text_column="caption_text")
    with pytest.raises(DataError, match=r"c.parquet: column 'n' is int64, not image bytes"):
        load_hf_parquet(str(path), image_column="n")
    with pytest.raises(DataError, match=r"c.parquet: column 'n' is int64, not text"):
        load_hf_parquet(str(path), text_column="n")
    with pytest.raises(SpecError, match="option\\(s\\) colour do not apply"):
        load_hf_parquet(str(path), colour="red")
    pq.write_table(pa.table({"url": ["http://x"], "caption": ["c"]}), tmp_path / "urls.parquet")
    with pytest.raises(DataError, match=r"urls.parquet: no image column: none is a struct \{bytes, path\} or binary \(columns: url \(string\)"):
        load_hf_parquet(str(tmp_path / "urls.parquet"))


def test_list_captions_take_the_first_non_empty(tmp_path):
    pq.write_table(pa.table({"image": pa.array([encoded(1, "PNG")] * 2), "sentences": pa.array([["", "first real"], []])}),
                   tmp_path / "l.parquet")
    pairs = load_hf_parquet(str(tmp_path / "l.parquet"))
    assert list(pairs.captions) == ["first real"] and "l.parquet:1: empty caption" in "\n".join(pairs.notes)


def test_embed_through_the_cli_with_own_clip(tmp_path, capsys):
    import numpy as np

    from explorer import cli
    from explorer.models import load_model
    from explorer.store import load_entry_dir

    write(tmp_path / "p-0.parquet", rows(0, 5), "struct")
    bad = rows(5, 8)
    bad[1] = (6, b"\x89PNG\r\n\x1a\n cut", "a picture number 6")
    write(tmp_path / "p-1.parquet", bad, "struct", text="caption")
    spec = f"hf-parquet:{tmp_path}/p-*.parquet"
    code = cli.main(["embed", "--dataset", spec, "--model", "own:clip", "--json", "--no-progress",
                     "--device", "cpu", "--workers", "0", "--batch-size", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 7 and result["dataset"] == spec
    assert "1 of 8 pairs could not be embedded" in err and "skipped pair 6 (p-1.parquet:1)" in err
    emb = load_entry_dir(result["store_path"])
    pairs = load_pairs(spec)
    model = load_model("own:clip", device="cpu")
    want = model.encode_images([pairs.images.open(i) for i in (0, 5, 7)])  # the row after the skipped pair 6 is pair 7
    np.testing.assert_allclose(np.asarray(emb.image)[[0, 5, 6]], want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(emb.text)[[6]], model.encode_texts([pairs.captions[7]]), atol=1e-5)
    # what `serve --source SPEC --models own:clip` builds: the embeddings from the store, the
    # undecodable pair left out, and thumbnails read from the parquet rows
    from explorer.state import ExplorerState
    from explorer.thumbnails import thumbnail_for_path

    state = ExplorerState(source=spec, models=["own:clip"])
    assert state.source_data().n == 7 and state.source_data().pairs.captions[6] == "a picture number 7"
    png = thumbnail_for_path(state.thumb_url(6))
    assert Image.open(io.BytesIO(png)).getpixel((3, 3)) == colour(7)


def test_a_parquet_of_images_given_as_embeddings_says_what_to_do(shards):
    path = shards / "train-00000-of-00002.parquet"
    with pytest.raises(DataError, match=rf"column 'image' holds image bytes .* read as hf-parquet:{path} and embedded with --models"):
        open_source(str(path))
