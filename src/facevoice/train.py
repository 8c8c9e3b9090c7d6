"""One fit loop for every Keras model, and ``run`` which trains one ``params.yaml`` model end to end.

``run`` loads the model's feature, keeps the rows its task can use, encodes labels with the classes
seen in training, builds the model from the registry (starting from ``init_from`` when given),
fits it (seeded, early stopping, dvclive curves, optional frozen-encoder phase), evaluates it on
the test split and writes ``models/<name>.keras``, ``models/<name>.json``, ``metrics/<name>.json`` and
``plots/<name>/``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParamsError
from .params import Checked
from .skip import Skip
from .split import SPLITS

TASKS = ("reconstruct", "person", "gender", "language")


def seed_everything(seed: int) -> None:
    import keras

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)


def fit(model, x_train, y_train, x_val, y_val, tp: Checked, loss: str, metrics: list, live_dir: Path | None,
        freeze: str | list[str] | None = None, class_weight: dict | None = None):
    """Compile and fit; with ``freeze`` (layer names) and ``freeze_epochs`` > 0, first train with them frozen;
    ``class_weight``: {class index: loss weight} (``balance: weight``)."""
    import keras

    epochs = tp.int("epochs", min=1)
    freeze_epochs = tp.int("freeze_epochs", 0, min=0) if freeze else 0
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=tp.int("patience", 10, min=1),
                                               restore_best_weights=True)]
    if live_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)
        callbacks.append(DVCLiveCallback(live=live))
    kwargs = dict(batch_size=tp.int("batch_size", 32, min=1), validation_data=(x_val, y_val),
                  callbacks=callbacks, verbose=tp.int("verbose", 2, min=0, max=2), shuffle=True,
                  class_weight=class_weight)
    lr = tp.float("lr", 1e-3, min=0)
    history = {}
    phases = [(True, freeze_epochs, lr)] if freeze_epochs else []
    phases.append((False, epochs, lr * (tp.float("finetune_lr_scale", 0.1, min=0) if freeze_epochs else 1.0)))
    for frozen, n, rate in phases:
        for layer in ([freeze] if isinstance(freeze, str) else freeze or []):
            model.get_layer(layer).trainable = not frozen
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss=loss, metrics=metrics)
        h = model.fit(x_train, y_train, epochs=n, **kwargs)
        for k, v in h.history.items():
            history.setdefault(k, []).extend(v)
    if live_dir is not None:
        live.end()
    return history


BALANCE = ("none", "random", "one_sided", "weight")


def select_rows(index: pd.DataFrame, task: str, languages: list | None = None) -> pd.Series:
    """Rows a task can use (a known label), optionally only those whose ``language`` is in ``languages``."""
    if task in ("gender", "language"):
        keep = index[task].astype(str) != "unknown"
    else:
        keep = pd.Series(True, index=index.index)
    if languages:
        keep &= index["language"].astype(str).isin([str(lang) for lang in languages])
    return keep


def class_weights(y: np.ndarray) -> dict[int, float]:
    """``balance: weight``: each class's loss weighted by n / (k * its count), so every class weighs the same in
    training without dropping rows (undersampling a 110-clip corpus threw away 40% of it)."""
    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    return {int(c): float(len(y) / (len(present) * counts[c])) for c in present}


def undersample(rows: np.ndarray, x: np.ndarray, y: np.ndarray, how: str, seed: int) -> np.ndarray:
    """The subset of ``rows`` (training row numbers) kept after undersampling the larger classes.

    ``random``: imbalanced-learn's RandomUnderSampler (every class cut to the smallest one);
    ``one_sided``: OneSidedSelection (drops majority rows that are redundant or sit on the border
    with another class, judged by 1-NN on the flattened features). Only training rows are passed here.
    """
    if how == "none" or len(np.unique(y[rows])) < 2:
        return rows
    if how == "random":
        from imblearn.under_sampling import RandomUnderSampler

        sampler = RandomUnderSampler(random_state=seed)
        sampler.fit_resample(rows.reshape(-1, 1), y[rows])
    else:
        from imblearn.under_sampling import OneSidedSelection

        sampler = OneSidedSelection(random_state=seed)
        sampler.fit_resample(x[rows].reshape(len(rows), -1), y[rows])
    return np.sort(rows[sampler.sample_indices_])


def _scores(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class scores (rows sum to 1) of a scikit-learn classifier, from predict_proba or its decision function."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)
    d = np.asarray(model.decision_function(x), dtype=np.float64)
    if d.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-d))
        return np.stack([1 - p, p], axis=1)
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def take(x, rows):
    """Rows of one input array, or of each array of a multi-input model."""
    return [a[rows] for a in x] if isinstance(x, list) else x[rows]


def shapes(x):
    return [a.shape[1:] for a in x] if isinstance(x, list) else x.shape[1:]


def load_inputs(feature_dir: Path, store, select=None, why_empty: str = "no rows"):
    """(index, x): ``store`` a name (one array) or a list of names (a list of arrays, rows aligned).

    ``select(index)`` gives the rows to keep; the index is read once whatever the number of stores. Raises
    Skip(``why_empty``) when no row is kept (the stores are not even opened: an empty feature has none)."""
    from .store import load_store
    from .tables import read_table

    index = read_table(feature_dir / "index.csv")
    keep = np.asarray(select(index)) if select is not None else np.ones(len(index), dtype=bool)
    if not len(index):
        raise Skip(f"feature {feature_dir.name} has no rows (see its rejects.csv)")
    if not keep.any():
        raise Skip(why_empty)
    names = store if isinstance(store, list) else [store]
    arrays = [load_store(feature_dir, s) for s in names]
    if select is not None:
        index = index[keep].reset_index(drop=True)
        arrays = [np.asarray(a[keep], dtype=np.float32) for a in arrays]
    return index, arrays if isinstance(store, list) else arrays[0]


def clip_accuracy(paths: np.ndarray, y: np.ndarray, probs: np.ndarray) -> dict:
    """For chunked features (several samples a clip): accuracy of the chunk scores averaged per clip."""
    if len(paths) == len(set(paths)):
        return {}
    df = pd.DataFrame(np.asarray(probs, dtype=np.float64))
    df["path"], df["y"] = paths, y
    per_clip = df.groupby("path")
    mean = per_clip[[c for c in df.columns if c not in ("path", "y")]].mean()
    truth = per_clip["y"].first().loc[mean.index].values
    correct = (mean.values.argmax(axis=1) == truth).astype(np.float64)
    from .evaluate import with_intervals

    return with_intervals({"clip_accuracy": float(correct.mean()), "n_test_clips": int(len(mean))},
                          np.asarray(mean.index), {"clip_accuracy": lambda rows: correct[rows].mean()})


@dataclass(frozen=True)
class Dirs:
    """Where a model's inputs and outputs live (the stage passes DVC's paths)."""
    features: Path = Path("data/features")
    models: Path = Path("models")
    metrics: Path = Path("metrics")
    plots: Path = Path("plots")


def run(name: str, spec: dict, features_root: Path = Path("data/features"), models_dir: Path = Path("models"),
        metrics_dir: Path = Path("metrics"), plots_dir: Path = Path("plots"), section: str | None = None) -> dict:
    """Train one model of params.yaml (``section`` names it in errors, e.g. ``finetuned.mel_ae_clf``).

    Model spec keys beyond the builder's: ``store`` (feature store, default x), ``languages`` (keep only these
    languages' rows), ``balance`` (none | random | one_sided undersampling of the training rows | weight: class weights),
    ``init_from``. A scikit-learn builder (``linear_svm``) is fitted on the flattened training rows and saved
    as ``models/<name>.joblib``; a Keras one as ``.keras``. When the corpus cannot serve the model (no rows,
    one class, no test person seen in training, a skipped upstream model) the stage still succeeds: the
    metrics file says ``skipped`` with the reason and placeholders stand in for its outputs."""
    dirs = Dirs(Path(features_root), Path(models_dir), Path(metrics_dir), Path(plots_dir))
    try:
        return train_model(name, spec, dirs, section or f"models.{name}")
    except Skip as why:
        return skip_model(name, spec, str(why), dirs)


def skip_model(name: str, spec: dict, reason: str, dirs: Dirs) -> dict:
    """Metrics ``{"skipped": reason}`` and the placeholders of every output the stage declares."""
    import shutil

    from . import models as registry
    from .skip import write_placeholders, write_skipped

    task = spec.get("task")
    sklearn = getattr(registry.get(spec.get("builder", "")), "sklearn", False) if spec.get("builder") else False
    plot = dirs.plots / name
    shutil.rmtree(plot, ignore_errors=True)
    files = {dirs.models / f"{name}{'.joblib' if sklearn else '.keras'}": None}
    files[plot / ("reconstructions.png" if task == "reconstruct" else "confusion.csv")] = (
        None if task == "reconstruct" else "actual,predicted\n")
    write_placeholders(reason, files, [] if sklearn else [plot / "live" / "plots" / "metrics"])
    info = {"model": name, "task": task, "feature": spec.get("feature"), "builder": spec.get("builder"),
            "split_rule": spec.get("split_rule", "")}
    return write_skipped(reason, info, dirs.metrics / f"{name}.json", dirs.models / f"{name}.json",
                         {"classes": None, "params": spec})


def read_rows(p: Checked, task: str, languages: list | None, dirs: Dirs):
    """(index, x, parts): the feature's rows this task can use and their split masks; Skip when none can."""
    from .skip import reason_of

    feature = p.str("feature")
    feature_dir = dirs.features / feature
    upstream = reason_of(feature_dir / "summary.json")
    if upstream:
        raise Skip(f"feature {feature} was skipped: {upstream}")
    where = f" with languages {languages}" if languages else ""
    index, x = load_inputs(feature_dir, p.get("store", "x"), lambda i: select_rows(i, task, languages).values,
                           why_empty=f"no row of feature {feature} has a known {task}{where}")
    parts = {s: (index["split"] == s).values for s in SPLITS}
    if not parts["train"].any() or not parts["test"].any():
        raise Skip(f"feature {feature} has no {'train' if not parts['train'].any() else 'test'} rows for task "
                   f"{task}{where}")
    return index, x, parts


