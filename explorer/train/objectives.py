"""The CLIP, CyCLIP and CLOOB training objectives (FORMATS.md, "Training objectives").

All functions take a batch of B image embeddings X and B caption embeddings Y (row i of each is
pair i), both already L2-normalised, as torch tensors of shape (B, D).

- CLIP: s = exp(t) with t learnable, initialised to ln(1/0.07) and clamped to [0, ln 100];
  L = ½[CE(s·XYᵀ) + CE(s·YXᵀ)] with labels 0..B−1.
- CyCLIP: L_CLIP + λ1·(1/B)Σ_jk(⟨x_j,x_k⟩−⟨y_j,y_k⟩)² + λ2·(1/B)Σ_jk(⟨x_j,y_k⟩−⟨x_k,y_j⟩)²,
  λ1 = λ2 = 0.25 (in-modal and cross-modal consistency; on raw cosines, not scaled logits).
- CLOOB: modern-Hopfield retrieval with the batch as memory,
  Hop(Q; M) = normalize(softmax(β·QMᵀ, rows)·M), U_x = Hop(X; X), U_y = Hop(Y; X),
  V_x = Hop(X; Y), V_y = Hop(Y; Y), and
  L = τ·[InfoLOOB(U_x, U_y) + InfoLOOB(V_y, V_x)] with
  InfoLOOB(A, B) = mean_i(−k_ii) + mean_i logsumexp_{j≠i} k_ij, k = τ⁻¹·ABᵀ
  (leave-one-out: the positive is not in the denominator). τ⁻¹ = 30 and β = 8 are fixed; the
  overall factor τ is the ml-jku implementation's (cloob-training halves instead); it only
  rescales the gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: initial temperature parameter t of CLIP and CyCLIP: s = exp(t) = 1/0.07
LOGIT_T_INIT = math.log(1 / 0.07)
#: clamp of t: s stays in [1, 100]
LOGIT_T_MAX = math.log(100.0)
CYCLIP_LAMBDA_IN_MODAL = 0.25
CYCLIP_LAMBDA_CROSS_MODAL = 0.25
CLOOB_INV_TAU = 30.0
CLOOB_BETA = 8.0

OBJECTIVES = ("clip", "cyclip", "cloob")


def clamp_logit_t(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(0.0, LOGIT_T_MAX)


def clip_loss(x: torch.Tensor, y: torch.Tensor, logit_t: torch.Tensor | float) -> torch.Tensor:
    """½[CE(s·XYᵀ) + CE(s·YXᵀ)] with s = exp(clamp(t, 0, ln 100))."""
    t = torch.as_tensor(logit_t, dtype=x.dtype, device=x.device)
    logits = clamp_logit_t(t).exp() * (x @ y.T)
    labels = torch.arange(x.shape[0], device=x.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def in_modal_consistency(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/B)Σ_jk(⟨x_j,x_k⟩ − ⟨y_j,y_k⟩)²: zero when both modalities have the same in-modal geometry."""
    return ((x @ x.T) - (y @ y.T)).square().sum() / x.shape[0]


def cross_modal_consistency(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/B)Σ_jk(⟨x_j,y_k⟩ − ⟨x_k,y_j⟩)²: zero when XYᵀ is symmetric."""
    s = x @ y.T
    return (s - s.T).square().sum() / x.shape[0]


def cyclip_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    logit_t: torch.Tensor | float,
    lambda_in: float = CYCLIP_LAMBDA_IN_MODAL,
    lambda_cross: float = CYCLIP_LAMBDA_CROSS_MODAL,
) -> torch.Tensor:
    """CLIP loss plus CyCLIP's in-modal and cross-modal consistency regularisers."""
    return clip_loss(x, y, logit_t) + lambda_in * in_modal_consistency(x, y) + lambda_cross * cross_modal_consistency(x, y)


def hopfield_retrieval(queries: torch.Tensor, memory: torch.Tensor, beta: float = CLOOB_BETA) -> torch.Tensor:
    """normalize(softmax(β·QMᵀ, over memory rows)·M): each query replaced by a normalised mix of
    the stored patterns, weighted towards the ones it is most similar to."""
    weights = torch.softmax(beta * (queries @ memory.T), dim=1)
    return F.normalize(weights @ memory, dim=1)


def info_loob(a: torch.Tensor, b: torch.Tensor, inv_tau: float = CLOOB_INV_TAU) -> torch.Tensor:
    """mean_i(−k_ii) + mean_i logsumexp_{j≠i} k_ij with k = τ⁻¹·ABᵀ (the positive left out)."""
    k = inv_tau * (a @ b.T)
    eye = torch.eye(k.shape[0], dtype=torch.bool, device=k.device)
    positives = -k.diagonal().mean()
    negatives = torch.logsumexp(k.masked_fill(eye, float("-inf")), dim=1).mean()
    return positives + negatives


def cloob_loss(
    x: torch.Tensor, y: torch.Tensor, inv_tau: float = CLOOB_INV_TAU, beta: float = CLOOB_BETA
) -> torch.Tensor:
    """τ·[InfoLOOB(U_x, U_y) + InfoLOOB(V_y, V_x)] with the batch itself as Hopfield memory."""
    u_x = hopfield_retrieval(x, x, beta)
    u_y = hopfield_retrieval(y, x, beta)
    v_x = hopfield_retrieval(x, y, beta)
    v_y = hopfield_retrieval(y, y, beta)
    return (info_loob(u_x, u_y, inv_tau) + info_loob(v_y, v_x, inv_tau)) / inv_tau


def objective_loss(objective: str, x: torch.Tensor, y: torch.Tensor, logit_t: torch.Tensor | None = None,
                   params: dict | None = None) -> torch.Tensor:
    """Dispatch by name ('clip', 'cyclip', 'cloob'); `params` overrides λ1, λ2, τ⁻¹, β."""
    p = params or {}
    if objective == "clip":
        return clip_loss(x, y, logit_t)
    if objective == "cyclip":
        return cyclip_loss(x, y, logit_t, p.get("lambda_in_modal", CYCLIP_LAMBDA_IN_MODAL),
                           p.get("lambda_cross_modal", CYCLIP_LAMBDA_CROSS_MODAL))
    if objective == "cloob":
        return cloob_loss(x, y, p.get("inv_tau", CLOOB_INV_TAU), p.get("beta", CLOOB_BETA))
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
