"""Which detection is the labelled person's, when a photo holds several faces.

Only detections with ``confidence >= min_confidence`` and a box side >= ``min_size`` pixels count
(``accepted``). Rules:

- ``central``: the box whose centre is nearest the photo's centre (LFW centres the labelled person);
- ``largest``: the biggest box (the labelled person is usually in front);
- ``most_confident``: the highest MTCNN confidence;
- ``consistent``: the face most like the person's other faces. Each candidate gets a cheap appearance
  embedding (``embed``: its aligned crop at 16x16 RGB, mean removed, unit length: a template of the
  layout of skin, hair and shading, computed at detection time because no trained face encoder exists
  yet at this stage). The person's reference is the mean embedding of their *train* photos that hold
  exactly one accepted face (all their single-face photos when none is in train); the candidate with
  the highest cosine similarity wins. A person without any single-face photo falls back to ``largest``,
  and the index row says so (``rule: consistent>largest``).
"""
from __future__ import annotations

import numpy as np

RULES = ("central", "largest", "most_confident", "consistent")
EMBED_SIZE = 16


def accepted(dets: list[dict], min_confidence: float, min_size: int) -> list[dict]:
    return [d for d in dets if d["confidence"] >= min_confidence and min(d["box"][2:]) >= min_size]


def embed(photo_bgr: np.ndarray, det: dict) -> np.ndarray:
    from .crop import frame_matrix, warp

    m = frame_matrix(det["box"], det["keypoints"], EMBED_SIZE, margin=0.0, align=True)
    v = warp(photo_bgr, m, EMBED_SIZE).astype(np.float32).ravel()
    v -= v.mean()
    return v / (np.linalg.norm(v) + 1e-6)


def _area(d):
    return d["box"][2] * d["box"][3]


def _off_centre(d, shape):
    h, w = shape[:2]
    x, y, bw, bh = d["box"]
    return ((x + bw / 2 - w / 2) / w) ** 2 + ((y + bh / 2 - h / 2) / h) ** 2


def choose(rule: str, dets: list[dict], shape, embeddings: list[np.ndarray] | None = None,
           reference: np.ndarray | None = None) -> tuple[int, str]:
    """(index of the kept detection, the rule actually applied)."""
    if len(dets) == 1:
        return 0, rule
    if rule == "central":
        return int(np.argmin([_off_centre(d, shape) for d in dets])), rule
    if rule == "most_confident":
        return int(np.argmax([d["confidence"] for d in dets])), rule
    if rule == "consistent":
        if reference is not None and embeddings is not None:
            return int(np.argmax([float(e @ reference) for e in embeddings])), rule
        return int(np.argmax([_area(d) for d in dets])), "consistent>largest"
    return int(np.argmax([_area(d) for d in dets])), "largest"


def references(people: list[str], splits: list[str], singles: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    """Per person: the normalised mean embedding of single-face photos (train ones when there are any)."""
    by: dict[str, dict[str, list]] = {}
    for person, split, emb in zip(people, splits, singles):
        if emb is not None:
            by.setdefault(person, {}).setdefault("train" if split == "train" else "other", []).append(emb)
    out = {}
    for person, groups in by.items():
        vecs = groups.get("train") or groups.get("other")
        ref = np.mean(vecs, axis=0)
        out[person] = ref / (np.linalg.norm(ref) + 1e-6)
    return out
