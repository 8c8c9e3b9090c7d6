"""Issue #30 items 1 and 4: ``facevoice.api`` (re-exported lazily from ``facevoice``), its examples run as doctests
on lfw_dev and speechocean762, the decisions it makes, and the command as a thin layer over it: ``--json`` on every
command, CSV inputs in one process, ``find`` with its digest cache, no TensorFlow on the photo or clip paths."""
from __future__ import annotations

import doctest
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_dataset
from facevoice import cli

COLIN = "Colin_Farrell/Colin_Farrell_{:04d}.jpg"
GEORGE = "George_Clooney/George_Clooney_{:04d}.jpg"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def lfw() -> Path:
    return shared_dataset("lfw_dev") / "lfw-deepfunneled"


@pytest.fixture(scope="module")
def so() -> Path:
    return shared_dataset("speechocean762") / "audio"


@pytest.fixture(autouse=True)
def own_gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEVOICE_GALLERY", str(tmp_path / "gallery"))


# ---------------------------------------------------------------- the package and the API
def test_importing_facevoice_stays_cheap_and_reexports_the_api_lazily():
    out = python("""
        import sys, facevoice
        heavy = [m for m in ("numpy", "cv2", "dlib", "tensorflow", "facevoice.api") if m in sys.modules]
        print(heavy, sorted(facevoice.CPU_PINS))
        from facevoice.api import Recognizer, identify, enroll, find, embed_face, embed_voice
        print(facevoice.Recognizer is Recognizer, facevoice.identify is identify, facevoice.find is find,
              facevoice.enroll is enroll, facevoice.embed_face is embed_face, facevoice.embed_voice is embed_voice)
    """)
    assert out.splitlines() == ["[] ['NPY_DISABLE_CPU_FEATURES', 'ONEDNN_MAX_CPU_ISA', 'TF_ENABLE_ONEDNN_OPTS']",
                                "True True True True True True"]


def test_the_inference_constants_are_the_pipelines():
    """inference repeats a few constants of facevoice.faces (importing that package loads pandas): the same."""
    from facevoice import inference
    from facevoice.faces import detect, embed

    assert inference.MAX_SIDE == detect.MAX_SIDE
    assert (inference.CHIP_SIZE, inference.CHIP_PADDING, inference.FLIP) == (embed.CHIP_SIZE, embed.CHIP_PADDING, embed.FLIP)
    assert inference.MODELS_PACKAGE == embed.MODELS_PACKAGE and inference.MODEL_FILES == embed.MODEL_FILES
    photo = np.random.default_rng(0).integers(0, 255, (3000, 2000, 3), dtype=np.uint8)
    a, fa = inference.downscale(photo, 1024)
    b, fb = detect.downscale(photo, 1024)
    assert fa == fb and np.array_equal(a, b)


def test_the_cached_hog_detector_is_dlibs(lfw, tmp_path, monkeypatch):
    """The frontal-face detector saved under the cache folder finds the same boxes as the one built into dlib."""
    import dlib

    from facevoice import inference
    from facevoice.faces.embed import read_rgb

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = inference._hog_detector(dlib)  # builds and saves
    loaded = inference._hog_detector(dlib)  # loads the file
    assert (tmp_path / "facevoice").is_dir() and type(loaded) is type(built)
    for p in (COLIN.format(1), COLIN.format(3), GEORGE.format(2)):
        rgb = read_rgb(lfw / p)
        assert [str(r) for r in loaded(rgb, 1)] == [str(r) for r in dlib.get_frontal_face_detector()(rgb, 1)]


def test_the_embedding_is_the_face_embed_features(lfw):
    """One photo, the same descriptor as the pipeline's face_embed (dlib's own box): cosine > 0.9999."""
    from facevoice.faces.embed import read_rgb, shared_embedder
    from facevoice.inference import face_embedder

    for p in (COLIN.format(1), GEORGE.format(2)):
        ours = face_embedder().faces(lfw / p)[0][0].vector
        assert float(ours @ shared_embedder(1).embed(read_rgb(lfw / p))) > 0.9999


