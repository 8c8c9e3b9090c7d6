"""Download and unpack corpora: resumable, checksum-verified, idempotent, and safe to extract.

- ``fetch(url, dest_dir, sha256=None, md5=None)`` downloads an http(s):// or file:// URL into
  ``dest_dir``. The bytes go to ``<name>.part`` first; an interrupted download resumes from there with
  an HTTP Range request (a server that ignores Range, answering 200, restarts it cleanly). The finished
  file is checked against the given checksum; on a mismatch it is deleted and ``SourceError`` names
  the file, the expected and the actual digest. A verified file gets a ``<name>.ok`` marker (size and
  digests), so a second ``fetch`` touches no network.
- ``extract(archive, target_dir)`` unpacks .tar, .tar.gz/.tgz (and .tar.bz2/.tar.xz) and .zip into
  ``target_dir`` through a staging folder, refusing any member with an absolute path, a ``..`` that
  escapes the target, a link pointing outside it, or a device file. A marker file makes it idempotent.
- ``install(path, dest)`` / ``obtain(params, dest)``: the generic corpus fetch the adapters build on
  (a local archive, folder or file the user already has, or a URL to download).
- ``watch_root(root, link)``: what ``prepare``'s DVC dependencies see of a corpus root read in place.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import posixpath
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from ..errors import ParamsError, SourceError

CHUNK = 1 << 16
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
USER_AGENT = "facevoice-download/1.0"
# Python >= 3.11.4 also applies its own "data" extraction filter (a second line of defence).
_TAR_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


# ----------------------------------------------------------------------------------------- fetch
def _file_name(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    name = posixpath.basename(urllib.parse.unquote(parsed.path).rstrip("/"))
    return name or "download"


def _check_hex(value, kind: str, length: int) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise ParamsError(f"{kind} checksum {value!r} is not {length} hexadecimal digits")
    return text


def digests(path: Path) -> dict:
    """Size, sha256 and md5 of a file (one read)."""
    sha, md5 = hashlib.sha256(), hashlib.md5()  # noqa: S324 - md5 is what corpora publish
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            md5.update(block)
            size += len(block)
    return {"size": size, "sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def _mismatch(found: dict, sha256: str | None, md5: str | None) -> str | None:
    """The reason ``found`` fails the expected checksums, or None."""
    if sha256 and found["sha256"] != sha256:
        return f"sha256 expected {sha256}, got {found['sha256']}"
    if md5 and found["md5"] != md5:
        return f"md5 expected {md5}, got {found['md5']}"
    return None


def _read_marker(marker: Path) -> dict | None:
    try:
        data = json.loads(marker.read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _unlink(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _accepted(dest: Path, marker: Path, sha256: str | None, md5: str | None) -> bool:
    """True when ``dest`` is a finished download that matches the expected checksums."""
    if not dest.is_file():
        return False
    record = _read_marker(marker)
    if record is not None and record.get("size") == dest.stat().st_size and record.get("sha256"):
        if _mismatch(record, sha256, md5) is None:
            return True
        return False  # a complete file, but not the one now expected: fetch it again
    # no (valid) marker: re-verify what is on disk; without a checksum nothing proves it complete
    if not (sha256 or md5):
        return False
    found = digests(dest)
    if _mismatch(found, sha256, md5) is None:
        _write_json(marker, found)
        return True
    return False


class _Incomplete(Exception):
    """The transfer stopped early; the ``.part`` file holds what arrived."""


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) or file only
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # range not satisfiable: handled by the caller
        raise SourceError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except urllib.error.URLError as exc:
        raise SourceError(f"{url}: download failed ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise SourceError(f"{url}: download failed ({exc})") from None


def _transfer_http(url: str, part: Path, progress: bool, timeout: float) -> None:
    start = part.stat().st_size if part.exists() else 0
    resp = _open(url, start, timeout)
    with resp:
        status = getattr(resp, "status", None) or resp.getcode()
        if status == 416:
            # the .part is already as long as (or longer than) the file: start again from zero
            _unlink(part)
            start = 0
            resp2 = _open(url, 0, timeout)
            return _stream(resp2, url, part, 0, resp2.status, progress, timeout)
        return _stream(resp, url, part, start, status, progress, timeout)


def _stream(resp, url: str, part: Path, start: int, status: int, progress: bool, timeout: float) -> None:
    from tqdm import tqdm

    with resp:
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if status == 206:
            crange = resp.headers.get("Content-Range", "")
            try:
                first = int(crange.split()[1].split("-")[0])
            except (IndexError, ValueError):
                first = -1
            if first != start:  # not the range we asked for: restart cleanly
                resp.close()
                _unlink(part)
                fresh = _open(url, 0, timeout)
                return _stream(fresh, url, part, 0, fresh.status, progress, timeout)
            mode = "ab"
        else:  # 200: the server sends the whole file (it ignored or did not get a Range)
            start = 0
            mode = "wb"
        total = start + length if length is not None else None
        received = 0
        with open(part, mode) as out, tqdm(total=total, initial=start, unit="B", unit_scale=True,
                                           unit_divisor=1024, desc=part.name[:-5], disable=not progress,
                                           leave=False) as bar:
            try:
                while block := resp.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:
                raise _Incomplete(f"connection lost after {start + received} bytes ({exc})") from None
        if length is not None and received < length:
            raise _Incomplete(f"connection closed after {start + received} of {total} bytes")


def _transfer_file(url: str, part: Path, progress: bool) -> None:
    from tqdm import tqdm

    src = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if not src.is_file():
        raise SourceError(f"{src}: file not found ({url})")
    size = src.stat().st_size
    start = part.stat().st_size if part.exists() else 0
    if start > size:
        _unlink(part)
        start = 0
    with open(src, "rb") as fh, open(part, "ab" if start else "wb") as out, \
            tqdm(total=size, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                 desc=part.name[:-5], disable=not progress, leave=False) as bar:
        fh.seek(start)
        while block := fh.read(1 << 20):
            out.write(block)
            bar.update(len(block))


def fetch(url: str, dest_dir: str | Path, sha256: str | None = None, md5: str | None = None,
          progress: bool = True, retries: int = 2, timeout: float = 60.0, name: str | None = None) -> Path:
    """Download ``url`` into ``dest_dir`` (resuming a ``.part``), verify it, return its path.

    ``retries``: how many times a transfer cut short is resumed before giving up (the ``.part`` is kept,
    so running again resumes too). ``name``: the file name to save as (default: the URL's).
    """
    sha256 = _check_hex(sha256, "sha256", 64)
    md5 = _check_hex(md5, "md5", 32)
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise SourceError(f"{url}: unsupported URL scheme {scheme or 'none'!r} (use http, https or file)")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (name or _file_name(url))
    part = dest.with_name(dest.name + ".part")
    marker = dest.with_name(dest.name + ".ok")
    if _accepted(dest, marker, sha256, md5):
        return dest
    _unlink(dest, marker)
    attempt = 0
    while True:
        try:
            if scheme == "file":
                _transfer_file(url, part, progress)
            else:
                _transfer_http(url, part, progress, timeout)
            break
        except _Incomplete as exc:
            attempt += 1
            if attempt > retries:
                raise SourceError(f"{part}: download of {url} incomplete: {exc}; run again to resume") from None
            time.sleep(min(0.5 * attempt, 5.0))
    found = digests(part)
    reason = _mismatch(found, sha256, md5)
    if reason:
        _unlink(part, dest, marker)
        raise SourceError(f"{dest}: checksum mismatch ({reason}); the download was deleted")
    os.replace(part, dest)
    _write_json(marker, {**found, "url": url})
    return dest


# --------------------------------------------------------------------------------------- extract
def is_archive(path: str | Path) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        return False


def _archive_kind(archive: Path) -> str:
    lower = archive.name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(ARCHIVE_SUFFIXES):
        return "tar"
    if zipfile.is_zipfile(archive):
        return "zip"
    if _is_tar(archive):
        return "tar"
    raise SourceError(f"{archive}: not a supported archive (.tar, .tar.gz, .tgz, .zip)")


def _inside(base: str, target: str) -> bool:
    return target == base or target.startswith(base + os.sep)


def _check_name(archive: Path, name: str, base: str) -> str:
    """The normalised destination of member ``name``; SourceError when it is unsafe."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or os.path.isabs(name):
        raise SourceError(f"{archive}: refusing member {name!r} (absolute path)")
    dest = os.path.normpath(os.path.join(base, clean))
    if not _inside(base, dest):
        raise SourceError(f"{archive}: refusing member {name!r} (path escapes the target folder)")
    return dest


def _check_tar_member(archive: Path, m: tarfile.TarInfo, base: str) -> None:
    dest = _check_name(archive, m.name, base)
    if m.issym() or m.islnk():
        link = m.linkname.replace("\\", "/")
        if link.startswith("/") or os.path.isabs(m.linkname):
            raise SourceError(f"{archive}: refusing member {m.name!r} (link to absolute path {m.linkname!r})")
        # symlinks resolve from the member's folder, hard links from the archive root
        origin = os.path.dirname(dest) if m.issym() else base
        target = os.path.normpath(os.path.join(origin, link))
        if not _inside(base, target):
            raise SourceError(f"{archive}: refusing member {m.name!r} (link to {m.linkname!r} points outside "
                              "the target folder)")
    elif not (m.isfile() or m.isdir()):
        raise SourceError(f"{archive}: refusing member {m.name!r} (device or special file)")


def _check_zip_member(archive: Path, info: zipfile.ZipInfo, zf: zipfile.ZipFile, base: str) -> None:
    dest = _check_name(archive, info.filename, base)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        link = zf.read(info).decode("utf-8", "replace")
        target = os.path.normpath(os.path.join(os.path.dirname(dest), link))
        if link.startswith("/") or not _inside(base, target):
            raise SourceError(f"{archive}: refusing member {info.filename!r} (link to {link!r} points outside "
                              "the target folder)")


def _merge(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst``, merging folders that exist in both."""
    for item in sorted(src.iterdir()):
        target = dst / item.name
        if item.is_dir() and not item.is_symlink() and target.is_dir() and not target.is_symlink():
            _merge(item, target)
        else:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(item, target)


def _marker_for(archive: Path, target_dir: Path) -> Path:
    return target_dir / f".{archive.name}.extracted"


def extract(archive: str | Path, target_dir: str | Path) -> Path:
    """Unpack ``archive`` into ``target_dir`` safely; return ``target_dir``.

    Every member is checked before anything is written; the members go to a staging folder first and
    are moved in once the whole archive has been read, so a refused or truncated archive leaves the
    target as it was. A marker (archive size and time) skips a second extraction of the same archive.
    """
    archive, target_dir = Path(archive), Path(target_dir)
    if not archive.is_file():
        raise SourceError(f"{archive}: archive not found")
    kind = _archive_kind(archive)
    target_dir.mkdir(parents=True, exist_ok=True)
    marker = _marker_for(archive, target_dir)
    st = archive.stat()
    signature = {"archive": archive.name, "size": st.st_size, "mtime": int(st.st_mtime)}
    if _read_marker(marker) == signature:
        return target_dir
    staging = target_dir / f".{archive.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    base = os.path.realpath(staging)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_zip_member(archive, info, zf, base)
                bad = zf.testzip()
                if bad is not None:
                    raise SourceError(f"{archive}: broken archive (member {bad!r} fails its CRC check)")
                zf.extractall(staging)
        else:
            with tarfile.open(archive, "r:*") as tf:
                for member in tf:  # one pass: check each member, then write it
                    _check_tar_member(archive, member, base)
                    tf.extract(member, staging, set_attrs=member.isfile() or member.isdir(), **_TAR_FILTER)
        _merge(staging, target_dir)
    except SourceError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise SourceError(f"{archive}: broken or truncated archive ({reason[:200]})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_json(marker, signature)
    return target_dir


# ---------------------------------------------------------------------------- generic obtaining
def downloads_dir(params: dict, dest: Path) -> Path:
    """Where archives are kept: ``params['downloads']``, else ``<dest>/../downloads`` (outside the corpus
    folder, so a re-run that wipes the corpus still finds its verified archives)."""
    return Path(params.get("downloads") or Path(dest).parent / "downloads")


def install(path: str | Path, dest: str | Path, mode: str = "link") -> Path:
    """Put a local archive, folder or file the user already has under ``dest``; return where it went.

    An archive is extracted into ``dest``; a folder is symlinked (``mode='link'``) or copied
    (``mode='copy'``) as ``dest/<folder name>``; any other file is copied into ``dest``.
    """
    path, dest = Path(path).expanduser(), Path(dest)
    if not path.exists():
        raise SourceError(f"{path}: not found (the archive or folder you downloaded)")
    dest.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        target = dest / path.name
        if target.is_symlink() or target.exists():
            if target.is_symlink() and Path(os.readlink(target)) == path.resolve():
                return target
            if target.resolve() == path.resolve():
                return target
            if target.is_symlink() or target.is_file():
                target.unlink()
            else:
                shutil.rmtree(target)
        if mode == "copy":
            shutil.copytree(path, target, symlinks=True)
        elif mode == "link":
            target.symlink_to(path.resolve(), target_is_directory=True)
        else:
            raise ParamsError(f"params.yaml: mode must be link or copy, got {mode!r}")
        return target
    if is_archive(path) or zipfile.is_zipfile(path) or _is_tar(path):
        return extract(path, dest)
    target = dest / path.name
    if not (target.exists() and target.stat().st_size == path.stat().st_size
            and target.stat().st_mtime >= path.stat().st_mtime):
        shutil.copy2(path, target)
    return target


def as_list(value) -> list:
    if value in (None, ""):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def obtain(params: dict, dest: str | Path, url: str | None = None, sha256: str | None = None,
           md5: str | None = None, progress: bool = True) -> list[Path]:
    """The generic fetch: ``params['path']`` (one or a list of local archives/folders/files) wins;
    else ``params['url']`` (or the ``url`` given) is downloaded to ``downloads_dir`` and extracted into
    ``dest`` when it is an archive (copied otherwise); ``params['name']`` names the saved file when the
    URL's own name is not useful. Returns the installed paths."""
    dest = Path(dest)
    paths = as_list(params.get("path"))
    if paths:
        return [install(p, dest, params.get("mode", "link")) for p in paths]
    url = params.get("url") or url
    if not url:
        raise ParamsError("params.yaml: give a 'url' to download or a 'path' to an archive or folder you have")
    sha256 = params.get("sha256", sha256)
    md5 = params.get("md5", md5)
    if params.get("verify", True) is False:
        sha256 = md5 = None
    file = fetch(url, downloads_dir(params, dest), sha256=sha256, md5=md5,
                 progress=params.get("progress", progress), name=params.get("name"))
    return [install(file, dest, "copy")]


def obtain_licensed(params: dict, dest: Path, corpus: str, how_to_get: str) -> Path:
    """A corpus behind a licence form: install what the user has (``path``, or a ``url`` they were sent)
    under ``dest``; returns the corpus root (the one folder installed, else ``dest``)."""
    if not (as_list(params.get("path")) or params.get("url")):
        from ..errors import ParamsError

        raise ParamsError(f"params.yaml: no 'path' for {corpus}. {how_to_get}")
    installed = obtain(params, dest)
    dirs = [p for p in installed if p.is_dir() and p != dest]
    return dirs[0] if len(dirs) == 1 and len(installed) == 1 else dest


def watch_root(root: str | Path | None, link: str | Path, raw: str | Path = "data/raw") -> Path:
    """Make ``link`` stand, as a DVC dependency of ``prepare``, for the files of the corpus ``root`` it reads.

    DVC hashes a dependency that is a symlink through it, but never follows a symlink inside a folder, and
    ``prepare`` depends on ``raw``: a root outside it (``prepare.voices.root: ../recordings``) or reached through a
    symlink (a folder ``download`` links in) would change unseen. So ``link`` becomes a (relative) symlink to
    ``root`` when its files lie outside ``raw``; otherwise, or when ``root`` is None or no folder (DVC refuses a
    dangling link), a one-line file saying so."""
    link, target = Path(link), Path(root).expanduser() if root else None
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif link.is_symlink() or link.exists():
        link.unlink()
    if target is not None and target.is_dir() and not _inside(os.path.realpath(raw), os.path.realpath(target)):
        link.symlink_to(os.path.relpath(target.absolute(), link.parent.absolute()), target_is_directory=True)
    else:  # the same bytes whether or not the folder exists yet (synthesize may run after download)
        link.write_text(f"{root}: no folder outside {raw} ({raw} is a dependency of prepare)\n")
    return link
