"""Speaker verification on a trial list: EER and minDCF for each voice embedding (stage ``speaker_trials``).

A trial is ``label enrol test`` (VoxCeleb1-O's format: 1 = same speaker, paths relative to the corpus). With
no list given, trials are drawn from the corpus's test clips: every same-speaker pair of the test people (up
to ``max_trials / 2``) and as many different-speaker pairs, seeded. They are open-set when the split is by
person (``speakers_seen_in_training`` in the metrics says how many test speakers training saw). Each trial is scored by the
cosine similarity of two clip embeddings, all computed from the ``mfcc`` feature store:

- ``mfcc_stats``: the MFCC means and deviations, standardised with the training rows' statistics (the
  classic baseline);
- ``mfcc_ae``: the MFCC autoencoder's encoder;
- ``siamese_voice``: the voice-only siamese verifier's tower;
- ``ge2e``: the pretrained GE2E speaker embedding (the ``voice_embed`` feature store, matched to the clips by
  path; a trial whose clip the encoder rejected, e.g. no speech found, is left out of every embedding's trials
  and counted in ``n_clips_without_ge2e``).

minDCF uses NIST's SRE operating point (p_target 0.01, C_miss = C_fa = 1), normalised by the cost of
always answering "different". Trials whose clips the feature store does not hold are counted and listed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluate import binary_auc, bootstrap_ci, eer, few_people, roc_points
from ..params import Checked
from ..skip import Skip, reason_of

EMBEDDINGS = ("mfcc_stats", "mfcc_ae", "siamese_voice", "ge2e")
GE2E_DIR = Path("data/features/voice_embed")


def min_dcf(same: np.ndarray, scores: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0,
            c_fa: float = 1.0) -> float:
    """Minimum over thresholds of C_miss P_miss p + C_fa P_fa (1 - p), divided by min(C_miss p, C_fa (1 - p))."""
    fpr, tpr, _ = roc_points(same, scores)
    dcf = c_miss * (1 - tpr) * p_target + c_fa * fpr * (1 - p_target)
    return float(dcf.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def corpus_trials(index: pd.DataFrame, max_trials: int, seed: int) -> pd.DataFrame:
    """(enrol, test, label) row numbers of the test split's clips: same-speaker pairs and as many others."""
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero((index["split"] == "test").values & (index["chunk"].astype(int) == 0).values)
    person = index["person"].astype(str).values
    i, j = np.triu_indices(len(rows), k=1)
    same = person[rows[i]] == person[rows[j]]
    half = max_trials // 2
    pos, neg = np.flatnonzero(same), np.flatnonzero(~same)
    pos = rng.choice(pos, min(half, len(pos)), replace=False) if len(pos) else pos
    neg = rng.choice(neg, min(len(pos) or half, len(neg)), replace=False) if len(neg) else neg
    keep = np.sort(np.concatenate([pos, neg]))
    return pd.DataFrame({"enrol": rows[i[keep]], "test": rows[j[keep]], "label": same[keep].astype(int)})


