"""Where the engine's dense products run: numpy (BLAS threads) on the CPU, torch on a GPU.

`BIMODAL_EXPLORER_DEVICE` = ``auto`` (default: CUDA when torch sees one, else numpy), ``cpu`` or
``cuda``. Products return numpy arrays: float64 for float64 inputs (computed by numpy), float32 otherwise.
torch is imported only when a GPU is asked for or looked for, never at import time.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

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
