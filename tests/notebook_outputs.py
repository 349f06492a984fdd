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


def execute_notebook(nb, folder, root, timeout: int, drop_env: tuple[str, ...] = ()) -> None:
    """Run every cell of `nb` in place (outputs kept on its cells) in a python3 kernel started in
    `folder`, offline, with the project `root` on PYTHONPATH; os.environ restored after."""
    import os

    from nbclient import NotebookClient

    env_before = dict(os.environ)
    os.environ.update({"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", "PYTHONPATH": str(root)})
    for name in drop_env:
        os.environ.pop(name, None)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
