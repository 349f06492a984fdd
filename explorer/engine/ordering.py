"""Cluster ordering of the matrix without N² work (the article's "cluster matrix by similarity").

Amumo clusters the rows of one quadrant, e.g. the caption rows t_i·X of the text–image block,
by complete linkage on the Euclidean distance between rows. With C = XᵀX = VΛVᵀ,

    ‖X(t_i − t_j)‖² = (t_i − t_j)ᵀ C (t_i − t_j) = ‖Λ^{1/2}Vᵀ(t_i − t_j)‖²,

so the features f_i = Λ^{1/2}Vᵀ t_i (D numbers per row instead of N) have exactly the distances of
the N-long rows (:func:`block_features`). On them:

- up to `LINKAGE_EXACT_UP_TO` pairs: exact complete linkage, cut into k clusters as in
  :func:`explorer.analysis.ordering.cluster_order` (same tree as the row-based method);
- above: two levels, k-means into `MICRO_CLUSTERS` micro-clusters in the same metric (fitted on a
  seeded sample of at most `KMEANS_SAMPLE` rows, every row then assigned to its nearest centre),
  complete linkage of the micro-cluster centres cut into k clusters; pairs inherit their
  micro-cluster's cluster and are ordered by cluster, then micro-cluster in dendrogram leaf
  order, then position. The method string says which was used.

Labels use the article's n-gram rule on at most `LABEL_SAMPLE` seeded captions per cluster.
The ordering is of the original embeddings (moving α never reorders the matrix). Pure numpy /
scipy / scikit-learn.
"""

from __future__ import annotations

from typing import Callable, Sequence

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
LABEL_SAMPLE = 500


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
    for s, e, rows in space.chunks():
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
    from sklearn.cluster import MiniBatchKMeans

    micro = min(MICRO_CLUSTERS, m)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(m, size=min(m, KMEANS_SAMPLE), replace=False))
    # random initial centres, one run: k-means++ seeding alone takes seconds for 256 centres, and
    # the micro-clusters only need to be small and tight, not optimal
    km = MiniBatchKMeans(n_clusters=micro, init="random", random_state=seed, n_init=1, batch_size=4096, max_iter=50)
    km.fit(feats[fit_rows])
    progress(3, 5)
    assign = np.concatenate([km.predict(feats[s : s + CHUNK_ROWS]) for s in range(0, m, CHUNK_ROWS)]).astype(np.int64)
    used = np.unique(assign)
    centres = km.cluster_centers_[used]
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
    method = f"complete on {used.size} k-means micro-clusters"
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
