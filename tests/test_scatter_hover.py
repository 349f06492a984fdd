"""Hover on the rasterized scatter: the nearest shown point within a few pixels (k-d tree against
brute force), its partner, and the pane the PointerXY stream fills (explorer.views.scatter_hover)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from render_helpers import render
from synthetic_source import HOSTILE, make_source

from explorer.engine.nearest import HOVER_RADIUS_PX, nearest_point, partner_row, point_index
from explorer.state import ExplorerState
from explorer.views.cards import esc
from explorer.views.hover import one_line
from explorer.views.scatter import projection_scatter
from explorer.views.scatter_hover import HINT, hover_html, hover_rows


def frame_of(n: int, seed: int = 0) -> pd.DataFrame:
    """n pairs laid out as engine.projection does: n image rows, then n caption rows in pair order."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10 * n)[:n]
    return pd.DataFrame({"pair_id": np.concatenate([ids, ids]),
                         "modality": pd.Categorical(["image"] * n + ["text"] * n, categories=["image", "text"]),
                         "x": rng.normal(size=2 * n) * 3.0, "y": rng.normal(size=2 * n), "sim": np.repeat(rng.uniform(size=n), 1).tolist() * 2})


def brute(frame: pd.DataFrame, x: float, y: float, xpp: float, ypp: float, radius: float = HOVER_RADIUS_PX) -> int | None:
    d = np.hypot((frame["x"].to_numpy() - x) / xpp, (frame["y"].to_numpy() - y) / ypp)
    i = int(np.argmin(d))
    return i if d[i] <= radius else None


@pytest.mark.parametrize("window", [((-9.0, 9.0), (-3.0, 3.0)), ((-9.0, 9.0), (-9.0, 9.0)), ((-0.5, 0.5), (-0.2, 0.2))])
def test_nearest_point_matches_brute_force(window):
    frame = frame_of(2500)  # 5,000 points, both modalities
    index = point_index(frame["x"].to_numpy(), frame["y"].to_numpy())
    (x0, x1), (y0, y1) = window
    xpp, ypp = (x1 - x0) / 600, (y1 - y0) / 600  # a 600 × 600 pixel plot of that window
    rng = np.random.default_rng(1)
    near = frame.sample(150, random_state=2)
    queries = [(px + rng.normal() * 3 * xpp, py + rng.normal() * 3 * ypp) for px, py in zip(near["x"], near["y"], strict=True)]
    queries += [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(150)]
    found = 0
    for qx, qy in queries:
        got = nearest_point(index, qx, qy, xpp, ypp)
        assert got == brute(frame, qx, qy, xpp, ypp)
        found += got is not None
    assert 100 < found < len(queries)  # hits and misses both exercised


def test_far_from_every_point_nothing_and_bad_input_nothing():
    frame = frame_of(100)
    index = point_index(frame["x"].to_numpy(), frame["y"].to_numpy())
    assert nearest_point(index, 1e3, 1e3, 0.01, 0.01) is None
    assert nearest_point(index, float("nan"), 0.0, 0.01, 0.01) is None
    assert nearest_point(point_index(np.zeros(0), np.zeros(0)), 0.0, 0.0, 0.01, 0.01) is None
    # a NaN point is never found, its neighbours are
    x, y = frame["x"].to_numpy().copy(), frame["y"].to_numpy().copy()
    x[0] = np.nan
    idx = point_index(x, y)
    assert nearest_point(idx, float(frame["x"].iloc[1]), float(frame["y"].iloc[1]), 1e-3, 1e-3) == 1
    with pytest.raises(ValueError, match="differ in length"):
        point_index(np.zeros(3), np.zeros(2))


