"""Runs the bad-input corpus and counts what happened.

Outcomes of one case:
- ``error``: an :class:`explorer.errors.ExplorerError` whose message is one line naming the file;
- ``skip``: read, with a per-item skip report (the PairSet's or Source's notes, or the embedding
  pipeline's skipped list) naming the item;
- ``accept``: read without complaint (valid but odd input: CMYK, RTL text, unnormalised rows);
- ``unclear``: an ExplorerError that does not name the file or spans several lines;
- ``crash``: any other exception (a traceback in the CLI);
- ``hang``: the case ran past its time bound (SIGALRM).
A case passes when its outcome is one it allows. ``partial`` counts store folders left without a
manifest and temporary or partial folders after the whole run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import ODD_CAPTIONS, Case

ROOT = Path(__file__).resolve().parents[2]
CASE_SECONDS = 30


class Hang(BaseException):
    pass


@dataclass
class Result:
    reader: str
    case: str
    outcome: str
    detail: str
    ok: bool
    via: str = "call"
    elapsed: float = 0.0


@dataclass
class Tally:
    results: list[Result] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, r: Result) -> None:
        self.results.append(r)

    def slowest(self, k: int = 8) -> list[Result]:
        return sorted(self.results, key=lambda r: -r.elapsed)[:k]

    def counts(self) -> Counter:
        return Counter(r.outcome for r in self.results)

    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> str:
        c = self.counts()
        readers = sorted({r.reader for r in self.results})
        by_reader = Counter(r.reader for r in self.results)
        lines = [
            "bad-input campaign (tests/test_fuzz.py)",
            f"readers: {len(readers)}; cases tried: {len(self.results)} "
            f"(corpus {sum(1 for r in self.results if r.via == 'call')}, mutations {sum(1 for r in self.results if r.via == 'mutation')}, "
            f"CLI {sum(1 for r in self.results if r.via == 'cli')})",
            f"clear errors: {c['error']}; per-item skips: {c['skip']}; accepted as valid: {c['accept']}",
            f"crashes: {c['crash']}; hangs: {c['hang']}; unclear errors: {c['unclear']}; partial entries: {len(self.partial)}; "
            f"unexpected outcomes: {len(self.failures())}",
            "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()),
            "",
            "per reader (cases: error/skip/accept/other):",
        ]
        for reader in readers:
            rc = Counter(r.outcome for r in self.results if r.reader == reader)
            other = by_reader[reader] - rc["error"] - rc["skip"] - rc["accept"]
            lines.append(f"  {reader:<22} {by_reader[reader]:>4}: {rc['error']}/{rc['skip']}/{rc['accept']}/{other}")
        for r in self.failures():
            lines.append(f"FAILED {r.reader} / {r.case} [{r.via}]: {r.outcome}: {r.detail[:300]}")
        return "\n".join(lines)


def _alarm(signum, frame):
    raise Hang()


def bounded(fn, seconds: float = CASE_SECONDS):
    """Run fn() in this process, raising Hang after `seconds` (SIGALRM; main thread only)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def notes_of(value: Any) -> list[str]:
    notes = list(getattr(value, "notes", None) or [])
    pairs = getattr(value, "pairs", None)
    if pairs is not None and pairs is not value:
        notes += list(getattr(pairs, "notes", None) or [])
    return [str(n) for n in notes]


def classify(case: Case, fn=None, seconds: float | None = None) -> tuple[str, str]:
    from explorer.errors import ExplorerError

    seconds = seconds or case.seconds
    try:
        value = bounded(fn or case.call, seconds)
    except Hang:
        return "hang", f"no answer within {seconds} s"
    except ExplorerError as exc:
        msg = str(exc)
        if "\n" in msg.strip() or (case.names and case.names not in msg):
            return "unclear", msg
        return "error", msg
    except Exception as exc:
        return "crash", "".join(traceback.format_exception_only(type(exc), exc)).strip() + " | " + traceback.format_exc(limit=-3)[-600:]
    notes = notes_of(value)
    skipped = [n for n in notes if "skip" in n.lower() or "unusable" in n.lower() or "left out" in n.lower()]
    if skipped:
        if case.names and not any(case.names in n for n in notes):
            return "unclear", "skip report does not name the item: " + " | ".join(notes)[:400]
        return "skip", skipped[0]
    return "accept", ""


