import numpy as np
import pytest

from explorer.errors import DataError, MissingResourceError, SpecError
from explorer.importers.amumo import import_export
from explorer.importers.gram import vectors_from_gram
from explorer.sources import detect_prefix, open_source, split_spec


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def make_export(root, n=6, captions=None, matrix=None, model="CLIP", images=True):
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    (root / "similarities").mkdir(exist_ok=True)
    if images:
        (root / "images").mkdir(exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / "images" / f"{i}.jpg")
    caps = captions if captions is not None else [f"caption number {i}" for i in range(n)]
    (root / "prompts.txt").write_text("\n".join(caps) + "\n")
    if matrix is None:
        rng = np.random.default_rng(0)
        z = unit(rng.normal(size=(2 * n, 5)))
        matrix = z @ z.T
    np.savetxt(root / "similarities" / f"{model}.csv", matrix, delimiter=",")
    return root


def test_synthetic_export_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    z = unit(rng.normal(size=(12, 4)))
    root = make_export(tmp_path / "ok", matrix=z @ z.T, model="MyModel")
    pairs, embs = import_export(str(root))
    assert len(pairs) == 6 and pairs.captions[2] == "caption number 2"
    e = embs["MyModel"]
    assert e.image.dtype == np.float64
    rec = np.vstack([e.image, e.text])
    np.testing.assert_allclose(rec @ rec.T, z @ z.T, atol=1e-10)
    assert e.logit_scale == 100.0 and "assumed" in e.provenance["logit_scale_source"]
    _, over = import_export(str(root), logit_scale=7.5)
    assert over["MyModel"].logit_scale == 7.5


def test_caption_with_a_line_break_is_reported(tmp_path):
    caps = [f"c{i}" for i in range(6)]
    caps[3] = "a dog\nand a hot dog"
    root = make_export(tmp_path / "dog", captions=caps)
    with pytest.raises(DataError) as info:
        import_export(str(root))
    msg = str(info.value)
    assert "prompts.txt" in msg and "7 caption lines but 6 images" in msg


def bad_matrices(n=6):
    rng = np.random.default_rng(2)
    z = unit(rng.normal(size=(2 * n, 5)))
    good = z @ z.T
    asym = good.copy()
    asym[0, 1] += 0.1
    nan = good.copy()
    nan[2, 3] = nan[3, 2] = np.nan
    diag = good.copy()
    diag[4, 4] = 0.5
    neg = 2 * good - np.ones_like(good)  # unit diagonal, symmetric, but not positive semi-definite
    return {
        "asym": (asym, "not symmetric"),
        "nan": (nan, "NaN"),
        "diag": (diag, "diagonal"),
        "wrong size": (good[:10, :10], "10x10 but the export has 6 pairs"),
        "non-square": (good[:, :10], "square"),
        "not a gram matrix": (neg, "negative eigenvalue"),
    }


@pytest.mark.parametrize("case", list(bad_matrices()))
def test_bad_similarity_matrices_are_reported(tmp_path, case):
    matrix, message = bad_matrices()[case]
    root = make_export(tmp_path / "bad", matrix=matrix)
    with pytest.raises(DataError, match=message) as info:
        import_export(str(root))
    assert "CLIP.csv" in str(info.value)


def test_unparseable_csv(tmp_path):
    root = make_export(tmp_path / "x")
    (root / "similarities" / "CLIP.csv").write_text("1,2,three\n")
    with pytest.raises(DataError, match="CLIP.csv"):
        import_export(str(root))


def test_missing_pieces(tmp_path):
    with pytest.raises(MissingResourceError):
        import_export(str(tmp_path / "nothing"))
    root = make_export(tmp_path / "noprompts")
    (root / "prompts.txt").unlink()
    with pytest.raises(MissingResourceError, match="prompts.txt"):
        import_export(str(root))


def test_gram_reconstruction_tolerates_tiny_negative_eigenvalues():
    rng = np.random.default_rng(3)
    z = unit(rng.normal(size=(10, 3)))  # rank 3: 7 zero eigenvalues, numerically +-1e-16
    v, err = vectors_from_gram(z @ z.T)
    assert err < 1e-12 and v.shape[1] <= 10


