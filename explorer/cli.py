"""`python -m explorer <command>` (also installed as `bimodal-explorer`).

Each command lives in its own module under :mod:`explorer.commands` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Errors the user can fix
(:class:`~explorer.errors.ExplorerError`) are printed as one line without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import ExplorerError

#: command name -> (module under explorer.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gap-table": ("gap_table", "gap distance, loss before/after closing the gap, and R@1 per model"),
    "clusters": ("clusters", "cluster the similarity matrix and label clusters by caption n-grams"),
    "embed": ("embed", "embed a dataset with a model into the store (cached, batched, resumable)"),
    "train": ("train", "train a small bimodal model (CLIP, CyCLIP or CLOOB objective)"),
    "causes": ("causes", "reproduce the two causes of the gap: the cone effect at random init, the temperature"),
    "report": ("report", "write a self-contained static HTML report"),
    "serve": ("serve", "serve the interactive explorer (Panel)"),
    "store": ("store", "list, verify or remove embedding-store entries"),
}


def available_commands() -> dict[str, object]:
    """{command name: module} for the commands this installation has."""
    found = {}
    for name, (module, _) in COMMANDS.items():
        try:
            found[name] = importlib.import_module(f"explorer.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"explorer.commands.{module}":
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="Explore the shared latent space and the modality gap of CLIP-like models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {n:<10} {COMMANDS[n][1]}" for n in available_commands()),
    )
    parser.add_argument("command", nargs="?", metavar="COMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def command_parser(name: str, module) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m explorer {name}",
        description=(module.__doc__ or COMMANDS[name][1]).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    top = parser.parse_args(argv)
    commands = available_commands()
    if not top.command:
        parser.print_help()
        return 2
    if top.command not in commands:
        parser.error(f"unknown command {top.command!r}; choose from {', '.join(commands)}")
    module = commands[top.command]
    # intermixed: options may come between positional sources (gap-table A --loss x B)
    args = command_parser(top.command, module).parse_intermixed_args(top.args)
    try:
        return int(module.run(args) or 0)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
