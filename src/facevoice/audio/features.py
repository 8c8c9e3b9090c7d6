"""Audio features, one function per feature kind, registered in ``FEATURES``.

A feature function takes a clip's path and its params section and returns a list of samples (one
per clip, or one per chunk/window); each sample is a dict ``{store: array}`` of fixed shapes, e.g.
``{"x": mfcc_mean, "seq": mfcc_frames}``. ``facevoice.features`` runs them over a manifest.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .loader import load

FEATURES: dict[str, Callable[[str, dict], list[dict]]] = {}


def feature(name: str):
    def register(func):
        FEATURES[name] = func
        return func
    return register


def fix_frames(m: np.ndarray, frames: int) -> np.ndarray:
    """Zero-pad or cut a (features, time) matrix to ``frames`` time steps."""
    if m.shape[1] >= frames:
        return m[:, :frames]
    return np.pad(m, ((0, 0), (0, frames - m.shape[1])))


@feature("mfcc")
def mfcc(path: str, p: dict) -> list[dict]:
    """``n_mfcc`` MFCCs per clip: the time statistics (``stats``: mean, std) and the frame sequence."""
    import librosa

    sr = p.get("sr", 16000)
    y = load(path, sr=sr, trim_db=p.get("trim_db"), min_duration=p.get("min_duration", 0.0))
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=p.get("n_mfcc", 40), n_fft=p.get("n_fft", 512),
                             hop_length=p.get("hop_length", 160))
    stats = {"mean": m.mean(axis=1), "std": m.std(axis=1)}
    x = np.concatenate([stats[s] for s in p.get("stats", ["mean"])]).astype(np.float32)
    seq = fix_frames(m, p.get("seq_frames", 200)).T.astype(np.float32)
    return [{"x": x, "seq": seq}]
