"""Audio features, one function per feature kind, registered in ``FEATURES``.

A feature function takes a clip's path and its params section and returns a list of samples (one
per clip, or one per chunk/window); each sample is a dict ``{store: array}`` of fixed shapes, e.g.
``{"x": mfcc_mean, "seq": mfcc_frames}``. ``facevoice.features`` runs them over a manifest.

Each kind registers the params keys it reads with a rule each (``KEYS``); ``check`` applies them through
``facevoice.params.Checked`` before any clip is read, so a bad value stops the stage with one line naming
its key instead of rejecting every clip.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import InputError
from . import dsp, ge2e
from .loader import SILENCE_PEAK, load

FEATURES: dict[str, Callable[[str, dict], list[dict]]] = {}
KEYS: dict[str, dict[str, tuple[str, dict]]] = {}  # kind -> params key -> its rule (``check``)
DEFAULT_SR = 16000
MFCC_STATS = ("mean", "std")
MIN_SHORTTERM_WINDOW = 300  # samples: pyAudioAnalysis' chroma fails on shorter windows (up to 192 kHz)


def rule(method: str, **kw) -> tuple[str, dict]:
    """How a params key is checked: ``facevoice.params.Checked.<method>(key, **kw)``."""
    return method, kw


POSITIVE_INT, POSITIVE, SIZE = rule("int", min=1), rule("positive"), rule("ints", length=2, min=1)
SHARED_KEYS = {  # read by every kind (the loader, and the stage's worker count)
    "sr": rule("int", min=4000, max=192000), "trim_db": rule("optional", rule="positive"),
    "min_duration": rule("float", min=0), "workers": rule("int", min=0),
}


def feature(name: str, **keys: tuple[str, dict]):
    """Register a feature kind with the rules of the params keys it reads (beside ``kind`` and ``SHARED_KEYS``)."""
    def register(func):
        FEATURES[name] = func
        KEYS[name] = {**SHARED_KEYS, **keys}
        return func
    return register


def check(name: str, params: dict) -> str:
    """Validate the ``features.<name>`` section up front (a bad value is a one-line ParamsError naming its key,
    not every clip rejected); returns the feature kind."""
    from ..params import Checked

    p = Checked(params, f"features.{name}")
    kind = p.choice("kind", sorted(FEATURES), name)
    p.only(["kind", *KEYS[kind]])
    for key, (method, kw) in KEYS[kind].items():
        if key in params:
            getattr(p, method)(key, **kw)
    _check_relations(kind, p)
    return kind


def _check_relations(kind: str, p) -> None:
    """Keys that are valid alone but not together: band edges above the Nyquist frequency, a minimum chunk
    longer than the chunk, short-term windows too short to hold a spectrum."""
    data = p.data
    sr = data.get("sr", DEFAULT_SR)
    if data.get("fmax", 0) > sr / 2:
        p.fail("fmax", f"must be <= sr / 2 = {sr / 2:g} Hz, got {data['fmax']!r}")
    if data.get("fmin", 0) >= sr / 2:
        p.fail("fmin", f"must be < sr / 2 = {sr / 2:g} Hz, got {data['fmin']!r}")
    if data.get("min_chunk", 0) > data.get("chunk", 1.0):
        p.fail("min_chunk", f"must be <= chunk ({data.get('chunk', 1.0)!r} s), got {data['min_chunk']!r}")
    if kind == "voice_embed" and sr != ge2e.SR:
        p.fail("sr", f"the GE2E encoder was trained on {ge2e.SR} Hz audio, got {sr!r}")
    if kind == "voice_embed" and data.get("trim_db") is not None:
        p.fail("trim_db", "must be null for voice_embed: the GE2E encoder trims silences itself (voice activity detection)")
    if kind == "shortterm":
        win = int(data.get("duration", 3.0) * sr) // data.get("frames", 68)
        if win < MIN_SHORTTERM_WINDOW:
            p.fail("frames", f"leaves windows of {win} samples (duration * sr / frames); need >= "
                             f"{MIN_SHORTTERM_WINDOW}: fewer frames or a longer duration")


@lru_cache(maxsize=1)
def _keep_freed_memory() -> None:
    """Let glibc keep freed memory in the process (no mmap per large array, no trimming back to the OS).

    Each clip allocates a few arrays of about a megabyte; by default glibc maps each one afresh and
    the kernel zero-fills its pages, which cost a third of the feature time per clip on this machine
    (``benchmarks/audio_features.py``). Memory stays bounded: the same sizes are reused clip after clip.
    Elsewhere than glibc (macOS, musl) this does nothing."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 128 << 20)
        libc.mallopt(m_top_pad, 16 << 20)
    except (OSError, AttributeError):
        pass


