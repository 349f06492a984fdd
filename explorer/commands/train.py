"""Train a small bi-modal model (a CNN for images, a word transformer for captions) with the
CLIP, CyCLIP or CLOOB objective, and write it as a model directory (model.safetensors,
model.json, loss_log.csv) that the explorer loads as ``own:DIR``.

The default data is the procedural shapes world with the *training* seed 1 (the explorer's
default evaluation world is seed 0): the first --n pairs train, the next --val pairs validate.

Examples:
  python -m explorer train --objective cloob --epochs 1
  python -m explorer train --objective clip --out runs/clip
  python -m explorer train --objective clip --logit-scale 100 --out runs/clip-s100   (fixed temperature 1/100)
  python -m explorer gap-table shapes --models own:runs/clip,own:clip
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..errors import SpecError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..data.shapes import TRAIN_SEED

    p.add_argument("--objective", choices=("clip", "cyclip", "cloob"), default="clip", help="training objective (default clip)")
    p.add_argument("--dataset", default="shapes",
                   help="training pairs: shapes (default; sized by --n, --val, --data-seed) or any dataset spec with images")
    p.add_argument("--n", type=int, default=5000, help="training pairs of the shapes world (default 5000)")
    p.add_argument("--val", type=int, default=500, help="validation pairs after the training pairs (default 500; 0: none)")
    p.add_argument("--data-seed", type=int, default=TRAIN_SEED, help=f"seed of the shapes world (default {TRAIN_SEED})")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and shuffling (default 0)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 15)")
    p.add_argument("--batch-size", type=int, default=None, help="pairs per batch (default 64)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate of AdamW (default 5e-4)")
    p.add_argument("--logit-scale", type=float, default=None, metavar="S",
                   help="train at the fixed logit scale S = 1/temperature in [1, 100] (clip, cyclip) instead of learning it "
                        "from 1/0.07 (CLIP's learned scale ends clamped at 100)")
    p.add_argument("--dim", type=int, default=None, help="embedding dimension (default 64)")
    p.add_argument("--out", default=None, help="output directory (default runs/own-OBJECTIVE)")
    p.add_argument("--force", action="store_true", help="overwrite a model already in --out")
    p.add_argument("--device", default="cpu", help="cpu (default; reproducible), cuda, mps or auto")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def canonical_command(args: argparse.Namespace, cfg, arch, out: Path) -> str:
    parts = ["python", "-m", "explorer", "train", "--objective", cfg.objective, "--dataset", args.dataset]
    if args.dataset == "shapes":
        parts += ["--n", str(args.n), "--val", str(args.val), "--data-seed", str(args.data_seed)]
    parts += ["--seed", str(cfg.seed), "--epochs", str(cfg.epochs), "--batch-size", str(cfg.batch_size),
              "--lr", repr(cfg.lr)]
    if cfg.logit_scale is not None:
        parts += ["--logit-scale", repr(float(cfg.logit_scale))]
    parts += ["--dim", str(arch.dim), "--device", cfg.device, "--out", str(out)]
    return " ".join(shlex.quote(p) for p in parts)


def load_training_pairs(args: argparse.Namespace):
    """(train PairSet, validation PairSet or None, data record)."""
    from ..sources import load_pairs, normalized_spec

    if args.n < 2 or args.val < 0:
        raise SpecError("--n must be at least 2 and --val at least 0")
    prefix, rest = normalized_spec(args.dataset)
    if prefix == "shapes" and not rest:
        from ..data.shapes import load_shapes

        pairs = load_shapes("", n=args.n + args.val, seed=args.data_seed)
        data = {"dataset": "shapes", "recipe": pairs.recipe, "train": f"pairs 0..{args.n - 1}",
                "val": f"pairs {args.n}..{args.n + args.val - 1}" if args.val else "none",
                "data_seed": args.data_seed, "fingerprint": pairs.fingerprint()}
        train = pairs.subset(range(args.n))
        val = pairs.subset(range(args.n, args.n + args.val)) if args.val else None
        return train, val, data
    pairs = load_pairs(args.dataset)
    n_val = min(args.val, len(pairs) // 5)
    train = pairs.subset(range(len(pairs) - n_val))
    val = pairs.subset(range(len(pairs) - n_val, len(pairs))) if n_val else None
    return train, val, {"dataset": args.dataset, "recipe": pairs.recipe, "fingerprint": pairs.fingerprint(),
                        "train": f"pairs 0..{len(train) - 1}", "val": f"last {n_val} pairs" if n_val else "none"}


def run(args: argparse.Namespace) -> int:
    from ..models import resolve_device
    from ..train.checkpoint import save_model
    from ..train.encoders import Architecture
    from ..train.loop import TrainConfig, objective_params, train, training_record

    out = Path(args.out or f"runs/own-{args.objective}")
    if (out / "model.safetensors").exists() and not args.force:
        raise SpecError(f"{out} already holds a model; pass --force to overwrite it or choose another --out")
    defaults = TrainConfig(args.objective)
    try:
        cfg = TrainConfig(
            args.objective,
            epochs=defaults.epochs if args.epochs is None else args.epochs,
            batch_size=defaults.batch_size if args.batch_size is None else args.batch_size,
            lr=defaults.lr if args.lr is None else args.lr,
            seed=args.seed,
            device=resolve_device(args.device),
            logit_scale=args.logit_scale,
        )
    except ValueError as exc:
        raise SpecError(str(exc)) from exc
    arch = Architecture(dim=args.dim) if args.dim else Architecture()
    train_pairs, val_pairs, data = load_training_pairs(args)
    result = train(train_pairs, cfg, val_pairs=val_pairs, arch=arch, progress=not args.quiet)
    command = canonical_command(args, cfg, result.net.arch, out)
    config = {
        "objective": cfg.objective,
        "logit_scale": result.logit_scale if cfg.objective != "cloob" else objective_params("cloob")["inv_tau"],
        "learned_logit_scale": cfg.objective != "cloob" and cfg.logit_scale is None,
        "objective_params": objective_params(cfg.objective),
        "training": training_record(result, command=command, data=data),
    }
    out.mkdir(parents=True, exist_ok=True)
    result.write_loss_log(out / "loss_log.csv")
    save_model(out, "model", result.net, result.vocab, config)
    last = result.epochs[-1]
    print(json.dumps({"model": f"own:{out}", "wall_time_s": round(result.wall_time_s, 1), **last}), file=sys.stdout)
    print(f"wrote {out}/model.safetensors, model.json, loss_log.csv; use it as --models own:{out}", file=sys.stderr)
    return 0
