"""Speaker verification on a trial list: EER, minDCF, open-set trials drawn from the test speakers, and a
VoxCeleb1-O style list matched to the feature store (unmatched trials counted, not dropped)."""
import json

import numpy as np
import pytest

from facevoice.protocols.trials import min_dcf, run
from helpers import toy_feature


def speakers(root, n_people=8, clips=6, seed=0):
    """An mfcc-like feature: 16-dim vectors around one centre per speaker; speakers 0-3 train, 4-7 test."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(n_people, 16))
    x = np.concatenate([c + rng.normal(0, 0.5, size=(clips, 16)) for c in centres]).astype(np.float32)
    person = np.repeat([f"s{p}" for p in range(n_people)], clips)
    split = np.where(np.repeat(np.arange(n_people), clips) < n_people // 2, "train", "test")
    toy_feature(root / "mfcc", x, split, person=person, gender="male", language="en")
    return root / "mfcc"


def test_min_dcf_of_perfect_and_useless_scores():
    same = np.array([1, 1, 0, 0, 0, 0])
    assert min_dcf(same, np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.0])) == 0.0
    assert min_dcf(same, np.zeros(6)) == pytest.approx(1.0)  # no threshold does better than "always different"


def test_open_set_trials_of_unseen_speakers(tmp_path):
    feature = speakers(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models/mfcc_ae.json").write_text(json.dumps({"skipped": "no clips"}))
    out = run({"embeddings": ["mfcc_stats", "mfcc_ae"], "max_trials": 200}, feature, tmp_path / "models",
              tmp_path / "plots")
    assert out["n_speakers"] == 4 and out["speakers_seen_in_training"] == 0  # open-set
    assert out["n_target"] == 4 * 15 and out["n_trials"] == 120  # every same-speaker pair, as many others
    stats = out["embeddings"]["mfcc_stats"]
    assert stats["eer"] < 0.05 and stats["min_dcf"] < 0.5 and stats["roc_auc"] > 0.98
    assert out["embeddings"]["mfcc_ae"] == {"skipped": "no clips"}
    assert (tmp_path / "plots/det.csv").read_text().startswith("embedding,fpr,fnr")


def test_a_trial_list_is_matched_by_path_and_unmatched_trials_are_counted(tmp_path):
    feature = speakers(tmp_path)
    lines = ["1 c0.wav c1.wav", "0 c0.wav c30.wav", "1 c30.wav c31.wav", "0 c1.wav nowhere/c999.wav"]
    (tmp_path / "trials.txt").write_text("\n".join(lines) + "\n")
    out = run({"list": str(tmp_path / "trials.txt"), "embeddings": ["mfcc_stats"]}, feature, tmp_path / "models",
              tmp_path / "plots")
    assert out["n_trials"] == 3 and out["n_unmatched_trials"] == 1 and out["n_target"] == 2
    assert (tmp_path / "plots/missing.csv").read_text().splitlines()[1] == lines[3]


def fake_pairs(root, n_people=8, samples=6, seed=0):
    """Pairs samples whose face part separates people well and whose voice part barely does."""
    import pandas as pd

    from facevoice.store import ArrayStore

    rng = np.random.default_rng(seed)
    rows, face, voice = [], [], []
    for p in range(n_people):
        fc, vc = rng.normal(0, 3, 16), rng.normal(0, 0.3, 8)
        for k in range(samples):
            rows.append({"person": f"p{p}", "verify_split": "train" if p < 4 else "test", "split": "train",
                         "face_source": f"p{p}/photo{k % 4}", "voice_source": f"p{p}/clip{k}", "chunk": 0,
                         "path": f"v{p}_{k}.wav", "pairing": "identity"})
            face.append(fc + rng.normal(0, 0.5, 16))
            voice.append(vc + rng.normal(0, 1.0, 8))
    root.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    for name, x in (("face", face), ("face_embed", face), ("voice_mfcc", voice)):
        store = ArrayStore(root / f"{name}.npy")
        for row in np.asarray(x, dtype=np.float32):
            store.append(row)
        store.close()
    (root / "summary.json").write_text("{}")
    return pd.DataFrame(rows)


def test_face_voice_trials_score_fused_and_single_embeddings_on_the_same_open_set_trials(tmp_path):
    from facevoice.protocols import face_voice_trials as fv

    index = fake_pairs(tmp_path / "pairs")
    (tmp_path / "models").mkdir()
    (tmp_path / "models/siamese.json").write_text(json.dumps({"skipped": "no pairs"}))
    out, curves = fv.run(["siamese"], 400, 0, tmp_path / "pairs", tmp_path / "models")
    trials = fv.sample_trials(index, 400, 0)
    e, t = trials["enrol"].values, trials["test"].values
    assert set(index["verify_split"].values[np.r_[e, t]]) == {"test"} and out["n_people"] == 4  # open-set
    assert not (index["face_source"].values[e] == index["face_source"].values[t]).any()  # no shared photo
    assert out["n_trials"] == len(trials) and 0 < out["n_target"] < len(trials)
    emb = out["embeddings"]
    assert emb["dlib"]["eer"] < 0.05 < emb["mfcc_stats"]["eer"]
    assert emb["dlib+mfcc_stats"]["roc_auc"] > emb["mfcc_stats"]["roc_auc"]
    assert emb["siamese_fused"] == {"skipped": "no pairs"}
    assert out["best_single"] == "dlib" and out["best_fused"] == "dlib+mfcc_stats"
    for name in ("dlib", "mfcc_stats"):  # 95% intervals resampling the 4 enrolment people
        (lo, hi), (alo, ahi) = emb[name]["eer_ci"], emb[name]["roc_auc_ci"]
        assert lo <= emb[name]["eer"] <= hi and alo <= emb[name]["roc_auc"] <= ahi
    assert {c["embedding"].iloc[0] for c in curves} == {"face+voice: dlib", "face+voice: mfcc_stats",
                                                         "face+voice: dlib+mfcc_stats"}
