"""What every stage script shares: quiet TensorFlow logs, one-line errors instead of tracebacks, a stage process
that ends with the ``dvc`` that started it, and outputs that only appear once finished (``atomic_dir``,
``atomic_file``).

Why: a stage killed with ``kill -9`` (or a ``dvc`` killed under it) must leave nothing running and nothing
that looks finished, so that the next ``dvc repro`` simply runs it again.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
SHELLS = {"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh", "busybox"}


def die_with_parent(parent: int | None = None) -> bool:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``); False elsewhere.

    ``parent``: the pid the caller expects as parent; if it is already gone (it died before the request, so the
    signal would never come) this process kills itself now. The kernel sends the signal when the *thread* that
    started this process ends: DVC starts a stage in the thread that waits for it, loky its workers in the main
    thread (or its manager thread, which lives as long as the pool)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return True


def _launcher() -> int:
    """The nearest ancestor that is not a shell: the ``dvc`` process when DVC's ``$SHELL -c '<cmd>'`` stayed
    between it and us (dash, ``/bin/sh`` on Debian, does not exec a one-command ``-c``; bash does), else our
    parent."""
    pid = os.getppid()
    for _ in range(4):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        comm, ppid = stat[stat.index("(") + 1: stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
        if comm not in SHELLS or ppid <= 1:
            break
        pid = ppid
    return pid


def _die_with(pid: int) -> None:
    """SIGKILL this process when process ``pid`` (an ancestor, not our parent) ends: a daemon thread waits on a
    pidfd (no polling), or checks every second where pidfds are missing (Linux < 5.3)."""
    import threading

    def watch():
        try:
            import select

            waiting = select.poll()
            waiting.register(os.pidfd_open(pid), select.POLLIN)
            waiting.poll()  # returns once the process has ended
        except ProcessLookupError:  # already gone
            pass
        except (AttributeError, OSError):
            import time

            while _alive(pid):
                time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name=f"die-with-{pid}", daemon=True).start()


def die_with_dvc() -> None:
    """End this stage process when the ``dvc`` that runs it dies, so a killed ``dvc`` leaves no stage writing
    outputs behind the next run's back (its workers follow: see ``facevoice.parallel``)."""
    if not die_with_parent():
        return
    launcher = _launcher()
    if launcher != os.getppid():
        _die_with(launcher)


def main(func: Callable[[], object]) -> None:
    """Run a stage body; a ``FacevoiceError`` (bad params value, missing source) exits 2 with one line.

    Under DVC (which sets ``DVC_STAGE``) the stage dies with the ``dvc`` process (``die_with_dvc``). Run by
    hand, a stage is left alone (``nohup`` keeps working)."""
    from .errors import FacevoiceError

    if os.environ.get("DVC_STAGE"):
        die_with_dvc()
    try:
        func()
    except FacevoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(path: Path, kinds: tuple[str, ...] = ("tmp", "old"), suffix: str = "") -> None:
    """Remove the leftovers of killed runs beside ``path``: ``<name>.<kind>-<pid><suffix>`` whose pid is gone."""
    import glob

    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    for leftover in path.parent.glob(f"{glob.escape(stem)}.*-*{glob.escape(suffix)}"):
        middle = leftover.name[len(stem) + 1: len(leftover.name) - len(suffix)]
        kind, _, pid = middle.partition("-")
        if kind in kinds and pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


@contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Build a directory output in ``<out>.tmp-<pid>`` (yielded, empty) and rename it over ``out`` at the end.

    A run killed mid-way leaves no ``out`` (DVC sees a missing output and reruns the stage) and a temporary
    directory that the next run removes; on an exception the temporary directory is removed and an existing
    ``out`` is left as it was. The swap is two renames: ``out`` is briefly absent, never half-written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.is_symlink() or out.is_file():
        out.unlink()
    elif out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary file name beside ``path`` to write, ``<stem>.tmp-<pid><suffix>`` (the suffix kept for writers
    that check it, e.g. Keras' ``.keras``), renamed over ``path`` when the block ends without an exception and
    removed when it raises; a killed run's leftover is removed by the next run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path, ("tmp",), path.suffix)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
