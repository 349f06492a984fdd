"""Batched, cached, resumable embedding of a PairSet with one model.

``embed_pairs(pairs, model)`` returns the :class:`~explorer.embeddings.Embeddings` of `pairs`
under `model` (a model spec such as ``cyclip:/path/cyclip-3M.pt`` or a loaded
:class:`~explorer.models.base.BimodalModel`), computing them only once: results live in the
embedding store under ``cache_key(pairs.fingerprint(), model.id, model.preprocessing, arithmetic)``, and a
second call is a cache hit that memory-maps the stored arrays (for a model given by a file spec,
the model's id is remembered per file size and modification time, so a cache hit does not even
load the weights).

How the work is done
- Images are decoded and preprocessed in parallel by a torch ``DataLoader`` (``num_workers``
  processes) while the model runs; captions are tokenized and encoded per shard. Every pair is
  embedded: batches are never dropped, the last one is simply shorter.
- ``torch.inference_mode``; on a CUDA GPU the forward passes run under fp16 autocast
  (``precision="auto"``; ``"bf16"`` and ``"fp32"`` can be asked for). On CPU and MPS everything is
  float32. Outputs are stored as float32 unit rows.
- The pairs are cut into shards (about 1,024 pairs, a multiple of the batch size). Each finished
  shard is written atomically to ``<store>/tmp/<key>.partial/``; only when all shards are there
  are they assembled and saved to the store with its atomic save, and the partial folder is
  removed. An interrupted run therefore leaves no store entry, and the next run computes only the
  missing shards.
- ``dask="local"`` (``"local:N"`` for N workers) or ``scheduler="tcp://HOST:PORT"`` (or a
  ``distributed.Client`` as ``dask``) sends the shards to a dask.distributed cluster instead
  (:mod:`explorer.distributed`): each worker loads the model once and embeds whole shards; the
  client writes the shards and the store. Workers must be able to read the images at the same
  paths.

Bad items
- Images that cannot be opened or decoded (missing, corrupt, truncated) and pairs whose model
  output is NaN, infinite or zero are skipped with a per-item report rather than failing the run
  or storing wrong numbers. The stored entry then holds only the usable pairs; its provenance
  lists ``skipped`` (index, id, image, reason) and ``kept_indices`` (the rows of `pairs` the
  embeddings belong to). :func:`align_skipped` subsets the PairSet to match. If no pair is usable
  the run ends with one clear :class:`~explorer.errors.DataError`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import Embeddings, without_row_map
from .errors import DataError, ExplorerError, SpecError, StoreError
from .model_ids import ModelInfo, remember_model, remembered_model
from .pairs import PairSet
from .shards import PartialShards, ShardResult
from .store import EmbeddingStore, entry_key, write_error

#: target number of pairs per shard (the unit of resumption and of work on a dask cluster)
SHARD_TARGET = 1024
#: seconds a DataLoader worker may take over one batch before the run fails instead of waiting
#: forever (a worker whose result never arrives, e.g. killed, must not hang the run)
LOADER_TIMEOUT_S = 600.0
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


# -- batches and shards -----------------------------------------------------------------------
def default_batch_size(device: str) -> int:
    return 256 if device.startswith("cuda") else 64 if device == "mps" else 32


def default_num_workers(n: int, batch_size: int) -> int:
    """DataLoader workers: one fewer than the CPUs (at most 8); none for a single batch."""
    if n <= batch_size:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(0, min(8, cpus - 1))


def file_size_limited() -> bool:
    """Whether this process runs under a file-size limit (``ulimit -f``, RLIMIT_FSIZE).

    DataLoader workers hand batches to the parent through shared-memory files; under a file-size
    limit creating them fails inside the worker's queue thread, the batch never arrives and the
    parent would wait for it forever. Such runs decode images in the main process instead."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (ImportError, OSError, ValueError, AttributeError):
        return False
    return soft != resource.RLIM_INFINITY


