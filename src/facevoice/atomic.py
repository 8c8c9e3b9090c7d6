"""Outputs that only appear once finished: ``atomic_dir`` and ``atomic_file`` build under a temporary name and
rename at the end, so a stage killed mid-way (``kill -9``) leaves nothing that looks finished to DVC, and the next
run removes the leftovers. Used by the metrics writer and the stages that write a whole store at once."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def alive(pid: int) -> bool:
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
        if kind in kinds and pid.isdigit() and (int(pid) == os.getpid() or not alive(int(pid))):
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
