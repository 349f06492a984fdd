"""explorer.engine.probe against brute force: the displayed vectors formed with
explorer.analysis.gap.close_gap, the query placed as a caption, every product in float64."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.gap import close_gap, gap_vector
from explorer.engine.backend import CHUNK_ROWS
from explorer.engine.probe import ProbeSims, binned_means, place_query, probe, probe_similarities, top_positions, unit_query
from explorer.engine.space import PairSpace


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def pairs(n, d, seed=0, gap=1.2, dtype=np.float32):
    rng = np.random.default_rng(seed)
    g = np.zeros(d)
    g[0] = gap
    x = unit(rng.normal(size=(n, d)) + g).astype(dtype)
    y = unit(rng.normal(size=(n, d)) - g).astype(dtype)
    return x, y


def brute(x, y, q, alpha, renorm, active=None):
    """Displayed vectors of the shown pairs and the query placed as a caption, all in float64."""
    if active is not None:
        x, y = x[active], y[active]
    xs, ys = close_gap(x, y, alpha, renorm)
    h = 0.5 * alpha * gap_vector(x.astype(np.float64), y.astype(np.float64))
    qp = unit(q) + h
    if renorm:
        qp = qp / np.linalg.norm(qp)
    return xs @ qp, ys @ qp, qp


@pytest.mark.parametrize("alpha,renorm", [(0.0, True), (0.6, True), (1.0, True), (0.4, False)])
def test_probe_equals_brute_force(alpha, renorm):
    x, y = pairs(300, 24, seed=1)
    q = np.random.default_rng(7).normal(size=24)
    sp = PairSpace(x, y)
    got = probe_similarities(sp, q, alpha, renorm)
    bi, bt, qp = brute(x, y, q, alpha, renorm)
    np.testing.assert_allclose(got.image, bi, atol=2e-6)
    np.testing.assert_allclose(got.text, bt, atol=2e-6)
    np.testing.assert_allclose(got.query, qp, atol=1e-12)
    assert got.m == 300
    # the closing moves the items: at α > 0 the values differ from α = 0
    if alpha:
        plain = probe_similarities(sp, q, 0.0, True)
        assert np.abs(plain.image - got.image).max() > 1e-3


def test_probe_over_a_selection_and_several_chunks():
    """More pairs than one chunk, a shown subset (its own gap vector), float16 rows."""
    n = CHUNK_ROWS + 2500
    x, y = pairs(n, 6, seed=2, dtype=np.float16)
    active = np.sort(np.random.default_rng(3).choice(n, CHUNK_ROWS + 1000, replace=False))
    q = np.random.default_rng(4).normal(size=6)
    sp = PairSpace(x, y, active)
    got = probe_similarities(sp, q, 0.7, True)
    bi, bt, _ = brute(x.astype(np.float64), y.astype(np.float64), q, 0.7, True, active)
    # float16 storage: PairSpace re-normalises the rows; products in float32
    np.testing.assert_allclose(got.image, bi, atol=2e-3)
    np.testing.assert_allclose(got.text, bt, atol=2e-3)
    assert np.corrcoef(got.image, bi)[0, 1] > 0.99999


def test_a_caption_as_the_probe_is_its_own_displayed_caption():
    x, y = pairs(80, 10, seed=5, dtype=np.float64)
    sp = PairSpace(x, y)
    for alpha in (0.0, 0.5, 1.0):
        got = probe_similarities(sp, y[17], alpha, True)
        assert got.text[17] == pytest.approx(1.0, abs=1e-12)
        assert got.top("text", 1).tolist() == [17]
        np.testing.assert_allclose(got.query, sp.vectors("text", np.array([17]), alpha, True)[0], atol=1e-12)


def test_probe_through_the_memo_is_computed_once():
    from explorer.engine.memo import MEMO

    x, y = pairs(50, 8)
    sp = PairSpace(x, y)
    q = np.ones(8)
    before = MEMO.computed.get("probe", 0)
    a = probe(sp, q, ("test", 1), 0.3, True)
    b = probe(sp, q, ("test", 1), 0.3, True)
    assert a is b and MEMO.computed["probe"] == before + 1
    assert probe(sp, q, ("test", 1), 0.0, True) is not a


def test_top_positions_and_axis():
    v = np.array([0.1, 0.9, 0.5, 0.9, -1.0, 0.7])
    assert top_positions(v, 3).tolist() == [1, 3, 5]  # ties: lower index first
    assert top_positions(v, 10).tolist() == [1, 3, 5, 2, 0, 4]
    assert top_positions(v, 0).tolist() == []
    rng = np.random.default_rng(0)
    w = rng.normal(size=1000)
    assert top_positions(w, 7).tolist() == np.argsort(-w, kind="stable")[:7].tolist()
    s = ProbeSims(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), np.zeros(2))
    assert s.axis().tolist() == [1, 2, 3, 4, 5, 6]
    assert s.axis(np.array([2, 0, 1])).tolist() == [3, 1, 2, 6, 4, 5]
    with pytest.raises(ValueError):
        s.of("audio")


def test_binned_means_equal_the_loop():
    rng = np.random.default_rng(1)
    v = rng.normal(size=2000)
    edges = np.array([0, 1, 1, 7, 500, 1999, 2000])
    got = binned_means(v, edges)
    for k in range(edges.size - 1):
        a, b = edges[k], edges[k + 1]
        if a == b:
            assert np.isnan(got[k])
        else:
            assert got[k] == pytest.approx(v[a:b].mean(), abs=1e-12)
    with pytest.raises(ValueError):
        binned_means(v, np.array([0, 2001]))
    assert binned_means(v, np.array([5])).size == 0


def test_bad_queries_are_refused():
    x, y = pairs(10, 4)
    sp = PairSpace(x, y)
    with pytest.raises(ValueError, match="dimensions"):
        place_query(sp, np.ones(5))
    with pytest.raises(ValueError, match="zero"):
        unit_query(np.zeros(4), 4)
    with pytest.raises(ValueError, match="NaN"):
        unit_query(np.array([np.nan, 1, 0, 0]), 4)
