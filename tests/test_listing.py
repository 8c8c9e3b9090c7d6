"""Nothing is lost while listing: every entry under a source root is listed or rejected with a reason."""
import json
import os
import shutil
import tempfile
import traceback
from pathlib import Path

import cv2
import numpy as np
import pytest

from facevoice.prepare import prepare
from facevoice.sources import list_files, walk
from facevoice.tables import Rejects

SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}
NOBODY = 65534


def photo(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8))


def make_tree(base: Path) -> Path:
    """root/ann (2 photos, a broken link, a link back to root, a self link), root/bob -> outside/bob (a linked
    person folder), root/ann_again -> root/ann (a second link to a listed folder), a pipe."""
    root = base / "root"
    photo(root / "ann" / "0.png", 0)
    photo(root / "ann" / "1.png", 1)
    photo(base / "outside" / "bob" / "0.png", 2)
    photo(base / "outside" / "bob" / "deep" / "1.png", 3)
    (root / "ann" / "gone.png").symlink_to(base / "nowhere.png")
    (root / "ann" / "up").symlink_to(root, target_is_directory=True)
    (root / "ann" / "self.png").symlink_to(root / "ann" / "self.png")
    (root / "bob").symlink_to(base / "outside" / "bob", target_is_directory=True)
    (root / "ann_again").symlink_to(root / "ann", target_is_directory=True)
    os.mkfifo(root / "ann" / "pipe.png")
    return root


def reasons(rejects: Rejects, root: Path) -> dict[str, str]:
    return {Path(r["path"]).relative_to(root).as_posix(): r["reason"] for r in rejects.rows}


def test_links_loops_and_special_files_are_listed_or_rejected(tmp_path):
    root = make_tree(tmp_path)
    rejects = Rejects("prepare")
    files = [p.relative_to(root).as_posix() for p in walk(root, rejects)]
    assert files == ["ann/0.png", "ann/1.png", "bob/0.png", "bob/deep/1.png"]  # the linked folder, followed once
    got = reasons(rejects, root)
    assert got["ann/gone.png"].startswith("broken link")
    assert got["ann/self.png"].startswith("link loop")
    assert got["ann/up"] == f"link loop (leads back to {root})"
    assert got["ann_again"] == f"link to a folder already listed ({root / 'ann'})"
    assert got["ann/pipe.png"].startswith("not a file or folder")
    assert len(got) == 5


def test_prepare_counts_every_entry(tmp_path):
    root = make_tree(tmp_path)
    counts = prepare({"faces": {"source": "folder", "root": str(root)}}, SPLIT, tmp_path / "out", workers=1)
    faces = counts["faces"]
    assert (faces["found"], faces["kept"], faces["rejected"], faces["people"]) == (9, 4, 5, 2), faces


def as_nobody(func):
    """``func()``'s JSON-able result, run in a forked child that dropped root for ``nobody`` (root reads every
    folder); skips when the user cannot be changed. Forked, not exec'd: the interpreter may live where nobody
    cannot read it (/root/.pyenv)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError as exc:
                answer = {"skip": f"cannot become user nobody ({exc})"}
            else:
                try:
                    answer = {"result": func()}
                except BaseException:
                    answer = {"error": traceback.format_exc()}
            os.write(write, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    answer = json.loads(data or b'{"error": "the child wrote nothing"}')
    if "skip" in answer:
        pytest.skip(answer["skip"])
    if "error" in answer:
        pytest.fail(answer["error"])
    return answer["result"]


def test_an_unreadable_folder_is_rejected_not_lost():
    base = Path(tempfile.mkdtemp(prefix="fv_unreadable_"))  # not under pytest's tmp (0700: nobody cannot enter)
    try:
        os.chmod(base, 0o755)
        for rel, seed in (("ann/0.png", 0), ("bob/0.png", 1), ("locked/0.png", 2)):
            photo(base / rel, seed)
        os.chmod(base / "locked", 0o000)

        def listing():
            rejects = Rejects("prepare")
            df = list_files("faces", "folder", base, {}, rejects)
            return {"kept": sorted(df["person"]), "rejects": rejects.rows}

        got = listing() if os.geteuid() != 0 else as_nobody(listing)
        assert got["kept"] == ["ann", "bob"]
        assert [(r["path"], r["reason"]) for r in got["rejects"]] == [
            (str(base / "locked"), "unreadable folder (Permission denied)")]
    finally:
        os.chmod(base / "locked", 0o755)
        shutil.rmtree(base)
