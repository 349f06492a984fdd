import json
import os

import numpy as np
import pytest

from explorer.embeddings import Embeddings
from explorer.errors import StoreError
from explorer.store import EmbeddingStore, entry_key, load_entry_dir


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    return Embeddings.from_arrays(rng.normal(size=(20, 8)), rng.normal(size=(20, 8)), model="m", logit_scale=42.0,
                                  provenance={"recipe": "test"})


def test_round_trip_is_memory_mapped_and_exact(tmp_path, emb):
    store = EmbeddingStore(tmp_path)
    key = entry_key("dataset", "model", "pre")
    assert not store.contains(key)
    store.save(key, emb, dataset={"recipe": "test"})
    assert store.contains(key)
    back = store.load(key)
    assert isinstance(back.image, np.memmap)
    np.testing.assert_array_equal(back.image, emb.image)
    np.testing.assert_array_equal(back.text, emb.text)
    assert back.model == "m" and back.logit_scale == 42.0 and back.provenance["recipe"] == "test"
    assert [e.key for e in store.entries()] == [key]
    assert not any(store.tmp_dir.iterdir())  # nothing left behind


def test_keys_are_content_addresses():
    assert entry_key("a", "b", "c") == entry_key("a", "b", "c")
    assert len({entry_key("a", "b", "c"), entry_key("a", "b", "d"), entry_key("a", "bc", ""), entry_key("ab", "c", "")}) == 4


def test_default_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path / "c"))
    assert EmbeddingStore().root == tmp_path / "c"


def corrupt(path, how):
    if how == "flip":
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[:-16])
    elif how == "delete":
        path.unlink()


@pytest.mark.parametrize("how,message", [("flip", "checksum"), ("truncate", "bytes"), ("delete", "missing")])
def test_corrupt_entries_are_reported_not_returned(tmp_path, emb, how, message):
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    store.save(key, emb)
    corrupt(store.path(key) / "text.npy", how)
    with pytest.raises(StoreError, match=message):
        store.load(key)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "other"}), json.dumps({"format": "bimodal-explorer/embeddings-v1"})])
def test_bad_manifests(tmp_path, emb, content):
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    store.save(key, emb)
    (store.path(key) / "manifest.json").write_text(content)
    with pytest.raises(StoreError):
        store.load(key)


def test_missing_entry_and_bad_key(tmp_path):
    store = EmbeddingStore(tmp_path)
    with pytest.raises(StoreError, match="manifest"):
        store.load(entry_key("nothing", "here"))
    with pytest.raises(StoreError, match="not a store key"):
        store.path("../../etc")


def test_failed_write_leaves_no_entry(tmp_path, emb, monkeypatch):
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    import explorer.store as store_module

    real = store_module.sha256_file
    calls = []

    def failing(path, *a, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, *a, **kw)

    monkeypatch.setattr(store_module, "sha256_file", failing)
    with pytest.raises(OSError, match="disk full"):
        store.save(key, emb)
    assert not store.contains(key) and not store.path(key).exists()
    assert not list((tmp_path / "tmp").iterdir()), "no half-written temporary folder"


def test_chunked_writes_fill_an_entry_larger_than_one_chunk(tmp_path):
    store = EmbeddingStore(tmp_path)

    def fill(maps, progress):
        for s in range(0, 10, 3):
            maps["image"][s:s + 3] = np.eye(4, dtype=np.float16)[np.arange(s, min(s + 3, 10)) % 4]
            maps["text"][s:s + 3] = -maps["image"][s:s + 3]

    entry = store.save_chunked("ab" * 16, n=10, dim=4, dtype="float16", fill=fill, model="m", logit_scale=30.0)
    e = store.load(entry.key)
    assert e.image.dtype == np.float16 and e.image.shape == (10, 4) and isinstance(e.image, np.memmap)
    np.testing.assert_array_equal(np.asarray(e.text), -np.asarray(e.image))
    assert e.logit_scale == 30.0



def test_leftover_incomplete_directory_is_replaced(tmp_path, emb):
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    store.path(key).mkdir(parents=True)
    (store.path(key) / "image.npy").write_bytes(b"junk")
    store.save(key, emb)
    np.testing.assert_array_equal(store.load(key).image, emb.image)


def test_existing_entry_is_kept(tmp_path, emb):
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    store.save(key, emb)
    before = os.stat(store.path(key) / "image.npy").st_mtime_ns
    other = Embeddings.from_arrays(np.ones((20, 8)), np.ones((20, 8)), model="m", logit_scale=1)
    store.save(key, other)
    assert os.stat(store.path(key) / "image.npy").st_mtime_ns == before


def test_entry_directory_can_be_loaded_directly(tmp_path, emb):
    store = EmbeddingStore(tmp_path)
    entry = store.save(entry_key("d", "m"), emb)
    assert load_entry_dir(entry.path, mmap=False).n == 20
