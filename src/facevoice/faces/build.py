"""The ``faces`` stage body: manifest photos -> balanced, detected, chosen, cropped, augmented uint8 faces."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, ParamsError
from ..params import Checked
from ..tables import LABEL_COLUMNS, Rejects, read_table
from . import augment as aug
from .balance import cap, too_few
from .choose import RULES, accepted, choose, embed, references
from .crop import frame_matrix, to_channels, warp
from .detect import DETECTORS, Mtcnn, check_mtcnn, read_photo, whole_photo

KEYS = {"detector", "mtcnn", "min_confidence", "min_size", "rule", "size", "color", "margin", "align", "augment",
        "balance", "samples", "seed"}


def check(spec: dict, prefix: str = "faces") -> dict:
    """Validate the ``faces`` params section; returns plain values (a bad one is a one-line ParamsError)."""
    p = Checked(spec, prefix)
    unknown = set(spec) - KEYS
    if unknown:
        raise ParamsError(f"params.yaml: unknown key(s) {', '.join(sorted(unknown))} in '{prefix}' "
                          f"(known: {', '.join(sorted(KEYS))})")
    b = p.sub("balance", {})
    out = {
        "detector": p.choice("detector", DETECTORS), "mtcnn": check_mtcnn(p.get("mtcnn", {}), f"{prefix}.mtcnn"),
        "min_confidence": p.float("min_confidence", 0.9, min=0, max=1), "min_size": p.int("min_size", 20, min=1),
        "rule": p.choice("rule", RULES, "largest"), "size": p.int("size", 48, min=8, max=512),
        "color": p.choice("color", ["grey", "rgb"], "grey"), "margin": p.float("margin", 0.15, min=0, max=1),
        "align": p.bool("align", True), "augment": aug.check(p.get("augment", {}), f"{prefix}.augment"),
        "balance": {"max_people": b.int("max_people", 0, min=0), "max_photos": b.int("max_photos", 0, min=0),
                    "min_photos": b.int("min_photos", 1, min=0)},
        "samples": p.int("samples", 6, min=0), "seed": p.int("seed", 42),
    }
    if out["size"] % 4:
        raise ParamsError(f"params.yaml: '{prefix}.size' must be a multiple of 4 (the conv models pool twice), "
                          f"got {out['size']}")
    return out


def _detect_all(paths: list[str], cfg: dict, progress: bool) -> tuple[list, list, list, float]:
    """Per photo: (accepted detections or None when unreadable, reason, shape), candidate embeddings; seconds."""
    n = len(paths)
    dets: list = [None] * n
    reasons: list = [None] * n
    embs: list = [None] * n
    t0 = time.perf_counter()
    if not n:
        return dets, reasons, embs, 0.0
    if cfg["detector"] == "none":
        for i, path in enumerate(paths):
            try:
                dets[i] = [whole_photo(read_photo(path).shape)]
            except InputError as exc:
                reasons[i] = exc.reason
        return dets, reasons, embs, time.perf_counter() - t0
    from tqdm import tqdm

    m = cfg["mtcnn"]
    detector = Mtcnn(batch_size=m["batch_size"], **{k: v for k, v in m.items() if k != "batch_size"})
    bs = m["batch_size"]
    with tqdm(total=n, desc="faces: mtcnn", disable=not progress, mininterval=1.0) as bar:
        for start in range(0, n, bs):
            idx, photos = [], []
            for i in range(start, min(n, start + bs)):
                try:
                    photos.append(read_photo(paths[i]))
                    idx.append(i)
                except InputError as exc:
                    reasons[i] = exc.reason
            order = sorted(range(len(idx)), key=lambda k: photos[k].shape[:2])
            found = detector.detect_batch([photos[k] for k in order])
            for k, raw in zip(order, found):
                i = idx[k]
                ok = accepted(raw, cfg["min_confidence"], cfg["min_size"])
                if not raw:
                    reasons[i] = "no face found"
                elif not ok:
                    best = max(raw, key=lambda d: d["confidence"])
                    reasons[i] = (f"no face accepted ({len(raw)} found; best confidence {best['confidence']:.3f}, "
                                  f"side {min(best['box'][2:])} px; need >= {cfg['min_confidence']} and >= "
                                  f"{cfg['min_size']} px)")
                dets[i] = ok
                if ok and cfg["rule"] == "consistent":
                    embs[i] = [embed(photos[k], d) for d in ok]
            bar.update(min(n, start + bs) - start)
    return dets, reasons, embs, time.perf_counter() - t0


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


def build(spec: dict, manifest: str | Path, out_dir: str | Path, progress: bool = True,
          prefix: str = "faces") -> dict:
    from ..store import ArrayStore

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

    dets, reasons, embs, seconds = _detect_all(list(todo["path"]), cfg, progress)
    ok = [r is None for r in reasons]
    persons = list(todo["person"])
    small = too_few([p for p, o in zip(persons, ok) if o], bal["min_photos"])
    refs = {}
    if cfg["rule"] == "consistent" and cfg["detector"] == "mtcnn":
        singles = [e[0] if (o and e is not None and len(e) == 1) else None for o, e in zip(ok, embs)]
        refs = references(persons, list(todo["split"]), singles)

    size, a = cfg["size"], cfg["augment"]
    rng = np.random.default_rng(cfg["seed"])
    store = ArrayStore(out / "x.npy")
    rows, n_samples = [], 0
    multi_first = sorted(range(len(todo)), key=lambda i: -(len(dets[i] or []) > 1))[:cfg["samples"]]
    sample_set = set(multi_first)
    keep_cols = ["path", *LABEL_COLUMNS, "split"]
    rules_used: dict[str, int] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="faces: crop", mininterval=1.0)
    for i, rec in enumerate(todo[keep_cols].to_dict("records")):
        if bar is not None:
            bar.update(1)
        if not ok[i]:
            rejects.add(rec["path"], reasons[i])
            continue
        if rec["person"] in small:
            rejects.add(rec["path"], f"balance: person has fewer than min_photos={bal['min_photos']} accepted photos")
            continue
        photo = read_photo(rec["path"])
        cands = dets[i]
        if cfg["detector"] == "none":
            j, rule = 0, "whole photo"
        else:
            j, rule = choose(cfg["rule"], cands, photo.shape, embs[i], refs.get(rec["person"]))
        rules_used[rule] = rules_used.get(rule, 0) + 1
        d = cands[j]
        frame = frame_matrix(d["box"], d["keypoints"], size, cfg["margin"], cfg["align"] and bool(d["keypoints"]),
                             whole=cfg["detector"] == "none")
        copies = a["copies"] if rec["split"] == "train" else 0
        base = {**rec, "detector": cfg["detector"], "rule": rule, "n_faces": len(cands),
                "confidence": round(d["confidence"], 4), "box": json.dumps(d["box"]),
                "keypoints": json.dumps({k: [round(v[0], 1), round(v[1], 1)] for k, v in d["keypoints"].items()}),
                "aligned": bool(cfg["align"] and d["keypoints"])}
        for c in range(copies + 1):
            if c == 0:
                crop = to_channels(warp(photo, frame, size), cfg["color"])
                t = None
            else:
                t = aug.draw(rng, a)
                crop = aug.photometric(to_channels(warp(photo, aug.matrix(t, size) @ frame, size), cfg["color"]), t)
            store.append(crop)
            rows.append({**base, "chunk": c, "augmented": c > 0, "augment": json.dumps(t) if t else ""})
            if c == 0 and i in sample_set:
                _draw_sample(out / "samples" / f"sample_{n_samples:02d}.png", photo, cands, j, crop,
                             f"{rec['person']} ({rule}, {len(cands)} face{'s' if len(cands) != 1 else ''})")
                n_samples += 1
    if bar is not None:
        bar.close()
    store.close()
    columns = [*keep_cols, "chunk", "augmented", "augment", "detector", "rule", "n_faces", "confidence", "box",
               "keypoints", "aligned"]
    index = pd.DataFrame(rows, columns=columns)
    index.to_csv(out / "index.csv", index=False)
    rejects.write(out / "rejects.csv")
    kept_photos = int((index["chunk"] == 0).sum()) if len(index) else 0
    if kept_photos + len(rejects) != len(df):
        raise AssertionError(f"faces: found {len(df)} photos != kept {kept_photos} + rejected {len(rejects)}")
    reasons_count = rejects.frame()["reason"].str.split(" \\(").str[0].value_counts().to_dict() if len(rejects) else {}
    summary = {
        "photos": len(df), "kept": kept_photos, "rejected": len(rejects), "crops": len(index),
        "augmented": int(index["augmented"].sum()) if len(index) else 0,
        "people": int(index["person"].nunique()) if len(index) else 0,
        "splits": {s: int(((index["split"] == s) & (index["chunk"] == 0)).sum()) for s in ("train", "val", "test")},
        "detector": cfg["detector"], "rules": rules_used, "shape": [size, size, 1 if cfg["color"] == "grey" else 3],
        "multi_face_photos": int(sum(1 for d in dets if d and len(d) > 1)),
        "reject_reasons": reasons_count,
    }
    if not len(df):
        summary["skipped"] = f"no photos in {manifest} (no faces in this corpus: prepare.faces is null)"
    # the timing goes to the stage's log, not into the output: the same photos must give the same bytes, or
    # every stage downstream of faces would rerun after any rerun of this one
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "params.json").write_text(json.dumps({**spec, "kind": "faces"}, indent=2))  # to crop new photos (CLI)
    return {**summary, "detect_seconds": round(seconds, 2),
            "detect_photos_per_second": round(len(todo) / seconds, 2) if seconds else None}
