"""The issue's end-to-end check: `python -m explorer embed --dataset amumo:... --model cyclip:FILE
--export out.npy` on a synthesised CyCLIP-format file (random weights, published layout) equals a
plain open_clip RN50-quickgelu forward with the same weights and OpenAI preprocessing; likewise a
synthesised ml-jku CLOOB RN50 file, and a synthesised LAION-CLOOB pickle against the NumPy reference
of test_models_cloob_laion. A few pairs (--limit) keep it cheap: RN50 on CPU."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

synth = pytest.importorskip("synth_checkpoints", reason="needs tests/synth_checkpoints.py (model loaders)")
pytest.importorskip("explorer.models.cyclip")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 3


def embed_cli(tmp_path, dataset, model, name):
    out = tmp_path / f"{name}.npy"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "embed", "--dataset", dataset, "--model", model, "--limit", str(LIMIT),
         "--export", str(out), "--json", "--no-progress", "--device", "cpu"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return np.load(out), json.loads(proc.stdout)


def selected_pairs(dataset):
    from explorer.sources import load_pairs

    return load_pairs(dataset, limit=LIMIT, seed=0)


def test_cyclip_file_equals_open_clip_rn50_quickgelu(tmp_path, amumo_dir):
    dataset = f"amumo:{amumo_dir('MSCOCO-Val_size-100')}"
    ckpt = synth.write_cyclip_checkpoint(tmp_path / "cyclip-3M.pt", seed=3)
    got, info = embed_cli(tmp_path, dataset, f"cyclip:{ckpt}", "cyclip")
    assert got.shape == (2, LIMIT, 1024) and got.dtype == np.float32
    assert info["n"] == LIMIT and info["cache_hit"] is False
    pairs = selected_pairs(dataset)
    x, y = synth.openai_reference_embeddings(
        "RN50-quickgelu", synth.openai_layout_state_dict("RN50-quickgelu", 3, logit_scale=math.log(100.0)),
        [pairs.images.open(i) for i in range(LIMIT)], list(pairs.captions),
    )
    print(f"cyclip: max abs diff images {np.abs(got[0] - x).max():.2e}, texts {np.abs(got[1] - y).max():.2e}")
    assert np.abs(got[0] - x).max() < 1e-4
    assert np.abs(got[1] - y).max() < 1e-4


def test_cloob_rn50_file_equals_open_clip_rn50_quickgelu(tmp_path, amumo_dir):
    pytest.importorskip("explorer.models.cloob")
    dataset = f"amumo:{amumo_dir('MSCOCO-Val_size-100')}"
    ckpt = synth.write_cloob_checkpoint(tmp_path / "cloob_rn50_yfcc_epoch_28.pt", seed=5)
    got, _ = embed_cli(tmp_path, dataset, f"cloob:{ckpt}", "cloob")
    pairs = selected_pairs(dataset)
    x, y = synth.openai_reference_embeddings(
        "RN50-quickgelu", synth.openai_layout_state_dict("RN50-quickgelu", 5, logit_scale=math.log(30.0)),
        [pairs.images.open(i) for i in range(LIMIT)], list(pairs.captions),
    )
    print(f"cloob: max abs diff images {np.abs(got[0] - x).max():.2e}, texts {np.abs(got[1] - y).max():.2e}")
    assert np.abs(got[0] - x).max() < 1e-4
    assert np.abs(got[1] - y).max() < 1e-4


def test_cloob_laion_pickle_equals_the_numpy_reference(tmp_path, amumo_dir):
    """A synthesised cloob-training pickle (the published container and Haiku layout, small widths
    for speed) through the command line equals the NumPy forward pass of test_models_cloob_laion."""
    pytest.importorskip("explorer.models.cloob_laion")
    ref = pytest.importorskip("test_models_cloob_laion")
    dataset = f"amumo:{amumo_dir('MSCOCO-Val_size-100')}"
    ckpt = synth.write_cloob_laion_checkpoint(tmp_path / "cloob_laion_400m_vit_b_16.pkl", seed=4)
    got, _ = embed_cli(tmp_path, dataset, f"cloob-laion:{ckpt}", "laion")
    pairs = selected_pairs(dataset)
    image_params, text_params = synth.cloob_laion_params(4, synth.CLOOB_LAION_TINY)
    x = ref.ref_image(image_params, ref.ref_pixels([pairs.images.open(i) for i in range(LIMIT)]))
    y = ref.ref_text(text_params, ref.ref_tokens(list(pairs.captions)))
    print(f"cloob-laion: max abs diff images {np.abs(got[0] - x).max():.2e}, texts {np.abs(got[1] - y).max():.2e}")
    assert got.shape == (2, LIMIT, x.shape[1])
    assert np.abs(got[0] - x).max() < 1e-4
    assert np.abs(got[1] - y).max() < 1e-4
