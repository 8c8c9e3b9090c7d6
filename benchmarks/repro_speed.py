"""How long a run takes: with nothing to do (goal <= 2 s wall on 2 cores) and, with ``--full``, the whole
default run from an empty ``data/`` in a fresh clone (goal <= 10 min), stage by stage.

The no-op also times DVC's own floor: a generated pipeline with as many stages as dvc.yaml, each copying one
file to another and declaring one param, so nothing but DVC's per-stage work (its read/write locks, the status
of each dependency and output, the params file parsed once per stage) is left; once with a one-line params file
per stage, once reading this repository's params.yaml.

    .venv/bin/python benchmarks/repro_speed.py               # no-op: 3 runs each of `make repro`'s scheduler
                                                             # and of plain `dvc repro` (run `make repro` first)
    .venv/bin/python benchmarks/repro_speed.py --full        # + a fresh clone of HEAD, the run timed per stage
    .venv/bin/python benchmarks/repro_speed.py --full --jobs 1   # ... with plain `dvc repro` (one stage at a time)

The full run clones the committed HEAD into a temporary folder and runs ``make repro``'s command there
(``python -m facevoice.repro --jobs N``; ``--jobs 1``: ``dvc repro``) with the clone's ``src`` first on
PYTHONPATH, prints one row per stage (seconds, share of the summed stage time, from-to seconds into the run), then
whether the clone's dvc.lock equals the committed one (the fresh-clone reproducibility check of issue #14).
Prints JSON at the end.
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


def command(jobs: int) -> list[str]:
    """``make repro``'s command with ``jobs`` stages at a time; 1: plain ``dvc repro``."""
    return ["dvc", "repro"] if jobs == 1 else [str(BIN / "python"), "-m", "facevoice.repro", "--jobs", str(jobs)]


def noop(cwd: Path, jobs: int, runs: int = 3) -> list[float]:
    """Wall seconds of the run command when every stage is up to date."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(command(jobs), cwd=cwd, env=env(), capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t)
        if "Running stage" in out or ": ran in" in out:
            raise SystemExit(f"{' '.join(command(jobs))} ran stages in {cwd}: not a no-op; run `make repro` first")
    return times


def dvc_floor(n_stages: int, params_text: str | None, runs: int = 3) -> list[float]:
    """No-op ``dvc repro`` of ``n_stages`` trivial stages (one dep, one out, one param each); with
    ``params_text``, each stage reads a key of that params file instead of a one-line one."""
    import yaml

    with tempfile.TemporaryDirectory(prefix="dvc_floor") as tmp:
        d = Path(tmp)
        subprocess.run("git init -q && dvc init -q", cwd=d, shell=True, check=True, env=env())
        key = next(iter(yaml.safe_load(params_text))) if params_text else None
        (d / "params.yaml").write_text(params_text or "".join(f"s{i}: 1\n" for i in range(n_stages)))
        stages = {}
        for i in range(n_stages):
            (d / f"in{i}").write_text(str(i))
            stages[f"s{i}"] = {"cmd": f"cp in{i} out{i}", "deps": [f"in{i}"], "params": [key or f"s{i}"],
                               "outs": [f"out{i}"]}
        (d / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
        subprocess.run(["dvc", "repro", "-q"], cwd=d, env=env(), check=True, capture_output=True)
        return noop(d, 1, runs)


def stage_times(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """The scheduler's "[k/n] stage: ran in X s" lines; for ``dvc repro``, seconds from each "Running stage 'x'"
    line to the next one (the last one: to the end)."""
    told = {m.group(1): float(m.group(2)) for _, line in lines for m in re.finditer(r"\] (\S+): ran in (\d+) s", line)}
    if told:
        return told
    starts = [(t, m.group(1)) for t, line in lines for m in re.finditer(r"Running stage '([^']+)'", line)]
    ends = [t for t, _ in starts[1:]] + [total]
    return {name: round(end - t, 1) for (t, name), end in zip(starts, ends)}


def full(keep: Path | None, jobs: int) -> dict:
    work = keep or Path(tempfile.mkdtemp(prefix="repro_speed"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    committed = (clone / "dvc.lock").read_text()
    t0 = time.perf_counter()
    proc = subprocess.Popen(command(jobs), cwd=clone, env=env(clone / "src"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append((time.perf_counter() - t0, line))
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(command(jobs))} failed:\n" + "".join(line for _, line in lines[-40:]))
    total = time.perf_counter() - t0
    per_stage = stage_times(lines, total)
    finished = {m.group(1): t for t, line in lines for m in re.finditer(r"\] (\S+): ran in", line)}
    summed = sum(per_stage.values()) or 1.0
    for name, sec in sorted(per_stage.items(), key=lambda kv: -kv[1]):
        at = f"  {finished[name] - sec:5.0f}-{finished[name]:4.0f} s" if name in finished else ""
        print(f"{sec:7.1f} s  {100 * sec / summed:5.1f}%{at}  {name}")
    same_lock = (clone / "dvc.lock").read_text() == committed
    print(f"full run ({jobs} stage(s) at a time): {total / 60:.1f} min wall, stages summed {summed / 60:.1f} min; dvc.lock {'identical to' if same_lock else 'DIFFERS from'} the committed one")
    return {"jobs": jobs, "full_run_min": round(total / 60, 2), "stages": per_stage, "lock_identical": same_lock,
            "noop_in_clone_s": [round(t, 2) for t in noop(clone, jobs)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="also time a full run in a fresh clone of HEAD")
    ap.add_argument("--keep", type=Path, help="folder for the clone (kept), default a temporary one")
    ap.add_argument("--jobs", type=int, default=2, help="stages at a time in the full run (1: dvc repro); default 2")
    args = ap.parse_args()
    out = {"cpus": os.cpu_count()}
    if (ROOT / "data").exists():
        for jobs, what in ((2, "make repro (python -m facevoice.repro)"), (1, "dvc repro")):
            times = noop(ROOT, jobs)
            out[f"noop_s_{'make' if jobs > 1 else 'dvc'}"] = [round(t, 2) for t in times]
            print(f"no-op {what}: median {statistics.median(times):.2f} s wall ({', '.join(f'{t:.2f}' for t in times)})")
        n = len(subprocess.run(["dvc", "stage", "list", "--names-only"], cwd=ROOT, env=env(), capture_output=True,
                               text=True, check=True).stdout.split())
        for label, text in (("one-line params", None), ("this params.yaml", (ROOT / "params.yaml").read_text())):
            times = dvc_floor(n, text)
            out[f"noop_s_floor_{'params_yaml' if text else 'minimal'}"] = [round(t, 2) for t in times]
            print(f"no-op dvc repro of {n} trivial stages ({label}): median {statistics.median(times):.2f} s wall "
                  f"({', '.join(f'{t:.2f}' for t in times)})")
    if args.full:
        out.update(full(args.keep, args.jobs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
