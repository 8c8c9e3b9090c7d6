"""Mozilla Common Voice: ``<root>/[<locale>/]clips/*.mp3`` with ``validated.tsv``.

client_id = speaker, gender, locale = language; each clip is its own source recording. Options:
``tsv`` (which table: validated.tsv by default, or train.tsv ...), ``locales`` (keep only these).
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ..errors import SourceError
from ..tables import Rejects, new_manifest


def _release_dirs(root: Path, tsv: str) -> list[Path]:
    if (root / tsv).exists():
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{tsv}")) or sorted(p.parent for p in root.glob(f"*/*/{tsv}"))
    if not found:
        raise SourceError(f"{root}: no {tsv} found (expected a Common Voice release: <locale>/{tsv} and clips/)")
    return found


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    tsv = opts.get("tsv", "validated.tsv")
    locales = set(opts.get("locales") or [])
    rows = []
    for release in _release_dirs(root, tsv):
        table = pd.read_csv(release / tsv, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
        missing = {"client_id", "path"} - set(table.columns)
        if missing:
            raise SourceError(f"{release / tsv}: missing columns {', '.join(sorted(missing))}")
        for rec in table.to_dict("records"):
            locale = rec.get("locale") or release.name
            if locales and locale not in locales:
                continue
            path = release / "clips" / rec["path"]
            if not path.exists():
                rejects.add(path, f"listed in {tsv} but missing on disk")
                continue
            rows.append({
                "path": str(path), "person": rec["client_id"], "gender": rec.get("gender", ""),
                "language": locale, "source_id": f"{locale}/{Path(rec['path']).stem}",
                "corpus": "commonvoice", "sentence": rec.get("sentence", ""),
            })
    return new_manifest(rows)
