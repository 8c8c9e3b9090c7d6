"""The ``faces`` stage body: manifest photos -> balanced, detected, chosen, cropped, augmented uint8 faces."""
from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import FacevoiceError, InputError
from ..parallel import LOCAL, Backend, imap
from ..params import Checked
from ..tables import LABEL_COLUMNS, Rejects, read_table
from . import augment as aug
from .balance import cap, too_few
from .choose import RULES, accepted, choose, embed, references
from .crop import frame_matrix, to_channels, warp
from .detect import DETECTORS, Mtcnn, check_max_side, check_mtcnn, read_photo, scaled, whole_photo

KEYS = ("detector", "mtcnn", "max_side", "min_confidence", "min_size", "rule", "size", "color", "margin", "align",
        "augment", "balance", "samples", "seed")
BALANCE_KEYS = ("max_people", "max_photos", "min_photos")


def _mapping(p: Checked, key: str) -> dict:
    """A sub-section that may be absent or null (its defaults apply), else a mapping."""
    return {} if p.get(key, None) is None else p.sub(key).data


def check(spec: dict, prefix: str = "faces") -> dict:
    """Validate every key of the ``faces`` params section; returns plain values (a bad one is a one-line
    ParamsError naming its key). ``mtcnn`` holds the detector's arguments: ``faces.mtcnn`` and ``faces.max_side``,
    so every ``Mtcnn(**cfg["mtcnn"])`` (this stage's, ``single.face_crop``'s) downscales large photos alike."""
    p = Checked(spec, prefix)
    p.only(KEYS)
    b = Checked(_mapping(p, "balance"), f"{prefix}.balance")
    b.only(BALANCE_KEYS)
    out = {
        "detector": p.choice("detector", DETECTORS),
        "mtcnn": {**check_mtcnn(_mapping(p, "mtcnn"), f"{prefix}.mtcnn"), "max_side": check_max_side(p)},
        "min_confidence": p.float("min_confidence", 0.9, min=0, max=1), "min_size": p.int("min_size", 20, min=1),
        "rule": p.choice("rule", RULES, "largest"), "size": p.int("size", 48, min=8, max=512),
        "color": p.choice("color", ["grey", "rgb"], "grey"), "margin": p.float("margin", 0.15, min=0, max=1),
        "align": p.bool("align", True), "augment": aug.check(_mapping(p, "augment"), f"{prefix}.augment"),
        "balance": {"max_people": b.int("max_people", 0, min=0), "max_photos": b.int("max_photos", 0, min=0),
                    "min_photos": b.int("min_photos", 1, min=0)},
        "samples": p.int("samples", 6, min=0), "seed": p.int("seed", 42, min=0),  # numpy seeds are >= 0
    }
    if out["size"] % 4:
        p.fail("size", f"must be a multiple of 4 (the conv models pool twice), got {out['size']}")
    return out


def _read_batch(paths: list[str], indices: range, detector: Mtcnn, reasons: list) -> tuple[list, list, list]:
    """A batch's readable photos as the copies detection runs on (``Mtcnn.shrink``: a full-size photo is not
    kept, so memory is bounded by batch_size x max_side^2 whatever the photos' size), with their scales."""
    idx, photos, scales = [], [], []
    for i in indices:
        try:
            small, scale = detector.shrink(read_photo(paths[i]))
        except InputError as exc:
            reasons[i] = exc.reason
            continue
        idx.append(i)
        photos.append(small)
        scales.append(scale)
    return idx, photos, scales


def _no_face(raw: list[dict], cfg: dict) -> str:
    if not raw:
        return "no face found"
    best = max(raw, key=lambda d: d["confidence"])
    return (f"no face accepted ({len(raw)} found; best confidence {best['confidence']:.3f}, side "
            f"{min(best['box'][2:])} px; need >= {cfg['min_confidence']} and >= {cfg['min_size']} px)")


