"""download.fetch / download.extract against a local HTTP server (Range support, cut connections)."""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from facevoice.errors import SourceError
from facevoice.sources import download


# ------------------------------------------------------------------ a small HTTP server with Range
class ServerState:
    """What the handler serves and what it did: one record per request (name, range, status, bytes)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[dict] = []
        self.cut: dict[str, int] = {}  # file name -> bytes to send before dropping the connection (once)
        self.ignore_range = False
        self.lock = threading.Lock()

    def count(self, name: str | None = None) -> int:
        return sum(1 for r in self.requests if name is None or r["name"] == name)

    def sent(self, name: str) -> list[int]:
        return [r["sent"] for r in self.requests if r["name"] == name]


class RangeHandler(BaseHTTPRequestHandler):
    state: ServerState  # set per server by serve()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802
        st = self.state
        name = urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/")
        record = {"name": name, "range": self.headers.get("Range"), "status": 404, "sent": 0}
        with st.lock:
            st.requests.append(record)
            cut = st.cut.pop(name, None)
        file = st.root / name
        if not name or not file.is_file():
            self.send_error(404, "not found")
            return
        data = file.read_bytes()
        size, start, status = len(data), 0, 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and not st.ignore_range:
            start = int(rng[6:].split("-")[0])
            if start >= size:
                record["status"] = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        payload = body if cut is None else body[:cut]
        record.update(status=status, sent=len(payload))  # before writing: the client may finish first
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            record["sent"] = -1  # the client went away: the counts would be wrong
        if cut is not None:
            self.close_connection = True


def serve(root: Path):
    """Start a server on 127.0.0.1 (free port) in a thread; returns (base_url, state, stop)."""
    state = ServerState(root)
    handler = type("Handler", (RangeHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", state, stop


@pytest.fixture()
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    base, state, stop = serve(root)
    yield base, state, root
    stop()


def _payload(n: int = 1_500_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# -------------------------------------------------------------------------------------- fetch
def test_fetch_verifies_and_second_fetch_downloads_nothing(site, tmp_path):
    base, state, root = site
    data = _payload()
    (root / "corpus.bin").write_bytes(data)
    out = tmp_path / "dl"
    path = download.fetch(f"{base}/corpus.bin", out, sha256=_sha(data), progress=False)
    assert path == out / "corpus.bin" and path.read_bytes() == data
    assert (out / "corpus.bin.ok").exists() and not (out / "corpus.bin.part").exists()
    assert state.count("corpus.bin") == 1
    again = download.fetch(f"{base}/corpus.bin", out, sha256=_sha(data), progress=False)
    assert again == path and state.count("corpus.bin") == 1  # no request at all
    # the md5 of the same file is accepted from the marker too, still without a request
    download.fetch(f"{base}/corpus.bin", out, md5=hashlib.md5(data).hexdigest(), progress=False)
    assert state.count("corpus.bin") == 1


def test_fetch_file_url_and_md5(tmp_path):
    data = _payload(300_000, seed=1)
    src = tmp_path / "src" / "a file.bin"
    src.parent.mkdir()
    src.write_bytes(data)
    path = download.fetch(src.as_uri(), tmp_path / "dl", md5=hashlib.md5(data).hexdigest(), progress=False)
    assert path.name == "a file.bin" and path.read_bytes() == data
    with pytest.raises(SourceError, match="file not found"):
        download.fetch((tmp_path / "missing.tgz").as_uri(), tmp_path / "dl2", progress=False)


def test_cut_download_resumes_with_range(site, tmp_path):
    base, state, root = site
    data = _payload()
    (root / "big.tgz").write_bytes(data)
    state.cut["big.tgz"] = len(data) // 2
    out = tmp_path / "dl"
    with pytest.raises(SourceError, match=r"big\.tgz\.part.*incomplete.*run again to resume"):
        download.fetch(f"{base}/big.tgz", out, sha256=_sha(data), progress=False, retries=0)
    part = out / "big.tgz.part"
    assert part.stat().st_size == len(data) // 2 and not (out / "big.tgz").exists()
    path = download.fetch(f"{base}/big.tgz", out, sha256=_sha(data), progress=False)
    assert path.read_bytes() == data and not part.exists()
    first, second = state.sent("big.tgz")
    assert second < len(data) and first + second == len(data)
    assert state.requests[-1]["range"] == f"bytes={len(data) // 2}-" and state.requests[-1]["status"] == 206


def test_cut_download_resumes_within_one_call(site, tmp_path):
    base, state, root = site
    data = _payload(800_000, seed=2)
    (root / "x.zip").write_bytes(data)
    state.cut["x.zip"] = 100_000
    path = download.fetch(f"{base}/x.zip", tmp_path / "dl", sha256=_sha(data), progress=False, retries=2)
    assert path.read_bytes() == data
    assert state.sent("x.zip") == [100_000, len(data) - 100_000]


def test_server_ignoring_range_restarts_cleanly(site, tmp_path):
    base, state, root = site
    data = _payload(600_000, seed=3)
    (root / "f.tar").write_bytes(data)
    out = tmp_path / "dl"
    out.mkdir()
    (out / "f.tar.part").write_bytes(b"garbage" * 1000)  # a stale partial the server will not continue
    state.ignore_range = True
    path = download.fetch(f"{base}/f.tar", out, sha256=_sha(data), progress=False)
    assert path.read_bytes() == data
    assert state.requests[-1]["status"] == 200 and state.sent("f.tar") == [len(data)]


def test_partial_longer_than_the_file_restarts(site, tmp_path):
    base, state, root = site
    data = _payload(300_000, seed=6)
    (root / "g.tgz").write_bytes(data)
    out = tmp_path / "dl"
    out.mkdir()
    (out / "g.tgz.part").write_bytes(b"x" * (len(data) + 10))  # server answers 416 to this range
    path = download.fetch(f"{base}/g.tgz", out, sha256=_sha(data), progress=False)
    assert path.read_bytes() == data
    assert [r["status"] for r in state.requests] == [416, 200]


def test_checksum_mismatch_deletes_and_is_never_accepted(site, tmp_path):
    base, state, root = site
    data = _payload(200_000, seed=4)
    (root / "lfw.tgz").write_bytes(data)
    out = tmp_path / "dl"
    wrong = "0" * 64
    with pytest.raises(SourceError) as err:
        download.fetch(f"{base}/lfw.tgz", out, sha256=wrong, progress=False)
    msg = str(err.value)
    assert "lfw.tgz" in msg and wrong in msg and _sha(data) in msg and "\n" not in msg
    assert list(out.iterdir()) == []  # no file, no .part, no .ok
    with pytest.raises(SourceError, match="checksum mismatch"):  # a later run is not fooled either
        download.fetch(f"{base}/lfw.tgz", out, sha256=wrong, progress=False)
    assert state.count("lfw.tgz") == 2
    with pytest.raises(SourceError, match="md5 expected"):
        download.fetch(f"{base}/lfw.tgz", out, md5="1" * 32, progress=False)
    download.fetch(f"{base}/lfw.tgz", out, sha256=_sha(data), progress=False)
    assert state.count("lfw.tgz") == 4


def test_damaged_or_changed_file_is_fetched_again(site, tmp_path):
    base, state, root = site
    data = _payload(200_000, seed=5)
    (root / "d.bin").write_bytes(data)
    out = tmp_path / "dl"
    download.fetch(f"{base}/d.bin", out, sha256=_sha(data), progress=False)
    with open(out / "d.bin", "r+b") as fh:  # truncated behind our back
        fh.truncate(1000)
    path = download.fetch(f"{base}/d.bin", out, sha256=_sha(data), progress=False)
    assert path.read_bytes() == data and state.count("d.bin") == 2
    # a file already there without a marker is accepted once its checksum is verified
    (out / "d.bin.ok").unlink()
    download.fetch(f"{base}/d.bin", out, sha256=_sha(data), progress=False)
    assert state.count("d.bin") == 2 and (out / "d.bin.ok").exists()


def test_fetch_errors_are_one_line(site, tmp_path):
    base, _, _ = site
    with pytest.raises(SourceError, match=r"missing\.tgz: download failed \(HTTP 404"):
        download.fetch(f"{base}/missing.tgz", tmp_path / "dl", progress=False)
    with pytest.raises(SourceError, match="unsupported URL scheme 'ftp'"):
        download.fetch("ftp://example.org/x.tgz", tmp_path / "dl", progress=False)
    with pytest.raises(Exception, match="64 hexadecimal"):
        download.fetch(f"{base}/x", tmp_path / "dl", sha256="abc", progress=False)


# ------------------------------------------------------------------------------------ extract
def _tar(path: Path, members: list[tuple], mode: str = "w:gz") -> Path:
    """members: (name, bytes) files, (name, 'symlink'|'hardlink', target) links."""
    with tarfile.open(path, mode) as tf:
        for m in members:
            info = tarfile.TarInfo(m[0])
            if len(m) == 3:
                info.type = tarfile.SYMTYPE if m[1] == "symlink" else tarfile.LNKTYPE
                info.linkname = m[2]
                tf.addfile(info)
            else:
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


GOOD = [("top/a.txt", b"alpha"), ("top/sub/b.txt", b"beta"), ("top/sub/link", "symlink", "../a.txt")]


@pytest.mark.parametrize("suffix,mode", [(".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar", "w")])
def test_extract_tar_and_idempotent(tmp_path, suffix, mode):
    archive = _tar(tmp_path / f"good{suffix}", GOOD, mode)
    target = tmp_path / "out"
    assert download.extract(archive, target) == target
    assert (target / "top/a.txt").read_bytes() == b"alpha"
    assert (target / "top/sub/link").read_bytes() == b"alpha"
    (target / "top/a.txt").write_bytes(b"edited")
    download.extract(archive, target)  # marker: not extracted again
    assert (target / "top/a.txt").read_bytes() == b"edited"
    assert not [p for p in target.iterdir() if p.name.endswith(".staging")]


def test_extract_zip_and_merge_two_archives(tmp_path):
    a = _zip(tmp_path / "dev.zip", [("wav/id1/v/1.wav", b"1")])
    b = _tar(tmp_path / "test.tgz", [("wav/id2/v/1.wav", b"2")])
    target = tmp_path / "out"
    download.extract(a, target)
    download.extract(b, target)
    assert (target / "wav/id1/v/1.wav").read_bytes() == b"1"
    assert (target / "wav/id2/v/1.wav").read_bytes() == b"2"


@pytest.mark.parametrize("members,bad", [
    ([("ok.txt", b"x"), ("../evil", b"pwned")], "../evil"),
    ([("ok.txt", b"x"), ("top/../../evil", b"pwned")], "top/../../evil"),
    ([("/tmp/facevoice-evil-abs", b"pwned")], "/tmp/facevoice-evil-abs"),
    ([("top/link", "symlink", "../../outside")], "top/link"),
    ([("top/etc", "symlink", "/etc/passwd")], "top/etc"),
    ([("top/hard", "hardlink", "../outside")], "top/hard"),
])
def test_extract_refuses_unsafe_tar_members(tmp_path, members, bad):
    archive = _tar(tmp_path / "evil.tgz", members)
    target = tmp_path / "a" / "out"
    with pytest.raises(SourceError) as err:
        download.extract(archive, target)
    assert f"refusing member {bad!r}" in str(err.value) and "evil.tgz" in str(err.value)
    assert not (tmp_path / "a" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/facevoice-evil-abs").exists()
    assert [p.name for p in target.iterdir()] == []  # nothing extracted, no marker


def test_extract_refuses_unsafe_zip_members(tmp_path):
    archive = _zip(tmp_path / "evil.zip", [("ok.txt", b"x"), ("../evil", b"pwned")])
    with pytest.raises(SourceError, match=r"evil\.zip: refusing member '\.\./evil' \(path escapes"):
        download.extract(archive, tmp_path / "out")
    archive = _zip(tmp_path / "abs.zip", [("/abs/evil", b"pwned")])
    with pytest.raises(SourceError, match="absolute path"):
        download.extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_extract_truncated_or_broken_archive(tmp_path):
    payload = [(f"top/f{i}.bin", _payload(50_000, seed=i)) for i in range(6)]
    good = _tar(tmp_path / "full.tgz", payload).read_bytes()
    (tmp_path / "cut.tgz").write_bytes(good[: len(good) // 2])
    with pytest.raises(SourceError, match=r"cut\.tgz: broken or truncated archive"):
        download.extract(tmp_path / "cut.tgz", tmp_path / "out")
    assert not (tmp_path / "out" / "top").exists()  # staging removed, nothing half-written
    zgood = _zip(tmp_path / "full.zip", payload).read_bytes()
    (tmp_path / "cut.zip").write_bytes(zgood[: len(zgood) // 2])
    with pytest.raises(SourceError, match=r"cut\.zip: .*(broken|not a supported)"):
        download.extract(tmp_path / "cut.zip", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="not a supported archive"):
        download.extract(tmp_path / "notes.txt", tmp_path / "out")
    with pytest.raises(SourceError, match="archive not found"):
        download.extract(tmp_path / "nope.tgz", tmp_path / "out")


def test_obtain_downloads_then_extracts(site, tmp_path):
    base, state, root = site
    _tar(root / "pack.tgz", [("corpus/p1/a.txt", b"a")])
    sha = _sha((root / "pack.tgz").read_bytes())
    dest = tmp_path / "raw" / "folder"
    download.obtain({"url": f"{base}/pack.tgz", "sha256": sha, "progress": False}, dest)
    assert (dest / "corpus/p1/a.txt").read_bytes() == b"a"
    assert (tmp_path / "raw" / "downloads" / "pack.tgz.ok").exists()
    download.obtain({"url": f"{base}/pack.tgz", "sha256": sha, "progress": False}, dest)
    assert state.count("pack.tgz") == 1
    # a folder the user has is linked in
    mine = tmp_path / "mine"
    (mine / "p2").mkdir(parents=True)
    [linked] = download.obtain({"path": str(mine)}, dest)
    assert linked.is_symlink() and linked.resolve() == mine.resolve()
    with pytest.raises(SourceError, match="not found"):
        download.obtain({"path": str(tmp_path / "absent.zip")}, dest)
