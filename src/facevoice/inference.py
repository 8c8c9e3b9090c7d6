"""What the command line does with trained models: classify, embed, verify, keep a gallery (``facevoice.cli`` is
only argparse around this).

It reads what ``dvc repro`` wrote: ``models/<name>.keras`` (loaded in Keras safe mode) and ``models/<name>.json``
(classes, feature and its params, metrics). Photos are embedded with dlib's pretrained descriptor, clips with the
siamese verifier's voice tower; each "same person?" decision uses the threshold measured for that embedding
(LFW's pairs protocol for dlib, the speaker trials' EER for the voice tower, the validation pairs' EER for the
siamese models on photo+clip samples) and says which.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import InputError, ParamsError

PHOTO_EXT = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".webp", ".tif", ".tiff")
FACE_KINDS = ("faces", "face_embed")  # features whose input is a photo


class Models:
    """Trained models under ``root`` with their metadata; loads each once."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict = {}

    def meta(self, name: str) -> dict:
        path = self.root / f"{name}.json"
        if not path.exists():
            known = sorted(p.stem for p in self.root.glob("*.json")) if self.root.exists() else []
            raise ParamsError(f"unknown model {name!r} (no {path}); trained models: {', '.join(known) or 'none, run make repro'}")
        meta = json.loads(path.read_text())
        if meta.get("skipped"):
            raise ParamsError(f"model {name!r} was not trained on this corpus: {meta['skipped']}")
        return meta

    def keras(self, name: str):
        if name not in self._cache:
            import keras

            path = self.root / f"{name}.keras"
            if not path.exists():
                raise ParamsError(f"unknown model {name!r} (no {path})")
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
            raise ParamsError(f"no trained {modality} model for task {task!r} in {self.root} (run make repro)")
        return best


def dlib_embedding(path: str, feature_params: dict | None = None) -> np.ndarray:
    """dlib's unit 128-d descriptor of the face in a photo. The face is found by dlib's own detectors (HOG, then
    CNN, then the central box), the way the LFW protocol stage scored dlib; ``flip``/``upsample`` as trained."""
    from .faces.embed import read_rgb, shared_embedder

    fp = feature_params or {}
    return shared_embedder(int(fp.get("upsample", 1))).embed(read_rgb(path), None, bool(fp.get("flip", True)))


def face_input(path: str, feature_params: dict) -> np.ndarray:
    """A model's input for one photo: the face crop (feature ``faces``) or dlib's descriptor (``face_embed``)."""
    if feature_params.get("kind") == "face_embed":
        return dlib_embedding(path, feature_params)[None]
    from .faces.single import face_crop

    spec = {k: v for k, v in feature_params.items() if k != "kind"}
    return face_crop(path, spec)[None]


def voice_input(path: str, feature_params: dict, store: str) -> np.ndarray:
    from .audio.features import FEATURES

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
    x = model_input(models, name, path).astype(np.float32)
    probs = models.keras(name).predict(x, verbose=0).mean(axis=0)  # chunks of one clip: mean
    return dict(zip(models.meta(name)["classes"], probs.tolist()))


def _kind(path: str) -> str:
    if not Path(path).exists():
        raise InputError(path, "file not found")
    return "face" if Path(path).suffix.lower() in PHOTO_EXT else "voice"


def split_sample(arg: str) -> dict[str, str]:
    """'photo.jpg', 'clip.wav' or 'photo.jpg,clip.wav' -> {face: ..., voice: ...}."""
    sample: dict[str, str] = {}
    for part in arg.split(","):
        kind = _kind(part)
        if kind in sample:
            raise InputError(arg, f"two {kind} files in one sample")
        sample[kind] = part
    return sample


class Verifier:
    """The siamese models: ``fused`` (face+voice), ``face_only``, ``voice_only``, and their EER thresholds."""

    def __init__(self, models: Models, name: str):
        self.models, self.name = models, name
        self.meta = models.meta(name)
        if "inputs" not in self.meta:
            raise ParamsError(f"model {name!r} is not a verifier")

    def variant(self, kinds) -> str:
        kinds = set(kinds)
        return "fused" if kinds == {"face", "voice"} else f"{next(iter(kinds))}_only"

    def model(self, variant: str):
        return self.models.keras(self.name if variant == "fused" else f"{self.name}_{variant}")

    def threshold(self, variant: str) -> float:
        m = self.meta if variant == "fused" else self.meta[variant]
        return float(m["eer_threshold"])

    def inputs(self, sample: dict[str, str], variant: str) -> list[np.ndarray]:
        order = ("face", "voice") if variant == "fused" else (variant.replace("_only", ""),)
        out = []
        for kind in order:
            spec = self.meta["inputs"][kind]
            if kind == "face":
                out.append(face_input(sample["face"], spec["feature_params"]).astype(np.float32))
            else:
                out.append(voice_input(sample["voice"], spec["feature_params"], spec["store"])[:1].astype(np.float32))
        return out

    def score(self, a: dict, b: dict) -> tuple[float, float, str]:
        """(siamese score, its validation EER threshold, variant) of two samples holding the same kinds."""
        v = self.variant(a)
        s = float(self.model(v).predict(self.inputs(a, v) + self.inputs(b, v), verbose=0).ravel()[0])
        return s, self.threshold(v), v

    def embed(self, sample: dict, variant: str) -> np.ndarray:
        tower = self.model(variant).get_layer("tower")
        return np.asarray(tower.predict(self.inputs(sample, variant), verbose=0))[0]


# The threshold LFW's 10-fold protocol chose for dlib's flip-averaged descriptor on lfw_dev's 5,274 usable pairs
# (cosine similarity; 0.9123-0.9128 over the ten 9-fold fits; accuracy 0.990 +- 0.004): python benchmarks/lfw_pairs.py
LFW_DLIB_THRESHOLD = 0.912