def _detect_chunk(job: tuple) -> list[tuple]:
    """One batch of photos (a job of ``imap``: runs here or on a worker, whose MTCNN model loads once):
    per photo (accepted detections or None, reason or None, candidate embeddings or None)."""
    paths, cfg = job
    detector = Mtcnn(**cfg["mtcnn"])
    reasons: list = [None] * len(paths)
    idx, photos, scales = _read_batch(paths, range(len(paths)), detector, reasons)
    out = [(None, r, None) for r in reasons]
    order = sorted(range(len(idx)), key=lambda k: photos[k].shape[:2])
    found = detector.detect_batch([photos[k] for k in order], [scales[k] for k in order])
    for k, raw in zip(order, found):
        dets, embs = accepted(raw, cfg["min_confidence"], cfg["min_size"]), None
        if dets and cfg["rule"] == "consistent":  # on the detection-size copy, the boxes scaled down to it
            fx, fy = scales[k]
            embs = [embed(photos[k], scaled(d, 1 / fx, 1 / fy)) for d in dets]
        out[idx[k]] = (dets, None if dets else _no_face(raw, cfg), embs)
    return out


class _Spill:
    """Per-photo detection results on disk, pickled one after another and read back in the same order: the crop
    pass holds one photo's detections at a time, whatever the number of photos (a temporary file, gone on close)."""

    def __init__(self):
        import tempfile

        self.file = tempfile.TemporaryFile()

    def write(self, record: tuple) -> None:
        pickle.dump(record, self.file, protocol=pickle.HIGHEST_PROTOCOL)

    def __iter__(self):
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)
            except EOFError:
                return


def _detections(paths: list[str], cfg: dict, progress: bool, backend: Backend | None) -> Iterator[tuple]:
    """(accepted detections or None when unreadable, reason or None, candidate embeddings or None) per photo, in
    order. MTCNN runs on batches of ``faces.mtcnn.batch_size`` photos mapped by ``facevoice.parallel.imap``: in
    this process by default (``parallel.workers`` 0), or on the ``parallel`` backend's workers, one batch a job;
    the batches are the same either way, so the detections (and the outputs) are too."""
    if cfg["detector"] == "none":
        for path in paths:
            try:
                yield [whole_photo(read_photo(path).shape)], None, None
            except InputError as exc:
                yield None, exc.reason, None
        return
    bs = cfg["mtcnn"]["batch_size"]
    jobs = [(paths[start:start + bs], cfg) for start in range(0, len(paths), bs)]
    backend = (backend or LOCAL).with_batch_size(1)  # a job is already a batch of photos
    for chunk in imap(_detect_chunk, jobs, 1, desc="faces: mtcnn", progress=progress, backend=backend):
        yield from chunk


def _detect_all(paths: list[str], cfg: dict, progress: bool, backend: Backend | None = None
                ) -> tuple[_Spill, np.ndarray, np.ndarray, list | None, float]:
    """Detections spilled to disk as they arrive (``_Spill``), with what the crop pass needs of every photo up
    front: accepted (bool), faces found (int), the single face's embedding for ``rule: consistent``; seconds."""
    spill, ok, n_faces = _Spill(), np.zeros(len(paths), bool), np.zeros(len(paths), np.int32)
    singles = [] if cfg["rule"] == "consistent" and cfg["detector"] == "mtcnn" else None
    t0 = time.perf_counter()
    for i, (dets, reason, embs) in enumerate(_detections(paths, cfg, progress, backend)):
        spill.write((dets, reason, embs))
        ok[i], n_faces[i] = reason is None, len(dets or [])
        if singles is not None:
            singles.append(embs[0] if (reason is None and embs is not None and len(embs) == 1) else None)
    return spill, ok, n_faces, singles, time.perf_counter() - t0


