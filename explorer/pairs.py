"""`PairSet`: the table of image–caption pairs that everything else indexes into.

The row index is the pair id everywhere: row i of the PairSet, of both embedding arrays, of a
projection, image row i and caption row N+i of the 2N x 2N similarity matrix. `ids` keeps the
dataset's own identifiers (COCO image ids, DiffusionDB image names, file stems) for display and
export only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import DataError, SpecError
from .images import ImageSource


@dataclass(frozen=True, eq=False)
class PairSet:
    """N image–caption pairs.

    captions: one string per pair.
    images: an ImageSource with N images, or None when only embeddings are known (e.g. Liang
        et al.'s feature files).
    ids: the dataset's own identifier for each pair (strings).
    name: a short human name ("MSCOCO-Val_size-100").
    recipe: the spec that rebuilds this set (``amumo:/path``, ``coco:ROOT --limit 500``).
    metadata: optional pandas DataFrame with one row per pair (any extra columns).
    """

    captions: tuple[str, ...]
    images: ImageSource | None
    ids: tuple[str, ...]
    name: str
    recipe: str
    metadata: Any = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.captions)
        if self.images is not None and len(self.images) != n:
            raise DataError(f"{self.recipe}: {len(self.images)} images but {n} captions")
        if len(self.ids) != n:
            raise DataError(f"{self.recipe}: {len(self.ids)} ids but {n} captions")
        if self.metadata is not None and len(self.metadata) != n:
            raise DataError(f"{self.recipe}: metadata has {len(self.metadata)} rows but there are {n} pairs")

    @classmethod
    def build(
        cls,
        captions: Iterable[str],
        images: ImageSource | None,
        *,
        name: str,
        recipe: str,
        ids: Iterable[Any] | None = None,
        metadata: Any = None,
        notes: Iterable[str] = (),
    ) -> PairSet:
        caps = tuple(map(str, captions))  # map: a third of a generator's time at a million captions
        id_tuple = tuple(map(str, ids if ids is not None else range(len(caps))))
        if len(set(id_tuple)) != len(id_tuple):
            seen: set[str] = set()
            dups = [i for i in id_tuple if i in seen or seen.add(i)]
            raise DataError(f"{recipe}: duplicate pair ids, e.g. {dups[:3]}")
        return cls(caps, images, id_tuple, name, recipe, metadata, tuple(notes))

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def n(self) -> int:
        return len(self.captions)

    def fingerprint(self) -> str:
        """Content hash: captions, ids and the image source's fingerprint (not the name).

        Computed once per PairSet (a file-backed source stats every file, which a thumbnail
        request must not repeat): a PairSet is a snapshot of its dataset when first used."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            cached = self._compute_fingerprint()
            object.__setattr__(self, "_fingerprint", cached)  # frozen; replace() never copies it
        return cached

    def _compute_fingerprint(self) -> str:
        h = hashlib.sha256(b"pairset-v1")
        for pid, cap in zip(self.ids, self.captions, strict=True):
            h.update(pid.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
            h.update(cap.encode("utf-8", "surrogatepass"))
            h.update(b"\n")
        h.update(b"images:" + (self.images.fingerprint().encode() if self.images is not None else b"none"))
        return h.hexdigest()

    def caption_array(self):
        """The captions as a pyarrow string array (built once per PairSet; the caption filter's input)."""
        cached = self.__dict__.get("_caption_array")
        if cached is None:
            cached = caption_array(self.captions)
            object.__setattr__(self, "_caption_array", cached)
        return cached

    def __memo_bytes__(self) -> int:
        """Estimated memory of the table (explorer.engine.memo): captions, ids, metadata."""
        from .engine.memo import nbytes

        n = len(self.captions)
        sample = self.captions[:: max(1, n // 200)]
        per = (sum(len(c) for c in sample) / max(len(sample), 1)) + 120  # str objects and two tuple slots
        return int(n * per + nbytes(self.metadata) + nbytes(self.__dict__.get("_caption_array")))

    def subset(self, indices: Sequence[int], recipe_suffix: str = "") -> PairSet:
        """The pairs `indices`, renumbered 0..len-1 in that order."""
        idx = [int(i) for i in indices]
        meta = None
        if self.metadata is not None:
            meta = self.metadata.iloc[idx].reset_index(drop=True)
        return replace(
            self,
            captions=tuple(self.captions[i] for i in idx),
            images=self.images.take(idx) if self.images is not None else None,
            ids=tuple(self.ids[i] for i in idx),
            recipe=self.recipe + recipe_suffix,
            metadata=meta,
        )

    def table(self):
        """A pandas DataFrame with columns pair_id, id, caption, image (+ metadata columns)."""
        import pandas as pd

        df = pd.DataFrame(
            {
                "pair_id": np.arange(self.n),
                "id": list(self.ids),
                "caption": list(self.captions),
                "image": [self.images.ref(i) for i in range(self.n)] if self.images is not None else [None] * self.n,
            }
        )
        if self.metadata is not None:
            extra = self.metadata.reset_index(drop=True)
            extra = extra[[c for c in extra.columns if c not in df.columns]]
            df = pd.concat([df, extra], axis=1)
        return df


_WORD = re.compile(r"\w+", re.UNICODE)


def caption_words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


FILTER_KINDS = ("substring", "word", "regex")
#: longest regular expression accepted by the caption filter
MAX_PATTERN = 500


def filter_terms(query: str | Sequence[str]) -> list[str]:
    """The terms of a filter query: comma- or semicolon-separated, else whitespace-separated."""
    if isinstance(query, str):
        terms = [t.strip() for t in re.split(r"[,;]", query) if t.strip()]
        if len(terms) == 1:
            terms = query.split()
        return terms
    return [str(t).strip() for t in query if str(t).strip()]


def caption_array(captions: Sequence[str]):
    """The captions as one pyarrow string array (cached on a PairSet's caption tuple's owner by
    callers; building it for a million captions takes a fraction of a second)."""
    import pyarrow as pa

    return pa.array(list(captions), type=pa.large_string())


def filter_captions(captions: Sequence[str], query: str | Sequence[str], mode: str = "any", kind: str = "substring",
                    array=None) -> np.ndarray:
    """Indices of captions matching the query, case-insensitively (an empty query keeps all).

    kind="substring" (Amumo's behaviour, the default): a term matches any caption containing it
    ("dog" keeps "dogs" and "hotdog"). kind="word": a term matches a whole word of the caption, or
    a run of consecutive words when it has several ("hot dog"). kind="regex": the whole query is one
    regular expression (RE2 syntax, linear time, at most MAX_PATTERN characters), searched in each
    caption. mode="any": a caption matching at least one term; "all": every term (substring, word).
    `array`: the captions as a pyarrow array (caption_array) when the caller keeps one.
    """
    if mode not in ("any", "all"):
        raise ValueError(f"filter mode must be 'any' or 'all', got {mode!r}")
    if kind not in FILTER_KINDS:
        raise ValueError(f"filter kind must be one of {FILTER_KINDS}, got {kind!r}")
    if kind == "regex":
        pattern = query if isinstance(query, str) else " ".join(query)
        pattern = pattern.strip()
        if not pattern:
            return np.arange(len(captions))
        if len(pattern) > MAX_PATTERN:
            raise SpecError(f"the regular expression is {len(pattern)} characters long; at most {MAX_PATTERN} are accepted")
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = caption_array(captions) if array is None else array
        try:
            hit = pc.match_substring_regex(arr, pattern, ignore_case=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SpecError(f"not a valid regular expression {pattern[:80]!r}: {str(exc).splitlines()[0][:200]}") from exc
        return np.flatnonzero(hit.to_numpy(zero_copy_only=False)).astype(np.int64)
    terms = filter_terms(query)
    if kind == "substring":
        terms = [t for t in terms if t]
        if not terms:
            return np.arange(len(captions))
        import pyarrow.compute as pc

        arr = caption_array(captions) if array is None else array
        hits = [pc.match_substring(arr, t, ignore_case=True).to_numpy(zero_copy_only=False) for t in terms]
        keep = np.logical_or.reduce(hits) if mode == "any" else np.logical_and.reduce(hits)
        return np.flatnonzero(keep).astype(np.int64)
    phrases = [tuple(caption_words(t)) for t in terms]
    phrases = [p for p in phrases if p]
    if not phrases:
        return np.arange(len(captions))

    def has(words: list[str], phrase: tuple[str, ...]) -> bool:
        k = len(phrase)
        return any(tuple(words[j : j + k]) == phrase for j in range(len(words) - k + 1))

    combine = any if mode == "any" else all
    keep = [i for i, c in enumerate(captions) if combine(has(caption_words(c), p) for p in phrases)]
    return np.asarray(keep, dtype=np.int64)


def count_matches(captions: Sequence[str], query: str, mode: str = "any", kind: str = "substring", array=None) -> int:
    """How many captions the filter `query` keeps (len of :func:`filter_captions`; all of them for
    an empty query). Raises SpecError for a bad regular expression, as the filter does."""
    return int(filter_captions(captions, query, mode, kind, array=array).size)


def all_same(array, indices: np.ndarray) -> bool:
    """Whether the captions at `indices` (at least two) of a pyarrow string array are one text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = np.asarray(indices, dtype=np.int64)
    if idx.size < 2:
        return False
    chosen = pc.take(array, pa.array(idx))
    return bool(pc.all(pc.equal(chosen, chosen[0])).as_py())
