"""The one metrics writer and its plots, for every model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def roc_points(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): the points of sklearn's ``roc_curve(y_true == 1, scores)`` (collinear ones dropped,
    a first point at threshold inf), computed as it does but without its input checks, which took most of a
    thousand bootstrap resamples' time (tests/test_evaluate.py compares the two)."""
    s = np.asarray(scores)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], (np.asarray(y_true)[order] == 1).astype(np.float64)
    idx = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps, idx = fps[keep], tps[keep], idx[keep]
    thr = np.r_[np.inf, s[idx].astype(np.float64)]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return fps / fps[-1], tps / tps[-1], thr


def eer(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """(equal error rate, its threshold, fpr, fnr, thresholds)."""
    fpr, tpr, thr = roc_points(y_true, scores)
    fnr = 1 - tpr
    k = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[k] + fnr[k]) / 2), float(min(thr[k], 1.0)), fpr, fnr, thr


BOOTSTRAP = 1000  # resamples for every 95% interval
MIN_TEST_PEOPLE = 5  # a verification score over fewer test people says little about the next person


def few_people(n_people: int) -> dict:
    """``{"flag": ...}`` when a verification score rests on fewer than ``MIN_TEST_PEOPLE`` test people, else {}."""
    if n_people >= MIN_TEST_PEOPLE:
        return {}
    return {"flag": f"too few test people ({n_people} < {MIN_TEST_PEOPLE}) for the score to mean anything"}


def bootstrap_ci(groups: np.ndarray, stat, n: int = BOOTSTRAP, seed: int = 0) -> list[float] | None:
    """95% percentile interval of ``stat(rows)`` over resamples of whole groups (source recordings or
    photos, or people), drawn with replacement: rows of one recording never count as independent."""
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    if len(uniq) < 2:
        return None
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])
        v = stat(rows)
        if v is not None and np.isfinite(v):
            values.append(v)
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else None


def with_intervals(metrics: dict, groups: np.ndarray, stats: dict) -> dict:
    """``metrics`` plus ``<name>_ci: [lo, hi]`` for each ``stats[name](rows)`` present in ``metrics``."""
    out = dict(metrics)
    for name, stat in stats.items():
        if name in metrics:
            ci = bootstrap_ci(groups, stat)
            if ci is not None:
                out[f"{name}_ci"] = ci
    return out


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str],
                           groups: np.ndarray | None = None) -> dict:
    """Accuracy, macro precision/recall/F1, top-5 and ROC AUC; with ``groups`` (the test rows' source ids)
    each of accuracy, macro F1 and ROC AUC gets a 95% bootstrap interval resampled by group."""
    out = _point_metrics(y_true, probs, classes)
    if groups is None:
        return out
    y_pred, n = probs.argmax(axis=1), len(classes)
    correct = (y_pred == y_true).astype(np.float64)
    return with_intervals(out, groups, {
        "accuracy": lambda rows: correct[rows].mean(),
        "f1_macro": lambda rows: macro_f1(y_true[rows], y_pred[rows], n),
        "roc_auc": lambda rows: binary_auc(y_true[rows], probs[rows, 1]) if n == 2 else None})


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro F1 over the classes that occur in ``y_true`` or ``y_pred``: sklearn's ``f1_score(average="macro",
    zero_division=0)`` with its default labels, fast enough for a thousand bootstrap resamples. A class that a
    resample happens to leave out is not counted as an F1 of 0 (that pulled every interval below its point)."""
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    denom = np.bincount(y_pred, minlength=n_classes) + np.bincount(y_true, minlength=n_classes)
    seen = denom > 0
    return float(np.mean(2 * tp[seen] / denom[seen])) if seen.any() else 0.0


def binary_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC from ranks (Mann-Whitney U, ties averaged); None unless both classes are present."""
    from scipy.stats import rankdata

    pos = y_true == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return None
    return float((rankdata(scores)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _point_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score, top_k_accuracy_score

    y_pred = probs.argmax(axis=1)
    labels = list(range(len(classes)))
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        # macro averages over the classes in y_true or y_pred, as macro_f1: a person absent from the test rows
        # and never predicted is not counted as a precision and recall of 0
        "precision_macro": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_macro": macro_f1(y_true, y_pred, len(classes)),
    }
    if len(np.unique(y_true)) > 1 and len(np.unique(y_pred)) == 1:  # e.g. the majority class for every row
        out["degenerate"] = "predicts one class"
    if len(classes) > 5:
        out["top5_accuracy"] = float(top_k_accuracy_score(y_true, probs, k=5, labels=labels))
    present = np.unique(y_true)
    if len(present) > 1:
        try:
            if len(classes) == 2:
                out["roc_auc"] = float(roc_auc_score(y_true, probs[:, 1]))
            elif len(present) == len(classes):
                out["roc_auc"] = float(roc_auc_score(y_true, probs, multi_class="ovr", labels=labels))
        except ValueError:
            pass
    return out


def write_confusion(plot_dir: str | Path, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], title: str) -> None:
    """``confusion.csv`` (actual, predicted rows for ``dvc plots``) and a normalized ``confusion.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    names = np.asarray(classes, dtype=object)
    pd.DataFrame({"actual": names[y_true], "predicted": names[y_pred]}).to_csv(plot_dir / "confusion.csv", index=False)
    cm = confusion_matrix(y_true, y_pred, labels=range(len(classes)), normalize="true")
    cm = np.nan_to_num(cm)
    size = min(14, 3 + 0.35 * len(classes))
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(plot_dir / "confusion.png", dpi=90)
    plt.close(fig)


HEADLINE = ("accuracy", "f1_macro", "roc_auc", "eer", "min_dcf")  # what a metrics file holds
# whose 95% interval bounds it holds too: the primary number of a classifier and of a verifier (all five with their
# bounds would make ``dvc metrics show`` 270 columns wide; F1's and ROC AUC's intervals stay in the details)
HEADLINE_CI = ("accuracy", "eer")


def details_path(path: str | Path) -> Path:
    """Where the full dict of ``metrics/<name>.json`` lives: ``metrics/details/<name>.json`` (a DVC out, not a metric)."""
    path = Path(path)
    return path.parent / "details" / path.name


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _best_embedding(metrics: dict) -> dict:
    """A protocol's best embedding's block (lowest EER, else highest accuracy), or {} without embeddings."""
    blocks = [b for b in (metrics.get("embeddings") or {}).values() if isinstance(b, dict)]
    with_eer = [b for b in blocks if _number(b.get("eer"))]
    if with_eer:
        return min(with_eer, key=lambda b: b["eer"])
    with_acc = [b for b in blocks if _number(b.get("accuracy"))]
    return max(with_acc, key=lambda b: b["accuracy"]) if with_acc else {}


def headline(metrics: dict) -> dict:
    """The flat numbers ``dvc metrics show`` and ``dvc exp show`` print: accuracy, macro F1, ROC AUC, EER and minDCF
    (a protocol's from its best embedding), the 95% interval bounds of accuracy and EER as ``<name>_ci_low`` and
    ``<name>_ci_high``,
    the face+voice trials' best fused EER and the fusion gain. Lists, strings and nested blocks stay in the details."""
    src = {**_best_embedding(metrics), **metrics}
    out = {}
    for k in HEADLINE:
        if _number(src.get(k)):
            out[k] = src[k]
        ci = src.get(f"{k}_ci") if k in HEADLINE_CI else None
        if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(v) for v in ci):
            out[f"{k}_ci_low"], out[f"{k}_ci_high"] = float(ci[0]), float(ci[1])
    fv = metrics.get("face_voice")
    if isinstance(fv, dict) and _number(fv.get("best_fused_eer")):
        out["face_voice_eer"] = fv["best_fused_eer"]
    if _number(metrics.get("fusion_gain")):
        out["fusion_gain"] = metrics["fusion_gain"]
    return out


