"""Any folder-per-person tree: ``<root>/<person>/**/<file>``, photos or clips.

Options: ``manifest`` (a CSV beside the files with a path column relative to root and any of
person/speaker/subject, gender, language columns: it overrides the folder names, e.g.
``../shared/datasets/fsdd/manifest.csv``), ``gender`` and ``language`` (defaults for every file),
``source_from`` (``file``: each file is its own source recording/photo; a regex with one group taken
from the file stem gives a shared source id, e.g. ``'^(.*)_\\d+$'``).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..audio.loader import AUDIO_EXTENSIONS
from ..errors import ParamsError, SourceError
from ..tables import Rejects, new_manifest

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
PERSON_COLUMNS = ("person", "speaker", "subject", "client_id", "name")


def _source_id(path: Path, root: Path, pattern: str | None) -> str:
    rel = path.relative_to(root).with_suffix("").as_posix()
    if pattern in (None, "file"):
        return rel
    m = re.search(pattern, path.stem)
    return f"{path.parent.relative_to(root).as_posix()}/{m.group(1)}" if m else rel


def _list(root: Path, opts: dict, rejects: Rejects, extensions) -> pd.DataFrame:
    pattern = opts.get("source_from", "file")
    if pattern not in (None, "file"):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ParamsError(f"params.yaml: 'source_from' is not a valid regex ({exc})") from None
    defaults = {"gender": opts.get("gender", "unknown"), "language": opts.get("language", "unknown")}
    rows = []
    if opts.get("manifest"):
        mpath = Path(opts["manifest"])
        if not mpath.exists():
            raise SourceError(f"{mpath}: manifest not found")
        meta = pd.read_csv(mpath, dtype=str, keep_default_na=False)
        pcol = next((c for c in PERSON_COLUMNS if c in meta.columns), None)
        if "path" not in meta.columns or pcol is None:
            raise SourceError(f"{mpath}: manifest needs a 'path' column and one of {', '.join(PERSON_COLUMNS)}")
        for rec in meta.to_dict("records"):
            path = root / rec["path"]
            if path.suffix.lower() not in extensions:
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
    else:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if path.suffix.lower() not in extensions or path.name.startswith("."):
                continue
            if len(rel.parts) < 2:
                rejects.add(path, "not inside a person folder")
                continue
            rows.append({
                "path": str(path), "person": rel.parts[0], **defaults,
                "source_id": _source_id(path, root, pattern), "corpus": "folder",
            })
    return new_manifest(rows)


def list_faces(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return _list(root, opts, rejects, IMAGE_EXTENSIONS)


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return _list(root, opts, rejects, AUDIO_EXTENSIONS)
