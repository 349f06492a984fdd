"""The project's own small models (``own:clip``, ``own:cyclip``, ``own:cloob``, ``own:PATH``).

``own:clip``, ``own:cyclip`` and ``own:cloob`` are shipped with the package in
``explorer/models/weights/`` (``<name>.safetensors`` + ``<name>.json``, a few MB each): the same
small CNN + word-transformer architecture trained on the procedural ``shapes`` world (training
seed 1, 5000 pairs) with the CLIP, CyCLIP and CLOOB objectives. Each JSON config records the
exact command and seeds that reproduce it. ``own:PATH`` loads a directory written by
``python -m explorer train --out PATH`` (or a ``.json``/``.safetensors`` path of such a model).

The model id is ``own-<objective>/<architecture>/<first 16 hex of the weights hash>/<preprocessing>``,
so the embedding store never mixes embeddings of different weights. The text encoder knows only
the words of its vocabulary (the shapes world's); other words become ``<unk>``, so these models
say little about captions from other datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import MissingResourceError, SpecError
from .base import BimodalModel

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED = ("clip", "cyclip", "cloob")


class OwnModel(BimodalModel):
    """A trained :class:`~explorer.train.encoders.BimodalNet` behind the BimodalModel interface."""

    def __init__(self, net, vocab, config: dict, *, name: str, device: str = "cpu"):
        from ..train.encoders import IMAGE_MEAN, IMAGE_STD

        self.net = net.eval()
        self.vocab = vocab
        self.config = config
        self.name = name
        self.objective = str(config.get("objective", "?"))
        self.logit_scale = float(config["logit_scale"])
        arch = net.arch
        self.image_size = arch.image_size
        self.max_len = arch.max_len
        self.preprocessing = (
            f"resize{arch.image_size}-bicubic-centercrop-mean{IMAGE_MEAN}-std{IMAGE_STD}"
            f"|words{arch.max_len}"
        )
        self.weights_sha256 = str(config["weights_sha256"])
        self.id = f"own-{self.objective}/{arch.describe()}/{self.weights_sha256[:16]}/{self.preprocessing}"
        self.device = "cpu"
        self.to(device)

    def to(self, device: str) -> OwnModel:
        self.net.to(device)
        self.device = device
        return self

    def preprocess(self, image):
        from ..train.encoders import image_to_tensor

        return image_to_tensor(image, self.image_size)

    def encode_image_tensors(self, batch):
        import torch

        with torch.inference_mode():
            return self.net.image(batch.to(self.device).float())

    def tokenize(self, texts: Sequence[str]):
        return self.vocab.tokenize(list(texts), self.max_len)

    def encode_token_tensors(self, tokens):
        import torch

        with torch.inference_mode():
            return self.net.text(tokens.to(self.device))

    def __repr__(self) -> str:
        return f"OwnModel({self.name!r}, id={self.id!r}, logit_scale={self.logit_scale:g})"


def shipped_files(name: str) -> tuple[Path, Path]:
    return WEIGHTS_DIR / f"{name}.safetensors", WEIGHTS_DIR / f"{name}.json"


def load_own(arg: str, *, device: str = "cpu") -> OwnModel:
    """`own:clip|cyclip|cloob` (shipped) or `own:PATH` (a model directory or file written by train)."""
    from ..train.checkpoint import load_model_files, model_files

    if not arg:
        raise SpecError("own: name a model: own:clip, own:cyclip, own:cloob or own:PATH (a trained model directory)")
    if arg in SHIPPED:
        weights, config = shipped_files(arg)
        if not weights.is_file() or not config.is_file():
            raise MissingResourceError(
                f"the shipped model own:{arg} is missing from {WEIGHTS_DIR} (expected {weights.name} and {config.name}); "
                f"reinstall the package, or retrain it with the command recorded in the README and copy "
                f"model.safetensors/model.json there as {weights.name}/{config.name}"
            )
        name = f"own:{arg}"
    else:
        path = Path(arg).expanduser()
        if not path.exists() and not path.with_suffix(".json").exists():
            raise MissingResourceError(
                f"own:{arg}: no such model; use own:clip, own:cyclip, own:cloob or the directory written by "
                "`python -m explorer train --out DIR`"
            )
        weights, config = model_files(path)
        name = f"own:{arg}"
    net, vocab, cfg = load_model_files(weights, config)
    return OwnModel(net, vocab, cfg, name=name, device=device)