def shard_size_for(n: int, batch_size: int, parts: int = 1) -> int:
    """A shard size that is a multiple of `batch_size`: about SHARD_TARGET, or n/parts if smaller."""
    target = min(SHARD_TARGET, max(1, math.ceil(n / max(1, parts))))
    return max(batch_size, math.ceil(target / batch_size) * batch_size)


def shard_bounds(n: int, shard_size: int) -> list[tuple[int, int]]:
    return [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]


def autocast_context(device: str, precision: str):
    """fp16/bf16 autocast on a CUDA GPU; nothing (float32) elsewhere."""
    import torch

    if precision not in PRECISIONS:
        raise SpecError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    on_gpu = str(device).startswith("cuda")
    if precision in ("fp16", "bf16") and not on_gpu:
        raise SpecError(f"{precision} autocast is only used on a CUDA GPU; this run is on {device}")
    if on_gpu and precision != "fp32":
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return contextlib.nullcontext()


def precision_label(device: str, precision: str) -> str:
    if str(device).startswith("cuda") and precision != "fp32":
        return "bf16 autocast" if precision == "bf16" else "fp16 autocast"
    return "fp32"


def cache_key(dataset_fingerprint: str, model_id: str, preprocessing: str, compute: str) -> str:
    """The store key of one embedding run: dataset content, weights, preprocessing and arithmetic."""
    return entry_key(dataset_fingerprint, model_id, f"{preprocessing}|{compute}")


def compute_label(device: str, precision: str) -> str:
    """The arithmetic a run on `device` will use, as part of its store key and resume record:
    what :func:`precision_label` gives for the resolved device (CPU runs are always fp32,
    whatever was asked). Distributed runs ask their workers (distributed.worker_compute)."""
    from .models import resolve_device

    return precision_label(resolve_device(device), precision)


# -- shards ------------------------------------------------------------------------------------

class _ImageDataset:
    """Index -> (index, preprocessed tensor or None, reason or None); errors never escape a worker."""

    def __init__(self, images, preprocess: Callable):
        self.images = images
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        try:
            return i, self.preprocess(self.images.open(i)), None
        except Exception as exc:  # per-item report, not a crash halfway
            msg = str(exc)
            return i, None, msg if type(exc).__module__.startswith("explorer") else f"{type(exc).__name__}: {msg}"


def _collate(items):
    import torch

    good = [(i, x) for i, x, _ in items if x is not None]
    bad = [(i, why) for i, x, why in items if x is None]
    batch = torch.stack([x for _, x in good]) if good else None
    return [i for i, _ in good], batch, bad, [i for i, _, _ in items]


class _ShardBatches:
    """Batches of consecutive indices that never cross a shard boundary (the last ones are short)."""

    def __init__(self, shards: Sequence[tuple[int, int]], batch_size: int):
        self.batches = [list(range(b, min(b + batch_size, e))) for s, e in shards for b in range(s, e, batch_size)]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _to_numpy(t) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float32, copy=False)


def iter_shards(
    model,
    images,
    captions: Sequence[str],
    shards: Sequence[tuple[int, int]],
    *,
    batch_size: int,
    num_workers: int = 0,
    device: str = "cpu",
    precision: str = "auto",
    image_bar=None,
    text_bar=None,
) -> Iterator[ShardResult]:
    """Embed the pairs of `shards` (index ranges into `images`/`captions`), yielding each finished shard."""
    from torch.utils.data import DataLoader

    if not shards:
        return
    if num_workers > 0 and file_size_limited():
        num_workers = 0  # see file_size_limited: workers could not hand their batches over
    loader = DataLoader(
        _ImageDataset(images, model.preprocess),
        batch_sampler=_ShardBatches(shards, batch_size),
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=str(device).startswith("cuda"),
        timeout=LOADER_TIMEOUT_S if num_workers > 0 else 0,
    )
    try:
        yield from _iter_loader(loader, model, captions, shards, batch_size=batch_size, device=device, precision=precision,
                                image_bar=image_bar, text_bar=text_bar)
    except RuntimeError as exc:
        if num_workers > 0 and "DataLoader" in str(exc):  # a worker died or never answered
            raise ExplorerError(f"an image-decoding worker process failed ({str(exc).splitlines()[0]}); "
                                "the finished shards are kept, rerun to resume (--workers 0 decodes in this process)") from exc
        raise


