"""Signal kernels for the loader and the feature functions: librosa's numbers, computed faster.

librosa rebuilds the mel filter bank on every call, runs the FFT through ``numpy.fft`` in float64,
applies the (mostly zero) filter bank as a dense product, and its first use in a process costs about
a second of lazy imports. Here everything is plain NumPy/SciPy: the filter banks and the window are
built once per process (the same formulas as ``librosa.filters.mel`` with slaney scale and norm, and
a periodic Hann window), the filter banks are kept as sparse matrices, the frames are windowed in
float32 and transformed with ``scipy.fft``, resampling calls ``soxr`` (what ``librosa.resample`` with
``res_type="soxr_hq"`` calls) and ``trim`` reproduces ``librosa.effects.trim``. A worker process of the
feature stages therefore never imports librosa. The results equal librosa's to float32 rounding
(``tests/test_voice_features.py`` checks every kernel against librosa); ``benchmarks/audio_features.py``
measures the speed.

Conventions follow librosa 0.11: centred frames with zero padding, a periodic Hann window, power
spectrogram (magnitude squared), ``power_to_db`` with ``amin`` 1e-10 and ``top_db`` 80, DCT-II
(orthonormal) over the mel axis for MFCCs.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_LN10 = math.log(10.0)


@lru_cache(maxsize=16)
def hann(n: int) -> np.ndarray:
    """The periodic Hann window of length ``n`` (``scipy.signal.get_window("hann", n, fftbins=True)``)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def hz_to_mel(f):
    """Slaney mel scale (librosa's default, ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asanyarray(f, dtype=np.float64)
    mels = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) / logstep, mels)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=16)
def mel_filters(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """The mel filter bank (n_mels, 1 + n_fft // 2), slaney scale and area norm: ``librosa.filters.mel``."""
    fmax = float(sr) / 2 if fmax is None else float(fmax)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=16)
def mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None):
    """``mel_filters`` as a sparse CSR matrix (built once per process)."""
    import scipy.sparse

    return scipy.sparse.csr_matrix(mel_filters(int(sr), int(n_fft), int(n_mels), float(fmin), fmax))


@lru_cache(maxsize=16)
def _dct(n_in: int, n_out: int) -> np.ndarray:
    import scipy.fft

    return scipy.fft.dct(np.eye(n_in, dtype=np.float32), axis=0, type=2, norm="ortho")[:n_out]


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``librosa.resample(y=y, orig_sr=..., target_sr=..., res_type="soxr_hq")``: soxr's high quality,
    then cut or zero-padded to ``ceil(len(y) * target_sr / orig_sr)`` samples."""
    import soxr

    if orig_sr == target_sr:
        return y
    n = int(np.ceil(y.shape[-1] * float(target_sr) / orig_sr))
    out = soxr.resample(np.ascontiguousarray(y, dtype=np.float32), orig_sr, target_sr, quality="soxr_hq")
    if out.shape[0] >= n:
        return out[:n]
    return np.pad(out, (0, n - out.shape[0]))


def trim(y: np.ndarray, top_db: float = 60.0, frame_length: int = 2048, hop_length: int = 512) -> tuple[np.ndarray, tuple[int, int]]:
    """``librosa.effects.trim``: drop the leading and trailing frames whose RMS is ``top_db`` or more below
    the loudest frame's (centred frames with zero padding); returns (trimmed signal, (start, end))."""
    n = y.shape[-1]
    n_frames = 1 + n // hop_length
    cs = np.zeros(n + frame_length + 1)
    np.cumsum(np.square(y, dtype=np.float64), out=cs[1 + frame_length // 2:1 + frame_length // 2 + n])
    cs[1 + frame_length // 2 + n:] = cs[frame_length // 2 + n]
    starts = np.arange(n_frames) * hop_length
    ms = (cs[starts + frame_length] - cs[starts]) / frame_length  # mean square of each padded frame
    db = 10.0 * np.log10(np.maximum(1e-10, ms))
    db -= 10.0 * np.log10(max(1e-10, float(ms.max())))  # n_frames >= 1: ms is never empty
    loud = np.flatnonzero(db > -top_db)
    if loud.size == 0:
        return y[..., :0], (0, 0)
    start, end = int(loud[0] * hop_length), min(n, int((loud[-1] + 1) * hop_length))
    return y[..., start:end], (start, end)


def power_spectrogram(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT|^2, (1 + n_fft // 2, 1 + len(y) // hop_length), centred frames with zero padding (librosa's stft)."""
    import scipy.fft

    y = np.asarray(y, dtype=np.float32)
    padded = np.zeros(y.shape[0] + 2 * (n_fft // 2), dtype=np.float32)
    padded[n_fft // 2:n_fft // 2 + y.shape[0]] = y
    frames = np.multiply(np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length], hann(n_fft))
    spec = scipy.fft.rfft(frames, axis=1, overwrite_x=True)
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return power.T


def apply_bank(bank, power: np.ndarray) -> np.ndarray:
    """A (bands, bins) filter bank (dense or sparse) applied to a (bins, frames) power spectrogram."""
    return np.asarray(bank @ power, dtype=np.float32)


def melspectrogram(y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Mel power spectrogram (n_mels, frames), as ``librosa.feature.melspectrogram`` with power 2."""
    return apply_bank(mel_basis(int(sr), int(n_fft), int(n_mels), float(fmin), fmax),
                      power_spectrogram(y, int(n_fft), int(hop_length)))


def power_to_db(S: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10 log10(S) (reference 1), floored ``top_db`` below the maximum, as ``librosa.power_to_db``.

    The floor is applied before the logarithm (the log is monotonic), so one pass takes the log."""
    S = np.asarray(S, dtype=np.float32)
    floor = float(amin)
    if top_db is not None and S.size:
        floor = max(floor, float(S.max()) * 10.0 ** (-float(top_db) / 10.0))
    db = np.maximum(S, np.float32(floor))
    np.log(db, out=db)  # float32 natural log is vectorised; log10 is not
    db *= np.float32(10.0 / _LN10)
    return db


def mfcc(y: np.ndarray, sr: int, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512,
         n_mels: int = 128) -> np.ndarray:
    """MFCCs (n_mfcc, frames), as ``librosa.feature.mfcc`` (DCT-II, orthonormal, of the dB mel spectrogram)."""
    db = power_to_db(melspectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels))
    return _dct(db.shape[0], int(n_mfcc)) @ db
