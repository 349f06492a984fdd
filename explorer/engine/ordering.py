"""Cluster ordering of the matrix without N² work (the article's "cluster matrix by similarity").

Amumo clusters the rows of one quadrant, e.g. the caption rows t_i·X of the text–image block,
by complete linkage on the Euclidean distance between rows. With C = XᵀX = VΛVᵀ,

    ‖X(t_i − t_j)‖² = (t_i − t_j)ᵀ C (t_i − t_j) = ‖Λ^{1/2}Vᵀ(t_i − t_j)‖²,

so the features f_i = Λ^{1/2}Vᵀ t_i (D numbers per row instead of N) have exactly the distances of
the N-long rows (:func:`block_features`). On them:

- up to `LINKAGE_EXACT_UP_TO` pairs: exact complete linkage, cut into k clusters as in
  :func:`explorer.analysis.ordering.cluster_order` (same tree as the row-based method);
- above: two levels, k-means into `MICRO_CLUSTERS` micro-clusters in the same metric (Lloyd from
  seeded rows, at most `KMEANS_ITERS` iterations, stopping once one lowers the sum of squares by
  less than `KMEANS_TOL`; fitted on a seeded sample of at most `KMEANS_SAMPLE` rows, every row
  then assigned to its nearest centre) in the leading eigen-directions of C that hold
  `KMEANS_METRIC_SHARE` of the features' energy (chosen from C and the rows' Gram: the (M, D)
  features are never formed), then complete linkage of the
  micro-clusters' centres in the full metric (a centre is the features of its rows' mean, so
  their distances come from one small Gram t̄Ct̄ᵀ), cut into k clusters; pairs inherit their
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
from .backend import CHUNK_ROWS, spread_each
from .memo import MEMO
from .space import PairSpace, gather

BLOCKS = ("image-image", "image-text", "text-image", "text-text")
LINKAGE_EXACT_UP_TO = 2_000
MICRO_CLUSTERS = 256
KMEANS_SAMPLE = 100_000
LABEL_SAMPLE = 200
#: k-means of the micro-clusters: Lloyd iterations, in the leading directions holding this share of the metric
KMEANS_ITERS = 10
KMEANS_TOL = 0.002
KMEANS_METRIC_SHARE = 0.99
KMEANS_MIN_DIMS = 16


def _nothing(*_: object, **__: object) -> None:
    return None


def _gram(space: PairSpace, modality: str, dt: np.dtype, positions: np.ndarray | None = None) -> np.ndarray:
    """Σ zᵀz over the shown rows of `modality` (or those at `positions`): D×D, summed in float64."""
    d = space.dim
    gram = np.zeros((d, d))

    def part(rows: np.ndarray) -> np.ndarray:
        c = gather(space.array(modality), rows).astype(dt, copy=False)
        return c.T @ c

    def add(g: np.ndarray) -> None:
        np.add(gram, g, out=gram)

    spread_each(part, [rows for _s, _e, rows in space.chunks(positions)], add)  # chunks on every core, added in order
    return gram


def _metric(space: PairSpace, block: str, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(λ, V): the eigen-decomposition of C = XᵀX of the block's column modality (ascending)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
    return np.linalg.eigh(_gram(space, block.split("-")[1], dt))


def block_features(space: PairSpace, block: str, progress: Callable[..., None] = _nothing) -> np.ndarray:
    """(M, D) features whose Euclidean distances equal those between the rows of the quadrant
    `block` (rows-columns, e.g. 'text-image' = caption rows × image columns), in float64 (the exact
    linkage: the same tree as the row-based method)."""
    lam, vec = _metric(space, block, np.dtype(np.float64))
    progress(1, 3)
    transform = vec * np.sqrt(np.clip(lam, 0.0, None))[None, :]
    rows_mod = block.split("-")[0]
    feats = np.empty((space.m, space.dim))
    for s, e, rows in space.chunks():
        feats[s:e] = gather(space.array(rows_mod), rows).astype(np.float64, copy=False) @ transform
    progress(2, 3)
    return feats


def leading_dims(energy: np.ndarray, share: float = KMEANS_METRIC_SHARE, total: float | None = None) -> np.ndarray:
    """The feature columns (eigen-directions of the metric) whose energies (the rows' squared
    feature values summed per column) hold `share` of `total` (default: of all of them), largest
    first (at least KMEANS_MIN_DIMS): k-means runs there."""
    energy = np.clip(np.asarray(energy, dtype=np.float64), 0.0, None)
    order = np.argsort(energy)[::-1]
    cum = np.cumsum(energy[order]) / max(float(energy.sum() if total is None else total), 1e-300)
    r = int(np.searchsorted(cum, share)) + 1
    return np.sort(order[: min(energy.size, max(r, KMEANS_MIN_DIMS))])


def feature_energy(lam: np.ndarray, vec: np.ndarray, row_gram: np.ndarray) -> np.ndarray:
    """Energy of each feature column f_k = λ_k^½ v_kᵀ t over the rows t: λ_k · v_kᵀ (Σ t tᵀ) v_k,
    from the rows' D×D Gram instead of the (M, D) features."""
    return np.clip(lam, 0.0, None) * ((row_gram @ vec) * vec).sum(axis=0)


