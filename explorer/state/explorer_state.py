"""`ExplorerState`: the settings parts of one explorer, and the data derived from their values.

The parts (:mod:`explorer.state.parts`) hold the settings; this object composes them and offers
the derived data the views show. Every derived value is a pure function of explicit arguments
(the engine's, :mod:`explorer.engine`), kept in the process-wide memo keyed by those arguments
(:data:`explorer.engine.memo.MEMO`): two states (two browser sessions, two notebook cells) with the
same settings share one opened source, one ordering, one projection; a state holds no data of its
own. Nothing here imports a view, and nothing here reports progress: long computations announce
themselves in the memo (``MEMO.in_flight``), which the app shows.

Pair ids. Pair id = row index of the *source* (``source_data().pairs``), everywhere: in
``interaction.selected_pairs``, in tables, in projection frames. The *shown* pairs are those kept
by the caption filter and sample (:meth:`active_indices`, in source order); a matrix view shows
them in *display order* (clustered or not): display position q shows pair
``display_pairs(model)[q]``; in the 2M×2M matrix, row q is that pair's image and row M + q its
caption.

Build one from keyword arguments naming any part's parameters::

    st = ExplorerState(source="shapes:500", alpha=0.5, cluster=True)
    st.gap.alpha = 1.0          # the parts are ordinary param objects
    st.update(k=12, cmap="kbc")  # or set several by name
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import param

from ..engine import numbers as engine_numbers
from ..engine.memo import MEMO
from ..engine.space import PairSpace, Shown
from ..errors import ExplorerError, SpecError
from .colours import ColourScales
from .items import ItemsAndSelection
from .parts import PARTS, PROJECTIONS
from .probe import ProbeQueries

#: models used to embed a dataset source (e.g. shapes:N) when `models` is empty
DEFAULT_DATASET_MODELS = ("own:clip", "own:cyclip", "own:cloob")


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


def array_digest(*arrays: Any, limit: int = 256 * 2**20) -> str | None:
    """SHA-256 of in-memory arrays (what keys their disk caches when no file names them); None
    above `limit` bytes (large sources are files, whose names and stamps key them)."""
    import hashlib

    if sum(np.asarray(a).nbytes for a in arrays) > limit:
        return None
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return "sha256:" + h.hexdigest()


def part_of(name: str) -> str:
    """The part holding parameter `name` ('alpha' -> 'gap')."""
    for part, cls in PARTS.items():
        if name in cls.param and name != "name":
            return part
    raise TypeError(f"no explorer setting {name!r}; settings: {', '.join(sorted(all_settings()))}")


def only_selected(idx: np.ndarray, suffix: str, only: Sequence[int]) -> tuple[np.ndarray, str]:
    """The kept pair ids `idx` restricted to `only` (the 'show only selected' toggle; [] = all)
    and the recipe suffix saying so; a clear error when none of them is kept."""
    if not only:
        return idx, suffix
    ids = np.unique(np.asarray(only, dtype=np.int64))
    kept = idx[np.isin(idx, ids)]
    if kept.size == 0:
        raise SpecError(f"none of the {ids.size:,} selected pairs is among the pairs the filter and sample keep")
    shown = ",".join(str(int(i)) for i in kept[:20]) + ("…" if kept.size > 20 else "")
    return kept, suffix + f" --only-pairs {shown} ({kept.size:,} selected)"


def all_settings() -> list[str]:
    return [n for cls in PARTS.values() for n in cls.param if n != "name"]


class ExplorerState(ItemsAndSelection, ProbeQueries, ColourScales, param.Parameterized):
    """The parts of one explorer (see module docstring)."""

    data = param.ClassSelector(class_=PARTS["data"], constant=True)
    model = param.ClassSelector(class_=PARTS["model"], constant=True)
    gap = param.ClassSelector(class_=PARTS["gap"], constant=True)
    order = param.ClassSelector(class_=PARTS["order"], constant=True)
    projection = param.ClassSelector(class_=PARTS["projection"], constant=True)
    look = param.ClassSelector(class_=PARTS["look"], constant=True)
    probe = param.ClassSelector(class_=PARTS["probe"], constant=True)
    interaction = param.ClassSelector(class_=PARTS["interaction"], constant=True)

    def __init__(self, source_data: Any = None, **settings: Any):
        """`source_data`: an already opened Source (notebooks, tests); `source` then defaults to
        its spec. Other keyword arguments set parameters of the parts by name."""
        by_part: dict[str, dict[str, Any]] = {p: {} for p in PARTS}
        for k, v in settings.items():
            by_part[part_of(k)][k] = v
        if source_data is not None:
            by_part["data"].setdefault("source", source_data.spec)
        super().__init__(**{p: PARTS[p](**vals) for p, vals in by_part.items()})
        self._preloaded = source_data
        self._preloaded_token = uuid.uuid4().hex if source_data is not None else ""
        self._init_probe()
        self.watch_colour_lock()

    def update(self, **settings: Any) -> None:
        """Set parameters of the parts by name, each part in one batch."""
        by_part: dict[str, dict[str, Any]] = {}
        for k, v in settings.items():
            by_part.setdefault(part_of(k), {})[k] = v
        for p, vals in by_part.items():
            getattr(self, p).param.update(**vals)

    def settings(self, parts: Sequence[str] = tuple(PARTS)) -> dict[str, Any]:
        """The current values of the parts' parameters (for carrying them to another source)."""
        return {n: getattr(getattr(self, p), n) for p in parts for n in PARTS[p].param if n != "name"}

    # -- source -----------------------------------------------------------------------------
    def source_key(self) -> tuple:
        d = self.data
        pre = self._preloaded
        if pre is not None and d.source == pre.spec:
            return ("preloaded", self._preloaded_token, _freeze(d.models))
        return ("source", d.source, _freeze(d.models), _freeze(d.source_options))

    def source_data(self):
        """The opened source (shared by every state with the same source, models and options)."""
        key = self.source_key()
        if key[0] == "preloaded":
            return MEMO.get(key, self._select_models)
        from ..sources import IMPORTERS, normalized_spec

        prefix, _ = normalized_spec(self.data.source)
        if prefix in IMPORTERS:
            return MEMO.get(key, lambda progress: self._open_precomputed(), label=f"Opening {self.data.source}…")
        models = list(self.data.models) or list(DEFAULT_DATASET_MODELS)
        return MEMO.get(key, lambda progress: self._embed_dataset(models, progress),
                        label=f"Embedding {self.data.source} with {len(models)} model(s)…", unit="models")

    def _select_models(self, src: Any = None):
        src = self._preloaded if src is None else src
        if not self.data.models:
            return src
        missing = [m for m in self.data.models if m not in src.embeddings]
        if missing:
            raise SpecError(f"{src.spec}: no model(s) {missing}; it has {src.models}")
        return replace(src, embeddings={m: src.embeddings[m] for m in self.data.models})

    def _open_precomputed(self):
        from ..sources import open_source

        return self._select_models(open_source(self.data.source))

    def _embed_dataset(self, models: list[str], progress):
        """What open_source(spec, models=...) does, one model at a time, so the page can say how
        many models are embedded; the embeddings come from the store when computed before."""
        from ..data.skips import format_notes_for_cli
        from ..embed import align_skipped, embed_pairs
        from ..sources import Source, load_pairs

        pairs = load_pairs(self.data.source, **dict(self.data.source_options))
        loader_notes = list(format_notes_for_cli(pairs.notes))  # what the loader skipped, and why
        embeddings = {}
        for i, m in enumerate(models):
            progress(i, len(models), f"Embedding {len(pairs)} pairs of {self.data.source} with {m} (model {i + 1} of {len(models)})…")
            embeddings[m] = embed_pairs(pairs, m, progress=True)
        progress(len(models), len(models))
        pairs, embeddings, skip_notes = align_skipped(pairs, embeddings)
        return Source(self.data.source, pairs.name, pairs, embeddings, loader_notes + list(skip_notes))

    def model_names(self) -> list[str]:
        return list(self.source_data().embeddings)

    def resolve_model(self, model: str | None = None) -> str:
        """`model`, or `model.active_model`, or the first model; SpecError for an unknown name."""
        names = self.model_names()
        m = model or self.model.active_model or (names[0] if names else "")
        if m not in names:
            raise SpecError(f"no model {m!r} in {self.data.source}; models: {', '.join(names)}")
        return m

    def shown_compare_models(self) -> list[str]:
        names = self.model_names()
        chosen = [m for m in self.model.compare_models if m in names] or names
        return chosen[:4]

    @property
    def pairs(self):
        return self.source_data().pairs

    def captions(self) -> Sequence[str] | None:
        p = self.pairs
        return p.captions if p is not None else None

    # -- shown pairs ------------------------------------------------------------------------
    def selection_key(self) -> tuple:
        d = self.data
        words = d.caption_filter.strip()
        only = array_digest(np.unique(np.asarray(d.only_pairs, dtype=np.int64))) if d.only_pairs else ""
        return (self.source_key(), words, d.filter_mode if words else "", d.filter_kind if words else "", d.sample_size, d.seed, only)

    def _selection(self) -> tuple[np.ndarray, str]:
        def compute():
            from ..sources import selection_indices

            src = self.source_data()
            words = self.data.caption_filter.strip() or None
            p = src.pairs
            idx, suffix = selection_indices(
                src.n, p.captions if p is not None else None, limit=self.data.sample_size, seed=self.data.seed,
                words=words, mode=self.data.filter_mode, kind=self.data.filter_kind,
                array=p.caption_array() if (words and p is not None) else None,
            )
            return only_selected(np.asarray(idx, dtype=np.int64), suffix, self.data.only_pairs)

        return MEMO.get(("selection",) + self.selection_key(), compute)

    def active_indices(self) -> np.ndarray:
        """Source pair ids kept by the caption filter, then the seeded sample (source order)."""
        return self._selection()[0]

    def selection_recipe(self) -> str:
        """The source spec plus the filter and sample that select the shown pairs."""
        src = self.source_data()
        try:
            suffix = self._selection()[1]
        except ExplorerError:
            suffix = f" --filter {self.data.caption_filter!r}"
        return src.spec + suffix

    def embeddings(self, model: str | None = None):
        """The source's Embeddings of `model` (all pairs, as stored)."""
        return self.source_data().embeddings[self.resolve_model(model)]

    def space(self, model: str | None = None) -> PairSpace:
        """The shown pairs of `model` (explorer.engine.space), shared by every state showing them."""
        m = self.resolve_model(model)
        key = ("space", m) + self.selection_key()

        def compute() -> PairSpace:
            e = self.embeddings(m)
            active = self.active_indices()
            sp = PairSpace(e.image, e.text, None if active.size == e.n else active, key=(self.source_key(), m),
                           active_key=self.selection_key()[1:])
            sp.content = e.provenance.get("content_key") or e.provenance.get("store_entry") or array_digest(e.image, e.text)
            return sp

        return MEMO.get(key, compute)

    def logit_scale(self, model: str | None = None) -> float:
        return float(self.embeddings(model).logit_scale)

    # -- ordering ---------------------------------------------------------------------------
    def ordering(self, model: str | None = None, *, even_if_off: bool = False):
        """ClusterOrdering of the shown pairs (None unless clustering is on, or `even_if_off`: the
        ordering the current settings would give, e.g. computed ahead); of the original
        embeddings, so moving α never reorders the matrix."""
        if not (self.order.cluster or even_if_off):
            return None
        from ..engine.ordering import cluster_ordering

        o = self.order
        return cluster_ordering(self.space(model), o.cluster_block, o.k, o.optimal_order, seed=self.data.seed)

    def order_model(self, model: str | None = None, shared: bool = False) -> str:
        """The model whose ordering is used for `model` (the first compared model when shared)."""
        m = self.resolve_model(model)
        if shared and self.model.shared_order:
            return self.shown_compare_models()[0]
        return m

    def order_key(self, model: str | None = None, shared: bool = False, *, even_if_off: bool = False) -> tuple | None:
        if not (self.order.cluster or even_if_off):
            return None
        o = self.order
        return (self.order_model(model, shared), o.cluster_block, o.k, o.optimal_order, self.data.seed)

    def display_order(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """Shown positions in display order (identity unless clustering is on)."""
        o = self.ordering(self.order_model(model, shared))
        if o is None:
            return np.arange(self.active_indices().size)
        return o.order

    def display_pairs(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """Source pair ids in display order."""
        return self.active_indices()[self.display_order(model, shared)]

    def closing(self) -> tuple[float, bool]:
        """(α, re-normalise) as applied: at α = 0 the stored rows are re-normalised whatever the
        setting (float16 rows are unit only to 1e-3), which changes nothing for unit rows."""
        g = self.gap
        return float(g.alpha), bool(g.renormalize) if g.alpha else True

    def shown(self, model: str | None = None, shared: bool = False) -> Shown:
        """What a matrix view of `model` shows: its space, the gap setting and the display order."""
        o = self.ordering(self.order_model(model, shared))
        return Shown(self.space(model), *self.closing(), None if o is None else o.order, self.order_key(model, shared))

    def cluster_labels(self, model: str | None = None, top: int = 2, *, even_if_off: bool = False) -> list[str]:
        """The n-gram label of each cluster (display order); [] unless clustering is on (or
        `even_if_off`, as :meth:`ordering`)."""
        o = self.ordering(model, even_if_off=even_if_off)
        if o is None:
            return []
        from ..engine.ordering import cluster_labels

        key = ("labels", self.order_key(model, even_if_off=True), self.selection_key(), top)
        return MEMO.get(key, lambda: cluster_labels(o, self.captions(), self.active_indices(), top=top, seed=self.data.seed))

    def cluster_examples(self, model: str | None = None, per_cluster: int = 3) -> list[list[int]]:
        """Source pair ids of a few example pairs per cluster: those most similar to their
        cluster's mean image (among at most 2,000 seeded members)."""
        o = self.ordering(model)
        if o is None:
            return []
        sp = self.space(model)
        active = self.active_indices()
        rng = np.random.default_rng(self.data.seed)
        out = []
        for mem in o.members:
            cand = mem if mem.size <= 2000 else np.sort(rng.choice(mem, 2000, replace=False))
            x = sp.vectors("image", cand, 0.0, False).astype(np.float64)
            best = cand[np.argsort(-(x @ x.mean(axis=0)), kind="stable")[:per_cluster]]
            out.append([int(active[i]) for i in best])
        return out

    # -- matrix tiles -----------------------------------------------------------------------
    def pixel_aggregation(self, kind: str = "similarity") -> str:
        """What a zoomed-out pixel shows: `look.aggregation` for similarities; always the mean for
        the signed in-modal difference (a max would tint it towards positive values)."""
        return "mean" if kind == "difference" else self.look.aggregation

    def tile(self, model: str | None = None, kind: str = "similarity", *, x_range=None, y_range=None, width: int = 400,
             height: int = 400, shared: bool = False, how: str | None = None):
        """The heatmap tile of a window (explorer.engine.tiles), shared by every state showing it."""
        from ..engine.tiles import axis_size, cell_window, tile

        sh = self.shown(model, shared)
        how = how or self.pixel_aggregation(kind)
        n = axis_size(sh, kind)
        xw, yw = cell_window(*(x_range or (None, None)), n), cell_window(*(y_range or (None, None)), n)
        key = ("tile", sh.key, kind, how, xw, yw, int(width), int(height))
        label = f"Max per pixel over {(xw[1] - xw[0]) * (yw[1] - yw[0]):,} cells…" if how == "max" else None

        def compute(progress=None):
            xr, yr = (xw[0] - 0.5, xw[1] - 0.5), (yw[0] - 0.5, yw[1] - 0.5)
            return tile(sh, kind, how, x_range=xr, y_range=yr, width=width, height=height)

        return MEMO.get(key, compute, label=label) if label else MEMO.get(key, compute)

    def cell_value(self, model: str | None, row: int, col: int, kind: str = "similarity", shared: bool = False) -> float:
        """One cell of the matrix (display coordinates), computed from its two vectors."""
        sh = self.shown(model, shared)
        if kind == "similarity":
            v = sh.axis_vectors(np.array([row, col]))
            return float(np.dot(v[0].astype(np.float64), v[1].astype(np.float64)))
        x, y = sh.vectors("image", np.array([row, col])), sh.vectors("text", np.array([row, col]))
        return float(x[0].astype(np.float64) @ x[1] - y[0].astype(np.float64) @ y[1])

    # -- projection -------------------------------------------------------------------------
    def projection_result(self, model: str | None = None, method: str | None = None, mode: str | None = None):
        """The Projection of the displayed embeddings (explorer.engine.projection; shared, and on
        disk for UMAP / t-SNE). `method` / `mode` default to the projection settings."""
        from ..engine.projection import projection
        from ..store import default_root

        p = self.projection
        alpha, renorm = self.closing()
        return projection(self.space(model), method or p.projection, mode or p.projection_mode, alpha=alpha,
                          renormalize=renorm, seed=self.data.seed, cache_root=default_root(), verbose=self.space(model).m >= 1000)

    def components(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> tuple[int, int]:
        """0-based (x, y) component indices actually shown (clamped to those computed)."""
        c = self.projection_result(model, method, mode).n_components
        return min(self.projection.x_component, c) - 1, min(self.projection.y_component, c) - 1

    def axis_names(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> tuple[str, str]:
        """Names of the shown components, e.g. ('PC3', 'PC2') or ('UMAP 1', 'UMAP 2')."""
        meth = method or self.projection.projection
        cx, cy = self.components(model, method, mode)
        return tuple(f"PC{c + 1}" if meth == "PCA" else f"{meth} {c + 1}" for c in (cx, cy))

    def projection_label(self, model: str | None = None, method: str | None = None, mode: str | None = None) -> str:
        """What a projection shows: 'PCA joint (seed 0) · PC3 × PC2'."""
        x, y = self.axis_names(model, method, mode)
        return f"{self.projection_result(model, method, mode).describe()} · {x} × {y}"

    def projection_frame(self, model: str | None = None):
        """DataFrame of the shown points: pair_id, modality ('image'/'text', or 'pair' when
        concatenated; categorical), x, y (the displayed components), sim (the pair's cosine
        similarity in the full space). Captions are looked up per item (:meth:`item`)."""
        import pandas as pd

        m = self.resolve_model(model)
        p = self.projection_result(m)
        cx, cy = self.components(m)
        key = ("projection_frame", self.space(m).key, self.closing(), p.method, p.mode, self.data.seed, cx, cy)

        def compute():
            pos = np.arange(self.space(m).m) if p.pairs is None else np.asarray(p.pairs)
            pids = self.active_indices()[pos]
            sim = self.space(m).pair_similarities(*self.closing())[pos]
            if p.one_point_per_pair:
                modality = pd.Categorical.from_codes(np.zeros(pos.size, dtype=np.int8), categories=["pair"])
                return pd.DataFrame({"pair_id": pids, "modality": modality, "x": p.coords[:, cx], "y": p.coords[:, cy], "sim": sim})
            # from codes: 2M strings would take most of a second to categorise at a million pairs
            modality = pd.Categorical.from_codes(np.repeat(np.array([0, 1], dtype=np.int8), pos.size), categories=["image", "text"])
            return pd.DataFrame({"pair_id": np.concatenate([pids, pids]), "modality": modality, "x": p.coords[:, cx],
                                 "y": p.coords[:, cy], "sim": np.concatenate([sim, sim])})

        return MEMO.get(key, compute)

    def projection_index(self, model: str | None = None):
        """The k-d tree of :meth:`projection_frame`'s points (explorer.engine.nearest: the
        rasterized scatter's hover), built once per frame and shared by every session of the
        process that shows the same frame (same key as the frame)."""
        from ..engine.nearest import point_index

        m = self.resolve_model(model)
        p = self.projection_result(m)
        cx, cy = self.components(m)
        key = ("projection_index", self.space(m).key, self.closing(), p.method, p.mode, self.data.seed, cx, cy)

        def compute():
            frame = self.projection_frame(m)
            return point_index(frame["x"].to_numpy(), frame["y"].to_numpy())

        return MEMO.get(key, compute)

    def faithfulness(self, model: str | None = None, method: str | None = None, mode: str | None = None):
        """Faithfulness of the displayed 2-D projection (explorer.analysis.faithfulness) over the
        shown points (at most 20,000 seeded points of a larger source; the neighbourhood numbers
        estimated on 3,000 of them)."""
        from ..analysis.faithfulness import projection_faithfulness
        from ..engine.numbers import sample_positions

        m = self.resolve_model(model)
        p = self.projection_result(m, method, mode)
        cx, cy = self.components(m, method, mode)
        pr = self.projection
        key = ("faithfulness", self.space(m).key, self.closing(), p.method, p.mode, self.data.seed, cx, cy, pr.faithfulness_k,
               self.order.k)

        def compute():
            sp = self.space(m)
            pos = np.arange(sp.m) if p.pairs is None else np.asarray(p.pairs)
            rows = sample_positions(pos.size, 10_000, self.data.seed)  # at most 20,000 points
            pairs = pos[rows]
            x = sp.vectors("image", pairs, *self.closing())
            y = sp.vectors("text", pairs, *self.closing())
            coords = p.coords[:, [cx, cy]]
            sel = rows if p.one_point_per_pair else np.concatenate([rows, rows + pos.size])
            return projection_faithfulness(x, y, coords[sel], one_point_per_pair=p.one_point_per_pair, k=pr.faithfulness_k,
                                           n_clusters=self.order.k, seed=self.data.seed)

        return MEMO.get(key, compute)

    def faithfulness_frame(self, model: str | None = None, methods: Sequence[str] = PROJECTIONS, mode: str | None = None):
        """One row per projection method (same mode): trustworthiness, kNN overlap, pair edges
        within a 2-D cluster and within a full-space cluster (methods that cannot run in the mode
        are left out, e.g. t-SNE fit-image)."""
        import pandas as pd

        from ..analysis.projection import check_mode

        mo = mode or self.projection.projection_mode
        rows = []
        for meth in methods:
            try:
                check_mode(meth, mo)
            except SpecError:
                continue
            f = self.faithfulness(model, meth, mo)
            rows.append({
                "projection": self.projection_label(model, meth, mo),
                "trustworthiness": f.trustworthiness,
                "kNN overlap": f.knn_overlap,
                "edges within 2-D cluster": f.edges_within_cluster_2d,
                "edges within full-space cluster": f.edges_within_cluster_full,
                "points evaluated": f"{f.n_evaluated}/{f.n_points}",
                "k": f.k,
            })
        return pd.DataFrame(rows)

    # -- numbers ----------------------------------------------------------------------------
    def effective_batch_size(self, model: str | None = None) -> int:
        return int(min(self.gap.batch_size, self.space(model).m))

    def numbers(self, model: str | None = None, recall: bool = True) -> dict[str, Any]:
        """Gap distance, loss before/after closing (variant and batch size recorded), R@1/5/10
        before and after (`recall`; estimated above engine.numbers.RECALL_EXACT_UP_TO pairs),
        mean|X'X'ᵀ−Y'Y'ᵀ| and mean|X'Y'ᵀ−Y'X'ᵀ| of the displayed embeddings (sampled above
        CELLS_EXACT_UP_TO pairs); `*_method` keys say how each was computed."""
        m = self.resolve_model(model)
        sp, g = self.space(m), self.gap
        b, scale, seed = self.effective_batch_size(m), self.logit_scale(m), self.data.seed
        out: dict[str, Any] = {"model": m, "n": sp.m, "logit_scale": scale, "loss_variant": g.loss_variant, "batch_size": b,
                               "alpha": g.alpha, "renormalize": g.renormalize}
        for when, (alpha, renorm) in (("before", (0.0, True)), ("after", self.closing())):
            out[f"gap_distance_{when}"] = engine_numbers.gap_distance(sp, alpha, renorm)
            out[f"loss_{when}"] = engine_numbers.loss(sp, scale, b, g.loss_variant, alpha, renorm)
            if recall:
                r = engine_numbers.recall(sp, alpha, renorm, seed=seed)
                for key, v in r.values.items():
                    out[f"R{key.replace('image_to_text', 'i2t').replace('text_to_image', 't2i')}_{when}"] = v
                out["recall_method"] = r.describe()
        out["loss_difference"] = out["loss_after"] - out["loss_before"]
        c = engine_numbers.consistency(sp, *self.closing(), seed=seed)
        out["in_modal_difference"] = c["in_modal_difference"]
        out["cross_modal_asymmetry"] = c["cross_modal_asymmetry"]
        out["consistency_method"] = c["sample"].describe()
        return out

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
        """The loss landscape along the gap of the original embeddings (explorer.engine.numbers)."""
        m = self.resolve_model(model)
        return engine_numbers.landscape(self.space(m), self.logit_scale(m), self.effective_batch_size(m), self.gap.loss_variant)

    def distributions(self, model: str | None = None, bins: int = 60):
        """(Histograms of in-modal and cross-modal similarities of the displayed embeddings, the
        CellSample they used)."""
        return engine_numbers.distributions(self.space(model), *self.closing(), bins, seed=self.data.seed)

    # -- provenance -------------------------------------------------------------------------
    def provenance(self, model: str | None = None, projection: bool = False) -> dict[str, Any]:
        """What produced a view: model id, source recipe + sample seed, gap setting (+ projection)."""
        m = self.resolve_model(model)
        e = self.embeddings(m)
        out = {
            "model": m,
            "model_id": str(e.provenance.get("model_id", e.model)),
            "source": self.selection_recipe(),
            "n": int(self.active_indices().size),
            "seed": self.data.seed,
            "alpha": self.gap.alpha,
            "renormalize": self.gap.renormalize,
        }
        if self.order.cluster:
            from ..engine.ordering import describe_method

            o = self.order
            out["ordering"] = f"{o.cluster_block} k={o.k}{' optimal' if o.optimal_order else ''} ({describe_method(out['n'], o.optimal_order)})"
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