def test_liang_and_tables(tmp_path):
    rng = np.random.default_rng(4)
    a = rng.normal(size=(2, 10, 6)).astype(np.float32)
    np.save(tmp_path / "features_clip.npy", a)
    src = open_source(str(tmp_path / "features_clip.npy"))
    (name, e), = src.embeddings.items()
    assert name == "CLIP ViT-B/16" and e.logit_scale == 100.0
    np.testing.assert_allclose(e.image, unit(a[0].astype(np.float64)), rtol=1e-6)
    np.save(tmp_path / "bad.npy", a[0])
    with pytest.raises(DataError, match=r"\(2, N, D\)"):
        open_source("liang:" + str(tmp_path / "bad.npy"))

    np.savez(tmp_path / "t.npz", image=a[0], text=a[1], captions=np.array([f"c{i}" for i in range(10)]), logit_scale=30.0)
    src = open_source(str(tmp_path / "t.npz"))
    assert src.pairs.captions[1] == "c1" and src.embeddings["t"].logit_scale == 30.0
    np.savez(tmp_path / "u.npz", image=a[0], text=a[1][:9])
    with pytest.raises(DataError, match="10 image embeddings but 9"):
        open_source(str(tmp_path / "u.npz"))
    np.savez(tmp_path / "w.npz", image=a[0], text=a[1], captions=np.array([{"x": 1}] * 10, dtype=object))
    with pytest.raises(DataError, match="plain string arrays"):
        open_source(str(tmp_path / "w.npz"))
    np.savez(tmp_path / "s.npz", image=a[0], text=a[1], logit_scale="abc")
    with pytest.raises(DataError, match="logit_scale must be a number"):
        open_source(str(tmp_path / "s.npz"))
    np.savez(tmp_path / "v.npz", foo=a[0])
    with pytest.raises(DataError, match="needs arrays"):
        open_source(str(tmp_path / "v.npz"))


def test_numpy_files_of_the_wrong_kind_or_no_numpy_at_all(tmp_path):
    """A forced prefix on the other kind of numpy file, or a file that is no numpy file (numpy
    would take it for a pickle): one sentence saying what the file is, never a pickle hint."""
    a = np.random.default_rng(6).normal(size=(2, 5, 3))
    np.savez(tmp_path / "t.npz", image=a[0], text=a[1])
    np.save(tmp_path / "s.npy", a)
    (tmp_path / "junk.npy").write_text("not an array")
    with pytest.raises(DataError, match=r"t.npz: a .npz archive, but a .npy array was expected; for this file use npz:FILE"):
        open_source("liang:" + str(tmp_path / "t.npz"))
    with pytest.raises(DataError, match=r"s.npy: a .npy array, but a .npz archive was expected; for this file use liang:FILE"):
        open_source("npz:" + str(tmp_path / "s.npy"))
    for prefix in ("liang", "npz"):
        with pytest.raises(DataError, match="neither .npy nor .npz") as info:
            open_source(f"{prefix}:{tmp_path / 'junk.npy'}")
        assert "allow_pickle" not in str(info.value)


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    img, txt = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    table = pa.table({"image": img.tolist(), "text": txt.tolist(), "caption": ["a", "b", "c", "d"]})
    table = table.replace_schema_metadata({"model": "mine", "logit_scale": "20"})
    pq.write_table(table, tmp_path / "e.parquet")
    src = open_source(str(tmp_path / "e.parquet"))
    assert src.models == ["mine"] and src.embeddings["mine"].logit_scale == 20.0
    np.testing.assert_allclose(src.embeddings["mine"].text, unit(txt), rtol=1e-6)
    ragged = pa.table({"image": [[1.0, 2.0], [1.0]], "text": [[1.0, 2.0], [3.0, 4.0]]})
    pq.write_table(ragged, tmp_path / "r.parquet")
    with pytest.raises(DataError, match="same length"):
        open_source(str(tmp_path / "r.parquet"))
    flat = pa.table({"image": [1.0, 2.0], "text": [3.0, 4.0]})
    pq.write_table(flat, tmp_path / "f.parquet")
    with pytest.raises(DataError, match="one vector per row"):
        open_source(str(tmp_path / "f.parquet"))


def test_store_entry_as_source(tmp_path):
    from explorer.embeddings import Embeddings
    from explorer.store import EmbeddingStore, entry_key

    store = EmbeddingStore(tmp_path / "store")
    e = Embeddings.from_arrays(np.eye(3), np.eye(3)[::-1], model="m", logit_scale=9)
    entry = store.save(entry_key("x", "m"), e)
    src = open_source(str(entry.path))
    assert src.models == ["m"] and src.embeddings["m"].logit_scale == 9


def test_spec_parsing_and_detection(tmp_path):
    assert split_spec("amumo:/x") == ("amumo", "/x")
    assert split_spec("shapes") == ("shapes", "")
    assert split_spec("C:/weird") == (None, "C:/weird")
    with pytest.raises(SpecError, match="no such file"):
        detect_prefix(str(tmp_path / "missing.npy"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(SpecError, match="cannot tell"):
        detect_prefix(str(tmp_path / "plain"))


def test_filter_and_limit_on_precomputed_source(tmp_path):
    caps = ["a red car", "a blue car", "a dog", "red sky", "a cat", "a car"]
    root = make_export(tmp_path / "f", captions=caps)
    src = open_source(str(root), filter="car")
    assert src.pairs.captions == ("a red car", "a blue car", "a car")
    assert next(iter(src.embeddings.values())).n == 3
    src = open_source(str(root), filter="red car", filter_mode="all", limit=1)
    assert src.pairs.captions == ("a red car",)
    src = open_source(str(root), limit=4, seed=1)
    assert src.n == 4 and list(src.pairs.ids) == sorted(src.pairs.ids, key=int)
    with pytest.raises(SpecError, match="no caption matches"):
        open_source(str(root), filter="zebra")
