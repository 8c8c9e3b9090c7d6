"""The README's synthetic-run tables are the committed metrics: ``benchmarks/readme_results.py`` prints them from
``metrics/``, and each printed table must stand in README.md verbatim, so new metrics without a regenerated
README fail here instead of leaving stale numbers (issue #14 item 7)."""
import subprocess
import sys

from helpers import ROOT


def test_readme_tables_are_the_committed_metrics():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/readme_results.py"), str(ROOT / "metrics")],
                         capture_output=True, text=True, check=True).stdout
    readme = (ROOT / "README.md").read_text()
    tables = [block for block in out.split("\n\n") if block.startswith(("|", "- "))]
    assert len(tables) >= 4  # models, fusion comparison, verifiers, face+voice trials
    missing = [block.splitlines()[0] for block in tables if block not in readme]
    assert not missing, f"README.md lacks these tables as benchmarks/readme_results.py prints them: {missing}"
