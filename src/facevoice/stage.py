"""What every stage script shares: quiet TensorFlow logs, one-line errors instead of tracebacks, and a stage process
that ends with the ``dvc`` that started it (outputs that only appear once finished: ``facevoice.atomic``).

Why: a stage killed with ``kill -9`` (or a ``dvc`` killed under it) must leave nothing running and nothing
that looks finished, so that the next ``dvc repro`` simply runs it again.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Callable

from .atomic import alive

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow runs each stage on one thread: the same order of floating-point sums on a 2-core and a 64-core
# machine, and `make repro`'s stages share the cores without oversubscribing them (verify@siamese alone: 139 s
# instead of 171 s with TensorFlow's default pools, README "Results").
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

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

            while alive(pid):
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
    hand, a stage is left alone (``nohup`` keeps working). With ``make repro``'s warm server
    (``$FACEVOICE_WARM``), the script runs in a fork of it and this process exits with its code
    (``facevoice.warm``)."""
    from . import warm
    from .errors import FacevoiceError

    if os.environ.get("DVC_STAGE"):
        die_with_dvc()
    if os.environ.get(warm.ENV) and not os.environ.get(warm.CHILD):
        code = warm.delegate(os.environ[warm.ENV])
        if code is not None:
            sys.exit(code)
    try:
        func()
    except FacevoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


