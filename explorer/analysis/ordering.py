"""Cluster ordering of the similarity matrix (the article's "cluster matrix by similarity").

Rows of one N×N block (by default text rows × image columns, `text-image`, as in the article's
exports) are observations; complete-linkage clustering of 1 − block (Euclidean between rows),
cut into k clusters with `maxclust`, order = stable argsort of the cluster ids. The same
permutation of the N pairs is applied to every quadrant. With `optimal=True` the dendrogram
leaves are put in optimal order and clusters appear in leaf order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster import hierarchy as sch
from scipy.spatial.distance import pdist, squareform

#: above this many rows, Euclidean distances between rows come from one matrix product (BLAS)
#: instead of scipy's pdist loop: 5,000 rows of 5,000 similarities take seconds instead of a minute
BLAS_DISTANCES_ABOVE = 1000


@dataclass(frozen=True)
class ClusterOrdering:
    order: np.ndarray  # permutation of 0..N-1: display position -> pair id
    assignment: np.ndarray  # cluster number (0-based, in display order) of each pair id
    members: tuple[np.ndarray, ...]  # pair ids of each cluster, in display order
    k: int
    method: str
    optimal: bool

    @property
    def sizes(self) -> list[int]:
        return [int(m.size) for m in self.members]

    @property
    def boundaries(self) -> list[int]:
        """Display positions where each cluster starts (plus N at the end)."""
        return [0, *np.cumsum(self.sizes).tolist()]

    def full_permutation(self) -> np.ndarray:
        """The permutation of the 2N rows/columns: images then captions, both in `order`."""
        n = self.order.size
        return np.concatenate([self.order, self.order + n])


def cluster_order(
    block: np.ndarray,
    k: int = 10,
    optimal: bool = False,
    method: str = "complete",
) -> ClusterOrdering:
    """Cluster the rows of `block` (similarities) into at most k clusters and order them."""
    s = np.asarray(block, dtype=np.float64)
    n = s.shape[0]
    if s.ndim != 2 or s.shape[1] != n:
        raise ValueError(f"expected a square N×N block, got {s.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if n == 1:
        return ClusterOrdering(np.zeros(1, np.int64), np.zeros(1, np.int64), (np.zeros(1, np.int64),), k, method, optimal)
    obs = 1.0 - s
    dist = row_distances(obs)
    return ordering_from_tree(sch.linkage(dist, method=method), dist, k, optimal, method)


def ordering_from_tree(z: np.ndarray, dist: np.ndarray | None, k: int, optimal: bool, method: str) -> ClusterOrdering:
    """Cut a linkage tree of n observations into at most k clusters (maxclust) and order them:
    stable argsort of the cluster ids, or with `optimal` (needs the condensed distances `dist`)
    the optimal leaf order inside clusters, clusters in order of first appearance."""
    n = int(z.shape[0]) + 1
    if optimal:
        z = sch.optimal_leaf_ordering(z, dist)
    ids = sch.fcluster(z, k, criterion="maxclust")
    if optimal:
        order = sch.leaves_list(z).astype(np.int64)
        seen: dict[int, int] = {}
        for c in ids[order]:
            seen.setdefault(int(c), len(seen))
        rank = np.array([seen[int(c)] for c in ids])
        # keep leaf order inside each cluster, clusters in order of first appearance
        pos = np.empty(n, np.int64)
        pos[order] = np.arange(n)
        order = np.lexsort((pos, rank)).astype(np.int64)
    else:
        order = np.argsort(ids, kind="stable").astype(np.int64)
        uniq = sorted(set(int(c) for c in ids))
        rank_of = {c: r for r, c in enumerate(uniq)}
        rank = np.array([rank_of[int(c)] for c in ids])
    n_clusters = int(rank.max()) + 1
    members = tuple(order[rank[order] == r] for r in range(n_clusters))
    return ClusterOrdering(order, rank.astype(np.int64), members, k, method, optimal)


def row_distances(obs: np.ndarray) -> np.ndarray:
    """Condensed Euclidean distances between the rows of `obs` (what linkage(obs) would use)."""
    n = obs.shape[0]
    if n <= BLAS_DISTANCES_ABOVE:
        return pdist(obs)
    sq = np.einsum("ij,ij->i", obs, obs)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (obs @ obs.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return squareform(np.sqrt(d2), checks=False)
