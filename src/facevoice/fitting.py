"""The one Keras fit loop, its seeding and a reproducible model writer, shared by training (``train.py``) and
verification (``verify.py``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .params import Checked


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow: on CPU this makes a fit identical run to run (tests/test_determinism.py)."""
    import keras

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)


def callbacks(fp: Checked, live_dir: Path | None, monitor: str) -> tuple[list, object]:
    """Early stopping on ``monitor`` (val_loss, or val_accuracy: steadier when validation holds about one photo per
    person) with the best weights restored: after ``patience`` epochs without an improvement of more than
    ``min_delta`` (0: any); with ``live_dir``, dvclive curves."""
    import keras

    out = [keras.callbacks.EarlyStopping(monitor=monitor, patience=fp.int("patience", 10, min=1),
                                         min_delta=fp.float("min_delta", 0.0, min=0.0), restore_best_weights=True)]
    live = None
    if live_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)
        out.append(DVCLiveCallback(live=live))
    return out, live


def fit(model, x_train, y_train, x_val, y_val, fp: Checked, loss: str, metrics: list, live_dir: Path | None,
        freeze: str | list[str] | None = None, class_weight: dict | None = None) -> dict:
    """Compile and fit with the ``fit:`` block ``fp``; with ``freeze`` (layer names) and ``freeze_epochs`` > 0,
    first train with them frozen, then all layers at ``lr * finetune_lr_scale``. ``class_weight``: {class index:
    loss weight} (``balance: weight``). Returns the concatenated Keras history."""
    import keras

    monitor = fp.choice("monitor", ["val_loss", "val_accuracy"], "val_loss")
    if monitor == "val_accuracy" and "accuracy" not in metrics:
        fp.fail("monitor", "is for classifiers: val_accuracy needs an accuracy this model does not report")
    loss, y_train, y_val = _smoothed(fp, loss, model, y_train, y_val)
    epochs = fp.int("epochs", min=1)
    freeze_epochs = fp.int("freeze_epochs", 0, min=0) if freeze else 0
    cbs, live = callbacks(fp, live_dir, monitor)
    kwargs = dict(batch_size=fp.int("batch_size", 32, min=1), validation_data=(x_val, y_val), callbacks=cbs,
                  verbose=fp.int("verbose", 2, min=0, max=2), shuffle=True, class_weight=class_weight)
    lr = fp.float("lr", 1e-3, min=0)
    history = {}
    phases = [(True, freeze_epochs, lr)] if freeze_epochs else []
    phases.append((False, epochs, lr * (fp.float("finetune_lr_scale", 0.1, min=0) if freeze_epochs else 1.0)))
    for frozen, n, rate in phases:
        for layer in ([freeze] if isinstance(freeze, str) else freeze or []):
            model.get_layer(layer).trainable = not frozen
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss=loss, metrics=metrics)
        h = model.fit(x_train, y_train, epochs=n, **kwargs)
        for k, v in h.history.items():
            history.setdefault(k, []).extend(v)
    if live is not None:
        live.end()
    return history


def _smoothed(fp: Checked, loss: str, model, y_train, y_val):
    """``label_smoothing`` > 0 (classifiers): one-hot targets and a smoothed categorical cross-entropy, so a
    softmax over hundreds of people with 2-5 photos each is not pushed to certainty on its training photos."""
    import keras

    smoothing = fp.float("label_smoothing", 0.0, min=0.0, max=0.5)
    if not smoothing:
        return loss, y_train, y_val
    if loss != "sparse_categorical_crossentropy":
        fp.fail("label_smoothing", "is for classifiers (sparse categorical cross-entropy)")
    n = model.output_shape[-1]
    onehot = lambda y: keras.utils.to_categorical(y, n)  # noqa: E731
    return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing), onehot(y_train), onehot(y_val)


def save_model(model, path: Path) -> None:
    """``model.save(path)``, then the .keras zip rewritten without what changes run to run (Keras' ``date_saved``,
    the entries' timestamps, the memory addresses Keras writes as ``shared_object_id``), so the same training gives the same file bytes and a
    fresh clone's ``dvc repro`` reproduces the committed dvc.lock (tests/test_determinism.py)."""
    import shutil
    import tempfile
    import zipfile

    from .atomic import atomic_file

    scratch = Path(tempfile.mkdtemp(prefix="facevoice-save-"))  # outside models/, which DVC hashes
    try:
        raw = scratch / "model.keras"
        model.save(raw)
        with atomic_file(path) as fixed, zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["date_saved"] = "1980-01-01@00:00:00"  # not recorded: the same model, the same bytes
                    data = json.dumps(meta).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared(json.loads(data), {})).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
                dst.writestr(entry, data)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _renumber_shared(node, ids: dict):
    """The config with each ``shared_object_id`` (a Python ``id()``, different in every process) replaced by its
    order of first appearance: objects shared in the model stay shared when it is loaded."""
    if isinstance(node, dict):
        return {k: (ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else _renumber_shared(v, ids))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared(v, ids) for v in node]
    return node
