"""The scale engine's cluster ordering (explorer/engine/ordering.py) against the materialised
quadrant: features with the rows' distances, the two-level method's pieces (leading directions,
Lloyd k-means, the micro-clusters' centres in the full metric) and its result on planted clusters."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from explorer.engine import ordering as O
from explorer.engine.space import PairSpace


def unit(a):
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def planted(m=600, d=32, groups=4, seed=0):
    """Pairs in `groups` well separated topics (image and caption near their topic's centre)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, d)) * 3.0
    topic = rng.integers(0, groups, m)
    x = unit(centres[topic] + rng.standard_normal((m, d)) * 0.3)
    y = unit(centres[topic] + rng.standard_normal((m, d)) * 0.3 + 0.5)
    return PairSpace(x, y), topic


@pytest.mark.parametrize("block", O.BLOCKS)
def test_block_features_have_the_distances_of_the_quadrants_rows(block):
    space, _ = planted(m=120, d=16)
    rows_mod, cols_mod = block.split("-")
    rows = np.asarray(space.array(rows_mod), np.float64) @ np.asarray(space.array(cols_mod), np.float64).T
    np.testing.assert_allclose(pdist(O.block_features(space, block)), pdist(rows), rtol=1e-9, atol=1e-9)


def test_feature_energy_and_leading_metric_equal_the_explicit_features():
    space, _ = planted(m=400, d=24)
    x, t = np.asarray(space.image, np.float64), np.asarray(space.text, np.float64)
    gram, row_gram = x.T @ x, t.T @ t
    lam, vec = np.linalg.eigh(gram)
    feats = t @ (vec * np.sqrt(np.clip(lam, 0, None)))
    np.testing.assert_allclose(O.feature_energy(lam, vec, row_gram), np.square(feats).sum(axis=0), rtol=1e-8, atol=1e-8)
    # the same columns as choosing among the explicit features
    full = O.leading_dims(np.square(feats).sum(axis=0))
    lam_lead, vec_lead = O.leading_metric(gram, row_gram)
    np.testing.assert_allclose(np.sort(lam_lead), np.sort(lam[full]), rtol=1e-5, atol=1e-5 * lam.max())  # float32
    held = np.square(t @ (vec_lead * np.sqrt(np.clip(lam_lead, 0, None)))).sum()
    assert held >= O.KMEANS_METRIC_SHARE * np.square(feats).sum() * (1 - 1e-5)


def test_centre_distances_are_the_distances_of_the_mean_quadrant_rows():
    space, topic = planted(m=300, d=20)
    x, t = np.asarray(space.image, np.float64), np.asarray(space.text, np.float64)
    means = np.stack([t[topic == g].mean(axis=0) for g in range(4)])
    rows = t @ x.T  # the text-image quadrant, 300 × 300
    mean_rows = np.stack([rows[topic == g].mean(axis=0) for g in range(4)])
    np.testing.assert_allclose(O.centre_distances(means, x.T @ x), pdist(mean_rows), rtol=1e-9, atol=1e-9)


def test_nearest_and_its_distance_sum_equal_brute_force():
    rng = np.random.default_rng(3)
    xs, cs = rng.standard_normal((50, 5)).astype(np.float32), rng.standard_normal((7, 5)).astype(np.float32)
    d2 = ((xs[:, None, :].astype(np.float64) - cs[None]) ** 2).sum(axis=2)
    assign, part = O.nearest(xs, cs, with_distance=True)
    np.testing.assert_array_equal(assign, d2.argmin(axis=1))
    assert part + np.square(xs.astype(np.float64)).sum() == pytest.approx(d2.min(axis=1).sum(), rel=1e-5)


def test_lloyd_stops_once_an_iteration_gains_less_than_the_tolerance(monkeypatch):
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((2000, 6)).astype(np.float32)
    calls = []
    real = O.nearest
    monkeypatch.setattr(O, "nearest", lambda *a, **k: calls.append(1) or real(*a, **k))
    converged = O.lloyd_kmeans(xs, 20, seed=0, iters=500, tol=0.0)
    full = len(calls)
    calls.clear()
    early = O.lloyd_kmeans(xs, 20, seed=0, iters=500, tol=0.01)
    assert 2 <= len(calls) < full
    # at the fixed point every centre is the mean of the rows nearest to it
    a = real(xs, converged)
    for c in np.unique(a):
        np.testing.assert_allclose(converged[c], xs[a == c].mean(axis=0), atol=1e-4)

    def inertia(cent):
        return float(((xs - cent[real(xs, cent)]) ** 2).sum())

    assert inertia(early) <= inertia(converged) * 1.05


@pytest.mark.parametrize("block", ["text-image", "image-image"])
def test_two_level_method_recovers_planted_clusters(monkeypatch, block):
    monkeypatch.setattr(O, "LINKAGE_EXACT_UP_TO", 100)
    monkeypatch.setattr(O, "MICRO_CLUSTERS", 40)
    space, topic = planted(m=600, d=32, groups=4, seed=1)
    o = O._ordering(space, block, 4, False, 0, lambda *a: None)
    assert "micro-clusters" in o.method
    assert sorted(o.order.tolist()) == list(range(600))
    # the four clusters are the four topics
    assert len(o.members) == 4
    for members in o.members:
        assert np.unique(topic[members]).size == 1
    assert sorted(np.unique(topic[m]).item() for m in o.members) == [0, 1, 2, 3]
    # display order: cluster by cluster, and the members of each are contiguous there
    assert np.all(np.diff(o.assignment[o.order]) >= 0)
    np.testing.assert_array_equal(np.concatenate(o.members), o.order)


def test_two_level_method_reads_a_sample_then_every_row(monkeypatch):
    """Above KMEANS_SAMPLE rows k-means is fitted on a seeded sample and every row then assigned:
    same clusters as fitting on all rows for well separated topics."""
    monkeypatch.setattr(O, "LINKAGE_EXACT_UP_TO", 100)
    monkeypatch.setattr(O, "MICRO_CLUSTERS", 30)
    space, topic = planted(m=900, d=24, groups=3, seed=2)
    whole = O._ordering(space, "text-image", 3, False, 0, lambda *a: None)
    monkeypatch.setattr(O, "KMEANS_SAMPLE", 300)
    sampled = O._ordering(space, "text-image", 3, False, 0, lambda *a: None)
    for o in (whole, sampled):
        assert all(np.unique(topic[m]).size == 1 for m in o.members)
    assert sorted(len(m) for m in whole.members) == sorted(len(m) for m in sampled.members)


def test_a_new_k_cuts_the_same_micro_clusters_again(monkeypatch):
    """The first level does not depend on k: a second k reuses it, and gives what a fresh
    computation gives."""
    monkeypatch.setattr(O, "LINKAGE_EXACT_UP_TO", 100)
    monkeypatch.setattr(O, "MICRO_CLUSTERS", 40)
    space, _ = planted(m=600, d=32, groups=4, seed=3)
    calls = []
    first_level = O.micro_clusters
    monkeypatch.setattr(O, "micro_clusters", lambda *a, **k: calls.append(1) or first_level(*a, **k))
    four = O.cluster_ordering(space, "text-image", 4, seed=5)
    two = O.cluster_ordering(space, "text-image", 2, seed=5)
    assert len(calls) == 1 and len(four.members) == 4 and len(two.members) == 2
    O.MEMO.clear()
    fresh = O.cluster_ordering(space, "text-image", 2, seed=5)
    assert len(calls) == 2
    np.testing.assert_array_equal(fresh.order, two.order)
    np.testing.assert_array_equal(fresh.assignment, two.assignment)