def write_metrics(path: str | Path, metrics: dict) -> None:
    """The one metrics writer: ``path`` gets the headline numbers (``headline``), ``details_path(path)`` the full
    dict (params, counts, skip reasons, flags, per-variant and per-embedding blocks). Sorted JSON, each written under
    a temporary name and renamed (a killed stage never leaves a half-written metrics file)."""
    from .atomic import atomic_file

    for where, what in ((details_path(path), metrics), (Path(path), headline(metrics))):
        where.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(where) as tmp:
            tmp.write_text(json.dumps(what, indent=2, sort_keys=True) + "\n")


def read_details(path: str | Path) -> dict:
    """Everything a stage wrote through ``write_metrics(path, ...)``: its details file, or ``path`` itself when it has
    none (a metrics file written before the split)."""
    full = details_path(path)
    return json.loads((full if full.exists() else Path(path)).read_text())


def write_reconstructions(path: str | Path, originals: np.ndarray, recons: np.ndarray, n: int = 6) -> None:
    """Originals above their reconstructions: images side by side, vectors as overlaid lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = min(n, len(originals))
    images = originals.ndim >= 3
    fig, axes = plt.subplots(2 if images else 1, n, figsize=(2 * n, 4 if images else 2), squeeze=False)
    for i in range(n):
        if images:
            for row, arr in enumerate((originals[i], recons[i])):
                img = np.squeeze(arr)
                axes[row][i].imshow(img, cmap="gray" if img.ndim == 2 else None, aspect="auto")
                axes[row][i].axis("off")
            axes[0][i].set_title("original" if i == 0 else "")
            axes[1][i].set_title("reconstruction" if i == 0 else "")
        else:
            axes[0][i].plot(np.ravel(originals[i]), lw=1, label="original")
            axes[0][i].plot(np.ravel(recons[i]), lw=1, label="reconstruction")
            axes[0][i].set_xticks([])
    if not images:
        axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
