"""Any folder-per-person tree: ``<root>/<person>/**/<file>``, photos or clips.

Options: ``manifest`` (a CSV beside the files with a path column relative to root and any of
person/speaker/subject, gender, language columns: it overrides the folder names, e.g.
``../shared/datasets/fsdd/manifest.csv``), ``gender`` and ``language`` (defaults for every file),
``source_from`` (``file``: each file is its own source recording/photo; a regex with one group taken
from the file stem gives a shared source id, e.g. ``'^(.*)_\\d+$'``).

Nothing vanishes: every file under root (or every row of the manifest, which is then the list: files it
does not name are not part of the corpus) is listed or rejected with a reason. Photos and clips may share
one root, so each listing sorts a file by its extension:

- this modality's (``IMAGE_EXTENSIONS`` for faces, ``audio.loader.AUDIO_EXTENSIONS`` for voices): listed,
  or rejected as "not inside a person folder" (a file directly under root) or "listed in the manifest but
  missing on disk";
- the other modality's: not this listing's file (the other listing lists or rejects it);
- any other (``.txt``, ``.csv``, ``.xyz``, none): rejected as "unsupported extension .xyz". When both
  modalities list the same root, both listings reject it and ``prepare`` keeps the voices one, so it is
  reported once.

Hidden files and folders (name starting with '.', e.g. ``.DS_Store``, ``.git/``) are not corpus files
and are not walked. The tree is walked by ``sources.walk``: a broken link, an unreadable folder or a link loop is
rejected with that reason, a linked person folder is followed once (a second link to it is rejected).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..audio.loader import AUDIO_EXTENSIONS
from ..errors import ParamsError, SourceError
from ..tables import Rejects, new_manifest
from . import walk

# .gif: cv2.imread (read_photo) decodes a GIF's first frame since OpenCV 4.11
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".tif", ".tiff", ".webp", ".gif")
PERSON_COLUMNS = ("person", "speaker", "subject", "client_id", "name")
OPTIONS = {m: ("manifest", "gender", "language", "source_from") for m in ("faces", "voices")}


def _source_id(path: Path, root: Path, pattern: str | None) -> str:
    rel = path.relative_to(root).with_suffix("").as_posix()
    if pattern in (None, "file"):
        return rel
    m = re.search(pattern, path.stem)
    return f"{path.parent.relative_to(root).as_posix()}/{m.group(1)}" if m else rel


def _sort(path: Path, extensions, rejects: Rejects) -> bool:
    """Whether ``path`` has one of this listing's ``extensions``; an unknown extension is rejected."""
    suffix = path.suffix.lower()
    if suffix in extensions:
        return True
    if suffix not in IMAGE_EXTENSIONS and suffix not in AUDIO_EXTENSIONS:
        rejects.add(path, f"unsupported extension {suffix or '(none)'}")
    return False


def _from_manifest(root: Path, opts: dict, rejects: Rejects, extensions, pattern, defaults) -> list[dict]:
    mpath = Path(opts["manifest"])
    if not mpath.exists():
        raise SourceError(f"{mpath}: manifest not found")
    meta = pd.read_csv(mpath, dtype=str, keep_default_na=False)
    pcol = next((c for c in PERSON_COLUMNS if c in meta.columns), None)
    if "path" not in meta.columns or pcol is None:
        raise SourceError(f"{mpath}: manifest needs a 'path' column and one of {', '.join(PERSON_COLUMNS)}")
    rows = []
    for rec in meta.to_dict("records"):
        path = root / rec["path"]
        if not _sort(path, extensions, rejects):
            continue
        if not path.exists():
            rejects.add(path, "listed in the manifest but missing on disk")
            continue
        rows.append({
            "path": str(path), "person": rec[pcol],
            "gender": rec.get("gender") or defaults["gender"],
            "language": rec.get("language") or defaults["language"],
            "source_id": _source_id(path, root, pattern), "corpus": "folder",
        })
    return rows


def _from_folders(root: Path, rejects: Rejects, extensions, pattern, defaults) -> list[dict]:
    rows = []
    for path in walk(root, rejects):
        rel = path.relative_to(root)
        if not _sort(path, extensions, rejects):
            continue
        if len(rel.parts) < 2:
            rejects.add(path, "not inside a person folder")
            continue
        rows.append({
            "path": str(path), "person": rel.parts[0], **defaults,
            "source_id": _source_id(path, root, pattern), "corpus": "folder",
        })
    return rows


def check_pattern(pattern, key: str) -> str | None:
    """``source_from``: ``file`` (or null), or a regex whose first capture group the source id is taken from."""
    if pattern in (None, "file"):
        return pattern
    if not isinstance(pattern, str):
        raise ParamsError(f"params.yaml: '{key}' must be 'file' or a regex string, got {pattern!r}")
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        raise ParamsError(f"params.yaml: '{key}' is not a valid regex ({exc}): {pattern!r}") from None
    if groups < 1:
        raise ParamsError(f"params.yaml: '{key}' needs a capture group (the shared part of the file "
                          f"name, e.g. '^(.*)_\\d+$'), {pattern!r} has none")
    return pattern


def _list(root: Path, opts: dict, rejects: Rejects, extensions, modality: str) -> pd.DataFrame:
    pattern = check_pattern(opts.get("source_from", "file"), f"prepare.{modality}.options.source_from")
    defaults = {"gender": opts.get("gender", "unknown"), "language": opts.get("language", "unknown")}
    if opts.get("manifest"):
        return new_manifest(_from_manifest(root, opts, rejects, extensions, pattern, defaults))
    return new_manifest(_from_folders(root, rejects, extensions, pattern, defaults))


def list_faces(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return _list(root, opts, rejects, IMAGE_EXTENSIONS, "faces")


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return _list(root, opts, rejects, AUDIO_EXTENSIONS, "voices")
