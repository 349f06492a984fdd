"""Inspect the embedding store: list entries, verify their checksums, remove entries, and
clean up leftovers of interrupted writes.

Examples:
  python -m explorer store list
  python -m explorer store verify
  python -m explorer store rm KEY
"""

from __future__ import annotations

import argparse

from ..errors import StoreError
from ..store import EmbeddingStore
from .common import format_table, print_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "verify", "rm", "clean", "path"), help="what to do")
    p.add_argument("keys", nargs="*", help="entry keys (rm; verify defaults to all)")
    p.add_argument("--root", default=None, help="store folder (default $BIMODAL_EXPLORER_CACHE or ~/.cache/bimodal-explorer)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--older-than", type=float, default=60.0, metavar="MINUTES",
                   help="clean: only leftovers older than this (default 60; a write in progress is younger)")
    p.add_argument("--partial", action="store_true",
                   help="clean: also remove the finished shards of interrupted embedding runs (they make a rerun resume)")


def run(args: argparse.Namespace) -> int:
    store = EmbeddingStore(args.root)
    if args.action == "path":
        print(store.root)
        return 0
    if args.action == "clean":
        n = store.clean_tmp(older_than_s=60.0 * args.older_than, partial=args.partial)
        print(f"removed {n} leftover(s) of interrupted writes from {store.tmp_dir}")
        return 0
    if args.action == "rm":
        if not args.keys:
            raise StoreError("name the entry keys to remove (see `store list`)")
        for key in args.keys:
            if not store.path(key).exists():
                raise StoreError(f"no store entry {key} in {store.root}")
            store.remove(key)
            print(f"removed {key}")
        return 0
    entries = list(store.entries())
    if args.action == "list":
        rows = [
            {"key": e.key, "model": e.model, "n": e.n, "dim": e.manifest["arrays"]["image"]["shape"][1],
             "dataset": (e.manifest.get("dataset") or {}).get("recipe", ""), "created": e.manifest.get("created", "")}
            for e in entries
        ]
        if args.json:
            print_json(rows)
        elif rows:
            print(format_table(["key", "model", "n", "dim", "dataset", "created"], [list(r.values()) for r in rows]))
        else:
            print(f"the store at {store.root} is empty")
        return 0
    # verify
    keys = args.keys or [e.key for e in entries]
    failures = 0
    results = []
    for key in keys:
        try:
            store.load(key, mmap=True, verify=True)
            results.append({"key": key, "ok": True, "problem": ""})
        except StoreError as exc:
            failures += 1
            results.append({"key": key, "ok": False, "problem": str(exc)})
    if args.json:
        print_json(results)
    else:
        for r in results:
            print(f"{'ok ' if r['ok'] else 'BAD'} {r['key']} {r['problem']}")
        print(f"{len(results) - failures} ok, {failures} corrupt")
    return 1 if failures else 0
