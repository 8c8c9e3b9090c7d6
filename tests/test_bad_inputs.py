"""The bad-input corpus: every file of a folder-source tree ends kept or rejected with its reason.

The corpus is generated under tmp_path (no binary file is committed): faces and voices under ONE root
(``<root>/<person>/<file>``), good photos drawn by the synthetic corpus's renderer and good clips in
wav/flac/mp3/m4a, next to every kind of bad input ``prepare`` must reject, each expected reason given
beside the file that earns it.
"""
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from facevoice.audio.loader import write_mp3
from facevoice.errors import InputError
from facevoice.prepare import check_photo, prepare
from facevoice.sources.synthetic.faces import make_identity, render_photo

SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}
SR = 16000


def voice(seconds: float, f0: float, level: float = 0.3) -> np.ndarray:
    """A vowel-like clip: harmonics of ``f0`` under a syllable envelope."""
    t = np.arange(int(SR * seconds)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    y *= 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2
    return (level * y / np.abs(y).max()).astype(np.float32)


def photo(i: int) -> np.ndarray:
    ident = make_identity(np.random.default_rng([3, i]), "female" if i % 2 else "male")
    return render_photo(ident, np.random.default_rng([4, i]))[0]


def cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def m4a(path: Path, y: np.ndarray) -> Path:
    import imageio_ffmpeg

    wav = path.with_suffix(".tmp.wav")
    sf.write(wav, y, SR)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(wav),
                    "-c:a", "aac", str(path)], check=True, capture_output=True, timeout=60)
    wav.unlink()
    return path


def make_corpus(root: Path) -> dict[str, str | None]:
    """Write the corpus; returns {relative path: expected reason substring, or None when kept}."""
    rng = np.random.default_rng(0)
    expect: dict[str, str | None] = {}
    for person, f0 in (("ann", 220.0), ("bob", 120.0)):
        d = root / person
        d.mkdir(parents=True)
        for k in range(4):  # good photos, jpg and png, and one gif
            img = photo(4 * (person == "bob") + k)
            name = f"{person}_{k}.{'jpg' if k % 2 else 'png'}"
            cv2.imwrite(str(d / name), img)
            expect[f"{person}/{name}"] = None
        for k in range(3):  # good clips
            sf.write(d / f"{person}_{k}.wav", voice(1.0 + 0.2 * k, f0 * (1 + 0.05 * k)), SR)
            expect[f"{person}/{person}_{k}.wav"] = None
        write_mp3(d / f"{person}_3.mp3", voice(1.2, f0 * 1.2), SR)
        expect[f"{person}/{person}_3.mp3"] = None
    sf.write(root / "bob/bob_4.flac", voice(1.0, 140.0), SR)
    m4a(root / "ann/ann_4.m4a", voice(1.0, 250.0))
    write_mp3(root / "bob/bob_short.mp3", voice(0.5, 130.0), SR)  # kept here; too short for the features below
    cv2.imwrite(str(root / "ann/ann_4.gif"), photo(9))
    expect.update({"bob/bob_4.flac": None, "ann/ann_4.m4a": None, "bob/bob_short.mp3": None, "ann/ann_4.gif": None})

    bad = {  # faces
        "ann/zero.jpg": (b"", "empty file"),
        "ann/random.jpg": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), "unreadable image"),
        "bob/random.png": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), "unreadable image"),
        # voices
        "ann/zero.wav": (b"", "empty file"),
        "ann/random.wav": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), "cannot decode audio"),
        "bob/random.mp3": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), "cannot decode audio"),
        # neither: unknown extensions, reported once (by the voices listing) though both list this root
        "ann/notes.txt": (b"not a photo", "unsupported extension .txt"),
        "bob/data.xyz": (b"\x00" * 64, "unsupported extension .xyz"),
        "manifest.csv": (b"path,person\n", "unsupported extension .csv"),
        "README": (b"read me", "unsupported extension (none)"),
    }
    for rel, (data, reason) in bad.items():
        (root / rel).write_bytes(data)
        expect[rel] = reason
    for fraction in (0.4, 0.6, 0.75):
        for src in ("ann/ann_1.jpg", "ann/ann_0.png", "ann/ann_0.wav", "bob/bob_3.mp3"):
            dst = root / src.replace("_", f"_cut{int(fraction * 100)}_")
            cut(root / src, dst, fraction)
            expect[str(dst.relative_to(root))] = "truncated file"
    cv2.imwrite(str(root / "bob/tiny.png"), photo(1)[:8, :8])
    expect["bob/tiny.png"] = "image too small (8x8)"
    sf.write(root / "ann/header_only.wav", np.zeros(0, dtype=np.float32), SR)  # a wav header, no samples
    expect["ann/header_only.wav"] = "no audio samples"
    sf.write(root / "ann/silent.wav", np.zeros(SR, dtype=np.float32), SR)
    expect["ann/silent.wav"] = "silent clip"
    noise = rng.normal(0, 10 ** (-77 / 20), SR).astype(np.float32)  # RMS -77 dBFS, peak about -65 dBFS
    sf.write(root / "bob/noise77.wav", noise, SR, subtype="FLOAT")
    expect["bob/noise77.wav"] = "silent clip (level -7"
    sf.write(root / "ann/short.wav", voice(0.1, 200.0), SR)
    expect["ann/short.wav"] = "too short (0.10 s < 0.3 s)"
    nan = voice(1.0, 180.0)
    nan[100:200] = np.nan
    sf.write(root / "bob/nan.wav", nan, SR, subtype="FLOAT")
    expect["bob/nan.wav"] = "NaN"
    cv2.imwrite(str(root / "loose.jpg"), photo(2))
    sf.write(root / "loose.wav", voice(1.0, 200.0), SR)
    expect.update({"loose.jpg": "not inside a person folder", "loose.wav": "not inside a person folder"})
    (root / "ann/.DS_Store").write_bytes(b"\x00\x01")  # hidden: not a corpus file
    (root / ".cache").mkdir()
    (root / ".cache/thumb.jpg").write_bytes(b"\x00")
    return expect


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad") / "corpus"
    expect = make_corpus(root)
    out = root.parent / "manifests"
    spec = {"source": "folder", "root": str(root)}
    counts = prepare({"faces": spec, "voices": spec}, SPLIT, out, min_duration=0.3, workers=1, silence_dbfs=-60)
    return root, out, expect, counts


