"""The split is decided once, by person or by source recording, and no source lands in two splits."""
import numpy as np
import pandas as pd
import pytest

from facevoice.errors import ParamsError
from facevoice.prepare import prepare
from facevoice.split import assign_splits, group_holdout

RATIOS = {"train": 0.6, "val": 0.2, "test": 0.2}


def toy(n_people=10, n_sources=10, chunks=3):
    rows = [{"person": f"p{p}", "source_id": f"p{p}/rec{s}"} for p in range(n_people) for s in range(n_sources)
            for _ in range(chunks)]
    return pd.DataFrame(rows)


def test_by_recording_keeps_each_source_in_one_split_and_every_person_in_train_and_test():
    df = toy()
    df["split"] = assign_splits(df, "recording", RATIOS, seed=1)
    assert (df.groupby("source_id")["split"].nunique() == 1).all()
    per_person = df.groupby("person")["split"].agg(set)
    assert all({"train", "val", "test"} <= s for s in per_person)
    share = df.drop_duplicates("source_id")["split"].value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.6, abs=0.01)


def test_by_person_makes_people_disjoint():
    df = toy(n_people=20)
    df["split"] = assign_splits(df, "person", RATIOS, seed=3)
    assert (df.groupby("person")["split"].nunique() == 1).all()
    assert set(df["split"]) == {"train", "val", "test"}


def test_split_is_deterministic_and_seed_dependent():
    df = toy()
    a, b = assign_splits(df, "recording", RATIOS, 5), assign_splits(df, "recording", RATIOS, 5)
    assert (a == b).all()
    assert not (a == assign_splits(df, "recording", RATIOS, 6)).all()


@pytest.mark.parametrize("by,ratios", [("photo", RATIOS), ("person", {"train": 0.9, "test": 0.2}),
                                       ("person", {"train": 1.0, "dev": 0.0})])
def test_bad_split_params_name_the_key(by, ratios):
    with pytest.raises(ParamsError, match="prepare.split"):
        assign_splits(toy(), by, ratios, 0)


def test_group_holdout_never_splits_a_group():
    groups = np.repeat(np.arange(20), 4)
    mask = group_holdout(groups, 0.2, seed=0)
    for g in range(20):
        assert len(set(mask[groups == g])) == 1
    assert mask.sum() == 16


@pytest.mark.parametrize("by", ["recording", "person"])
def test_prepare_on_real_fsdd_puts_no_recording_in_two_splits(tmp_path, fsdd, by):
    counts = prepare({"voices": {"source": "folder", "root": str(fsdd),
                                 "options": {"manifest": str(fsdd / "manifest.csv")}}},
                     {"by": by, "ratios": RATIOS, "seed": 0}, tmp_path, workers=2)
    voices = pd.read_csv(tmp_path / "voices.csv", dtype=str)
    listed = pd.read_csv(fsdd / "manifest.csv")
    assert counts["voices"]["found"] == len(listed) == counts["voices"]["kept"] + counts["voices"]["rejected"]
    assert voices["path"].is_unique
    assert (voices.groupby("source_id")["split"].nunique() == 1).all()
    assert set(voices["person"]) == set(listed["speaker"])
    if by == "person":
        assert (voices.groupby("person")["split"].nunique() == 1).all()
    else:
        assert (voices.groupby("person")["split"].nunique() == 3).all()
    # genders come from the manifest
    assert set(voices["gender"]) <= {"male", "female"}
