import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.analysis.landscape import loss_landscape
from explorer.analysis.loss import contrastive_loss


def test_one_batch_cross_entropy_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [0.6, 0.8]])
    # logits 2·XYᵀ = [[2, 1.2], [0, 1.6]]
    expected = np.mean([np.log(np.exp(2) + np.exp(1.2)) - 2, np.log(1 + np.exp(1.6)) - 1.6])
    assert contrastive_loss(x, y, 2.0, batch_size=None, variant="article") == pytest.approx(expected)


def test_article_and_symmetric_variants_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    s = 10.0
    logits = s * x @ y.T  # [[10, 7.07], [0, 7.07]]
    ce_i2t = np.mean([np.log(np.exp(10) + np.exp(s * np.sqrt(0.5))) - 10, np.log(1 + np.exp(s * np.sqrt(0.5))) - s * np.sqrt(0.5)])
    lt = logits.T
    ce_t2i = np.mean([np.log(np.exp(lt[0, 0]) + np.exp(lt[0, 1])) - lt[0, 0], np.log(np.exp(lt[1, 0]) + np.exp(lt[1, 1])) - lt[1, 1]])
    assert contrastive_loss(x, y, s, batch_size=2, variant="article") == pytest.approx(ce_i2t)
    assert contrastive_loss(x, y, s, batch_size=2, variant="symmetric") == pytest.approx(0.5 * (ce_i2t + ce_t2i))
    assert ce_i2t != pytest.approx(ce_t2i)  # the case distinguishes the variants


def test_remainder_is_dropped_and_batches_are_consecutive():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 3))
    y = rng.normal(size=(7, 3))
    full = contrastive_loss(x[:6], y[:6], 5.0, batch_size=3)
    assert contrastive_loss(x, y, 5.0, batch_size=3) == pytest.approx(full)
    manual = np.mean([contrastive_loss(x[:3], y[:3], 5.0, None), contrastive_loss(x[3:6], y[3:6], 5.0, None)])
    assert full == pytest.approx(manual)


def test_errors_for_bad_arguments():
    x = np.eye(3)
    with pytest.raises(ValueError, match="fewer than one batch"):
        contrastive_loss(x, x, 1.0, batch_size=4)
    with pytest.raises(ValueError, match="variant"):
        contrastive_loss(x, x, 1.0, batch_size=3, variant="both")
    with pytest.raises(ValueError, match="shape"):
        contrastive_loss(x, x[:2], 1.0, batch_size=2)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["symmetric", "article"]))
def test_loss_is_invariant_to_permuting_whole_batches(seed, variant):
    rng = np.random.default_rng(seed)
    b, nb = 4, 5
    x = rng.normal(size=(b * nb, 6))
    y = rng.normal(size=(b * nb, 6))
    perm = rng.permutation(nb)
    idx = np.concatenate([np.arange(k * b, (k + 1) * b) for k in perm])
    a = contrastive_loss(x, y, 7.0, batch_size=b, variant=variant)
    assert contrastive_loss(x[idx], y[idx], 7.0, batch_size=b, variant=variant) == pytest.approx(a, rel=1e-12)
    # ...and to permuting pairs inside a batch
    inner = np.concatenate([rng.permutation(b) + k * b for k in range(nb)])
    assert contrastive_loss(x[inner], y[inner], 7.0, batch_size=b, variant=variant) == pytest.approx(a, rel=1e-12)


def test_landscape_passes_through_the_original_point():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 5)) + 2
    y = rng.normal(size=(20, 5)) - 2
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    land = loss_landscape(x, y, 10.0, batch_size=10)
    assert len(land.deltas) == 40 and land.deltas[20] == 0.0
    assert land.losses[20] == pytest.approx(contrastive_loss(x, y, 10.0, batch_size=10))
    assert land.distances[20] > 0 and land.distances[-1] < 0
