"""Real speech through the library (prepare -> features.build -> train.run), in temporary directories.

FSDD: speaker identification, 6 speakers, split by recording (no clip in two splits) -> >= 98% (the best
model). URDU: gender, split by speaker (no speaker in two splits, asserted) -> >= 90%. Every model's
numbers on both corpora: benchmarks/voice_real.py -> docs/VOICE_RESULTS.md.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from facevoice import params as P

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("facevoice_voice_real", ROOT / "benchmarks" / "voice_real.py")
voice_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(voice_real)

PARAMS = P.load(ROOT / "params.yaml")


def _spec_of(name: str) -> dict:
    for group in voice_real.VOICE_GROUPS:
        if name in (PARAMS.get(group) or {}):
            return dict(PARAMS[group][name])
    raise KeyError(name)


def test_fsdd_speaker_identification_recording_disjoint(fsdd, tmp_path):
    manifest = voice_real.prepare_corpus("fsdd", tmp_path)
    m = pd.read_csv(manifest)
    assert len(m) == 3000 and m["person"].nunique() == 6
    assert m.groupby("path")["split"].nunique().max() == 1 and set(m["split"]) == {"train", "val", "test"}
    # every speaker in train and test: closed-set identification on unseen recordings
    assert (m[m["split"] == "test"].groupby("person").size() > 50).all()
    summary = voice_real.build_feature("mfcc", "fsdd", manifest, tmp_path, PARAMS)
    assert summary["clips_kept"] >= 2990
    info = voice_real.train("mfcc_dense", _spec_of("mfcc_dense"), tmp_path, task="person")
    assert info["n_classes"] == 6 and info["n_test"] >= 550
    assert info["accuracy"] >= 0.98, info


def test_urdu_gender_speaker_disjoint(urdu_speech, tmp_path):
    manifest = voice_real.prepare_corpus("urdu_speech", tmp_path)
    m = pd.read_csv(manifest)
    assert m["person"].nunique() == 29
    speaker_splits = m.groupby("person")["split"].nunique()
    assert speaker_splits.max() == 1, "a speaker is in two splits"
    test = m[m["split"] == "test"]
    assert set(test["gender"]) == {"male", "female"} and test["person"].nunique() >= 5
    voice_real.build_feature("mfcc", "urdu_speech", manifest, tmp_path, PARAMS)
    info = voice_real.train("mfcc_dense", _spec_of("mfcc_dense"), tmp_path, task="gender")
    assert info["n_classes"] == 2
    assert info["accuracy"] >= 0.90, info
