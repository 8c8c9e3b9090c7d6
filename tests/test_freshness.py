"""Fresh results on real folders: adding, removing or changing a file under a corpus root read in place outside
data/raw (``prepare.voices.root: <folder>``), or under a folder the ``download`` stage links in
(``download.voices: {source: folder, path: <folder>}``), shows ``prepare`` as changed in ``dvc status``. Before,
DVC hashed data/raw only, never following a symlink inside it, and said "Data and pipelines are up to date".

Runs ``download`` and ``prepare`` alone (``dvc repro -s``) on a copy of the repository and a tiny generated folder."""
import numpy as np
import pytest
import soundfile as sf
import yaml
from helpers import ROOT, copy_repo, sh

pytestmark = pytest.mark.slow


def clips(folder, n=3):
    for person, f0 in (("ann", 220.0), ("bob", 120.0)):
        (folder / person).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            t = np.arange(8000) / 16000
            sf.write(folder / person / f"{i}.wav", (0.3 * np.sin(2 * np.pi * (f0 + 15 * i) * t)).astype(np.float32), 16000)
    return folder


def repo_with(tmp_path, download_voices, root):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["download"].update(faces=None, voices=download_voices)
    params["prepare"].update(faces=None, voices={"source": "folder", "root": root, "options": {}}, workers=1)
    (tmp_path / "repo").mkdir()
    d = copy_repo(tmp_path / "repo", tmp_path / "site", params)
    sh("dvc repro -s download && dvc repro -s prepare", d)
    assert "up to date" in sh("dvc status prepare download", d).stdout.lower()
    return d


def changed(d) -> str:
    return sh("dvc status prepare download", d).stdout


@pytest.mark.parametrize("route", ["in_place", "download_link"])
def test_adding_changing_removing_a_file_shows_prepare_changed(tmp_path, route):
    folder = clips(tmp_path / "recordings")
    if route == "in_place":
        d = repo_with(tmp_path, None, str(folder))
    else:
        d = repo_with(tmp_path, {"source": "folder", "path": str(folder)}, "data/raw/downloaded/folder/recordings")
    edits = [lambda: clips(folder, n=4),  # a new clip per person
             lambda: sf.write(folder / "ann/0.wav", np.zeros(8000, np.float32) + 0.1, 16000),  # a changed one
             lambda: (folder / "bob/1.wav").unlink()]  # a removed one
    for edit in edits:
        edit()
        out = changed(d)
        assert "prepare" in out and "data/raw/downloaded/roots/voices" in out, out
        sh("dvc repro -s prepare", d)
        assert "up to date" in changed(d).lower()
    kept = sh("python -c \"import pandas as p; print(len(p.read_csv('data/manifests/voices.csv')))\"", d).stdout
    assert int(kept) == 6  # 8 clips, bob/1 removed, ann/0 now a DC offset: silent


def test_a_root_inside_data_raw_is_a_placeholder_not_a_link(tmp_path):
    from facevoice.sources.download import watch_root

    (tmp_path / "data/raw/synthetic").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    raw = tmp_path / "data/raw"
    inside = watch_root(str(raw / "synthetic"), raw / "downloaded/roots/faces", raw)
    assert inside.is_file() and not inside.is_symlink()
    outside = watch_root(str(tmp_path / "outside"), raw / "downloaded/roots/voices", raw)
    assert outside.is_symlink() and outside.resolve() == (tmp_path / "outside").resolve()
    assert watch_root(None, raw / "downloaded/roots/voices", raw).is_file()  # null modality: no link
    assert watch_root(str(tmp_path / "nowhere"), raw / "downloaded/roots/voices", raw).is_file()  # never dangling
