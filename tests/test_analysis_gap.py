import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from explorer.analysis.gap import (
    close_gap,
    gap_distance,
    gap_distance_from_similarity,
    gap_vector,
    shift_along_gap,
    signed_gap_distance,
)
from explorer.analysis.similarity import similarity_matrix


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_gap_of_two_opposite_clusters_by_hand():
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(gap_vector(x, y), [1.0, -1.0])
    assert gap_distance(x, y) == pytest.approx(np.sqrt(2))


def test_closing_by_hand_with_and_without_renormalisation():
    x = np.array([[1.0, 0.0]])
    y = np.array([[0.0, 1.0]])
    x2, y2 = close_gap(x, y, alpha=1.0, renormalize=False)
    np.testing.assert_allclose(x2, [[0.5, 0.5]])
    np.testing.assert_allclose(y2, [[0.5, 0.5]])
    x3, y3 = close_gap(x, y, alpha=0.5, renormalize=True)
    # shifted by a quarter of the gap (1,-1): x -> (0.75, 0.25), normalised
    np.testing.assert_allclose(x3, [[0.75, 0.25] / np.hypot(0.75, 0.25)])
    np.testing.assert_allclose(y3, [[0.25, 0.75] / np.hypot(0.25, 0.75)])


def test_alpha_zero_is_identity_and_out_of_range_rejected():
    rng = np.random.default_rng(0)
    x, y = unit(rng.normal(size=(5, 3))), unit(rng.normal(size=(5, 3)))
    x2, y2 = close_gap(x, y, alpha=0.0)
    np.testing.assert_allclose(x2, x)
    np.testing.assert_allclose(y2, y)
    with pytest.raises(ValueError):
        close_gap(x, y, alpha=1.5)
    with pytest.raises(ValueError, match="same pairs"):
        gap_distance(x, y[:3])


paired = st.integers(2, 12).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n, 4), elements=st.floats(-1, 1, allow_nan=False)),
        arrays(np.float64, (n, 4), elements=st.floats(-1, 1, allow_nan=False)),
    )
).filter(lambda xy: (np.linalg.norm(xy[0], axis=1) > 1e-3).all() and (np.linalg.norm(xy[1], axis=1) > 1e-3).all())


@settings(max_examples=60, deadline=None)
@given(paired)
def test_full_closing_without_renormalisation_leaves_no_gap(xy):
    x, y = unit(xy[0]), unit(xy[1])
    x2, y2 = close_gap(x, y, alpha=1.0, renormalize=False)
    assert gap_distance(x2, y2) < 1e-12


@settings(max_examples=60, deadline=None)
@given(paired, st.floats(0, 1))
def test_partial_closing_without_renormalisation_scales_the_gap(xy, alpha):
    x, y = unit(xy[0]), unit(xy[1])
    x2, y2 = close_gap(x, y, alpha=alpha, renormalize=False)
    assert gap_distance(x2, y2) == pytest.approx((1 - alpha) * gap_distance(x, y), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(paired)
def test_gap_from_similarity_matrix_equals_gap_from_vectors(xy):
    x, y = unit(xy[0]), unit(xy[1])
    s = similarity_matrix(x, y)
    assert gap_distance_from_similarity(s, len(x)) == pytest.approx(gap_distance(x, y), abs=1e-7)


def test_landscape_shift_sign_follows_the_original_gap():
    x = unit([[1.0, 0.2], [1.0, -0.2]])
    y = unit([[0.2, 1.0], [-0.2, 1.0]])
    ref = gap_vector(x, y)
    # shifting far in the positive direction moves images past the texts: the sign flips
    x2, y2 = shift_along_gap(x, y, 4.0, direction=ref)
    assert signed_gap_distance(x2, y2, ref) < 0
    x3, y3 = shift_along_gap(x, y, 0.0, direction=ref)
    assert signed_gap_distance(x3, y3, ref) == pytest.approx(gap_distance(x, y))
    with pytest.raises(ValueError):
        shift_along_gap(x, x, 1.0)
