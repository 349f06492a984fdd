"""Print the article's gap table: for each source and model, the gap distance and the loss
before and after closing the gap (shift both modalities by half the gap vector, re-normalise),
their difference, and R@1 in both directions; then the gap's anatomy before and after closing
(alignment, uniformity, cone, centroid norms, the share of ‖Δ‖² in the top-k coordinates and
principal directions, effective rank, linear separability; explorer.engine.anatomy) and what
closing only the top-k gap coordinates does (distance, loss, R@1).

Examples:
  python -m explorer gap-table ../shared/data/amumo/MSCOCO-Val_size-100 --loss article
  python -m explorer gap-table ../shared/data/liang2022/features_clip.npy --json
  python -m explorer gap-table shapes --models own:clip,own:cyclip,own:cloob
"""

from __future__ import annotations

import argparse

from ..analysis.loss import VARIANTS
from ..engine.anatomy import TOP_K, anatomy_row
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
    p.add_argument("--top-k", type=positive_int, default=TOP_K,
                   help=f"gap dimensions of the shares and of the top-k closing (default {TOP_K})")
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
            row = gap_table_row(space, logit_scale=emb.logit_scale, source=spec, model=model, batch_size=batch, variant=args.loss)
            if emb.n < 2:
                raise DataError(f"{spec} / {model}: the gap anatomy needs at least 2 pairs, got {emb.n}")
            row.update(anatomy_row(space, logit_scale=emb.logit_scale, batch_size=batch, variant=args.loss,
                                   top_k=args.top_k, original_loss=row["original_loss"]))
            rows.append(row)
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
        for t, e in zip(table, extra, strict=False):
            t += [e["in_modal_difference"], e["cross_modal_asymmetry"]]
    print(format_table(headers, table))
    if args.consistency and any(not e["sample"].exact for e in extra):
        print(f"\nconsistency {next(e['sample'].describe() for e in extra if not e['sample'].exact)}")
    if any(r["n"] > 10_000 for r in rows):
        print("R@1 above 10,000 pairs: estimated from 1,000 seeded queries per direction against all pairs")
    print_anatomy(rows)
    print(f"\nloss: {args.loss} ({'image→text only, as in the article' if args.loss == 'article' else '½(image→text + text→image)'}), "
          f"batches of {args.batch}, each model's logit scale; closed = shift by Δ/2 each way, re-normalised")
    return 0


def print_anatomy(rows: list[dict]) -> None:
    """The anatomy keys as a short text section: one line per model and setting, then the top-k
    closing and the largest gap coordinates."""
    k = rows[0]["top_k"]
    headers = ["Model", "", "Alignment", "Unif. img", "Unif. txt", "Cone img", "Cone txt", "|mean img|", "|mean txt|",
               f"Top-{k} coords", f"Top-{k} PCs", "Eff. rank img", "Eff. rank txt", "Separability"]
    table = []
    for r in rows:
        for w in ("original", "closed"):
            table.append([r["model"], w] + ["–" if r[f"{w}_{name}"] is None else r[f"{w}_{name}"] for name in (
                "alignment", "uniformity_image", "uniformity_text", "cone_image", "cone_text", "centroid_norm_image",
                "centroid_norm_text", "top_k_coordinates_share", "top_k_components_share", "effective_rank_image",
                "effective_rank_text", "separability")])
    print(f"\ngap anatomy (Top-{k} coords / PCs: share of ‖Δ‖² in the {k} largest coordinates of Δ / principal "
          "directions of the joint embeddings; cone: mean pairwise cosine within a modality)")
    print(format_table(headers, table))
    for r in rows:
        dims = ", ".join(f"{b['dimension']} ({100 * b['share']:.1f}%)" for b in r["gap_dimensions"][:5])
        print(f"{r['model']}: closing only the top-{k} coordinates: distance {r['top_k_closed_distance']:.4f}, "
              f"loss {r['top_k_closed_loss']:.4f} ({r['top_k_loss_difference']:+.4f}; whole gap {r['loss_difference']:+.4f}), "
              f"R@1 i→t {r['top_k_closed_r1_image_to_text']:.3f} t→i {r['top_k_closed_r1_text_to_image']:.3f} "
              f"(whole gap {r['closed_r1_image_to_text']:.3f} / {r['closed_r1_text_to_image']:.3f}); largest coordinates of Δ: {dims}")
    notes = {f"{what} {r[key]}" for r in rows for key, what in (("uniformity_method", "uniformity:"), ("pca_method", "PCA:"),
                                                               ("recall_method", "R@1 after closing:")) if r[key] != "exact"}
    notes.add(f"separability: {rows[0]['separability_method']}")
    for note in sorted(notes):
        print(note)
