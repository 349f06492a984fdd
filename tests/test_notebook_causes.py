"""notebooks/two_causes.ipynb runs top to bottom (nbclient, a fresh kernel) and shows what it
promises: the cone table at random init (several seeds, both BatchNorm modes) and trained, Liang's
rows when ../shared is present, and the toy temperature sweep as a table and an SVG plot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_outputs import cell_text, execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "two_causes.ipynb"


@pytest.mark.slow
def test_two_causes_notebook_runs():
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook is committed without outputs"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "toy size" in markdown and "python -m explorer causes temperature" in markdown
    execute_notebook(nb, NOTEBOOK.parent, ROOT, timeout=300)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [o for c in code for o in c.get("outputs", []) if o.output_type == "error"] == []
    text = "\n".join(cell_text(c) for c in code)
    for label in ("random init, seed 0", "random init, seed 2", "random init, seed 1, batch stats", "own:clip", "own:cloob",
                  "s=10", "s=100", "cone_image", "original_distance"):
        assert label in text, label
    svgs = [o for c in code for o in c.get("outputs", []) if o.output_type == "display_data" and "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 1 and svgs[0]["data"]["image/svg+xml"].count("<circle") == 6
    shared = Path(os.environ.get("BIMODAL_EXPLORER_SHARED", ROOT.parent / "shared")) / "data" / "liang2022" / "features_clip_random.npy"
    assert ("Liang features_clip_random" in text) == shared.is_file()
    assert ("skipping Liang" in text) != shared.is_file()
    source = "\n".join(c.source for c in code)
    assert "sys.path" not in source and "explorer._" not in source
