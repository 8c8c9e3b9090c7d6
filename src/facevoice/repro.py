"""``make repro`` on several processes: DVC's own scheduler with ``jobs`` stages at a time.

``dvc repro`` runs one stage after another. DVC's documented way to use more cores is several ``dvc repro``
processes on independent stages, kept apart by its per-path read/write locks
(https://dvc.org/doc/command-reference/repro#parallel-stage-execution). This module schedules them: it asks
DVC once which stages are stale (changed, or downstream of a changed one), then runs each stale stage as
``dvc repro --single-item <stage>`` once every stale stage it depends on has finished, at most ``jobs`` at a
time, those with the most stages waiting on them first. DVC still decides for each stage whether it runs and
writes dvc.lock, so the result is the same as one ``dvc repro`` (``tests/test_pipeline_dvc.py``). Each stage's
output goes to ``.dvc/tmp/repro-logs/<stage>.log``; a failing stage prints its log's tail and nothing new starts.
After the run DVC's status is asked again: nothing may be left to run. The stages start from a warm server that
imported TensorFlow once (``facevoice.warm``; ``--cold``: each stage imports it itself), which writes the same
bytes in less time.

With nothing to do it answers without DVC: when DVC last found every stage up to date, the (size, mtime, inode) of
every file a stage reads or writes, and of dvc.yaml and dvc.lock, went to ``.dvc/tmp/repro-stamp.json``; if none
of them changed (the stat fields DVC's own hash cache trusts), nothing is stale. Any difference asks DVC.

    python -m facevoice.repro --jobs 2 [--cold] [stage ...]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

LOGS = Path(".dvc") / "tmp" / "repro-logs"
STAMP = Path(".dvc") / "tmp" / "repro-stamp.json"


def plan(repo, targets: list[str] | None = None) -> dict[str, set[str]]:
    """{stale stage: the stale stages it waits for}. DVC's graph has an edge from each stage to the stages
    whose outputs it reads; a stage is stale when ``dvc status`` lists it or anything upstream of it. With
    ``targets``, only they and what they read are considered (like ``dvc repro <targets>``)."""
    import networkx as nx

    graph = repo.index.graph
    by_name = {s.addressing: s for s in graph.nodes}
    unknown = [t for t in targets or [] if t not in by_name]
    if unknown:
        raise SystemExit(f"repro: no stage named {unknown[0]!r} in dvc.yaml")
    scope = set(by_name) if not targets else \
        set(targets) | {s.addressing for t in targets for s in nx.descendants(graph, by_name[t])}
    stale = set()
    for name in repo.status(targets=targets or None, with_deps=bool(targets)):
        if name not in by_name:
            raise SystemExit(f"repro: dvc status names {name!r}, which is not a stage of dvc.yaml")
        stale |= {name} | {s.addressing for s in nx.ancestors(graph, by_name[name])}
    stale &= scope
    return {n: {s.addressing for s in nx.descendants(graph, by_name[n])} & stale for n in stale}


def order(waits: dict[str, set[str]]) -> list[str]:
    """Stages by how many stale stages wait on them (most first), then by name: the next one to start."""
    waiting = {n: sum(n in w for w in waits.values()) for n in waits}
    return sorted(waits, key=lambda n: (-waiting[n], n))


def dvc_command() -> str:
    """The dvc next to this Python (the venv's), else the one on PATH."""
    here = Path(sys.executable).with_name("dvc")
    return str(here) if here.exists() else (shutil.which("dvc") or "dvc")


def log_path(name: str, logs: Path) -> Path:
    return logs / f"{name.replace('/', '_')}.log"


def run_stage(name: str, logs: Path) -> tuple[str, int, float, bool]:
    """``dvc repro --single-item name`` with its output in ``logs/<name>.log``: (name, exit code, seconds,
    whether it ran)."""
    log = log_path(name, logs)
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.call([dvc_command(), "--wait-for-lock", "repro", "--single-item", name], stdout=out,
                               stderr=subprocess.STDOUT, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    ran = "Running stage" in log.read_text()
    return name, code, time.perf_counter() - start, ran


def tail(name: str, logs: Path, lines: int = 25) -> str:
    text = log_path(name, logs).read_text().splitlines()
    return "\n".join(text[-lines:])


def schedule(waits: dict[str, set[str]], jobs: int, logs: Path) -> int:
    """Run every stage of ``waits`` after its stale upstream stages, ``jobs`` at a time; 0, or 1 on failure."""
    queue, done, failed, running = order(waits), set(), None, {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while queue or running:
            while failed is None and len(running) < jobs:
                ready = next((n for n in queue if waits[n] <= done), None)
                if ready is None:
                    break
                queue.remove(ready)
                running[pool.submit(run_stage, ready, logs)] = ready
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name, code, seconds, ran = future.result()
                del running[future]
                print(f"[{len(done) + 1}/{len(waits)}] {name}: {'ran' if ran else 'unchanged'} in {seconds:.0f} s"
                      + ("" if code == 0 else f", FAILED (exit {code})"), flush=True)
                if code != 0:
                    failed = failed or name
                    print(tail(name, logs), file=sys.stderr)
                done.add(name)
    if failed:
        print(f"repro: stage {failed} failed (log: {log_path(failed, logs)}); stages after it were not run", file=sys.stderr)
    return 1 if failed else 0


def run_all(waits: dict[str, set[str]], jobs: int, targets: list[str], cold: bool = False) -> int:
    """The stale stages: with one job, one plain ``dvc repro`` (no per-stage start-up), else ``schedule``; the
    stages start from a warm server that has imported TensorFlow once (``facevoice.warm``) unless ``cold``."""
    from .warm import server

    LOGS.mkdir(parents=True, exist_ok=True)
    with server(LOGS / "warm-server.log", enabled=not cold):
        if jobs == 1:
            return subprocess.call([dvc_command(), "repro", *targets], env={**os.environ, "DVC_NO_ANALYTICS": "1"})
        print(f"repro: {len(waits)} stale stage(s), {jobs} at a time; logs in {LOGS}/", flush=True)
        return schedule(waits, jobs, LOGS)


def tracked_paths(repo) -> list[str]:
    """Every path a stage reads or writes (code, params file, data, models, metrics), as DVC resolved them."""
    return sorted({str(item.fs_path) for stage in repo.index.graph.nodes for item in (*stage.deps, *stage.outs)})


def _files(path: Path):
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            yield from (Path(root) / f for f in sorted(files))
    else:
        yield path


def fingerprint(paths: list[str]) -> dict[str, list | None]:
    """(size, mtime in ns, inode) of every file under ``paths`` and of dvc.yaml/dvc.lock (None: missing): the
    stat fields DVC's own hash cache trusts."""
    out = {}
    for p in sorted({*paths, "dvc.yaml", "dvc.lock"}):
        for f in _files(Path(p)):
            try:
                st = f.stat()
                out[str(f)] = [st.st_size, st.st_mtime_ns, st.st_ino]
            except OSError:
                out[str(f)] = None
    return out


def unchanged_since_stamp() -> bool:
    """True when no tracked file changed since the last run that left every stage up to date (STAMP)."""
    try:
        stamp = json.loads(STAMP.read_text())
        return fingerprint(stamp["paths"]) == stamp["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_stamp(paths: list[str]) -> None:
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(json.dumps({"paths": paths, "files": fingerprint(paths)}))


def stale(targets: list[str]) -> tuple[dict[str, set[str]], list[str]]:
    """DVC's plan (``plan``) and the tracked paths, from one read of dvc.yaml, dvc.lock and params.yaml."""
    from dvc.repo import Repo, lock_repo

    with Repo(".") as repo, lock_repo(repo):
        return plan(repo, targets), tracked_paths(repo)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="stages (default: all of dvc.yaml)")
    ap.add_argument("--jobs", type=int, default=2, help="stages at a time (default 2)")
    ap.add_argument("--cold", action="store_true", help="every stage imports its libraries itself (no warm server)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"repro: --jobs must be at least 1, got {args.jobs}")
    if not args.targets and unchanged_since_stamp():
        print("Data and pipelines are up to date.")
        return 0
    start = time.perf_counter()
    waits, paths = stale(args.targets)
    if waits:
        if run_all(waits, args.jobs, args.targets, args.cold):
            return 1
        print(f"repro: {time.perf_counter() - start:.0f} s", flush=True)
        waits, paths = stale(args.targets)  # the check a second `dvc repro` makes: nothing left to run
        if waits:
            print(f"repro: still stale after the run: {', '.join(sorted(waits))}", file=sys.stderr)
            return 1
    print("Data and pipelines are up to date.")
    if not args.targets:
        write_stamp(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
