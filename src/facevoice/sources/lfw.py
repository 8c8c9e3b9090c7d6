"""LFW (Labeled Faces in the Wild): ``<root>/<Name>/<Name>_0001.jpg``; person = folder.

LFW has no gender or language; an optional ``people`` CSV (name, gender, language) adds them (the
synthetic corpus writes one). Each photo is its own source. The tree is walked by ``sources.walk`` (nothing
lost: broken links, unreadable folders, link loops rejected); a photo outside ``<Name>/`` or a file that is
not a photo is rejected with the reason; hidden names (``.DS_Store``) are not corpus files.

``fetch(params, dest)`` downloads and unpacks an LFW archive (``DATASETS``: the original, funneled and
deep-funneled sets from vis-www.cs.umass.edu with the md5 sums torchvision and others verify) and
returns the folder of person folders. Params: ``variant`` (lfw | lfw-funneled | lfw-deepfunneled),
``url`` (a mirror), ``sha256``/``md5`` (the mirror's checksum; a URL whose file name is the official
one is checked against the official md5 unless ``verify: false``), ``path`` (an archive or folder you
already have), ``downloads`` (where archives are kept).
"""
from __future__ import annotations

import posixpath
import urllib.parse
from pathlib import Path

import pandas as pd

from ..errors import ParamsError
from ..tables import Rejects, new_manifest, normalise_name
from . import download, walk

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
OPTIONS = {"faces": ("people",)}

# The official archives; md5 sums as published beside them and checked by torchvision's LFW dataset.
DATASETS = {
    "lfw": {"url": "http://vis-www.cs.umass.edu/lfw/lfw.tgz", "md5": "a17d05bd522c52d84eca14327a23d494",
            "folder": "lfw", "size_mb": 173},
    "lfw-funneled": {"url": "http://vis-www.cs.umass.edu/lfw/lfw-funneled.tgz",
                     "md5": "1b42dfed7d15c9b2dd63d5e5840c86ad", "folder": "lfw_funneled", "size_mb": 233},
    "lfw-deepfunneled": {"url": "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz",
                         "md5": "68331da3eb755a505a502b5aacb3c201", "folder": "lfw-deepfunneled", "size_mb": 103},
}
# The umass host is often down; scikit-learn's figshare mirror of lfw.tgz, with its sha256.
MIRRORS = {
    "lfw": {"url": "https://ndownloader.figshare.com/files/5976018", "name": "lfw.tgz",
            "sha256": "055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0"},
}
TOP_FOLDERS = tuple(d["folder"] for d in DATASETS.values())


def _people(opts: dict) -> dict:
    path = opts.get("people")
    if not path or not Path(path).exists():
        return {}
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {normalise_name(r["name"]): r for r in df.to_dict("records")}


def _has_photos(folder: Path) -> bool:
    return any(p.suffix.lower() in PHOTO_EXTENSIONS for p in folder.glob("*/*"))


def corpus_root(root: Path) -> Path:
    """``root`` itself, or the archive's top folder (lfw/, lfw_funneled/, lfw-deepfunneled/) inside it."""
    root = Path(root)
    if _has_photos(root):
        return root
    for name in TOP_FOLDERS:
        if (root / name).is_dir():
            return root / name
    return root


def list_faces(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    root = corpus_root(root)
    people = _people(opts)
    rows = []
    for path in walk(root, rejects):
        rel = path.relative_to(root).parts
        if path.suffix.lower() not in PHOTO_EXTENSIONS:
            rejects.add(path, "not a photo (extension)")
            continue
        if len(rel) != 2:
            rejects.add(path, "not <Name>/<photo> (LFW layout)")
            continue
        name = rel[0]
        meta = people.get(normalise_name(name), {})
        rows.append({
            "path": str(path), "person": name,
            "gender": meta.get("gender", "unknown"), "language": meta.get("language", "unknown"),
            "source_id": f"{name}/{path.stem}", "corpus": "lfw",
        })
    return new_manifest(rows)


def fetch(params: dict, dest: Path) -> Path:
    """Download (or take from ``path``) and unpack LFW under ``dest``; return the person-folder root."""
    params = dict(params or {})
    dest = Path(dest)
    variant = params.get("variant", "lfw")
    if variant not in DATASETS:
        raise ParamsError(f"params.yaml: LFW 'variant' must be one of {', '.join(DATASETS)}; got {variant!r}")
    spec = DATASETS[variant]
    if download.as_list(params.get("path")):
        installed = download.obtain(params, dest)
        return corpus_root(installed[0] if installed[0].is_dir() and installed[0] != dest else dest)
    url = params.get("url") or spec["url"]
    sha256, md5, name = params.get("sha256"), params.get("md5"), params.get("name")
    if not (sha256 or md5) and params.get("verify", True) is not False:
        name = posixpath.basename(urllib.parse.urlparse(url).path)
        if name == posixpath.basename(spec["url"]):
            md5 = spec["md5"]
        for mirror in MIRRORS.values():
            if url == mirror["url"]:
                sha256 = mirror["sha256"]
    for mirror in MIRRORS.values():
        if url == mirror["url"]:
            name = name or mirror["name"]
    download.obtain({**params, "url": url, "sha256": sha256, "md5": md5, "name": name}, dest)
    return corpus_root(dest)
