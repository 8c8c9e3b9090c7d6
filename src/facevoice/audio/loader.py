"""The one audio loader: wav, flac, ogg and mp3 through soundfile (libsndfile decodes mp3 since 1.1, about
25x faster than a pydub/ffmpeg subprocess), and mp3 through pydub with the ffmpeg that pip installs when
libsndfile cannot read the file.

Every feature, every stage and the command line read audio through ``load``; a clip that cannot be
used raises ``InputError`` naming the file and the reason, which stages write to their rejects file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from . import dsp

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
SILENCE_PEAK = 1e-4  # a clip whose peak never reaches this (about -80 dBFS) is silent


def _ffmpeg():
    import warnings

    with warnings.catch_warnings():  # pydub warns at import that ffmpeg is not on PATH; we set ours next
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    if getattr(_ffmpeg, "done", False):
        return AudioSegment
    import imageio_ffmpeg

    AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()
    _ffmpeg.done = True
    return AudioSegment


def _read_pydub(path: Path) -> tuple[np.ndarray, int]:
    AudioSegment = _ffmpeg()
    fmt = path.suffix.lower().lstrip(".")
    seg = AudioSegment.from_file(str(path), format=fmt, codec=fmt if fmt == "mp3" else None)
    samples = np.array(seg.get_array_of_samples(), dtype=np.float32)
    if seg.channels > 1:
        samples = samples.reshape(-1, seg.channels).mean(axis=1)
    return samples / float(1 << (8 * seg.sample_width - 1)), seg.frame_rate


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            if f.subtype == "PCM_16":  # most wav/flac: int16 scaled by NumPy, 3x faster than libsndfile's own
                raw = f.read(dtype="int16", always_2d=True)  # float conversion, and the same numbers
                y = raw[:, 0].astype(np.float32) if raw.shape[1] == 1 else raw.mean(axis=1, dtype=np.float32)
                y *= np.float32(1.0 / 32768)
                return y, f.samplerate
            y = f.read(dtype="float32", always_2d=True)
            return (y[:, 0] if y.shape[1] == 1 else y.mean(axis=1)), f.samplerate
    except Exception:
        if path.suffix.lower() != ".mp3":
            raise
    return _read_pydub(path)  # an mp3 libsndfile cannot read: ffmpeg's decoder, through pydub


def mp3_to_wav(src: str | Path, dst: str | Path) -> Path:
    """Convert an mp3 to a wav file through pydub (as the Common Voice seed did)."""
    src, dst = Path(src), Path(dst)
    seg = _ffmpeg().from_file(str(src), format="mp3", codec="mp3")
    dst.parent.mkdir(parents=True, exist_ok=True)
    seg.export(str(dst), format="wav")
    return dst


def write_mp3(path: str | Path, y: np.ndarray, sr: int, bitrate: str = "64k") -> Path:
    """Write float audio in [-1, 1] as mp3 through pydub."""
    AudioSegment = _ffmpeg()
    pcm = (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
    seg = AudioSegment(data=pcm, sample_width=2, frame_rate=int(sr), channels=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.export(str(path), format="mp3", bitrate=bitrate)
    return path


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples, the file's own rate), or ``InputError`` naming the file and the reason."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise InputError(path, f"not an audio file (extension {path.suffix or 'none'})")
    try:
        y, native_sr = _read(path)
    except Exception as exc:  # decoders raise many types; the reason is what matters
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"cannot decode audio ({reason[:160]})") from None
    if y.size == 0:
        raise InputError(path, "no audio samples")
    peak = max(float(y.max()), -float(y.min()))  # NaN propagates through max/min: one check for both
    if not np.isfinite(peak):
        raise InputError(path, "audio holds NaN or infinite samples")
    if peak < SILENCE_PEAK:
        raise InputError(path, "silent clip")
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def load(
    path: str | Path,
    sr: int = 16000,
    trim_db: float | None = None,
    min_duration: float = 0.0,
    duration: float | None = None,
    pad: bool = False,
) -> np.ndarray:
    """Mono float32 audio resampled to ``sr`` Hz.

    ``trim_db``: trim leading/trailing silence quieter than this many dB below the peak.
    ``min_duration``: shorter clips (after trimming) are rejected. ``duration``: cut to this many
    seconds, and with ``pad`` zero-pad shorter clips to it.
    """
    y, native_sr = decode(path)
    if native_sr != sr:
        y = dsp.resample(y, native_sr, sr)  # = librosa.resample(res_type="soxr_hq")
    if trim_db is not None:
        y, _ = dsp.trim(y, top_db=trim_db)  # = librosa.effects.trim
    if len(y) < min_duration * sr:
        raise InputError(path, f"too short ({len(y) / sr:.2f} s < {min_duration} s)")
    if duration is not None:
        n = int(round(duration * sr))
        y = y[:n]
        if pad and len(y) < n:
            y = np.pad(y, (0, n - len(y)))
    return np.ascontiguousarray(y, dtype=np.float32)


def probe(path: str | Path) -> float:
    """Duration in seconds of a usable clip; raises ``InputError`` like ``load``."""
    y, sr = decode(path)
    return len(y) / sr
