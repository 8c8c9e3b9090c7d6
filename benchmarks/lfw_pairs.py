"""dlib's pretrained face embedding on LFW's standard 10-fold pair verification (``lfw_dev``'s usable pairs).

    .venv/bin/python benchmarks/lfw_pairs.py [--root ../shared/datasets/lfw_dev] [--per-fold 0] [--workers 2]
                                             [--upsample 1] [--json out.json] [--save raw.npz]

Each photo that appears in a usable pair (5,274 of pairs.txt's 6,000 in lfw_dev: 6,592 photos) is embedded
once by ``facevoice.faces.embed.DlibEmbedder``: HOG detector (else the CNN detector, else the central box),
5-point landmarks, aligned 150 x 150 chip, ResNet descriptor of the chip *and* of its mirror image. From the
same run come both variants: ``plain`` (the chip's descriptor) and ``flip`` (mean of chip and mirror), each
scaled to unit length and compared by cosine similarity; ``facevoice.protocols.lfw_pairs.ten_fold`` picks
each fold's threshold on the other nine. Printed: accuracy mean ± std over folds (and the standard error),
ROC AUC, EER, TAR at FAR = 0.001, how faces were located, and speed: photos/s of each variant (plain:
read + locate + chip + one network pass; flip: one more pass) per worker process and for all workers.
``--per-fold N`` uses the first N/2 matched and N/2 mismatched usable pairs of each fold (a quicker check).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facevoice.faces import embed as E
from facevoice.parallel import imap
from facevoice.protocols.lfw_pairs import first_per_fold, read_pairs, ten_fold


def describe_photo(job: tuple) -> dict:
    """Raw descriptors of one photo's chip and mirrored chip, how the face was found, and the seconds spent."""
    path, upsample = job
    e = E.shared_embedder(upsample)  # loaded once per worker process
    t0 = time.perf_counter()
    rgb = E.read_rgb(path)
    rect, how = e.locate(rgb)
    chip = e.align(rgb, rect)
    t1 = time.perf_counter()
    plain = e.describe([chip])[0]
    t2 = time.perf_counter()
    mirror = e.describe([chip[:, ::-1]])[0]
    t3 = time.perf_counter()
    return {"plain": plain, "mirror": mirror, "how": how, "t_locate": t1 - t0, "t_net": t2 - t1,
            "t_net2": t3 - t2}


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def evaluate(pairs, index: dict, vectors: np.ndarray) -> dict:
    left = vectors[[index[p] for p in pairs["left"]]]
    right = vectors[[index[p] for p in pairs["right"]]]
    scores = np.sum(left * right, axis=1)
    return ten_fold(scores, pairs["same"].to_numpy(), pairs["fold"].to_numpy())


def line(name: str, r: dict, photos_s: float) -> str:
    return (f"{name:6s} accuracy {r['accuracy']:.4f} ± {r['accuracy_std']:.4f} (sem {r['accuracy_sem']:.4f})  "
            f"AUC {r['auc']:.4f}  EER {r['eer']:.4f}  TAR@FAR={r['far']:g} {r['tar_at_far']:.4f}  "
            f"{photos_s:.1f} photos/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "datasets" / "lfw_dev")
    ap.add_argument("--per-fold", type=int, default=0, help="first N usable pairs of each fold (0: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--upsample", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write the numbers (without the ROC arrays) here")
    ap.add_argument("--save", type=Path, help="write the raw descriptors here (.npz: photos, plain, mirror, how)")
    args = ap.parse_args()

    pairs, missing = read_pairs(args.root / "pairs.txt", args.root / "lfw-deepfunneled")
    print(f"pairs.txt: {len(pairs) + len(missing)} pairs, {len(pairs)} usable, {len(missing)} with a missing photo")
    pairs = first_per_fold(pairs, args.per_fold)
    photos = sorted(set(pairs["left"]) | set(pairs["right"]))
    print(f"evaluating {len(pairs)} pairs ({int(pairs['same'].sum())} matched), {len(photos)} photos, "
          f"{args.workers} worker(s), HOG upsample {args.upsample}")
    t0 = time.perf_counter()
    out = list(imap(describe_photo, [(p, args.upsample) for p in photos], args.workers, desc="photos"))
    wall = time.perf_counter() - t0
    index = {p: i for i, p in enumerate(photos)}
    plain = np.stack([o["plain"] for o in out]).astype(np.float64)
    mirror = np.stack([o["mirror"] for o in out]).astype(np.float64)
    hows = {h: sum(o["how"] == h for o in out) for h in ("hog", "cnn", "central")}
    t_loc, t_net = (float(np.mean([o[k] for o in out])) for k in ("t_locate", "t_net"))
    speed = {"plain": 1 / (t_loc + t_net), "flip": 1 / (t_loc + 2 * t_net)}
    results = {"plain": evaluate(pairs, index, unit_rows(plain)),
               "flip": evaluate(pairs, index, unit_rows(plain + mirror))}  # as DlibEmbedder.embed
    print(f"faces located: {hows['hog']} by the HOG detector, {hows['cnn']} by the CNN detector, "
          f"{hows['central']} by the central box")
    print(f"per photo (one process): read+locate+chip {t_loc * 1000:.1f} ms, network pass {t_net * 1000:.1f} ms; "
          f"this run: {len(photos) / wall:.1f} photos/s with {args.workers} worker(s) (both variants at once)")
    for name, r in results.items():
        print(line(name, r, speed[name]) + f" per worker, ~{speed[name] * args.workers:.1f} with {args.workers}")
    if args.save:
        np.savez_compressed(args.save, photos=np.array(photos), plain=plain, mirror=mirror,
                            how=np.array([o["how"] for o in out]))
    if args.json:
        drop = {"fpr", "tpr"}
        blob = {k: {kk: vv for kk, vv in r.items() if kk not in drop} for k, r in results.items()}
        blob.update(faces=hows, photos=len(photos), wall_s=wall, ms_locate=t_loc * 1000, ms_net=t_net * 1000,
                    workers=args.workers, upsample=args.upsample)
        args.json.write_text(json.dumps(blob, indent=1))


if __name__ == "__main__":
    main()
