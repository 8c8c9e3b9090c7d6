"""Peak memory of ``prepare`` and of every feature stage on one long clip (default 60 minutes, 44.1 kHz mono).

    .venv/bin/python benchmarks/long_clip_memory.py [--minutes 60] [--format mp3|wav] [--before]

A corpus of two speakers (five 1-second clips each) plus the long clip is generated in a temporary folder
(written in blocks); ``prepare`` (with ``prepare.max_clip_seconds`` from params.yaml, or none with ``--before``)
and then each entry of params.yaml's ``features`` run in a fresh process, two workers as in the stages. Each
prints the peak resident set (``resource.getrusage``) of the process itself and of its largest worker.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}
SR = 44100


def make_corpus(root: Path, minutes: float, fmt: str) -> Path:
    """Short clips for ann and bob, and ann's long clip: a voiced tone with a syllable rhythm and some noise."""
    rng = np.random.default_rng(0)
    for person, f0 in (("ann", 210.0), ("bob", 115.0)):
        (root / person).mkdir(parents=True, exist_ok=True)
        for i in range(5):
            t = np.arange(16000) / 16000
            sf.write(root / person / f"{i}.wav", (0.3 * np.sin(2 * np.pi * (f0 + 9 * i) * t)).astype(np.float32), 16000)
    wav = root / "ann" / "long.wav"
    with sf.SoundFile(str(wav), "w", samplerate=SR, channels=1, subtype="PCM_16") as out:
        for start in range(0, int(minutes * 60), 60):  # a minute at a time
            t = start + np.arange(60 * SR) / SR
            voice = np.sin(2 * np.pi * 210 * t) * np.maximum(0, np.sin(2 * np.pi * 4 * t))
            out.write((0.3 * voice + 0.01 * rng.standard_normal(t.size)).astype(np.float32))
    if fmt == "wav":
        return wav
    import imageio_ffmpeg

    mp3 = wav.with_suffix(".mp3")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-b:a", "128k", str(mp3)],
                   check=True)
    wav.unlink()
    return mp3


def _hwm_mb(pid: int | str) -> float:
    """Peak resident set (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _descendants(pid: int | str) -> list[str]:
    kids = [c for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return kids + [g for k in kids for g in _descendants(k)]


def peaks() -> dict:
    """Peak resident set in MB of this process and of its largest worker: VmHWM of the workers still alive (a pool
    outlives the map), ru_maxrss of those already reaped."""
    workers = [_hwm_mb(pid) for pid in _descendants("self") if Path(f"/proc/{pid}").exists()]
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    return {"self_mb": round(_hwm_mb("self")), "largest_worker_mb": round(max([reaped, *workers]))}


def child_prepare(corpus: str, out: str, max_seconds: float | None) -> dict:
    from facevoice.prepare import prepare

    counts = prepare({"voices": {"source": "folder", "root": corpus}}, SPLIT, out, workers=2, max_seconds=max_seconds,
                     silence_dbfs=-60, min_duration=0.3)
    return {"rows": sum(1 for _ in open(Path(out) / "voices.csv")) - 1, "kept_files": counts["voices"]["kept"]}


def child_feature(name: str, manifest: str, out: str) -> dict:
    from facevoice.features import build

    params = yaml.safe_load((ROOT / "params.yaml").read_text())["features"][name]
    build(name, {**params, "workers": 2}, manifest, out, workers=2, progress=False)
    return {}


def run_child(args: list[str]) -> dict:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["?"])[-1]}
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--format", choices=["mp3", "wav"], default="mp3")
    ap.add_argument("--before", action="store_true", help="no max_clip_seconds: the clip decoded whole")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_prepare(rest[0], rest[1], None if rest[2] == "none" else float(rest[2])) if kind == "prepare" \
            else child_feature(*rest)
        print(json.dumps({**out, **peaks()}))
        return
    limit = yaml.safe_load((ROOT / "params.yaml").read_text())["prepare"].get("max_clip_seconds")
    limit = "none" if args.before or limit is None else str(limit)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_corpus(tmp / "corpus", args.minutes, args.format)
        print(f"{clip.name}: {args.minutes:g} min, {clip.stat().st_size / 1e6:.0f} MB, max_clip_seconds {limit}")
        print("prepare", run_child(["prepare", str(tmp / "corpus"), str(tmp / "manifests"), limit]), flush=True)
        for name in yaml.safe_load((ROOT / "params.yaml").read_text())["features"]:
            print(f"features@{name}", run_child(["feature", name, str(tmp / "manifests/voices.csv"),
                                                  str(tmp / "features" / name)]), flush=True)


if __name__ == "__main__":
    main()
