"""Warm stage processes (facevoice.warm): a stage script hands itself to a server that imported TensorFlow once.

The child must behave like ``python script.py``: the client's argv, working directory, environment, stdin/stdout/
stderr and exit code; a traceback and exit 1 for an uncaught exception; it must die with the client; without a
server the script runs cold. That a warm child trains byte-identical models is in test_determinism.py."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facevoice import warm

SCRIPT = '''
import os, sys, time
PRELOADED = "keras" in sys.modules          # facevoice.stage does not import keras: only a warm child has it
from facevoice.stage import main
from facevoice.errors import FacevoiceError


def run():
    what = sys.argv[1]
    print("preloaded", PRELOADED, "child", os.environ.get("FACEVOICE_WARM_CHILD"), "cwd", os.getcwd(),
          "x", os.environ.get("X"), "stdin", sys.stdin.readline().strip(), flush=True)
    print("to stderr", file=sys.stderr)
    if what == "raise":
        raise ValueError("boom")
    if what == "params":
        raise FacevoiceError("params.yaml: 'a.b' must be positive")
    if what == "sleep":
        open(sys.argv[2], "w").write(str(os.getpid()))
        time.sleep(120)
    sys.exit(int(what))


if __name__ == "__main__":
    main(run)
'''


@pytest.fixture(scope="module")
def server_path(tmp_path_factory):
    with warm.server(tmp_path_factory.mktemp("warm") / "server.log") as path:
        assert warm.wait_ready(path, 120), "the warm server did not start"
        yield path


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "stage_script.py"
    path.write_text(SCRIPT)
    return path


def start(script: Path, *args: str, server: str | None, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "X": "from the client"}
    env.pop(warm.ENV, None)
    if server:
        env[warm.ENV] = server
    return subprocess.Popen([sys.executable, str(script), *args], cwd=cwd, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(script: Path, *args: str, server: str | None, cwd: Path) -> tuple[int, str, str]:
    proc = start(script, *args, server=server, cwd=cwd)
    out, err = proc.communicate("a line\n", timeout=120)
    return proc.returncode, out, err


def test_a_warm_child_gets_the_clients_cwd_env_stdio_and_gives_back_its_exit_code(server_path, script, tmp_path):
    code, out, err = run(script, "3", server=server_path, cwd=tmp_path)
    assert code == 3, err
    assert out.split() == ["preloaded", "True", "child", "1", "cwd", str(tmp_path), "x", "from", "the", "client",
                           "stdin", "a", "line"]
    assert err.strip() == "to stderr"
    assert run(script, "0", server=server_path, cwd=tmp_path)[0] == 0


def test_errors_are_what_a_cold_process_gives(server_path, script, tmp_path):
    for server in (server_path, None):
        code, out, err = run(script, "raise", server=server, cwd=tmp_path)
        assert code == 1 and "Traceback" in err and err.strip().endswith("ValueError: boom"), err
        code, _, err = run(script, "params", server=server, cwd=tmp_path)
        assert (code, err.strip().splitlines()[-1]) == (2, "error: params.yaml: 'a.b' must be positive")


def test_without_a_server_the_script_runs_cold(script, tmp_path):
    code, out, _ = run(script, "4", server=str(tmp_path / "no-such-socket"), cwd=tmp_path)
    assert code == 4 and out.split()[:4] == ["preloaded", "False", "child", "None"]


def test_the_warm_child_dies_with_its_client(server_path, script, tmp_path):
    pid_file = tmp_path / "child.pid"
    client = start(script, "sleep", str(pid_file), server=server_path, cwd=tmp_path)
    client.stdin.write("a line\n")
    client.stdin.flush()
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and client.poll() is None, client.stderr.read()
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert child != client.pid
    client.send_signal(signal.SIGKILL)
    client.wait()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}"):
        assert time.monotonic() < deadline, "the warm child outlived its client"
        time.sleep(0.1)
