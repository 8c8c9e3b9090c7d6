"""A pretrained face embedding: dlib's ResNet face descriptor (128 numbers per face, no training needed).

Two photos of one person give nearby vectors, photos of different people distant ones, so a face can be
recognised by comparing its vector with known ones (cosine similarity of the unit vectors returned here).
dlib reports 99.38% on LFW's pair-verification protocol for this model (``facevoice.protocols.lfw_pairs``).

The model files come from the ``face-recognition-models`` package (pinned in requirements.txt); nothing is
downloaded at run time. That package's ``__init__`` imports ``pkg_resources`` (gone from setuptools >= 81),
so it is never imported: ``model_paths`` only locates its folder.

Per photo (``DlibEmbedder.embed``):

1. **locate** the face: the box you give, else dlib's HOG frontal-face detector (fast), else, for the few
   photos where it finds nothing (0.6% of LFW: turned or covered faces), dlib's CNN face detector (MMOD,
   ~0.3 s a photo), else a fixed central box (LFW photos are centred on the face). When a detector finds
   several faces, the one nearest the photo centre is taken.
2. **landmarks**: dlib's 5-point predictor (eye corners, nose) inside that box.
3. **chip**: ``dlib.get_face_chip`` rotates and scales the face so the landmarks land where the network
   expects them, a 150 x 150 RGB image.
4. **describe**: the ResNet maps the chip to 128 numbers; with ``flip`` the chip's mirror image is described
   too and the two averaged. The result is scaled to unit length.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import SourceError

MODELS_PACKAGE = "face-recognition-models==0.3.0"
MODEL_FILES = {"shape_predictor": "shape_predictor_5_face_landmarks.dat",
               "recognition": "dlib_face_recognition_resnet_model_v1.dat",
               "cnn_detector": "mmod_human_face_detector.dat"}
# Last-resort face box as fractions of the photo (left, top, right, bottom): where dlib's HOG detector puts
# the face in LFW's 250 x 250 deep-funneled photos (median box (67, 80)-(175, 187) over 200 lfw_dev photos).
# On 80 photos with a HOG face, this box gave embeddings at cosine 0.9994 (min 0.993) from the HOG box's,
# the best of five boxes tried ((70, 70)-(180, 180): 0.9992, min 0.975).
CENTRAL_BOX = (0.27, 0.32, 0.70, 0.75)
# Averaging the chip's and its mirror image's descriptors: on lfw_dev's 5,274 usable LFW pairs, 10-fold accuracy
# 0.9916 (EER 0.0092) against 0.9878 (EER 0.0108) without, for ~1.7x the time (benchmarks/lfw_pairs.py).
FLIP = True
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what the network was trained on (dlib.get_face_chip's defaults)


def model_paths() -> dict:
    """``{"shape_predictor", "recognition", "cnn_detector": Path}``: dlib's model files in face_recognition_models.

    Raises SourceError (one line, saying what to install) when the package or a file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")  # finds the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"the dlib face models are not installed: pip install {MODELS_PACKAGE}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {key: folder / name for key, name in MODEL_FILES.items()}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise SourceError(f"dlib face model file(s) missing: {', '.join(absent)} (reinstall {MODELS_PACKAGE})")
    return paths


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return (v / n if n > 0 else v).astype(np.float32)


def _nearest_centre(rects: list, shape: tuple):
    """The rectangle whose centre is nearest the photo's centre (LFW centres the labelled person)."""
    height, width = shape[:2]
    off = [(r.center().x - width / 2) ** 2 + (r.center().y - height / 2) ** 2 for r in rects]
    return rects[int(np.argmin(off))]


