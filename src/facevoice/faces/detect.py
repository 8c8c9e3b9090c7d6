"""Face detectors: MTCNN (``mtcnn`` 1.0, batched) or ``none`` (the whole photo is the face).

A detection is ``{"box": [x, y, w, h], "confidence": float, "keypoints": {left_eye, right_eye, nose,
mouth_left, mouth_right: [x, y]}}`` in photo pixels. MTCNN thresholds are arguments of
``detect_faces`` (not of the constructor). Photos are sorted by shape before batching and each size is
detected in its own call (``Mtcnn.detect_batch``: mtcnn 1.0 misplaces boxes in mixed-size batches).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, ParamsError
from ..params import Checked

DETECTORS = ("mtcnn", "none")
MTCNN_DEFAULTS = {"batch_size": 32, "min_face_size": 20, "threshold_pnet": 0.6, "threshold_rnet": 0.7,
                  "threshold_onet": 0.8}


def read_photo(path: str) -> np.ndarray:
    """BGR uint8 (grey and 16-bit photos converted); raises InputError when unreadable."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "unreadable image (not a photo or corrupt)")
    return img


def check_mtcnn(spec: dict | None, prefix: str = "faces.mtcnn") -> dict:
    unknown = set(spec or {}) - set(MTCNN_DEFAULTS)
    if unknown:
        raise ParamsError(f"params.yaml: unknown key(s) {', '.join(sorted(unknown))} in '{prefix}' "
                          f"(known: {', '.join(MTCNN_DEFAULTS)})")
    p = Checked({**MTCNN_DEFAULTS, **(spec or {})}, prefix)
    return {"batch_size": p.int("batch_size", min=1), "min_face_size": p.int("min_face_size", min=8),
            **{k: p.float(k, min=0, max=1) for k in ("threshold_pnet", "threshold_rnet", "threshold_onet")}}


def whole_photo(shape) -> dict:
    h, w = shape[:2]
    return {"box": [0, 0, int(w), int(h)], "confidence": 1.0, "keypoints": {}}


def _clean(det: dict) -> dict:
    return {"box": [int(round(float(v))) for v in det["box"]], "confidence": float(det["confidence"]),
            "keypoints": {k: [float(v[0]), float(v[1])] for k, v in det.get("keypoints", {}).items()}}


class Mtcnn:
    """``detect(photos_bgr)`` -> one list of detections per photo."""

    _model = None

    def __init__(self, batch_size: int = 32, **thresholds):
        self.batch_size = batch_size
        self.kwargs = thresholds

    @classmethod
    def model(cls):
        if cls._model is None:
            import os

            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from mtcnn import MTCNN

            cls._model = MTCNN()
        return cls._model

    def detect_batch(self, photos_bgr: list[np.ndarray]) -> list[list[dict]]:
        """Detections per photo; photos of one size go to ``detect_faces`` together, each size on its own.

        mtcnn 1.0 pads a batch to its largest photo and pairs the padding offsets only with the photos that
        had a detection, so in a mixed-size batch a no-face photo shifts the boxes of the photos after it.
        Same-size calls have no padding, and give each photo the boxes it gets alone."""
        import cv2

        groups: dict[tuple, list[int]] = {}
        for i, photo in enumerate(photos_bgr):
            groups.setdefault(photo.shape[:2], []).append(i)
        results: list = [None] * len(photos_bgr)
        for idx in groups.values():
            rgb = [cv2.cvtColor(photos_bgr[i], cv2.COLOR_BGR2RGB) for i in idx]
            out = self.model().detect_faces(rgb if len(rgb) > 1 else rgb[0], **self.kwargs)
            for i, dets in zip(idx, out if len(rgb) > 1 else [out]):
                results[i] = [_clean(d) for d in dets]
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
