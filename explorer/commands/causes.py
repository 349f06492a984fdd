"""Liang et al.'s (2022) two causes of the modality gap, reproduced with the project's own models.

cone: embed the shapes evaluation world with the own architecture at random initialisation
(several seeds; seed 0 is the network the shipped own: models were trained from; --batchnorm
batch: with batch statistics, as the first training step sees it) and with the
trained own:clip/cyclip/cloob, and compare with Liang's CLIP at random init and trained
(features_clip_random.npy / features_clip.npy): gap distance, cone (mean pairwise cosine within
each modality), centroid norms, the mean image-text cosine, the share of ‖Δ‖² in the top-k
coordinates of Δ.

temperature: train own:clip-architecture models on the shapes world (training seed 1) at fixed
logit scales s = 1/τ (train --logit-scale) and with the learned scale, then report on the
evaluation world the gap, the loss before and after closing the gap (each with the model's own
scale), R@1 and the cone, as a table (stdout; --json), and with --out a JSON file, an SVG plot and
the trained models (each loads as own:OUT/s100 etc.). The defaults are small so that a sweep
finishes (4 runs took 6-14 min each on two CPU cores shared with five other processes): they are
not the 5000-pair, 15-epoch runs of the shipped models.

Examples:
  python -m explorer causes cone --n 1000 --seeds 0,1,2,3,4
  python -m explorer causes temperature --scales 10,30,100,learned --out runs/temperature
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import SpecError
from .common import format_table, positive_int, print_json

LIANG_FILES = ("features_clip_random", "features_clip")


def default_liang_dir() -> str:
    root = os.environ.get("BIMODAL_EXPLORER_SHARED")
    return str(Path(root) / "data" / "liang2022") if root else "../shared/data/liang2022"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("cause", choices=("cone", "temperature"), help="which cause to reproduce")
    p.add_argument("--n", type=positive_int, default=None,
                   help="cone: pairs of the evaluation world shapes:N (default 1000); temperature: training pairs (default 2000)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="cone: comma-separated initialisation seeds (default 0,1,2,3,4)")
    p.add_argument("--models", default="clip,cyclip,cloob", help="cone: shipped own: models to compare (default clip,cyclip,cloob; '' none)")
    p.add_argument("--liang", default=None,
                   help="cone: folder with Liang's features_clip_random.npy and features_clip.npy "
                        "(default $BIMODAL_EXPLORER_SHARED/data/liang2022 or ../shared/data/liang2022; 'none' to skip)")
    p.add_argument("--batchnorm", choices=("eval", "batch"), default="eval",
                   help="cone: the random networks' BatchNorm: eval (default; as models are used, a fresh BatchNorm is the identity) "
                        "or batch (each 256 inputs' own statistics, as the first training step sees them)")
    p.add_argument("--top-k", type=positive_int, default=10, help="coordinates of Δ in the top-k share (default 10)")
    p.add_argument("--scales", default="10,30,100,learned",
                   help="temperature: comma-separated fixed logit scales in [1, 100] and/or 'learned' (default 10,30,100,learned)")
    p.add_argument("--val", type=int, default=250, help="temperature: validation pairs after the training pairs (default 250)")
    p.add_argument("--epochs", type=positive_int, default=4, help="temperature: epochs per run (default 4)")
    p.add_argument("--eval-n", type=positive_int, default=1000, help="temperature: pairs of the evaluation world measured (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="temperature: seed of initialisation and shuffling (default 0)")
    p.add_argument("--out", default=None, help="temperature: write sweep.json, sweep.svg and each run's model here")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="temperature: no per-run lines on stderr")


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SpecError(f"{what} must be comma-separated whole numbers, got {text!r}") from None


def parse_scales(text: str) -> list[float | None]:
    """'10,30,learned' -> [10.0, 30.0, None]; each fixed scale in [1, 100]."""
    out: list[float | None] = []
    for v in (s.strip() for s in text.split(",")):
        if not v:
            continue
        if v == "learned":
            out.append(None)
            continue
        try:
            s = float(v)
        except ValueError:
            raise SpecError(f"--scales: {v!r} is neither a number nor 'learned'") from None
        if not 1.0 <= s <= 100.0:
            raise SpecError(f"--scales: a fixed logit scale must lie in [1, 100] (CLIP's clamp), got {v}")
        out.append(s)
    if not out:
        raise SpecError("--scales names no scale")
    return out


def run(args: argparse.Namespace) -> int:
    return run_cone(args) if args.cause == "cone" else run_temperature(args)


def liang_rows(folder: str, top_k: int) -> list[dict]:
    from ..analysis.causes import cone_measures
    from ..importers.liang import load_stacked

    rows = []
    for stem in LIANG_FILES:
        a = load_stacked(Path(folder) / f"{stem}.npy")
        rows.append({"model": f"Liang {stem}", "kind": "liang-random" if stem.endswith("random") else "liang-trained",
                     **cone_measures(a[0], a[1], top_k)})
    return rows


def run_cone(args: argparse.Namespace) -> int:
    from ..analysis.causes import CONE_KEYS, seed_summary
    from ..data.shapes import load_shapes
    from ..train.causes import cone_study

    seeds = _ints(args.seeds, "--seeds")
    if not seeds:
        raise SpecError("--seeds names no seed")
    n = args.n or 1000
    if n < 2:
        raise SpecError("--n must be at least 2 pairs")
    pairs = load_shapes("", n=n)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rows = cone_study(pairs, seeds, models, args.top_k, batch_stats=args.batchnorm == "batch")
    folder = args.liang or default_liang_dir()
    if folder != "none":
        if all((Path(folder) / f"{s}.npy").is_file() for s in LIANG_FILES):
            rows += liang_rows(folder, args.top_k)
        else:
            print(f"note: Liang's files are not in {folder}; their rows are left out (--liang DIR)", file=sys.stderr)
    summary = seed_summary([r for r in rows if r["kind"] == "random"], CONE_KEYS)
    if args.json:
        print_json({"source": pairs.recipe, "seeds": seeds, "batchnorm": args.batchnorm, "rows": rows, "random_init_over_seeds": summary})
        return 0
    headers = ["Embeddings", "N", "D", "Gap", "Cone img", "Cone txt", "|mean img|", "|mean txt|", "img·txt cos", f"Top-{args.top_k} share"]
    table = [[r["model"], r["n"], r["dim"]] + [r[k] for k in CONE_KEYS] for r in rows]
    print(f"cone effect on {pairs.recipe} (own architecture) and Liang et al.'s CLIP features")
    print(format_table(headers, table))
    print(f"random init (BatchNorm: {args.batchnorm}) over seeds {','.join(map(str, seeds))}: " + ", ".join(
        f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in summary.items()))
    return 0


def run_temperature(args: argparse.Namespace) -> int:
    from ..data.shapes import load_shapes
    from ..train.causes import temperature_sweep
    from ..train.loop import TrainConfig

    scales = parse_scales(args.scales)
    n = args.n or 2000
    if n < 64 or args.val < 0:
        raise SpecError("--n must be at least one batch of 64 training pairs and --val at least 0")
    try:
        TrainConfig("clip", epochs=args.epochs)
    except ValueError as exc:
        raise SpecError(str(exc)) from exc
    out = Path(args.out) if args.out else None
    eval_pairs = load_shapes("", n=args.eval_n)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    settings = {"objective": "clip", "train": f"shapes world seed 1, pairs 0..{n - 1}", "val": args.val, "epochs": args.epochs,
                "seed": args.seed, "batch_size": 64, "eval": eval_pairs.recipe, "loss_batch": min(50, args.eval_n)}

    def save(rows: list[dict]) -> None:
        if out is None:
            return
        from ..svg_chart import line_panels_svg

        out.mkdir(parents=True, exist_ok=True)
        done = len(rows) == len(scales)
        (out / "sweep.json").write_text(json.dumps({"settings": settings, "complete": done, "rows": rows}, indent=1) + "\n",
                                        encoding="utf-8")
        (out / "sweep.svg").write_text(sweep_svg(rows, line_panels_svg), encoding="utf-8")

    rows = temperature_sweep(scales, n=n, val=args.val, epochs=args.epochs, eval_pairs=eval_pairs, seed=args.seed,
                             out=out, log=log, on_row=save)
    if out is not None:
        log(f"wrote {out}/sweep.json, {out}/sweep.svg and one model per run ({', '.join('own:' + r['path'] for r in rows)})")
    if args.json:
        print_json({"settings": settings, "rows": rows})
        return 0
    print(f"temperature sweep: {settings}")
    print(format_table(*sweep_table(rows)))
    return 0


def sweep_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    headers = ["Run", "Logit scale", "Gap", "Loss", "Closed loss", "Loss diff", "R@1 i→t", "R@1 t→i", "Cone img", "Cone txt",
               "Train loss", "Wall s"]
    return headers, [[r["model"], r["logit_scale"], r["original_distance"], r["original_loss"], r["closed_loss"], r["loss_difference"],
                      r["r1_image_to_text"], r["r1_text_to_image"], r["cone_image"], r["cone_text"], r["train_loss"], r["wall_time_s"]]
                     for r in rows]


def sweep_svg(rows: list[dict], line_panels_svg) -> str:
    """Gap, loss difference and R@1 i→t against the logit scale (log axis; the learned run marked)."""
    x = [r["logit_scale"] for r in rows]
    return line_panels_svg(x, [("gap distance", [r["original_distance"] for r in rows]),
                               ("loss after closing − before", [r["loss_difference"] for r in rows]),
                               ("R@1 image→text", [r["r1_image_to_text"] for r in rows])],
                           x_label="logit scale s = 1/τ (log)", log_x=True, title="own:clip architecture, shapes world",
                           marks=["learned" if r["fixed_scale"] is None else "" for r in rows])
