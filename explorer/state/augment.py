"""`AugmentState`: an augmentation study, one image and a series of growing augmentations.

An image (a pair index of a source, or an image file), an augmentation kind and a number of
steps, and the models (or `series_source`, a precomputed series such as the Amumo export's
Blurred-0_size-100); :meth:`AugmentState.spec` gives the ``augment:KIND:IMAGE[:CAPTION]`` dataset
spec and :meth:`AugmentState.explorer_state` an ExplorerState over it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import param

from ..errors import SpecError
from .explorer_state import ExplorerState

#: the augmentation kinds (explorer.data.augment) and the unit of their step
KINDS = ("rotation", "noise", "blur", "hshift", "vshift")


class AugmentState(param.Parameterized):
    """One image, a series of `steps` augmentations of one `kind`, the models to embed it with."""

    image = param.String("", doc="an image file, or a pair index of `base_source` (e.g. '0')")
    caption = param.String("", doc="the caption paired with every augmented image ('' = the pair's own)")
    base_source = param.String("", doc="source the pair index refers to")
    kind = param.Selector(default="rotation", objects=list(KINDS))
    steps = param.Integer(100, bounds=(2, 1000))
    models = param.List([], item_type=str, doc="model specs ([] = the default own models); model names for a series_source")
    series_source = param.String("", doc="a precomputed series instead (e.g. amumo:…/Blurred-0_size-100)")

    def image_path(self) -> str:
        """The image file: `image` itself, or the file of pair `image` of `base_source`."""
        ref = self.image.strip()
        if not ref:
            raise SpecError("choose an image (a file, or a pair index of the current source)")
        if ref.isdigit() and self.base_source:
            from ..sources import load_pairs

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

    def explorer_state(self, **settings: Any) -> ExplorerState:
        """An ExplorerState over the augmentation series (heatmaps, numbers, ...)."""
        if self.series_source:
            return ExplorerState(source=self.series_source, models=list(self.models), **settings)
        return ExplorerState(source=self.spec(), models=list(self.models), source_options={"steps": self.steps}, **settings)
