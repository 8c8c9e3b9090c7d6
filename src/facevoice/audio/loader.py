"""The one audio loader: wav, flac, ogg, opus and mp3 through soundfile (libsndfile decodes mp3 since 1.1,
about 25x faster than a pydub/ffmpeg subprocess), mp3 through pydub with the ffmpeg that pip installs
(imageio-ffmpeg) when libsndfile cannot read the file, and m4a, aac and webm, which libsndfile cannot
read, through that same ffmpeg (``_read_ffmpeg``: pydub would need ffprobe, which pip does not install).

Every feature, every stage and the command line read audio through ``load``; a clip that cannot be
used raises ``InputError`` naming the file and the reason, which stages write to their rejects file.

``decode`` rejects, besides files that do not decode:

- truncated files ("truncated file"), judged from their own structure before decoding, since decoders
  play what is there and say nothing: a wav whose ``data`` chunk claims more bytes than the file holds
  (the placeholder sizes 0 and 0xFFFFFFFF of streamed wavs are not judged); an mp3 (or raw aac, ADTS)
  whose chain of frames, walked header to header from the first frame, ends inside a frame or holds
  fewer frames than its Xing/Info header counts (a cut on a frame boundary); a file ffmpeg says ended
  prematurely (webm). A cut flac, ogg or m4a mostly does not decode at all ("cannot decode audio ...");
  a few bytes cut off their end may go unnoticed.
- silent clips ("silent clip"): the peak never reaches ``SILENCE_PEAK``, or, when ``silence_dbfs`` is
  given (``prepare.silence_dbfs``), the clip's active level (``level_dbfs``: the mean energy of its
  loudest 10% of 20 ms frames, in dBFS) is below it: steady noise at -77 dBFS is rejected, a short word
  in a long quiet clip is not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from . import dsp

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm")
FFMPEG_EXTENSIONS = (".m4a", ".aac", ".webm")  # libsndfile cannot read these: ffmpeg decodes them
SILENCE_PEAK = 1e-4  # a clip whose peak never reaches this (about -80 dBFS) is silent
LEVEL_FRAME = 0.02  # seconds; level_dbfs is the energy of the loudest LEVEL_TOP of these frames
LEVEL_TOP = 0.1
# MPEG audio Layer III frame headers: bitrates (kbps) by MPEG-1 / MPEG-2 and 2.5, sample rates by version bits
_MP3_KBPS = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


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


def _read_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Any format ffmpeg knows (m4a, aac, webm, opus), as float32 wav piped from the ffmpeg pip installs."""
    import io
    import subprocess

    import imageio_ffmpeg
    import soundfile as sf

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-vn", "-f", "wav",
           "-acodec", "pcm_f32le", "-"]
    result = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    err = result.stderr.decode("utf-8", "replace").strip()
    if "ended prematurely" in err or "truncat" in err.lower():
        raise InputError(path, "truncated file")
    if result.returncode != 0 or not result.stdout:
        raise RuntimeError(err.splitlines()[-1] if err else f"ffmpeg exited with {result.returncode}")
    y, sr = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    return (y[:, 0] if y.shape[1] == 1 else y.mean(axis=1)), sr


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    suffix = path.suffix.lower()
    if suffix in FFMPEG_EXTENSIONS:
        return _read_ffmpeg(path)
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
        if suffix not in (".mp3", ".opus"):
            raise
    if suffix == ".opus":
        return _read_ffmpeg(path)  # an opus libsndfile cannot read (not in an ogg container)
    return _read_pydub(path)  # an mp3 libsndfile cannot read: ffmpeg's decoder, through pydub


def _wav_truncated(path: Path) -> bool:
    """A RIFF/WAVE file whose ``data`` chunk claims more bytes than the file holds."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False  # RF64, Wave64 or no wav at all: the decoder judges it
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            n = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return n not in (0, 0xFFFFFFFF) and pos + 8 + n > size  # 0, 0xFFFFFFFF: streamed, size unknown
            pos += 8 + n + (n & 1)
    return False


def _mp3_frame(head: bytes) -> tuple[int, tuple] | None:
    """(length in bytes, (version, rate)) of the MPEG Layer III frame whose 4-byte header is ``head``."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer, kbps, rate = (head[1] >> 3) & 3, (head[1] >> 1) & 3, head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer != 1 or kbps in (0, 15) or rate == 3:  # reserved, not Layer III, free or bad
        return None
    hz = _MP3_RATES[version][rate]
    size = (144 if version == 3 else 72) * 1000 * _MP3_KBPS[3 if version == 3 else 2][kbps] // hz
    return size + ((head[2] >> 1) & 1), (version, hz)


