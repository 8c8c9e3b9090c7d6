"""Process-tree helpers for the kill tests, read from Linux's /proc: a process's descendants, and which of a
set of processes still run (a pid is identified with its start time, so a reused pid does not count)."""
from __future__ import annotations

import time
from pathlib import Path


def table() -> dict[int, dict]:
    """Every visible process: pid -> {ppid, state, start, cmd}."""
    out = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # ended while we looked
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid ... starttime (22nd)
        out[int(p.name)] = {"state": fields[0], "ppid": int(fields[1]), "start": int(fields[19]), "cmd": cmd}
    return out


def descendants(root: int, procs: dict | None = None) -> list[int]:
    """The pids below ``root`` (children, their children, ...)."""
    procs = table() if procs is None else procs
    kids = [pid for pid, p in procs.items() if p["ppid"] == root]
    return kids + [k for kid in kids for k in descendants(kid, procs)]


def identities(pids, procs: dict | None = None) -> dict[tuple[int, int], str]:
    """(pid, start time) -> command line, for those of ``pids`` that exist."""
    procs = table() if procs is None else procs
    return {(pid, procs[pid]["start"]): procs[pid]["cmd"] for pid in pids if pid in procs}


def running(ids: dict[tuple[int, int], str]) -> dict[tuple[int, int], str]:
    """Those of ``ids`` still running (a zombie has ended: it only waits to be reaped)."""
    procs = table()
    return {(pid, start): cmd for (pid, start), cmd in ids.items()
            if pid in procs and procs[pid]["start"] == start and procs[pid]["state"] not in "ZX"}


def wait_gone(ids: dict[tuple[int, int], str], timeout: float) -> dict[tuple[int, int], str]:
    """Wait up to ``timeout`` seconds for ``ids`` to end; the ones still running then."""
    deadline = time.monotonic() + timeout
    while (left := running(ids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def maps(pid: int) -> str:
    """The files mapped into a process (its loaded shared libraries); empty when it has gone."""
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def kill_left(ids: dict[tuple[int, int], str]) -> None:
    """SIGKILL those of ``ids`` still running (a failed test must not leave workers behind)."""
    import os
    import signal

    for pid, _ in running(ids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
