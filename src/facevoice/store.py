"""The one feature store: fixed-shape samples streamed into ``<name>.npy`` beside an ``index.csv`` of their rows.

Audio features, face crops and the face/voice pairs all use this layout (``data/features/<name>/``): the
index has one row per sample (labels, ``source_id``, ``split``, ``chunk``) and each array store's rows align
with it. Writing streams to disk (memory stays flat); reading memory-maps. A store is written as
``<name>.npy.partial`` and renamed to ``<name>.npy`` by ``close``, so a killed writer never leaves a ``.npy``
that looks finished.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .tables import read_table


class ArrayStore:
    """Appends fixed-shape samples straight into a ``.npy`` file (memory-mappable once closed).

    The header is written first with room to spare and rewritten in place by ``close`` with the final
    count, so samples go to disk once, as they come, and closing copies nothing. Until ``close`` the samples
    are in ``<path>.partial`` (``close`` renames it to ``path``): a writer killed mid-way leaves no ``path``,
    and an older ``path`` is removed on opening, so it cannot pass for this run's. As a context manager, the
    store is closed when the block ends and discarded (``abort``) when it raises."""

    HEADER = 128  # bytes: magic, version, length, and the dict padded with spaces (a multiple of 64)

    def __init__(self, path: Path):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.unlink(missing_ok=True)
        self.fh = open(self.partial, "wb")
        self.shape = None
        self.dtype = None
        self.count = 0

    def _header(self) -> bytes:
        shape = (self.count, *(self.shape or ()))
        text = repr({"descr": np.lib.format.dtype_to_descr(np.dtype(self.dtype or np.float32)),
                     "fortran_order": False, "shape": shape}).encode("latin1")
        room = self.HEADER - 10
        if len(text) + 1 > room:
            raise ValueError(f"{self.path.name}: shape {shape} does not fit the .npy header")
        return b"\x93NUMPY\x01\x00" + room.to_bytes(2, "little") + text.ljust(room - 1) + b"\n"

    def append(self, a: np.ndarray) -> None:
        if self.shape is None:
            self.shape, self.dtype = a.shape, a.dtype
            self.fh.write(self._header())
        elif a.shape != self.shape:
            raise ValueError(f"{self.path.name}: sample shape {a.shape} != {self.shape}")
        self.fh.write(np.ascontiguousarray(a, dtype=self.dtype).tobytes())
        self.count += 1

    def close(self) -> None:
        """Write the final header (with nothing appended: an empty float32 array) and rename to ``path``."""
        self.fh.seek(0)
        self.fh.write(self._header())
        self.fh.close()
        self.partial.replace(self.path)

    def abort(self) -> None:
        """Drop what was written: no ``path``, no ``.partial``."""
        self.fh.close()
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> "ArrayStore":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def load_store(feature_dir: str | Path, store: str = "x", mmap: bool = True) -> np.ndarray:
    """One array store of a built feature (rows align with its index.csv)."""
    path = Path(feature_dir) / f"{store}.npy"
    if not path.exists():
        from .errors import SourceError

        raise SourceError(f"{path}: feature store not found (run its feature stage)")
    return np.load(path, mmap_mode="r" if mmap else None)


def load_feature(feature_dir: str | Path, store: str = "x", mmap: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """(index table, array) of a built feature; rows align."""
    return read_table(Path(feature_dir) / "index.csv"), load_store(feature_dir, store, mmap)
