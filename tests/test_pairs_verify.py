"""Identity-matched pairs respect both parts' splits; the siamese verifier learns unseen people."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facevoice import pairs as pairs_mod
from facevoice.store import ArrayStore
from facevoice.verify import eer, sample_pairs
from helpers import assert_outputs_are_declared


def write_store(d: Path, index: pd.DataFrame, arrays: dict):
    d.mkdir(parents=True)
    for key, x in arrays.items():
        store = ArrayStore(d / f"{key}.npy")
        for row in x:
            store.append(row)
        store.close()
    index.to_csv(d / "index.csv", index=False)


def fake_features(root: Path, n_people=12, photos=6, clips=6, seed=0):
    """Faces (8x8x1 uint8) and voices (16-dim) whose person is recoverable from either, split by source."""
    rng = np.random.default_rng(seed)
    face_c = rng.integers(40, 200, size=(n_people, 8, 8, 1))
    voice_c = rng.normal(0, 3, size=(n_people, 16))
    split_of = lambda k, n: "train" if k < n - 2 else ("val" if k == n - 2 else "test")  # noqa: E731
    f_rows, f_x, v_rows, v_x = [], [], [], []
    for p in range(n_people):
        for k in range(photos):
            f_rows.append({"path": f"f/{p}/{k}.jpg", "person": f"p{p}", "gender": "male", "language": "en",
                           "source_id": f"p{p}/photo{k}", "split": split_of(k, photos), "chunk": 0})
            f_x.append(np.clip(face_c[p] + rng.normal(0, 10, (8, 8, 1)), 0, 255).astype(np.uint8))
        for k in range(clips):
            for chunk in range(2):  # two chunks per clip: pairs take the first
                v_rows.append({"path": f"v/{p}/{k}.wav", "person": f"p{p}", "gender": "male", "language": "en",
                               "source_id": f"p{p}/clip{k}", "split": split_of(k, clips), "chunk": chunk})
                v_x.append((voice_c[p] + rng.normal(0, 0.5, 16)).astype(np.float32))
    write_store(root / "faces", pd.DataFrame(f_rows), {"x": np.array(f_x)})
    write_store(root / "mfcc", pd.DataFrame(v_rows), {"x": np.array(v_x)})


SPEC = {"face": {"feature": "faces"}, "voices": {"mfcc": {"feature": "mfcc", "store": "x"}},
        "pairing": "identity", "per_person": {"train": 10, "val": 4, "test": 4}, "seed": 1,
        "verify_split": {"by": "person", "ratios": {"train": 0.5, "val": 0.25, "test": 0.25}, "seed": 2}}


def test_pairs_match_identity_and_split(tmp_path):
    fake_features(tmp_path / "features")
    summary = pairs_mod.build(SPEC, tmp_path / "features", tmp_path / "pairs")
    index = pd.read_csv(tmp_path / "pairs/index.csv")
    faces = pd.read_csv(tmp_path / "features/faces/index.csv").set_index("source_id")
    voices = pd.read_csv(tmp_path / "features/mfcc/index.csv").drop_duplicates("source_id").set_index("source_id")
    assert summary["samples"] == len(index) == 12 * 18
    assert (index["person"] == index["voice_person"]).all()
    assert (faces.loc[index["face_source"], "split"].values == index["split"].values).all()
    assert (voices.loc[index["voice_source"], "split"].values == index["split"].values).all()
    assert (faces.loc[index["face_source"], "person"].values == index["person"].values).all()
    assert (index.groupby("person")["verify_split"].nunique() == 1).all()
    face = np.load(tmp_path / "pairs/face.npy")
    assert face.shape == (len(index), 8, 8, 1) and face.dtype == np.uint8


def test_chimeric_pairing_maps_people_one_to_one_and_says_so(tmp_path):
    fake_features(tmp_path / "features")
    pairs_mod.build({**SPEC, "pairing": "chimeric"}, tmp_path / "features", tmp_path / "pairs")
    index = pd.read_csv(tmp_path / "pairs/index.csv")
    mapping = index.groupby("person")["voice_person"].agg(set)
    assert all(len(v) == 1 for v in mapping) and len({next(iter(v)) for v in mapping}) == 12
    assert (index["pairing"] == "chimeric").all()


def test_sample_pairs_are_balanced_and_eer_is_right():
    persons = np.repeat(np.array(["a", "b", "c"]), 4)
    i, j, same = sample_pairs(persons, 100, np.random.default_rng(0))
    assert same.mean() == 0.5
    assert ((persons[i] == persons[j]) == same.astype(bool)).all() and not np.any((i == j) & (same == 1))
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rate, thr, *_ = eer(y, np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9]))
    assert rate == pytest.approx(0.25) and 0.4 <= thr <= 0.6


def test_siamese_verifies_unseen_people(tmp_path):
    from facevoice.verify import run

    fake_features(tmp_path / "features", n_people=32)
    pairs_mod.build(SPEC, tmp_path / "features", tmp_path / "pairs")
    spec = {"voice_store": "mfcc", "embedding": 8, "pairs_train": 1500, "pairs_val": 200, "pairs_test": 400,
            "face_branch": {"builder": "image_cnn", "args": {"filters": [4], "head": [16], "l2": 0.0}},
            "voice_branch": {"builder": "dense_classifier", "args": {"hidden": [16]}},
            "fit": {"epochs": 30, "batch_size": 64, "lr": 0.003, "patience": 6, "seed": 0, "verbose": 0}}
    info = run("siam", spec, pairs_dir=tmp_path / "pairs", models_dir=tmp_path / "models",
               metrics_dir=tmp_path / "metrics", plots_dir=tmp_path / "plots")
    assert info["open_set"] and info["test_people_seen_in_training"] == 0
    assert info["roc_auc"] > 0.9 and info["eer"] < 0.15
    assert {"eer", "eer_threshold", "roc_auc", "precision", "recall"} <= set(info["face_only"])
    d = {k: tmp_path / k for k in ("models", "metrics", "plots")}
    assert_outputs_are_declared("verify", "siam", d)  # the three models, roc/det, each variant's curves in live/
    import keras

    keras.models.load_model(tmp_path / "models/siam.keras", safe_mode=True)


def test_a_verifier_without_pairs_writes_every_declared_output(tmp_path):
    from facevoice.verify import run

    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs/summary.json").write_text('{"skipped": "pairs need faces and voices"}')
    info = run("siam", {}, pairs_dir=tmp_path / "pairs", models_dir=tmp_path / "models",
               metrics_dir=tmp_path / "metrics", plots_dir=tmp_path / "plots")
    assert info["skipped"] == "pairs were skipped: pairs need faces and voices"
    assert_outputs_are_declared("verify", "siam", {k: tmp_path / k for k in ("models", "metrics", "plots")})


def test_face_embed_rows_are_the_drawn_photos_own_and_photos_without_one_are_not_drawn(tmp_path):
    """``pairs.face_embed``: the pairs' face_embed store holds, for every sample, the descriptor of the very
    photo whose crop is in its face store; a photo the embedding stage rejected is never drawn."""
    root = tmp_path / "features"
    fake_features(root)
    faces = pd.read_csv(root / "faces/index.csv")
    kept = faces[faces["path"] != "f/0/0.jpg"].reset_index(drop=True)  # dlib "found no face" in one photo
    vectors = np.array([[hash(p) % 1000, k] for k, p in enumerate(kept["path"])], dtype=np.float32)
    write_store(root / "face_embed", kept, {"x": vectors})
    spec = {**SPEC, "face_embed": {"feature": "face_embed", "store": "x"}}
    pairs_mod.build(spec, root, tmp_path / "pairs")
    index = pd.read_csv(tmp_path / "pairs/index.csv")
    emb = np.load(tmp_path / "pairs/face_embed.npy")
    assert emb.shape == (len(index), 2) and "f/0/0.jpg" not in set(index["face_path"])
    expected = kept.set_index("path").assign(k=np.arange(len(kept))).loc[index["face_path"], "k"].values
    assert (emb[:, 1] == expected).all()
    assert (faces.loc[index["face_row"], "path"].values == index["face_path"].values).all()
    inputs = json.loads((tmp_path / "pairs/inputs.json").read_text())
    assert inputs["face_embed"]["feature"] == "face_embed"
