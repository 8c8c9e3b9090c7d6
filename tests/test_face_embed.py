"""dlib's pretrained face embedding (facevoice.faces.embed) and LFW's 10-fold pair protocol
(facevoice.protocols.lfw_pairs).

The protocol tests run anywhere (small files made here, synthetic scores). The embedding tests use the real
LFW photos in ../shared/datasets/lfw_dev and are skipped with a reason when that folder is absent. The
accuracy test embeds about 310 photos on 2 worker processes (~0.15-0.17 s of CPU each: ~25 s on 2 idle cores).
The full protocol (all 5,274 usable pairs, with and without flip) is benchmarks/lfw_pairs.py.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_dataset

from facevoice.errors import SourceError
from facevoice.faces import embed as E
from facevoice.protocols.lfw_pairs import best_threshold, first_per_fold, read_pairs, score_pairs, ten_fold

PER_FOLD = 20  # 10 matched + 10 mismatched pairs per fold: 200 pairs


# --- the protocol, on made-up files and scores ---------------------------------------------------------

def _write_lfw(tmp_path, lines, photos):
    root = tmp_path / "photos"
    for name, n in photos:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / f"{name}_{n:04d}.jpg").write_bytes(b"")
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "pairs.txt", root


def test_read_pairs_paths_folds_and_missing(tmp_path):
    lines = ["2\t1", "Ann_Lee\t1\t12", "Ann_Lee\t1\tBo_Chen\t3", "Bo_Chen\t3\t4", "Cy_Dee\t1\tBo_Chen\t4"]
    txt, root = _write_lfw(tmp_path, lines, [("Ann_Lee", 1), ("Ann_Lee", 12), ("Bo_Chen", 3), ("Cy_Dee", 1)])
    pairs, missing = read_pairs(txt, root)
    assert list(pairs.columns) == ["fold", "left", "right", "same"]
    assert pairs["fold"].tolist() == [0, 0] and pairs["same"].tolist() == [True, False]
    assert pairs["right"].iloc[0] == str(root / "Ann_Lee" / "Ann_Lee_0012.jpg")
    assert pairs["right"].iloc[1] == str(root / "Bo_Chen" / "Bo_Chen_0003.jpg")
    # Bo_Chen_0004.jpg does not exist: both fold-1 pairs are listed as missing, not dropped silently.
    assert missing["fold"].tolist() == [1, 1] and missing["same"].tolist() == [True, False]
    assert all(a.endswith("Bo_Chen_0004.jpg") for a in missing["absent"])


@pytest.mark.parametrize("lines, message", [
    (["10 300", "Ann_Lee 1 2"], "expected 10 folds"),
    (["1 1", "Ann_Lee 1 Bo_Chen 2", "Ann_Lee 1 2"], "line 2 is not a matched pair"),
    (["one two"], "line 1 should be"),
])
def test_read_pairs_rejects_malformed_files(tmp_path, lines, message):
    txt, root = _write_lfw(tmp_path, lines, [])
    root.mkdir()
    with pytest.raises(SourceError, match=message):
        read_pairs(txt, root)


def test_ten_fold_perfectly_separable_scores():
    rng = np.random.default_rng(0)
    same = np.repeat([True, False], 300)
    folds = np.tile(np.arange(10), 60)
    r = ten_fold(np.where(same, 1.0, 0.0) + rng.uniform(0, 0.5, 600), same, folds)
    assert r["accuracy"] == 1.0 and r["fold_accuracy"] == [1.0] * 10 and r["accuracy_std"] == 0.0
    assert r["auc"] == 1.0 and r["eer"] == 0.0 and r["tar_at_far"] == 1.0
    assert r["n_pairs"] == 600 and r["n_same"] == 300
    assert r["fpr"][0] == 0 and r["tpr"][-1] == 1


def test_ten_fold_one_impostor_above_every_genuine_pair():
    """10 folds x (5 matched at 0.8-0.9, 5 mismatched at 0.1-0.2); in fold 0 one mismatched pair scores 0.95."""
    same = np.tile(np.repeat([True, False], 5), 10)
    folds = np.repeat(np.arange(10), 10)
    scores = np.where(same, 0.8, 0.1) + np.tile(np.linspace(0, 0.1, 10), 10)
    scores[5] = 0.95
    r = ten_fold(scores, same, folds, far=0.02)
    assert r["fold_accuracy"] == [0.9] + [1.0] * 9
    assert r["accuracy"] == pytest.approx(0.99)
    assert r["accuracy_std"] == pytest.approx(np.sqrt(0.001))  # ((0.09^2 + 9 x 0.01^2) / 9) ** 0.5
    assert r["auc"] == pytest.approx(1 - 50 / 2500)  # 50 of the 50 x 50 genuine/impostor orderings wrong
    assert r["eer"] == pytest.approx(0.02)
    assert r["tar_at_far"] == 1.0  # one false accept in 50 is FAR 0.02
    assert ten_fold(scores, same, folds)["tar_at_far"] == 0.0  # FAR 0.001 allows none: no genuine pair accepted


def test_best_threshold_never_cuts_between_equal_scores():
    # Splitting the two 0.5s would be "perfect", but no threshold can: every choice gets one of them wrong.
    t, acc = best_threshold(np.array([0.5, 0.5]), np.array([False, True]))
    assert acc == 0.5 and t != 0.5
    t, acc = best_threshold(np.array([0.1, 0.2, 0.6, 0.7]), np.array([False, False, True, True]))
    assert (t, acc) == (pytest.approx(0.4), 1.0)  # half-way between the classes


def test_score_pairs_cosine_of_mapping_or_function():
    pairs = pd.DataFrame({"left": ["a", "a"], "right": ["b", "c"]})
    vec = {"a": np.array([3.0, 0.0]), "b": np.array([0.0, 2.0]), "c": np.array([5.0, 5.0])}
    np.testing.assert_allclose(score_pairs(vec, pairs), [0.0, np.sqrt(0.5)])
    np.testing.assert_allclose(score_pairs(vec.__getitem__, pairs), [0.0, np.sqrt(0.5)])


def test_model_paths_names_the_package_when_absent(monkeypatch):
    monkeypatch.setattr(E.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match="face-recognition-models==0.3.0"):
        E.model_paths()


# --- real LFW photos --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lfw():
    root = shared_dataset("lfw_dev")
    return read_pairs(root / "pairs.txt", root / "lfw-deepfunneled")


@pytest.fixture(scope="module")
def embedder():
    return E.DlibEmbedder()


def test_read_pairs_counts_lfw_dev(lfw):
    pairs, missing = lfw
    assert (len(pairs), len(missing)) == (5274, 726)
    assert sorted(pairs["fold"].unique()) == list(range(10)) and pairs["same"].sum() + missing["same"].sum() == 3000
    assert missing["absent"].str.len().gt(0).all()


def test_embedding_is_a_deterministic_unit_vector(lfw, embedder):
    path = lfw[0]["left"].iloc[0]
    rgb = E.read_rgb(path)
    a, b = embedder.embed(rgb), embedder.embed(rgb)
    assert a.shape == (128,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(a, b)
    assert np.array_equal(E.embed_paths([path], progress=False)[0], a)
    rect, how = embedder.locate(rgb)
    assert how == "hog"
    box = (rect.left(), rect.top(), rect.width(), rect.height())
    np.testing.assert_allclose(embedder.embed(rgb, box), a, atol=1e-6)  # the same box, given by hand


def test_fallbacks_find_the_same_face(lfw, embedder):
    rgb = E.read_rgb(lfw[0]["left"].iloc[0])
    fallback = copy.copy(embedder)
    fallback.detector = lambda img, upsample: []  # a HOG detector that finds nothing: the CNN detector's turn
    assert fallback.locate(rgb)[1] == "cnn"
    assert float(fallback.embed(rgb) @ embedder.embed(rgb)) > 0.97
    fallback.cnn = None  # no CNN detector either: the central box
    assert fallback.locate(rgb)[1] == "central"
    assert float(fallback.embed(rgb) @ embedder.embed(rgb)) > 0.97


def test_two_people_are_farther_apart_than_one_person(lfw, embedder):
    pairs = lfw[0]
    matched = pairs[pairs["same"]]
    matched = matched[~matched["left"].map(lambda p: Path(p).parent.name).duplicated()].iloc[:4]  # 4 people
    vec = {p: embedder.embed(E.read_rgb(p)) for p in pd.concat([matched["left"], matched["right"]])}
    same = [float(vec[a] @ vec[b]) for a, b in zip(matched["left"], matched["right"])]
    people = list(matched["left"])
    different = [float(vec[a] @ vec[b]) for i, a in enumerate(people) for b in people[i + 1:]]
    assert min(same) > max(different), (same, different)


def test_ten_fold_accuracy_on_lfw_dev_pairs(lfw):
    pairs = first_per_fold(lfw[0], PER_FOLD)
    assert len(pairs) == 10 * PER_FOLD and pairs["same"].sum() == 5 * PER_FOLD
    photos = sorted(set(pairs["left"]) | set(pairs["right"]))
    # flip=False: 60% of the time of the default flip=True (better still: see benchmarks/lfw_pairs.py).
    vectors = dict(zip(photos, E.embed_paths(photos, flip=False, workers=2, progress=False)))
    r = ten_fold(score_pairs(vectors, pairs), pairs["same"], pairs["fold"])
    assert r["accuracy"] >= 0.99, r["fold_accuracy"]
    assert r["auc"] >= 0.995


def test_verify_command_separates_two_lfw_dev_people_and_joins_one(lfw, tmp_path, capsys):
    """``facevoice verify PHOTO PHOTO`` decides on dlib's descriptors at the threshold calibrated on LFW's pairs (no
    trained model needed): different real people come out "different", two photos of one person "same", and the
    answer says which embedder and threshold it used."""
    from facevoice import cli

    pairs = lfw[0]
    matched, mismatched = pairs[pairs["same"]].iloc[:3], pairs[~pairs["same"]].iloc[:3]
    for rows, expected in ((matched, "same person"), (mismatched, "different people")):
        for a, b in zip(rows["left"], rows["right"]):
            assert cli.main(["--models", str(tmp_path / "no_models"), "verify", a, b]) == 0
            out = capsys.readouterr().out
            assert out.startswith(expected + "\t") and "LFW's pairs" in out and "embedder: dlib" in out, (a, b, out)
