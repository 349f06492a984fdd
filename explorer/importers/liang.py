"""Import Liang et al.'s feature files: ``liang:FILE.npy``, a float array of shape (2, N, D).

Index 0 holds the image (or video) embeddings, index 1 the paired text embeddings. Rows are
normalised again on load (fp16 models leave norms of 1 ± 1e-4); a large file is memory-mapped and
normalised in chunks into the store when needed (explorer.normalise). The files carry no captions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, MissingResourceError

#: file stem -> (model name, logit scale, where the scale comes from)
KNOWN_FILES = {
    "features_clip": ("CLIP ViT-B/16", 100.0, "OpenAI CLIP's trained exp(t), capped at 100"),
    "features_clip_random": ("CLIP ViT-B/16 (random init)", 1 / 0.07, "CLIP's initial exp(t) = 1/0.07"),
    "features_videoclip": ("VideoCLIP", 100.0, "assumed: VideoCLIP's scale is not in the file; pass --logit-scale"),
}


def load_stacked(path: Path) -> np.ndarray:
    """The (2, N, D) array, memory-mapped (never read whole into memory)."""
    if not path.is_file():
        raise MissingResourceError(f"embedding file not found: {path}")
    from .tables import load_numpy

    a = load_numpy(path, "npy", mmap=True)
    if a.ndim != 3 or a.shape[0] != 2:
        raise DataError(f"{path}: expected shape (2, N, D) (images, texts), got {a.shape}")
    return a


def import_liang(arg: str, *, logit_scale: float | None = None):
    path = Path(arg).expanduser()
    a = load_stacked(path)
    name, scale, why = KNOWN_FILES.get(path.stem, (path.stem, 100.0, "assumed; pass --logit-scale"))
    prov = {"source": f"liang:{path}", "file": str(path), "logit_scale_source": why}
    if logit_scale is not None:
        scale, prov["logit_scale_source"] = float(logit_scale), "override"
    elif why.startswith("assumed"):
        prov["note"] = f"logit scale {scale:g} {why}"
    from ..file_memo import file_stamp
    from ..normalise import embeddings_from_arrays

    stamp = file_stamp(path)
    content = f"liang:{stamp['file']}:{stamp['size']}:{stamp['mtime_ns']}"
    emb = embeddings_from_arrays(a[0], a[1], model=name, logit_scale=scale, provenance=prov, source=str(path), content_key=content)
    return None, {name: emb}