class _Index:
    """``index.csv`` written in chunks of rows as the crops are made (the same bytes as one ``to_csv`` of all rows:
    every column keeps one type), with the counts the summary needs."""

    def __init__(self, path: Path, columns: list[str], chunk: int = 4096):
        self.path, self.columns, self.chunk = path, columns, chunk
        self.rows: list = []
        self.written = self.photos = self.augmented = 0
        self.people: set = set()
        self.splits = {s: 0 for s in ("train", "val", "test")}

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if row["chunk"] == 0:
            self.photos += 1
            self.people.add(row["person"])
            if row["split"] in self.splits:
                self.splits[row["split"]] += 1
        self.augmented += bool(row["augmented"])
        if len(self.rows) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.rows or not self.written:
            pd.DataFrame(self.rows, columns=self.columns).to_csv(self.path, index=False, header=not self.written,
                                                                 mode="a" if self.written else "w")
        self.written += len(self.rows)
        self.rows = []


def _draw_sample(path: Path, photo: np.ndarray, dets: list[dict], kept: int, crop: np.ndarray, label: str) -> None:
    import cv2

    img = photo.copy()
    for j, d in enumerate(dets):
        x, y, w, h = d["box"]
        colour = (0, 200, 0) if j == kept else (200, 120, 0)
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, 2 if j == kept else 1)
        for px, py in d["keypoints"].values():
            cv2.circle(img, (int(round(px)), int(round(py))), 3 if j == kept else 2,
                       (0, 0, 255) if j == kept else (200, 120, 0), -1)
    side = img.shape[0]
    big = cv2.resize(crop if crop.shape[2] == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR), (side, side),
                     interpolation=cv2.INTER_NEAREST)
    if crop.shape[2] == 3:
        big = cv2.cvtColor(big, cv2.COLOR_RGB2BGR)
    canvas = np.concatenate([img, big], axis=1)
    cv2.putText(canvas, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)


COLUMNS = ["path", *LABEL_COLUMNS, "split", "chunk", "augmented", "augment", "detector", "rule", "n_faces",
           "confidence", "box", "keypoints", "aligned"]


def _crops(photo: np.ndarray, d: dict, rec: dict, cfg: dict, rng) -> Iterator[tuple[np.ndarray, dict | None]]:
    """The photo's crop of detection ``d``, then (train photos) its augmented copies: (crop, augmentation)."""
    size, a = cfg["size"], cfg["augment"]
    frame = frame_matrix(d["box"], d["keypoints"], size, cfg["margin"], cfg["align"] and bool(d["keypoints"]),
                         whole=cfg["detector"] == "none")
    yield to_channels(warp(photo, frame, size), cfg["color"]), None
    for _ in range(a["copies"] if rec["split"] == "train" else 0):
        t = aug.draw(rng, a)
        yield aug.photometric(to_channels(warp(photo, aug.matrix(t, size) @ frame, size), cfg["color"]), t), t


def _crop_all(todo: pd.DataFrame, found: tuple, cfg: dict, out: Path, rejects: Rejects, index: _Index,
              progress: bool) -> dict[str, int]:
    """The second pass, one photo at a time from the spilled detections: choose, crop, augment, store; returns
    how often each rule applied."""
    from tqdm import tqdm

    from ..store import ArrayStore

    spill, ok, n_faces, singles, _ = found
    bal = cfg["balance"]
    small = too_few([p for p, o in zip(todo["person"], ok) if o], bal["min_photos"])
    refs = references(list(todo["person"]), list(todo["split"]), singles) if singles is not None else {}
    rng = np.random.default_rng(cfg["seed"])
    sample_set = {int(i) for i in np.argsort(-(n_faces > 1).astype(int), kind="stable")[:cfg["samples"]]}
    store, rules_used, n_samples = ArrayStore(out / "x.npy"), {}, 0
    records = todo[["path", *LABEL_COLUMNS, "split"]].to_dict("records")
    for i, (rec, (cands, reason, embs)) in enumerate(tqdm(zip(records, spill), total=len(todo), desc="faces: crop",
                                                          disable=not progress, mininterval=1.0)):
        if reason is not None or rec["person"] in small:
            rejects.add(rec["path"], reason or f"balance: person has fewer than min_photos={bal['min_photos']} "
                                               f"accepted photos")
            continue
        photo = read_photo(rec["path"])
        j, rule = (0, "whole photo") if cfg["detector"] == "none" else \
            choose(cfg["rule"], cands, photo.shape, embs, refs.get(rec["person"]))
        rules_used[rule] = rules_used.get(rule, 0) + 1
        d = cands[j]
        base = {**rec, "detector": cfg["detector"], "rule": rule, "n_faces": len(cands),
                "confidence": round(d["confidence"], 4), "box": json.dumps(d["box"]),
                "keypoints": json.dumps({k: [round(v[0], 1), round(v[1], 1)] for k, v in d["keypoints"].items()}),
                "aligned": bool(cfg["align"] and d["keypoints"])}
        for c, (crop, t) in enumerate(_crops(photo, d, rec, cfg, rng)):
            store.append(crop)
            index.add({**base, "chunk": c, "augmented": c > 0, "augment": json.dumps(t) if t else ""})
            if c == 0 and i in sample_set:
                _draw_sample(out / "samples" / f"sample_{n_samples:02d}.png", photo, cands, j, crop,
                             f"{rec['person']} ({rule}, {len(cands)} face{'s' if len(cands) != 1 else ''})")
                n_samples += 1
    store.close()
    index.flush()
    return rules_used


