"""What the API and the command line do with one photo or clip: read it (refusing what cannot be judged), embed it
with the pretrained embedders, choose a threshold by false-accept rate, and -- only when asked -- run a trained
closed-set classifier (``facevoice.api`` builds on this; ``facevoice.cli`` is argparse around the API).

* **Photos**: dlib's 128-d descriptor (the ``face_embed`` feature, flip-averaged), through ``FaceEmbedder``. The
  face is found by dlib's HOG detector, then its CNN detector; there is **no central-box fallback** here (that
  one is for LFW's protocol, whose photos are centred on a face): no face is ``InputError``. Several faces: the
  largest, and the answer says so (``all_faces`` for every one). Photos longer than ``faces.max_side`` (1024 px)
  are detected on a copy downscaled with ``cv2.INTER_AREA``, as the pipeline does; a large JPEG is decoded
  already reduced (libjpeg's DCT scaling, Pillow's ``draft``) to between 1x and 2x that side, so an 8000 x 8000
  photo costs what a 2000 x 2000 one does. A truncated photo is refused (Pillow's decoder raises where
  ``cv2.imread`` would fill the rest grey).
* **Clips**: the GE2E speaker embedding (``facevoice.audio.ge2e.embed_file``, 256-d, NumPy: no TensorFlow).
* **Thresholds**: from the protocol ROC that calibrated each modality (``facevoice.protocols.fusion.FACE`` /
  ``VOICE``: LFW's pairs for faces, the speaker trial list for voices): the lowest cosine whose false-accept
  rate on that protocol is <= the rate asked for, or (no rate) the calibrated balanced threshold.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from threadpoolctl import threadpool_limits

from .audio.loader import AUDIO_EXTENSIONS
from .errors import InputError, ParamsError, SourceError
from .protocols import fusion

# The face branch's constants, repeated because importing anything under facevoice.faces runs its __init__, which
# imports the faces stage and pandas (0.6 s): tests/test_api.py checks they equal facevoice.faces.detect's and .embed's.
MAX_SIDE = 1024  # faces.max_side: longer photos are detected downscaled
CHIP_SIZE, CHIP_PADDING, FLIP = 150, 0.25, True  # dlib.get_face_chip's defaults; the flip-averaged descriptor
MODELS_PACKAGE = "face-recognition-models==0.3.0"
MODEL_FILES = {"shape_predictor": "shape_predictor_5_face_landmarks.dat",
               "recognition": "dlib_face_recognition_resnet_model_v1.dat",
               "cnn_detector": "mmod_human_face_detector.dat"}

PHOTO_EXT = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".webp", ".tif", ".tiff")
FACE_KINDS = ("faces", "face_embed")  # features whose input is a photo
FACE_EMBEDDER = f"dlib_resnet_v1_flip@{MODELS_PACKAGE}"  # name@version, recorded in galleries and caches
HOG_UPSAMPLE_SIDE = 512  # px: detection copies up to this side are doubled first, as LFW's 250 px photos were
REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


# ---------------------------------------------------------------- where things are
def default_models() -> Path:
    """``$FACEVOICE_MODELS``, else the models/ folder of the repository this package was installed from."""
    return Path(os.environ.get("FACEVOICE_MODELS") or REPO_MODELS)


def _user_dir(env: str, fallback: str) -> Path:
    return Path(os.environ.get(env) or Path.home() / fallback) / "facevoice"


def default_gallery() -> Path:
    """``$FACEVOICE_GALLERY``, else ``$XDG_DATA_HOME/facevoice/gallery`` (``~/.local/share/facevoice/gallery``)."""
    return Path(os.environ.get("FACEVOICE_GALLERY") or _user_dir("XDG_DATA_HOME", ".local/share") / "gallery")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/facevoice`` (``~/.cache/facevoice``): files derived from installed packages."""
    return _user_dir("XDG_CACHE_HOME", ".cache")


