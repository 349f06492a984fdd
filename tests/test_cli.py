import subprocess
import sys

import numpy as np

from explorer.cli import main


def test_bad_sources_are_reported_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "explorer", "gap-table", str(tmp_path / "nope.npy")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error:") and "Traceback" not in r.stderr and "nope.npy" in r.stderr


def test_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "gap-table" in out and "clusters" in out


def test_gap_table_on_a_file_made_here(tmp_path, capsys):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(60, 8)) + 1.0
    txt = img + 0.3 * rng.normal(size=(60, 8)) - 1.0
    np.savez(tmp_path / "mine.npz", image=img, text=txt, logit_scale=50.0)
    assert main(["gap-table", str(tmp_path / "mine.npz"), "--batch", "20", "--consistency"]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "In-modal |D|" in out and "batches of 20" in out


def test_unknown_model_in_clusters(tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "m.npz", image=rng.normal(size=(5, 3)), text=rng.normal(size=(5, 3)))
    assert main(["clusters", str(tmp_path / "m.npz"), "--model", "nope"]) == 2
    assert "has no model 'nope'" in capsys.readouterr().err


def test_too_few_pairs_for_a_batch_is_a_clear_error(tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "few.npz", image=rng.normal(size=(10, 3)), text=rng.normal(size=(10, 3)))
    assert main(["gap-table", str(tmp_path / "few.npz")]) == 2
    assert "fewer than one loss batch of 50; pass --batch 10" in capsys.readouterr().err
    assert main(["gap-table", str(tmp_path / "few.npz"), "--batch", "10"]) == 0


def test_counts_must_be_positive(tmp_path, capsys):
    import pytest

    rng = np.random.default_rng(3)
    np.savez(tmp_path / "m.npz", image=rng.normal(size=(5, 3)), text=rng.normal(size=(5, 3)))
    for argv in (["clusters", str(tmp_path / "m.npz"), "--k", "0"], ["gap-table", str(tmp_path / "m.npz"), "--limit", "-1"],
                 ["gap-table", str(tmp_path / "m.npz"), "--batch", "0"], ["gap-table", str(tmp_path / "m.npz"), "--batch", "-3"],
                 ["report", "--source", str(tmp_path / "m.npz"), "--k", "0", "--out", str(tmp_path / "r.html")]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "must be at least 1" in capsys.readouterr().err


def test_train_refuses_zero_epochs_and_learning_rate(tmp_path, capsys):
    assert main(["train", "--objective", "clip", "--epochs", "0", "--out", str(tmp_path / "m")]) == 2
    assert "at least one epoch" in capsys.readouterr().err
    assert main(["train", "--objective", "clip", "--lr", "0", "--out", str(tmp_path / "m")]) == 2
    assert "learning rate must be positive" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
