"""Write a self-contained static HTML report of a source: the gap/loss/retrieval table, each
model's similarity and in-modal difference heatmaps (rasterised at a fixed resolution), cluster
labels with example images, the projection scatter with one similarity-coloured edge per pair
(hover shows captions), the loss landscape along the gap, similarity histograms, and the settings
that produced them. It opens offline: no file or host outside the page is referenced.

Examples:
  python -m explorer report --source shapes:500 --models own:clip,own:cloob --out report.html
  python -m explorer report --source ../shared/data/amumo/MSCOCO-Val_size-100 --cluster --loss article --out coco.html
  python -m explorer report --source amumo:DIR --models CLIP,CyCLIP --alpha 1 --projection UMAP --out closed.html
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ..analysis.loss import VARIANTS
from ..analysis.similarity import QUADRANTS
from ..errors import SpecError
from .common import model_list, positive_int, print_notes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, metavar="SRC", help="source spec (amumo:DIR, store:KEY, liang:FILE.npy, shapes:N, ...)")
    p.add_argument("--models", default=None,
                   help="comma-separated: model specs to embed a dataset with (default own:clip,own:cyclip,own:cloob), "
                        "or the model names of a precomputed source to include (default all)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--title", default=None, help="page title (default: the dataset's name)")
    p.add_argument("--logit-scale", type=float, default=None, help="override every model's logit scale s = exp(t)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|mps, when models run")
    g = p.add_argument_group("pairs shown")
    g.add_argument("--limit", "--sample-size", dest="limit", type=int, default=None, help="a random subset of N pairs (seeded)")
    g.add_argument("--seed", type=int, default=0, help="seed of the sample and of UMAP/t-SNE (default 0)")
    g.add_argument("--filter", default=None, help="keep pairs whose caption contains these words")
    g.add_argument("--filter-mode", choices=("any", "all"), default="any")
    g.add_argument("--filter-kind", choices=("substring", "word", "regex"), default="substring",
        help="how --filter matches: substring (default, as Amumo), whole words, or one regular expression")
    g = p.add_argument_group("analysis")
    g.add_argument("--alpha", type=float, default=0.0, help="fraction of the gap closed in the views (0..1, default 0)")
    g.add_argument("--no-renormalize", action="store_true", help="do not re-normalise after closing")
    g.add_argument("--loss", choices=VARIANTS, default="symmetric", help="loss variant (default symmetric; article = image→text only)")
    g.add_argument("--batch", type=positive_int, default=50, help="loss batch size (default 50)")
    g.add_argument("--cluster", action="store_true", help="order the heatmaps by clusters and list labelled clusters")
    g.add_argument("--k", type=positive_int, default=10, help="number of clusters (default 10)")
    g.add_argument("--block", choices=QUADRANTS, default="text-image", help="quadrant whose rows are clustered")
    g.add_argument("--optimal", action="store_true", help="optimal leaf ordering")
    g.add_argument("--projection", choices=("PCA", "UMAP", "t-SNE"), default="PCA")
    g.add_argument("--mode", choices=("joint", "fit-image", "fit-text", "concatenated"), default="joint", help="projection mode")
    g = p.add_argument_group("appearance")
    g.add_argument("--cmap", default="fire", help="heatmap colour map (colorcet/bokeh name, default fire)")
    g.add_argument("--aggregation", choices=("max", "mean"), default="mean",
                   help="what a heatmap pixel shows: the exact mean (default) or the exact max of its cells")
    g.add_argument("--max-pixels", type=int, default=560, help="heatmap resolution (pixels per side, default 560)")
    g.add_argument("--no-thumbnails", action="store_true", help="do not inline image thumbnails")


def build_state(args: argparse.Namespace):
    """The ExplorerState the report renders (the source opened once, with progress on stderr)."""
    from ..sources import IMPORTERS, normalized_spec, open_source
    from ..state import DEFAULT_DATASET_MODELS, ExplorerState

    prefix, _ = normalized_spec(args.source)
    models = model_list(args.models) or []
    if prefix in IMPORTERS:
        src = open_source(args.source, logit_scale=args.logit_scale)
        if models:
            missing = [m for m in models if m not in src.embeddings]
            if missing:
                raise SpecError(f"{args.source}: no model(s) {', '.join(missing)}; it has {', '.join(src.models)}")
            dropped = [m for m in src.embeddings if m not in models]
            src.embeddings = {m: src.embeddings[m] for m in models}
            src.notes = [n for n in src.notes if not any(n.startswith(f"{m}: ") for m in dropped)]
    else:
        src = open_source(args.source, models=models or list(DEFAULT_DATASET_MODELS), logit_scale=args.logit_scale,
                          device=args.device, progress=True)
    print_notes(src.notes)
    if not 0.0 <= args.alpha <= 1.0:
        raise SpecError(f"--alpha must lie in [0, 1], got {args.alpha}")
    return ExplorerState(
        src,
        sample_size=args.limit, seed=args.seed, caption_filter=args.filter or "", filter_mode=args.filter_mode,
        filter_kind=args.filter_kind,
        alpha=args.alpha, renormalize=not args.no_renormalize, loss_variant=args.loss, batch_size=max(2, args.batch),
        cluster=args.cluster, k=args.k, cluster_block=args.block, optimal_order=args.optimal,
        projection=args.projection, projection_mode=args.mode, cmap=args.cmap, aggregation=args.aggregation,
    )


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this report (this process's own command line when it is one)."""
    if len(sys.argv) > 2 and sys.argv[1] == "report":
        return "python -m explorer report " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    parts = ["python -m explorer report", "--source", shlex.quote(args.source), "--out", shlex.quote(str(args.out))]
    p = argparse.ArgumentParser()
    add_arguments(p)
    defaults = vars(p.parse_args(["--source", "x", "--out", "y"]))
    for key, value in vars(args).items():
        if key in ("source", "out") or key not in defaults or value == defaults[key]:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, shlex.quote(str(value))]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..app.report import write_report

    state = build_state(args)
    command = command_line(args)
    path = write_report(
        state, args.out, title=args.title, command=command, max_pixels=max(50, args.max_pixels),
        thumbnails=not args.no_thumbnails, progress=lambda msg: print(f"report: {msg}", file=sys.stderr),
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