def carve_val(index: pd.DataFrame, parts: dict, seed: int) -> dict:
    """Without usable validation rows, hold out 15% of the training sources (whole sources) for validation."""
    from .split import group_holdout

    hold = group_holdout(index.loc[parts["train"], "source_id"].values, 0.15, seed)
    val = np.zeros(len(index), dtype=bool)
    val[np.flatnonzero(parts["train"])[hold]] = True
    return {**parts, "val": val, "train": parts["train"] & ~val}


def init_names(p: Checked):
    """What the model starts from: ``init_from`` (a name), a fusion's two branches (a list), or None."""
    if p.get("init_branches", False):  # fusion: branches start from the single-modality models
        return [p.str("face_model"), p.str("voice_model")]
    return p.get("init_from", None)


def upstream_skipped(name: str, p: Checked, dirs: Dirs) -> None:
    """Skip when a model this one starts from was itself skipped (checked before Keras is imported)."""
    from .skip import reason_of

    init = init_names(p)
    for model_name in (init if isinstance(init, list) else [init] if init else []):
        upstream = reason_of(dirs.models / f"{model_name}.json")
        if upstream:
            raise Skip(f"{model_name}, which {name} starts from, was skipped: {upstream}")


def load_init(name: str, p: Checked, dirs: Dirs):
    """(names, loaded Keras models) the model starts from: ``init_from`` or a fusion's two branches."""
    init = init_names(p)
    if not init:
        return None, None
    names = init if isinstance(init, list) else [init]
    import keras

    loaded = []
    for model_name in names:
        path = dirs.models / f"{model_name}.keras"
        if not path.exists():
            raise ParamsError(f"{p.prefix}.init_from: {path} not found (train {model_name} first)")
        loaded.append(keras.models.load_model(path, safe_mode=True))
    return init, loaded if isinstance(init, list) else loaded[0]


