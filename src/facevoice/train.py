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
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParamsError
from .params import Checked

TASKS = ("reconstruct", "person", "gender", "language")


def seed_everything(seed: int) -> None:
    import keras

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)


def fit(model, x_train, y_train, x_val, y_val, tp: Checked, loss: str, metrics: list, live_dir: Path | None,
        freeze: str | list[str] | None = None):
    """Compile and fit; with ``freeze`` (layer names) and ``freeze_epochs`` > 0, first train with them frozen."""
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
                  callbacks=callbacks, verbose=tp.int("verbose", 2, min=0, max=2), shuffle=True)
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


BALANCE = ("none", "random", "one_sided")


def select_rows(index: pd.DataFrame, task: str, languages: list | None = None) -> pd.Series:
    """Rows a task can use (a known label), optionally only those whose ``language`` is in ``languages``."""
    if task in ("gender", "language"):
        keep = index[task].astype(str) != "unknown"
    else:
        keep = pd.Series(True, index=index.index)
    if languages:
        keep &= index["language"].astype(str).isin([str(lang) for lang in languages])
    return keep


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


def load_inputs(feature_dir: Path, store, select=None):
    """(index, x): ``store`` a name (one array) or a list of names (a list of arrays, rows aligned).

    ``select(index)`` gives the rows to keep; the index is read once whatever the number of stores."""
    from .features import load_store
    from .tables import read_table

    index = read_table(feature_dir / "index.csv")
    names = store if isinstance(store, list) else [store]
    arrays = [load_store(feature_dir, s) for s in names]
    if select is not None:
        keep = np.asarray(select(index))
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
    return {"clip_accuracy": float(np.mean(mean.values.argmax(axis=1) == truth)), "n_test_clips": int(len(mean))}