def _iter_loader(loader, model, captions, shards, *, batch_size, device, precision, image_bar, text_bar) -> Iterator[ShardResult]:
    import torch

    bounds = list(shards)
    current = 0
    filled = 0
    img_rows: np.ndarray | None = None
    failed: dict[int, str] = {}
    with torch.inference_mode():
        for good_idx, batch, bad, all_idx in loader:
            s, e = bounds[current]
            if batch is not None:
                with autocast_context(device, precision):
                    out = model.encode_image_tensors(batch.to(device, non_blocking=True))
                feats = _to_numpy(out)
                if img_rows is None:
                    img_rows = np.zeros((e - s, feats.shape[1]), np.float32)
                img_rows[np.asarray(good_idx) - s] = feats
            for i, why in bad:
                failed[i] = why
            filled += len(all_idx)
            if image_bar is not None:
                image_bar.update(len(all_idx))
            if filled < e - s:
                continue
            texts = _encode_texts(model, captions, s, e, batch_size, device, precision, text_bar)
            if img_rows is None:  # every image of the shard failed
                img_rows = np.zeros_like(texts)
            yield ShardResult(s, e, img_rows, texts, failed)
            current += 1
            filled, img_rows, failed = 0, None, {}


def _encode_texts(model, captions, s, e, batch_size, device, precision, bar) -> np.ndarray:
    parts = []
    for b in range(s, e, batch_size):
        chunk = [str(c) for c in captions[b : min(b + batch_size, e)]]
        tokens = model.tokenize(chunk)
        if hasattr(tokens, "to"):
            tokens = tokens.to(device, non_blocking=True)
        with autocast_context(device, precision):
            parts.append(_to_numpy(model.encode_token_tensors(tokens)))
        if bar is not None:
            bar.update(len(chunk))
    return np.concatenate(parts)


# -- the pipeline ------------------------------------------------------------------------------
@dataclass
class EmbedResult:
    """The embeddings and where they came from (for the CLI's --json and for notebooks)."""

    embeddings: Embeddings
    pairs: PairSet  # the pairs the embedding rows belong to (usable pairs only)
    key: str
    path: Path
    cache_hit: bool
    skipped: list[dict]


def _progress_bars(progress: bool, total: int, done: int, label: str):
    from tqdm.auto import tqdm

    kw = dict(total=total, initial=done, disable=not progress, leave=False, dynamic_ncols=True, file=sys.stderr)
    return tqdm(desc=f"images {label}", unit="img", position=0, **kw), tqdm(desc=f"texts {label}", unit="txt", position=1, **kw)


def embed_pairs(pairs: PairSet, model: Any, **options: Any) -> Embeddings:
    """The embeddings of `pairs` under `model` (spec or BimodalModel), from the store or computed;
    `options` are those of :func:`embed_to_store` (store, device, batch_size, progress,
    num_workers, dask, scheduler, precision).

    See the module docstring. Pairs whose image cannot be used are left out; the provenance then
    holds ``kept_indices`` and ``skipped`` (use :func:`align_skipped` or :func:`embed_to_store`,
    whose result carries the matching PairSet).
    """
    return embed_to_store(pairs, model, **options).embeddings


