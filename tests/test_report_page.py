"""The report leads with answers (#30.6): its first screen at 1400x900 in headless Chromium holds the summary (the
best face, voice and face+voice models with intervals and baselines, the verification EERs), every table fits
1,400 px (folded ones opened to measure), counts print as integers and the seed caveats come last.

The page is built from this checkout's committed metrics (their full dicts, written as the writer writes them
now) so the tables are as wide as a real run's; LFW pairs are given a run here so the summary shows them."""
import re
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT
from test_report import FLAGS, chromium  # noqa: F401  (the fixture: Debian's chromium, installed when root)

from facevoice.evaluate import read_details, write_metrics
from facevoice.report import best_model, build, read_metrics, summary_section

LFW = {"n_usable_pairs": 120, "n_missing_pairs": 0,
       "embeddings": {"dlib": {"accuracy": 0.983, "eer": 0.021, "eer_ci": [0.01, 0.04], "auc": 0.99, "n_pairs": 120},
                      "face_ae": {"skipped": "no faces"}}}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report")
    for path in sorted((ROOT / "metrics").glob("*.json")):
        write_metrics(d / "metrics" / path.name, read_details(path))
    write_metrics(d / "metrics/lfw_pairs.json", LFW)
    return build(d / "reports/index.html", metrics_dir=d / "metrics", plots_dir=d / "plots",
                 features_dir=d / "features", manifests=d / "manifests", seeds=ROOT / "docs/seed_results.csv")


def test_the_summary_names_the_best_models_with_intervals_baselines_and_eers(page):
    found = read_metrics(page.parent.parent / "metrics")
    text = summary_section(found)
    for mod in ("face", "voice", "face+voice"):
        name = best_model(found, mod)
        assert name and f"<code>{name}</code>" in text, mod
        assert found[name]["task"] == "person" and not found[name].get("degenerate")
    assert text.count("accuracy ") >= 3 and re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text)
    assert "classic baseline" in text and "Same speaker? (speaker trials)" in text
    assert "Same face? (LFW pairs)" in text and "<b>dlib</b>: EER 0.021 [0.010, 0.040]" in text  # a run shows it


def test_counts_are_integers_and_the_seed_caveats_come_last(page):
    html = page.read_text()
    assert not re.search(r">\d+\.000<", html.replace("1.000<", "")), "a count printed as a float"
    assert ">295<" in html or ">24<" in html  # the corpus counts
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings[0] == "Answers for this corpus" and headings[-1] == "What the seed projects reported", headings


def test_the_first_screen_holds_the_summary_and_every_table_fits(page, chromium, tmp_path):  # noqa: F811
    run = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900"]
    dom = subprocess.run([*run, "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    found = {k: int(v) for k, v in re.findall(r'data-(summary-bottom|widest-table)="(-?\d+)"', dom.stdout)}
    assert set(found) == {"summary-bottom", "widest-table"}, dom.stderr[-2000:]
    assert 0 < found["summary-bottom"] <= 900, found  # the whole summary on the first screen
    assert found["widest-table"] <= 1400, found
    shot = tmp_path / "first_screen.png"
    subprocess.run([*run, f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
