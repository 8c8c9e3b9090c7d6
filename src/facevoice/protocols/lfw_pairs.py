"""LFW's standard face verification protocol ("View 2"): 10 folds of pairs, 10-fold cross-validated accuracy.

``pairs.txt`` (shipped with LFW) lists 6,000 photo pairs in 10 folds; each fold has 300 *matched* pairs (two
photos of one person) then 300 *mismatched* pairs (photos of two people)::

    10  300                      <- folds, pairs per half-fold
    Abel_Pacheco  1  4           <- matched: <name> <n1> <n2>
    ...
    Ain_Seng  1  Kim_Dae-jung  3 <- mismatched: <name1> <n1> <name2> <n2>

A photo is ``<root>/<name>/<name>_<n:04d>.jpg``. The three steps:

1. ``read_pairs``: the pairs whose photos both exist, and a separate table of the pairs that cannot be used
   (never dropped silently: a subset such as ``lfw_dev`` has 5,274 of the 6,000).
2. ``score_pairs``: one number per pair, higher meaning "more likely the same person" (cosine similarity
   of two face embeddings).
3. ``ten_fold``: for each fold, the threshold that is most accurate on the other nine folds decides the
   held-out fold; the accuracy is averaged over the ten folds. Threshold-free numbers (ROC AUC, equal
   error rate, true-accept rate at a false-accept rate of 0.1%) are computed over all pairs at once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SourceError

COLUMNS = ["fold", "left", "right", "same"]


def photo_path(root: Path, name: str, number: str) -> Path:
    """``<root>/<name>/<name>_<number:04d>.jpg``, LFW's file naming."""
    return Path(root) / name / f"{name}_{int(number):04d}.jpg"


def _header(line: str, pairs_txt: Path) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise SourceError(f"{pairs_txt}: line 1 should be '<folds> <pairs per half-fold>', got {line.strip()!r}")
    return int(parts[0]), int(parts[1])


def _pair(parts: list[str], root: Path) -> tuple[Path, Path, bool] | None:
    """(left photo, right photo, same person) of one pairs.txt line; None when the line is malformed."""
    try:
        if len(parts) == 3:
            return photo_path(root, parts[0], parts[1]), photo_path(root, parts[0], parts[2]), True
        if len(parts) == 4:
            return photo_path(root, parts[0], parts[1]), photo_path(root, parts[2], parts[3]), False
    except ValueError:
        return None
    return None


