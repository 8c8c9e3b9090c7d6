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
from .params import Checked
from .store import ArrayStore, load_feature
from .skip import Skip
from .split import SPLITS, assign_splits


def _first_chunks(index: pd.DataFrame) -> pd.DataFrame:
    """One row per clip (its first chunk), keeping the row's position in the store."""
    index = index.assign(row=np.arange(len(index)))
    return index[index["chunk"].astype(int) == 0].set_index("path")


KEYS = ("face", "face_embed", "voices", "pairing", "per_person", "verify_split", "seed")


def _input(p: Checked, key: str) -> None:
    """One input: {feature: <a feature stage's name>, store: <its array store>}."""
    i = p.sub(key)
    i.only(("feature", "store"))
    i.str("feature")
    i.str("store", "x")


def check(spec: dict, prefix: str = "pairs") -> None:
    """Every ``pairs`` key, each bad value a one-line ParamsError naming it."""
    p = Checked(spec, prefix)
    p.only(KEYS)
    _input(p, "face")
    if p.get("face_embed", None) is not None:
        _input(p, "face_embed")
    voices = p.sub("voices")
    if not voices.data:
        p.fail("voices", "must name at least one voice input")
    for name in voices.data:
        _input(voices, name)
    p.choice("pairing", ["identity", "chimeric"], "identity")
    per_person = p.sub("per_person")
    per_person.only(SPLITS)
    for split in per_person.data:
        per_person.int(split, min=0)
    verify = p.sub("verify_split", {})
    verify.only(("by", "ratios", "seed"))
    verify.choice("by", ["person", "recording"], "person")
    ratios = verify.sub("ratios", {"train": 0.6, "val": 0.2, "test": 0.2})
    ratios.only(SPLITS)
    for split in SPLITS:
        ratios.float(split, min=0, max=1)
    verify.int("seed", 0, min=0)
    p.int("seed", 42, min=0)


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
                 "voice_source", "face_row", "face_path", "path", "verify_split", "chunk"]


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
    """Skip unless every face feature and every voice feature of the pairs has rows."""
    from .skip import reason_of

    for v in [spec["face"], *_extra_faces(spec).values(), *spec["voices"].values()]:
        upstream = reason_of(features_root / v["feature"] / "summary.json")
        if upstream:
            raise Skip(f"pairs need faces and voices; feature {v['feature']} was skipped: {upstream}")


def _extra_faces(spec: dict) -> dict:
    """Face inputs beside the crop, each the same photo's row of another feature (``face_embed``: dlib's
    descriptor), stored under their key."""
    return {"face_embed": spec["face_embed"]} if spec.get("face_embed") else {}


