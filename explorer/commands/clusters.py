"""Cluster one block of a model's similarity matrix (the article's "cluster matrix by
similarity") and print each cluster's size, n-gram label and members (pair ids).

Rows of the block are clustered by complete linkage on 1 − similarity (computed in D dimensions,
explorer.engine.ordering: exactly up to 2,000 pairs, on k-means micro-clusters above) and cut into
k clusters; labels are the top two caption n-grams of each cluster (of at most 500 of its captions).

Example:
  python -m explorer clusters ../shared/data/amumo/MSCOCO-Val_size-100 --model CLIP --block text-image
"""

from __future__ import annotations

import argparse

from ..analysis.similarity import QUADRANTS
from ..engine.ordering import cluster_labels, cluster_ordering, describe_method
from ..engine.space import PairSpace
from ..errors import SpecError
from .common import add_source_options, open_from_args, positive_int, print_json, print_notes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SRC", help="a source spec (amumo:DIR, liang:FILE, shapes --models ...)")
    p.add_argument("--model", default=None, help="which model of the source (default: the first)")
    p.add_argument("--k", type=positive_int, default=10, help="number of clusters (default 10)")
    p.add_argument(
        "--block", choices=QUADRANTS, default="text-image", help="block whose rows are clustered (default text-image, as the article)"
    )
    p.add_argument("--optimal", action="store_true", help="optimal leaf ordering (clusters in dendrogram order)")
    p.add_argument("--top", type=positive_int, default=2, help="n-grams per label (default 2)")
    p.add_argument("--json", action="store_true", help="print a JSON list of {cluster, size, label, members}")
    add_source_options(p)


def run(args: argparse.Namespace) -> int:
    source = open_from_args(args.source, args)
    print_notes(source.notes)
    model = args.model or source.models[0]
    if model not in source.embeddings:
        raise SpecError(f"{args.source} has no model {model!r}; it has {', '.join(source.models)}")
    emb = source.embeddings[model]
    space = PairSpace(emb.image, emb.text, key=("clusters", args.source, model))
    ordering = cluster_ordering(space, args.block, args.k, args.optimal, seed=args.seed)
    captions = source.pairs.captions if source.pairs is not None else None
    labels = cluster_labels(ordering, captions, space.active, top=args.top, seed=args.seed) if captions is not None else None
    clusters = []
    for c, members in enumerate(ordering.members):
        clusters.append({"cluster": c, "size": int(members.size), "label": labels[c] if labels else "",
                         "members": [int(i) for i in members]})
    if args.json:
        print_json(clusters)
        return 0
    print(f"{source.name} / {model}: {len(clusters)} clusters of the {args.block} block "
          f"({describe_method(space.m, args.optimal)}, k={args.k})")
    for cl in clusters:
        print(f"\n[{cl['cluster']}] size {cl['size']:>4}  {cl['label'] or '(no captions)'}")
        print("    members: " + " ".join(str(i) for i in cl["members"]))
    return 0