def embed_to_store(
    pairs: PairSet,
    model: Any,
    *,
    store: EmbeddingStore | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    progress: bool = True,
    num_workers: int | None = None,
    dask: Any = None,
    scheduler: str | None = None,
    precision: str = "auto",
) -> EmbedResult:
    """The embeddings of `pairs` under `model` with the details: store key and path, cache hit,
    skipped items, usable pairs (:func:`embed_pairs` returns only the embeddings).

    `store`: default EmbeddingStore() ($BIMODAL_EXPLORER_CACHE); `device` auto|cpu|cuda|mps;
    `batch_size` images per forward pass (default by device); `num_workers` DataLoader decoding
    processes; `dask` ('local[:N]' or a Client) / `scheduler` ('tcp://HOST:PORT') embed on a
    dask.distributed cluster; `precision` auto|fp32|fp16|bf16 (autocast on CUDA only)."""
    from .models import load_model, resolve_device

    store = store if store is not None else EmbeddingStore()
    if not isinstance(pairs, PairSet):
        raise TypeError(f"embed_pairs needs a PairSet, got {type(pairs).__name__}")
    if len(pairs) == 0:
        raise DataError(f"{pairs.recipe}: no pairs to embed")
    if pairs.images is None:
        raise DataError(f"{pairs.recipe}: has captions but no images, so it cannot be embedded (it holds precomputed embeddings only)")
    if precision not in PRECISIONS:
        raise SpecError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    distributed = dask is not None or scheduler is not None
    fingerprint = pairs.fingerprint()

    spec = model if isinstance(model, str) else None
    obj = None if spec is not None else model
    if obj is not None and not all(hasattr(obj, a) for a in ("id", "preprocess", "encode_image_tensors", "tokenize", "encode_token_tensors")):
        raise TypeError(f"model must be a model spec string or a BimodalModel, got {type(model).__name__}")
    info = ModelInfo.of(obj) if obj is not None else remembered_model(store, spec)

    client = None
    owns_client = False
    try:
        if distributed:
            from . import distributed as dist

            client, owns_client = dist.open_client(dask, scheduler)
        if info is None and distributed:
            info = dist.remote_model_info(client, spec, device)
            remember_model(store, info)
        if info is None:
            obj = load_model(spec, device=device)
            info = ModelInfo.of(obj, spec)
            remember_model(store, info)
        # the arithmetic is part of the address: fp16 results must never answer an fp32 request
        compute = dist.worker_compute(client, device, precision) if distributed else compute_label(device, precision)
        key = cache_key(fingerprint, info.id, info.preprocessing, compute)
        if store.contains(key):
            try:
                return _result_from_store(store, key, pairs, cache_hit=True)
            except StoreError:
                store.remove(key)  # corrupt: recompute below

        if not distributed and obj is None:  # the remembered id let us skip loading; now we need the weights
            obj = load_model(spec, device=device)
            real = ModelInfo.of(obj, spec)
            if real.id != info.id or real.preprocessing != info.preprocessing:
                info = real
                remember_model(store, info)
                key = cache_key(fingerprint, info.id, info.preprocessing, compute)
                if store.contains(key):
                    return _result_from_store(store, key, pairs, cache_hit=True)

        if obj is not None and not distributed:
            dev = resolve_device(device) if device != "auto" else str(getattr(obj, "device", None) or resolve_device("auto"))
            if str(getattr(obj, "device", "cpu")) != dev:
                obj.to(dev)
            autocast_context(dev, precision)  # fp16/bf16 asked for off a GPU: refuse before any work
        else:
            dev = device
        bs = int(batch_size) if batch_size else default_batch_size(resolve_device(dev) if not distributed else "cpu")
        if bs < 1:
            raise SpecError(f"batch size must be at least 1, got {batch_size}")

        n = len(pairs)
        partial = PartialShards(store, key)
        if distributed:
            from . import distributed as dist

            wanted = shard_size_for(n, bs, parts=4 * max(1, dist.worker_count(client)))
        else:
            wanted = shard_size_for(n, bs)
        meta = {"n": n, "fingerprint": fingerprint, "model_id": info.id, "preprocessing": info.preprocessing, "compute": compute}
        try:
            return _compute_and_save(store, key, partial, meta, wanted, pairs, info, obj, spec, client, fingerprint, progress=progress,
                                     distributed=distributed, device=device, dev=dev, bs=bs, num_workers=num_workers, precision=precision)
        except StoreError as exc:
            if isinstance(exc.__cause__, OSError) and write_error(exc.__cause__, "") is not None:
                partial.remove()  # a full disk, a size limit or a read-only folder: leave nothing half-written behind
            raise
    finally:
        if owns_client and client is not None:
            from . import distributed as dist

            dist.close_client(client)


