"""Import Amumo's per-modality embedding caches: ``amumo-csv:PATH``.

Amumo (``amumo/utils.py``, ``get_embeddings_per_modality``) caches the raw features of each model
and modality in ``data_checkpoints/`` as ``<dataset>_<model_name>_<name>_<modality>-embedding.csv``
with every ``/`` replaced by ``-``: comma-separated, no header, one row per item, not normalised
(``np.savetxt``). For example ``MSCOCO-Val_size-100_CLIP_RN50_image-embedding.csv`` and
``..._text-embedding.csv``, or ``DiffusionDB_size-100_CLOOB-LAION400M_ViT-B-16_image-embedding.csv``.
The dataset part may contain underscores; the model name and the architecture do not, so the name
is read from the right.

PATH may be
- one cache file (either modality; its partner must sit beside it): that model;
- a folder (e.g. ``data_checkpoints/``): every model of the one dataset cached there (when the
  folder holds several datasets, name one with ``FOLDER/<dataset>``);
- ``FOLDER/<dataset>``: every model cached for that dataset.

Only the ``image`` and ``text`` modalities are read (ImageBind's other modalities are ignored).
The files carry no logit scale: the article's models get their own (CLIP, OpenCLIP and CyCLIP
100, the two CLOOB models 30, as in :mod:`explorer.importers.amumo`); any other model is assumed
100 with a note, and ``--logit-scale`` overrides. The caches hold no captions, so the source has
embeddings only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embeddings
from ..errors import DataError, MissingResourceError, SpecError
from .amumo import DEFAULT_LOGIT_SCALE, KNOWN_MODELS

CACHE_FILE = re.compile(r"^(?P<dataset>.+)_(?P<model>[^_]+)_(?P<arch>[^_]+)_(?P<modality>[^_]+)-embedding\.csv$")
#: Amumo's model_name -> the model name of the article's exports (same logit scales)
EXPORT_NAMES = {"CLIP": "CLIP", "CyCLIP": "CyCLIP", "CLOOB": "CLOOB", "CLOOB-LAION400M": "CLOOB_LAION400M"}
OTHER_SCALES = {"OpenCLIP": (100.0, "OpenCLIP with OpenAI weights (Amumo's list_openai_models)")}


def parse_cache_name(name: str) -> dict[str, str] | None:
    """{'dataset', 'model', 'arch', 'modality'} of an Amumo cache file name, or None."""
    m = CACHE_FILE.match(name)
    return m.groupdict() if m else None


def _caches_in(folder: Path, dataset: str | None) -> dict[tuple[str, str, str], dict[str, Path]]:
    """{(dataset, model, arch): {modality: path}} for the cache files in `folder`."""
    found: dict[tuple[str, str, str], dict[str, Path]] = {}
    for p in sorted(folder.glob("*-embedding.csv")):
        info = parse_cache_name(p.name)
        if info is None or (dataset is not None and info["dataset"] != dataset):
            continue
        found.setdefault((info["dataset"], info["model"], info["arch"]), {})[info["modality"]] = p
    return found


def read_feature_csv(path: Path) -> np.ndarray:
    import pandas as pd

    try:
        a = pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy()
    except Exception as exc:
        raise DataError(f"{path}: cannot be read as a comma-separated numeric matrix ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from exc
    if a.ndim != 2 or a.shape[0] == 0:
        raise DataError(f"{path}: expected one row of numbers per item, got shape {a.shape}")
    return a


def _select(arg: str) -> dict[tuple[str, str, str], dict[str, Path]]:
    path = Path(arg).expanduser()
    if path.is_file():
        info = parse_cache_name(path.name)
        if info is None:
            raise SpecError(f"{path}: not an Amumo cache file name (<dataset>_<model>_<arch>_<image|text>-embedding.csv)")
        caches = _caches_in(path.parent, info["dataset"])
        key = (info["dataset"], info["model"], info["arch"])
        return {key: caches.get(key, {})}
    if path.is_dir():
        caches = _caches_in(path, None)
        datasets = sorted({k[0] for k in caches})
        if len(datasets) > 1:
            raise SpecError(
                f"{path} holds the caches of {len(datasets)} datasets ({', '.join(datasets)}); "
                f"name one as amumo-csv:{path}/<dataset>"
            )
        if not caches:
            raise MissingResourceError(f"{path}: no Amumo cache files (*_image-embedding.csv, *_text-embedding.csv)")
        return caches
    if path.parent.is_dir():
        caches = _caches_in(path.parent, path.name)
        if caches:
            return caches
        raise MissingResourceError(f"no Amumo cache files for dataset {path.name!r} in {path.parent}")
    raise MissingResourceError(f"Amumo cache file or folder not found: {path}")


def import_amumo_csv(arg: str, *, logit_scale: float | None = None):
    """(None, {model: Embeddings}) from Amumo's per-modality CSV caches (module docstring)."""
    caches = _select(arg)
    out: dict[str, Embeddings] = {}
    for (dataset, model, arch), files in caches.items():
        prefix = f"{dataset}_{model}_{arch}"
        missing = [m for m in ("image", "text") if m not in files]
        if missing:
            have = next(iter(files.values()), None)
            folder = have.parent if have is not None else Path(arg).expanduser().parent
            raise MissingResourceError(
                f"{folder}: {prefix}_{missing[0]}-embedding.csv is missing (an Amumo cache needs both the image and the text file)"
            )
        image = read_feature_csv(files["image"])
        text = read_feature_csv(files["text"])
        name = EXPORT_NAMES.get(model, model)
        if sum(1 for k in caches if k[1] == model) > 1 or name in out:
            name = f"{name}/{arch}"
        prov: dict[str, Any] = {
            "source": f"amumo-csv:{arg}",
            "files": [str(files["image"]), str(files["text"])],
            "dataset": dataset,
            "amumo_model": model,
            "architecture": arch,
        }
        if logit_scale is not None:
            scale, prov["logit_scale_source"] = float(logit_scale), "override"
        elif EXPORT_NAMES.get(model) in KNOWN_MODELS:
            known = KNOWN_MODELS[EXPORT_NAMES[model]]
            scale, prov["logit_scale_source"] = known["logit_scale"], "the model's own exp(t), as the article used"
            prov["description"] = known["description"]
        elif model in OTHER_SCALES:
            scale, prov["logit_scale_source"] = OTHER_SCALES[model]
        else:
            scale = DEFAULT_LOGIT_SCALE
            prov["logit_scale_source"] = "assumed (unknown model); pass --logit-scale"
            prov["note"] = f"logit scale {scale:g} assumed for {model}; pass --logit-scale"
        out[name] = Embeddings.from_arrays(image, text, model=name, logit_scale=scale, provenance=prov, source=prefix)
    return None, out
