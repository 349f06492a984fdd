"""The Numbers card's gap anatomy: computed by its own Feed only after the numbers' last answer
(the first numbers never wait for it), closed by the whole gap so that moving α is a memo hit."""

from __future__ import annotations

import pytest

from explorer.engine.memo import MEMO
from explorer.state import ExplorerState
from explorer.views.numbers import anatomy_frame, anatomy_of, numbers_pane
from synthetic_source import make_source


class QueueRunner:
    def __init__(self):
        self.jobs = []

    def __call__(self, work):
        self.jobs.append(work)

    def run(self):
        self.jobs.pop(0)()


@pytest.fixture
def state():
    return ExplorerState(make_source(n=30, d=8))


def test_the_card_shows_the_anatomy_of_the_state(state):
    pane = numbers_pane(state, "A")
    a = anatomy_of(state, "A", alpha=1.0)
    html = pane.object
    assert "Gap anatomy" in html and "computing the gap anatomy" not in html
    for _, original, closed in anatomy_frame(a).itertuples(index=False):
        assert f"{original:.4f}" in html and f"{closed:.4f}" in html
    assert "Closing only the top-10 coordinates of Δ" in html and "after closing (α=1)" in html


def test_the_anatomy_waits_for_the_numbers_and_alpha_moves_are_memo_hits(state):
    pane = numbers_pane(state, "A")
    runner, anatomy_runner = QueueRunner(), QueueRunner()
    pane.feed._run, pane.anatomy_feed._run = runner, anatomy_runner

    def move(**settings):
        pane.feed._last_seconds = pane.anatomy_feed._last_seconds = 5.0  # as slow as a large source: off the loop
        state.gap.param.update(**settings)

    move(alpha=0.5)
    assert anatomy_runner.jobs == [], "nothing asked of the anatomy while the numbers compute"
    runner.run()  # both steps of the numbers, R@k included
    assert "R@1 image→text" in pane.object and len(anatomy_runner.jobs) == 1
    passes = MEMO.computed.get("anatomy-pass", 0)
    anatomy_runner.run()
    assert "Gap anatomy" in pane.object and not pane.anatomy_feed.pending
    move(alpha=0.9)
    runner.run()
    anatomy_runner.run()
    assert MEMO.computed.get("anatomy-pass", 0) == passes, "α does not change the anatomy (closed by the whole gap)"
    move(renormalize=False)  # the whole closing changes: the closed measures are computed again
    runner.run()
    anatomy_runner.run()
    assert MEMO.computed.get("anatomy-pass", 0) == passes + 1
