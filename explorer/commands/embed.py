"""Embed a dataset with a model into the embedding store (cached, batched, resumable).

The result is stored under a key of (dataset content, model id and weights, preprocessing), so
running the same command again is a cache hit that only loads the stored arrays. An interrupted
run leaves no store entry; running it again continues from the finished shards. Images that
cannot be read are skipped and listed (on stderr and in the entry's provenance).

Examples:
  python -m explorer embed --dataset coco:~/data/coco --model open_clip:RN50-quickgelu/openai
  python -m explorer embed --dataset amumo:../shared/data/amumo/MSCOCO-Val_size-100 \\
      --model cyclip:~/weights/cyclip-3M.pt --export cyclip.npy
  python -m explorer embed --dataset augment:rotation:photo.jpg:"a photo of a dog" --model own:clip
  python -m explorer embed --dataset pairs:my_pairs.csv --model own:clip --json
  python -m explorer embed --dataset diffusiondb:~/data/diffusiondb --model own:clip --dask local:4
  python -m explorer embed --dataset coco:~/data/coco --model own:clip --export-format clip-retrieval --export out/

``--export-format clip-retrieval`` writes the layout of ``clip-retrieval inference`` (img_emb/,
text_emb/, metadata/ with image_path, caption, key and the dataset's metadata), which autofaiss,
clip-retrieval's back-end and Embedding Atlas read, and ``clip-retrieval:DIR`` reads back. It is an
option of this command rather than of ``store export`` because only here are the pairs known: a
store entry holds arrays, not captions or image paths.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..importers.clip_retrieval import DEFAULT_SHARD_ROWS, check_destination, write_clip_retrieval
from .common import positive_int, print_json, print_notes

EXPORT_FORMATS = ("npy", "clip-retrieval")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, metavar="SPEC",
                   help="dataset spec: coco:ROOT, diffusiondb:ROOT, pairs:FILE, folder:DIR, amumo:DIR, augment:KIND:IMAGE[:CAPTION], shapes[:N], "
                        "webdataset:PATTERN, hf-parquet:PATTERN")
    p.add_argument("--model", required=True, metavar="SPEC",
                   help="model spec: open_clip:ARCH/TAG, open_clip:ARCH@PATH, cyclip:PATH, cloob:PATH, cloob-laion:PATH, own:NAME")
    p.add_argument("--limit", type=positive_int, default=None, help="a random subset of N pairs (seeded by --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --limit and of --caption random (default 0)")
    p.add_argument("--filter", default=None, help="keep pairs whose caption contains these words (case-insensitive)")
    p.add_argument("--filter-mode", choices=("any", "all"), default="any", help="match any or all --filter words")
    p.add_argument("--filter-kind", choices=("substring", "word", "regex"), default="substring",
        help="how --filter matches: substring (default, as Amumo), whole words, or one regular expression")
    p.add_argument("--caption", choices=("first", "random"), default=None, help="coco: which caption of each image (default first, as the article)")
    p.add_argument("--allow-urls", action="store_true", help="pairs: download image URLs (otherwise URL rows are skipped as unusable offline)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="another dataset loader option, e.g. steps=50 or noise_seed=3 (augment), split=train2017 (coco), "
                        "image_column=image text_column=text (hf-parquet); repeatable")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|mps (auto: cuda, then mps, then cpu)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per forward pass (default 256 on CUDA, 64 on MPS, 32 on CPU)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader processes decoding images (default: CPUs - 1, at most 8)")
    p.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto", help="auto: fp16 autocast on CUDA, fp32 elsewhere")
    p.add_argument("--dask", default=None, metavar="local[:N]", help="embed on a local dask.distributed cluster of N worker processes")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="embed on the dask.distributed cluster of this scheduler")
    p.add_argument("--store", default=None, metavar="DIR", help="embedding store folder (default $BIMODAL_EXPLORER_CACHE or ~/.cache/bimodal-explorer)")
    p.add_argument("--export", default=None, metavar="FILE.npy|DIR",
                   help="also write the (2, N, D) float32 array (images, texts), and FILE.pairs.csv naming the pair of each row; "
                        "with --export-format clip-retrieval a new folder DIR")
    p.add_argument("--export-format", choices=EXPORT_FORMATS, default="npy",
                   help="npy (default): FILE.npy and FILE.pairs.csv; "
                        "clip-retrieval: DIR/img_emb/, text_emb/, metadata/ as clip-retrieval inference writes them")
    p.add_argument("--shard-rows", type=positive_int, default=None,
                   help=f"clip-retrieval export: rows per shard (default {DEFAULT_SHARD_ROWS:,}, as clip-retrieval)")
    p.add_argument("--json", action="store_true", help='print {"store_path", "n", "dim", "model", "dataset", "cache_hit"} as JSON')
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_options(items: list[str]) -> dict:
    """KEY=VALUE strings -> {key: value} with ints, floats and true/false recognised."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SpecError(f"--option takes KEY=VALUE, got {item!r}")
        v: object = value
        low = value.strip().lower()
        if low in ("true", "false"):
            v = low == "true"
        else:
            for cast in (int, float):
                try:
                    v = cast(value)
                    break
                except ValueError:
                    continue
        out[key] = v
    return out


