"""One photo -> the model-ready face crop, with the same params and code path as the ``faces`` stage."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .build import check
from .choose import accepted, choose
from .crop import frame_matrix, to_channels, warp
from .detect import Mtcnn, read_photo, whole_photo


def face_crop(path: str, spec: dict) -> np.ndarray:
    """uint8 (size, size, C) crop of the main face in ``path`` (``spec``: the ``faces`` params the model was
    trained with). With several faces the stage's rule applies (``consistent`` needs the person's other
    photos, so a single photo falls back to ``largest``, said here rather than silently)."""
    cfg = check(spec)
    photo = read_photo(path)
    if cfg["detector"] == "none":
        d = whole_photo(photo.shape)
    else:
        m = cfg["mtcnn"]
        raw = Mtcnn(**m).detect_batch([photo])[0]
        found = accepted(raw, cfg["min_confidence"], cfg["min_size"])
        if not found:
            raise InputError(path, "no face found" if not raw else "no face accepted (too small or unsure)")
        rule = "largest" if cfg["rule"] == "consistent" else cfg["rule"]
        j, _ = choose(rule, found, photo.shape)
        d = found[j]
    frame = frame_matrix(d["box"], d["keypoints"], cfg["size"], cfg["margin"], cfg["align"] and bool(d["keypoints"]),
                         whole=cfg["detector"] == "none")
    return to_channels(warp(photo, frame, cfg["size"]), cfg["color"])
