"""A word vocabulary and tokenizer for the small text encoder.

Captions are split into lower-case words (``\\w+``, as the caption filter does); each word maps to
its id, unknown words to ``<unk>``. A sequence is ``<cls> w1 w2 ... <pad> ...`` of a fixed length
(`max_len`, words past it are dropped), so the encoding of a caption never depends on the other
captions in its batch. The text encoder reads its output at the ``<cls>`` position.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..pairs import caption_words

PAD, UNK, CLS = "<pad>", "<unk>", "<cls>"
SPECIAL = (PAD, UNK, CLS)


@dataclass(frozen=True)
class Vocabulary:
    """Words in id order; ids 0, 1, 2 are <pad>, <unk>, <cls>."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if tuple(self.words[:3]) != SPECIAL:
            raise ValueError(f"a vocabulary starts with {SPECIAL}, got {tuple(self.words[:3])}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    @classmethod
    def build(cls, captions: Iterable[str], *, min_count: int = 1, max_size: int = 20000) -> Vocabulary:
        """The words of `captions` seen at least `min_count` times, most frequent first (ties
        alphabetically), at most `max_size` words including the three special tokens."""
        counts = Counter(w for c in captions for w in caption_words(c))
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(SPECIAL + tuple(ranked[: max(0, max_size - len(SPECIAL))]))

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        return self._index.get(word, 1)

    def encode(self, text: str, max_len: int) -> list[int]:
        """Token ids of one caption, padded/truncated to `max_len` (first id is <cls>)."""
        ids = [2] + [self.id(w) for w in caption_words(text)][: max_len - 1]
        return ids + [0] * (max_len - len(ids))

    def tokenize(self, texts: Sequence[str], max_len: int):
        """(B, max_len) int64 tensor of token ids."""
        import torch

        return torch.tensor([self.encode(t, max_len) for t in texts], dtype=torch.long).reshape(len(texts), max_len)

    def unknown_share(self, texts: Sequence[str]) -> float:
        """Share of the words of `texts` that are not in the vocabulary (0 when there are none)."""
        words = [w for t in texts for w in caption_words(t)]
        return sum(w not in self._index for w in words) / len(words) if words else 0.0
