"""The ``facevoice`` command: identify people, verify two samples, enroll new people in a gallery.

    facevoice identify --face PHOTO --voice CLIP [--top-k 5]      (either modality alone works)
    facevoice verify A B                                          (A, B: a photo, a clip, or PHOTO,CLIP)
    facevoice enroll NAME --faces P1 P2 ... --voices C1 C2 ...

Argparse around ``facevoice.inference``, which reads what ``dvc repro`` wrote (``models/``, ``metrics/``) and
says which embedding and threshold each decision used. Bad input -- a photo with no face, a silent clip, an
unknown model -- is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from .errors import FacevoiceError, ParamsError
from .inference import GALLERY, Models, class_probs, decide, enroll, gallery_matches, split_sample

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    sample = {k: v for k, v in (("face", args.face), ("voice", args.voice)) if v}
    matches = gallery_matches(models, args.verifier, sample, args.top_k)
    if matches:
        print("gallery (cosine similarity of embeddings):")
        for i, (person, score) in enumerate(matches, 1):
            print(f"{i}. {person}\t{score:.3f}")
    return 0


def cmd_verify(args) -> int:
    a, b = split_sample(args.a), split_sample(args.b)
    score, threshold, source = decide(Models(args.models), args.verifier, a, b, args.metrics)
    print(f"{'same person' if score >= threshold else 'different people'}\tscore {score:.3f}\tthreshold "
          f"{threshold:.3f} ({source})")
    return 0


def cmd_enroll(args) -> int:
    models = Models(args.models)
    entry = enroll(models, args.verifier, args.name, args.faces or [], args.voices or [])
    print(f"enrolled {args.name}: {entry.get('n_face', 0)} photo(s), {entry.get('n_voice', 0)} clip(s) "
          f"-> {GALLERY}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="facevoice", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=Path("models"), help="folder of trained models (default: models)")
    ap.add_argument("--metrics", type=Path, default=Path("metrics"),
                    help="folder of the run's metrics, where verify's thresholds come from (default: metrics)")
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
