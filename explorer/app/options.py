"""What the served app opens: the sources (chosen by whoever starts the server), the models, and
the initial sample. Parsed from ``panel serve apps/explorer_app.py --args ...`` and from
``python -m explorer serve ...`` with the same options, so both start the same app.

Sources are fixed when the server starts: the page lets a visitor switch between them, never type
a path or spec, so a served explorer cannot be pointed at other files of the machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..commands.common import model_list

#: the embedded default: the procedural shapes world and the project's three own models
DEFAULT_SOURCE = "shapes:1000"
DEFAULT_MODELS = ("own:clip", "own:cyclip", "own:cloob")


@dataclass
class AppOptions:
    sources: list[str] = field(default_factory=lambda: [DEFAULT_SOURCE])
    models: list[str] = field(default_factory=list)
    sample_size: int | None = None
    seed: int = 0
    title: str = "bimodal-explorer"
    series: list[str] = field(default_factory=list)
    #: initial settings of the explorer's parts (e.g. {"aggregation": "max"}), from --set NAME=VALUE
    settings: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.sources[0]


def add_app_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="SPEC",
        help=f"source to open (repeat to offer several in the app's menu; default {DEFAULT_SOURCE} with "
        f"{','.join(DEFAULT_MODELS)}): amumo:DIR, store:KEY or a store entry folder, liang:FILE.npy, "
        "npz:FILE, parquet:FILE, or a dataset (shapes:N, coco:ROOT, ...) with --models",
    )
    p.add_argument(
        "--models",
        default=None,
        help="comma-separated model specs to embed a dataset source with (default "
        f"{','.join(DEFAULT_MODELS)}), or the model names of a precomputed source to show (default all)",
    )
    p.add_argument("--sample-size", type=int, default=None, help="start with a random subset of this many pairs")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, UMAP and t-SNE (default 0)")
    p.add_argument("--title", default="bimodal-explorer", help="page title")
    p.add_argument("--set", action="append", default=None, metavar="NAME=VALUE", dest="settings",
                   help="an initial setting of the explorer (repeatable), e.g. --set aggregation=max --set cluster=true "
                   "(any parameter of explorer.state.parts)")
    p.add_argument("--series", action="append", default=None, metavar="SPEC",
                   help="a precomputed augmentation series offered on the Augment page (repeatable), "
                   "e.g. amumo:../shared/data/amumo/Blurred-0_size-100")


def options_from_args(args: argparse.Namespace) -> AppOptions:
    sources = list(dict.fromkeys(args.source or []))
    return AppOptions(
        sources=sources or [DEFAULT_SOURCE],
        models=model_list(args.models) or [],
        sample_size=args.sample_size,
        seed=args.seed,
        title=args.title,
        series=list(args.series or []),
        settings=parse_settings(getattr(args, "settings", None) or []),
    )


def parse_settings(items: Sequence[str]) -> dict:
    """{'aggregation': 'max', 'cluster': True, 'k': 12} from ['aggregation=max', 'cluster=true', 'k=12'],
    each value converted to its parameter's type; one clear sentence for an unknown name or a bad value."""
    import param

    from ..errors import SpecError
    from ..state import PARTS, part_of

    out: dict = {}
    for item in items:
        name, sep, raw = str(item).partition("=")
        name = name.strip()
        if not sep:
            raise SpecError(f"--set {item!r}: expected NAME=VALUE")
        try:
            p = PARTS[part_of(name)].param[name]
        except TypeError as exc:
            raise SpecError(f"--set {item!r}: {exc}") from exc
        raw = raw.strip()
        try:
            if isinstance(p, param.Boolean):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("expected true or false")
                value = raw.lower() in ("true", "1", "yes")
            elif isinstance(p, param.Integer):
                value = None if (raw.lower() == "none" and p.allow_None) else int(raw)
            elif isinstance(p, param.Number):
                value = float(raw)
            elif isinstance(p, param.List):
                value = [v.strip() for v in raw.split(",") if v.strip()]
            else:
                value = raw
            PARTS[part_of(name)](**{name: value})  # validates against the parameter
        except (ValueError, TypeError) as exc:
            raise SpecError(f"--set {item!r}: {exc}") from exc
        out[name] = value
    return out


def parse_app_args(argv: Sequence[str]) -> AppOptions:
    """Options from ``panel serve apps/explorer_app.py --args ...`` (argv without the program name)."""
    p = argparse.ArgumentParser(prog="panel serve apps/explorer_app.py --args", add_help=False)
    add_app_arguments(p)
    args, unknown = p.parse_known_args(list(argv))
    if unknown:
        raise SystemExit(f"unknown arguments for apps/explorer_app.py: {' '.join(unknown)}")
    return options_from_args(args)
