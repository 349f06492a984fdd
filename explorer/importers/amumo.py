"""Import an Amumo article export: ``amumo:DIR``.

One `Embeddings` per ``similarities/<MODEL>.csv`` (the full 2N×2N cosine-similarity matrix,
images first), recovered from the Gram matrix (see :mod:`explorer.importers.gram`) in float64.
``<MODEL>_nogap.csv`` files are the export's own gap-closed matrices: they are not separate
models, the tool recomputes closing itself (and the tests compare).

Logit scales. The article computed the loss with each model's own s = exp(t) in float32. Solving
the exported losses for s gives, for both the original and the closed matrix of both the MSCOCO
and the DiffusionDB export, the same value to 1e-12, and these are exactly float32 numbers:
OpenAI CLIP exp(float32(ln 100)) = 100.0000076, CyCLIP's trained t = 4.6052 → 100.0029602,
ml-jku CLOOB exp(float32(ln 30)) = 30.0000019; the LAION-400M CLOOB model uses a fixed
τ⁻¹ = 30. With the rounded 100, CyCLIP's loss differs from the export by 1e-5. ``--logit-scale``
overrides these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.amumo import load_amumo_pairs
from ..embeddings import Embeddings
from ..errors import DataError, MissingResourceError
from .gram import EXACT_TOLERANCE, check_similarity_matrix, vectors_from_gram

#: the article's model order and each model's own logit scale (see module docstring)
KNOWN_MODELS: dict[str, dict[str, Any]] = {
    "CLIP": {"logit_scale": float(np.float32(100.00000762939453)), "description": "OpenAI CLIP RN50"},
    "CyCLIP": {"logit_scale": float(np.float32(100.00296020507812)), "description": "CyCLIP RN50 (cyclip-3M)"},
    "CLOOB": {"logit_scale": float(np.float32(30.000001907348633)), "description": "CLOOB RN50 (ml-jku, YFCC)"},
    "CLOOB_LAION400M": {"logit_scale": 30.0, "description": "CLOOB ViT-B/16 (LAION-400M)"},
}
DEFAULT_LOGIT_SCALE = 100.0


def read_matrix_csv(path: Path) -> np.ndarray:
    try:
        s = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot be read as a comma-separated numeric matrix ({exc})") from exc
    return s


def model_files(folder: Path) -> dict[str, Path]:
    """{model: csv path} in the article's order, then any other models alphabetically."""
    sim_dir = folder / "similarities"
    if not sim_dir.is_dir():
        raise MissingResourceError(f"{folder}: no similarities/ folder; not an Amumo export")
    found = {p.stem: p for p in sim_dir.glob("*.csv") if not p.stem.endswith("_nogap")}
    if not found:
        raise DataError(f"{sim_dir}: no <MODEL>.csv similarity matrices")
    ordered = [m for m in KNOWN_MODELS if m in found] + sorted(m for m in found if m not in KNOWN_MODELS)
    return {m: found[m] for m in ordered}


def embeddings_from_matrix(s: np.ndarray, *, model: str, logit_scale: float, source: str, provenance: dict) -> Embeddings:
    """Embeddings recovered from a checked 2N×2N similarity matrix (images first)."""
    z, err = vectors_from_gram(s, source)
    n = s.shape[0] // 2
    prov = dict(provenance)
    prov["gram_reconstruction_max_error"] = err
    if err > EXACT_TOLERANCE:
        prov["note"] = (
            f"the exported matrix is not exactly positive semi-definite; inner products reproduce it to {err:.1e}"
        )
    return Embeddings.from_arrays(
        z[:n], z[n:], model=model, logit_scale=logit_scale, provenance=prov, source=source, dtype=np.float64
    )


def import_export(arg: str, *, logit_scale: float | None = None, models: list[str] | None = None):
    folder = Path(arg).expanduser()
    pairs = load_amumo_pairs(str(folder))
    out: dict[str, Embeddings] = {}
    for model, path in model_files(folder).items():
        if models is not None and model not in models:
            continue
        s = read_matrix_csv(path)
        check_similarity_matrix(s, str(path), expected_size=2 * len(pairs))
        known = KNOWN_MODELS.get(model)
        if logit_scale is not None:
            scale, scale_source = float(logit_scale), "override"
        elif known is not None:
            scale, scale_source = known["logit_scale"], "the model's own exp(t), as the article used"
        else:
            scale, scale_source = DEFAULT_LOGIT_SCALE, "assumed (unknown model); pass --logit-scale"
        prov = {
            "source": f"amumo:{folder}",
            "file": str(path),
            "method": "eigendecomposition of the exported similarity matrix",
            "logit_scale_source": scale_source,
        }
        if known is not None:
            prov["description"] = known["description"]
        if known is None and logit_scale is None:
            prov["note"] = f"logit scale {scale:g} assumed; pass --logit-scale"
        emb = embeddings_from_matrix(s, model=model, logit_scale=scale, source=str(path), provenance=prov)
        out[model] = emb
    return pairs, out


def export_reference(folder: Path | str, model: str, closed: bool = False) -> dict[str, Any]:
    """The export's own ``<MODEL>[_nogap]_meta_info.json`` (gap_distance, loss, cluster ordering)."""
    folder = Path(folder)
    path = folder / "similarities" / f"{model}{'_nogap' if closed else ''}_meta_info.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MissingResourceError(f"{path} not found") from exc
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
