"""Small encoders for the project's own models: a CNN for images, a transformer for captions.

Both map into one D-dimensional space (default D = 64); the losses normalise the outputs. Sizes
are chosen so that a model trains in minutes on two CPU cores and its weights are a few MB:

- :class:`ImageEncoder`: four stride-2 stages (3×3 convolutions, BatchNorm, GELU) from S×S
  pixels down to (4w)×S/16×S/16, then flattened (keeping *where* things are, which the captions'
  "above"/"left of"/"in the top left corner" need) and a two-layer MLP to D.
- :class:`TextEncoder`: word embeddings + learned positions, pre-LayerNorm transformer blocks
  with a padding mask, the output at the ``<cls>`` position, LayerNorm, a linear map to D.

:func:`image_to_tensor` is the preprocessing: resize the shorter side to S (bicubic), centre
crop, scale to [0, 1], normalise with mean 0.5 and std 0.25 per channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .objectives import LOGIT_T_INIT

IMAGE_MEAN = 0.5
IMAGE_STD = 0.25


@dataclass(frozen=True)
class Architecture:
    """Hyper-parameters of a :class:`BimodalNet` (stored in the model's JSON config)."""

    dim: int = 64
    image_size: int = 64
    cnn_width: int = 32
    image_hidden: int = 128
    vocab_size: int = 0
    text_width: int = 96
    text_layers: int = 2
    text_heads: int = 4
    max_len: int = 40

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        known = {k: int(v) for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def describe(self) -> str:
        return (f"cnn{self.cnn_width}-{self.image_size}px-tx{self.text_width}x{self.text_layers}"
                f"-v{self.vocab_size}-d{self.dim}")


def image_to_uint8(image, size: int) -> np.ndarray:
    """RGB PIL image -> (3, size, size) uint8 array: shorter side resized to `size` (bicubic),
    centre crop. Images already size × size pass through unchanged."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        image = image.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def image_to_tensor(image, size: int) -> torch.Tensor:
    """RGB PIL image -> (3, size, size) normalised float tensor (the model's preprocessing)."""
    return uint8_to_input(torch.from_numpy(image_to_uint8(image, size)))


def uint8_to_input(batch: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) uint8 pixels -> the normalised float input (as image_to_tensor produces)."""
    return (batch.float() / 255.0 - IMAGE_MEAN) / IMAGE_STD


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1),
        nn.BatchNorm2d(cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.GELU(),
    )


class ImageEncoder(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        w = arch.cnn_width
        if arch.image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, got {arch.image_size}")
        self.features = nn.Sequential(_stage(3, w), _stage(w, 2 * w), _stage(2 * w, 4 * w), _stage(4 * w, 4 * w))
        side = arch.image_size // 16
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(4 * w * side * side, arch.image_hidden), nn.GELU(), nn.Linear(arch.image_hidden, arch.dim)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        if arch.vocab_size < 4:
            raise ValueError("the text encoder needs a vocabulary")
        self.token = nn.Embedding(arch.vocab_size, arch.text_width)
        self.position = nn.Parameter(torch.zeros(arch.max_len, arch.text_width))
        nn.init.normal_(self.position, std=0.02)
        nn.init.normal_(self.token.weight, std=0.02)
        self.blocks = nn.ModuleList(_Block(arch.text_width, arch.text_heads) for _ in range(arch.text_layers))
        self.ln = nn.LayerNorm(arch.text_width)
        self.proj = nn.Linear(arch.text_width, arch.dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pad = tokens == 0
        x = self.token(tokens) + self.position[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x, pad)
        return self.proj(self.ln(x[:, 0]))


class BimodalNet(nn.Module):
    """Image and text encoders plus the learnable temperature t (used by CLIP and CyCLIP)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        self.image = ImageEncoder(arch)
        self.text = TextEncoder(arch)
        self.logit_t = nn.Parameter(torch.tensor(LOGIT_T_INIT))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(images), dim=1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text(tokens), dim=1)
