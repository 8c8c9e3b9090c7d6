"""``dvc repro`` on real corpora from ../shared/datasets, each in a temporary copy of the repository.

(a) faces only (lfw_dev, 16 people with 4-9 photos), voices null; (b) voices only (fsdd: one language, one
gender); (c) urdu_speech split by person (open-set: speaker models skip, gender runs); (d) lfw_dev + urdu_speech
paired chimerically: faces, voices, fusion and verification all run. Every run must complete, every model
must either report its numbers or say why it was skipped, and the counts must reconcile at every stage.

The real-data profile (``quick``) trains a few epochs so the four runs fit in ``make test``.
"""
import html
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import shared_dataset
from facevoice.evaluate import read_details
from helpers import ROOT, copy_repo, ran, sh

pytestmark = pytest.mark.slow
MODEL_GROUPS = ("pretrain", "train", "finetune", "baseline", "fusion", "verify")


def quick(params: dict, epochs: int = 2) -> dict:
    """The small real-data profile: every model trains at most ``epochs`` epochs; fewer verification pairs."""
    for group in (*MODEL_GROUPS, "per_language"):
        for spec in (params.get(group) or {}).values():
            tp = spec.get("fit")
            if tp:
                tp["epochs"] = min(tp["epochs"], epochs)
                tp["patience"] = min(tp.get("patience", 2), 2)
                if "freeze_epochs" in tp:
                    tp["freeze_epochs"] = min(tp["freeze_epochs"], 1)
    for spec in params["verify"].values():
        spec.update(pairs_train=300, pairs_val=100, pairs_test=200)
    params["speaker_trials"]["max_trials"] = params["speaker_trials"]["face_voice"]["max_trials"] = 500
    params["pairs"]["per_person"] = {"train": 6, "val": 2, "test": 2}
    params["face_embed"]["flip"] = False  # half the dlib time
    return params


def subset(manifest: Path, out: Path, people: int, lo: int = 1, hi: int = 10 ** 6, per_person: int = 10 ** 6) -> Path:
    """A manifest of ``people`` persons having ``lo``..``hi`` files, at most ``per_person`` each (first by path)."""
    m = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    col = next(c for c in ("person", "speaker", "subject") if c in m.columns)
    counts = m.groupby(col)["path"].count()
    chosen = sorted(counts[(counts >= lo) & (counts <= hi)].index)[:people]
    m = m[m[col].isin(chosen)].sort_values("path").groupby(col).head(per_person)
    m.to_csv(out, index=False)
    return out


def lfw_faces(tmp: Path) -> dict:
    root = shared_dataset("lfw_dev")
    return {"source": "folder", "root": str(root),
            "options": {"manifest": str(subset(root / "manifest.csv", tmp / "lfw16.csv", 16, lo=4, hi=9))}}


def urdu_voices(tmp: Path) -> dict:
    root = shared_dataset("urdu_speech")
    return {"source": "folder", "root": str(root), "options": {"manifest": str(root / "manifest.csv")}}


def fsdd_voices(tmp: Path) -> dict:
    root = shared_dataset("fsdd")
    return {"source": "folder", "root": str(root),
            "options": {"manifest": str(subset(root / "manifest.csv", tmp / "fsdd.csv", 6, per_person=20))}}


SCENARIOS = {  # name: (faces, voices, split.by, pairs.pairing)
    "a": (lfw_faces, None, "recording", "identity"),
    "b": (None, fsdd_voices, "recording", "identity"),
    "c": (None, urdu_voices, "person", "identity"),
    "d": (lfw_faces, urdu_voices, "recording", "chimeric"),
}


def setup(tmp_path_factory, faces, voices, split_by, pairing) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("corpus")
    params = quick(yaml.safe_load((ROOT / "params.yaml").read_text()))
    params["prepare"].update(faces=faces(tmp) if faces else None, voices=voices(tmp) if voices else None)
    params["prepare"]["split"]["by"] = split_by
    params["pairs"]["pairing"] = pairing
    return copy_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("site"), params), params


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The four ``dvc repro`` runs, started together (each stage is mostly one busy core: two cores run two
    scenarios at once) and awaited; each must exit 0. Their stages start from one warm server (TensorFlow
    imported once, ``facevoice.warm``), as ``make repro``'s do."""
    import os
    import subprocess
    import sys

    from facevoice.warm import server

    for name in ("lfw_dev", "urdu_speech", "fsdd"):
        shared_dataset(name)
    repos = {k: setup(tmp_path_factory, *spec) for k, spec in SCENARIOS.items()}
    with server(tmp_path_factory.mktemp("warm") / "server.log"):
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
        procs = {k: subprocess.Popen("dvc repro", cwd=d, shell=True, env=env, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT) for k, (d, _) in repos.items()}
        out = {k: p.communicate(timeout=1500)[0] for k, p in procs.items()}
    failed = {k: out[k][-3000:] for k, p in procs.items() if p.returncode != 0}
    assert not failed, failed
    return {k: (d, params, out[k]) for k, (d, params) in repos.items()}


def metrics(d: Path) -> dict[str, dict]:
    return {p.stem: read_details(p) for p in (d / "metrics").glob("*.json")}


def model_names(params: dict) -> list[str]:
    return [name for g in (*MODEL_GROUPS, "per_language") for name in (params.get(g) or {})]


