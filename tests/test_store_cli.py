import json

import numpy as np

from explorer.cli import main
from explorer.embeddings import Embeddings
from explorer.store import EmbeddingStore, entry_key


def test_list_verify_rm(tmp_path, capsys):
    store = EmbeddingStore(tmp_path)
    e = Embeddings.from_arrays(np.eye(4), np.eye(4), model="m", logit_scale=1)
    k1 = store.save(entry_key("a", "m"), e, dataset={"recipe": "shapes:4"}).key
    k2 = store.save(entry_key("b", "m"), e).key
    assert main(["store", "list", "--root", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in listed} == {k1, k2} and {r["dataset"] for r in listed} == {"shapes:4", ""}
    assert main(["store", "verify", "--root", str(tmp_path)]) == 0
    assert "2 ok, 0 corrupt" in capsys.readouterr().out
    (store.path(k2) / "image.npy").write_bytes(b"garbage")
    assert main(["store", "verify", "--root", str(tmp_path)]) == 1
    assert "1 ok, 1 corrupt" in capsys.readouterr().out
    assert main(["store", "rm", k2, "--root", str(tmp_path)]) == 0
    assert not store.path(k2).exists()
    assert main(["store", "rm", k2, "--root", str(tmp_path)]) == 2


def test_clean_keeps_resumable_shards_and_young_writes(tmp_path, capsys):
    import os
    import time

    store = EmbeddingStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    old = time.time() - 7200
    for name in ("abc.partial", "def.123", "young.456"):
        (store.tmp_dir / name).mkdir()
        if name != "young.456":
            os.utime(store.tmp_dir / name, (old, old))
    assert main(["store", "clean", "--root", str(tmp_path)]) == 0
    assert sorted(p.name for p in store.tmp_dir.iterdir()) == ["abc.partial", "young.456"]
    assert main(["store", "clean", "--root", str(tmp_path), "--partial"]) == 0
    assert sorted(p.name for p in store.tmp_dir.iterdir()) == ["young.456"]
    assert main(["store", "clean", "--root", str(tmp_path), "--older-than", "0"]) == 0
    assert list(store.tmp_dir.iterdir()) == []
