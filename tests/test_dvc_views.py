"""DVC's own views read (#30.5): ``dvc metrics show`` fits 200 columns, ``dvc exp show --only-changed`` after a
one-param experiment shows that param and the metrics it moved, ``dvc plots diff HEAD`` finds the last commit's
plots (they are cached outputs) and its page loads no script from the network (the offline template).

Each check runs DVC in a tiny repository built here (seconds), never the pipeline."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, sh
from test_report import FLAGS, chromium  # noqa: F401  (the fixture: Debian's chromium, installed when root)

from facevoice import report_assets
from facevoice.evaluate import details_path, headline, read_details, write_metrics

TEMPLATE = ROOT / "src/facevoice/report_assets/dvc_plots.html"

# a verifier's, a classifier's and a protocol's full dicts: lists, strings, flags, nested blocks
FULL = {
    "clf": {"accuracy": 0.75, "accuracy_ci": [0.6, 0.9], "f1_macro": 0.7, "f1_macro_ci": [0.5, 0.8], "roc_auc": 0.8,
            "task": "person", "classes": ["a", "b"], "params": {"lr": 0.1}, "degenerate": "predicts one class",
            "n_test": 12},
    "siam": {"accuracy": 0.9, "eer": 0.1, "eer_ci": [0.05, 0.2], "roc_auc": 0.95, "roc_auc_ci": [0.9, 1.0],
             "face_only": {"eer": 0.2}, "flag": "too few test people (3 < 5)", "pairing": "identity"},
    "trials": {"embeddings": {"mfcc": {"eer": 0.3, "min_dcf": 0.9}, "ge2e": {"eer": 0.05, "eer_ci": [0.01, 0.1],
                                                                           "min_dcf": 0.4}},
               "face_voice": {"best_fused_eer": 0.01, "embeddings": {}}, "n_trials": 400},
    "skipped_one": {"skipped": "the corpus has one person"},
}


def test_the_metrics_file_holds_flat_headline_numbers_and_the_details_the_rest(tmp_path):
    for name, full in FULL.items():
        write_metrics(tmp_path / f"{name}.json", full)
        flat = json.loads((tmp_path / f"{name}.json").read_text())
        assert all(isinstance(v, (int, float)) for v in flat.values()), flat
        assert read_details(tmp_path / f"{name}.json") == full == json.loads(details_path(tmp_path / f"{name}.json").read_text())
    assert headline(FULL["clf"]) == {"accuracy": 0.75, "accuracy_ci_low": 0.6, "accuracy_ci_high": 0.9, "f1_macro": 0.7,
                                     "roc_auc": 0.8}
    assert headline(FULL["trials"]) == {"eer": 0.05, "eer_ci_low": 0.01, "eer_ci_high": 0.1, "min_dcf": 0.4,
                                        "face_voice_eer": 0.01}
    assert headline(FULL["skipped_one"]) == {}
    (tmp_path / "old.json").write_text(json.dumps(FULL["clf"]))  # a metrics file written before the split
    assert read_details(tmp_path / "old.json") == FULL["clf"]


def stages_of(dvc: dict):
    for name, stage in dvc["stages"].items():
        yield name, stage.get("do", stage)


def entries(section: list) -> dict[str, dict]:
    return {k: (v or {}) for e in section for k, v in ([(e, {})] if isinstance(e, str) else e.items())}


def test_every_metrics_file_has_its_details_out_and_every_plot_is_cached():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for name, stage in stages_of(dvc):
        outs = entries(stage.get("outs", []))
        for path in entries(stage.get("metrics", [])):
            want = str(details_path(path))
            assert want in outs and outs[want].get("cache") is False, (name, want)
        for path, opts in entries(stage.get("plots", [])).items():
            assert opts.get("cache", True) is True, (name, path)  # `dvc plots diff HEAD` reads them from the cache
    config = (ROOT / ".dvc/config").read_text()
    assert "html_template = ../src/facevoice/report_assets/dvc_plots.html" in config


def test_the_offline_template_is_the_bundled_scripts():
    """dvc_plots.html is rebuilt from vega/*.min.js (their LICENSE texts beside them) and names no URL to load."""
    assert TEMPLATE.read_text(encoding="utf-8") == report_assets.template()
    for name in ("vega", "vega-lite", "vega-embed"):
        assert (TEMPLATE.parent / "vega" / f"{name}.min.js").stat().st_size > 50_000
        assert "Redistribution" in (TEMPLATE.parent / "vega" / f"LICENSE.{name}").read_text()
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in text and "{scripts}" not in text  # DVC inserts its CDN <script> tags at {scripts}
    assert not script_urls(text)


def script_urls(page: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^\"'> ]*", page, flags=re.I)


def test_metrics_show_fits_200_columns(tmp_path):
    """The committed run's metrics (their full dicts) written as the writer writes them now: every row of
    ``dvc metrics show`` fits 200 columns (it was 5,695 with lists, strings and nested blocks)."""
    sh("git init -q && dvc init -q", tmp_path)
    names = []
    for path in sorted((ROOT / "metrics").glob("*.json")):
        write_metrics(tmp_path / "metrics" / path.name, read_details(path))
        names.append(f"metrics/{path.name}")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    models = [k for group in ("pretrain", "train", "per_language", "finetune", "baseline", "fusion", "verify")
              for k in (params.get(group) or {})]
    longest = max(models, key=len)
    write_metrics(tmp_path / f"metrics/{longest}.json", FULL["clf"])  # the longest name a model may have
    names.append(f"metrics/{longest}.json")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"metrics": names}))
    out = sh("dvc metrics show", tmp_path).stdout
    widths = [len(line) for line in out.splitlines()]
    assert len(widths) > 3 and max(widths) <= 200, out


STAGE = """import json, sys
import yaml
from facevoice.evaluate import write_metrics
p = yaml.safe_load(open("params.yaml"))["train"]
acc = 0.5 + p["lr"] / 2
write_metrics("metrics/train.json", {"accuracy": acc, "accuracy_ci": [acc - 0.1, acc + 0.05], "f1_macro": acc - 0.1,
             "roc_auc": 0.9, "classes": ["a", "b"], "params": p, "split_rule": "by recording", "n_test": 20,
             "per_language": {"de": {"accuracy": acc}, "en": {"accuracy": 1 - acc}}})
open("plots/roc.csv", "w").write("fpr,tpr\\n0,0\\n" + f"{p['lr']},{acc}\\n" + "1,1\\n")
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A committed one-stage DVC repository (params train.lr and train.epochs) whose stage writes through
    ``write_metrics`` and a cached plot, then a one-param experiment (train.lr) applied to the workspace."""
    d = tmp_path_factory.mktemp("tiny")
    (d / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.1, "epochs": 3}}))
    (d / "train.py").write_text(STAGE)
    (d / "plots").mkdir()
    (d / ".gitignore").write_text("/plots/\n")  # as in this repository: DVC caches plots, git never sees them
    stage = {"cmd": f"{sys.executable} train.py", "deps": ["train.py"], "params": ["train.lr", "train.epochs"],
             "outs": [{"metrics/details/train.json": {"cache": False}}],
             "metrics": [{"metrics/train.json": {"cache": False}}],
             "plots": [{"plots/roc.csv": {"cache": True, "x": "fpr", "y": "tpr"}}]}
    (d / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    sh("git init -q && dvc init -q && dvc config core.autostage true", d)
    sh(f"dvc config plots.html_template {TEMPLATE}", d)
    sh("dvc repro -q && git add -A && git commit -qm base", d)
    sh("dvc exp run -q -S train.lr=0.5", d)
    return d


def test_exp_show_only_changed_shows_the_param_and_the_metrics_it_moved(tiny):
    out = sh("dvc exp show --only-changed --no-pager --csv", tiny).stdout
    header = out.splitlines()[0].split(",")
    moved = {"accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1_macro", "train.lr"}
    assert moved <= set(header), header
    changed = [c for c in header if c not in ("Experiment", "rev", "typ", "Created", "parent", "State", "Executor")]
    assert set(changed) == moved, changed  # nothing unchanged, nothing nested
    table = sh("COLUMNS=200 dvc exp show --only-changed --no-pager", tiny).stdout  # as a 200-column terminal shows it
    assert "lr" in table and "…" not in table, table  # the param on screen, no column cut


@pytest.fixture(scope="module")
def diff_page(tiny) -> Path:
    sh("dvc plots diff HEAD -o page", tiny)
    return tiny / "page/index.html"


def test_plots_diff_head_finds_the_last_commit_and_loads_nothing_from_the_network(diff_page):
    """Both revisions' points in the page (HEAD's from the cache) and no script loaded from a URL."""
    page = diff_page.read_text(encoding="utf-8")
    assert not script_urls(page)
    assert re.search(r"""["']rev["']\s*:\s*["']HEAD["']""", page), page[-3000:]
    assert "workspace" in page


def test_the_plots_page_draws_offline_in_headless_chromium(diff_page, chromium, tmp_path):  # noqa: F811
    """Vega draws the chart with no network: a canvas or svg in the page after load (a blank chart has none)."""
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
                             "--dump-dom", diff_page.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    assert re.findall(r"<(canvas|svg)\b", result.stdout), result.stderr[-2000:]
