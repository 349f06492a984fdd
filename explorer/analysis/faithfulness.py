"""How faithful a 2-D projection of paired embeddings is.

Numbers (and per-point values for colouring the scatter):

- **trustworthiness** (Venna & Kaski): penalises points that are among a point's k nearest
  neighbours in the projection but not in the full space, by how far down the full-space ranking
  they are. Per point: T_i = 1 − 2/(k(2n−3k−1)) Σ_{j∈U_i} (r(i,j) − k), with U_i the projected
  k-NN of i that are not full-space k-NN and r(i,j) the full-space rank of j around i (nearest =
  1). The mean of T_i is scikit-learn's ``trustworthiness``. 1 = no false neighbours.
- **kNN overlap**: |kNN_full(i) ∩ kNN_2d(i)| / k per point, and its mean.

Both are exact per point; above ``DEFAULT_MAX_QUERIES`` points their means are estimated on a
seeded random sample of points (neighbours still searched among all), and the other points'
per-point values are NaN (`Faithfulness.estimated`, `n_evaluated`).
- **pair edges within a cluster**: k-means (same k, same seed) on the projected points and on the
  full-space points; the share of pairs whose image and caption fall in the same cluster. A large
  modality gap puts every edge between clusters; comparing the 2-D share with the full-space share
  separates what the projection does from what the embeddings already do.

Full-space distances are Euclidean between the points as given (for unit vectors this ranks like
cosine distance). Points are the 2N embeddings [images; captions] (rows match the projection), or
for a one-point-per-pair projection the N concatenated vectors [x_i, y_i].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: above this many points the neighbourhood numbers are estimated on a random sample of points
DEFAULT_MAX_QUERIES = 3000


@dataclass(frozen=True)
class Faithfulness:
    k: int
    trustworthiness: float
    knn_overlap: float
    edges_within_cluster_2d: float | None
    edges_within_cluster_full: float | None
    n_clusters: int | None
    trustworthiness_per_point: np.ndarray  # NaN for points not evaluated (see n_evaluated)
    knn_overlap_per_point: np.ndarray
    n_points: int = 0
    n_evaluated: int = 0

    @property
    def estimated(self) -> bool:
        """True when the neighbourhood numbers are means over a random sample of points."""
        return self.n_evaluated < self.n_points

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_points": self.n_points,
            "n_evaluated": self.n_evaluated,
            "k": self.k,
            "trustworthiness": self.trustworthiness,
            "knn_overlap": self.knn_overlap,
            "edges_within_cluster_2d": self.edges_within_cluster_2d,
            "edges_within_cluster_full": self.edges_within_cluster_full,
            "n_clusters": self.n_clusters,
        }


def _sq_dists(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def max_k(n: int) -> int:
    """Largest k allowed: 2n − 3k − 1 > 0 (the normalisation) and k < n/2 (as scikit-learn)."""
    return max(1, min((2 * n - 2) // 3, (n - 1) // 2))


def query_points(n: int, max_queries: int | None, seed: int = 0) -> np.ndarray:
    """All n points, or a seeded random sample of `max_queries` of them (sorted)."""
    if max_queries is None or max_queries >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_queries), replace=False))


def neighbourhood_preservation(
    high, low, k: int = 10, chunk: int = 256, queries: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """(per-point trustworthiness, per-point kNN overlap, k used) of `low` as a map of `high`.

    Rows of `high` (n × D) and `low` (n × d) are the same points. k is clamped to what n allows.
    `queries`: evaluate only these points (neighbours are still searched among all n); the
    others get NaN. Each query point's value is exact, so the mean over a random sample is an
    unbiased estimate of the full mean.
    """
    hi = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    n = hi.shape[0]
    if lo.shape[0] != n:
        raise ValueError(f"{n} full-space points but {lo.shape[0]} projected points")
    if n < 3:
        raise ValueError(f"neighbourhood preservation needs at least 3 points, got {n}")
    k = int(min(max(1, k), max_k(n)))
    hi_sq = (hi * hi).sum(axis=1)
    lo_sq = (lo * lo).sum(axis=1)
    trust = np.full(n, np.nan)
    overlap = np.full(n, np.nan)
    scale = 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))
    q_all = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    for start in range(0, q_all.size, chunk):
        rows = q_all[start : start + chunk]
        dh = _sq_dists(hi[rows], hi, hi_sq)
        dl = _sq_dists(lo[rows], lo, lo_sq)
        r = np.arange(rows.size)
        dh[r, rows] = np.inf  # a point is not its own neighbour
        dl[r, rows] = np.inf
        knn_h = np.argpartition(dh, k - 1, axis=1)[:, :k]
        knn_l = np.argpartition(dl, k - 1, axis=1)[:, :k]
        # overlap: how many projected neighbours are full-space neighbours
        in_h = np.zeros_like(dh, dtype=bool)
        in_h[r[:, None], knn_h] = True
        overlap[rows] = in_h[r[:, None], knn_l].sum(axis=1) / k
        # full-space rank (nearest = 1) of each projected neighbour
        vals = dh[r[:, None], knn_l]  # (c, k)
        ranks = (dh[:, None, :] < vals[:, :, None]).sum(axis=2) + 1
        penalty = np.where(ranks > k, ranks - k, 0).sum(axis=1)
        trust[rows] = 1.0 - scale * penalty
    return trust, overlap, k


def edges_within_clusters(labels, n_pairs: int) -> float:
    """Share of pairs i whose image (label i) and caption (label N+i) share a cluster."""
    lab = np.asarray(labels)
    if lab.shape[0] != 2 * n_pairs:
        raise ValueError(f"expected {2 * n_pairs} labels (images then captions), got {lab.shape[0]}")
    return float(np.mean(lab[:n_pairs] == lab[n_pairs:]))


def kmeans_labels(points, n_clusters: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    pts = np.asarray(points, dtype=np.float64)
    c = int(max(1, min(n_clusters, pts.shape[0])))
    return KMeans(n_clusters=c, n_init=2, random_state=seed).fit_predict(pts)


def projection_faithfulness(
    image,
    text,
    coords,
    *,
    one_point_per_pair: bool = False,
    k: int = 10,
    n_clusters: int = 10,
    seed: int = 0,
    max_queries: int | None = DEFAULT_MAX_QUERIES,
) -> Faithfulness:
    """All faithfulness numbers of a projection `coords` of the pairs (image, text).

    coords: (2N, 2) with images first, or (N, 2) when `one_point_per_pair` (concatenated mode).
    Trustworthiness and kNN overlap are averaged over all points, or over a seeded random
    sample of `max_queries` points when there are more (None: always all).
    """
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(text, dtype=np.float64)
    n = x.shape[0]
    high = np.concatenate([x, y], axis=1) if one_point_per_pair else np.concatenate([x, y], axis=0)
    low = np.asarray(coords, dtype=np.float64)
    if low.shape[0] != high.shape[0]:
        raise ValueError(f"projection has {low.shape[0]} points, expected {high.shape[0]}")
    queries = query_points(high.shape[0], max_queries, seed)
    trust, overlap, k_used = neighbourhood_preservation(high, low, k, queries=queries)
    within_2d = within_full = None
    c = None
    if not one_point_per_pair:
        c = int(max(1, min(n_clusters, 2 * n - 1)))
        within_2d = edges_within_clusters(kmeans_labels(low, c, seed), n)
        within_full = edges_within_clusters(kmeans_labels(high, c, seed), n)
    return Faithfulness(
        k=k_used,
        trustworthiness=float(np.nanmean(trust)),
        knn_overlap=float(np.nanmean(overlap)),
        edges_within_cluster_2d=within_2d,
        edges_within_cluster_full=within_full,
        n_clusters=c,
        trustworthiness_per_point=trust,
        knn_overlap_per_point=overlap,
        n_points=int(high.shape[0]),
        n_evaluated=int(queries.size),
    )