def leading_metric(gram: np.ndarray, row_gram: np.ndarray, share: float = KMEANS_METRIC_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(λ, V) of the leading eigen-directions of the metric C = `gram` that hold `share` of the
    features' energy (R = `row_gram`, :func:`feature_energy`, :func:`leading_dims`).

    The decomposition runs in float32 by LAPACK's divide and conquer (they place the k-means,
    not the distances): half the time of numpy's float64 eigh at D = 512."""
    from scipy.linalg import eigh

    lam, vec = eigh(gram.astype(np.float32), driver="evd")
    lam, vec = lam.astype(np.float64), vec.astype(np.float64)
    lead = leading_dims(feature_energy(lam, vec, row_gram), share)
    return lam[lead], vec[:, lead]


def _members(assign: np.ndarray, k: int):
    """k×n 0/1 sparse matrix: row c marks the rows assigned to centre c."""
    from scipy import sparse

    n = assign.size
    return sparse.csr_matrix((np.ones(n), (assign, np.arange(n))), shape=(k, n))


def nearest(x: np.ndarray, centres: np.ndarray, with_distance: bool = False):
    """Index of the nearest centre (Euclidean) of each row of x; with `with_distance`, also the
    sum over the rows of ‖c‖² − 2x·c at that centre (the squared distances less Σ‖x‖²)."""
    d = x @ (-2.0 * centres).T.astype(x.dtype, copy=False)
    d += (centres * centres).sum(axis=1).astype(x.dtype, copy=False)[None, :]
    assign = d.argmin(axis=1)
    if not with_distance:
        return assign
    return assign, float(np.take_along_axis(d, assign[:, None], axis=1).sum(dtype=np.float64))


def lloyd_kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = KMEANS_ITERS, tol: float = KMEANS_TOL,
                 with_assign: bool = False):
    """k centres by Lloyd's algorithm from k seeded distinct rows; stops after `iters` iterations,
    or once an iteration lowers the rows' sum of squared distances to their centres by less than
    the fraction `tol`. The micro-clusters only need to be small and tight, not optimal: a few
    iterations of plain Lloyd in the leading directions give tighter ones than scikit-learn's
    mini-batch k-means at a fraction of its time (benchmarks/scale.py). With `with_assign`, also
    the nearest centre of each row (computed last for the returned centres when it stopped by
    `tol`, else None)."""
    k = int(min(k, x.shape[0]))
    centres = x[np.random.default_rng(seed).choice(x.shape[0], size=k, replace=False)].astype(np.float64)
    base = float(np.square(x, dtype=np.float64).sum())
    previous = None
    for _ in range(iters):
        assign, part = nearest(x, centres.astype(x.dtype), with_distance=True)
        inertia = max(base + part, 0.0)
        if previous is not None and previous - inertia <= tol * inertia:
            return (centres.astype(x.dtype), assign) if with_assign else centres.astype(x.dtype)
        previous = inertia
        counts = np.bincount(assign, minlength=k)
        sums = _members(assign, k) @ x.astype(np.float64)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled][:, None]
    return (centres.astype(x.dtype), None) if with_assign else centres.astype(x.dtype)


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