def test_partner_is_the_other_modality_of_the_same_pair():
    frame = frame_of(2500)
    ids, codes = frame["pair_id"].to_numpy(), frame["modality"].cat.codes.to_numpy()
    for row in (0, 17, 2499, 2500, 4999):
        p = partner_row(ids, codes, row)
        assert ids[p] == ids[row] and codes[p] != codes[row]
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)  # not in the usual layout: found by search
    ids, codes = shuffled["pair_id"].to_numpy(), shuffled["modality"].cat.codes.to_numpy()
    p = partner_row(ids, codes, 5)
    assert ids[p] == ids[5] and codes[p] != codes[5]


def test_rasterized_scatter_hover_names_the_item_and_its_partner(tmp_path):
    state = ExplorerState(make_source(n=60, image_dir=tmp_path / "imgs", hostile=True))
    state.look.datashade_above = 10
    sc = projection_scatter(state, "A", size=300)
    assert sc.rasterized and sc.hover.stream.source is not None
    render(sc)
    v = sc.feed.value
    frame = v["frame"]
    assert sc.hover.pane.object == HINT
    hostile = next(i for i in range(60) if "<script>" in state.pairs.captions[int(frame["pair_id"].iloc[i])])
    for row in (hostile, 60 + 7):  # an image point, a caption point
        pid = int(frame["pair_id"].iloc[row])
        sc.hover.stream.event(x=float(frame["x"].iloc[row]), y=float(frame["y"].iloc[row]))
        html = sc.hover.pane.object
        rows = hover_rows(v, float(frame["x"].iloc[row]), float(frame["y"].iloc[row]))
        assert rows[0] == row or (frame["x"].iloc[rows[0]], frame["y"].iloc[rows[0]]) == (frame["x"].iloc[row], frame["y"].iloc[row])
        assert f"pair {pid:,}" in html and f"{float(frame['sim'].iloc[row]):.3f}" in html
        assert "its partner" in html and html.count(f"of pair {pid:,}") == 2  # the item and its partner
        assert "<script>" not in html  # escaped
        assert html.count(esc(one_line(state.pairs.captions[pid]))) == 2  # escaped, on one line, for both
        assert html.count(f'src="/thumb/{state.thumb_token()}/{pid}.png"') == 1  # the image's thumbnail
    assert "&lt;script&gt;" in hover_html(state, v, (hostile, None))
    assert HOSTILE[0] in state.pairs.captions
    # far from every point: the hint again
    sc.hover.stream.event(x=1e6, y=1e6)
    assert sc.hover.pane.object == HINT


def test_plain_or_static_scatter_has_no_server_hover():
    state = ExplorerState(make_source(n=12))
    assert getattr(projection_scatter(state, "A"), "hover", None) is None
    state.look.datashade_above = 5
    static = projection_scatter(state, "A", interactive=False)  # a report: no pointer, no k-d tree built
    render(static)
    assert static.rasterized and getattr(static, "hover", None) is None and static.feed.value.get("index") is None


def rasterized_scatter(n: int = 30):
    """A rendered rasterized scatter of a small source (its hover on the server) and its frame."""
    state = ExplorerState(make_source(n=n))
    state.look.datashade_above = 10
    sc = projection_scatter(state, "A", size=300)
    render(sc)
    return sc, sc.feed.value["frame"]


def test_a_moving_mouse_is_looked_up_once_per_throttle_interval_with_its_latest_position(monkeypatch):
    import panel as pn

    sc, frame = rasterized_scatter()

    class Doc:  # a served document: lookups wait for its timeout callback
        session_context = object()
        callbacks: list = []

        def add_timeout_callback(self, cb, ms):
            self.callbacks.append((cb, ms))

    doc = Doc()
    monkeypatch.setattr(type(pn.state), "curdoc", property(lambda self: doc))
    for row in (0, 1, 2, 3, 35):
        sc.hover.stream.event(x=float(frame["x"].iloc[row]), y=float(frame["y"].iloc[row]))
    assert len(doc.callbacks) == 1 and sc.hover.pane.object == HINT  # one lookup scheduled, none run yet
    doc.callbacks[0][0]()
    assert f"<b>pair {int(frame['pair_id'].iloc[35]):,}</b>" in sc.hover.pane.object  # the latest position won
    sc.hover.stream.event(x=1e6, y=1e6)
    assert len(doc.callbacks) == 2


