"""docs/RESULTS.md is the committed metrics: ``benchmarks/readme_results.py`` generates the page from a run's
``metrics/``, and the page must be exactly what it prints from the metrics committed at HEAD, so new metrics
without a regenerated page fail here instead of leaving stale numbers.

The metrics are read with ``git show HEAD:metrics/...`` into a temporary folder, never from the workspace: after
``make repro`` on another machine the workspace's metrics are that run's (inside their intervals,
tests/test_metrics_within_intervals.py), not the committed ones the page states."""
import subprocess
import sys

import pytest
from helpers import ROOT


def committed_metrics(dest):
    """HEAD's metrics/ (details included) under ``dest``; the metrics folder."""
    try:
        files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD", "metrics/"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no committed metrics to compare docs/RESULTS.md with")
    if not files:
        pytest.skip("no metrics/ committed at HEAD yet")
    for rel in files:
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True,
                                       check=True).stdout)
    return dest / "metrics"


def test_results_page_is_what_the_committed_metrics_print(tmp_path):
    metrics = committed_metrics(tmp_path)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/readme_results.py"), str(metrics)],
                         capture_output=True, text=True, check=True).stdout
    tables = [block for block in out.split("\n\n") if block.startswith(("|", "- "))]
    assert len(tables) >= 4  # models, fusion comparison, verifiers, face+voice trials
    page = (ROOT / "docs" / "RESULTS.md").read_text()
    missing = [block.splitlines()[0] for block in tables if block not in page]
    assert not missing, f"docs/RESULTS.md lacks these tables as benchmarks/readme_results.py prints them: {missing}"
    assert page == out, "docs/RESULTS.md differs from what the committed metrics print: " \
                        "run `python benchmarks/readme_results.py --write` on them"


def test_the_readme_points_at_the_results_page():
    assert "docs/RESULTS.md" in (ROOT / "README.md").read_text()
