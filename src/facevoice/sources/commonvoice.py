"""Mozilla Common Voice: ``<root>/[<release>/][<locale>/]clips/*.mp3`` with ``validated.tsv``.

client_id = speaker, gender, locale = language; each clip is its own source recording. Options:
``tsv`` (which table: validated.tsv by default, or train.tsv ..., or a list of them: rows listed in
several are kept once), ``locales`` (keep only these). One root may hold several locales
(``cv-corpus-17.0-2024-03-15/en``, ``.../ur``). Gender spellings of every release are read:
``male``/``female`` (before v17), ``male_masculine``/``female_feminine`` (v17 on), anything else or
empty -> unknown. Extra columns: ``sentence``, ``age``, ``accents``.

``convert_clips(manifest, out_dir)`` turns the mp3 rows into wav files (``audio.loader.mp3_to_wav``).
``fetch(params, dest)``: Common Voice is downloaded after accepting its terms, so ``path`` names the
``.tar.gz`` (or extracted folder) you downloaded; ``url`` a download link you were given.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ..errors import InputError, SourceError
from ..tables import Rejects, new_manifest
from . import download

HOW_TO_GET = ("Common Voice is downloaded after accepting its terms: pick a language at "
              "https://commonvoice.mozilla.org/datasets (now served by the Mozilla Data Collective, "
              "https://datacollective.mozillafoundation.org), download the .tar.gz, and set 'path' to it "
              "(or to the extracted folder)")
OPTIONS = {"voices": ("tsv", "locales")}
DATASETS = {
    # Archives are per locale and per release (cv-corpus-<version>-<date>-<locale>.tar.gz); the links are
    # signed and expire, so there is no fixed URL or published checksum to pin here.
    "commonvoice": {"url": None, "md5": None, "site": "https://commonvoice.mozilla.org/datasets"},
}


def _release_dirs(root: Path, tsv: str) -> list[Path]:
    if (root / tsv).exists():
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{tsv}")) or sorted(p.parent for p in root.glob(f"*/*/{tsv}"))
    if not found:
        raise SourceError(f"{root}: no {tsv} found (expected a Common Voice release: <locale>/{tsv} and clips/)")
    return found


def _read_tsv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: not a readable Common Voice table ({reason[:160]})") from None


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    tsvs = opts.get("tsv", "validated.tsv")
    tsvs = [tsvs] if isinstance(tsvs, str) else list(tsvs)
    locales = set(opts.get("locales") or [])
    rows, seen = [], set()
    for tsv in tsvs:
        for release in _release_dirs(root, tsv):
            table = _read_tsv(release / tsv)
            missing = {"client_id", "path"} - set(table.columns)
            if missing:
                raise SourceError(f"{release / tsv}: missing columns {', '.join(sorted(missing))}")
            for rec in table.to_dict("records"):
                locale = rec.get("locale") or release.name
                if locales and locale not in locales:
                    continue
                path = release / "clips" / rec["path"]
                if str(path) in seen:
                    continue
                seen.add(str(path))
                if not path.exists():
                    rejects.add(path, f"listed in {tsv} but missing on disk")
                    continue
                rows.append({
                    "path": str(path), "person": rec["client_id"], "gender": rec.get("gender", ""),
                    "language": locale, "source_id": f"{locale}/{Path(rec['path']).stem}",
                    "corpus": "commonvoice", "sentence": rec.get("sentence", ""),
                    "age": rec.get("age", ""), "accents": rec.get("accents", rec.get("accent", "")),
                })
    return new_manifest(rows)


def convert_clips(manifest: pd.DataFrame, out_dir: str | Path, rejects: Rejects | None = None) -> pd.DataFrame:
    """The manifest with every mp3 row converted to ``<out_dir>/<language>/<stem>.wav`` (kept when already
    there) and its ``path`` pointing at the wav; ``mp3_path`` keeps the original. A clip that cannot be
    converted goes to ``rejects`` (or raises ``InputError`` when no rejects is given)."""
    from ..audio.loader import mp3_to_wav

    out_dir = Path(out_dir)
    df = manifest.copy()
    if "mp3_path" not in df.columns:
        df["mp3_path"] = ""
    keep = []
    for i, row in df.iterrows():
        src = Path(row["path"])
        if src.suffix.lower() != ".mp3":
            keep.append(i)
            continue
        dst = out_dir / (str(row.get("language") or "unknown")) / f"{src.stem}.wav"
        if not (dst.exists() and dst.stat().st_size > 44):
            tmp = dst.with_name(dst.stem + ".tmp.wav")
            try:
                mp3_to_wav(src, tmp)
                tmp.replace(dst)
            except Exception as exc:  # ffmpeg failures come in many types; the reason is what matters
                tmp.unlink(missing_ok=True)
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                if rejects is None:
                    raise InputError(src, f"cannot convert mp3 to wav ({reason[:160]})") from None
                rejects.add(src, f"cannot convert mp3 to wav ({reason[:160]})")
                continue
        df.at[i, "mp3_path"] = str(src)
        df.at[i, "path"] = str(dst)
        keep.append(i)
    return df.loc[keep].reset_index(drop=True)


def fetch(params: dict, dest: Path) -> Path:
    """Install the release from ``path`` (archive or folder; several allowed, e.g. one per locale) or a
    ``url`` you were given, under ``dest``; return the corpus root for ``list_voices``."""
    params = dict(params or {})
    dest = Path(dest)
    return download.obtain_licensed(params, dest, "Common Voice", HOW_TO_GET)
