"""Cluster ordering of the matrix without N² work (the article's "cluster matrix by similarity").

Amumo clusters the rows of one quadrant, e.g. the caption rows t_i·X of the text–image block,
by complete linkage on the Euclidean distance between rows. With C = XᵀX = VΛVᵀ,

    ‖X(t_i − t_j)‖² = (t_i − t_j)ᵀ C (t_i − t_j) = ‖Λ^{1/2}Vᵀ(t_i − t_j)‖²,

so the features f_i = Λ^{1/2}Vᵀ t_i (D numbers per row instead of N) have exactly the distances of
the N-long rows (:func:`block_features`). On them:

- up to `LINKAGE_EXACT_UP_TO` pairs: exact complete linkage, cut into k clusters as in
  :func:`explorer.analysis.ordering.cluster_order` (same tree as the row-based method);
- above: two levels, k-means into `MICRO_CLUSTERS` micro-clusters in the same metric (Lloyd,
  `KMEANS_ITERS` iterations at most, in the leading eigen-directions of C that hold
  `KMEANS_METRIC_SHARE` of the features' energy, fitted on a seeded sample of at most
  `KMEANS_SAMPLE` rows; every row then assigned to its nearest centre there), complete linkage
  of the micro-clusters' centres in the full metric, cut into k clusters; pairs inherit their
  micro-cluster's cluster and are ordered by cluster, then micro-cluster in dendrogram leaf
  order, then position. The method string says which was used.

Labels use the article's n-gram rule on at most `LABEL_SAMPLE` seeded captions per cluster.
The ordering is of the original embeddings (moving α never reorders the matrix). Pure numpy /
scipy / scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.cluster import hierarchy as sch
from scipy.spatial.distance import pdist

from ..analysis.ordering import ClusterOrdering, ordering_from_tree
from .backend import CHUNK_ROWS
from .memo import MEMO
from .space import PairSpace, gather

BLOCKS = ("image-image", "image-text", "text-image", "text-text")
LINKAGE_EXACT_UP_TO = 2_000
MICRO_CLUSTERS = 256
KMEANS_SAMPLE = 100_000
LABEL_SAMPLE = 200
#: k-means of the micro-clusters: Lloyd iterations, in the leading directions holding this share of the metric
KMEANS_ITERS = 10
KMEANS_METRIC_SHARE = 0.99
KMEANS_MIN_DIMS = 16


def _nothing(*_: object, **__: object) -> None:
    return None


def block_features(space: PairSpace, block: str, progress: Callable[..., None] = _nothing) -> np.ndarray:
    """(M, D) features whose Euclidean distances equal those between the rows of the quadrant
    `block` (rows-columns, e.g. 'text-image' = caption rows × image columns)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
    rows_mod, cols_mod = block.split("-")
    d = space.dim
    # exact linkage: float64 throughout (the same tree as the row-based method); above it the
    # products in the embeddings' precision, summed in float64
    dt = np.float64 if space.m <= LINKAGE_EXACT_UP_TO else (np.float64 if space.image.dtype == np.float64 else np.float32)
    gram = np.zeros((d, d))
    for _s, _e, rows in space.chunks():
        c = gather(space.array(cols_mod), rows).astype(dt, copy=False)
        gram += c.T @ c
    progress(1, 3)
    lam, vec = np.linalg.eigh(gram)
    transform = (vec * np.sqrt(np.clip(lam, 0.0, None))[None, :]).astype(dt)
    feats = np.empty((space.m, d), dtype=dt)
    for s, e, rows in space.chunks():
        feats[s:e] = gather(space.array(rows_mod), rows).astype(dt, copy=False) @ transform
    progress(2, 3)
    return feats


def leading_dims(feats: np.ndarray, share: float = KMEANS_METRIC_SHARE) -> np.ndarray:
    """The feature columns (eigen-directions of the metric) holding `share` of the total squared
    distance from the origin, largest first (at least KMEANS_MIN_DIMS): k-means runs there."""
    energy = np.zeros(feats.shape[1])
    for s in range(0, feats.shape[0], CHUNK_ROWS):
        energy += np.square(feats[s : s + CHUNK_ROWS], dtype=np.float64).sum(axis=0)
    order = np.argsort(energy)[::-1]
    cum = np.cumsum(energy[order]) / max(float(energy.sum()), 1e-300)
    r = int(np.searchsorted(cum, share)) + 1
    return np.sort(order[: min(feats.shape[1], max(r, KMEANS_MIN_DIMS))])


