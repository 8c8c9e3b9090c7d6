"""The one metrics writer and its plots, for every model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    from sklearn.metrics import (accuracy_score, f1_score, precision_score, recall_score, roc_auc_score,
                                 top_k_accuracy_score)

    y_pred = probs.argmax(axis=1)
    labels = list(range(len(classes)))
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
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


def write_metrics(path: str | Path, metrics: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


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
