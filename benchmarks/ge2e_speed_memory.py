"""GE2E speaker encoder: speed on one core and peak memory on a long clip (issue #28's targets: >= 150x real time
on one core; a 60-minute clip embedded in under 1 GB).

    python benchmarks/ge2e_speed_memory.py              # speed on 60 speechocean762 clips + a 60-minute clip
    python benchmarks/ge2e_speed_memory.py --minutes 20

Speed: CPU seconds of ``embed_file`` (decode, preprocessing, network) per second of audio, in a process limited to
one BLAS thread. Memory: the peak resident set (VmHWM) of a fresh process that embeds one generated clip of
``--minutes`` minutes (speechocean762 sentences played one after another, written as 16 kHz FLAC).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "datasets" / "speechocean762"
CHILD = """
import sys, time
import facevoice
from facevoice.audio.ge2e import embed_file
t = time.process_time()
for path in sys.argv[1:]:
    embed_file(path)
peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
print(time.process_time() - t, int(peak) / 1024)
"""


def run_child(paths: list[str]) -> tuple[float, float]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, check=True, env=env)
    cpu, peak = out.stdout.split()
    return float(cpu), float(peak)


def long_clip(minutes: float, out: Path) -> Path:
    import pandas as pd
    import soundfile as sf

    m = pd.read_csv(SPEECH / "manifest.csv")
    with sf.SoundFile(out, "w", samplerate=16000, channels=1, format="FLAC", subtype="PCM_16") as f:
        written, k = 0, 0
        while written < minutes * 60 * 16000:
            y, _ = sf.read(SPEECH / m["path"].iloc[k % len(m)], dtype="float32")
            f.write(y)
            written, k = written + len(y), k + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    import pandas as pd

    m = pd.read_csv(SPEECH / "manifest.csv").iloc[::10].head(args.clips)
    cpu, _ = run_child([str(SPEECH / p) for p in m["path"]])
    audio = float(m["duration_s"].sum())
    print(f"speed: {audio:.0f} s of speech in {cpu:.1f} CPU s on one thread: {audio / cpu:.0f}x real time")
    with tempfile.TemporaryDirectory() as d:
        path = long_clip(args.minutes, Path(d) / "long.flac")
        cpu, peak = run_child([str(path)])
        print(f"a {args.minutes:g}-minute clip: {cpu:.0f} CPU s ({args.minutes * 60 / cpu:.0f}x real time), "
              f"peak resident memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
