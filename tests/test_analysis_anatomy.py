"""The gap-anatomy formulas (explorer.analysis.anatomy) by hand and against brute force."""

import itertools

import numpy as np
import pytest

from explorer.analysis import anatomy as A
from explorer.analysis.gap import close_gap


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# -- alignment and uniformity -----------------------------------------------------------------
def test_alignment_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert A.alignment(x, y) == pytest.approx(1.0)  # (‖(1,−1)‖² + 0) / 2
    assert A.alignment(x, x) == 0.0
    with pytest.raises(ValueError, match="same pairs"):
        A.alignment(x, y[:1])


def test_uniformity_by_hand():
    z = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])  # pairs at squared distance 0, 4, 4
    assert A.uniformity(z) == pytest.approx(np.log((1 + 2 * np.exp(-8)) / 3))
    assert A.uniformity(np.ones((4, 3))) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least 2"):
        A.uniformity(np.ones((1, 3)))


def test_uniformity_equals_brute_force_across_blocks(monkeypatch):
    monkeypatch.setattr(A, "_BLOCK", 7)  # several row blocks, a partial last one
    rng = np.random.default_rng(0)
    z = unit(rng.normal(size=(30, 5)))
    terms = [np.exp(-2 * np.sum((z[i] - z[j]) ** 2)) for i, j in itertools.combinations(range(30), 2)]
    assert A.uniformity(z) == pytest.approx(np.log(np.mean(terms)), abs=1e-12)


# -- cone -------------------------------------------------------------------------------------
def test_cone_is_the_mean_pairwise_cosine():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(25, 6)) + 0.7  # not unit rows: cosines, not dot products
    u = unit(z)
    brute = np.mean([u[i] @ u[j] for i, j in itertools.combinations(range(25), 2)])
    assert A.mean_pairwise_cosine(z) == pytest.approx(brute, abs=1e-12)
    assert A.cone_from_unit_sum(A.unit_sum(z[:10]) + A.unit_sum(z[10:]), 25) == pytest.approx(brute, abs=1e-12)


def test_cone_by_hand_and_its_centroid_relation():
    assert A.mean_pairwise_cosine(np.eye(3)) == pytest.approx(0.0)
    assert A.mean_pairwise_cosine(np.array([[2.0, 0.0], [1.0, 0.0]])) == pytest.approx(1.0)
    assert A.mean_pairwise_cosine(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)
    rng = np.random.default_rng(2)
    z = unit(rng.normal(size=(40, 4)) + 1.0)
    n = 40
    assert A.centroid_norm(z) ** 2 == pytest.approx(1 / n + (n - 1) / n * A.mean_pairwise_cosine(z))


# -- where the gap lies -----------------------------------------------------------------------
def test_coordinate_shares_by_hand():
    order, shares = A.coordinate_gap_shares([3.0, 0.0, -4.0])
    np.testing.assert_array_equal(order, [2, 0, 1])
    np.testing.assert_allclose(shares, [16 / 25, 9 / 25, 0.0])
    assert A.top_k_share(shares, 1) == pytest.approx(0.64)
    assert A.top_k_share(shares, 5) == pytest.approx(1.0)
    assert not A.coordinate_gap_shares(np.zeros(3))[1].any()
    with pytest.raises(ValueError, match="at least 1"):
        A.top_k_share(shares, 0)


def test_principal_shares_follow_the_variance_not_the_axes():
    # the joint cloud varies most along (1, 1)/√2, then along (1, −1)/√2; Δ lies along the second
    rng = np.random.default_rng(3)
    t = rng.normal(size=(200, 2)) * [3.0, 1.0]
    rot = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)
    joint = t @ rot
    shares = A.principal_gap_shares(joint, [0.5, -0.5])
    np.testing.assert_allclose(shares, [0.0, 1.0], atol=0.02)
    # an orthonormal basis: the shares of any Δ sum to 1
    z = rng.normal(size=(50, 6))
    assert A.principal_gap_shares(z, rng.normal(size=6)).sum() == pytest.approx(1.0)


