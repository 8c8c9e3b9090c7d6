"""``parallel.backend: ray`` against a real Ray cluster (a head node on 127.0.0.1 with 2 CPUs, started and stopped
here): ``features@mfcc``, ``faces`` and ``face_embed`` on the tiny profile's corpus give the same bytes as the local
backend."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ray = pytest.importorskip("ray", reason="ray is not installed (requirements.txt: ray==2.60.0)")

from facevoice import CPU_PINS  # noqa: E402
from facevoice.errors import ParamsError  # noqa: E402
from facevoice.parallel import Backend, connect, from_params, imap  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A Ray head node (``ray start --head --block``, its own temp dir), joined through ``parallel.connect`` as a
    stage would (``address: host:port``), stopped by its pid afterwards. Token authentication is off for this
    loopback-only test cluster (``RAY_AUTH_MODE=disabled``, in the head's and this process's environment)."""
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="fvray", dir="/tmp")  # short: Ray's unix sockets live under it
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}",
           "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={tmp}",
           "--disable-usage-stats"]
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {k: v for k, v in os.environ.items() if k not in CPU_PINS}  # a node that never imported facevoice
    head = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=env)
    address = f"127.0.0.1:{port}"
    try:
        _wait_for_port(port, head)
        assert connect(Backend(kind="ray", address=address)) == 2  # the cluster's 2 CPUs
        yield address
    finally:
        ray.shutdown()
        head.send_signal(signal.SIGTERM)  # --block: the head stops the processes it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # its own session: only what this fixture started
            head.wait()
        os.environ.pop("RAY_AUTH_MODE") if saved is None else os.environ.update(RAY_AUTH_MODE=saved)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_port(port: int, head: subprocess.Popen) -> None:
    for _ in range(120):
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:  # the head is still starting
            time.sleep(0.5)
    pytest.fail(f"no Ray head on port {port} after 60 s")


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    """The tiny profile's corpus and its manifests (prepare, local backend)."""
    from facevoice.prepare import prepare
    from facevoice.sources.synthetic import generate

    d = tmp_path_factory.mktemp("tiny")
    s = PARAMS["synthesize"]
    tiny = s["profiles"]["tiny"]
    generate(d / "raw", people=tiny["people"], photos=tiny["photos"], utterances=tiny["utterances"],
             languages=tiny["languages"], seed=s["seed"], bystander_rate=tiny["bystander_rate"], progress=False)
    p = PARAMS["prepare"]
    sources = {m: {"source": "synthetic", "root": str(d / "raw"), "options": {}} for m in ("faces", "voices")}
    prepare(sources, p["split"], d / "manifests", min_duration=p["min_duration"], workers=1,
            silence_dbfs=p["silence_dbfs"])
    return d / "manifests"


def _files(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_features_mfcc_on_the_cluster_is_byte_identical(cluster, manifests, tmp_path):
    from facevoice.features import build

    spec = PARAMS["features"]["mfcc"]
    backend = Backend(kind="ray", address=cluster, workers=2, batch_size=3)
    build("mfcc", spec, manifests / "voices.csv", tmp_path / "local", workers=2, progress=False)
    build("mfcc", spec, manifests / "voices.csv", tmp_path / "ray", workers=2, progress=False, backend=backend)
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert "x.npy" in local or any(k.endswith(".npy") for k in local)
    assert local.keys() == remote.keys()
    assert [k for k in local if local[k] != remote[k]] == []


def test_faces_and_face_embed_on_the_cluster_are_byte_identical(cluster, manifests, tmp_path):
    from facevoice.faces import build

    spec = {**PARAMS["faces"], "mtcnn": {**PARAMS["faces"]["mtcnn"], "batch_size": 8}}  # several jobs
    backend = Backend(kind="ray", address=cluster, workers=2)
    a = build(spec, manifests / "faces.csv", tmp_path / "local", progress=False)
    b = build(spec, manifests / "faces.csv", tmp_path / "ray", progress=False, backend=backend)
    assert a["kept"] > 0 and {k: v for k, v in a.items() if "detect" not in k} == \
        {k: v for k, v in b.items() if "detect" not in k}
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert local.keys() == remote.keys() and "x.npy" in local
    assert [k for k in local if local[k] != remote[k]] == []
    from facevoice.faces.embedded import build as embed  # face_embed (dlib) on the cluster too

    embed(PARAMS["face_embed"], tmp_path / "local", tmp_path / "embed_local", progress=False)
    embed(PARAMS["face_embed"], tmp_path / "local", tmp_path / "embed_ray", progress=False, backend=backend)
    assert _files(tmp_path / "embed_local") == _files(tmp_path / "embed_ray")


def test_ray_results_keep_input_order_and_actors_are_other_processes(cluster):
    backend = Backend(kind="ray", address=cluster, workers=2, batch_size=2)
    assert list(imap(abs, list(range(-9, 0)), backend=backend, progress=False)) == list(range(9, 0, -1))
    pids = set(imap(_pid, list(range(8)), backend=backend, progress=False))
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def _pid(_):
    return os.getpid()


def test_actors_run_the_pinned_kernels_on_a_node_started_without_them(cluster):
    """The head was started without facevoice's CPU pins in its environment; an actor imports facevoice (its
    class lives there) before NumPy, so its NumPy runs without AVX-512 kernels and its oneDNN is capped, as in
    a stage: a cluster of mixed CPUs writes the same features (docs/DEVELOPING.md)."""
    backend = Backend(kind="ray", address=cluster, workers=2, batch_size=1)
    got = list(imap(_kernels, [0, 1], backend=backend, progress=False))
    assert got == [([], "AVX2", "0")] * 2


def _kernels(_):
    import numpy
    from numpy._core._multiarray_umath import __cpu_features__ as f

    assert numpy  # imported in the actor, after the pins
    return (sorted(k for k in CPU_PINS["NPY_DISABLE_CPU_FEATURES"].split() if f.get(k)),
            os.environ.get("ONEDNN_MAX_CPU_ISA"), os.environ.get("TF_ENABLE_ONEDNN_OPTS"))


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actors cannot import this test module


@pytest.mark.parametrize("section, key", [({"backend": "spark"}, "parallel.backend"),
                                          ({"workers": -1}, "parallel.workers"),
                                          ({"batch_size": 0}, "parallel.batch_size"),
                                          ({"address": "nowhere"}, "parallel.address"),
                                          ({"adress": "auto"}, "parallel")])
def test_bad_parallel_values_name_their_key(section, key):
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        from_params(section)


def test_absent_section_is_the_local_backend():
    assert from_params(None) == Backend() == from_params({"backend": "local"})
