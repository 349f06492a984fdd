"""The explorer's settings, one small `param.Parameterized` per concern.

Each part holds parameters only (no widgets, no derived data, no progress): the app builds
widgets from them (``pn.Param``, ``Widget.from_param``), the views declare which of them they
depend on (``DEPENDS`` in each view module), and :class:`explorer.state.ExplorerState` composes
them and computes derived data from their values through the engine.
"""

from __future__ import annotations

import param

from ..engine.colour import COLOR_RANGES
from ..engine.ordering import BLOCKS
from ..pairs import FILTER_KINDS

PROJECTIONS = ("PCA", "UMAP", "t-SNE")
PROJECTION_MODES = ("joint", "fit-image", "fit-text", "concatenated")
POINT_COLORS = ("modality", "kNN overlap", "trustworthiness", "probe similarity")
#: the point colour the scatter switches to when a text probe is set (ExplorerState)
PROBE_COLOR = "probe similarity"
DEFAULT_SOURCE = "shapes:1000"


class DataSelection(param.Parameterized):
    """Which pairs are shown: the source, its models, a caption filter and a seeded sample."""

    source = param.String(DEFAULT_SOURCE, doc="spec for explorer.sources.open_source (amumo:DIR, shapes:N, synthetic:N, store:KEY, ...)")
    models = param.List([], item_type=str, doc="model specs to embed a dataset with, or model names of a precomputed source; [] = defaults / all")
    source_options = param.Dict({}, doc="extra options for a dataset loader (e.g. {'steps': 50} for augment:)")
    sample_size = param.Integer(None, allow_None=True, bounds=(1, None), doc="random subset of this many pairs (None = all)")
    seed = param.Integer(0, doc="seed of the sample and of UMAP / t-SNE / k-means and of sampled estimates")
    caption_filter = param.String("", doc="keep pairs whose caption matches (see filter_kind)")
    filter_mode = param.Selector(default="any", objects=["any", "all"], doc="any term or all terms")
    filter_kind = param.Selector(default="substring", objects=list(FILTER_KINDS),
                                 doc="substring (Amumo's behaviour), whole words, or one regular expression")
    only_pairs = param.List([], doc="show only these pair ids (the 'show only selected' toggle; [] = every pair the filter and sample keep)")


class ModelChoice(param.Parameterized):
    """Which of the source's models the pages show."""

    active_model = param.String("", doc="model of the Explore page ('' = the first)")
    compare_models = param.List([], item_type=str, doc="models side by side in Compare ([] = the first four)")
    shared_order = param.Boolean(True, doc="Compare orders every model by the first model's clustering")


class GapSettings(param.Parameterized):
    """How much of the modality gap is closed, and how the loss is computed."""

    alpha = param.Number(0.0, bounds=(0.0, 1.0), doc="fraction of the modality gap closed")
    renormalize = param.Boolean(True, doc="re-normalise to the unit sphere after closing (the article's method)")
    loss_variant = param.Selector(default="symmetric", objects=["symmetric", "article"], doc="contrastive loss variant")
    batch_size = param.Integer(50, bounds=(2, None), doc="loss batch size (clamped to the number of pairs)")


class OrderSettings(param.Parameterized):
    """The display order: as in the source, or clustered (the article's "cluster matrix by similarity")."""

    cluster = param.Boolean(False, doc="order the matrix by a hierarchical clustering")
    cluster_block = param.Selector(default="text-image", objects=list(BLOCKS), doc="quadrant whose rows are clustered")
    k = param.Integer(10, bounds=(1, 50), doc="number of clusters")
    optimal_order = param.Boolean(False, doc="optimal leaf order inside the clustering")


class ProjectionSettings(param.Parameterized):
    """The 2-D projection of the scatter."""

    projection = param.Selector(default="PCA", objects=list(PROJECTIONS))
    projection_mode = param.Selector(default="joint", objects=list(PROJECTION_MODES))
    x_component = param.Integer(1, bounds=(1, 10), doc="component on the x axis (1-based; >2 only for PCA)")
    y_component = param.Integer(2, bounds=(1, 10), doc="component on the y axis")
    point_color = param.Selector(default="modality", objects=list(POINT_COLORS), doc="colour of scatter points")
    faithfulness_k = param.Integer(10, bounds=(1, 100), doc="neighbours for trustworthiness / kNN overlap")


class Appearance(param.Parameterized):
    """How things look; changing these never recomputes data (only colours and pixels)."""

    cmap = param.String("fire", doc="colour map of the similarity heatmap")
    diverging_cmap = param.String("coolwarm", doc="colour map of the difference heatmap (centred at 0)")
    edge_cmap = param.String("viridis", doc="colour map of pair edges (pair cosine similarity)")
    aggregation = param.Selector(
        default="mean", objects=["mean", "max"],
        doc="what a zoomed-out heatmap pixel shows: the exact mean of its cells, or their exact max (computed while "
        "the window holds at most 128 M cells; the colour bar says when the mean is shown instead)")
    pair_diagonal = param.Boolean(True, doc="draw the matched pairs' diagonal on top of zoomed-out heatmaps (binned pair similarity)")
    color_range = param.Selector(
        default="data", objects=list(COLOR_RANGES),
        doc="heatmap colour limits: 'data' = 1st–99th percentile of the zoomed-out heatmap's pixels, 'visible' = "
        "the same of the pixels on screen after every zoom, 'full' = the whole possible range ([-1, 1] for similarities), "
        "'locked' = the limits in effect when it was chosen, kept across α, filters and models until another range is picked")
    locked_limits = param.Dict({}, doc="the 'locked' colour range of each heatmap kind: {'similarity': [lo, hi], 'difference': [lo, hi]}")
    datashade_above = param.Integer(2000, bounds=(0, None), doc="rasterize the scatter above this many pairs")


class TextProbe(param.Parameterized):
    """A query the shown items are compared with (explorer.engine.probe): text embedded by the
    active model's text encoder, or ``#ID`` for the caption of pair ID (any source)."""

    query = param.String("", doc="text to embed with the active model's text encoder, or #ID: the caption embedding of pair ID")
    probe_top = param.Integer(8, bounds=(1, 50), doc="how many of the most similar images and captions are listed")


class Interaction(param.Parameterized):
    """What the user picked: the only part views write to."""

    selected_pairs = param.List([], doc="selected pair ids (rows of the source)")
    inspected = param.Dict(None, allow_None=True, doc="the heatmap cell or scatter point last tapped (ExplorerState.inspect_cell)")


#: attribute of ExplorerState -> part class, in the order the sidebar shows them
PARTS = {
    "data": DataSelection,
    "model": ModelChoice,
    "gap": GapSettings,
    "order": OrderSettings,
    "projection": ProjectionSettings,
    "look": Appearance,
    "probe": TextProbe,
    "interaction": Interaction,
}