def run_cases(cases: list[Case], tally: Tally) -> None:
    for case in cases:
        t = time.monotonic()
        outcome, detail = classify(case)
        tally.add(Result(case.reader, case.name, outcome, detail, outcome in case.expect, elapsed=time.monotonic() - t))


def run_cli(cases: list[Case], tally: Tally, cache: Path, timeout: float = 120, parallel: int = 4) -> None:
    """The representative subset through `python -m explorer` (a few at a time): one `error:` line,
    no traceback, a non-zero exit, within `timeout` seconds each."""
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT), "BIMODAL_EXPLORER_CACHE": str(cache)}
    todo = [c for c in cases if c.cli]
    for k in range(0, len(todo), parallel):
        batch = todo[k : k + parallel]
        procs = []
        for case in batch:
            cmd = [sys.executable, "-m", "explorer", *case.cli]
            if case.cli[0] == "embed":
                cmd += ["--no-progress", "--workers", "0"]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for case, proc in zip(batch, procs, strict=True):
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                tally.add(Result(case.reader, case.name, "hang", f"CLI ran past {timeout} s", False, "cli"))
                continue
            errors = [line for line in err.splitlines() if line.startswith("error:")]
            if "Traceback" in err:
                outcome, detail = "crash", err[-800:]
            elif proc.returncode != 0 and len(errors) == 1 and case.names in errors[0]:
                outcome, detail = "error", errors[0]
            elif proc.returncode != 0:
                outcome, detail = "unclear", err[-400:]
            else:
                outcome, detail = "accept", out[-200:]
            tally.add(Result(case.reader, case.name, outcome, detail, outcome == "error", "cli"))


def run_images(root: Path, image_cases, tally: Tally, model, store) -> None:
    """One pairs table with every hostile image and caption, through the embedding pipeline: each
    row must be embedded (valid if odd) or listed as skipped with its reason; the run must not fail."""
    import pandas as pd

    from explorer.embed import embed_to_store
    from explorer.sources import load_pairs

    rows = [(name, rel, expect, f"image case {k}") for k, (name, rel, expect) in enumerate(image_cases)]
    captions = [(f"caption: {name}", "img/good.png", frozenset({"accept"}), text) for name, text in ODD_CAPTIONS.items()]
    table = root / "images" / "pairs.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(len(rows) + len(captions))],
                  "image": [r[1] for r in rows + captions], "caption": [r[3] for r in rows + captions]}).to_csv(table, index=False)

    def run():
        pairs = load_pairs(f"pairs:{table}")
        result = embed_to_store(pairs, model, store=store, device="cpu", num_workers=0, progress=False)
        return pairs, result

    outcome, detail = classify(Case("images", "pipeline", run, frozenset({"accept", "skip"}), ""), seconds=120)
    if outcome not in ("accept", "skip"):
        for name, *_ in rows + captions:
            tally.add(Result("images" if not name.startswith("caption") else "captions", name, outcome, detail, False, "call"))
        return
    pairs, result = bounded(run, 60)  # a cache hit now: the same pairs and model
    kept_ids = set(result.pairs.ids)
    loader_notes = " | ".join(str(n) for n in pairs.notes)
    skipped = {str(s["id"]): s["reason"] for s in result.skipped}
    for k, (name, rel, expect, _) in enumerate(rows + captions):
        rid = f"r{k}"
        reader = "captions" if name.startswith("caption") else "images"
        if rid in kept_ids:
            got, why = "accept", ""
        elif rid in skipped:
            got, why = "skip", f"{rel}: {skipped[rid]}"
        elif f"(id {rid})" in loader_notes:
            got, why = "skip", next(str(n) for n in pairs.notes if f"(id {rid})" in str(n))[:300]
        else:
            got, why = "unclear", f"row {rid} ({rel}) neither embedded nor reported as skipped"
        tally.add(Result(reader, name, got, why, got in expect))


def count_partial(*stores: Path) -> list[str]:
    """Store folders without a manifest, and temporary/partial folders left behind."""
    bad = []
    for root in stores:
        for entry in (root / "entries").glob("*") if (root / "entries").is_dir() else []:
            if not (entry / "manifest.json").is_file():
                bad.append(str(entry))
        for tmp in (root / "tmp").glob("*") if (root / "tmp").is_dir() else []:
            bad.append(str(tmp))
    return bad


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t