def voice_embedder() -> str:
    from .audio import ge2e  # imported when a clip is embedded: photo-only runs never load the audio stack

    return f"ge2e@{ge2e.VERSION}"


# ---------------------------------------------------------------- what a path is
def existing_file(path) -> Path:
    """``path`` as a Path when it is a file holding bytes; else InputError saying why not."""
    p = Path(path)
    if p.is_dir():
        raise InputError(p, "is a folder, not a file")
    if not p.exists():
        raise InputError(p, "file not found")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    return p


def kind_of(path) -> str:
    """"face" for a photo, "voice" for a clip (by extension; anything else is InputError)."""
    p = existing_file(path)
    suffix = p.suffix.lower()
    if suffix in PHOTO_EXT:
        return "face"
    if suffix in AUDIO_EXTENSIONS:
        return "voice"
    raise InputError(p, f"neither a photo ({' '.join(PHOTO_EXT)}) nor a clip ({' '.join(AUDIO_EXTENSIONS)})")


def split_sample(sample) -> dict[str, str]:
    """'photo.jpg', 'clip.wav', 'photo.jpg,clip.wav' or {"face": ..., "voice": ...} -> {kind: path}."""
    if isinstance(sample, dict):
        parts = [str(v) for v in sample.values() if v]
    else:
        parts = [p for p in str(sample).split(",") if p]
    out: dict[str, str] = {}
    for part in parts:
        kind = kind_of(part)
        if kind in out:
            raise InputError(part, f"a second {'photo' if kind == 'face' else 'clip'} in one sample")
        out[kind] = part
    if not out:
        raise InputError(str(sample), "no photo or clip given")
    return out


def digest(path) -> str:
    """The blake2b digest of a file's bytes (how caches and galleries recognise a file they have seen)."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- photos
def model_paths() -> dict:
    """dlib's model files inside the face_recognition_models package (found, never imported: its __init__
    imports pkg_resources), or SourceError saying what to install."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"the dlib face models are not installed: pip install {MODELS_PACKAGE}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {key: folder / name for key, name in MODEL_FILES.items()}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise SourceError(f"dlib face model file(s) missing: {', '.join(absent)} (reinstall {MODELS_PACKAGE})")
    return paths


def downscale(photo: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """``facevoice.faces.detect.downscale``: the photo with its longest side cut to ``max_side`` by
    ``cv2.INTER_AREA`` and the factors back to its pixels; a photo that fits (or max_side 0) as it is."""
    h, w = photo.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return photo, (1.0, 1.0)
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA), (w / size[0], h / size[1])


def _pillow_rgb(p: Path, max_side: int) -> tuple[np.ndarray | None, float]:
    """(the photo as RGB uint8 decoded by Pillow, the file's longest side over the decoded one's): a large JPEG is
    decoded reduced, to a side in [max_side, 2 max_side). (None, 1) for a file Pillow cannot identify or a mode it
    cannot convert faithfully (16-bit, float): cv2 reads those. A truncated file is InputError."""
    try:
        with Image.open(p) as img:
            if img.mode not in ("RGB", "L", "RGBA", "P", "LA", "CMYK", "YCbCr", "1", "PA", "RGBX"):
                img.verify()  # 16-bit or float: no decode here, but the structure is still checked
                return None, 1.0
            full = max(img.size)
            if max_side and max(img.size) > 2 * max_side:
                s = max_side / max(img.size)
                img.draft("RGB", (max(1, int(img.size[0] * s)), max(1, int(img.size[1] * s))))  # JPEG only
            img.load()
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
            return rgb, full / max(rgb.shape[:2])
    except UnidentifiedImageError:
        return None, 1.0
    except Image.DecompressionBombError:
        raise InputError(p, "photo too large to decode (over Pillow's pixel limit)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if "truncated" in str(exc).lower():
            raise InputError(p, "truncated photo (the file ends before the image does)") from None
        raise InputError(p, f"unreadable photo ({str(exc).splitlines()[0][:120]})") from None


def read_photo(path, max_side: int = MAX_SIDE) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """(the photo as RGB uint8, the copy faces are detected on, whose longest side is <= ``max_side``, the factors
    (fx, fy) from the copy's pixels to the photo's, and the factor from the photo's pixels to the file's: above 1
    when a large JPEG was decoded reduced). Unreadable, truncated or tiny photos are InputError."""
    p = existing_file(path)
    rgb, to_file = _pillow_rgb(p, max_side)
    if rgb is None:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(p, "unreadable image (not a photo, or corrupt)")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)
    if min(rgb.shape[:2]) < 16:
        raise InputError(p, f"image too small ({rgb.shape[1]}x{rgb.shape[0]})")
    small, scale = downscale(rgb, max_side)
    return np.ascontiguousarray(rgb), np.ascontiguousarray(small), scale, to_file


