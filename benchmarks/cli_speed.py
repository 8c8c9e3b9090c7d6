"""The ``facevoice`` command's speed and memory, each run a whole process (what a user waits for):

* ``verify`` of two lfw_dev photos (#30's goal: under 1.5 s wall and 400 MB; no TensorFlow on this path);
* ``verify`` of two speechocean762 clips (goal: under 2.5 s);
* ``find`` over N lfw_dev photos (default 1,000; goal: >= 10 photos/s on 2 cores), with a cold embedding cache
  and again with the warm one.

    .venv/bin/python benchmarks/cli_speed.py [--runs 5] [--photos 1000] [--workers 2] [--skip-find]

Each figure is the median (and min-max) of ``--runs`` runs after one warm-up run; memory is the peak resident set
of the process (``os.wait4``'s ru_maxrss; for ``find``, the largest of the command and its worker processes is not
included: workers are separate processes). Photos and clips come from ../shared/datasets; a run's gallery and cache
live in a temporary folder. This is a measurement, not a test: shared machines are noisy.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
BIN = Path(sys.executable).parent / "facevoice"


def timed(argv: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run of the command."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(argv)} failed: {proc.stderr.read().decode().strip()}")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def series(label: str, argv: list[str], env: dict, runs: int, goal: str) -> list[float]:
    timed(argv, env)  # warm-up: page cache, the HOG detector's cache file
    results = [timed(argv, env) for _ in range(runs)]
    walls, mbs = [r[0] for r in results], [r[1] for r in results]
    print(f"{label}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
          f"peak RSS median {statistics.median(mbs):.0f} MB ({goal})")
    return walls


def lfw_photos(n: int) -> list[Path]:
    root = SHARED / "lfw_dev"
    with open(root / "manifest.csv", newline="") as fh:
        return [root / row["path"] for row in csv.DictReader(fh)][:n]


def bench_find(args, env: dict, tmp: Path) -> None:
    folder = tmp / "photos"
    folder.mkdir()
    photos = lfw_photos(args.photos)
    for i, p in enumerate(photos):
        (folder / f"{i:05d}_{p.name}").symlink_to(p)
    argv = [str(BIN), "find", str(photos[0]), str(folder), "--quiet", "--workers", str(args.workers)]
    shutil.rmtree(env["FACEVOICE_GALLERY"], ignore_errors=True)
    cold, mb, _ = timed(argv, env)
    warm, _, _ = timed(argv, env)
    print(f"find over {len(photos)} photos, {args.workers} workers: cold cache {cold:.1f} s = "
          f"{len(photos) / cold:.1f} photos/s (goal >= 10), main process peak {mb:.0f} MB; "
          f"warm cache {warm:.1f} s = {len(photos) / warm:.0f} photos/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-find", action="store_true")
    args = ap.parse_args(argv)
    if not (SHARED / "lfw_dev/manifest.csv").exists() or not (SHARED / "speechocean762/manifest.csv").exists():
        sys.exit(f"needs lfw_dev and speechocean762 under {SHARED}")
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "FACEVOICE_GALLERY": str(Path(d) / "gallery")}
        a, b = (SHARED / "lfw_dev/lfw-deepfunneled/Colin_Farrell" / f"Colin_Farrell_000{i}.jpg" for i in (1, 2))
        series("verify two photos", [str(BIN), "verify", str(a), str(b)], env, args.runs, "goal < 1.5 s, 400 MB")
        c, e = sorted((SHARED / "speechocean762/audio/0482").glob("*.flac"))[:2]
        series("verify two clips", [str(BIN), "verify", str(c), str(e)], env, args.runs, "goal < 2.5 s")
        if not args.skip_find:
            bench_find(args, env, Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
