"""Turning a spec string into pairs and embeddings.

Two kinds of spec:
- **precomputed** sources carry embeddings already: ``amumo:DIR`` (an Amumo article export),
  ``liang:FILE.npy`` ((2, N, D) arrays), ``npz:FILE``, ``parquet:FILE``, ``clip-retrieval:DIR``,
  ``store:KEY`` or the path of a store entry directory.
- **datasets** carry pairs only and need models to embed them: ``coco:ROOT``,
  ``diffusiondb:ROOT``, ``pairs:FILE``, ``folder:DIR``, ``augment:KIND:IMAGE[:CAPTION]``,
  ``shapes[:N]``, ``webdataset:PATTERN`` (tar shards), ``hf-parquet:PATTERN``
  (Hugging Face parquet shards with image bytes) and ``amumo:DIR`` (its images and prompts).

A spec without a prefix is recognised from the path: a folder with ``similarities/`` is an Amumo
export, a folder with ``manifest.json`` a store entry, one with ``img_emb/`` a clip-retrieval
folder, ``.npy`` Liang et al.'s layout, ``.npz`` and
``.parquet`` tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data.skips import format_notes_for_cli
from .embeddings import Embeddings
from .errors import SpecError
from .pairs import PairSet, filter_captions

#: prefix -> "module:function"; function(arg: str, *, logit_scale: float | None) -> (PairSet | None, {model: Embeddings})
IMPORTERS: dict[str, str] = {
    "amumo": "explorer.importers.amumo:import_export",
    "liang": "explorer.importers.liang:import_liang",
    "npz": "explorer.importers.tables:import_npz",
    "parquet": "explorer.importers.tables:import_parquet",
    "store": "explorer.importers.store_entry:import_store_entry",
    "amumo-csv": "explorer.importers.amumo_csv:import_amumo_csv",
    "synthetic": "explorer.importers.synthetic:import_synthetic",
    "clip-retrieval": "explorer.importers.clip_retrieval:import_clip_retrieval",
}

#: prefix -> "module:function"; function(arg: str, **options) -> PairSet
DATASETS: dict[str, str] = {
    "amumo": "explorer.data.amumo:load_amumo_pairs",
    "shapes": "explorer.data.shapes:load_shapes",
    "coco": "explorer.data.coco:load_coco",
    "diffusiondb": "explorer.data.diffusiondb:load_diffusiondb",
    "pairs": "explorer.data.custom:load_pairs_file",
    "folder": "explorer.data.custom:load_folder",
    "augment": "explorer.data.augment:load_augmentation_series",
    "webdataset": "explorer.data.webdataset:load_webdataset",
    "hf-parquet": "explorer.data.hf_parquet:load_hf_parquet",
}


def resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("explorer"):
            raise SpecError(f"{module} is not part of this installation yet") from exc
        raise
    return getattr(mod, name)


def split_spec(spec: str) -> tuple[str | None, str]:
    """('amumo', '/path') for 'amumo:/path'; (None, spec) when there is no known prefix."""
    prefix, sep, rest = spec.partition(":")
    if sep and (prefix in IMPORTERS or prefix in DATASETS):
        return prefix, rest
    if not sep and (spec in DATASETS or spec in IMPORTERS):  # e.g. "shapes", "synthetic"
        return spec, ""
    return None, spec


def detect_prefix(path_like: str) -> str:
    """Guess the prefix of an unprefixed spec from what is on disk."""
    p = Path(path_like).expanduser()
    if p.is_dir():
        if (p / "similarities").is_dir():
            return "amumo"
        if (p / "manifest.json").is_file():
            return "store"
        if (p / "img_emb").is_dir():
            return "clip-retrieval"
        if (p / "annotations" / "captions_val2017.json").is_file():
            return "coco"
        if (p / "metadata.parquet").is_file():
            return "diffusiondb"
        raise SpecError(
            f"{p}: cannot tell what this folder is; prefix it with one of "
            f"{', '.join(sorted(set(IMPORTERS) | set(DATASETS)))}"
        )
    suffix = p.suffix.lower()
    if p.exists():
        if suffix == ".npy":
            return "liang"
        if suffix == ".npz":
            return "npz"
        if suffix == ".parquet":
            return "parquet"
        if suffix in (".csv", ".jsonl", ".tsv"):
            return "pairs"
        raise SpecError(f"{p}: unknown file type {suffix!r}; prefix the path with its kind (e.g. npz:, pairs:)")
    raise SpecError(f"{path_like}: no such file or folder, and not a known spec prefix")


def normalized_spec(spec: str) -> tuple[str, str]:
    prefix, rest = split_spec(spec)
    if prefix is None:
        prefix = detect_prefix(rest)
    return prefix, rest


@dataclass
class Source:
    """Pairs (when known) and the embeddings of one or more models over them."""

    spec: str
    name: str
    pairs: PairSet | None
    embeddings: dict[str, Embeddings]
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return list(self.embeddings)

    @property
    def n(self) -> int:
        if self.pairs is not None:
            return len(self.pairs)
        return next(iter(self.embeddings.values())).n

    def subset(self, indices: Sequence[int], suffix: str = "") -> Source:
        return Source(
            spec=self.spec + suffix,
            name=self.name,
            pairs=self.pairs.subset(indices, suffix) if self.pairs is not None else None,
            embeddings={m: e.subset(indices) for m, e in self.embeddings.items()},
            notes=list(self.notes),
        )


def load_pairs(spec: str, **options: Any) -> PairSet:
    """A dataset spec -> PairSet. Options: limit, seed, filter, filter_mode and loader-specific ones."""
    prefix, rest = normalized_spec(spec)
    if prefix not in DATASETS:
        raise SpecError(f"{spec}: a {prefix} source holds embeddings, not a dataset of images and captions")
    limit = options.pop("limit", None)
    seed = options.pop("seed", 0)
    words = options.pop("filter", None)
    mode = options.pop("filter_mode", "any")
    kind = options.pop("filter_kind", "substring")
    loader = resolve(DATASETS[prefix])
    pairs = loader(rest, **{k: v for k, v in options.items() if v is not None})
    return select_pairs(pairs, limit=limit, seed=seed, words=words, mode=mode, kind=kind)


def selection_indices(
    n: int, captions: Sequence[str] | None, *, limit: int | None = None, seed: int = 0, words: Any = None, mode: str = "any",
    kind: str = "substring", array: Any = None,
) -> tuple[Any, str]:
    """Indices kept by a caption filter (explorer.pairs.filter_captions: `kind` substring, word or
    regex; `array` the captions as a pyarrow array when known) and then a seeded random subset of
    `limit` (in dataset order).

    Returns (indices, a recipe suffix describing the selection, '' when everything is kept).
    """
    import numpy as np

    idx = np.arange(n)
    suffix = ""
    if words:
        if captions is None:
            raise SpecError("this source has no captions to filter")
        idx = filter_captions(captions, words, mode, kind, array=array)
        suffix += f" --filter {words!r} --filter-mode {mode}" + (f" --filter-kind {kind}" if kind != "substring" else "")
        if idx.size == 0:
            raise SpecError(f"no caption matches {words!r} ({kind}, mode {mode})")
    if limit is not None and limit < idx.size:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(idx, size=int(limit), replace=False))
        suffix += f" --limit {limit} --seed {seed}"
    return idx, suffix


def select_pairs(pairs: PairSet, *, limit: int | None = None, seed: int = 0, words: Any = None, mode: str = "any",
                 kind: str = "substring") -> PairSet:
    """Apply a caption filter, then a seeded random subset of `limit` pairs (kept in dataset order)."""
    idx, suffix = selection_indices(len(pairs), pairs.captions, limit=limit, seed=seed, words=words, mode=mode, kind=kind,
                                    array=pairs.caption_array() if words else None)
    return pairs.subset(idx.tolist(), suffix) if suffix else pairs


def open_source(
    spec: str,
    *,
    models: Sequence[str] | None = None,
    logit_scale: float | None = None,
    store: Any = None,
    device: str = "auto",
    progress: bool = True,
    **dataset_options: Any,
) -> Source:
    """Open `spec`: import precomputed embeddings, or embed a dataset with `models`."""
    prefix, rest = normalized_spec(spec)
    notes: list[str] = []
    if models:
        pairs = load_pairs(spec, **dataset_options)
        from .embed import align_skipped, embed_pairs

        notes.extend(format_notes_for_cli(pairs.notes))  # what the loader skipped, and why

        embeddings: dict[str, Embeddings] = {}
        for m in models:
            emb = embed_pairs(pairs, m, store=store, device=device, progress=progress)
            if logit_scale is not None:
                emb = emb.with_logit_scale(logit_scale)
            embeddings[m] = emb
        # pairs whose image could not be decoded are left out by the pipeline: keep the rest aligned
        pairs, embeddings, skip_notes = align_skipped(pairs, embeddings)
        notes.extend(skip_notes)
        return Source(spec, pairs.name, pairs, embeddings, notes)
    if prefix not in IMPORTERS:
        raise SpecError(
            f"{spec}: a {prefix} dataset has images and captions but no embeddings; "
            "name the models to embed it with (e.g. --models own:clip,own:cyclip,own:cloob)"
        )
    importer = resolve(IMPORTERS[prefix])
    pairs, embeddings = importer(rest, logit_scale=logit_scale)
    name = pairs.name if pairs is not None else Path(rest).stem or spec
    if pairs is not None:
        notes.extend(format_notes_for_cli(pairs.notes))  # what the reader noted (e.g. blank caption lines skipped)
    source = Source(spec, name, pairs, dict(embeddings), notes)
    for e in embeddings.values():
        note = e.provenance.get("note")
        if note:
            source.notes.append(f"{e.model}: {note}")
    idx, suffix = selection_indices(
        source.n,
        pairs.captions if pairs is not None else None,
        limit=dataset_options.get("limit"),
        seed=dataset_options.get("seed", 0),
        words=dataset_options.get("filter"),
        mode=dataset_options.get("filter_mode", "any"),
        kind=dataset_options.get("filter_kind", "substring"),
    )
    if suffix:
        source = source.subset(idx.tolist(), suffix)
    return source
