"""Arguments shared by several commands (sources, models, dataset selection, output)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_source_options(p: argparse.ArgumentParser, *, models_help: str | None = None) -> None:
    p.add_argument(
        "--models",
        default=None,
        help=models_help
        or "comma-separated model specs to embed a dataset with (e.g. own:clip,own:cyclip); "
        "precomputed sources (amumo:, liang:, npz:, parquet:, store:) need none",
    )
    p.add_argument("--logit-scale", type=float, default=None, help="override every model's logit scale s = exp(t)")
    p.add_argument("--limit", type=positive_int, default=None, help="a random subset of N pairs (seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of --limit (default 0)")
    p.add_argument("--filter", default=None, help="keep pairs whose caption contains these words (case-insensitive)")
    p.add_argument("--filter-mode", choices=("any", "all"), default="any", help="match any or all --filter words")
    p.add_argument("--filter-kind", choices=("substring", "word", "regex"), default="substring",
        help="how --filter matches: substring (default, as Amumo), whole words, or one regular expression")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|mps, when models run")


def model_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [m.strip() for m in value.split(",") if m.strip()]


def open_from_args(spec: str, args: argparse.Namespace, *, progress: bool = True):
    from ..sources import open_source

    return open_source(
        spec,
        models=model_list(getattr(args, "models", None)),
        logit_scale=getattr(args, "logit_scale", None),
        device=getattr(args, "device", "auto"),
        progress=progress,
        limit=getattr(args, "limit", None),
        seed=getattr(args, "seed", 0),
        filter=getattr(args, "filter", None),
        filter_mode=getattr(args, "filter_mode", "any"),
        filter_kind=getattr(args, "filter_kind", "substring"),
    )


def print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) if rows else False for i in range(len(headers))]
    lines = []
    for k, r in enumerate(cells):
        parts = [c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)
