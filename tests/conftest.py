"""Shared fixtures: the real datasets beside the project (skipped with a reason when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not (path / "manifest.csv").exists():
        pytest.skip(f"real dataset {name} not found at {path} (../shared/datasets is only on the project's machines)")
    return path


@pytest.fixture
def fsdd() -> Path:
    return shared_dataset("fsdd")


@pytest.fixture
def audio_formats() -> Path:
    return shared_dataset("audio_formats")


@pytest.fixture
def orl_faces() -> Path:
    return shared_dataset("orl_faces")


@pytest.fixture
def urdu_speech() -> Path:
    return shared_dataset("urdu_speech")


LONGEST_FIRST = ("test_real_corpora.py", "test_pipeline_dvc.py")  # minutes each: started first, one per worker


def pytest_collection_modifyitems(items):
    """The two longest files first, so that ``make test``'s two workers (pytest-xdist, --dist loadfile: a file's
    tests stay on one worker and share its fixtures) each start on one of them and the short files fill in beside."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).name, len(rank)))
