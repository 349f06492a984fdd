"""Shared fixtures. Tests that need ../shared (the Amumo exports, Liang et al.'s arrays) skip with
a clear reason when it is absent (a user's fresh clone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIMODAL_EXPLORER_SHARED", ROOT.parent / "shared")).resolve()
AMUMO = SHARED / "data" / "amumo"
LIANG = SHARED / "data" / "liang2022"
ARTIFACTS = ROOT / "test-artifacts"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the project's ../shared data, present in CI, absent in a fresh clone)")
    return path


@pytest.fixture
def amumo_dir():
    """Factory: amumo_dir('MSCOCO-Val_size-100') -> Path, skipping if ../shared is absent."""
    return lambda name="MSCOCO-Val_size-100": _need(AMUMO / name)


@pytest.fixture
def liang_file():
    return lambda name="features_clip.npy": _need(LIANG / name)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory, monkeypatch):
    """Every test gets its own embedding store unless it sets one itself, and an empty shared
    memo (explorer.engine.memo.MEMO: what one test computed is not another test's cache hit)."""
    from explorer.engine.memo import MEMO

    monkeypatch.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path_factory.mktemp("store")))
    MEMO.clear()
    MEMO.computed.clear()


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