def encode_labels(index: pd.DataFrame, task: str, parts: dict, info: dict) -> tuple[list, np.ndarray, dict]:
    """(classes seen in training, label ids with -1 for unseen, parts restricted to known labels); Skip when
    the training rows hold one class, or no test row has a class seen in training (an open-set split)."""
    labels = index[task].astype(str).values
    classes = sorted(set(labels[parts["train"]]))
    if len(classes) < 2:
        raise Skip(f"the training rows hold one {task} only ({', '.join(classes)}); nothing to classify")
    lookup = {c: i for i, c in enumerate(classes)}
    known = np.array([lab in lookup for lab in labels])
    info["n_test_unseen_class"] = int((parts["test"] & ~known).sum())
    parts = {s: m & known for s, m in parts.items()}
    if not parts["test"].any():
        raise Skip(f"no test row's {task} appears in training: a closed-set {task} classifier cannot be scored "
                   f"on this split (split {info.get('split_rule') or 'by person'}: open-set)")
    return classes, np.array([lookup.get(lab, -1) for lab in labels]), parts


def train_model(name: str, spec: dict, dirs: Dirs, section: str) -> dict:
    """load -> check -> build -> fit -> evaluate -> save; raises Skip when the corpus cannot serve the model."""
    from . import models as registry

    p = Checked(spec, section)
    task = p.choice("task", TASKS)
    tp = p.sub("train", {})
    seed = tp.int("seed", 42)
    builder = registry.get(p.str("builder"))
    is_sklearn = getattr(builder, "sklearn", False)
    if is_sklearn and task == "reconstruct":
        raise ParamsError(f"{section}: builder {p.str('builder')} is a classifier; task reconstruct needs a Keras autoencoder")
    balance = p.choice("balance", list(BALANCE), "none")
    languages = p.get("languages", None)
    if languages is not None and (not isinstance(languages, list) or not languages):
        raise ParamsError(f"params.yaml: '{section}.languages' must be a non-empty list, got {languages!r}")
    index, x, parts = read_rows(p, task, languages, dirs)
    upstream_skipped(name, p, dirs)
    if not is_sklearn:
        seed_everything(seed)
    init, pretrained = load_init(name, p, dirs)
    if not parts["val"].any() and not is_sklearn:
        parts = carve_val(index, parts, seed)
    info = {"model": name, "task": task, "feature": p.str("feature"), "builder": p.str("builder"),
            "init_from": init, "n_train": int(parts["train"].sum()), "n_val": int(parts["val"].sum()),
            "n_test": int(parts["test"].sum()), "split_rule": spec.get("split_rule", "")}
    if languages:
        info["languages"] = [str(lang) for lang in languages]
    args = dict(p.get("args", {}) or {})
    dirs.models.mkdir(parents=True, exist_ok=True)
    if task == "reconstruct":
        model = fit_autoencoder(builder, x, parts, args, pretrained, p, tp, dirs.plots / name, info)
    else:
        model = fit_classifier(builder, index, x, parts, task, balance, seed, args, pretrained, p, tp,
                               dirs, name, info)
    return save_model(name, spec, p.str("feature"), model, is_sklearn, info, dirs)


