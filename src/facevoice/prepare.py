"""``prepare``: list a corpus's files, check each one, convert mp3 (or m4a, aac, opus, webm) to wav, split once.

Outputs one manifest per modality (path, person, gender, language, source_id, corpus, split, ...)
and one rejects file per modality; found = kept + rejected is checked before anything is written.

Every rejected file is named by the path the user gave (``original_path``; a converted clip's manifest
``path`` is its wav copy in ``<out>/audio/``). Photos are rejected when empty, truncated (Pillow's
decoder raises on a cut JPEG/PNG/GIF where ``cv2.imread`` fills the rest grey), unreadable or smaller
than 16 pixels; clips when ``audio.loader.decode`` rejects them (empty, truncated, undecodable, NaN,
silent: peak or active level below ``silence_dbfs``) or shorter than ``min_duration``. When both
modalities list the same root, a file both listings reject (an unknown extension) is reported once, in
the voices rejects. Every kept row carries ``md5``, the digest of the file later stages read, so a stage that
depends on its manifest alone (``faces`` on faces.csv, ``features@*`` on voices.csv) reruns when a file changes.

Exact duplicates (one ``md5``): copies of one person's file are kept and split with it (one split group, so no
copy of a training photo is tested on); the same bytes under two people are both rejected, each naming the other
file and its person. A line on stdout and ``duplicates_grouped``/``duplicates_rejected`` in the counts say how
many, when there are any.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from .errors import InputError
from .parallel import Backend, pmap
from .split import assign_splits
from .tables import Rejects, new_manifest

MODALITIES = ("faces", "voices")
SILENCE_DBFS = -60.0  # default prepare.silence_dbfs: real speech measures -48 dBFS and louder
CONVERTED = (".mp3", ".opus", ".m4a", ".aac", ".webm")  # decoded once here, kept as 16-bit wav copies


def _truncated_photo(path: Path) -> bool:
    """Pillow's decoder raises "image file is truncated" on a photo cut short; other faults: cv2 judges."""
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib; without it truncation goes unchecked
        return False
    try:
        with Image.open(path) as img:
            img.load()
    except Exception as exc:  # not a format Pillow reads, or another fault: cv2.imread decides
        return "truncated" in str(exc).lower()
    return False


def check_photo(path: str) -> dict:
    import cv2

    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    if _truncated_photo(p):
        raise InputError(p, "truncated file")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(p, "unreadable image (not a photo or corrupt)")
    if min(img.shape[:2]) < 16:
        raise InputError(p, f"image too small ({img.shape[1]}x{img.shape[0]})")
    return {"width": int(img.shape[1]), "height": int(img.shape[0])}


def check_clip(path: str, wav_dir: str, min_duration: float, silence_dbfs: float | None = SILENCE_DBFS,
               max_seconds: float | None = None) -> dict:
    """Decode the clip (rejecting bad ones); mp3 (and m4a, aac, opus, webm) becomes a 16-bit wav in
    ``wav_dir`` (as ``../shared/seeds/004_e464c6077248cab8.txt`` converted Common Voice's mp3s), so feature stages
    never run a compressed decoder again."""
    import soundfile as sf

    from .audio.loader import decode, segments

    if max_seconds and (parts := segments(path, wav_dir, max_seconds, min_duration, silence_dbfs)):
        return {"segments": parts, "original_path": path}  # a long clip: one manifest row per segment
    y, sr = decode(path, silence_dbfs=silence_dbfs)
    duration = len(y) / sr
    if duration < min_duration:
        raise InputError(path, f"too short ({duration:.2f} s < {min_duration} s)")
    out = {"duration": round(duration, 4), "sample_rate": sr, "original_path": path}
    if Path(path).suffix.lower() in CONVERTED:
        name = hashlib.sha1(str(path).encode()).hexdigest()[:16] + ".wav"
        wav = Path(wav_dir) / name
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(wav), y, sr, subtype="PCM_16")
        out["path"] = str(wav)
    return out


