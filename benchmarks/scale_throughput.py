"""Throughput of the per-file stages on each ``parallel`` backend, in one run: MTCNN detection (``faces``) in photos
per second and ``features@mfcc`` in seconds of audio per second, on the local backend and on Ray with 1 and 2
workers (an in-process cluster, ``address: local``, of that many CPUs).

    .venv/bin/python benchmarks/scale_throughput.py [--photos 96] [--clips 160] [--manifests data/manifests]

Each configuration runs in a fresh process: the stage body (``facevoice.faces.build`` with params.yaml's
``faces``, ``facevoice.features.build`` with ``features.mfcc``) runs twice on the first ``--photos`` photos and
``--clips`` clips of the manifests, and the second run is timed (MTCNN: the stage's own detection clock,
``detect_photos_per_second``; mfcc: the whole call) (the first starts the pool or the actors and
loads TensorFlow and MTCNN in them: once per worker, a fixed cost a long corpus amortises). Local: faces detect in
the stage's own process (as ``dvc repro`` does by default), mfcc in 2 loky workers. Prints a JSON line per
configuration, then the 2-vs-1 worker speed-ups (the issue's goal: >= 1.8x; it needs 2 idle cores).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CONFIGS = (("local", 0), ("ray", 1), ("ray", 2))


def _timed(run) -> tuple[float, dict]:
    run()  # warm: pool or actors started, models loaded
    t0 = time.perf_counter()
    out = run()
    return time.perf_counter() - t0, out


def child(kind: str, workers: int, manifests: Path, photos: int, clips: int) -> dict:
    import pandas as pd
    import yaml

    from facevoice.faces import build as faces
    from facevoice.features import build as features
    from facevoice.parallel import Backend

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    backend = Backend(kind=kind, address="local", workers=workers)
    tmp = Path(tempfile.mkdtemp(prefix="scale_tp"))
    face_rows = pd.read_csv(manifests / "faces.csv").head(photos)
    voice_rows = pd.read_csv(manifests / "voices.csv").head(clips)
    face_rows.to_csv(tmp / "faces.csv", index=False)
    voice_rows.to_csv(tmp / "voices.csv", index=False)
    _, summary = _timed(lambda: faces(params["faces"], tmp / "faces.csv", tmp / "faces", progress=False,
                                      backend=backend))
    v, _ = _timed(lambda: features("mfcc", params["features"]["mfcc"], tmp / "voices.csv", tmp / "mfcc", workers=2,
                                progress=False, backend=backend))
    audio = float(voice_rows["duration"].sum())
    return {"backend": kind, "workers": workers or "stage's", "photos": len(face_rows),
            "mtcnn_photos_per_s": summary["detect_photos_per_second"], "clips": len(voice_rows),
            "audio_s": round(audio, 1), "mfcc_audio_s_per_s": round(audio / v, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=96)
    ap.add_argument("--clips", type=int, default=160)
    ap.add_argument("--manifests", type=Path, default=ROOT / "data" / "manifests")
    ap.add_argument("--child", nargs=2, metavar=("BACKEND", "WORKERS"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), a.manifests.resolve(), a.photos, a.clips)))
        return
    rows = {}
    for kind, workers in CONFIGS:
        out = subprocess.run([sys.executable, __file__, "--child", kind, str(workers), "--photos", str(a.photos),
                              "--clips", str(a.clips), "--manifests", str(a.manifests.resolve())],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        rows[(kind, workers)] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(rows[(kind, workers)]), flush=True)
    one, two = rows[("ray", 1)], rows[("ray", 2)]
    print(json.dumps({"speedup_2_vs_1_workers": {
        "mtcnn": round(two["mtcnn_photos_per_s"] / one["mtcnn_photos_per_s"], 2),
        "mfcc": round(two["mfcc_audio_s_per_s"] / one["mfcc_audio_s_per_s"], 2)}, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
