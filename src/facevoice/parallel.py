"""The one way to map work over files: ``imap``/``pmap``, results in input order, streamed, on one of two backends.

* ``local`` (the default): joblib's loky process pool on this machine, with a tqdm progress bar. Worker processes
  end with the process that started them: each worker asks Linux to SIGKILL it when its parent dies
  (``die_with_parent`` in ``facevoice.stage``), so a stage killed with ``kill -9`` (or by DVC dying) leaves no
  worker computing on, and writing into, an output the next ``dvc repro`` is rebuilding.
* ``ray``: a pool of Ray actors (one CPU each) on a Ray cluster: ``address: local`` starts an in-process cluster
  (its processes share the stage's fate), ``auto`` or ``ray://host:port`` joins a running one. Items go to the
  actors in batches of ``batch_size``; at most two batches per actor are in flight, and results are yielded in
  input order as they arrive, so neither the driver nor the object store ever holds the whole corpus. An actor
  is one long-lived process, kept for every ``imap`` call of the stage, so a model a function caches per process
  (``Mtcnn.model``, ``shared_embedder``) loads once per actor, not once per file.

The stage scripts build the backend from params.yaml's ``parallel`` section (``from_params``) and pass it down;
a call without a backend is the local one.
"""
from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Sequence

BACKENDS = ("local", "ray")
KEYS = ("backend", "address", "workers", "batch_size")


@dataclass(frozen=True)
class Backend:
    """Where ``imap`` runs: ``kind`` local or ray. ``workers`` 0: local, the calling stage's own ``workers``;
    ray, one actor per CPU of the cluster. ``batch_size``: items per Ray task."""

    kind: str = "local"
    address: str = "local"
    workers: int = 0
    batch_size: int = 8

    def with_batch_size(self, batch_size: int) -> "Backend":
        return replace(self, batch_size=batch_size)


LOCAL = Backend()


def from_params(section: dict | None, prefix: str = "parallel") -> Backend:
    """The backend of a ``parallel`` params section (absent or null: local); a bad value is a one-line
    ParamsError naming its key."""
    from .params import Checked

    p = Checked({} if section is None else section, prefix)
    p.only(KEYS)
    kind = p.choice("backend", BACKENDS, "local")
    address = p.str("address", "local")
    if not (address in ("local", "auto") or address.startswith("ray://") or _host_port(address)):
        p.fail("address", f"must be local, auto, ray://host:port or host:port, got {address!r}")
    return Backend(kind=kind, address=address, workers=p.int("workers", 0, min=0),
                   batch_size=p.int("batch_size", 8, min=1))


def _host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()


def workers_for(requested: int | None) -> int:
    """``requested`` workers, ``0``/``None`` meaning one per core."""
    return max(1, requested or os.cpu_count() or 1)


def _worker_init(parent: int) -> None:
    """Pool worker initializer: die with ``parent`` (the process running ``imap``), not 5-10 minutes later.

    Without it, loky workers orphaned by a SIGKILL keep running their queued items until their idle timeout.
    The import is here, not at the top, so that only worker processes load ``facevoice.stage``."""
    from .stage import die_with_parent

    die_with_parent(parent)


def imap(func: Callable, items: Sequence, workers: int | None = 1, desc: str = "", progress: bool = True,
         batch_size: int | str = "auto", backend: Backend | None = None) -> Iterator:
    """Yield ``func(item)`` in input order; results stream, they are not gathered.

    ``backend`` None or local: ``workers > 1`` runs in joblib's reusable loky pool (each worker is started once
    and runs many items, so models a worker loads stay loaded; it dies when this process dies). ``backend`` ray:
    Ray actors (module docstring), ``backend.workers`` of them (0: one per cluster CPU). A local
    ``backend.workers`` other than 0 overrides ``workers``."""
    from tqdm import tqdm

    backend = backend or LOCAL
    n = workers_for(backend.workers or workers)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, mininterval=1.0)
    try:
        if backend.kind == "ray" and len(items):  # no items: no cluster to join
            results = _ray_imap(func, items, backend)
        elif n == 1 or len(items) < 2:
            results = map(func, items)
        else:
            results = _loky_imap(func, items, n, batch_size)
        for result in results:
            yield result
            bar.update(1)
    finally:
        bar.close()


def _loky_imap(func: Callable, items: Sequence, n: int, batch_size: int | str) -> Iterator:
    from joblib import Parallel, delayed

    run = Parallel(n_jobs=n, return_as="generator", batch_size=batch_size,
                   initializer=_worker_init, initargs=(os.getpid(),))
    yield from run(delayed(func)(item) for item in items)


def pmap(func: Callable, items: Iterable, workers: int | None = 1, desc: str = "", progress: bool = True,
         backend: Backend | None = None) -> list:
    """``imap`` gathered into a list (for small results)."""
    items = list(items)
    return list(imap(func, items, workers, desc, progress, backend=backend))


# ------------------------------------------------------------------------------------------------ ray backend
class _Worker:
    """A Ray actor: one long-lived process running batches of items (per-process model caches stay warm)."""

    def __init__(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # one CPU per actor: no oversubscribed TensorFlow
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    def run(self, func: Callable, batch: list) -> list:
        return [func(item) for item in batch]


def connect(backend: Backend) -> int:
    """Join (or, for ``address: local``, start: ``backend.workers`` CPUs, 0 all cores) the cluster once per
    process; returns the number of actors to use: ``backend.workers``, at most (0: all) the cluster's CPUs."""
    import ray

    if not ray.is_initialized():
        _ACTORS.clear()  # a former connection's actors are gone with it
        kw = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
        if backend.address == "local":
            ray.init(num_cpus=backend.workers or None, **kw)
        else:
            ray.init(address=backend.address, **kw)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return min(backend.workers or cpus, cpus)


_ACTORS: list = []  # this process's actors, reused by every imap call (their models stay loaded)


def actors(n: int) -> list:
    """``n`` actors of the pool (started on first use; they end with this process, their owner)."""
    import ray

    while len(_ACTORS) < n:
        _ACTORS.append(ray.remote(num_cpus=1)(_Worker).remote())
    return _ACTORS[:n]


def _ray_imap(func: Callable, items: Sequence, backend: Backend) -> Iterator:
    """Batches to the least busy actor, at most two per actor in flight; results in input order."""
    n = connect(backend)
    pool = actors(n)
    load = [0] * n
    pending: deque = deque()
    for start in range(0, len(items), backend.batch_size):
        while len(pending) >= 2 * n:
            yield from _collect(pending, load)
        k = min(range(n), key=load.__getitem__)
        load[k] += 1
        pending.append((k, pool[k].run.remote(func, list(items[start:start + backend.batch_size]))))
    while pending:
        yield from _collect(pending, load)


def _collect(pending: deque, load: list) -> list:
    import ray

    k, ref = pending.popleft()
    load[k] -= 1
    return ray.get(ref)
