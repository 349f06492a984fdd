"""Reading pickled Haiku parameter files (cloob-training's LAION CLOOB checkpoints) safely.

cloob-training saves ``pickle.dump({"params": (image_params, text_params), "epoch": n})`` where
each params tree is a Haiku dict ``{module path: {parameter name: array}}`` and the arrays are
JAX device arrays. Unpickling such a file normally needs JAX, and -- worse -- a pickle can name
*any* importable function and make the unpickler call it: a malicious ``.pkl`` runs arbitrary
code the moment it is loaded. That is why the tool reads this format only when the user passes a
file explicitly (``cloob-laion:PATH``) and why this reader is restricted:

* it resolves only an allow-list of globals: Python's containers, NumPy's array/dtype/scalar
  reconstructors, and JAX's array reconstructors (``reconstruct_device_array`` of JAX 0.2-0.3,
  ``_reconstruct_array`` of JAX 0.4+), which are replaced by a NumPy-only equivalent so JAX is
  not needed;
* any other global raises :class:`DataError` naming the file and the refused name, before it is
  called.

This narrows what a hostile file can do to what NumPy's reconstructors allow; it is still wise to
load only files from a source you trust (the published URLs carry their SHA-256 in the name).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError


def _numpy_reconstructor(name: str):
    try:
        from numpy._core import multiarray  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core import multiarray
    return getattr(multiarray, name)


def _numpy_frombuffer():
    try:
        from numpy._core import numeric
    except ImportError:  # pragma: no cover
        from numpy.core import numeric
    return numeric._frombuffer


def _jax_array_to_numpy(fun, args, arr_state, aval_state=None):
    """What JAX's array reconstructors do, minus the device transfer: a NumPy array."""
    value = fun(*args)
    value.__setstate__(arr_state)
    return value


_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool",
             "str", "bytes", "bytearray", "slice"}
_JAX_RECONSTRUCTORS = {"reconstruct_device_array", "_reconstruct_array"}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in _BUILTINS:
            return getattr(__import__("builtins"), name)
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict

            return OrderedDict
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct", "scalar"
        ):
            return _numpy_reconstructor(name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _numpy_frombuffer()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            return getattr(np.dtypes, name)
        if module == "_codecs" and name == "encode":
            import codecs

            return codecs.encode
        if (module == "jax" or module.startswith("jax.")) and name in _JAX_RECONSTRUCTORS:
            return _jax_array_to_numpy
        raise DataError(
            f"{self._path}: refusing to unpickle {module}.{name}: a LAION-CLOOB checkpoint holds "
            "only dicts of arrays, and a pickle naming other objects could run code"
        )


def read_haiku_pickle(path: Path, *, what: str) -> Any:
    """The object in the pickle at `path`, with JAX arrays as NumPy arrays (restricted, see above)."""
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError, MemoryError, OverflowError) as exc:
        raise DataError(
            f"{path}: cannot read this {what} (not a pickle, or truncated or corrupt): "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        ) from exc