def _compute_and_save(store, key, partial, meta, wanted, pairs, info, obj, spec, client, fingerprint, *, progress, distributed, device, dev, bs,
                      num_workers, precision) -> EmbedResult:
    """Compute the missing shards of `key` (resuming from `partial`) and save the entry."""
    n = len(pairs)
    size = partial.prepare(meta, wanted)
    bounds = shard_bounds(n, size)
    done: dict[tuple[int, int], ShardResult] = {}
    for s, e in bounds:
        r = partial.read(s, e)
        if r is not None:
            done[(s, e)] = r
    pending = [b for b in bounds if b not in done]
    n_done = sum(e - s for s, e in done)
    label = f"({info.name})"
    image_bar, text_bar = _progress_bars(progress, n, n_done, label)
    try:
        if pending and distributed:
            from . import distributed as dist

            for r in dist.embed_shards(
                client, spec if spec is not None else obj, pairs, pending, device=device, batch_size=bs, precision=precision
            ):
                partial.write(r)
                done[(r.start, r.stop)] = r
                image_bar.update(r.stop - r.start)
                text_bar.update(r.stop - r.start)
            dev_label = f"dask ({dist.describe(client)})"
        elif pending:
            workers = default_num_workers(sum(e - s for s, e in pending), bs) if num_workers is None else int(num_workers)
            for r in iter_shards(
                obj, pairs.images, pairs.captions, pending, batch_size=bs, num_workers=workers,
                device=dev, precision=precision, image_bar=image_bar, text_bar=text_bar,
            ):
                partial.write(r)
                done[(r.start, r.stop)] = r
            dev_label = dev
        else:
            dev_label = "resumed from finished shards"
    finally:
        image_bar.close()
        text_bar.close()

    label = precision_label(str(dev), precision) if not distributed else f"{precision} (fp16 autocast on CUDA workers, else fp32)"
    try:
        result = _assemble(pairs, info, [done[b] for b in bounds], fingerprint=fingerprint, device=dev_label, precision=label, batch_size=bs)
    except DataError:
        partial.remove()  # the data leave nothing to embed: nothing to resume either
        raise
    entry = store.save(
        key,
        result,
        dataset={"recipe": pairs.recipe, "name": pairs.name, "fingerprint": fingerprint, "n_pairs": n, "notes": list(pairs.notes)},
    )
    partial.remove()
    return _finish(result, entry.path, key, pairs, cache_hit=False)


def _assemble(pairs: PairSet, info: ModelInfo, shards: list[ShardResult], *, fingerprint: str, device: str, precision: str, batch_size: int) -> Embeddings:
    image = np.concatenate([s.image for s in shards])
    text = np.concatenate([s.text for s in shards])
    failed: dict[int, str] = {}
    for s in shards:
        failed.update(s.failed)
    for name, a in (("image", image), ("text", text)):
        bad = ~np.isfinite(a).all(axis=1) | (np.linalg.norm(np.nan_to_num(a), axis=1) == 0)
        for i in np.flatnonzero(bad).tolist():
            failed.setdefault(i, f"the model's {name} embedding is NaN, infinite or zero")
    n = len(pairs)
    kept = np.asarray([i for i in range(n) if i not in failed], dtype=np.int64)
    skipped = [
        {"index": i, "id": pairs.ids[i], "image": pairs.images.ref(i), "reason": failed[i]} for i in sorted(failed)
    ]
    if kept.size == 0:
        shown = "; ".join(f"{s['image']}: {s['reason']}" for s in skipped[:5])
        raise DataError(f"{pairs.recipe}: none of the {n} pairs could be embedded: {shown}" + (f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""))
    prov: dict[str, Any] = {
        "model_spec": info.spec,
        "model_id": info.id,
        "preprocessing": info.preprocessing,
        "dataset": pairs.recipe,
        "dataset_name": pairs.name,
        "dataset_fingerprint": fingerprint,
        "n_pairs": n,
        "device": device,
        "precision": precision,
        "batch_size": batch_size,
        "method": "explorer.embed",
    }
    if pairs.notes:
        prov["dataset_notes"] = list(pairs.notes)
    if skipped:
        prov["skipped"] = skipped
        prov["kept_indices"] = kept.tolist()
        prov["note"] = f"{len(skipped)} of {n} pairs skipped (image unusable), e.g. {skipped[0]['image']}: {skipped[0]['reason']}"
    return Embeddings.from_arrays(
        image[kept], text[kept], model=info.name, logit_scale=info.logit_scale, provenance=prov, source=f"{info.name} on {pairs.recipe}"
    )


