"""Gap anatomy: what a modality gap is made of (the measures of the literature since the article).

Images X and texts Y (N×D, row i of both one pair), Δ = x̄ − ȳ. Each function is exact on the
arrays it is given; :mod:`explorer.engine.anatomy` feeds them chunks or a stated seeded sample of
the shown pairs so that they run at any size.

- alignment (Wang & Isola 2020, α = 2): E_i ‖x_i − y_i‖²;
- uniformity (Wang & Isola, t = 2), per modality: log of the mean over pairs i < j of
  exp(−2‖z_i − z_j‖²);
- cone (Liang et al. 2022): the mean pairwise cosine within a modality over i < j, exact in
  O(N·D) from the sum of the unit rows s = Σ ẑ_i: (‖s‖² − N) / (N(N−1));
- per-dimension gap share: Δ_d² / ‖Δ‖² per coordinate, and (u_j·Δ)² / ‖Δ‖² per principal
  direction u_j of the joint embeddings [X; Y] (Schrodi et al. 2024: a few dimensions hold most of it);
- effective rank (Roy & Vetterli 2007): exp(−Σ p_j log p_j), p the normalised eigenvalues of one
  modality's covariance;
- linear separability: held-out accuracy of a logistic regression telling images from texts,
  seeded k-fold over pairs (a pair's image and caption are always in the same fold); after
  closing, the closing is fitted on the training folds (see :func:`linear_separability`);
- closing restricted to the top-k gap dimensions: the article's closing (FORMATS.md,
  :func:`explorer.analysis.gap.close_gap`) with Δ replaced by Δ_k, Δ with all but its k largest
  coordinates (by |Δ_d|) set to 0: x' = x − αΔ_k/2, y' = y + αΔ_k/2, re-normalised or not.

Pure numpy (scikit-learn for the logistic regression).
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .gap import _f64, gap_vector, normalize_rows, shift_along_gap

#: logistic regression of the separability: scikit-learn's defaults (L2, C = 1, lbfgs), more iterations
SEPARABILITY_C = 1.0
SEPARABILITY_MAX_ITER = 1000
#: rows per block of the exact uniformity's pairwise distances
_BLOCK = 1024


def _pairs_of(image, text) -> tuple[np.ndarray, np.ndarray]:
    x, y = _f64(image), _f64(text)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"image and text arrays differ in shape: {x.shape} vs {y.shape}; they must hold the same pairs")
    return x, y


def _at_least_two(z: np.ndarray, what: str) -> None:
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 rows, got {z.shape[0] if z.ndim == 2 else z.shape}")


# -- alignment and uniformity ---------------------------------------------------------------
def alignment(image, text) -> float:
    """E_i ‖x_i − y_i‖² (Wang & Isola's alignment with α = 2; 0 when every pair coincides)."""
    x, y = _pairs_of(image, text)
    return float(np.mean(np.einsum("ij,ij->i", x - y, x - y)))


def uniformity(z) -> float:
    """log( 2/(N(N−1)) · Σ_{i<j} exp(−2‖z_i − z_j‖²) ), exact (blocks of rows), t = 2.

    For unit rows ‖z_i − z_j‖² ∈ [0, 4], so it lies in [−8, 0]: 0 when all rows coincide, about −4
    for rows spread uniformly over a high-dimensional sphere (lower = more uniform). Over a sample of
    rows it is the same statistic of the sample's pairs."""
    z = _f64(z)
    _at_least_two(z, "uniformity")
    n = z.shape[0]
    sq = np.einsum("ij,ij->i", z, z)
    logs = []  # log of each block's sum, shifted by its largest exponent (no underflow far apart)
    for s in range(0, n, _BLOCK):
        e = min(s + _BLOCK, n)
        d2 = np.maximum(sq[s:e, None] + sq[None, :] - 2.0 * (z[s:e] @ z.T), 0.0)
        upper = np.arange(s, e)[:, None] < np.arange(n)[None, :]  # pairs i < j only
        if upper.any():
            a = -2.0 * d2[upper]
            top = a.max()
            logs.append(top + np.log(np.exp(a - top).sum()))
    logs = np.asarray(logs)
    top = logs.max()
    return float(top + np.log(np.exp(logs - top).sum()) - np.log(n * (n - 1) / 2.0))


# -- cone -----------------------------------------------------------------------------------
def unit_sum(z) -> np.ndarray:
    """Σ_i z_i/‖z_i‖ (float64), the sufficient statistic of :func:`cone_from_unit_sum`."""
    return normalize_rows(z).sum(axis=0)


def cone_from_unit_sum(s, n: int) -> float:
    """Mean pairwise cosine over i < j from s = Σ ẑ_i: (‖s‖² − n) / (n(n−1)), since
    ‖s‖² = Σ_i Σ_j ẑ_i·ẑ_j = n + 2 Σ_{i<j} cos(z_i, z_j)."""
    if n < 2:
        raise ValueError(f"the cone needs at least 2 rows, got {n}")
    s = _f64(s)
    return float((s @ s - n) / (n * (n - 1.0)))


def mean_pairwise_cosine(z) -> float:
    """The cone: mean over i < j of cos(z_i, z_j), in O(N·D) (see :func:`cone_from_unit_sum`)."""
    z = _f64(z)
    _at_least_two(z, "the cone")
    return cone_from_unit_sum(unit_sum(z), z.shape[0])


def centroid_norm(z) -> float:
    """‖mean_i z_i‖ (for unit rows, √(1/N + (N−1)/N · cone))."""
    return float(np.linalg.norm(_f64(z).mean(axis=0)))


# -- where the gap lies ---------------------------------------------------------------------
def coordinate_gap_shares(delta) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates by decreasing Δ_d², their shares Δ_d²/‖Δ‖²); shares sum to 1 (all 0 when Δ = 0).
    Ties keep coordinate order."""
    d2 = _f64(delta) ** 2
    order = np.argsort(-d2, kind="stable")
    total = d2.sum()
    return order, (d2[order] / total if total > 0 else np.zeros_like(d2))


def top_k_share(shares, k: int) -> float:
    """Σ of the k largest shares (shares sorted decreasingly, as the functions here return them)."""
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return float(np.sum(np.asarray(shares)[: int(k)]))


def _covariance(z) -> np.ndarray:
    z = _f64(z)
    _at_least_two(z, "a principal component analysis")
    c = z - z.mean(axis=0)
    return c.T @ c / z.shape[0]


def principal_directions(z) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues, eigenvectors as columns) of the covariance of the rows of `z` (centred at
    their mean, divided by N), by decreasing eigenvalue; eigenvalues clipped at 0."""
    cov = _covariance(z)
    # a D×D problem: multi-threaded BLAS costs more than it gains here when the cores are busy (4x)
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = np.linalg.eigh(cov)
    order = np.argsort(-values, kind="stable")
    return np.maximum(values[order], 0.0), vectors[:, order]


