"""Sources are checked like params: a root that is a file, a regex without its group, a misspelt option: one line."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from facevoice.errors import ParamsError, SourceError
from facevoice.sources import check_options, list_files
from facevoice.tables import Rejects

ROOT = Path(__file__).resolve().parents[1]


def tree(base: Path) -> Path:
    for person in ("ann", "bob"):
        (base / person).mkdir(parents=True)
        cv2.imwrite(str(base / person / "a_1.png"), np.full((32, 32, 3), 9 if person == "ann" else 99, np.uint8))
    return base


@pytest.mark.parametrize("modality,name,opts,message", [
    ("faces", "folder", {"langauge": "en"},
     "params.yaml: 'prepare.faces.options.langauge': unknown key for source folder "
     "(known: manifest, gender, language, source_from)"),
    ("voices", "folder", {"gendr": "f"}, "'prepare.voices.options.gendr': unknown key"),
    ("voices", "librispeech", {"subset": ["dev-clean"]}, "'prepare.voices.options.subset': unknown key for source "
                                                         "librispeech (known: subsets, speakers_file)"),
    ("faces", "lfw", {"peoples": "x.csv"}, "'prepare.faces.options.peoples': unknown key for source lfw (known: people)"),
    ("voices", "commonvoice", {"locale": ["en"]}, "'prepare.voices.options.locale'"),
    ("faces", "voxceleb1", {"set": "test"}, "'prepare.faces.options.set'"),
    ("faces", "synthetic", {"people_csv": "p.csv"}, "'prepare.faces.options.people_csv'"),
    ("voices", "synthetic", {"tsvs": "x"}, "'prepare.voices.options.tsvs'"),
    ("faces", "folder", ["gender", "f"], "'prepare.faces.options' must be a mapping"),
])
def test_an_unknown_option_is_one_line_naming_the_key(modality, name, opts, message):
    with pytest.raises(ParamsError) as err:
        check_options(name, modality, opts)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_known_options_pass():
    assert check_options("folder", "faces", {"gender": "f", "source_from": "file"}) == {"gender": "f",
                                                                                       "source_from": "file"}
    assert check_options("synthetic", "voices", None) == {}
    assert check_options("synthetic", "faces", {"people": "p.csv"}) == {"people": "p.csv"}


def test_a_root_that_is_a_file_or_missing_names_the_key(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"x")
    with pytest.raises(ParamsError, match=r"^params.yaml: 'prepare.faces.root' must be a folder; .*photo.png is a file$"):
        list_files("faces", "folder", tmp_path / "photo.png", {}, Rejects("prepare"))
    with pytest.raises(SourceError, match=r"nowhere: source path not found \(params.yaml: 'prepare.voices.root'\)"):
        list_files("voices", "folder", tmp_path / "nowhere", {}, Rejects("prepare"))


@pytest.mark.parametrize("pattern,message", [
    (r"\d+", r"'prepare.faces.options.source_from' needs a capture group"),
    ("(unclosed", "'prepare.faces.options.source_from' is not a valid regex"),
    (5, "'prepare.faces.options.source_from' must be 'file' or a regex string"),
])
def test_a_source_from_regex_without_its_group_names_the_key(tmp_path, pattern, message):
    with pytest.raises(ParamsError, match=message):
        list_files("faces", "folder", tree(tmp_path / "c"), {"source_from": pattern}, Rejects("prepare"))


def test_a_source_from_regex_with_its_group_shares_the_source(tmp_path):
    df = list_files("faces", "folder", tree(tmp_path / "c"), {"source_from": r"^(.*)_\d+$"}, Rejects("prepare"))
    assert sorted(df["source_id"]) == ["ann/a", "bob/a"]


def run_stage(tmp_path: Path, faces: dict):
    params = {"prepare": {"faces": faces, "voices": None, "min_duration": 0.2, "workers": 1,
                          "split": {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(ROOT / "stages" / "prepare.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["root_is_a_file", "regex_without_group", "misspelt_option"])
def test_the_stage_stops_with_one_line(tmp_path, case):
    """Before: a root at a file exited 0 with no faces, the regex a traceback, the misspelling was ignored."""
    root = tree(tmp_path / "c")
    faces = {"root_is_a_file": {"source": "folder", "root": str(root / "ann" / "a_1.png")},
             "regex_without_group": {"source": "folder", "root": str(root), "options": {"source_from": r"\d+"}},
             "misspelt_option": {"source": "folder", "root": str(root), "options": {"langauge": "en"}}}[case]
    key = {"root_is_a_file": "'prepare.faces.root'", "regex_without_group": "'prepare.faces.options.source_from'",
           "misspelt_option": "'prepare.faces.options.langauge'"}[case]
    result = run_stage(tmp_path, faces)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and key in lines[0], result.stderr
    assert not (tmp_path / "data" / "manifests" / "faces.csv").exists()
