"""`shapes`: a procedural image–caption world that needs no download.

Spec ``shapes[:N[:SEED[:SIZE]]]`` (defaults: N = 1000 pairs, SEED = 0, SIZE = 64 px). Python:
``load_shapes("1000", seed=0, size=64)``. On the command line the world seed goes in the spec
(``shapes:1000:7``): the commands' ``--seed`` option seeds ``--limit``'s random subset. Scene ``i`` of seed ``s`` depends only on ``(s, i)``
(its random generator is seeded with ``[s, i]``), so ``shapes:1000`` is the first 1000 pairs of
``shapes:5000`` and every run, on every machine, produces the same captions and pixels. Images
are not stored: :class:`ShapesImages` re-renders image ``i`` from its scene when it is opened
(about a millisecond each), and its fingerprint is the recipe, seed, size, scene indices and
:data:`VERSION`, so cached embeddings stay valid until the generator changes (bump ``VERSION``
whenever a change alters any caption or pixel).

Seeds: the default *evaluation* world is seed 0 (:data:`EVAL_SEED`); the shipped models were
trained on seed 1 (:data:`TRAIN_SEED`), so they never saw the evaluation scenes.

The world
---------
Each image (SIZE × SIZE pixels, drawn at twice the size and down-sampled for smooth edges) holds
1–3 objects. Each object has a shape (circle, square, triangle, star, heart, hexagon, diamond), a
colour (red, green, blue, yellow, purple, orange, white, black, slightly jittered), a size (small
or large), a position, a rotation and a fill (solid, or striped in about 15% of objects). The
background is plain (white, grey or dark) or textured (striped, checkered, dotted or noisy, in
random pale tones). Captions are generated from the scene with varied templates and synonyms:
"a small red circle above a large blue square", "two green triangles", "a violet star in the top
left corner", "a red heart, a blue disc and a yellow block".

Planted phenomena (metadata column ``planted``; each pair has at most one)
-------------------------------------------------------------------------
- ``blurred`` (about 5% of pairs): the image is Gaussian-blurred with radius SIZE/8 pixels
  (8 px at 64 px, like the article's blur series at its strongest and like DiffusionDB's
  deliberately blurred images); the caption still describes the scene. Column ``blur_radius``
  holds the radius (0 elsewhere).
- ``vague_caption`` (about 5%): the caption is one of :data:`VAGUE_CAPTIONS` ("shapes",
  "an abstract picture", "colours", ...) and says nothing specific about the (normal) image.
- ``homonym`` (about 4%): the word "heart" used in its *other* sense. Normally "heart" names the
  heart shape ("a red heart"); in these pairs the scene is one centred object that is *not* a
  heart and the caption says it is "in the heart of the picture" (= in the centre). Column
  ``homonym_sense`` is ``"centre"`` for these, ``"shape"`` for every caption that uses "heart"
  or "hearts" for the shape, and ``""`` otherwise, so filtering captions for "heart" returns
  both senses (as filtering for "dog" returns hot dogs).
- ``none``: everything else.

What the explorer shows of them with the shipped models (tests/test_shapes_surfaced.py): every
vague caption is among the 10% darkest pair edges of the scatter (least similar pairs); blurred
images match their captions less well than the rest; the "heart" filter shows both senses. The
homonym leaves no consistent trace in the embeddings themselves (own:clip puts centre-sense
captions slightly nearer the heart-shape captions, own:cloob does not).

Other metadata columns: ``scene`` (scene index), ``n_objects``, ``shapes``, ``colours``,
``sizes``, ``fills`` (``|``-separated, one entry per object, in drawing order), ``background``,
``relation`` (above|below|left of|right of for two different objects, else ``""``),
``template`` (which caption template was used).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpecError
from ..pairs import PairSet, caption_words

#: generator version: part of every image fingerprint; bump when captions or pixels change
VERSION = 1
DEFAULT_N = 1000
DEFAULT_SIZE = 64
EVAL_SEED = 0
TRAIN_SEED = 1
MAX_N = 1_000_000

#: shape -> (singular synonyms, plural synonyms)
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "circle": (("circle", "disc"), ("circles", "discs")),
    "square": (("square", "block"), ("squares", "blocks")),
    "triangle": (("triangle",), ("triangles",)),
    "star": (("star",), ("stars",)),
    "heart": (("heart",), ("hearts",)),
    "hexagon": (("hexagon",), ("hexagons",)),
    "diamond": (("diamond", "rhombus"), ("diamonds", "rhombuses")),
}

#: colour -> (RGB, caption synonyms)
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "red": ((215, 40, 40), ("red",)),
    "green": ((40, 165, 60), ("green",)),
    "blue": ((40, 80, 215), ("blue",)),
    "yellow": ((240, 205, 35), ("yellow",)),
    "purple": ((135, 55, 175), ("purple", "violet")),
    "orange": ((245, 135, 25), ("orange",)),
    "white": ((248, 248, 248), ("white",)),
    "black": ((20, 20, 20), ("black",)),
}

SIZES: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    # radius as a fraction of the image width, caption synonyms
    "small": ((0.09, 0.13), ("small", "little", "tiny")),
    "large": ((0.19, 0.25), ("large", "big")),
}

#: background -> caption words (plain ones have a fixed colour, textured ones random pale tones)
BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "white": ("white",),
    "grey": ("grey", "gray"),
    "dark": ("dark", "black"),
    "striped": ("striped",),
    "checkered": ("checkered", "chequered"),
    "dotted": ("dotted", "spotted"),
    "noisy": ("noisy", "grainy"),
}
_PLAIN_RGB = {"white": (250, 250, 250), "grey": (165, 165, 165), "dark": (35, 35, 40)}

RELATIONS: dict[str, tuple[str, ...]] = {
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
    "left of": ("left of", "to the left of"),
    "right of": ("right of", "to the right of"),
}

#: where a single object is (3×3 grid cell) -> caption phrases
POSITIONS: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 0): ("in the top left corner",),
    (0, 1): ("at the top",),
    (0, 2): ("in the top right corner",),
    (1, 0): ("on the left",),
    (1, 1): ("in the middle", "in the centre"),
    (1, 2): ("on the right",),
    (2, 0): ("in the bottom left corner",),
    (2, 1): ("at the bottom",),
    (2, 2): ("in the bottom right corner",),
}

#: the captions of the planted `vague_caption` pairs
VAGUE_CAPTIONS: tuple[str, ...] = (
    "shapes",
    "an abstract picture",
    "colours",
    "colors",
    "some shapes",
    "a picture",
    "abstract art",
    "forms and colours",
    "geometry",
)

HOMONYM = "heart"
HOMONYM_PHRASE = "in the heart of the picture"

#: share of pairs of each planted kind (mutually exclusive)
PLANTED_RATES: dict[str, float] = {"blurred": 0.05, "vague_caption": 0.05, "homonym": 0.04}
PLANTED_KINDS = ("blurred", "vague_caption", "homonym", "none")

_NUMBER = {2: "two", 3: "three"}


@dataclass(frozen=True)
class ShapeObject:
    shape: str
    colour: str
    rgb: tuple[int, int, int]
    size: str
    radius: float  # fraction of the width
    x: float  # centre, fraction of the width
    y: float
    angle: float  # degrees
    fill: str  # solid | striped


@dataclass(frozen=True)
class Scene:
    index: int
    objects: tuple[ShapeObject, ...]
    background: str
    bg_tones: tuple[tuple[int, int, int], tuple[int, int, int]]
    texture_param: float
    planted: str
    blur: bool
    caption: str
    template: str
    relation: str
    noise_seed: int


# -- scene generation -------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _make_object(rng, shape=None, size=None, colour=None, exclude_colours=(), position=None) -> ShapeObject:
    shape = shape or _pick(rng, list(SHAPES))
    size = size or _pick(rng, list(SIZES))
    if colour is None:
        colour = _pick(rng, [c for c in COLOURS if c not in exclude_colours])
    lo, hi = SIZES[size][0]
    radius = float(rng.uniform(lo, hi))
    if position is None:
        x, y = (float(v) for v in rng.uniform(radius, 1 - radius, size=2))
    else:
        x, y = position
    base = np.array(COLOURS[colour][0], dtype=float)
    rgb = tuple(int(v) for v in np.clip(base + rng.integers(-14, 15, size=3), 0, 255))
    angle = float(rng.uniform(0, 360)) if shape in ("square", "triangle", "star", "hexagon") else 0.0
    fill = "striped" if rng.random() < 0.15 else "solid"
    return ShapeObject(shape, colour, rgb, size, radius, x, y, angle, fill)


def _place(rng, n: int, exclude_colours, repeat: bool) -> list[ShapeObject]:
    """n objects, rejection-sampled so that they overlap little; `repeat`: all the same kind."""
    objects: list[ShapeObject] = []
    template = _make_object(rng, exclude_colours=exclude_colours) if repeat else None
    for _ in range(n):
        for _attempt in range(30):
            if template is not None:
                cand = _make_object(rng, shape=template.shape, colour=template.colour, size=template.size,
                                    exclude_colours=exclude_colours)
            else:
                cand = _make_object(rng, exclude_colours=exclude_colours)
            if all(math.hypot(cand.x - o.x, cand.y - o.y) > 0.85 * (cand.radius + o.radius) for o in objects):
                break
        objects.append(cand)
    return objects


def _noun(rng, obj: ShapeObject, *, with_size: bool, with_fill: bool = True) -> str:
    words = []
    if with_size:
        words.append(_pick(rng, SIZES[obj.size][1]))
    if with_fill and obj.fill == "striped":
        words.append("striped")
    words.append(_pick(rng, COLOURS[obj.colour][1]))
    words.append(_pick(rng, SHAPES[obj.shape][0]))
    return " ".join(words)


def _relation(a: ShapeObject, b: ShapeObject) -> str:
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dy) >= abs(dx):
        return "above" if dy > 0 else "below"  # a is above b when b is lower (larger y)
    return "left of" if dx > 0 else "right of"


def _background_phrase(rng, background: str) -> str:
    return f" on a {_pick(rng, BACKGROUNDS[background])} background"


def _caption(rng, objects: list[ShapeObject], background: str, homonym: bool) -> tuple[str, str, str]:
    """(caption, template name, relation) for a scene."""
    bg = _background_phrase(rng, background) if rng.random() < 0.25 else ""
    size_p = 0.6
    if homonym:
        noun = _noun(rng, objects[0], with_size=rng.random() < size_p)
        return f"{_article(noun)} {HOMONYM_PHRASE}{bg}", "homonym-centre", ""
    if len(objects) == 1:
        o = objects[0]
        noun = _noun(rng, o, with_size=rng.random() < size_p)
        kind = int(rng.integers(4))
        if kind == 0 or kind == 1:
            cell = (min(int(o.y * 3), 2), min(int(o.x * 3), 2))
            pos = " " + _pick(rng, POSITIONS[cell]) if kind == 1 else ""
            return f"{_article(noun)}{pos}{bg}", "one" + ("-position" if pos else ""), ""
        if kind == 2:
            return f"a picture of {_article(noun)}{bg}", "picture-of", ""
        return f"one {noun}{bg}", "one-count", ""
    same = len({(o.shape, o.colour) for o in objects}) == 1
    if same:
        o = objects[0]
        plural = _pick(rng, SHAPES[o.shape][1])
        colour = _pick(rng, COLOURS[o.colour][1])
        sized = len({x.size for x in objects}) == 1 and rng.random() < 0.4
        size = _pick(rng, SIZES[o.size][1]) + " " if sized else ""
        if len(objects) == 2 and rng.random() < 0.3:
            return f"a pair of {size}{colour} {plural}{bg}", "pair", ""
        return f"{_NUMBER[len(objects)]} {size}{colour} {plural}{bg}", "count", ""
    with_size = rng.random() < size_p
    nouns = [_article(_noun(rng, o, with_size=with_size)) for o in objects]
    if len(objects) == 2 and rng.random() < 0.65:
        rel = _relation(objects[0], objects[1])
        return f"{nouns[0]} {_pick(rng, RELATIONS[rel])} {nouns[1]}{bg}", "relation", rel
    if len(objects) == 2:
        return f"{nouns[0]} and {nouns[1]}{bg}", "and", ""
    kinds = [(o.shape, o.colour) for o in objects]
    if len(set(kinds)) == 2:  # two alike and one different: "two green blocks and a black rhombus"
        twin = next(k for k in kinds if kinds.count(k) == 2)
        odd = next(o for o in objects if (o.shape, o.colour) != twin)
        pair = f"two {_pick(rng, COLOURS[twin[1]][1])} {_pick(rng, SHAPES[twin[0]][1])}"
        single = _article(_noun(rng, odd, with_size=with_size))
        first, second = (pair, single) if kinds[0] == twin else (single, pair)
        return f"{first} and {second}{bg}", "group", ""
    if rng.random() < 0.3:
        return f"three shapes: {nouns[0]}, {nouns[1]} and {nouns[2]}{bg}", "three-list", ""
    return f"{nouns[0]}, {nouns[1]} and {nouns[2]}{bg}", "list", ""


def make_scene(seed: int, index: int) -> Scene:
    """Scene `index` of world `seed` (depends on nothing else)."""
    rng = np.random.default_rng([int(seed), int(index), VERSION])
    u = float(rng.random())
    planted = "none"
    acc = 0.0
    for kind, rate in PLANTED_RATES.items():
        acc += rate
        if u < acc:
            planted = kind
            break
    background = _pick(rng, list(BACKGROUNDS))
    hue = rng.uniform(0, 1)
    tone_a = _pale(hue, 0.82)
    tone_b = _pale(hue + rng.uniform(0.1, 0.5), 0.68)
    texture_param = float(rng.uniform(0, 1))
    exclude = ("black",) if background == "dark" else ("white",) if background in ("white",) else ()
    if planted == "homonym":
        shape = _pick(rng, [s for s in SHAPES if s != HOMONYM])
        jitter = rng.uniform(-0.03, 0.03, size=2)
        objects = [_make_object(rng, shape=shape, exclude_colours=exclude,
                                position=(0.5 + float(jitter[0]), 0.5 + float(jitter[1])))]
    else:
        n = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
        repeat = n > 1 and rng.random() < 0.3
        objects = _place(rng, n, exclude, repeat)
    caption, template, relation = _caption(rng, objects, background, planted == "homonym")
    if planted == "vague_caption":
        caption, template = _pick(rng, VAGUE_CAPTIONS), "vague"
    noise_seed = int(rng.integers(2**31))
    return Scene(index, tuple(objects), background, (tone_a, tone_b), texture_param, planted,
                 planted == "blurred", caption, template, relation, noise_seed)


def _pale(hue: float, lightness: float) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, 0.35)
    return (int(r * 255), int(g * 255), int(b * 255))


def homonym_sense(scene: Scene) -> str:
    if scene.planted == "homonym":
        return "centre"
    words = caption_words(scene.caption)
    if HOMONYM in words or HOMONYM + "s" in words:
        return "shape"
    return ""


# -- rendering ------------------------------------------------------------------------------------


def _polygon(obj: ShapeObject, scale: float) -> list[tuple[float, float]] | None:
    cx, cy, r = obj.x * scale, obj.y * scale, obj.radius * scale
    rot = math.radians(obj.angle)

    def ring(k: int, radii: Sequence[float], offset: float = -math.pi / 2):
        pts = []
        for j in range(k * len(radii)):
            a = offset + rot + 2 * math.pi * j / (k * len(radii))
            rr = radii[j % len(radii)]
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts

    if obj.shape == "square":
        return ring(4, [r * 1.0], offset=math.pi / 4)
    if obj.shape == "triangle":
        return ring(3, [r * 1.1])
    if obj.shape == "star":
        return ring(5, [r * 1.1, r * 0.45])
    if obj.shape == "hexagon":
        return ring(6, [r])
    if obj.shape == "diamond":
        return [(cx, cy - r * 1.15), (cx + r * 0.7, cy), (cx, cy + r * 1.15), (cx - r * 0.7, cy)]
    if obj.shape == "heart":
        pts = []
        for j in range(48):
            t = 2 * math.pi * j / 48
            hx = 16 * math.sin(t) ** 3
            hy = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((cx + hx / 16 * r, cy - (hy + 2) / 16 * r))
        return pts
    return None  # circle


def _background(scene: Scene, px: int) -> np.ndarray:
    if scene.background in _PLAIN_RGB:
        return np.broadcast_to(np.array(_PLAIN_RGB[scene.background], np.uint8), (px, px, 3)).copy()
    a, b = (np.array(t, np.float32) for t in scene.bg_tones)
    yy, xx = np.mgrid[0:px, 0:px].astype(np.float32)
    period = px / (5 + 6 * scene.texture_param)
    if scene.background == "striped":
        vertical = scene.texture_param > 0.5
        mask = (((xx if vertical else yy) // (period / 2)) % 2).astype(bool)
    elif scene.background == "checkered":
        mask = (((xx // period) + (yy // period)) % 2).astype(bool)
    elif scene.background == "dotted":
        fx = (xx % period) - period / 2
        fy = (yy % period) - period / 2
        mask = fx * fx + fy * fy < (period * 0.22) ** 2
    else:  # noisy
        noise = np.random.default_rng(scene.noise_seed).random((px, px), dtype=np.float32)
        img = a[None, None, :] * (1 - noise[..., None] * 0.6) + b[None, None, :] * (noise[..., None] * 0.6)
        return np.clip(img, 0, 255).astype(np.uint8)
    img = np.where(mask[..., None], b[None, None, :], a[None, None, :])
    return img.astype(np.uint8)


def render_scene(scene: Scene, size: int = DEFAULT_SIZE):
    """The scene as an RGB PIL image of size × size pixels (drawn at 2× and down-sampled)."""
    from PIL import Image, ImageDraw, ImageFilter

    px = 2 * size
    canvas = Image.fromarray(_background(scene, px), "RGB")
    for obj in scene.objects:
        mask = Image.new("L", (px, px), 0)
        draw = ImageDraw.Draw(mask)
        poly = _polygon(obj, px)
        if poly is None:
            r = obj.radius * px
            draw.ellipse([obj.x * px - r, obj.y * px - r, obj.x * px + r, obj.y * px + r], fill=255)
        else:
            draw.polygon(poly, fill=255)
        if obj.fill == "striped":
            yy, xx = np.mgrid[0:px, 0:px]
            stripe = ((xx + yy) // max(2, px // 16)) % 2 == 0
            dark = tuple(int(c * 0.45) for c in obj.rgb)
            layer = np.where(stripe[..., None], np.array(obj.rgb, np.uint8), np.array(dark, np.uint8)).astype(np.uint8)
            fill = Image.fromarray(layer, "RGB")
        else:
            fill = Image.new("RGB", (px, px), obj.rgb)
        canvas.paste(fill, (0, 0), mask)
    image = canvas.resize((size, size), Image.Resampling.BOX)
    if scene.blur:
        image = image.filter(ImageFilter.GaussianBlur(radius=size / 8))
    return image


# -- the image source and the loader --------------------------------------------------------------


class ShapesImages:
    """Images of scenes `indices` of world `seed`, rendered on demand (nothing on disk)."""

    def __init__(self, seed: int, indices: Sequence[int], size: int = DEFAULT_SIZE):
        self.seed = int(seed)
        self.indices = tuple(int(i) for i in indices)
        self.size = int(size)

    def __len__(self) -> int:
        return len(self.indices)

    def ref(self, i: int) -> str:
        return f"shapes/seed-{self.seed}/{self.indices[i]:06d}.png"

    def scene(self, i: int) -> Scene:
        return make_scene(self.seed, self.indices[i])

    def open(self, i: int):
        return render_scene(self.scene(i), self.size)

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"shapes-v{VERSION}|seed={self.seed}|size={self.size}|".encode())
        h.update(np.asarray(self.indices, dtype=np.int64).tobytes())
        return h.hexdigest()

    def take(self, indices: Sequence[int]) -> ShapesImages:
        return ShapesImages(self.seed, [self.indices[i] for i in indices], self.size)


def parse_shapes_arg(arg: str) -> tuple[int | None, int | None, int | None]:
    """'' -> (None, None, None); 'N[:SEED[:SIZE]]' -> ints."""
    if not arg:
        return None, None, None
    parts = arg.split(":")
    if len(parts) > 3:
        raise SpecError(f"shapes:{arg}: expected shapes[:N[:SEED[:SIZE]]], e.g. shapes:1000 or shapes:5000:1")
    values: list[int | None] = []
    for name, text in zip(("N", "SEED", "SIZE"), parts, strict=False):
        try:
            values.append(int(text) if text != "" else None)
        except ValueError:
            raise SpecError(f"shapes:{arg}: {name} must be a whole number, got {text!r}") from None
    values += [None] * (3 - len(values))
    return values[0], values[1], values[2]


def load_shapes(arg: str = "", *, n: int | None = None, seed: int | None = None, size: int | None = None,
                **_: Any) -> PairSet:
    """The first N scenes of world `seed` as a PairSet (see the module docstring)."""
    n_arg, seed_arg, size_arg = parse_shapes_arg(arg)
    n = n_arg if n_arg is not None else (n if n is not None else DEFAULT_N)
    seed = seed_arg if seed_arg is not None else (seed if seed is not None else EVAL_SEED)
    size = size_arg if size_arg is not None else (size if size is not None else DEFAULT_SIZE)
    if not 1 <= n <= MAX_N:
        raise SpecError(f"shapes: N must be between 1 and {MAX_N}, got {n}")
    if seed < 0:
        raise SpecError(f"shapes: SEED must be non-negative, got {seed}")
    if not 16 <= size <= 512:
        raise SpecError(f"shapes: SIZE must be between 16 and 512 pixels, got {size}")
    import pandas as pd

    scenes = [make_scene(seed, i) for i in range(n)]
    meta = pd.DataFrame(
        {
            "scene": np.arange(n, dtype=np.int64),
            "planted": [s.planted for s in scenes],
            "n_objects": np.array([len(s.objects) for s in scenes], dtype=np.int64),
            "shapes": ["|".join(o.shape for o in s.objects) for s in scenes],
            "colours": ["|".join(o.colour for o in s.objects) for s in scenes],
            "sizes": ["|".join(o.size for o in s.objects) for s in scenes],
            "fills": ["|".join(o.fill for o in s.objects) for s in scenes],
            "background": [s.background for s in scenes],
            "relation": [s.relation for s in scenes],
            "blur_radius": np.array([size / 8 if s.blur else 0.0 for s in scenes], dtype=np.float64),
            "homonym_sense": [homonym_sense(s) for s in scenes],
            "template": [s.template for s in scenes],
        }
    )
    recipe = f"shapes:{n}:{seed}" + (f":{size}" if size != DEFAULT_SIZE else "")
    name = f"shapes-{n}" + (f"-seed{seed}" if seed != EVAL_SEED else "") + (f"-{size}px" if size != DEFAULT_SIZE else "")
    counts = meta["planted"].value_counts()
    notes = [
        "procedural shapes world v{}: planted {}".format(
            VERSION, ", ".join(f"{k}={int(counts.get(k, 0))}" for k in PLANTED_KINDS if k != "none")
        )
    ]
    return PairSet.build(
        [s.caption for s in scenes],
        ShapesImages(seed, range(n), size),
        name=name,
        recipe=recipe,
        ids=[str(i) for i in range(n)],
        metadata=meta,
        notes=notes,
    )
