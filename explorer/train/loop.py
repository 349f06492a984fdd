"""The training loop: pixels and captions in, a trained :class:`BimodalNet` and a loss log out.

All images are decoded once into a uint8 tensor (5000 shapes images at 64 px: 61 MB), captions
tokenised once. Each epoch shuffles the pairs with a generator seeded by `seed` and steps AdamW
(weight decay on weight matrices only) with a linear warm-up and cosine decay of the learning
rate. After every optimizer step the CLIP/CyCLIP temperature t is clamped to [0, ln 100]; with
``TrainConfig.logit_scale`` = S it is instead fixed at t = ln S for the whole run (not a parameter
the optimizer sees; Liang et al. 2022 train at fixed temperatures to show the gap grows with the
scale). After each epoch the objective's loss and R@1 are measured on held-out validation pairs.

Defaults (batch 64, peak lr 5e-4, 100 warm-up steps, 15 epochs, weight decay 0.05) are shared by
the three objectives so that they differ only in the loss. Why not a larger learning rate: at
lr 1e-3 CLOOB sat in its collapsed state (each modality's embeddings nearly equal, loss =
2·log(B−1)/τ⁻¹ ≈ 0.276 for B = 64) for its whole first epoch; at 3e-4 and 5e-4 it left that state
within about 100 steps. CLIP learns at both rates.

Same data, seed, hyper-parameters, torch version and thread count give the same weights; other
thread counts or devices may differ in the last bits (floating-point summation order).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..pairs import PairSet
from .encoders import Architecture, BimodalNet, image_to_uint8, uint8_to_input
from .objectives import LOGIT_T_MAX, OBJECTIVES, objective_loss
from .vocab import Vocabulary


@dataclass(frozen=True)
class TrainConfig:
    objective: str
    epochs: int = 15
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 100
    seed: int = 0
    device: str = "cpu"
    #: a fixed logit scale s = exp(t) in [1, 100] (CLIP/CyCLIP only); None: t is learned from ln(1/0.07)
    logit_scale: float | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.logit_scale is not None:
            if self.objective == "cloob":
                raise ValueError("CLOOB's inverse temperature is fixed at 30 already; a fixed logit scale is for clip and cyclip")
            if not 1.0 <= float(self.logit_scale) <= math.exp(LOGIT_T_MAX) + 1e-9:
                raise ValueError(f"a fixed logit scale must lie in [1, 100] (t = ln s in [0, ln 100], CLIP's clamp), got {self.logit_scale}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("need at least one epoch and batches of at least 2 pairs")
        if not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr}")


@dataclass
class TrainResult:
    net: BimodalNet
    vocab: Vocabulary
    config: TrainConfig
    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def logit_scale(self) -> float:
        return float(self.net.logit_t.detach().clamp(0, LOGIT_T_MAX).exp())

    def write_loss_log(self, path: Path | str) -> None:
        """One row per optimizer step: epoch, step, loss, lr, logit_scale."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["epoch", "step", "loss", "lr", "logit_scale"])
            w.writeheader()
            for row in self.steps:
                w.writerow({k: row[k] for k in w.fieldnames})


def decode_images(pairs: PairSet, size: int, progress: bool = True) -> torch.Tensor:
    """All images of `pairs` as a (N, 3, size, size) uint8 tensor."""
    from tqdm.auto import tqdm

    if pairs.images is None:
        raise DataError(f"{pairs.recipe}: training needs images, and this dataset has only captions/embeddings")
    out = np.empty((len(pairs), 3, size, size), dtype=np.uint8)
    for i in tqdm(range(len(pairs)), desc=f"images {pairs.name}", unit="img", disable=not progress, leave=False):
        out[i] = image_to_uint8(pairs.images.open(i), size)
    return torch.from_numpy(out)


def _param_groups(net: BimodalNet, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        if name == "logit_t" or not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "position" not in name and "token" not in name else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ] + ([{"params": [net.logit_t], "weight_decay": 0.0}] if net.logit_t.requires_grad else [])


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def evaluate(net: BimodalNet, objective: str, images: torch.Tensor, tokens: torch.Tensor, batch_size: int,
             device: str = "cpu") -> dict[str, float]:
    """Objective loss over consecutive batches (remainder dropped unless it is all there is) and
    R@1 in both directions over the whole set."""
    net.eval()
    xs, ys = [], []
    for start in range(0, len(images), 256):
        xs.append(net.encode_image(uint8_to_input(images[start:start + 256]).to(device)))
        ys.append(net.encode_text(tokens[start:start + 256].to(device)))
    x, y = torch.cat(xs), torch.cat(ys)
    b = min(batch_size, len(x))
    losses = [
        float(objective_loss(objective, x[s:s + b], y[s:s + b], net.logit_t)) for s in range(0, len(x) - b + 1, b)
    ]
    sim = (x @ y.T).double()
    true = sim.diagonal()
    r1_i2t = float(((sim > true[:, None]).sum(1) == 0).double().mean())
    r1_t2i = float(((sim.T > true[:, None]).sum(1) == 0).double().mean())
    return {"loss": float(np.mean(losses)), "r1_image_to_text": r1_i2t, "r1_text_to_image": r1_t2i}


