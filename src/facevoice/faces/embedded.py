"""The ``face_embed`` stage body: dlib's pretrained 128-d descriptor of the labelled face in every kept photo.

It reads the ``faces`` stage's table (one row per photo with the MTCNN box of the face the stage chose for
the labelled person; augmented copies are not embedded) and writes the feature-store layout
``data/features/face_embed/`` (``index.csv`` + ``x.npy`` float32 (n, 128), ``rejects.csv``, ``summary.json``),
which models read as ``feature: face_embed`` like any other feature. The face box is the faces stage's
(``box: mtcnn``) or dlib's own detector on the whole photo (``box: dlib``); dlib's 5-point predictor aligns
the face either way (``facevoice.faces.embed``).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..params import Checked
from ..store import ArrayStore
from ..tables import Rejects, read_table

KEEP = ["path", "person", "gender", "language", "source_id", "split", "chunk", "box"]


def check(spec: dict, prefix: str = "face_embed") -> dict:
    p = Checked(spec, prefix)
    return {"flip": p.bool("flip", True), "box": p.choice("box", ["mtcnn", "dlib"], "mtcnn"),
            "upsample": p.int("upsample", 1, min=0, max=3), "workers": p.int("workers", 2, min=0)}


def _embed(job: tuple) -> tuple[np.ndarray | None, str | None]:
    """(embedding, None) or (None, reason) for one photo (a worker's job: the model loads once per worker)."""
    from .embed import read_rgb, shared_embedder
    from ..errors import InputError

    path, box, flip, upsample = job
    try:
        return shared_embedder(upsample).embed(read_rgb(path), box, flip), None
    except InputError as exc:
        return None, exc.reason
    except (RuntimeError, ValueError) as exc:  # dlib raises RuntimeError on images it cannot process
        return None, f"dlib could not embed the face ({str(exc).splitlines()[0][:120]})"


def build(spec: dict, faces_dir: Path, out_dir: Path, progress: bool = True, backend=None) -> dict:
    """Embed every photo the faces stage kept; returns the summary (``skipped`` when there are no faces).
    ``backend``: where dlib runs (``facevoice.parallel.Backend``; None: this machine's process pool)."""
    from ..parallel import imap
    from ..skip import reason_of

    cfg = check(spec)
    faces_dir, out = Path(faces_dir), Path(out_dir)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    index = read_table(faces_dir / "index.csv")
    rows = index[index["chunk"].astype(int) == 0][KEEP].reset_index(drop=True) if len(index) else pd.DataFrame(columns=KEEP)
    rejects, kept = Rejects(stage="face_embed"), []
    store = ArrayStore(out / "x.npy")
    boxes = [json.loads(b) if cfg["box"] == "mtcnn" else None for b in rows["box"]]
    jobs = [(p, b, cfg["flip"], cfg["upsample"]) for p, b in zip(rows["path"], boxes)]
    for i, (vec, reason) in enumerate(imap(_embed, jobs, cfg["workers"], desc="face_embed: dlib", progress=progress,
                                                  backend=backend)):
        if reason is not None:
            rejects.add(rows.at[i, "path"], reason)
            continue
        store.append(vec)
        kept.append(i)
    store.close()
    rows.iloc[kept].to_csv(out / "index.csv", index=False)
    rejects.write(out / "rejects.csv")
    if len(kept) + len(rejects) != len(rows):
        raise AssertionError(f"face_embed: {len(rows)} photos != {len(kept)} kept + {len(rejects)} rejected")
    summary = {"photos": len(rows), "kept": len(kept), "rejected": len(rejects), "shape": [128],
               **{k: v for k, v in cfg.items() if k != "workers"}}
    upstream = reason_of(faces_dir / "summary.json")
    if upstream or not len(rows):
        summary["skipped"] = f"no faces to embed ({upstream or 'the faces stage kept no photo'})"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "params.json").write_text(json.dumps({**spec, "kind": "face_embed"}, indent=2))
    return summary
