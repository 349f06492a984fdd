"""ShardedRows: uneven shards (one of them empty) addressed as one array, every read checked
against the concatenated array; the engine's numbers on it equal those on the plain array; a
large clip-retrieval folder of unit shards opens in place, its check remembered."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.engine.sharded import ShardedRows
from explorer.engine.space import PairSpace

SIZES = (5, 0, 11, 1, 7)


@pytest.fixture
def shards(tmp_path):
    """Memory-mapped .npy shards of uneven sizes and the whole they make."""
    rng = np.random.default_rng(4)
    parts = []
    for k, n in enumerate(SIZES):
        a = rng.normal(size=(n, 6)).astype(np.float32)
        np.save(tmp_path / f"s{k}.npy", a)
        parts.append(np.load(tmp_path / f"s{k}.npy", mmap_mode="r"))
    return ShardedRows(parts), np.concatenate([np.asarray(p) for p in parts])


def test_every_kind_of_read_matches_the_concatenation(shards):
    s, whole = shards
    n = whole.shape[0]
    assert s.shape == whole.shape == (24, 6) and len(s) == 24 and s.dtype == np.float32 and s.ndim == 2
    for i in list(range(n)) + [-1, -24]:
        np.testing.assert_array_equal(s[i], whole[i])
    for a in range(n + 1):  # every slice [a, b): within a shard, across the empty one, across several
        for b in range(a, n + 2):
            np.testing.assert_array_equal(s[a:b], whole[a:b])
    np.testing.assert_array_equal(s[::3], whole[::3])
    np.testing.assert_array_equal(s[-4:], whole[-4:])
    rows = np.array([23, 0, 5, 5, 16, 4, 17, -2])  # unsorted, repeated, negative
    np.testing.assert_array_equal(s[rows], whole[rows])
    np.testing.assert_array_equal(s[[]], whole[[]])
    mask = np.arange(n) % 4 == 1
    np.testing.assert_array_equal(s[mask], whole[mask])
    np.testing.assert_array_equal(s[rows, 2], whole[rows, 2])
    np.testing.assert_array_equal(s[3:19, :2], whole[3:19, :2])
    np.testing.assert_array_equal(s[7, 1:], whole[7, 1:])
    np.testing.assert_array_equal(np.asarray(s), whole)
    assert np.shares_memory(s[6:10], s.parts[2])  # inside one shard: its view, no copy
    for bad in (24, -25, np.array([3, 24])):
        with pytest.raises(IndexError):
            s[bad]
    with pytest.raises(ValueError, match="one dtype and width"):
        ShardedRows([whole, whole.astype(np.float16)])


def test_the_engine_reads_it_as_the_plain_array(shards):
    s, whole = shards
    rng = np.random.default_rng(0)
    other = rng.normal(size=whole.shape).astype(np.float32)
    sharded_text = ShardedRows([other[:9], other[9:10], other[10:]])
    active = np.array([0, 3, 4, 5, 9, 15, 16, 22, 23])
    a = PairSpace(s, sharded_text, active, key="sharded", active_key="a")
    b = PairSpace(whole, other, active, key="plain", active_key="a")
    for name in ("sum_x", "sum_y", "sq_x", "dot_xy", "p", "q"):
        np.testing.assert_allclose(getattr(a.stats(), name), getattr(b.stats(), name), rtol=1e-6)
    np.testing.assert_allclose(a.pair_similarities(0.5), b.pair_similarities(0.5), rtol=1e-6)
    pos = np.array([8, 0, 3])
    np.testing.assert_allclose(a.vectors("text", pos, 1.0), b.vectors("text", pos, 1.0), rtol=1e-6)
    bins = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    for x, y in zip(a.binned_means("image", np.arange(9)[::-1], bins, 3), b.binned_means("image", np.arange(9)[::-1], bins, 3),
                    strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_a_large_clip_retrieval_folder_of_unit_shards_is_used_in_place(tmp_path, monkeypatch):
    from test_clip_retrieval import make_folder, rows_match

    import explorer.normalise as normalise
    from explorer.importers import clip_retrieval

    monkeypatch.setattr(normalise, "IN_MEMORY_BYTES", 0)  # every folder counts as large
    root, x, y, caps = make_folder(tmp_path / "cr", sizes=(7, 12, 5), dtype=np.float16)
    pairs, embs = clip_retrieval.import_clip_retrieval(str(root))
    emb = next(iter(embs.values()))
    assert isinstance(emb.image, ShardedRows) and emb.image.dtype == np.float16 and "store_entry" not in emb.provenance
    assert [str(p.filename) for p in emb.text.parts] == [str((root / "text_emb" / f"text_emb_{i}.npy").resolve()) for i in range(3)]
    assert list(pairs.captions) == caps
    rows_match(emb, x, y)
    np.testing.assert_array_equal(np.asarray(emb.subset([20, 2, 8]).image), x[[20, 2, 8]])

    def no_scan(*_a, **_k):
        raise AssertionError("the check of an unchanged folder is remembered")

    monkeypatch.setattr(normalise, "scan", no_scan)
    _, again = clip_retrieval.import_clip_retrieval(str(root))
    assert isinstance(next(iter(again.values())).text, ShardedRows)
    np.save(root / "img_emb" / "img_emb_1.npy", (x[7:19].astype(np.float32) * 2).astype(np.float16))  # not unit any more
    with pytest.raises(AssertionError, match="remembered"):  # a changed shard is checked again
        clip_retrieval.import_clip_retrieval(str(root))


def test_the_app_state_computes_the_same_on_shards_as_in_memory(tmp_path, monkeypatch):
    """Numbers (R@k included), the heatmap tile, the clustering and the PCA projection of a folder
    opened in place equal those of the same folder read into memory."""
    from test_clip_retrieval import make_folder

    import explorer.normalise as normalise
    from explorer.engine.memo import MEMO
    from explorer.state import ExplorerState

    root, *_ = make_folder(tmp_path / "cr", sizes=(40, 25, 35), dim=12, dtype=np.float32)
    results = []
    for limit in (2**40, 0):  # in memory, then every folder large: in place
        monkeypatch.setattr(normalise, "IN_MEMORY_BYTES", limit)
        MEMO.clear()
        state = ExplorerState(source=f"clip-retrieval:{root}", batch_size=20, alpha=0.5, cluster=True, k=4)
        emb = next(iter(state.source_data().embeddings.values()))
        assert isinstance(emb.image, ShardedRows) == (limit == 0)
        numbers = state.numbers()
        tile = state.tile(width=64, height=64)
        results.append((numbers, tile, state.ordering().assignment, state.projection_frame()[["x", "y"]].to_numpy()))
    (n1, t1, o1, p1), (n2, t2, o2, p2) = results
    for key, value in n1.items():
        if isinstance(value, float):
            assert n2[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert t1.values.shape == t2.values.shape and t1.values.std() > 0
    np.testing.assert_allclose(t2.values, t1.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_allclose(p1, p2, rtol=1e-4, atol=1e-5)
