"""The bad-input campaign: every reader against the corpus of tests/fuzz/corpus.py, hypothesis
mutations (bit flips, truncation at random offsets) of small valid binary files, and a CLI subset.

Each case must end in one clear sentence naming the file (an ExplorerError; `error:` in the CLI),
or a per-item skip report; never a traceback, a hang or a partial store entry. The summary is
printed (pytest -s) and written to test-artifacts/fuzz-summary.txt.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from fuzz import campaign, corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "test-artifacts" / "fuzz-summary.txt"
MUTATIONS_PER_READER = 30


def mutation_bases(root: Path) -> dict[str, tuple[Path, frozenset[str], str]]:
    """reader -> (a small valid file, the outcomes a damaged copy may have, source prefix)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from explorer.embeddings import Embeddings
    from explorer.store import EmbeddingStore, entry_key

    d = root / "mutation-bases"
    d.mkdir()
    x, y = corpus._arrays(5, 4)
    np.save(d / "base.npy", np.stack([x, y]).astype(np.float32))
    np.savez(d / "base.npz", image=x, text=y, captions=np.array([f"c{i}" for i in range(5)]))
    pq.write_table(pa.table({"image": x.tolist(), "text": y.tolist(), "caption": [f"c{i}" for i in range(5)]}), d / "base.parquet")
    store = EmbeddingStore(d / "store")
    entry = store.save(entry_key("base", "m"), Embeddings.from_arrays(x, y, model="m", logit_scale=10))
    return {
        # a flipped bit inside a float of a plain array cannot be detected: accepted numbers are allowed there
        "liang": (d / "base.npy", corpus.ANY_CLEAN - {"skip"}, "liang"),
        "npz": (d / "base.npz", corpus.ANY_CLEAN - {"skip"}, "npz"),
        "parquet": (d / "base.parquet", corpus.ANY_CLEAN - {"skip"}, "parquet"),
        # store arrays are checksummed: every change must be an error
        "store": (entry.path / "image.npy", corpus.ERROR, "store"),
    }


def run_mutations(root: Path, tally: campaign.Tally) -> None:
    counter = itertools.count()
    for reader, (base, allowed, prefix) in mutation_bases(root).items():
        _mutator(root, reader, base, allowed, prefix, counter, tally)()


def _mutator(root, reader, base, allowed, prefix, counter, tally):
    import shutil

    from explorer.sources import open_source

    original = base.read_bytes()

    @settings(max_examples=MUTATIONS_PER_READER, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(["flip", "truncate"]), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
    def mutate(kind, where, bit):
        data = bytearray(original)
        at = int(where * len(data))
        if kind == "flip":
            data[at] ^= 1 << bit
        else:
            data = data[:at]
        k = next(counter)
        if reader == "store":  # a fresh copy of the entry with the damaged array
            target_dir = root / "mutated" / f"{k}" / base.parent.name
            shutil.copytree(base.parent, target_dir)
            (target_dir / base.name).write_bytes(bytes(data))
            spec, names = f"store:{target_dir}", target_dir.name
        else:
            target = root / "mutated" / f"{k}{base.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bytes(data))
            spec, names = f"{prefix}:{target}", target.name
        case = corpus.Case(reader, f"{kind} at {at}/{len(original)}", lambda: open_source(spec), allowed, names)
        outcome, detail = campaign.classify(case, seconds=20)
        tally.add(campaign.Result(reader, case.name, outcome, detail, outcome in allowed, "mutation"))

    return mutate


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    cache = root / "cache"
    tally = campaign.Tally()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BIMODAL_EXPLORER_CACHE", str(cache))
        builders = [corpus.amumo_cases, corpus.amumo_csv_cases, corpus.liang_cases, corpus.npz_cases, corpus.parquet_cases,
                    corpus.store_cases, corpus.clip_retrieval_cases, corpus.coco_cases, corpus.diffusiondb_cases, corpus.pairs_cases,
                    corpus.folder_cases, corpus.webdataset_cases, corpus.spec_cases, corpus.checkpoint_cases]
        from explorer.models import load_model
        from explorer.store import EmbeddingStore

        cases: list[corpus.Case] = []
        tally.seconds["build"] = campaign.timed(lambda: cases.extend(c for build in builders for c in build(root)))
        tally.seconds["corpus"] = campaign.timed(lambda: campaign.run_cases(cases, tally))
        store = EmbeddingStore(root / "image-store")
        tally.seconds["images"] = campaign.timed(
            lambda: campaign.run_images(root, corpus.image_files(root), tally, load_model("own:clip", device="cpu"), store))
        tally.seconds["mutations"] = campaign.timed(lambda: run_mutations(root, tally))
        tally.seconds["cli"] = campaign.timed(lambda: campaign.run_cli(cases, tally, cache))
        tally.partial = campaign.count_partial(cache, root / "image-store", root / "store")
    return tally


def test_every_corpus_case_is_a_clear_error_or_a_skip_report(campaign_run):
    bad = [r for r in campaign_run.failures() if r.via == "call"]
    assert not bad, "\n".join(f"{r.reader} / {r.case}: {r.outcome}: {r.detail[:500]}" for r in bad)


def test_mutated_binary_files_never_crash_or_hang(campaign_run):
    muts = [r for r in campaign_run.results if r.via == "mutation"]
    assert len(muts) == 4 * corpus_mutations_expected()
    bad = [r for r in muts if not r.ok]
    assert not bad, "\n".join(f"{r.reader} / {r.case}: {r.outcome}: {r.detail[:500]}" for r in bad)


def corpus_mutations_expected() -> int:
    return MUTATIONS_PER_READER


def test_the_cli_prints_one_error_line_for_the_representative_subset(campaign_run):
    cli = [r for r in campaign_run.results if r.via == "cli"]
    assert len(cli) >= 8
    bad = [r for r in cli if not r.ok]
    assert not bad, "\n".join(f"{r.reader} / {r.case}: {r.outcome}: {r.detail[:800]}" for r in bad)


def test_summary(campaign_run):
    text = campaign_run.summary()
    print("\n" + text)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(text + "\n", encoding="utf-8")
    c = campaign_run.counts()
    readers = {r.reader for r in campaign_run.results}
    assert len(readers) >= 20 and len(campaign_run.results) >= 250
    assert c["crash"] == 0 and c["hang"] == 0 and c["unclear"] == 0
    assert campaign_run.partial == [], campaign_run.partial
    assert c["error"] > 0 and c["skip"] > 0
