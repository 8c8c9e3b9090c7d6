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
  in a long quiet clip is not. Both are judged after removing the clip's mean (its DC offset), so a
  constant 0.3 is silent too; the samples returned keep their offset.

Long clips never sit whole in memory: ``stream`` yields a clip in blocks (libsndfile reads blocks of
wav, flac, ogg and mp3; ffmpeg pipes raw PCM for the rest) resampled as it goes, and ``segments`` cuts a
clip longer than a limit into 16-bit wav pieces of the same recording, checked as ``decode`` checks a clip.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
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


def _read_mono(f, frames: int) -> np.ndarray:
    """The next ``frames`` (-1: all) of an open ``soundfile.SoundFile`` as mono float32; blocks read one after
    another give the samples of one whole read."""
    if f.subtype == "PCM_16":  # most wav/flac: int16 scaled by NumPy, 3x faster than libsndfile's own
        raw = f.read(frames, dtype="int16", always_2d=True)  # float conversion, and the same numbers
        y = raw[:, 0].astype(np.float32) if raw.shape[1] == 1 else raw.mean(axis=1, dtype=np.float32)
        y *= np.float32(1.0 / 32768)
        return y
    y = f.read(frames, dtype="float32", always_2d=True)
    return y[:, 0] if y.shape[1] == 1 else y.mean(axis=1)


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    suffix = path.suffix.lower()
    if suffix in FFMPEG_EXTENSIONS:
        return _read_ffmpeg(path)
    try:
        with sf.SoundFile(str(path)) as f:
            return _read_mono(f, -1), f.samplerate
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


class _Level:
    """What ``decode``'s checks need, gathered block by block: NaN or infinity seen, the mean (the DC offset),
    the extremes, and per 20 ms frame the sum and the sum of squares (so the frames' energies after removing
    the mean come out at the end, without keeping the samples)."""

    def __init__(self, sr: int):
        self.n, self.count, self.total, self.bad = max(1, int(LEVEL_FRAME * sr)), 0, 0.0, False
        self.hi, self.lo, self.sums, self.squares = -np.inf, np.inf, [], []
        self.carry = np.zeros(0)

    def add(self, y: np.ndarray) -> None:
        if not y.size:
            return
        hi, lo = float(y.max()), float(y.min())  # NaN propagates through max/min: one check for both
        self.bad |= not (np.isfinite(hi) and np.isfinite(lo))
        self.hi, self.lo, self.count = max(self.hi, hi), min(self.lo, lo), self.count + y.size
        for at in range(0, y.size, 1 << 20):  # float64 copies of 1M samples at most, whatever the block
            chunk = y[at:at + (1 << 20)].astype(np.float64)
            self.total += float(chunk.sum())
            x = np.concatenate([self.carry, chunk])
            k = x.size // self.n
            frames = x[:k * self.n].reshape(k, self.n)
            self.sums.append(frames.sum(axis=1))
            self.squares.append(np.einsum("ij,ij->i", frames, frames))
            self.carry = x[k * self.n:]

    def dbfs(self) -> float:
        """The active level after removing the mean: the mean energy of the loudest 10% of 20 ms frames (a clip
        shorter than one frame is one frame)."""
        mean = self.total / max(self.count, 1)
        sums, squares = np.concatenate([np.zeros(0), *self.sums]), np.concatenate([np.zeros(0), *self.squares])
        n = self.n
        if not sums.size:
            sums, squares, n = np.array([self.carry.sum()]), np.array([(self.carry ** 2).sum()]), max(self.carry.size, 1)
        energy = np.sort(np.maximum((squares - 2 * mean * sums) / n + mean * mean, 0.0))
        top = energy[-max(1, round(len(energy) * LEVEL_TOP)):]
        return float(10 * np.log10(max(float(top.mean()), 1e-20)))

    def reason(self, silence_dbfs: float | None) -> str | None:
        """Why the clip is unusable (no samples, NaN, silent after removing its DC offset), or None."""
        if not self.count:
            return "no audio samples"
        if self.bad:
            return "audio holds NaN or infinite samples"
        mean = self.total / self.count
        if max(self.hi - mean, mean - self.lo) < SILENCE_PEAK:
            return "silent clip"
        level = self.dbfs() if silence_dbfs is not None else 0.0
        if silence_dbfs is not None and level < silence_dbfs:
            return f"silent clip (level {level:.1f} dBFS < {silence_dbfs:g} dBFS)"
        return None


def level_dbfs(y: np.ndarray, sr: int) -> float:
    """The active level of a clip in dBFS after removing its mean (DC offset): the mean energy of its loudest 10%
    of 20 ms frames."""
    level = _Level(sr)
    level.add(np.asarray(y))
    return level.dbfs()


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


def _undecodable(path: Path, exc: Exception) -> InputError:
    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return InputError(path, f"cannot decode audio ({reason[:160]})")


