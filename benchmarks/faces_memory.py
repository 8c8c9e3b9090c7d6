"""Peak memory and seconds of MTCNN on one large photo: detected downscaled to ``faces.max_side`` vs full size.

Draws a synthetic 250x250 face photo into a ``--size`` photo (the face scaled to the photo's height), then,
for each ``--max-sides`` value (0: no limit, the full-size photo goes to MTCNN), runs ``Mtcnn.detect_batch``
in a fresh Python process and reads its peak resident memory (``resource.getrusage``: ``ru_maxrss``) after
the model load and after detection (the second of two calls is timed: the first traces TensorFlow graphs).
Prints a table (paste it into docs/FACE_RESULTS.md) and how far each box is from the full-size one.

    python benchmarks/faces_memory.py [--size 3000x2000] [--max-sides 1024 0]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def large_photo(width: int, height: int, seed: int = 3):
    """A ``width`` x ``height`` BGR photo holding one drawn face, scaled up from a 250x250 synthetic photo."""
    import cv2
    import numpy as np

    from facevoice.sources.synthetic.faces import make_identity, render_photo

    face, _ = render_photo(make_identity(np.random.default_rng(seed), "female"), np.random.default_rng(seed + 1))
    side = min(width, height)
    photo = np.full((height, width, 3), 90, np.uint8)
    left, top = (width - side) // 2, (height - side) // 2
    photo[top:top + side, left:left + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return photo


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(width: int, height: int, max_side: int) -> dict:
    """One measurement, in this (fresh) process."""
    from facevoice.faces.detect import MTCNN_DEFAULTS, Mtcnn

    photo = large_photo(width, height)
    args = {k: v for k, v in MTCNN_DEFAULTS.items() if k != "batch_size"}
    detector = Mtcnn(max_side=max_side, **args)
    detector.model()
    loaded = peak_mb()
    detector.detect_batch([photo])
    t = time.perf_counter()
    dets = detector.detect_batch([photo])[0]
    seconds = time.perf_counter() - t
    shape = detector.shrink(photo)[0].shape[:2]
    return {"max_side": max_side, "detected_on": f"{shape[1]}x{shape[0]}", "model_mb": loaded, "peak_mb": peak_mb(),
            "seconds": seconds, "boxes": [d["box"] for d in dets]}


def measure(width: int, height: int, max_side: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", f"{width}x{height}", str(max_side)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def box_error(box, ref) -> float:
    """Largest corner or side difference, as a fraction of the reference box's longer side."""
    return max(abs(a - b) for a, b in zip(box, ref)) / max(ref[2:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="3000x2000", help="photo width x height")
    ap.add_argument("--max-sides", type=int, nargs="+", default=[1024, 0])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        w, h = (int(v) for v in args.child[0].split("x"))
        print(json.dumps(child(w, h, int(args.child[1]))))
        return
    w, h = (int(v) for v in args.size.split("x"))
    rows = [measure(w, h, side) for side in args.max_sides]
    ref = next((r["boxes"] for r in rows if r["max_side"] == 0), None)
    print(f"MTCNN on one {w}x{h} photo with a drawn face, {os.cpu_count()} cores; a fresh process per row\n")
    print("| max_side | detected on | peak RSS MB | over the loaded model MB | seconds | box | vs full size |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        err = f"{100 * box_error(r['boxes'][0], ref[0]):.1f}%" if ref and r["boxes"] else "-"
        box = r["boxes"][0] if r["boxes"] else "none"
        print(f"| {r['max_side'] or 'none (0)'} | {r['detected_on']} | {r['peak_mb']:.0f} | "
              f"{r['peak_mb'] - r['model_mb']:.0f} | {r['seconds']:.2f} | {box} | {err} |")


if __name__ == "__main__":
    main()
