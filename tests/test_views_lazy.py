"""What keeps slider moves cheap: every view's data computed once per change by its Feed (off
the event loop, latest settings winning), faithfulness only when shown, quick numbers before
R@k, and the provenance beside the plots (escaped) instead of in their titles."""

from __future__ import annotations

import holoviews as hv
import pytest
from render_helpers import render
from synthetic_source import make_source

from explorer.engine.memo import MEMO
from explorer.state import ExplorerState
from explorer.views.feed import Feed, params_of
from explorer.views.numbers import OnDemandHTML, faithfulness_pane, numbers_pane
from explorer.views.provenance import feed_provenance_pane, provenance_dict, provenance_text


@pytest.fixture
def state():
    return ExplorerState(make_source(n=30, d=8))


class QueueRunner:
    """A runner that holds work until run() — a stand-in for the server's thread pool."""

    def __init__(self):
        self.jobs = []

    def __call__(self, work):
        self.jobs.append(work)

    def run(self):
        self.jobs.pop(0)()


def test_moving_alpha_updates_the_numbers_and_never_computes_faithfulness(state):
    pane = numbers_pane(state, "A")
    for a in (0.2, 0.6, 1.0):
        state.gap.alpha = a
        assert f"α={a:g}" in pane.object
    assert MEMO.computed.get("faithfulness", 0) == 0
    assert "trustworthiness" not in pane.object and "R@1 image→text" in pane.object


def test_the_numbers_come_in_two_steps_recall_last(state):
    runner = QueueRunner()
    seen = []
    pane = numbers_pane(state, "A")
    pane.feed._run = runner
    pane.feed._last_seconds = 5.0
    # what each publication shows, and how many R@k had been computed by then
    pane.feed.param.watch(lambda e: seen.append((pane.feed.value["html"], MEMO.computed.get("recall", 0), pane.feed.pending)),
                          "version")
    before = MEMO.computed.get("recall", 0)
    state.gap.alpha = 0.5
    runner.run()
    assert len(seen) == 2 and "computing…" in seen[0][0] and "R@1 image→text" not in seen[0][0]
    assert seen[0][1] == before and seen[0][2], "the quick answer is shown before R@k is computed, marked pending"
    assert "R@1 image→text" in seen[1][0] and "computing…" not in seen[1][0] and seen[1][1] == before + 1
    assert not pane.feed.pending


def test_faithfulness_is_computed_only_while_shown(state):
    lazy = faithfulness_pane(state, "A", active=False)
    runner = QueueRunner()
    lazy.feed._run = runner
    lazy.feed._last_seconds = 5.0
    state.gap.alpha = 0.3
    assert runner.jobs == [] and MEMO.computed.get("faithfulness", 0) == 0
    lazy.set_active(True)  # the section is opened
    assert "computing" in lazy.pane.object
    runner.run()
    f = state.faithfulness("A")
    assert f"{f.trustworthiness:.4f}" in lazy.pane.object and "computing" not in lazy.pane.object
    assert MEMO.computed["faithfulness"] == 1
    lazy.set_active(False)  # closed again: α moves cost nothing
    state.gap.alpha = 0.8
    assert runner.jobs == [] and MEMO.computed["faithfulness"] == 1


def test_changes_while_computing_end_with_the_latest_settings(state):
    runner = QueueRunner()
    calls = []
    feed = Feed(lambda: calls.append(state.gap.alpha) or {"alpha": state.gap.alpha}, params_of(state, ("gap.alpha",)),
                empty=dict, run=runner)
    assert len(runner.jobs) == 1
    state.gap.alpha = 0.5  # while the first computation waits: nothing new starts
    state.gap.alpha = 0.9
    assert len(runner.jobs) == 1
    runner.run()  # it computes the newest settings
    assert runner.jobs == [] and calls == [0.9] and feed.value == {"alpha": 0.9} and feed.version == 1
    runner2 = QueueRunner()

    # a change arriving *during* a computation: the stale result is dropped and the latest computed
    def compute():
        calls.append(state.gap.alpha)
        if len(calls) == 2:
            state.gap.alpha = 0.1  # the user moves the slider again meanwhile
        return {"alpha": state.gap.alpha}

    feed2 = Feed(compute, params_of(state, ("gap.alpha",)), empty=dict, run=runner2)
    runner2.run()
    assert feed2.version == 0 and len(runner2.jobs) == 1, "the stale result is dropped, the latest settings go to the runner"
    runner2.run()
    assert feed2.version == 1 and feed2.value == {"alpha": 0.1} and calls[-1] == 0.1


