"""``kill -9`` and recovery: a killed stage leaves nothing running and nothing that looks finished, and the next
``dvc repro`` rebuilds the same bytes.

The first tests cover the pieces: ``ArrayStore`` writes ``<name>.partial`` and renames on ``close``;
``facevoice.atomic.atomic_dir`` / ``atomic_file`` build under a temporary name; a stage run under DVC dies with the
process that ran it. The DVC test (slow, ~1 min), on the tiny profile in a temporary copy of the repository,
SIGKILLs ``features@mfcc`` while its workers are busy: the stage process, the ``dvc`` process (with bash and with
dash as DVC's ``$SHELL``), or the whole process group. It checks that no process of the run is left after 5 s
nor a finished-looking ``x.npy``, and that ``dvc repro`` then succeeds with outputs byte-identical to an
uninterrupted run's. The stage processes import ``facevoice`` from this checkout (the editable install), not
from the copy.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import ROOT, copy_repo, ran, sh
from proctree import descendants, identities, kill_left, maps, table, wait_gone

from facevoice.atomic import atomic_dir, atomic_file
from facevoice.store import ArrayStore

BIN = Path(sys.executable).parent
OUT = "data/features/mfcc"


# ------------------------------------------------------------------ the pieces
def test_array_store_is_partial_until_closed(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"an older run's store")
    store = ArrayStore(path)
    store.append(np.ones(3, np.float32))
    assert not path.exists() and (tmp_path / "x.npy.partial").exists()  # the older one cannot pass for this run's
    store.close()
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"] and np.load(path).shape == (1, 3)


def test_array_store_as_a_context_manager_drops_its_file_on_an_error(tmp_path):
    with pytest.raises(RuntimeError):
        with ArrayStore(tmp_path / "x.npy") as store:
            store.append(np.ones(3, np.float32))
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []
    with ArrayStore(tmp_path / "x.npy") as store:
        store.append(np.ones(3, np.float32))
    assert np.load(tmp_path / "x.npy").shape == (1, 3)


def test_atomic_dir_replaces_the_output_only_at_the_end(tmp_path):
    out = tmp_path / "feat"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    (tmp_path / "feat.tmp-999999999").mkdir()  # a killed run's leftover (no such pid)
    with atomic_dir(out) as tmp:
        assert tmp.name == f"feat.tmp-{os.getpid()}" and list(tmp.iterdir()) == []
        (tmp / "x.txt").write_text("new")
        assert (out / "old.txt").exists()  # untouched while building
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feat"] and [p.name for p in out.iterdir()] == ["x.txt"]


def test_atomic_dir_keeps_the_old_output_when_the_body_fails(tmp_path):
    out = tmp_path / "feat"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    with pytest.raises(ValueError):
        with atomic_dir(out) as tmp:
            (tmp / "x.txt").write_text("half")
            raise ValueError("bad clip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feat"] and (out / "old.txt").exists()


def test_atomic_file_keeps_the_suffix_and_renames_at_the_end(tmp_path):
    path = tmp_path / "m.keras"
    (tmp_path / "m.tmp-999999999.keras").write_text("killed run")
    with atomic_file(path) as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_text("model")
        assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"] and path.read_text() == "model"
    with pytest.raises(ValueError):
        with atomic_file(path) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"] and path.read_text() == "model"


LAUNCHER = """
import os, subprocess, sys
stage = "import time; from facevoice.stage import main; main(lambda: (print('ready', flush=True), time.sleep(60)))"
shell, env = sys.argv[1], {**os.environ, **dict(a.split("=", 1) for a in sys.argv[2:])}
subprocess.run([shell, "-c", f"{sys.executable} -c \\"{stage}\\""], env=env)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's prctl")
@pytest.mark.parametrize("shell, under_dvc", [("/bin/bash", True), ("/bin/sh", True), ("/bin/sh", False)])
def test_a_stage_dies_with_the_process_that_ran_it_under_dvc(tmp_path, shell, under_dvc):
    """A stand-in for ``dvc`` runs ``$SHELL -c 'python <stage>'`` and is SIGKILLed: under DVC (``DVC_STAGE``
    set) the stage ends too, whether the shell exec'd it (bash) or stayed its parent (dash); by hand it runs on."""
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    args = [sys.executable, str(tmp_path / "launcher.py"), shell] + (["DVC_STAGE=s"] if under_dvc else [])
    env = {k: v for k, v in os.environ.items() if k != "DVC_STAGE"}
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    tree = {}
    try:
        assert launcher.stdout.readline().strip() == "ready"
        tree = identities(descendants(launcher.pid))
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=10)
        left = wait_gone(tree, 5 if under_dvc else 1)
        assert (left == {}) == under_dvc, left
    finally:
        launcher.stdout.close()
        kill_left(tree)


