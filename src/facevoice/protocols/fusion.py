"""Face+voice decisions that are never worse than the better modality: calibrated score fusion.

Each modality's cosine similarity becomes a log-likelihood ratio (LLR) through a logistic calibration fitted on
same/different-person trials with balanced classes (``llr = scale * cosine + offset``). Face and voice are
independent given who the person is, so their LLRs add; "same person" when the sum is >= 0. A near-perfect
modality gets a steep calibration and dominates; a weak one moves the decision only when the strong one is
unsure. (A mean of the two cosines, or a siamese tower trained on another corpus, lets a weak voice drag a
near-perfect face decision down.)

``fit_fusion`` fits the same rule on a run's training people (the face+voice trials of ``speaker_trials``); the
command line uses ``FACE`` and ``VOICE``, measured on real data (``benchmarks/fusion_real.py``): dlib's
descriptor on LFW's pairs (lfw_dev), GE2E on speechocean762's trials.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import FacevoiceError

# The real-data calibrations the command line and the API use, written by benchmarks/fusion_real.py --write.
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    """``llr = scale * cosine + offset``; ``threshold`` is the cosine of LLR 0 (the balanced decision), ``source``
    where it was measured, ``roc``: (false-accept rates, cosine thresholds) of that protocol, ascending FAR."""
    scale: float
    offset: float
    source: str
    roc: tuple = field(default=((), ()), repr=False)

    @property
    def threshold(self) -> float:
        return -self.offset / self.scale

    def llr(self, cosine):
        return self.scale * np.asarray(cosine, dtype=np.float64) + self.offset

    def record(self) -> dict:
        """A JSON-able record (``from_record`` reads it back)."""
        return {"scale": self.scale, "offset": self.offset, "source": self.source,
                "roc": {"far": list(self.roc[0]), "threshold": list(self.roc[1])}}

    @classmethod
    def from_record(cls, r: dict) -> "Calibration":
        return cls(float(r["scale"]), float(r["offset"]), str(r["source"]),
                   (tuple(r["roc"]["far"]), tuple(r["roc"]["threshold"])))

    def at_far(self, far: float) -> tuple[float, float]:
        """(the lowest cosine threshold whose false-accept rate on the protocol is <= ``far``, that rate)."""
        ok = [(t, r) for r, t in zip(*self.roc) if r <= far]
        if not ok:
            low = f"{min(self.roc[0]):g}" if self.roc[0] else "none"
            raise ValueError(f"no threshold reaches a false-accept rate of {far:g} on {self.source} "
                             f"(the lowest measured: {low})")
        t, r = min(ok)
        return float(t), float(r)


def fit_calibration(cosine: np.ndarray, same: np.ndarray, source: str) -> Calibration:
    """A logistic calibration of one modality's cosines on trials (classes weighted equally)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, class_weight="balanced").fit(np.asarray(cosine, float)[:, None], same)
    return Calibration(float(lr.coef_[0, 0]), float(lr.intercept_[0]), source, roc_table(cosine, same))


def roc_table(cosine: np.ndarray, same: np.ndarray, points: int = 41) -> tuple:
    """(far, threshold) pairs at log-spaced false-accept rates from 1e-4 to 1 (thresholds rounded up to 6 decimals,
    for a readable record): accepting a score >= threshold lets through that fraction of the protocol's impostors."""
    cosine, same = np.asarray(cosine, float), np.asarray(same, bool)
    negatives = np.sort(cosine[~same])[::-1]
    rates = np.unique(np.round(np.logspace(-4, 0, points), 6))
    out_r, out_t = [], []
    for r in rates:
        k = int(np.floor(r * len(negatives)))  # accept at most k impostors: threshold just above the (k+1)-th
        if k < len(negatives):
            out_r.append(float(k / len(negatives)))
            out_t.append(float((np.floor(negatives[k] * 1e6) + 1) / 1e6))  # 6 decimals, above that impostor
    return tuple(out_r), tuple(out_t)


class Fusion:
    """LLR fusion: the sum of each modality's calibrated LLR; same person when >= 0."""

    def __init__(self, face: Calibration, voice: Calibration):
        self.face, self.voice = face, voice

    def score(self, face_cos, voice_cos):
        return self.face.llr(face_cos) + self.voice.llr(voice_cos)

    @property
    def source(self) -> str:
        return f"sum of calibrated log-likelihood ratios (face: {self.face.source}; voice: {self.voice.source})"

    @classmethod
    def from_file(cls, path: Path = CALIBRATION_FILE) -> "Fusion":
        return cls(*real_calibrations(path))


def fit_fusion(face_cos: np.ndarray, voice_cos: np.ndarray, same: np.ndarray, source: str) -> Fusion:
    """Each modality calibrated on the same trials (a run's training people)."""
    return Fusion(fit_calibration(face_cos, same, f"face, {source}"), fit_calibration(voice_cos, same, f"voice, {source}"))


@lru_cache(maxsize=2)
def real_calibrations(path: Path = CALIBRATION_FILE) -> tuple[Calibration, Calibration]:
    """(face, voice) calibrations measured on real people (``benchmarks/fusion_real.py``)."""
    try:
        data = json.loads(Path(path).read_text())
        return Calibration.from_record(data["face"]), Calibration.from_record(data["voice"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FacevoiceError(f"{path}: unreadable calibration file ({type(exc).__name__}: {exc}); "
                             f"python benchmarks/fusion_real.py --write rebuilds it") from None


def decide_pair(face_cos: float, voice_cos: float) -> tuple[float, float, str]:
    """(fused log-likelihood ratio, its threshold 0, provenance) for two photo+clip samples' cosines."""
    fusion = Fusion.from_file()
    return float(fusion.score(face_cos, voice_cos)), 0.0, fusion.source


def __getattr__(name: str):
    """``FACE`` and ``VOICE``: the real-data calibrations, read from the file when first asked for."""
    if name in ("FACE", "VOICE"):
        return real_calibrations()[name == "VOICE"]
    raise AttributeError(name)
