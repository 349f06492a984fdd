"""``synthetic:N[:D[:SEED[:DTYPE]]]``: N generated pairs with a realistic modality gap, at any size.

Made so that anyone can try the explorer on a million pairs without a GPU or a dataset. The two
models ("wide gap" and "narrow gap") embed the same N pairs; the geometry is that of real CLIP-like
models (measured on ../shared's exports): both modalities lie in a narrow cone around a common
direction, offset from each other along a gap direction; a pair's image and caption share its
topic (one of 24 clusters) and a per-pair latent, so matched pairs are more similar than
unmatched ones; 1 % of the pairs are planted mismatches (their caption describes another
topic's latent; ``metadata['planted'] == 'mismatched'``). Captions read "<adjective> <topic noun>
<setting>" from 100 adjectives, 24 nouns and 12 settings, so a one-word caption filter keeps about
1 % (an adjective), 4 % (a noun) or 8 % (a setting) of the pairs.

Pair i depends only on (SEED, i): it is generated in fixed chunks of `GEN_CHUNK` pairs, each from
its own seeded generator, straight into the embedding store (memory-mapped, float32 or float16,
rows L2-normalised), once per (N, D, SEED, DTYPE); later opens memory-map the stored entry. At
N = 1,000,000 and D = 512 an entry is 4 GB in float32 (2 GB in float16) per model.
"""

from __future__ import annotations

import numpy as np

from ..embeddings import Embeddings
from ..errors import SpecError
from ..pairs import PairSet
from ..store import EmbeddingStore, entry_key

VERSION = "synthetic-v2"
GEN_CHUNK = 65536
N_TOPICS = 24
ADJECTIVES = (
    "red orange yellow green blue purple pink brown black white grey golden silver striped spotted wooden metal glass "
    "plastic paper old new small large tiny huge tall short long round square bright dark shiny dusty wet dry frozen "
    "burning broken empty full busy quiet calm noisy happy sad sleepy angry curious shy proud brave fast slow heavy light "
    "soft hard smooth rough warm cold hot cool fresh rotten ripe young ancient modern rustic elegant simple fancy plain "
    "colourful pale vivid faded blurry sharp hidden open closed lonely crowded tidy messy famous strange ordinary rare "
    "common wild tame gentle fierce tiny-eyed"
).split()
NOUNS = ("cat dog horse bird boat train car bicycle pizza cake banana clock kite skateboard surfboard umbrella giraffe "
         "elephant zebra bear laptop phone bench vase").split()
SETTINGS = "on a beach|in a kitchen|on a street|in a park|at night|in the snow|near a river|in a city|on a table|in a forest|at a market|in a room".split("|")
#: (name, gap offset between the cones, noise) of the two models
MODELS = (("wide gap", 1.6, 1.0), ("narrow gap", 0.6, 0.8))
LOGIT_SCALE = 100.0
CONE = 1.1
LATENT = 0.35
MISMATCHED = 0.01


def parse(arg: str) -> tuple[int, int, int, str]:
    parts = [p for p in str(arg).split(":")]
    try:
        n = int(parts[0].replace("_", "")) if parts and parts[0] else 10_000
        dim = int(parts[1]) if len(parts) > 1 and parts[1] else 512
        seed = int(parts[2]) if len(parts) > 2 and parts[2] else 0
    except ValueError as exc:
        raise SpecError(f"synthetic:{arg}: expected synthetic:N[:D[:SEED[:DTYPE]]] with whole numbers") from exc
    dtype = parts[3] if len(parts) > 3 and parts[3] else "float32"
    if dtype not in ("float32", "float16"):
        raise SpecError(f"synthetic:{arg}: DTYPE must be float32 or float16, got {dtype!r}")
    if n < 2 or dim < 4:
        raise SpecError(f"synthetic:{arg}: needs N ≥ 2 pairs and D ≥ 4 dimensions")
    if len(parts) > 4:
        raise SpecError(f"synthetic:{arg}: too many fields; expected synthetic:N[:D[:SEED[:DTYPE]]]")
    return n, dim, seed, dtype


