"""BLAS threads once views compute in threads of their own (explorer.engine.backend).

Each case runs in a fresh interpreter: the limit is process-wide and set once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: BLAS threads of every BLAS library loaded (numpy's and scipy's OpenBLAS) before and after
#: the first Feed is made
SCRIPT = """
import json, sys
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
def blas():
    return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
before = blas()
from explorer.views.feed import Feed
try:
    Feed(lambda: {"x": 1}, [], empty=lambda: {"x": 0})
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"})); sys.exit(0)
print(json.dumps({"before": before, "after": blas()}))
"""


def run(threads: str | None, start: str = "2") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "BIMODAL_EXPLORER_BLAS_THREADS"}
    env.update(OPENBLAS_NUM_THREADS=start, PYTHONPATH=str(ROOT))
    if threads is not None:
        env["BIMODAL_EXPLORER_BLAS_THREADS"] = threads
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_feed_puts_blas_on_one_thread():
    got = run(None)
    assert got["before"] == [2]
    assert got["after"] == [1]


@pytest.mark.parametrize("threads, want", [("2", [2]), ("0", [2])])
def test_the_setting_chooses_the_threads_or_leaves_blas_alone(threads, want):
    got = run(threads, start="1" if threads == "2" else "2")
    assert got["after"] == want


def test_a_setting_that_is_not_a_number_is_one_sentence():
    got = run("many")
    assert got["error"] == ("SpecError: BIMODAL_EXPLORER_BLAS_THREADS must be a whole number of threads, got 'many'")


def test_spread_maps_in_order_on_one_thread_per_core(monkeypatch):
    import threading
    import time

    from explorer.engine import backend

    monkeypatch.setattr(backend, "cores", lambda: 3)

    def work(i: int) -> tuple[int, int]:
        time.sleep(0.05)  # long enough for the pool to start every worker
        return i * i, threading.get_ident()

    got = backend.spread(work, range(7))
    assert [v for v, _ in got] == [i * i for i in range(7)]
    assert len({t for _, t in got}) == 3 and threading.get_ident() not in {t for _, t in got}
    monkeypatch.setattr(backend, "cores", lambda: 1)
    assert {t for _, t in backend.spread(work, range(3))} == {threading.get_ident()}


def test_spread_each_uses_the_results_in_order_one_wave_per_core(monkeypatch):
    import threading
    import time

    from explorer.engine import backend

    monkeypatch.setattr(backend, "cores", lambda: 2)
    running, most = [0], [0]
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02 * (5 - i % 5))  # later items finish first within a wave
        with lock:
            running[0] -= 1
        return i

    used = []
    backend.spread_each(work, range(9), used.append)
    assert used == list(range(9)) and most[0] == 2
