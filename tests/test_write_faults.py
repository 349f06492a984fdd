"""Faults while `embed` writes the store: file-size limit, full disk, kill -9, two writers, a
read-only folder, an entry altered after it was written.

Each case runs the real command in a subprocess bounded by a timeout, and checks: exit code, one
`error:` line naming the file and the cause (never a traceback), and no store entry or partial
folder left half-written (`store verify` clean where an entry exists).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from explorer.embeddings import Embeddings
from explorer.errors import StoreError
from explorer.store import EmbeddingStore, entry_key

ROOT = Path(__file__).resolve().parents[1]
EMBED = ["embed", "--dataset", "shapes:40", "--model", "own:clip", "--no-progress"]
TIMEOUT = 120


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "BIMODAL_EXPLORER_CACHE": "/nonexistent-default-cache"}


def explorer(*args, preexec_fn=None, timeout=TIMEOUT, wrapper=None):
    cmd = [sys.executable, "-c", wrapper, *args] if wrapper else [sys.executable, "-m", "explorer", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)


def assert_clear_failure(proc, *words):
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def assert_nothing_half_written(store: Path):
    entries = list((store / "entries").iterdir()) if (store / "entries").is_dir() else []
    assert entries == [], f"no entry after a failed write: {entries}"
    leftovers = list((store / "tmp").iterdir()) if (store / "tmp").is_dir() else []
    assert leftovers == [], f"no temporary or partial folder after a failed write: {leftovers}"


def verify_clean(store: Path) -> int:
    proc = explorer("store", "verify", "--root", str(store))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return len(list((store / "entries").iterdir()))


def fsize_limit(nbytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


def test_a_file_size_limit_too_small_for_the_store_is_one_clear_error(tmp_path):
    """Under `ulimit -f` the DataLoader workers could not hand batches over (shared-memory files
    hit the limit in their queue thread) and the run hung in a poll forever; now it fails in one
    sentence naming the shard file and the limit, and leaves nothing."""
    store = tmp_path / "s"
    proc = explorer(*EMBED, "--store", str(store), preexec_fn=fsize_limit(8 * 1024))
    line = assert_clear_failure(proc, "file-size limit", str(store))
    assert ".npz" in line or ".npy" in line, line
    assert_nothing_half_written(store)


def test_a_file_size_limit_that_fits_the_store_completes(tmp_path):
    """`ulimit -f 200` (200 KiB): the store files fit, so the run must finish (it hung before)."""
    store = tmp_path / "s"
    proc = explorer(*EMBED, "--store", str(store), preexec_fn=fsize_limit(200 * 1024))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert verify_clean(store) == 1


@contextlib.contextmanager
def small_filesystem(where: Path, free_kib: int):
    """A 600 KiB tmpfs with `free_kib` left free, mounted for the test (root only)."""
    where.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(where)], check=True, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and mount rights): {exc}")
    try:
        with open(where / "filler", "wb") as f:
            f.write(b"\0" * ((600 - free_kib) * 1024))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


@pytest.mark.parametrize("free_kib", [16, 40])  # 16: the shard writer fails; 40: the shards fit, the final entry does not
def test_a_full_disk_is_one_clear_error_and_leaves_nothing(tmp_path, free_kib):
    with small_filesystem(tmp_path / "mnt", free_kib) as mnt:
        store = mnt / "s"
        proc = explorer(*EMBED, "--store", str(store))
        assert_clear_failure(proc, "disk is full", str(store))
        assert_nothing_half_written(store)
        if free_kib == 16:
            return
        (mnt / "filler").unlink()  # space again: the same command now succeeds
        proc = explorer(*EMBED, "--store", str(store))
        assert proc.returncode == 0, proc.stderr
        assert verify_clean(store) == 1


def test_a_read_only_cache_folder_is_one_clear_error(tmp_path):
    store = tmp_path / "ro"
    store.mkdir()
    if os.geteuid() == 0:  # root writes through permission bits: a read-only mount instead
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(store)], check=True, capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"running as root and cannot mount a read-only folder: {exc}")
    else:
        store.chmod(0o555)
    try:
        proc = explorer(*EMBED, "--store", str(store))
        assert_clear_failure(proc, str(store), "read-only" if os.geteuid() == 0 else "permission denied")
        with pytest.raises(StoreError, match="cannot write"):
            EmbeddingStore(store).save(entry_key("d", "m"), Embeddings.from_arrays(np.eye(3), np.eye(3), model="m", logit_scale=1))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(store)], capture_output=True, timeout=20)
        else:
            store.chmod(0o755)


# small shards so that a 96-pair run has several (and a pause after each), and the pending shard count is printed
SHARDED = (
    "import sys, time, explorer.embed as e\n"
    "e.SHARD_TARGET = 16\n"
    "real = e.iter_shards\n"
    "def counting(model, images, captions, shards, **kw):\n"
    "    print(f'pending shards: {len(shards)}', file=sys.stderr, flush=True)\n"
    "    for shard in real(model, images, captions, shards, **kw):\n"
    "        yield shard\n"
    "        time.sleep(0.3)  # a window to kill the run between shards, and overlap for two writers\n"
    "e.iter_shards = counting\n"
    "from explorer.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
SHARDED_EMBED = ["embed", "--dataset", "shapes:96", "--model", "own:clip", "--no-progress", "--batch-size", "8", "--workers", "0"]


def test_kill_9_mid_run_then_a_rerun_resumes_and_the_store_verifies(tmp_path):
    store = tmp_path / "s"
    cmd = [sys.executable, "-c", SHARDED, *SHARDED_EMBED, "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        shards: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            shards = list((store / "tmp").glob("*.partial/shard-*.npz")) if (store / "tmp").is_dir() else []
            if len(shards) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert not (store / "entries").is_dir() or not list((store / "entries").iterdir()), "a killed run leaves no entry"
    finished = len(list((store / "tmp").glob("*.partial/shard-*.npz")))
    assert finished >= 2
    rerun = explorer(*SHARDED_EMBED, "--store", str(store), wrapper=SHARDED)
    assert rerun.returncode == 0, rerun.stderr
    pending = int(rerun.stderr.split("pending shards: ")[1].split()[0])
    assert pending == 6 - finished, f"the rerun computes only the missing shards ({finished} of 6 were finished): {pending}"
    assert verify_clean(store) == 1
    assert not list((store / "tmp").glob("*.partial")), "the partial folder is removed once the entry is stored"
    # the resumed entry equals an uninterrupted run of the same command
    from explorer.embed import embed_to_store
    from explorer.sources import load_pairs

    fresh = embed_to_store(load_pairs("shapes:96"), "own:clip", store=EmbeddingStore(tmp_path / "fresh"), device="cpu", batch_size=8,
                           num_workers=0, progress=False)
    (entry,) = EmbeddingStore(store).entries()
    assert entry.key == fresh.key
    resumed = EmbeddingStore(store).load(entry.key)
    np.testing.assert_array_equal(np.asarray(resumed.image), np.asarray(fresh.embeddings.image))
    np.testing.assert_array_equal(np.asarray(resumed.text), np.asarray(fresh.embeddings.text))


def test_two_processes_embedding_the_same_key_leave_one_valid_entry(tmp_path):
    """Before: the first to finish removed the partial folder while the other still wrote shards
    into it (FileNotFoundError traceback)."""
    store = tmp_path / "s"
    cmd = [sys.executable, "-c", SHARDED, *SHARDED_EMBED[:2], "shapes:48", *SHARDED_EMBED[3:], "--store", str(store)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err
    assert verify_clean(store) == 1
    assert not list((store / "tmp").iterdir()), "no temporary or partial folder left by either writer"


def test_an_entry_rewritten_in_place_with_its_time_restored_is_detected(tmp_path):
    """test_store covers flipped, truncated and deleted arrays of a never-read entry. Here the
    entry was read (so its checksum is remembered), then one byte was changed without changing
    the size and the modification time was put back: the remembered checksum must not vouch for it."""
    store = EmbeddingStore(tmp_path)
    key = entry_key("d", "m")
    store.save(key, Embeddings.from_arrays(np.eye(4) + 0.1, np.eye(4) - 0.1, model="m", logit_scale=1))
    store.load(key)  # verified once: remembered per file stamp
    f = store.path(key) / "image.npy"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x01
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(StoreError, match="checksum"):
        store.load(key)
    proc = explorer("gap-table", str(store.path(key)))
    assert_clear_failure(proc, "checksum", "image.npy")
