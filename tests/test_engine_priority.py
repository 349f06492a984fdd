"""Long labelled computations yield to the views' quick work (explorer.engine.priority)."""

import threading
import time

from explorer.engine import priority
from explorer.engine.memo import Memo


def _in_thread(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_a_long_computation_waits_while_quick_work_runs_and_never_for_good():
    inside, leave = threading.Event(), threading.Event()

    def view():
        with priority.quick():
            inside.set()
            leave.wait(5)

    t = _in_thread(view)
    inside.wait(5)
    assert priority.quick_work_elsewhere()
    assert priority.yield_to_quick_work(max_wait=0.3) >= 0.29, "it waited while the view computed"
    threading.Timer(0.2, leave.set).start()
    waited = priority.yield_to_quick_work(max_wait=5.0)
    assert 0.1 < waited < 2.0, "it went on as soon as the view was done"
    t.join(5)
    assert not priority.quick_work_elsewhere() and priority.yield_to_quick_work() < 0.05


def test_own_quick_work_and_threads_inside_long_work_do_not_count():
    with priority.quick():
        assert not priority.quick_work_elsewhere(), "a view computing its own long value does not wait for itself"
    inside, leave = threading.Event(), threading.Event()

    def view_waiting_for_a_long_value():
        with priority.quick(), priority.long():
            inside.set()
            leave.wait(5)

    t = _in_thread(view_waiting_for_a_long_value)
    inside.wait(5)
    assert not priority.quick_work_elsewhere()
    leave.set()
    t.join(5)


def test_memo_long_computations_report_progress_through_the_yield(monkeypatch):
    memo = Memo()
    calls = []
    monkeypatch.setattr(priority, "yield_to_quick_work", lambda max_wait=priority.MAX_WAIT: calls.append("yield") or 0.0)

    def compute(progress):
        assert priority._long.get(threading.get_ident()), "inside long()"
        for i in range(3):
            progress(i + 1, 3)
        return 42

    assert memo.get(("long", 1), compute, label="a long job") == 42
    assert calls == ["yield"] * 3
    assert memo.get(("quick", 1), lambda: 7) == 7 and calls == ["yield"] * 3, "unlabelled work does not yield"


def test_a_view_waiting_for_a_value_another_thread_computes_is_not_quick_work():
    memo = Memo()
    started, release = threading.Event(), threading.Event()
    seen = {}

    def long_job(progress):
        started.set()
        release.wait(5)
        seen["elsewhere"] = priority.quick_work_elsewhere()
        return 1

    owner = _in_thread(lambda: memo.get(("k",), long_job, label="long"))
    started.wait(5)

    def view():
        with priority.quick():
            memo.get(("k",), long_job, label="long")

    waiter = _in_thread(view)
    time.sleep(0.2)  # the view is now waiting for the owner's value
    release.set()
    owner.join(5)
    waiter.join(5)
    assert seen["elsewhere"] is False


def test_a_foreground_labelled_computation_is_quick_work_that_long_work_yields_to(monkeypatch):
    """The PCA a scatter shows first has progress (a label) but is a view's work: R@k beside it
    waits for it at its progress reports, and it never waits itself."""
    memo = Memo()
    calls = []
    monkeypatch.setattr(priority, "yield_to_quick_work", lambda max_wait=priority.MAX_WAIT: calls.append("yield") or 0.0)
    seen = {}

    def compute(progress):
        seen["long"] = bool(priority._long.get(threading.get_ident()))
        seen["listed"] = [w.label for w in memo.in_flight()]
        seen["busy for others"] = _quick_work_seen_from_another_thread()
        progress(1, 2)
        return 5

    def _quick_work_seen_from_another_thread():
        out = {}
        t = _in_thread(lambda: out.setdefault("v", priority.quick_work_elsewhere()))
        t.join(5)
        return out["v"]

    with priority.quick():
        assert memo.get(("pca", 1), compute, label="PCA of many pairs", foreground=True) == 5
    assert calls == [], "foreground work does not yield"
    assert seen == {"long": False, "listed": ["PCA of many pairs"], "busy for others": True}
