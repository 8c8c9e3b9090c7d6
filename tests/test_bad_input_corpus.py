"""The bad-input corpus of issue #29, generated here (no binaries committed): duplicates within and across people,
a broken link, a linked person folder, a link loop, an unreadable folder, names spelt NFD in one modality and NFC in
the other, a root that is a file, a regex without its group, a misspelt option. Each ends with its outcome and
reason. ``prepare`` runs as user ``nobody`` when the tests run as root, so the unreadable folder is unreadable."""
import os
import shutil
import tempfile
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from facevoice.errors import ParamsError
from facevoice.prepare import prepare
from facevoice.sources import list_files
from facevoice.tables import Rejects
from test_listing import as_nobody  # tests/ is on sys.path (conftest.py's folder)

SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}
SR = 16000
JOSE_NFC, JOSE_NFD = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
KEPT = "kept"


def write(path: Path, kind: str, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "faces":
        cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    else:
        t = np.arange(SR) / SR
        sf.write(path, (0.3 * np.sin(2 * np.pi * (150 + 7 * seed) * t)).astype(np.float32), SR)


def make_corpus(base: Path, kind: str) -> dict[str, tuple[str, str | None]]:
    """One modality's tree under ``base/kind``; returns {relative path: (outcome, reason substring)}."""
    ext = "png" if kind == "faces" else "wav"
    root, outside = base / kind, base / f"{kind}_outside"
    expect = {}
    for person in ("ann", "bob", "cy", " dee "):  # " dee ": stripped to "dee"
        for i in range(6):
            write(root / person / f"{i}.{ext}", kind, 10 * len(expect) + i)
            expect[f"{person}/{i}.{ext}"] = (KEPT, None)
    jose = JOSE_NFD if kind == "faces" else JOSE_NFC  # one person, spelt two ways
    for i in range(3):
        write(root / jose / f"{i}.{ext}", kind, 900 + i)
        expect[f"{jose}/{i}.{ext}"] = (KEPT, None)
    for i in range(3):  # duplicates within a person: kept, each beside its copy
        shutil.copy(root / "ann" / f"{i}.{ext}", root / "ann" / f"copy{i}.{ext}")
        expect[f"ann/copy{i}.{ext}"] = (KEPT, None)
    shutil.copy(root / "bob" / f"0.{ext}", root / "cy" / f"bobs.{ext}")  # duplicates across people: both rejected
    expect[f"bob/0.{ext}"] = ("rejected", f"same bytes as {root / 'cy' / f'bobs.{ext}'} (person cy)")
    expect[f"cy/bobs.{ext}"] = ("rejected", f"same bytes as {root / 'bob' / f'0.{ext}'} (person bob)")
    (root / "ann" / f"gone.{ext}").symlink_to(base / f"nowhere.{ext}")
    expect[f"ann/gone.{ext}"] = ("rejected", "broken link")
    for i in range(4):  # a linked person folder: followed once
        write(outside / "eve" / f"{i}.{ext}", kind, 700 + i)
        expect[f"eve/{i}.{ext}"] = (KEPT, None)
    (root / "eve").symlink_to(outside / "eve", target_is_directory=True)
    (root / "bob" / "back").symlink_to(root, target_is_directory=True)
    expect["bob/back"] = ("rejected", "link loop")
    write(root / "locked" / f"0.{ext}", kind, 800)
    os.chmod(root / "locked", 0o000)
    expect["locked"] = ("rejected", "unreadable folder (Permission denied)")
    return expect


def warm_up(base: Path) -> None:
    """One photo and one clip prepared as root: every module prepare imports on the way is then imported."""
    for kind, ext in (("faces", "png"), ("voices", "wav")):
        write(base / kind / "p" / f"0.{ext}", kind, 0)
    prepare({kind: {"source": "folder", "root": str(base / kind)} for kind in ("faces", "voices")}, SPLIT,
            base / "out", workers=1)


@pytest.fixture(scope="module")
def corpus():
    base = Path(tempfile.mkdtemp(prefix="fv_bad_corpus_"))  # outside pytest's 0700 tmp, so nobody can enter
    os.chmod(base, 0o755)
    expect = {kind: make_corpus(base, kind) for kind in ("faces", "voices")}
    (base / "out").mkdir(mode=0o777)
    os.chmod(base / "out", 0o777)
    sources = {kind: {"source": "folder", "root": str(base / kind)} for kind in expect}
    run = lambda: prepare(sources, SPLIT, base / "out", workers=1)  # noqa: E731
    if os.geteuid() == 0:
        warm_up(base / "warm")  # nobody cannot read the interpreter's lazily imported modules under /root
    counts = as_nobody(run) if os.geteuid() == 0 else run()
    yield base, expect, counts
    for kind in expect:
        os.chmod(base / kind / "locked", 0o755)
    shutil.rmtree(base)


def outcomes(base: Path, kind: str) -> dict[str, tuple[str, str | None]]:
    kept = pd.read_csv(base / "out" / f"{kind}.csv", dtype=str, keep_default_na=False)
    user = kept["original_path"] if "original_path" in kept.columns else kept["path"]
    rejected = pd.read_csv(base / "out" / f"{kind}_rejects.csv", dtype=str, keep_default_na=False)
    got = {Path(p).relative_to(base / kind).as_posix(): (KEPT, None) for p in user}
    for path, reason in zip(rejected["path"], rejected["reason"]):
        rel = Path(path).relative_to(base / kind).as_posix()
        assert rel not in got, f"{rel} both kept and rejected"
        got[rel] = ("rejected", reason)
    return got


@pytest.mark.parametrize("kind", ["faces", "voices"])
def test_every_case_ends_with_its_outcome_and_reason(corpus, kind):
    base, expect, counts = corpus
    got = outcomes(base, kind)
    assert set(got) == set(expect[kind]), set(got) ^ set(expect[kind])
    for rel, (outcome, reason) in expect[kind].items():
        assert got[rel][0] == outcome, (rel, got[rel])
        assert reason is None or reason in got[rel][1], (rel, got[rel], reason)
    c = counts[kind]
    assert c["found"] == len(expect[kind]) == c["kept"] + c["rejected"], c
    assert (c["duplicates_grouped"], c["duplicates_rejected"]) == (6, 2), c


def test_duplicates_of_one_person_share_a_split(corpus):
    base, _, _ = corpus
    for kind, ext in (("faces", "png"), ("voices", "wav")):
        kept = pd.read_csv(base / "out" / f"{kind}.csv", dtype=str, keep_default_na=False)
        user = kept["original_path"] if "original_path" in kept.columns else kept["path"]
        split = dict(zip(user.map(lambda p: Path(p).relative_to(base / kind).as_posix()), kept["split"]))
        assert all(split[f"ann/{i}.{ext}"] == split[f"ann/copy{i}.{ext}"] for i in range(3))


def test_names_are_one_person_across_modalities(corpus):
    base, _, _ = corpus
    people = {kind: set(pd.read_csv(base / "out" / f"{kind}.csv", dtype=str, keep_default_na=False)["person"])
              for kind in ("faces", "voices")}
    assert people["faces"] == people["voices"] == {"ann", "bob", "cy", "dee", "eve", JOSE_NFC}


@pytest.mark.parametrize("case,key", [
    ("root is a file", "'prepare.faces.root' must be a folder"),
    ("regex without group", "'prepare.faces.options.source_from' needs a capture group"),
    ("unknown option key", "'prepare.faces.options.gendr': unknown key"),
])
def test_bad_source_params_are_one_line(tmp_path, case, key):
    write(tmp_path / "c" / "ann" / "0.png", "faces", 0)
    root, opts = {"root is a file": (tmp_path / "c" / "ann" / "0.png", {}),
                  "regex without group": (tmp_path / "c", {"source_from": r"\d+"}),
                  "unknown option key": (tmp_path / "c", {"gendr": "female"})}[case]
    with pytest.raises(ParamsError) as err:
        list_files("faces", "folder", root, opts, Rejects("prepare"))
    assert key in str(err.value) and "\n" not in str(err.value)
