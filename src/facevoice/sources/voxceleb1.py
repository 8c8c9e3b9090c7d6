"""VoxCeleb1 (robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html): celebrity interviews from YouTube.

Voices: ``[<root>/]wav/idNNNNN/<video>/NNNNN.wav`` (or ``idNNNNN/...`` directly under root; the dev and
test zips both unpack into ``wav/``). ``vox1_meta.csv`` (tab-separated in the release:
``VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, Set``; commas accepted) gives person = VoxCeleb1 ID,
``name`` = VGGFace1 ID, gender m/f, extra columns ``nationality`` and ``set`` (dev/test). language is
"unknown" (interviews are mostly, not all, English). source_id = ``idNNNNN/<video>``: all clips of one
YouTube video are one recording, so a video never spans two splits.

Faces: the face-crop layout (``<root>/<Name or idNNNNN>/<video>/*.jpg``, also
``<root>/1.6/<Name>/<video>/*.jpg`` and the release's ``unzippedIntervalFaces/data/<Name>/1.6/<video>/<n>/*.jpg``);
names are mapped to VoxCeleb1 ids through the meta file so a person's faces and voice share one id;
source_id = ``<person>/<video>``.

Options: ``meta`` (path of vox1_meta.csv; default: found under or beside root; ``false`` lists without
it, genders unknown), ``sets`` (keep only ``dev`` / ``test`` speakers).

VoxCeleb1 is distributed after a licence request, so ``fetch`` cannot download it by itself: set
``path`` to the zip(s) or folder you were given (``vox1_dev_wav.zip``, ``vox1_test_wav.zip``,
``vox1_meta.csv``), or ``url`` to a download link you were sent.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from ..audio.loader import AUDIO_EXTENSIONS
from ..errors import SourceError
from ..tables import Rejects, new_manifest, normalise_name
from . import download, walk

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
ID_RE = re.compile(r"^id\d{5}$")
META_NAME = "vox1_meta.csv"
OPTIONS = {"faces": ("meta", "sets"), "voices": ("meta", "sets")}
# The meta file is public; the audio and faces need the licence form.
DATASETS = {
    "meta": {"url": "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/vox1_meta.csv", "sha256": None},
    "dev_wav": {"file": "vox1_dev_wav.zip", "size_mb": 30_000, "note": "sent as 4 parts: cat vox1_dev* > vox1_dev_wav.zip"},
    "test_wav": {"file": "vox1_test_wav.zip", "size_mb": 1_000},
    "faces": {"file": "vox1_test_txt.zip / unzippedIntervalFaces.zip", "size_mb": 4_000},
}
HOW_TO_GET = ("VoxCeleb1 needs a licence request: ask for access at "
              "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html, download vox1_dev_wav.zip / "
              "vox1_test_wav.zip and vox1_meta.csv, and set 'path' to them (or 'url' to the link you were sent)")
WRAPPERS = {"unzippedintervalfaces", "data", "1.6", "faces", "wav", "vox1", "voxceleb1"}


def _find_meta(root: Path, opts: dict) -> Path | None:
    value = opts.get("meta")
    if value is False:
        return None
    if value:
        path = Path(value)
        if not path.exists():
            raise SourceError(f"{path}: VoxCeleb1 meta file not found (options.meta)")
        return path
    for candidate in (root / META_NAME, root.parent / META_NAME, *sorted(root.glob(f"*/{META_NAME}"))):
        if candidate.exists():
            return candidate
    raise SourceError(f"{root}: {META_NAME} not found under or beside the corpus root; set options.meta to its "
                      "path (or options.meta: false to list without names and genders)")


def read_meta(path: Path) -> dict[str, dict]:
    """VoxCeleb1 id -> {name, gender, nationality, set}; tab- or comma-separated."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    header = text.splitlines()[0] if text.strip() else ""
    sep = "\t" if "\t" in header else ","
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    rows = [[c.strip() for c in r] for r in reader if any(c.strip() for c in r)]
    if not rows:
        raise SourceError(f"{path}: empty VoxCeleb1 meta file")
    cols = [c.lower() for c in rows[0]]

    def col(*names):
        for n in names:
            if n in cols:
                return cols.index(n)
        return None

    i_id, i_name, i_gender = col("voxceleb1 id", "id"), col("vggface1 id", "name"), col("gender")
    i_nat, i_set = col("nationality"), col("set")
    if i_id is None or i_gender is None:
        raise SourceError(f"{path}: needs columns 'VoxCeleb1 ID' and 'Gender' (found {', '.join(rows[0])})")

    def get(r, i):
        return r[i] if i is not None and i < len(r) else ""

    return {get(r, i_id): {"name": get(r, i_name), "gender": get(r, i_gender),
                           "nationality": get(r, i_nat), "set": get(r, i_set)}
            for r in rows[1:] if get(r, i_id)}