def compute(job: tuple[str, str, dict]) -> tuple[list[dict] | None, str | None]:
    """One (kind, path, params) job -> (samples, None), or (None, the reason the clip was rejected).

    This is what the feature stages' worker processes run; it lives here, not in ``facevoice.features``,
    so that a worker imports only NumPy, SciPy, soundfile and soxr (no pandas, no librosa)."""
    _keep_freed_memory()
    kind, path, params = job
    try:
        return FEATURES[kind](path, params), None
    except InputError as exc:
        return None, exc.reason
    except Exception as exc:  # a bad clip must not stop the stage; its reason is kept
        return None, f"{type(exc).__name__}: {exc}"


def fix_frames(m: np.ndarray, frames: int) -> np.ndarray:
    """Zero-pad or cut a (features, time) matrix to ``frames`` time steps."""
    if m.shape[1] >= frames:
        return m[:, :frames]
    return np.pad(m, ((0, 0), (0, frames - m.shape[1])))


@feature("mfcc", n_mfcc=rule("int", min=1, max=128), n_fft=POSITIVE_INT, hop=POSITIVE_INT,
         stats=rule("subset", choices=MFCC_STATS), seq_frames=POSITIVE_INT)
def mfcc(path: str, p: dict) -> list[dict]:
    """``n_mfcc`` MFCCs per clip: the time statistics (``stats``: mean, std) and the frame sequence."""
    sr = p.get("sr", DEFAULT_SR)
    y = load(path, sr=sr, trim_db=p.get("trim_db"), min_duration=p.get("min_duration", 0.0))
    m = dsp.mfcc(y, sr, n_mfcc=p.get("n_mfcc", 40), n_fft=p.get("n_fft", 512), hop_length=p.get("hop", 160))
    stats = {"mean": m.mean(axis=1), "std": m.std(axis=1)}
    x = np.concatenate([stats[s] for s in p.get("stats", ["mean"])]).astype(np.float32)
    seq = fix_frames(m, p.get("seq_frames", 200)).T.astype(np.float32)
    return [{"x": x, "seq": seq}]


# ---------------------------------------------------------------- helpers shared by the image-like features

def to_uint8(db: np.ndarray, top_db: float) -> np.ndarray:
    """Map a dB (or log) matrix to 0..255: its maximum -> 255, ``top_db`` below it and lower -> 0."""
    top = float(np.max(db)) if db.size else 0.0
    scaled = (np.clip(db, top - top_db, top) - (top - top_db)) / max(top_db, 1e-9)
    return np.round(scaled * 255.0).astype(np.uint8)


def resize(img: np.ndarray, size) -> np.ndarray:
    """Resize a (freq, time) matrix to ``size`` = [height, width] (area interpolation), dtype kept."""
    import cv2

    h, w = int(size[0]), int(size[1])
    if img.shape == (h, w):
        return img
    out = cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    if img.dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(img.dtype)


def write_png(path, img: np.ndarray) -> None:
    """A (freq, time) uint8 image as PNG, low frequencies at the bottom (as people read spectrograms)."""
    import cv2
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(np.flipud(img)))


def _load(path: str, p: dict, **kw) -> np.ndarray:
    return load(path, sr=p.get("sr", DEFAULT_SR), trim_db=p.get("trim_db"), min_duration=p.get("min_duration", 0.0),
                **kw)


# ---------------------------------------------------------------- mel_chunks

