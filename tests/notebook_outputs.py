"""What an executed notebook cell printed or displayed, as text (the notebook tests read it)."""

from __future__ import annotations


def cell_text(cell) -> str:
    """The cell's stream output and the text/plain form of its results and displays."""
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)