def check_export_target(path: Path, fmt: str) -> Path:
    """The --export destination of `fmt`, checked before any work."""
    if fmt == "clip-retrieval":
        return check_destination(path)
    return check_export(path)


def check_export(path: Path) -> Path:
    """The --export destination, checked before any work: a .npy name in a folder that exists or
    can be made (made now, so a run never ends in an error after the embedding)."""
    path = Path(path).expanduser()
    if path.suffix != ".npy":
        raise SpecError(f"--export writes a .npy file; got {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"--export: cannot create the folder {path.parent}: {exc.strerror or exc}") from exc
    if not os.access(path.parent, os.W_OK):
        raise SpecError(f"--export: the folder {path.parent} is not writable")
    return path


def export_array(path: Path, array: np.ndarray) -> None:
    """Write `array` as .npy atomically (a temporary file renamed into place)."""
    path = check_export(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_pair_table(array_path: Path, pairs, result) -> Path:
    """FILE.pairs.csv beside an export: for each row of the array, its pair (index in the loaded
    dataset, id, caption, image). Rows follow the usable pairs, so when items were skipped row i is
    not pair i: this table is how a user pairs the array with captions."""
    skipped = {int(s["index"]) for s in result.skipped}
    kept = [i for i in range(len(pairs)) if i not in skipped]
    table = result.pairs.table()[["id", "caption", "image"]]
    table.insert(0, "pair_index", kept)
    table.insert(0, "row", range(len(kept)))
    out = array_path.with_name(array_path.stem + ".pairs.csv")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def run(args: argparse.Namespace) -> int:
    from ..data.skips import format_notes_for_cli
    from ..embed import embed_to_store
    from ..models import split_model_spec
    from ..sources import load_pairs
    from ..store import EmbeddingStore

    split_model_spec(args.model)  # a mistyped model spec fails before any dataset work
    if args.export:
        check_export_target(Path(args.export), args.export_format)
    elif args.export_format != "npy" or args.shard_rows is not None:
        raise SpecError("--export-format and --shard-rows describe --export; name the folder with --export DIR")
    options = parse_options(args.option)
    if args.caption is not None:
        options["caption"] = args.caption
        if args.caption == "random":
            options.setdefault("caption_seed", args.seed)
    if args.allow_urls:
        options["allow_urls"] = True
    if args.dask is not None and args.scheduler is not None:
        raise SpecError("use either --dask local[:N] or --scheduler tcp://HOST:PORT, not both")
    pairs = load_pairs(
        args.dataset, limit=args.limit, seed=args.seed, filter=args.filter, filter_mode=args.filter_mode,
        filter_kind=args.filter_kind, **options
    )
    print_notes(format_notes_for_cli(pairs.notes))
    store = EmbeddingStore(args.store) if args.store else EmbeddingStore()
    result = embed_to_store(
        pairs,
        args.model,
        store=store,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        num_workers=args.workers,
        dask=args.dask,
        scheduler=args.scheduler,
        precision=args.precision,
    )
    emb = result.embeddings
    skipped = [f"skipped pair {s['index']} ({s['image']}): {s['reason']}" for s in result.skipped]
    if skipped:
        print_notes(format_notes_for_cli([f"{len(skipped)} of {len(pairs)} pairs could not be embedded"] + skipped))
    if args.export and args.export_format == "clip-retrieval":
        write_clip_retrieval(Path(args.export), emb, result.pairs, shard_rows=args.shard_rows or DEFAULT_SHARD_ROWS)
    elif args.export:
        export_array(Path(args.export), emb.stacked())
        export_pair_table(Path(args.export), pairs, result)
    if args.json:
        print_json(
            {
                "store_path": str(result.path),
                "n": emb.n,
                "dim": emb.dim,
                "model": args.model,
                "dataset": pairs.recipe,
                "cache_hit": result.cache_hit,
            }
        )
        return 0
    state = "cache hit" if result.cache_hit else "computed"
    print(f"{emb.n} pairs x {emb.dim} dims, {emb.model} on {pairs.name} ({state})")
    print(f"store entry: {result.path}")
    if args.export and args.export_format == "clip-retrieval":
        print(f"exported {emb.n} pairs as a clip-retrieval folder to {args.export} (img_emb/, text_emb/, metadata/)")
    elif args.export:
        print(f"exported (2, {emb.n}, {emb.dim}) float32 array (images, texts) to {args.export}; "
              f"the pair of each row is in {Path(args.export).with_name(Path(args.export).stem + '.pairs.csv')}")
    return 0
