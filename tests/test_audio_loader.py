"""The one audio loader reads wav/flac/mp3 and names the file and reason for bad clips."""
import numpy as np
import pytest
import soundfile as sf

from facevoice.audio.loader import decode, load, mp3_to_wav, write_mp3
from facevoice.errors import InputError


def tone(sr=16000, seconds=1.0, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_real_formats_load_mono_at_the_requested_rate(audio_formats):
    for name in ["2412-153948-0000.flac", "common_voice_en_651325.mp3", "libri-1088-134315-0000.wav"]:
        y = load(audio_formats / name, sr=8000)
        y16, sr = decode(audio_formats / name)
        assert y.ndim == 1 and y.dtype == np.float32
        assert abs(len(y) / 8000 - len(y16) / sr) < 0.05, name
        assert 0.01 < np.abs(y).max() <= 1.0


def test_flac_duration_matches_its_header(audio_formats):
    y = load(audio_formats / "2412-153948-0000.flac", sr=16000)
    assert len(y) == 186560  # from manifest.csv: 16 kHz, 186560 samples


def test_mp3_round_trip_through_pydub(tmp_path):
    y = tone(sr=22050, seconds=1.5)
    write_mp3(tmp_path / "a.mp3", y, 22050)
    wav = mp3_to_wav(tmp_path / "a.mp3", tmp_path / "a.wav")
    back, sr = decode(wav)
    assert sr == 22050 and abs(len(back) / sr - 1.5) < 0.1
    spectrum = np.abs(np.fft.rfft(back))
    assert abs(np.argmax(spectrum) * sr / len(back) - 440) < 5


def test_resample_pad_and_cut(tmp_path):
    sf.write(tmp_path / "t.wav", tone(sr=8000, seconds=0.5), 8000)
    y = load(tmp_path / "t.wav", sr=16000, duration=1.0, pad=True)
    assert len(y) == 16000 and np.all(y[9000:] == 0)
    assert len(load(tmp_path / "t.wav", sr=16000, duration=0.25)) == 4000


@pytest.mark.parametrize("content,name,reason", [
    (b"", "empty.wav", "empty file"),
    (b"RIFF\x00\x00garbage" * 10, "corrupt.wav", "cannot decode"),
    (b"hello", "notes.txt", "not an audio file"),
    (b"\xff\xfb" + b"\x00" * 20, "broken.mp3", "cannot decode"),
])
def test_bad_files_raise_with_path_and_reason(tmp_path, content, name, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.path == str(path) and reason in info.value.reason


def test_silent_and_short_clips_are_rejected(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(InputError, match="silent"):
        load(tmp_path / "silent.wav")
    sf.write(tmp_path / "short.wav", tone(seconds=0.1), 16000)
    with pytest.raises(InputError, match="too short"):
        load(tmp_path / "short.wav", min_duration=0.5)


def test_mp3_decodes_alike_through_soundfile_and_the_pydub_fallback(tmp_path):
    """decode reads mp3 with libsndfile; the ffmpeg (pydub) path it falls back to gives the same samples."""
    from facevoice.audio.loader import _read_pydub

    t = np.arange(22050) / 22050
    write_mp3(tmp_path / "a.mp3", 0.4 * np.sin(2 * np.pi * 300 * t), 22050)
    y, sr = decode(tmp_path / "a.mp3")
    y2, sr2 = _read_pydub(tmp_path / "a.mp3")
    assert sr == sr2 == 22050 and len(y) == len(y2)
    np.testing.assert_allclose(y, y2, atol=1e-3)


def _ffmpeg_encode(src, dst, *args):
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)],
                   check=True, capture_output=True, timeout=60)
    return dst


@pytest.mark.parametrize("ext,args", [("m4a", ["-c:a", "aac"]), ("aac", ["-c:a", "aac"]),
                                      ("webm", ["-c:a", "libopus"]), ("opus", ["-c:a", "libopus"])])
def test_ffmpeg_formats_decode(tmp_path, ext, args):
    """m4a, aac and webm, which libsndfile cannot read, decode through the ffmpeg pip installs."""
    sf.write(tmp_path / "t.wav", tone(seconds=1.0), 16000)
    y, sr = decode(_ffmpeg_encode(tmp_path / "t.wav", tmp_path / f"t.{ext}", *args))
    assert sr in (16000, 48000) and abs(len(y) / sr - 1.0) < 0.1
    assert abs(np.argmax(np.abs(np.fft.rfft(y))) * sr / len(y) - 440) < 5


