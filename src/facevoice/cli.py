"""The ``facevoice`` command: identify people, verify two samples, enroll new people in a gallery.

    facevoice identify --face PHOTO --voice CLIP [--top-k 5]      (either modality alone works)
    facevoice verify A B                                          (A, B: a photo, a clip, or PHOTO,CLIP)
    facevoice enroll NAME --faces P1 P2 ... --voices C1 C2 ...

It reads what ``dvc repro`` wrote: ``models/<name>.keras`` (loaded in Keras safe mode) and
``models/<name>.json`` (classes, feature and its params, metrics). Bad input -- a photo with no face,
a silent clip, an unknown model -- is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from .errors import FacevoiceError, InputError, ParamsError
from .skip import reason_of

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PHOTO_EXT = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".webp", ".tif", ".tiff")


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
        """The most accurate trained classifier for ``task`` whose input is a face (modality face) or audio."""
        best, score = None, -1.0
        for path in sorted(self.root.glob("*.json")):
            m = json.loads(path.read_text())
            if m.get("task") != task or not m.get("classes") or not m.get("feature_params"):  # fusion: no single input
                continue
            is_face = m["feature_params"].get("kind") == "faces"
            if (modality == "face") == is_face and m.get("accuracy", 0) > score and (self.root / f"{path.stem}.keras").exists():
                best, score = path.stem, m.get("accuracy", 0)
        if best is None:
            raise ParamsError(f"no trained {modality} model for task {task!r} in {self.root} (run make repro)")
        return best


def face_input(path: str, feature_params: dict) -> np.ndarray:
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
    if fp.get("kind") == "faces":
        return face_input(path, fp)
    return voice_input(path, fp, meta.get("params", {}).get("store", "x"))


def class_probs(models: Models, name: str, path: str) -> dict[str, float]:
    x = model_input(models, name, path).astype(np.float32)
    probs = models.keras(name).predict(x, verbose=0).mean(axis=0)  # chunks of one clip: mean
    return dict(zip(models.meta(name)["classes"], probs.tolist()))


# ---------------------------------------------------------------- verification and the gallery
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
        if set(a) != set(b):
            raise InputError(",".join(b.values()), "both samples must hold the same kinds (photo, clip or both)")
        v = self.variant(a)
        s = float(self.model(v).predict(self.inputs(a, v) + self.inputs(b, v), verbose=0).ravel()[0])
        return s, self.threshold(v), v

    def embed(self, sample: dict, variant: str) -> np.ndarray:
        tower = self.model(variant).get_layer("tower")
        return np.asarray(tower.predict(self.inputs(sample, variant), verbose=0))[0]


GALLERY = Path("gallery/gallery.json")  # outside models/, which DVC tracks


def enroll(models: Models, verifier: Verifier, name: str, faces: list[str], voices: list[str]) -> dict:
    entry: dict = {"name": name}
    for kind, files in (("face", faces), ("voice", voices)):
        if files:
            embs = [verifier.embed({kind: f}, f"{kind}_only") for f in files]
            mean = np.mean(embs, axis=0)
            entry[kind] = (mean / (np.linalg.norm(mean) + 1e-12)).tolist()
            entry[f"n_{kind}"] = len(files)
    if len(entry) == 1:
        raise ParamsError("enroll needs at least one --faces or --voices file")
    path = GALLERY
    path.parent.mkdir(parents=True, exist_ok=True)
    gallery = json.loads(path.read_text()) if path.exists() else {"model": verifier.name, "people": {}}
    gallery["people"][name] = entry
    path.write_text(json.dumps(gallery))
    return entry


def gallery_matches(models: Models, verifier: Verifier, sample: dict, top_k: int) -> list[tuple[str, float]]:
    path = GALLERY
    if not path.exists():
        return []
    people = json.loads(path.read_text())["people"]
    scores: dict[str, list[float]] = {}
    for kind, file in sample.items():
        e = verifier.embed({kind: file}, f"{kind}_only")
        for name, entry in people.items():
            if kind in entry:
                scores.setdefault(name, []).append(float(np.dot(e, entry[kind])))
    ranked = sorted(((n, float(np.mean(s))) for n, s in scores.items()), key=lambda t: -t[1])
    return ranked[:top_k]


# ---------------------------------------------------------------- commands
def cmd_identify(args) -> int:
    models = Models(args.models)
    if not args.face and not args.voice:
        raise ParamsError("identify needs --face PHOTO and/or --voice CLIP")
    per_modality = {}
    if args.face:
        name = args.face_model or models.best("face")
        per_modality["face"] = (name, class_probs(models, name, args.face))
    if args.voice:
        name = args.voice_model or models.best("voice")
        per_modality["voice"] = (name, class_probs(models, name, args.voice))
    people = sorted(set().union(*(set(p) for _, p in per_modality.values())))
    combined = {p: float(np.mean([probs.get(p, 0.0) for _, probs in per_modality.values()])) for p in people}
    ranked = sorted(combined.items(), key=lambda t: -t[1])[:args.top_k]
    used = ", ".join(f"{k}: {n}" for k, (n, _) in per_modality.items())
    print(f"top {len(ranked)} ({used}; scores are the mean class probability over the modalities given)")
    for i, (person, score) in enumerate(ranked, 1):
        print(f"{i}. {person}\t{score:.3f}")
    if GALLERY.exists() and not reason_of(Path(args.models) / f"{args.verifier}.json"):
        sample = {k: v for k, v in (("face", args.face), ("voice", args.voice)) if v}
        matches = gallery_matches(models, Verifier(models, args.verifier), sample, args.top_k)
        if matches:
            print("gallery (cosine similarity of embeddings):")
            for i, (person, score) in enumerate(matches, 1):
                print(f"{i}. {person}\t{score:.3f}")
    return 0


def photos_by_dlib(a: dict, b: dict) -> tuple[float, float, str] | None:
    """Two photos: (cosine of dlib's embeddings, threshold, where the threshold came from), or None when the
    run has no dlib threshold (no face_embed stage output and no LFW protocol)."""
    from .faces.embedded import photo_threshold

    if set(a) != {"face"} or set(b) != {"face"}:
        return None
    threshold, source = photo_threshold()
    if threshold is None:
        return None
    from .faces.embed import read_rgb, shared_embedder

    embedder = shared_embedder()
    ea, eb = (embedder.embed(read_rgb(s["face"])) for s in (a, b))
    return float(np.dot(ea, eb)), threshold, source


def cmd_verify(args) -> int:
    a, b = split_sample(args.a), split_sample(args.b)
    by_dlib = photos_by_dlib(a, b)
    if by_dlib is not None:
        score, threshold, source = by_dlib
    else:
        score, threshold, variant = Verifier(Models(args.models), args.verifier).score(a, b)
        source = f"EER threshold of {args.verifier} {variant}"
    same = score >= threshold
    print(f"{'same person' if same else 'different people'}\tscore {score:.3f}\tthreshold {threshold:.3f} "
          f"({source})")
    return 0


def cmd_enroll(args) -> int:
    models = Models(args.models)
    entry = enroll(models, Verifier(models, args.verifier), args.name, args.faces or [], args.voices or [])
    print(f"enrolled {args.name}: {entry.get('n_face', 0)} photo(s), {entry.get('n_voice', 0)} clip(s) "
          f"-> {GALLERY}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="facevoice", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=Path("models"), help="folder of trained models (default: models)")
    ap.add_argument("--verifier", default="siamese", help="siamese model for verify/enroll (default: siamese)")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("identify", help="who is this? top-k people with scores")
    p.add_argument("--face", help="a photo")
    p.add_argument("--voice", help="a clip (wav, flac, mp3, ogg)")
    p.add_argument("--face-model", help="face classifier (default: the most accurate one)")
    p.add_argument("--voice-model", help="voice classifier (default: the most accurate one)")
    p.add_argument("--top-k", type=int, default=5)
    p.set_defaults(func=cmd_identify)
    p = sub.add_parser("verify", help="are A and B the same person?")
    p.add_argument("a", help="a photo, a clip, or PHOTO,CLIP")
    p.add_argument("b", help="same kinds as A")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("enroll", help="add a person to the gallery (no retraining)")
    p.add_argument("name")
    p.add_argument("--faces", nargs="*", default=[])
    p.add_argument("--voices", nargs="*", default=[])
    p.set_defaults(func=cmd_enroll)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except FacevoiceError as exc:
        print(f"facevoice: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
