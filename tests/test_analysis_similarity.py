import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.analysis.retrieval import recall_at_k, true_partner_ranks
from explorer.analysis.similarity import (
    block,
    block_from_embeddings,
    cross_modal_asymmetry,
    in_modal_difference,
    mean_abs_in_modal_difference,
    pair_similarities,
    quadrants,
    similarity_matrix,
)


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_similarity_matrix_layout_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    s = similarity_matrix(x, y)
    expected = np.array([[1, 0, 1, 1], [0, 1, 0, 0], [1, 0, 1, 1], [1, 0, 1, 1]], dtype=float)
    np.testing.assert_array_equal(s, expected)
    q = quadrants(s)
    np.testing.assert_array_equal(q.image_text, x @ y.T)
    np.testing.assert_array_equal(block(s, "text-image"), y @ x.T)
    with pytest.raises(ValueError):
        block(s, "diagonal")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 9))
def test_quadrants_are_consistent(seed, n):
    rng = np.random.default_rng(seed)
    x, y = unit(rng.normal(size=(n, 5))), unit(rng.normal(size=(n, 5)))
    s = similarity_matrix(x, y)
    q = quadrants(s)
    np.testing.assert_allclose(s, s.T, atol=1e-12)
    np.testing.assert_allclose(q.text_image, q.image_text.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(q.image_image), 1, atol=1e-12)
    np.testing.assert_allclose(np.diag(q.image_text), pair_similarities(x, y), atol=1e-12)
    for name in ("image-image", "image-text", "text-image", "text-text"):
        np.testing.assert_allclose(block(s, name), block_from_embeddings(x, y, name), atol=1e-12)
    np.testing.assert_allclose(in_modal_difference(x, y), q.image_image - q.text_text, atol=1e-12)
    assert cross_modal_asymmetry(x, y) == pytest.approx(np.abs(q.image_text - q.text_image).mean(), abs=1e-12)


def test_consistency_measures_vanish_for_identical_modalities():
    rng = np.random.default_rng(0)
    x = unit(rng.normal(size=(6, 4)))
    assert mean_abs_in_modal_difference(x, x) == 0
    assert cross_modal_asymmetry(x, x) == pytest.approx(0, abs=1e-15)
    assert mean_abs_in_modal_difference(x, unit(rng.normal(size=(6, 4)))) > 0


def test_float32_stays_float32():
    x = np.eye(3, dtype=np.float32)
    assert similarity_matrix(x, x).dtype == np.float32


def test_retrieval_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    # text 0 matches image 0; text 1 is closer to image 2 than to image 1; text 2 closer to image 1
    y = unit(np.array([[1.0, 0.0], [0.8, 0.6], [0.1, 1.0]]))
    i2t, t2i = true_partner_ranks(x, y)
    s = x @ y.T
    np.testing.assert_array_equal(i2t, [(s[i] > s[i, i]).sum() for i in range(3)])
    np.testing.assert_array_equal(t2i, [(s[:, j] > s[j, j]).sum() for j in range(3)])
    r = recall_at_k(x, y, ks=(1, 2))
    assert r["image_to_text@1"] == pytest.approx(np.mean(i2t < 1))
    assert r["text_to_image@2"] == pytest.approx(np.mean(t2i < 2))
    assert r["image_to_text@1"] < 1  # the case has a retrieval error


def test_retrieval_chunks_agree():
    rng = np.random.default_rng(5)
    x, y = unit(rng.normal(size=(50, 8))), unit(rng.normal(size=(50, 8)))
    a = true_partner_ranks(x, y, chunk=7)
    b = true_partner_ranks(x, y, chunk=4096)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_chunked_consistency_measures_equal_the_full_matrices():
    rng = np.random.default_rng(9)
    x, y = unit(rng.normal(size=(37, 6))), unit(rng.normal(size=(37, 6)))
    full_d = np.abs(x @ x.T - y @ y.T).mean()
    full_a = np.abs(x @ y.T - y @ x.T).mean()
    for chunk in (1, 5, 37, 1000):
        assert mean_abs_in_modal_difference(x, y, chunk=chunk) == pytest.approx(full_d, rel=1e-12)
        assert cross_modal_asymmetry(x, y, chunk=chunk) == pytest.approx(full_a, rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        cross_modal_asymmetry(x, y[:5])
