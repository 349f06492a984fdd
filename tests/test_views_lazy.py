"""What keeps slider moves cheap: faithfulness computed only when shown and off the event loop
(DeferredHTML, latest settings winning), one plot refresh per change (StreamHub), and the
provenance beside the plots (escaped) instead of in their titles."""

from __future__ import annotations

import holoviews as hv
import pytest

from explorer.state import ExplorerState
from explorer.views.deferred import DeferredHTML
from explorer.views.numbers import faithfulness_pane, numbers_pane
from explorer.views.provenance import provenance_html, provenance_pane, provenance_text
from render_helpers import render
from synthetic_source import make_source


@pytest.fixture
def state():
    return ExplorerState(make_source(n=30, d=8))


class QueueRunner:
    """A runner that holds work until run() — a stand-in for the server's background thread."""

    def __init__(self):
        self.jobs = []

    def __call__(self, work, done, failed):
        self.jobs.append((work, done, failed))

    def run(self):
        work, done, failed = self.jobs.pop(0)
        try:
            result = work()
        except Exception as exc:
            failed(exc)
        else:
            done(result)


def test_moving_alpha_never_computes_faithfulness_for_the_numbers(state):
    pane = numbers_pane(state, "A", faithfulness=False)
    for a in (0.2, 0.6, 1.0):
        state.alpha = a
        assert f"α={a:g}" in pane.object
    assert state.compute_counts["faithfulness"] == 0
    assert "trustworthiness" not in pane.object


def test_faithfulness_is_computed_only_while_shown(state):
    runner = QueueRunner()
    lazy = faithfulness_pane(state, "A", runner=runner, active=False)
    state.alpha = 0.3
    assert runner.jobs == [] and state.compute_counts["faithfulness"] == 0
    lazy.set_active(True)  # the section is opened
    assert "computing" in lazy.pane.object
    runner.run()
    f = state.faithfulness("A")
    assert f"{f.trustworthiness:.4f}" in lazy.pane.object and "computing" not in lazy.pane.object
    assert state.compute_counts["faithfulness"] == 1
    lazy.set_active(False)  # closed again: α moves cost nothing
    state.alpha = 0.8
    assert runner.jobs == [] and state.compute_counts["faithfulness"] == 1


def test_changes_while_computing_end_with_the_latest_settings(state):
    runner = QueueRunner()
    lazy = faithfulness_pane(state, "A", runner=runner, active=True)
    assert len(runner.jobs) == 1
    state.alpha = 0.5  # while the first computation runs: nothing new starts yet
    state.alpha = 0.9
    assert len(runner.jobs) == 1
    runner.run()  # the first one ends (α = 0.9 by now): the latest settings are computed next
    assert len(runner.jobs) == 1 and "computing" in lazy.pane.object
    runner.run()
    assert runner.jobs == [] and lazy.computations == 2
    f = state.faithfulness("A")  # cached for α = 0.9
    assert f"{f.knn_overlap:.4f}" in lazy.pane.object and "computing" not in lazy.pane.object


def test_on_demand_pane_waits_for_refresh_and_marks_stale_results(state):
    calls = []
    lazy = DeferredHTML(lambda: calls.append(state.alpha) or f"<b>α {state.alpha}</b>", [(state, ["alpha"])], auto=False)
    state.alpha = 0.4
    assert calls == []
    lazy.refresh()
    assert calls == [0.4] and "<b>α 0.4</b>" in lazy.pane.object
    state.alpha = 0.7
    assert calls == [0.4] and "settings changed" in lazy.pane.object
    lazy.refresh()
    assert calls == [0.4, 0.7] and "settings changed" not in lazy.pane.object


def test_a_failing_computation_shows_an_escaped_message(state):
    def boom():
        raise ValueError("<script>alert(1)</script>")

    lazy = DeferredHTML(boom, [])
    assert "&lt;script&gt;" in lazy.pane.object and "<script>" not in lazy.pane.object


def test_one_change_refreshes_a_layered_plot_once(state, monkeypatch):
    from explorer.views.heatmap import similarity_heatmap

    render(similarity_heatmap(state, "A"))  # image, colour limits, annotations, bands, title: five layers
    triggers = []
    original = hv.streams.Stream.trigger.__func__

    def counting(cls, streams):
        triggers.append(len(streams))
        return original(cls, streams)

    monkeypatch.setattr(hv.streams.Stream, "trigger", classmethod(counting))
    state.alpha = 0.5
    assert triggers == [5]  # every layer of the plot, in one trigger (one refresh)


def test_provenance_line_is_escaped_and_complete(tmp_path):
    src = make_source(n=10, models=("<img src=x onerror=alert(1)>",), spec="synthetic:<b>x</b>")
    state = ExplorerState(src, alpha=0.25, cluster=True, k=2)
    html = provenance_html(state, None, "similarity")
    assert "<img" not in html and "<b>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    text = provenance_text(state, None, "similarity")
    for part in ("synthetic:<b>x</b>", "(n=10)", "α=0.25 re-normalised", "clusters text-image k=2", "max per pixel", "data p1–p99"):
        assert part in text, part
    assert "PCA joint (seed 0)" in provenance_text(state, None, "projection")
    pane = provenance_pane(state, kind="projection")
    state.projection_mode = "concatenated"
    assert "PCA concatenated" in pane.object and "&lt;img" in pane.object
