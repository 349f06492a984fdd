"""clip-retrieval benchmark: open a folder of N pairs in clip-retrieval layout and print its gap table.

Writes ``synthetic:N:D:SEED`` pairs (the scale benchmark's generator, its "wide gap" model) as
clip-retrieval inference does, in SHARDS shards (explorer.importers.clip_retrieval's writer, so
the export path is measured at the same size), then runs, each in a fresh process under
``/usr/bin/time -v``:

1. the open alone (``open_source``) the first time: the shards are checked (a full read); shards
   of unit rows of one dtype, as this generator writes, are then used in place, memory-mapped
   and addressed as one array (explorer.engine.sharded); others are written once into the store;
2. the open alone again: the check is remembered (or the store entry memory-mapped), only the
   headers and the metadata are read;
3. ``python -m explorer gap-table clip-retrieval:DIR``: the open and the gap table's computation.

Each line gives the wall time and the peak RSS next to the size of the embedding arrays. Peak
RSS counts the pages of memory-mapped files a process has read (as in the scale benchmark): a
pass over all pairs maps the whole array; the open alone also reports its own (anonymous) memory
apart from the mapped file pages. The
folder, the store and the generator's temporary arrays live under --work and are deleted at the
end unless --keep.

    .venv/bin/python benchmarks/clip_retrieval.py [--pairs 1000000] [--dim 512] [--shards 10] [--dtype float16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_folder(folder: Path, n: int, dim: int, seed: int, dtype: str, shards: int, scratch: Path) -> float:
    """The synthetic pairs as a clip-retrieval folder; returns seconds taken."""
    import pandas as pd

    from explorer.embeddings import Embeddings
    from explorer.importers import synthetic
    from explorer.importers.clip_retrieval import write_clip_retrieval
    from explorer.pairs import PairSet

    t = time.perf_counter()
    table = synthetic.pair_table(n, seed)
    maps = {name: np.lib.format.open_memmap(scratch / f"{name}.npy", mode="w+", dtype=np.dtype(dtype), shape=(n, dim))
            for name in ("image", "text")}
    synthetic.fill_model(maps, n, dim, seed, 0, table)  # model 0: "wide gap"
    for mm in maps.values():
        mm.flush()
    emb = Embeddings(maps["image"], maps["text"], model=synthetic.MODELS[0][0], logit_scale=synthetic.LOGIT_SCALE)
    meta = pd.DataFrame({"topic": np.asarray(synthetic.NOUNS)[table["topic"]],
                         "planted": np.where(table["mismatched"], "mismatched", ""),
                         "image_path": [f"images/{i:09d}.jpg" for i in range(n)]})  # not on disk: no thumbnails
    pairs = PairSet.build(synthetic.captions(table), None, name=f"synthetic-{n}", recipe=f"synthetic:{n}:{dim}:{seed}:{dtype}",
                          metadata=meta)
    write_clip_retrieval(folder, emb, pairs, shard_rows=-(-n // shards))
    del maps, emb
    for name in ("image", "text"):
        (scratch / f"{name}.npy").unlink()
    return time.perf_counter() - t


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, stdout) of `cmd` under /usr/bin/time -v."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(rss.group(1)) / 1e6 if rss else float("nan"), proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="of the shards (clip-retrieval writes float16)")
    ap.add_argument("--shards", type=int, default=10)
    ap.add_argument("--batch", type=int, default=50, help="gap-table loss batch")
    ap.add_argument("--work", default=None, help="folder for the data (default: a new one under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the folder and the store")
    args = ap.parse_args()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="clip-retrieval-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    folder, store = work / "folder", work / "store"
    env = dict(os.environ, BIMODAL_EXPLORER_CACHE=str(store), PYTHONPATH=str(ROOT))
    os.environ["BIMODAL_EXPLORER_CACHE"] = str(store)
    try:
        wrote = write_folder(folder, args.pairs, args.dim, args.seed, args.dtype, args.shards, work)
        array_gb = sum(p.stat().st_size for sub in ("img_emb", "text_emb") for p in (folder / sub).iterdir()) / 1e9
        meta_gb = sum(p.stat().st_size for p in (folder / "metadata").iterdir()) / 1e9
        print(f"wrote {args.pairs:,} pairs × {args.dim} ({args.dtype}) in {args.shards} shards: {wrote:.1f} s; "
              f"embedding arrays {array_gb:.2f} GB, metadata {meta_gb:.3f} GB")
        probe = ("import time, json; t = time.perf_counter(); from explorer.sources import open_source; "
                 f"s = open_source('clip-retrieval:{folder}'); dt = time.perf_counter() - t; "
                 "st = dict(l.split(':', 1) for l in open('/proc/self/status') if l.startswith(('RssAnon', 'RssFile'))); "
                 "print(json.dumps({'n': s.n, 's': dt, **{k: int(v.split()[0]) / 1e6 for k, v in st.items()}}))")
        for label in ("open alone, first open", "open alone, second open"):
            wall, rss, out = timed([sys.executable, "-c", probe], env)
            inner = json.loads(out.strip().splitlines()[-1])
            print(f"{label}: {inner['s']:.2f} s in the process ({wall:.1f} s with interpreter start and imports), "
                  f"peak RSS {rss:.2f} GB ({rss / array_gb:.2f} × the arrays; after the open {inner['RssAnon']:.2f} GB own memory, "
                  f"{inner['RssFile']:.2f} GB mapped file pages), {inner['n']:,} pairs")
        gap = [sys.executable, "-m", "explorer", "gap-table", f"clip-retrieval:{folder}", "--batch", str(args.batch), "--json"]
        wall, rss, out = timed(gap, env)
        row = json.loads(out)[0]
        print(f"gap-table, third open: {wall:.1f} s wall, peak RSS {rss:.2f} GB ({rss / array_gb:.2f} × the arrays); "
              f"n {row['n']:,}, gap {row['original_distance']:.4f}, loss {row['original_loss']:.4f}, "
              f"closed loss {row['closed_loss']:.4f}, R@1 i→t {row['r1_image_to_text']:.4f}")
        store_gb = sum(p.stat().st_size for p in store.rglob("*.npy")) / 1e9
        print(f"store entry written by the first open: {store_gb:.2f} GB" if store_gb else
              "no store entry: the folder is small enough to be read into memory (≤ 256 MB per modality)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