def test_the_pane_clears_when_the_pointer_leaves_the_plot(monkeypatch):
    import panel as pn

    from explorer.views import scatter_hover

    sc, frame = rasterized_scatter()
    x, y = float(frame["x"].iloc[3]), float(frame["y"].iloc[3])
    sc.hover.stream.event(x=x, y=y)
    assert f"<b>pair {int(frame['pair_id'].iloc[3]):,}</b>" in sc.hover.pane.object
    sc.hover.leave.event(x=x, y=y)  # MouseLeave reports the last position inside the plot
    assert sc.hover.pane.object == HINT
    # a move delivered just after the leave (sent before it) does not bring the item back ...
    sc.hover.stream.event(x=x, y=y + 1e-9)
    assert sc.hover.pane.object == HINT
    # ... a move after the grace period does; served, a pending lookup after a leave shows the hint
    monkeypatch.setattr(scatter_hover, "LEAVE_GRACE_S", 0.0)
    sc.hover.stream.event(x=x, y=y)
    assert f"<b>pair {int(frame['pair_id'].iloc[3]):,}</b>" in sc.hover.pane.object

    class Doc:
        session_context = object()
        callbacks: list = []

        def add_timeout_callback(self, cb, ms):
            self.callbacks.append(cb)

    doc = Doc()
    monkeypatch.setattr(type(pn.state), "curdoc", property(lambda self: doc))
    sc.hover.stream.event(x=float(frame["x"].iloc[5]), y=float(frame["y"].iloc[5]))
    sc.hover.leave.event(x=x, y=y)
    doc.callbacks[0]()
    assert sc.hover.pane.object == HINT


def test_sessions_share_one_k_d_tree_per_projection():
    """Two sessions (two states) on one source: the hover's tree is built once and shared."""
    trees = []
    for _ in range(2):
        state = ExplorerState(source="synthetic:40:8")
        state.look.datashade_above = 10
        sc = projection_scatter(state, size=300)
        render(sc)
        lazy = sc.feed.value["index"]
        trees.append(lazy.get())  # built at the first hover (here at once: a small frame)
    assert trees[0] is not None and trees[0] is trees[1]
    assert trees[0].n == 80
    other = ExplorerState(source="synthetic:40:8", alpha=0.7)  # closing the gap moves the points: another tree
    assert other.projection_index() is not trees[0]


def test_a_large_frames_tree_is_built_in_the_background_at_the_first_hover(monkeypatch):
    """Drawing a projection never waits for the hover's tree: above SYNC_INDEX_UP_TO points it is
    built in a background thread when the pointer first moves, the pane saying so meanwhile."""
    import threading

    from explorer.views import scatter_hover

    monkeypatch.setattr(scatter_hover, "SYNC_INDEX_UP_TO", 10)
    release = threading.Event()
    built = []

    def slow_build():
        release.wait(10)
        built.append(1)
        return point_index(np.array([0.0, 1.0]), np.array([0.0, 1.0]))

    lazy = scatter_hover.LazyIndex(slow_build, 80)
    value = {"index": lazy, "window": ((0.0, 1.0), (0.0, 1.0)), "pixels": (100, 100),
             "frame": pd.DataFrame({"pair_id": [0, 0], "modality": pd.Categorical(["image", "text"]), "sim": [0.5, 0.5]})}
    assert not built and not lazy.building  # nothing built while the frame is drawn
    assert scatter_hover.hover_rows(value, 0.0, 0.0) is None and lazy.building
    assert "Indexing 80 points" in scatter_hover.hover_html(None, value, None)
    release.set()
    for _ in range(200):
        if lazy.get() is not None:
            break
        threading.Event().wait(0.01)
    assert built == [1] and scatter_hover.hover_rows(value, 0.0, 0.0) == (0, 1)
