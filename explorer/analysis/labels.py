"""N-gram labels for clusters of captions (the article's cluster labels).

Count every word n-gram (n = 1..77, English stop words removed, scikit-learn's tokenisation) over
a cluster's captions. Sort n-grams by (length, count) ascending; drop an n-gram when a later one
in that order contains it as a substring with at least its count (the article's rule: note that
"man" is contained in "woman"). The label is the top `top` remaining n-grams by count, joined
by " | ".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

#: scikit-learn's CountVectorizer defaults, which the article's labels were made with
TOKEN = re.compile(r"(?u)\b\w\w+\b")
ANALYSED_CACHE = 65_536


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def caption_ngrams(caption: str, max_n: int = 77) -> list[str]:
    """The word n-grams (n = 1..max_n) of one caption exactly as CountVectorizer(ngram_range=(1,
    max_n), stop_words="english") analyses it: lower-cased, tokens of two or more word characters,
    stop words removed, then every unigram, every bigram, … in order."""
    stop = _stop_words()
    words = [w for w in TOKEN.findall(caption.lower()) if w not in stop]
    out = list(words)
    for n in range(2, min(max_n, len(words)) + 1):
        out.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return out


class _Vocabulary:
    """Every n-gram seen gets an integer id; a caption's analysis is kept as an id array (about
    ANALYSED_CACHE captions, then both start over before a count), so a new clustering of the same captions
    (another model, k or block) counts with numpy instead of analysing and hashing strings again."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []
        self.captions: dict[tuple[str, int], np.ndarray] = {}

    def of(self, caption: str, max_n: int) -> np.ndarray:
        key = (caption, max_n)
        got = self.captions.get(key)
        if got is not None:
            return got
        grams = caption_ngrams(caption, max_n)
        with self.lock:
            ids, terms = self.ids, self.terms
            out = np.empty(len(grams), np.int64)
            for k, g in enumerate(grams):
                i = ids.get(g)
                if i is None:
                    i = ids[g] = len(terms)
                    terms.append(g)
                out[k] = i
            self.captions[key] = out
            return out


VOCABULARY = _Vocabulary()


def ngram_counts(captions: Sequence[str], max_n: int = 77) -> list[tuple[int, str]]:
    """(count, n-gram) over the captions in order of first occurrence (CountVectorizer's
    vocabulary order; the same counts, without building its sparse matrix)."""
    with VOCABULARY.lock:  # one consistent vocabulary for the whole count
        if len(VOCABULARY.captions) + len(captions) > ANALYSED_CACHE:
            VOCABULARY.clear()
        arrays = [VOCABULARY.of(str(c), max_n) for c in captions]
        terms = VOCABULARY.terms
    ids = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    if ids.size == 0:
        return []
    uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return [(int(counts[k]), terms[int(uniq[k])]) for k in order]


def ranked_ngrams(captions: Sequence[str], top: int | None = None, max_n: int = 77) -> list[tuple[str, int]]:
    """Distinct n-grams with counts, most frequent first; the first `top` (all if None).

    Exactly the article's rule, computed without comparing every pair of n-grams (which takes
    minutes for one 2,000-word prompt). An n-gram `a` (n words, count c) is dropped when an n-gram
    later in the (length, count) order contains it with count >= c. If any longer n-gram contains
    `a`, then so does one with n words (when `a` sits inside words, e.g. "man" in "woman") or n+1
    words (when it sits on word boundaries), with a count at least as high, since every
    occurrence of the longer one holds one of the shorter. So a candidate, taken in the final
    order until `top` are kept, is compared only with the n- and (n+1)-word n-grams.
    """
    grams = ngram_counts(captions, max_n)
    # the article's first ordering is by (length of the text, count), ascending, stable over the
    # first occurrence: "later in that order" is a comparison of (length, count, first occurrence)
    by_words: dict[int, list[tuple[int, int, int, str]]] = {}
    for i, (c, text) in enumerate(grams):
        by_words.setdefault(text.count(" ") + 1, []).append((len(text), c, i, text))

    def contained_elsewhere(text: str, count: int, i: int) -> bool:
        n, key = text.count(" ") + 1, (len(text), count, i)
        for k in (n, n + 1):
            for other in by_words.get(k, ()):
                if other[1] >= count and other[:3] > key and text in other[3]:
                    return True
        return False

    # final order: count descending, stable over the first ordering
    out: list[tuple[str, int]] = []
    for i in sorted(range(len(grams)), key=lambda i: (-grams[i][0], len(grams[i][1]), i)):
        count, text = grams[i]
        if contained_elsewhere(text, count, i):
            continue
        out.append((text, count))
        if top is not None and len(out) >= top:
            break
    return out


def cluster_label(captions: Sequence[str], top: int = 2) -> str:
    """The article's label of a cluster: its top n-grams joined by ' | ' ('' if none)."""
    return " | ".join(text for text, _ in ranked_ngrams(captions, top=top))