def read_pairs(pairs_txt: Path, photo_root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The usable pairs of an LFW ``pairs.txt`` and the ones whose photo(s) are missing under ``photo_root``.

    Returns ``(pairs, missing)``. ``pairs`` has columns ``fold`` (0-9), ``left``, ``right`` (photo paths as
    strings) and ``same`` (bool: matched pair); ``missing`` has the same columns plus ``absent`` (the
    missing path(s), ``;``-separated). Raises SourceError for a missing or malformed file.
    """
    pairs_txt, photo_root = Path(pairs_txt), Path(photo_root)
    if not pairs_txt.is_file():
        raise SourceError(f"{pairs_txt}: LFW pairs file not found")
    if not photo_root.is_dir():
        raise SourceError(f"{photo_root}: LFW photo folder not found")
    lines = [ln for ln in pairs_txt.read_text().splitlines() if ln.strip()]
    folds, per_half = _header(lines[0] if lines else "", pairs_txt)
    body = lines[1:]
    if len(body) != folds * 2 * per_half:
        raise SourceError(f"{pairs_txt}: {len(body)} pair lines, expected {folds} folds x 2 x {per_half}")
    rows, missing = [], []
    for i, line in enumerate(body):
        pair = _pair(line.split(), photo_root)
        same_expected = (i % (2 * per_half)) < per_half
        if pair is None or pair[2] != same_expected:
            raise SourceError(f"{pairs_txt}: line {i + 2} is not a {'matched' if same_expected else 'mismatched'} "
                              f"pair: {line.strip()!r}")
        row = {"fold": i // (2 * per_half), "left": str(pair[0]), "right": str(pair[1]), "same": pair[2]}
        absent = [p for p in pair[:2] if not p.is_file()]
        (missing if absent else rows).append({**row, **({"absent": ";".join(map(str, absent))} if absent else {})})
    return (pd.DataFrame(rows, columns=COLUMNS),
            pd.DataFrame(missing, columns=COLUMNS + ["absent"]))


def first_per_fold(pairs: pd.DataFrame, per_fold: int) -> pd.DataFrame:
    """A smaller, still balanced protocol: the first ``per_fold // 2`` matched and mismatched pairs of each fold.

    ``per_fold`` <= 0 returns ``pairs`` unchanged. Order (fold, then matched before mismatched) is kept.
    """
    if per_fold <= 0:
        return pairs
    return pairs.groupby(["fold", "same"], group_keys=False).head(per_fold // 2).sort_index().reset_index(drop=True)


def score_pairs(embeddings: Mapping[str, np.ndarray] | Callable[[str], np.ndarray], pairs: pd.DataFrame) -> np.ndarray:
    """Cosine similarity (in [-1, 1], higher = more alike) of each pair's two L2-normalised embeddings.

    ``embeddings`` maps a photo path (as in ``pairs.left`` / ``pairs.right``) to its vector, or is a function
    of the path returning the vector. A path missing from a mapping raises KeyError naming it.
    """
    from .trials import unit_rows

    get = embeddings if callable(embeddings) else embeddings.__getitem__
    scores = [float(np.prod(unit_rows([get(a), get(b)], np.float64), axis=0).sum())
              for a, b in zip(pairs["left"], pairs["right"])]
    return np.asarray(scores, dtype=np.float64)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold ``t`` (predict "same" when score > t) most accurate on these pairs, and that accuracy.

    Candidates lie half-way between consecutive distinct scores (and below/above all of them); among equally
    accurate candidates the middle one is taken.
    """
    order = np.argsort(scores, kind="stable")
    s, y = np.asarray(scores, dtype=np.float64)[order], np.asarray(same, dtype=bool)[order]
    n = len(s)
    # cut j: pairs [0, j) predicted different, [j, n) predicted same.
    neg_below = np.concatenate([[0], np.cumsum(~y)])
    pos_above = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    correct = neg_below + pos_above
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = s[1:] > s[:-1]  # no cut between equal scores
    correct = np.where(valid, correct, -1)
    best = np.flatnonzero(correct == correct.max())
    j = int(best[len(best) // 2])
    lo = s[j - 1] if j > 0 else s[0] - 1.0
    hi = s[j] if j < n else s[-1] + 1.0
    return float((lo + hi) / 2), float(correct[j] / n)


def _eer(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Equal error rate: where the false-accept rate equals the false-reject rate (linear interpolation)."""
    d = fpr - (1 - tpr)  # rises from -1 to +1 along the ROC curve
    i = int(np.argmax(d >= 0))
    if d[i] == 0 or i == 0:
        return float(fpr[i])
    t = -d[i - 1] / (d[i] - d[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def ten_fold(scores, same, folds, far: float = 1e-3) -> dict:
    """LFW's protocol: per fold, the threshold chosen on the other folds is applied to the held-out fold.

    ``scores``: one per pair, higher = same person; ``same``: the truth; ``folds``: each pair's fold id.
    Returns ``accuracy`` (mean over folds), ``accuracy_std`` (sample std over folds), ``accuracy_sem``
    (std / sqrt(folds), the "standard error" LFW asks to report), ``fold_accuracy`` and ``fold_threshold``
    (lists), and over all pairs: ``auc``, ``eer``, ``tar_at_far`` (true-accept rate at false-accept rate
    <= ``far``), ``far``, ``n_pairs``, ``n_same`` and the ROC curve ``fpr``, ``tpr`` (arrays, for plotting).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    scores, same, folds = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool), np.asarray(folds)
    if not (len(scores) == len(same) == len(folds)) or len(scores) == 0:
        raise ValueError(f"scores, same and folds must be equally long and non-empty "
                         f"({len(scores)}, {len(same)}, {len(folds)})")
    ids = np.unique(folds)
    if len(ids) < 2 or same.all() or not same.any():
        raise ValueError("ten_fold needs at least 2 folds and both matched and mismatched pairs")
    acc, thr = [], []
    for k in ids:
        test = folds == k
        t, _ = best_threshold(scores[~test], same[~test])
        acc.append(float(np.mean((scores[test] > t) == same[test])))
        thr.append(t)
    fpr, tpr, _ = roc_curve(same, scores)
    ok = fpr <= far
    return {"accuracy": float(np.mean(acc)), "accuracy_std": float(np.std(acc, ddof=1)),
            "accuracy_sem": float(np.std(acc, ddof=1) / np.sqrt(len(acc))), "fold_accuracy": acc,
            "fold_threshold": thr, "auc": float(roc_auc_score(same, scores)), "eer": _eer(fpr, tpr),
            "tar_at_far": float(tpr[ok].max()) if ok.any() else 0.0, "far": far, "n_pairs": len(scores),
            "n_same": int(same.sum()), "fpr": fpr, "tpr": tpr}