@feature("mel_chunks", chunk=POSITIVE, min_chunk=rule("float", min=0), n_mels=POSITIVE_INT, n_fft=POSITIVE_INT,
         hop=POSITIVE_INT, fmax=POSITIVE, top_db=POSITIVE, size=SIZE, png_per_person=rule("int", min=0),
         png_chunks=rule("int", min=0))
def mel_chunks(path: str, p: dict) -> list[dict]:
    """1-second (``chunk``) pieces of the clip -> mel-spectrogram images, uint8 (``size`` = [h, w], 1 channel).

    A last piece of at least ``min_chunk`` seconds is zero-padded; shorter ones are dropped. With
    ``png_per_person`` > 0, ``features.build`` marks the first clips of each person (``_png``) and their
    first ``png_chunks`` images are written under ``<feature dir>/png/<person>/`` (from the worker).
    """
    sr = p.get("sr", DEFAULT_SR)
    y = _load(path, p)
    n = int(round(p.get("chunk", 1.0) * sr))
    min_len = int(round(p.get("min_chunk", 0.5) * sr))
    size = p.get("size", [64, 64])
    samples = []
    for start in range(0, len(y), n):
        piece = y[start:start + n]
        if len(piece) < min(n, max(min_len, 1)):
            break
        if len(piece) < n:
            piece = np.pad(piece, (0, n - len(piece)))
        if float(np.max(np.abs(piece))) < SILENCE_PEAK:  # a silent second teaches nothing about a voice
            continue
        mel = dsp.melspectrogram(piece, sr, n_fft=p.get("n_fft", 512), hop_length=p.get("hop", 256),
                                 n_mels=p.get("n_mels", 64), fmax=p.get("fmax", sr / 2))
        db = dsp.power_to_db(mel)
        img = resize(to_uint8(db, p.get("top_db", 80.0)), size)
        samples.append({"x": img[..., None]})
    if p.get("_png") and p.get("_out"):
        from pathlib import Path

        for i, s in enumerate(samples[:p.get("png_chunks", 2)]):
            write_png(Path(p["_out"]) / "png" / f"{p['_png']}_{i}.png", s["x"][..., 0])
    return samples


# ---------------------------------------------------------------- logspec

@lru_cache(maxsize=8)
def log_frequency_matrix(sr: int, n_fft: int, n_bins: int, fmin: float) -> np.ndarray:
    """(n_bins, 1 + n_fft/2) triangular filters with centres spaced evenly in log frequency (built once)."""
    freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = np.geomspace(fmin, sr / 2, n_bins + 2)
    w = np.zeros((n_bins, len(freqs)), dtype=np.float32)
    for i in range(n_bins):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        w[i] = np.maximum(0, np.minimum(up, down))
        if not w[i].any():  # narrower than one FFT bin at low frequencies: take the nearest bin
            w[i, int(np.argmin(np.abs(freqs - mid)))] = 1.0
    w = w / w.sum(axis=1, keepdims=True)
    w.setflags(write=False)
    return w


@feature("logspec", duration=POSITIVE, n_fft=POSITIVE_INT, hop=POSITIVE_INT, n_bins=POSITIVE_INT, fmin=POSITIVE,
         frames=POSITIVE_INT, top_db=POSITIVE)
def logspec(path: str, p: dict) -> list[dict]:
    """Fixed-length (``duration`` s, zero-padded or cut) log-frequency spectrogram, uint8 (n_bins, frames, 1)."""
    sr = p.get("sr", DEFAULT_SR)
    n_fft = p.get("n_fft", 512)
    y = _load(path, p, duration=p.get("duration", 3.0), pad=True)
    power = dsp.power_spectrogram(y, n_fft=n_fft, hop_length=p.get("hop", 512))
    spec = dsp.apply_bank(log_frequency_matrix(sr, n_fft, p.get("n_bins", 64), float(p.get("fmin", 60.0))), power)
    db = dsp.power_to_db(spec)
    img = fix_frames(to_uint8(db, p.get("top_db", 80.0)), p.get("frames", 96))
    return [{"x": img[..., None]}]


