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
