"""'Show only selected': data.only_pairs restricts the shown pairs (every view re-renders for
them), with a clear error when none is kept; the Explore page's toggle snapshots the selection."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_source import make_source

from explorer.errors import SpecError
from explorer.state import ExplorerState
from explorer.views.heatmap import heatmap_data


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=20, image_dir=tmp_path / "imgs"))


def test_only_pairs_restricts_the_matrix_to_the_selection(state):
    state.data.only_pairs = [15, 3, 7, 3]
    assert state.active_indices().tolist() == [3, 7, 15]
    v = heatmap_data(state, "A", width=100, height=100)
    assert v["tile"].values.shape == (6, 6)  # 2 × 3 pairs
    assert "--only-pairs 3,7,15 (3 selected)" in state.selection_recipe()
    e = state.embeddings("A")
    x = np.asarray(e.image, dtype=np.float64)
    assert v["tile"].values[0, 1] == pytest.approx(x[3] @ x[7], abs=1e-5)  # the cells of the selected pairs themselves
    state.data.only_pairs = []
    assert state.active_indices().size == 20


def test_only_pairs_outside_the_filter_is_one_clear_sentence(state):
    state.data.sample_size = 5
    kept = set(state.active_indices().tolist())
    state.data.only_pairs = [i for i in range(20) if i not in kept][:3]
    with pytest.raises(SpecError, match="none of the 3 selected pairs is among the pairs the filter and sample keep"):
        state.active_indices()


def test_the_toggle_snapshots_the_selection_and_clears_it(state):
    from explorer.app.pages import only_selected_toggle

    box = only_selected_toggle(state)
    assert box.disabled and not box.value  # nothing selected
    state.select_pairs([4, 9, 11])
    assert not box.disabled
    box.value = True
    assert state.data.only_pairs == [4, 9, 11] and state.active_indices().tolist() == [4, 9, 11]
    state.select_pairs([4])  # selecting inside the shown pairs keeps them shown
    assert state.active_indices().tolist() == [4, 9, 11]
    box.value = False
    assert state.data.only_pairs == [] and state.active_indices().size == 20


def test_runs_gaps_and_the_outline_fallback_for_scattered_selections():
    from explorer.views.marks import MAX_DIM_RUNS, gaps, runs, selection_marks

    assert runs(np.array([5, 3, 4, 9, 4])) == [(3, 6), (9, 10)]
    assert gaps([(3, 6), (9, 10)], 12) == [(0, 3), (6, 9), (10, 12)]
    assert gaps([(0, 12)], 12) == []
    marks = selection_marks(np.array([0, 1]), 5, "difference")
    assert marks == [(1.5, 1.5, 4.5, 4.5, "dimmed")]  # pairs 0–1 selected: cells of rows and columns 2–4 dimmed
    assert len(selection_marks(np.array([2]), 5)) == 9  # similarity: rows 2 and 7 → 3 gaps², crossed
    scattered = np.arange(0, 4 * (MAX_DIM_RUNS + 1), 4)  # too many runs to dim around: their bands outlined
    out = selection_marks(scattered, 1000, "difference")
    assert {k for *_, k in out} == {"selected"} and len(out) == 2 * scattered.size
