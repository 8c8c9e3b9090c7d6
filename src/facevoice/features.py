"""Run a feature over the voices manifest into an array store + index table, rows keeping their split.

Layout of ``data/features/<name>/``: ``index.csv`` (one row per sample: the manifest's labels,
``source_id``, ``split``, ``chunk``), ``<store>.npy`` per store, ``rejects.csv``. Arrays stream to
disk as samples come, so memory stays flat whatever the corpus size.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .audio.features import FEATURES, compute
from .errors import ParamsError
from .parallel import imap
from .tables import LABEL_COLUMNS, Rejects, read_table


class ArrayStore:
    """Appends fixed-shape samples straight into a ``.npy`` file (memory-mappable once closed).

    The header is written first with room to spare and rewritten in place by ``close`` with the final
    count, so samples go to disk once, as they come, and closing copies nothing."""

    HEADER = 128  # bytes: magic, version, length, and the dict padded with spaces (a multiple of 64)

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fh = open(self.path, "wb")
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

    def close(self) -> None:  # with nothing appended, the header alone: an empty float32 array
        self.fh.seek(0)
        self.fh.write(self._header())
        self.fh.close()


def build(name: str, params: dict, manifest: str | Path, out_dir: str | Path, workers: int = 1,
          progress: bool = True) -> dict:
    kind = params.get("kind", name)
    if kind not in FEATURES:
        raise ParamsError(f"params.yaml: 'features.{name}.kind' must be one of {', '.join(sorted(FEATURES))}; got {kind!r}")
    df = read_table(manifest)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stores: dict[str, ArrayStore] = {}
    rows, rejects = [], Rejects(stage=f"features.{name}")
    keep_cols = ["path", *LABEL_COLUMNS, "split"]
    jobs = [(kind, p, params) for p in df["path"]]
    if params.get("png_per_person", 0):  # feature functions write a few PNGs themselves, from the workers
        import shutil

        shutil.rmtree(out / "png", ignore_errors=True)
        shown: dict[str, int] = {}
        jobs = []
        for path, person in zip(df["path"], df["person"].astype(str)):
            extra = {"_out": str(out)}
            if shown.get(person, 0) < int(params["png_per_person"]):
                shown[person] = shown.get(person, 0) + 1
                safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in person)
                extra["_png"] = f"{safe}/{Path(path).stem}"
            jobs.append((kind, path, {**params, **extra}))
    for rec, (samples, reason) in zip(df[keep_cols].to_dict("records"),
                                      imap(compute, jobs, workers=workers, desc=f"features {name}", progress=progress)):
        if reason is not None or not samples:
            rejects.add(rec["path"], reason or "no samples (clip shorter than one chunk)")
            continue
        for i, sample in enumerate(samples):
            for key, arr in sample.items():
                if key not in stores:
                    stores[key] = ArrayStore(out / f"{key}.npy")
                stores[key].append(arr)
            rows.append({**rec, "chunk": i})
    for store in stores.values():
        store.close()
    pd.DataFrame(rows, columns=[*keep_cols, "chunk"]).to_csv(out / "index.csv", index=False)
    rejects.write(out / "rejects.csv")
    clips_kept = len({r["path"] for r in rows})
    summary = {"clips": len(df), "clips_kept": clips_kept, "clips_rejected": len(rejects), "samples": len(rows),
               "shapes": {k: list(s.shape or ()) for k, s in stores.items()}}
    if clips_kept + len(rejects) != len(df):
        raise AssertionError(f"features {name}: {len(df)} clips != {clips_kept} kept + {len(rejects)} rejected")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    public = {k: v for k, v in params.items() if not k.startswith("_")}
    (out / "params.json").write_text(json.dumps({**public, "kind": kind}, indent=2))  # to recompute it (CLI)
    return summary


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
