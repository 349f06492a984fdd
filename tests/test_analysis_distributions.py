"""Similarity distributions: group sizes, shared bins, counts and means by hand."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.distributions import GROUPS, similarity_distributions


def test_hand_made_three_pairs():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    d = similarity_distributions(x, y, bins=2)
    # image-image pairs (i<j): (0,1)=0, (0,2)=1, (1,2)=0; text-text: (0,1)=1, (0,2)=0, (1,2)=0
    # matched: 1, 0, 0; unmatched (i≠j): x0·y1=1, x0·y2=0, x1·y0=0, x1·y2=1, x2·y0=1, x2·y1=1
    assert d.sizes == {"image-image": 3, "text-text": 3, "matched": 3, "unmatched": 6}
    np.testing.assert_allclose(d.edges, [0.0, 0.5, 1.0])
    assert d.counts["image-image"].tolist() == [2, 1]
    assert d.counts["text-text"].tolist() == [2, 1]
    assert d.counts["matched"].tolist() == [2, 1]
    assert d.counts["unmatched"].tolist() == [2, 4]
    assert d.means["unmatched"] == pytest.approx(4 / 6)
    assert d.means["matched"] == pytest.approx(1 / 3)


def test_chunking_does_not_change_counts():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 5))
    y = rng.normal(size=(23, 5))
    a = similarity_distributions(x, y, bins=17, chunk=4)
    b = similarity_distributions(x, y, bins=17, chunk=100)
    for g in GROUPS:
        assert a.counts[g].tolist() == b.counts[g].tolist()
        assert a.counts[g].sum() == a.sizes[g]
    assert a.sizes["unmatched"] == 23 * 22


def test_bad_input():
    with pytest.raises(ValueError):
        similarity_distributions(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError):
        similarity_distributions(np.ones((3, 2)), np.ones((3, 2)), bins=0)


def test_matched_similarities_of_all_pairs_with_a_sample_of_the_rest():
    """The scale engine's estimate: in-modal and unmatched groups of a sample, the matched group
    of every pair."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    matched = np.array([1.0, 0.0, 0.0, 1.0, 0.25])
    d = similarity_distributions(x, y, bins=2, matched=matched)
    assert d.sizes["matched"] == 5 and d.sizes["unmatched"] == 6
    assert d.means["matched"] == pytest.approx(matched.mean())
    assert d.counts["matched"].tolist() == [3, 2]
