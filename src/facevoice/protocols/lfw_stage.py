"""The ``lfw_pairs`` stage: LFW's 10-fold pairs protocol for each face embedding the run has.

Embeddings: ``dlib`` (the pretrained descriptor, ``facevoice.faces.embed``), ``face_ae`` (the face
autoencoder's encoder, on the faces stage's crop of each photo) and ``siamese`` (the siamese verifier's
face-only tower, same crops). Each is scored by cosine similarity on the usable pairs; the threshold is
chosen on 9 folds and applied to the 10th (``lfw_pairs.ten_fold``). Pairs whose photos are missing are
counted in the metrics and listed in ``plots/lfw_pairs/missing.csv``. With ``pairs: null`` (a corpus
without LFW's pairs file) the stage says ``skipped``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..params import Checked
from ..skip import Skip, reason_of
from ..evaluate import eer
from .lfw_pairs import first_per_fold, read_pairs, score_pairs, ten_fold

EMBEDDINGS = ("dlib", "face_ae", "siamese")
SUMMARY = ("accuracy", "accuracy_std", "auc", "eer", "tar_at_far", "n_pairs")


def check(spec: dict, prefix: str = "lfw_pairs") -> dict:
    p = Checked(spec, prefix)
    names = p.list("embeddings", list(EMBEDDINGS))
    bad = [n for n in names if n not in EMBEDDINGS]
    if bad:
        p.choice("embeddings", EMBEDDINGS)  # one-line error naming the key
    return {"pairs": p.get("pairs", None), "root": p.get("root", None), "per_fold": p.int("per_fold", 0, min=0),
            "flip": p.bool("flip", True), "workers": p.int("workers", 2, min=0), "embeddings": names}


def learnt_embedder(name: str, models_dir: Path, faces_params: dict):
    """path -> vector through a trained model's face encoder (the faces stage's crop of the photo)."""
    import keras

    from ..faces.single import face_crop

    if name == "face_ae":
        model = keras.models.load_model(models_dir / "face_ae.keras", safe_mode=True)
        inp = keras.Input(shape=tuple(model.inputs[0].shape[1:]))
        net = keras.Model(inp, model.get_layer("encoder")(model.get_layer("norm")(inp)))
    else:  # the face-only siamese verifier's tower: the face -> its unit embedding
        net = keras.models.load_model(models_dir / "siamese_face_only.keras", safe_mode=True).get_layer("tower")
    spec = {k: v for k, v in faces_params.items() if k != "kind"}
    return lambda path: np.ravel(net.predict(face_crop(path, spec)[None].astype(np.float32), verbose=0))


def embeddings_of(name: str, photos: list[str], cfg: dict, models_dir: Path, faces_params: dict) -> dict:
    """{photo: vector}; a photo the embedding cannot read is left out (its pairs are then not scored)."""
    from tqdm import tqdm

    from ..errors import InputError

    if name == "dlib":
        from ..faces.embed import embed_paths

        return dict(zip(photos, embed_paths(photos, flip=cfg["flip"], workers=cfg["workers"])))
    upstream = reason_of(models_dir / f"{'face_ae' if name == 'face_ae' else 'siamese'}.json")
    if upstream:
        raise Skip(upstream)
    embed, out = learnt_embedder(name, models_dir, faces_params), {}
    for path in tqdm(photos, desc=f"lfw_pairs: {name}", mininterval=1.0):
        try:
            out[path] = embed(path)
        except InputError:
            continue
    return out


def run(spec: dict, models_dir: Path, faces_params: dict, plots_dir: Path) -> dict:
    """Metrics per embedding (accuracy mean and std over folds, AUC, EER, TAR at FAR 0.001) and the ROC curves."""
    cfg = check(spec)
    if not cfg["pairs"] or not cfg["root"]:
        return {"skipped": "no LFW pairs file given (lfw_pairs.pairs and lfw_pairs.root are null)"}
    pairs, missing = read_pairs(Path(cfg["pairs"]), Path(cfg["root"]))
    plots_dir.mkdir(parents=True, exist_ok=True)
    missing.to_csv(plots_dir / "missing.csv", index=False)
    if cfg["per_fold"]:
        pairs = first_per_fold(pairs, cfg["per_fold"])
    photos = sorted(set(pairs["left"].astype(str)) | set(pairs["right"].astype(str)))
    out = {"pairs_file": str(cfg["pairs"]), "n_usable_pairs": int(len(pairs)), "n_missing_pairs": int(len(missing)),
           "n_photos": len(photos), "embeddings": {}}
    curves = []
    for name in cfg["embeddings"]:
        try:
            vectors = embeddings_of(name, photos, cfg, models_dir, faces_params)
        except Skip as why:
            out["embeddings"][name] = {"skipped": str(why)}
            continue
        ok = pairs["left"].astype(str).isin(vectors) & pairs["right"].astype(str).isin(vectors)
        scored = pairs[ok]
        scores = score_pairs(vectors, scored)
        result = ten_fold(scores, scored["same"].values, scored["fold"].values)
        out["embeddings"][name] = {**{k: result[k] for k in SUMMARY}, "n_unreadable_pairs": int((~ok).sum()),
                                   "eer_threshold": eer(scored["same"].values.astype(int), scores)[1]}
        curves.append(pd.DataFrame({"embedding": name, "fpr": result["fpr"], "tpr": result["tpr"]}))
    if curves:
        pd.concat(curves).to_csv(plots_dir / "roc.csv", index=False)
    return out
