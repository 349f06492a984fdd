"""The Augment page: one image of the current source, a series of growing augmentations
(rotation, noise, blur, horizontal or vertical shift), and the heatmap of every chosen model.

The image is picked by its pair index in the opened source (a visitor never types a path). Images
that are not files (the procedural shapes world renders them on demand) are written once as PNG
into the embedding store's ``augment-images/`` folder, named by the source's thumbnail token and
the index, so the series' cached embeddings are reused across sessions. Precomputed series given
when the server started (e.g. the Amumo export's ``Blurred-0_size-100``) can be shown instead.

Embedding a series takes seconds to minutes, so it runs in the background when the button is
pressed, with its progress on the page (which model is being embedded, elapsed time). The result:
each model's similarity along the series (step i's image with the caption and with the first
image) and its heatmap, colour limits shared by the models.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import panel as pn

from ..errors import SpecError
from ..state import DEFAULT_DATASET_MODELS, AugmentState, ExplorerState
from ..views.feed import dispose_views, run_off_loop
from .controls import safe_multichoice
from .progress import ProgressView

OWN_SERIES = "augment a pair of this source"


def augment_image_file(pairs: Any, index: int, root: Path | None = None) -> str:
    """A file holding pair `index`'s image: the dataset's own file, or a PNG rendered once."""
    from .. import thumbnails
    from ..store import default_root

    i = int(index)
    if pairs is None or pairs.images is None:
        raise SpecError("this source has no images to augment")
    if not 0 <= i < len(pairs):
        raise SpecError(f"no pair {i}: the source has {len(pairs)} pairs")
    images = pairs.images
    if hasattr(images, "path"):
        p = Path(images.path(i))
        if p.is_file():
            return str(p)
    folder = Path(root or default_root()) / "augment-images"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{thumbnails.token_for(pairs)}-{i}.png"
    if not target.is_file():
        fd, tmp = tempfile.mkstemp(prefix=".img-", suffix=".png", dir=folder)
        os.close(fd)
        try:
            images.open(i).save(tmp, format="PNG")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return str(target)


def short_source(spec: str) -> str:
    """A source spec without its folders ('amumo:/data/exports/MSCOCO' → 'amumo:MSCOCO')."""
    prefix, sep, rest = str(spec).partition(":")
    if not sep:
        return Path(prefix).name or prefix
    return f"{prefix}:{Path(rest).name or rest}" if "/" in rest else spec


def augment_models(explorer_models: Sequence[str]) -> list[str]:
    """Model specs that can embed a new series: the given specs (with a ':'), else the defaults."""
    specs = [m for m in explorer_models if ":" in m]
    return specs or list(DEFAULT_DATASET_MODELS)


def series_axis_of(st: ExplorerState) -> tuple[str, Any]:
    """(x-axis label, value per shown pair) of a series' ExplorerState in the series' own unit
    (explorer.data.augment.series_axis)."""
    from ..data.augment import series_axis

    label, values = series_axis(st.source_data().pairs)
    return label, values[st.active_indices()]


class AugmentPage:
    """Controls + heatmaps of an augmentation series (see module docstring)."""

    def __init__(self, state: ExplorerState, *, models: Sequence[str], series_sources: Sequence[str] = (),
                 set_message: Callable[[str, bool], None] | None = None, heatmap_size: int = 330, requester: str = ""):
        self.state = state
        self.explorer_models = list(models)
        self.size = heatmap_size
        self.say = set_message or (lambda msg, error=False: None)
        self.requester = requester
        self.aug = AugmentState(models=list(models)[:4], steps=40)
        n = state.source_data().n
        self.series = pn.widgets.Select(label="series", options=[OWN_SERIES, *series_sources], value=OWN_SERIES, width=320)
        self.index = pn.widgets.IntInput(label=f"pair index (0–{n - 1})", value=0, start=0, end=max(n - 1, 0), width=150)
        self.kind = pn.widgets.Select.from_param(self.aug.param.kind, width=150)
        self.steps = pn.widgets.IntSlider.from_param(self.aug.param.steps, start=5, end=200, step=5, width=200, throttled=True)
        self.models = safe_multichoice("models", augment_models(models), list(self.aug.models), max_items=4, width=420)
        self.button = pn.widgets.Button(label="Show heatmaps", color="primary", width=160)
        self.button.on_click(self._show)
        self.progress = ProgressView(requester or None, margin=(5, 10))
        self.preview = pn.pane.HTML("", width=420, css_classes=["bx-augment-preview"])
        self.plots = pn.Column(pn.pane.Markdown("Choose an image and a series, then press *Show heatmaps*."), sizing_mode="stretch_width",
                               css_classes=["bx-augment-plots"])
        self.caption = pn.pane.HTML("", sizing_mode="stretch_width")
        self.series_state_: ExplorerState | None = None
        self.index.param.watch(self._render_preview, "value")
        self.series.param.watch(self._on_series, "value")
        self._render_preview()

    def panel(self) -> pn.Column:
        intro = pn.pane.Markdown(
            "Every image of the series is paired with the same caption; the heatmap shows how image–image and "
            "image–caption similarities drift as the augmentation grows (row i = step i), the curves two of its rows.",
            sizing_mode="stretch_width",
        )
        controls = pn.FlexBox(self.series, self.index, self.kind, self.steps, self.models, self.button, flex_wrap="wrap")
        parts: list[Any] = [intro]
        if self.models_note:
            parts.append(pn.pane.HTML(f'<div class="bx-augment-note" style="font-size:12px;color:#8a5a00">{self.models_note}</div>',
                                      sizing_mode="stretch_width"))
        return pn.Column(*parts, pn.Row(controls, self.preview), self.progress.panel(), self.caption, self.plots,
                         sizing_mode="stretch_width", name="Augment")

    @property
    def models_note(self) -> str:
        """Why the offered models are not the source's own, when they are not (escaped HTML)."""
        from ..views.cards import esc

        if any(":" in m for m in self.explorer_models):
            return ""
        return (f"This source holds precomputed embeddings of {esc(', '.join(self.explorer_models), 200)}, which cannot embed new "
                "images: a series made here is embedded with the models offered below (by default the project's own small "
                "models, trained on the shapes world), not with the source's models.")

    # -- the chosen image ---------------------------------------------------------------------
    def _render_preview(self, *_: Any) -> None:
        """Thumbnail and caption of the chosen pair (own series), so the index is not a blind guess."""
        from ..views.cards import esc, thumb_img

        own = self.series.value == OWN_SERIES
        for w in (self.index, self.kind, self.steps, self.models):  # they apply to a series made here only
            w.visible = own
        if not own:
            self.preview.object = ('<div style="font-size:12px;color:#555">a precomputed series: its own images, caption, '
                                   "number of steps and models (listed when it is shown)</div>")
            return
        try:
            i = int(self.index.value)
            pairs = self.state.pairs
            caption = pairs.captions[i] if pairs is not None else ""
            self.preview.object = (
                '<div style="display:flex;gap:8px;align-items:flex-start">'
                f'{thumb_img(self.state.thumb_url(i), 72, alt=f"image of pair {i}")}'
                f'<div style="font-size:12px;overflow-wrap:anywhere">pair {i}: {esc(caption)}</div></div>'
            )
        except Exception as exc:
            self.preview.object = f'<div class="bx-status">{esc(exc)}</div>'

    def _on_series(self, *_: Any) -> None:
        self._render_preview()

    # -- the series ---------------------------------------------------------------------------
    def describe(self) -> str:
        """What the shown series is, without file paths: 'rotation of pair 3 of shapes:1000, 40 steps'."""
        if self.series.value != OWN_SERIES:
            return f"series {short_source(self.series.value)}"
        return f"{self.aug.kind} of pair {int(self.index.value)} of {short_source(self.state.data.source)}, {self.aug.steps} steps"

    def make_series_state(self) -> ExplorerState:
        """The ExplorerState of the chosen series (not opened yet: that is the long part), with
        the current look."""
        look = self.state.settings(("look",))
        if self.series.value != OWN_SERIES:
            return ExplorerState(source=self.series.value, **look)
        self.aug.models = list(self.models.value) or augment_models([])
        pairs = self.state.source_data().pairs
        self.aug.image = augment_image_file(pairs, int(self.index.value))
        self.aug.caption = pairs.captions[int(self.index.value)]
        return self.aug.explorer_state(**look)

    @staticmethod
    def compute(st: ExplorerState) -> ExplorerState:
        """Open (embed) the series, compare all its models, and compute every model's heatmap."""
        st.model.compare_models = st.model_names()
        for m in st.model_names():
            st.tile(m, shared=True, width=330, height=330)
        return st

    def series_state(self) -> ExplorerState:
        """make_series_state() + compute(): the opened series with every similarity computed."""
        return self.compute(self.make_series_state())

    def _show(self, *_: Any) -> None:
        try:
            st = self.make_series_state()
        except Exception as exc:
            self.say(f"augmentation failed: {exc}", True)
            return
        self.button.disabled = True
        self.say("Embedding the augmentation series…", False)
        what = self.describe()

        def done(st: ExplorerState) -> None:
            from ..views.augment import series_curves, series_heatmaps
            from ..views.cards import esc

            self.button.disabled = False
            self.say("", False)
            self.series_state_ = st
            caption = st.pairs.captions[0] if st.pairs is not None and len(st.pairs) else ""
            xlabel, steps = series_axis_of(st)
            self.caption.object = (f'<div style="font-size:13px" class="bx-augment-caption">caption of every step: <b>{esc(caption)}</b> · '
                                   f'{esc(what, 300)} · {len(st.active_indices())} steps, x axis: {esc(xlabel, 80)} · '
                                   f'models {esc(", ".join(st.model_names()), 300)}</div>')
            dispose_views(self.plots)  # the series being replaced stops computing first
            self.plots[:] = [pn.pane.HoloViews(series_curves(st, xlabel=xlabel, steps=steps), name="augment-curves", linked_axes=False),
                             pn.pane.HoloViews(series_heatmaps(st, self.size), name="augment-heatmaps")]

        def failed(exc: BaseException) -> None:
            self.button.disabled = False
            self.say(f"augmentation failed: {exc}", True)

        def work() -> None:
            from ..engine.memo import REQUESTER

            token = REQUESTER.set(self.requester)
            try:
                result = self.compute(st)
            except Exception as exc:
                pn.state.execute(lambda exc=exc: failed(exc))
                return
            finally:
                REQUESTER.reset(token)
            pn.state.execute(lambda: done(result))

        run_off_loop(work)

    def dispose(self) -> None:
        dispose_views(self.plots)
