"""The one interface every bi-modal model implements.

A model turns PIL images and caption strings into float32, L2-normalised rows of one shared
space. `preprocess` (PIL → CHW tensor) is separate from `encode_image_tensors` so the embedding
pipeline can decode and preprocess in DataLoader workers while the model runs; likewise
`tokenize` and `encode_token_tensors` for text.

`id` names the architecture, a hash of the weights and the preprocessing, so that the embedding
store never mixes results of different weights under one name. `logit_scale` is the multiplier
s = exp(t) of the model (100 for OpenAI CLIP, 30 for CLOOB).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np


class BimodalModel(abc.ABC):
    #: short display name, e.g. "CLIP RN50 (openai)" or "own:clip"
    name: str
    #: architecture + weights hash + preprocessing; part of the embedding store key
    id: str
    #: exp(t): the factor applied to cosine similarities in the contrastive loss
    logit_scale: float
    #: human-readable preprocessing description, also part of the store key
    preprocessing: str = ""

    device: str = "cpu"

    @abc.abstractmethod
    def preprocess(self, image):
        """One RGB PIL image -> a CHW float tensor ready for `encode_image_tensors`."""

    @abc.abstractmethod
    def encode_image_tensors(self, batch):
        """(B, C, H, W) tensor on `self.device` -> (B, D) tensor (need not be normalised)."""

    @abc.abstractmethod
    def tokenize(self, texts: Sequence[str]):
        """Captions -> the token tensor `encode_token_tensors` takes."""

    @abc.abstractmethod
    def encode_token_tensors(self, tokens):
        """Token tensor on `self.device` -> (B, D) tensor (need not be normalised)."""

    def to(self, device: str) -> BimodalModel:
        """Move the weights to `device` ('cpu', 'cuda', 'mps'); returns self."""
        self.device = device
        return self

    # -- convenience: whole lists in, numpy unit rows out ----------------------------------
    def encode_images(self, images: Sequence) -> np.ndarray:
        import torch

        if len(images) == 0:
            return np.zeros((0, 0), np.float32)
        with torch.inference_mode():
            batch = torch.stack([self.preprocess(im) for im in images]).to(self.device)
            return _unit_rows(self.encode_image_tensors(batch))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if len(texts) == 0:
            return np.zeros((0, 0), np.float32)
        with torch.inference_mode():
            tokens = self.tokenize(list(texts))
            tokens = tokens.to(self.device) if hasattr(tokens, "to") else tokens
            return _unit_rows(self.encode_token_tensors(tokens))


def _unit_rows(t) -> np.ndarray:
    a = t.detach().float().cpu().numpy().astype(np.float64)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)
