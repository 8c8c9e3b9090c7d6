"""Run a feature over the voices manifest into an array store + index table, rows keeping their split.

Layout of ``data/features/<name>/``: ``index.csv`` (one row per sample: the manifest's labels,
``source_id``, ``split``, ``chunk``), ``<store>.npy`` per store, ``rejects.csv``. Arrays stream to
disk as samples come, so memory stays flat whatever the corpus size.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .audio.features import check, compute
from .errors import FacevoiceError
from .parallel import Backend, imap
from .store import ArrayStore
from .tables import LABEL_COLUMNS, Rejects, read_table


def _user_paths(df: pd.DataFrame) -> dict[str, str]:
    """Manifest ``path`` -> the file the user gave (``original_path``): a converted clip's wav copy in
    ``data/manifests/audio/`` is named by its mp3 in rejects."""
    if "original_path" not in df.columns:
        return {}
    return {p: o for p, o in zip(df["path"], df["original_path"]) if o and o != p}


def build(name: str, params: dict, manifest: str | Path, out_dir: str | Path, workers: int = 1,
          progress: bool = True, backend: Backend | None = None) -> dict:
    """``backend``: where the clips are computed (``facevoice.parallel``; None: this machine's process pool)."""
    kind = check(name, params)  # every key, before any clip is read
    df = read_table(manifest)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stores: dict[str, ArrayStore] = {}
    rows, rejects = [], Rejects(stage=f"features.{name}")
    keep_cols = ["path", *LABEL_COLUMNS, "split"]
    users = _user_paths(df)
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
                                      imap(compute, jobs, workers=workers, desc=f"features {name}", progress=progress,
                                           backend=backend)):
        if reason is not None or not samples:
            path = users.get(rec["path"], rec["path"])
            rejects.add(path, (reason or "no samples (clip shorter than one chunk)").replace(rec["path"], path))
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
    if not len(df):
        summary["skipped"] = f"no clips in {manifest} (no voices in this corpus: prepare.voices is null)"
    if clips_kept + len(rejects) != len(df):
        raise AssertionError(f"features {name}: {len(df)} clips != {clips_kept} kept + {len(rejects)} rejected")
    if len(df) and not clips_kept:  # fail, so DVC keeps no lock entry for an empty store the next stage trips on
        raise FacevoiceError(f"features@{name}: every one of the {len(df)} clips was rejected (first reason: "
                             f"{rejects.rows[0]['reason'][:200]!r}; all in {out / 'rejects.csv'}); "
                             f"check params.yaml 'features.{name}' and the source")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    public = {k: v for k, v in params.items() if not k.startswith("_")}
    (out / "params.json").write_text(json.dumps({"kind": kind, **{k: v for k, v in public.items() if k != "kind"}}, indent=2))  # to recompute it (CLI)
    return summary
