"""Corpus adapters. Each module lists a corpus's files, in its own native layout, with their labels.

An adapter module defines any of:

- ``list_faces(root: Path, opts: dict, rejects: Rejects) -> DataFrame``
- ``list_voices(root: Path, opts: dict, rejects: Rejects) -> DataFrame``

returning ``tables.new_manifest`` rows (path, person, gender, language, source_id, corpus, extras).
Files the adapter can see are unusable (bad metadata row, missing file) go to ``rejects``.
``prepare`` then checks every listed file is readable and assigns the split.

An adapter's ``OPTIONS`` ({modality: option names}) are the ``prepare.<modality>.options`` keys it reads:
any other key is a misspelling and a one-line ``ParamsError``. ``walk`` lists a folder tree losing nothing:
a broken link, an unreadable folder, a link loop, a second link to a folder already walked or an entry that is
neither file nor folder is rejected with that reason; a linked folder is followed once.
"""
from __future__ import annotations

import errno
import importlib
import os
from pathlib import Path

import pandas as pd

from ..errors import ParamsError, SourceError
from ..tables import Rejects

LOOP = "link loop (a link that leads back to itself)"
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
        raise SourceError(f"{root}: source path not found (params.yaml: 'prepare.{modality}.root')")
    if not root.is_dir():
        raise ParamsError(f"params.yaml: 'prepare.{modality}.root' must be a folder; {root} is a file")
    return func(root, check_options(name, modality, opts), rejects)


def known_options(name: str, modality: str) -> tuple[str, ...] | None:
    """The option names adapter ``name`` reads for ``modality`` (None: it declares none, nothing is checked).
    The synthetic corpus is read by the LFW (faces) and Common Voice (voices) adapters, so it takes theirs."""
    reader = {"faces": "lfw", "voices": "commonvoice"}[modality] if name == "synthetic" else name
    declared = getattr(adapter(reader), "OPTIONS", None)
    return None if declared is None else tuple(declared.get(modality, ()))


def check_options(name: str, modality: str, opts) -> dict:
    """``opts`` as a dict; an options value that is not a mapping or a key the adapter does not read is one line."""
    key = f"prepare.{modality}.options"
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise ParamsError(f"params.yaml: '{key}' must be a mapping, got {opts!r}")
    known = known_options(name, modality)
    for option in opts:
        if known is not None and option not in known:
            raise ParamsError(f"params.yaml: '{key}.{option}': unknown key for source {name} "
                              f"(known: {', '.join(known) or 'none'})")
    return dict(opts)


def _scan(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _entry(entry: os.DirEntry, rejects: Rejects) -> str | None:
    """'file', 'folder', or None when ``entry`` is rejected (broken link, link loop, special file)."""
    path = Path(entry.path)
    try:
        if entry.is_symlink():
            path.resolve(strict=True)
        if entry.is_dir():
            return "folder"
        if entry.is_file():
            return "file"
        reason = "not a file or folder (a device, pipe or socket)"
    except FileNotFoundError:
        reason = "broken link (its target does not exist)"
    except RuntimeError:  # Path.resolve's "Symlink loop" on Python < 3.13
        reason = LOOP
    except OSError as exc:
        reason = LOOP if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
    rejects.add(path, reason)
    return None


def _follow(folder: Path, seen: dict, rejects: Rejects) -> bool:
    """Whether to walk ``folder``: not when its real path was reached already (a loop, or a second link to it)."""
    real = folder.resolve()
    if real not in seen:
        seen[real] = folder
        return True
    parent = folder.parent.resolve()
    if real == parent or real in parent.parents:
        rejects.add(folder, f"link loop (leads back to {seen[real]})")
    else:
        rejects.add(folder, f"link to a folder already listed ({seen[real]})")
    return False


def walk(root: Path, rejects: Rejects, hidden: bool = False) -> list[Path]:
    """Every file under ``root`` (sorted), each path as reached from ``root``; names starting with '.' are
    skipped unless ``hidden``. Real folders are walked before linked ones, so a link to a folder inside the
    tree is the one rejected. An unreadable ``root`` is a ``SourceError``; an unreadable folder below is rejected."""
    root = Path(root)
    seen, files, folders, links = {root.resolve(): root}, [], [root], []
    while folders or links:
        folder = folders.pop() if folders else links.pop(0)
        if folder is not root and not _follow(folder, seen, rejects):
            continue
        try:
            entries = _scan(folder)
        except OSError as exc:
            if folder == root:
                raise SourceError(f"{root}: cannot read the source folder ({exc.strerror})") from None
            rejects.add(folder, f"unreadable folder ({exc.strerror})")
            continue
        for entry in entries:
            if hidden or not entry.name.startswith("."):
                kind = _entry(entry, rejects)
                if kind == "file":
                    files.append(Path(entry.path))
                elif kind == "folder":
                    (links if entry.is_symlink() else folders).append(Path(entry.path))
    return sorted(files)
