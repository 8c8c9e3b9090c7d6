"""LibriSpeech (openslr.org/12): ``LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac``.

``SPEAKERS.TXT`` (``;`` comment lines, then ``ID | SEX | SUBSET | MINUTES | NAME``) gives each speaker's
gender and subset. person = speaker id, language "en", source_id = ``<speaker>-<chapter>`` (a chapter is
one recording session and never spans two subsets), extra columns ``subset``, ``chapter``, ``name``.
``root`` may be the ``LibriSpeech`` folder or its parent. Options: ``subsets`` (keep only these, e.g.
``[dev-clean, test-clean]``), ``speakers_file`` (a SPEAKERS.TXT elsewhere).

``fetch(params, dest)`` downloads the ``subsets`` archives (default ``[dev-clean]``) from ``base_url``
(default openslr; mirrors: ``https://us.openslr.org/resources/12``, ``https://openslr.elda.org/resources/12``),
checks the md5 sums openslr publishes (``md5: {subset: hex}`` overrides them, ``verify: false`` skips),
unpacks them under ``dest`` and returns ``dest/LibriSpeech``. ``path``: archives or folders you already have.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..audio.loader import AUDIO_EXTENSIONS
from ..errors import ParamsError, SourceError
from ..tables import Rejects, new_manifest
from . import download, walk

BASE_URL = "https://www.openslr.org/resources/12"
# subset -> md5 of <subset>.tar.gz as published in openslr.org/resources/12/md5sum.txt, and size.
DATASETS = {
    "dev-clean": {"md5": "42e2234ba48799c1f50f24a7926300a1", "size_mb": 337, "hours": 5.4},
    "dev-other": {"md5": "c8d0bcc9cca99d4f8b62fcc847357931", "size_mb": 314, "hours": 5.3},
    "test-clean": {"md5": "32fa31d27d2e1cad72775fee3f4849a9", "size_mb": 346, "hours": 5.4},
    "test-other": {"md5": "fb5a50374b501bb3bac4815ee91d3135", "size_mb": 328, "hours": 5.1},
    "train-clean-100": {"md5": "2a93770f6d5c6c964bc36631d331a522", "size_mb": 6387, "hours": 100.6},
    "train-clean-360": {"md5": "c0e676e450a7ff2f54aeade5171606fa", "size_mb": 23049, "hours": 363.6},
    "train-other-500": {"md5": "d1a0fd59409feb2c614ce4d30c387708", "size_mb": 30593, "hours": 496.7},
}
URLS = {name: f"{BASE_URL}/{name}.tar.gz" for name in DATASETS}
FILE_RE = re.compile(r"^(\d+)-(\d+)-(\d+)$")
OPTIONS = {"voices": ("subsets", "speakers_file")}


def corpus_root(root: Path) -> Path:
    """The folder holding SPEAKERS.TXT and the subset folders: ``root`` or ``root/LibriSpeech``."""
    root = Path(root)
    if not (root / "SPEAKERS.TXT").exists() and (root / "LibriSpeech").is_dir():
        return root / "LibriSpeech"
    return root


def read_speakers(path: Path, rejects: Rejects | None = None) -> dict[str, dict]:
    """speaker id -> {gender, subset, minutes, name} from a SPEAKERS.TXT."""
    speakers = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|", 4)]
        if len(parts) < 3 or not parts[0].isdigit():
            if rejects is not None:
                rejects.add(path, f"line {number}: not 'ID | SEX | SUBSET | MINUTES | NAME'")
            continue
        speakers[parts[0]] = {"gender": parts[1], "subset": parts[2],
                              "minutes": parts[3] if len(parts) > 3 else "",
                              "name": parts[4] if len(parts) > 4 else ""}
    return speakers


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    root = corpus_root(root)
    spk_file = Path(opts["speakers_file"]) if opts.get("speakers_file") else root / "SPEAKERS.TXT"
    if not spk_file.exists():
        raise SourceError(f"{spk_file}: SPEAKERS.TXT not found (expected a LibriSpeech release: "
                          "LibriSpeech/SPEAKERS.TXT and <subset>/<speaker>/<chapter>/*.flac)")
    speakers = read_speakers(spk_file, rejects)
    subsets = opts.get("subsets") or []
    if isinstance(subsets, str):
        subsets = [subsets]
    subset_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subsets:
        missing = [s for s in subsets if not (root / s).is_dir()]
        if missing:
            raise SourceError(f"{root}: subset folder(s) {', '.join(missing)} not found "
                              f"(have {', '.join(p.name for p in subset_dirs) or 'none'})")
        subset_dirs = [root / s for s in subsets]
    rows = []
    for subset_dir in subset_dirs:
        for path in walk(subset_dir, rejects):  # broken links, unreadable folders, loops: rejected
            if path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            rel = path.relative_to(subset_dir).parts
            m = FILE_RE.match(path.stem)
            if len(rel) != 3 or not m or (m.group(1), m.group(2)) != (rel[0], rel[1]):
                rejects.add(path, "not <subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt> (LibriSpeech layout)")
                continue
            speaker, chapter = m.group(1), m.group(2)
            meta = speakers.get(speaker, {})
            rows.append({
                "path": str(path), "person": speaker, "gender": meta.get("gender", ""), "language": "en",
                "source_id": f"{speaker}-{chapter}", "corpus": "librispeech",
                "subset": subset_dir.name, "chapter": chapter, "name": meta.get("name", ""),
            })
    return new_manifest(rows)


def fetch(params: dict, dest: Path) -> Path:
    """Download (or take from ``path``) and unpack the ``subsets``; return ``dest/LibriSpeech``."""
    params = dict(params or {})
    dest = Path(dest)
    if download.as_list(params.get("path")):
        installed = download.obtain(params, dest)
        first = installed[0]
        return corpus_root(first if first.is_dir() and first != dest else dest)
    subsets = params.get("subsets") or ["dev-clean"]
    if isinstance(subsets, str):
        subsets = [subsets]
    unknown = [s for s in subsets if s not in DATASETS]
    if unknown:
        raise ParamsError(f"params.yaml: unknown LibriSpeech subset(s) {', '.join(map(str, unknown))}; "
                          f"choose from {', '.join(DATASETS)}")
    base = str(params.get("base_url") or BASE_URL).rstrip("/")
    sums = params.get("md5") or {}
    if not isinstance(sums, dict):
        if len(subsets) != 1:
            raise ParamsError("params.yaml: LibriSpeech 'md5' must map subset -> md5 when several subsets are set")
        sums = {subsets[0]: sums}
    verify = params.get("verify", True) is not False
    downloads = download.downloads_dir(params, dest)
    for subset in subsets:
        md5 = sums.get(subset, DATASETS[subset]["md5"]) if verify else None
        archive = download.fetch(f"{base}/{subset}.tar.gz", downloads, md5=md5,
                                 progress=params.get("progress", True))
        download.extract(archive, dest)
    return corpus_root(dest)