def _adts_frame(head: bytes) -> tuple[int, tuple] | None:
    """(length in bytes, (profile, rate, channels)) of the raw AAC (ADTS) frame whose header is ``head``."""
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0 or (head[2] >> 2) & 0xF > 12:
        return None
    size = (head[3] & 3) << 11 | head[4] << 3 | head[5] >> 5
    return (size, (head[2] >> 6, (head[2] >> 2) & 0xF, (head[2] & 1) << 2 | head[3] >> 6)) if size >= 7 else None


def _first_frame(data: bytes, parse) -> int | None:
    """Offset of the first frame (after an ID3v2 tag) whose header the next frame's header confirms."""
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | data[9] & 0x7F
        pos = 10 + size + (10 if data[5] & 0x10 else 0)  # tag header, tag, footer
    while 0 <= pos < len(data):
        frame = parse(data[pos:pos + 7])
        if frame:
            after = parse(data[pos + frame[0]:pos + frame[0] + 7])
            if after and after[1] == frame[1]:
                return pos
        pos = data.find(b"\xff", pos + 1)
    return None


def _chain_truncated(data: bytes, parse) -> bool:
    """Whether the chain of frames (mp3 or ADTS), walked header to header, ends inside a frame or lacks
    frames its Xing/Info header (LAME's; it counts all frames but its own) says it has."""
    start = _first_frame(data, parse)
    if start is None:
        return False  # no frames found: the decoder judges it
    key, pos, frames = parse(data[start:start + 7])[1], start, 0
    while pos < len(data):
        frame = parse(data[pos:pos + 7])
        if frame is None or frame[1] != key:  # an ID3v1/APE tag or trailing bytes: the chain ended
            return len(data) - pos < 7 and data[start:start + 2].startswith(data[pos:pos + 2])  # a header cut short
        if pos + frame[0] > len(data):
            return True
        pos, frames = pos + frame[0], frames + 1
    xing = max(data.find(b"Xing", start, start + 64), data.find(b"Info", start, start + 64))
    if xing < 0 or not int.from_bytes(data[xing + 4:xing + 8], "big") & 1:
        return False
    return frames < int.from_bytes(data[xing + 8:xing + 12], "big")


def truncated(path: str | Path) -> bool:
    """Whether a wav, mp3 or raw aac file is cut short (see the module's docstring); other formats: False."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return _wav_truncated(path)
    parse = {".mp3": _mp3_frame, ".aac": _adts_frame}.get(suffix)
    return _chain_truncated(path.read_bytes(), parse) if parse else False


def level_dbfs(y: np.ndarray, sr: int) -> float:
    """The active level of a clip in dBFS: the mean energy of its loudest 10% of 20 ms frames."""
    n = max(1, int(LEVEL_FRAME * sr))
    k = len(y) // n
    x = y[: k * n].astype(np.float64).reshape(k, n) if k else y.astype(np.float64)[None, :]
    energy = np.sort((x * x).mean(axis=1))
    top = energy[-max(1, round(len(energy) * LEVEL_TOP)):]
    return float(10 * np.log10(max(float(top.mean()), 1e-20)))


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


def decode(path: str | Path, silence_dbfs: float | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 samples, the file's own rate), or ``InputError`` naming the file and the reason.

    ``silence_dbfs``: also reject a clip whose active level (``level_dbfs``) is below this many dBFS."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise InputError(path, f"not an audio file (extension {path.suffix or 'none'})")
    try:
        if truncated(path):
            raise InputError(path, "truncated file")
        y, native_sr = _read(path)
    except InputError:
        raise
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
    if silence_dbfs is not None:
        level = level_dbfs(y, native_sr)
        if level < silence_dbfs:
            raise InputError(path, f"silent clip (level {level:.1f} dBFS < {silence_dbfs:g} dBFS)")
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