class DlibEmbedder:
    """Loads dlib's detectors, 5-point landmark predictor and face-recognition ResNet once; embeds RGB photos.

    ``upsample``: how many times the HOG detector doubles the photo first (finds smaller faces, ~4x slower
    per step); ``cnn_fallback``: try the CNN detector when HOG finds nothing; ``central_box``: the last
    fallback, as fractions of the photo (left, top, right, bottom), or None to raise ValueError instead.
    """

    def __init__(self, upsample: int = 1, cnn_fallback: bool = True, central_box: tuple | None = CENTRAL_BOX):
        import dlib

        paths = model_paths()
        self.dlib = dlib
        self.upsample, self.central_box = int(upsample), central_box
        self.detector = dlib.get_frontal_face_detector()
        self.cnn = dlib.cnn_face_detection_model_v1(str(paths["cnn_detector"])) if cnn_fallback else None
        self.predictor = dlib.shape_predictor(str(paths["shape_predictor"]))
        self.net = dlib.face_recognition_model_v1(str(paths["recognition"]))

    def locate(self, rgb: np.ndarray, box: Sequence | None = None):
        """The face rectangle (a ``dlib.rectangle``) and how it was found: "given", "hog", "cnn" or "central"."""
        d = self.dlib
        if box is not None:
            x, y, w, h = (round(float(v)) for v in box)
            return d.rectangle(x, y, x + w - 1, y + h - 1), "given"  # dlib corners are inclusive
        found = list(self.detector(rgb, self.upsample))
        if found:
            return _nearest_centre(found, rgb.shape), "hog"
        found = [m.rect for m in self.cnn(rgb, 0)] if self.cnn is not None else []
        if found:
            return _nearest_centre(found, rgb.shape), "cnn"
        if self.central_box is None:
            raise ValueError("no face found by dlib's detectors and no fallback box")
        height, width = rgb.shape[:2]
        left, top, right, bottom = self.central_box
        return d.rectangle(int(left * width), int(top * height), int(right * width), int(bottom * height)), "central"

    def chip(self, rgb: np.ndarray, box: Sequence | None = None) -> np.ndarray:
        """The aligned 150 x 150 x 3 uint8 face the network reads (``box``: (x, y, w, h) or None to locate)."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 RGB photo, got shape {rgb.shape}")
        return self.align(rgb, self.locate(rgb, box)[0])

    def align(self, rgb: np.ndarray, rect) -> np.ndarray:
        """The chip of the face in ``rect`` (a dlib.rectangle): 5 landmarks, then rotate and scale to 150 x 150."""
        shape = self.predictor(rgb, rect)
        return self.dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def describe(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (not normalised) 128-d descriptors of aligned chips, an (n, 128) float32 array."""
        chips = [np.ascontiguousarray(c, dtype=np.uint8) for c in chips]
        return np.asarray(self.net.compute_face_descriptor(chips), dtype=np.float32).reshape(len(chips), 128)

    def embed(self, rgb: np.ndarray, box: Sequence | None = None, flip: bool = FLIP) -> np.ndarray:
        """The unit-length 128-d float32 embedding of the face in an RGB uint8 photo.

        ``box``: the face as (x, y, w, h) pixels, or None to find it (detector, then the central box).
        ``flip``: also describe the mirror-image chip and average the two (twice the time).
        """
        c = self.chip(rgb, box)
        return _unit(self.describe([c, c[:, ::-1]] if flip else [c]).mean(axis=0))


def read_rgb(path) -> np.ndarray:
    """An image file as an H x W x 3 RGB uint8 array; InputError when unreadable."""
    import cv2

    from .detect import read_photo

    return cv2.cvtColor(read_photo(path), cv2.COLOR_BGR2RGB)


_SHARED: dict = {}


def shared_embedder(upsample: int = 1) -> DlibEmbedder:
    """This process's DlibEmbedder (models loaded on first use, then reused: worker processes call this)."""
    if upsample not in _SHARED:
        _SHARED[upsample] = DlibEmbedder(upsample=upsample)
    return _SHARED[upsample]


def _embed_file(job: tuple) -> np.ndarray:
    path, box, flip, upsample = job
    return shared_embedder(upsample).embed(read_rgb(path), box, flip)


def embed_paths(paths: Sequence, boxes: Sequence | None = None, flip: bool = FLIP, workers: int = 1,
                upsample: int = 1, progress: bool = True) -> np.ndarray:
    """Embeddings of photo files, an (n, 128) float32 array in the order of ``paths``.

    ``boxes``: one (x, y, w, h) or None per photo (None: find the face). ``workers`` > 1 uses that many
    processes (dlib's network runs on one core, ~0.1 s per chip). Shows a tqdm progress bar.
    """
    from ..parallel import imap

    paths = [str(p) for p in paths]
    boxes = [None] * len(paths) if boxes is None else list(boxes)
    if len(boxes) != len(paths):
        raise ValueError(f"{len(paths)} paths but {len(boxes)} boxes")
    jobs = [(p, b, flip, upsample) for p, b in zip(paths, boxes)]
    out = np.zeros((len(paths), 128), dtype=np.float32)
    for i, vec in enumerate(imap(_embed_file, jobs, workers, desc="dlib embeddings", progress=progress)):
        out[i] = vec
    return out
