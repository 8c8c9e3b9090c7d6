"""Photos longer than faces.max_side are detected downscaled and their boxes mapped back to the full-size photo;
photos that fit (every default synthetic, ORL and LFW photo) are detected exactly as before, unresized.
Peak memory with and without the limit: benchmarks/faces_memory.py."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from facevoice.faces.detect import MAX_SIDE, Mtcnn, downscale, scaled

ROOT = Path(__file__).resolve().parents[1]
FACES = yaml.safe_load((ROOT / "params.yaml").read_text())["faces"]
UP, OFFSET = 8, 600  # the 250x250 photo scaled 8x (2000x2000), 600 px from the left of a 3000x2000 photo


def test_downscale_keeps_a_photo_that_fits_and_shrinks_a_large_one_by_area():
    small = np.zeros((250, 250, 3), np.uint8)
    for side in (MAX_SIDE, 250, 0):
        same, scale = downscale(small, side)
        assert same is small and scale == (1.0, 1.0)  # no copy, no resize at all
    edge = np.zeros((MAX_SIDE, 700, 3), np.uint8)
    assert downscale(edge, MAX_SIDE)[0] is edge
    big = np.zeros((2000, 3000, 3), np.uint8)
    big[:, 1500:] = 200
    out, (fx, fy) = downscale(big, 1024)
    assert out.shape == (683, 1024, 3) and fx == pytest.approx(3000 / 1024) and fy == pytest.approx(2000 / 683)
    assert out[:, 511].max() < 200 and 0 < out[:, 512].min()  # INTER_AREA: the edge stays where it was
    det = {"box": [10, 20, 30, 40], "confidence": 0.9, "keypoints": {"nose": [25.0, 40.0]}}
    assert scaled(det, 1.0, 1.0) is det
    back = scaled(scaled(det, fx, fy), 1 / fx, 1 / fy)
    assert np.allclose(back["box"], det["box"]) and np.allclose(back["keypoints"]["nose"], [25.0, 40.0])


@pytest.fixture(scope="module")
def drawn():
    """A synthetic 250x250 photo, the 3000x2000 photo it is drawn into, and the photo's own MTCNN detections."""
    pytest.importorskip("mtcnn")
    from facevoice.sources.synthetic.faces import make_identity, render_photo

    face, _ = render_photo(make_identity(np.random.default_rng(3), "female"), np.random.default_rng(4))
    big = np.full((2000, 3000, 3), 90, np.uint8)
    big[:, OFFSET:OFFSET + 250 * UP] = cv2.resize(face, (250 * UP, 250 * UP), interpolation=cv2.INTER_CUBIC)
    alone = Mtcnn(**{**detector_args(), "max_side": 0}).detect_batch([face])[0]
    assert len(alone) == 1
    return face, big, alone[0]


def detector_args() -> dict:
    from facevoice.faces.build import check

    return check(FACES)["mtcnn"]  # params.yaml's faces.mtcnn and faces.max_side


def expected(det: dict) -> dict:
    """The 250x250 photo's detection where the 3000x2000 photo holds that face."""
    x, y, w, h = det["box"]
    return {"box": [x * UP + OFFSET, y * UP, w * UP, h * UP],
            "keypoints": {k: [v[0] * UP + OFFSET, v[1] * UP] for k, v in det["keypoints"].items()}}


def assert_near(got: dict, want: dict, tolerance: float = 0.04):
    """Box corners, sides and key points within ``tolerance`` of the box side."""
    side = max(want["box"][2:])
    assert np.abs(np.subtract(got["box"], want["box"])).max() <= tolerance * side, (got["box"], want["box"])
    assert set(got["keypoints"]) == set(want["keypoints"])
    for k, v in want["keypoints"].items():
        assert np.abs(np.subtract(got["keypoints"][k], v)).max() <= tolerance * side, (k, got, want)


def test_a_3000x2000_photo_is_detected_downscaled_with_boxes_in_full_size_pixels(drawn):
    face, big, alone = drawn
    blank = np.full((300, 300, 3), 128, np.uint8)
    detector = Mtcnn(**detector_args())
    assert detector.max_side == FACES["max_side"] == 1024
    batch = detector.detect_batch([blank, big, face])  # mixed sizes: still one detect_faces call per size
    assert batch[0] == [] and batch[2] == [alone]
    assert len(batch[1]) == 1 and batch[1][0]["confidence"] > 0.9
    assert_near(batch[1][0], expected(alone))
    assert all(isinstance(v, int) for v in batch[1][0]["box"])
    assert detector.detect_batch([big])[0] == batch[1]  # the same boxes as alone
    small, scale = detector.shrink(big)  # what the faces stage holds in memory, and the factors back
    assert max(small.shape[:2]) == 1024 and detector.detect_batch([small], [scale])[0] == batch[1]


def test_photos_under_max_side_give_exactly_the_unlimited_detections(drawn):
    """The default params on the default synthetic photos (250x250, a bystander in some) and ORL-size photos:
    the same detections as with no limit at all, so no default number changes."""
    from facevoice.sources.synthetic.faces import make_identity, render_photo

    ids = [make_identity(np.random.default_rng([9, i]), "male" if i % 2 else "female") for i in range(4)]
    photos = [render_photo(ids[i], np.random.default_rng([9, 10 + i]), bystander=ids[3] if i == 0 else None)[0]
              for i in range(3)]
    photos.append(cv2.resize(photos[1], (92, 112), interpolation=cv2.INTER_AREA))  # ORL's size
    limited = Mtcnn(**detector_args()).detect_batch(photos)
    assert limited == Mtcnn(**{**detector_args(), "max_side": 0}).detect_batch(photos)
    assert sum(len(d) for d in limited) >= 3


def test_the_faces_stage_crops_a_large_photo_from_its_full_size_pixels(drawn, tmp_path):
    from facevoice.faces import build
    from facevoice.faces.build import _read_batch

    face, big, alone = drawn
    rows = []
    for name, img in (("big.jpg", big), ("small.jpg", face)):
        cv2.imwrite(str(tmp_path / name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append({"path": str(tmp_path / name), "person": "ann", "gender": "female", "language": "unknown",
                     "source_id": name, "corpus": "test", "split": "train"})
    pd.DataFrame(rows).to_csv(tmp_path / "faces.csv", index=False)
    spec = {**FACES, "rule": "consistent", "samples": 0, "augment": {"copies": 0}}
    summary = build(spec, tmp_path / "faces.csv", tmp_path / "out", progress=False)
    assert summary["kept"] == 2, summary
    index = pd.read_csv(tmp_path / "out/index.csv").set_index("source_id")
    got = {"box": json.loads(index.loc["big.jpg", "box"]), "keypoints": json.loads(index.loc["big.jpg", "keypoints"])}
    assert_near(got, expected(alone))
    x = np.load(tmp_path / "out/x.npy").astype(np.float32)  # the two crops show the same face
    assert np.corrcoef(x[0].ravel(), x[1].ravel())[0, 1] > 0.9
    reasons = [None, None]
    _, photos, scales = _read_batch([str(tmp_path / "big.jpg"), str(tmp_path / "small.jpg")], range(2),
                                    Mtcnn(**detector_args()), reasons)
    assert [p.shape[:2] for p in photos] == [(683, 1024), (250, 250)] and scales[1] == (1.0, 1.0)
