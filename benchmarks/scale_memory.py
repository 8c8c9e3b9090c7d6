"""Peak memory of ``faces`` and ``features@mfcc`` on a corpus and on the same corpus 10 times over (goal: the 10x
run peaks at <= 1.2x the 1x run: per-file state streams to disk instead of growing with the corpus).

    .venv/bin/python benchmarks/scale_memory.py [--photos 48] [--clips 80] [--times 10] [--manifests data/manifests]

The corpus is the first ``--photos`` photos and ``--clips`` clips of the manifests; the large one repeats each row
``--times`` times (the same files through symlinks, so the work per row is the same). Each (stage, size) runs in a
fresh process on the default (local) backend with params.yaml's ``faces`` / ``features.mfcc`` (mfcc with 1
worker: everything in the measured process); the peak is ``ru_maxrss`` of that process. Prints one JSON line per run and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def child(stage: str, manifest: Path) -> dict:
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    out = Path(tempfile.mkdtemp(prefix="scale_mem"))
    if stage == "faces":
        from facevoice.faces import build

        summary = build(params["faces"], manifest, out / "faces", progress=False)
        n = summary["photos"]
    else:
        from facevoice.features import build

        n = build("mfcc", params["features"]["mfcc"], manifest, out / "mfcc", workers=1, progress=False)["clips"]
    return {"stage": stage, "rows": n, "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def corpus(manifest: Path, rows: int, times: int, out: Path) -> Path:
    """The first ``rows`` rows, ``times`` over: copy k > 0 of a file is a symlink ``<out>.files/k/<i><suffix>``
    (stages count distinct paths), with source ids suffixed ``#k``."""
    import pandas as pd

    df = pd.read_csv(manifest, dtype=str, keep_default_na=False).head(rows)
    copies = [df]
    for k in range(1, times):
        c = df.copy()
        links = out.with_suffix(".files") / str(k)
        links.mkdir(parents=True)
        for i, path in enumerate(df["path"]):
            (links / f"{i}{Path(path).suffix}").symlink_to((ROOT / path).resolve())
        c["path"] = [str(links / f"{i}{Path(p).suffix}") for i, p in enumerate(df["path"])]
        c["source_id"] = c["source_id"] + f"#{k}"
        copies.append(c)
    pd.concat(copies, ignore_index=True).to_csv(out, index=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=48)
    ap.add_argument("--clips", type=int, default=80)
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--manifests", type=Path, default=ROOT / "data" / "manifests")
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "MANIFEST"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], Path(a.child[1]))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="scale_mem"))
    ratios = {}
    for stage, name, rows in (("faces", "faces.csv", a.photos), ("mfcc", "voices.csv", a.clips)):
        peaks = []
        for times in (1, a.times):
            m = corpus(a.manifests / name, rows, times, tmp / f"{stage}_{times}.csv")
            out = subprocess.run([sys.executable, __file__, "--child", stage, str(m)], capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps({**result, "times": times}), flush=True)
            peaks.append(result["peak_mb"])
        ratios[stage] = round(peaks[1] / peaks[0], 3)
    print(json.dumps({"peak_ratio_10x_vs_1x": ratios, "goal": 1.2}))


if __name__ == "__main__":
    main()