def pca_spectrum(z) -> np.ndarray:
    """The eigenvalues of :func:`principal_directions` alone (decreasing, clipped at 0)."""
    cov = _covariance(z)
    with threadpool_limits(limits=1, user_api="blas"):
        values = np.linalg.eigvalsh(cov)
    return np.maximum(values[::-1], 0.0)


def principal_gap_shares(joint, delta) -> np.ndarray:
    """(u_j·Δ)²/‖Δ‖² for the principal directions u_j of `joint` (e.g. [X; Y], 2N×D), by decreasing
    variance; they sum to 1 (an orthonormal basis; all 0 when Δ = 0)."""
    delta = _f64(delta)
    _, u = principal_directions(joint)
    proj = (u.T @ delta) ** 2
    total = float(delta @ delta)
    return proj / total if total > 0 else np.zeros_like(proj)


def effective_rank(z) -> float:
    """exp(−Σ_j p_j log p_j) with p_j = λ_j/Σλ, λ the covariance eigenvalues of the rows of `z`
    (1 for rows on a line, D for an isotropic cloud; 0 when all rows are equal)."""
    values = pca_spectrum(z)
    total = values.sum()
    if total <= 0:
        return 0.0
    p = values[values > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


# -- linear separability --------------------------------------------------------------------
def pair_folds(n: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """A seeded split of the pair indices 0..n−1 into `folds` folds (as equal as can be)."""
    if n < 2:
        raise ValueError(f"a held-out accuracy needs at least 2 pairs, got {n}")
    k = min(int(folds), n)
    if k < 2:
        raise ValueError(f"k-fold needs at least 2 folds, got {folds}")
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def linear_separability(image, text, folds: int = 5, seed: int = 0, alpha: float = 0.0, renormalize: bool = True) -> float:
    """Held-out accuracy of a logistic regression (L2, C = SEPARABILITY_C) telling images (1) from
    texts (0): each seeded fold of pairs is predicted by a model fitted on the others; accuracy
    over all 2N held-out points. 0.5 = chance; 1 = the modalities are linearly separable.
    `folds` is capped at N.

    With α > 0 the gap is closed inside each fold, with the Δ of the training pairs applied to
    training and held-out pairs alike (x − αΔ_train/2, y + αΔ_train/2, re-normalised or not). A Δ
    of all pairs would leak the held-out fold: its mean difference is then minus the training
    folds', and the classifier learns the opposite of the held-out side (below chance: 0.24 on
    Liang et al.'s CLIP embeddings)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x, y = _pairs_of(image, text)
    n = x.shape[0]
    correct = 0
    for held in pair_folds(n, folds, seed):
        train = np.setdiff1d(np.arange(n), held, assume_unique=True)
        xt, yt, xh, yh = x[train], y[train], x[held], y[held]
        if alpha > 0:
            shift = gap_vector(xt, yt)
            xt, yt = shift_pairs(xt, yt, shift, alpha, renormalize)
            xh, yh = shift_pairs(xh, yh, shift, alpha, renormalize)
        model = LogisticRegression(C=SEPARABILITY_C, max_iter=SEPARABILITY_MAX_ITER)
        # small products: one BLAS thread is ~25x faster than several on busy cores (0.016 s vs 0.43 s per fit)
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(np.vstack([xt, yt]), np.r_[np.ones(train.size), np.zeros(train.size)])
        correct += int((model.predict(xh) == 1).sum() + (model.predict(yh) == 0).sum())
    return correct / (2.0 * n)


# -- closing the top-k gap dimensions -------------------------------------------------------
def top_k_gap_vector(delta, k: int) -> np.ndarray:
    """Δ_k: Δ with all but its k largest coordinates (by |Δ_d|, ties in coordinate order) set to 0."""
    delta = _f64(delta)
    order, _ = coordinate_gap_shares(delta)
    out = np.zeros_like(delta)
    keep = order[: max(int(k), 0)]
    out[keep] = delta[keep]
    return out


def shift_pairs(image, text, vector, alpha: float = 1.0, renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """x − α·v/2 and y + α·v/2 (re-normalised by default): the article's closing with any vector v."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    x, y, v = _f64(image), _f64(text), _f64(vector)
    norm = float(np.linalg.norm(v))
    if renormalize and norm > 0:
        return shift_along_gap(x, y, alpha * norm, v)
    x2, y2 = x - 0.5 * alpha * v, y + 0.5 * alpha * v
    return (normalize_rows(x2), normalize_rows(y2)) if renormalize else (x2, y2)


def close_gap_top_k(image, text, k: int, alpha: float = 1.0, renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The article's closing restricted to the top-k gap dimensions: x − αΔ_k/2, y + αΔ_k/2
    (re-normalised by default); k ≥ D is the whole closing (:func:`explorer.analysis.gap.close_gap`)."""
    x, y = _pairs_of(image, text)
    return shift_pairs(x, y, top_k_gap_vector(gap_vector(x, y), k), alpha, renormalize)
