"""Exact duplicates: one person's copies stay on one side of the split; the same bytes under two people are rejected."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import soundfile as sf

from facevoice.prepare import prepare
from facevoice.split import assign_splits, merge_sources

SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}
SR = 16000


def clip(path: Path, f0: float) -> None:
    t = np.arange(SR) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), SR)


def photo(path: Path, seed: int) -> None:
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8))


def make_tree(root: Path) -> None:
    """ann and bob, 10 photos and 10 clips each, every one of ann's copied once; one photo and one clip of bob
    copied under cy (the same bytes under two people)."""
    for p, person in enumerate(("ann", "bob", "cy")):
        for kind in ("faces", "voices"):
            (root / kind / person).mkdir(parents=True)
        for i in range(10 if person != "cy" else 3):
            photo(root / "faces" / person / f"{i}.png", 100 * p + i)
            clip(root / "voices" / person / f"{i}.wav", 150 + 40 * p + 3 * i)
    for kind, ext in (("faces", "png"), ("voices", "wav")):
        for i in range(10):
            shutil.copy(root / kind / "ann" / f"{i}.{ext}", root / kind / "ann" / f"copy_{i}.{ext}")
        shutil.copy(root / kind / "bob" / f"0.{ext}", root / kind / "cy" / f"same_as_bob.{ext}")


def run(tmp_path):
    make_tree(tmp_path / "c")
    sources = {m: {"source": "folder", "root": str(tmp_path / "c" / m)} for m in ("faces", "voices")}
    return prepare(sources, SPLIT, tmp_path / "out", workers=1)


def test_one_persons_copies_share_a_split_and_shared_bytes_are_rejected(tmp_path, capsys):
    counts = run(tmp_path)
    for kind, ext in (("faces", "png"), ("voices", "wav")):
        kept = pd.read_csv(tmp_path / "out" / f"{kind}.csv", dtype=str, keep_default_na=False)
        user = kept["original_path"] if "original_path" in kept.columns else kept["path"]
        split = dict(zip(user.map(lambda p: Path(p).relative_to(tmp_path / "c" / kind).as_posix()), kept["split"]))
        assert all(split[f"ann/{i}.{ext}"] == split[f"ann/copy_{i}.{ext}"] for i in range(10)), split
        assert len({split[f"ann/{i}.{ext}"] for i in range(10)}) == 3  # the copies move with their original
        rejects = pd.read_csv(tmp_path / "out" / f"{kind}_rejects.csv", dtype=str)
        reasons = {Path(p).relative_to(tmp_path / "c" / kind).as_posix(): r
                   for p, r in zip(rejects["path"], rejects["reason"])}
        bob, cy = tmp_path / "c" / kind / "bob" / f"0.{ext}", tmp_path / "c" / kind / "cy" / f"same_as_bob.{ext}"
        assert reasons == {f"bob/0.{ext}": f"same bytes as {cy} (person cy)",
                           f"cy/same_as_bob.{ext}": f"same bytes as {bob} (person bob)"}
        c = counts[kind]
        assert (c["duplicates_grouped"], c["duplicates_rejected"]) == (20, 2), c
        assert c["found"] == 34 == c["kept"] + c["rejected"] and c["rejected"] == 2
    out = capsys.readouterr().out
    assert "faces: 20 duplicate files kept with their copies in one split, 2 rejected (same bytes, two people)" in out


def test_no_duplicates_no_new_counts(tmp_path):
    """A corpus without duplicates gets the counts it always had (metrics/corpus.json unchanged)."""
    for i in range(4):
        (tmp_path / "c" / f"p{i % 2}").mkdir(parents=True, exist_ok=True)
        photo(tmp_path / "c" / f"p{i % 2}" / f"{i}.png", i)
    counts = prepare({"faces": {"source": "folder", "root": str(tmp_path / "c")}}, SPLIT, tmp_path / "out", workers=1)
    assert set(counts["faces"]) == {"found", "kept", "rejected", "people", "train", "val", "test"}


def test_merge_sources_links_sources_through_shared_digests():
    sources = pd.Series(["a/1", "a/2", "a/3", "a/4", "a/4", "a/5"])
    md5 = pd.Series(["x", "y", "x", "z", "y", None])
    assert list(merge_sources(sources, md5)) == ["a/1", "a/2", "a/1", "a/2", "a/2", "a/5"]
    assert list(merge_sources(sources, pd.Series([None] * 6))) == list(sources)


def test_assign_splits_keeps_rows_with_one_digest_together():
    rows = [{"person": "p", "source_id": f"p/{i}", "md5": f"m{i % 10}"} for i in range(40)]
    df = pd.DataFrame(rows)
    df["split"] = assign_splits(df, "recording", SPLIT["ratios"], seed=1)
    assert (df.groupby("md5")["split"].nunique() == 1).all()
    assert set(df["split"]) == {"train", "val", "test"}
    without = assign_splits(df.drop(columns="md5"), "recording", SPLIT["ratios"], seed=1)
    assert (df.assign(split=without).groupby("md5")["split"].nunique() > 1).any()  # the digest is what groups them


def test_a_long_clip_under_two_people_is_rejected_once_per_file(tmp_path):
    """Cut into segments (prepare's max_seconds), the copy still counts as one file, rejected once."""
    t = np.arange(3 * SR) / SR
    y = (0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * t)) * t)).astype(np.float32)
    for person in ("ann", "bob"):
        (tmp_path / "c" / person).mkdir(parents=True)
        sf.write(tmp_path / "c" / person / "long.wav", y, SR)
        clip(tmp_path / "c" / person / "short.wav", 300 + 50 * (person == "bob"))
    counts = prepare({"voices": {"source": "folder", "root": str(tmp_path / "c")}}, SPLIT, tmp_path / "out",
                     workers=1, max_seconds=1.0)
    rejects = pd.read_csv(tmp_path / "out" / "voices_rejects.csv")
    assert sorted(Path(p).parent.name for p in rejects["path"]) == ["ann", "bob"]
    assert (counts["voices"]["found"], counts["voices"]["kept"], counts["voices"]["rejected"]) == (4, 2, 2)
    assert counts["voices"]["duplicates_rejected"] == 2
