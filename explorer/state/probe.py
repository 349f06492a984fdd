"""The text probe of an explorer: the query's embedding, and each shown item's similarity to it.

A mixin of :class:`explorer.state.explorer_state.ExplorerState`. The query (``probe.query``) is

- ``#ID``: the caption embedding of pair ID of the source (every source; the only way for
  precomputed sources without encoders: amumo:, liang:, synthetic:, clip-retrieval:, ...);
- any other text: embedded by the active model's text encoder, for models the source was
  embedded with (``own:``, ``open_clip:``, ``cyclip:``, ``cloob:`` specs, recorded in the
  embeddings' provenance as ``model_spec``); the encoder's id must equal the one the embeddings
  were computed with.

The numbers come from :mod:`explorer.engine.probe` (one chunked pass, shared in the memo). Errors
the user can act on (an empty query, no encoder, an encoder that fails, a pair id out of range)
are :class:`~explorer.errors.SpecError` sentences. No view imports.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import probe as engine_probe
from ..engine.memo import MEMO
from ..errors import ExplorerError, SpecError
from .parts import PROBE_COLOR

#: '#123' (or '# 123'): the caption of pair 123
CAPTION_ID = re.compile(r"^#\s*(-?\d+)$")
#: how many text encoders a process keeps loaded
KEEP_ENCODERS = 3

_encoders: OrderedDict[str, Any] = OrderedDict()
_encoder_lock = threading.Lock()


def parse_query(text: str) -> tuple[str, Any]:
    """('caption', pair id) for '#ID', ('text', stripped text) otherwise; SpecError when empty."""
    s = (text or "").strip()
    if not s:
        raise SpecError("the probe query is empty: type a text, or #ID for the caption of pair ID")
    m = CAPTION_ID.match(s)
    if m:
        return "caption", int(m.group(1))
    return "text", s


def text_encoder(spec: str) -> Any:
    """The BimodalModel of `spec` on the CPU, kept loaded (the last KEEP_ENCODERS of a process)."""
    from ..models import load_model

    with _encoder_lock:
        if spec in _encoders:
            _encoders.move_to_end(spec)
            return _encoders[spec]
        model = load_model(spec, device="cpu")
        _encoders[spec] = model
        while len(_encoders) > KEEP_ENCODERS:
            _encoders.popitem(last=False)
        return model


@dataclass(frozen=True)
class ProbeQuery:
    """The query as embedded: a unit vector, where it came from, and a warning if any."""

    vector: np.ndarray  # (D,) float64 unit
    key: tuple  # names the query in the memo
    describe: str  # e.g. '“red circle” embedded by own:clip' or 'the caption of pair 12 “…”'
    note: str = ""  # e.g. words the encoder does not know


class ProbeQueries:
    """The text probe of an ExplorerState (see module docstring)."""

    def _init_probe(self) -> None:
        """Colour the scatter by probe similarity when a probe is set, back by modality when it
        is cleared (a state carried over from another source starts without a probe)."""
        on = bool(self.probe.query.strip())
        if self.projection.point_color == PROBE_COLOR and not on:
            self.projection.point_color = "modality"
        elif on and self.projection.point_color == "modality":  # e.g. serve --set query=...
            self.projection.point_color = PROBE_COLOR
        self.probe.param.watch(self._probe_changed, "query")

    def _probe_changed(self, event: Any) -> None:
        on = bool(str(event.new or "").strip())
        if on and self.projection.point_color == "modality":
            self.projection.point_color = PROBE_COLOR
        elif not on and self.projection.point_color == PROBE_COLOR:
            self.projection.point_color = "modality"

    def encoder_spec(self, model: str | None = None) -> str | None:
        """The model spec whose text encoder embeds queries for `model`, or None (precomputed)."""
        e = self.embeddings(model)
        spec = e.provenance.get("model_spec")
        return str(spec) if spec else None

    def probe_hint(self, model: str | None = None) -> str:
        """What the query box accepts for `model` (one sentence for the UI)."""
        m = self.resolve_model(model)
        spec = self.encoder_spec(m)
        n = self.source_data().n
        if spec:
            return f"type a text (embedded by {m}'s text encoder), or #ID for the caption of pair ID (0–{n - 1})"
        return (f"{m} has no text encoder here (precomputed embeddings): probe with a caption of the source, "
                f"#ID for the caption of pair ID (0–{n - 1})")

    def probe_query(self, model: str | None = None, query: str | None = None) -> ProbeQuery:
        """The embedded query of `model` (default the active model; `query` default ``probe.query``)."""
        m = self.resolve_model(model)
        kind, value = parse_query(self.probe.query if query is None else query)
        emb = self.embeddings(m)
        if kind == "caption":
            n = emb.n
            if not 0 <= value < n:
                raise SpecError(f"#{value}: there is no pair {value}; {self.data.source} has {n} pairs (#0–#{n - 1})")
            vec = np.asarray(emb.text[value], dtype=np.float64)
            caption = self.captions()
            what = f"the caption of pair {value}" + (f" “{caption[value]}”" if caption is not None else "")
            return ProbeQuery(engine_probe.unit_query(vec, emb.dim), ("caption", m, value), what)
        spec = self.encoder_spec(m)
        if not spec:
            raise SpecError(f"{m} has no text encoder here (its embeddings are precomputed): probe with a caption of the "
                            f"source instead, #ID for the caption of pair ID (e.g. #0)")
        key = ("probe-query", spec, str(emb.provenance.get("model_id", "")), value)
        vec, note = MEMO.get(key, lambda: self._encode(m, spec, value))
        return ProbeQuery(vec, ("text", spec, value), f"“{value}” embedded by {m}", note)

    def _encode(self, m: str, spec: str, text: str) -> tuple[np.ndarray, str]:
        emb = self.embeddings(m)
        try:
            encoder = text_encoder(spec)
        except ExplorerError as exc:
            raise SpecError(f"the text encoder of {m} could not be loaded: {exc}") from exc
        except Exception as exc:
            raise SpecError(f"the text encoder of {m} could not be loaded: {type(exc).__name__}: {exc}") from exc
        want = emb.provenance.get("model_id")
        if want and str(getattr(encoder, "id", want)) != str(want):
            raise SpecError(f"the weights of {spec} changed since these embeddings were computed "
                            f"(model id {encoder.id} now, {want} then): re-embed the source to probe it")
        try:
            out = np.asarray(encoder.encode_texts([text]), dtype=np.float64)
        except Exception as exc:
            raise SpecError(f"the text encoder of {m} failed on the query: {type(exc).__name__}: {exc}") from exc
        if out.ndim != 2 or out.shape != (1, emb.dim) or not np.isfinite(out).all():
            raise SpecError(f"the text encoder of {m} returned an embedding of shape {out.shape}"
                            f"{'' if np.isfinite(out).all() else ' with NaN'}, the embeddings have {emb.dim} dimensions")
        note = ""
        vocab = getattr(encoder, "vocab", None)
        if vocab is not None and hasattr(vocab, "unknown_share"):
            share = float(vocab.unknown_share([text]))
            if share >= 1.0:
                note = f"none of the words of the query are in {m}'s vocabulary: its embedding says nothing about them"
            elif share > 0:
                note = f"{share:.0%} of the words of the query are not in {m}'s vocabulary"
        try:
            vec = engine_probe.unit_query(out[0], emb.dim)
        except ValueError as exc:
            raise SpecError(f"the text encoder of {m} failed on the query: {exc}") from exc
        return vec, note

    def probe_result(self, model: str | None = None, query: str | None = None) -> engine_probe.ProbeSims:
        """Similarity of every shown image and caption to the query, as the views show them (α applied)."""
        m = self.resolve_model(model)
        q = self.probe_query(m, query)
        return engine_probe.probe(self.space(m), q.vector, q.key, *self.closing())

    def probe_axis(self, model: str | None = None, shared: bool = False) -> np.ndarray:
        """The probe similarities along the 2M display axis of the similarity heatmap."""
        m = self.resolve_model(model)
        sims = self.probe_result(m)
        q = self.probe_query(m)
        key = ("probe-axis", self.space(m).key, q.key, self.closing(), self.order_key(m, shared))
        return MEMO.get(key, lambda: sims.axis(None if not self.order.cluster else self.display_order(m, shared)))

    def probe_strip(self, edges: np.ndarray, model: str | None = None, shared: bool = False) -> np.ndarray:
        """Mean probe similarity per heatmap pixel row (`edges`: the tile's ``y_edges``)."""
        return engine_probe.binned_means(self.probe_axis(model, shared), edges)

    def probe_top(self, model: str | None = None, k: int | None = None) -> dict[str, Any]:
        """The query, and the `k` (default ``probe.probe_top``) shown images and captions most
        similar to it: {'query', 'note', 'model', 'images': [item + sim], 'captions': [...]}."""
        m = self.resolve_model(model)
        q = self.probe_query(m)
        sims = self.probe_result(m)
        k = int(self.probe.probe_top if k is None else k)
        active = self.active_indices()
        out: dict[str, Any] = {"query": q.describe, "note": q.note, "model": m, "n": int(active.size)}
        for modality, name in (("image", "images"), ("text", "captions")):
            rows = []
            values = sims.of(modality)
            for pos in sims.top(modality, k):
                item = self.item(modality, int(active[pos]))
                if modality == "text":
                    item["thumb"] = self.thumb_url(int(active[pos]))
                rows.append({**item, "sim": float(values[pos])})
            out[name] = rows
        return out