@dataclass(frozen=True)
class Face:
    """One face in a photo: its unit 128-d descriptor, its box (x, y, w, h) in the file's pixels, and the detector
    that found it ("hog" or "cnn")."""
    vector: np.ndarray = field(repr=False)
    box: tuple
    found_by: str


def _hog_detector(dlib):
    """dlib's frontal-face HOG detector. Building it decodes a model compiled into dlib (1.2-1.4 s here); the
    same detector saved once under ``cache_dir()`` loads in milliseconds, so it is kept there."""
    path = cache_dir() / f"frontal_face_detector-dlib{dlib.__version__}.svm"
    if path.exists():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:  # a damaged cache file: rebuilt below
            pass
    detector = dlib.get_frontal_face_detector()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        detector.save(str(tmp))
        os.replace(tmp, path)
    except OSError:  # a read-only home: build it every time
        pass
    return detector


class FaceEmbedder:
    """dlib's detectors, 5-point predictor and ResNet, loaded once; ``faces(path)`` -> the faces of a photo.

    The descriptor is the ``face_embed`` feature's (``facevoice.faces.embed``): 5 landmarks, the 150 x 150 chip,
    the ResNet's 128 numbers averaged with the mirror chip's (``flip``), unit length. The CNN detector (MMOD) is
    loaded only for a photo where HOG finds no face."""

    def __init__(self, max_side: int = MAX_SIDE, flip: bool = FLIP):
        import dlib  # heavy optional: only photos need it

        paths = model_paths()
        self.dlib, self.max_side, self.flip = dlib, int(max_side), bool(flip)
        self.hog = _hog_detector(dlib)
        self.predictor = dlib.shape_predictor(str(paths["shape_predictor"]))
        self.net = dlib.face_recognition_model_v1(str(paths["recognition"]))
        self._cnn_path, self._cnn = str(paths["cnn_detector"]), None

    def detect(self, small: np.ndarray) -> tuple[list, str]:
        """dlib rectangles of the faces in the detection copy, largest first, and which detector found them.
        A copy up to ``HOG_UPSAMPLE_SIDE`` px is doubled first (as LFW's photos were); a larger one is doubled
        only when HOG finds nothing at its own size; then the CNN detector."""
        up = 1 if max(small.shape[:2]) <= HOG_UPSAMPLE_SIDE else 0
        found = list(self.hog(small, up)) or (list(self.hog(small, 1)) if up == 0 else [])
        how = "hog"
        if not found:
            if self._cnn is None:
                self._cnn = self.dlib.cnn_face_detection_model_v1(self._cnn_path)
            found, how = [m.rect for m in self._cnn(small, 0)], "cnn"
        return sorted(found, key=lambda r: -r.area()), how

    def describe(self, rgb: np.ndarray, rect) -> np.ndarray:
        """The unit 128-d float32 descriptor of the face in ``rect`` (a dlib.rectangle in ``rgb``'s pixels)."""
        chip = self.dlib.get_face_chip(rgb, self.predictor(rgb, rect), size=CHIP_SIZE, padding=CHIP_PADDING)
        chips = [chip, np.ascontiguousarray(chip[:, ::-1])] if self.flip else [chip]
        d = np.asarray(self.net.compute_face_descriptor(chips), np.float32).reshape(len(chips), 128).mean(axis=0)
        return (d / max(float(np.linalg.norm(d)), 1e-12)).astype(np.float32)

    def faces(self, path, all_faces: bool = False) -> tuple[list[Face], int]:
        """(the largest face -- or with ``all_faces`` every face, largest first --, how many faces were found).
        No face is InputError naming the photo: there is no fallback box at inference."""
        rgb, small, (fx, fy), to_file = read_photo(path, self.max_side)
        rects, how = self.detect(small)
        if not rects:
            raise InputError(path, "no face found (dlib's HOG and CNN detectors)")
        out = []
        for r in rects if all_faces else rects[:1]:
            full = self.dlib.rectangle(int(r.left() * fx), int(r.top() * fy), int(r.right() * fx), int(r.bottom() * fy))
            box = tuple(round(v * to_file) for v in (full.left(), full.top(), full.width(), full.height()))
            out.append(Face(self.describe(rgb, full), box, how))
        return out, len(rects)