def test_the_api_examples_run(lfw, so, tmp_path):
    """The module's and its methods' examples, as doctests, on lfw_dev and speechocean762."""
    import facevoice.api as api

    globs = {"tmp": tmp_path, "LFW": lfw, "SO": so, "rec": api.Recognizer(gallery=tmp_path / "gallery")}
    result = doctest.testmod(api, extraglobs=globs, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 10 and result.failed == 0, result


# ---------------------------------------------------------------- decisions
def test_verify_uses_dlib_for_photos_ge2e_for_clips_and_the_fusion_for_both(lfw, so, tmp_path):
    from facevoice.api import Recognizer
    from facevoice.inference import threshold
    from facevoice.protocols import fusion

    rec = Recognizer(gallery=tmp_path / "g")
    faces = rec.verify(lfw / COLIN.format(1), lfw / COLIN.format(2))
    assert faces.kind == "face" and faces.embedder.startswith("dlib") and faces.same
    assert faces.provenance == threshold("face").provenance and faces.threshold == threshold("face").value
    clips = [str(p) for p in sorted((so / "0482").glob("*.flac"))[:2]]
    voices = rec.verify(*clips)
    assert voices.kind == "voice" and voices.embedder.startswith("ge2e@") and voices.provenance == threshold("voice").provenance
    both = rec.verify(f"{lfw / COLIN.format(1)},{clips[0]}", {"face": lfw / COLIN.format(2), "voice": clips[1]})
    score, thr, source = fusion.decide_pair(faces.score, voices.score)
    assert both.kind == "face+voice" and both.score == pytest.approx(score) and both.threshold == thr
    assert both.provenance == source and both.same == (score >= thr)
    with pytest.raises(Exception, match="same kinds"):
        rec.verify(lfw / COLIN.format(1), clips[0])


@pytest.mark.parametrize("kind", ["photo", "clip"])
def test_verify_loads_no_tensorflow(lfw, so, kind, tmp_path):
    a, b = ((lfw / COLIN.format(1), lfw / COLIN.format(2)) if kind == "photo"
            else sorted((so / "0482").glob("*.flac"))[:2])
    out = python(f"""
        import os, sys
        os.environ["FACEVOICE_GALLERY"] = {str(tmp_path / 'g')!r}
        from facevoice import cli
        assert cli.main(["verify", {str(a)!r}, {str(b)!r}]) == 0
        print("tensorflow" in sys.modules, "keras" in sys.modules, "torch" in sys.modules)
    """)
    assert out.splitlines()[-1] == "False False False", out


# ---------------------------------------------------------------- the command over the API
def test_every_command_speaks_json(lfw, tmp_path, capsys):
    g = ["--gallery", str(tmp_path / "g"), "--json"]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in (1, 2):
        (folder / f"c{i}.jpg").write_bytes((lfw / COLIN.format(i)).read_bytes())
    commands = [["verify", str(lfw / COLIN.format(1)), str(lfw / GEORGE.format(1))],
                ["enroll", "Colin", "--faces", str(lfw / COLIN.format(1))],
                ["identify", "--face", str(lfw / COLIN.format(2))],
                ["identify", str(lfw / COLIN.format(2)), "--all-faces"],
                ["gallery", "list"],
                ["find", str(lfw / COLIN.format(4)), str(folder), "--quiet"],
                ["gallery", "remove", "Colin"]]
    keys = [{"same", "score", "threshold", "provenance", "embedder"}, {"name", "total"},
            {"answer", "candidates", "threshold", "provenance", "embedder"}, {"faces"}, {"people"},
            {"hits", "threshold", "provenance", "embedder", "cached"}, {"name", "gallery"}]
    for argv, want in zip(commands, keys):
        code, out, err = run([*argv, *g], capsys)
        assert code == 0 and want <= set(json.loads(out)), (argv, out, err)
    code, out, _ = run(["verify", str(tmp_path), str(lfw / COLIN.format(1)), *g], capsys)
    assert code == 2 and "argument a" in json.loads(out)["error"]


def test_verify_and_identify_take_a_csv_in_one_process(lfw, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"a,b\n{lfw / COLIN.format(1)},{lfw / COLIN.format(2)}\n"
                     f"{lfw / COLIN.format(1)},{lfw / GEORGE.format(1)}\nmissing.jpg,{lfw / COLIN.format(2)}\n")
    code, out, err = run(["verify", "--csv", str(pairs), "--json"], capsys)
    rows = json.loads(out)["rows"]
    assert code == 2 and len(rows) == 3 and json.loads(out)["failed"] == 1, err
    assert rows[0]["same"] and not rows[1]["same"] and "file not found" in rows[2]["error"]
    assert len(err.strip().splitlines()) == 1 and "1 of 3 rows" in err
    g = ["--gallery", str(tmp_path / "g")]
    assert run(["enroll", "Colin", "--faces", str(lfw / COLIN.format(1)), *g], capsys)[0] == 0
    samples = tmp_path / "samples.csv"
    samples.write_text(f"face\n{lfw / COLIN.format(2)}\n{lfw / GEORGE.format(1)}\n")
    code, out, err = run(["identify", "--csv", str(samples), *g], capsys)
    assert code == 0, err
    assert [ln.split(": ", 2)[-1] for ln in out.splitlines() if "jpg: " in ln] == [
        "Colin", "unknown (no one in the gallery reaches the threshold)"], out


def test_find_ranks_a_folder_and_caches_embeddings_by_digest(lfw, tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in (1, 2, 4):
        (folder / f"colin{i}.jpg").write_bytes((lfw / COLIN.format(i)).read_bytes())
    for i in (1, 2, 3):
        (folder / "sub" / f"george{i}.jpg").write_bytes((lfw / GEORGE.format(i)).read_bytes())
    (folder / "broken.jpg").write_text("no photo")
    (folder / "notes.txt").write_text("not a photo, not listed")
    argv = ["find", str(lfw / COLIN.format(5)), str(folder), "--gallery", str(tmp_path / "g"), "--json", "--workers", "1"]
    code, out, err = run(argv, capsys)
    first = json.loads(out)
    assert code == 0 and first["cached"] == 0 and "find: faces" in err, err  # tqdm's bar on stderr
    assert [Path(h["path"]).name for h in first["hits"][:3]] == ["colin2.jpg", "colin4.jpg", "colin1.jpg"] or \
        {Path(h["path"]).name for h in first["hits"][:3]} == {"colin1.jpg", "colin2.jpg", "colin4.jpg"}
    assert len(first["hits"]) == 6 and first["files"] == 7 and first["skipped"] == [[str(folder / "broken.jpg"), "unreadable image (not a "
                                                             "photo, or corrupt)"]]
    assert (tmp_path / "g/cache.sqlite").exists()
    code, out, _ = run([*argv, "--quiet"], capsys)
    again = json.loads(out)
    assert again["cached"] == 7 and [h["score"] for h in again["hits"]] == [h["score"] for h in first["hits"]]