def test_on_demand_pane_waits_for_refresh_and_marks_stale_results(state):
    calls = []
    lazy = OnDemandHTML(lambda: calls.append(state.gap.alpha) or f"<b>α {state.gap.alpha}</b>", state, ("gap.alpha",), auto=False)
    state.gap.alpha = 0.4
    assert calls == []
    lazy.refresh()
    assert calls == [0.4] and "<b>α 0.4</b>" in lazy.pane.object
    state.gap.alpha = 0.7
    assert calls == [0.4] and "settings changed" in lazy.pane.object
    lazy.refresh()
    assert calls == [0.4, 0.7] and "settings changed" not in lazy.pane.object


def test_a_failing_computation_shows_an_escaped_message(state):
    def boom():
        raise ValueError("<script>alert(1)</script>")

    lazy = OnDemandHTML(boom, state, ())
    assert "&lt;script&gt;" in lazy.pane.object and "<script>" not in lazy.pane.object


def test_one_change_computes_a_layered_plot_once(state):
    from explorer.views.heatmap import similarity_heatmap

    hm = similarity_heatmap(state, "A")
    render(hm)  # image, pair diagonal, separators, names, clusters, selection, tapped cell, title
    n, tiles = hm.feed.computations, MEMO.computed["tile"]
    state.gap.alpha = 0.5
    assert hm.feed.computations == n + 1 and MEMO.computed["tile"] == tiles + 1
    state.look.cmap = "kbc"  # appearance: redrawn, not recomputed
    assert hm.feed.computations == n + 1


def test_provenance_line_is_escaped_and_complete(tmp_path):
    from explorer.views.heatmap import similarity_heatmap
    from explorer.views.scatter import projection_scatter

    src = make_source(n=10, models=("<img src=x onerror=alert(1)>",), spec="made:<b>x</b>")
    state = ExplorerState(src, alpha=0.25, cluster=True, k=2)
    hm = similarity_heatmap(state)
    html = feed_provenance_pane(hm.feed).object
    assert "<img" not in html and "<b>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    text = hm.feed.value["provenance_text"]
    for part in ("made:<b>x</b>", "(n=10)", "α=0.25 re-normalised", "clusters text-image k=2", "mean per pixel", "data p1–p99"):
        assert part in text, part
    assert "PCA joint (seed 0)" in provenance_text(provenance_dict(state, None, "projection"), "projection")
    sc = projection_scatter(state)
    pane = feed_provenance_pane(sc.feed)
    state.projection.projection_mode = "concatenated"
    assert "PCA concatenated" in pane.object and "&lt;img" in pane.object
    assert isinstance(hm, hv.core.Overlay | hv.DynamicMap)


def test_a_computation_whose_work_ran_on_other_threads_is_not_run_on_the_loop_next_time():
    """The engine's passes run on worker threads: the Feed's own thread spends almost no CPU on
    them, yet the computation takes seconds. Whether the next one runs at once (SYNC_BELOW) is
    decided on the wall time, or a 3 s heatmap would run on the page's event loop."""
    import threading
    import time

    from explorer.views import feed as feed_module

    def compute(**_):
        worker = threading.Thread(target=time.sleep, args=(0.2,))
        worker.start()
        worker.join()  # this thread waits: ~0 CPU of its own
        return {"x": 1}

    runner = QueueRunner()
    feed = Feed(compute, [], empty=lambda: {"x": 0}, run=runner)
    assert len(runner.jobs) == 1, "the first computation goes to the runner"
    runner.run()
    assert feed.value == {"x": 1}
    assert feed._last_seconds >= 0.2 > feed_module.SYNC_BELOW
    feed.request()
    assert len(runner.jobs) == 1, "the next one too: it took 0.2 s, not the ~0 s of CPU of its own thread"


def test_newer_settings_arriving_during_a_computation_go_through_the_views_runner_again():
    """A runner may hold work back (the views below the fold wait while the heatmap computes a
    change): the computation of settings that arrived while the previous one ran is handed to
    it again, not started at once in the same thread."""
    runner = QueueRunner()
    calls = []

    def compute(**_):
        calls.append(len(calls))
        if len(calls) == 1:
            feed.request()  # a slider move while the first computation runs
        return {"x": len(calls)}

    feed = Feed(compute, [], empty=lambda: {"x": 0}, run=runner)
    runner.run()
    assert calls == [0] and len(runner.jobs) == 1, "the newer settings wait in the runner"
    assert feed.pending
    runner.run()
    assert calls == [0, 1] and feed.value == {"x": 2} and not feed.pending