# ------------------------------------------------------------------ SIGKILL under dvc repro
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A tiny-profile copy with ``features@mfcc`` built once, uninterrupted: (repo, digests of its outputs)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synthesize"]["profile"] = "tiny"
    d = copy_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("site"), params)
    sh("dvc repro features@mfcc", d)
    return d, digests(d / OUT)


def digests(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def busy_stage(dvc: int) -> tuple[int, dict] | None:
    """(stage pid, identities of dvc and everything below it) once the stage's workers compute features
    (libsndfile is loaded when a worker reads its first clip); None before."""
    procs = table()
    below = descendants(dvc, procs)
    stage = next((p for p in below if "stages/features.py mfcc" in procs[p]["cmd"]), None)
    workers = [p for p in descendants(stage, procs) if "loky" in procs[p]["cmd"]] if stage else []
    if len(workers) < 2 or not any("sndfile" in maps(w) for w in workers):
        return None
    return stage, identities([dvc, *below], procs)


def kill_mid_run(d: Path, victim: str, shell: str, log: Path) -> tuple[dict, int] | None:
    """Run ``dvc repro --force features@mfcc`` (DVC runs the command with ``$SHELL -c``) and SIGKILL ``victim``
    (stage | dvc | group) while the workers compute: (identities of the run's processes, dvc's return code),
    or None if it finished first."""
    with open(log, "w") as out:
        dvc = subprocess.Popen([str(BIN / "dvc"), "repro", "--force", "--single-item", "features@mfcc"], cwd=d,
                               env={**ENV, "SHELL": shell}, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while (found := busy_stage(dvc.pid)) is None and dvc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if found is None:
        if dvc.poll() is None:
            os.killpg(dvc.pid, signal.SIGKILL)
        dvc.wait(timeout=60)
        return None
    stage, tree = found
    if victim == "group":
        os.killpg(dvc.pid, signal.SIGKILL)
    else:
        os.kill(stage if victim == "stage" else dvc.pid, signal.SIGKILL)
    dvc.wait(timeout=60)
    return tree, dvc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("victim, shell, retry", [("stage", "/bin/bash", "dvc repro"),
                                                  ("dvc", "/bin/bash", "dvc repro"),
                                                  ("dvc", "/bin/sh", "dvc repro"),
                                                  ("group", "/bin/bash", "dvc repro --force --single-item")])
def test_a_killed_stage_leaves_nothing_running_and_the_next_repro_rebuilds_it(repo, victim, shell, retry,
                                                                               tmp_path):
    """``dvc repro`` restores the killed stage's outputs from DVC's cache (dvc.lock still names them);
    ``--force`` runs the stage again over what the killed run left. bash execs the stage command (its parent
    is ``dvc``); dash, Debian's ``/bin/sh``, stays between them."""
    d, uninterrupted = repo
    for _ in range(3):  # the tiny stage computes for about a second: try again if it finished before the kill
        killed = kill_mid_run(d, victim, shell, tmp_path / "killed.log")
        if killed is not None:
            break
    assert killed is not None, (tmp_path / "killed.log").read_text()
    tree, returncode = killed
    try:
        assert returncode != 0
        assert sum("loky" in cmd for cmd in tree.values()) >= 2, tree
        assert wait_gone(tree, 5) == {}  # no worker (nor stage) computes on behind the next run's back
    finally:
        kill_left(tree)
    assert not (d / OUT / "x.npy").exists(), "a killed stage left an output that looks finished"
    again = sh(f"{retry} features@mfcc", d).stdout
    assert ("features@mfcc" in ran(again)) == ("--force" in retry), again
    assert digests(d / OUT) == uninterrupted
    leftovers = [p for p in (d / "data/features").rglob("*") if p.name.endswith(".partial") or ".tmp-" in p.name]
    assert leftovers == []
