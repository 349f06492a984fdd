"""Embedding on a dask.distributed cluster (``embed --dask local`` or ``--scheduler tcp://HOST:PORT``).

The client cuts the pairs into shards and submits one task per shard; a task receives the shard's
image source and captions (small: paths or generator parameters, never pixels) and returns its
embeddings. Each worker process loads the model once and keeps it for every later shard:

- a model *spec* (``cyclip:/data/cyclip-3M.pt``) is loaded by the worker itself with
  :func:`explorer.models.load_model` and cached per (spec, device) in this module, so the weights
  file must be readable on every worker at the same path;
- a loaded model *object* is scattered to every worker once (``broadcast=True``) and the tasks
  refer to that copy.

The client writes every returned shard atomically (resumable, as in the local pipeline) and saves
the store entry; workers never write to the store. Images must be readable by the workers at
the same paths (a shared file system), as for any dask job over files.

``dask="local"`` starts a LocalCluster of worker processes with one thread each (``"local:N"``:
N workers; default min(4, CPUs)), closed when the embedding is done. A ``distributed.Client`` may
be passed as `dask` to reuse a running cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import SpecError

#: (spec, device) -> model, in each worker process
_MODELS: dict[tuple[str, str], Any] = {}
#: how many times this process loaded each spec (checked by the tests: once per worker)
LOADS: dict[str, int] = {}


def open_client(dask: Any = None, scheduler: str | None = None):
    """(client, owned): a Client for `dask` ("local", "local:N" or a Client) or a scheduler address."""
    from distributed import Client, LocalCluster

    if dask is not None and not isinstance(dask, str):
        if not hasattr(dask, "submit"):
            raise SpecError(f"dask must be 'local', 'local:N' or a distributed.Client, got {type(dask).__name__}")
        return dask, False
    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), True
        except (OSError, TimeoutError) as exc:
            raise SpecError(f"cannot reach the dask scheduler at {scheduler} ({exc})") from exc
    kind, _, count = str(dask).partition(":")
    if kind != "local":
        raise SpecError(f"--dask takes 'local' or 'local:N' (N workers), got {dask!r}; use --scheduler tcp://HOST:PORT for a cluster")
    try:
        n = int(count) if count else min(4, os.cpu_count() or 1)
    except ValueError as exc:
        raise SpecError(f"--dask local:N needs a whole number of workers, got {count!r}") from exc
    if n < 1:
        raise SpecError(f"--dask local:N needs at least one worker, got {n}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), True


def close_client(client) -> None:
    """Close a client this module opened, and its LocalCluster (quietly: workers holding torch
    threads can take a few seconds to exit, which the nanny reports as a warning)."""
    import logging

    cluster = getattr(client, "cluster", None)
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    finally:
        nanny.setLevel(level)


def worker_count(client) -> int:
    try:
        return max(1, len(client.scheduler_info()["workers"]))
    except Exception:
        return 1


def describe(client) -> str:
    return f"{worker_count(client)} workers at {getattr(client, 'scheduler', None) and client.scheduler.address}"


def worker_model(model: Any, device: str = "auto"):
    """The model on this worker: loaded once per (spec, device), or the scattered object moved once."""
    from .models import load_model, resolve_device

    dev = resolve_device(device)
    if isinstance(model, str):
        key = (model, dev)
        if key not in _MODELS:
            _MODELS[key] = load_model(model, device=dev)
            LOADS[model] = LOADS.get(model, 0) + 1
        return _MODELS[key]
    if str(getattr(model, "device", "cpu")) != dev:
        model.to(dev)
    return model


def _model_info_task(spec: str, device: str) -> dict:
    m = worker_model(spec, device)
    return {"name": str(getattr(m, "name", spec)), "id": str(m.id),
            "preprocessing": str(getattr(m, "preprocessing", "") or ""), "logit_scale": float(m.logit_scale)}


def remote_model_info(client, spec: str, device: str = "auto"):
    """The ModelInfo of `spec` as a worker loads it (the client need not hold the weights)."""
    from .model_ids import ModelInfo

    d = client.submit(_model_info_task, spec, device, pure=False).result()
    return ModelInfo(spec, d["name"], d["id"], d["preprocessing"], d["logit_scale"])


def _compute_task(device: str, precision: str) -> str:
    from .embed import compute_label

    return compute_label(device, precision)


def worker_compute(client, device: str = "auto", precision: str = "auto") -> str:
    """The arithmetic the cluster's workers will use (see embed.compute_label); workers that
    disagree (some on a GPU, some not) give a combined label, so such results get their own key."""
    labels = sorted(set(client.run(_compute_task, device, precision).values()))
    return labels[0] if len(labels) == 1 else "mixed: " + ", ".join(labels)


def _shard_task(model: Any, images, captions: Sequence[str], start: int, stop: int, batch_size: int, device: str, precision: str):
    from .embed import iter_shards
    from .models import resolve_device
    from .shards import ShardResult

    m = worker_model(model, device)
    (r,) = list(
        iter_shards(m, images, captions, [(0, len(captions))], batch_size=batch_size, num_workers=0, device=resolve_device(device), precision=precision)
    )
    return ShardResult(start, stop, r.image, r.text, {start + i: why for i, why in r.failed.items()})


def embed_shards(
    client, model: Any, pairs, shards: Sequence[tuple[int, int]], *, device: str = "auto", batch_size: int = 32, precision: str = "auto"
) -> Iterator:
    """Submit one task per shard and yield each ShardResult as it completes (in any order)."""
    from distributed import as_completed

    ref = model if isinstance(model, str) else client.scatter(model, broadcast=True, hash=False)
    futures = []
    for s, e in shards:
        idx = list(range(s, e))
        futures.append(
            client.submit(
                _shard_task, ref, pairs.images.take(idx), list(pairs.captions[s:e]), s, e, batch_size, device, precision,
                pure=False, key=f"embed-shard-{s}-{e}-{os.urandom(4).hex()}",
            )
        )
    try:
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        for fut in futures:
            fut.cancel()
