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
