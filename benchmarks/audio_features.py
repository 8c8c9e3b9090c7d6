"""Seconds of audio featurised per second (load + resample + mel + MFCC), features.build's parallel path vs a
plain one-file-at-a-time librosa loop, in the same run; and peak memory as the number of clips grows.

    .venv/bin/python benchmarks/audio_features.py [--clips 960] [--workers 2] [--grow 120,480,1920]
                                                  [--format wav|mp3] [--rate 22050|16000|48000]

Clips: generated speech-like signals (a gliding harmonic voice with syllable envelopes and noise), 1-8 s at
``--rate`` (22.05 kHz like the synthetic corpus; 16 kHz like LibriSpeech and VoxCeleb; 48 kHz mp3 like
Common Voice), written to a temp dir. The parallel path is ``facevoice.features.build`` with params.yaml's
``features.mfcc`` (worker processes, results streamed to disk through ArrayStore), timed from the call to
the finished ``.npy``: once with worker start-up and imports included, then again with the workers joblib
keeps (the rate on a long corpus). The plain loop is ``librosa.load(path, sr=16000)`` + ``melspectrogram``
+ ``mfcc`` per file in this process with the same sr / n_fft / hop / n_mfcc (librosa already imported and
warmed on one file, to be fair to it). Both give the same numbers (the kernels in facevoice.audio.dsp are
tested against librosa), so the difference is speed alone: no librosa import in the workers, int16 decoded
by NumPy, cached sparse filter banks, float32 FFT, no mmap per array, and 2 workers. Memory: each size
runs in a fresh process; ``ru_maxrss`` of the parent and of its largest worker are reported.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 22050


def make_clips(d: Path, n: int, seed: int = 0, fmt: str = "wav", rate: int = SR) -> tuple[Path, float]:
    """``n`` clips (1-8 s) at ``rate`` Hz and a manifest; returns (manifest path, total seconds of audio)."""
    import pandas as pd
    import soundfile as sf

    rng = np.random.default_rng(seed)
    rows, total = [], 0.0
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dur = float(rng.uniform(1, 8))
        t = np.arange(int(dur * rate)) / rate
        f0 = rng.uniform(90, 260) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voice = sum(np.sin(k * phase) / k for k in range(1, 8))
        env = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t), 0, None) ** 0.5
        y = 0.2 * voice * env + 0.01 * rng.normal(size=t.size)
        path = d / f"clip{i:05d}.{fmt}"
        if fmt == "mp3":
            sf.write(str(path), y.astype(np.float32), rate, format="MP3", subtype="MPEG_LAYER_III")
        else:
            sf.write(str(path), y.astype(np.float32), rate, subtype="PCM_16")
        total += dur
        rows.append({"path": str(path), "person": f"p{i % 12}", "gender": "unknown", "language": "unknown",
                     "source_id": f"s{i}", "corpus": "bench", "split": "train"})
    manifest = d / "voices.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, total


def plain_loop(paths) -> None:
    """The same work as features.mfcc (params.yaml's sr, n_fft, hop, n_mfcc), one file after another."""
    import librosa

    from facevoice import params as P

    p = P.load(ROOT / "params.yaml")["features"]["mfcc"]
    for path in paths:
        y, sr = librosa.load(path, sr=p["sr"])
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=p["n_fft"], hop_length=p["hop"])
        librosa.feature.mfcc(S=librosa.power_to_db(S=mel), n_mfcc=p["n_mfcc"])


def parallel_path(manifest: Path, out: Path, workers: int) -> dict:
    from facevoice import params as P
    from facevoice.features import build

    p = dict(P.load(ROOT / "params.yaml")["features"]["mfcc"])
    p["trim_db"] = None  # time the same work as the plain loop: no silence trimming
    return build("mfcc", p, manifest, out, workers=workers, progress=False)


