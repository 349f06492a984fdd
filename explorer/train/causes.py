"""Liang et al.'s two causes of the modality gap, reproduced with the project's own architecture.

- :func:`cone_study`: embed the shapes world with :class:`~explorer.train.encoders.BimodalNet`
  at random initialisation (``torch.manual_seed(seed)`` then the constructor, exactly as
  :func:`~explorer.train.loop.train` starts: seed 0 is the very network the shipped ``own:``
  models were trained from) for several seeds, and with the trained shipped models, and measure
  each with :func:`explorer.analysis.causes.cone_measures`. Networks are in eval mode, as the
  trained models are used (BatchNorm with its initial running statistics, mean 0 and variance 1).
- :func:`temperature_sweep`: train the ``own:clip`` architecture and objective on the shapes
  world at fixed logit scales (and with the learned one), then measure on the evaluation world
  the gap, the loss before and after closing the gap (with each model's own scale) and R@1
  (:func:`explorer.engine.numbers.gap_table_row`), plus the cone measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..analysis.causes import cone_measures
from ..pairs import PairSet
from .encoders import Architecture, BimodalNet, uint8_to_input
from .vocab import Vocabulary


@torch.no_grad()
def embed_net(net: BimodalNet, images: torch.Tensor, tokens: torch.Tensor, batch: int = 256,
              batch_stats: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(image, text) unit embeddings (float32 numpy) of uint8 images and token ids, in eval mode;
    with `batch_stats` in train mode instead: BatchNorm normalises with each chunk of `batch`
    inputs' own statistics, as in a training step (this updates the running statistics)."""
    net.train(batch_stats)
    xs, ys = [], []
    for s in range(0, len(images), batch):
        xs.append(net.encode_image(uint8_to_input(images[s:s + batch])))
        ys.append(net.encode_text(tokens[s:s + batch]))
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()


def random_init_net(arch: Architecture, seed: int) -> BimodalNet:
    """The network :func:`~explorer.train.loop.train` starts from with this seed."""
    torch.manual_seed(seed)
    return BimodalNet(arch).eval()