def train(
    train_pairs: PairSet,
    config: TrainConfig,
    *,
    val_pairs: PairSet | None = None,
    arch: Architecture | None = None,
    vocab: Vocabulary | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`BimodalNet` on `train_pairs` with `config.objective`."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    arch = arch or Architecture()
    vocab = vocab or Vocabulary.build(train_pairs.captions)
    arch = Architecture.from_dict({**arch.to_dict(), "vocab_size": len(vocab)})
    if len(train_pairs) < config.batch_size:
        raise DataError(f"{train_pairs.recipe}: {len(train_pairs)} pairs are fewer than one batch of {config.batch_size}")
    images = decode_images(train_pairs, arch.image_size, progress)
    tokens = vocab.tokenize(train_pairs.captions, arch.max_len)
    if val_pairs is not None:
        val_images = decode_images(val_pairs, arch.image_size, progress)
        val_tokens = vocab.tokenize(val_pairs.captions, arch.max_len)

    torch.manual_seed(config.seed)
    net = BimodalNet(arch).to(config.device)
    if config.logit_scale is not None:
        with torch.no_grad():
            net.logit_t.fill_(math.log(float(config.logit_scale)))
        net.logit_t.requires_grad_(False)
    optimizer = torch.optim.AdamW(_param_groups(net, config.weight_decay), lr=config.lr, betas=(0.9, 0.98), eps=1e-6)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    shuffle = torch.Generator().manual_seed(config.seed)
    per_epoch = len(train_pairs) // config.batch_size  # remainder dropped: every batch is full
    total = per_epoch * config.epochs
    result = TrainResult(net, vocab, config)
    step = 0
    bar = tqdm(total=total, desc=f"train {config.objective}", unit="step", disable=not progress)
    try:
        for epoch in range(1, config.epochs + 1):
            net.train()
            order = torch.randperm(len(train_pairs), generator=shuffle)
            epoch_losses = []
            for b in range(per_epoch):
                idx = order[b * config.batch_size:(b + 1) * config.batch_size]
                factor = _lr_factor(step, total, config.warmup_steps)
                for g, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                    g["lr"] = lr * factor
                x = net.encode_image(uint8_to_input(images[idx]).to(config.device))
                y = net.encode_text(tokens[idx].to(config.device))
                loss = objective_loss(config.objective, x, y, net.logit_t)
                if not torch.isfinite(loss):
                    raise DataError(f"training diverged at step {step}: loss is {float(loss)}; lower --lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    net.logit_t.clamp_(0.0, LOGIT_T_MAX)
                step += 1
                value = float(loss.detach())
                epoch_losses.append(value)
                result.steps.append({"epoch": epoch, "step": step, "loss": value, "lr": base_lrs[0] * factor,
                                     "logit_scale": result.logit_scale if config.objective != "cloob" else ""})
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{value:.3f}")
            summary: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(epoch_losses))}
            if config.objective != "cloob":  # CLOOB's τ⁻¹ is fixed; t is not used
                summary["logit_scale"] = result.logit_scale
            if val_pairs is not None:
                ev = evaluate(net, config.objective, val_images, val_tokens, config.batch_size, config.device)
                summary.update({f"val_{k}": v for k, v in ev.items()})
            result.epochs.append(summary)
            bar.write(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    finally:
        bar.close()
    net.eval()
    result.wall_time_s = time.perf_counter() - t0
    return result


def training_record(result: TrainResult, *, command: str, data: dict[str, Any], extra: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """The `training` section of the model config: how to reproduce it and how it went."""
    import platform

    return {
        "command": command,
        "seed": result.config.seed,
        "data": data,
        **{k: v for k, v in asdict(result.config).items() if k not in ("objective", "seed")},
        "steps": len(result.steps),
        "wall_time_s": round(result.wall_time_s, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "epochs_log": result.epochs,
        **(extra or {}),
    }


def objective_params(objective: str) -> dict[str, float]:
    from . import objectives as o

    if objective == "cyclip":
        return {"lambda_in_modal": o.CYCLIP_LAMBDA_IN_MODAL, "lambda_cross_modal": o.CYCLIP_LAMBDA_CROSS_MODAL,
                "logit_t_init": o.LOGIT_T_INIT, "logit_t_max": o.LOGIT_T_MAX}
    if objective == "clip":
        return {"logit_t_init": o.LOGIT_T_INIT, "logit_t_max": o.LOGIT_T_MAX}
    return {"inv_tau": o.CLOOB_INV_TAU, "beta": o.CLOOB_BETA}
