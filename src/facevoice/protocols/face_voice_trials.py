"""Face + voice verification on trials: the fused embeddings beside each modality alone, on the same trials.

A trial is two samples of ``data/features/pairs`` (each a photo and a clip) from the verification test people
(``verify_split == test``: open-set, the siamese verifiers never saw them); same-person trials are every pair of
one person's samples up to ``max_trials / 2`` and as many different-person ones, seeded. Two samples that share
their photo or their clip are not a trial (the answer would be in the input). Each trial is scored by the cosine
of two unit embeddings:

- classic: ``mfcc_stats`` (MFCC means and deviations, standardised on the verification training people),
  ``dlib`` (the pretrained face descriptor, when ``pairs.face_embed`` is set) and ``dlib+mfcc_stats`` (the two
  concatenated: the cosine is the mean of the two cosines);
- pretrained: ``ge2e`` (the GE2E speaker embedding, when ``pairs.voices`` has ``embed``), ``dlib+ge2e`` (the mean
  of the two cosines) and ``dlib+ge2e_llr``: calibrated score fusion (``protocols.fusion``), each cosine turned
  into a log-likelihood ratio by a logistic fit on the verification *training* people's trials, then summed;
- for each siamese verifier named in ``verifiers``: its face tower, its voice tower and its fused tower.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluate import few_people
from ..skip import Skip, reason_of
from .fusion import fit_fusion
from .trials import corpus_trials, cosines, score_all, unit_rows


def _store(pairs_dir: Path, name: str) -> np.ndarray:
    from ..store import load_store

    if not (pairs_dir / f"{name}.npy").exists():
        raise Skip(f"the pairs have no {name} store")
    return np.asarray(load_store(pairs_dir, name), dtype=np.float32)


def _unit_store(pairs_dir: Path, name: str) -> np.ndarray:
    """A pretrained embedding's pairs store (``face_embed``: dlib, ``voice_embed``: GE2E) as unit rows."""
    return unit_rows(_store(pairs_dir, name))


def classic(pairs_dir: Path, train: np.ndarray) -> dict:
    """name -> embedder for the classic embeddings."""
    def stats():
        x = _store(pairs_dir, "voice_mfcc")
        return unit_rows((x - x[train].mean(axis=0)) / (x[train].std(axis=0) + 1e-6))

    dlib = partial(_unit_store, pairs_dir, "face_embed")
    return {"mfcc_stats": stats, "dlib": dlib,
            "dlib+mfcc_stats": lambda: np.concatenate([dlib(), stats()], axis=1) / np.sqrt(2)}


def pretrained(pairs_dir: Path, train_trials: pd.DataFrame) -> dict:
    """name -> embedder (or trial scorer) for GE2E alone and fused with dlib: the cosines' mean, and the
    log-likelihood-ratio fusion calibrated on ``train_trials`` (the verification training people's)."""
    dlib, ge2e = (partial(_unit_store, pairs_dir, name) for name in ("face_embed", "voice_embed"))

    def llr():
        face, voice = dlib(), ge2e()
        if train_trials.empty or train_trials["label"].nunique() < 2:
            raise Skip("too few verification training people for same- and different-person trials to calibrate on")
        fusion = fit_fusion(cosines(face, train_trials), cosines(voice, train_trials), train_trials["label"].values,
                            "the verification training people's face+voice trials")
        return lambda trials: fusion.score(cosines(face, trials), cosines(voice, trials))

    return {"ge2e": ge2e, "dlib+ge2e": lambda: np.concatenate([dlib(), ge2e()], axis=1) / np.sqrt(2),
            "dlib+ge2e_llr": llr}


def towers(pairs_dir: Path, models_dir: Path, verifier: str) -> dict:
    """name -> embedder for a siamese verifier's face, voice and fused towers (its own pairs stores)."""
    def make(variant: str, kinds: tuple):
        def embed():
            upstream = reason_of(models_dir / f"{verifier}.json")
            if upstream or not (models_dir / f"{verifier}.json").exists():
                raise Skip(upstream or f"no verifier {verifier}")
            import keras

            params = json.loads((models_dir / f"{verifier}.json").read_text())["params"]
            stores = {"face": params.get("face_store", "face"), "voice": f"voice_{params['voice_store']}"}
            suffix = "" if variant == "fused" else f"_{variant}"
            tower = keras.models.load_model(models_dir / f"{verifier}{suffix}.keras", safe_mode=True).get_layer("tower")
            return unit_rows(tower.predict([_store(pairs_dir, stores[k]) for k in kinds], verbose=0))
        return embed

    return {f"{verifier}_face": make("face_only", ("face",)), f"{verifier}_voice": make("voice_only", ("voice",)),
            f"{verifier}_fused": make("fused", ("face", "voice"))}


def sample_trials(index: pd.DataFrame, max_trials: int, seed: int, split: str = "test") -> pd.DataFrame:
    """Trials among the verification ``split`` people's samples; none between samples sharing a photo or a clip."""
    trials = corpus_trials(index.assign(split=index["verify_split"].where(index["verify_split"] == split, "none")
                                        .replace({split: "test"})), max_trials, seed)
    face, voice = index["face_source"].astype(str).values, index["voice_source"].astype(str).values
    e, t = trials["enrol"].values, trials["test"].values
    return trials[(face[e] != face[t]) & (voice[e] != voice[t])].reset_index(drop=True)


def run(verifiers: list[str], max_trials: int, seed: int, pairs_dir: Path, models_dir: Path) -> tuple[dict, list]:
    """(metrics, DET curves) of every embedding on the face+voice trials, or ``{"skipped": why}``."""
    from ..store import load_feature

    upstream = reason_of(pairs_dir / "summary.json")
    if upstream:
        return {"skipped": f"pairs were skipped: {upstream}"}, []
    index, _ = load_feature(pairs_dir, "face")
    trials = sample_trials(index, max_trials, seed)
    if trials.empty or trials["label"].nunique() < 2:
        return {"skipped": "too few verification test people or samples for same- and different-person trials"}, []
    embedders = classic(pairs_dir, (index["verify_split"] == "train").values)
    embedders.update(pretrained(pairs_dir, sample_trials(index, max_trials, seed, split="train")))
    for v in verifiers:
        embedders.update(towers(pairs_dir, models_dir, v))
    results, curves = score_all(trials, embedders, index["person"].astype(str).values[trials["enrol"].values])
    people = set(index["person"].astype(str).values[np.r_[trials["enrol"], trials["test"]]])
    out = {"trials": "pairs of the verification test people's face+voice samples", "n_trials": int(len(trials)),
           "n_target": int(trials["label"].sum()), "n_people": len(people), **few_people(len(people)),
           "embeddings": results}
    scored = {k: v for k, v in results.items() if "eer" in v}
    for label, keep in (("single", lambda k: not (k.endswith("_fused") or "+" in k)),
                        ("fused", lambda k: k.endswith("_fused") or "+" in k)):
        group = {k: v for k, v in scored.items() if keep(k)}
        if group:
            best = min(group, key=lambda k: group[k]["eer"])
            out[f"best_{label}"], out[f"best_{label}_eer"] = best, group[best]["eer"]
    if "best_single" in out and "best_fused" in out:
        out["fusion_gain_eer"] = out["best_single_eer"] - out["best_fused_eer"]
    return out, [c.assign(embedding="face+voice: " + c["embedding"]) for c in curves]
