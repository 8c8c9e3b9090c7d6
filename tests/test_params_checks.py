"""Every features and faces params key is checked up front with one line naming it, and a stage that rejects
every input fails (so DVC does not lock an empty store) while an empty manifest is still a 'skipped' success."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from facevoice.audio.features import FEATURES, KEYS
from facevoice.audio.features import check as check_feature
from facevoice.errors import FacevoiceError, ParamsError
from facevoice.faces import build as build_faces
from facevoice.faces.build import check as check_faces
from facevoice.features import build as build_feature
from facevoice.params import Checked

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
MANIFEST_COLUMNS = ["path", "person", "gender", "language", "source_id", "corpus", "split"]


# ---------------------------------------------------------------- Checked's helpers

def test_checked_helpers_name_the_key():
    p = Checked({"a": 1, "size": [64], "stats": ["mean", "median"], "trim": None, "d": 0, "x": 2}, "s")
    with pytest.raises(ParamsError, match=r"unknown key\(s\) a, x in 's' \(known: d, size, stats, trim\)"):
        p.only(["d", "size", "stats", "trim"])
    p.only(["a", "size", "stats", "trim", "d", "x", "unused"])
    with pytest.raises(ParamsError, match=r"'s.size' must be a list of 2 integers >= 1, got \[64\]"):
        p.ints("size", length=2, min=1)
    assert Checked({"size": [3, 4]}, "s").ints("size", length=2, min=1) == [3, 4]
    with pytest.raises(ParamsError, match=r"'s.stats' must be a non-empty list of distinct values from mean, std"):
        p.subset("stats", ["mean", "std"])
    for bad in ([], "mean", ["mean", "mean"], [["mean"]]):
        with pytest.raises(ParamsError, match="'s.v'"):
            Checked({"v": bad}, "s").subset("v", ["mean", "std"])
    assert p.optional("trim", "positive") is None and p.optional("absent", "positive") is None
    with pytest.raises(ParamsError, match=r"'s.d' must be > 0, got 0"):
        p.optional("d", "positive")
    assert p.positive("x") == 2.0
    with pytest.raises(ParamsError, match=r"^params.yaml: 's.x' is odd$"):
        p.fail("x", "is odd")


# ---------------------------------------------------------------- features

def test_every_feature_section_of_params_yaml_passes_and_every_kind_has_rules():
    assert set(KEYS) == set(FEATURES)
    for name, section in PARAMS["features"].items():
        assert check_feature(name, section) == section.get("kind", name)
        assert set(section) <= {"kind", *KEYS[section.get("kind", name)]}


BAD_FEATURES = [  # (section, edit, the one-line message expected)
    ("mfcc", {"n_mfcc": "forty"}, "params.yaml: 'features.mfcc.n_mfcc' must be an integer, got 'forty'"),
    ("mfcc", {"n_fft": -512}, "params.yaml: 'features.mfcc.n_fft' must be >= 1, got -512"),
    ("mfcc", {"n_mfcc": 129}, "'features.mfcc.n_mfcc' must be <= 128"),
    ("mfcc", {"n_mfcc": True}, "'features.mfcc.n_mfcc' must be an integer"),
    ("mfcc", {"hop": 0}, "'features.mfcc.hop' must be >= 1"),
    ("mfcc", {"stats": ["mean", "median"]}, ("'features.mfcc.stats' must be a non-empty list of distinct values from "
                                             "mean, std")),
    ("mfcc", {"stats": []}, "'features.mfcc.stats'"),
    ("mfcc", {"seq_frames": 0}, "'features.mfcc.seq_frames' must be >= 1"),
    ("mfcc", {"sr": 100}, "'features.mfcc.sr' must be >= 4000"),
    ("mfcc", {"sr": 16000.5}, "'features.mfcc.sr' must be an integer"),
    ("mfcc", {"sr": 10 ** 6}, "'features.mfcc.sr' must be <= 192000"),
    ("mfcc", {"trim_db": 0}, "'features.mfcc.trim_db' must be > 0, got 0"),
    ("mfcc", {"trim_db": "loud"}, "'features.mfcc.trim_db' must be a number"),
    ("mfcc", {"workers": -1}, "'features.mfcc.workers' must be >= 0"),
    ("mfcc", {"min_duration": -1}, "'features.mfcc.min_duration' must be >= 0"),
    ("mfcc", {"hop_length": 160}, ("unknown key(s) hop_length in 'features.mfcc' (known: kind, sr, trim_db, min_duration, workers, "
                            "n_mfcc, n_fft, hop, stats, seq_frames)")),
    ("mfcc", {"kind": "mfccs"}, ("'features.mfcc.kind' must be one of logspec, mel6s, mel_chunks, mfcc, raw, "
                                 "shortterm, voice_embed; got 'mfccs'")),
    ("mel_chunks", {"chunk": 0}, "'features.mel_chunks.chunk' must be > 0, got 0"),
    ("mel_chunks", {"min_chunk": 2.0}, "'features.mel_chunks.min_chunk' must be <= chunk (1.0 s), got 2.0"),
    ("mel_chunks", {"size": [64]}, "'features.mel_chunks.size' must be a list of 2 integers >= 1, got [64]"),
    ("mel_chunks", {"size": [64, 0]}, "'features.mel_chunks.size' must be a list of 2 integers >= 1"),
    ("mel_chunks", {"size": "64x64"}, "'features.mel_chunks.size' must be a list of 2 integers"),
    ("mel_chunks", {"fmax": 9000}, "'features.mel_chunks.fmax' must be <= sr / 2 = 8000 Hz, got 9000"),
    ("mel_chunks", {"top_db": -80}, "'features.mel_chunks.top_db' must be > 0"),
    ("mel_chunks", {"png_per_person": -1}, "'features.mel_chunks.png_per_person' must be >= 0"),
    ("mel_chunks", {"png_chunks": "two"}, "'features.mel_chunks.png_chunks' must be an integer"),
    ("mel_chunks", {"n_mels": 0}, "'features.mel_chunks.n_mels' must be >= 1"),
    ("mel_chunks", {"hop": 0}, "'features.mel_chunks.hop' must be >= 1"),
    ("logspec", {"duration": 0}, "'features.logspec.duration' must be > 0"),
    ("logspec", {"fmin": 0}, "'features.logspec.fmin' must be > 0"),
    ("logspec", {"fmin": 8000}, "'features.logspec.fmin' must be < sr / 2 = 8000 Hz"),
    ("logspec", {"n_bins": 0}, "'features.logspec.n_bins' must be >= 1"),
    ("logspec", {"frames": 1.5}, "'features.logspec.frames' must be an integer"),
    ("logspec", {"n_fft": None}, "'features.logspec.n_fft' must be an integer, got None"),
    ("mel6s", {"range_log2": 0}, "'features.mel6s.range_log2' must be > 0"),
    ("mel6s", {"size": [64, 64, 1]}, "'features.mel6s.size' must be a list of 2 integers"),
    ("mel6s", {"sr": 8000}, "'features.mel6s.fmax' must be <= sr / 2 = 4000 Hz, got 8000"),
    ("shortterm", {"frames": 1000}, "'features.shortterm.frames' leaves windows of 48 samples"),
    ("shortterm", {"sr": 4000}, "'features.shortterm.sr' must be >= 8000"),
    ("raw", {"duration": -2.0}, "'features.raw.duration' must be > 0, got -2.0"),
    ("raw", {"dtype": "int8"}, "'features.raw.dtype' must be one of float32, float16, float64; got 'int8'"),
    ("raw", {"n_fft": 512}, "unknown key(s) n_fft in 'features.raw'"),
]


@pytest.mark.parametrize("name,edit,message", BAD_FEATURES, ids=[f"{n}-{next(iter(e))}" for n, e, _ in BAD_FEATURES])
def test_a_bad_feature_value_is_one_line_naming_its_key(tmp_path, name, edit, message):
    """Raised by build before the manifest is read (it does not even exist here)."""
    with pytest.raises(ParamsError) as err:
        build_feature(name, {**PARAMS["features"][name], **edit}, tmp_path / "missing.csv", tmp_path / "out",
                      progress=False)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_feature_section_may_leave_keys_to_their_defaults():
    assert check_feature("mfcc", {}) == "mfcc"
    assert check_feature("voice", {"kind": "raw", "trim_db": None}) == "raw"


def tone(path: Path, seconds: float = 1.0, sr: int = 16000) -> str:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return str(path)


def manifest(path: Path, files: list[str]) -> Path:
    rows = [{"path": f, "person": f"p{i % 2}", "gender": "unknown", "language": "en", "source_id": f"s{i}",
             "corpus": "toy", "split": "train"} for i, f in enumerate(files)]
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(path, index=False)
    return path


def test_a_feature_stage_that_rejects_every_clip_fails_naming_the_cause(tmp_path):
    clips = [tone(tmp_path / f"{i}.wav", 0.3) for i in range(3)]
    m = manifest(tmp_path / "voices.csv", clips)
    with pytest.raises(FacevoiceError) as err:  # every clip is shorter than min_duration
        build_feature("mfcc", {**PARAMS["features"]["mfcc"], "min_duration": 1.0}, m, tmp_path / "out",
                      progress=False)
    text = str(err.value)
    assert text.startswith("features@mfcc: every one of the 3 clips was rejected (first reason: 'too short")
    assert text.endswith("check params.yaml 'features.mfcc' and the source") and "\n" not in text
    assert len(pd.read_csv(tmp_path / "out/rejects.csv")) == 3  # the reasons are kept for a look
    summary = build_feature("mfcc", PARAMS["features"]["mfcc"], m, tmp_path / "ok", progress=False)
    assert summary["clips_kept"] == 3  # the same clips with sound params


def test_an_empty_manifest_is_still_skipped_not_failed(tmp_path):
    m = manifest(tmp_path / "voices.csv", [])
    summary = build_feature("mfcc", PARAMS["features"]["mfcc"], m, tmp_path / "out", progress=False)
    assert summary["clips"] == 0 and "no clips" in summary["skipped"]
    assert json.loads((tmp_path / "out/summary.json").read_text())["skipped"] == summary["skipped"]


def run_stage(cwd: Path, params: dict, *args: str) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(ROOT / "stages" / args[0]), *args[1:]], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_features_stage_exits_non_zero_with_one_line(tmp_path):
    (tmp_path / "data/manifests").mkdir(parents=True)
    m = manifest(tmp_path / "data/manifests/voices.csv", [tone(tmp_path / f"{i}.wav") for i in range(2)])
    features = {"mfcc": {**PARAMS["features"]["mfcc"], "workers": 1}}
    for edit, want in [({"n_mfcc": "forty"}, ("error: params.yaml: 'features.mfcc.n_mfcc' must be an integer, "
                                              "got 'forty'")),
                       ({"min_duration": 5.0}, "error: features@mfcc: every one of the 2 clips was rejected")]:
        result = run_stage(tmp_path, {"features": {"mfcc": {**features["mfcc"], **edit}}}, "features.py", "mfcc")
        lines = result.stderr.strip().splitlines()  # the progress bar's lines, then the one error line
        errors = [line for line in lines if line.startswith("error:")]
        assert result.returncode == 2 and errors == lines[-1:] and errors[0].startswith(want), result.stderr
    assert not (tmp_path / "data/features/mfcc/summary.json").exists()
    m.write_text(",".join(MANIFEST_COLUMNS) + "\n")  # no voices in this corpus: still a success
    result = run_stage(tmp_path, {"features": features}, "features.py", "mfcc")
    assert result.returncode == 0, result.stderr
    assert "skipped" in json.loads((tmp_path / "data/features/mfcc/summary.json").read_text())


# ---------------------------------------------------------------- faces

BAD_FACES = [
    ({"max_side": 10}, "'faces.max_side' must be 0 (never downscale) or >= 64 px, got 10"),
    ({"max_side": -1}, "'faces.max_side' must be >= 0"),
    ({"max_side": "big"}, "'faces.max_side' must be an integer"),
    ({"seed": -1}, "'faces.seed' must be >= 0"),
    ({"samples": -1}, "'faces.samples' must be >= 0"),
    ({"min_confidence": 1.5}, "'faces.min_confidence' must be <= 1"),
    ({"min_size": 0}, "'faces.min_size' must be >= 1"),
    ({"margin": "wide"}, "'faces.margin' must be a number"),
    ({"align": "yes"}, "'faces.align' must be true or false"),
    ({"color": "sepia"}, "'faces.color' must be one of grey, rgb"),
    ({"size": 30}, "'faces.size' must be a multiple of 4"),
    ({"size": 4}, "'faces.size' must be >= 8"),
    ({"balance": {"max_person": 3}}, ("unknown key(s) max_person in 'faces.balance' (known: max_people, max_photos, "
                                      "min_photos)")),
    ({"balance": [1]}, "'faces.balance' must be a mapping, got list"),
    ({"balance": {"min_photos": -1}}, "'faces.balance.min_photos' must be >= 0"),
    ({"mtcnn": "fast"}, "'faces.mtcnn' must be a mapping, got str"),
    ({"mtcnn": {"batch": 8}}, "unknown key(s) batch in 'faces.mtcnn' (known: batch_size, min_face_size"),
    ({"mtcnn": {"threshold_onet": 2}}, "'faces.mtcnn.threshold_onet' must be <= 1"),
    ({"augment": {"copies": -1}}, "'faces.augment.copies' must be >= 0"),
    ({"maxside": 512}, "unknown key(s) maxside in 'faces' (known: detector, mtcnn, max_side,"),
]


@pytest.mark.parametrize("edit,message", BAD_FACES, ids=[next(iter(e)) for e, _ in BAD_FACES])
def test_a_bad_faces_value_is_one_line_naming_its_key(tmp_path, edit, message):
    with pytest.raises(ParamsError) as err:
        build_faces({**PARAMS["faces"], **edit}, tmp_path / "missing.csv", tmp_path / "out", progress=False)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_the_faces_params_pass_and_null_sub_sections_take_their_defaults():
    cfg = check_faces(PARAMS["faces"])
    assert cfg["mtcnn"]["max_side"] == PARAMS["faces"]["max_side"] == 1024
    cfg = check_faces({"detector": "none", "mtcnn": None, "augment": None, "balance": None})
    assert cfg["mtcnn"]["max_side"] == 1024 and cfg["balance"]["min_photos"] == 1 and cfg["augment"]["copies"] == 2


def test_a_faces_stage_that_rejects_every_photo_fails_and_an_empty_one_is_skipped(tmp_path):
    photos = []
    for i in range(2):
        (tmp_path / f"{i}.jpg").write_bytes(b"not a photo")
        photos.append(str(tmp_path / f"{i}.jpg"))
    spec = {"detector": "none", "size": 16, "samples": 0}
    with pytest.raises(FacevoiceError) as err:
        build_faces(spec, manifest(tmp_path / "faces.csv", photos), tmp_path / "out", progress=False)
    text = str(err.value)
    assert text.startswith("faces: every one of the 2 photos was rejected (first reason: 'unreadable image")
    assert text.endswith("check params.yaml 'faces' and the source") and "\n" not in text
    summary = build_faces(spec, manifest(tmp_path / "empty.csv", []), tmp_path / "empty", progress=False)
    assert summary["photos"] == 0 and "no photos" in summary["skipped"]


# ---------------------------------------------------------------- pairs

@pytest.mark.parametrize("path,value,message", [
    (("pairing",), "both", r"'pairs.pairing' must be one of identity, chimeric; got 'both'"),
    (("per_person", "train"), "ten", r"'pairs.per_person.train' must be an integer, got 'ten'"),
    (("per_person", "later"), 3, r"unknown key\(s\) later in 'pairs.per_person'"),
    (("verify_split", "ratios", "val"), 2, r"'pairs.verify_split.ratios.val' must be <= 1, got 2"),
    (("verify_split", "by"), "clip", r"'pairs.verify_split.by' must be one of person, recording"),
    (("face", "feature"), None, r"'pairs.face.feature' must be a non-empty string, got None"),
    (("voices", "spec", "sotre"), "x", r"unknown key\(s\) sotre in 'pairs.voices.spec' \(known: feature, store\)"),
    (("seed",), -1, r"'pairs.seed' must be >= 0"),
    (("bogus",), 1, r"unknown key\(s\) bogus in 'pairs'"),
])
def test_every_pairs_key_is_checked_with_one_line_naming_it(path, value, message):
    import copy

    from facevoice.pairs import check as check_pairs

    spec = copy.deepcopy(PARAMS["pairs"])
    check_pairs(copy.deepcopy(spec))  # the shipped params pass
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParamsError, match=message) as err:
        check_pairs(spec)
    assert len(str(err.value).splitlines()) == 1
