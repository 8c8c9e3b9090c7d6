"""The tables that flow between stages: manifests, feature indexes and rejects files.

Every table carries ``person``, ``gender``, ``language``, ``source_id`` (the photo or recording a row
came from) and, once ``prepare`` has run, ``split``. A person's name is Unicode NFC without surrounding
whitespace (``normalise_name``) whichever source wrote it, so "José" spelt NFD in a folder name and NFC in a
metadata file is one person. Rejected inputs are never dropped silently: they go
to a rejects table (path, reason, stage) beside the table they were rejected from.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

LABEL_COLUMNS = ["person", "gender", "language", "source_id"]
MANIFEST_COLUMNS = ["path", *LABEL_COLUMNS, "corpus"]
REJECT_COLUMNS = ["path", "reason", "stage"]
UNKNOWN = "unknown"


def normalise_gender(value) -> str:
    """Map the spellings corpora use ('M', 'female_feminine', 'male', '') to male / female / unknown."""
    text = str(value).strip().lower() if value is not None and value == value else ""
    if text in {"m", "male", "male_masculine", "man"} or text.startswith("male"):
        return "male"
    if text in {"f", "female", "female_feminine", "woman"} or text.startswith("female"):
        return "female"
    return UNKNOWN


def normalise_name(value):
    """A person's name as NFC without surrounding whitespace (a decomposed "José" from a macOS folder name and the
    composed one from a CSV are one person); anything not a string is left as it is."""
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value


def new_manifest(rows: list[dict]) -> pd.DataFrame:
    """A manifest table with the standard columns first, extra columns kept after them."""
    df = pd.DataFrame(rows)
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = UNKNOWN if col in ("gender", "language") else ""
    df["gender"] = df["gender"].map(normalise_gender)
    df["person"] = df["person"].map(normalise_name)
    df["language"] = df["language"].fillna(UNKNOWN).astype(str).replace("", UNKNOWN)
    extra = [c for c in df.columns if c not in MANIFEST_COLUMNS]
    return df[MANIFEST_COLUMNS + extra].reset_index(drop=True)


@dataclass
class Rejects:
    """Collects rejected inputs of one stage; ``write`` saves them (an empty table when none)."""

    stage: str
    rows: list[dict] = field(default_factory=list)

    def add(self, path, reason: str, **extra) -> None:
        self.rows.append({"path": str(path), "reason": reason, "stage": self.stage, **extra})

    def extend(self, other: "Rejects") -> None:
        self.rows.extend(other.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        for col in REJECT_COLUMNS:
            if col not in df.columns:
                df[col] = pd.Series(dtype=str)
        return df

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(path, index=False)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        from .errors import SourceError

        raise SourceError(f"{path}: table not found (run the stage that writes it first)")
    return pd.read_csv(path, dtype={"person": str, "source_id": str, "split": str}, keep_default_na=False)
