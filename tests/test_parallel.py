"""``facevoice.parallel``: results in input order and streamed, workers reused across items, and workers that
end with their parent when it is killed with SIGKILL (instead of running on for minutes)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from proctree import descendants, identities, kill_left, wait_gone

from facevoice.parallel import imap, pmap

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's prctl")


def _sleep_then(item):
    seconds, value = item
    time.sleep(seconds)
    return value


def _pid(_):
    time.sleep(0.05)
    return os.getpid()


def test_imap_keeps_input_order_when_later_items_finish_first():
    items = [(0.3 - 0.05 * i, i) for i in range(6)]
    assert list(imap(_sleep_then, items, workers=2, progress=False)) == list(range(6))
    assert pmap(_sleep_then, items, workers=2, progress=False) == list(range(6))


def test_imap_streams_results_before_the_last_item_is_done():
    """The first result comes while the slow last item still runs (results are yielded, not gathered)."""
    items = [(0.0, 0), (0.0, 1), (0.0, 2), (2.0, 3)]
    start = time.monotonic()
    stream = imap(_sleep_then, items, workers=2, progress=False)
    assert next(stream) == 0
    first = time.monotonic() - start
    assert list(stream) == [1, 2, 3]
    assert time.monotonic() - start - first > 1.0


def test_workers_are_reused_across_items():
    """Workers run many items each (a model a worker loads is loaded once), in processes other than ours."""
    pids = list(imap(_pid, list(range(12)), workers=2, progress=False))
    assert 1 <= len(set(pids)) <= 2 and os.getpid() not in pids


CHILD = textwrap.dedent("""
    import sys, time
    from facevoice.parallel import imap

    def slow(i):
        time.sleep(0.5)
        return i

    for i in imap(slow, list(range(60)), workers=2, progress=False):
        print("result", i, flush=True)
""")


@linux
def test_workers_die_when_their_parent_is_killed(tmp_path):
    """SIGKILL the process running ``imap`` while its workers are busy: none of them is left after 5 s."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    tree = {}
    try:
        assert child.stdout.readline().startswith("result 0")  # workers started and busy with the queue
        tree = identities(descendants(child.pid))
        assert sum("loky" in cmd for cmd in tree.values()) >= 2, tree
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert wait_gone(tree, 5) == {}
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        kill_left(tree)


@linux
@pytest.mark.parametrize("expected, rc", [("own", 0), ("other", -signal.SIGKILL)])
def test_die_with_parent_kills_now_when_the_parent_is_already_gone(expected, rc):
    """Asked to die with a parent that is not (any more) its parent, a process ends at once."""
    parent = "os.getppid()" if expected == "own" else "os.getppid() + 1000000"
    code = f"import os; from facevoice.stage import die_with_parent; print(die_with_parent({parent}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == rc, done.stderr
    assert done.stdout.strip() == ("True" if rc == 0 else "")
