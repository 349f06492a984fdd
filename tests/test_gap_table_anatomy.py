"""`gap-table` with the gap anatomy: its JSON keys after the article's, its text section, and
Liang et al.'s trained and random-init CLIP embeddings (skipped without ../shared)."""

import json

import numpy as np
import pytest

from explorer.analysis import anatomy as A
from explorer.analysis.summary import GAP_TABLE_KEYS
from explorer.cli import main
from explorer.engine.anatomy import ANATOMY_KEYS


def _file(tmp_path, n=60, d=8):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(n, d)) + 1.0
    txt = img + 0.3 * rng.normal(size=(n, d))
    img[:, 2] += 3.0  # the gap lies mostly along coordinate 2
    np.savez(tmp_path / "mine.npz", image=img, text=txt, logit_scale=50.0)
    return tmp_path / "mine.npz", img / np.linalg.norm(img, axis=1, keepdims=True), txt / np.linalg.norm(txt, axis=1, keepdims=True)


def test_json_has_the_article_keys_then_the_anatomy_keys(tmp_path, capsys):
    path, x, y = _file(tmp_path)
    assert main(["gap-table", str(path), "--batch", "20", "--top-k", "2", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert tuple(row) == GAP_TABLE_KEYS + ANATOMY_KEYS
    assert row["top_k"] == 2
    _, shares = A.coordinate_gap_shares(x.mean(axis=0) - y.mean(axis=0))
    assert row["original_top_k_coordinates_share"] == pytest.approx(shares[:2].sum(), rel=1e-5)
    assert row["gap_dimensions"][0]["dimension"] == 2
    assert row["original_cone_image"] == pytest.approx(A.mean_pairwise_cosine(x), abs=1e-6)
    assert row["original_alignment"] == pytest.approx(A.alignment(x, y), rel=1e-5)


def test_text_output_has_a_short_anatomy_section(tmp_path, capsys):
    path, _, _ = _file(tmp_path)
    assert main(["gap-table", str(path), "--batch", "20"]) == 0
    out = capsys.readouterr().out
    assert "gap anatomy" in out and "Top-10 coords" in out and "Separability" in out
    assert "closing only the top-10 coordinates" in out and "largest coordinates of Δ: 2 (" in out
    lines = [line for line in out.splitlines() if line.startswith("mine")]
    assert any(" original " in line for line in lines) and any(" closed " in line for line in lines)


@pytest.mark.shared
def test_liang_clip_top_10_coordinates_and_the_random_init_gap_and_cone(liang_file, capsys):
    assert main(["gap-table", str(liang_file()), str(liang_file("features_clip_random.npy")), "--json"]) == 0
    trained, random = json.loads(capsys.readouterr().out)
    assert "random" in random["model"]
    # the issue: the top-10 coordinates of Δ hold about 80 % of ‖Δ‖² (0.8019 measured)
    assert trained["original_top_k_coordinates_share"] == pytest.approx(0.80, abs=0.02)
    assert random["original_distance"] > trained["original_distance"]
    for modality in ("image", "text"):  # a narrower cone: a larger mean pairwise cosine
        assert random[f"original_cone_{modality}"] > trained[f"original_cone_{modality}"]
    assert trained["original_separability"] > 0.95
    # closing only the 10 coordinates changes the loss about as much as closing the whole gap
    assert trained["top_k_loss_difference"] == pytest.approx(trained["loss_difference"], rel=0.05)
