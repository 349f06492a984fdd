"""The explorer surfaces what the shapes world plants (explorer.data.shapes), with the shipped models.

test_data_shapes.py checks the phenomena are planted; this checks a user of the explorer sees
them, through the data the views draw: the scatter's pair edges are coloured by the pair's
full-space similarity (explorer.views.scatter.edges_frame), and the caption filter selects the
pairs the heatmaps show. Measured on 400 pairs of the default world:

- every vague caption ("shapes", "colours", ...) is among the 10% least similar pairs (the
  darkest edges), for all three objectives;
- blurred images match their captions less well than the rest (darker edges on average);
- filtering for "heart" shows both senses of the word, as the article's "dog" filter shows hot
  dogs: the shape and "in the heart of the picture".
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.sources import open_source
from explorer.state import ExplorerState
from explorer.views.scatter import edges_frame

N = 400


@pytest.fixture(scope="module", params=["own:clip", "own:cyclip", "own:cloob"])
def world(request, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("BIMODAL_EXPLORER_CACHE", str(tmp_path_factory.mktemp("store")))
    try:
        src = open_source(f"shapes:{N}", models=[request.param], progress=False)
    except ExplorerError as exc:
        pytest.skip(f"the shipped models are needed: {exc}")
    return ExplorerState(src), src.pairs.metadata


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def edge_kinds(state, metadata):
    edges = edges_frame(state.projection_frame())
    kinds = metadata["planted"].astype(str).to_numpy()[edges["pair_id"].to_numpy()]
    return edges["sim"].to_numpy(), kinds


def test_vague_captions_are_the_darkest_edges(world):
    state, metadata = world
    sim, kinds = edge_kinds(state, metadata)
    vague = kinds == "vague_caption"
    assert vague.sum() >= 10
    darkest = np.argsort(sim)[: len(sim) // 10]
    assert vague[darkest].sum() == vague.sum(), "every vague caption is among the 10% least similar pairs"


def test_blurred_images_match_their_captions_less_well(world):
    state, metadata = world
    sim, kinds = edge_kinds(state, metadata)
    assert (kinds == "blurred").sum() >= 10
    assert sim[kinds == "blurred"].mean() < sim[kinds == "none"].mean() - 0.05


def test_the_heart_filter_shows_both_senses(world):
    state, metadata = world
    state.data.caption_filter = "heart"
    shown = state.active_indices()
    senses = set(metadata["homonym_sense"].astype(str).to_numpy()[shown])
    assert senses == {"centre", "shape"}
    assert set(np.flatnonzero(metadata["planted"].astype(str).to_numpy() == "homonym")) <= set(shown.tolist())
    state.data.caption_filter = ""
