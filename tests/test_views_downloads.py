"""The app's download buttons: the bytes a button's callback hands the browser parse back to
exactly the selected pairs (or the cluster's members) with their captions; disabled while there
is nothing to download; a failed export says why."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pandas as pd
import pytest

from explorer.sources import open_source
from explorer.state import ExplorerState
from explorer.views.downloads import cluster_downloads, selection_downloads


@pytest.fixture(scope="module")
def source():
    return open_source("synthetic:300:16:5")


def fetch(widget) -> bytes:
    return asyncio.run(widget.callback()).read()


def test_selected_pairs_parquet_and_csv(source):
    state = ExplorerState(source, active_model="wide gap")
    row = selection_downloads(state)
    parquet, csv = row.buttons
    assert parquet.disabled and csv.disabled and "select pairs" in parquet.label
    state.select_pairs([41, 7, 199, 7])
    assert not parquet.disabled and parquet.label == "Download 3 selected pairs (parquet)"
    for widget, read in ((parquet, pd.read_parquet), (csv, pd.read_csv)):
        df = read(io.BytesIO(fetch(widget)))
        assert df["pair_id"].tolist() == [41, 7, 199]
        assert df["caption"].tolist() == [source.pairs.captions[i] for i in (41, 7, 199)]
        assert df["id"].astype(str).tolist() == [source.pairs.ids[i] for i in (41, 7, 199)]
        assert widget.filename.endswith("_wide-gap_selected-3." + ("parquet" if widget is parquet else "csv"))
    state.select_pairs([])
    assert parquet.disabled and csv.disabled


def test_a_cluster_and_a_cluster_that_is_not_there(source):
    state = ExplorerState(source, active_model="narrow gap")
    row = cluster_downloads(state)
    parquet, _ = row.buttons
    assert parquet.disabled and "turn on clustering" in parquet.label
    state.order.param.update(cluster=True, k=3)
    row.number.value = 2
    assert not parquet.disabled and parquet.label == "Download cluster 2 (parquet)"
    df = pd.read_parquet(io.BytesIO(fetch(parquet)))
    members = np.sort(state.active_indices()[state.ordering().members[2]])
    assert df["pair_id"].tolist() == members.tolist() and set(df["cluster"]) == {2}
    assert df["caption"].tolist() == [source.pairs.captions[i] for i in members]
    assert parquet.filename.endswith("_narrow-gap_cluster-2.parquet")
    assert row.number.end == 2  # k = 3: clusters 0..2
    state.order.k = 2
    assert row.number.end == 1 and row.number.value == 1
    state.order.k = 3
    row.number.param.update(end=20, value=9)  # past the last cluster (as a browser could send)
    text = fetch(parquet).decode()
    assert "Could not export: no cluster 9; there are 3" in text and parquet.filename == "export-error.txt"
    assert parquet.label.startswith("Could not export")