def _face_table(features_root: Path, spec: dict) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The face rows pairs draw from (``face``'s store, augmented copies included) and each extra face input's
    (index by photo, array); a photo an extra input lacks (dlib found no face in it) is not drawn."""
    face_index, face_x = load_feature(features_root / spec["face"]["feature"], spec["face"].get("store", "x"))
    face_index = face_index.assign(row=np.arange(len(face_index)))
    extras = {}
    for name, v in _extra_faces(spec).items():
        idx, arr = load_feature(features_root / v["feature"], v.get("store", "x"))
        extras[name] = (_first_chunks(idx), arr)
        face_index = face_index[face_index["path"].isin(extras[name][0].index)]
    return face_index, face_x, extras


def _clip_table(features_root: Path, spec: dict) -> tuple[pd.DataFrame, dict]:
    """One row per clip present in every voice input, and each voice input's (index by clip, array)."""
    voices = {}
    for name, v in spec["voices"].items():
        idx, arr = load_feature(features_root / v["feature"], v.get("store", "x"))
        voices[name] = (_first_chunks(idx), arr)
    common = set.intersection(*(set(idx.index) for idx, _ in voices.values()))
    first = next(iter(voices))
    return voices[first][0].loc[sorted(common)].reset_index(), voices


def _draw(faces: pd.DataFrame, clips: pd.DataFrame, mapping: dict, spec: dict, rng) -> pd.DataFrame:
    """``per_person[split]`` (face row, clip) samples for every mapped person and split, drawn with replacement
    only when the person has fewer photos or clips than samples."""
    per_person, pairing, rows = spec.get("per_person", {"train": 20, "val": 6, "test": 6}), spec.get("pairing", "identity"), []
    for person in sorted(mapping):
        vperson = mapping[person]
        for split in SPLITS:
            f = faces[(faces["person"] == person) & (faces["split"] == split)]
            c = clips[(clips["person"] == vperson) & (clips["split"] == split)]
            if f.empty or c.empty:
                continue
            n = int(per_person.get(split, 0))
            fi = rng.choice(len(f), size=n, replace=len(f) < n)
            ci = rng.choice(len(c), size=n, replace=len(c) < n)
            for a, b in zip(fi, ci):
                fa, cb = f.iloc[a], c.iloc[b]
                rows.append({"person": person, "voice_person": vperson, "gender": fa["gender"],
                             "language": cb["language"], "split": split, "pairing": pairing,
                             "source_id": f"{fa['source_id']}|{cb['source_id']}", "face_source": fa["source_id"],
                             "voice_source": cb["source_id"], "face_row": int(fa["row"]), "face_path": fa["path"],
                             "voice_path": cb["path"]})
    return pd.DataFrame(rows)


def _verify_split(index: pd.DataFrame, spec: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The person-level verification split (open-set by default) added to ``index``; (index, people)."""
    verify = spec.get("verify_split", {})
    people = pd.DataFrame({"person": sorted(index["person"].unique())}).assign(source_id=lambda d: d["person"])
    people["verify_split"] = assign_splits(people, verify.get("by", "person"),
                                           verify.get("ratios", {"train": 0.6, "val": 0.2, "test": 0.2}),
                                           int(verify.get("seed", seed))).values
    return index.merge(people[["person", "verify_split"]], on="person", how="left"), people


def _write_store(path: Path, arr: np.ndarray, rows) -> None:
    store = ArrayStore(path)
    for r in rows:
        store.append(np.asarray(arr[int(r)]))
    store.close()


def _write_inputs(out: Path, features_root: Path, spec: dict) -> None:
    """``inputs.json``: for each pairs store, the feature and store it copies and that feature's params (the
    command line recomputes the input from a file with them)."""
    sources = {"face": spec["face"], **_extra_faces(spec), **{f"voice_{k}": v for k, v in spec["voices"].items()}}
    inputs = {}
    for store, src in sources.items():
        params_file = features_root / src["feature"] / "params.json"
        inputs[store] = {"feature": src["feature"], "store": src.get("store", "x"),
                         "feature_params": json.loads(params_file.read_text()) if params_file.exists() else {}}
    (out / "inputs.json").write_text(json.dumps(inputs, indent=2))


def _build(spec: dict, features_root: Path, out: Path) -> dict:
    _needs_both(features_root, spec)
    out.mkdir(parents=True, exist_ok=True)
    faces, face_x, extras = _face_table(features_root, spec)
    clips, voices = _clip_table(features_root, spec)
    pairing, seed = spec.get("pairing", "identity"), int(spec.get("seed", 42))
    mapping = person_map(faces["person"].unique().tolist(), clips["person"].unique().tolist(), pairing, seed)
    if not mapping:
        raise Skip("no person has both photos and clips (faces and voices from different corpora need "
                   "pairs.pairing: chimeric)")
    index = _draw(faces, clips, mapping, spec, np.random.default_rng(seed))
    if index.empty:
        raise Skip("no person has photos and clips in the same split (check pairs.per_person and the splits)")
    index, people = _verify_split(index, spec, seed)
    index["chunk"] = 0
    _write_store(out / "face.npy", face_x, index["face_row"])
    for name, (idx, arr) in extras.items():
        _write_store(out / f"{name}.npy", arr, idx.loc[index["face_path"], "row"])
    for name, (idx, arr) in voices.items():
        _write_store(out / f"voice_{name}.npy", arr, idx.loc[index["voice_path"], "row"])
    index.rename(columns={"voice_path": "path"}).to_csv(out / "index.csv", index=False)
    summary = {"pairing": pairing, "people": int(index["person"].nunique()), "samples": len(index),
               **{f"samples_{s}": int((index["split"] == s).sum()) for s in SPLITS},
               **{f"verify_people_{s}": int((people["verify_split"] == s).sum()) for s in SPLITS}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _write_inputs(out, features_root, spec)
    return summary