def photo_threshold(metrics_dir: Path) -> tuple[float, str]:
    """(threshold, where it came from) for "same person?" on the cosine of two dlib descriptors: this run's LFW
    pairs protocol EER threshold when the stage ran, else the one measured on lfw_dev's pairs (real photos; a
    threshold fitted on a synthetic corpus's drawn faces would not transfer to photos)."""
    protocol = metrics_dir / "lfw_pairs.json"
    if protocol.exists():
        dlib = json.loads(protocol.read_text()).get("embeddings", {}).get("dlib", {})
        if "eer_threshold" in dlib:
            return float(dlib["eer_threshold"]), "EER threshold of dlib's embedding on LFW's pairs protocol in this run"
    return LFW_DLIB_THRESHOLD, "dlib's threshold on LFW's pairs protocol, measured on lfw_dev"


def voice_threshold(verifier: str, metrics_dir: Path) -> tuple[float | None, str | None]:
    """(threshold, where it came from) for the cosine of two clips' embeddings by ``verifier``'s voice tower: the
    speaker trials' EER threshold, when that stage scored this tower (``siamese_voice``), else (None, None)."""
    path = metrics_dir / "speaker_trials.json"
    if verifier != "siamese" or not path.exists():
        return None, None
    tower = json.loads(path.read_text()).get("embeddings", {}).get("siamese_voice", {})
    if "eer_threshold" not in tower:
        return None, None
    return float(tower["eer_threshold"]), "EER threshold of siamese's voice tower on the speaker trials"


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def decide(models: Models, verifier: str, a: dict, b: dict, metrics_dir: Path) -> tuple[float, float, str]:
    """(score, threshold, where the threshold came from) for "are samples a and b the same person?".

    Two photos: cosine of dlib's descriptors against dlib's EER threshold (LFW protocol or this corpus's test
    photos); two clips: cosine of the voice tower's embeddings against the speaker trials' EER threshold; else
    (photo+clip samples, or a run without those thresholds) the siamese model and its validation EER threshold."""
    if set(a) != set(b):
        raise InputError(",".join(b.values()), "both samples must hold the same kinds (photo, clip or both)")
    if set(a) == {"face"}:
        threshold, source = photo_threshold(metrics_dir)
        return _cosine(dlib_embedding(a["face"]), dlib_embedding(b["face"])), threshold, source
    if set(a) == {"voice"}:
        threshold, source = voice_threshold(verifier, metrics_dir)
        if threshold is not None:
            v = Verifier(models, verifier)
            return _cosine(v.embed(a, "voice_only"), v.embed(b, "voice_only")), threshold, source
    score, threshold, variant = Verifier(models, verifier).score(a, b)
    return score, threshold, f"EER threshold of {verifier} {variant}"


# ---------------------------------------------------------------- the gallery
GALLERY = Path("gallery/gallery.json")  # outside models/, which DVC tracks


def embedder_for(kind: str, verifier: str) -> str:
    """Which embedding the gallery keeps for ``kind``: dlib's pretrained descriptor for faces, the verifier's
    voice tower (``<verifier>_voice_only``) for clips."""
    return "dlib" if kind == "face" else f"{verifier}_{kind}_only"


def embed(models: Models, embedder: str, kind: str, path: str) -> np.ndarray:
    if embedder == "dlib":
        return dlib_embedding(path)
    name, variant = embedder.rsplit("_", 2)[0], f"{kind}_only"
    return Verifier(models, name).embed({kind: path}, variant)


def enroll(models: Models, verifier: str, name: str, faces: list[str], voices: list[str]) -> dict:
    """Add ``name`` to the gallery: per modality, the unit mean of its files' embeddings and the embedder used."""
    entry: dict = {"name": name}
    for kind, files in (("face", faces), ("voice", voices)):
        if files:
            embedder = embedder_for(kind, verifier)
            mean = np.mean([embed(models, embedder, kind, f) for f in files], axis=0)
            entry[kind] = (mean / (np.linalg.norm(mean) + 1e-12)).tolist()
            entry[f"{kind}_embedder"], entry[f"n_{kind}"] = embedder, len(files)
    if len(entry) == 1:
        raise ParamsError("enroll needs at least one --faces or --voices file")
    GALLERY.parent.mkdir(parents=True, exist_ok=True)
    gallery = json.loads(GALLERY.read_text()) if GALLERY.exists() else {"people": {}}
    gallery["people"][name] = entry
    GALLERY.write_text(json.dumps(gallery))
    return entry


def gallery_matches(models: Models, verifier: str, sample: dict, top_k: int) -> list[tuple[str, float]]:
    """The gallery's people ranked by the mean, over the sample's modalities, of the cosine between the sample's
    embedding and the person's (each computed with the embedder the person was enrolled with)."""
    if not GALLERY.exists():
        return []
    people = json.loads(GALLERY.read_text())["people"]
    scores: dict[str, list[float]] = {}
    cache: dict[tuple[str, str], np.ndarray] = {}
    for kind, file in sample.items():
        for name, entry in people.items():
            if kind not in entry:
                continue
            embedder = entry.get(f"{kind}_embedder", f"{verifier}_{kind}_only")
            if (kind, embedder) not in cache:
                cache[(kind, embedder)] = embed(models, embedder, kind, file)
            scores.setdefault(name, []).append(_cosine(cache[(kind, embedder)], np.asarray(entry[kind])))
    ranked = sorted(((n, float(np.mean(s))) for n, s in scores.items()), key=lambda t: -t[1])
    return ranked[:top_k]
