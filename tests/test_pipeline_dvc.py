"""DVC behaviour on the tiny profile, in a temporary copy of the repository.

A second ``dvc repro`` runs nothing; a training param change reruns only the stage that reads it;
``dvc exp run -S`` and ``dvc metrics diff`` show the change. Takes a few minutes (it trains).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def sh(cmd, cwd, check=True):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    result = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=env, timeout=1500)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, d / f)
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["synthesize"]["profile"] = "tiny"
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git init -q && git add -A && git commit -qm init && dvc config core.site_cache_dir .dvc/site", d)
    sh("git commit -qam 'site cache' || true", d)
    first = sh("dvc repro", d)
    return d, first.stdout


def test_first_repro_runs_every_stage_and_writes_metrics(repo):
    d, out = repo
    stages = ran(out)
    assert {"synthesize", "prepare", "features@mfcc", "pretrain@mfcc_ae", "train@mfcc_dense",
            "finetune@mfcc_ae_clf"} <= stages
    metrics = json.loads((d / "metrics/mfcc_ae_clf.json").read_text())
    assert metrics["n_classes"] == 6 and metrics["n_test"] > 0 and 0 <= metrics["accuracy"] <= 1
    assert {"accuracy", "f1_macro", "n_train", "n_test", "split_rule"} <= set(metrics)
    corpus = json.loads((d / "metrics/corpus.json").read_text())
    assert corpus["voices"]["kept"] + corpus["voices"]["rejected"] == corpus["voices"]["found"] == 48


def test_second_repro_runs_nothing(repo):
    d, _ = repo
    out = sh("dvc repro", d).stdout
    assert ran(out) == set(), out


def test_a_training_param_reruns_only_its_stage(repo):
    d, _ = repo
    sh("git add -A && git commit -qm repro", d)
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["finetuned"]["mfcc_ae_clf"]["train"]["lr"] = 0.002
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh("dvc repro", d).stdout
    assert ran(out) == {"finetune@mfcc_ae_clf"}, out
    sh("git checkout params.yaml dvc.lock && dvc checkout -q", d, check=False)


def test_exp_run_and_metrics_diff_show_the_change(repo):
    d, _ = repo
    sh("dvc repro", d)
    sh("git add -A && git commit -qm base || true", d)
    sh("dvc exp run -S finetuned.mfcc_ae_clf.args.head=[8] -S finetuned.mfcc_ae_clf.train.epochs=2 "
       "-S finetuned.mfcc_ae_clf.train.freeze_epochs=1", d)
    diff = sh("dvc metrics diff --json", d).stdout
    changed = json.loads(diff)
    assert "metrics/mfcc_ae_clf.json" in changed, diff
    params_diff = json.loads(sh("dvc params diff --json", d).stdout)
    assert "finetuned.mfcc_ae_clf.train.epochs" in params_diff["params.yaml"]