def fit_autoencoder(builder, x, parts, args, pretrained, p: Checked, tp: Checked, plot_dir: Path, info: dict):
    """Fit an autoencoder on its own normalised input; test MSE and a reconstructions plot."""
    import keras

    from .evaluate import write_reconstructions

    model = builder(shapes(x), 0, take(x, parts["train"]), pretrained=pretrained, **args)
    target = lambda a: keras.ops.convert_to_numpy(model.get_layer("norm")(a))  # noqa: E731
    fit(model, x[parts["train"]], target(x[parts["train"]]), x[parts["val"]], target(x[parts["val"]]), tp,
        loss=p.choice("loss", ["mse", "binary_crossentropy"], "mse"), metrics=[], live_dir=plot_dir / "live")
    recon = model.predict(x[parts["test"]], verbose=0)
    originals = target(x[parts["test"]])
    info.update(test_mse=float(np.mean((recon - originals) ** 2)), classes=None)
    write_reconstructions(plot_dir / "reconstructions.png", originals, recon)
    return model


def fit_classifier(builder, index, x, parts, task, balance, seed, args, pretrained, p: Checked, tp: Checked,
                   dirs: Dirs, name: str, info: dict):
    """Encode labels, undersample, fit (scikit-learn or Keras), score the test rows; fills ``info``."""
    from .evaluate import classification_metrics, write_confusion

    classes, y, parts = encode_labels(index, task, parts, info)
    is_sklearn = getattr(builder, "sklearn", False)
    if not parts["val"].any() and not is_sklearn:  # no validation person seen in training (open-set split)
        parts = carve_val(index, parts, seed)
        info["n_train"], info["n_val"] = int(parts["train"].sum()), int(parts["val"].sum())
    if balance == "weight" and is_sklearn:
        raise ParamsError(f"params.yaml: '{p.prefix}.balance': weight is for Keras models; use random or one_sided")
    if balance not in ("none", "weight"):
        kept = undersample(np.flatnonzero(parts["train"]), x, y, balance, seed)
        parts["train"] = np.zeros(len(index), dtype=bool)
        parts["train"][kept] = True
        info.update(balance=balance, n_train_before_balance=info["n_train"], n_train=int(parts["train"].sum()))
    if is_sklearn:
        flat = x.reshape(len(x), -1)
        model = builder(x.shape[1:], len(classes), flat[parts["train"]], pretrained=pretrained, **args)
        model.fit(flat[parts["train"]], y[parts["train"]])  # the pipeline's scaler sees training rows only
        probs = _scores(model, flat[parts["test"]], len(classes))
        info["fitted_on"] = "train"
    else:
        model = builder(shapes(x), len(classes), take(x, parts["train"]), pretrained=pretrained, **args)
        freeze = None
        if pretrained is not None:
            freeze = [f"branch{i}" for i in range(len(pretrained))] if isinstance(pretrained, list) else "encoder"
        fit(model, take(x, parts["train"]), y[parts["train"]], take(x, parts["val"]), y[parts["val"]], tp,
            loss="sparse_categorical_crossentropy", metrics=["accuracy"], live_dir=dirs.plots / name / "live",
            freeze=freeze, class_weight=class_weights(y[parts["train"]]) if balance == "weight" else None)
        probs = model.predict(take(x, parts["test"]), verbose=0)
    labels = index[task].astype(str).values
    if isinstance(x, list):  # fusion: the single-modality models on the same test samples
        from .compare import compare_single

        info.update(compare_single(dirs.models, p.data, take(x, parts["test"]), labels[parts["test"]]))
        info["pairing"] = str(index["pairing"].iloc[0]) if "pairing" in index else "identity"
    info.update(classification_metrics(y[parts["test"]], probs, classes, index.loc[parts["test"], "source_id"].values))
    if not isinstance(x, list):
        info.update(clip_accuracy(index.loc[parts["test"], "path"].values, y[parts["test"]], probs))
    info.update(n_classes=len(classes), n_test=int(parts["test"].sum()), classes=classes)
    write_confusion(dirs.plots / name, y[parts["test"]], probs.argmax(axis=1), classes, f"{name} ({task})")
    return model


