"""Siamese verification: are two face+voice samples the same person? Fused, face-only and voice-only.

Pairs of samples are drawn (balanced positive/negative, seeded) within each ``verify_split`` of
``data/features/pairs``: by default people are split between verification train/val/test (open-set), so the
test pairs hold people the model never saw. The metrics file holds accuracy, precision, recall,
ROC AUC, EER and its threshold for each variant side by side, so the fusion gain reads in one table.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluate import eer, few_people
from .errors import ParamsError
from .params import Checked
from .skip import Skip


def sample_pairs(persons: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, same): ``n`` index pairs, half of the same person (i != j), half of different people."""
    by_person = {p: np.flatnonzero(persons == p) for p in np.unique(persons)}
    multi = [p for p, idx in by_person.items() if len(idx) > 1]
    people = list(by_person)
    if not multi or len(people) < 2:
        raise Skip("verification needs at least two people, one with two samples, in every verification split")
    i, j, same = [], [], []
    for k in range(n):
        if k % 2 == 0:
            p = multi[rng.integers(len(multi))]
            a, b = rng.choice(by_person[p], size=2, replace=False)
            same.append(1)
        else:
            p, q = rng.choice(len(people), size=2, replace=False)
            a, b = rng.choice(by_person[people[p]]), rng.choice(by_person[people[q]])
            same.append(0)
        i.append(a)
        j.append(b)
    return np.array(i), np.array(j), np.array(same, dtype=np.float32)


def verification_metrics(y_true, scores, threshold: float | None = None, groups=None) -> tuple[dict, dict]:
    """Accuracy, precision and recall at ``threshold`` (the validation pairs' EER threshold; the test
    pairs' own when None), with the test pairs' ROC AUC and EER (and their 95% intervals resampling whole
    ``groups``, one per pair: the first sample's person)."""
    from .protocols.trials import verification_intervals

    from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

    rate, own, fpr, fnr, _ = eer(y_true, scores)
    threshold = own if threshold is None else float(threshold)
    pred = (scores >= threshold).astype(int)
    metrics = {"accuracy": float(accuracy_score(y_true, pred)),
               "precision": float(precision_score(y_true, pred, zero_division=0)),
               "recall": float(recall_score(y_true, pred, zero_division=0)),
               "roc_auc": float(roc_auc_score(y_true, scores)), "eer": rate, "eer_threshold": threshold}
    if groups is not None:
        metrics.update(verification_intervals(y_true, scores, groups))
    return metrics, {"fpr": fpr, "fnr": fnr}


