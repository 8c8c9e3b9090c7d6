"""The report is one self-contained HTML page that renders in headless Chromium with no broken image."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facevoice.evaluate import write_confusion, write_metrics, write_reconstructions
from facevoice.report import build

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, installed by this setup when absent (needs root and the Debian registry)."""
    exe = shutil.which("chromium")
    if exe is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, env=env,
                       capture_output=True, timeout=900)
        exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed and could not be installed here (needs root and apt-get)")
    return exe


def artefacts(root: Path):
    (root / "metrics").mkdir(parents=True)
    write_metrics(root / "metrics/corpus.json", {"split_by": "recording",
                                                  "voices": {"found": 10, "kept": 9, "rejected": 1}})
    write_metrics(root / "metrics/toy_clf.json", {"task": "person", "feature": "mfcc", "accuracy": 0.75,
                                                   "f1_macro": 0.7, "n_test": 4, "n_classes": 2})
    write_metrics(root / "metrics/siam.json", {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "roc_auc": 0.95,
                                                "eer": 0.1, "open_set": True, "pairing": "identity",
                                                "face_only": {"accuracy": 0.8, "precision": 0.8, "recall": 0.8,
                                                              "roc_auc": 0.85, "eer": 0.2},
                                                "voice_only": {"accuracy": 0.85, "precision": 0.85, "recall": 0.85,
                                                               "roc_auc": 0.9, "eer": 0.15}})
    write_confusion(root / "plots/toy_clf", np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), ["ann", "bob"], "toy")
    write_reconstructions(root / "plots/toy_ae/reconstructions.png", np.random.rand(4, 16, 16, 1),
                          np.random.rand(4, 16, 16, 1))
    (root / "data/manifests").mkdir(parents=True)
    pd.DataFrame([{"path": "bad.wav", "reason": "empty file", "stage": "prepare"}]).to_csv(
        root / "data/manifests/voices_rejects.csv", index=False)


def test_report_renders_with_no_broken_image(tmp_path, chromium):
    artefacts(tmp_path)
    out = build(tmp_path / "reports/index.html", metrics_dir=tmp_path / "metrics", plots_dir=tmp_path / "plots",
                features_dir=tmp_path / "data/features", manifests=tmp_path / "data/manifests",
                seeds=Path(__file__).resolve().parents[1] / "docs/seed_results.csv")
    page = out.read_text()
    assert "src=\"http" not in page and "src='http" not in page  # self-contained
    for text in ("toy_clf", "empty file", "face_only", "What the seed projects reported"):
        assert text in page
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--virtual-time-budget=5000", "--dump-dom", out.resolve().as_uri()],
                            capture_output=True, text=True, timeout=120)
    dom = result.stdout
    images = re.search(r'data-images="(\d+)"', dom)
    broken = re.search(r'data-broken-images="(\d+)"', dom)
    assert images and broken, result.stderr[-2000:]
    assert int(images.group(1)) == 2 and int(broken.group(1)) == 0


def test_model_cards_say_data_split_params_and_metrics(tmp_path):
    from facevoice.report import write_model_cards

    (tmp_path / "models").mkdir()
    meta = {"model": "toy_clf", "task": "person", "feature": "mfcc", "n_train": 40, "n_test": 10, "n_classes": 4,
            "accuracy": 0.9, "split_rule": "by recording (decided once in prepare)",
            "params": {"builder": "dense_classifier", "fit": {"epochs": 3}}, "classes": ["a", "b", "c", "d"]}
    (tmp_path / "models/toy_clf.json").write_text(json.dumps(meta))
    [card] = write_model_cards(tmp_path / "models", tmp_path / "cards")
    text = card.read_text()
    for part in ("# toy_clf", "40 training samples, 4 classes", "10 test samples", "by recording",
                 "| accuracy | 0.9000 |", "builder: dense_classifier", "epochs: 3"):
        assert part in text, part
    (tmp_path / "models/gender_per_language").mkdir()  # a per-language group: a card per language
    (tmp_path / "models/gender_per_language/de.json").write_text(json.dumps({**meta, "model": "de", "accuracy": 0.96}))
    cards = write_model_cards(tmp_path / "models", tmp_path / "cards")
    assert sorted(c.name for c in cards) == ["gender_per_language_de.md", "toy_clf.md"]
    text = (tmp_path / "cards/gender_per_language_de.md").read_text()
    assert "# gender_per_language / de" in text and "| accuracy | 0.9600 |" in text
    # the Model Cards convention's sections, in its order
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == ["## Model details", "## Intended use", "## Limits", "## Training data", "## Evaluation data",
                        "## Metrics (test split)", "## Baseline", "## Params"], sections


def test_a_broken_image_is_caught(tmp_path, chromium):
    page = tmp_path / "bad.html"
    from facevoice.report import CHECK

    page.write_text(f"<html><body><img src='data:image/png;base64,AAAA'>{CHECK}</body></html>")
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'data-broken-images="1"' in dom
