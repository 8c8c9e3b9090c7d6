"""Warm stage processes: TensorFlow is imported once per ``make repro``, not once per stage.

Importing TensorFlow and Keras costs 6-8 s of CPU in every model stage: 32 stages of the default run, about 4 of
its ~22 summed minutes. ``make repro``'s scheduler (``facevoice.repro``) starts one server (``serve``) that
imports the heavy third-party libraries (``PRELOAD``, nothing of facevoice, no TensorFlow op runs) and then forks
one child per request. A stage script that DVC starts (``python stages/train.py x``) finds the server's socket in
``$FACEVOICE_WARM`` and hands it its argv, working directory, environment, sys.path and stdin/stdout/stderr
(``delegate``, from ``facevoice.stage.main``). The child runs the script as ``python script.py`` would: as
``__main__``, facevoice imported afresh from the client's sys.path, the client's environment set before
TensorFlow starts its runtime (one thread: ``facevoice.stage``), a normal interpreter exit (threads joined,
atexit handlers run), then sends its exit code; the client, the process DVC waits on, exits with it. The child
dies with the client (a pidfd watch) and with the server (``PR_SET_PDEATHSIG``), so killing DVC still stops
everything (tests/test_kill_recovery.py).

A warm child computes what a cold process computes: the same bytes (tests/test_warm.py). Without a server
(plain ``dvc repro``, a stage run by hand, ``make repro`` with ``--cold``) or when it does not answer, the stage
runs in its own process as before.

    python -m facevoice.warm <socket path> <parent pid>     # the server (facevoice.repro starts it)
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ENV = "FACEVOICE_WARM"
CHILD = "FACEVOICE_WARM_CHILD"
PRELOAD = ("numpy", "pandas", "scipy.signal", "sklearn.metrics", "keras", "dvclive", "matplotlib.pyplot")
_HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")


def delegate(path: str) -> int | None:
    """Run this process's script (``sys.argv``) in a fork of the server listening at ``path``: its exit code,
    or None when no server answers (the caller then runs the script itself)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    request = json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path}).encode()
    with conn:
        socket.send_fds(conn, [_HEADER.pack(len(request))], [0, 1, 2])
        conn.sendall(request)
        reply = _receive(conn, _CODE.size)
    if len(reply) != _CODE.size:
        print(f"error: the warm stage process of {sys.argv[0]} ended without an exit code (killed?)", file=sys.stderr)
        return 1
    return _CODE.unpack(reply)[0]


def _receive(conn: socket.socket, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only when the peer closed the connection)."""
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def serve(path: str, parent: int) -> None:
    """Import ``PRELOAD``, then listen at ``path`` (it appears only once the imports are done, so an early stage
    runs cold instead of waiting) and fork a child per connection. Dies with ``parent``."""
    import importlib

    from .stage import die_with_parent

    die_with_parent(parent)
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children; they report to their client
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)
    while True:
        conn, _ = listener.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _child(conn)  # raises SystemExit: the child leaves this loop and exits like a normal interpreter
        conn.close()


def _child(conn: socket.socket) -> None:
    """Take over the client's request (stdio, cwd, environment, argv, sys.path), run its script, exit with its
    code after sending the code back (``_report``, the last exit handler that runs before the preloads' own)."""
    import atexit

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the stage's own subprocesses are waited for as usual
    header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    request = json.loads(_receive(conn, _HEADER.unpack(header)[0]))
    client = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    code = [1]
    atexit.register(_report, conn, code)
    code[0] = _run(request, client)
    raise SystemExit(code[0])


def _report(conn: socket.socket, code: list) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        conn.sendall(_CODE.pack(code[0]))
    except OSError:  # the client is gone
        pass


def _run(request: dict, client: int) -> int:
    """``python <argv>`` in this process: 0, the script's ``sys.exit`` code, or 1 with its traceback."""
    import runpy
    import traceback

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"], **{CHILD: "1"})
    sys.argv, sys.path[:] = request["argv"], request["path"]
    for name in [m for m in sys.modules if m == "facevoice" or m.startswith("facevoice.")]:
        del sys.modules[name]  # the client's facevoice (its sys.path), read from disk now, as a cold start would
    from facevoice.stage import _die_with

    _die_with(client)
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as done:
        return _exit_code(done.code)
    except BaseException:  # noqa: BLE001  (what the interpreter prints for an uncaught exception)
        traceback.print_exc()
        return 1
    return 0


def _exit_code(code) -> int:
    """The process exit status ``sys.exit(code)`` gives: None 0, an int itself, anything else printed and 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


@contextmanager
def server(log: Path, enabled: bool = True):
    """A server for the stages run inside the ``with`` (``$FACEVOICE_WARM`` set for them), stopped after it; its
    output goes to ``log``. ``enabled`` False: nothing (every stage starts cold)."""
    if not enabled:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="facevoice-warm-")
    path = os.path.join(folder, "socket")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "facevoice.warm", path, str(os.getpid())], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    previous = os.environ.get(ENV)
    os.environ[ENV] = path
    try:
        yield path
    finally:
        _restore(previous)
        proc.kill()
        proc.wait()
        for leftover in (path, path + ".tmp"):
            Path(leftover).unlink(missing_ok=True)
        os.rmdir(folder)


def _restore(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = previous


def wait_ready(path: str, timeout: float = 60.0) -> bool:
    """Whether the server at ``path`` listens within ``timeout`` seconds (tests)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
