"""A PyTorch module with ``encode_image`` / ``encode_text`` behind the BimodalModel API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import BimodalModel


class TorchBimodalModel(BimodalModel):
    """Wraps `module` (eval mode, no gradients) with its image transform and tokenizer.

    `transform` (PIL -> CHW tensor) and `tokenizer` (list of str -> token tensor) are plain
    picklable callables so the embedding pipeline can run them in DataLoader workers.
    `provenance` records where the weights came from (file, digest, where s came from); the
    embedding pipeline can copy it into the Embeddings it writes.
    """

    def __init__(self, module, *, transform, tokenizer, name: str, id: str, logit_scale: float,
                 preprocessing: str, provenance: Mapping[str, Any] | None = None,
                 device: str = "cpu"):
        self.module = module.eval().requires_grad_(False)
        self._transform = transform
        self._tokenizer = tokenizer
        self.name = name
        self.id = id
        self.logit_scale = float(logit_scale)
        self.preprocessing = preprocessing
        self.provenance = dict(provenance or {})
        self.device = "cpu"
        self.to(device)

    def preprocess(self, image):
        return self._transform(image)

    def encode_image_tensors(self, batch):
        return self.module.encode_image(batch)

    def tokenize(self, texts: Sequence[str]):
        return self._tokenizer(list(texts))

    def encode_token_tensors(self, tokens):
        return self.module.encode_text(tokens)

    def to(self, device: str) -> TorchBimodalModel:
        self.module.to(device)
        self.device = device
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, id={self.id!r}, device={self.device!r})"