def listed_trials(path: Path, index: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A VoxCeleb1-O style file matched to the store's clips by path suffix; (trials, unmatched lines)."""
    by_suffix = {}
    for k, p in enumerate(index["path"].astype(str)):
        if int(index["chunk"].iloc[k]) == 0:
            parts = Path(p).parts
            for n in range(1, min(4, len(parts)) + 1):
                by_suffix.setdefault("/".join(parts[-n:]), k)
    found, missing = [], []
    for line in Path(path).read_text().splitlines():
        bits = line.split()
        if len(bits) != 3:
            continue
        a, b = by_suffix.get(bits[1].strip("/")), by_suffix.get(bits[2].strip("/"))
        (found if a is not None and b is not None else missing).append(
            {"enrol": a, "test": b, "label": int(bits[0])} if a is not None and b is not None else
            {"line": line})
    return pd.DataFrame(found, columns=["enrol", "test", "label"]), pd.DataFrame(missing, columns=["line"])


def ge2e_rows(index: pd.DataFrame, ge2e_dir: Path) -> np.ndarray:
    """The GE2E embedding of each row of the ``mfcc`` index (NaN where the encoder has none), or Skip."""
    from ..store import load_feature

    upstream = reason_of(ge2e_dir / "summary.json")
    if upstream or not (ge2e_dir / "index.csv").exists():
        raise Skip(f"feature {ge2e_dir.name} was skipped: {upstream}" if upstream else f"no {ge2e_dir}")
    gidx, g = load_feature(ge2e_dir, "x")
    row_of = {p: k for k, p in enumerate(gidx["path"].astype(str))}
    out = np.full((len(index), g.shape[1]), np.nan, dtype=np.float32)
    for k, p in enumerate(index["path"].astype(str)):
        if p in row_of:
            out[k] = g[row_of[p]]
    return out


def embed(name: str, x: np.ndarray, train: np.ndarray, models_dir: Path) -> np.ndarray:
    """Unit-length clip embeddings for one embedding name: of the ``mfcc`` statistics ``x``, or (``ge2e``) ``x``
    itself, the GE2E rows."""
    if name == "ge2e":
        return unit_rows(np.nan_to_num(x))
    if name == "mfcc_stats":
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        e = (x - mean) / std
    else:
        meta = "mfcc_ae" if name == "mfcc_ae" else "siamese"
        upstream = reason_of(models_dir / f"{meta}.json")
        if upstream:
            raise Skip(upstream)
        import keras

        if name == "mfcc_ae":
            model = keras.models.load_model(models_dir / "mfcc_ae.keras", safe_mode=True)
            inp = keras.Input(shape=x.shape[1:])
            net = keras.Model(inp, model.get_layer("encoder")(model.get_layer("norm")(inp)))
        else:
            net = keras.models.load_model(models_dir / "siamese_voice_only.keras", safe_mode=True).get_layer("tower")
        e = net.predict(x, verbose=0)
    return unit_rows(e)


def unit_rows(e, dtype=np.float32) -> np.ndarray:
    """Each row of ``e`` (flattened, ``dtype``) scaled to unit length: cosine similarity is then a dot product."""
    e = np.asarray(e, dtype=dtype).reshape(len(e), -1)
    return e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-12)


