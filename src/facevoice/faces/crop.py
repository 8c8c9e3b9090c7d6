"""Crop geometry: one affine warp from the photo to the ``size`` x ``size`` crop.

The crop is a square of side ``max(w, h) * (1 + 2 * margin)`` centred on the face box; with ``align``
it is rotated about that centre by the angle of the line between the eyes, so that the eyes are level.
With ``detector: none`` the frame is the whole photo (no square, no alignment: there are no key points).
Augmentations (``augment.py``) are further 3x3 matrices composed after this one.
"""
from __future__ import annotations

import math

import numpy as np

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def eye_angle(keypoints: dict | None) -> float:
    """Degrees of the left-eye -> right-eye line (image axes, y down); 0 when the eyes are unknown."""
    if not keypoints or "left_eye" not in keypoints or "right_eye" not in keypoints:
        return 0.0
    (lx, ly), (rx, ry) = keypoints["left_eye"], keypoints["right_eye"]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def frame_matrix(box, keypoints: dict | None, size: int, margin: float, align: bool, whole: bool = False) -> np.ndarray:
    """3x3 matrix mapping photo pixels to crop pixels."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2.0, y + h / 2.0
    if whole:
        sx, sy = size / max(w, 1.0), size / max(h, 1.0)
        return np.array([[sx, 0, size / 2.0 - sx * cx], [0, sy, size / 2.0 - sy * cy], [0, 0, 1]])
    side = max(w, h) * (1.0 + 2.0 * margin)
    scale = size / max(side, 1.0)
    angle = eye_angle(keypoints) if align else 0.0
    a = math.radians(angle)
    cos, sin = math.cos(a) * scale, math.sin(a) * scale
    # rotate by -angle about (cx, cy) (cv2.getRotationMatrix2D(center, angle, scale) convention), then centre
    return np.array([[cos, sin, size / 2.0 - cos * cx - sin * cy],
                     [-sin, cos, size / 2.0 + sin * cx - cos * cy],
                     [0, 0, 1]])


def apply_points(matrix: np.ndarray, points: dict) -> dict:
    out = {}
    for key, (px, py) in points.items():
        q = matrix @ np.array([px, py, 1.0])
        out[key] = [float(q[0]), float(q[1])]
    return out


def warp(photo: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop: ``photo`` warped by ``matrix`` (borders replicated), smoothed first when shrinking a lot."""
    import cv2

    scale = math.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    if scale < 0.5:  # anti-alias: a Gaussian about the size of a destination pixel
        sigma = 0.4 / scale
        photo = cv2.GaussianBlur(photo, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return cv2.warpAffine(photo, matrix[:2].astype(np.float64), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def to_channels(crop_bgr: np.ndarray, color: str) -> np.ndarray:
    """uint8 H x W x C: ``grey`` (C=1) or ``rgb`` (C=3)."""
    import cv2

    if color == "grey":
        grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
        return grey[:, :, None].astype(np.uint8)
    if crop_bgr.ndim == 2:
        crop_bgr = cv2.cvtColor(crop_bgr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB).astype(np.uint8)