def _finish(emb: Embeddings, path: Path, key: str, pairs: PairSet, *, cache_hit: bool) -> EmbedResult:
    prov = dict(emb.provenance)
    prov["store_entry"] = str(path)
    prov["cache_hit"] = cache_hit
    emb = replace(emb, provenance=prov)
    kept = prov.get("kept_indices")
    usable = pairs.subset(kept) if kept is not None else pairs
    return EmbedResult(emb, usable, key, Path(path), cache_hit, list(prov.get("skipped") or []))


def _result_from_store(store: EmbeddingStore, key: str, pairs: PairSet, *, cache_hit: bool) -> EmbedResult:
    emb = store.load(key)
    kept = emb.provenance.get("kept_indices")
    expected = len(kept) if kept is not None else len(pairs)
    if emb.n != expected:
        raise StoreError(f"store entry {store.path(key)} has {emb.n} rows, expected {expected}")
    return _finish(emb, store.path(key), key, pairs, cache_hit=cache_hit)


def align_skipped(pairs: PairSet, embeddings: Mapping[str, Embeddings]) -> tuple[PairSet, dict[str, Embeddings], list[str]]:
    """Make `pairs` and every model's embeddings cover the same pairs when some were skipped.

    Embeddings that left pairs out carry ``kept_indices`` (rows of `pairs`). The result keeps the
    pairs usable for every model, in order, with notes naming what was left out and why.
    """
    kept_by_model = {m: e.provenance.get("kept_indices") for m, e in embeddings.items()}
    if all(k is None for k in kept_by_model.values()):
        return pairs, dict(embeddings), []
    common = set(range(len(pairs)))
    for k in kept_by_model.values():
        if k is not None:
            common &= set(int(i) for i in k)
    if not common:
        raise DataError(f"{pairs.recipe}: no pair is usable for every model")
    order = sorted(common)
    out: dict[str, Embeddings] = {}
    notes: list[str] = []
    for m, e in embeddings.items():
        k = kept_by_model[m]
        if k is None:
            out[m] = e.subset(order)
            continue
        pos = {int(i): j for j, i in enumerate(k)}
        # rows now follow the aligned pairs: the old row map must go (subset drops it too), so
        # aligning again is a no-op instead of a silent mis-pairing
        out[m] = e.subset([pos[i] for i in order]) if len(order) != len(k) else replace(e, provenance=without_row_map(e.provenance))
        skipped = list(e.provenance.get("skipped") or [])
        if skipped:
            first = skipped[0]
            notes.append(
                f"{m}: {len(skipped)} of {len(pairs)} pairs skipped because their image could not be used, "
                f"e.g. pair {first['index']} ({first['image']}): {first['reason']} (all listed in the store entry's provenance)"
            )
    aligned = pairs.subset(order)
    item_notes = [
        f"{m}: skipped pair {s['index']} ({s['image']}): {s['reason']}"
        for m, e in embeddings.items()
        for s in (e.provenance.get("skipped") or [])
    ]
    return replace(aligned, notes=tuple(aligned.notes) + tuple(item_notes)), out, notes
