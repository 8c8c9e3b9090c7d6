"""Face detectors: MTCNN (``mtcnn`` 1.0, batched) or ``none`` (the whole photo is the face).

A detection is ``{"box": [x, y, w, h], "confidence": float, "keypoints": {left_eye, right_eye, nose,
mouth_left, mouth_right: [x, y]}}`` in photo pixels. MTCNN thresholds are arguments of
``detect_faces`` (not of the constructor). Photos are sorted by shape before batching and each size is
detected in its own call (``Mtcnn.detect_batch``: mtcnn 1.0 misplaces boxes in mixed-size batches).
A photo whose longest side exceeds ``max_side`` (params ``faces.max_side``) is detected on a copy
downscaled with ``cv2.INTER_AREA`` (``downscale``), and its boxes and key points are mapped back to the
full-size photo, which the crop then reads: memory and time stay those of a ``max_side`` photo.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..params import Checked

DETECTORS = ("mtcnn", "none")
MTCNN_DEFAULTS = {"batch_size": 32, "min_face_size": 20, "threshold_pnet": 0.6, "threshold_rnet": 0.7,
                  "threshold_onet": 0.8}
MAX_SIDE = 1024  # px: longer photos are detected downscaled (0: never)


def read_photo(path: str) -> np.ndarray:
    """BGR uint8 (grey and 16-bit photos converted); raises InputError when unreadable."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "unreadable image (not a photo or corrupt)")
    return img


def check_mtcnn(spec: dict | None, prefix: str = "faces.mtcnn") -> dict:
    Checked({} if spec is None else spec, prefix).only(MTCNN_DEFAULTS)
    p = Checked({**MTCNN_DEFAULTS, **(spec or {})}, prefix)
    return {"batch_size": p.int("batch_size", min=1), "min_face_size": p.int("min_face_size", min=8),
            **{k: p.float(k, min=0, max=1) for k in ("threshold_pnet", "threshold_rnet", "threshold_onet")}}


def whole_photo(shape) -> dict:
    h, w = shape[:2]
    return {"box": [0, 0, int(w), int(h)], "confidence": 1.0, "keypoints": {}}


def check_max_side(p: Checked) -> int:
    """``max_side`` of the ``faces`` section ``p``: 0 (never downscale) or a longest side of at least 64 px."""
    side = p.int("max_side", MAX_SIDE, min=0)
    if 0 < side < 64:
        p.fail("max_side", f"must be 0 (never downscale) or >= 64 px, got {side}")
    return side


def downscale(photo: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """(the photo with its longest side cut to ``max_side`` px by ``cv2.INTER_AREA``, (fx, fy): the factors
    from its pixels back to the photo's). A photo that fits, or ``max_side`` 0, is returned itself, (1, 1)."""
    h, w = photo.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return photo, (1.0, 1.0)
    import cv2

    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA), (w / size[0], h / size[1])


def scaled(det: dict, fx: float, fy: float) -> dict:
    """A detection with its box and key points multiplied by (fx, fy): from a downscaled photo's pixels to the
    full-size photo's, or back with (1/fx, 1/fy). The detection itself when both are 1."""
    if fx == 1 and fy == 1:
        return det
    x, y, w, h = (float(v) for v in det["box"])
    return {**det, "box": [x * fx, y * fy, w * fx, h * fy],
            "keypoints": {k: [float(v[0]) * fx, float(v[1]) * fy] for k, v in det.get("keypoints", {}).items()}}


def _clean(det: dict, scale: tuple[float, float] = (1.0, 1.0)) -> dict:
    """Plain Python numbers, the box rounded to whole pixels after mapping it to the full-size photo."""
    det = scaled(det, *scale)
    return {"box": [int(round(float(v))) for v in det["box"]], "confidence": float(det["confidence"]),
            "keypoints": {k: [float(v[0]), float(v[1])] for k, v in det.get("keypoints", {}).items()}}


class Mtcnn:
    """``detect(photos_bgr)`` -> one list of detections per photo, in its full-size pixels."""

    _model = None

    def __init__(self, batch_size: int = 32, max_side: int = MAX_SIDE, **thresholds):
        self.batch_size = batch_size
        self.max_side = max_side
        self.kwargs = thresholds

    def shrink(self, photo: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """The copy of ``photo`` detection runs on, and the factors back to its pixels (``downscale``)."""
        return downscale(photo, self.max_side)

    @classmethod
    def model(cls):
        if cls._model is None:
            import os

            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from mtcnn import MTCNN

            cls._model = MTCNN()
        return cls._model

    def detect_batch(self, photos_bgr: list[np.ndarray], scales: list[tuple[float, float]] | None = None
                     ) -> list[list[dict]]:
        """Detections per photo; photos of one size go to ``detect_faces`` together, each size on its own.

        mtcnn 1.0 pads a batch to its largest photo and pairs the padding offsets only with the photos that
        had a detection, so in a mixed-size batch a no-face photo shifts the boxes of the photos after it.
        Same-size calls have no padding, and give each photo the boxes it gets alone.

        Photos longer than ``max_side`` are detected downscaled and their boxes mapped back. ``scales``: the
        caller already shrank the photos (``shrink``; it keeps only the small copies in memory), and these
        are the factors back to the full-size photos, whose pixels the detections are given in."""
        import cv2

        if scales is None:
            shrunk = [self.shrink(photo) for photo in photos_bgr]
            photos_bgr, scales = [s for s, _ in shrunk], [f for _, f in shrunk]
        groups: dict[tuple, list[int]] = {}
        for i, photo in enumerate(photos_bgr):
            groups.setdefault(photo.shape[:2], []).append(i)
        results: list = [None] * len(photos_bgr)
        for idx in groups.values():
            rgb = [cv2.cvtColor(photos_bgr[i], cv2.COLOR_BGR2RGB) for i in idx]
            out = self.model().detect_faces(rgb if len(rgb) > 1 else rgb[0], **self.kwargs)
            for i, dets in zip(idx, out if len(rgb) > 1 else [out]):
                results[i] = [_clean(d, scales[i]) for d in dets]
        return results

    def detect(self, photos_bgr: list[np.ndarray], progress: bool = False, desc: str = "mtcnn") -> list[list[dict]]:
        from tqdm import tqdm

        order = sorted(range(len(photos_bgr)), key=lambda i: photos_bgr[i].shape[:2])
        results: list = [None] * len(photos_bgr)
        with tqdm(total=len(order), desc=desc, disable=not progress, mininterval=1.0) as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                for i, dets in zip(idx, self.detect_batch([photos_bgr[i] for i in idx])):
                    results[i] = dets
                bar.update(len(idx))
        return results