def file_md5(path: str | Path) -> str:
    """The content digest the manifest records for each kept file (the photo, or the clip the features read: its
    wav copy when converted), so a stage that depends on the manifest reruns when a file's bytes change."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(args):
    kind, path, wav_dir, min_duration, silence_dbfs, max_seconds = args
    try:
        info = check_photo(path) if kind == "faces" else check_clip(path, wav_dir, min_duration, silence_dbfs, max_seconds)
        if "segments" in info:
            return path, {**info, "segments": [{**s, "md5": file_md5(s["path"])} for s in info["segments"]]}, None
        return path, {**info, "md5": file_md5(info.get("path", path))}, None
    except InputError as exc:
        return path, None, exc.reason


def check_files(kind: str, df: pd.DataFrame, rejects: Rejects, out_dir: Path, min_duration: float,
                workers: int, silence_dbfs: float | None = SILENCE_DBFS,
                backend: Backend | None = None, max_seconds: float | None = None) -> pd.DataFrame:
    jobs = [(kind, p, str(out_dir / "audio"), min_duration, silence_dbfs, max_seconds) for p in df["path"]]
    results = pmap(_checked, jobs, workers=workers, desc=f"check {kind}", backend=backend)
    keep, extra = [], []
    for (path, info, reason) in results:
        if reason is not None:
            rejects.add(path, reason)
        keep.append(reason is None)
        extra.append(info or {})
    kept = df[keep].reset_index(drop=True)
    info = pd.DataFrame([e for e, k in zip(extra, keep) if k])
    for col in info.columns:
        if col == "path":
            kept["path"] = info["path"].fillna(kept["path"]).values
        else:
            kept[col] = info[col].values
    return one_row_per_segment(kept) if "segments" in kept else kept


def one_row_per_segment(kept: pd.DataFrame) -> pd.DataFrame:
    """A long clip's row becomes one row per segment (its path, duration, md5; ``segment`` 0, 1, ...), all with
    the clip's source_id, so the split keeps them on one side; other rows get ``segment`` 0."""
    rows = kept.explode("segments", ignore_index=True)
    parts = pd.DataFrame([s if isinstance(s, dict) else {} for s in rows["segments"]], index=rows.index)
    for col in parts.columns:
        rows[col] = parts[col].fillna(rows[col]) if col in rows else parts[col]
    rows["segment"] = rows["segment"].fillna(0).astype(int)
    rows["sample_rate"] = rows["sample_rate"].astype(int)
    return rows.drop(columns="segments")


def split_together(tables: dict[str, pd.DataFrame], by: str, ratios: dict, seed: int) -> dict[str, pd.DataFrame]:
    """Assign splits over both modalities at once, so a person (by='person') has one split everywhere; rows with
    one ``md5`` (exact copies, of one person once ``shared_bytes`` has run) share a split."""
    cols = ["person", "source_id", "md5"]  # md5: a copy of a file is split with it (split.merge_sources)
    parts = [t.reindex(columns=cols).assign(source_id=lambda d, m=m: m + ":" + d["source_id"].astype(str))
             for m, t in tables.items()]
    combined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    splits = assign_splits(combined, by=by, ratios=ratios, seed=seed).values
    out, start = {}, 0
    for m, t in tables.items():
        t = t.copy()
        t["split"] = splits[start:start + len(t)]
        start += len(t)
        out[m] = t
    return out


