"""The items of an explorer's shown pairs, and what a tap or a selection publishes.

A mixin of :class:`explorer.state.explorer_state.ExplorerState` (its other derived data are
there): one embedding's description (caption, thumbnail), a matrix cell's two items and value,
a pair's similarity, and the interaction part's `inspected` and `selected_pairs` (the only
settings views write). No view imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.memo import MEMO
from ..errors import SpecError


class ItemsAndSelection:
    """Items, inspection and selection of an ExplorerState (see module docstring)."""

    def thumb_token(self) -> str | None:
        from .. import thumbnails

        p = self.pairs
        if p is None or p.images is None:
            return None
        return MEMO.get(("thumb_token", self.source_key()), lambda: thumbnails.register(p))

    def thumb_url(self, pair_id: int) -> str | None:
        """``/thumb/<token>/<pair_id>.png`` or None when the source has no images."""
        from ..thumbnails import thumb_url

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
            "thumb": self.thumb_url(pid) if modality == "image" else None,
        }

    def cell_items(self, model: str | None, row: int, col: int, shared: bool = False, kind: str = "similarity") -> dict[str, Any]:
        """The two items and the value of matrix cell (row, col) in display coordinates: of the
        2M×2M similarity matrix (an image or a caption each), or of the M×M in-modal difference
        (two pairs; their images stand for them)."""
        m = self.resolve_model(model)
        pairs = self.display_pairs(m, shared)
        size = pairs.size
        n = 2 * size if kind == "similarity" else size
        r, c = int(row), int(col)
        if not (0 <= r < n and 0 <= c < n):
            raise SpecError(f"cell ({r}, {c}) is outside the {n}×{n} matrix")

        def item(q: int) -> dict[str, Any]:
            if kind == "similarity":
                return self.item("image" if q < size else "text", int(pairs[q % size]))
            return self.item("image", int(pairs[q]))

        return {"kind": "cell", "matrix": kind, "model": m, "row": r, "col": c, "row_item": item(r), "col_item": item(c),
                "value": self.cell_value(m, r, c, kind, shared)}

    def inspect_cell(self, model: str | None, row: int, col: int, shared: bool = False, kind: str = "similarity") -> dict[str, Any]:
        """Resolve a tapped cell (cell_items) and publish it in `interaction.inspected`."""
        info = self.cell_items(model, row, col, shared, kind)
        self.interaction.inspected = info
        return info

    def pair_similarity(self, model: str | None, pair_id: int) -> float:
        m = self.resolve_model(model)
        pos = np.flatnonzero(self.active_indices() == int(pair_id))
        if pos.size == 0:
            raise SpecError(f"pair {int(pair_id)} is not among the shown pairs")
        return float(self.space(m).pair_similarities(*self.closing())[int(pos[0])])

    def inspect_pair(self, model: str | None, pair_id: int) -> dict[str, Any]:
        """Publish a pair (image, caption and their similarity) in `interaction.inspected` (scatter taps)."""
        m = self.resolve_model(model)
        pid = int(pair_id)
        info = {"kind": "pair", "model": m, "row_item": self.item("image", pid), "col_item": self.item("text", pid),
                "value": self.pair_similarity(m, pid)}
        self.interaction.inspected = info
        return info

    def select_pairs(self, ids: Sequence[int]) -> None:
        """Set `interaction.selected_pairs` to the distinct ids, in first-seen order."""
        self.interaction.selected_pairs = list(dict.fromkeys(int(i) for i in ids))

    def one_caption(self) -> bool:
        """Whether every shown pair has the same caption (an augmentation series): the contrastive
        loss and R@k, which tell a pair's caption from the others', mean nothing then."""
        from ..pairs import all_same

        p = self.pairs
        if p is None:
            return False
        return MEMO.get(("one_caption",) + self.selection_key(), lambda: all_same(p.caption_array(), self.active_indices()))

    def cluster_pairs(self, model: str | None, cluster: int) -> list[int]:
        """Source pair ids of cluster `cluster` (0-based, display order) of `model`'s clustering."""
        o = self.ordering(model)
        if o is None:
            raise SpecError("clustering is off: turn on 'cluster matrix by similarity'")
        c = int(cluster)
        if not 0 <= c < len(o.members):
            raise SpecError(f"no cluster {c + 1}: there are {len(o.members)}")
        return [int(i) for i in self.active_indices()[np.sort(o.members[c])]]

    def select_cluster(self, model: str | None, cluster: int) -> list[int]:
        """Select every pair of cluster `cluster` (interaction.selected_pairs); its pair ids."""
        ids = self.cluster_pairs(model, cluster)
        self.select_pairs(ids)
        return ids

    def selected_table(self, model: str | None = None, limit: int | None = None):
        """DataFrame of the selected pairs: pair_id, id, caption, image, thumb, cluster, sim."""
        import pandas as pd

        ids = [int(i) for i in self.interaction.selected_pairs][: limit or None]
        cols = ["pair_id", "id", "caption", "image", "thumb", "cluster", "sim"]
        if not ids:
            return pd.DataFrame(columns=cols)
        src = self.source_data()
        p = src.pairs
        m = self.resolve_model(model)
        active = self.active_indices()
        pos_of = dict(zip(active[np.isin(active, ids)].tolist(), np.flatnonzero(np.isin(active, ids)).tolist(), strict=True))
        sims = self.space(m).pair_similarities(*self.closing())
        o = self.ordering(m)
        labels = self.cluster_labels(m) if o is not None else []
        rows = []
        for pid in ids:
            if not 0 <= pid < src.n:
                continue
            q = pos_of.get(pid)
            rows.append({
                "pair_id": pid,
                "id": p.ids[pid] if p is not None else str(pid),
                "caption": p.captions[pid] if p is not None else "",
                "image": p.images.ref(pid) if (p is not None and p.images is not None) else None,
                "thumb": self.thumb_url(pid),
                "cluster": labels[int(o.assignment[q])] if (o is not None and q is not None) else "",
                "sim": float(sims[q]) if q is not None else np.nan,
            })
        return pd.DataFrame(rows, columns=cols)
