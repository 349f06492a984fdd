"""clip-retrieval folders (img_emb/, text_emb/, metadata/ shards): read pair by pair as written,
every malformed variant reported naming its shard file, written by our export and read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.importers.clip_retrieval import import_clip_retrieval, write_clip_retrieval
from explorer.sources import detect_prefix, open_source

ROOT = Path(__file__).resolve().parents[1]
SIZES = (7, 12, 5)  # uneven on purpose


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def make_folder(root: Path, sizes=SIZES, dim=8, dtype=np.float16, text_dtype=None, width=1, seed=0, images=None,
                normalise=True, extra=True):
    """A clip-retrieval folder as `clip-retrieval inference` writes it; returns (root, image, text, captions)
    with the rows it wrote, in pair order."""
    rng = np.random.default_rng(seed)
    for sub in ("img_emb", "text_emb", "metadata"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    all_x, all_y, caps = [], [], []
    start = 0
    for i, rows in enumerate(sizes):
        x = rng.normal(size=(rows, dim)) + 1.0
        y = rng.normal(size=(rows, dim)) - 1.0
        if normalise:
            x, y = unit(x), unit(y)
        x, y = x.astype(dtype), y.astype(text_dtype or dtype)
        np.save(root / "img_emb" / f"img_emb_{i:0{width}d}.npy", x)
        np.save(root / "text_emb" / f"text_emb_{i:0{width}d}.npy", y)
        c = [f"caption {start + r} of shard {i}" for r in range(rows)]
        df = pd.DataFrame({"image_path": [images(start + r) if images else f"/nowhere/img{start + r}.jpg" for r in range(rows)],
                           "caption": c})
        if extra:
            df["url"] = [f"http://example.invalid/{start + r}.jpg" for r in range(rows)]
            df["width"] = np.arange(start, start + rows)
        df.to_parquet(root / "metadata" / f"metadata_{i:0{width}d}.parquet")
        all_x.append(x)
        all_y.append(y)
        caps += c
        start += rows
    return root, np.concatenate(all_x), np.concatenate(all_y), caps


def rows_match(emb, x, y):
    """Row i of the source is row i written, up to normalisation in float64 (pair by pair)."""
    for a, want in ((emb.image, x), (emb.text, y)):
        want = unit(np.asarray(want, dtype=np.float64))
        got = np.asarray(a, dtype=np.float64)
        assert got.shape == want.shape
        cos = np.einsum("ij,ij->i", unit(got), want)
        assert np.all(cos > 1 - 1e-6), np.flatnonzero(cos <= 1 - 1e-6)


def test_three_uneven_shards_are_read_pair_by_pair(tmp_path):
    root, x, y, caps = make_folder(tmp_path / "cr")
    pairs, embs = import_clip_retrieval(str(root))
    (model, emb), = embs.items()
    assert model == "cr" and emb.n == sum(SIZES) == len(pairs)
    assert list(pairs.captions) == caps
    rows_match(emb, x, y)
    assert pairs.metadata["width"].tolist() == list(range(sum(SIZES)))  # metadata rows follow the pairs
    assert pairs.metadata["url"].iloc[19] == "http://example.invalid/19.jpg"
    assert pairs.images is None and any("not on this machine" in n for n in pairs.notes)
    assert emb.logit_scale == 100.0 and "assumed" in emb.provenance["note"]


def test_shards_are_taken_in_numeric_order(tmp_path):
    sizes = tuple(range(3, 14))  # 11 shards: img_emb_10 must come after img_emb_9, not after img_emb_1
    root, x, y, caps = make_folder(tmp_path / "many", sizes=sizes, dim=4)
    pairs, embs = import_clip_retrieval(str(root))
    assert list(pairs.captions) == caps
    rows_match(next(iter(embs.values())), x, y)
    root2, x2, y2, caps2 = make_folder(tmp_path / "padded", sizes=sizes, dim=4, width=2, seed=3)  # img_emb_00 ... img_emb_10
    pairs2, embs2 = import_clip_retrieval(str(root2))
    assert list(pairs2.captions) == caps2
    rows_match(next(iter(embs2.values())), x2, y2)


def test_large_folders_go_through_the_store_out_of_core(tmp_path, monkeypatch):
    import explorer.normalise as normalise

    monkeypatch.setattr(normalise, "IN_MEMORY_BYTES", 0)  # every folder counts as large
    root, x, y, caps = make_folder(tmp_path / "big", dtype=np.float32, normalise=False)
    pairs, embs = import_clip_retrieval(str(root))
    emb = next(iter(embs.values()))
    assert isinstance(emb.image, np.memmap) or isinstance(getattr(emb.image, "base", None), np.memmap)
    assert "store_entry" in emb.provenance and emb.image.dtype == np.float32
    rows_match(emb, x, y)
    np.testing.assert_allclose(np.linalg.norm(emb.image, axis=1), 1, atol=1e-6)
    assert "3 of 3 shard(s) are not unit vectors" in emb.provenance["note"]
    # the second open memory-maps the same entry (no new write), with the report of the first
    _, again = import_clip_retrieval(str(root), logit_scale=30.0)
    e2 = next(iter(again.values()))
    assert e2.provenance["store_entry"] == emb.provenance["store_entry"] and e2.logit_scale == 30.0
    assert "not unit vectors" in e2.provenance["note"]
    # one shard of unit rows is used in place: the file itself, memory-mapped
    one, x1, y1, _ = make_folder(tmp_path / "one", sizes=(9,))
    _, e1 = import_clip_retrieval(str(one))
    e1 = next(iter(e1.values()))
    assert Path(e1.image.filename).resolve() == (one / "img_emb" / "img_emb_0.npy").resolve() and e1.image.dtype == np.float16
    rows_match(e1, x1, y1)


def test_prefix_is_detected_and_notes_are_kept(tmp_path):
    root, *_ = make_folder(tmp_path / "plain")
    assert detect_prefix(str(root)) == "clip-retrieval"
    src = open_source(str(root), limit=10, seed=1)
    assert src.n == 10 and any("logit scale 100 assumed" in n for n in src.notes)


def test_thumbnails_from_image_paths_that_exist(tmp_path):
    from PIL import Image

    from explorer.thumbnails import thumbnail_png

    imgs = tmp_path / "images"
    imgs.mkdir()
    n = sum(SIZES)
    for i in range(n):
        Image.new("RGB", (16, 8), (i * 10, 0, 0)).save(imgs / f"{i}.png")
    root, *_ = make_folder(tmp_path / "rel", images=lambda i: f"images/{i}.png")  # relative to the folder's parent
    pairs, _ = import_clip_retrieval(str(root))
    assert pairs.images is not None and pairs.images.path(3) == (imgs / "3.png").resolve()
    from io import BytesIO

    png = Image.open(BytesIO(thumbnail_png(pairs, 20)))
    assert png.getpixel((0, 0))[0] == 200  # pair 20's own image
    absolute, *_ = make_folder(tmp_path / "abs", images=lambda i: str(imgs / f"{i}.png"))
    pairs2, _ = import_clip_retrieval(str(absolute))
    assert pairs2.images.path(23) == (imgs / "23.png").resolve()


def test_the_app_state_opens_a_folder_and_serves_its_thumbnails(tmp_path):
    from PIL import Image

    from explorer.state import ExplorerState
    from explorer.thumbnails import thumbnail_for_path

    (tmp_path / "images").mkdir()
    for i in range(sum(SIZES)):
        Image.new("RGB", (8, 8), (0, i * 10, 0)).save(tmp_path / "images" / f"{i}.png")
    root, x, y, _ = make_folder(tmp_path / "served", images=lambda i: f"images/{i}.png")
    state = ExplorerState(source=f"clip-retrieval:{root}", batch_size=8)  # what `serve --source` builds
    gap = float(np.linalg.norm(unit(x.astype(np.float64)).mean(0) - unit(y.astype(np.float64)).mean(0)))
    assert state.numbers(recall=False)["gap_distance_before"] == pytest.approx(gap, abs=1e-3)
    png = thumbnail_for_path(state.thumb_url(13))
    from io import BytesIO

    assert Image.open(BytesIO(png)).getpixel((0, 0))[1] == 130


# -- malformed folders: one clear sentence naming the shard file -----------------------------------
def _rows_disagree(root):
    np.save(root / "text_emb" / "text_emb_1.npy", np.load(root / "text_emb" / "text_emb_1.npy")[:-1])
    return "shard 1 disagrees on its rows", "text_emb/text_emb_1.npy"


def _metadata_rows_disagree(root):
    pd.read_parquet(root / "metadata" / "metadata_2.parquet").iloc[:-2].to_parquet(root / "metadata" / "metadata_2.parquet")
    return "metadata/metadata_2.parquet 3", "row r of a shard must be one pair"


def _missing_text_shard(root):
    os.remove(root / "text_emb" / "text_emb_1.npy")
    return "text_emb_1.npy is missing", "every shard needs all three files"


def _missing_shard_everywhere(root):
    for sub, name in (("img_emb", "img_emb_1.npy"), ("text_emb", "text_emb_1.npy"), ("metadata", "metadata_1.parquet")):
        os.remove(root / sub / name)
    return "shard 1 is missing", "looks incomplete"


def _dtype_mix(root):
    np.save(root / "img_emb" / "img_emb_2.npy", np.load(root / "img_emb" / "img_emb_2.npy").astype(np.float32))
    return "img_emb_2.npy is float32 but img_emb_0.npy is float16", "one dtype"


def _nan_row(root):
    a = np.load(root / "img_emb" / "img_emb_1.npy")
    a[4, 2] = np.nan
    np.save(root / "img_emb" / "img_emb_1.npy", a)
    return "shard 1 (img_emb/img_emb_1.npy", "image embeddings contain NaN or inf in 1 row(s), first rows [4]"


def _zero_row(root):
    a = np.load(root / "text_emb" / "text_emb_2.npy")
    a[0] = 0
    np.save(root / "text_emb" / "text_emb_2.npy", a)
    return "shard 2 (", "text embeddings have 1 all-zero row(s)"


def _no_caption(root):
    pd.read_parquet(root / "metadata" / "metadata_1.parquet").drop(columns=["caption"]).to_parquet(root / "metadata" / "metadata_1.parquet")
    return "metadata_1.parquet: no 'caption' column", "image_path"


def _other_dimension(root):
    np.save(root / "text_emb" / "text_emb_2.npy", (np.ones((5, 6)) / np.sqrt(6)).astype(np.float16))
    return "text_emb_2.npy has 6 dimensions but img_emb_0.npy has 8", "one space"


def _one_dimensional(root):
    np.save(root / "img_emb" / "img_emb_0.npy", np.ones(7, dtype=np.float16))
    return "img_emb_0.npy: expected a 2-D", "float16"


def _pickle(root):
    (root / "img_emb" / "img_emb_1.npy").write_bytes(b"\x80\x04K\x01.")
    return "img_emb_1.npy: not a .npy array", "pickles are never loaded"


def _broken_parquet(root):
    (root / "metadata" / "metadata_0.parquet").write_bytes(b"PAR1 not really")
    return "metadata_0.parquet: not a readable Parquet file", ""


def _twice(root):
    os.link(root / "img_emb" / "img_emb_1.npy", root / "img_emb" / "img_emb_01.npy")
    return "shard 1 appears twice", "img_emb_01.npy"


MALFORMED = [_rows_disagree, _metadata_rows_disagree, _missing_text_shard, _missing_shard_everywhere, _dtype_mix, _nan_row,
             _zero_row, _no_caption, _other_dimension, _one_dimensional, _pickle, _broken_parquet, _twice]


@pytest.mark.parametrize("damage", MALFORMED, ids=lambda f: f.__name__.strip("_"))
def test_malformed_folders_are_one_clear_error(tmp_path, damage):
    root, *_ = make_folder(tmp_path / "bad")
    first, second = damage(root)
    with pytest.raises(DataError) as info:
        import_clip_retrieval(str(root))
    msg = str(info.value)
    assert first in msg and second in msg and "\n" not in msg


def test_non_unit_rows_are_normalised_and_reported_per_shard(tmp_path):
    root, x, y, _ = make_folder(tmp_path / "raw", dtype=np.float32)
    np.save(root / "img_emb" / "img_emb_1.npy", np.load(root / "img_emb" / "img_emb_1.npy") * 3.0)  # only shard 1
    _, embs = import_clip_retrieval(str(root))
    emb = next(iter(embs.values()))
    assert "1 of 3 shard(s) are not unit vectors (img_emb/img_emb_1.npy / text_emb/text_emb_1.npy)" in emb.provenance["note"]
    assert emb.provenance["not_unit_shards"] == [1]
    rows_match(emb, x, y)


def test_float16_images_with_float32_captions_are_read_as_float32(tmp_path):
    """What clip-retrieval writes with --use_mclip: accepted, both modalities in float32."""
    root, x, y, _ = make_folder(tmp_path / "mclip", text_dtype=np.float32)
    _, embs = import_clip_retrieval(str(root))
    emb = next(iter(embs.values()))
    assert emb.image.dtype == emb.text.dtype == np.float32 and "float16" in emb.provenance["dtypes"]
    rows_match(emb, x, y)


def test_missing_folders(tmp_path):
    with pytest.raises(MissingResourceError, match="not found"):
        import_clip_retrieval(str(tmp_path / "nothing"))
    root, *_ = make_folder(tmp_path / "notext")
    for p in (root / "text_emb").iterdir():
        p.unlink()
    (root / "text_emb").rmdir()
    with pytest.raises(MissingResourceError, match="no text_emb/ folder"):
        import_clip_retrieval(str(root))


# -- writing --------------------------------------------------------------------------------------
def test_export_round_trips_through_the_reader(tmp_path):
    from explorer.embeddings import Embeddings
    from explorer.pairs import PairSet

    rng = np.random.default_rng(5)
    n = 23
    emb = Embeddings.from_arrays(rng.normal(size=(n, 6)), rng.normal(size=(n, 6)), model="own:tiny", logit_scale=42.5)
    meta = pd.DataFrame({"topic": [f"t{i % 4}" for i in range(n)], "score": rng.random(n)})
    pairs = PairSet.build([f"pair {i}" for i in range(n)], None, ids=[f"id{i}" for i in range(n)], name="x", recipe="test",
                          metadata=meta)
    out = write_clip_retrieval(tmp_path / "out", emb, pairs, shard_rows=10)
    assert sorted(p.name for p in (out / "img_emb").iterdir()) == ["img_emb_0.npy", "img_emb_1.npy", "img_emb_2.npy"]
    assert [np.load(out / "text_emb" / f"text_emb_{i}.npy").shape[0] for i in range(3)] == [10, 10, 3]
    assert sorted(os.listdir(out)) == ["img_emb", "metadata", "text_emb"] and not list(tmp_path.glob(".*tmp"))
    back, embs = import_clip_retrieval(str(out))
    assert list(embs) == ["own:tiny"] and embs["own:tiny"].logit_scale == 42.5
    np.testing.assert_array_equal(embs["own:tiny"].image, emb.image)
    np.testing.assert_array_equal(embs["own:tiny"].text, emb.text)
    assert back.captions == pairs.captions and back.ids == pairs.ids
    assert back.metadata["topic"].tolist() == meta["topic"].tolist()
    np.testing.assert_array_equal(back.metadata["score"].to_numpy(), meta["score"].to_numpy())
    with pytest.raises(SpecError, match="not an empty folder"):
        write_clip_retrieval(out, emb, pairs)


def test_gap_table_cli_reads_a_folder(tmp_path):
    root, *_ = make_folder(tmp_path / "cli", sizes=(30, 45, 25), dim=16)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "explorer", "gap-table", f"clip-retrieval:{root}", "--batch", "20", "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    import json

    (row,) = json.loads(r.stdout)
    assert row["n"] == 100 and row["model"] == "cli" and row["original_distance"] > 0.5
    assert "logit scale 100 assumed" in r.stderr
    _dtype_mix(root)
    bad = subprocess.run([sys.executable, "-m", "explorer", "gap-table", str(root)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    assert "img_emb_2.npy is float32" in bad.stderr


def test_embed_exports_a_clip_retrieval_folder(tmp_path, monkeypatch, capsys):
    """`embed --export-format clip-retrieval --export DIR`: the usable pairs (a corrupt image is
    skipped), row by row as in the store entry, with image paths the reader finds again."""
    import tiny_model

    from explorer import cli, models
    from explorer.store import EmbeddingStore

    monkeypatch.setitem(models.MODEL_LOADERS, "tiny", "tiny_model:load_tiny")
    tiny_model.write_images(tmp_path / "imgs", 6)
    (tmp_path / "imgs" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\ncorrupt")
    pd.DataFrame([(f"imgs/{i}.png", f"caption {i}") for i in range(6)], columns=["image", "caption"]).to_csv(tmp_path / "p.csv", index=False)
    out, store = tmp_path / "exported", tmp_path / "store"
    argv = ["embed", "--dataset", f"pairs:{tmp_path / 'p.csv'}", "--model", "tiny:0", "--store", str(store), "--no-progress",
            "--export-format", "clip-retrieval", "--export", str(out), "--shard-rows", "2"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert "as a clip-retrieval folder" in capsys.readouterr().out
    assert len(list((out / "img_emb").iterdir())) == 3  # 5 usable pairs, 2 per shard
    (entry,) = EmbeddingStore(store).entries()
    stored = EmbeddingStore(store).load(entry.key)
    pairs, embs = import_clip_retrieval(str(out))
    assert list(embs) == [stored.model] and embs[stored.model].logit_scale == stored.logit_scale
    emb = embs[stored.model]
    np.testing.assert_array_equal(emb.image, stored.image)
    np.testing.assert_array_equal(emb.text, stored.text)
    kept = [0, 1, 2, 4, 5]
    assert list(pairs.captions) == [f"caption {i}" for i in kept]
    assert [pairs.images.path(r).name for r in range(5)] == [f"{i}.png" for i in kept]
    # a destination that is not empty is refused before any work
    assert cli.main(argv) == 2 and "not an empty folder" in capsys.readouterr().err
    assert cli.main(argv[:-4] + ["--shard-rows", "3"]) == 2 and "name the folder with --export DIR" in capsys.readouterr().err


def test_benchmark_script_runs_at_toy_size(tmp_path):
    """benchmarks/clip_retrieval.py end to end (no timing asserted: it must not rot)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "clip_retrieval.py"), "--pairs", "600", "--dim", "8",
                        "--shards", "3", "--work", str(tmp_path / "w")], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for line in ("wrote 600 pairs", "open alone, first open", "open alone, second open", "gap-table, third open", "peak RSS"):
        assert line in r.stdout, r.stdout
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("missing", ["", None])
def test_rows_without_image_path_mean_no_thumbnails_with_a_note(tmp_path, missing):
    from PIL import Image

    imgs = tmp_path / "images"
    imgs.mkdir()
    for i in range(sum(SIZES)):
        Image.new("RGB", (4, 4)).save(imgs / f"{i}.png")
    root, *_ = make_folder(tmp_path / "f", images=lambda i: missing if i == 7 else f"images/{i}.png")
    pairs, _ = import_clip_retrieval(str(root))
    assert pairs.images is None
    assert any("some rows have no image_path" in n for n in pairs.notes)
