"""facevoice's Python API: what the ``facevoice`` command does, for a program that asks many questions.

Load once, then ask (``Recognizer`` loads each embedder on first use and keeps it; ``recognizer()`` is a cached
one, which the module-level functions ``verify``, ``identify``, ... use)::

    >>> from facevoice import Recognizer
    >>> rec = Recognizer(gallery=tmp / "gallery")          # tmp, LFW, SO: a folder, lfw_dev's photos, speechocean762's clips
    >>> rec.verify(LFW / "Colin_Farrell/Colin_Farrell_0001.jpg", LFW / "Colin_Farrell/Colin_Farrell_0002.jpg").same
    True
    >>> v = rec.verify(LFW / "Colin_Farrell/Colin_Farrell_0001.jpg", LFW / "George_Clooney/George_Clooney_0001.jpg")
    >>> v.same, v.embedder
    (False, 'dlib_resnet_v1_flip@face-recognition-models==0.3.0')
    >>> rec.verify(SO / "0482/004820005.flac", SO / "0482/004820015.flac").same      # two clips: GE2E
    True

Open-set identification: a gallery of enrolled people; below the threshold (chosen by false-accept rate on the
protocol that measured it) the answer is ``"unknown"``::

    >>> e = rec.enroll("Colin Farrell", photos=[LFW / f"Colin_Farrell/Colin_Farrell_000{i}.jpg" for i in (1, 2, 3)])
    >>> e.total
    {'face': 3}
    >>> rec.identify(LFW / "Colin_Farrell/Colin_Farrell_0004.jpg").answer
    'Colin Farrell'
    >>> rec.identify(LFW / "George_Clooney/George_Clooney_0001.jpg").answer     # a stranger is not named
    'unknown'
    >>> [h.path.name for h in rec.find(LFW / "Colin_Farrell/Colin_Farrell_0005.jpg", LFW / "Colin_Farrell").hits[:1]]
    ['Colin_Farrell_0005.jpg']

Every answer says which embedder and which threshold (with where it was measured) decided it, and has
``to_dict()`` for JSON. Bad input -- no face, an unreadable or truncated photo or clip, a folder where a file
belongs -- raises ``facevoice.errors.InputError`` naming the file and the argument; bad options ``ParamsError``.
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Union

import numpy as np

from .errors import InputError, ParamsError
from .inference import (FACE_EMBEDDER, MAX_SIDE, Models, PHOTO_EXT, class_probs, decide_pair, default_gallery,
                        default_models, digest, embed_clip, face_embedder, kind_of, split_sample, threshold,
                        voice_embedder)
from .audio.loader import AUDIO_EXTENSIONS
from .parallel import imap

Path_ = Union[str, os.PathLike]
Sample = Union[str, os.PathLike, Mapping[str, Path_]]  # a photo, a clip, "photo,clip" or {"face": ..., "voice": ...}
DEFAULT_FAR = 0.001  # identify and find: at most 1 stranger in 1,000 accepted per comparison on the protocol
GALLERY_FORMAT = 1
DIMS = {"face": 128, "voice": 256}


@contextmanager
def argument(name: str) -> Iterator[None]:
    """Re-raise an InputError with the argument the file was given as: "x.jpg: no face found (argument B)"."""
    try:
        yield
    except InputError as exc:
        if f"(argument {name})" in exc.reason:
            raise
        raise InputError(exc.path, f"{exc.reason} (argument {name})") from None


# ---------------------------------------------------------------- answers
@dataclass(frozen=True)
class Embedding:
    """One photo's face or one clip's voice: the unit vector, the embedder (name@version), and what to know."""
    vector: np.ndarray = field(repr=False)
    kind: str
    embedder: str
    source: str
    box: tuple | None = None
    faces_found: int | None = None
    note: str = ""


class Answer:
    """``to_dict()``: the answer as JSON-ready values (paths as strings, tuples as lists)."""

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


@dataclass(frozen=True)
class Verdict(Answer):
    """"Are A and B the same person?": ``same`` when ``score >= threshold``."""
    same: bool
    score: float
    threshold: float
    provenance: str
    embedder: str
    kind: str
    a: str
    b: str
    notes: tuple = ()


@dataclass(frozen=True)
class Candidate(Answer):
    name: str
    score: float
    accepted: bool


@dataclass(frozen=True)
class Identification(Answer):
    """Who is this? ``answer`` is the best candidate when its score reaches the threshold, else "unknown"."""
    answer: str
    candidates: tuple
    threshold: float
    provenance: str
    embedder: str
    kind: str
    sample: str
    gallery: str
    notes: tuple = ()


@dataclass(frozen=True)
class Enrolment(Answer):
    name: str
    gallery: str
    added: dict
    total: dict
    already: tuple = ()
    replaced: bool = False


@dataclass(frozen=True)
class Hit(Answer):
    path: Path
    score: float
    accepted: bool
    note: str = ""


@dataclass(frozen=True)
class Search(Answer):
    """``find``'s ranking of a folder's photos or clips by similarity to a sample, best first."""
    sample: str
    folder: str
    kind: str
    embedder: str
    threshold: float
    provenance: str
    hits: tuple
    skipped: tuple
    files: int
    cached: int
    notes: tuple = ()


@dataclass(frozen=True)
class Classification(Answer):
    """A trained closed-set classifier's answer: it always names one of the people it was trained on."""
    classifier: str
    kind: str
    sample: str
    classes: tuple
    notes: tuple = ()