def _checked_file(path: str | Path) -> Path:
    """The path of an audio file that exists, holds bytes and is not cut short, or ``InputError``."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise InputError(path, f"not an audio file (extension {path.suffix or 'none'})")
    try:
        cut = truncated(path)
    except Exception as exc:  # decoders raise many types; the reason is what matters
        raise _undecodable(path, exc) from None
    if cut:
        raise InputError(path, "truncated file")
    return path


def decode(path: str | Path, silence_dbfs: float | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 samples, the file's own rate), or ``InputError`` naming the file and the reason.

    ``silence_dbfs``: also reject a clip whose active level (``level_dbfs``) is below this many dBFS."""
    path = _checked_file(path)
    try:
        y, native_sr = _read(path)
    except InputError:
        raise
    except Exception as exc:  # decoders raise many types; the reason is what matters
        raise _undecodable(path, exc) from None
    level = _Level(native_sr)
    level.add(y)
    reason = level.reason(silence_dbfs)
    if reason:
        raise InputError(path, reason)
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


# ------------------------------------------------------------------------------------- long clips, in blocks
def _sf_blocks(path: Path, seconds: float) -> tuple[int, Iterator[np.ndarray]]:
    """(rate, mono float32 blocks) read by libsndfile; the blocks join into what ``_read`` returns."""
    import soundfile as sf

    f = sf.SoundFile(str(path))

    def blocks():
        with f:
            n = -(-max(1, int(seconds * f.samplerate)) // 1152) * 1152  # whole mp3 frames: libmpg123 (inside
            while (y := _read_mono(f, n)).size:  # libsndfile) garbles samples at a read ending mid-frame
                yield y

    return f.samplerate, blocks()


def _wav_header(fh) -> tuple[int, int]:
    """(rate, channels) from the head of a wav stream, read up to the start of its ``data`` chunk."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise RuntimeError("ffmpeg wrote no wav stream")
    rate = channels = None
    while len(chunk := fh.read(8)) == 8:
        n = int.from_bytes(chunk[4:], "little")
        if chunk[:4] == b"data" and rate:
            return rate, channels
        body = fh.read(n + (n & 1))
        if chunk[:4] == b"fmt ":
            channels, rate = int.from_bytes(body[2:4], "little"), int.from_bytes(body[4:8], "little")
    raise RuntimeError("ffmpeg's wav stream has no data")


def _ffmpeg_verdict(path: Path, err, returncode: int) -> None:
    """Raise what ffmpeg's stderr (a temporary file) says went wrong: a truncated file, or its last error line."""
    err.seek(0)
    text = err.read().decode("utf-8", "replace").strip()
    if "ended prematurely" in text or "truncat" in text.lower():
        raise InputError(path, "truncated file")
    if returncode:
        raise RuntimeError(text.splitlines()[-1] if text else f"ffmpeg exited with {returncode}")


def _pcm_blocks(path: Path, proc, err, channels: int, frames: int) -> Iterator[np.ndarray]:
    size = 4 * channels
    try:
        while chunk := proc.stdout.read(frames * size):
            x = np.frombuffer(chunk, "<f4", count=len(chunk) // size * channels).reshape(-1, channels)
            yield x[:, 0].copy() if channels == 1 else x.mean(axis=1)
        _ffmpeg_verdict(path, err, proc.wait())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()


def _ffmpeg_blocks(path: Path, seconds: float) -> tuple[int, Iterator[np.ndarray]]:
    """(rate, mono float32 blocks) of float32 wav piped from ffmpeg and read as it arrives."""
    import subprocess
    import tempfile

    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-vn", "-f", "wav",
           "-acodec", "pcm_f32le", "-"]
    err = tempfile.TemporaryFile()  # a file, not a pipe: ffmpeg never blocks on a full stderr pipe
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    try:
        rate, channels = _wav_header(proc.stdout)
    except Exception:
        proc.kill()
        _ffmpeg_verdict(path, err, proc.wait() or 1)
        raise
    return rate, _pcm_blocks(path, proc, err, channels, max(1, int(seconds * rate)))


def _opened(path: Path, seconds: float) -> tuple[int, Iterator[np.ndarray]]:
    """(native rate, mono float32 blocks of about ``seconds``): libsndfile, else (m4a, aac, webm, and an mp3
    or opus libsndfile cannot read) ffmpeg."""
    suffix = path.suffix.lower()
    try:
        if suffix not in FFMPEG_EXTENSIONS:
            try:
                return _sf_blocks(path, seconds)
            except Exception:
                if suffix not in (".mp3", ".opus"):
                    raise
        return _ffmpeg_blocks(path, seconds)
    except InputError:
        raise
    except Exception as exc:  # decoders raise many types; the reason is what matters
        raise _undecodable(path, exc) from None


def _resampled(path: Path, blocks: Iterator[np.ndarray], rate: int, sr: int) -> Iterator[np.ndarray]:
    """``blocks`` at ``rate`` through soxr's streaming resampler (``dsp.resample``'s quality), ending on the
    length ``dsp.resample`` gives the whole clip."""
    import soxr

    resampler = soxr.ResampleStream(rate, sr, 1, dtype="float32", quality="HQ") if rate != sr else None
    seen = given = 0
    try:
        for y in blocks:
            seen += y.size
            out = resampler.resample_chunk(y) if resampler else y
            given += out.size
            if out.size:
                yield out
        if resampler:
            want = int(np.ceil(seen * float(sr) / rate))
            tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)[:max(0, want - given)]
            tail = np.pad(tail, (0, max(0, want - given - tail.size)))
            if tail.size:
                yield tail.astype(np.float32)
    except InputError:
        raise
    except Exception as exc:  # a decoder failing midway: the reason is what matters
        raise _undecodable(path, exc) from None