def shared_bytes(kept: pd.DataFrame, rejects: Rejects) -> tuple[pd.DataFrame, dict]:
    """Reject every kept file whose bytes (``md5``) another person's file also has, naming that file and person
    (a long clip: all its segments, once); returns the rest and the duplicate counts in files (kept beside a copy
    of the same person, rejected)."""
    if kept.empty or "md5" not in kept.columns:
        return kept, {"grouped": 0, "rejected": 0}
    user = kept["original_path"] if "original_path" in kept.columns else kept["path"]
    bad: dict[str, str] = {}
    for _, group in kept.groupby("md5", sort=False):
        if group["person"].nunique() < 2:
            continue
        for i in group.index:
            other = group.index[group["person"] != group.at[i, "person"]][0]
            bad.setdefault(user[i], f"same bytes as {user[other]} (person {kept.at[other, 'person']})")
    for path, reason in bad.items():
        rejects.add(path, reason)
    keep = ~user.isin(list(bad))
    rest = kept[keep].reset_index(drop=True)
    grouped = int(user[keep].reset_index(drop=True)[rest["md5"].duplicated(keep=False)].nunique())
    return rest, {"grouped": grouped, "rejected": len(bad)}


def report_duplicates(modality: str, dups: dict) -> None:
    """One line on stdout when ``modality`` has exact duplicates (none: nothing printed)."""
    if any(dups.values()):
        print(f"prepare: {modality}: {dups['grouped']} duplicate files kept with their copies in one split, "
              f"{dups['rejected']} rejected (same bytes, two people)", flush=True)


def list_all(sources: dict, rejects: dict[str, Rejects]) -> dict[str, pd.DataFrame]:
    """Each modality's listing; a file both listings reject (one root for both) stays in voices' rejects."""
    from . import sources as adapters

    listed = {}
    for modality in MODALITIES:
        spec = sources.get(modality)
        listed[modality] = (adapters.list_files(modality, spec["source"], spec["root"], spec.get("options"),
                                                rejects[modality]) if spec else new_manifest([]))
    voices = {row["path"] for row in rejects["voices"].rows}
    rejects["faces"].rows = [row for row in rejects["faces"].rows if row["path"] not in voices]
    return listed


def prepare(sources: dict, split: dict, out_dir: str | Path, min_duration: float = 0.2, workers: int = 2,
            silence_dbfs: float | None = SILENCE_DBFS, backend: Backend | None = None,
            max_seconds: float | None = None) -> dict:
    """``sources``: {modality: {source, root, options}} (a modality may be absent or None). ``backend``: where
    the files are checked (``facevoice.parallel``; None: this machine's process pool).

    Writes ``<out>/<modality>.csv`` and ``<out>/<modality>_rejects.csv``; returns the counts.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rejects = {modality: Rejects(stage="prepare") for modality in MODALITIES}
    listed = list_all(sources, rejects)
    tables, found, dups = {}, {}, {}
    for modality in MODALITIES:
        found[modality] = len(listed[modality]) + len(rejects[modality])
        tables[modality] = check_files(modality, listed[modality], rejects[modality], out_dir, min_duration,
                                       workers, silence_dbfs, backend, max_seconds) if len(listed[modality]) else listed[modality]
        tables[modality], dups[modality] = shared_bytes(tables[modality], rejects[modality])
        report_duplicates(modality, dups[modality])
    tables = split_together(tables, split["by"], split["ratios"], split["seed"])
    counts = {}
    for modality in MODALITIES:
        kept, rej = tables[modality], rejects[modality]
        files = len(kept) - int((kept["segment"] > 0).sum()) if "segment" in kept else len(kept)  # segments 1, 2, ...
        if files + len(rej) != found[modality]:
            raise AssertionError(f"{modality}: found {found[modality]} != kept {files} + rejected {len(rej)}")
        kept.to_csv(out_dir / f"{modality}.csv", index=False)
        rej.write(out_dir / f"{modality}_rejects.csv")
        counts[modality] = {
            "found": found[modality], "kept": files, "rejected": len(rej),
            "people": int(kept["person"].nunique()) if len(kept) else 0,
            **{f"{s}": int((kept["split"] == s).sum()) for s in ("train", "val", "test")},
        }
        if any(dups[modality].values()):  # only then: a corpus without duplicates keeps the counts it had
            counts[modality].update({f"duplicates_{k}": v for k, v in dups[modality].items()})
    return counts
