"""N-gram labels for clusters of captions (the article's cluster labels).

Count every word n-gram (n = 1..77, English stop words removed, scikit-learn's tokenisation) over
a cluster's captions. Sort n-grams by (length, count) ascending; drop an n-gram when a later one
in that order contains it as a substring with at least its count (the article's rule: note that
"man" is contained in "woman"). The label is the top `top` remaining n-grams by count, joined
by " | ".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def ngram_counts(captions: Sequence[str], max_n: int = 77) -> list[tuple[int, str]]:
    """(count, n-gram) in the vectoriser's vocabulary order (order of first occurrence)."""
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [str(c) for c in captions]
    vec = CountVectorizer(ngram_range=(1, max_n), stop_words="english")
    try:
        counts = vec.fit_transform(docs)
    except ValueError:  # only stop words or empty captions
        return []
    totals = np.asarray(counts.sum(axis=0)).ravel()
    return [(int(totals[i]), term) for term, i in vec.vocabulary_.items()]


def ranked_ngrams(captions: Sequence[str], top: int | None = None, max_n: int = 77) -> list[tuple[str, int]]:
    """Distinct n-grams with counts, most frequent first; the first `top` (all if None)."""
    grams = ngram_counts(captions, max_n)
    # the article's first ordering: by (length of the text, count), ascending, stable
    by_len = sorted(grams, key=lambda g: (len(g[1]), g[0]))
    position = {text: i for i, (_, text) in enumerate(by_len)}
    # final order: count descending, stable over by_len
    candidates = sorted(by_len, key=lambda g: -g[0])
    # any n-gram that can exclude `a` has count >= count(a); candidates is sorted by count,
    # so only a prefix needs scanning.
    counts_desc = np.array([c for c, _ in candidates])
    out: list[tuple[str, int]] = []
    for count, text in candidates:
        end = int(np.searchsorted(-counts_desc, -count, side="right"))
        p = position[text]
        excluded = any(
            position[other] > p and text in other
            for c2, other in candidates[:end]
            if other != text
        )
        if not excluded:
            out.append((text, count))
            if top is not None and len(out) >= top:
                break
    return out


def cluster_label(captions: Sequence[str], top: int = 2) -> str:
    """The article's label of a cluster: its top n-grams joined by ' | ' ('' if none)."""
    return " | ".join(text for text, _ in ranked_ngrams(captions, top=top))