def select_trials(p: Checked, index: pd.DataFrame, usable: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(trials, unmatched lines of a listed file, where the trials came from), only among ``usable`` rows."""
    if p.get("list", None):
        trials, missing = listed_trials(Path(p.str("list")), index)
        keep = usable[trials["enrol"].values.astype(int)] & usable[trials["test"].values.astype(int)]
        return trials[keep].reset_index(drop=True), missing, p.str("list")
    trials = corpus_trials(index.assign(split=np.where(usable, index["split"], "none")),
                           p.int("max_trials", 4000, min=10), p.int("seed", 0))
    return trials, pd.DataFrame(columns=["line"]), "trials among the test split's clips"


def run(spec: dict, feature_dir: Path, models_dir: Path, plots_dir: Path, ge2e_dir: Path = GE2E_DIR) -> dict:
    """EER, minDCF and ROC AUC per voice embedding on the trial list; ``det.csv`` curves in ``plots_dir``."""
    from ..store import load_feature

    p = Checked(spec, "speaker_trials")
    names = p.list("embeddings", list(EMBEDDINGS))
    for n in names:  # a name not in EMBEDDINGS is a one-line error naming the key
        Checked({"embeddings": n}, "speaker_trials").choice("embeddings", EMBEDDINGS)
    upstream = reason_of(feature_dir / "summary.json")
    if upstream:
        return {"skipped": f"feature {feature_dir.name} was skipped: {upstream}"}
    index, store = load_feature(feature_dir, "x")
    x = np.asarray(store, dtype=np.float32)
    try:
        g = ge2e_rows(index, ge2e_dir) if "ge2e" in names else None
    except Skip as why:
        g, skipped = None, {"ge2e": {"skipped": str(why)}}
    else:
        skipped = {}
    usable = np.ones(len(index), bool) if g is None else ~np.isnan(g[:, 0])
    trials, missing, source = select_trials(p, index, usable)
    plots_dir.mkdir(parents=True, exist_ok=True)
    missing.to_csv(plots_dir / "missing.csv", index=False)
    if trials.empty or trials["label"].nunique() < 2:
        return {"skipped": "the trial list needs same- and different-speaker trials (too few test speakers or clips)"}
    test_people = set(index["person"].astype(str).values[np.r_[trials["enrol"], trials["test"]]])
    train_people = set(index.loc[index["split"] == "train", "person"].astype(str))
    out = {"trials": source, "n_trials": int(len(trials)), "n_target": int(trials["label"].sum()),
           "n_unmatched_trials": int(len(missing)), "n_speakers": len(test_people),
           "speakers_seen_in_training": len(test_people & train_people), **few_people(len(test_people)),
           "embeddings": {}}
    if g is not None:
        out["n_clips_without_ge2e"] = int((~usable).sum())
    train = (index["split"] == "train").values
    enrol_person = index["person"].astype(str).values[trials["enrol"].values]
    inputs = {n: (g if n == "ge2e" else x) for n in names if n not in skipped}
    out["embeddings"], curves = score_all(trials, {n: (lambda n=n: embed(n, inputs[n], train, models_dir))
                                                   for n in inputs}, enrol_person)
    out["embeddings"].update(skipped)
    pd.concat(curves or [pd.DataFrame(columns=["embedding", "fpr", "fnr"])]).to_csv(plots_dir / "det.csv", index=False)
    return out


def verification_intervals(same: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> dict:
    """95% bootstrap intervals of ROC AUC and EER, resampling whole groups of trials (the enrolment side's
    person: one person's trials share their recordings, so they are not independent evidence)."""
    same, scores = np.asarray(same), np.asarray(scores)

    def when_both(f):
        return lambda r: f(same[r], scores[r]) if 0 < same[r].sum() < len(r) else None

    out = {"roc_auc_ci": bootstrap_ci(groups, when_both(binary_auc)),
           "eer_ci": bootstrap_ci(groups, when_both(lambda y, s: eer(y, s)[0]))}
    return {k: v for k, v in out.items() if v is not None}


def cosines(e: np.ndarray, trials: pd.DataFrame) -> np.ndarray:
    """The cosine of each trial's two unit embeddings."""
    return np.sum(e[trials["enrol"].values] * e[trials["test"].values], axis=1)


def score_trial(e, trials: pd.DataFrame, groups: np.ndarray | None = None) -> tuple[dict, pd.DataFrame]:
    """EER (and its threshold), minDCF and ROC AUC on the trials of the cosine of unit embeddings ``e`` (or of
    ``e(trials)``, when ``e`` is a function scoring trials), with the intervals of ``verification_intervals``
    when ``groups`` (one per trial) are given."""
    from sklearn.metrics import roc_auc_score

    same = trials["label"].values
    scores = e(trials) if callable(e) else cosines(e, trials)
    rate, threshold, fpr, fnr, _ = eer(same, scores)
    out = {"eer": rate, "eer_threshold": threshold, "min_dcf": min_dcf(same, scores),
           "roc_auc": float(roc_auc_score(same, scores))}
    if groups is not None:
        out.update(verification_intervals(same, scores, groups))
    return out, pd.DataFrame({"fpr": fpr, "fnr": fnr})


def score_all(trials: pd.DataFrame, embedders: dict, groups: np.ndarray | None = None) -> tuple[dict, list]:
    """Every embedding's scores on the same trials ({name: metrics or {"skipped": why}}) and its DET curve;
    ``embedders``: name -> a function giving unit embeddings of every row, or a function scoring trials (or raising
    Skip); ``groups``: the
    person of each trial's enrolment side, for the intervals."""
    results, curves = {}, []
    for name, make in embedders.items():
        try:
            e = make()
        except Skip as why:
            results[name] = {"skipped": str(why)}
            continue
        results[name], curve = score_trial(e, trials, groups)
        curves.append(curve.assign(embedding=name)[["embedding", "fpr", "fnr"]])
    return results, curves
