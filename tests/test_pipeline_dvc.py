"""DVC behaviour on the tiny profile, in a temporary copy of the repository.

It reproduces the speaker chain (synthesize -> prepare -> features@mfcc -> mfcc models) as DVC targets,
so the whole DAG's wiring is exercised without training every model of the default run.

The first run is ``make repro``'s parallel scheduler (two stages at a time), after which a plain ``dvc repro``
runs nothing; a training param change reruns only the stage that reads it;
``dvc exp run -S`` and ``dvc metrics diff`` show the change. Takes a few minutes (it trains).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, copy_repo, ran, sh, uncovered

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow
TARGETS = "train@mfcc_dense finetune@mfcc_ae_clf"
CLI_TARGETS = "train@face_cnn verify@siamese"


@pytest.fixture(scope="module", autouse=True)
def warm_server(tmp_path_factory):
    """Every ``dvc`` command of this module starts its stages from one warm server (TensorFlow imported once,
    ``facevoice.warm``), as ``make repro`` does; ``facevoice.repro`` starts its own for its run."""
    from facevoice.warm import server

    with server(tmp_path_factory.mktemp("warm") / "server.log") as path:
        yield path


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synthesize"]["profile"] = "tiny"
    for spec in params["verify"].values():  # the CLI tests need a trained verifier, not a good one (test_pairs_verify)
        spec.update(pairs_train=600, pairs_val=200, pairs_test=400)
        spec["fit"].update(epochs=4, freeze_epochs=2, patience=2)
    # absolute site cache: queued experiments run in .dvc/tmp/exps, not in d
    d = copy_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("site"), params)
    first = sh(f"python -m facevoice.repro --jobs 2 {TARGETS}", d)  # make repro's scheduler, two stages at a time
    return d, first.stdout


def test_first_repro_runs_every_stage_and_writes_metrics(repo):
    d, out = repo
    stages = ran(out)
    assert {"synthesize", "prepare", "features@mfcc", "pretrain@mfcc_ae", "train@mfcc_dense",
            "finetune@mfcc_ae_clf"} <= stages
    from facevoice.evaluate import read_details

    metrics = read_details(d / "metrics/mfcc_ae_clf.json")  # the headline numbers and everything beside them
    assert metrics["n_classes"] == 6 and metrics["n_test"] > 0 and 0 <= metrics["accuracy"] <= 1
    assert {"accuracy", "f1_macro", "n_train", "n_test", "split_rule"} <= set(metrics)
    corpus = read_details(d / "metrics/corpus.json")
    assert corpus["voices"]["kept"] + corpus["voices"]["rejected"] == corpus["voices"]["found"] == 48


def test_second_repro_runs_nothing(repo):
    d, _ = repo
    out = sh(f"dvc repro {TARGETS}", d).stdout
    assert ran(out) == set(), out
    status = sh("dvc status finetune@mfcc_ae_clf", d).stdout
    assert "up to date" in status.lower(), status


def test_a_training_param_reruns_only_its_stage(repo):
    d, _ = repo
    sh("git add -A && git commit -qm repro", d)
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["finetune"]["mfcc_ae_clf"]["fit"]["lr"] *= 0.5
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(f"dvc repro {TARGETS}", d).stdout
    assert ran(out) == {"finetune@mfcc_ae_clf"}, out
    sh("git checkout params.yaml dvc.lock && dvc checkout -q", d, check=False)


def test_two_experiments_and_metrics_diff_show_the_change(repo):
    d, _ = repo
    sh(f"dvc repro {TARGETS}", d)
    sh("git add -A && git commit -qm base || true", d)
    for head in (8, 4):
        sh(f"dvc exp run finetune@mfcc_ae_clf -n head{head} -S finetune.mfcc_ae_clf.args.head=[{head}] "
           "-S finetune.mfcc_ae_clf.fit.epochs=2 -S finetune.mfcc_ae_clf.fit.freeze_epochs=1", d)
    diff = json.loads(sh("dvc metrics diff --json", d).stdout)
    assert "metrics/mfcc_ae_clf.json" in diff, diff
    params_diff = json.loads(sh("dvc params diff --json", d).stdout)
    assert "finetune.mfcc_ae_clf.fit.epochs" in params_diff["params.yaml"]
    shown = sh("dvc exp show --csv --no-pager", d).stdout
    assert "head8" in shown and "head4" in shown, shown
    diff2 = json.loads(sh("dvc exp diff head8 head4 --json", d).stdout)
    assert "finetune.mfcc_ae_clf.args.head" in json.dumps(diff2), diff2


def test_a_queued_grid_runs_every_combination(repo):
    """The README's grid: ``dvc exp run --queue`` with a comma sweep queues one experiment per value,
    ``dvc queue start`` runs them in the background, and each lands in ``dvc exp show`` with its metrics."""
    import time

    d, _ = repo
    sh("git checkout -- params.yaml dvc.lock && dvc checkout -q", d, check=False)
    sh("dvc exp run finetune@mfcc_ae_clf --queue -S 'finetune.mfcc_ae_clf.args.head=[6],[3]' "
       "-S finetune.mfcc_ae_clf.fit.epochs=2 -S finetune.mfcc_ae_clf.fit.freeze_epochs=1", d)
    assert sh("dvc queue status", d).stdout.count("Queued") == 2
    sh("dvc queue start -j 1", d)
    deadline = time.time() + 900
    while time.time() < deadline:
        status = sh("dvc queue status", d).stdout
        if "Queued" not in status and "Running" not in status:
            break
        if "Running" not in status and "0 active" in status:  # DVC #10562: a worker may stop with tasks left
            sh("dvc queue start -j 1", d)
        time.sleep(5)
    sh("dvc queue stop", d, check=False)
    assert status.count("Success") == 2, status
    rows = pd.read_csv(__import__("io").StringIO(sh("dvc exp show --csv --no-pager", d).stdout))
    grid = rows[rows["finetune.mfcc_ae_clf.args.head"].astype(str).isin(["[6]", "[3]"])]
    accuracy = next(c for c in ("metrics/mfcc_ae_clf.json:accuracy", "accuracy") if c in rows.columns)
    assert len(grid) == 2 and grid[accuracy].notna().all(), grid.to_string()


# ------------------------------------------------------------------ the facevoice command on the tiny run
def facevoice(d, *args):
    """The command on the tiny run's models, with a gallery of its own (the defaults are the repository's models/
    and a per-user folder)."""
    env = {**os.environ, "FACEVOICE_MODELS": str(d / "models"), "FACEVOICE_GALLERY": str(d / "gallery")}
    return subprocess.run([str(BIN / "facevoice"), *args], cwd=d, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def trained(repo):
    d, _ = repo
    sh("git checkout -- params.yaml dvc.lock", d, check=False)  # drop the last experiment's 2-epoch params
    sh(f"dvc repro {TARGETS} {CLI_TARGETS}", d)
    people = pd.read_csv(d / "data/manifests/voices.csv")
    faces = pd.read_csv(d / "data/manifests/faces.csv")
    test_faces = faces[faces["split"] == "test"]
    test_clips = people[people["split"] == "test"]
    return d, test_faces, test_clips


def test_every_file_the_stages_wrote_is_a_declared_output(trained):
    """DVC restores (run cache, ``dvc checkout``) and checks only what dvc.yaml declares: a file a stage writes
    beside its outputs would go stale unnoticed (the report embedded confusion.png, which no stage declared)."""
    from dvc.repo import Repo

    d, _, _ = trained
    with Repo(str(d)) as repo:
        outs = {Path(o.fs_path).relative_to(d).as_posix() for stage in repo.index.stages for o in stage.outs}
    written = [f.relative_to(d).as_posix() for top in ("data", "models", "metrics", "plots", "reports")
               for f in sorted((d / top).rglob("*")) if f.is_file()]
    undeclared = uncovered(written, outs)
    assert any(f.startswith("plots/face_cnn/") for f in written) and not undeclared, undeclared


def test_identify_names_the_person_from_a_photo_and_a_clip(trained):
    d, faces, clips = trained
    person = clips["person"].iloc[0]
    clip = clips[clips["person"] == person]["original_path"].iloc[0]  # the mp3 as the corpus has it
    photo = faces[faces["person"] == person]["path"].iloc[0]
    voice_only = facevoice(d, "identify", "--voice", clip, "--classifier", "mfcc_ae_clf", "--top-k", "3")
    assert voice_only.returncode == 0, voice_only.stderr
    lines = voice_only.stdout.splitlines()
    assert lines[1].startswith(f"1. {person}\t") and "closed set" in voice_only.stdout, voice_only.stdout
    for flag, sample in (("--face", photo), ("--voice", clip)):  # the most accurate classifier of each modality
        r = facevoice(d, "identify", flag, sample, "--classifier", "auto")
        assert r.returncode == 0 and "top 5 of classifier" in r.stdout, r.stderr
        assert len([ln for ln in r.stdout.splitlines() if ln[:1].isdigit()]) == 5


def test_verify_and_enroll(trained):
    d, faces, clips = trained
    a, b = clips.groupby("person")["original_path"].first().iloc[:2]
    # two clips: GE2E's embeddings against the voice threshold measured on real speakers (never the run's siamese
    # models); the command's contract: a score, the threshold and where it was measured, a decision that follows
    for x, y in ((a, a), (a, b)):
        r = facevoice(d, "verify", x, y)
        assert r.returncode == 0, r.stderr
        m = re.match(r"(same person|different people)\tscore (-?[0-9.]+)\tthreshold ([0-9.]+) \((.+)\)", r.stdout)
        assert m and "embedder: ge2e@" in r.stdout, r.stdout
        assert (m.group(1) == "same person") == (float(m.group(2)) >= float(m.group(3)))
    person = faces["person"].iloc[0]
    mine = faces[faces["person"] == person]["path"].tolist()
    enrolled = facevoice(d, "enroll", "Newcomer", "--faces", *mine[:2])
    assert enrolled.returncode == 0 and f"enrolled Newcomer: {len(mine[:2])} photo(s)" in enrolled.stdout, \
        enrolled.stdout + enrolled.stderr
    found = facevoice(d, "identify", "--face", mine[-1])
    assert found.returncode == 0 and "1. Newcomer\t" in found.stdout, found.stdout + found.stderr


def test_bad_input_is_one_line(trained, tmp_path):
    import numpy as np
    import soundfile as sf

    d, _, _ = trained
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    blank = tmp_path / "wall.png"
    import cv2

    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, dtype=np.uint8))
    for args, reason in [(["identify", "--voice", str(tmp_path / "silent.wav")], "silent clip"),
                         (["identify", "--face", str(blank), "--classifier", "face_cnn"], "no face"),
                         (["identify", "--voice", str(tmp_path / "silent.wav"), "--classifier", "nope"],
                          "unknown model 'nope'")]:
        r = facevoice(d, *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and reason in r.stderr, (args, r.stderr)
