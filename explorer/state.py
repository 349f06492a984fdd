"""UI state of the explorer: what is shown, as `param` parameters, and the data derived from it.

`ExplorerState` holds no widgets; the app builds widgets from its parameters (``pn.Param``,
``Widget.from_param``) and the views (:mod:`explorer.views`) are functions of it. Derived data
is computed lazily by the methods below and cached per instance: each method records the
parameter values it depends on and recomputes only when one of them changed (projections are
also cached on disk in the embedding store's ``projections/`` folder). `compute_counts` counts
actual computations per method (used by the tests and handy when profiling).

Pair ids. Pair id = row index of the *source* (``source_data().pairs``), everywhere: in
``selected_pairs``, in tables, in projection frames. The *active* pairs are those kept by the
caption filter and sample (`active_indices()`, in source order); per-model arrays
(`embeddings`, `similarity`, projections) are over the active pairs, in *display order* when
clustering is on: display position q shows pair ``display_pairs(model)[q]``; in the 2M×2M
matrix, row q is that pair's image and row M+q its caption.

Parameters (see each one's doc):
    source, models, source_options, sample_size, seed, caption_filter, filter_mode,
    cluster, cluster_block, k, optimal_order,
    alpha, renormalize, loss_variant, batch_size,
    projection, projection_mode, x_component, y_component, point_color, faithfulness_k,
    cmap, diverging_cmap, edge_cmap, aggregation, color_range, datashade_above,
    active_model, compare_models, shared_order,
    selected_pairs, inspected, status, work.

Methods:
    source_data() -> Source; model_names() -> list[str]; resolve_model(model) -> str;
    active_indices() -> ndarray (source pair ids kept by filter + sample);
    original_embeddings(model) -> Embeddings (active pairs, source order, no gap closing);
    embeddings(model) -> Embeddings (active pairs, source order, gap setting applied);
    ordering(model) -> ClusterOrdering | None (over active positions; computed on the original
        embeddings, so moving α never reorders the matrix);
    display_order(model) -> ndarray of active positions in display order (shared across models
        in Compare when `shared_order`); display_pairs(model) -> source pair ids in display order;
    similarity(model) -> float32 2M×2M of the displayed embeddings in display order;
    difference(model) -> M×M in-modal difference XXᵀ − YYᵀ in display order;
    cluster_labels(model) -> list[str]; cluster_examples(model, per_cluster) -> list[list[int]];
    projection_result(model, method=None, mode=None) -> Projection; projection_coords(model) -> DataFrame
        (pair_id, modality, x, y, sim, caption); components(model) -> shown (x, y) indices;
    faithfulness(model, method=None, mode=None) -> Faithfulness (computed only when asked;
        sampled above 3,000 points); faithfulness_frame(model, methods) -> one row per method;
    numbers(model) -> dict; numbers_frame(model) -> DataFrame; landscape(model) -> LossLandscape;
    distributions(model) -> SimilarityDistributions;
    inspect_cell(model, row, col) -> dict (sets `inspected`: kind 'cell', row/col, row_item,
        col_item, value); inspect_pair(model, pair_id) (kind 'pair'); item(modality, pair_id);
    select_pairs(ids); selected_table() -> DataFrame; thumb_url(pair_id) -> str | None;
    provenance(model) -> dict and provenance_line(model) -> str (what produced a view);
    matrix_levels(model, kind, how, shared) -> pre-aggregated levels of the similarity or difference
        matrix (explorer.views.pyramid); color_limits(model, kind, shared, pixels) -> the heatmap's
        colour limits under `color_range` (shared by the compared models on the Compare page).

Long work (opening and embedding a source, clustering, projections) is announced in `status`
(one line) and in `work` (label, done/total when known, start time), which the app shows as a
progress bar; it is updated from whichever thread does the work.

`AugmentState`: an image (a pair index of a source, or an image file), an augmentation kind and
a number of steps, and the models (or `series_source`, a precomputed series such as the Amumo
export's Blurred-0_size-100); `spec()` gives the ``augment:KIND:IMAGE[:CAPTION]`` dataset
spec and `explorer_state()` an ExplorerState over it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np
import param

from .analysis.similarity import QUADRANTS
from .embeddings import Embeddings
from .errors import ExplorerError, SpecError
from .views.colour import COLOR_RANGES

#: models used to embed a dataset source (e.g. shapes:N) when `models` is empty
DEFAULT_DATASET_MODELS = ("own:clip", "own:cyclip", "own:cloob")
DEFAULT_SOURCE = "shapes:1000"
PROJECTIONS = ("PCA", "UMAP", "t-SNE")
PROJECTION_MODES = ("joint", "fit-image", "fit-text", "concatenated")
POINT_COLORS = ("modality", "kNN overlap", "trustworthiness")
#: seconds between two progress updates of the same work (the page need not hear every batch)
PROGRESS_INTERVAL = 0.25

# parameter groups: what each derived value depends on
_SOURCE = ("source", "models", "source_options")
_ACTIVE = _SOURCE + ("sample_size", "seed", "caption_filter", "filter_mode")
_GAP = ("alpha", "renormalize")
_ORDER = ("cluster", "cluster_block", "k", "optimal_order")
_PROJ = ("projection", "projection_mode")


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


class ExplorerState(param.Parameterized):
    """Everything the explorer shows is a function of these parameters (see module docstring)."""

    # -- data -------------------------------------------------------------------------------
    source = param.String(DEFAULT_SOURCE, doc="spec for explorer.sources.open_source (amumo:DIR, shapes:N, store:KEY, ...)")
    models = param.List([], item_type=str, doc="model specs to embed a dataset with, or model names of a precomputed source; [] = defaults / all")
    sample_size = param.Integer(None, allow_None=True, bounds=(1, None), doc="random subset of this many pairs (None = all)")
    seed = param.Integer(0, doc="seed of the sample and of UMAP / t-SNE / k-means")
    caption_filter = param.String("", doc="keep pairs whose caption contains these words")
    filter_mode = param.Selector(default="any", objects=["any", "all"], doc="any word or all words")
    source_options = param.Dict({}, doc="extra options for a dataset loader (e.g. {'steps': 50} for augment:)")

    # -- ordering ---------------------------------------------------------------------------
    cluster = param.Boolean(False, doc="order the matrix by a hierarchical clustering")
    cluster_block = param.Selector(default="text-image", objects=list(QUADRANTS), doc="quadrant whose rows are clustered")
    k = param.Integer(10, bounds=(1, 50), doc="number of clusters")
    optimal_order = param.Boolean(False, doc="optimal leaf order inside the clustering")

    # -- gap --------------------------------------------------------------------------------
    alpha = param.Number(0.0, bounds=(0.0, 1.0), doc="fraction of the modality gap closed")
    renormalize = param.Boolean(True, doc="re-normalise to the unit sphere after closing (the article's method)")
    loss_variant = param.Selector(default="symmetric", objects=["symmetric", "article"], doc="contrastive loss variant")
    batch_size = param.Integer(50, bounds=(2, None), doc="loss batch size (clamped to the number of pairs)")

    # -- projection -------------------------------------------------------------------------
    projection = param.Selector(default="PCA", objects=list(PROJECTIONS))
    projection_mode = param.Selector(default="joint", objects=list(PROJECTION_MODES))
    x_component = param.Integer(1, bounds=(1, 10), doc="component on the x axis (1-based; >2 only for PCA)")
    y_component = param.Integer(2, bounds=(1, 10), doc="component on the y axis")
    point_color = param.Selector(default="modality", objects=list(POINT_COLORS), doc="colour of scatter points")
    faithfulness_k = param.Integer(10, bounds=(1, 100), doc="neighbours for trustworthiness / kNN overlap")

    # -- appearance -------------------------------------------------------------------------
    cmap = param.String("fire", doc="colour map of the similarity heatmap")
    diverging_cmap = param.String("coolwarm", doc="colour map of the difference heatmap (centred at 0)")
    edge_cmap = param.String("viridis", doc="colour map of pair edges (pair cosine similarity)")
    aggregation = param.Selector(default="max", objects=["mean", "max"], doc="how rasterize merges cells per pixel (max keeps the diagonal visible)")
    color_range = param.Selector(
        default="data", objects=list(COLOR_RANGES),
        doc="heatmap colour limits: 'data' = 1st–99th percentile of the off-diagonal values as the zoomed-out "
        "heatmap shows them (structure visible), 'visible' = the same of the cells on screen, after every zoom, "
        "'full' = the whole possible range ([-1, 1] for similarities)",
    )
    datashade_above = param.Integer(2000, bounds=(0, None), doc="rasterize the scatter above this many pairs")

    # -- models shown -----------------------------------------------------------------------
    active_model = param.String("", doc="model of the Explore page ('' = the first)")
    compare_models = param.List([], item_type=str, doc="models side by side in Compare ('' = the first four)")
    shared_order = param.Boolean(True, doc="Compare orders every model by the first model's clustering")

    # -- interaction ------------------------------------------------------------------------
    selected_pairs = param.List([], doc="selected pair ids (rows of the source)")
    inspected = param.Dict(None, allow_None=True, doc="the heatmap cell last tapped (see inspect_cell)")
    status = param.String("", doc="progress / error line for the UI")
    work = param.Dict(None, allow_None=True, doc="long work under way: {'label', 'done', 'total', 'unit', 'started'} "
                      "(done/total None when unknown), None when idle")

    def __init__(self, source_data: Any = None, **params: Any):
        """`source_data`: an already opened Source (notebooks, tests); `source` then defaults to its spec."""
        if source_data is not None and "source" not in params:
            params["source"] = source_data.spec
        super().__init__(**params)
        self._preloaded = source_data
        self._memo: dict[tuple, tuple[Any, Any]] = {}
        self._lock = threading.RLock()
        self._slot_locks: dict[tuple, threading.RLock] = {}
        self.compute_counts: Counter = Counter()
        self.progress: Callable[[str], None] = self._set_status
        self._work_stack: list[dict[str, Any]] = []

    # -- caching ----------------------------------------------------------------------------
    def _inputs(self, names: Sequence[str]) -> tuple:
        return tuple(_freeze(getattr(self, n)) for n in names)

    def _cached(self, name: str, args: tuple, deps: Sequence[str], compute: Callable[[], Any]) -> Any:
        """The memoised value of slot (name, args), recomputed when the `deps` values changed.

        One lock per slot: a long computation (UMAP in a background thread) blocks only callers
        of the same value, never the rest of the page. Slots depend on each other as a DAG
        (projection → embeddings → source), so nested locking cannot deadlock.
        """
        slot = (name, args)
        inputs = self._inputs(deps)
        with self._lock:
            hit = self._memo.get(slot)
            if hit is not None and hit[0] == inputs:
                return hit[1]
            slot_lock = self._slot_locks.setdefault(slot, threading.RLock())
        with slot_lock:
            with self._lock:
                hit = self._memo.get(slot)
                if hit is not None and hit[0] == inputs:
                    return hit[1]
            value = compute()
            with self._lock:
                self._memo[slot] = (inputs, value)
                self.compute_counts[name] += 1
            return value

    def clear_cache(self) -> None:
        with self._lock:
            self._memo.clear()

    def _set_status(self, msg: str) -> None:
        self.status = msg

    @contextmanager
    def _working(self, msg: str, done: int | None = None, total: int | None = None, unit: str = ""):
        """Announce long work: `status` = msg and a `work` entry (the innermost shown) until it ends."""
        entry = {"label": msg, "done": done, "total": total, "unit": unit, "started": time.time(), "_shown": 0.0}
        with self._lock:
            self._work_stack.append(entry)
        self.status = msg
        self._publish_work()
        try:
            yield entry
        finally:
            with self._lock:
                if entry in self._work_stack:
                    self._work_stack.remove(entry)
            if self.status in (msg, entry["label"]):
                self.status = ""
            self._publish_work()

    def _publish_work(self) -> None:
        with self._lock:
            top = self._work_stack[-1] if self._work_stack else None
            value = None if top is None else {k: v for k, v in top.items() if not k.startswith("_")}
        if value != self.work:
            self.work = value

    def report_progress(self, done: int, total: int | None = None, entry: dict | None = None, force: bool = False) -> None:
        """Update the (innermost) work's done/total; at most every PROGRESS_INTERVAL seconds unless `force`."""
        with self._lock:
            target = entry or (self._work_stack[-1] if self._work_stack else None)
            if target is None:
                return
            target["done"] = int(done)
            if total is not None:
                target["total"] = int(total)
            now = time.time()
            if not force and now - target["_shown"] < PROGRESS_INTERVAL and (target["total"] is None or done < target["total"]):
                return
            target["_shown"] = now
        self._publish_work()

    # -- source -----------------------------------------------------------------------------
    def source_data(self):
        """The opened source (cached on `source` and `models`)."""
        return self._cached("source_data", (), _SOURCE, self._open_source)

    def _open_source(self):
        from .sources import IMPORTERS, normalized_spec, open_source

        pre = self._preloaded
        if pre is not None and self.source == pre.spec:
            src = pre
            if self.models:
                missing = [m for m in self.models if m not in src.embeddings]
                if missing:
                    raise SpecError(f"{src.spec}: no model(s) {missing}; it has {src.models}")
                src = replace(src, embeddings={m: src.embeddings[m] for m in self.models})
            return src
        prefix, _ = normalized_spec(self.source)
        with self._working(f"Opening {self.source}…"):
            if prefix in IMPORTERS:
                src = open_source(self.source)
                if self.models:
                    missing = [m for m in self.models if m not in src.embeddings]
                    if missing:
                        raise SpecError(f"{self.source}: no model(s) {missing}; it has {src.models}")
                    src = replace(src, embeddings={m: src.embeddings[m] for m in self.models})
                return src
            models = list(self.models) or list(DEFAULT_DATASET_MODELS)
            return self._embed_dataset(models)

    def _embed_dataset(self, models: list[str]):
        """What open_source(spec, models=...) does, one model at a time, so the page can say which
        model is being embedded (`work`: done/total models); the embeddings come from the store
        when they were computed before. tests/test_state.py checks it equals open_source."""
        from .data.skips import format_notes_for_cli
        from .embed import align_skipped, embed_pairs
        from .sources import Source, load_pairs

        pairs = load_pairs(self.source, **dict(self.source_options))
        loader_notes = list(format_notes_for_cli(pairs.notes))  # what the loader skipped, and why
        embeddings = {}
        with self._working(f"Embedding {len(pairs)} pairs…", done=0, total=len(models), unit="models") as work:
            for i, m in enumerate(models):
                self.status = f"Embedding {len(pairs)} pairs of {self.source} with {m} (model {i + 1} of {len(models)})…"
                work["label"] = self.status
                self.report_progress(i, len(models), entry=work, force=True)
                embeddings[m] = embed_pairs(pairs, m, progress=True)
            self.report_progress(len(models), len(models), entry=work, force=True)
        pairs, embeddings, skip_notes = align_skipped(pairs, embeddings)
        return Source(self.source, pairs.name, pairs, embeddings, loader_notes + list(skip_notes))

    def model_names(self) -> list[str]:
        return list(self.source_data().embeddings)

    def resolve_model(self, model: str | None = None) -> str:
        """`model`, or `active_model`, or the first model; SpecError for an unknown name."""
        names = self.model_names()
        m = model or self.active_model or (names[0] if names else "")
        if m not in names:
            raise SpecError(f"no model {m!r} in {self.source}; models: {', '.join(names)}")
        return m

    def shown_compare_models(self) -> list[str]:
        names = self.model_names()
        chosen = [m for m in self.compare_models if m in names] or names
        return chosen[:4]

    @property
    def pairs(self):
        return self.source_data().pairs

    def captions(self) -> list[str] | None:
        p = self.pairs
        return list(p.captions) if p is not None else None

    # -- active pairs -----------------------------------------------------------------------
    def active_indices(self) -> np.ndarray:
        """Source pair ids kept by the caption filter, then the seeded sample (source order)."""
        return self._selection()[0]

    def _selection(self) -> tuple[np.ndarray, str]:
        """(active indices, the spec suffix that selects them), computed once per filter/sample."""

        def compute():
            from .sources import selection_indices

            src = self.source_data()
            idx, suffix = selection_indices(
                src.n,
                self.captions(),
                limit=self.sample_size,
                seed=self.seed,
                words=self.caption_filter.strip() or None,
                mode=self.filter_mode,
            )
            return np.asarray(idx, dtype=np.int64), suffix

        return self._cached("active_indices", (), _ACTIVE, compute)

    def selection_recipe(self) -> str:
        """The source spec plus the filter and sample that select the active pairs."""
        src = self.source_data()
        try:
            suffix = self._selection()[1]
        except ExplorerError:
            suffix = f" --filter {self.caption_filter!r}"
        return src.spec + suffix

    def original_embeddings(self, model: str | None = None) -> Embeddings:
        m = self.resolve_model(model)
        return self._cached(
            "original_embeddings", (m,), _ACTIVE,
            lambda: self.source_data().embeddings[m].subset(self.active_indices()),
        )

    def embeddings(self, model: str | None = None) -> Embeddings:
        """Active pairs of `model` with the gap setting (α, re-normalise) applied (source order)."""
        m = self.resolve_model(model)

        def compute():
            from .analysis.gap import close_gap

            e = self.original_embeddings(m)
            if self.alpha == 0.0:
                return e
            x, y = close_gap(e.image, e.text, alpha=self.alpha, renormalize=self.renormalize)
            dt = np.asarray(e.image).dtype
            prov = dict(e.provenance)
            prov["gap_closing"] = {"alpha": self.alpha, "renormalize": self.renormalize}
            return replace(e, image=x.astype(dt, copy=False), text=y.astype(dt, copy=False), provenance=prov)

        return self._cached("embeddings", (m,), _ACTIVE + _GAP, compute)

    # -- ordering ---------------------------------------------------------------------------
    def ordering(self, model: str | None = None):
        """ClusterOrdering of the active pairs (None unless `cluster`); on the original embeddings."""
        m = self.resolve_model(model)
        if not self.cluster:
            return None

        def compute():
            from .analysis.ordering import cluster_order
            from .analysis.similarity import block_from_embeddings

            e = self.original_embeddings(m)
            with self._working(f"Clustering {e.n} pairs of {m}…"):
                b = block_from_embeddings(e.image, e.text, self.cluster_block)
                return cluster_order(b, k=min(self.k, e.n), optimal=self.optimal_order)

        return self._cached("ordering", (m,), _ACTIVE + _ORDER, compute)

    def order_model(self, model: str | None = None, shared: bool = False) -> str:
        """The model whose ordering is used for `model` (the first compared model when shared)."""
        m = self.resolve_model(model)
        if shared and self.shared_order:
            return self.shown_compare_models()[0]
        return m

    def display_order(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """Active positions in display order (identity unless `cluster`)."""
        o = self.ordering(self.order_model(model, shared))
        if o is None:
            return np.arange(self.active_indices().size)
        return o.order

    def display_pairs(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """Source pair ids in display order."""
        return self.active_indices()[self.display_order(model, shared)]

    def similarity(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """float32 2M×2M similarity of the displayed embeddings, rows/columns in display order."""
        m = self.resolve_model(model)
        om = self.order_model(m, shared)

        def compute():
            from .analysis.similarity import similarity_matrix

            e = self.embeddings(m)
            order = self.display_order(om)
            with self._working(f"Similarity matrix of {2 * e.n} embeddings…"):
                return similarity_matrix(np.asarray(e.image)[order], np.asarray(e.text)[order], dtype=np.float32)

        return self._cached("similarity", (m, om), _ACTIVE + _GAP + _ORDER, compute)

    def difference(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """In-modal difference XXᵀ − YYᵀ (M×M, display order) of the displayed embeddings."""
        m = self.resolve_model(model)
        om = self.order_model(m, shared)

        def compute():
            from .analysis.similarity import in_modal_difference

            e = self.embeddings(m)
            order = self.display_order(om)
            return in_modal_difference(np.asarray(e.image)[order], np.asarray(e.text)[order]).astype(np.float32)

        return self._cached("difference", (m, om), _ACTIVE + _GAP + _ORDER, compute)

    def pixel_aggregation(self, kind: str = "similarity") -> str:
        """How a zoomed-out heatmap pixel merges its cells: `aggregation` for similarities; always
        the mean for the signed in-modal difference (a max would tint it towards positive values)."""
        return "mean" if kind == "difference" else self.aggregation

    def matrix_levels(self, model: str | None = None, kind: str = "similarity", how: str | None = None, shared: bool = False):
        """Pre-aggregated levels [(1, matrix), (2, …), …] (explorer.views.pyramid) of the similarity
        (kind 'similarity') or in-modal difference ('difference') matrix, by max or mean (`how`,
        default pixel_aggregation(kind)). Zoomed-out heatmaps read these instead of every cell."""
        m = self.resolve_model(model)
        om = self.order_model(m, shared)
        how = how or self.pixel_aggregation(kind)
        if kind not in ("similarity", "difference"):
            raise SpecError(f"kind must be 'similarity' or 'difference', got {kind!r}")

        def compute():
            from .views.pyramid import build_levels

            mat = self.similarity(m, shared) if kind == "similarity" else self.difference(m, shared)
            return build_levels(mat, how, min_size=512)

        return self._cached("levels", (kind, m, om, how), _ACTIVE + _GAP + _ORDER, compute)

    def color_limits(self, model: str | None = None, kind: str = "similarity", shared: bool = False, pixels: int = 400) -> tuple[float, float]:
        """Colour limits of a heatmap under `color_range` (explorer.views.colour): 'full', or
        robust limits of the values the zoomed-out heatmap (`pixels` wide, `aggregation` per pixel)
        shows. With `shared` (Compare) and 'data', the union over the compared models, so one colour
        means one value in every compared heatmap."""
        from .views.colour import FULL_LIMITS, union

        m = self.resolve_model(model)
        if self.color_range == "full":
            return FULL_LIMITS[kind]
        if shared:
            return union([self._data_limits(x, kind, True, pixels) for x in self.shown_compare_models()])
        return self._data_limits(m, kind, False, pixels)

    def _data_limits(self, m: str, kind: str, shared: bool, pixels: int) -> tuple[float, float]:
        from .views.colour import color_limits

        om = self.order_model(m, shared)
        return self._cached(
            "color_limits", (kind, m, om, int(pixels)), _ACTIVE + _GAP + _ORDER + ("aggregation",),
            lambda: color_limits(self.matrix_levels(m, kind, shared=shared), "data", kind, pixels),
        )

    def cluster_labels(self, model: str | None = None, top: int = 2) -> list[str]:
        """The n-gram label of each cluster (display order); [] unless `cluster`."""
        m = self.resolve_model(model)

        def compute():
            from .analysis.labels import cluster_label

            o = self.ordering(m)
            if o is None:
                return []
            caps = self.captions()
            active = self.active_indices()
            if caps is None:
                return [f"cluster {c + 1}" for c in range(len(o.members))]
            return [cluster_label([caps[active[i]] for i in mem], top=top) or f"cluster {c + 1}" for c, mem in enumerate(o.members)]

        return self._cached("cluster_labels", (m, top), _ACTIVE + _ORDER, compute)

    def cluster_examples(self, model: str | None = None, per_cluster: int = 3) -> list[list[int]]:
        """Source pair ids of a few example pairs per cluster: those most similar to their cluster's mean image."""
        o = self.ordering(model)
        if o is None:
            return []
        e = self.original_embeddings(model)
        x = np.asarray(e.image, dtype=np.float64)
        active = self.active_indices()
        out = []
        for mem in o.members:
            centre = x[mem].mean(axis=0)
            best = mem[np.argsort(-(x[mem] @ centre), kind="stable")[:per_cluster]]
            out.append([int(active[i]) for i in best])
        return out

    # -- projection -------------------------------------------------------------------------
    def projection_result(self, model: str | None = None, method: str | None = None, mode: str | None = None):
        """The Projection of the displayed embeddings (cached in memory and on disk).

        `method` / `mode` default to the `projection` / `projection_mode` parameters.
        """
        m = self.resolve_model(model)
        explicit = method is not None or mode is not None
        meth = method or self.projection
        mo = mode or self.projection_mode

        def compute():
            from .analysis.projection import project
            from .store import default_root

            e = self.embeddings(m)
            with self._working(f"{meth} ({mo}) of {m}, {e.n} pairs…"):
                return project(
                    e.image, e.text, meth, mo, seed=self.seed,
                    cache_root=default_root(), progress=self.progress, verbose=e.n >= 1000,
                )

        if explicit:
            return self._cached("projection", (m, meth, mo), _ACTIVE + _GAP + ("seed",), compute)
        return self._cached("projection", (m,), _ACTIVE + _GAP + _PROJ + ("seed",), compute)

    def components(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> tuple[int, int]:
        """0-based (x, y) component indices actually shown (clamped to those computed)."""
        c = self.projection_result(model, method, mode).n_components
        return min(self.x_component, c) - 1, min(self.y_component, c) - 1

    def axis_names(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> tuple[str, str]:
        """Names of the shown components, e.g. ('PC3', 'PC2') or ('UMAP 1', 'UMAP 2')."""
        meth = method or self.projection
        cx, cy = self.components(model, method, mode)
        return tuple(f"PC{c + 1}" if meth == "PCA" else f"{meth} {c + 1}" for c in (cx, cy))

    def projection_label(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> str:
        """What a projection shows: 'PCA joint (seed 0) · PC3 × PC2'."""
        x, y = self.axis_names(model, method, mode)
        return f"{self.projection_result(model, method, mode).describe()} · {x} × {y}"

    def projection_coords(self, model: str | None = None):
        """DataFrame: pair_id, modality ('image'/'text', or 'pair' when concatenated), x, y
        (the displayed components), sim (the pair's cosine similarity), caption.
        Per-point faithfulness is in `faithfulness(model)` (computed only when asked for)."""
        m = self.resolve_model(model)

        def compute():
            import pandas as pd

            from .analysis.similarity import pair_similarities

            p = self.projection_result(m)
            e = self.embeddings(m)
            cx, cy = self.components(m)
            active = self.active_indices()
            sim = pair_similarities(e.image, e.text)
            caps = self.captions()
            cap = [caps[i] for i in active] if caps is not None else [""] * active.size
            if p.one_point_per_pair:
                df = pd.DataFrame({"pair_id": active, "modality": "pair", "x": p.coords[:, cx], "y": p.coords[:, cy], "sim": sim, "caption": cap})
            else:
                n = active.size
                df = pd.DataFrame(
                    {
                        "pair_id": np.concatenate([active, active]),
                        "modality": np.repeat(["image", "text"], n),
                        "x": p.coords[:, cx],
                        "y": p.coords[:, cy],
                        "sim": np.concatenate([sim, sim]),
                        "caption": cap + cap,
                    }
                )
            return df

        return self._cached("projection_coords", (m,), _ACTIVE + _GAP + _PROJ + ("seed", "x_component", "y_component"), compute)

    def faithfulness(self, model: str | None = None, method: str | None = None, mode: str | None = None):
        """Faithfulness of the displayed 2-D projection (the components shown); above
        3,000 points the neighbourhood numbers are estimated on a seeded sample of points.
        `method` / `mode` select another projection than the displayed one."""
        m = self.resolve_model(model)
        explicit = method is not None or mode is not None

        def compute():
            from .analysis.faithfulness import projection_faithfulness

            p = self.projection_result(m, method, mode)
            e = self.embeddings(m)
            cx, cy = self.components(m, method, mode)
            return projection_faithfulness(
                e.image, e.text, p.coords[:, [cx, cy]], one_point_per_pair=p.one_point_per_pair,
                k=self.faithfulness_k, n_clusters=self.k, seed=self.seed,
            )

        deps = _ACTIVE + _GAP + ("seed", "x_component", "y_component", "faithfulness_k", "k")
        if explicit:
            return self._cached("faithfulness", (m, method or self.projection, mode or self.projection_mode), deps, compute)
        return self._cached("faithfulness", (m,), deps + _PROJ, compute)

    def faithfulness_frame(self, model: str | None = None, methods: Sequence[str] = PROJECTIONS, mode: str | None = None):
        """One row per projection method (same mode): trustworthiness, kNN overlap, pair edges
        within a 2-D cluster and within a full-space cluster (methods that cannot run in the
        mode are left out, e.g. t-SNE fit-image)."""
        import pandas as pd

        from .analysis.projection import check_mode

        mo = mode or self.projection_mode
        rows = []
        for meth in methods:
            try:
                check_mode(meth, mo)
            except SpecError:
                continue
            f = self.faithfulness(model, meth, mo)
            rows.append(
                {
                    "projection": self.projection_label(model, meth, mo),
                    "trustworthiness": f.trustworthiness,
                    "kNN overlap": f.knn_overlap,
                    "edges within 2-D cluster": f.edges_within_cluster_2d,
                    "edges within full-space cluster": f.edges_within_cluster_full,
                    "points evaluated": f"{f.n_evaluated}/{f.n_points}",
                    "k": f.k,
                }
            )
        return pd.DataFrame(rows)

    # -- numbers ----------------------------------------------------------------------------
    def effective_batch_size(self, model: str | None = None) -> int:
        return int(min(self.batch_size, self.original_embeddings(model).n))

    def numbers(self, model: str | None = None) -> dict[str, Any]:
        """Gap distance, loss before/after closing (variant and batch size recorded), R@1/5/10
        before and after, mean|XXᵀ−YYᵀ| and mean|XYᵀ−YXᵀ| of the displayed embeddings.

        The "before" half depends only on the pairs and the loss settings, so moving α recomputes
        only the "after" half (and nothing at α = 0, where after = before)."""
        m = self.resolve_model(model)

        def compute():
            before = self._numbers_of(m, closed=False)
            after = before if self.alpha == 0.0 else self._numbers_of(m, closed=True)
            e0 = self.original_embeddings(m)
            out: dict[str, Any] = {
                "model": m,
                "n": e0.n,
                "logit_scale": e0.logit_scale,
                "loss_variant": self.loss_variant,
                "batch_size": self.effective_batch_size(m),
                "alpha": self.alpha,
                "renormalize": self.renormalize,
            }
            for when, part in (("before", before), ("after", after)):
                out[f"gap_distance_{when}"] = part["gap_distance"]
                out[f"loss_{when}"] = part["loss"]
                for key, v in part["recall"].items():
                    out[f"R{key.replace('image_to_text', 'i2t').replace('text_to_image', 't2i')}_{when}"] = v
            out["loss_difference"] = out["loss_after"] - out["loss_before"]
            out["in_modal_difference"] = after["in_modal_difference"]
            out["cross_modal_asymmetry"] = after["cross_modal_asymmetry"]
            return out

        return self._cached("numbers", (m,), _ACTIVE + _GAP + ("loss_variant", "batch_size"), compute)

    def _numbers_of(self, m: str, closed: bool) -> dict[str, Any]:
        """Gap distance, loss, R@1/5/10 and consistency of the original (closed=False) or the
        displayed, gap-closed embeddings; each cached on exactly what it depends on."""

        def compute():
            from .analysis.gap import gap_distance
            from .analysis.loss import contrastive_loss
            from .analysis.retrieval import recall_at_k
            from .analysis.summary import consistency_summary

            e = self.embeddings(m) if closed else self.original_embeddings(m)
            cons = consistency_summary(e.image, e.text)
            return {
                "gap_distance": gap_distance(e.image, e.text),
                "loss": contrastive_loss(e.image, e.text, e.logit_scale, self.effective_batch_size(m), self.loss_variant),
                "recall": recall_at_k(e.image, e.text, ks=(1, 5, 10)),
                "in_modal_difference": cons["in_modal_difference"],
                "cross_modal_asymmetry": cons["cross_modal_asymmetry"],
            }

        deps = _ACTIVE + ("loss_variant", "batch_size") + (_GAP if closed else ())
        return self._cached("numbers_after" if closed else "numbers_before", (m,), deps, compute)

    def numbers_frame(self, model: str | None = None):
        """numbers() as a table: quantity | before | after (closing by α)."""
        import pandas as pd

        d = self.numbers(model)
        rows = [
            ("gap distance", d["gap_distance_before"], d["gap_distance_after"]),
            (f"loss ({d['loss_variant']}, batch {d['batch_size']})", d["loss_before"], d["loss_after"]),
        ]
        for k in (1, 5, 10):
            rows.append((f"R@{k} image→text", d[f"Ri2t@{k}_before"], d[f"Ri2t@{k}_after"]))
            rows.append((f"R@{k} text→image", d[f"Rt2i@{k}_before"], d[f"Rt2i@{k}_after"]))
        return pd.DataFrame(rows, columns=["quantity", "before", f"after (α={d['alpha']:g})"])

    def landscape(self, model: str | None = None):
        """The loss landscape along the gap of the original embeddings (analysis.landscape)."""
        m = self.resolve_model(model)

        def compute():
            from .analysis.landscape import loss_landscape

            e = self.original_embeddings(m)
            return loss_landscape(e.image, e.text, e.logit_scale, batch_size=self.effective_batch_size(m), variant=self.loss_variant)

        return self._cached("landscape", (m,), _ACTIVE + ("loss_variant", "batch_size"), compute)

    def distributions(self, model: str | None = None, bins: int = 60):
        """Histograms of in-modal and cross-modal similarities of the displayed embeddings."""
        m = self.resolve_model(model)

        def compute():
            from .analysis.distributions import distributions_from_similarity

            # from the heatmap's matrix (computed once for both; the groups do not depend on the order)
            return distributions_from_similarity(self.similarity(m), bins=bins)

        return self._cached("distributions", (m, bins), _ACTIVE + _GAP, compute)

    # -- items, inspection, selection -------------------------------------------------------
    def thumb_token(self) -> str | None:
        from . import thumbnails

        p = self.pairs
        if p is None or p.images is None:
            return None
        return self._cached("thumb_token", (), _SOURCE, lambda: thumbnails.register(p))

    def thumb_url(self, pair_id: int) -> str | None:
        """``/thumb/<token>/<pair_id>.png`` or None when the source has no images."""
        from .thumbnails import thumb_url

        token = self.thumb_token()
        return thumb_url(token, int(pair_id)) if token is not None else None

    def item(self, modality: str, pair_id: int) -> dict[str, Any]:
        """One embedding's description: modality, pair id, dataset id, caption, thumbnail URL."""
        p = self.pairs
        pid = int(pair_id)
        return {
            "modality": modality,
            "pair_id": pid,
            "id": p.ids[pid] if p is not None else str(pid),
            "caption": p.captions[pid] if p is not None else "",
            "thumb": self.thumb_url(pid),
        }

    def cell_items(self, model: str | None, row: int, col: int, shared: bool = False) -> dict[str, Any]:
        """The two items and the value of matrix cell (row, col) in display coordinates."""
        m = self.resolve_model(model)
        pairs = self.display_pairs(m, shared)
        n2 = 2 * pairs.size
        r, c = int(row), int(col)
        if not (0 <= r < n2 and 0 <= c < n2):
            raise SpecError(f"cell ({r}, {c}) is outside the {n2}×{n2} matrix")
        items = []
        for q in (r, c):
            modality = "image" if q < pairs.size else "text"
            items.append(self.item(modality, pairs[q % pairs.size]))
        value = float(self.similarity(m, shared)[r, c])
        return {"kind": "cell", "model": m, "row": r, "col": c, "row_item": items[0], "col_item": items[1], "value": value}

    def inspect_cell(self, model: str | None, row: int, col: int, shared: bool = False) -> dict[str, Any]:
        """Resolve a tapped cell (cell_items) and publish it in `inspected`."""
        info = self.cell_items(model, row, col, shared)
        self.inspected = info
        return info

    def inspect_pair(self, model: str | None, pair_id: int) -> dict[str, Any]:
        """Publish a pair (image, caption and their similarity) in `inspected` (scatter taps)."""
        m = self.resolve_model(model)
        pid = int(pair_id)
        pos = np.flatnonzero(self.active_indices() == pid)
        if pos.size == 0:
            raise SpecError(f"pair {pid} is not among the shown pairs")
        e = self.embeddings(m)
        q = int(pos[0])
        value = float(np.dot(np.asarray(e.image[q], np.float64), np.asarray(e.text[q], np.float64)))
        info = {"kind": "pair", "model": m, "row_item": self.item("image", pid), "col_item": self.item("text", pid), "value": value}
        self.inspected = info
        return info

    def select_pairs(self, ids: Sequence[int]) -> None:
        """Set `selected_pairs` to the distinct ids, in first-seen order."""
        seen: dict[int, None] = {}
        for i in ids:
            seen.setdefault(int(i), None)
        self.selected_pairs = list(seen)

    def selected_table(self, model: str | None = None):
        """DataFrame of the selected pairs: pair_id, id, caption, image, thumb, cluster, sim."""
        import pandas as pd

        ids = [int(i) for i in self.selected_pairs]
        cols = ["pair_id", "id", "caption", "image", "thumb", "cluster", "sim"]
        if not ids:
            return pd.DataFrame(columns=cols)
        src = self.source_data()
        p = src.pairs
        m = self.resolve_model(model)
        active = self.active_indices()
        pos_of = {int(a): q for q, a in enumerate(active)}
        e = self.embeddings(m)
        o = self.ordering(m)
        labels = self.cluster_labels(m) if o is not None else []
        rows = []
        for pid in ids:
            if not 0 <= pid < src.n:
                continue
            q = pos_of.get(pid)
            sim = float(np.dot(np.asarray(e.image[q], np.float64), np.asarray(e.text[q], np.float64))) if q is not None else np.nan
            cluster = labels[int(o.assignment[q])] if (o is not None and q is not None) else ""
            rows.append(
                {
                    "pair_id": pid,
                    "id": p.ids[pid] if p is not None else str(pid),
                    "caption": p.captions[pid] if p is not None else "",
                    "image": p.images.ref(pid) if (p is not None and p.images is not None) else None,
                    "thumb": self.thumb_url(pid),
                    "cluster": cluster,
                    "sim": sim,
                }
            )
        return pd.DataFrame(rows, columns=cols)

    # -- provenance -------------------------------------------------------------------------
    def provenance(self, model: str | None = None, projection: bool = False) -> dict[str, Any]:
        """What produced a view: model id, source recipe + sample seed, gap setting (+ projection)."""
        m = self.resolve_model(model)
        e = self.source_data().embeddings[m]
        out = {
            "model": m,
            "model_id": str(e.provenance.get("model_id", e.model)),
            "source": self.selection_recipe(),
            "n": int(self.active_indices().size),
            "seed": self.seed,
            "alpha": self.alpha,
            "renormalize": self.renormalize,
        }
        if self.cluster:
            out["ordering"] = f"{self.cluster_block} k={self.k}{' optimal' if self.optimal_order else ''}"
        if projection:
            out["projection"] = self.projection_result(m).describe()
        return out

    def provenance_line(self, model: str | None = None, projection: bool = False) -> str:
        d = self.provenance(model, projection)
        name = d["model"] if d["model_id"] == d["model"] else f"{d['model']} [{d['model_id']}]"
        parts = [f"{name} on {d['source']} (n={d['n']})", f"gap α={d['alpha']:g}{' renorm' if d['renormalize'] else ''}"]
        if "ordering" in d:
            parts.append(f"clusters {d['ordering']}")
        if "projection" in d:
            parts.append(d["projection"])
        return " · ".join(parts)


class AugmentState(param.Parameterized):
    """An augmentation study: one image, a series of `steps` augmentations of one `kind`, the
    heatmaps of every selected model (dataset spec ``augment:KIND:IMAGE[:CAPTION]``)."""

    image = param.String("", doc="an image file, or a pair index of `base_source` (e.g. '0')")
    caption = param.String("", doc="the caption paired with every augmented image ('' = the pair's own)")
    base_source = param.String("", doc="source the pair index refers to")
    kind = param.Selector(default="rotation", objects=["rotation", "noise", "blur", "hshift", "vshift"])
    steps = param.Integer(100, bounds=(2, 1000))
    models = param.List([], item_type=str, doc="model specs ('' = DEFAULT_DATASET_MODELS); model names for a series_source")
    series_source = param.String("", doc="a precomputed series instead (e.g. amumo:…/Blurred-0_size-100)")
    cmap = param.String("fire")
    aggregation = param.Selector(default="max", objects=["mean", "max"])

    def image_path(self) -> str:
        """The image file: `image` itself, or the file of pair `image` of `base_source`."""
        from pathlib import Path

        ref = self.image.strip()
        if not ref:
            raise SpecError("choose an image (a file, or a pair index of the current source)")
        if ref.isdigit() and self.base_source:
            from .sources import load_pairs

            pairs = load_pairs(self.base_source)
            i = int(ref)
            if pairs.images is None or not 0 <= i < len(pairs) or not hasattr(pairs.images, "path"):
                raise SpecError(f"{self.base_source}: no image file for pair {i}")
            return str(pairs.images.path(i))
        if not Path(ref).expanduser().is_file():
            raise SpecError(f"{ref}: no such image file")
        return ref

    def spec(self) -> str:
        """``augment:KIND:IMAGE[:CAPTION]``."""
        s = f"augment:{self.kind}:{self.image_path()}"
        if self.caption:
            s += f":{self.caption}"
        return s

    def explorer_state(self, **params: Any) -> ExplorerState:
        """An ExplorerState over the augmentation series (heatmaps, numbers, ...)."""
        if self.series_source:
            return ExplorerState(source=self.series_source, models=list(self.models), cmap=self.cmap, aggregation=self.aggregation, **params)
        return ExplorerState(
            source=self.spec(), models=list(self.models), source_options={"steps": self.steps},
            cmap=self.cmap, aggregation=self.aggregation, **params,
        )
