"""Print the article's gap table: for each source and model, the gap distance and the loss
before and after closing the gap (shift both modalities by half the gap vector, re-normalise),
their difference, and R@1 in both directions.

Examples:
  python -m explorer gap-table ../shared/data/amumo/MSCOCO-Val_size-100 --loss article
  python -m explorer gap-table ../shared/data/liang2022/features_clip.npy --json
  python -m explorer gap-table shapes --models own:clip,own:cyclip,own:cloob
"""

from __future__ import annotations

import argparse

from ..analysis.loss import VARIANTS
from ..engine.numbers import consistency, gap_table_row
from ..engine.space import PairSpace
from ..errors import DataError
from .common import add_source_options, format_table, open_from_args, positive_int, print_json, print_notes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("sources", nargs="+", metavar="SRC", help="source specs (amumo:DIR, liang:FILE.npy, shapes, ...)")
    p.add_argument(
        "--loss",
        choices=VARIANTS,
        default="symmetric",
        help="symmetric: ½(CE(L)+CE(Lᵀ)) (default); article: image→text CE only, as in the article's numbers",
    )
    p.add_argument("--batch", type=positive_int, default=50, help="pairs per loss batch (consecutive, remainder dropped; default 50)")
    p.add_argument("--consistency", action="store_true", help="also print mean|XXᵀ−YYᵀ| and mean|XYᵀ−YXᵀ| (text output)")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")
    add_source_options(p)


def run(args: argparse.Namespace) -> int:
    rows = []
    extra = []
    for spec in args.sources:
        source = open_from_args(spec, args)
        print_notes(source.notes)
        for model, emb in source.embeddings.items():
            batch = args.batch
            if emb.n < batch:
                raise DataError(
                    f"{spec} / {model}: {emb.n} pairs are fewer than one loss batch of {batch}; pass --batch {emb.n} or less"
                )
            space = PairSpace(emb.image, emb.text, key=("gap-table", spec, model))
            rows.append(gap_table_row(space, logit_scale=emb.logit_scale, source=spec, model=model, batch_size=batch, variant=args.loss))
            if args.consistency:
                extra.append(consistency(space))
    if args.json:
        print_json(rows)
        return 0
    headers = [
        "Source", "Model", "N", "Original Distance", "Original Loss", "Closed Distance", "Closed Loss",
        "Loss Difference", "R@1 i→t", "R@1 t→i",
    ]
    table = [
        [r["source"], r["model"], r["n"], r["original_distance"], r["original_loss"], r["closed_distance"],
         r["closed_loss"], r["loss_difference"], r["r1_image_to_text"], r["r1_text_to_image"]]
        for r in rows
    ]
    if args.consistency:
        headers += ["In-modal |D|", "Cross asym."]
        for t, e in zip(table, extra):
            t += [e["in_modal_difference"], e["cross_modal_asymmetry"]]
    print(format_table(headers, table))
    if args.consistency and any(not e["sample"].exact for e in extra):
        print(f"\nconsistency {next(e['sample'].describe() for e in extra if not e['sample'].exact)}")
    if any(r["n"] > 10_000 for r in rows):
        print("R@1 above 10,000 pairs: estimated from 1,000 seeded queries per direction against all pairs")
    print(f"\nloss: {args.loss} ({'image→text only, as in the article' if args.loss == 'article' else '½(image→text + text→image)'}), "
          f"batches of {args.batch}, each model's logit scale; closed = shift by Δ/2 each way, re-normalised")
    return 0