_EMBEDDERS: dict = {}


def face_embedder(max_side: int = MAX_SIDE) -> FaceEmbedder:
    """This process's FaceEmbedder (models loaded on first use, then reused; worker processes call this too)."""
    if max_side not in _EMBEDDERS:
        _EMBEDDERS[max_side] = FaceEmbedder(max_side)
    return _EMBEDDERS[max_side]


# ---------------------------------------------------------------- clips
def embed_clip(path) -> np.ndarray:
    """The 256-d unit GE2E embedding of a clip; unreadable, truncated, silent or speechless clips are InputError.

    BLAS runs on one thread meanwhile: the LSTM's products are small, and OpenBLAS's threads spinning on a busy
    2-core machine made a two-clip verify take 8.6 s of CPU instead of 1.2 s."""
    from .audio import ge2e  # imported when a clip is embedded: photo-only runs never load the audio stack

    p = existing_file(path)
    with threadpool_limits(limits=1, user_api="blas"):
        return ge2e.embed_file(str(p))


# ---------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Threshold:
    """A cosine threshold, where it comes from, and (when chosen by rate) its false-accept rate on that protocol."""
    value: float
    provenance: str
    far: float | None = None


def check_far(far: float | None) -> float | None:
    if far is not None and not 0 < far < 1:
        raise ParamsError(f"--far: a false-accept rate between 0 and 1 (exclusive), got {far:g}")
    return far


def calibration(kind: str) -> fusion.Calibration:
    """The modality's real-data calibration (``fusion.FACE`` / ``fusion.VOICE``): its source and protocol ROC."""
    return getattr(fusion, "VOICE" if kind == "voice" else "FACE")


def threshold(kind: str, far: float | None = None) -> Threshold:
    """The cosine threshold for ``kind`` ("face"/"voice"): the lowest whose false-accept rate on the protocol that
    calibrated it is <= ``far``; ``far`` None: the calibrated balanced threshold (log-likelihood ratio 0)."""
    cal = calibration(kind)
    if check_far(far) is None:
        return Threshold(float(cal.threshold), f"balanced threshold (calibrated log-likelihood ratio 0) of {cal.source}")
    try:
        value, rate = cal.at_far(far)
    except ValueError as exc:
        raise ParamsError(f"--far {far:g}: {exc}") from None
    said = (f"false-accept rate {rate:.2g} (asked <= {far:g})" if rate > 0 else
            f"no impostor trial accepted (asked <= {far:g}; the protocol resolves no finer)")
    return Threshold(value, f"{said} on {cal.source}", rate)


