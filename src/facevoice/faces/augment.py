"""Random augmentations of a crop, as a 3x3 matrix in crop pixels plus a photometric change.

``draw`` picks one copy's parameters from the params (``flip``, ``rotation`` degrees, ``shift`` and
``zoom`` fractions, ``brightness`` and ``contrast`` fractions); ``matrix`` turns them into a warp composed
after the crop frame (so the photo is augmented and the box moves with it in one warp); ``photometric``
changes brightness and contrast of the uint8 result.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParamsError
from ..params import Checked

DEFAULTS = {"copies": 2, "flip": True, "rotation": 10.0, "shift": 0.06, "zoom": 0.1, "brightness": 0.15,
            "contrast": 0.15, "seed": 42}


def check(spec: dict | None, prefix: str = "faces.augment") -> dict:
    p = Checked({**DEFAULTS, **(spec or {})}, prefix)
    unknown = set(spec or {}) - set(DEFAULTS)
    if unknown:
        raise ParamsError(f"params.yaml: unknown key(s) {', '.join(sorted(unknown))} in '{prefix}' "
                          f"(known: {', '.join(DEFAULTS)})")
    return {"copies": p.int("copies", min=0), "flip": p.bool("flip"),
            "rotation": p.float("rotation", min=0, max=180), "shift": p.float("shift", min=0, max=0.5),
            "zoom": p.float("zoom", min=0, max=0.9), "brightness": p.float("brightness", min=0, max=1),
            "contrast": p.float("contrast", min=0, max=1), "seed": p.int("seed")}


def draw(rng: np.random.Generator, a: dict) -> dict:
    return {
        "flip": bool(a["flip"] and rng.random() < 0.5),
        "rotation": round(float(rng.uniform(-a["rotation"], a["rotation"])), 3),
        "shift_x": round(float(rng.uniform(-a["shift"], a["shift"])), 4),
        "shift_y": round(float(rng.uniform(-a["shift"], a["shift"])), 4),
        "zoom": round(float(rng.uniform(1 - a["zoom"], 1 + a["zoom"])), 4),
        "brightness": round(float(rng.uniform(-a["brightness"], a["brightness"])), 4),
        "contrast": round(float(rng.uniform(1 - a["contrast"], 1 + a["contrast"])), 4),
    }


def matrix(t: dict, size: int) -> np.ndarray:
    """Crop-pixel warp: zoom and rotate about the centre, shift, then mirror left-right."""
    c = (size - 1) / 2.0
    r = math.radians(t["rotation"])
    cos, sin = math.cos(r) * t["zoom"], math.sin(r) * t["zoom"]
    m = np.array([[cos, sin, c - cos * c - sin * c + t["shift_x"] * size],
                  [-sin, cos, c + sin * c - cos * c + t["shift_y"] * size],
                  [0, 0, 1]])
    if t["flip"]:
        m = np.array([[-1, 0, size - 1], [0, 1, 0], [0, 0, 1]]) @ m
    return m


def photometric(img: np.ndarray, t: dict) -> np.ndarray:
    f = img.astype(np.float32)
    mean = f.mean()
    f = (f - mean) * t["contrast"] + mean + 255.0 * t["brightness"]
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)
