"""``pairs``: identity-matched (face crop, voice sample) samples, respecting both parts' splits.

For every person who has photos and clips, ``per_person[split]`` samples are drawn, each a face row
and a voice row **of the same split** (so no photo or recording crosses splits). With faces and
voices from different corpora, ``pairing: chimeric`` maps face people to voice people one to one
(seeded) and every row (and every downstream metrics file) says so.

For verification a second, person-level split (``verify_split``) is drawn over the paired people:
by default the people in verification test pairs are never seen in verification training (open-set).

Output ``data/features/pairs/`` (the feature-store layout, so ``train.run`` reads ``feature: pairs``): ``index.csv`` (one row per sample: person, voice_person, split, verify_split,
face_source, voice_source, pairing) and one array store per input: ``face.npy``, ``voice_<name>.npy``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParamsError
from .store import ArrayStore, load_feature
from .skip import Skip
from .split import SPLITS, assign_splits


def _first_chunks(index: pd.DataFrame) -> pd.DataFrame:
    """One row per clip (its first chunk), keeping the row's position in the store."""
    index = index.assign(row=np.arange(len(index)))
    return index[index["chunk"].astype(int) == 0].set_index("path")


def person_map(face_people: list[str], voice_people: list[str], pairing: str, seed: int) -> dict[str, str]:
    """Face person -> voice person: the same name (identity) or a seeded one-to-one map (chimeric)."""
    if pairing == "identity":
        return {p: p for p in sorted(set(face_people) & set(voice_people))}
    if pairing != "chimeric":
        raise ParamsError(f"params.yaml: 'pairs.pairing' must be identity or chimeric, got {pairing!r}")
    faces, voices = sorted(set(face_people)), sorted(set(voice_people))
    rng = np.random.default_rng(seed)
    voices = list(rng.permutation(voices))
    return dict(zip(faces, voices))


INDEX_COLUMNS = ["person", "voice_person", "gender", "language", "split", "pairing", "source_id", "face_source",
                 "voice_source", "face_row", "path", "verify_split", "chunk"]


def build(spec: dict, features_root: str | Path, out_dir: str | Path) -> dict:
    """The pairs store; when the corpus cannot give pairs (one modality, no shared person), an empty one whose
    ``summary.json`` says ``skipped`` and why, so fusion, verification and compare skip with that reason."""
    out = Path(out_dir)
    try:
        return _build(spec, Path(features_root), out)
    except Skip as why:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        pd.DataFrame(columns=INDEX_COLUMNS).to_csv(out / "index.csv", index=False)
        (out / "inputs.json").write_text("{}\n")
        summary = {"skipped": str(why), "pairing": spec.get("pairing", "identity"), "samples": 0}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary


def _needs_both(features_root: Path, spec: dict) -> None:
    """Skip unless the face feature and every voice feature of the pairs have rows."""
    from .skip import reason_of

    for v in [spec["face"], *spec["voices"].values()]:
        upstream = reason_of(features_root / v["feature"] / "summary.json")
        if upstream:
            raise Skip(f"pairs need faces and voices; feature {v['feature']} was skipped: {upstream}")


def _build(spec: dict, features_root: Path, out: Path) -> dict:
    _needs_both(features_root, spec)
    out.mkdir(parents=True, exist_ok=True)
    face_index, face_x = load_feature(features_root / spec["face"]["feature"], spec["face"].get("store", "x"))
    face_index = face_index.assign(row=np.arange(len(face_index)))
    voices = {}
    for name, v in spec["voices"].items():
        idx, arr = load_feature(features_root / v["feature"], v.get("store", "x"))
        voices[name] = (_first_chunks(idx), arr)
    # clips present in every voice input
    common = set.intersection(*(set(idx.index) for idx, _ in voices.values()))
    first_name = next(iter(voices))
    clip_table = voices[first_name][0].loc[sorted(common)].reset_index()
    pairing = spec.get("pairing", "identity")
    seed = int(spec.get("seed", 42))
    mapping = person_map(face_index["person"].unique().tolist(), clip_table["person"].unique().tolist(), pairing, seed)
    if not mapping:
        raise Skip("no person has both photos and clips (faces and voices from different corpora need "
                   "pairs.pairing: chimeric)")
    per_person = spec.get("per_person", {"train": 20, "val": 6, "test": 6})
    rng = np.random.default_rng(seed)
    rows = []
    for person in sorted(mapping):
        vperson = mapping[person]
        for split in SPLITS:
            f = face_index[(face_index["person"] == person) & (face_index["split"] == split)]
            c = clip_table[(clip_table["person"] == vperson) & (clip_table["split"] == split)]
            if f.empty or c.empty:
                continue
            n = int(per_person.get(split, 0))
            fi = rng.choice(len(f), size=n, replace=len(f) < n)
            ci = rng.choice(len(c), size=n, replace=len(c) < n)
            for a, b in zip(fi, ci):
                rows.append({"person": person, "voice_person": vperson, "gender": f.iloc[a]["gender"],
                             "language": c.iloc[b]["language"], "split": split, "pairing": pairing,
                             "source_id": f"{f.iloc[a]['source_id']}|{c.iloc[b]['source_id']}",
                             "face_source": f.iloc[a]["source_id"], "voice_source": c.iloc[b]["source_id"],
                             "face_row": int(f.iloc[a]["row"]), "voice_path": c.iloc[b]["path"]})
    index = pd.DataFrame(rows)
    if index.empty:
        raise Skip("no person has photos and clips in the same split (check pairs.per_person and the splits)")
    verify = spec.get("verify", {})
    people = pd.DataFrame({"person": sorted(index["person"].unique())}).assign(source_id=lambda d: d["person"])
    people["verify_split"] = assign_splits(people, verify.get("split_by", "person"),
                                           verify.get("ratios", {"train": 0.6, "val": 0.2, "test": 0.2}),
                                           int(verify.get("seed", seed))).values
    index = index.merge(people[["person", "verify_split"]], on="person", how="left")
    index["chunk"] = 0
    store = ArrayStore(out / "face.npy")
    for r in index["face_row"]:
        store.append(np.asarray(face_x[r]))
    store.close()
    for name, (idx, arr) in voices.items():
        store = ArrayStore(out / f"voice_{name}.npy")
        for path in index["voice_path"]:
            store.append(np.asarray(arr[int(idx.loc[path, "row"])]))
        store.close()
    index.rename(columns={"voice_path": "path"}).to_csv(out / "index.csv", index=False)
    summary = {"pairing": pairing, "people": int(index["person"].nunique()), "samples": len(index),
               **{f"samples_{s}": int((index["split"] == s).sum()) for s in SPLITS},
               **{f"verify_people_{s}": int((people["verify_split"] == s).sum()) for s in SPLITS}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    # for each pairs store: the feature and store it copies, and that feature's params (the CLI recomputes it)
    sources = {"face": spec["face"], **{f"voice_{k}": v for k, v in spec["voices"].items()}}
    inputs = {}
    for store, src in sources.items():
        params_file = features_root / src["feature"] / "params.json"
        inputs[store] = {"feature": src["feature"], "store": src.get("store", "x"),
                         "feature_params": json.loads(params_file.read_text()) if params_file.exists() else {}}
    (out / "inputs.json").write_text(json.dumps(inputs, indent=2))
    return summary
