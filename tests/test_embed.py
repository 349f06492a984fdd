"""The embedding pipeline: exact results, no dropped remainder, cache hits, skipped items, resumption."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from tiny_model import CountingModel, TinyModel, write_images

from explorer import embed as embed_mod
from explorer.embed import (
    align_skipped,
    embed_pairs,
    embed_to_store,
    shard_bounds,
    shard_size_for,
)
from explorer.errors import DataError, SpecError
from explorer.images import FileImages
from explorer.model_ids import ModelInfo, remember_model, remembered_model
from explorer.pairs import PairSet
from explorer.shards import PartialShards
from explorer.store import EmbeddingStore

torch.set_num_threads(1)


def make_pairs(tmp_path, n, name="set", seed=0):
    paths = write_images(tmp_path / name, n, seed=seed)
    caps = [f"caption number {i}" + " with more words" * (i % 3) for i in range(n)]
    return PairSet.build(caps, FileImages(tmp_path / name, [p.name for p in paths]), name=name, recipe=f"test:{name}")


def reference(model, pairs, rows=None):
    rows = range(len(pairs)) if rows is None else rows
    x = model.encode_images([pairs.images.open(i) for i in rows])
    y = model.encode_texts([pairs.captions[i] for i in rows])
    return x, y


def test_every_pair_is_embedded_exactly_with_a_short_last_batch(tmp_path):
    pairs = make_pairs(tmp_path, 21)
    model = CountingModel()
    store = EmbeddingStore(tmp_path / "store")
    emb = embed_pairs(pairs, model, store=store, batch_size=8, progress=False, num_workers=0)
    assert emb.n == 21 and emb.image.dtype == np.float32
    assert model.image_batches == 3 and model.images_seen == 21  # 8 + 8 + 5: nothing dropped
    x, y = reference(TinyModel(), pairs)
    np.testing.assert_allclose(emb.image, x, atol=2e-6)
    np.testing.assert_allclose(emb.text, y, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(emb.image, axis=1), 1, atol=1e-6)
    assert emb.model == "tiny-0" and emb.logit_scale == 100.0
    assert emb.provenance["n_pairs"] == 21 and emb.provenance["precision"] == "fp32"
    assert "skipped" not in emb.provenance


def test_dataloader_workers_give_the_same_rows(tmp_path):
    pairs = make_pairs(tmp_path, 13)
    a = embed_pairs(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "s1"), batch_size=4, progress=False, num_workers=0)
    b = embed_pairs(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "s2"), batch_size=4, progress=False, num_workers=2)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.text, b.text)


def test_second_run_is_a_cache_hit_without_model_work(tmp_path):
    pairs = make_pairs(tmp_path, 10)
    store = EmbeddingStore(tmp_path / "store")
    first = embed_to_store(pairs, TinyModel(), store=store, batch_size=4, progress=False, num_workers=0)
    assert not first.cache_hit and store.contains(first.key)
    counting = CountingModel()
    second = embed_to_store(pairs, counting, store=store, batch_size=4, progress=False)
    assert second.cache_hit and counting.image_batches == 0
    assert second.path == first.path
    assert np.array_equal(np.asarray(second.embeddings.image), first.embeddings.image)
    other_model = embed_to_store(pairs, TinyModel(seed=1), store=store, progress=False, num_workers=0)
    assert not other_model.cache_hit and other_model.key != first.key
    fewer = embed_to_store(pairs.subset(range(5)), TinyModel(), store=store, progress=False, num_workers=0)
    assert not fewer.cache_hit
    np.testing.assert_allclose(fewer.embeddings.image, first.embeddings.image[:5], atol=1e-6)


def test_default_store_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path / "env-store"))
    res = embed_to_store(make_pairs(tmp_path, 3), TinyModel(), progress=False)
    assert str(res.path).startswith(str(tmp_path / "env-store"))


def test_unusable_images_are_skipped_and_reported(tmp_path):
    pairs = make_pairs(tmp_path, 9)
    folder = tmp_path / "set"
    (folder / "2.png").write_bytes(b"not an image at all")
    data = (folder / "5.png").read_bytes()
    (folder / "5.png").write_bytes(data[: len(data) // 2])  # truncated
    (folder / "7.png").unlink()  # vanished after loading
    store = EmbeddingStore(tmp_path / "store")
    res = embed_to_store(pairs, TinyModel(), store=store, batch_size=4, progress=False, num_workers=2)
    assert [s["index"] for s in res.skipped] == [2, 5, 7]
    reasons = {s["index"]: s["reason"] for s in res.skipped}
    assert "cannot decode image" in reasons[2] and "cannot decode image" in reasons[5]
    assert "image file not found" in reasons[7]
    kept = [0, 1, 3, 4, 6, 8]
    assert res.embeddings.provenance["kept_indices"] == kept
    assert res.pairs.ids == tuple(str(i) for i in kept)
    x, y = reference(TinyModel(), pairs, kept)
    np.testing.assert_allclose(res.embeddings.image, x, atol=2e-6)
    np.testing.assert_allclose(res.embeddings.text, y, atol=2e-6)
    hit = embed_to_store(pairs, TinyModel(), store=store, progress=False)
    assert hit.cache_hit and [s["index"] for s in hit.skipped] == [2, 5, 7] and hit.pairs.ids == res.pairs.ids


def test_nothing_usable_is_an_error_and_writes_nothing(tmp_path):
    pairs = make_pairs(tmp_path, 3)
    for p in (tmp_path / "set").iterdir():
        p.write_bytes(b"junk")
    store = EmbeddingStore(tmp_path / "store")
    with pytest.raises(DataError, match="none of the 3 pairs could be embedded"):
        embed_pairs(pairs, TinyModel(), store=store, progress=False, num_workers=0)
    assert list(store.entries()) == []
    assert not store.tmp_dir.exists() or list(store.tmp_dir.iterdir()) == [], "no resumable leftovers of a run that cannot succeed"


class NaNModel(TinyModel):
    def encode_image_tensors(self, batch):
        out = super().encode_image_tensors(batch)
        out[0] = float("nan")
        return out


def test_non_finite_model_output_is_skipped_not_stored(tmp_path):
    pairs = make_pairs(tmp_path, 6)
    res = embed_to_store(pairs, NaNModel(), store=EmbeddingStore(tmp_path / "s"), batch_size=3, progress=False, num_workers=0)
    assert [s["index"] for s in res.skipped] == [0, 3]
    assert "NaN, infinite or zero" in res.skipped[0]["reason"]
    assert np.isfinite(res.embeddings.image).all() and res.embeddings.n == 4


def test_interrupted_run_leaves_no_entry_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(embed_mod, "SHARD_TARGET", 8)
    pairs = make_pairs(tmp_path, 30)
    store = EmbeddingStore(tmp_path / "store")
    dying = CountingModel(fail_after=5)  # batches of 4: shard 0-8 and 8-16 finish, then it dies
    with pytest.raises(KeyboardInterrupt):
        embed_pairs(pairs, dying, store=store, batch_size=4, progress=False, num_workers=0)
    assert list(store.entries()) == []
    assert not store.entries_dir.exists() or not any(store.entries_dir.iterdir())
    key = embed_mod.cache_key(pairs.fingerprint(), dying.id, dying.preprocessing, "fp32")
    partial = store.tmp_dir / f"{key}.partial"
    shards = sorted(p.name for p in partial.glob("shard-*.npz"))
    assert shards == ["shard-0000000000-0000000008.npz", "shard-0000000008-0000000016.npz"]
    assert not list(partial.glob(".*.tmp"))  # no half-written shard file

    resumed = CountingModel()
    res = embed_to_store(pairs, resumed, store=store, batch_size=4, progress=False, num_workers=0)
    assert resumed.images_seen == 14  # only the pairs of the two missing shards
    assert store.contains(key) and not partial.exists()
    fresh = embed_pairs(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "other"), batch_size=4, progress=False, num_workers=0)
    assert np.array_equal(res.embeddings.image, fresh.image) and np.array_equal(res.embeddings.text, fresh.text)


def test_a_damaged_shard_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setattr(embed_mod, "SHARD_TARGET", 4)
    pairs = make_pairs(tmp_path, 8)
    store = EmbeddingStore(tmp_path / "store")
    with pytest.raises(RuntimeError):
        embed_pairs(pairs, CountingModel(fail_after=1, exc=RuntimeError), store=store, batch_size=4, progress=False, num_workers=0)
    key = embed_mod.cache_key(pairs.fingerprint(), TinyModel().id, TinyModel().preprocessing, "fp32")
    shard = store.tmp_dir / f"{key}.partial" / "shard-0000000000-0000000004.npz"
    shard.write_bytes(shard.read_bytes()[:50])
    model = CountingModel()
    emb = embed_pairs(pairs, model, store=store, batch_size=4, progress=False, num_workers=0)
    assert model.images_seen == 8 and emb.n == 8


def test_partial_folder_of_another_computation_is_discarded(tmp_path):
    store = EmbeddingStore(tmp_path)
    p = PartialShards(store, "ab" * 16)
    assert p.prepare({"n": 10, "model_id": "m"}, 4) == 4
    assert p.prepare({"n": 10, "model_id": "m"}, 8) == 4  # a resumed run keeps its shard size
    assert p.prepare({"n": 11, "model_id": "m"}, 8) == 8


def test_shard_plan_is_batch_aligned():
    assert shard_size_for(5000, 32) == 1024
    assert shard_size_for(5000, 100) == 1100
    assert shard_size_for(30, 8) == 32
    assert shard_size_for(40, 8, parts=8) == 8
    assert shard_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_model_ids_are_remembered_per_weights_file(tmp_path):
    store = EmbeddingStore(tmp_path / "s")
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    spec = f"cyclip:{weights}"
    info = ModelInfo(spec, "CyCLIP", "rn50@abc", "openai", 100.0)
    assert remembered_model(store, spec) is None
    remember_model(store, info)
    assert remembered_model(store, spec) == info
    weights.write_bytes(b"new weights!")
    os.utime(weights, ns=(10**9, 10**9))
    assert remembered_model(store, spec) is None  # the file changed: load it again
    remember_model(store, ModelInfo("own:clip", "own", "x", "", 1.0))
    assert remembered_model(store, "own:clip") is None  # not file-backed: never remembered


def test_bad_calls(tmp_path):
    pairs = make_pairs(tmp_path, 2)
    with pytest.raises(SpecError, match="only used on a CUDA GPU"):
        embed_pairs(pairs, TinyModel(), device="cpu", precision="fp16", progress=False, store=EmbeddingStore(tmp_path / "s"))
    with pytest.raises(DataError, match="no images"):
        embed_pairs(PairSet.build(["a"], None, name="x", recipe="x"), TinyModel(), progress=False)
    with pytest.raises(TypeError, match="spec string or a BimodalModel"):
        embed_pairs(pairs, object(), progress=False)


def test_align_skipped_keeps_pairs_usable_for_every_model(tmp_path):
    pairs = make_pairs(tmp_path, 5)
    from explorer.embeddings import Embeddings

    rng = np.random.default_rng(0)

    def emb(kept):
        e = Embeddings.from_arrays(rng.normal(size=(len(kept), 3)), rng.normal(size=(len(kept), 3)), model="m", logit_scale=1.0)
        skipped = [{"index": i, "image": f"{i}.png", "reason": "bad"} for i in range(5) if i not in kept]
        return e, Embeddings(e.image, e.text, "m", 1.0, {"kept_indices": kept, "skipped": skipped})

    plain_a, a = emb([0, 1, 3, 4])
    plain_b, b = emb([0, 1, 2, 3])
    aligned, out, notes = align_skipped(pairs, {"a": a, "b": b})
    assert aligned.ids == ("0", "1", "3")
    np.testing.assert_array_equal(out["a"].image, plain_a.image[[0, 1, 2]])
    np.testing.assert_array_equal(out["b"].image, plain_b.image[[0, 1, 3]])
    assert len(notes) == 2 and "a: 1 of 5 pairs skipped" in notes[0]
    same, untouched, none = align_skipped(pairs, {"p": plain_a})
    assert same is pairs and none == []
    # aligning the aligned result again changes nothing (the old row maps are gone)
    again, out2, notes2 = align_skipped(aligned, out)
    assert again.ids == aligned.ids and notes2 == []
    np.testing.assert_array_equal(out2["b"].image, out["b"].image)
    assert "kept_indices" not in out["a"].provenance and "kept_indices" not in out["a"].subset([0]).provenance


def test_the_arithmetic_is_part_of_the_cache_address():
    from explorer.embed import compute_label

    assert compute_label("cpu", "auto") == compute_label("cpu", "fp32") == "fp32"
    assert compute_label("cuda", "auto") == "fp16 autocast" != compute_label("cuda", "fp32")
    assert compute_label("cuda", "bf16") == "bf16 autocast"