def child(manifest: str, out: str, workers: int) -> None:
    """One memory-measurement run (a fresh process); worker RSS is sampled every 0.2 s (loky keeps them alive)."""
    import threading

    import psutil

    peak = {"workers": 0.0}
    done = threading.Event()

    def sample():
        me = psutil.Process()
        while not done.is_set():
            try:
                rss = [c.memory_info().rss for c in me.children(recursive=True)]
            except psutil.Error:
                rss = []
            peak["workers"] = max(peak["workers"], max(rss, default=0) / 2 ** 20)
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.time()
    parallel_path(Path(manifest), Path(out), workers)
    seconds = time.time() - t
    done.set()
    th.join()
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "parent_mb": me, "worker_mb": peak["workers"]}))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=960)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grow", default="120,480,1920", help="clip counts for the memory table ('' to skip)")
    ap.add_argument("--format", default="wav", choices=["wav", "mp3"], help="clip format")
    ap.add_argument("--rate", type=int, default=SR, help="clips' sample rate (22050: synthetic corpus; 16000: "
                    "LibriSpeech, VoxCeleb; 48000: Common Voice); features are computed at params' sr")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]))
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="bench_audio_") as tmp:
        tmp = Path(tmp)
        manifest, total = make_clips(tmp / "clips", a.clips, fmt=a.format, rate=a.rate)
        paths = list(pd.read_csv(manifest)["path"])
        t = time.time()
        summary = parallel_path(manifest, tmp / "out", a.workers)
        par = time.time() - t
        t = time.time()  # again: joblib keeps the worker processes, so this is the rate once they run
        parallel_path(manifest, tmp / "out_warm", a.workers)
        warm = time.time() - t
        import librosa  # noqa: F401

        plain_loop(paths[:1])  # warm librosa (imports, numba) for the plain loop
        t = time.time()
        plain_loop(paths)
        plain = time.time() - t
        from facevoice import params as P
        from facevoice.audio.loader import load

        sr = P.load(ROOT / "params.yaml")["features"]["mfcc"]["sr"]
        load(paths[0], sr=sr)
        t = time.time()  # the part every path must do, with the same resampler: decode + soxr_hq
        for path in paths:
            load(path, sr=sr)
        shared = time.time() - t
        rows = [("features.build (mfcc, %d workers), worker start-up included" % a.workers, par),
                ("features.build (mfcc, %d workers), workers already running" % a.workers, warm),
                ("plain librosa loop (1 file at a time)", plain)]
        print(f"\n{a.clips} {a.format} clips at {a.rate} Hz, {total:.0f} s of audio, {summary['samples']} samples "
              f"written\n")
        print("| path | wall s | x real time | x plain loop |\n|---|---|---|---|")
        for name, sec in rows:
            print(f"| {name} | {sec:.2f} | {total / sec:.0f} | {plain / sec:.2f} |")
        print(f"| decode + resample alone (facevoice's loader, 1 process) | {shared:.2f} | {total / shared:.0f} | "
              f"{plain / shared:.2f} |")
        print(f"\nCeiling: decoding and resampling (soxr_hq, as librosa) are work every path must do, so even with "
              f"free spectrograms {a.workers} workers can be at most {a.workers} x {plain:.2f} / {shared:.2f} = "
              f"{a.workers * plain / shared:.1f}x the plain loop on these clips.")

        grow = [int(n) for n in a.grow.split(",") if n]
        if grow:
            print("\n| clips | audio s | wall s | x real time | parent peak MB | worker peak MB |\n|---|---|---|---|---|---|")
            base = pd.read_csv(manifest)
            for n in grow:
                reps = int(np.ceil(n / len(base)))
                big = pd.concat([base] * reps, ignore_index=True).iloc[:n].copy()
                big["source_id"] = [f"s{i}" for i in range(n)]
                links = tmp / f"links{n}"
                links.mkdir()
                for i, p in enumerate(list(big["path"])):  # distinct paths (a manifest lists a clip once)
                    (links / f"c{i:06d}{Path(p).suffix}").symlink_to(p)
                big["path"] = [str(links / f"c{i:06d}{Path(p).suffix}") for i, p in enumerate(big["path"])]
                mpath = tmp / f"m{n}.csv"
                big.to_csv(mpath, index=False)
                audio = float(sum(sf_dur(p) for p in big["path"]))
                res = subprocess.run([sys.executable, __file__, "--child", str(mpath), str(tmp / f"o{n}"), str(a.workers)],
                                     capture_output=True, text=True, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                print(f"| {n} | {audio:.0f} | {r['seconds']:.1f} | {audio / r['seconds']:.0f} | {r['parent_mb']:.0f} | "
                      f"{r['worker_mb']:.0f} |")


def sf_dur(path: str) -> float:
    import soundfile as sf

    info = sf.info(path)
    return info.frames / info.samplerate


if __name__ == "__main__":
    main()
