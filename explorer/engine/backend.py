"""Where the engine's dense products run: numpy (BLAS threads) on the CPU, torch on a GPU.

`BIMODAL_EXPLORER_DEVICE` = ``auto`` (default: CUDA when torch sees one, else numpy), ``cpu`` or
``cuda``. Products return numpy arrays: float64 for float64 inputs (computed by numpy), float32 otherwise.
torch is imported only when a GPU is asked for or looked for, never at import time.

BLAS threads: once views compute in threads of their own (:func:`one_blas_thread_per_call`, called
by the first :class:`explorer.views.feed.Feed`), every BLAS product runs on one thread, process-wide
(`BIMODAL_EXPLORER_BLAS_THREADS` sets another number, ``0`` leaves BLAS as it is).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

#: rows read from the embeddings per step of a pass (16,384 × 512 float32 = 32 MB)
CHUNK_ROWS = 16384
#: cells of one block of a blocked product (64 MB of float32)
BLOCK_CELLS = 1 << 24


@lru_cache(maxsize=1)
def device() -> str:
    """'cuda' or 'cpu' (see module docstring)."""
    want = os.environ.get("BIMODAL_EXPLORER_DEVICE", "auto").strip().lower()
    if want == "cpu":
        return "cpu"
    if want == "auto" and not os.path.exists("/proc/driver/nvidia/version"):
        return "cpu"  # no NVIDIA driver: do not pay for importing torch to learn that
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    except Exception:  # no torch, or a broken CUDA install: the CPU path always works
        pass
    if want == "cuda":
        raise RuntimeError("BIMODAL_EXPLORER_DEVICE=cuda but torch sees no CUDA device")
    return "cpu"


_BLAS_LIMITED: list[int] = []


def one_blas_thread_per_call() -> int | None:
    """Run BLAS on one thread per call from now on (process-wide, once); returns the number set.

    The app and the notebook compute each view in a thread of its own, so the views are the
    parallelism. OpenBLAS's threaded server takes one caller at a time: a small product of one view
    waits while another view's long product holds it (a 10,000×512 by 512×64 product took 6–24 ms
    alone and up to 5.9 s beside a 65,536×512 Gram in another thread; on one BLAS thread 9–26 ms),
    and on two cores its spinning threads make small LAPACK calls erratic (the clustering's eigh of a
    512×512 metric 17–125 ms). A lone long pass loses ~25 % on one thread (a chunked 200,000×512
    Gram 470–506 ms on two, 607–642 on one): engine passes that need both cores split their chunks
    over threads themselves (explorer.engine.numbers)."""
    if _BLAS_LIMITED:
        return _BLAS_LIMITED[0]
    raw = os.environ.get("BIMODAL_EXPLORER_BLAS_THREADS", "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        from ..errors import SpecError

        raise SpecError(f"BIMODAL_EXPLORER_BLAS_THREADS must be a whole number of threads, got {raw!r}") from None
    _BLAS_LIMITED.append(n)
    if n > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n, user_api="blas")  # kept: never restored
    return n


def cores() -> int:
    """The CPUs this process may use (containers, taskset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def spread(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(item) for item in items], the items on one thread per core: a long pass of independent
    blocked products uses every core while BLAS runs one thread per call
    (:func:`one_blas_thread_per_call`). The calling thread waits."""
    workers = min(cores(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine") as pool:
        return list(pool.map(fn, items))


def spread_each(fn: Callable[[T], R], items: Sequence[T], use: Callable[[R], None]) -> None:
    """use(fn(item)) for each item in order, fn on one thread per core a wave of items at a time:
    at most one result per core is held (e.g. partial sums, added in the items' order, so the
    numbers do not depend on the number of cores)."""
    step = cores()
    for s in range(0, len(items), step):
        for result in spread(fn, items[s : s + step]):
            use(result)


def matmul_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ bᵀ (a: n×D, b: m×D): float64 when an input is float64 (on the CPU), else float32."""
    if a.dtype == np.float64 or b.dtype == np.float64:
        return np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64).T
    if device() == "cuda":
        import torch

        ta = torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32), device="cuda")
        tb = torch.as_tensor(np.ascontiguousarray(b, dtype=np.float32), device="cuda")
        return (ta @ tb.T).cpu().numpy()
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T


def rows_for(cells: int, width: int) -> int:
    """How many rows of `width` columns fit one block of `cells` cells (at least 1)."""
    return max(1, int(cells // max(int(width), 1)))