def _members(assign: np.ndarray, k: int):
    """k×n 0/1 sparse matrix: row c marks the rows assigned to centre c."""
    from scipy import sparse

    n = assign.size
    return sparse.csr_matrix((np.ones(n), (assign, np.arange(n))), shape=(k, n))


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of each row of x."""
    return ((centres * centres).sum(axis=1)[None, :] - 2.0 * (x @ centres.T)).argmin(axis=1)


def lloyd_kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = KMEANS_ITERS) -> np.ndarray:
    """k centres by Lloyd's algorithm from k seeded distinct rows (stops early when no row changes
    centre). The micro-clusters only need to be small and tight, not optimal: a few iterations of
    plain Lloyd in the leading directions give tighter ones than scikit-learn's mini-batch k-means
    at a fraction of its time (benchmarks/scale.py)."""
    k = int(min(k, x.shape[0]))
    centres = x[np.random.default_rng(seed).choice(x.shape[0], size=k, replace=False)].astype(np.float64)
    previous = None
    for _ in range(iters):
        assign = nearest(x, centres.astype(x.dtype))
        if previous is not None and np.array_equal(assign, previous):
            break
        previous = assign
        counts = np.bincount(assign, minlength=k)
        sums = _members(assign, k) @ x.astype(np.float64)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled][:, None]
    return centres.astype(x.dtype)


def describe_method(m: int, optimal: bool) -> str:
    if m <= LINKAGE_EXACT_UP_TO:
        return "complete linkage" + (", optimal leaf order" if optimal else "")
    micro = min(MICRO_CLUSTERS, m)
    return f"complete linkage of {micro} k-means micro-clusters (above {LINKAGE_EXACT_UP_TO:,} pairs)"


def cluster_ordering(space: PairSpace, block: str = "text-image", k: int = 10, optimal: bool = False,
                     seed: int = 0) -> ClusterOrdering:
    """The ordering of the shown pairs (see module docstring), memoised with progress."""
    k = int(max(1, min(k, space.m)))
    key = ("ordering", space.key, block, k, bool(optimal), int(seed) if space.m > LINKAGE_EXACT_UP_TO else 0)
    label = f"Clustering {space.m:,} pairs ({describe_method(space.m, optimal)})"
    return MEMO.get(key, lambda progress: _ordering(space, block, k, optimal, seed, progress), label=label, unit="steps")


def _ordering(space: PairSpace, block: str, k: int, optimal: bool, seed: int, progress) -> ClusterOrdering:
    m = space.m
    if m == 1:
        z = np.zeros(1, np.int64)
        return ClusterOrdering(z, z, (z,), k, "complete", optimal)
    feats = block_features(space, block, lambda d, t: progress(d, 5))
    if m <= LINKAGE_EXACT_UP_TO:
        dist = pdist(feats)
        progress(3, 5)
        return ordering_from_tree(sch.linkage(dist, method="complete"), dist, k, optimal, "complete")
    micro = min(MICRO_CLUSTERS, m)
    lead = leading_dims(feats)
    fit_rows = np.sort(np.random.default_rng(seed).choice(m, size=min(m, KMEANS_SAMPLE), replace=False))
    centres_lead = lloyd_kmeans(np.ascontiguousarray(feats[fit_rows][:, lead], dtype=np.float32), micro, seed)
    progress(3, 5)
    assign = np.concatenate([nearest(np.ascontiguousarray(feats[s : s + CHUNK_ROWS][:, lead], dtype=np.float32), centres_lead)
                             for s in range(0, m, CHUNK_ROWS)]).astype(np.int64)
    counts = np.bincount(assign, minlength=micro)
    sums = np.zeros((micro, feats.shape[1]))
    for s in range(0, m, CHUNK_ROWS):  # the micro-clusters' centres in the full metric
        sums += _members(assign[s : s + CHUNK_ROWS], micro) @ feats[s : s + CHUNK_ROWS].astype(np.float64)
    used = np.unique(assign)
    centres = sums[used] / counts[used][:, None]
    micro_of = np.searchsorted(used, assign)  # 0..len(used)-1 per pair
    if used.size == 1:
        micro_cluster = np.zeros(1, np.int64)
        leaf_rank = np.zeros(1, np.int64)
    else:
        dist = pdist(centres)
        tree = sch.linkage(dist, method="complete")
        if optimal:
            tree = sch.optimal_leaf_ordering(tree, dist)
        ids = sch.fcluster(tree, k, criterion="maxclust")
        leaves = sch.leaves_list(tree)
        leaf_rank = np.empty(used.size, np.int64)
        leaf_rank[leaves] = np.arange(used.size)
        uniq = sorted(set(int(c) for c in ids))
        micro_cluster = np.searchsorted(np.asarray(uniq), ids).astype(np.int64)
    progress(4, 5)
    cluster = micro_cluster[micro_of]
    order = np.lexsort((np.arange(m), leaf_rank[micro_of], cluster)).astype(np.int64)
    n_clusters = int(cluster.max()) + 1
    members = tuple(order[cluster[order] == r] for r in range(n_clusters))
    method = f"complete on {used.size} k-means micro-clusters (fitted in the {lead.size} leading directions)"
    return ClusterOrdering(order, cluster.astype(np.int64), members, k, method, optimal)


def cluster_labels(ordering: ClusterOrdering, captions: Sequence[str] | None, active: np.ndarray, *, top: int = 2,
                   seed: int = 0, sample: int = LABEL_SAMPLE) -> list[str]:
    """The n-gram label of each cluster (explorer.analysis.labels) from at most `sample` seeded
    captions of its members; 'cluster c' when there are no captions or no n-gram."""
    from ..analysis.labels import cluster_label

    out = []
    rng = np.random.default_rng(seed)
    for c, members in enumerate(ordering.members):
        if captions is None:
            out.append(f"cluster {c + 1}")
            continue
        chosen = members if members.size <= sample else np.sort(rng.choice(members, size=sample, replace=False))
        out.append(cluster_label([captions[int(active[i])] for i in chosen], top=top) or f"cluster {c + 1}")
    return out