def micro_clusters(space: PairSpace, block: str, seed: int = 0, progress: Callable[..., None] = _nothing):
    """The two-level method's first level: (used micro-cluster ids, micro-cluster of each shown
    pair (0..len(used)-1), condensed distances between their centres in the full metric, the
    number of leading directions k-means ran in).

    Products in the embeddings' precision, sums in float64. The full (M, D) features are never
    formed: k-means needs only their leading columns (T·V_lead·Λ_lead^½, :func:`leading_metric`),
    and since the features are linear in the rows, a micro-cluster's centre is the features of
    its rows' mean t̄, so the centres' distances are ‖t̄_a − t̄_b‖_C (:func:`centre_distances`)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
    rows_mod, cols_mod = block.split("-")
    m, d = space.m, space.dim
    dt = np.dtype(np.float64) if space.array(rows_mod).dtype == np.float64 else np.dtype(np.float32)
    gram = _gram(space, cols_mod, dt)
    fit_rows = np.sort(np.random.default_rng(seed).choice(m, size=min(m, KMEANS_SAMPLE), replace=False))
    fit_t = np.concatenate([gather(space.array(rows_mod), rows).astype(dt, copy=False) for _s, _e, rows in space.chunks(fit_rows)])
    row_gram = (fit_t.T @ fit_t).astype(np.float64)
    progress(1, 5)
    lam, vec = leading_metric(gram, row_gram)
    to_lead = (vec * np.sqrt(np.clip(lam, 0.0, None))[None, :]).astype(dt)
    micro = min(MICRO_CLUSTERS, m)
    fit_lead = fit_t @ to_lead
    centres_lead, fit_assign = lloyd_kmeans(fit_lead, micro, seed, with_assign=True)
    progress(3, 5)
    assign = np.empty(m, np.int64)
    sums = np.zeros((micro, d))
    if fit_rows.size == m:  # the sample is every row: no second read, nor a second nearest when Lloyd stopped by tol
        if fit_assign is None:
            fit_assign = nearest(fit_lead, centres_lead)
        assign[:] = fit_assign
        blocks = ((s, min(s + CHUNK_ROWS, m), fit_t[s : s + CHUNK_ROWS], None) for s in range(0, m, CHUNK_ROWS))
    else:
        blocks = ((s, e, t, nearest(t @ to_lead, centres_lead))
                  for s, e, rows in space.chunks() for t in [gather(space.array(rows_mod), rows).astype(dt, copy=False)])
    for s, e, t, near in blocks:  # one pass: nearest centre, and the rows' sums per micro-cluster
        if near is not None:
            assign[s:e] = near
        sums += _members(assign[s:e], micro) @ t.astype(np.float64)
    counts = np.bincount(assign, minlength=micro)
    used = np.unique(assign)
    means = sums[used] / counts[used][:, None]
    return used, np.searchsorted(used, assign), centre_distances(means, gram), int(lam.size)


def centre_distances(means: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Condensed distances ‖t̄_a − t̄_b‖_C = ((t̄_a − t̄_b)ᵀ C (t̄_a − t̄_b))^½ between the rows' means
    of the micro-clusters: the Euclidean distances of their centres in the full metric, from one
    small Gram matrix t̄ C t̄ᵀ (float64)."""
    g = means @ gram @ means.T
    sq = np.diag(g)
    iu = np.triu_indices(means.shape[0], k=1)
    return np.sqrt(np.clip(sq[iu[0]] + sq[iu[1]] - 2.0 * g[iu], 0.0, None))


def _ordering(space: PairSpace, block: str, k: int, optimal: bool, seed: int, progress) -> ClusterOrdering:
    m = space.m
    if m == 1:
        z = np.zeros(1, np.int64)
        return ClusterOrdering(z, z, (z,), k, "complete", optimal)
    if m <= LINKAGE_EXACT_UP_TO:
        feats = block_features(space, block, lambda d, t: progress(d, 5))
        dist = pdist(feats)
        progress(3, 5)
        return ordering_from_tree(sch.linkage(dist, method="complete"), dist, k, optimal, "complete")
    # the first level does not depend on k: changing k only cuts the micro-clusters' tree again
    key = ("micro-clusters", space.key, block, int(seed), MICRO_CLUSTERS, KMEANS_SAMPLE)
    used, micro_of, dist, lead = MEMO.get(key, lambda: micro_clusters(space, block, seed, progress))
    if used.size == 1:
        micro_cluster = np.zeros(1, np.int64)
        leaf_rank = np.zeros(1, np.int64)
    else:
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
    method = f"complete on {used.size} k-means micro-clusters (fitted in the {lead} leading directions)"
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
