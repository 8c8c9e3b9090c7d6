"""Models learn: a separable toy problem is learnt, an autoencoder reconstructs, an encoder is reused."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facevoice import models
from facevoice.errors import ParamsError
from facevoice.train import run
from helpers import assert_outputs_are_declared, toy_feature


def blobs(n_classes=4, per_class=60, dim=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(n_classes, dim))
    x = np.concatenate([c + rng.normal(0, 1, size=(per_class, dim)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(n_classes), per_class)
    return x, y


def write_feature(root: Path, x, y):
    """A feature directory as the features stage writes it (index.csv + x.npy)."""
    n = len(y)
    split = np.array(["train", "train", "train", "val", "test"] * (n // 5 + 1))[:n]
    toy_feature(root / "toy", x, split, person=[f"p{v}" for v in y],
                gender=["male" if v % 2 else "female" for v in y], language="en")


TRAIN = {"epochs": 60, "batch_size": 32, "lr": 0.003, "patience": 15, "seed": 1, "verbose": 0}


@pytest.fixture
def dirs(tmp_path):
    x, y = blobs()
    write_feature(tmp_path / "features", x, y)
    return {k: tmp_path / k for k in ("features", "models", "metrics", "plots")}


def go(name, spec, d):
    return run(name, spec, features_root=d["features"], models_dir=d["models"], metrics_dir=d["metrics"],
               plots_dir=d["plots"])


def test_dense_classifier_learns_separable_blobs(dirs):
    info = go("toy_clf", {"feature": "toy", "task": "person", "builder": "dense_classifier",
                          "args": {"hidden": [32]}, "fit": TRAIN}, dirs)
    assert info["accuracy"] >= 0.95 and info["n_classes"] == 4 and info["n_test"] == 48
    assert (dirs["metrics"] / "toy_clf.json").exists() and (dirs["plots"] / "toy_clf/confusion.csv").exists()
    confusion = pd.read_csv(dirs["plots"] / "toy_clf/confusion.csv")
    assert len(confusion) == 48 and (confusion["actual"] == confusion["predicted"]).mean() == info["accuracy"]
    assert_outputs_are_declared("train", "toy_clf", dirs)


def test_gender_task_uses_the_gender_column(dirs):
    info = go("toy_gender", {"feature": "toy", "task": "gender", "builder": "dense_classifier",
                             "args": {"hidden": [16]}, "fit": TRAIN}, dirs)
    assert info["n_classes"] == 2 and info["accuracy"] >= 0.9 and "roc_auc" in info


def test_autoencoder_then_encoder_classifier_starts_from_its_weights(dirs):
    import keras

    ae = go("toy_ae", {"feature": "toy", "task": "reconstruct", "builder": "dense_ae",
                       "args": {"hidden": [32], "code": 8}, "fit": {**TRAIN, "epochs": 80}}, dirs)
    assert ae["test_mse"] < 0.5  # inputs are standardised: predicting the mean would give ~1.0
    assert_outputs_are_declared("pretrain", "toy_ae", dirs)
    pre = keras.models.load_model(dirs["models"] / "toy_ae.keras", safe_mode=True)
    clf_spec = {"feature": "toy", "task": "person", "builder": "encoder_classifier", "init_from": "toy_ae",
                "args": {"head": [16]}, "fit": {**TRAIN, "epochs": 1, "freeze_epochs": 1}}
    x, _ = blobs()
    built = models.get("encoder_classifier")((20,), 4, x, pretrained=pre, head=[16])
    for a, b in zip(built.get_layer("encoder").get_weights(), pre.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(a, b)
    clf = go("toy_ae_clf", {**clf_spec, "fit": {**TRAIN, "freeze_epochs": 10}}, dirs)
    assert clf["accuracy"] >= 0.95 and clf["init_from"] == "toy_ae"
    assert_outputs_are_declared("finetune", "toy_ae_clf", dirs)


def test_label_smoothing_and_early_stopping_on_validation_accuracy(dirs):
    """Real-photo fit options: smoothed one-hot targets and early stopping on val_accuracy still learn; both are
    refused where they mean nothing (an autoencoder)."""
    import keras

    fit = {**TRAIN, "label_smoothing": 0.1, "monitor": "val_accuracy"}
    info = go("toy_smooth", {"feature": "toy", "task": "person", "builder": "dense_classifier",
                             "args": {"hidden": [32]}, "fit": fit}, dirs)
    assert info["accuracy"] >= 0.95
    probs = keras.models.load_model(dirs["models"] / "toy_smooth.keras").predict(blobs()[0], verbose=0)
    assert probs.max() < 0.99  # smoothed targets: never pushed to certainty
    for key, value in (("label_smoothing", 0.1), ("monitor", "val_accuracy")):
        with pytest.raises(ParamsError, match=f"fit.{key}' is for classifiers"):
            go("toy_ae_bad", {"feature": "toy", "task": "reconstruct", "builder": "dense_ae", "args": {"code": 4},
                              "fit": {**TRAIN, key: value}}, dirs)


def test_min_delta_stops_when_improvements_are_smaller(dirs):
    """``fit.min_delta``: an epoch counts as an improvement only when the monitored loss drops by more than it, so a
    fit whose validation loss creeps down by tiny steps stops after ``patience`` such epochs."""
    def epochs_run(name, **fit):
        go(name, {"feature": "toy", "task": "person", "builder": "dense_classifier", "args": {"hidden": [32]},
                  "fit": {**TRAIN, "epochs": 30, "patience": 2, **fit}}, dirs)
        return len(pd.read_csv(dirs["plots"] / name / "live/plots/metrics/eval/loss.tsv", sep="\t"))

    assert epochs_run("toy_md", min_delta=100.0) == 3  # the first epoch, then 2 without a drop of 100
    assert epochs_run("toy_no_md") > 3
    with pytest.raises(ParamsError, match="min_delta"):
        epochs_run("toy_bad_md", min_delta=-1)


def test_unknown_builder_and_missing_init_are_params_errors(dirs):
    with pytest.raises(ParamsError, match="unknown model builder 'resnet9000'"):
        models.get("resnet9000")
    with pytest.raises(ParamsError, match="init_from"):
        go("bad", {"feature": "toy", "task": "person", "builder": "encoder_classifier", "init_from": "nope",
                   "fit": TRAIN}, dirs)


def test_clip_accuracy_averages_chunk_scores_per_clip():
    from facevoice.train import clip_accuracy

    paths = np.array(["a", "a", "a", "b", "b"])
    y = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])  # chunk accuracy 2/5
    out = clip_accuracy(paths, y, probs)
    assert out == {"clip_accuracy": 1.0, "clip_accuracy_ci": [1.0, 1.0], "n_test_clips": 2}  # a: mean 0.567 for class 0; b: 0.55 for class 1
    assert clip_accuracy(np.array(["a", "b"]), np.array([0, 1]), probs[:2]) == {}


def test_cli_best_model_skips_fusion_models_that_have_no_single_input(tmp_path):
    """identify picks the best single-modality model; a fusion model (feature_params None) never breaks it."""
    import json

    from facevoice.inference import Models

    metas = {"fusion_cnn_dense": {"task": "person", "classes": ["a", "b"], "accuracy": 1.0, "feature_params": None},
             "face_cnn": {"task": "person", "classes": ["a", "b"], "accuracy": 0.8, "feature_params": {"kind": "faces"}},
             "mfcc_dense": {"task": "person", "classes": ["a", "b"], "accuracy": 0.9, "feature_params": {"kind": "mfcc"}}}
    for name, meta in metas.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(meta))
        (tmp_path / f"{name}.keras").write_bytes(b"")
    models = Models(tmp_path)
    assert models.best("face") == "face_cnn" and models.best("voice") == "mfcc_dense"
    # a classifier on dlib's face descriptor is a face model, never picked for a clip
    (tmp_path / "face_embed_dense.json").write_text(json.dumps({"task": "person", "classes": ["a", "b"], "accuracy": 0.95,
                                                                "feature_params": {"kind": "face_embed"}}))
    (tmp_path / "face_embed_dense.keras").write_bytes(b"")
    assert models.best("face") == "face_embed_dense" and models.best("voice") == "mfcc_dense"


@pytest.mark.parametrize("builder,args", [("logreg", {"C": 1.0}), ("pca_svm", {"components": 10, "C": 10.0})])
def test_classic_baselines_learn_separable_blobs(dirs, builder, args):
    info = go(f"toy_{builder}", {"feature": "toy", "task": "person", "builder": builder, "args": args}, dirs)
    assert info["accuracy"] >= 0.95 and info["fitted_on"] == "train"
    assert_outputs_are_declared("baseline", f"toy_{builder}", dirs)


def test_the_report_reads_each_model_beside_its_baseline():
    from facevoice.report import beside_baseline

    found = {"face_pca_svm": {"feature": "faces", "task": "person", "builder": "pca_svm", "accuracy": 0.5},
             "face_cnn": {"feature": "faces", "task": "person", "builder": "image_cnn", "accuracy": 0.25},
             "voice_mfcc_logreg": {"feature": "mfcc", "task": "person", "builder": "logreg", "accuracy": 0.8},
             "audio_cnn": {"feature": "logspec", "task": "person", "builder": "cnn_classifier", "accuracy": 0.9},
             "gender_cnn": {"feature": "mel6s", "task": "gender", "builder": "cnn_classifier", "accuracy": 0.9},
             "face_ae_clf": {"feature": "faces", "task": "person", "builder": "encoder_classifier", "skipped": "x"}}
    out = beside_baseline(found)
    assert out["face_cnn"][0] == "face_pca_svm" and out["face_cnn"][1] == pytest.approx(-0.25)
    assert out["audio_cnn"][0] == "voice_mfcc_logreg" and out["audio_cnn"][1] == pytest.approx(0.1)
    assert "gender_cnn" not in out and "face_ae_clf" not in out and "face_pca_svm" not in out
    # a classic builder on a pretrained embedding is a model read beside the baseline, not the baseline
    found["voice_embed_logreg"] = {"feature": "voice_embed", "task": "person", "builder": "logreg", "accuracy": 0.95}
    out = beside_baseline(found)
    assert out["voice_embed_logreg"][0] == "voice_mfcc_logreg" and out["audio_cnn"][0] == "voice_mfcc_logreg"


def test_a_model_that_answers_one_class_for_every_row_is_flagged():
    from facevoice.evaluate import classification_metrics

    y = np.array([0, 1, 0, 1, 1])
    one = classification_metrics(y, np.tile([0.3, 0.7], (5, 1)), ["f", "m"])
    assert one["degenerate"] == "predicts one class" and one["accuracy"] == pytest.approx(0.6)
    assert "degenerate" not in classification_metrics(y, np.eye(2)[y] * 0.8 + 0.1, ["f", "m"])


def test_a_model_the_corpus_cannot_serve_is_skipped_with_its_reason(dirs):
    """One class in training, or no test person seen in training (open-set split): the stage succeeds and
    writes {"skipped": reason} plus placeholders for every output DVC declares."""
    one = go("toy_lang", {"feature": "toy", "task": "language", "builder": "dense_classifier",
                          "args": {"hidden": [8]}, "fit": TRAIN}, dirs)
    assert "one language only (en)" in one["skipped"]
    assert_outputs_are_declared("train", "toy_lang", dirs)
    assert (dirs["plots"] / "toy_lang/live/plots/metrics").is_dir()
    x, y = blobs()
    open_set = dirs["features"].parent / "open"
    split = np.where(y < 2, "train", np.where(y == 2, "val", "test"))  # people split between train and test
    toy_feature(open_set / "toy", x, split, person=[f"p{v}" for v in y], gender="male", language="en")
    d = {**dirs, "features": open_set}
    info = go("toy_person", {"feature": "toy", "task": "person", "builder": "dense_classifier",
                             "args": {"hidden": [8]}, "fit": TRAIN}, d)
    assert "closed-set person classifier" in info["skipped"]
    after = go("toy_after", {"feature": "toy", "task": "person", "builder": "encoder_classifier",
                             "init_from": "toy_person", "fit": TRAIN}, d)
    assert "toy_person, which toy_after starts from, was skipped" in after["skipped"]


def test_intervals_resample_whole_recordings():
    """A 95% interval resampled by source: 10 recordings of 20 chunks each, 7 recordings right and 3 wrong.
    Resampling chunks as if independent would give a narrow interval; by recording it is wide and holds 0.7."""
    from facevoice.evaluate import bootstrap_ci, classification_metrics

    groups = np.repeat(np.arange(10), 20)
    correct = np.repeat([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 20).astype(float)
    by_recording = bootstrap_ci(groups, lambda rows: correct[rows].mean())
    by_chunk = bootstrap_ci(np.arange(200), lambda rows: correct[rows].mean())
    assert by_recording[0] < 0.7 < by_recording[1] and by_recording[1] - by_recording[0] > 0.4
    assert by_chunk[1] - by_chunk[0] < 0.2
    assert bootstrap_ci(groups, lambda rows: correct[rows].mean()) == by_recording  # seeded: same every run
    y = np.repeat([0, 1], 100)
    probs = np.stack([1 - correct, correct], axis=1)[np.r_[0:100, 100:200]]
    out = classification_metrics(y, np.where(y[:, None] == 1, probs, probs[:, ::-1]), ["a", "b"], groups)
    assert out["accuracy"] == pytest.approx(0.7) and out["accuracy_ci"][0] <= 0.7 <= out["accuracy_ci"][1]
    assert "f1_macro_ci" in out and "roc_auc_ci" in out


def test_macro_f1_interval_holds_its_point_with_two_test_rows_a_class():
    """24 people, 2 test photos each, 3 of 4 right (the wrong ones all called person 0): a resample leaves some
    people out, and they must not count as an F1 of 0 (the interval then lay wholly below the point estimate)."""
    from facevoice.evaluate import classification_metrics

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(24), 2)
    pred = np.where(rng.random(48) < 0.75, y, 0)
    out = classification_metrics(y, np.eye(24)[pred], [f"p{i}" for i in range(24)], groups=np.arange(48))
    assert out["f1_macro_ci"][0] <= out["f1_macro"] <= out["f1_macro_ci"][1], out


def test_fast_interval_statistics_equal_sklearn():
    from sklearn.metrics import f1_score, roc_auc_score

    from facevoice.evaluate import binary_auc, macro_f1

    rng = np.random.default_rng(0)
    for n in (2, 7):
        y, p = rng.integers(0, n, 300), rng.integers(0, n - 1, 300)  # the last class is never predicted
        assert macro_f1(y, p, n) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    y, p = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])  # classes 2-4 neither true nor predicted: not counted
    assert macro_f1(y, p, 5) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    y, s = rng.integers(0, 2, 300), np.round(rng.random(300), 1)  # ties
    assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_balance_weight_weighs_classes_equally_and_keeps_every_row(dirs):
    from facevoice.train import class_weights

    w = class_weights(np.array([0] * 30 + [1] * 10))
    assert w == {0: pytest.approx(40 / 60), 1: pytest.approx(2.0)} and 30 * w[0] == pytest.approx(10 * w[1])
    info = go("toy_weighted", {"feature": "toy", "task": "gender", "builder": "dense_classifier", "balance": "weight",
                               "args": {"hidden": [16]}, "fit": TRAIN}, dirs)
    assert info["accuracy"] >= 0.9 and "n_train_before_balance" not in info  # no row dropped
    with pytest.raises(ParamsError, match="'baseline.toy_svm.balance': weight is for Keras models"):
        run("toy_svm", {"feature": "toy", "task": "gender", "builder": "linear_svm", "balance": "weight", "args": {}},
            features_root=dirs["features"], models_dir=dirs["models"], metrics_dir=dirs["metrics"],
            plots_dir=dirs["plots"], section="baseline.toy_svm")


def test_an_unknown_pool_is_a_one_line_error_in_every_builder_that_pools():
    """``pool`` is checked in one place (models/layers.pool_layers): the encoder classifier used to flatten an
    unknown value silently."""
    shape, x = (16, 16, 1), np.zeros((4, 16, 16, 1), dtype=np.uint8)
    ae = models.get("conv_ae")(shape, 0, x, filters=[4])
    with pytest.raises(ParamsError, match="'pool' must be time, gap, flatten; got 'mean'"):
        models.get("conv_encoder_classifier")(shape, 3, x, pretrained=ae, pool="mean")
    with pytest.raises(ParamsError, match="'pool' must be time, gap, flatten; got 'mean'"):
        models.get("cnn_classifier")(shape, 3, x, filters=[4], pool="mean")


def test_logreg_keeps_a_unit_embedding_as_it_is_when_asked():
    from facevoice.models import baseline

    assert len(baseline.build_logreg((4,), 2, None).steps) == 2  # StandardScaler + LogisticRegression
    assert [type(s).__name__ for _, s in baseline.build_logreg((4,), 2, None, standardize=False).steps] == \
        ["LogisticRegression"]
