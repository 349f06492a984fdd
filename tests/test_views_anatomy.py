"""The gap anatomy in the app: its own card, computed only while open (its sampled measures take
seconds at any size), closed by the whole gap so that moving α is a memo hit."""

from __future__ import annotations

import pytest
from synthetic_source import make_source

from explorer.engine.memo import MEMO
from explorer.state import ExplorerState
from explorer.views.numbers import anatomy_frame, anatomy_of, anatomy_pane, numbers_pane


@pytest.fixture
def state():
    return ExplorerState(make_source(n=30, d=8))


def test_the_pane_shows_the_anatomy_of_the_state(state):
    pane = anatomy_pane(state, "A")
    a = anatomy_of(state, "A", alpha=1.0)
    html = pane.pane.object
    assert "Gap anatomy" in html and "computing the gap anatomy" not in html
    for _, original, closed in anatomy_frame(a).itertuples(index=False):
        for v in (original, closed):
            if v is not None:
                assert f"{v:.4f}" in html
    assert "Closing only the top-10 coordinates of Δ" in html


def test_the_anatomy_is_computed_only_while_open_and_alpha_moves_are_memo_hits(state):
    numbers = numbers_pane(state, "A")
    assert "Gap anatomy" not in numbers.object, "the numbers never wait for the anatomy"
    pane = anatomy_pane(state, "A", active=False)
    assert pane.computations == 0 and "Open this section" in pane.pane.object
    pane.set_active(True)
    assert pane.computations == 1 and "Gap anatomy" in pane.pane.object
    passes = MEMO.computed.get("anatomy-pass", 0)
    state.gap.alpha = 0.7
    assert pane.computations == 1, "α does not change the anatomy (closed by the whole gap)"
    state.gap.renormalize = False  # the whole closing changes: computed again while open
    assert pane.computations == 2 and MEMO.computed.get("anatomy-pass", 0) == passes + 1
    pane.set_active(False)
    state.gap.loss_variant = "article"
    assert pane.computations == 2 and pane.stale, "closed: marked out of date, not computed"
