"""Embedding pipeline throughput vs a bare forward pass, as a ratio measured in one run.

The pipeline (explorer.embed: JPEG decoding and preprocessing in DataLoader workers, tokenizing,
both forward passes, shard files, the atomic store write) is timed on N freshly written JPEGs of
COCO size (640x480) with captions. The bare forward pass runs the same model on the same pairs
already decoded, preprocessed and tokenized in memory, in the same batches and precision. The
ratio pipeline/bare is the pipeline's overhead (target on CPU: at most 1.10); images/s are
printed for both (on a GPU, the numbers to watch). Bare and pipeline runs alternate over a few
rounds (each pipeline run into a fresh store), so a shared machine whose speed drifts during the
run biases neither side; the CPU-time ratio (all processes, DataLoader workers included) is
printed too, as it is steadier than wall time on a busy machine.

Model: by default open_clip's RN50-quickgelu with random weights (written to a temporary
safetensors file and loaded through ``open_clip:RN50-quickgelu@FILE``: nothing is downloaded);
``--model SPEC`` takes any model spec; ``--model tiny`` the tests' tiny model (decoding then
dominates, so its ratio says how much the decoding costs, not the pipeline overhead).

    python benchmarks/embed.py                       # RN50, 3 rounds of 32 pairs, CPU or the GPU present
    python benchmarks/embed.py --threads 1            # one torch thread: decoding overlaps on another core
    python benchmarks/embed.py --n 2048 --batch-size 256 --device cuda

On a machine shared with other busy processes, wall times swing by tens of percent between
identical runs (the per-round ratios show it); the CPU-time ratio and runs with ``--threads 1``
(no oversubscription of the cores by torch's threads plus the decoding worker) are steadier.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_jpegs(folder: Path, n: int, size=(640, 480), seed: int = 0) -> list[str]:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        base = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(base).resize(size, Image.BILINEAR)  # smooth, photo-like content
        draw = ImageDraw.Draw(im)
        for _ in range(8):
            x0, y0 = int(rng.integers(0, size[0] - 40)), int(rng.integers(0, size[1] - 40))
            draw.ellipse([x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 200))], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        name = f"{i:05d}.jpg"
        im.save(folder / name, quality=90)
        names.append(name)
    return names


def load(model_spec: str | None, device: str, tmp: Path):
    from explorer.models import load_model

    if model_spec == "tiny":
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_model import TinyModel

        return TinyModel().to(device if device != "auto" else "cpu"), "tests' tiny model", None
    if model_spec:
        return load_model(model_spec, device=device), model_spec, model_spec
    import logging

    import open_clip
    from safetensors.torch import save_file

    logging.disable(logging.WARNING)
    try:
        net = open_clip.create_model("RN50-quickgelu", pretrained=None)
    finally:
        logging.disable(logging.NOTSET)
    path = tmp / "rn50-random.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    spec = f"open_clip:RN50-quickgelu@{path}"
    return load_model(spec, device=device), "open_clip RN50-quickgelu, random weights", spec


def model_dim(model) -> int:
    import torch

    with torch.inference_mode():
        return int(model.encode_token_tensors(model.tokenize(["x"]).to(model.device)).shape[-1])


def cache_hit_seconds(tmp: Path, model, spec: str | None, n: int) -> float:
    """Time a cache hit of `n` pairs: files exist (the fingerprint stats them), the entry is stored."""
    from explorer.embed import cache_key, compute_label, embed_to_store
    from explorer.embeddings import Embeddings
    from explorer.images import FileImages
    from explorer.model_ids import ModelInfo, remember_model
    from explorer.pairs import PairSet
    from explorer.store import EmbeddingStore

    folder = tmp / "many"
    folder.mkdir()
    names = [f"{i:06d}.jpg" for i in range(n)]
    for name in names:
        (folder / name).write_bytes(b"x")
    pairs = PairSet.build([f"caption {i}" for i in range(n)], FileImages(folder, names), name="many", recipe="many")
    store = EmbeddingStore(tmp / "cache-store")
    rng = np.random.default_rng(0)
    d = model_dim(model)
    emb = Embeddings.from_arrays(rng.normal(size=(n, d)), rng.normal(size=(n, d)), model="m", logit_scale=100.0)
    # the key embed_to_store looks up (device auto, precision auto: the arithmetic it will use)
    store.save(cache_key(pairs.fingerprint(), model.id, model.preprocessing, compute_label("auto", "auto")), emb)
    if spec:
        remember_model(store, ModelInfo.of(model, spec))
    t = time.perf_counter()
    res = embed_to_store(pairs, spec or model, store=store, progress=False)
    elapsed = time.perf_counter() - t
    assert res.cache_hit and res.embeddings.n == n
    return elapsed


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the DataLoader workers)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def bare_forward(model, images, tokens, batch_size: int, device: str) -> float:
    import torch

    from explorer.embed import autocast_context

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(images), batch_size):
            with autocast_context(device, "auto"):
                model.encode_image_tensors(images[b : b + batch_size].to(device, non_blocking=True)).float().cpu()
                model.encode_token_tensors(tokens[b : b + batch_size].to(device, non_blocking=True)).float().cpu()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model spec, or 'tiny' (default: random-weight open_clip RN50-quickgelu)")
    p.add_argument("--n", type=int, default=32, help="pairs per round (default 32)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the pipeline's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--rounds", type=int, default=3, help="interleaved bare/pipeline rounds (default 3)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice, all cores)")
    p.add_argument("--cache-n", type=int, default=5000, help="pairs of the timed cache hit (default 5000, the article's set)")
    args = p.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from explorer.embed import embed_to_store
    from explorer.images import FileImages
    from explorer.pairs import PairSet
    from explorer.store import EmbeddingStore

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        names = write_jpegs(tmp / "images", args.n)
        captions = [f"a photo number {i} of some coloured shapes on a blurry background" for i in range(args.n)]
        pairs = PairSet.build(captions, FileImages(tmp / "images", names), name="bench", recipe="benchmark")
        model, label, spec = load(args.model, args.device, tmp)
        device = str(model.device)

        # everything the bare pass needs, prepared outside the timing
        images = torch.stack([model.preprocess(pairs.images.open(i)) for i in range(args.n)])
        tokens = model.tokenize(list(captions))
        bare_forward(model, images[: min(4, args.n)], tokens[: min(4, args.n)], args.batch_size, device)  # warm-up

        bare_wall, bare_cpu, pipe_wall, pipe_cpu = [], [], [], []
        for r in range(args.rounds):  # interleaved, so a machine whose speed drifts biases neither side
            c = cpu_seconds()
            bare_wall.append(bare_forward(model, images, tokens, args.batch_size, device))
            bare_cpu.append(cpu_seconds() - c)
            c, t = cpu_seconds(), time.perf_counter()
            res = embed_to_store(
                pairs, model, store=EmbeddingStore(tmp / f"store{r}"), device=device, batch_size=args.batch_size,
                num_workers=args.workers, progress=False,
            )
            pipe_wall.append(time.perf_counter() - t)
            pipe_cpu.append(cpu_seconds() - c)
            assert res.embeddings.n == args.n and not res.cache_hit

        cached = cache_hit_seconds(tmp, model, spec, args.cache_n)

    bare, pipeline = sum(bare_wall), sum(pipe_wall)
    ratio = pipeline / bare
    per_round = [p / b for p, b in zip(pipe_wall, bare_wall, strict=True)]
    cpu_ratio = sum(pipe_cpu) / sum(bare_cpu)
    n_all = args.n * args.rounds
    print(f"model: {label} on {device}; {args.n} pairs of 640x480 JPEGs x {args.rounds} rounds; batch {args.batch_size}; "
          f"torch threads {torch.get_num_threads()}; CPUs {os.cpu_count()}")
    print(f"bare forward (pre-loaded tensors): {bare:.2f} s = {n_all / bare:.1f} images/s")
    print(f"pipeline (decode, preprocess, forward, store): {pipeline:.2f} s = {n_all / pipeline:.1f} images/s")
    print(f"pipeline / bare forward, wall time = {ratio:.3f}  (overhead {100 * (ratio - 1):+.1f}%; target on CPU: <= +10%); "
          f"per round {', '.join(f'{x:.3f}' for x in per_round)} (median {float(np.median(per_round)):.3f})")
    print(f"pipeline / bare forward, CPU time (all processes) = {cpu_ratio:.3f}  (decoding in workers included)")
    how = "by model spec: the weights are not loaded" if spec else "model object"
    print(f"cache hit, {args.cache_n} pairs x {model_dim(model)} dims ({how}; dataset fingerprint, checksum-verified load): {cached * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
