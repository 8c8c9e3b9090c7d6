"""How long `dvc repro` takes: with nothing to do (goal <= 2 s wall on 2 cores) and, with ``--full``, the whole
default run from an empty ``data/`` in a fresh clone (goal <= 10 min), stage by stage.

    .venv/bin/python benchmarks/repro_speed.py            # no-op: 3 runs in this checkout (run `make repro` first)
    .venv/bin/python benchmarks/repro_speed.py --full     # + a fresh clone of HEAD, `dvc repro` timed per stage

The full run clones the committed HEAD into a temporary folder, runs ``dvc repro`` there with this checkout's
``src`` first on PYTHONPATH (the clone's own code), stamps each line DVC prints with the time since the start and
prints one row per stage (seconds, share of the total), then whether the clone's dvc.lock equals the committed
one (the fresh-clone reproducibility check of issue #14). Prints JSON at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env(src: Path | None = None) -> dict:
    out = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if src is not None:
        out["PYTHONPATH"] = str(src)
    return out


def noop(cwd: Path, runs: int = 3) -> list[float]:
    """Wall seconds of ``dvc repro`` when every stage is up to date."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(["dvc", "repro"], cwd=cwd, env=env(), capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t)
        if "Running stage" in out:
            raise SystemExit(f"dvc repro ran stages in {cwd}: not a no-op; run `make repro` first")
    return times


def stage_times(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds from each "Running stage 'x'" line to the next one (the last one: to the end)."""
    starts = [(t, m.group(1)) for t, line in lines for m in re.finditer(r"Running stage '([^']+)'", line)]
    ends = [t for t, _ in starts[1:]] + [total]
    return {name: round(end - t, 1) for (t, name), end in zip(starts, ends)}


def full(keep: Path | None) -> dict:
    work = keep or Path(tempfile.mkdtemp(prefix="repro_speed"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    committed = (clone / "dvc.lock").read_text()
    t0 = time.perf_counter()
    proc = subprocess.Popen(["dvc", "repro"], cwd=clone, env=env(clone / "src"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append((time.perf_counter() - t0, line))
    if proc.wait() != 0:
        raise SystemExit("dvc repro failed:\n" + "".join(line for _, line in lines[-40:]))
    total = time.perf_counter() - t0
    per_stage = stage_times(lines, total)
    for name, sec in sorted(per_stage.items(), key=lambda kv: -kv[1]):
        print(f"{sec:7.1f} s  {100 * sec / total:5.1f}%  {name}")
    same_lock = (clone / "dvc.lock").read_text() == committed
    print(f"full run: {total / 60:.1f} min; dvc.lock {'identical to' if same_lock else 'DIFFERS from'} the committed one")
    return {"full_run_min": round(total / 60, 2), "stages": per_stage, "lock_identical": same_lock,
            "noop_in_clone_s": [round(t, 2) for t in noop(clone)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="also time a full run in a fresh clone of HEAD")
    ap.add_argument("--keep", type=Path, help="folder for the clone (kept), default a temporary one")
    args = ap.parse_args()
    out = {"cpus": os.cpu_count()}
    if (ROOT / "data").exists():
        times = noop(ROOT)
        out["noop_s"] = [round(t, 2) for t in times]
        print(f"no-op dvc repro: median {statistics.median(times):.2f} s wall ({', '.join(f'{t:.2f}' for t in times)})")
    if args.full:
        out.update(full(args.keep))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