def stream(path: str | Path, sr: int = 16000, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """A clip as mono float32 blocks of about ``block_seconds`` at ``sr`` Hz, decoded and resampled as they are
    read, so a clip of any length takes a few blocks of memory. Joined, the blocks are the samples ``load(path,
    sr)`` gives, to float rounding (the resampler runs in a stream). Raises ``InputError`` as ``decode`` does
    (file not found, empty, truncated, cannot decode), at once or while reading; no silence check."""
    path = _checked_file(path)
    rate, blocks = _opened(path, block_seconds)
    return _resampled(path, blocks, int(rate), int(sr))


def _ffmpeg_duration(path: Path) -> float | None:
    import subprocess

    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                            capture_output=True, timeout=60, check=False)
    m = re.search(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", result.stderr)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


def duration_hint(path: str | Path) -> float | None:
    """A clip's length in seconds as its header says (libsndfile's, else ffmpeg's ``Duration:``), nothing
    decoded; None when neither says."""
    import soundfile as sf

    path = Path(path)
    if path.suffix.lower() not in FFMPEG_EXTENSIONS:
        try:
            info = sf.info(str(path))
            if info.frames > 0 and info.samplerate > 0:
                return info.frames / info.samplerate
        except Exception:  # not a file libsndfile reads: ffmpeg may
            pass
    return _ffmpeg_duration(path)


def _write_segments(path: Path, blocks, rate: int, prefix: str, limit: int) -> tuple[list[list], _Level]:
    """Write ``blocks`` as 16-bit wav files ``<prefix>_000.wav``, ... of ``limit`` samples at most; returns
    [[file, samples], ...] and the clip's ``_Level``. On a decoding error the files written are deleted."""
    import soundfile as sf

    level, written, out = _Level(rate), [], None
    try:
        for y in blocks:
            level.add(y)
            while y.size:
                if out is None or written[-1][1] >= limit:
                    if out is not None:
                        out.close()
                    written.append([Path(f"{prefix}_{len(written):03d}.wav"), 0])
                    out = sf.SoundFile(str(written[-1][0]), "w", samplerate=rate, channels=1, subtype="PCM_16")
                take = min(limit - written[-1][1], y.size)
                out.write(y[:take])
                written[-1][1] += take
                y = y[take:]
    except Exception as exc:
        if out is not None:
            out.close()
            out = None
        for file, _ in written:
            file.unlink(missing_ok=True)
        raise exc if isinstance(exc, InputError) else _undecodable(path, exc) from None
    finally:
        if out is not None:
            out.close()
    return written, level


def segments(path: str | Path, out_dir: str | Path, max_seconds: float, min_duration: float = 0.0,
             silence_dbfs: float | None = None, block_seconds: float = 10.0) -> list[dict]:
    """A clip longer than ``max_seconds`` cut, as it is decoded block by block, into 16-bit wav segments of
    ``max_seconds`` at its own rate: ``<out_dir>/<sha1 of the path>_000.wav``, ... ; [] for a clip its header
    says is not longer (or gives no length), which ``decode`` reads whole. The whole clip is judged as ``decode``
    judges one (NaN, silence after removing its DC offset, shorter than ``min_duration``: ``InputError``, no
    segment kept); a last segment shorter than ``min_duration`` is dropped. One dict per segment: path,
    duration, sample_rate, segment (0, 1, ...)."""
    name = hashlib.sha1(str(path).encode()).hexdigest()[:16]  # as prepare names a converted clip's wav copy
    path = _checked_file(path)
    length = duration_hint(path)
    if length is None or length <= max_seconds:
        return []
    rate, blocks = _opened(path, block_seconds)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    written, level = _write_segments(path, blocks, rate, str(Path(out_dir) / name), max(1, int(max_seconds * rate)))
    reason = level.reason(silence_dbfs)
    if reason is None and level.count < min_duration * rate:
        reason = f"too short ({level.count / rate:.2f} s < {min_duration} s)"
    while written and (reason or (len(written) > 1 and written[-1][1] < min_duration * rate)):
        written.pop()[0].unlink(missing_ok=True)
    if reason:
        raise InputError(path, reason)
    return [{"path": str(file), "duration": round(n / rate, 4), "sample_rate": int(rate), "segment": i}
            for i, (file, n) in enumerate(written)]
