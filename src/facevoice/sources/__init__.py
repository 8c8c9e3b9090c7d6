"""Corpus adapters. Each module lists a corpus's files, in its own native layout, with their labels.

An adapter module defines any of:

- ``list_faces(root: Path, opts: dict, rejects: Rejects) -> DataFrame``
- ``list_voices(root: Path, opts: dict, rejects: Rejects) -> DataFrame``

returning ``tables.new_manifest`` rows (path, person, gender, language, source_id, corpus, extras).
Files the adapter can see are unusable (bad metadata row, missing file) go to ``rejects``.
``prepare`` then checks every listed file is readable and assigns the split.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

from ..errors import ParamsError, SourceError
from ..tables import Rejects

ADAPTERS = ("synthetic", "folder", "lfw", "librispeech", "voxceleb1", "commonvoice")


def adapter(name: str):
    if name not in ADAPTERS:
        raise ParamsError(f"params.yaml: unknown source adapter {name!r}; choose one of {', '.join(ADAPTERS)}")
    return importlib.import_module(f"{__name__}.{name}")


def list_files(modality: str, name: str, root: str | Path, opts: dict | None, rejects: Rejects) -> pd.DataFrame:
    """The ``modality`` ('faces' or 'voices') files of corpus ``name`` at ``root``."""
    module = adapter(name)
    func = getattr(module, f"list_{modality}", None)
    if func is None:
        raise ParamsError(f"params.yaml: source adapter {name!r} has no {modality}")
    root = Path(root)
    if not root.exists():
        raise SourceError(f"{root}: source path not found (prepare.{modality}.root)")
    return func(root, dict(opts or {}), rejects)