def write_curves(plot_dir: Path, curves: dict[str, dict]) -> None:
    """``roc.csv`` / ``det.csv`` for ``dvc plots`` and a PNG of both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    plot_dir.mkdir(parents=True, exist_ok=True)
    roc = pd.concat([pd.DataFrame({"variant": v, "fpr": c["fpr"], "tpr": 1 - c["fnr"]}) for v, c in curves.items()])
    roc.to_csv(plot_dir / "roc.csv", index=False)
    roc.assign(fnr=1 - roc["tpr"]).drop(columns="tpr").to_csv(plot_dir / "det.csv", index=False)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    for v, c in curves.items():
        ax1.plot(c["fpr"], 1 - c["fnr"], label=v)
        clip = lambda a: norm.ppf(np.clip(a, 1e-3, 1 - 1e-3))  # noqa: E731
        ax2.plot(clip(c["fpr"]), clip(c["fnr"]), label=v)
    ax1.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax1.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ticks = [0.01, 0.05, 0.2, 0.5, 0.8]
    ax2.set_xticks(norm.ppf(ticks), ticks)
    ax2.set_yticks(norm.ppf(ticks), ticks)
    ax2.set(xlabel="false positive rate", ylabel="false negative rate", title="DET")
    ax1.legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "roc_det.png", dpi=80)
    plt.close(fig)


VARIANTS = {"face_only": ("face",), "voice_only": ("voice",), "fused": ("face", "voice")}  # singles first


def run(name: str, spec: dict, *, pairs_dir: Path, models_dir: Path, metrics_dir: Path, plots_dir: Path) -> dict:
    """``train_verifiers``, or, when the pairs cannot serve it, metrics ``{"skipped": reason}`` and placeholders."""
    from .skip import reason_of, write_placeholders, write_skipped

    try:
        upstream = reason_of(pairs_dir / "summary.json")
        if upstream:
            raise Skip(f"pairs were skipped: {upstream}")
        return train_verifiers(name, spec, pairs_dir, models_dir, metrics_dir, plots_dir)
    except Skip as why:
        plot = plots_dir / name
        files = {models_dir / f"{name}{suffix}.keras": None for suffix in ("", "_face_only", "_voice_only")}
        files.update({plot / "roc.csv": "variant,fpr,tpr\n", plot / "det.csv": "variant,fpr,fnr\n",
                      plot / "roc_det.png": None})
        write_placeholders(str(why), files, [plot / "live"])
        return write_skipped(str(why), {"model": name, "task": "verify"}, metrics_dir / f"{name}.json",
                             models_dir / f"{name}.json", {"params": spec})


def load_inputs(p: Checked, name: str, pairs_dir: Path) -> tuple[pd.DataFrame, dict]:
    """(pairs index, {"face": array, "voice": array}) from the stores ``face_store`` / ``voice_store`` name."""
    from .store import load_feature

    stores = {"face": p.str("face_store", "face"), "voice": f"voice_{p.str('voice_store')}"}
    for kind, store in stores.items():
        if not (pairs_dir / f"{store}.npy").exists():
            raise ParamsError(f"params.yaml: 'verify.{name}.{kind}_store': the pairs stage wrote no store {store!r} "
                              f"(set it under pairs:, e.g. pairs.face_embed)")
    index, face = load_feature(pairs_dir, stores["face"], mmap=False)
    _, voice = load_feature(pairs_dir, stores["voice"], mmap=False)
    return index, {"face": face.astype(np.float32), "voice": voice.astype(np.float32)}


def draw_pairs(p: Checked, index: pd.DataFrame, rng) -> tuple[dict, str]:
    """{split: (rows i, rows j, same)} drawn inside each verification split, and the split column used."""
    persons = index["person"].astype(str).values
    n_pairs = {"train": p.int("pairs_train", 2000, min=10), "val": p.int("pairs_val", 400, min=10),
               "test": p.int("pairs_test", 1000, min=10)}
    split_col = "verify_split" if p.choice("open_set", [True, False], True) else "split"
    pairs = {}
    for s, n in n_pairs.items():
        rows = np.flatnonzero(index[split_col].values == s)
        i, j, y = sample_pairs(persons[rows], n, rng)
        pairs[s] = (rows[i], rows[j], y)
    return pairs, split_col


def train_variant(p: Checked, mods: tuple, inputs: dict, pairs: dict, towers: dict | None, n_classes: int,
                  live_dir: Path, groups: np.ndarray | None = None):
    """One siamese verifier on the ``mods`` inputs; (model, validation EER threshold, test metrics, curves)."""
    from . import models as registry
    from .fitting import fit, seed_everything

    fp = p.sub("fit")
    seed_everything(fp.int("seed", 42))
    train_rows = np.unique(np.concatenate(pairs["train"][:2]))
    model = registry.get("siamese")([inputs[m].shape[1:] for m in mods], n_classes,
                                    [inputs[m][train_rows] for m in mods],
                                    branches=[p.get(f"{m}_branch") for m in mods], embedding=p.int("embedding", 32, min=2),
                                    towers=[towers[m] for m in mods] if towers else None)

    def xs(s):
        i, j, _ = pairs[s]
        return [inputs[m][i] for m in mods] + [inputs[m][j] for m in mods]

    fit(model, xs("train"), pairs["train"][2], xs("val"), pairs["val"][2], fp, loss="binary_crossentropy",
        metrics=["accuracy"], live_dir=live_dir, freeze="tower" if towers else None)
    _, val_threshold, *_ = eer(pairs["val"][2], model.predict(xs("val"), verbose=0).ravel())
    scores = model.predict(xs("test"), verbose=0).ravel()
    return (model, *verification_metrics(pairs["test"][2], scores, val_threshold, groups))


def train_verifiers(name: str, spec: dict, pairs_dir: Path, models_dir: Path, metrics_dir: Path,
                    plots_dir: Path) -> dict:
    """Train face-only, voice-only, then fused verifiers on the same pairs; the fused tower starts from the two
    single towers (``fuse: towers``, frozen ``fit.freeze_epochs``) or is trained from scratch (``fuse: joint``).

    Decisions use the threshold at the validation pairs' EER, so test accuracy, precision and recall are not
    tuned on the test pairs."""
    from .evaluate import write_metrics
    from .fitting import save_model

    p = Checked(spec, f"verify.{name}")
    fuse = p.choice("fuse", ["towers", "joint"], "towers")
    index, inputs = load_inputs(p, name, pairs_dir)
    pairs, split_col = draw_pairs(p, index, np.random.default_rng(p.sub("fit").int("seed", 42)))
    persons = index["person"].astype(str).values
    n_classes = len(np.unique(persons[np.unique(np.concatenate(pairs["train"][:2]))]))
    results, curves, towers = {}, {}, {}
    models_dir.mkdir(parents=True, exist_ok=True)
    for variant, mods in VARIANTS.items():
        from_towers = towers if variant == "fused" and fuse == "towers" else None
        model, results[variant], curves[variant] = train_variant(p, mods, inputs, pairs, from_towers, n_classes,
                                                                 plots_dir / name / "live" / variant,
                                                                 persons[pairs["test"][0]])
        if len(mods) == 1:
            towers[mods[0]] = model.get_layer("tower")
        save_model(model, models_dir / (f"{name}.keras" if variant == "fused" else f"{name}_{variant}.keras"))
    write_curves(plots_dir / name, curves)
    info = summary(name, p, index, pairs, split_col, results, fuse)
    stored = json.loads((pairs_dir / "inputs.json").read_text()) if (pairs_dir / "inputs.json").exists() else {}
    inputs = {"face": stored.get(p.str("face_store", "face"), {}), "voice": stored.get(f"voice_{p.str('voice_store')}", {})}
    (models_dir / f"{name}.json").write_text(json.dumps({**info, "task": "verify", "params": spec,
                                                         "inputs": inputs}, indent=2))
    write_metrics(metrics_dir / f"{name}.json", info)
    return info


def summary(name: str, p: Checked, index: pd.DataFrame, pairs: dict, split_col: str, results: dict, fuse: str) -> dict:
    """The metrics file: the fused verifier's numbers, each single one's, and the fusion gains."""
    persons = index["person"].astype(str).values
    test_people = sorted(set(persons[np.concatenate(pairs["test"][:2])]))
    train_people = set(persons[np.concatenate(pairs["train"][:2])])
    single = (results["face_only"], results["voice_only"])
    return {"model": name, "open_set": split_col == "verify_split", "pairing": str(index["pairing"].iloc[0]),
            "fuse": fuse, "face_store": p.str("face_store", "face"), "threshold_from": "validation pairs' EER",
            "n_train_pairs": len(pairs["train"][2]), "n_test_pairs": len(pairs["test"][2]),
            "n_test_people": len(test_people), "test_people_seen_in_training": len(set(test_people) & train_people),
            **few_people(len(test_people)),
            **results["fused"], "face_only": results["face_only"], "voice_only": results["voice_only"],
            "fusion_gain_auc": results["fused"]["roc_auc"] - max(r["roc_auc"] for r in single),
            "fusion_gain_eer": min(r["eer"] for r in single) - results["fused"]["eer"]}