def run(name: str, spec: dict, features_root: Path = Path("data/features"), models_dir: Path = Path("models"),
        metrics_dir: Path = Path("metrics"), plots_dir: Path = Path("plots")) -> dict:
    """Train one model of params.yaml. Model spec keys beyond the builder's: ``store`` (feature store,
    default x), ``languages`` (keep only these languages' rows), ``balance`` (none | random | one_sided
    undersampling of the training rows), ``init_from``. A scikit-learn builder (``linear_svm``) is fitted
    on the flattened training rows and saved as ``models/<name>.joblib``; a Keras one as ``.keras``."""
    from . import models as registry
    from .evaluate import classification_metrics, write_confusion, write_metrics, write_reconstructions

    p = Checked(spec, f"models.{name}")
    task = p.choice("task", TASKS)
    tp = p.sub("train", {})
    seed = tp.int("seed", 42)
    builder = registry.get(p.str("builder"))
    is_sklearn = getattr(builder, "sklearn", False)
    if is_sklearn and task == "reconstruct":
        raise ParamsError(f"models.{name}: builder {p.str('builder')} is a classifier; task reconstruct needs a Keras autoencoder")
    balance = p.choice("balance", list(BALANCE), "none")
    languages = p.get("languages", None)
    if languages is not None and (not isinstance(languages, list) or not languages):
        raise ParamsError(f"params.yaml: 'models.{name}.languages' must be a non-empty list, got {languages!r}")
    if not is_sklearn:
        import keras

        seed_everything(seed)
    store = p.get("store", "x")
    index, x = load_inputs(features_root / p.str("feature"), store, lambda i: select_rows(i, task, languages).values)
    parts = {s: (index["split"] == s).values for s in ("train", "val", "test")}
    if not parts["train"].any() or not parts["test"].any():
        raise ParamsError(f"models.{name}: feature {p.str('feature')} has no train or no test rows for task {task}"
                          + (f" and languages {languages}" if languages else ""))
    if not parts["val"].any() and not is_sklearn:
        from .split import group_holdout

        hold = group_holdout(index.loc[parts["train"], "source_id"].values, 0.15, seed)
        val = np.zeros(len(index), dtype=bool)
        val[np.flatnonzero(parts["train"])[hold]] = True
        parts["val"], parts["train"] = val, parts["train"] & ~val

    init = p.get("init_from", None)
    if p.get("init_branches", False):  # fusion: branches start from the single-modality models
        init = [p.str("face_model"), p.str("voice_model")]
    pretrained = None
    if init:
        loaded = []
        for model_name in (init if isinstance(init, list) else [init]):
            path = models_dir / f"{model_name}.keras"
            if not path.exists():
                raise ParamsError(f"models.{name}.init_from: {path} not found (train {model_name} first)")
            loaded.append(keras.models.load_model(path, safe_mode=True))
        pretrained = loaded if isinstance(init, list) else loaded[0]

    plot_dir = plots_dir / name
    models_dir.mkdir(parents=True, exist_ok=True)
    info = {"model": name, "task": task, "feature": p.str("feature"), "builder": p.str("builder"),
            "init_from": init, "n_train": int(parts["train"].sum()),
            "n_val": int(parts["val"].sum()), "n_test": int(parts["test"].sum()),
            "split_rule": spec.get("split_rule", "")}
    if languages:
        info["languages"] = [str(lang) for lang in languages]
    args = dict(p.get("args", {}) or {})
    if task == "reconstruct":
        model = builder(shapes(x), 0, take(x, parts["train"]), pretrained=pretrained, **args)
        target = lambda a: keras.ops.convert_to_numpy(model.get_layer("norm")(a))  # noqa: E731
        fit(model, x[parts["train"]], target(x[parts["train"]]), x[parts["val"]], target(x[parts["val"]]), tp,
            loss=p.choice("loss", ["mse", "binary_crossentropy"], "mse"), metrics=[], live_dir=plot_dir / "live")
        recon = model.predict(x[parts["test"]], verbose=0)
        originals = target(x[parts["test"]])
        info["test_mse"] = float(np.mean((recon - originals) ** 2))
        write_reconstructions(plot_dir / "reconstructions.png", originals, recon)
        info["classes"] = None
    else:
        labels = index[task].astype(str).values
        classes = sorted(set(labels[parts["train"]]))
        if len(classes) < 2:
            raise ParamsError(f"models.{name}: the training rows hold one {task} only ({classes}); "
                              f"nothing to classify (check languages / the corpus)")
        lookup = {c: i for i, c in enumerate(classes)}
        known = np.array([lab in lookup for lab in labels])
        info["n_test_unseen_class"] = int((parts["test"] & ~known).sum())
        for s in parts:
            parts[s] = parts[s] & known
        y = np.array([lookup.get(lab, -1) for lab in labels])
        if balance != "none":
            kept = undersample(np.flatnonzero(parts["train"]), x, y, balance, seed)
            parts["train"] = np.zeros(len(index), dtype=bool)
            parts["train"][kept] = True
            info["balance"] = balance
            info["n_train_before_balance"] = info["n_train"]
            info["n_train"] = int(parts["train"].sum())
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
                loss="sparse_categorical_crossentropy", metrics=["accuracy"], live_dir=plot_dir / "live",
                freeze=freeze)
            probs = model.predict(take(x, parts["test"]), verbose=0)
            if isinstance(x, list):  # fusion: the single-modality models on the same test samples
                from .compare import compare_single

                info.update(compare_single(models_dir, spec, take(x, parts["test"]), labels[parts["test"]]))
                info["pairing"] = str(index["pairing"].iloc[0]) if "pairing" in index else "identity"
        info.update(classification_metrics(y[parts["test"]], probs, classes))
        if not isinstance(x, list):
            info.update(clip_accuracy(index.loc[parts["test"], "path"].values, y[parts["test"]], probs))
        info["n_classes"] = len(classes)
        info["n_test"] = int(parts["test"].sum())
        write_confusion(plot_dir, y[parts["test"]], probs.argmax(axis=1), classes, f"{name} ({task})")
        info["classes"] = classes
    if is_sklearn:
        import joblib

        joblib.dump(model, models_dir / f"{name}.joblib")
    else:
        model.save(models_dir / f"{name}.keras")
    classes = info.pop("classes")
    feature_params = features_root / p.str("feature") / "params.json"  # how to recompute the input (CLI)
    meta = {**info, "classes": classes, "params": spec,
            "feature_params": json.loads(feature_params.read_text()) if feature_params.exists() else None}
    (models_dir / f"{name}.json").write_text(json.dumps(meta, indent=2))
    write_metrics(metrics_dir / f"{name}.json", info)
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
    from .tables import read_table

    p = Checked(spec, f"per_language.{name}")
    task = p.choice("task", TASKS[1:])
    wanted = p.get("languages", "all")
    index = read_table(features_root / p.str("feature") / "index.csv")
    found = sorted(index.loc[select_rows(index, task).values, "language"].astype(str).unique())
    found = [lang for lang in found if lang != "unknown"]
    if wanted == "all":
        languages = found
    elif isinstance(wanted, list) and wanted:
        languages = [str(lang) for lang in wanted]
    else:
        raise ParamsError(f"params.yaml: 'per_language.{name}.languages' must be 'all' or a non-empty list; got {wanted!r}")
    if not languages:
        raise ParamsError(f"per_language.{name}: no row of feature {p.str('feature')} has a known language and {task}")
    blocks, skipped = {}, {}
    sub = {k: v for k, v in spec.items() if k != "languages"}
    for lang in languages:
        try:
            info = run(lang, {**sub, "languages": [lang]}, features_root, models_dir / name, plots_dir / name,
                       plots_dir / name)
        except ParamsError as exc:
            skipped[lang] = str(exc)
            continue
        blocks[lang] = {k: v for k, v in info.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    n = sum(b["n_test"] for b in blocks.values())
    summary = {"model": name, "task": task, "feature": p.str("feature"), "builder": p.str("builder"),
               "per_language": True, "languages_trained": sorted(blocks), "languages_skipped": skipped,
               "split_rule": spec.get("split_rule", ""), "n_test": n,
               "accuracy": sum(b["accuracy"] * b["n_test"] for b in blocks.values()) / n if n else None,
               "languages": blocks}
    write_metrics(metrics_dir / f"{name}.json", summary)
    return summary
