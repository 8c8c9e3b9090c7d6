"""Issue #30 items 2-3: open-set identification against a gallery, and galleries people can manage.

``identify`` answers from the gallery's embeddings and says "unknown" below a threshold chosen by false-accept rate
on the protocol ROC that measured it (printed with its provenance); the closed-set classifiers answer only with
``--classifier``. ``enroll`` adds to a person (refusing samples that do not match unless ``--replace``), each entry
records its embedder and version, a gallery refuses embeddings of another embedder, ``gallery list|remove``.
The storage is one float32 matrix per modality: identify is one matrix product (benchmarks/gallery_search.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_dataset
from facevoice import cli
from facevoice.api import Gallery, Recognizer, top
from facevoice.errors import ParamsError
from facevoice.inference import FACE_EMBEDDER

OTHER_EMBEDDER = "dlib_resnet_v1_flip@face-recognition-models==9.9.9"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def unit(rng, n: int, dim: int = 128) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---------------------------------------------------------------- the store itself (no embedder needed)
def test_a_gallery_is_a_float32_matrix_per_modality_with_its_embedder_recorded(tmp_path):
    rng = np.random.default_rng(0)
    g = Gallery(tmp_path / "g")
    a, b = unit(rng, 3), unit(rng, 2)
    g.add("Ann", "face", a, ["d1", "d2", "d3"], FACE_EMBEDDER)
    g.add("Bob", "face", b, ["d4", "d5"], FACE_EMBEDDER)
    g.add("Ann", "face", b[:1], ["d6"], FACE_EMBEDDER)  # adds to Ann: her row is the unit mean of all four
    g.save()
    again = Gallery(tmp_path / "g")
    m = np.load(tmp_path / "g/face.npy")
    assert m.dtype == np.float32 and m.shape == (2, 128) and again.names() == ["Ann", "Bob"]
    want = np.concatenate([a, b[:1]]).sum(axis=0)
    np.testing.assert_allclose(again.vectors["face"][0], want / np.linalg.norm(want), atol=1e-6)
    entry = json.loads((tmp_path / "g/people.json").read_text())["people"][0]["face"]
    assert entry["embedder"] == "dlib_resnet_v1_flip" and entry["version"] == "face-recognition-models==0.3.0"
    assert entry["n"] == 4 and entry["digests"] == ["d1", "d2", "d3", "d6"]
    assert again.owner("d5") == "Bob" and again.owner("nope") is None
    again.remove("Ann")
    again.save()
    assert Gallery(tmp_path / "g").names() == ["Bob"] and np.load(tmp_path / "g/face.npy").shape == (1, 128)


def test_a_gallery_refuses_embeddings_of_another_embedder(tmp_path):
    g = Gallery(tmp_path / "g")
    g.add("Ann", "face", unit(np.random.default_rng(1), 1), ["d1"], FACE_EMBEDDER)
    with pytest.raises(ParamsError, match="not comparable") as err:
        g.add("Bob", "face", unit(np.random.default_rng(2), 1), ["d2"], OTHER_EMBEDDER)
    assert FACE_EMBEDDER in str(err.value) and OTHER_EMBEDDER in str(err.value)
    with pytest.raises(ParamsError, match="not comparable"):
        g.scores("face", np.ones(128, np.float32), OTHER_EMBEDDER)


def test_a_damaged_gallery_is_one_line(tmp_path):
    g = Gallery(tmp_path / "g")
    g.add("Ann", "face", unit(np.random.default_rng(1), 1), ["d1"], FACE_EMBEDDER)
    g.save()
    np.save(tmp_path / "g/face.npy", np.zeros((3, 128), np.float32))
    with pytest.raises(ParamsError, match="damaged gallery"):
        Gallery(tmp_path / "g")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParamsError, match="not a gallery folder"):
        Gallery(tmp_path / "file")


def test_search_ranks_100k_people_like_a_full_sort():
    rng = np.random.default_rng(3)
    m, q = unit(rng, 100_000), unit(rng, 1)[0]
    scores = m @ q
    scores[::7] = -np.inf  # people without this modality
    best = top(scores, 10)
    assert list(best) == list(np.argsort(-scores, kind="stable")[:10])
    assert len(top(np.full(5, -np.inf), 3)) == 0


# ---------------------------------------------------------------- thresholds by false-accept rate
def test_the_threshold_is_chosen_by_false_accept_rate_on_the_protocol_roc(monkeypatch):
    from facevoice import inference
    from facevoice.protocols import fusion

    cal = fusion.Calibration(30.0, -27.0, "a test protocol", ((0.0, 0.0005, 0.001, 0.01, 0.1), (0.97, 0.95, 0.93, 0.9, 0.8)))
    monkeypatch.setattr(fusion, "FACE", cal, raising=False)
    t = inference.threshold("face", 0.001)
    assert t.value == 0.93 and t.far == 0.001 and "a test protocol" in t.provenance and "0.001" in t.provenance
    assert inference.threshold("face", 0.003).value == 0.93 and inference.threshold("face", 0.05).value == 0.9
    assert inference.threshold("face", 1e-6).value == 0.97  # none accepted on the protocol: said so
    assert "no impostor trial accepted" in inference.threshold("face", 1e-6).provenance
    assert inference.threshold("face").value == pytest.approx(0.9) and "balanced" in inference.threshold("face").provenance
    with pytest.raises(ParamsError, match="--far"):
        inference.threshold("face", 0)


# ---------------------------------------------------------------- enroll, identify, list, remove on real photos
@pytest.fixture(scope="module")
def lfw() -> Path:
    return shared_dataset("lfw_dev") / "lfw-deepfunneled"


def photos(lfw: Path, person: str, *numbers: int) -> list[str]:
    return [str(lfw / person / f"{person}_{i:04d}.jpg") for i in numbers]


def test_enroll_identify_open_set_list_and_remove(lfw, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FACEVOICE_GALLERY", str(tmp_path / "g"))
    monkeypatch.setenv("FACEVOICE_MODELS", str(tmp_path / "no_models"))  # identify needs no trained model
    for name, person in (("Colin", "Colin_Farrell"), ("George", "George_Clooney")):
        code, out, err = run(["enroll", name, "--faces", *photos(lfw, person, 1, 2), "--json"], capsys)
        assert code == 0 and json.loads(out)["total"] == {"face": 2}, err
    code, out, err = run(["identify", "--face", photos(lfw, "Colin_Farrell", 5)[0], "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["answer"] == "Colin" and r["candidates"][0]["accepted"], (r, err)
    assert r["embedder"] == FACE_EMBEDDER and r["provenance"] and "false-accept rate" in r["provenance"]
    # three strangers: none is named (the classifiers named each of them)
    for stranger in ("Hosni_Mubarak", "Bill_Frist", "Fernando_Gonzalez"):
        code, out, _ = run(["identify", "--face", photos(lfw, stranger, 1)[0]], capsys)
        assert code == 0 and out.splitlines()[0].endswith("unknown (no one in the gallery reaches the threshold)"), out
        assert "threshold " in out and "false-accept rate" in out
    code, out, _ = run(["gallery", "list", "--json"], capsys)
    listed = json.loads(out)["people"]
    assert [p["name"] for p in listed] == ["Colin", "George"] and listed[0]["face"]["embedder"] == FACE_EMBEDDER
    code, out, _ = run(["gallery", "remove", "Colin"], capsys)
    assert code == 0 and "removed Colin" in out
    code, out, _ = run(["identify", "--face", photos(lfw, "Colin_Farrell", 5)[0], "--json"], capsys)
    assert json.loads(out)["answer"] == "unknown"


def test_enroll_adds_and_refuses_to_replace_without_replace(lfw, tmp_path, capsys):
    g = ["--gallery", str(tmp_path / "g")]
    assert run(["enroll", "Colin", "--faces", *photos(lfw, "Colin_Farrell", 1, 2), *g], capsys)[0] == 0
    code, out, _ = run(["enroll", "Colin", "--faces", *photos(lfw, "Colin_Farrell", 2, 4), "--json", *g], capsys)
    e = json.loads(out)
    assert code == 0 and e["total"] == {"face": 3} and e["added"] == {"face": 1} and len(e["already"]) == 1, e
    code, _, err = run(["enroll", "Colin", "--faces", *photos(lfw, "Hosni_Mubarak", 1, 2), *g], capsys)
    assert code == 2 and "do not match" in err and "--replace" in err, err
    code, out, _ = run(["enroll", "Colin", "--faces", *photos(lfw, "Hosni_Mubarak", 1), "--replace", "--json", *g], capsys)
    assert code == 0 and json.loads(out)["replaced"] and json.loads(out)["total"] == {"face": 1}
    code, _, err = run(["enroll", "Someone", "--faces", *photos(lfw, "Hosni_Mubarak", 1), *g], capsys)
    assert code == 2 and "already enrolled as 'Colin'" in err, err


def test_a_gallery_of_another_embedder_is_refused_at_identify(lfw, tmp_path, capsys):
    g = ["--gallery", str(tmp_path / "g")]
    assert run(["enroll", "Colin", "--faces", *photos(lfw, "Colin_Farrell", 1), *g], capsys)[0] == 0
    index = tmp_path / "g/people.json"
    data = json.loads(index.read_text())
    data["people"][0]["face"]["version"] = "face-recognition-models==9.9.9"
    index.write_text(json.dumps(data))
    code, _, err = run(["identify", "--face", photos(lfw, "Colin_Farrell", 2)[0], *g], capsys)
    assert code == 2 and "not comparable" in err and "9.9.9" in err, err


def test_the_closed_set_classifier_answers_only_when_asked(lfw, tmp_path, capsys, monkeypatch):
    """Without --classifier no trained model is read (its folder may not exist); with it, the folder is read."""
    import facevoice.inference as inference

    def no(*a, **k):
        raise AssertionError("a classifier was consulted")

    monkeypatch.setattr(inference.Models, "best", no)
    monkeypatch.setattr(inference.Models, "meta", no)
    g = ["--gallery", str(tmp_path / "g"), "--models", str(tmp_path / "absent")]
    assert run(["enroll", "Colin", "--faces", *photos(lfw, "Colin_Farrell", 1), *g], capsys)[0] == 0
    code, out, err = run(["identify", "--face", photos(lfw, "Colin_Farrell", 2)[0], *g], capsys)
    assert code == 0 and "Colin" in out, err
    monkeypatch.undo()
    code, _, err = run(["identify", "--face", photos(lfw, "Colin_Farrell", 2)[0], "--classifier", "auto", *g], capsys)
    assert code == 2 and "no trained face model" in err and str(tmp_path / "absent") in err


def test_far_moves_the_threshold_and_says_where_it_came_from(lfw, tmp_path):
    rec = Recognizer(gallery=tmp_path / "g")
    rec.enroll("Colin", photos=photos(lfw, "Colin_Farrell", 1, 2))
    strict = rec.identify(photos(lfw, "Colin_Farrell", 4)[0], far=0.0005)
    loose = rec.identify(photos(lfw, "Colin_Farrell", 4)[0], far=0.05)
    assert strict.threshold >= loose.threshold and strict.provenance != loose.provenance
    assert strict.candidates[0].score == loose.candidates[0].score


def test_open_set_identification_of_voices(tmp_path):
    so = shared_dataset("speechocean762") / "audio"
    rec = Recognizer(gallery=tmp_path / "g")
    for spk in ("0482", "0560"):
        clips = sorted((so / spk).glob("*.flac"))
        rec.enroll(f"speaker {spk}", clips=clips[:3])
    r = rec.identify(sorted((so / "0482").glob("*.flac"))[5])
    assert r.candidates[0].name == "speaker 0482" and r.answer in ("speaker 0482", "unknown") and r.kind == "voice"
    assert r.embedder.startswith("ge2e@") and "false-accept rate" in r.provenance
    with pytest.raises(ParamsError, match="no one enrolled with a face"):
        rec.identify(shared_dataset("lfw_dev") / "lfw-deepfunneled/Colin_Farrell/Colin_Farrell_0001.jpg")
