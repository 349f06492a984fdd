"""explorer.export_selection: the selected pairs as parquet / CSV, each value checked against
what the state computes and against the embeddings themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.errors import SpecError
from explorer.sources import open_source
from explorer.state import ExplorerState


@pytest.fixture
def source():
    return open_source("synthetic:400:16:3")


def test_selected_pairs_with_similarity_and_projection(source, tmp_path):
    state = ExplorerState(source, active_model="narrow gap")
    out = explorer.export_selection(state, tmp_path / "sel.parquet", [17, 3, 17, 250])
    df = pd.read_parquet(out)
    assert df["pair_id"].tolist() == [17, 3, 250]  # given order, repeats dropped
    assert df["caption"].tolist() == [source.pairs.captions[i] for i in (17, 3, 250)]
    assert df["shown"].all() and "cluster" not in df.columns  # clustering is off
    e = source.embeddings["narrow gap"]
    x, y = (np.asarray(a, dtype=np.float64)[[17, 3, 250]] for a in (e.image, e.text))
    cos = np.einsum("ij,ij->i", x, y) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(df["pair_similarity"], cos, atol=1e-5)
    pf = state.projection_frame("narrow gap")
    img = pf[pf["modality"] == "image"].set_index("pair_id")
    txt = pf[pf["modality"] == "text"].set_index("pair_id")
    np.testing.assert_array_equal(df["image_x"], img.loc[[17, 3, 250], "x"])
    np.testing.assert_array_equal(df["text_y"], txt.loc[[17, 3, 250], "y"])


def test_gap_setting_and_filter_are_those_shown(source, tmp_path):
    state = ExplorerState(source, alpha=0.5, caption_filter="on a beach")
    shown = state.active_indices()
    hidden = next(i for i in range(source.n) if i not in set(shown.tolist()))
    df = explorer.export_selection(state, tmp_path / "sel.csv", [int(shown[4]), hidden], projection=False)
    df = pd.read_csv(df)
    assert df["shown"].tolist() == [True, False] and "image_x" not in df.columns
    assert df["pair_similarity"].iloc[0] == pytest.approx(state.pair_similarity(None, int(shown[4])), abs=1e-6)
    e = source.embeddings[state.resolve_model()]
    raw = float(np.asarray(e.image[int(shown[4])], dtype=np.float64) @ np.asarray(e.text[int(shown[4])], dtype=np.float64))
    assert abs(df["pair_similarity"].iloc[0] - raw) > 1e-2  # α = 0.5 applied, not the stored rows' cosine
    assert np.isnan(df["pair_similarity"].iloc[1])  # not shown: not guessed


def test_clusters_and_a_whole_cluster(source, tmp_path):
    state = ExplorerState(source, cluster=True, k=4)
    o, labels, active = state.ordering(), state.cluster_labels(), state.active_indices()
    state.select_pairs([5, 99])
    from explorer.exports import selection_frame

    df = selection_frame(state)  # the state's selection
    assert df["pair_id"].tolist() == [5, 99]
    assert df["cluster"].tolist() == [int(o.assignment[5]), int(o.assignment[99])]
    assert df["label"].tolist() == [labels[o.assignment[5]], labels[o.assignment[99]]]
    members = selection_frame(state, cluster=2)
    assert sorted(members["pair_id"].tolist()) == sorted(active[o.members[2]].tolist())
    assert set(members["cluster"].tolist()) == {2}
    with pytest.raises(SpecError, match="no cluster 9"):
        selection_frame(state, cluster=9)


def test_a_source_and_its_image_paths(tmp_path):
    from test_clip_retrieval import make_folder

    root, *_ = make_folder(tmp_path / "cr")
    src = open_source(f"clip-retrieval:{root}")
    out = explorer.export_selection(src, tmp_path / "s.parquet", [0, 23])
    df = pd.read_parquet(out)
    assert df["image"].tolist() == ["/nowhere/img0.jpg", "/nowhere/img23.jpg"]  # no files here: the recorded path
    assert df["caption"].tolist() == ["caption 0 of shard 0", "caption 23 of shard 2"]


def test_bad_requests(source, tmp_path):
    state = ExplorerState(source)
    with pytest.raises(SpecError, match="no pair 400"):
        explorer.export_selection(state, tmp_path / "a.csv", [400])
    with pytest.raises(SpecError, match=r"writes \.parquet or \.csv"):
        explorer.export_selection(state, tmp_path / "a.xlsx", [1])
    with pytest.raises(SpecError, match="does not exist"):
        explorer.export_selection(state, tmp_path / "no" / "a.csv", [1])
    with pytest.raises(SpecError, match="needs clustering on"):
        explorer.export_selection(state, tmp_path / "a.csv", cluster=0)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
