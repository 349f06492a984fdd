"""The architecture of cloob-training's LAION-400M CLOOB models, in PyTorch.

cloob-training (crowsonkb) trained CLOOB ViT-B/16 on LAION-400M in JAX/Haiku. Its towers are not
OpenAI's and do not fit any open_clip configuration:

* **blocks**: pre-LayerNorm residual blocks, ``x + Attn(LN(x))`` then ``x + FF(LN(x))``; the
  attention has separate query/key/value/output Linear layers with bias (Haiku's
  ``MultiHeadAttention``, 64-dimensional heads), the feed-forward is Linear(d, 4d) -> GELU ->
  Linear(4d, d) with JAX's default *tanh-approximated* GELU (what the model was trained with;
  the repository's PyTorch port uses the exact erf GELU, a difference below 1e-3 per activation).
  LayerNorm eps = 1e-5.
* **image tower**: 16x16 patch convolution without bias, a class token prepended, learned
  positional embedding, the blocks, **no** ln_pre / ln_post; the class token goes through
  Linear(768 -> 512, bias) and is L2-normalised.
* **text tower**: token embedding + learned positional embedding, *bidirectional* attention, the
  output at **token 0** (the start-of-text token, not EOT) through Linear(512 -> 512, bias),
  L2-normalised.
* **the padding-mask quirk**: the text mask marks tokens up to and including the first EOT, but
  it is applied to the *query* rows (``mask[:, None, :, None]`` against logits of shape
  (batch, heads, query, key)), not to the keys. So real tokens attend to every position including
  padding, and each padding position attends uniformly to all positions (its whole logit row is
  replaced by -1e30). The mask itself is computed as ``cumsum(eot) == 0 | eot``, which Python
  parses as ``cumsum(eot) == (0 | eot)``. The model was trained this way; reproducing it exactly
  is what gives the published embeddings, so both quirks are kept.

Haiku stores Linear weights as (in, out) -> transposed here; Conv2D weights as HWIO -> permuted
(3, 2, 0, 1) to PyTorch's OIHW. Module paths are ``vi_t_image_encoder/...`` and
``text_encoder/...`` (``/~/`` separators, which Haiku writes for sub-modules built in
``__init__``, are accepted too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError

HEAD_SIZE = 64
IMAGE_ROOT = "vi_t_image_encoder"
TEXT_ROOT = "text_encoder"


@dataclass(frozen=True)
class CloobLaionConfig:
    """Sizes of a cloob-training model (defaults: the published LAION-400M ViT-B/16)."""

    d_embed: int = 512
    image_size: int = 224
    patch_size: int = 16
    image_width: int = 768
    image_layers: int = 12
    text_width: int = 512
    text_layers: int = 12
    context_length: int = 77
    vocab_size: int = 49408

    @property
    def image_heads(self) -> int:
        return self.image_width // HEAD_SIZE

    @property
    def text_heads(self) -> int:
        return self.text_width // HEAD_SIZE

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    def describe(self) -> str:
        return (f"ViT-{self.image_width}x{self.image_layers}/p{self.patch_size}@{self.image_size}"
                f"+text-{self.text_width}x{self.text_layers}/ctx{self.context_length}"
                f"->d{self.d_embed}")


def padding_query_mask(tokens: torch.Tensor, eot_token: int) -> torch.Tensor:
    """cloob-training's text mask, True up to and including the first EOT.

    Literally ``cumsum(eot) == (0 | eot)`` (the operator precedence of the original line): equal
    to "before or at the first EOT" for ordinary token rows; a second EOT is False.
    """
    eot = (tokens == eot_token).to(torch.long)
    return torch.cumsum(eot, dim=-1) == eot


class EncoderBlock(nn.Module):
    """Pre-LN block: separate q/k/v/out projections with bias, tanh-GELU feed-forward."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(width, eps=1e-5)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)
        self.ff_norm = nn.LayerNorm(width, eps=1e-5)
        self.ff_in = nn.Linear(width, 4 * width)
        self.ff_out = nn.Linear(4 * width, width)

    def attention(self, x: torch.Tensor, query_mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        q = self.query(x).view(b, t, h, d // h).transpose(1, 2)
        k = self.key(x).view(b, t, h, d // h).transpose(1, 2)
        v = self.value(x).view(b, t, h, d // h).transpose(1, 2)
        logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // h)
        attended = torch.matmul(logits.softmax(dim=-1), v)  # (b, h, t, d/h)
        if query_mask is not None:
            # A masked query row has every logit replaced by the same -1e30, so its softmax is
            # uniform: the row attends with weight 1/t to every position. Written as a mean
            # here so it also holds under fp16 autocast (where -1e30 would overflow).
            uniform = v.mean(dim=2, keepdim=True).expand_as(attended)
            attended = torch.where(query_mask[:, None, :, None], attended, uniform)
        return self.out(attended.transpose(1, 2).reshape(b, t, d))

    def forward(self, x: torch.Tensor, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attention(self.attn_norm(x), query_mask)
        return x + self.ff_out(F.gelu(self.ff_in(self.ff_norm(x)), approximate="tanh"))


class CloobLaionImageEncoder(nn.Module):
    def __init__(self, cfg: CloobLaionConfig):
        super().__init__()
        w = cfg.image_width
        self.patch_embed = nn.Conv2d(3, w, cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embed = nn.Parameter(torch.zeros(w))
        self.pos_embed = nn.Parameter(torch.zeros(cfg.grid * cfg.grid + 1, w))
        self.blocks = nn.ModuleList(EncoderBlock(w, cfg.image_heads) for _ in range(cfg.image_layers))
        self.proj = nn.Linear(w, cfg.d_embed)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2)  # (b, grid*grid, w), row-major
        cls = self.class_embed.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return F.normalize(self.proj(x[:, 0]), dim=-1)


class CloobLaionTextEncoder(nn.Module):
    def __init__(self, cfg: CloobLaionConfig):
        super().__init__()
        w = cfg.text_width
        self.eot_token = cfg.vocab_size - 1
        self.token_embed = nn.Embedding(cfg.vocab_size, w)
        self.pos_embed = nn.Parameter(torch.zeros(cfg.context_length, w))
        self.blocks = nn.ModuleList(EncoderBlock(w, cfg.text_heads) for _ in range(cfg.text_layers))
        self.proj = nn.Linear(w, cfg.d_embed)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = padding_query_mask(tokens, self.eot_token)
        x = self.token_embed(tokens) + self.pos_embed
        for block in self.blocks:
            x = block(x, mask)
        return F.normalize(self.proj(x[:, 0]), dim=-1)


class CloobLaionModel(nn.Module):
    def __init__(self, cfg: CloobLaionConfig):
        super().__init__()
        self.config = cfg
        self.visual = CloobLaionImageEncoder(cfg)
        self.text = CloobLaionTextEncoder(cfg)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.text(tokens)


def empty_model(cfg: CloobLaionConfig) -> CloobLaionModel:
    """The model on the meta device: shapes only, no memory, no initialisation cost."""
    with torch.device("meta"):
        return CloobLaionModel(cfg)


def build_model(cfg: CloobLaionConfig, state_dict: Mapping[str, torch.Tensor]) -> CloobLaionModel:
    """A CPU model holding exactly `state_dict` (tensors assigned, not copied)."""
    model = empty_model(cfg)
    model.load_state_dict(dict(state_dict), strict=True, assign=True)
    return model.eval()


# -- Haiku parameters -> this module's state dict ------------------------------------------------

_BLOCK_PARTS = {
    ("self_attention", "layer_norm"): ("attn_norm", "norm"),
    ("self_attention", "multi_head_attention", "query"): ("query", "linear"),
    ("self_attention", "multi_head_attention", "key"): ("key", "linear"),
    ("self_attention", "multi_head_attention", "value"): ("value", "linear"),
    ("self_attention", "multi_head_attention", "linear"): ("out", "linear"),
    ("feed_forward", "layer_norm"): ("ff_norm", "norm"),
    ("feed_forward", "linear_0"): ("ff_in", "linear"),
    ("feed_forward", "linear_1"): ("ff_out", "linear"),
}
_LEAVES = {"norm": {"scale": "weight", "offset": "bias"}, "linear": {"w": "weight", "b": "bias"}}


def _module_parts(path: str) -> list[str]:
    return [p for p in str(path).split("/") if p and p != "~"]


def _array(value: Any, *, path: Path, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu" or arr.dtype == object:
        raise DataError(f"{path}: parameter {where} is not a numeric array (dtype {arr.dtype})")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _convert_tree(params: Any, *, root: str, prefix: str, path: Path, embed_leaf: str
                  ) -> tuple[dict[str, torch.Tensor], set[int]]:
    """One Haiku tree -> {torch key: tensor}, and the set of block indices seen."""
    if not isinstance(params, Mapping) or not params:
        raise DataError(f"{path}: the {root} parameters are not a non-empty dict of modules")
    out: dict[str, torch.Tensor] = {}
    layers: set[int] = set()
    for module_path, leaves in params.items():
        parts = _module_parts(module_path)
        where = f"{module_path!r}"
        if not parts or parts[0] != root:
            raise DataError(f"{path}: unexpected module {where} in the {root} parameters")
        if not isinstance(leaves, Mapping):
            raise DataError(f"{path}: module {where} does not hold a dict of parameters")
        leaves = {str(k): _array(v, path=path, where=f"{module_path}/{k}") for k, v in leaves.items()}
        rest = parts[1:]

        def take(names: Mapping[str, str], target: str, transform=None, leaves=leaves, where=where):
            extra = set(leaves) - set(names)
            missing = set(names) - set(leaves)
            if extra or missing:
                raise DataError(
                    f"{path}: module {where} has parameters {sorted(leaves)}, expected {sorted(names)}"
                )
            for leaf, torch_name in names.items():
                t = torch.from_numpy(leaves[leaf])
                if transform is not None and torch_name == "weight":
                    t = transform(t)
                out[f"{prefix}{target}.{torch_name}" if target else f"{prefix}{torch_name}"] = t

        if rest == []:
            if root != IMAGE_ROOT:
                raise DataError(f"{path}: unexpected parameters {sorted(leaves)} in module {where}")
            take({"class_embed": "class_embed"}, "")
        elif rest == ["embed"] and root == IMAGE_ROOT:
            take({"w": "weight"}, "patch_embed", lambda w: _conv_weight(w, path=path))
        elif rest == ["embed"]:
            take({embed_leaf: "weight"}, "token_embed")
        elif rest == ["pos_embed"]:
            take({"w": "pos_embed"}, "")
        elif rest == ["proj"]:
            take(_LEAVES["linear"], "proj", _linear_weight)
        elif rest and (m := re.fullmatch(r"layer_(\d+)", rest[0])) and tuple(rest[1:]) in _BLOCK_PARTS:
            index = int(m.group(1))
            layers.add(index)
            target, kind = _BLOCK_PARTS[tuple(rest[1:])]
            take(_LEAVES[kind], f"blocks.{index}.{target}",
                 _linear_weight if kind == "linear" else None)
        else:
            raise DataError(f"{path}: unexpected module {where} in the {root} parameters")
    return out, layers


def _linear_weight(w: torch.Tensor) -> torch.Tensor:
    return w.t().contiguous() if w.ndim == 2 else w  # Haiku (in, out) -> torch (out, in)


def _conv_weight(w: torch.Tensor, *, path: Path) -> torch.Tensor:
    if w.ndim != 4:
        raise DataError(f"{path}: the patch embedding weight has shape {tuple(w.shape)}, expected HWIO")
    return w.permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW


def _layer_count(layers: set[int], *, path: Path, tower: str) -> int:
    if not layers or layers != set(range(len(layers))):
        raise DataError(f"{path}: the {tower} tower's blocks are not numbered layer_0..layer_N "
                        f"(found {sorted(layers)[:6]})")
    return len(layers)


def _shape(sd: Mapping[str, torch.Tensor], key: str, *, path: Path) -> tuple[int, ...]:
    if key not in sd:
        raise DataError(f"{path}: not a LAION-CLOOB checkpoint: parameter for {key} is missing")
    return tuple(sd[key].shape)


def config_and_state_from_haiku(image_params: Any, text_params: Any, *, path: Path
                                ) -> tuple[CloobLaionConfig, dict[str, torch.Tensor]]:
    """Infer the sizes from the parameter shapes and build the state dict of
    :class:`CloobLaionModel` (every key, every shape checked; DataError naming `path` if not)."""
    image_sd, image_layers = _convert_tree(image_params, root=IMAGE_ROOT, prefix="visual.",
                                           path=path, embed_leaf="w")
    text_sd, text_layers = _convert_tree(text_params, root=TEXT_ROOT, prefix="text.",
                                         path=path, embed_leaf="embeddings")
    sd = {**image_sd, **text_sd}
    width = _shape(sd, "visual.class_embed", path=path)[0]
    _, _, patch, _ = _shape(sd, "visual.patch_embed.weight", path=path)
    n_pos = _shape(sd, "visual.pos_embed", path=path)[0]
    grid = round(math.sqrt(max(n_pos - 1, 0)))
    if grid * grid + 1 != n_pos:
        raise DataError(f"{path}: image positional embedding has {n_pos} rows, not grid^2 + 1")
    vocab, text_width = _shape(sd, "text.token_embed.weight", path=path)
    context = _shape(sd, "text.pos_embed", path=path)[0]
    d_embed = _shape(sd, "visual.proj.weight", path=path)[0]
    if width % HEAD_SIZE or text_width % HEAD_SIZE:
        raise DataError(f"{path}: tower widths {width}/{text_width} are not multiples of the "
                        f"{HEAD_SIZE}-dimensional heads cloob-training uses")
    cfg = CloobLaionConfig(
        d_embed=d_embed, image_size=grid * patch, patch_size=patch, image_width=width,
        image_layers=_layer_count(image_layers, path=path, tower="image"),
        text_width=text_width, text_layers=_layer_count(text_layers, path=path, tower="text"),
        context_length=context, vocab_size=vocab,
    )
    expected = empty_model(cfg).state_dict()
    missing = [k for k in expected if k not in sd]
    if missing:
        raise DataError(f"{path}: not a complete LAION-CLOOB checkpoint: {len(missing)} "
                        f"parameter(s) missing, e.g. {', '.join(missing[:4])}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise DataError(f"{path}: LAION-CLOOB parameter for {k} has shape {tuple(v.shape)}, "
                            f"expected {tuple(expected[k].shape)} (from the other parameters)")
    return cfg, sd
