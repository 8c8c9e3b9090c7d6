"""``prepare``: list a corpus's files, check each one, convert mp3 to wav, decide the split once.

Outputs one manifest per modality (path, person, gender, language, source_id, corpus, split, ...)
and one rejects file per modality; found = kept + rejected is checked before anything is written.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from .errors import InputError
from .parallel import pmap
from .split import assign_splits
from .tables import Rejects, new_manifest

MODALITIES = ("faces", "voices")


def check_photo(path: str) -> dict:
    import cv2

    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(p, "unreadable image (not a photo or corrupt)")
    if min(img.shape[:2]) < 16:
        raise InputError(p, f"image too small ({img.shape[1]}x{img.shape[0]})")
    return {"width": int(img.shape[1]), "height": int(img.shape[0])}


def check_clip(path: str, wav_dir: str, min_duration: float) -> dict:
    """Decode the clip (rejecting bad ones); mp3 becomes a 16-bit wav in ``wav_dir`` (as the seeds did)."""
    import soundfile as sf

    from .audio.loader import decode

    y, sr = decode(path)
    duration = len(y) / sr
    if duration < min_duration:
        raise InputError(path, f"too short ({duration:.2f} s < {min_duration} s)")
    out = {"duration": round(duration, 4), "sample_rate": sr, "original_path": path}
    if Path(path).suffix.lower() == ".mp3":
        name = hashlib.sha1(str(path).encode()).hexdigest()[:16] + ".wav"
        wav = Path(wav_dir) / name
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(wav), y, sr, subtype="PCM_16")
        out["path"] = str(wav)
    return out


def _checked(args):
    kind, path, wav_dir, min_duration = args
    try:
        info = check_photo(path) if kind == "faces" else check_clip(path, wav_dir, min_duration)
        return path, info, None
    except InputError as exc:
        return path, None, exc.reason


def check_files(kind: str, df: pd.DataFrame, rejects: Rejects, out_dir: Path, min_duration: float,
                workers: int) -> pd.DataFrame:
    jobs = [(kind, p, str(out_dir / "audio"), min_duration) for p in df["path"]]
    results = pmap(_checked, jobs, workers=workers, desc=f"check {kind}")
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
    return kept


def split_together(tables: dict[str, pd.DataFrame], by: str, ratios: dict, seed: int) -> dict[str, pd.DataFrame]:
    """Assign splits over both modalities at once, so a person (by='person') has one split everywhere."""
    parts = [t[["person", "source_id"]].assign(source_id=lambda d, m=m: m + ":" + d["source_id"].astype(str))
             for m, t in tables.items()]
    combined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["person", "source_id"])
    splits = assign_splits(combined, by=by, ratios=ratios, seed=seed).values
    out, start = {}, 0
    for m, t in tables.items():
        t = t.copy()
        t["split"] = splits[start:start + len(t)]
        start += len(t)
        out[m] = t
    return out


def prepare(sources: dict, split: dict, out_dir: str | Path, min_duration: float = 0.2, workers: int = 2) -> dict:
    """``sources``: {modality: {source, root, options}} (a modality may be absent or None).

    Writes ``<out>/<modality>.csv`` and ``<out>/<modality>_rejects.csv``; returns the counts.
    """
    from . import sources as adapters

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, rejects, found = {}, {}, {}
    for modality in MODALITIES:
        spec = sources.get(modality)
        rejects[modality] = Rejects(stage="prepare")
        if not spec:
            tables[modality] = new_manifest([])
            found[modality] = 0
            continue
        listed = adapters.list_files(modality, spec["source"], spec["root"], spec.get("options"), rejects[modality])
        found[modality] = len(listed) + len(rejects[modality])
        tables[modality] = check_files(modality, listed, rejects[modality], out_dir, min_duration, workers)
    tables = split_together(tables, split["by"], split["ratios"], split["seed"])
    counts = {}
    for modality in MODALITIES:
        kept, rej = tables[modality], rejects[modality]
        if len(kept) + len(rej) != found[modality]:
            raise AssertionError(f"{modality}: found {found[modality]} != kept {len(kept)} + rejected {len(rej)}")
        kept.to_csv(out_dir / f"{modality}.csv", index=False)
        rej.write(out_dir / f"{modality}_rejects.csv")
        counts[modality] = {
            "found": found[modality], "kept": len(kept), "rejected": len(rej),
            "people": int(kept["person"].nunique()) if len(kept) else 0,
            **{f"{s}": int((kept["split"] == s).sum()) for s in ("train", "val", "test")},
        }
    return counts
