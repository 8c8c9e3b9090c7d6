"""Every identity model on the same test samples: the pairs' test split, so fusion and single modalities compare.

A trained person classifier (``models/<name>.json`` with task ``person``) is scored on the test rows of
``data/features/pairs`` when one of the pairs' stores holds its input (same feature and store): face models on
the pairs' face crops, voice models on the pairs' voice clips, fusion models on both. Face models are judged
against ``person``, voice models against ``voice_person`` (the same people under identity pairing; the voice
corpus's people under chimeric pairing, mapped one to one), fusion models against ``person``.

``predict_labels`` is the one scorer: this stage uses it for every model, and each fusion model's training
(``compare_single``) uses it for its own face and voice branches on its test rows.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _stores(pairs_dir: Path) -> dict[tuple[str, str], str]:
    """(feature, store) of a single-modality model -> the pairs store holding that input."""
    inputs = json.loads((pairs_dir / "inputs.json").read_text())
    return {(v["feature"], v.get("store", "x")): k for k, v in inputs.items()}


def predict_labels(models_dir: Path, name: str, x) -> np.ndarray:
    """Class labels that ``models/<name>.keras`` predicts for ``x`` (an array, or a list for several inputs)."""
    import keras

    classes = np.array(json.loads((Path(models_dir) / f"{name}.json").read_text())["classes"])
    model = keras.models.load_model(Path(models_dir) / f"{name}.keras", safe_mode=True)
    return classes[model.predict(x, verbose=0).argmax(axis=1)]


def compare_single(models_dir: Path, spec: dict, x_test: list, labels: np.ndarray) -> dict:
    """Accuracy of a fusion model's own branches (``face_model``, ``voice_model``) on its test samples."""
    from .skip import reason_of

    out = {}
    for key, x in zip(("face_model", "voice_model"), x_test):
        name = spec.get(key)
        if not name or not (Path(models_dir) / f"{name}.keras").exists() or reason_of(Path(models_dir) / f"{name}.json"):
            continue
        out[f"{key.split('_')[0]}_only_accuracy"] = float(np.mean(predict_labels(models_dir, name, x) == labels))
    return out


def compare_on_pairs(models_dir: Path, pairs_dir: Path, split: str = "test") -> dict:
    from .store import load_feature, load_store
    from .skip import reason_of

    upstream = reason_of(pairs_dir / "summary.json")
    if upstream:
        return {"split": split, "skipped": f"pairs were skipped: {upstream}", "models": {}}
    index, _ = load_feature(pairs_dir, "face")
    rows = np.flatnonzero(index["split"].astype(str).values == split)
    stores = _stores(pairs_dir)
    cache: dict[str, np.ndarray] = {}

    def store(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = np.asarray(load_store(pairs_dir, name)[rows], dtype=np.float32)
        return cache[name]

    scored, skipped, correct = {}, {}, {}
    for meta_path in sorted(models_dir.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        model_path = models_dir / f"{meta_path.stem}.keras"
        if meta.get("task") == "person" and meta.get("skipped"):
            skipped[meta_path.stem] = meta["skipped"]
        if meta.get("task") != "person" or not meta.get("classes") or not model_path.exists():
            continue
        spec = meta.get("params") or {}
        if meta.get("feature") == pairs_dir.name:  # a fusion model: its own pairs stores
            names, kind = list(spec.get("store") or []), "face+voice"
            truth = index["person"]
        else:
            key = (meta.get("feature"), spec.get("store", "x"))
            if key not in stores:
                continue
            names = [stores[key]]
            kind = "voice" if names[0].startswith("voice_") else "face"
            truth = index["person" if kind == "face" else "voice_person"]
        x = [store(n) for n in names]
        pred = predict_labels(models_dir, meta_path.stem, x if len(x) > 1 else x[0])
        correct[meta_path.stem] = pred == truth.astype(str).values[rows]
        scored[meta_path.stem] = {"inputs": kind, "accuracy": float(np.mean(correct[meta_path.stem]))}
    singles = {k: v for k, v in scored.items() if v["inputs"] != "face+voice"}
    fused = {k: v for k, v in scored.items() if v["inputs"] == "face+voice"}
    out: dict = {"split": split, "n_samples": int(len(rows)), "pairing": str(index["pairing"].iloc[0]),
                 "models": scored, **({"skipped_models": skipped} if skipped else {})}
    for label, group in (("single", singles), ("fusion", fused)):
        if group:
            best = max(group, key=lambda k: group[k]["accuracy"])
            out[f"best_{label}_model"], out[f"best_{label}_accuracy"] = best, group[best]["accuracy"]
    if singles and fused:
        out["fusion_gain"] = out["best_fusion_accuracy"] - out["best_single_accuracy"]
        out["fusion_gain_ci"] = paired_gain_ci(correct[out["best_fusion_model"]], correct[out["best_single_model"]],
                                               index["person"].astype(str).values[rows])
    return out


def paired_gain_ci(fused: np.ndarray, single: np.ndarray, people: np.ndarray) -> list[float] | None:
    """95% interval of accuracy(fused) - accuracy(single) on the same test samples, resampling whole people
    (a person's samples share photos and clips, so they are not independent evidence)."""
    from .evaluate import bootstrap_ci

    diff = fused.astype(float) - single.astype(float)
    return bootstrap_ci(people, lambda r: float(diff[r].mean()))
