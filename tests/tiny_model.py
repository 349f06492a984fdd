"""A small but real bi-modal torch model for fast pipeline tests.

Image tower: two strided convolutions, ReLU, global average pooling and a linear projection, on
images resized to 32×32 (bicubic) and normalised with the OpenAI mean/std. Text tower: UTF-8
bytes (plus a start token) through an embedding bag (mean) and a linear projection. Weights come
from a fixed torch seed, so two instances with the same seed are the same model (same `id`).
It implements the full :class:`~explorer.models.base.BimodalModel` interface, pickles (for dask
workers) and runs on any device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from explorer.models.base import BimodalModel

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
MAX_BYTES = 48


class TinyModel(BimodalModel):
    def __init__(self, dim: int = 16, image_size: int = 32, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.image_size = image_size
        self.image_net = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, dim),
        )
        self.text_net = nn.EmbeddingBag(258, 32, mode="mean", padding_idx=0)
        self.text_proj = nn.Linear(32, dim)
        with torch.no_grad():
            for p in list(self.image_net.parameters()) + list(self.text_net.parameters()) + list(self.text_proj.parameters()):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for m in (self.image_net, self.text_net, self.text_proj):
            m.eval()
        h = hashlib.sha256()
        for t in self.state_tensors():
            h.update(t.detach().cpu().numpy().tobytes())
        self.name = f"tiny-{seed}"
        self.preprocessing = f"resize {image_size} bicubic, OpenAI mean/std"
        self.id = f"tiny(dim={dim})@{h.hexdigest()[:16]}"
        self.logit_scale = 100.0
        self.device = "cpu"

    def state_tensors(self):
        return [*self.image_net.state_dict().values(), *self.text_net.state_dict().values(), *self.text_proj.state_dict().values()]

    def preprocess(self, image):
        from PIL import Image

        im = image.convert("RGB").resize((self.image_size, self.image_size), Image.BICUBIC)
        a = np.asarray(im, dtype=np.float32) / 255.0
        a = (a - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
        return torch.from_numpy(a.transpose(2, 0, 1).copy())

    def encode_image_tensors(self, batch):
        return self.image_net(batch)

    def tokenize(self, texts: Sequence[str]):
        out = torch.zeros((len(texts), MAX_BYTES + 1), dtype=torch.long)
        for k, t in enumerate(texts):
            b = list(t.encode("utf-8")[:MAX_BYTES])
            out[k, 0] = 257  # start token: an empty caption still has one token
            out[k, 1 : len(b) + 1] = torch.tensor([x + 1 for x in b], dtype=torch.long) if b else out[k, 1:1]
        return out

    def encode_token_tensors(self, tokens):
        return self.text_proj(self.text_net(tokens))

    def to(self, device: str) -> TinyModel:
        for m in (self.image_net, self.text_net, self.text_proj):
            m.to(device)
        self.device = device
        return self


class CountingModel(TinyModel):
    """TinyModel that counts image batches and can raise after a given number (an interruption)."""

    def __init__(self, *args, fail_after: int | None = None, exc: type[BaseException] = KeyboardInterrupt, **kw):
        super().__init__(*args, **kw)
        self.fail_after = fail_after
        self.exc = exc
        self.image_batches = 0
        self.images_seen = 0

    def encode_image_tensors(self, batch):
        if self.fail_after is not None and self.image_batches >= self.fail_after:
            raise self.exc("simulated interruption")
        self.image_batches += 1
        self.images_seen += int(batch.shape[0])
        return super().encode_image_tensors(batch)


def write_images(folder, n: int, size=(40, 30), seed: int = 0, fmt: str = "png") -> list:
    """Write `n` random RGB images named 0.png, 1.png, ... into `folder`; returns the paths."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        a = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        p = folder / f"{i}.{fmt}"
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


def load_tiny(arg: str, *, device: str = "cpu") -> TinyModel:
    """Model-loader signature (``tiny:SEED``) so tests can register the tiny model as a spec prefix."""
    return TinyModel(seed=int(arg or 0)).to(device)


def register(loaders=None) -> None:
    """Add the ``tiny`` prefix to explorer.models.MODEL_LOADERS (in this process)."""
    from explorer import models

    (models.MODEL_LOADERS if loaders is None else loaders)["tiny"] = "tiny_model:load_tiny"
