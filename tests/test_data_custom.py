"""pairs:FILE (CSV/TSV/JSONL/JSON/Parquet) and folder:DIR (sidecar captions): columns, skips, URLs."""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.data.custom import load_folder, load_pairs_file, url_file_name
from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.sources import load_pairs


def img(path, value=0, size=(6, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


@pytest.fixture
def table_dir(tmp_path):
    d = tmp_path / "data"
    img(d / "imgs" / "a.png", 10)
    img(d / "imgs" / "b.png", 20)
    img(tmp_path / "elsewhere" / "c.png", 30)
    (d / "imgs" / "empty.png").write_bytes(b"")
    (d / "imgs" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return d


ROWS = [
    ("1", "imgs/a.png", "a caption"),
    ("2", "imgs/b.png", "  b caption  "),
    ("3", "{abs_c}", "c from elsewhere"),
    ("4", "imgs/missing.png", "missing image"),
    ("5", "imgs/a.png", ""),
    ("2", "imgs/a.png", "duplicate id"),
    ("6", "https://example.org/x.jpg", "a URL"),
    ("7", "imgs/empty.png", "empty file"),
    ("8", "imgs/corrupt.png", "corrupt image, found only when decoded"),
    ("9", "", "no image"),
]


def rows_for(table_dir):
    abs_c = str(table_dir.parent / "elsewhere" / "c.png")
    return [(i, p.format(abs_c=abs_c), c) for i, p, c in ROWS]


def check_pairs(pairs, table_dir):
    assert pairs.ids == ("1", "2", "3", "8")
    assert pairs.captions == ("a caption", "b caption", "c from elsewhere", "corrupt image, found only when decoded")
    assert [int(np.asarray(pairs.images.open(i))[0, 0, 0]) for i in range(3)] == [10, 20, 30]
    body = "\n".join(pairs.notes)
    assert "skipped 6 of 10 items" in pairs.notes[0]
    assert "row 3 (id 4): image file not found" in body
    assert "row 4 (id 5): empty caption" in body
    assert "row 5 (id 2): duplicate id" in body
    assert "row 6 (id 6): URL not fetched offline: https://example.org/x.jpg" in body
    assert "row 7 (id 7): image file is empty" in body
    assert "row 9 (id 9): no image" in body


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_table_formats(table_dir, fmt):
    df = pd.DataFrame(rows_for(table_dir), columns=["id", "image", "caption"])
    path = table_dir / f"pairs.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "tsv":
        df.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    elif fmt == "json":
        df.to_json(path, orient="records")
    else:
        df.to_parquet(path)
    pairs = load_pairs_file(str(path), image_root=str(table_dir.parent))  # c.png lies beside the table's folder
    check_pairs(pairs, table_dir)
    assert pairs.name == "pairs"


def test_images_outside_the_image_root_are_skipped(table_dir):
    """By default only images under the table's folder are read: a table must not reach any image
    on the machine by naming it (the app serves a dataset's images as thumbnails)."""
    outside = table_dir.parent / "elsewhere" / "c.png"
    (table_dir / "imgs" / "link.png").symlink_to(outside)
    path = table_dir / "pairs.csv"
    pd.DataFrame({"image": ["imgs/a.png", str(outside), "../elsewhere/c.png", "imgs/link.png", "imgs/../imgs/b.png"],
                  "caption": ["in", "absolute outside", "relative outside", "symlink out", "inside after all"]}).to_csv(path, index=False)
    pairs = load_pairs_file(str(path))
    assert pairs.captions == ("in", "inside after all")
    body = "\n".join(pairs.notes)
    for row in (1, 2, 3):
        assert f"row {row}: image outside the image root {table_dir.resolve()}" in body, body
    assert "image_root=DIR" in body
    wider = load_pairs_file(str(path), image_root=str(table_dir.parent))
    assert len(wider) == 5 and "image_root=" in wider.recipe
    with pytest.raises(MissingResourceError, match="image_root is not a folder"):
        load_pairs_file(str(path), image_root=str(table_dir / "nope"))


def test_column_names_are_found_or_given(table_dir):
    path = table_dir / "p.csv"
    pd.DataFrame({"File_Name": ["imgs/a.png"], "Prompt": ["x"], "extra": ["e"]}).to_csv(path, index=False)
    pairs = load_pairs_file(str(path))
    assert pairs.captions == ("x",) and pairs.ids == ("0",)
    assert pairs.metadata.loc[0, "extra"] == "e"
    pd.DataFrame({"pic": ["imgs/a.png"], "words": ["y"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="no image column.*columns found: pic, words"):
        load_pairs_file(str(path))
    assert load_pairs_file(str(path), image_column="pic", caption_column="words").captions == ("y",)
    with pytest.raises(DataError, match="no column 'nope'"):
        load_pairs_file(str(path), image_column="nope", caption_column="words")


def test_corrupt_image_is_skipped_by_the_pipeline_not_the_loader(table_dir):
    from tiny_model import TinyModel

    from explorer.embed import align_skipped, embed_to_store

    df = pd.DataFrame(rows_for(table_dir), columns=["id", "image", "caption"])
    df.to_csv(table_dir / "pairs.csv", index=False)
    pairs = load_pairs(f"pairs:{table_dir / 'pairs.csv'}", image_root=str(table_dir.parent))
    res = embed_to_store(pairs, TinyModel(), progress=False, num_workers=0)
    assert res.embeddings.n == 3
    assert [s["id"] for s in res.skipped] == ["8"]
    assert "cannot decode image" in res.skipped[0]["reason"]
    assert res.pairs.ids == ("1", "2", "3")
    aligned, embs, notes = align_skipped(pairs, {"tiny": res.embeddings})
    assert aligned.ids == ("1", "2", "3") and embs["tiny"].n == 3
    assert "1 of 4 pairs skipped" in notes[0]


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    img(root / "ok.png", 77)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_urls_are_fetched_only_when_allowed(tmp_path, http_server):
    path = tmp_path / "urls.jsonl"
    path.write_text(
        "\n".join(json.dumps(r) for r in [{"url": f"{http_server}/ok.png", "text": "fine"}, {"url": f"{http_server}/404.png", "text": "gone"}])
    )
    with pytest.raises(DataError, match="none of the 2 items is usable.*URL not fetched offline"):
        load_pairs_file(str(path))
    pairs = load_pairs_file(str(path), allow_urls=True, download_dir=tmp_path / "dl")
    assert pairs.captions == ("fine",)
    assert int(np.asarray(pairs.images.open(0))[0, 0, 0]) == 77
    assert (tmp_path / "dl" / url_file_name(f"{http_server}/ok.png")).is_file()
    assert "row 1: download failed: HTTPError" in "\n".join(pairs.notes)
    assert pairs.metadata.loc[0, "url"].endswith("/ok.png")
    assert "--allow-urls" in pairs.recipe


def test_oversized_downloads_are_refused(tmp_path, http_server, monkeypatch):
    import explorer.data.custom as custom

    monkeypatch.setattr(custom, "MAX_DOWNLOAD_BYTES", 10)
    path = tmp_path / "urls.jsonl"
    path.write_text(json.dumps({"url": f"{http_server}/ok.png", "text": "fine"}))
    with pytest.raises(DataError, match="larger than"):
        load_pairs_file(str(path), allow_urls=True, download_dir=tmp_path / "dl")
    assert not list((tmp_path / "dl").glob("*"))  # nothing half-written left behind


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(MissingResourceError):
        load_pairs_file(str(tmp_path / "nope.csv"))
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(SpecError, match="unknown table type"):
        load_pairs_file(str(tmp_path / "x.txt"))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot be read as a PARQUET"):
        load_pairs_file(str(tmp_path / "bad.parquet"))


# -- folder:DIR --------------------------------------------------------------------------------
def test_folder_with_sidecar_captions(tmp_path):
    d = tmp_path / "photos"
    img(d / "b.jpg", 5)
    (d / "b.txt").write_text("a  photo\nof b\n")
    img(d / "a.png", 6)
    (d / "a.png.txt").write_text("photo a")
    img(d / "sub" / "c.webp", 7)
    (d / "sub" / "c.txt").write_text("photo c")
    img(d / "nocap.png")
    img(d / "blank.png")
    (d / "blank.txt").write_text("   \n")
    img(d / ".hidden.png")
    (d / ".hidden.txt").write_text("hidden")
    (d / "notes.md").write_text("not an image")
    pairs = load_folder(str(d))
    assert pairs.ids == ("a.png", "b.jpg", "sub/c.webp")
    assert pairs.captions == ("photo a", "a photo of b", "photo c")
    assert int(np.asarray(pairs.images.open(2))[0, 0, 0]) == 7
    body = "\n".join(pairs.notes)
    assert "skipped 2 of 5 items" in pairs.notes[0]
    assert "blank.png: empty caption" in body and "nocap.png: no caption file nocap.txt" in body
    assert load_pairs(f"folder:{d}", filter="of b").ids == ("b.jpg",)


def test_folder_errors(tmp_path):
    with pytest.raises(MissingResourceError):
        load_folder(str(tmp_path / "none"))
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_folder(str(tmp_path / "e"))
    img(tmp_path / "e" / "x.png")
    with pytest.raises(DataError, match="none of the 1 items is usable.*no caption file"):
        load_folder(str(tmp_path / "e"))
    with pytest.raises(SpecError, match="do not apply"):
        load_folder(str(tmp_path / "e"), caption="first")
