"""The benchmark scripts still run end to end (at toy sizes; no timing is asserted).

Benchmarks are not part of the suite's measurements (`make benchmarks` runs them at full size);
this only keeps them from rotting: a script that crashes measures nothing. Each must print its
ratio lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "embed": (["--model", "tiny", "--n", "8", "--rounds", "1", "--batch-size", "4", "--cache-n", "40", "--threads", "1"],
              ["pipeline / bare forward, wall time =", "cache hit, 40 pairs"]),
    "scale": (["--pairs", "300", "--dim", "16", "--size", "100"],
              ["zoom to 100² cells", "gap slider α=0.5", "× pass", "R@1/5/10 before and after"]),
    "hf_parquet": (["--pairs", "40", "--row-group", "7"], ["list the pairs:", "every image in pair order:", "images at random:"]),
    "serve": (["--pairs", "300", "--dim", "16", "--no-http"],
              ["cluster ordering on", "thumbnail, warm", "second session"]),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_script_runs(name, tmp_path):
    args, expected = RUNS[name]
    env = dict(os.environ, BIMODAL_EXPLORER_CACHE=str(tmp_path / "store"), HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for line in expected:
        assert line in out, f"{name}.py no longer prints {line!r}:\n{out[-3000:]}"
