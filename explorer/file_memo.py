"""Values remembered per input file, valid while the file is unchanged.

A small JSON file maps a name to a value plus the stamp (resolved path, size, mtime_ns, and the
ctime_ns and inode, which no user tool can set back, so a file rewritten in place with its
modification time restored still counts as changed) of the file the value was derived from; a lookup returns the value only while the file still has that
stamp. Used for what is slow to derive from large weights files: their SHA-256 (models) and the
model id a spec resolves to (embedding cache hits without loading the weights). Writes are
atomic (temporary file + rename) and best effort: a read-only folder only costs a recomputation.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

VERSION = 2


def file_stamp(path: Path) -> dict[str, Any]:
    st = Path(path).stat()
    return {"file": str(Path(path).resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns),
            "ctime_ns": int(st.st_ctime_ns), "inode": int(st.st_ino), "version": VERSION}


class FileMemo:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, name: str, file: Path | str) -> Any | None:
        """The value remembered under `name`, if `file` has not changed since; else None."""
        entry = self._read().get(name)
        try:
            if not isinstance(entry, dict) or entry.get("stamp") != file_stamp(Path(file)):
                return None
        except OSError:
            return None
        return entry.get("value")

    def put(self, name: str, file: Path | str, value: Any) -> None:
        try:
            stamp = file_stamp(Path(file))
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                data = self._read()
                data[name] = {"stamp": stamp, "value": value}
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                try:
                    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
                    os.replace(tmp, self.path)
                finally:
                    tmp.unlink(missing_ok=True)
        except OSError:
            pass