decide_pair = fusion.decide_pair  # (fused score, its threshold, provenance) of two photo+clip samples


# ---------------------------------------------------------------- closed-set classifiers (only when asked)
class Models:
    """Trained models under ``root`` with their metadata; loads each once."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict = {}

    def meta(self, name: str) -> dict:
        path = self.root / f"{name}.json"
        if not path.exists():
            known = sorted(p.stem for p in self.root.glob("*.json")) if self.root.is_dir() else []
            raise ParamsError(f"--classifier: unknown model {name!r} (no {path}); trained models: "
                              f"{', '.join(known) or 'none (run make repro, or give --models / FACEVOICE_MODELS)'}")
        meta = json.loads(path.read_text())
        if meta.get("skipped"):
            raise ParamsError(f"--classifier: model {name!r} was not trained on this corpus: {meta['skipped']}")
        return meta

    def keras(self, name: str):
        if name not in self._cache:
            import keras  # heavy optional: TensorFlow loads only for a closed-set classifier

            path = self.root / f"{name}.keras"
            if not path.exists():
                raise ParamsError(f"--classifier: unknown model {name!r} (no {path})")
            self._cache[name] = keras.models.load_model(path, safe_mode=True)
        return self._cache[name]

    def best(self, modality: str, task: str = "person") -> str:
        """The most accurate trained classifier for ``task`` whose input is a photo (modality face) or a clip."""
        best, score = None, -1.0
        for path in sorted(self.root.glob("*.json")):
            m = json.loads(path.read_text())
            if m.get("task") != task or not m.get("classes") or not m.get("feature_params"):  # fusion: no single input
                continue
            is_face = m["feature_params"].get("kind") in FACE_KINDS
            if (modality == "face") == is_face and m.get("accuracy", 0) > score and (self.root / f"{path.stem}.keras").exists():
                best, score = path.stem, m.get("accuracy", 0)
        if best is None:
            raise ParamsError(f"--classifier: no trained {modality} model for task {task!r} in {self.root} "
                              "(run make repro, or give --models / FACEVOICE_MODELS)")
        return best

    def modality(self, name: str) -> str:
        fp = self.meta(name).get("feature_params") or {}
        if not fp:
            raise ParamsError(f"--classifier: model {name!r} takes no single photo or clip (a fusion model)")
        return "face" if fp.get("kind") in FACE_KINDS else "voice"


def face_input(path: str, feature_params: dict) -> np.ndarray:
    """A model's input for one photo: the face crop (feature ``faces``) or dlib's descriptor (``face_embed``)."""
    if feature_params.get("kind") == "face_embed":
        return face_embedder().faces(path)[0][0].vector[None]
    from .faces.single import face_crop  # imports MTCNN's package: only the ``faces`` classifiers need it

    spec = {k: v for k, v in feature_params.items() if k != "kind"}
    return face_crop(path, spec)[None]


def voice_input(path: str, feature_params: dict, store: str) -> np.ndarray:
    from .audio.features import FEATURES  # the feature extractors (librosa-equivalent DSP): classifiers only

    samples = FEATURES[feature_params["kind"]](path, feature_params)
    if not samples:
        raise InputError(path, "clip too short for this model's feature")
    return np.stack([s[store] for s in samples])


def model_input(models: Models, name: str, path: str) -> np.ndarray:
    meta = models.meta(name)
    fp = meta["feature_params"]
    if fp.get("kind") in FACE_KINDS:
        return face_input(path, fp)
    return voice_input(path, fp, meta.get("params", {}).get("store", "x"))


def class_probs(models: Models, name: str, path: str) -> dict[str, float]:
    """A closed-set classifier's class probabilities for one photo or clip (mean over a clip's chunks)."""
    x = model_input(models, name, path).astype(np.float32)
    probs = models.keras(name).predict(x, verbose=0).mean(axis=0)
    return dict(zip(models.meta(name)["classes"], probs.tolist()))
