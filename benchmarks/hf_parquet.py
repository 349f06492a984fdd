"""hf-parquet benchmark: list the pairs of Hugging Face parquet shards and read their images.

Writes N pairs (random 64×64 JPEGs in the `datasets` Image feature's struct {bytes, path}, a
text column) into two parquet files with row groups of --row-group rows, then measures, in this
process: listing the pairs (``load_pairs('hf-parquet:DIR')``: the caption column only), reading
every image in pair order (what embedding does) and 200 images at random (what thumbnails do),
and the peak RSS. Files are written under --work (default a new folder under /tmp, deleted).

    .venv/bin/python benchmarks/hf_parquet.py [--pairs 5000] [--row-group 100]
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write(folder: Path, n: int, row_group: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    rng = np.random.default_rng(seed)
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    half = (n + 1) // 2
    for k, (a, b) in enumerate(((0, half), (half, n))):
        images, captions = [], []
        for i in range(a, b):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=80)
            images.append({"bytes": buf.getvalue(), "path": f"{i}.jpg"})
            captions.append(f"a photo number {i}")
        pq.write_table(pa.table({"image": pa.array(images, type=struct), "text": captions}), folder / f"train-{k:05d}-of-00002.parquet",
                       row_group_size=row_group)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--row-group", type=int, default=100, help="rows per row group (the datasets library writes 100 for images)")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    from explorer.sources import load_pairs

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="hf-parquet-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        write(work, args.pairs, args.row_group)
        t = time.perf_counter()
        pairs = load_pairs(f"hf-parquet:{work}")
        listed = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(len(pairs)):
            pairs.images.open(i)
        ordered = time.perf_counter() - t
        picks = np.random.default_rng(1).choice(len(pairs), min(200, len(pairs)), replace=False)
        t = time.perf_counter()
        for i in picks:
            pairs.images.open(int(i))
        random = time.perf_counter() - t
        size = sum(p.stat().st_size for p in work.glob("*.parquet")) / 2**20
        print(f"{len(pairs)} pairs in 2 files ({size:.1f} MB), row groups of {args.row_group}")
        print(f"list the pairs: {listed:.2f} s")
        print(f"every image in pair order: {ordered:.2f} s ({ordered / len(pairs) * 1e3:.2f} ms per image)")
        print(f"{picks.size} images at random: {random:.2f} s ({random / picks.size * 1e3:.1f} ms per image)")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
