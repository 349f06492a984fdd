"""Per-item reports of dataset items that cannot be used.

Real datasets have holes: an annotation whose image file is missing, an empty caption, the same id
twice, a URL that may not be fetched offline. A loader skips such an item and records why; the
report becomes the PairSet's ``notes`` (the CLI prints them, the embedding store keeps them in
the entry's provenance). When nothing usable remains the loader raises one clear
:class:`~explorer.errors.DataError` that says what went wrong with the first few items, instead of
handing an empty PairSet to the next stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import DataError, SpecError

#: how many skipped items a message or a note list spells out before summarising the rest
SHOWN = 20


@dataclass
class SkipReport:
    """Collects (where, reason) for every skipped item of one dataset."""

    source: str
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        """Record that the item at `where` (a row number, file name or id) was skipped for `reason`."""
        self.items.append((str(where), str(reason)))

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:  # a report with no items is still a report
        return True

    def reasons(self) -> Counter:
        """How many items were skipped for each reason (the reason text up to the first colon)."""
        return Counter(r.split(":")[0] for _, r in self.items)

    def notes(self, total: int) -> list[str]:
        """One summary line, then one line per skipped item (all of them: the notes are the report)."""
        if not self.items:
            return []
        counts = ", ".join(f"{n} {r}" for r, n in self.reasons().most_common())
        head = f"{self.source}: skipped {len(self.items)} of {total} items ({counts})"
        return [head] + [f"skipped {where}: {reason}" for where, reason in self.items]

    def check_usable(self, kept: int, total: int) -> None:
        """Raise DataError when no item is usable, naming the first problems."""
        if kept > 0:
            return
        if total == 0:
            raise DataError(f"{self.source}: no items found")
        shown = "; ".join(f"{w}: {r}" for w, r in self.items[:5])
        more = f" (and {len(self.items) - 5} more)" if len(self.items) > 5 else ""
        raise DataError(f"{self.source}: none of the {total} items is usable: {shown}{more}")


def clean_caption(value) -> str:
    """A caption as text with surrounding whitespace removed; None/NaN become ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return str(value).strip()


def format_notes_for_cli(notes, limit: int = SHOWN) -> list[str]:
    """The first `limit` note lines plus a count of the rest (the full list stays in the notes)."""
    notes = list(notes)
    if len(notes) <= limit + 1:
        return notes
    return notes[: limit + 1] + [f"... and {len(notes) - limit - 1} more skipped items (all listed in the store entry's provenance)"]


def reject_unknown_options(source: str, options: dict, accepted: str) -> None:
    """A loader's guard against options meant for another dataset (e.g. --caption on a folder)."""
    if options:
        raise SpecError(f"{source}: option(s) {', '.join(sorted(options))} do not apply here (it takes {accepted})")