# ---------------------------------------------------------------- galleries
def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        write(fh)
    os.replace(tmp, path)


class Gallery:
    """Enrolled people in a folder: ``people.json`` (per person and modality: the embedder, its version, how many
    samples, their files' digests, the norm of their embeddings' sum) and ``<kind>.npy``, a float32 matrix with one
    row per person, the unit mean of that person's embeddings (zeros for a person without that modality): an
    identify is one matrix product. A gallery holds one embedder per modality and refuses to compare others."""

    def __init__(self, path: Path_):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ParamsError(f"--gallery {self.path}: a file, not a gallery folder")
        self.people: list[dict] = []
        self.vectors: dict[str, np.ndarray] = {}
        self._mask: dict[str, tuple] = {}
        self._changes = 0  # bumped by add and remove: the cached masks are stale
        index = self.path / "people.json"
        if index.exists():
            self._load(index)

    def _load(self, index: Path) -> None:
        try:
            data = json.loads(index.read_text())
        except (OSError, ValueError) as exc:
            raise ParamsError(f"--gallery {index}: unreadable ({str(exc)[:120]})") from None
        if data.get("format") != GALLERY_FORMAT:
            raise ParamsError(f"--gallery {index}: format {data.get('format')!r}; this facevoice reads {GALLERY_FORMAT}")
        self.people = data["people"]
        for kind in data.get("kinds", []):
            m = np.load(self.path / f"{kind}.npy")
            if m.shape != (len(self.people), DIMS[kind]):
                raise ParamsError(f"--gallery {self.path / f'{kind}.npy'}: shape {m.shape} for {len(self.people)} "
                                  "people (a damaged gallery)")
            self.vectors[kind] = m

    def __len__(self) -> int:
        return len(self.people)

    def names(self) -> list[str]:
        return [p["name"] for p in self.people]

    def find_name(self, name: str) -> int | None:
        return next((i for i, p in enumerate(self.people) if p["name"] == name), None)

    def has(self, kind: str) -> np.ndarray:
        """Which people have a ``kind`` row (computed once per state of the gallery: a search reads it each time)."""
        key = (kind, len(self.people), self._changes)
        if self._mask.get(kind, (None,))[0] != key:
            self._mask[kind] = (key, np.array([kind in p for p in self.people], dtype=bool))
        return self._mask[kind][1]

    def embedder(self, kind: str) -> str | None:
        """The embedder (name@version) of this gallery's ``kind`` embeddings, None when it holds none."""
        entry = next((p[kind] for p in self.people if kind in p), None)
        return None if entry is None else f"{entry['embedder']}@{entry['version']}"

    def check(self, kind: str, embedder: str) -> None:
        held = self.embedder(kind)
        if held is not None and held != embedder:
            raise ParamsError(f"--gallery {self.path}: its {kind} embeddings are {held}'s, this one is {embedder}'s: "
                              "embeddings of different embedders are not comparable (enroll into a new gallery)")

    def scores(self, kind: str, vector: np.ndarray, embedder: str) -> np.ndarray:
        """Cosine of ``vector`` with every person's ``kind`` row (-inf for people without one)."""
        self.check(kind, embedder)
        if kind not in self.vectors:
            return np.full(len(self), -np.inf, dtype=np.float32)
        return np.where(self.has(kind), self.vectors[kind] @ np.asarray(vector, np.float32), -np.inf)

    def owner(self, file_digest: str) -> str | None:
        return next((p["name"] for p in self.people for k in DIMS if file_digest in p.get(k, {}).get("digests", ())),
                    None)

    def _row(self, name: str, kind: str) -> int:
        i = self.find_name(name)
        if i is None:
            self.people.append({"name": name})
            for k, m in self.vectors.items():
                self.vectors[k] = np.vstack([m, np.zeros((1, DIMS[k]), np.float32)])
            i = len(self.people) - 1
        if kind not in self.vectors:
            self.vectors[kind] = np.zeros((len(self.people), DIMS[kind]), np.float32)
        return i

    def add(self, name: str, kind: str, vectors: np.ndarray, digests: list[str], embedder: str) -> None:
        """Add samples' embeddings to ``name``'s ``kind`` (a new person when not enrolled): the row is the unit mean
        of all that person's embeddings so far."""
        self.check(kind, embedder)
        self._changes += 1
        i = self._row(name, kind)
        old = self.people[i].get(kind, {"n": 0, "norm": 0.0, "digests": []})
        total = np.asarray(vectors, np.float64).sum(axis=0) + self.vectors[kind][i] * old["norm"]
        norm = float(np.linalg.norm(total))
        self.vectors[kind][i] = (total / max(norm, 1e-12)).astype(np.float32)
        emb, version = embedder.split("@", 1)
        self.people[i][kind] = {"embedder": emb, "version": version, "n": old["n"] + len(vectors), "norm": norm,
                                "digests": old["digests"] + list(digests)}

    def remove(self, name: str) -> dict:
        i = self.find_name(name)
        if i is None:
            raise ParamsError(f"NAME: {name!r} is not in the gallery {self.path} ({len(self)} people enrolled)")
        entry = self.people.pop(i)
        self._changes += 1
        self.vectors = {k: np.delete(m, i, axis=0) for k, m in self.vectors.items()}
        self.vectors = {k: m for k, m in self.vectors.items() if self.has(k).any()}
        return entry

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for kind, m in self.vectors.items():
            _atomic_write(self.path / f"{kind}.npy", lambda fh, m=m: np.save(fh, np.ascontiguousarray(m, np.float32)))
        for kind in set(DIMS) - set(self.vectors):
            (self.path / f"{kind}.npy").unlink(missing_ok=True)
        data = {"format": GALLERY_FORMAT, "kinds": sorted(self.vectors), "people": self.people}
        _atomic_write(self.path / "people.json", lambda fh: fh.write(json.dumps(data).encode()))

    @staticmethod
    @contextmanager
    def locked(path: Path_) -> Iterator[None]:
        """Hold the gallery's lock file while reading, changing and writing it (two enrolls never lose one)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ParamsError(f"--gallery {path}: a file, not a gallery folder")
        path.mkdir(parents=True, exist_ok=True)
        with open(path / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first (argpartition: linear in the gallery's size)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=int)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


# ---------------------------------------------------------------- the embedding cache of find
class EmbeddingCache:
    """Embeddings of files by their bytes' digest and the embedder (with its options), in an SQLite file
    (``<gallery>/cache.sqlite``): a folder searched again is read, not embedded again. Failures are kept too."""

    def __init__(self, path: Path_):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS embeddings (digest TEXT, embedder TEXT, vectors BLOB, "
                        "faces INTEGER, boxes TEXT, reason TEXT, PRIMARY KEY (digest, embedder))")

    def get(self, file_digest: str, embedder: str, dim: int) -> tuple | None:
        """(vectors (n, dim), faces found, boxes, None) or (None, None, None, reason), or None when never seen."""
        row = self.db.execute("SELECT vectors, faces, boxes, reason FROM embeddings WHERE digest=? AND embedder=?",
                              (file_digest, embedder)).fetchone()
        if row is None:
            return None
        vectors = None if row[0] is None else np.frombuffer(row[0], np.float32).reshape(-1, dim)
        return vectors, row[1], json.loads(row[2]) if row[2] else None, row[3]

    def put(self, file_digest: str, embedder: str, result: tuple) -> None:
        vectors, faces, boxes, reason = result
        blob = None if vectors is None else np.ascontiguousarray(vectors, np.float32).tobytes()
        self.db.execute("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)",
                        (file_digest, embedder, blob, faces, json.dumps(boxes) if boxes else None, reason))

    def close(self) -> None:
        self.db.commit()
        self.db.close()


# ---------------------------------------------------------------- embedding jobs (also run in worker processes)
def _embed_job(job: tuple) -> tuple:
    """(vectors (n, dim), faces found, boxes, None) or (None, None, None, reason) for one file of ``find``."""
    path, kind, all_faces, max_side = job
    try:
        if kind == "face":
            faces, found = face_embedder(max_side).faces(path, all_faces)
            return np.stack([f.vector for f in faces]), found, [list(f.box) for f in faces], None
        return embed_clip(path)[None], None, None, None
    except InputError as exc:
        return None, None, None, exc.reason
    except RuntimeError as exc:  # dlib raises RuntimeError on images it cannot process
        return None, None, None, f"dlib could not embed it ({str(exc).splitlines()[0][:120]})"


def label(sample: Sample) -> str:
    """A sample as the user would write it: "photo.jpg", "clip.wav" or "photo.jpg,clip.wav"."""
    return ",".join(str(v) for v in sample.values() if v) if isinstance(sample, Mapping) else str(sample)


def _expect(path: Path_, kind: str) -> None:
    if kind_of(path) != kind:
        raise InputError(path, f"not a {'photo' if kind == 'face' else 'clip'}")


def _faces_note(found: int, box: tuple, all_faces: bool) -> str:
    if found <= 1:
        return ""
    if all_faces:
        return f"{found} faces found: each answered, largest first"
    return f"{found} faces found: the largest used (box x, y, w, h = {', '.join(map(str, box))}); --all-faces for each"


def _listing(folder: Path, kind: str) -> list[Path]:
    ext = PHOTO_EXT if kind == "face" else AUDIO_EXTENSIONS
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in ext and p.is_file())


def _vectorised_pair(face_cos: np.ndarray, voice_cos: np.ndarray) -> tuple[np.ndarray, float, str]:
    """``decide_pair`` over arrays of candidates: called once with the arrays when it accepts them, else per pair."""
    try:
        score, thr, source = decide_pair(face_cos, voice_cos)
        if np.shape(score) == np.shape(face_cos):
            return np.asarray(score, float), float(thr), source
    except (TypeError, ValueError):
        pass
    out = [decide_pair(float(f), float(v)) for f, v in zip(face_cos, voice_cos)]
    thr, source = (out[0][1], out[0][2]) if out else decide_pair(0.0, 0.0)[1:]
    return np.array([o[0] for o in out], float), float(thr), source


# ---------------------------------------------------------------- the recognizer
class Recognizer:
    """Embedders loaded once (on first use), a gallery, and the trained models' folder (closed-set classifiers).

    ``models_dir``: default ``$FACEVOICE_MODELS``, else the repository's ``models/``; ``gallery``: default
    ``$FACEVOICE_GALLERY``, else ``~/.local/share/facevoice/gallery`` (``$XDG_DATA_HOME`` honoured);
    ``max_side``: photos longer than this are detected downscaled (the pipeline's ``faces.max_side``)."""

    def __init__(self, models_dir: Path_ | None = None, gallery: Path_ | None = None, max_side: int = MAX_SIDE):
        self.models_dir = Path(models_dir) if models_dir else default_models()
        self.gallery_path = Path(gallery) if gallery else default_gallery()
        self.max_side = int(max_side)

    # ------------------------------------------------------------ embeddings
    def embed_faces(self, photo: Path_, arg: str = "photo") -> list[Embedding]:
        """Every face in a photo, largest first (InputError when there is none: no fallback box)."""
        with argument(arg):
            _expect(photo, "face")
            faces, found = face_embedder(self.max_side).faces(photo, all_faces=True)
        return [Embedding(f.vector, "face", FACE_EMBEDDER, str(photo), f.box, found, _faces_note(found, f.box, True))
                for f in faces]

    def embed_face(self, photo: Path_, arg: str = "photo") -> Embedding:
        """The largest face in a photo; ``note`` says so when there were several.

        >>> rec.embed_face(LFW / "Colin_Farrell/Colin_Farrell_0001.jpg").vector.shape
        (128,)
        """
        with argument(arg):
            _expect(photo, "face")
            faces, found = face_embedder(self.max_side).faces(photo)
        f = faces[0]
        return Embedding(f.vector, "face", FACE_EMBEDDER, str(photo), f.box, found, _faces_note(found, f.box, False))

    def embed_voice(self, clip: Path_, arg: str = "clip") -> Embedding:
        """The GE2E embedding of a clip (InputError for a silent, speechless, truncated or unreadable one).

        >>> rec.embed_voice(SO / "0482/004820005.flac").vector.shape
        (256,)
        """
        with argument(arg):
            _expect(clip, "voice")
            vector = embed_clip(clip)
        return Embedding(vector, "voice", voice_embedder(), str(clip))

    def embed(self, sample: Sample, arg: str = "sample") -> dict[str, Embedding]:
        """{"face": ..., "voice": ...} of a sample (a photo, a clip, "photo,clip" or a mapping)."""
        with argument(arg):
            parts = split_sample(sample)
        out = {}
        if "face" in parts:
            out["face"] = self.embed_face(parts["face"], arg)
        if "voice" in parts:
            out["voice"] = self.embed_voice(parts["voice"], arg)
        return out

    # ------------------------------------------------------------ verify
    def verify(self, a: Sample, b: Sample, far: float | None = None) -> Verdict:
        """Same person? Two photos: cosine of dlib's descriptors against the face threshold; two clips: cosine of
        GE2E embeddings against the voice threshold; photo+clip against photo+clip: the calibrated fusion
        (``decide_pair``). ``far`` None: each modality's balanced threshold; else the one at that false-accept
        rate on its protocol (one-modality decisions only)."""
        with argument("a"):
            kinds_a = split_sample(a)
        with argument("b"):
            kinds_b = split_sample(b)
        if set(kinds_a) != set(kinds_b):
            raise InputError(str(b), f"holds {' + '.join(sorted(kinds_b))} where a holds {' + '.join(sorted(kinds_a))}:"
                             " both samples must hold the same kinds (argument b)")
        ea, eb = self.embed(kinds_a, "a"), self.embed(kinds_b, "b")
        cos = {k: float(ea[k].vector @ eb[k].vector) for k in ea}
        notes = tuple(e.note for e in (*ea.values(), *eb.values()) if e.note)
        if len(cos) == 2:
            score, thr, source = decide_pair(cos["face"], cos["voice"])
            notes += (f"face cosine {cos['face']:.3f}, voice cosine {cos['voice']:.3f}",)
            if far is not None:
                notes += ("the false-accept rate applies to one-modality decisions: not used here",)
        else:
            (kind, score), = cos.items()
            t = threshold(kind, far)
            thr, source = t.value, t.provenance
        embedder = " + ".join(ea[k].embedder for k in sorted(ea))
        return Verdict(bool(score >= thr), float(score), float(thr), source, embedder, "+".join(sorted(ea)),
                       label(a), label(b), notes)

    # ------------------------------------------------------------ identify (open set)
    def gallery(self, path: Path_ | None = None) -> Gallery:
        return Gallery(path or self.gallery_path)

    def identify(self, sample: Sample, gallery: Path_ | None = None, top_k: int = 5,
                 far: float | None = DEFAULT_FAR) -> Identification:
        """Who is this, among the gallery's people? The best candidate when its score reaches the threshold (one
        modality: cosine against the threshold at false-accept rate ``far`` on that modality's protocol; photo+clip:
        the calibrated fusion), else "unknown". Candidates are ranked best first (``top_k`` of them)."""
        return self.identify_embeddings(self.embed(sample, "sample"), gallery, top_k, far)

    def identify_embeddings(self, embeddings: dict[str, Embedding], gallery: Path_ | None = None, top_k: int = 5,
                            far: float | None = DEFAULT_FAR) -> Identification:
        """``identify`` from embeddings already made ({"face": ..., "voice": ...}; e.g. one sample, many galleries)."""
        sample = ",".join(e.source for _, e in sorted(embeddings.items()))
        return self._identify(embeddings, self.gallery(gallery), top_k, far, sample)

    def identify_faces(self, photo: Path_, gallery: Path_ | None = None, top_k: int = 5,
                       far: float | None = DEFAULT_FAR) -> list[Identification]:
        """``identify`` for every face in a photo, largest first."""
        g = self.gallery(gallery)
        return [self._identify({"face": e}, g, top_k, far, f"{photo} (face {i} of {len(faces)}, box {list(e.box)})")
                for faces in [self.embed_faces(photo, "sample")] for i, e in enumerate(faces, 1)]

    def _scores(self, emb: dict[str, Embedding], g: Gallery, far: float | None) -> tuple:
        """(score per gallery row, -inf where not comparable; threshold; provenance; notes)."""
        kinds = sorted(emb)
        cos = {k: g.scores(k, emb[k].vector, emb[k].embedder) for k in kinds}
        usable = np.logical_and.reduce([np.isfinite(c) for c in cos.values()])
        notes = tuple(e.note for e in emb.values() if e.note)
        if not usable.any():
            raise ParamsError(f"--gallery {g.path}: no one enrolled with a {' and a '.join(kinds)} "
                              f"({len(g)} people enrolled)")
        if (~usable).sum():
            notes += (f"{int((~usable).sum())} enrolled people lack a {' or a '.join(kinds)} and were not compared",)
        if len(kinds) == 1:
            t = threshold(kinds[0], far)
            return cos[kinds[0]], t.value, t.provenance, notes
        score, thr, source = _vectorised_pair(np.where(usable, cos["face"], 0.0), np.where(usable, cos["voice"], 0.0))
        notes += ("face+voice: the fused score at its own threshold (the false-accept rate applies to one modality)",)
        return np.where(usable, score, -np.inf), thr, source, notes

    def _identify(self, emb: dict[str, Embedding], g: Gallery, top_k: int, far: float | None,
                  sample: str) -> Identification:
        if top_k < 1:
            raise ParamsError(f"--top-k: at least 1, got {top_k}")
        if not emb:
            raise ParamsError("identify: no face and no voice embedding given")
        if not len(g):
            raise ParamsError(f"--gallery {g.path}: no one enrolled yet (facevoice enroll NAME --faces ... --voices ...)")
        scores, thr, source, notes = self._scores(emb, g, far)
        best = top(scores, top_k)
        cands = tuple(Candidate(g.people[i]["name"], float(scores[i]), bool(scores[i] >= thr)) for i in best)
        answer = cands[0].name if cands and cands[0].accepted else "unknown"
        embedder = " + ".join(emb[k].embedder for k in sorted(emb))
        return Identification(answer, cands, float(thr), source, embedder, "+".join(sorted(emb)), sample, str(g.path),
                              notes)

    # ------------------------------------------------------------ enroll, list, remove
    def _embed_files(self, files: Iterable[Path_], kind: str, arg: str) -> list[tuple[np.ndarray, str, str]]:
        """[(vector, digest, path)] of files of one kind, each checked to be that kind; a repeated file once."""
        out, seen = [], set()
        for f in files:
            with argument(arg):
                _expect(f, kind)
            d = digest(f)
            if d not in seen:
                seen.add(d)
                e = self.embed_face(f, arg) if kind == "face" else self.embed_voice(f, arg)
                out.append((e.vector, d, str(f)))
        return out

    def enroll(self, name: str, photos: Iterable[Path_] = (), clips: Iterable[Path_] = (),
               gallery: Path_ | None = None, replace: bool = False) -> Enrolment:
        """Add ``name``'s photos and clips to the gallery (no retraining). An enrolled person's entry grows; samples
        that do not match it are refused unless ``replace`` (which first drops the entry). A file enrolled as
        another person is refused; one already enrolled as this person is counted once."""
        name = unicodedata.normalize("NFC", str(name)).strip()  # as prepare spells every person
        if not name:
            raise ParamsError("NAME: empty")
        new = {"face": self._embed_files(photos, "face", "--faces"), "voice": self._embed_files(clips, "voice", "--voices")}
        if not new["face"] and not new["voice"]:
            raise ParamsError("enroll: give at least one photo (--faces) or clip (--voices)")
        embedders = {"face": FACE_EMBEDDER, "voice": voice_embedder() if new["voice"] else ""}
        path = Path(gallery or self.gallery_path)
        with Gallery.locked(path):
            g = Gallery(path)
            replaced = replace and g.find_name(name) is not None
            if replaced:
                g.remove(name)
            already = self._check_enrolment(g, name, new, embedders)
            for kind, items in new.items():
                items = [it for it in items if it[2] not in already]
                if items:
                    g.add(name, kind, np.stack([v for v, _, _ in items]), [d for _, d, _ in items], embedders[kind])
            g.save()
        entry = g.people[g.find_name(name)]
        return Enrolment(name, str(path), {k: len([i for i in v if i[2] not in already]) for k, v in new.items() if v},
                         {k: entry[k]["n"] for k in DIMS if k in entry}, tuple(sorted(already)), replaced)

    def _check_enrolment(self, g: Gallery, name: str, new: dict, embedders: dict) -> set[str]:
        """The files already enrolled as ``name``; refuses files enrolled as someone else, another embedder, and
        samples that do not match ``name``'s entry (at the balanced threshold)."""
        already, i = set(), g.find_name(name)
        for kind, items in new.items():
            if items:
                g.check(kind, embedders[kind])
            for vector, d, f in items:
                owner = g.owner(d)
                if owner is not None and owner != name:
                    raise InputError(f, f"already enrolled as {owner!r} in {g.path} (the same bytes)")
                if owner == name:
                    already.add(f)
            fresh = [v for v, _, f in items if f not in already]
            if i is not None and fresh and kind in g.people[i]:
                mean = np.mean(fresh, axis=0)
                cos = float(g.vectors[kind][i] @ (mean / max(np.linalg.norm(mean), 1e-12)))
                t = threshold(kind)
                if cos < t.value:
                    raise ParamsError(f"enroll {name!r}: the new {'photos' if kind == 'face' else 'clips'} do not match "
                                      f"the enrolled {name!r} (cosine {cos:.3f} < {t.value:.3f}): --replace to replace")
        return already

    def people(self, gallery: Path_ | None = None) -> list[dict]:
        """The gallery's people: name, and per modality how many samples and the embedder (name@version)."""
        g = self.gallery(gallery)
        return [{"name": p["name"], **{k: {"n": p[k]["n"], "embedder": f"{p[k]['embedder']}@{p[k]['version']}"}
                                       for k in DIMS if k in p}} for p in g.people]

    def remove(self, name: str, gallery: Path_ | None = None) -> dict:
        """Drop ``name`` from the gallery; returns what was removed (samples per modality)."""
        path = Path(gallery or self.gallery_path)
        if not (path / "people.json").exists():
            raise ParamsError(f"--gallery {path}: no gallery there (nothing enrolled)")
        with Gallery.locked(path):
            g = Gallery(path)
            entry = g.remove(name)
            g.save()
        return {"name": name, "gallery": str(path), **{k: entry[k]["n"] for k in DIMS if k in entry}}

    # ------------------------------------------------------------ find
    def find(self, sample: Path_, folder: Path_, far: float | None = DEFAULT_FAR, top_k: int | None = None,
             all_faces: bool = False, workers: int = 2, progress: bool = False) -> Search:
        """Rank a folder's photos (for a photo sample) or clips (for a clip), searched recursively, by cosine
        similarity to the sample, best first; ``accepted`` where the score reaches the threshold at ``far``. A
        photo's score is its largest face's (``all_faces``: its best face's). Embeddings are cached by content
        digest in ``<gallery>/cache.sqlite``; files that cannot be judged are listed in ``skipped`` with why."""
        with argument("sample"):
            parts = split_sample(sample)
        if len(parts) != 1:
            raise InputError(str(sample), "find ranks by one photo or one clip, not both (argument sample)")
        (kind, path), = parts.items()
        root = Path(folder)
        if not root.is_dir():
            raise InputError(root, f"{'not found' if not root.exists() else 'not a folder'} (argument folder)")
        files = _listing(root, kind)
        if not files:
            raise InputError(root, f"holds no {'photos' if kind == 'face' else 'clips'} (argument folder)")
        query = self.embed({kind: path}, "sample")[kind]
        t = threshold(kind, far)
        results, cached = self._embed_folder(files, kind, all_faces, workers, progress)
        hits, skipped = [], []
        for f, (vectors, found, boxes, reason) in zip(files, results):
            if vectors is None:
                skipped.append((str(f), reason))
                continue
            s = vectors @ query.vector
            j = int(np.argmax(s))
            note = _faces_note(found or 1, tuple(boxes[j]) if boxes else (), all_faces)
            hits.append(Hit(f, float(s[j]), bool(s[j] >= t.value), note))
        hits.sort(key=lambda h: -h.score)
        return Search(label(sample), str(root), kind, query.embedder, t.value, t.provenance,
                      tuple(hits[:top_k] if top_k else hits), tuple(skipped), len(files), cached,
                      (query.note,) if query.note else ())

    def _embed_folder(self, files: list[Path], kind: str, all_faces: bool, workers: int,
                      progress: bool) -> tuple[list[tuple], int]:
        """Each file's (vectors, faces, boxes, reason), from the cache or embedded (in ``workers`` processes)."""
        embedder = (f"{FACE_EMBEDDER}/max_side={self.max_side}/{'all' if all_faces else 'largest'}"
                    if kind == "face" else voice_embedder())
        cache = EmbeddingCache(self.gallery_path / "cache.sqlite")
        try:
            digests = [digest(f) for f in files]
            known = {d: cache.get(d, embedder, DIMS[kind]) for d in dict.fromkeys(digests)}
            todo = {d: str(f) for f, d in zip(files, digests) if known[d] is None}
            jobs = [(f, kind, all_faces, self.max_side) for f in todo.values()]
            for d, result in zip(todo, imap(_embed_job, jobs, workers, desc=f"find: {kind}s", progress=progress)):
                known[d] = result
                cache.put(d, embedder, result)
        finally:
            cache.close()
        return [known[d] for d in digests], sum(d not in todo for d in digests)

    # ------------------------------------------------------------ closed-set classifiers (only when asked)
    def classify(self, sample: Path_, classifier: str = "auto", top_k: int = 5) -> Classification:
        """A trained classifier's top-k people for one photo or clip (``classifier`` "auto": the most accurate one
        for that modality). Closed-set: it names one of its training people whoever is shown (TensorFlow loads)."""
        if top_k < 1:
            raise ParamsError(f"--top-k: at least 1, got {top_k}")
        with argument("sample"):
            parts = split_sample(sample)
        if len(parts) != 1:
            raise InputError(str(sample), "a classifier reads one photo or one clip, not both (argument sample)")
        (kind, path), = parts.items()
        models = Models(self.models_dir)
        name = models.best(kind) if classifier == "auto" else classifier
        if models.modality(name) != kind:
            raise ParamsError(f"--classifier {name}: reads {'photos' if kind == 'voice' else 'clips'}, "
                              f"the sample is a {'photo' if kind == 'face' else 'clip'}")
        with argument("sample"):
            probs = class_probs(models, name, path)
        ranked = sorted(probs.items(), key=lambda t: -t[1])[:top_k]
        note = f"closed set: {name} always names one of the {len(probs)} people it was trained on"
        return Classification(name, kind, label(sample), tuple((p, float(s)) for p, s in ranked), (note,))


def recognizer(models_dir: Path_ | None = None, gallery: Path_ | None = None) -> Recognizer:
    """The Recognizer of (models_dir, gallery), made once (defaults resolved now, from the environment); the
    embedders it loads stay loaded for the whole process."""
    return _recognizer(Path(models_dir) if models_dir else default_models(),
                       Path(gallery) if gallery else default_gallery())


@lru_cache(maxsize=8)
def _recognizer(models_dir: Path, gallery: Path) -> Recognizer:
    return Recognizer(models_dir, gallery)


def embed_face(photo: Path_) -> Embedding:
    """``Recognizer.embed_face`` with the default recognizer."""
    return recognizer().embed_face(photo)


def embed_voice(clip: Path_) -> Embedding:
    """``Recognizer.embed_voice`` with the default recognizer."""
    return recognizer().embed_voice(clip)


def verify(a: Sample, b: Sample, far: float | None = None) -> Verdict:
    """``Recognizer.verify`` with the default recognizer."""
    return recognizer().verify(a, b, far)


def identify(sample: Sample, gallery: Path_ | None = None, top_k: int = 5, far: float | None = DEFAULT_FAR) -> Identification:
    """``Recognizer.identify`` with the default recognizer."""
    return recognizer().identify(sample, gallery, top_k, far)


def enroll(name: str, photos: Iterable[Path_] = (), clips: Iterable[Path_] = (), gallery: Path_ | None = None,
           replace: bool = False) -> Enrolment:
    """``Recognizer.enroll`` with the default recognizer."""
    return recognizer().enroll(name, photos, clips, gallery, replace)


def find(sample: Path_, folder: Path_, far: float | None = DEFAULT_FAR, top_k: int | None = None) -> Search:
    """``Recognizer.find`` with the default recognizer."""
    return recognizer().find(sample, folder, far, top_k)


__all__ = ["Recognizer", "recognizer", "embed_face", "embed_voice", "verify", "identify", "enroll", "find",
           "Embedding", "Verdict", "Identification", "Candidate", "Enrolment", "Search", "Hit", "Classification",
           "Gallery", "DEFAULT_FAR"]
