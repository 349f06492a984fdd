"""Embedding on a real dask.distributed LocalCluster (2 worker processes, 1 thread each) equals the local run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import TinyModel, write_images

from explorer.embed import embed_pairs, embed_to_store
from explorer.errors import SpecError
from explorer.images import FileImages
from explorer.pairs import PairSet
from explorer.store import EmbeddingStore

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    cl = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cl)

    def register_tiny():  # the tiny test model as a spec prefix, inside each worker process
        import tiny_model

        tiny_model.register()
        return True

    assert all(client.run(register_tiny).values())
    yield cl, client
    client.close()
    cl.close()


@pytest.fixture
def pairs(tmp_path):
    paths = write_images(tmp_path / "imgs", 37)
    (tmp_path / "imgs" / "11.png").write_bytes(b"broken")
    return PairSet.build([f"pair {i} of the test" for i in range(37)], FileImages(tmp_path / "imgs", [p.name for p in paths]), name="d", recipe="d")


def local_run(pairs, tmp_path):
    torch.set_num_threads(1)  # the workers run one thread each
    return embed_to_store(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "local"), batch_size=4, progress=False, num_workers=0)


def test_dask_path_equals_local_path(cluster, pairs, tmp_path):
    _, client = cluster
    local = local_run(pairs, tmp_path)
    store = EmbeddingStore(tmp_path / "dask")
    res = embed_to_store(pairs, TinyModel(), store=store, batch_size=4, progress=False, dask=client)
    assert not res.cache_hit and res.key == local.key
    assert np.array_equal(res.embeddings.image, local.embeddings.image)
    assert np.array_equal(res.embeddings.text, local.embeddings.text)
    assert [s["index"] for s in res.skipped] == [11] and "cannot decode image" in res.skipped[0]["reason"]
    assert res.embeddings.provenance["device"].startswith("dask (2 workers")
    assert not (store.tmp_dir / f"{res.key}.partial").exists()
    again = embed_to_store(pairs, TinyModel(), store=store, progress=False, dask=client)
    assert again.cache_hit


def test_spec_models_load_once_per_worker(cluster, pairs, tmp_path):
    _, client = cluster
    store = EmbeddingStore(tmp_path / "dask-spec")
    res = embed_to_store(pairs, "tiny:0", store=store, batch_size=4, progress=False, dask=client)
    local = local_run(pairs, tmp_path)
    assert np.array_equal(res.embeddings.image, local.embeddings.image)

    def loads():
        from explorer import distributed as d

        return d.LOADS.get("tiny:0", 0)

    counts = client.run(loads)
    assert sorted(counts.values()) in ([1, 1], [0, 1])  # 5 shards over 2 workers: each loaded the model at most once
    assert sum(counts.values()) >= 1
    from explorer import distributed as d

    assert d.LOADS.get("tiny:0", 0) == 0  # the client itself never loaded the weights


def test_scheduler_address_path(cluster, pairs, tmp_path):
    cl, _ = cluster
    res = embed_to_store(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "sched"), batch_size=4, progress=False, scheduler=cl.scheduler_address)
    local = local_run(pairs, tmp_path)
    assert np.array_equal(res.embeddings.image, local.embeddings.image)
    assert np.array_equal(res.embeddings.text, local.embeddings.text)


def test_bad_dask_arguments(pairs, tmp_path):
    for bad in ("remote", "local:x", "local:0"):
        with pytest.raises(SpecError):
            embed_pairs(pairs, TinyModel(), store=EmbeddingStore(tmp_path / "s"), progress=False, dask=bad)