def _geometry(dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic centres, the cone direction and the gap direction (orthonormal directions)."""
    rng = np.random.default_rng([seed, 7])
    basis, _ = np.linalg.qr(rng.normal(size=(dim, 2)))
    centres = (rng.normal(size=(N_TOPICS, dim)) / np.sqrt(dim)).astype(np.float32)
    return centres, basis[:, 0], basis[:, 1]


def pair_table(n: int, seed: int) -> dict[str, np.ndarray]:
    """Per-pair topic, adjective, setting, mismatch flag and the mismatched caption's topic."""
    cols = {k: np.empty(n, dtype=np.int16) for k in ("topic", "adjective", "setting", "caption_topic")}
    cols["mismatched"] = np.empty(n, dtype=bool)
    for s in range(0, n, GEN_CHUNK):
        e = min(s + GEN_CHUNK, n)
        rng = np.random.default_rng([seed, 1, s // GEN_CHUNK])
        topic = rng.integers(0, N_TOPICS, e - s)
        cols["topic"][s:e] = topic
        cols["adjective"][s:e] = rng.integers(0, len(ADJECTIVES), e - s)
        cols["setting"][s:e] = rng.integers(0, len(SETTINGS), e - s)
        mism = rng.random(e - s) < MISMATCHED
        other = (topic + rng.integers(1, N_TOPICS, e - s)) % N_TOPICS
        cols["mismatched"][s:e] = mism
        cols["caption_topic"][s:e] = np.where(mism, other, topic)
    return cols


def fill_model(maps, n: int, dim: int, seed: int, model: int, table: dict[str, np.ndarray], progress=None) -> None:
    """Write model `model`'s image and text rows into the (memory-mapped) arrays, chunk by chunk."""
    _, gap, noise = MODELS[model]
    centres, cone, gap_dir = _geometry(dim, seed)
    for s in range(0, n, GEN_CHUNK):
        e = min(s + GEN_CHUNK, n)
        shared = np.random.default_rng([seed, 2, s // GEN_CHUNK])  # the pair latent: the same for both models
        own = np.random.default_rng([seed, 3, model, s // GEN_CHUNK])
        k = e - s
        scale = np.float32(LATENT / np.sqrt(dim))
        latent = shared.standard_normal((k, dim), dtype=np.float32)
        latent *= scale
        mism = table["mismatched"][s:e]
        other_latent = shared.standard_normal((int(mism.sum()), dim), dtype=np.float32) * scale
        offset = (CONE * cone + (gap / 2) * gap_dir).astype(np.float32)
        x = centres[table["topic"][s:e]] + latent + offset[None, :]
        y = centres[table["caption_topic"][s:e]] + latent + (offset - gap * gap_dir.astype(np.float32))[None, :]
        y[mism] += other_latent - latent[mism]
        noise_scale = np.float32(noise / np.sqrt(dim))
        x += own.standard_normal((k, dim), dtype=np.float32) * noise_scale
        y += own.standard_normal((k, dim), dtype=np.float32) * noise_scale
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        maps["image"][s:e] = x
        maps["text"][s:e] = y
        if progress is not None:
            progress(e, n)


def captions(table: dict[str, np.ndarray]) -> list[str]:
    adj = np.asarray(ADJECTIVES, dtype=object)[table["adjective"]]
    noun = np.asarray(NOUNS, dtype=object)[table["caption_topic"]]
    setting = np.asarray(SETTINGS, dtype=object)[table["setting"]]
    return [f"{a} {b} {c}" for a, b, c in zip(adj, noun, setting, strict=False)]


def synthetic_embeddings(n: int, dim: int, seed: int, dtype: str, store: EmbeddingStore | None = None,
                         table: dict[str, np.ndarray] | None = None, progress=None) -> dict[str, Embeddings]:
    """Both models' embeddings, generated into the store on first use and memory-mapped."""
    store = store or EmbeddingStore()
    table = pair_table(n, seed) if table is None else table
    out = {}
    recipe = f"synthetic:{n}:{dim}:{seed}:{dtype}"
    for i, (name, gap, noise) in enumerate(MODELS):
        key = entry_key(f"{VERSION}:{n}:{dim}:{seed}", name, dtype)
        prov = {"source": recipe, "generator": VERSION, "gap_offset": gap, "noise": noise, "content_key": f"{VERSION}:{key}"}
        if not store.contains(key):
            store.save_chunked(key, n=n, dim=dim, dtype=dtype, model=name, logit_scale=LOGIT_SCALE, provenance=prov,
                               dataset={"recipe": recipe},
                               fill=lambda maps, _p, i=i: fill_model(maps, n, dim, seed, i, table, progress))
        emb = store.load(key)
        out[name] = emb
    return out


def import_synthetic(arg: str, *, logit_scale: float | None = None):
    import pandas as pd

    n, dim, seed, dtype = parse(arg)
    table = pair_table(n, seed)
    embeddings = synthetic_embeddings(n, dim, seed, dtype, table=table)
    if logit_scale is not None:
        embeddings = {k: e.with_logit_scale(logit_scale) for k, e in embeddings.items()}
    meta = pd.DataFrame({"topic": np.asarray(NOUNS)[table["topic"]],
                         "planted": np.where(table["mismatched"], "mismatched", "")})
    pairs = PairSet.build(captions(table), None, name=f"synthetic-{n}", recipe=f"synthetic:{arg}", metadata=meta)
    return pairs, embeddings
