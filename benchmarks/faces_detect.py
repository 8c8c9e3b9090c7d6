"""Photos per second for MTCNN detect + crop on this machine: batched against one photo at a time, same run.

Renders ``--photos`` synthetic 250x250 photos (a fifth with a bystander), warms each batch size up once
(TensorFlow traces a graph per input shape), then times detect + choose (central) + aligned crop to
32x32 grey for each batch size. Prints a table (paste it into docs/FACE_RESULTS.md).

    python benchmarks/faces_detect.py [--photos 64] [--batch-sizes 1 8 32]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def photos(n: int, seed: int = 3) -> list:
    import numpy as np

    from facevoice.sources.synthetic.faces import make_identity, render_photo

    ids = [make_identity(np.random.default_rng([seed, i]), "male" if i % 2 else "female") for i in range(9)]
    out = []
    for k in range(n):
        rng = np.random.default_rng([seed, 100 + k])
        out.append(render_photo(ids[k % 8], rng, bystander=ids[8] if k % 5 == 0 else None)[0])
    return out


def detect_and_crop(detector, batch: list) -> int:
    from facevoice.faces.choose import accepted, choose
    from facevoice.faces.crop import frame_matrix, to_channels, warp

    kept = 0
    for img, dets in zip(batch, detector.detect_batch(batch)):
        dets = accepted(dets, 0.8, 20)
        if dets:
            j, _ = choose("central", dets, img.shape)
            to_channels(warp(img, frame_matrix(dets[j]["box"], dets[j]["keypoints"], 32, 0.15, True), 32), "grey")
            kept += 1
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=64)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    args = ap.parse_args()
    from facevoice.faces.detect import Mtcnn

    t = time.perf_counter()
    Mtcnn.model()
    load = time.perf_counter() - t
    imgs = photos(args.photos)
    warm = photos(max(args.batch_sizes), seed=4)
    rows = []
    for bs in args.batch_sizes:
        det = Mtcnn(batch_size=bs, min_face_size=20)
        detect_and_crop(det, warm[:bs])
        t = time.perf_counter()
        kept = sum(detect_and_crop(det, imgs[i:i + bs]) for i in range(0, len(imgs), bs))
        sec = time.perf_counter() - t
        rows.append((bs, len(imgs), kept, sec))
    print(f"MTCNN detect + crop, {args.photos} synthetic 250x250 photos, {os.cpu_count()} cores "
          f"(model load {load:.1f} s, not counted)\n")
    print("| batch size | photos | faces kept | seconds | photos/s | ms/photo |")
    print("|---|---|---|---|---|---|")
    for bs, n, kept, sec in rows:
        print(f"| {bs} | {n} | {kept} | {sec:.1f} | {n / sec:.1f} | {1000 * sec / n:.0f} |")


if __name__ == "__main__":
    main()