def test_effective_rank_by_hand():
    line = np.outer(np.arange(10.0), [1.0, 2.0, 0.0])
    assert A.effective_rank(line) == pytest.approx(1.0)
    cross = np.vstack([np.eye(4), -np.eye(4)])  # isotropic: 4 equal eigenvalues
    assert A.effective_rank(cross) == pytest.approx(4.0)
    # covariance diag(2/3, 1/3, 1/3): p = (1/2, 1/4, 1/4), exp(H) = 2^1.5
    pts = np.vstack([np.sqrt(2) * np.eye(3)[:1], np.eye(3)[1:]])
    assert A.effective_rank(np.vstack([pts, -pts])) == pytest.approx(2 ** 1.5)
    assert A.effective_rank(np.ones((5, 3))) == 0.0
    np.testing.assert_allclose(A.pca_spectrum(cross), A.principal_directions(cross)[0], atol=1e-12)


# -- linear separability ----------------------------------------------------------------------
def test_pair_folds_cover_every_pair_once_and_are_seeded():
    folds = A.pair_folds(23, 5, seed=4)
    assert len(folds) == 5 and sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert all(np.array_equal(a, b) for a, b in zip(folds, A.pair_folds(23, 5, seed=4), strict=True))
    assert len(A.pair_folds(3, 5)) == 3
    with pytest.raises(ValueError, match="at least 2 pairs"):
        A.pair_folds(1, 5)


def test_separability_of_shifted_and_of_identical_modalities():
    rng = np.random.default_rng(5)
    x = unit(rng.normal(size=(60, 8)))
    shift = np.zeros(8)
    shift[0] = 3.0  # images at x₀ ∈ [2, 4], texts at [−1, 1]: a margin of 1
    assert A.linear_separability(x + shift, x) == 1.0
    # an image and its caption equal: each held-out pair gets one prediction, exactly one is right
    assert A.linear_separability(x, x) == 0.5
    # a pure shift closed inside each fold (without re-normalising) leaves identical modalities
    assert A.linear_separability(x + shift, x, alpha=1.0, renormalize=False) == 0.5


def test_separability_closed_with_all_pairs_would_leak_the_held_out_fold():
    """Why each fold closes the gap with its own training Δ: closing with the Δ of all pairs makes
    each training fold's mean difference the negative of the held-out fold's (below chance)."""
    rng = np.random.default_rng(6)
    x = unit(rng.normal(size=(80, 6)))
    y = unit(rng.normal(size=(80, 6)))
    leaked = A.linear_separability(*close_gap(x, y, 1.0, renormalize=False))
    fitted = A.linear_separability(x, y, alpha=1.0, renormalize=False)
    assert leaked < 0.4 < fitted


# -- closing the top-k gap dimensions ---------------------------------------------------------
def test_top_k_gap_vector_by_hand():
    np.testing.assert_allclose(A.top_k_gap_vector([0.1, -0.5, 0.3], 2), [0.0, -0.5, 0.3])
    np.testing.assert_allclose(A.top_k_gap_vector([0.1, -0.5, 0.3], 0), [0.0, 0.0, 0.0])


def test_top_k_closing_by_hand_and_the_whole_closing_at_k_equal_d():
    x = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    y = np.array([[0.0, 0.6, 0.8], [0.0, 0.6, 0.8]])  # Δ = (1, −0.6, −0.8): top-1 is coordinate 0
    x2, y2 = A.close_gap_top_k(x, y, 1, alpha=1.0, renormalize=False)
    np.testing.assert_allclose(x2, [[0.5, 0.0, 0.0]] * 2)
    np.testing.assert_allclose(y2, [[0.5, 0.6, 0.8]] * 2)
    rng = np.random.default_rng(7)
    x, y = unit(rng.normal(size=(12, 5)) + 1), unit(rng.normal(size=(12, 5)) - 1)
    for renorm in (True, False):
        for got, ref in zip(A.close_gap_top_k(x, y, 5, 0.7, renorm), close_gap(x, y, 0.7, renorm), strict=True):
            np.testing.assert_allclose(got, ref, atol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        A.close_gap_top_k(x, y, 2, alpha=1.5)