def _meta(root: Path, opts: dict) -> dict[str, dict]:
    path = _find_meta(root, opts)
    return read_meta(path) if path is not None else {}


def _keep(meta: dict, opts: dict) -> bool:
    sets = opts.get("sets")
    if not sets:
        return True
    sets = [sets] if isinstance(sets, str) else sets
    return meta.get("set", "") in sets


def _wav_dirs(root: Path) -> list[Path]:
    found = [d for d in (root / "wav", root, *sorted(root.glob("*/wav"))) if d.is_dir()]
    return [d for d in dict.fromkeys(found) if any(ID_RE.match(p.name) for p in d.iterdir() if p.is_dir())]


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    meta = _meta(root, opts)
    wav_dirs = _wav_dirs(root)
    if not wav_dirs:
        raise SourceError(f"{root}: no VoxCeleb1 audio found (expected wav/idNNNNN/<video>/NNNNN.wav)")
    rows = []
    for wav_dir in wav_dirs:
        for spk_dir in sorted(p for p in wav_dir.iterdir() if p.is_dir() and ID_RE.match(p.name)):
            info = meta.get(spk_dir.name, {})
            if not _keep(info, opts):
                continue
            for path in walk(spk_dir, rejects):  # broken links, unreadable folders, loops: rejected
                if path.suffix.lower() not in AUDIO_EXTENSIONS:
                    continue
                rel = path.relative_to(spk_dir).parts
                if len(rel) != 2:
                    rejects.add(path, "not idNNNNN/<video>/<clip>.wav (VoxCeleb1 layout)")
                    continue
                rows.append({
                    "path": str(path), "person": spk_dir.name, "gender": info.get("gender", ""),
                    "language": "unknown", "source_id": f"{spk_dir.name}/{rel[0]}", "corpus": "voxceleb1",
                    "name": info.get("name", ""), "nationality": info.get("nationality", ""),
                    "set": info.get("set", ""),
                })
    return new_manifest(rows)


def list_faces(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    meta = _meta(root, opts)
    by_name = {normalise_name(m["name"]): vid for vid, m in meta.items() if m.get("name")}
    rows = []
    for path in walk(root, rejects):  # broken links, unreadable folders, loops: rejected
        if path.suffix.lower() not in PHOTO_EXTENSIONS:
            continue
        dirs = [normalise_name(d) for d in path.relative_to(root).parts[:-1]]
        idx = next((i for i, d in enumerate(dirs) if ID_RE.match(d) or d in by_name), None)
        if idx is None:
            idx = next((i for i, d in enumerate(dirs) if d.lower() not in WRAPPERS), None)
        rest = [d for d in dirs[idx + 1:] if d != "1.6"] if idx is not None else []
        if idx is None or not rest:
            rejects.add(path, "not <Name or idNNNNN>/<video>/<frame>.jpg (VoxCeleb1 face layout)")
            continue
        folder = dirs[idx]
        person = folder if ID_RE.match(folder) else by_name.get(folder, folder)
        info = meta.get(person, {})
        if not _keep(info, opts):
            continue
        rows.append({
            "path": str(path), "person": person, "gender": info.get("gender", ""), "language": "unknown",
            "source_id": f"{person}/{rest[0]}", "corpus": "voxceleb1",
            "name": info.get("name", "" if ID_RE.match(folder) else folder),
            "nationality": info.get("nationality", ""), "set": info.get("set", ""),
        })
    return new_manifest(rows)


def fetch(params: dict, dest: Path) -> Path:
    """Install the VoxCeleb1 archives/folders from ``path`` (or a ``url`` you were sent) under ``dest``;
    fetches the public meta file when none came with them. Returns ``dest`` (or the linked folder)."""
    params = dict(params or {})
    dest = Path(dest)
    root = download.obtain_licensed(params, dest, "VoxCeleb1", HOW_TO_GET)
    has_meta = any(p.exists() for p in (root / META_NAME, root.parent / META_NAME)) or any(root.glob(f"*/{META_NAME}"))
    meta_url = params.get("meta_url", DATASETS["meta"]["url"])
    if not has_meta and meta_url:  # the public meta file, beside the (possibly linked) corpus folder
        download.fetch(meta_url, dest, name=META_NAME, progress=params.get("progress", True))
    return root
