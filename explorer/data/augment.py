"""Augmentation series of one image: ``augment:KIND:IMAGE[:CAPTION]``.

N images made from one image by a transformation of growing strength, all paired with the same
caption, as in the Amumo article's augmentation studies (its ``Rotate_Dataset``,
``Noise_Dataset``, ``Blur_Dataset``, ``HShift_Dataset`` and ``VShift_Dataset``). Step i of N
(i = 0..N-1; N = ``steps``, default 100), for an image W pixels wide and H high:

- ``rotation``: rotated counter-clockwise by i·360/N degrees on the same canvas (corners filled
  black, nearest-neighbour resampling as PIL's ``Image.rotate`` default), so 100 steps are
  0°, 3.6°, ..., 356.4°;
- ``noise``: (1 − i/N)·image + (i/N)·noise, with uniform integer noise in 0..255 drawn per step
  from a generator seeded with ``(noise_seed, i)``, clipped and truncated to 8 bits;
- ``blur``: Gaussian blur of radius i·(W/8)/N;
- ``hshift`` / ``vshift``: translated by s_i pixels, s = linspace(−W, W, N) (−H..H for vshift),
  the uncovered part black (PIL affine transform, nearest neighbour): the image slides through the
  frame from one side to the other.

Step 0 is always the unchanged image. CAPTION defaults to the text of a sidecar ``.txt`` file
beside the image (``photo.jpg`` + ``photo.txt``), else to the file's stem with ``_`` and ``-``
read as spaces (noted in the PairSet's notes). A caption may contain ``:``; an image path with a
``:`` works too (the longest existing file wins).

Images are generated lazily by :class:`AugmentedImages` when opened (an ImageSource), so a
series costs no disk space; its fingerprint hashes the source file's bytes, the kind, N, the
seed and the steps, so cached embeddings follow the image.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingResourceError, SpecError
from ..images import open_rgb
from ..pairs import PairSet
from .skips import reject_unknown_options

#: kind -> (series name as in the article's exports, metadata column of the step's parameter)
KINDS: dict[str, tuple[str, str]] = {
    "rotation": ("Rotated", "angle"),
    "noise": ("Noisy", "noise_fraction"),
    "blur": ("Blurred", "blur_radius"),
    "hshift": ("HShift", "shift_x"),
    "vshift": ("VShift", "shift_y"),
}
ALIASES = {"rotate": "rotation", "rotated": "rotation", "noisy": "noise", "blurred": "blur"}
DEFAULT_STEPS = 100
VERSION = 1


def step_parameter(kind: str, step: int, steps: int, width: int, height: int) -> float:
    """The strength of step `step` of `steps`: degrees, noise fraction, blur radius or shift in pixels."""
    if kind == "rotation":
        return step * 360.0 / steps
    if kind == "noise":
        return step / steps
    if kind == "blur":
        return step * (width / 8.0) / steps
    if kind == "hshift":
        return float(np.linspace(-width, width, steps)[step])
    if kind == "vshift":
        return float(np.linspace(-height, height, steps)[step])
    raise SpecError(f"unknown augmentation kind {kind!r}")


def augment_image(image, kind: str, step: int, steps: int, noise_seed: int = 0):
    """Step `step` of `steps` of the series `kind` applied to an RGB PIL image."""
    from PIL import Image, ImageFilter

    w, h = image.size
    value = step_parameter(kind, step, steps, w, h)
    if kind == "rotation":
        return image.rotate(value)
    if kind == "noise":
        a = np.asarray(image)
        noise = np.random.default_rng([int(noise_seed), int(step)]).integers(0, 256, size=a.shape, dtype=np.uint8)
        mixed = (1.0 - value) * a + value * noise.astype(np.float64)
        return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=value))
    if kind == "hshift":
        return image.transform(image.size, Image.AFFINE, (1, 0, value, 0, 1, 0))
    if kind == "vshift":
        return image.transform(image.size, Image.AFFINE, (1, 0, 0, 0, 1, value))
    raise SpecError(f"unknown augmentation kind {kind!r}")


class AugmentedImages:
    """The steps `indices` of an augmentation series of one image file, generated when opened."""

    def __init__(self, path: Path | str, kind: str, steps: int, noise_seed: int = 0, indices: Sequence[int] | None = None):
        self.path = Path(path)
        self.kind = kind
        self.steps = int(steps)
        self.noise_seed = int(noise_seed)
        self.indices = tuple(int(i) for i in (range(self.steps) if indices is None else indices))
        self._base = None
        self._pid = None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_base", "_pid")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._base, self._pid = None, None

    def __len__(self) -> int:
        return len(self.indices)

    def ref(self, i: int) -> str:
        return f"{self.path.name}#{self.kind}={self.indices[i]}/{self.steps}"

    def base(self):
        """The source image, decoded once per process."""
        if self._base is None or self._pid != os.getpid():
            self._base, self._pid = open_rgb(self.path), os.getpid()
        return self._base

    def open(self, i: int):
        return augment_image(self.base(), self.kind, self.indices[i], self.steps, self.noise_seed)

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"augment-v{VERSION}\0{self.kind}\0{self.steps}\0{self.noise_seed}\0".encode())
        try:
            h.update(self.path.read_bytes())
        except OSError:
            h.update(b"missing")
        h.update(np.asarray(self.indices, dtype=np.int64).tobytes())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> AugmentedImages:
        return AugmentedImages(self.path, self.kind, self.steps, self.noise_seed, [self.indices[i] for i in indices])


def parse_augment_arg(arg: str) -> tuple[str, Path, str | None]:
    """'KIND:IMAGE[:CAPTION]' -> (kind, image path, caption or None)."""
    kind, sep, rest = arg.partition(":")
    kind = ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in KINDS:
        raise SpecError(f"augment:{arg}: unknown kind {kind!r}; use augment:KIND:IMAGE[:CAPTION] with KIND one of {', '.join(KINDS)}")
    if not sep or not rest:
        raise SpecError(f"augment:{arg}: no image; use augment:{kind}:IMAGE[:CAPTION]")
    # the image is the longest prefix of `rest` (split at ':') that is an existing file
    cuts = [k for k, c in enumerate(rest) if c == ":"] + [len(rest)]
    for k in reversed(cuts):
        candidate = Path(rest[:k]).expanduser()
        try:
            is_file = bool(rest[:k]) and candidate.is_file()
        except OSError:  # e.g. a long caption taken for part of the path: "File name too long"
            is_file = False
        if is_file:
            caption = rest[k + 1 :] if k < len(rest) else None
            return kind, candidate, caption
    image = rest.split(":", 1)[0]
    raise MissingResourceError(f"augment:{arg}: image file not found: {image}")


def default_caption(image: Path) -> tuple[str, str | None]:
    """(caption, note): a sidecar .txt caption if there is one, else the file stem as words."""
    sidecar = image.with_suffix(".txt")
    if sidecar.is_file():
        text = " ".join(sidecar.read_text(encoding="utf-8", errors="replace").split())
        if text:
            return text, None
    stem = " ".join(image.stem.replace("_", " ").replace("-", " ").split()) or image.name
    return stem, f"no caption given and no {sidecar.name}; using the file name {stem!r} as the caption"


def load_augmentation_series(arg: str, *, steps: int = DEFAULT_STEPS, noise_seed: int = 0, **options: Any) -> PairSet:
    """The pairs of one augmentation series (module docstring)."""
    import pandas as pd

    reject_unknown_options(f"augment:{arg}", options, "steps, noise_seed")
    kind, image, caption = parse_augment_arg(arg)
    steps = int(steps)
    if steps < 1:
        raise SpecError(f"augment:{arg}: steps must be at least 1, got {steps}")
    notes: list[str] = []
    caption = " ".join((caption or "").split())
    if not caption:
        caption, note = default_caption(image)
        if note:
            notes.append(note)
    source = AugmentedImages(image.resolve(), kind, steps, noise_seed)
    w, h = source.base().size
    label, column = KINDS[kind]
    meta = pd.DataFrame(
        {"step": np.arange(steps), column: [step_parameter(kind, i, steps, w, h) for i in range(steps)]}
    )
    recipe = f"augment:{arg}"
    if steps != DEFAULT_STEPS:
        recipe += f" --steps {steps}"
    if kind == "noise":
        recipe += f" --noise-seed {noise_seed}"
    return PairSet.build(
        [caption] * steps,
        source,
        ids=[f"{kind}-{i:0{len(str(steps - 1))}d}" for i in range(steps)],
        name=f"{label}-{image.stem}_size-{steps}",
        recipe=recipe,
        metadata=meta,
        notes=notes,
    )


#: kind -> the axis label of its step parameter (what step_parameter returns)
UNITS: dict[str, str] = {
    "rotation": "rotation angle (°)",
    "noise": "noise fraction (share of uniform noise)",
    "blur": "Gaussian blur radius (px)",
    "hshift": "horizontal shift (px)",
    "vshift": "vertical shift (px)",
}


def series_kind(name: str) -> str | None:
    """The augmentation kind of a series named as the article's exports are ('Blurred-0_size-100' →
    'blur'), or None."""
    head = str(name).split("-", 1)[0].split("_", 1)[0].strip().lower()
    for kind, (label, _) in KINDS.items():
        if head == label.lower():
            return kind
    return None


def series_axis(pairs: PairSet) -> tuple[str, np.ndarray]:
    """(axis label, one value per pair) of an augmentation series in its own unit: the step
    parameter a series made here records in its metadata, or, for an export named as the
    article's (Rotated-, Noisy-, Blurred-, HShift-, VShift-), step i of N recomputed as the article
    made it (FORMATS.md) from the first image's size; ('step', 0..N−1) for anything else."""
    n = len(pairs)
    meta = pairs.metadata
    if meta is not None:
        for kind, (_, column) in KINDS.items():
            if column in getattr(meta, "columns", ()):
                return UNITS[kind], np.asarray(meta[column], dtype=np.float64)
    kind = series_kind(pairs.name)
    if kind is not None and n > 0:
        w = h = None
        if pairs.images is not None:
            try:
                w, h = pairs.images.open(0).size
            except Exception:  # an unreadable image: the kind's unit still applies where no size is needed
                w = h = None
        if w is not None or kind in ("rotation", "noise"):
            values = np.array([step_parameter(kind, i, n, w or 0, h or 0) for i in range(n)], dtype=np.float64)
            label = UNITS[kind][:-1] + f", image {w}×{h})" if kind in ("blur", "hshift", "vshift") else UNITS[kind]
            return label, values
    return "step", np.arange(n, dtype=np.float64)
