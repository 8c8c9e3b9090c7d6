"""The compare stage scores every identity model on the same test pairs, each against its own labels."""
import json

import numpy as np
import pytest
import pandas as pd


def _save(models_dir, name, model, classes, feature, store, task="person"):
    model.save(models_dir / f"{name}.keras")
    (models_dir / f"{name}.json").write_text(json.dumps(
        {"task": task, "classes": list(classes), "feature": feature, "params": {"store": store}}))


def _identity_model(n_in, scale=1.0):
    import keras

    inp = keras.Input(shape=(n_in,))
    dense = keras.layers.Dense(n_in, use_bias=False)
    model = keras.Model(inp, dense(inp))
    dense.set_weights([np.eye(n_in, dtype=np.float32) * scale])
    return model


def test_compare_on_pairs_scores_each_model_on_the_test_pairs_against_its_own_labels(tmp_path):
    """Face model right on every test pair, voice model right on half (judged on voice_person, the voice
    corpus's names), fusion right on all; train rows, a gender model and a model whose input the pairs do
    not hold are left out; the best single, best fused and the gain reconcile."""
    import keras

    from facevoice.compare import compare_on_pairs, compare_single

    people = ["ann", "bob", "cyd"]
    split = ["train"] * 6 + ["test"] * 6
    person = [people[i % 3] for i in range(12)]
    face = np.eye(3, dtype=np.float32)[[i % 3 for i in range(12)]]
    voice_ok = [True] * 9 + [False] * 3  # test rows 6..8 right, 9..11 wrong
    voice = np.eye(3, dtype=np.float32)[[(i % 3) if ok else (i + 1) % 3 for i, ok in enumerate(voice_ok)]]
    pairs = tmp_path / "features" / "pairs"
    pairs.mkdir(parents=True)
    np.save(pairs / "face.npy", face)
    np.save(pairs / "voice_mfcc.npy", voice)
    pd.DataFrame({"person": person, "voice_person": [f"v_{p}" for p in person], "split": split,
                  "pairing": "chimeric"}).to_csv(pairs / "index.csv", index=False)
    (pairs / "inputs.json").write_text(json.dumps({"face": {"feature": "faces", "store": "x"},
                                                   "voice_mfcc": {"feature": "mfcc", "store": "x"}}))
    models = tmp_path / "models"
    models.mkdir()
    _save(models, "face_net", _identity_model(3), people, "faces", "x")
    _save(models, "voice_net", _identity_model(3), [f"v_{p}" for p in people], "mfcc", "x")
    _save(models, "gender_net", _identity_model(3), ["f", "m", "x"], "mfcc", "x", task="gender")
    _save(models, "spec_net", _identity_model(3), people, "logspec", "x")  # the pairs hold no logspec
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    fa, fb = keras.layers.Dense(3, use_bias=False), keras.layers.Dense(3, use_bias=False)
    fused = keras.Model([a, b], keras.layers.Add()([fa(a), fb(b)]))
    fa.set_weights([2 * np.eye(3, dtype=np.float32)])  # the face outweighs a wrong voice
    fb.set_weights([np.eye(3, dtype=np.float32)])
    _save(models, "fused_net", fused, people, "pairs", ["face", "voice_mfcc"])

    out = compare_on_pairs(models, pairs)
    assert out["n_samples"] == 6 and out["split"] == "test" and out["pairing"] == "chimeric"
    assert set(out["models"]) == {"face_net", "voice_net", "fused_net"}
    assert out["models"]["face_net"] == {"inputs": "face", "accuracy": 1.0}
    assert out["models"]["voice_net"] == {"inputs": "voice", "accuracy": 0.5}
    assert out["models"]["fused_net"] == {"inputs": "face+voice", "accuracy": 1.0}
    assert (out["best_single_model"], out["best_fusion_model"], out["fusion_gain"]) == ("face_net", "fused_net", 0.0)

    test = np.array(split) == "test"  # the fusion training's own check of its branches uses the same scorer
    got = compare_single(models, {"face_model": "face_net", "voice_model": "voice_net"},
                         [face[test], voice[test]], np.array(person)[test])
    assert got == {"face_only_accuracy": 1.0, "voice_only_accuracy": 0.0}  # voice_net names the v_ people


def test_fusion_gain_interval_is_paired_and_resamples_people():
    from facevoice.compare import paired_gain_ci

    people = np.repeat([f"p{i}" for i in range(20)], 5)
    single = np.tile([True, True, False, True, False], 20)  # 0.6
    lo, hi = paired_gain_ci(np.ones(100, bool), single, people)
    assert lo == hi == pytest.approx(0.4)  # every person has the same 2 of 5 fixed: no spread between people
    same = paired_gain_ci(single, single, people)
    assert same == [0.0, 0.0]
    noisy = paired_gain_ci(np.random.default_rng(0).random(100) < 0.7, single, people)
    assert noisy[0] < 0.1 < noisy[1]
