"""Projection faithfulness: trustworthiness and kNN overlap per point, pair edges within clusters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from explorer.analysis.faithfulness import (
    edges_within_clusters,
    max_k,
    neighbourhood_preservation,
    projection_faithfulness,
)


def test_identity_projection_is_perfectly_trustworthy():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(30, 2))
    trust, overlap, k = neighbourhood_preservation(pts, pts, k=5)
    assert k == 5
    np.testing.assert_allclose(trust, 1.0)
    np.testing.assert_allclose(overlap, 1.0)


def test_hand_computed_swap_on_a_line():
    # full space: points at 0, 1, 3, 7, 15; the projection swaps points 1 and 2 (worked by hand:
    # with k = 1 four points get a projected neighbour of full-space rank 2, penalty 1 each,
    # normalisation 2 / (k (2n − 3k − 1)) = 1/3)
    high = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
    low = np.array([[0.0], [3.0], [1.0], [7.0], [15.0]])
    trust, overlap, k = neighbourhood_preservation(high, low, k=1)
    assert k == 1
    np.testing.assert_allclose(trust, [2 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(overlap, [0, 0, 0, 0, 1])
    assert trust.mean() == pytest.approx(11 / 15)


def test_mean_matches_scikit_learn_trustworthiness():
    from sklearn.manifold import trustworthiness

    rng = np.random.default_rng(1)
    high = rng.normal(size=(60, 8))
    low = high[:, :2] + 0.5 * rng.normal(size=(60, 2))
    for k in (1, 5, 12):
        trust, _, used = neighbourhood_preservation(high, low, k=k, chunk=7)  # chunking must not matter
        assert used == k
        assert trust.mean() == pytest.approx(trustworthiness(high, low, n_neighbors=k), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(6, 20), st.just(3)), elements=st.floats(-10, 10)), st.integers(1, 6))
def test_per_point_values_are_in_unit_interval(points, k):
    low = points[:, :2] * np.array([1.0, -2.0])
    trust, overlap, used = neighbourhood_preservation(points, low, k=k)
    assert 1 <= used <= max_k(points.shape[0])
    assert np.all((trust >= -1e-12) & (trust <= 1 + 1e-12))
    assert np.all((overlap >= 0) & (overlap <= 1))


def test_k_is_clamped_to_what_n_allows():
    pts = np.random.default_rng(2).normal(size=(7, 2))
    assert neighbourhood_preservation(pts, pts, k=50)[2] == max_k(7) == 3
    with pytest.raises(ValueError):
        neighbourhood_preservation(pts[:2], pts[:2])
    with pytest.raises(ValueError):
        neighbourhood_preservation(pts, pts[:5])


def test_edges_within_clusters_by_hand():
    # pairs 0 and 1 share a cluster, pair 2 does not
    assert edges_within_clusters([0, 1, 0, 0, 1, 1], 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        edges_within_clusters([0, 1, 0], 3)


def gapped(n=30, gap=5.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 4)) * 0.5
    x = centres[np.arange(n) % 3] + 0.05 * rng.normal(size=(n, 4))
    y = x + 0.05 * rng.normal(size=(n, 4))
    x[:, 0] += gap
    y[:, 0] -= gap
    return x, y


def test_a_huge_gap_puts_every_edge_between_two_clusters():
    x, y = gapped(gap=5.0)
    coords = np.vstack([x, y])[:, :2]
    f = projection_faithfulness(x, y, coords, k=5, n_clusters=2)
    assert f.edges_within_cluster_2d == 0.0
    assert f.edges_within_cluster_full == 0.0


def test_no_gap_keeps_pairs_together():
    x, y = gapped(gap=0.0)
    coords = np.vstack([x, y])[:, 1:3]
    f = projection_faithfulness(x, y, coords, k=5, n_clusters=3)
    assert f.edges_within_cluster_full == 1.0
    assert f.edges_within_cluster_2d == 1.0
    assert f.trustworthiness_per_point.shape == (60,)
    assert set(f.as_dict()) >= {"trustworthiness", "knn_overlap", "edges_within_cluster_2d", "k"}


def test_a_scrambled_projection_scores_worse_than_a_faithful_one():
    x, y = gapped(gap=1.0, seed=3)
    high = np.vstack([x, y])
    good = projection_faithfulness(x, y, high[:, :2], k=5)
    rng = np.random.default_rng(0)
    bad = projection_faithfulness(x, y, rng.permutation(high[:, :2]), k=5)
    assert good.trustworthiness > bad.trustworthiness
    assert good.knn_overlap > bad.knn_overlap


def test_one_point_per_pair_uses_concatenated_vectors_and_no_edges():
    x, y = gapped(gap=1.0)
    coords = np.hstack([x, y])[:, [0, 5]]
    f = projection_faithfulness(x, y, coords, one_point_per_pair=True, k=4)
    assert f.edges_within_cluster_2d is None and f.n_clusters is None
    assert f.knn_overlap_per_point.shape == (30,)
    with pytest.raises(ValueError):
        projection_faithfulness(x, y, coords, k=4)  # 30 points are not the 60 of a joint projection


def test_sampled_queries_give_the_exact_values_of_the_sampled_points():
    from explorer.analysis.faithfulness import query_points

    rng = np.random.default_rng(7)
    high = rng.normal(size=(50, 6))
    low = high[:, :2] + 0.3 * rng.normal(size=(50, 2))
    full_t, full_o, _ = neighbourhood_preservation(high, low, k=4)
    q = query_points(50, 12, seed=3)
    assert q.size == 12 and np.all(np.diff(q) > 0)
    t, o, _ = neighbourhood_preservation(high, low, k=4, queries=q)
    np.testing.assert_allclose(t[q], full_t[q])
    np.testing.assert_allclose(o[q], full_o[q])
    assert np.isnan(np.delete(t, q)).all()
    assert query_points(10, None).tolist() == list(range(10)) == query_points(10, 99).tolist()


def test_faithfulness_reports_when_it_is_estimated():
    x, y = gapped(n=30, gap=1.0)
    coords = np.vstack([x, y])[:, :2]
    exact = projection_faithfulness(x, y, coords, k=4)
    est = projection_faithfulness(x, y, coords, k=4, max_queries=20)
    assert not exact.estimated and exact.n_evaluated == exact.n_points == 60
    assert est.estimated and est.n_evaluated == 20
    assert est.trustworthiness == pytest.approx(np.nanmean(est.trustworthiness_per_point))
    assert np.isfinite(est.trustworthiness_per_point).sum() == 20
