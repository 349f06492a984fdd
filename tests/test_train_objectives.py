"""The CLIP, CyCLIP and CLOOB objectives against tiny cases computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.train import objectives as o

torch.set_num_threads(1)


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def lse(*v):
    return math.log(sum(math.exp(a) for a in v))


# -- CLIP -----------------------------------------------------------------------------------------


def test_clip_loss_2x2_identity_pairs():
    x = t([[1, 0], [0, 1]])
    # s = exp(ln 2) = 2: logits 2·I; each row: -log(e²/(e²+1)) = log(1 + e⁻²)
    assert float(o.clip_loss(x, x, math.log(2))) == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-12)
    swapped = t([[0, 1], [1, 0]])
    assert float(o.clip_loss(x, swapped, math.log(2))) == pytest.approx(math.log(1 + math.exp(2)), abs=1e-12)


def test_clip_loss_is_the_mean_of_both_directions():
    x = t([[1, 0], [0, 1]])
    y = t([[1, 0], [0.6, 0.8]])
    # s = 1. XYᵀ = [[1, .6], [0, .8]]; YXᵀ = [[1, 0], [.6, .8]]
    i2t = ((lse(1, 0.6) - 1) + (lse(0, 0.8) - 0.8)) / 2
    t2i = ((lse(1, 0) - 1) + (lse(0.6, 0.8) - 0.8)) / 2
    assert float(o.clip_loss(x, y, 0.0)) == pytest.approx((i2t + t2i) / 2, abs=1e-12)


def test_clip_temperature_is_clamped_to_0_and_ln100():
    x = t([[1, 0], [0, 1]])
    y = t([[1, 0], [0.6, 0.8]])
    assert float(o.clip_loss(x, y, 10.0)) == pytest.approx(float(o.clip_loss(x, y, math.log(100))), abs=1e-12)
    assert float(o.clip_loss(x, y, -3.0)) == pytest.approx(float(o.clip_loss(x, y, 0.0)), abs=1e-12)
    assert float(o.clip_loss(x, y, 3.0)) != pytest.approx(float(o.clip_loss(x, y, 2.0)))
    assert o.LOGIT_T_INIT == pytest.approx(math.log(1 / 0.07))
    assert math.exp(o.LOGIT_T_MAX) == pytest.approx(100)


# -- CyCLIP ---------------------------------------------------------------------------------------


def test_cyclip_regularisers_vanish_for_identical_modalities():
    x = torch.nn.functional.normalize(torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), dim=1)
    assert float(o.in_modal_consistency(x, x)) == 0.0
    assert float(o.cross_modal_consistency(x, x)) == pytest.approx(0.0, abs=1e-20)
    assert float(o.cyclip_loss(x, x, 1.0)) == pytest.approx(float(o.clip_loss(x, x, 1.0)), abs=1e-12)


def test_cyclip_rotated_text_keeps_in_modal_but_breaks_cross_modal_symmetry():
    x = t([[1, 0], [0, 1]])
    y = t([[0, 1], [-1, 0]])  # x rotated by 90°: YYᵀ = XXᵀ = I
    assert float(o.in_modal_consistency(x, y)) == 0.0
    # XYᵀ = [[0, -1], [1, 0]]; XYᵀ − YXᵀ = [[0, -2], [2, 0]]; Σ squares 8, / B = 4
    assert float(o.cross_modal_consistency(x, y)) == pytest.approx(4.0)
    assert float(o.cyclip_loss(x, y, 0.5) - o.clip_loss(x, y, 0.5)) == pytest.approx(0.25 * 4.0)


def test_cyclip_both_terms_by_hand():
    x = t([[1, 0], [0, 1]])
    y = t([[1, 0], [1, 0]])
    # XXᵀ − YYᵀ = [[0, -1], [-1, 0]] -> 2 / 2 = 1; XYᵀ = [[1, 1], [0, 0]], minus its transpose
    # [[0, 1], [-1, 0]] -> 2 / 2 = 1
    assert float(o.in_modal_consistency(x, y)) == pytest.approx(1.0)
    assert float(o.cross_modal_consistency(x, y)) == pytest.approx(1.0)
    assert float(o.cyclip_loss(x, y, 0.0)) == pytest.approx(float(o.clip_loss(x, y, 0.0)) + 0.25 + 0.25)
    assert o.CYCLIP_LAMBDA_IN_MODAL == o.CYCLIP_LAMBDA_CROSS_MODAL == 0.25


# -- CLOOB ----------------------------------------------------------------------------------------


def test_hopfield_with_large_beta_returns_the_nearest_pattern():
    memory = t([[0.8, 0.6], [0, 1], [-1, 0]])
    queries = t([[1, 0], [-0.6, 0.8]])
    out = o.hopfield_retrieval(queries, memory, beta=1e4)
    assert torch.allclose(out[0], t([0.8, 0.6]), atol=1e-9)  # dots 0.8, 0, -1
    assert torch.allclose(out[1], t([0, 1]), atol=1e-9)  # dots -0.12, 0.8, 0.6


def test_hopfield_with_beta_zero_returns_the_normalised_mean():
    memory = t([[0.8, 0.6], [0, 1], [-1, 0]])
    out = o.hopfield_retrieval(t([[1, 0]]), memory, beta=0.0)
    mean = t([-0.2, 1.6])  # 3 × mean, direction is what matters
    assert torch.allclose(out[0], mean / mean.norm(), atol=1e-12)


def test_info_loob_leaves_the_positive_out_of_the_denominator():
    eye = t([[1, 0], [0, 1]])
    # k = 30·I; B = 2: mean(-k_ii) + mean(k_{i,1-i}) = -30 + 0 (InfoNCE would be log(1+e⁻³⁰) > 0)
    assert float(o.info_loob(eye, eye, 30.0)) == pytest.approx(-30.0)
    a = t([[1, 0], [0.6, 0.8]])
    b = t([[0.6, 0.8], [0, 1]])
    # ABᵀ = [[.6, 0], [1, .8]] -> k = 2·ABᵀ with inv_tau 2
    expected = -(1.2 + 1.6) / 2 + (0.0 + 2.0) / 2
    assert float(o.info_loob(a, b, 2.0)) == pytest.approx(expected, abs=1e-12)


def test_info_loob_three_items_by_hand():
    a = t([[1, 0], [0, 1], [0.6, 0.8]])
    k = [[1, 0, 0.6], [0, 1, 0.8], [0.6, 0.8, 1]]  # A·Aᵀ with inv_tau 1
    expected = -1.0 + (lse(k[0][1], k[0][2]) + lse(k[1][0], k[1][2]) + lse(k[2][0], k[2][1])) / 3
    assert float(o.info_loob(a, a, 1.0)) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.floats(-5, 5), st.integers(0, 2))
def test_info_loob_positives_change_only_the_numerator(shift, i):
    """Raising one positive similarity by `shift` lowers the loss by shift·τ⁻¹/B exactly."""
    g = torch.Generator().manual_seed(i)
    a = torch.randn(3, 3, dtype=torch.float64, generator=g)
    b = torch.randn(3, 3, dtype=torch.float64, generator=g)
    k = a @ b.T
    k2 = k.clone()
    k2[i, i] += shift
    # InfoLOOB is a function of k = ABᵀ; realise k and k2 with A = k, B = I
    eye = torch.eye(3, dtype=torch.float64)
    assert float(o.info_loob(k2, eye, 1.0) - o.info_loob(k, eye, 1.0)) == pytest.approx(-shift / 3, abs=1e-9)


def test_cloob_loss_on_two_orthogonal_pairs_by_hand():
    x = t([[1, 0], [0, 1]])
    beta = 8.0
    w = math.exp(beta) / (math.exp(beta) + 1)  # softmax weight on the own pattern
    a, b = w, 1 - w
    # all four retrievals equal U = normalize([[a, b], [b, a]]); k = 30·UUᵀ: diagonal 30,
    # off-diagonal 30·2ab/(a²+b²); each InfoLOOB = -30 + 30·2ab/(a²+b²); total scaled by τ = 1/30
    expected = 2 * (-1 + 2 * a * b / (a * a + b * b))
    assert float(o.cloob_loss(x, x, 30.0, beta)) == pytest.approx(expected, abs=1e-12)


def test_cloob_uses_cross_retrievals():
    """Swapping which modality is memory changes the loss: it is not InfoLOOB on X, Y directly."""
    g = torch.Generator().manual_seed(3)
    x = torch.nn.functional.normalize(torch.randn(6, 4, dtype=torch.float64, generator=g), dim=1)
    y = torch.nn.functional.normalize(torch.randn(6, 4, dtype=torch.float64, generator=g), dim=1)
    direct = (o.info_loob(x, y) + o.info_loob(y, x)) / o.CLOOB_INV_TAU
    assert float(o.cloob_loss(x, y)) != pytest.approx(float(direct))
    # with β → 0 every retrieval is the normalised mean of its memory: U_x = U_y (both from X)
    # and V_x = V_y, so k is 30 everywhere and each InfoLOOB is −30 + log(B − 1) + 30
    expected = 2 * math.log(5) / 30
    assert float(o.cloob_loss(x, y, 30.0, 0.0)) == pytest.approx(expected, abs=1e-9)


def test_objective_dispatch_and_unknown_name():
    x = t([[1, 0], [0, 1]])
    assert float(o.objective_loss("clip", x, x, torch.tensor(0.0))) == pytest.approx(float(o.clip_loss(x, x, 0.0)))
    assert float(o.objective_loss("cloob", x, x)) == pytest.approx(float(o.cloob_loss(x, x)))
    assert float(o.objective_loss("cyclip", x, x, torch.tensor(0.0), {"lambda_in_modal": 1.0})) == pytest.approx(
        float(o.clip_loss(x, x, 0.0))
    )
    with pytest.raises(ValueError, match="objective"):
        o.objective_loss("siglip", x, x)


def test_gradients_flow_to_the_temperature_for_clip_only():
    x = torch.nn.functional.normalize(torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), dim=1)
    y = torch.nn.functional.normalize(torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)), dim=1)
    tt = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    o.clip_loss(x, y, tt).backward()
    assert tt.grad is not None and float(tt.grad) != 0.0
    at_max = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)  # clamped: no gradient
    o.clip_loss(x, y, at_max).backward()
    assert float(at_max.grad) == 0.0
