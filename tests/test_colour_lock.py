"""The 'locked' colour range (explorer.state.colours, explorer.engine.colour): set once, kept
across α, filters and models until another range is chosen; the colour bar says so."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import render
from synthetic_source import make_source

from explorer.engine.colour import describe, locked_limits
from explorer.state import ExplorerState
from explorer.views.heatmap import colorbar_label, heatmap_data, similarity_heatmap


@pytest.fixture
def state(tmp_path):
    return ExplorerState(make_source(n=30, image_dir=tmp_path / "imgs"))


def test_locking_keeps_the_limits_in_effect_across_alpha_filter_and_model(state):
    before = state.color_limits("A")
    before_diff = state.color_limits("A", "difference")
    state.look.color_range = "locked"
    assert state.look.locked_limits == {"similarity": list(before), "difference": list(before_diff)}
    state.gap.alpha = 0.8
    assert state.data_color_limits("A") != pytest.approx(before)  # the data moved ...
    assert state.color_limits("A") == pytest.approx(before)  # ... the colours did not
    state.data.caption_filter = state.pairs.captions[0].split()[0]
    state.model.active_model = "B"
    assert state.color_limits("B") == pytest.approx(before)
    assert state.color_limits("B", "difference") == pytest.approx(before_diff)
    assert state.color_limits("B", shared=True) == pytest.approx(before)  # Compare shares the locked range


def test_another_range_unlocks_and_locking_again_takes_the_new_limits(state):
    state.look.color_range = "locked"
    first = state.color_limits("A")
    state.gap.alpha = 1.0
    state.look.color_range = "data"
    now = state.color_limits("A")
    assert now != pytest.approx(first)
    state.look.color_range = "locked"
    assert state.color_limits("A") == pytest.approx(now)
    state.look.color_range = "full"
    state.look.color_range = "locked"  # locking from 'full' keeps −1…1
    assert state.color_limits("A") == (-1.0, 1.0)


def test_a_missing_or_broken_locked_range_falls_back_to_the_data_limits(state):
    assert locked_limits({"similarity": [0.5, 0.2]}, "similarity") is None
    assert locked_limits({"similarity": [np.nan, 1]}, "similarity") is None
    assert locked_limits({}, "difference") is None
    state.look.param.update(color_range="locked")
    state.look.locked_limits = {}
    assert state.color_limits("A") == pytest.approx(state.data_color_limits("A"))


def test_the_colour_bar_and_the_provenance_say_locked(state):
    state.look.color_range = "locked"
    lo, hi = state.color_limits("A")
    v = heatmap_data(state, "A")
    assert v["color_range"] == "locked" and tuple(v["clim"]) == pytest.approx((lo, hi))
    assert "locked" in colorbar_label("cosine similarity", "locked") and describe("locked", (lo, hi)).startswith("locked")
    plot = render(similarity_heatmap(state, "A"))
    bars = [r for r in plot.state.right if type(r).__name__ == "ColorBar"]
    assert bars and "locked range" in bars[0].title
    assert (bars[0].color_mapper.low, bars[0].color_mapper.high) == pytest.approx((lo, hi))


def test_appearance_changes_recompute_no_tile(state):
    from explorer.engine.memo import MEMO

    heatmap_data(state, "A", size=400)
    heatmap_data(state, "A", "difference", size=400)  # the two heatmaps the Explore page shows
    calls = []
    original = MEMO.get

    def counting(key, compute, **kw):
        return original(key, lambda *a, **k: calls.append(key) or compute(*a, **k), **kw)

    MEMO.get = counting
    try:
        state.look.color_range = "locked"
        state.look.color_range = "full"
        heatmap_data(state, "A", size=400)
        heatmap_data(state, "A", "difference", size=400)
    finally:
        MEMO.get = original
    assert not [k for k in calls if k and k[0] == "tile"], "a colour range change computed a tile"


def test_compare_difference_heatmaps_share_one_symmetric_scale(state):
    from explorer.engine.colour import color_limits
    from explorer.views.compare import compare_heatmaps, compare_view

    plot = render(compare_heatmaps(state, size=120, kind="difference"))
    mappers = [p.handles["color_mapper"] for p in plot.traverse(lambda p: p, [lambda p: "color_mapper" in getattr(p, "handles", {})])
               if "image" in p.handles.get("source").data]
    assert len(mappers) == 2  # models A and B
    limits = {(round(m.low, 9), round(m.high, 9)) for m in mappers}
    assert len(limits) == 1
    lo, hi = limits.pop()
    assert lo == pytest.approx(-hi)
    own = [color_limits(state.tile(m, "difference", width=120, height=120, shared=True).values, "data", "difference")[1] for m in "AB"]
    assert hi == pytest.approx(max(own)) and min(own) < max(own)  # the larger model's range, not each its own
    view = compare_view(state, size=120)
    view.get_root()
    assert "one symmetric colour scale" in view[0][1].object