# ---------------------------------------------------------------- mel6s

@feature("mel6s", duration=POSITIVE, n_fft=POSITIVE_INT, hop=POSITIVE_INT, n_mels=POSITIVE_INT, fmax=POSITIVE,
         range_log2=POSITIVE, size=SIZE)
def mel6s(path: str, p: dict) -> list[dict]:
    """``duration`` (6) seconds, zero-padded or cut, as a log2-mel spectrogram resized to ``size``; uint8.

    log2 of the mel power, the top ``range_log2`` octaves of power kept (20 ~ 60 dB) and mapped to
    0..255, so the images share the 1/255 input scaling of ``mel_chunks`` (and its autoencoder).
    """
    sr = p.get("sr", DEFAULT_SR)
    y = _load(path, p, duration=p.get("duration", 6.0), pad=True)
    mel = dsp.melspectrogram(y, sr, n_fft=p.get("n_fft", 1024), hop_length=p.get("hop", 512),
                             n_mels=p.get("n_mels", 64), fmax=p.get("fmax", sr / 2))
    log2 = np.log2(mel + 1e-10)
    img = resize(to_uint8(log2, p.get("range_log2", 20.0)), p.get("size", [64, 64]))
    return [{"x": img[..., None]}]


# ---------------------------------------------------------------- shortterm

def _short_term_features():
    """pyAudioAnalysis' ShortTermFeatures with its chroma tables cached: ``chroma_features_init`` rebuilds
    the same two read-only arrays for every frame (two thirds of the run time); the results are unchanged."""
    import functools

    from pyAudioAnalysis import ShortTermFeatures

    if not hasattr(ShortTermFeatures.chroma_features_init, "cache_info"):
        ShortTermFeatures.chroma_features_init = functools.lru_cache(maxsize=8)(ShortTermFeatures.chroma_features_init)
    return ShortTermFeatures


@feature("shortterm", sr=rule("int", min=8000, max=192000), duration=POSITIVE, frames=POSITIVE_INT)
def shortterm(path: str, p: dict) -> list[dict]:
    """pyAudioAnalysis short-term features as a (68, 68, 1) float32 matrix (features x frames).

    The clip is zero-padded or cut to ``duration`` seconds, rounded to 68 windows, and window = step =
    length / 68. Unscaled on purpose: the min-max scaling is fitted on training rows only, by the
    model's ``norm`` layer (``norm: minmax`` in its args), not here where the split is not known.
    """
    import warnings

    ShortTermFeatures = _short_term_features()
    sr = p.get("sr", DEFAULT_SR)
    frames = p.get("frames", 68)
    win = int(p.get("duration", 3.0) * sr) // frames
    y = _load(path, p, duration=win * frames / sr, pad=True)
    y = np.pad(y, (0, max(0, win * frames - len(y))))[:win * frames]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        feats, _ = ShortTermFeatures.feature_extraction(y.astype(np.float64), sr, win, win)
    feats = fix_frames(np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0), frames)
    return [{"x": feats.astype(np.float32)[..., None]}]


# ---------------------------------------------------------------- raw

@feature("raw", duration=POSITIVE, dtype=rule("choice", choices=["float32", "float16", "float64"]))
def raw(path: str, p: dict) -> list[dict]:
    """The waveform itself, ``duration`` seconds at ``sr`` (zero-padded or cut), for the linear-SVM baseline."""
    y = _load(path, p, duration=p.get("duration", 2.0), pad=True)
    return [{"x": y.astype(p.get("dtype", "float32"))}]


# ---------------------------------------------------------------- voice_embed

@feature("voice_embed", engine=rule("choice", choices=["numpy", "keras"]), vad=rule("choice", choices=["webrtc", "none"]))
def voice_embed(path: str, p: dict) -> list[dict]:
    """The pretrained GE2E speaker embedding (``facevoice.audio.ge2e``): one 256-d unit vector per clip."""
    return [{"x": ge2e.embed_file(path, p.get("engine", "numpy"), p.get("min_duration", 0.0),
                                  vad=p.get("vad", "webrtc") == "webrtc")}]
