"""The real-corpus adapters on real photos and speech, in the corpora's own layouts, served over HTTP.

Trees are built under tmp_path from /work/shared/datasets (ORL photos as LFW and VoxCeleb1 face crops;
LibriSpeech flac, FSDD and Urdu clips as LibriSpeech, VoxCeleb1 and Common Voice), packed like the
releases (.tar.gz / .zip + metadata files) and fetched from a local server on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from facevoice.errors import ParamsError, SourceError
from facevoice.sources import commonvoice, librispeech, lfw, list_files, voxceleb1
from facevoice.tables import Rejects

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
_NEEDED = ("orl_faces", "fsdd", "urdu_speech", "audio_formats")
if not all((DATA / name / "manifest.csv").exists() for name in _NEEDED):
    pytest.skip(f"real datasets {', '.join(_NEEDED)} not found at {DATA} (only on the project's machines)",
                allow_module_level=True)

_spec = importlib.util.spec_from_file_location("facevoice_test_download_server", Path(__file__).with_name("test_download.py"))
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _tgz(archive: Path, base: Path, top: str) -> Path:
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(base / top, arcname=top)
    return archive


def _zipdir(archive: Path, base: Path, top: str) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted((base / top).rglob("*")):
            zf.write(path, path.relative_to(base).as_posix())
    return archive


def _to_flac(src: Path, dst: Path) -> None:
    import soundfile as sf

    y, sr = sf.read(str(src), dtype="int16")
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), y, sr, format="FLAC", subtype="PCM_16")


def _to_mp3(src: Path, dst: Path) -> None:
    import soundfile as sf

    from facevoice.audio.loader import write_mp3

    y, sr = sf.read(str(src), dtype="float32", always_2d=True)
    write_mp3(dst, y.mean(axis=1), sr)


def _jpg(src: Path, dst: Path) -> None:
    import cv2

    img = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
    assert img is not None, src
    dst.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(dst), img)


# --------------------------------------------------------------------------- the shared real data
FSDD = pd.read_csv(DATA / "fsdd" / "manifest.csv", dtype=str)
URDU = pd.read_csv(DATA / "urdu_speech" / "manifest.csv", dtype=str)
FORMATS = DATA / "audio_formats"


def _fsdd(speaker: str, n: int) -> list[Path]:
    rows = FSDD[FSDD.speaker == speaker].sort_values("path").head(n)
    return [DATA / "fsdd" / p for p in rows.path]


def _urdu(speaker: str, n: int) -> list[Path]:
    rows = URDU[URDU.speaker == speaker].sort_values("path").head(n)
    return [DATA / "urdu_speech" / p for p in rows.path]


def _gender(table: pd.DataFrame, speaker: str) -> str:
    return table[table.speaker == speaker].gender.iloc[0]


ORL_NAMES = {"s1": "Ada_Orl", "s2": "Ben_Orl", "s3": "Cara_Orl", "s4": "Dev_Orl", "s5": "Eli_Orl"}


# ------------------------------------------------------------------------------- build the corpora
def _build_lfw(work: Path, site: Path) -> dict:
    for sid, name in ORL_NAMES.items():
        for k in range(1, 5):
            _jpg(DATA / "orl_faces" / "orl_faces" / sid / f"{k}.pgm", work / "lfw" / name / f"{name}_{k:04d}.jpg")
    (work / "lfw" / "Ada_Orl" / "Thumbs.db").write_bytes(b"\0\1")
    return {"archive": _tgz(site / "lfw.tgz", work, "lfw")}


LIBRI_SPEAKERS = """\
; LibriSpeech speakers (test fixture built from real clips)
; Fields: speaker id, sex, subset, minutes, name
;ID  |SEX| SUBSET           |MINUTES| NAME
2412 | F | dev-clean        |  0.36 | Reader Twenty Four Twelve
1088 | F | test-clean       |  0.20 | Reader Ten Eighty Eight
9001 | M | dev-clean        |  0.05 | George (FSDD)
9002 | M | test-clean       |  0.03 | Jackson (FSDD)
9003 | F | dev-clean        |  0.10 | SF1 (URDU)
this line is broken
"""


def _build_librispeech(work: Path, site: Path) -> dict:
    for subset in ("dev-clean", "test-clean"):
        base = work / subset
        root = base / "LibriSpeech"
        root.mkdir(parents=True)
        (root / "SPEAKERS.TXT").write_text(LIBRI_SPEAKERS)
        (root / "LICENSE.TXT").write_text("CC BY 4.0\n")
    dev, test = work / "dev-clean/LibriSpeech/dev-clean", work / "test-clean/LibriSpeech/test-clean"
    for name in ("2412-153948-0000.flac", "2412-153948-0001.flac"):
        (dev / "2412/153948").mkdir(parents=True, exist_ok=True)
        shutil.copy(FORMATS / name, dev / "2412/153948" / name)
    (dev / "2412/153948/2412-153948.trans.txt").write_text("2412-153948-0000 SOME TEXT\n")
    _to_flac(FORMATS / "libri-1088-134315-0000.wav", test / "1088/134315/1088-134315-0000.flac")
    george = _fsdd("george", 5)
    for i, src in enumerate(george[:3]):
        _to_flac(src, dev / f"9001/100/9001-100-{i:04d}.flac")
    for i, src in enumerate(george[3:]):
        _to_flac(src, dev / f"9001/101/9001-101-{i:04d}.flac")
    for i, src in enumerate(_fsdd("jackson", 2)):
        _to_flac(src, test / f"9002/200/9002-200-{i:04d}.flac")
    (dev / "9003/300").mkdir(parents=True)
    for i, src in enumerate(_urdu("SF1", 2)):  # a wav, as in LibriSpeech copies converted to wav
        shutil.copy(src, dev / f"9003/300/9003-300-{i:04d}.wav")
    shutil.copy(george[0], dev / "9001/100/recording.wav")  # not a LibriSpeech file name
    return {name: _tgz(site / f"{name}.tar.gz", work / name, "LibriSpeech") for name in ("dev-clean", "test-clean")}


VOX_META = [
    ("id10001", "Urdu_Speaker_SM1", "m", "Pakistan", "dev"),
    ("id10002", "Urdu_Speaker_SF1", "f", "Pakistan", "dev"),
    ("id10270", "Fsdd_George", "m", "Greece", "test"),
]


def _build_voxceleb(work: Path, site: Path) -> dict:
    header = ("VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set")
    meta = site / "vox1_meta.csv"
    meta.write_text("\n".join("\t".join(r) for r in [header, *VOX_META]) + "\n")
    (work / "meta_comma.csv").write_text("\n".join(", ".join(r) for r in [header, *VOX_META]) + "\n")
    dev = work / "dev"
    for clip, (vid, src) in enumerate(zip(["1zcIwhmdeo4", "1zcIwhmdeo4", "7w0IBEWc9Qw"], _urdu("SM1", 3)), 1):
        (dev / "wav/id10001" / vid).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dev / "wav/id10001" / vid / f"{clip:05d}.wav")
    for clip, src in enumerate(_urdu("SF1", 2), 1):
        (dev / "wav/id10002/Y8hIVOBuels").mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dev / "wav/id10002/Y8hIVOBuels" / f"{clip:05d}.wav")
    test = work / "test"
    for clip, src in enumerate(_fsdd("george", 2), 1):
        (test / "wav/id10270/5r0dWxy17C8").mkdir(parents=True, exist_ok=True)
        shutil.copy(src, test / "wav/id10270/5r0dWxy17C8" / f"{clip:05d}.wav")
    # face crops, the release layout (unzippedIntervalFaces/data/<Name>/1.6/<video>/<n>/<frame>.jpg)
    faces = work / "faces" / "unzippedIntervalFaces" / "data"
    for (vid, name), sid in zip([("id10001", "Urdu_Speaker_SM1"), ("id10002", "Urdu_Speaker_SF1")], ["s1", "s2"]):
        for k in range(1, 4):
            video = "1zcIwhmdeo4" if k < 3 else "7w0IBEWc9Qw"
            _jpg(DATA / "orl_faces/orl_faces" / sid / f"{k}.pgm", faces / name / "1.6" / video / "1" / f"{k:02d}.jpg")
    flat = work / "faces_flat"  # <idNNNNN or Name>/<video>/<frame>.jpg
    for k in range(1, 3):
        _jpg(DATA / "orl_faces/orl_faces/s3" / f"{k}.pgm", flat / "id10270" / "5r0dWxy17C8" / f"{k:02d}.jpg")
        _jpg(DATA / "orl_faces/orl_faces/s1" / f"{k}.pgm", flat / "Urdu_Speaker_SM1" / "1zcIwhmdeo4" / f"{k:02d}.jpg")
    _jpg(DATA / "orl_faces/orl_faces/s1/9.pgm", flat / "loose.jpg")
    return {"dev": _zipdir(site / "vox1_dev_wav.zip", dev, "wav"), "test": _zipdir(site / "vox1_test_wav.zip", test, "wav"),
            "meta": meta, "meta_comma": work / "meta_comma.csv", "faces": work / "faces", "faces_flat": flat}


CV_COLUMNS = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
              "gender", "accents", "variant", "locale", "segment"]


def _build_commonvoice(work: Path, site: Path) -> dict:
    release = "cv-corpus-17.0-2024-03-15"
    rows = {"en": [], "ur": []}
    en, ur = work / "en" / release / "en", work / "ur" / release / "ur"
    (en / "clips").mkdir(parents=True)
    (ur / "clips").mkdir(parents=True)
    shutil.copy(FORMATS / "common_voice_en_651325.mp3", en / "clips" / "common_voice_en_651325.mp3")
    rows["en"].append(["c0ffee01", "common_voice_en_651325.mp3", "s1", 'He said "hi', "", "2", "0", "", "", "",
                       "", "en", ""])
    for i, src in enumerate(_fsdd("george", 2)):
        _to_mp3(src, en / "clips" / f"common_voice_en_9000{i}.mp3")
        rows["en"].append(["george01", f"common_voice_en_9000{i}.mp3", f"g{i}", "zero", "", "2", "0", "thirties",
                           "male_masculine", "Greek", "", "en", ""])
    _to_mp3(_fsdd("jackson", 1)[0], en / "clips" / "common_voice_en_90100.mp3")
    rows["en"].append(["jackson1", "common_voice_en_90100.mp3", "j0", "zero", "", "2", "0", "", "male", "", "",
                       "en", ""])
    rows["en"].append(["ghost001", "common_voice_en_404.mp3", "x", "gone", "", "2", "0", "", "female", "", "",
                       "en", ""])
    for spk, gender in (("SM1", "male_masculine"), ("SF1", "female_feminine")):
        src = _urdu(spk, 1)[0]
        _to_mp3(src, ur / "clips" / f"common_voice_ur_{spk}.mp3")
        rows["ur"].append([f"urdu{spk}", f"common_voice_ur_{spk}.mp3", spk, "jumla", "", "2", "0", "", gender, "",
                           "", "ur", ""])
    for loc, folder in (("en", en), ("ur", ur)):
        pd.DataFrame(rows[loc], columns=CV_COLUMNS).to_csv(folder / "validated.tsv", sep="\t", index=False,
                                                           quoting=3, escapechar=None)
        pd.DataFrame(rows[loc][1:3], columns=CV_COLUMNS).to_csv(folder / "train.tsv", sep="\t", index=False,
                                                                quoting=3)
    return {loc: _tgz(site / f"{release}-{loc}.tar.gz", work / loc, release) for loc in ("en", "ur")}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    base_dir = tmp_path_factory.mktemp("corpora")
    site = base_dir / "site"
    site.mkdir()
    built = {}
    for name, build in (("lfw", _build_lfw), ("librispeech", _build_librispeech), ("voxceleb1", _build_voxceleb),
                        ("commonvoice", _build_commonvoice)):
        work = base_dir / "work" / name
        work.mkdir(parents=True)
        built[name] = build(work, site)
    url, state, stop = _server.serve(site)
    yield {"url": url, "state": state, "site": site, **built}
    stop()


# ------------------------------------------------------------------------------------------ LFW
def test_lfw_download_and_list(corpora, tmp_path):
    url, state = corpora["url"], corpora["state"]
    archive = corpora["lfw"]["archive"]
    params = {"url": f"{url}/lfw.tgz", "sha256": _sha(archive), "progress": False}
    root = lfw.fetch(params, tmp_path / "raw" / "lfw")
    assert root == tmp_path / "raw" / "lfw" / "lfw"
    rejects = Rejects("prepare")
    df = lfw.list_faces(tmp_path / "raw" / "lfw", {}, rejects)  # the parent of lfw/ works too
    assert sorted(df.person.unique()) == sorted(ORL_NAMES.values())
    assert len(df) == 20 and (df.groupby("person").size() == 4).all()
    assert set(df.gender) == {"unknown"} and set(df.corpus) == {"lfw"}
    assert "Ada_Orl/Ada_Orl_0001" in set(df.source_id) and df.source_id.is_unique
    assert [Path(r["path"]).name for r in rejects.rows] == ["Thumbs.db"]
    people = tmp_path / "people.csv"
    pd.DataFrame({"name": ["Ada_Orl", "Ben_Orl"], "gender": ["F", "male"], "language": ["en", "fr"]}).to_csv(people, index=False)
    df = lfw.list_faces(root, {"people": str(people)}, Rejects("prepare"))
    assert df.set_index("source_id").loc["Ada_Orl/Ada_Orl_0002", ["gender", "language"]].tolist() == ["female", "en"]
    assert df.set_index("source_id").loc["Ben_Orl/Ben_Orl_0001", "gender"] == "male"
    n = state.count("lfw.tgz")
    lfw.fetch(params, tmp_path / "raw" / "lfw")  # verified already: nothing downloaded
    assert state.count("lfw.tgz") == n


def test_lfw_official_name_is_checked_against_the_published_md5(corpora, tmp_path):
    with pytest.raises(SourceError) as err:
        lfw.fetch({"url": f"{corpora['url']}/lfw.tgz", "progress": False}, tmp_path / "lfw")
    assert lfw.DATASETS["lfw"]["md5"] in str(err.value) and "lfw.tgz" in str(err.value)
    assert not any((tmp_path / "downloads").iterdir())
    root = lfw.fetch({"url": f"{corpora['url']}/lfw.tgz", "verify": False, "progress": False}, tmp_path / "lfw")
    assert len(lfw.list_faces(root, {}, Rejects("p"))) == 20
    with pytest.raises(ParamsError, match="variant"):
        lfw.fetch({"variant": "lfw-hd"}, tmp_path / "x")


def test_lfw_from_a_folder_the_user_has(corpora, tmp_path):
    from facevoice.sources import download

    have = tmp_path / "mine"

    download.extract(corpora["lfw"]["archive"], have)
    root = lfw.fetch({"path": str(have / "lfw")}, tmp_path / "raw" / "lfw")
    assert root.is_symlink() and len(lfw.list_faces(root, {}, Rejects("p"))) == 20
    assert not (tmp_path / "raw" / "downloads").exists()  # nothing downloaded


# ----------------------------------------------------------------------------------- LibriSpeech
def test_librispeech_download_and_list(corpora, tmp_path):
    url, state, libri = corpora["url"], corpora["state"], corpora["librispeech"]
    params = {"subsets": ["dev-clean", "test-clean"], "base_url": url, "progress": False,
              "md5": {s: _md5(libri[s]) for s in ("dev-clean", "test-clean")}}
    dest = tmp_path / "raw" / "librispeech"
    root = librispeech.fetch(params, dest)
    assert root == dest / "LibriSpeech" and (root / "dev-clean").is_dir() and (root / "test-clean").is_dir()
    rejects = Rejects("prepare")
    df = list_files("voices", "librispeech", dest, {}, rejects)  # parent of LibriSpeech/ accepted
    assert sorted(df.person.unique()) == ["1088", "2412", "9001", "9002", "9003"]
    genders = df.groupby("person").gender.first().to_dict()
    assert genders == {"1088": "female", "2412": "female", "9001": _gender(FSDD, "george"),
                       "9002": _gender(FSDD, "jackson"), "9003": _gender(URDU, "SF1")}
    assert set(df.language) == {"en"} and set(df.corpus) == {"librispeech"}
    assert sorted(df.source_id.unique()) == ["1088-134315", "2412-153948", "9001-100", "9001-101", "9002-200",
                                             "9003-300"]
    assert (df.groupby("source_id").subset.nunique() == 1).all()
    assert df.set_index("person").loc["1088", "subset"] == "test-clean"
    assert len(df) == 2 + 1 + 5 + 2 + 2
    reasons = {Path(r["path"]).name: r["reason"] for r in rejects.rows}
    assert "LibriSpeech layout" in reasons["recording.wav"] and "line 9" in reasons["SPEAKERS.TXT"]
    import soundfile as sf

    assert all(sf.info(p).frames > 0 for p in df.path)
    test_only = librispeech.list_voices(root, {"subsets": ["test-clean"]}, Rejects("p"))
    assert sorted(test_only.person.unique()) == ["1088", "9002"]
    with pytest.raises(SourceError, match="train-clean-100"):
        librispeech.list_voices(root, {"subsets": ["train-clean-100"]}, Rejects("p"))
    n = state.count()
    librispeech.fetch(params, dest)
    assert state.count() == n


def test_librispeech_checks_openslr_md5_and_params(corpora, tmp_path):
    url = corpora["url"]
    with pytest.raises(SourceError) as err:  # our dev-clean.tar.gz is not the published one
        librispeech.fetch({"subsets": ["dev-clean"], "base_url": url, "progress": False}, tmp_path / "ls")
    assert "dev-clean.tar.gz" in str(err.value) and librispeech.DATASETS["dev-clean"]["md5"] in str(err.value)
    with pytest.raises(ParamsError, match="train-clean-99"):
        librispeech.fetch({"subsets": ["train-clean-99"]}, tmp_path / "ls")
    with pytest.raises(SourceError, match="SPEAKERS.TXT not found"):
        librispeech.list_voices(tmp_path, {}, Rejects("p"))


# ------------------------------------------------------------------------------------- VoxCeleb1
def test_voxceleb1_from_licensed_archives(corpora, tmp_path):
    vox = corpora["voxceleb1"]
    dest = tmp_path / "raw" / "voxceleb1"
    root = voxceleb1.fetch({"path": [str(vox["dev"]), str(vox["test"]), str(vox["meta"])], "meta_url": None}, dest)
    assert root == dest and (dest / "wav" / "id10001").is_dir() and (dest / "wav" / "id10270").is_dir()
    rejects = Rejects("prepare")
    df = list_files("voices", "voxceleb1", root, {}, rejects)
    assert sorted(df.person.unique()) == ["id10001", "id10002", "id10270"]
    by = df.groupby("person").first()
    assert by.gender.to_dict() == {"id10001": "male", "id10002": "female", "id10270": "male"}
    assert by.name.to_dict() == {v: n for v, n, *_ in VOX_META}
    assert by.nationality.to_dict() == {v: r[2] for v, *r in VOX_META}
    assert by.set.to_dict() == {"id10001": "dev", "id10002": "dev", "id10270": "test"}
    assert set(df.language) == {"unknown"} and set(df.corpus) == {"voxceleb1"}
    assert sorted(df.source_id.unique()) == ["id10001/1zcIwhmdeo4", "id10001/7w0IBEWc9Qw", "id10002/Y8hIVOBuels",
                                             "id10270/5r0dWxy17C8"]
    assert len(df) == 7 and not rejects.rows
    test_set = voxceleb1.list_voices(root, {"sets": ["test"]}, Rejects("p"))
    assert list(test_set.person.unique()) == ["id10270"]
    # the same meta, comma separated, given as an option
    comma = voxceleb1.list_voices(root, {"meta": str(vox["meta_comma"])}, Rejects("p"))
    assert comma.equals(df)


def test_voxceleb1_needs_a_path_and_a_meta(corpora, tmp_path):
    with pytest.raises(ParamsError, match=r"licence.*robots\.ox\.ac\.uk"):
        voxceleb1.fetch({}, tmp_path / "vox")
    root = voxceleb1.fetch({"path": str(corpora["voxceleb1"]["test"]), "meta_url": None}, tmp_path / "vox")
    with pytest.raises(SourceError, match="vox1_meta.csv not found"):
        voxceleb1.list_voices(root, {}, Rejects("p"))
    df = voxceleb1.list_voices(root, {"meta": False}, Rejects("p"))
    assert set(df.gender) == {"unknown"} and set(df.person) == {"id10270"}
    # the public meta file is fetched when none came with the audio
    root = voxceleb1.fetch({"path": str(corpora["voxceleb1"]["test"]), "progress": False,
                            "meta_url": f"{corpora['url']}/vox1_meta.csv"}, tmp_path / "vox2")
    assert set(voxceleb1.list_voices(root, {}, Rejects("p")).gender) == {"male"}


def test_voxceleb1_faces(corpora):
    vox = corpora["voxceleb1"]
    opts = {"meta": str(vox["meta"])}
    df = voxceleb1.list_faces(vox["faces"], opts, Rejects("p"))
    assert sorted(df.person.unique()) == ["id10001", "id10002"]  # names mapped to VoxCeleb1 ids
    assert sorted(df.source_id.unique()) == ["id10001/1zcIwhmdeo4", "id10001/7w0IBEWc9Qw", "id10002/1zcIwhmdeo4",
                                             "id10002/7w0IBEWc9Qw"]
    assert df.groupby("person").gender.first().to_dict() == {"id10001": "male", "id10002": "female"}
    assert set(df.name) == {"Urdu_Speaker_SM1", "Urdu_Speaker_SF1"}
    rejects = Rejects("p")
    flat = voxceleb1.list_faces(vox["faces_flat"], opts, rejects)
    assert sorted(flat.source_id.unique()) == ["id10001/1zcIwhmdeo4", "id10270/5r0dWxy17C8"]
    assert [Path(r["path"]).name for r in rejects.rows] == ["loose.jpg"]
    unnamed = voxceleb1.list_faces(vox["faces_flat"], {"meta": False}, Rejects("p"))
    assert sorted(unnamed.person.unique()) == ["Urdu_Speaker_SM1", "id10270"]


# ----------------------------------------------------------------------------------- Common Voice
def test_commonvoice_download_list_and_convert(corpora, tmp_path):
    url, cv = corpora["url"], corpora["commonvoice"]
    dest = tmp_path / "raw" / "commonvoice"
    with pytest.raises(ParamsError, match="commonvoice.mozilla.org"):
        commonvoice.fetch({}, dest)
    commonvoice.fetch({"url": f"{url}/{cv['en'].name}", "sha256": _sha(cv["en"]), "progress": False}, dest)
    root = commonvoice.fetch({"path": str(cv["ur"])}, dest)  # a second locale, from a local archive
    assert root == dest
    rejects = Rejects("prepare")
    df = list_files("voices", "commonvoice", root, {}, rejects)
    assert sorted(df.language.unique()) == ["en", "ur"]
    assert sorted(df.person.unique()) == ["c0ffee01", "george01", "jackson1", "urduSF1", "urduSM1"]
    assert df.groupby("person").gender.first().to_dict() == {
        "c0ffee01": "unknown", "george01": "male", "jackson1": "male", "urduSF1": "female", "urduSM1": "male"}
    assert "en/common_voice_en_651325" in set(df.source_id) and df.source_id.is_unique
    assert df.set_index("person").loc["c0ffee01", "sentence"] == 'He said "hi'
    assert [Path(r["path"]).name for r in rejects.rows] == ["common_voice_en_404.mp3"]
    only_ur = commonvoice.list_voices(root, {"locales": ["ur"]}, Rejects("p"))
    assert set(only_ur.language) == {"ur"} and len(only_ur) == 2
    train = commonvoice.list_voices(root, {"tsv": "train.tsv"}, Rejects("p"))
    assert len(train) == 3  # rows 2-3 of each locale table (ur has only 2)
    both = commonvoice.list_voices(root, {"tsv": ["train.tsv", "validated.tsv"]}, Rejects("p"))
    assert len(both) == len(df)  # rows in both tables kept once

    import soundfile as sf

    wav = commonvoice.convert_clips(only_ur, tmp_path / "wav")
    assert all(p.endswith(".wav") and Path(p).exists() for p in wav.path)
    assert list(wav.mp3_path) == list(only_ur.path) and list(wav.person) == list(only_ur.person)
    for p in wav.path:
        info = sf.info(p)
        assert 1.5 < info.frames / info.samplerate < 3.5
    broken = only_ur.copy()
    Path(tmp_path / "bad.mp3").write_bytes(b"not audio at all")
    broken.loc[0, "path"] = str(tmp_path / "bad.mp3")
    rejects = Rejects("prepare")
    out = commonvoice.convert_clips(broken, tmp_path / "wav2", rejects)
    assert len(out) == 1 and rejects.rows[0]["path"].endswith("bad.mp3")


# ------------------------------------------------------------------------------ the stage script
def test_download_stage(corpora, tmp_path):
    url, state = corpora["url"], corpora["state"]
    lfw_sha = _sha(corpora["lfw"]["archive"])
    dev_md5 = _md5(corpora["librispeech"]["dev-clean"])
    (tmp_path / "params.yaml").write_text(
        "download:\n"
        "  downloads: data/downloads\n"
        f"  faces: {{source: lfw, url: '{url}/lfw.tgz', sha256: {lfw_sha}, progress: false}}\n"
        f"  voices: {{source: librispeech, subsets: [dev-clean], base_url: '{url}', md5: {{dev-clean: {dev_md5}}},"
        " progress: false}\n"
        "prepare: {faces: null, voices: null}\n")  # the stage also reads the roots prepare will read (dvc.yaml)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, str(REPO / "stages" / "download.py")]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    roots = json.loads(res.stdout.strip().splitlines()[-1])
    assert roots == {"faces": "data/raw/downloaded/lfw/lfw", "voices": "data/raw/downloaded/librispeech/LibriSpeech"}
    assert (tmp_path / "data/downloads/lfw.tgz.ok").exists()
    df = librispeech.list_voices(tmp_path / roots["voices"], {}, Rejects("p"))
    assert sorted(df.person.unique()) == ["2412", "9001", "9003"]
    n = state.count()
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and state.count() == n  # everything verified already: no request
    (tmp_path / "params.yaml").write_text("download:\n  faces: {source: synthetic}\n  voices: null\n"
                                          "prepare: {faces: null, voices: null}\n")
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and json.loads(res.stdout) == {}
    (tmp_path / "params.yaml").write_text("download:\n  voices: {source: commonvoice}\n")
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "commonvoice.mozilla.org" in res.stderr