def build(spec: dict, manifest: str | Path, out_dir: str | Path, progress: bool = True,
          prefix: str = "faces", backend: Backend | None = None) -> dict:
    """``backend``: where MTCNN runs (``facevoice.parallel``; None: in this process); the crops are made here.
    Per-photo state streams: detections go to a temporary file as they arrive, crops and index rows to disk."""
    cfg = check(spec, prefix)
    df = read_table(manifest).reset_index(drop=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("samples/*.png"):
        old.unlink()
    rejects = Rejects(stage="faces")
    bal = cfg["balance"]
    keep, why = cap(df, bal["max_people"], bal["max_photos"], cfg["seed"])
    for i in np.flatnonzero(~keep):
        rejects.add(df.at[i, "path"], why[i])
    todo = df[keep].reset_index(drop=True)
    found = _detect_all(list(todo["path"]), cfg, progress, backend)
    index = _Index(out / "index.csv", COLUMNS)
    try:
        rules_used = _crop_all(todo, found, cfg, out, rejects, index, progress)
    finally:
        found[0].file.close()
    rejects.write(out / "rejects.csv")
    _check_counts(len(df), index.photos, rejects, out, prefix)
    size, seconds = cfg["size"], found[4]
    summary = {
        "photos": len(df), "kept": index.photos, "rejected": len(rejects), "crops": index.written,
        "augmented": index.augmented, "people": len(index.people), "splits": index.splits,
        "detector": cfg["detector"], "rules": rules_used, "shape": [size, size, 1 if cfg["color"] == "grey" else 3],
        "multi_face_photos": int((found[2] > 1).sum()), "reject_reasons": _reasons(rejects),
    }
    if not len(df):
        summary["skipped"] = f"no photos in {manifest} (no faces in this corpus: prepare.faces is null)"
    # the timing goes to the stage's log, not into the output: the same photos must give the same bytes, or
    # every stage downstream of faces would rerun after any rerun of this one
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "params.json").write_text(json.dumps({**spec, "kind": "faces"}, indent=2))  # to crop new photos (CLI)
    return {**summary, "detect_seconds": round(seconds, 2),
            "detect_photos_per_second": round(len(todo) / seconds, 2) if seconds else None}


def _reasons(rejects: Rejects) -> dict:
    return rejects.frame()["reason"].str.split(" \\(").str[0].value_counts().to_dict() if len(rejects) else {}


def _check_counts(found: int, kept: int, rejects: Rejects, out: Path, prefix: str) -> None:
    if kept + len(rejects) != found:
        raise AssertionError(f"faces: found {found} photos != kept {kept} + rejected {len(rejects)}")
    if found and not kept:  # fail, so DVC keeps no lock entry for a store the next stages cannot use
        raise FacevoiceError(f"faces: every one of the {found} photos was rejected (first reason: "
                             f"{rejects.rows[0]['reason'][:200]!r}; all in {out / 'rejects.csv'}); "
                             f"check params.yaml '{prefix}' and the source")