def encoded_inputs(pairs: PairSet, arch: Architecture, vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    from .loop import decode_images

    return decode_images(pairs, arch.image_size, progress=False), vocab.tokenize(pairs.captions, arch.max_len)


def cone_study(pairs: PairSet, seeds: Sequence[int] = (0, 1, 2, 3, 4), models: Sequence[str] = ("clip", "cyclip", "cloob"),
               top_k: int = 10, batch_stats: bool = False) -> list[dict[str, Any]]:
    """One row per random-init seed and per trained shipped model (``own:NAME``) on `pairs`.

    The random networks take the shipped models' architecture and vocabulary (the three share
    them), so the trained rows are comparable with their own initialisation. With `batch_stats`
    the random networks' BatchNorm uses batch statistics (chunks of 256), as the first training
    step sees them; in eval mode (the default, how models are used) a fresh BatchNorm is the
    identity, and the image encoder's output is dominated by its biases."""
    from ..models.own import load_own

    trained = {name: load_own(name) for name in models}
    first = next(iter(trained.values()), None) or load_own("clip")
    arch, vocab = first.net.arch, first.vocab
    images, tokens = encoded_inputs(pairs, arch, vocab)
    rows = []
    for seed in seeds:
        x, y = embed_net(random_init_net(arch, int(seed)), images, tokens, batch_stats=batch_stats)
        label = f"random init, seed {seed}" + (", batch stats" if batch_stats else "")
        rows.append({"model": label, "kind": "random", "batchnorm": "batch" if batch_stats else "eval", "seed": int(seed), **cone_measures(x, y, top_k)})
    for name, model in trained.items():
        if model.net.arch != arch or model.vocab.words != vocab.words:
            raise ValueError(f"own:{name} has another architecture or vocabulary than own:{next(iter(trained))}")
        x, y = embed_net(model.net, images, tokens)
        seed = model.config.get("training", {}).get("seed")
        rows.append({"model": f"own:{name}", "kind": "trained", "seed": seed, "logit_scale": model.logit_scale,
                     **cone_measures(x, y, top_k)})
    return rows


def sweep_label(scale: float | None) -> str:
    return "learned" if scale is None else f"s={scale:g}"


def train_command(cfg, n: int, val: int, data_seed: int, dim: int, out: Path) -> str:
    """The `train` command that trains the same model as one run of the sweep (same data split,
    seed and hyper-parameters)."""
    scale = [] if cfg.logit_scale is None else ["--logit-scale", repr(float(cfg.logit_scale))]
    return " ".join(["python -m explorer train --objective clip --dataset shapes", f"--n {n} --val {val} --data-seed {data_seed}",
                     f"--seed {cfg.seed} --epochs {cfg.epochs} --batch-size {cfg.batch_size} --lr {cfg.lr!r}", *scale,
                     f"--dim {dim} --device cpu --out {out}"])


def temperature_sweep(scales: Sequence[float | None], *, n: int, val: int, epochs: int, eval_pairs: PairSet,
                      seed: int = 0, data_seed: int = 1, batch_size: int = 64, out: Path | None = None,
                      progress: bool = False, log=print, on_row=None) -> list[dict[str, Any]]:
    """Train one own:clip-architecture model per scale (None: the learned scale) on the first `n`
    pairs of the shapes world `data_seed` and measure it on `eval_pairs`; each model is written to
    ``out/<label>`` when `out` is given; `on_row(rows)` is called after each run (to save partial
    results of a long sweep). Same seed and data for every scale: only t differs."""
    from ..data.shapes import load_shapes
    from ..engine.numbers import gap_table_row
    from ..engine.space import PairSpace
    from .checkpoint import save_model
    from .loop import TrainConfig, objective_params, train, training_record

    world = load_shapes("", n=n + val, seed=data_seed)
    train_pairs = world.subset(range(n))
    val_pairs = world.subset(range(n, n + val)) if val else None
    rows = []
    for scale in scales:
        cfg = TrainConfig("clip", epochs=epochs, batch_size=batch_size, seed=seed, logit_scale=scale)
        result = train(train_pairs, cfg, val_pairs=val_pairs, progress=progress)
        s = result.logit_scale
        images, tokens = encoded_inputs(eval_pairs, result.net.arch, result.vocab)
        x, y = embed_net(result.net, images, tokens)
        space = PairSpace(x, y, key=("temperature-sweep", sweep_label(scale), seed))
        row = gap_table_row(space, logit_scale=s, source=eval_pairs.recipe, model=sweep_label(scale),
                            batch_size=min(50, len(eval_pairs)))
        cone = cone_measures(x, y)
        last = result.epochs[-1]
        row.update({"fixed_scale": scale, "train_loss": last["train_loss"], "val_loss": last.get("val_loss"),
                    "cone_image": cone["cone_image"], "cone_text": cone["cone_text"],
                    "top_k_coordinate_share": cone["top_k_coordinate_share"], "wall_time_s": round(result.wall_time_s, 1)})
        if out is not None:
            d = Path(out) / sweep_label(scale).replace("=", "")
            data = {"dataset": "shapes", "recipe": world.recipe, "train": f"pairs 0..{n - 1}",
                    "val": f"pairs {n}..{n + val - 1}" if val else "none", "data_seed": data_seed}
            config = {"objective": "clip", "logit_scale": s, "learned_logit_scale": scale is None,
                      "objective_params": objective_params("clip"),
                      "training": training_record(result, command=train_command(cfg, n, val, data_seed, result.net.arch.dim, d), data=data)}
            save_model(d, "model", result.net, result.vocab, config)
            result.write_loss_log(d / "loss_log.csv")
            row["path"] = str(d)
        log(f"{sweep_label(scale)}: logit scale {s:.2f}, gap {row['original_distance']:.4f}, loss {row['original_loss']:.4f} "
            f"-> closed {row['closed_loss']:.4f}, R@1 i→t {row['r1_image_to_text']:.3f}, {result.wall_time_s:.0f} s")
        rows.append(row)
        if on_row is not None:
            on_row(rows)
    return rows
