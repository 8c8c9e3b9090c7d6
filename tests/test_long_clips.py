"""Long clips never sit whole in memory: ``prepare`` cuts a clip longer than ``prepare.max_clip_seconds`` into wav
segments of the same recording as it decodes it (one manifest row each, one source_id, so one side of the split),
and ``loader.stream`` yields any clip in resampled blocks. A pure DC offset is silent. Every clip is generated here;
the limit is a few seconds so the test stays quick (benchmarks/long_clip_memory.py measures an hour-long clip)."""
import subprocess

import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from facevoice.audio import loader
from facevoice.errors import InputError
from facevoice.prepare import prepare

SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}


def speech_like(seconds: float, sr: int, f0: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def corpus(root, long_ext=".wav"):
    """Two speakers, five short clips each, and one 25-second clip of ann's at 22.05 kHz."""
    for person, f0 in (("ann", 220.0), ("bob", 120.0)):
        (root / person).mkdir(parents=True)
        for i in range(5):
            sf.write(root / person / f"{i}.wav", speech_like(1.0, 16000, f0 + 10 * i), 16000)
    wav = root / "ann" / "long.wav"
    sf.write(wav, speech_like(25.0, 22050), 22050, subtype="PCM_16")
    if long_ext != ".wav":
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), str(wav.with_suffix(long_ext))],
                       check=True)
        wav.unlink()
    return root / "ann" / f"long{long_ext}"


@pytest.mark.parametrize("ext", [".wav", ".m4a"])
def test_a_long_clip_becomes_segments_of_one_recording(tmp_path, ext):
    long = corpus(tmp_path / "c", ext)
    counts = prepare({"voices": {"source": "folder", "root": str(tmp_path / "c")}}, SPLIT, tmp_path / "out", workers=1,
                     max_seconds=10)
    df = pd.read_csv(tmp_path / "out/voices.csv")
    rows = df[df["original_path"] == str(long)].sort_values("segment")
    assert list(rows["segment"]) == [0, 1, 2] and list(rows["duration"]) == [10.0, 10.0, 5.0]
    assert rows["source_id"].nunique() == 1 and rows["split"].nunique() == 1  # one recording, one side
    assert (df.loc[df["original_path"] != str(long), "segment"] == 0).all()
    assert counts["voices"]["kept"] == 11 and counts["voices"]["found"] == 11  # files, not rows
    whole = loader.decode(long)[0]
    pieces = np.concatenate([sf.read(p, dtype="float32")[0] for p in rows["path"]])
    assert len(pieces) == len(whole) and np.abs(pieces - whole).max() < 1e-4  # 16-bit copies of the same samples
    assert all(sf.info(p).samplerate == 22050 for p in rows["path"])


def test_without_a_limit_or_under_it_the_manifest_is_as_before(tmp_path):
    corpus(tmp_path / "c")
    prepare({"voices": {"source": "folder", "root": str(tmp_path / "c")}}, SPLIT, tmp_path / "a", workers=1)
    prepare({"voices": {"source": "folder", "root": str(tmp_path / "c")}}, SPLIT, tmp_path / "b", workers=1,
            max_seconds=300)
    assert (tmp_path / "a/voices.csv").read_bytes() == (tmp_path / "b/voices.csv").read_bytes()
    assert "segment" not in pd.read_csv(tmp_path / "a/voices.csv").columns


def test_a_silent_long_clip_is_rejected_and_leaves_no_segment(tmp_path):
    sf.write(tmp_path / "q.wav", np.full(22050 * 25, 0.3, np.float32), 22050)  # a DC offset, no sound
    with pytest.raises(InputError, match="silent clip"):
        loader.segments(tmp_path / "q.wav", tmp_path / "out", 10, silence_dbfs=-60)
    assert list((tmp_path / "out").glob("*.wav")) == []


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".m4a"])
def test_stream_gives_the_samples_load_gives(tmp_path, ext):
    long = corpus(tmp_path / "c", ext)
    blocks = list(loader.stream(long, sr=16000, block_seconds=3.0))
    assert len(blocks) > 5 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    whole = loader.load(long, sr=16000)
    joined = np.concatenate(blocks)
    assert len(joined) == len(whole) and np.abs(joined - whole).max() < 1e-5


def test_stream_errors_name_the_file(tmp_path):
    (tmp_path / "bad.flac").write_bytes(b"fLaC" + b"\x01" * 100)
    with pytest.raises(InputError, match="bad.flac.*cannot decode"):
        list(loader.stream(tmp_path / "bad.flac"))
    with pytest.raises(InputError, match="nope.wav.*file not found"):
        loader.stream(tmp_path / "nope.wav")


def test_a_dc_offset_is_silent_but_its_samples_are_kept(tmp_path):
    sf.write(tmp_path / "dc.wav", np.full(16000, 0.3, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError, match="dc.wav: silent clip"):
        loader.decode(tmp_path / "dc.wav", silence_dbfs=-60)
    tone = speech_like(1.0, 16000) * 0.5 + np.float32(0.3)  # speech riding on an offset is speech
    sf.write(tmp_path / "offset.wav", tone, 16000, subtype="FLOAT")
    y, _ = loader.decode(tmp_path / "offset.wav", silence_dbfs=-60)
    assert abs(float(y.mean()) - 0.3) < 0.01  # the check removes the offset, the samples keep it
