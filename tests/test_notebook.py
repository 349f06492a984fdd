"""notebooks/getting_started.ipynb runs top to bottom (nbclient, a fresh kernel, its own
embedding store) on the embedded default, and shows what it promises: a gap table with one row
per model, labelled clusters, the gap closing with α, a text probe, a written report; with ../shared present
also the article's four real models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_outputs import cell_text, execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "getting_started.ipynb"


def _own_models_missing() -> str | None:
    from explorer.errors import ExplorerError
    from explorer.models import load_model

    try:
        load_model("own:clip", device="cpu")
    except ExplorerError as exc:
        return str(exc)
    return None


@pytest.mark.slow
def test_getting_started_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")

    missing = _own_models_missing()
    if missing:
        pytest.skip(f"the embedded default needs the project's own model weights: {missing}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook is committed without outputs"
    execute_notebook(nb, NOTEBOOK.parent, ROOT, timeout=600, drop_env=("EXPLORER_NOTEBOOK_SOURCE",))
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text = "\n".join(cell_text(c) for c in code)
    for model in ("own:clip", "own:cyclip", "own:cloob"):
        assert model in text, model
    assert "gap_distance_before" in text and "closed distance" in text  # the gap table
    assert "label" in text and "size" in text  # labelled clusters
    assert "report.html" in text
    assert "“a red circle” embedded by own:clip" in text  # the text probe, through the public API
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "sys.path" not in code and "explorer._" not in code, "the notebook uses only the public API"
    report = Path(next(line.split()[0] for line in text.splitlines() if line.strip().endswith("MB") and "report.html" in line))
    assert report.is_file() and report.stat().st_size > 100_000
    shared = Path(os.environ.get("BIMODAL_EXPLORER_SHARED", ROOT.parent / "shared")) / "data" / "amumo" / "MSCOCO-Val_size-100"
    if shared.is_dir():
        assert "CLOOB_LAION400M" in text, "the real models' section ran"
    else:
        assert "skipping the real models" in text