def save_model(name: str, spec: dict, feature: str, model, is_sklearn: bool, info: dict, dirs: Dirs) -> dict:
    """models/<name>.keras|.joblib, models/<name>.json (metadata the CLI reads), metrics/<name>.json."""
    from .evaluate import write_metrics

    if is_sklearn:
        import joblib

        joblib.dump(model, dirs.models / f"{name}.joblib")
    else:
        model.save(dirs.models / f"{name}.keras")
    classes = info.pop("classes")
    feature_params = dirs.features / feature / "params.json"  # how to recompute the input (CLI)
    meta = {**info, "classes": classes, "params": spec,
            "feature_params": json.loads(feature_params.read_text()) if feature_params.exists() else None}
    (dirs.models / f"{name}.json").write_text(json.dumps(meta, indent=2))
    write_metrics(dirs.metrics / f"{name}.json", info)
    return info


def run_per_language(name: str, spec: dict, features_root: Path = Path("data/features"),
                     models_dir: Path = Path("models"), metrics_dir: Path = Path("metrics"),
                     plots_dir: Path = Path("plots")) -> dict:
    """One model per language (params ``per_language.<name>``): ``run`` on each language's rows.

    ``languages: all`` takes every language of the feature's index with a known label (so the tiny profile,
    a 4-language corpus and a one-language corpus all work); a list names them. Writes
    ``models/<name>/<lang>.keras|.json``, ``plots/<name>/<lang>/`` and one ``metrics/<name>.json`` with a
    block per language, their test-row-weighted accuracy on top. A language that cannot be trained (one
    gender only, no test rows) is kept in the metrics file with its reason instead of stopping the stage.
    """
    from .evaluate import write_metrics
    from .skip import reason_of, write_placeholders, write_skipped
    from .tables import read_table

    p = Checked(spec, f"per_language.{name}")
    dirs = Dirs(Path(features_root), Path(models_dir) / name, Path(plots_dir) / name, Path(plots_dir) / name)
    blocks, skipped = {}, {}
    try:
        languages = languages_of(p, read_table(features_root / p.str("feature") / "index.csv"),
                                 reason_of(features_root / p.str("feature") / "summary.json"))
        sub = {k: v for k, v in spec.items() if k != "languages"}
        for lang in languages:
            try:
                info = train_model(lang, {**sub, "languages": [lang]}, dirs, f"per_language.{name}")
            except Skip as why:
                skipped[lang] = str(why)
                continue
            blocks[lang] = {k: v for k, v in info.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if not blocks:
            raise Skip("no language could be trained: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    except Skip as why:
        write_placeholders(str(why), dirs=[dirs.models, dirs.plots])
        return write_skipped(str(why), {"model": name, "task": spec.get("task"), "feature": spec.get("feature"),
                                        "per_language": True, "languages_skipped": skipped},
                             metrics_dir / f"{name}.json")
    task = p.choice("task", TASKS[1:])
    n = sum(b["n_test"] for b in blocks.values())
    summary = {"model": name, "task": task, "feature": p.str("feature"), "builder": p.str("builder"),
               "per_language": True, "languages_trained": sorted(blocks), "languages_skipped": skipped,
               "split_rule": spec.get("split_rule", ""), "n_test": n,
               "accuracy": sum(b["accuracy"] * b["n_test"] for b in blocks.values()) / n if n else None,
               "languages": blocks}
    write_metrics(metrics_dir / f"{name}.json", summary)
    return summary


def languages_of(p: Checked, index: pd.DataFrame, upstream: str | None) -> list[str]:
    """The languages a per-language model trains on (``languages: all`` = every known one); Skip when none."""
    task = p.choice("task", TASKS[1:])
    if upstream:
        raise Skip(f"feature {p.str('feature')} was skipped: {upstream}")
    wanted = p.get("languages", "all")
    if wanted == "all":
        found = sorted(index.loc[select_rows(index, task).values, "language"].astype(str).unique())
        languages = [lang for lang in found if lang != "unknown"]
    elif isinstance(wanted, list) and wanted:
        languages = [str(lang) for lang in wanted]
    else:
        raise ParamsError(f"params.yaml: '{p.prefix}.languages' must be 'all' or a non-empty list; got {wanted!r}")
    if not languages:
        raise Skip(f"no row of feature {p.str('feature')} has a known language and {task}")
    return languages
