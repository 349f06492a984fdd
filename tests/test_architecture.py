"""The analysis, data and model layers import no UI library (DESIGN.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "explorer"
UI = {"panel", "holoviews", "bokeh", "datashader", "ipywidgets", "jupyter_bokeh"}
PURE = ["analysis", "engine", "state", "data", "models", "importers", "train", "pairs.py", "store.py", "embeddings.py", "images.py",
        "sources.py", "normalise.py"]


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def pure_files():
    for name in PURE:
        p = PACKAGE / name
        if p.is_file():
            yield p
        elif p.is_dir():
            yield from sorted(p.rglob("*.py"))


@pytest.mark.parametrize("path", list(pure_files()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_ui_imports(path):
    bad = set(imported_modules(path)) & UI
    assert not bad, f"{path} imports {bad}"


def test_the_scan_sees_imports(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import holoviews as hv\nfrom panel import widgets\n")
    assert set(imported_modules(f)) == {"holoviews", "panel"}


def relative_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            yield "." * node.level + (node.module or "")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("explorer."):
            yield node.module


@pytest.mark.parametrize("path", sorted((PACKAGE / "state").glob("*.py")) + sorted((PACKAGE / "engine").glob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_state_and_engine_import_no_view_or_app_module(path):
    bad = [m for m in relative_imports(path) if m.lstrip(".").split(".")[0] in ("views", "app") or ".views" in m or ".app" in m]
    assert not bad, f"{path} imports {bad}"


def test_the_apps_entry_point_does_not_shadow_the_package():
    apps = PACKAGE.parent / "apps"
    assert not (apps / "explorer.py").exists(), "apps/explorer.py would be imported as the package `explorer`"
    assert "sys.path" not in (apps / "explorer_app.py").read_text()
