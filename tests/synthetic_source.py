"""A small synthetic Source for the state and view tests: clustered pairs with a modality gap,
hand-chosen captions (hostile ones on request) and tiny PNG images on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from explorer.embeddings import Embeddings
from explorer.images import FileImages
from explorer.pairs import PairSet
from explorer.sources import Source

WORDS = ("red circle", "blue square", "green triangle", "yellow star")
HOSTILE = (
    "<script>alert('x')</script> a cat",
    '<img src=x onerror="alert(1)"> a dog',
    "quotes \" and ' and & ampersands",
    "long " + "word " * 400,
)


def clustered_embeddings(n: int, d: int, gap: float, seed: int, n_clusters: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d)) * 2.0
    which = np.arange(n) % n_clusters
    g = np.zeros(d)
    g[0] = gap
    x = centres[which] + 0.3 * rng.normal(size=(n, d)) + g
    y = centres[which] + 0.3 * rng.normal(size=(n, d)) - g
    return x, y


def make_images(root: Path, n: int) -> FileImages:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        im = Image.new("RGB", (40 + i % 3, 30), ((i * 37) % 256, (i * 91) % 256, 120))
        name = f"img_{i}.png"
        im.save(root / name)
        names.append(name)
    return FileImages(root, names)


def make_source(
    n: int = 40,
    d: int = 16,
    *,
    gap: float = 1.5,
    seed: int = 0,
    models: Sequence[str] = ("A", "B"),
    image_dir: Path | None = None,
    hostile: bool = False,
    spec: str = "made:test",
) -> Source:
    n_clusters = 4
    captions = [f"a {WORDS[i % n_clusters]} number {i}" for i in range(n)]
    if hostile:
        for j, h in enumerate(HOSTILE):
            captions[j] = h
    images = make_images(image_dir, n) if image_dir is not None else None
    pairs = PairSet.build(captions, images, name="synthetic", recipe=spec)
    embs = {}
    for k, m in enumerate(models):
        x, y = clustered_embeddings(n, d, gap, seed + k, n_clusters)
        embs[m] = Embeddings.from_arrays(x, y, model=m, logit_scale=100.0, dtype=np.float64)
    return Source(spec, "synthetic", pairs, embs)
