"""The GE2E speaker encoder (Wan et al., "Generalized End-to-End Loss for Speaker Verification", ICASSP 2018),
with the weights Resemble AI trained and ship in the ``resemblyzer`` 0.1.4 wheel (Apache-2.0), run without torch.

The network: a 3-layer LSTM (40 mel bands -> 256), its last hidden state -> Linear 256 -> ReLU -> L2 norm: a
256-d unit embedding of a 1.6 s window. A clip's embedding is the L2-normalised mean of its windows'.
Preprocessing is the reference's (``resemblyzer/audio.py``, ``voice_encoder.py``): 16 kHz; volume raised to
-30 dBFS, never lowered; long silences trimmed with WebRTC's voice activity detector (``webrtcvad``, mode 3,
30 ms windows, an 8-window moving average, gaps up to 6 windows kept); a 40-band mel *power* spectrogram
(n_fft 400, hop 160, Slaney mel scale and norm, centred frames padded with zeros as librosa >= 0.10 does);
windows of 160 frames at 1.3 per second, the last one kept if it covers >= 75% of its frames.

The weights are read from ``resemblyzer/pretrained.pt`` (found with ``importlib.util.find_spec``; the package
itself is never imported: its ``__init__`` imports torch) by ``torch_legacy``'s restricted reader. Two engines
compute the same function: ``numpy`` (the default: no TensorFlow import, so the command line answers fast) and
``keras`` (``build_keras``); tests hold them within 1e-5 of each other on real windows.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import FacevoiceError, InputError
from . import dsp, torch_legacy
from .loader import SILENCE_PEAK, stream

SR = 16000
N_FFT, HOP, N_MELS = 400, 160, 40
WINDOW = 160                  # frames a window (1.6 s)
RATE, MIN_COVERAGE = 1.3, 0.75
TARGET_DBFS = -30.0
VAD_WINDOW, VAD_AVERAGE, VAD_MAX_SILENCE = 480, 8, 6   # samples (30 ms), windows, windows
INT16_MAX = 2 ** 15 - 1
HIDDEN, LAYERS, DIM = 256, 3, 256
BATCH = 64                    # windows a forward pass: memory stays flat whatever the clip's length
BLOCK_SECONDS = 60.0          # clips longer than this are embedded block by block (the mean of all their windows)
VERSION = "ge2e-resemblyzer-0.1.4"
PACKAGE = "resemblyzer==0.1.4"


def weights_path() -> Path:
    """``resemblyzer/pretrained.pt`` inside the installed wheel, or a one-line error saying how to install it."""
    spec = importlib.util.find_spec("resemblyzer")
    hint = f"pip install --no-deps {PACKAGE} (make venv does): the GE2E weights come inside that wheel"
    if spec is None or not spec.submodule_search_locations:
        raise FacevoiceError(f"the GE2E speaker encoder needs the resemblyzer package, which is not installed: {hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.exists():
        raise FacevoiceError(f"{path}: missing from the resemblyzer package: {hint}")
    return path


@lru_cache(maxsize=1)
def weights() -> dict[str, np.ndarray]:
    """The 14 tensors of the encoder (``model_state`` without the training-only similarity scale)."""
    path = weights_path()
    state = torch_legacy.load(path, key="model_state")
    names = [f"lstm.{kind}_l{i}" for i in range(LAYERS) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    names += ["linear.weight", "linear.bias"]
    missing = [n for n in names if n not in state]
    if missing:
        raise InputError(path, f"damaged GE2E checkpoint: no {', '.join(missing)}")
    return {n: np.ascontiguousarray(state[n], dtype=np.float32) for n in names}


# ---------------------------------------------------------------- preprocessing
def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """Raise the clip to -30 dBFS (RMS); a louder clip is left as it is."""
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * INT16_MAX) ** 2)))
    change = TARGET_DBFS - 20 * np.log10(max(rms, 1e-12) / INT16_MAX)
    return wav if change < 0 else (wav * np.float32(10 ** (change / 20))).astype(np.float32)


def _vad_import():
    try:
        import webrtcvad  # the reference's voice activity detector (package webrtcvad-wheels)
    except ImportError:
        raise FacevoiceError("the GE2E preprocessing needs webrtcvad: pip install webrtcvad-wheels "
                             "(make venv does)") from None
    return webrtcvad


def trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """The reference's silence trimming: WebRTC VAD flags per 30 ms, smoothed, dilated; unvoiced runs cut."""
    wav = wav[: len(wav) - len(wav) % VAD_WINDOW]
    if not len(wav):
        return wav
    pcm = np.round(wav * INT16_MAX).astype("<i2").tobytes()
    vad = _vad_import().Vad(3)
    step = VAD_WINDOW * 2
    flags = np.array([vad.is_speech(pcm[i:i + step], sample_rate=SR) for i in range(0, len(pcm), step)], float)
    padded = np.concatenate((np.zeros((VAD_AVERAGE - 1) // 2), flags, np.zeros(VAD_AVERAGE // 2)))
    csum = np.cumsum(padded)
    csum[VAD_AVERAGE:] = csum[VAD_AVERAGE:] - csum[:-VAD_AVERAGE]
    mask = np.round(csum[VAD_AVERAGE - 1:] / VAD_AVERAGE).astype(bool)
    mask = _dilate(mask, VAD_MAX_SILENCE + 1)
    return wav[np.repeat(mask, VAD_WINDOW)]


def _dilate(mask: np.ndarray, width: int) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(mask, np.ones(width))`` (centred structuring element, zero border)."""
    left = width // 2
    padded = np.concatenate((np.zeros(width, bool), mask, np.zeros(width, bool)))
    out = np.zeros(len(mask), bool)
    for k in range(width):  # output i is on if any mask[i + left - k] is on
        shift = left - k
        out |= padded[width + shift: width + shift + len(mask)]
    return out


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 mel power spectrogram, frame j centred on sample j*160 (zeros beyond the ends)."""
    return dsp.melspectrogram(wav, SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS).astype(np.float32).T


def window_starts(n_samples: int) -> list[int]:
    """First frame of each 160-frame window (``compute_partial_slices`` of the reference)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SR / RATE) / HOP))
    starts = list(range(0, max(1, n_frames - WINDOW + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (WINDOW * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def _span(wav: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``wav[lo:hi]`` of the clip seen with zeros on both sides (lo may be negative, hi past the end)."""
    out = np.zeros(hi - lo, np.float32)
    a, b = max(lo, 0), min(hi, len(wav))
    if b > a:
        out[a - lo: b - lo] = wav[a:b]
    return out


def windows(wav: np.ndarray):
    """Batches of at most ``BATCH`` mel windows (n, 160, 40) of a preprocessed clip, computed batch by batch.

    Frame j is centred on sample j*160 with zeros beyond the clip, as in the reference's centred spectrogram of
    the clip zero-padded to its last window; only one batch's frames exist at a time (each batch's span is cut
    with two hops of margin, so its frames see the clip's own samples, not the span's padding)."""
    starts = window_starts(len(wav))
    margin = 2  # hops: > n_fft / 2 samples
    for b in range(0, len(starts), BATCH):
        part = starts[b:b + BATCH]
        first, last = part[0] - margin, part[-1] + WINDOW + margin
        mel = mel_frames(_span(wav, first * HOP, last * HOP))
        yield np.stack([mel[s - first: s - first + WINDOW] for s in part])


# ---------------------------------------------------------------- the network
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def forward_numpy(mels: np.ndarray, w: dict | None = None) -> np.ndarray:
    """(n, 160, 40) mel windows -> (n, 256) unit embeddings: the LSTM in NumPy (gates i, f, g, o)."""
    w = w or weights()
    x = np.asarray(mels, np.float32)
    n, steps, _ = x.shape
    for layer in range(LAYERS):
        wih, whh = w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"]
        bias = w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]
        gates_x = (x.reshape(n * steps, -1) @ wih.T + bias).reshape(n, steps, 4 * HIDDEN)
        h = np.zeros((n, HIDDEN), np.float32)
        c = np.zeros((n, HIDDEN), np.float32)
        out = np.empty((n, steps, HIDDEN), np.float32) if layer < LAYERS - 1 else None
        whh_t = np.ascontiguousarray(whh.T)
        for t in range(steps):
            g = gates_x[:, t] + h @ whh_t
            i, f, cand, o = _sigmoid(g[:, :HIDDEN]), _sigmoid(g[:, HIDDEN:2 * HIDDEN]), \
                np.tanh(g[:, 2 * HIDDEN:3 * HIDDEN]), _sigmoid(g[:, 3 * HIDDEN:])
            c = f * c + i * cand
            h = o * np.tanh(c)
            if out is not None:
                out[:, t] = h
        x = out if out is not None else h
    e = np.maximum(x @ w["linear.weight"].T + w["linear.bias"], 0.0)
    return (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def build_keras(w: dict | None = None):
    """The same network in Keras 3 (kernels transposed, bias = bias_ih + bias_hh; torch's gate order i, f, g, o is
    Keras' i, f, c, o): input (batch, 160, 40) -> (batch, 256) unit embeddings."""
    import keras  # heavy: only the keras engine and the tests import it

    w = w or weights()
    inp = keras.Input((WINDOW, N_MELS), name="mels")
    x = inp
    for layer in range(LAYERS):
        lstm = keras.layers.LSTM(HIDDEN, return_sequences=layer < LAYERS - 1, name=f"lstm_{layer}")
        x = lstm(x)
        lstm.set_weights([w[f"lstm.weight_ih_l{layer}"].T, w[f"lstm.weight_hh_l{layer}"].T,
                          w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]])
    dense = keras.layers.Dense(DIM, activation="relu", name="linear")
    x = dense(x)
    dense.set_weights([w["linear.weight"].T, w["linear.bias"]])
    out = keras.layers.UnitNormalization(name="l2")(x)
    return keras.Model(inp, out, name="ge2e")


@lru_cache(maxsize=2)
def _engine(name: str):
    if name == "numpy":
        return forward_numpy
    if name == "keras":
        model = build_keras()
        return lambda mels: np.asarray(model(np.asarray(mels, np.float32), training=False))
    raise FacevoiceError(f"unknown GE2E engine {name!r} (numpy | keras)")


# ---------------------------------------------------------------- clips
def window_sum(wav: np.ndarray, engine: str = "numpy", vad: bool = True) -> tuple[np.ndarray, int]:
    """(sum of the window embeddings, number of windows) of one 16 kHz block, preprocessed as the reference
    (``vad=False``: long silences kept)."""
    wav = normalize_volume(np.asarray(wav, np.float32))
    wav = trim_long_silences(wav) if vad else wav
    if len(wav) < HOP:
        return np.zeros(DIM, np.float32), 0
    forward = _engine(engine)
    total, count = np.zeros(DIM, np.float64), 0
    for batch in windows(wav):
        emb = forward(batch)
        total += emb.sum(axis=0)
        count += len(emb)
    return total.astype(np.float32), count


def _unit_mean(parts, path: str) -> np.ndarray:
    """The L2-normalised mean of every window embedding, from (window sum, window count) parts."""
    total, count = np.zeros(DIM, np.float64), 0
    for s, n in parts:
        total += s
        count += n
    if not count:
        raise InputError(path, "no speech found (the voice activity detector kept nothing)")
    return (total / max(np.linalg.norm(total), 1e-12)).astype(np.float32)


def embed_wav(wav: np.ndarray, engine: str = "numpy", path: str = "<clip>", vad: bool = True) -> np.ndarray:
    """The 256-d unit embedding of a 16 kHz clip; clips longer than ``BLOCK_SECONDS`` in blocks of that length."""
    block = int(BLOCK_SECONDS * SR)
    return _unit_mean((window_sum(wav[lo:lo + block], engine, vad) for lo in range(0, max(len(wav), 1), block)),
                      path)


def _checked_blocks(path: str, min_duration: float):
    """The loader's stream of ``BLOCK_SECONDS`` blocks, each checked for NaN, the whole for its length and for
    silence (the loader's rule: no sample, DC offset removed, reaches ``SILENCE_PEAK``)."""
    n, peak = 0, 0.0
    for y in stream(path, sr=SR, block_seconds=BLOCK_SECONDS):
        if not np.isfinite(y).all():
            raise InputError(path, "audio holds NaN or infinite samples")
        n += len(y)
        peak = max(peak, float(np.abs(y - y.mean()).max(initial=0.0)))
        yield y
    if peak < SILENCE_PEAK:
        raise InputError(path, "silent clip")
    if n < min_duration * SR:
        raise InputError(path, f"too short ({n / SR:.2f} s < {min_duration} s)")


def embed_file(path: str, engine: str = "numpy", min_duration: float = 0.0, vad: bool = True) -> np.ndarray:
    """The 256-d unit GE2E embedding of an audio file (any format the loader reads), or ``InputError`` naming it.
    The file is decoded as a stream of ``BLOCK_SECONDS`` blocks: an hour-long clip takes a block's memory."""
    path = str(path)
    return _unit_mean((window_sum(y, engine, vad) for y in _checked_blocks(path, min_duration)), path)