def check_counts(d: Path) -> dict:
    """found = kept + rejected in prepare, in faces and in every feature stage; returns corpus.json."""
    corpus = metrics(d)["corpus"]
    for m in ("faces", "voices"):
        assert corpus[m]["found"] == corpus[m]["kept"] + corpus[m]["rejected"], corpus
        assert corpus[m]["kept"] == corpus[m]["train"] + corpus[m]["val"] + corpus[m]["test"], corpus
    faces = json.loads((d / "data/features/faces/summary.json").read_text())
    assert faces["photos"] == corpus["faces"]["kept"] == faces["kept"] + faces["rejected"], faces
    for feature in ("mfcc", "mel_chunks", "logspec", "mel6s", "shortterm", "raw"):
        s = json.loads((d / "data/features" / feature / "summary.json").read_text())
        assert s["clips"] == corpus["voices"]["kept"] == s["clips_kept"] + s["clips_rejected"], (feature, s)
    return corpus


def check_every_model_answers(d: Path, params: dict) -> dict[str, dict]:
    """Every model's metrics file holds numbers or a one-line skip reason; its card says the same."""
    found = metrics(d)
    for name in model_names(params):
        m = found[name]
        if "skipped" in m:
            assert m["skipped"] and "\n" not in m["skipped"], (name, m)
        else:
            assert any(k in m for k in ("accuracy", "test_mse", "roc_auc")), (name, m)
    page = html.unescape((d / "reports/index.html").read_text())
    for name, m in found.items():
        if m.get("skipped"):
            assert m["skipped"] in page, name
    return found


def skipped(found: dict, names) -> dict[str, str]:
    return {n: found[n].get("skipped") for n in names}


def test_a_faces_only_from_lfw(runs):
    d, params, out = runs["a"]
    corpus = check_counts(d)
    assert corpus["voices"]["found"] == 0 and corpus["faces"]["people"] == 16
    found = check_every_model_answers(d, params)
    for name in ("face_cnn", "face_ae_clf", "face_pca_svm", "face_embed_svm", "face_embed_dense"):
        assert "skipped" not in found[name] and found[name]["n_classes"] >= 14, found[name]
    assert found["face_embed_svm"]["accuracy"] >= 0.9, found["face_embed_svm"]  # dlib's pretrained descriptor
    voice = ["mfcc_dense", "audio_cnn", "gender_cnn", "language_cnn", "mfcc_ae_clf", "gender_svm"]
    assert all(skipped(found, voice).values()), skipped(found, voice)
    assert "no clips" in found["mfcc_dense"]["skipped"]
    for name in ("fusion_cnn_cnn", "siamese", "pairs_compare"):
        assert "pairs need faces and voices" in found[name]["skipped"], found[name]
    assert (d / "reports/cards/mfcc_dense.md").read_text().count("skipped") >= 1
    assert ran(sh("dvc repro", d).stdout) == set()


def test_b_voices_only_from_fsdd(runs):
    d, params, out = runs["b"]
    corpus = check_counts(d)
    assert corpus["faces"]["found"] == 0 and corpus["voices"]["people"] == 6
    found = check_every_model_answers(d, params)
    for name in ("mfcc_dense", "audio_crnn", "mfcc_ae_clf"):
        assert "skipped" not in found[name] and found[name]["n_classes"] == 6, found[name]
    for name in ("gender_cnn", "gender_svm", "gender_transfer", "gender_shortterm"):
        assert "one gender only" in found[name]["skipped"], found[name]
    assert "one language only" in found["language_cnn"]["skipped"]
    assert found["gender_per_language"]["skipped"]
    assert all(skipped(found, ["face_cnn", "face_ae_clf", "fusion_cnn_dense", "siamese"]).values())


def test_c_urdu_split_by_person(runs):
    d, params, out = runs["c"]
    check_counts(d)
    manifest = pd.read_csv(d / "data/manifests/voices.csv")
    assert manifest.groupby("person")["split"].nunique().max() == 1  # open-set: a person in one split only
    found = check_every_model_answers(d, params)
    for name in ("mfcc_dense", "audio_cnn", "audio_crnn", "mfcc_ae_clf", "mel_ae_clf"):
        assert "closed-set" in found[name]["skipped"], found[name]
    for name in ("gender_cnn", "gender_shortterm", "gender_svm", "gender_transfer"):
        assert "skipped" not in found[name] and found[name]["n_classes"] == 2, found[name]
    assert "accuracy" in found["gender_per_language"] and found["gender_per_language"]["languages_trained"] == ["urdu"]
    assert "test_mse" in found["mfcc_ae"]  # autoencoders need no labels


def test_d_lfw_and_urdu_chimeric(runs):
    d, params, out = runs["d"]
    check_counts(d)
    found = check_every_model_answers(d, params)
    ran_models = [n for n in model_names(params) if "skipped" not in found[n]]
    assert set(ran_models) >= {"face_cnn", "face_ae_clf", "mfcc_dense", "audio_cnn", "audio_crnn", "gender_cnn",
                               "fusion_cnn_cnn", "fusion_cnn_crnn", "fusion_cnn_dense", "siamese", "face_pca_svm",
                               "face_embed_svm", "voice_mfcc_logreg", "voice_mfcc_logreg_gender"}, found
    assert "one language only" in found["language_cnn"]["skipped"]
    assert found["fusion_cnn_cnn"]["pairing"] == "chimeric" and found["siamese"]["pairing"] == "chimeric"
    compare = found["pairs_compare"]
    assert "skipped" not in compare and {"face_cnn", "fusion_cnn_cnn"} <= set(compare["models"])
