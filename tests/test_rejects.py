"""Bad input is listed with its path and reason, the stage goes on, and found = kept + rejected."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from facevoice.errors import ParamsError, SourceError
from facevoice.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
SPLIT = {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0}


def make_tree(root: Path):
    rng = np.random.default_rng(0)
    for person in ("ann", "bob"):
        for i in range(5):
            t = np.arange(16000) / 16000
            (root / "voices" / person).mkdir(parents=True, exist_ok=True)
            sf.write(root / "voices" / person / f"{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * i + 25 * (person == "bob")) * t)).astype(np.float32), 16000)
            (root / "faces" / person).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "faces" / person / f"{i}.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (root / "voices" / "ann" / "empty.wav").write_bytes(b"")
    (root / "voices" / "ann" / "corrupt.flac").write_bytes(b"fLaC" + b"\x01" * 100)
    sf.write(root / "voices" / "bob" / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    (root / "voices" / "loose.wav").write_bytes(b"RIFF")  # not inside a person folder
    (root / "faces" / "bob" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    (root / "faces" / "ann" / "notes.txt").write_text("not a photo")  # rejected: unsupported extension


def test_rejects_are_listed_and_counts_reconcile(tmp_path):
    make_tree(tmp_path / "corpus")
    counts = prepare({"voices": {"source": "folder", "root": str(tmp_path / "corpus/voices")},
                      "faces": {"source": "folder", "root": str(tmp_path / "corpus/faces")}},
                     SPLIT, tmp_path / "out", workers=1)
    voices = pd.read_csv(tmp_path / "out/voices.csv")
    rejects = pd.read_csv(tmp_path / "out/voices_rejects.csv")
    assert len(voices) == 10 and counts["voices"] == {**counts["voices"], "found": 14, "kept": 10, "rejected": 4}
    reasons = {Path(p).name: r for p, r in zip(rejects["path"], rejects["reason"])}
    assert reasons["empty.wav"] == "empty file"
    assert "cannot decode" in reasons["corrupt.flac"]
    assert reasons["silent.wav"] == "silent clip"
    assert "person folder" in reasons["loose.wav"]
    face_rejects = pd.read_csv(tmp_path / "out/faces_rejects.csv")
    face_reasons = {Path(p).name: r for p, r in zip(face_rejects["path"], face_rejects["reason"])}
    assert sorted(face_reasons) == ["broken.jpg", "notes.txt"]  # notes.txt was skipped silently before
    assert "unreadable image" in face_reasons["broken.jpg"]
    assert face_reasons["notes.txt"] == "unsupported extension .txt"
    assert counts["faces"]["kept"] + counts["faces"]["rejected"] == counts["faces"]["found"] == 12


def test_missing_source_path_is_one_clear_error(tmp_path):
    with pytest.raises(SourceError, match="nowhere.*source path not found"):
        prepare({"voices": {"source": "folder", "root": str(tmp_path / "nowhere")}}, SPLIT, tmp_path / "o")


def run_stage(tmp_path, params: dict, stage="prepare"):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{stage}.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def base_params(root):
    return {"prepare": {"faces": None, "voices": {"source": "folder", "root": str(root)},
                        "split": {"by": "recording", "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 0},
                        "min_duration": 0.2, "workers": 1}}


@pytest.mark.parametrize("edit,key", [
    (lambda p: p["prepare"]["split"].update(by="photo"), "prepare.split.by"),
    (lambda p: p["prepare"]["split"].update(ratios={"train": 2, "test": -1}), "prepare.split.ratios"),
    (lambda p: p["prepare"].update(workers="many"), "prepare.workers"),
    (lambda p: p["prepare"].update(silence_dbfs=6), "'prepare.silence_dbfs' must be <= 0"),
    (lambda p: p["prepare"].update(silence_dbfs="quiet"), "'prepare.silence_dbfs' must be a number"),
    (lambda p: p["prepare"]["voices"].update(source="napster"), "unknown source adapter 'napster'"),
])
def test_stage_stops_with_one_line_naming_the_bad_key(tmp_path, edit, key):
    make_tree(tmp_path / "corpus")
    params = base_params(tmp_path / "corpus/voices")
    edit(params)
    result = run_stage(tmp_path, params)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], result.stderr


def test_stage_names_a_missing_source_path(tmp_path):
    result = run_stage(tmp_path, base_params(tmp_path / "missing"))
    assert result.returncode == 2 and "missing: source path not found" in result.stderr.strip()


def test_params_errors_name_the_key():
    from facevoice.params import Checked

    p = Checked({"epochs": 0, "lr": "fast"}, "models.x.train")
    with pytest.raises(ParamsError, match="'models.x.train.epochs' must be >= 1"):
        p.int("epochs", min=1)
    with pytest.raises(ParamsError, match="'models.x.train.lr' must be a number"):
        p.float("lr")
    with pytest.raises(ParamsError, match="missing key 'models.x.train.seed'"):
        p.int("seed")
