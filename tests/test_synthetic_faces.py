import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))  # noqa: E401,E702

import json

import numpy as np
import pytest

from facevoice.sources.synthetic.faces import make_identity, render_photo

KEYS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _identity(i: int, seed: int = 7) -> dict:
    return make_identity(np.random.default_rng([seed, i]), "male" if i % 2 == 0 else "female")


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / max(1e-9, aw * ah + bw * bh - inter)


def test_identity_is_json_and_deterministic():
    a = make_identity(np.random.default_rng(3), "female")
    b = make_identity(np.random.default_rng(3), "female")
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert make_identity(np.random.default_rng(4), "male") != a


def test_render_is_deterministic():
    ident, other = _identity(0), _identity(1)
    img1, info1 = render_photo(ident, np.random.default_rng(11), bystander=other)
    img2, info2 = render_photo(ident, np.random.default_rng(11), bystander=other)
    assert img1.tobytes() == img2.tobytes()
    assert info1 == info2
    img3, _ = render_photo(_identity(2), np.random.default_rng(11))
    img4, _ = render_photo(ident, np.random.default_rng(11))
    assert img3.tobytes() != img4.tobytes()  # different identities, same photo randomness
    img5, _ = render_photo(ident, np.random.default_rng(12))
    assert img5.tobytes() != img4.tobytes()  # same identity, another photo


@pytest.mark.parametrize("with_bystander", [False, True])
def test_shape_dtype_and_key_points(with_bystander):
    for k in range(8):
        img, info = render_photo(_identity(k), np.random.default_rng([5, k]),
                                 bystander=_identity(k + 1) if with_bystander else None)
        assert img.shape == (250, 250, 3) and img.dtype == np.uint8
        assert json.loads(json.dumps(info)) == info
        x, y, w, h = info["box"]
        assert all(isinstance(v, int) for v in info["box"])
        assert 0.25 * 250 <= h <= 0.65 * 250 and w > 0.5 * h
        for key in KEYS:
            px, py = info[key]
            assert x <= px <= x + w and y <= py <= y + h, (key, info)
        assert info["left_eye"][0] < info["right_eye"][0]
        assert info["mouth_left"][0] < info["mouth_right"][0]
        assert max(info["left_eye"][1], info["right_eye"][1]) < info["nose"][1] < info["mouth_left"][1] + 0.1 * h
        if with_bystander:
            bw, bh = info["bystander_box"][2:]
            assert 0.3 * h <= bh <= 0.7 * h and bw > 0
        else:
            assert info["bystander_box"] is None


def test_size_argument():
    img, info = render_photo(_identity(3), np.random.default_rng(1), size=160)
    assert img.shape == (160, 160, 3)
    assert 0 <= info["nose"][0] < 160 and 0 <= info["nose"][1] < 160


def test_mtcnn_finds_the_labelled_face():
    """The real detector finds the drawn face in >= 95% of photos; with a bystander the largest face is the main one."""
    mtcnn = pytest.importorskip("mtcnn")
    import cv2

    ids = [_identity(i, seed=21) for i in range(13)]
    photos = []
    for i in range(12):
        for k in range(4):
            by = ids[i + 1] if (i * 4 + k) % 3 == 0 else None
            photos.append(render_photo(ids[i], np.random.default_rng([21, i, k]), bystander=by))
    detector = mtcnn.MTCNN()
    results = []
    for b in range(0, len(photos), 24):
        batch = [cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for img, _ in photos[b:b + 24]]
        results += detector.detect_faces(batch, min_face_size=20)
    assert len(results) == len(photos)

    found = with_by = largest_main = 0
    for (_, info), dets in zip(photos, results):
        box = info["box"]

        def is_main(d):
            x, y, w, h = d["box"]
            cx, cy = x + w / 2, y + h / 2
            inside = box[0] <= cx <= box[0] + box[2] and box[1] <= cy <= box[1] + box[3]
            return _iou(box, d["box"]) >= 0.3 or inside

        found += any(is_main(d) for d in dets)
        if info["bystander_box"] is not None:
            with_by += 1
            if dets:
                largest_main += is_main(max(dets, key=lambda d: d["box"][2] * d["box"][3]))
    assert found >= 0.95 * len(photos), f"found {found}/{len(photos)}"
    assert with_by >= 10
    assert largest_main >= 0.8 * with_by, f"largest is main in {largest_main}/{with_by}"
