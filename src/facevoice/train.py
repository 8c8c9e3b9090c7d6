"""``run`` trains one ``params.yaml`` model end to end, in steps: load -> build -> fit -> evaluate -> save.

``load`` reads the model's feature rows its task can use and their split; a ``Kind`` (Keras classifier,
autoencoder, scikit-learn, fusion) builds the model from the registry (starting from ``init_from`` or the
fusion branches when given), fits it (``fitting.fit`` for Keras: seeded, early stopping, dvclive curves,
optional frozen-encoder phase) and scores the test rows; ``save`` writes ``models/<name>.keras|.joblib``,
``models/<name>.json``, ``metrics/<name>.json`` and ``plots/<name>/``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParamsError
from .params import Checked
from .skip import Skip
from .split import SPLITS

TASKS = ("reconstruct", "person", "gender", "language")
MODEL_KEYS = ("feature", "task", "builder", "args", "fit", "store", "balance", "languages", "init_from", "loss",
              "init_branches", "face_model", "voice_model")


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
    """Where a model's inputs and outputs live (the stage passes dvc.yaml's paths)."""
    features: Path
    models: Path
    metrics: Path
    plots: Path


def run(name: str, spec: dict, *, features_root: Path, models_dir: Path, metrics_dir: Path, plots_dir: Path,
        section: str | None = None) -> dict:
    """Train one model of params.yaml (``section`` names it in errors, e.g. ``finetune.mel_ae_clf``).

    Model spec keys beyond the builder's: ``store`` (feature store, default x), ``languages`` (keep only these
    languages' rows), ``balance`` (none | random | one_sided undersampling of the training rows | weight: class weights),
    ``init_from``. A scikit-learn builder (``linear_svm``) is fitted on the flattened training rows and saved
    as ``models/<name>.joblib``; a Keras one as ``.keras``. When the corpus cannot serve the model (no rows,
    one class, no test person seen in training, a skipped upstream model) the stage still succeeds: the
    metrics file says ``skipped`` with the reason and placeholders stand in for its outputs."""
    dirs = Dirs(Path(features_root), Path(models_dir), Path(metrics_dir), Path(plots_dir))
    try:
        return train_model(name, spec, dirs, section or name)
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
    if task == "reconstruct":
        files[plot / "reconstructions.png"] = None
    else:
        files.update({plot / "confusion.csv": "actual,predicted\n", plot / "confusion.png": None})
    if not sklearn:
        files[plot / "live" / "metrics.json"] = json.dumps({"skipped": reason}) + "\n"
    write_placeholders(reason, files, [] if sklearn else [plot / "live" / "plots" / "metrics"])
    info = {"model": name, "task": task, "feature": spec.get("feature"), "builder": spec.get("builder"),
            "split_rule": split_rule(None)}
    return write_skipped(reason, info, dirs.metrics / f"{name}.json", dirs.models / f"{name}.json",
                         {"classes": None, "params": spec})


def split_rule(index: pd.DataFrame | None) -> str:
    """How prepare split the rows, read from the rows themselves (so training needs no ``prepare`` param): by
    person when no person has rows in both train and test (open-set), else by recording (closed-set)."""
    if index is None or "person" not in index:
        return ""
    people = lambda s: set(index.loc[index["split"] == s, "person"].astype(str))  # noqa: E731
    by = "recording" if people("train") & people("test") else "person"
    return f"by {by} (decided once in prepare)"


@dataclass
class Job:
    """One model's training, filled in step by step (``load``, then the ``Kind``'s build, fit and evaluate)."""
    name: str
    spec: dict
    p: Checked
    dirs: Dirs
    task: str
    seed: int
    balance: str
    index: pd.DataFrame | None = None
    x: object = None
    parts: dict | None = None
    pretrained: object = None
    info: dict | None = None

    @property
    def fp(self) -> Checked:
        return self.p.sub("fit", {})


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


def check_spec(name: str, spec: dict, dirs: Dirs, section: str):
    """(Job, builder, Kind) after every params check that needs no data."""
    from . import models as registry

    p = Checked(spec, section)
    p.only(MODEL_KEYS)
    task = p.choice("task", TASKS)
    fp = p.sub("fit", {})
    builder = registry.get(p.str("builder"))
    kind = kind_of(builder, task, p)
    if getattr(builder, "sklearn", False) and task == "reconstruct":
        raise ParamsError(f"{section}: builder {p.str('builder')} is a classifier; task reconstruct needs a Keras autoencoder")
    balance = p.choice("balance", list(BALANCE), "none")
    if balance == "weight" and kind.sklearn:
        raise ParamsError(f"params.yaml: '{section}.balance': weight is for Keras models; use random or one_sided")
    languages = p.get("languages", None)
    if languages is not None and (not isinstance(languages, list) or not languages):
        raise ParamsError(f"params.yaml: '{section}.languages' must be a non-empty list, got {languages!r}")
    return Job(name, spec, p, dirs, task, fp.int("seed", 42), balance), builder, kind


def load(job: Job, kind: "Kind") -> None:
    """The rows (Skip when the corpus cannot serve the model), the seed, the models it starts from, the split."""
    from .fitting import seed_everything

    languages = job.p.get("languages", None)
    job.index, job.x, job.parts = read_rows(job.p, job.task, languages, job.dirs)
    upstream_skipped(job.name, job.p, job.dirs)
    if not kind.sklearn:
        seed_everything(job.seed)
    init, job.pretrained = load_init(job.name, job.p, job.dirs)
    if not job.parts["val"].any() and not kind.sklearn:
        job.parts = carve_val(job.index, job.parts, job.seed)
    job.info = {"model": job.name, "task": job.task, "feature": job.p.str("feature"), "builder": job.p.str("builder"),
                "init_from": init, "n_train": int(job.parts["train"].sum()), "n_val": int(job.parts["val"].sum()),
                "n_test": int(job.parts["test"].sum()), "split_rule": split_rule(job.index)}
    if languages:
        job.info["languages"] = [str(lang) for lang in languages]


def train_model(name: str, spec: dict, dirs: Dirs, section: str) -> dict:
    """load -> build -> fit -> evaluate -> save; raises Skip when the corpus cannot serve the model."""
    job, builder, kind = check_spec(name, spec, dirs, section)
    load(job, kind)
    dirs.models.mkdir(parents=True, exist_ok=True)
    model = kind.train(job, builder)
    return save(job, model, kind)


def kind_of(builder, task: str, p: Checked) -> "Kind":
    """The strategy for this model: autoencoder (task reconstruct), scikit-learn, fusion (a list of stores) or a
    Keras classifier."""
    if task == "reconstruct":
        return Autoencoder()
    if getattr(builder, "sklearn", False):
        return SklearnClassifier()
    return FusionClassifier() if isinstance(p.get("store", "x"), list) else KerasClassifier()


class Kind:
    """How one kind of model is built, fitted and scored. ``train`` fills ``job.info`` with its test metrics."""
    sklearn = False
    suffix = ".keras"

    def train(self, job: Job, builder):
        raise NotImplementedError

    def save(self, model, path: Path) -> None:
        from .fitting import save_model

        save_model(model, path)


class Autoencoder(Kind):
    def train(self, job: Job, builder):
        """Fit on its own normalised input; test MSE and a reconstructions plot."""
        import keras

        from .evaluate import write_reconstructions
        from .fitting import fit

        x, parts, plot_dir = job.x, job.parts, job.dirs.plots / job.name
        model = builder(shapes(x), 0, take(x, parts["train"]), pretrained=job.pretrained, **job.p.get("args", {}) or {})
        target = lambda a: keras.ops.convert_to_numpy(model.get_layer("norm")(a))  # noqa: E731
        fit(model, x[parts["train"]], target(x[parts["train"]]), x[parts["val"]], target(x[parts["val"]]), job.fp,
            loss=job.p.choice("loss", ["mse", "binary_crossentropy"], "mse"), metrics=[], live_dir=plot_dir / "live")
        recon = model.predict(x[parts["test"]], verbose=0)
        originals = target(x[parts["test"]])
        job.info.update(test_mse=float(np.mean((recon - originals) ** 2)), classes=None)
        write_reconstructions(plot_dir / "reconstructions.png", originals, recon)
        return model


class Classifier(Kind):
    """Labels -> (optional) undersampling -> build and fit (``fit_predict``) -> test metrics and confusion."""

    def train(self, job: Job, builder):
        from .evaluate import classification_metrics, write_confusion

        classes, y = self.labels(job)
        model, probs = self.fit_predict(job, builder, y, len(classes))
        test = job.parts["test"]
        job.info.update(classification_metrics(y[test], probs, classes, job.index.loc[test, "source_id"].values))
        self.extra_metrics(job, y, probs)
        job.info.update(n_classes=len(classes), n_test=int(test.sum()), classes=classes)
        write_confusion(job.dirs.plots / job.name, y[test], probs.argmax(axis=1), classes, f"{job.name} ({job.task})")
        return model

    def labels(self, job: Job) -> tuple[list, np.ndarray]:
        """Classes seen in training and label ids; validation carved when none is left; undersampling applied."""
        info = job.info
        classes, y, job.parts = encode_labels(job.index, job.task, job.parts, info)
        if not job.parts["val"].any() and not self.sklearn:  # no validation person seen in training (open-set)
            job.parts = carve_val(job.index, job.parts, job.seed)
            info["n_train"], info["n_val"] = int(job.parts["train"].sum()), int(job.parts["val"].sum())
        if job.balance not in ("none", "weight"):
            kept = undersample(np.flatnonzero(job.parts["train"]), job.x, y, job.balance, job.seed)
            job.parts["train"] = np.zeros(len(job.index), dtype=bool)
            job.parts["train"][kept] = True
            info.update(balance=job.balance, n_train_before_balance=info["n_train"],
                        n_train=int(job.parts["train"].sum()))
        return classes, y

    def fit_predict(self, job: Job, builder, y: np.ndarray, n_classes: int):
        raise NotImplementedError

    def extra_metrics(self, job: Job, y: np.ndarray, probs: np.ndarray) -> None:
        """Chunked features: accuracy of the chunk scores averaged per clip."""
        test = job.parts["test"]
        job.info.update(clip_accuracy(job.index.loc[test, "path"].values, y[test], probs))


class SklearnClassifier(Classifier):
    sklearn = True
    suffix = ".joblib"

    def fit_predict(self, job: Job, builder, y: np.ndarray, n_classes: int):
        """Fitted on the flattened training rows (the pipeline's scaler sees training rows only)."""
        flat, train = job.x.reshape(len(job.x), -1), job.parts["train"]
        model = builder(job.x.shape[1:], n_classes, flat[train], pretrained=job.pretrained, **job.p.get("args", {}) or {})
        model.fit(flat[train], y[train])
        job.info["fitted_on"] = "train"
        return model, _scores(model, flat[job.parts["test"]], n_classes)

    def save(self, model, path: Path) -> None:
        import joblib

        joblib.dump(model, path)


class KerasClassifier(Classifier):
    def fit_predict(self, job: Job, builder, y: np.ndarray, n_classes: int):
        """Fit with ``fitting.fit``; a pretrained encoder (or fusion branches) frozen for ``freeze_epochs``."""
        from .fitting import fit

        x, parts, pretrained = job.x, job.parts, job.pretrained
        model = builder(shapes(x), n_classes, take(x, parts["train"]), pretrained=pretrained,
                        **job.p.get("args", {}) or {})
        freeze = None
        if pretrained is not None:
            freeze = [f"branch{i}" for i in range(len(pretrained))] if isinstance(pretrained, list) else "encoder"
        fit(model, take(x, parts["train"]), y[parts["train"]], take(x, parts["val"]), y[parts["val"]], job.fp,
            loss="sparse_categorical_crossentropy", metrics=["accuracy"], live_dir=job.dirs.plots / job.name / "live",
            freeze=freeze, class_weight=class_weights(y[parts["train"]]) if job.balance == "weight" else None)
        return model, model.predict(take(x, parts["test"]), verbose=0)


class FusionClassifier(KerasClassifier):
    def extra_metrics(self, job: Job, y: np.ndarray, probs: np.ndarray) -> None:
        """The single-modality models on the same test samples, and how the pairs were drawn."""
        from .compare import compare_single

        test = job.parts["test"]
        labels = job.index[job.task].astype(str).values
        job.info.update(compare_single(job.dirs.models, job.p.data, take(job.x, test), labels[test]))
        job.info["pairing"] = str(job.index["pairing"].iloc[0]) if "pairing" in job.index else "identity"


def save(job: Job, model, kind: Kind) -> dict:
    """models/<name>.keras|.joblib, models/<name>.json (metadata the CLI reads), metrics/<name>.json."""
    from .evaluate import write_metrics

    dirs, info = job.dirs, job.info
    kind.save(model, dirs.models / f"{job.name}{kind.suffix}")
    classes = info.pop("classes")
    feature_params = dirs.features / job.p.str("feature") / "params.json"  # how to recompute the input (CLI)
    meta = {**info, "classes": classes, "params": job.spec,
            "feature_params": json.loads(feature_params.read_text()) if feature_params.exists() else None}
    (dirs.models / f"{job.name}.json").write_text(json.dumps(meta, indent=2))
    write_metrics(dirs.metrics / f"{job.name}.json", info)
    return info


def run_per_language(name: str, spec: dict, *, features_root: Path, models_dir: Path, metrics_dir: Path,
                     plots_dir: Path) -> dict:
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
    blocks, skipped, index = {}, {}, None
    try:
        index = read_table(Path(features_root) / p.str("feature") / "index.csv")
        languages = languages_of(p, index, reason_of(Path(features_root) / p.str("feature") / "summary.json"))
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
               "split_rule": split_rule(index), "n_test": n,
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