def outcome(root: Path, out: Path) -> dict[str, tuple[str, str | None]]:
    """{relative path: (table it ended in, reason or None)}, failing on a file found twice."""
    seen: dict[str, tuple[str, str | None]] = {}
    for m in ("faces", "voices"):
        kept = pd.read_csv(out / f"{m}.csv", dtype=str, keep_default_na=False)
        user = kept["original_path"] if "original_path" in kept.columns else kept["path"]
        rejected = pd.read_csv(out / f"{m}_rejects.csv", dtype=str, keep_default_na=False)
        for table, paths, reasons in ((m, user, [None] * len(user)),
                                      (f"{m}_rejects", rejected["path"], rejected["reason"])):
            for path, reason in zip(paths, reasons):
                rel = Path(path).relative_to(root).as_posix()  # every path names the user's file
                assert rel not in seen, f"{rel} in {seen[rel][0]} and {table}"
                seen[rel] = (table, reason)
    return seen


def test_every_file_is_kept_or_rejected_with_its_reason(corpus):
    root, out, expect, _ = corpus
    seen = outcome(root, out)
    assert set(seen) == set(expect), (set(seen) ^ set(expect))
    for rel, reason in expect.items():
        table, got = seen[rel]
        if reason is None:
            assert got is None and not table.endswith("_rejects"), (rel, table, got)
        else:
            assert table.endswith("_rejects") and reason in got, (rel, table, got, reason)


def test_found_is_kept_plus_rejected(corpus):
    _, _, expect, counts = corpus
    for m in ("faces", "voices"):
        c = counts[m]
        assert c["found"] == c["kept"] + c["rejected"] == c["train"] + c["val"] + c["test"] + c["rejected"]
    assert sum(c["found"] for c in counts.values()) == len(expect)
    assert counts["faces"]["kept"] == 9 and counts["voices"]["kept"] == 11, counts


def test_unknown_extensions_are_rejected_once_in_a_shared_root(corpus):
    _, out, _, _ = corpus
    faces = pd.read_csv(out / "faces_rejects.csv")
    voices = pd.read_csv(out / "voices_rejects.csv")
    assert not faces["reason"].str.contains("unsupported").any()
    assert voices["reason"].str.contains("unsupported extension").sum() == 4
    assert not set(faces["path"]) & set(voices["path"])


def test_converted_clips_keep_the_users_path(corpus):
    _, out, _, _ = corpus
    voices = pd.read_csv(out / "voices.csv", dtype=str)
    converted = voices[voices["original_path"].str.endswith((".mp3", ".m4a"))]
    assert len(converted) == 4
    assert all(Path(p).parent == out / "audio" and p.endswith(".wav") for p in converted["path"])
    assert all(Path(p).exists() for p in converted["path"])


def test_features_reject_names_the_users_mp3_and_counts_reconcile(corpus, tmp_path):
    """A clip prepare kept but a feature rejects is named by its mp3, not by the wav copy prepare made."""
    from facevoice.features import build

    root, out, _, counts = corpus
    params = {"kind": "mfcc", "sr": SR, "n_mfcc": 20, "n_fft": 512, "hop": 160, "trim_db": 30,
              "stats": ["mean", "std"], "seq_frames": 50, "min_duration": 0.8}
    summary = build("mfcc", params, out / "voices.csv", tmp_path / "mfcc", workers=1, progress=False)
    assert summary["clips"] == counts["voices"]["kept"] == summary["clips_kept"] + summary["clips_rejected"]
    rejects = pd.read_csv(tmp_path / "mfcc/rejects.csv")
    assert list(rejects["path"]) == [str(root / "bob/bob_short.mp3")]
    assert "too short" in rejects["reason"][0] and "manifests" not in rejects["reason"][0]


@pytest.mark.parametrize("ext", ["jpg", "png"])
@pytest.mark.parametrize("fraction", [0.4, 0.6, 0.75])
def test_check_photo_rejects_a_cut_photo(tmp_path, ext, fraction):
    cv2.imwrite(str(tmp_path / f"a.{ext}"), photo(0))
    check_photo(str(tmp_path / f"a.{ext}"))  # whole: kept
    with pytest.raises(InputError, match="truncated file"):
        check_photo(str(cut(tmp_path / f"a.{ext}", tmp_path / f"b.{ext}", fraction)))