def _mp3(tmp_path, sr, bitrate):
    t = np.arange(int(sr * 1.3)) / sr
    return write_mp3(tmp_path / f"{sr}_{bitrate}.mp3", 0.3 * np.sin(2 * np.pi * 300 * t), sr, bitrate=bitrate)


@pytest.mark.parametrize("fraction", [0.4, 0.5, 0.6, 0.75, 0.99])
def test_cut_wav_and_mp3_are_truncated(tmp_path, fraction):
    from facevoice.audio.loader import truncated

    sf.write(tmp_path / "a.wav", tone(seconds=2.0), 16000)
    sf.write(tmp_path / "f.wav", tone(seconds=2.0), 16000, subtype="FLOAT")
    files = [tmp_path / "a.wav", tmp_path / "f.wav"]
    files += [_mp3(tmp_path, sr, br) for sr, br in ((8000, "32k"), (16000, "64k"), (22050, "64k"), (44100, "128k"))]
    for src in files:
        assert not truncated(src), src
        data = src.read_bytes()
        dst = tmp_path / f"cut_{src.name}"
        dst.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(InputError, match="truncated file") as info:
            decode(dst)
        assert info.value.path == str(dst)


def test_mp3_cut_on_a_frame_boundary_is_truncated_by_its_xing_count(tmp_path):
    from facevoice.audio.loader import _first_frame, _mp3_frame, truncated

    src = _mp3(tmp_path, 16000, "64k")
    data = src.read_bytes()
    pos = _first_frame(data, _mp3_frame)
    for _ in range(20):  # 20 whole frames of about 40
        pos += _mp3_frame(data[pos:pos + 4])[0]
    (tmp_path / "cut.mp3").write_bytes(data[:pos])
    assert truncated(tmp_path / "cut.mp3")
    (tmp_path / "tagged.mp3").write_bytes(data + b"TAG" + b"\x00" * 125)  # an ID3v1 tag after the last frame
    assert not truncated(tmp_path / "tagged.mp3")


def test_complete_and_random_files_are_not_called_truncated(tmp_path, audio_formats):
    from facevoice.audio.loader import truncated

    for path in sorted(audio_formats.iterdir()):
        assert not truncated(path), path
    rng = np.random.default_rng(0)
    for i in range(50):
        (tmp_path / "r.mp3").write_bytes(rng.integers(0, 256, int(rng.integers(10, 20000)), dtype=np.uint8).tobytes())
        (tmp_path / "r.aac").write_bytes((tmp_path / "r.mp3").read_bytes())
        assert not truncated(tmp_path / "r.mp3") and not truncated(tmp_path / "r.aac")


def test_streamed_wav_with_unknown_data_size_is_not_truncated(tmp_path):
    from facevoice.audio.loader import truncated

    sf.write(tmp_path / "a.wav", tone(), 16000)
    data = bytearray((tmp_path / "a.wav").read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = b"\xff\xff\xff\xff"  # what a writer that could not seek back leaves
    (tmp_path / "s.wav").write_bytes(bytes(data))
    assert not truncated(tmp_path / "s.wav")
    assert len(decode(tmp_path / "s.wav")[0]) == 16000


def test_level_and_silence_threshold(tmp_path):
    from facevoice.audio.loader import level_dbfs

    assert abs(level_dbfs(tone(), 16000) - 20 * np.log10(0.5 / np.sqrt(2))) < 0.1  # a sine: peak / sqrt(2)
    noise = np.random.default_rng(0).normal(0, 10 ** (-77 / 20), 16000).astype(np.float32)
    sf.write(tmp_path / "noise.wav", noise, 16000, subtype="FLOAT")
    decode(tmp_path / "noise.wav")  # its peak passes the peak check; only the level threshold rejects it
    with pytest.raises(InputError, match=r"silent clip \(level -7\d\.\d dBFS < -60 dBFS\)"):
        decode(tmp_path / "noise.wav", silence_dbfs=-60)
    word = np.zeros(5 * 16000, dtype=np.float32)  # one loud 0.3 s word in 5 s of near silence
    word[16000:16000 + 4800] = tone(seconds=0.3)
    sf.write(tmp_path / "word.wav", word, 16000)
    assert 20 * np.log10(np.sqrt(np.mean(word ** 2))) < -20  # its whole-clip RMS is low ...
    decode(tmp_path / "word.wav", silence_dbfs=-20)  # ... its active level is not
