"""Synthetic face photos that a real face detector (MTCNN) finds: shaded heads on cluttered backgrounds.

``make_identity`` draws the stable traits of one person (JSON-serialisable); ``render_photo`` draws one
LFW-like photo of that person (BGR uint8, 250x250 by default) with a varying pose, scale, position,
lighting, expression and background, and returns the drawn face box and 5 key points.

How it draws: the head (face oval with ellipsoid shading, eye sockets, a modelled nose, eyes, brows,
lips, ears, hair, neck) is painted upright in a "canonical" frame at the photo's own scale, then rotated
into the photo over the shoulders and the background.  Canonical coordinates: origin at the centre of
the face oval, y down, ``B`` = half-height of the oval (top of the skull to the chin is ``2B``),
``A = B * width_ratio`` its half-width.  All randomness comes from the generators passed in.
"""
from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT

HAIR_STYLES = ("buzz", "short", "medium", "long")
_HAIR_P = {"male": (0.2, 0.55, 0.2, 0.05), "female": (0.0, 0.15, 0.3, 0.55)}
_SKIN_LIGHT = np.array([238.0, 204.0, 180.0])
_SKIN_DARK = np.array([96.0, 62.0, 45.0])
_HAIR_COLOURS = np.array([[25, 20, 18], [60, 40, 28], [105, 70, 40], [160, 115, 65], [205, 170, 110],
                          [130, 55, 30], [140, 135, 130]], float)
_IRIS_COLOURS = np.array([[70, 45, 25], [110, 75, 40], [80, 110, 60], [70, 110, 150], [100, 130, 160],
                          [45, 30, 20]], float)


def _f(x) -> float:
    return round(float(x), 4)


def make_identity(rng: np.random.Generator, gender: str) -> dict:
    """Stable face parameters of one person: plain floats, ints, strings and lists (JSON-serialisable)."""
    female = gender == "female"
    t = float(rng.beta(1.3, 1.8))
    skin = (1 - t) * _SKIN_LIGHT + t * _SKIN_DARK + rng.normal(0, 2.5, 3) + np.array([5, 0, -7]) * rng.normal()
    hair_w = np.array([3.0, 3.0, 2.0, 1.0, 1.0, 0.6, 0.4])
    if t > 0.55:  # darker skin: darker hair more likely
        hair_w = np.array([6.0, 3.0, 0.5, 0.2, 0.1, 0.1, 0.3])
    hair = _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=hair_w / hair_w.sum())] * rng.uniform(0.85, 1.15, 3)
    iris = _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * rng.uniform(0.85, 1.15, 3)
    lip_base = skin * np.array([0.92, 0.62, 0.62]) + np.array([25, 0, 5]) * (1 if female else 0.4)
    lip = lip_base * rng.uniform(0.88, 1.08, 3)
    style = HAIR_STYLES[int(rng.choice(4, p=_HAIR_P["female" if female else "male"]))]
    return {
        "gender": "female" if female else "male",
        "skin": [_f(v) for v in np.clip(skin, 30, 250)],
        "width_ratio": _f(rng.uniform(0.70, 0.78) if female else rng.uniform(0.73, 0.83)),
        "jaw_power": _f(rng.uniform(1.9, 2.3) if female else rng.uniform(2.1, 2.8)),
        "jaw_taper": _f(rng.uniform(0.08, 0.2) if female else rng.uniform(0.02, 0.14)),
        "eye_spacing": _f(rng.uniform(0.38, 0.45)),
        "eye_width": _f(rng.uniform(0.20, 0.245)),
        "eye_height": _f(rng.uniform(0.38, 0.5)),
        "eye_y": _f(rng.uniform(-0.06, 0.02)),
        "iris": [_f(v) for v in np.clip(iris, 10, 220)],
        "nose_length": _f(rng.uniform(0.33, 0.43)),
        "nose_width": _f(rng.uniform(0.16, 0.21) if female else rng.uniform(0.18, 0.24)),
        "mouth_width": _f(rng.uniform(0.30, 0.38)),
        "mouth_y": _f(rng.uniform(0.58, 0.65)),
        "lip": [_f(v) for v in np.clip(lip, 20, 240)],
        "lip_thickness": _f(rng.uniform(0.95, 1.3) if female else rng.uniform(0.75, 1.1)),
        "brow_thickness": _f(rng.uniform(0.028, 0.042) if female else rng.uniform(0.038, 0.058)),
        "brow_arch": _f(rng.uniform(0.02, 0.06)),
        "hair": [_f(v) for v in np.clip(hair, 8, 240)],
        "hair_style": style,
        "hairline": _f(rng.uniform(0.5, 0.62)),
        "hair_part": _f(rng.uniform(-0.5, 0.5)),
        "hair_volume": _f(rng.uniform(1.04, 1.14)),
        "ear_size": _f(rng.uniform(0.85, 1.15)),
        "lashes": int(female),
    }


# ----------------------------------------------------------------------------------------------- drawing


def _ell(cx, cy, ax, ay, n=40, t0=0.0, t1=2 * np.pi, ang=0.0):
    t = np.linspace(t0, t1, n)
    x, y = ax * np.cos(t), ay * np.sin(t)
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


class _Canvas:
    """A float RGB layer with an alpha channel; shapes are given in canonical coordinates."""

    def __init__(self, w: int, h: int, off):
        self.img = np.zeros((h, w, 3), np.float32)
        self.alpha = np.zeros((h, w), np.float32)
        self.off = np.asarray(off, np.float32)
        self.w, self.h = w, h

    def mask(self, shapes, blur=0.0, pad=0.0):
        """shapes: list of (points, thickness) with thickness 0 = filled polygon, >0 = open polyline."""
        pts = [np.asarray(p, np.float32) + self.off for p, _ in shapes]
        allp = np.concatenate(pts)
        pad = 3 * blur + max(th for _, th in shapes) + 2 + pad
        x0 = max(int(np.floor(allp[:, 0].min() - pad)), 0)
        y0 = max(int(np.floor(allp[:, 1].min() - pad)), 0)
        x1 = min(int(np.ceil(allp[:, 0].max() + pad)) + 1, self.w)
        y1 = min(int(np.ceil(allp[:, 1].max() + pad)) + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for p, (_, th) in zip(pts, shapes):
            ip = np.round((p - (x0, y0)) * _ONE).astype(np.int32)
            if th <= 0:
                cv2.fillPoly(m, [ip], 255, cv2.LINE_AA, _SHIFT)
            else:
                cv2.polylines(m, [ip], False, 255, max(1, int(round(th))), cv2.LINE_AA, _SHIFT)
        mf = m.astype(np.float32) * (1 / 255)
        if blur > 0.3:
            mf = cv2.GaussianBlur(mf, (0, 0), blur)
        return (slice(y0, y1), slice(x0, x1)), mf

    def paint(self, shapes, color, a=1.0, blur=0.0, mode="mix", opaque=False, clip=None):
        r = self.mask(shapes, blur)
        if r is None:
            return
        sl, m = r
        if clip is not None:
            m = m * clip[sl]
        m = m * a
        roi = self.img[sl]
        c = np.asarray(color, np.float32)
        m3 = m[..., None]
        if mode == "mix":
            roi += (c - roi) * m3
        elif mode == "mul":
            roi *= 1 - m3 * (1 - c)
        else:
            roi += m3 * c
        if opaque:
            np.maximum(self.alpha[sl], m, out=self.alpha[sl])


class _Shading:
    """Soft shadows and highlights over the face region of a canvas: shapes are drawn (hard) into four maps,
    each map is blurred once, then the face is darkened / lightened by them."""

    SIGMA = {"ds": 0.07, "df": 0.025, "ls": 0.09, "lf": 0.03}

    def __init__(self, cv: _Canvas, sl, B: float):
        self.cv, self.sl, self.B = cv, sl, B
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        self.maps = {k: np.zeros((h, w), np.float32) for k in self.SIGMA}
        self.off = cv.off - (sl[1].start, sl[0].start)

    def _ip(self, pts):
        return [np.round((np.asarray(pts, np.float32) + self.off) * _ONE).astype(np.int32)]

    def fill(self, layer, pts, v):
        cv2.fillPoly(self.maps[layer], self._ip(pts), float(v), cv2.LINE_8, _SHIFT)

    def line(self, layer, pts, th, v):
        cv2.polylines(self.maps[layer], self._ip(pts), False, float(v), max(1, int(round(th))), cv2.LINE_8, _SHIFT)

    def apply(self, fm):
        blur = {k: cv2.GaussianBlur(m, (0, 0), max(0.6, self.SIGMA[k] * self.B)) for k, m in self.maps.items()}
        dark = np.minimum(blur["ds"] + blur["df"], 0.75) * fm
        light = (blur["ls"] + blur["lf"]) * fm
        roi = self.cv.img[self.sl]
        roi *= (1 - dark)[..., None]
        roi += light[..., None]


def _face_outline(A, B, power, taper, n=72):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    lower = s > 0
    p = np.where(lower, 2.0 / power, 1.0)  # a superellipse below the eyes: rounder or squarer jaw
    x = A * np.sign(c) * np.abs(c) ** p
    y = B * np.sign(s) * np.abs(s) ** p
    x = np.where(lower, x * (1 - taper * s ** 2), x)
    return np.stack([x, y], 1)


def _hair_texture(rng, h, w, scale):
    n = rng.normal(0, 1, (max(2, h // 2), max(2, w // 6))).astype(np.float32)
    n = cv2.resize(n, (w, h), interpolation=cv2.INTER_LINEAR)
    return 1 + 0.12 * cv2.GaussianBlur(n, (0, 0), max(0.5, scale * 0.01))


def _render_head(ident: dict, pose: dict, B: float, rng: np.random.Generator):
    """Paint the head upright; returns (canvas, canonical key points and face box points)."""
    A = B * ident["width_ratio"]
    style = ident["hair_style"]
    hw = 1.35 * B if style in ("medium", "long") else 1.2 * B
    top = 1.4 * B
    bottom = 1.95 * B
    W, H = int(np.ceil(2 * hw)), int(np.ceil(top + bottom))
    cv = _Canvas(W, H, (hw, top))
    skin = np.asarray(ident["skin"], np.float32)
    hair = np.asarray(ident["hair"], np.float32)
    L = pose["light"]
    amb, dif = pose["ambient"], pose["diffuse"]
    yaw = pose["yaw"]
    flat = amb + dif * L[2]  # brightness of a surface facing the camera
    sx = yaw * A  # horizontal shift of the features (yaw-like)

    # --- long hair behind the head
    if style in ("long", "medium"):
        drop = 1.75 * B if style == "long" else 0.75 * B
        vol = ident["hair_volume"]
        back = np.concatenate([_ell(0, 0, A * vol * 1.12, B * vol, 30, np.pi, 2 * np.pi),
                               [[A * 1.22, 0.4 * B], [A * 1.25, drop], [A * 0.8, drop + 0.1 * B],
                                [-A * 0.8, drop + 0.1 * B], [-A * 1.25, drop], [-A * 1.22, 0.4 * B]]])
        cv.paint([(back, 0)], hair * (0.55 + 0.3 * flat), opaque=True, blur=0.6)

    # --- neck (down to the collar) with the chin's shadow
    nw = 0.55 * A
    neck = np.array([[-nw, 0.3 * B], [nw, 0.3 * B], [nw * 1.05, 1.3 * B], [nw * 1.3, 1.5 * B],
                     [0, 1.65 * B], [-nw * 1.3, 1.5 * B], [-nw * 1.05, 1.3 * B]])
    cv.paint([(neck, 0)], skin * (amb + dif * 0.55) * 0.92, opaque=True)
    cv.paint([(_ell(0, 0.95 * B, A * 0.75, 0.35 * B), 0)], 0.55, blur=0.1 * B, mode="mul")
    cv.paint([(neck[[0, 6, 5]], 0)], 0.8 if L[0] > 0 else 0.95, blur=0.06 * B, mode="mul")
    cv.paint([(neck[[1, 2, 3]], 0)], 0.8 if L[0] <= 0 else 0.95, blur=0.06 * B, mode="mul")

    # --- ears
    es = ident["ear_size"]
    for side in (-1, 1):
        ex = side * A * 0.96 + sx * 0.3
        ear = _ell(ex + side * 0.05 * B, 0.12 * B, 0.11 * B * es, 0.22 * B * es, 24)
        lit = amb + dif * max(0.0, 0.5 * side * L[0] + 0.5 * L[2])
        cv.paint([(ear, 0)], skin * lit * 0.92, opaque=True)
        cv.paint([(_ell(ex + side * 0.06 * B, 0.13 * B, 0.05 * B * es, 0.13 * B * es, 16), 0)], 0.7,
                 blur=0.02 * B, mode="mul")

    # --- face oval, shaded as an ellipsoid lit from L
    outline = _face_outline(A, B, ident["jaw_power"], ident["jaw_taper"])
    r = cv.mask([(outline, 0)])
    sl, fm = r
    ys = np.arange(sl[0].start, sl[0].stop, dtype=np.float32) - cv.off[1]
    xs = np.arange(sl[1].start, sl[1].stop, dtype=np.float32) - cv.off[0]
    X, Y = np.meshgrid(xs, ys)
    nx = (X - 0.25 * sx) / (A * 1.05)
    ny = Y / (B * 1.1)
    nz = np.sqrt(np.clip(1 - nx ** 2 - ny ** 2, 0.02, 1))
    nrm = np.sqrt(nx ** 2 + ny ** 2 + nz ** 2)
    lam = np.clip((nx * L[0] + ny * L[1] + nz * L[2]) / nrm, 0, 1)
    shade = amb + dif * lam
    face = skin[None, None, :] * shade[..., None]
    roi = cv.img[sl]
    roi += (face - roi) * fm[..., None]
    np.maximum(cv.alpha[sl], fm, out=cv.alpha[sl])

    def lit(x, y):  # brightness of the face at a canonical point
        nx_, ny_ = (x - 0.25 * sx) / (A * 1.05), y / (B * 1.1)
        nz_ = np.sqrt(max(0.02, 1 - nx_ ** 2 - ny_ ** 2))
        return amb + dif * max(0.0, (nx_ * L[0] + ny_ * L[1] + nz_ * L[2]) / np.sqrt(nx_ ** 2 + ny_ ** 2 + nz_ ** 2))

    # --- geometry of the features
    ey = ident["eye_y"] * B
    ew = ident["eye_width"] * A
    eh = ew * ident["eye_height"]
    exs = [-ident["eye_spacing"] * A + sx * 0.8, ident["eye_spacing"] * A + sx * 0.8]
    # the eye on the far side (yaw) looks narrower
    ews = [ew * (1 + 0.35 * yaw), ew * (1 - 0.35 * yaw)]
    nl = ident["nose_length"] * B
    nwid = ident["nose_width"] * A
    nose_x = sx * 1.25
    my = ident["mouth_y"] * B + 0.03 * B * pose["mouth_open"]
    mw = ident["mouth_width"] * A * (1 + 0.12 * pose["smile"])
    mx = sx * 0.85
    brow_y = ey - 0.2 * B - 0.06 * B * pose["brow_raise"]

    # --- brow shapes (drawn after the eyes; their shadow goes into the shading maps)
    bt = ident["brow_thickness"] * B
    arch = ident["brow_arch"] * B
    brows = []
    for i, ex in enumerate(exs):
        s = -1 if i == 0 else 1  # outward direction
        inner, outer = ex - s * ews[i] * 1.1, ex + s * ews[i] * 1.25
        t = np.linspace(0, 1, 12)
        xs_ = inner + (outer - inner) * t
        mid = brow_y - arch * np.sin(np.pi * np.clip(t * 1.15, 0, 1)) + 0.02 * B * t
        th = bt * (1.15 - 0.6 * t)
        brows.append((np.concatenate([np.stack([xs_, mid - th / 2], 1), np.stack([xs_, mid + th / 2], 1)[::-1]]),
                      np.stack([xs_, mid + 0.06 * B], 1)))

    # --- soft modelling, painted into four maps (dark/light x soft/fine) blurred once each:
    # eye sockets, brow shadows, cheekbones, forehead, the nose (bridge, side shadows, wings, tip, shadow
    # below), philtrum, the shadow under the lower lip, chin
    sh = _Shading(cv, sl, B)
    for i, ex in enumerate(exs):
        sh.fill("ds", _ell(ex, ey - 0.02 * B, ews[i] * 1.45, eh * 2.6), 0.28)
        sh.fill("ls", _ell(ex + (ex - nose_x) * 0.1, ey + 0.22 * B, ew * 1.3, 0.09 * B), 22 * flat)
        sh.line("df", brows[i][1], 0.06 * B, 0.15)
    sh.fill("ls", _ell(sx * 0.6, -0.45 * B, A * 0.5, 0.2 * B), 16 * flat)
    dark_side = -1 if L[0] > 0 else 1
    for side in (-1, 1):
        k = 0.34 if side == dark_side else 0.18
        strip = np.array([[nose_x + side * 0.07 * A - sx * 0.25, ey + 0.02 * B],
                          [nose_x + side * 0.085 * A - sx * 0.1, ey + 0.5 * (nl - ey)],
                          [nose_x + side * nwid * 0.5, nl - 0.05 * B]])
        sh.line("ds", strip + [side * 0.03 * B, 0], 0.08 * B, k * 0.7)
        sh.line("df", strip, 0.035 * B, k)
        sh.line("df", _ell(nose_x + side * nwid * 0.78, nl + 0.01 * B, nwid * 0.32, 0.075 * B, 20), 0.03 * B, k + 0.05)
    bridge = np.array([[nose_x - sx * 0.3, ey + 0.05 * B], [nose_x - sx * 0.1, nl - 0.12 * B]])
    sh.line("lf", bridge, 0.05 * B, 26 * flat)
    sh.fill("lf", _ell(nose_x, nl - 0.04 * B, nwid * 0.45, 0.07 * B), 28 * flat)
    sh.fill("df", _ell(nose_x, nl + 0.085 * B, nwid * 0.95, 0.05 * B), 0.32)
    sh.line("df", np.array([[mx + sx * 0.1, nl + 0.12 * B], [mx, my - 0.06 * B]]), 0.04 * B, 0.12)
    sh.fill("df", _ell(mx, my + 0.12 * B, mw * 0.6, 0.045 * B), 0.22)
    sh.fill("ls", _ell(mx * 0.9, 0.86 * B, A * 0.22, 0.06 * B), 14 * flat)
    sh.apply(fm)
    for side in (-1, 1):  # nostrils
        cv.paint([(_ell(nose_x + side * nwid * 0.4, nl + 0.045 * B, nwid * 0.22, 0.028 * B, 16,
                        ang=side * 0.35), 0)], skin * 0.3, a=0.9, blur=0.012 * B)

    # --- eyes
    iris = np.asarray(ident["iris"], np.float32)
    gaze = pose["gaze"]
    for i, ex in enumerate(exs):
        _eye(cv, ex, ey, ews[i], eh, iris, gaze, lit(ex, ey), B, L, ident["lashes"], skin)

    # --- brows
    brow_col = hair * 0.7 if hair.mean() < 120 else hair * 0.5
    cv.paint([(brows[0][0], 0), (brows[1][0], 0)], brow_col, a=0.85, blur=max(0.5, 0.008 * B))

    # --- mouth
    _mouth(cv, ident, pose, mx, my, mw, B, flat, L)

    # --- front hair
    _front_hair(cv, ident, A, B, hair, flat, sx, rng)

    cv.img = cv2.GaussianBlur(cv.img, (0, 0), 0.45)

    kp = {
        "left_eye": [exs[0], ey], "right_eye": [exs[1], ey], "nose": [nose_x, nl],
        "mouth_left": [mx - mw, my - 0.03 * B * pose["smile"]], "mouth_right": [mx + mw, my - 0.03 * B * pose["smile"]],
    }
    # the detector's box (as MTCNN draws it): from well above the brows to just below the chin, cheek to cheek
    box_top = ey - 0.6 * B
    box_pts = outline[outline[:, 1] > box_top] * [0.885, 1.05]
    box_pts = np.concatenate([box_pts, [[-A * 0.885, box_top], [A * 0.885, box_top]]])
    return cv, kp, box_pts


def _eye(cv, cx, cy, ew, eh, iris_col, gaze, light, B, L, lashes, skin):
    t = np.linspace(-1, 1, 16)
    upper = np.stack([cx + ew * t, cy - eh * (1 - t ** 2) ** 0.85 - 0.1 * eh * t * 0], 1)
    lower = np.stack([cx + ew * t, cy + eh * 0.7 * (1 - t ** 2) ** 1.1], 1)
    r = cv.mask([(np.concatenate([upper, lower[::-1]]), 0)])
    if r is None:
        return
    sl, m = r
    ys = np.arange(sl[0].start, sl[0].stop, dtype=np.float32) - cv.off[1]
    xs = np.arange(sl[1].start, sl[1].stop, dtype=np.float32) - cv.off[0]
    X, Y = np.meshgrid(xs, ys)
    col = np.empty(m.shape + (3,), np.float32)
    col[:] = np.array([228, 222, 215], np.float32) * min(1.0, 0.25 + 0.75 * light)
    ix, iy, ri = cx + gaze[0] * ew, cy + gaze[1] * eh + 0.05 * eh, 0.44 * ew
    d = np.sqrt((X - ix) ** 2 + (Y - iy) ** 2)
    im = np.clip(ri - d + 0.5, 0, 1)[..., None]
    icol = iris_col * (0.55 + 0.55 * np.clip(1 - d / ri, 0, 1))[..., None] * min(1.0, 0.3 + 0.7 * light)
    col += (icol - col) * im
    pm = np.clip(0.42 * ri - d + 0.5, 0, 1)[..., None]
    col += (np.array([12, 10, 10], np.float32) - col) * pm
    hx, hy = ix - L[0] * 0.35 * ri, iy - 0.35 * ri
    hm = np.clip(0.2 * ri - np.sqrt((X - hx) ** 2 + (Y - hy) ** 2) + 0.5, 0, 1)[..., None]
    col += (np.array([250, 250, 250], np.float32) - col) * hm * 0.9
    # shadow of the upper lid
    col *= (1 - 0.35 * np.clip(1 - (Y - (cy - eh)) / (0.9 * eh), 0, 1))[..., None]
    roi = cv.img[sl]
    roi += (col - roi) * m[..., None]
    th = max(1.5, (0.14 if lashes else 0.1) * eh * 2)
    cv.paint([(upper, th)], np.array([35, 24, 20], np.float32), a=0.95, blur=0.006 * B + 0.3)
    if lashes:
        wing = np.array([upper[-2], [cx + ew * 1.2, cy - eh * 0.45]])
        cv.paint([(wing, th * 0.8)], np.array([30, 20, 18], np.float32), a=0.9, blur=0.4)
    cv.paint([(lower, max(1.0, 0.05 * eh * 2))], 0.55, a=0.7, blur=0.5, mode="mul")
    crease = upper.copy()
    crease[:, 1] -= eh * 0.55
    crease[:, 0] = cx + (crease[:, 0] - cx) * 1.05
    cv.paint([(crease[2:-2], max(1.5, 0.09 * eh * 2))], 0.78, blur=0.012 * B, mode="mul")


def _mouth(cv, ident, pose, mx, my, mw, B, flat, L):
    lip = np.asarray(ident["lip"], np.float32) * (0.45 + 0.55 * flat)
    lt = ident["lip_thickness"] * 0.055 * B
    smile, op = pose["smile"], pose["mouth_open"]
    t = np.linspace(-1, 1, 21)
    cy = -0.035 * B * smile * t ** 2  # corners up when smiling
    gap = 0.09 * B * op * (1 - t ** 2) ** 0.7
    line_up = np.stack([mx + mw * t, my + cy - gap * 0.4], 1)
    line_lo = np.stack([mx + mw * t, my + cy + gap * 0.6], 1)
    bow = 1 - 0.35 * np.exp(-(t / 0.12) ** 2)  # cupid's bow
    top = np.stack([mx + mw * t * 0.98, my + cy - gap * 0.4 - lt * bow * (1 - t ** 2) ** 0.6], 1)
    bot = np.stack([mx + mw * t * 0.96, my + cy + gap * 0.6 + 1.3 * lt * (1 - t ** 2) ** 0.7], 1)
    if op > 0.05:
        inner = np.concatenate([line_up, line_lo[::-1]])
        cv.paint([(inner, 0)], np.array([55, 18, 22], np.float32))
        teeth = np.concatenate([line_up[4:-4], (line_up[4:-4] + [0, gap[4:-4].max() * 0.35 + 0.01 * B])[::-1]])
        cv.paint([(teeth, 0)], np.array([215, 210, 200], np.float32) * (0.5 + 0.5 * flat), a=0.9, blur=0.4)
    cv.paint([(np.concatenate([top, line_up[::-1]]), 0)], lip * 0.82, blur=0.45)
    cv.paint([(np.concatenate([line_lo, bot[::-1]]), 0)], lip, blur=0.45)
    cv.paint([(_ell(mx + L[0] * 0.1 * mw, my + cy[10] + gap[10] * 0.6 + 0.7 * lt, mw * 0.35, lt * 0.3), 0)],
             25 * flat, blur=0.015 * B, mode="add")
    cv.paint([(line_up, max(1.5, 0.022 * B))], 0.45, blur=0.5, mode="mul")
    for side in (-1, 1):
        cv.paint([(_ell(mx + side * mw, my + cy[0], 0.03 * B, 0.02 * B), 0)], 0.7, blur=0.015 * B, mode="mul")


def _front_hair(cv, ident, A, B, hair, flat, sx, rng):
    style = ident["hair_style"]
    vol = ident["hair_volume"] if style != "buzz" else 1.02
    hl = ident["hairline"] * B
    part = ident["hair_part"] * A * 0.5
    # outer boundary over the skull, inner boundary = hairline
    outer = _ell(0, 0, A * vol * 1.02, B * vol, 40, np.pi * 0.98, np.pi * 2.02)
    side_y = -0.05 * B if style in ("buzz", "short") else 0.45 * B
    side_y2 = 0.3 * B if style == "short" else side_y
    if style in ("medium", "long"):
        outer = np.concatenate([[[-A * vol * 1.1, side_y + 0.2 * B]], outer, [[A * vol * 1.1, side_y + 0.2 * B]]])
    inner = np.array([
        [A * 0.99, side_y2 if style == "short" else side_y], [A * 0.97, -0.12 * B],
        [A * 0.84, -0.33 * B], [A * 0.55, -hl * 0.92], [part, -hl],
        [-A * 0.55, -hl * 0.92], [-A * 0.84, -0.33 * B], [-A * 0.97, -0.12 * B], [-A * 0.99, side_y],
    ])
    if style == "short":
        inner[-1, 1] = -0.05 * B
        inner[0, 1] = -0.05 * B
    poly = np.concatenate([outer, inner])
    r = cv.mask([(poly, 0)], blur=0.5)
    if r is None:
        return
    sl, m = r
    h, w = m.shape
    ys = (np.arange(sl[0].start, sl[0].stop, dtype=np.float32) - cv.off[1])[:, None]
    shade = (0.5 + 0.45 * flat) * (1 + 0.25 * np.clip(-ys / B - 0.5, -0.6, 0.6))
    tex = _hair_texture(rng, h, w, B)
    col = hair[None, None, :] * (shade * tex)[..., None]
    a = 0.8 if style == "buzz" else 1.0
    roi = cv.img[sl]
    roi += (col - roi) * (m * a)[..., None]
    np.maximum(cv.alpha[sl], m, out=cv.alpha[sl])
    # shadow cast by the fringe on the forehead
    cv.paint([(inner[2:-2], max(2.0, 0.05 * B))], 0.85, blur=0.03 * B, mode="mul")


# ----------------------------------------------------------------------------------------------- photo


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Cluttered, out-of-focus background: a gradient, random shapes, a mottled texture (drawn at half size)."""
    out_size, size = size, (size + 1) // 2
    c0, c1 = rng.uniform(20, 235, 3).astype(np.float32), rng.uniform(20, 235, 3).astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    g = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    t = g[None, :] * np.float32(np.cos(ang)) + g[:, None] * np.float32(np.sin(ang)) + np.float32(0.5)
    bg = c0 + (c1 - c0) * t[..., None]
    for _ in range(int(rng.integers(4, 14))):
        col = rng.uniform(0, 255, 3).tolist()
        k = rng.integers(4)
        a = float(rng.uniform(0.35, 1.0))
        layer = bg.copy() if a < 0.95 else bg
        if k == 0:
            p0 = rng.uniform(-0.2, 1.0, 2) * size
            p1 = p0 + rng.uniform(0.1, 0.6, 2) * size
            cv2.rectangle(layer, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), col, -1)
        elif k == 1:
            c = rng.uniform(0, 1, 2) * size
            cv2.circle(layer, (int(c[0]), int(c[1])), int(rng.uniform(0.05, 0.3) * size), col, -1, cv2.LINE_AA)
        elif k == 2:
            p = rng.uniform(-0.1, 1.1, (2, 2)) * size
            cv2.line(layer, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), col,
                     int(rng.integers(1, 6)), cv2.LINE_AA)
        else:
            p = (rng.uniform(0, 1, 2) * size + rng.normal(0, 0.15, (int(rng.integers(3, 7)), 2)) * size)
            cv2.fillPoly(layer, [p.astype(np.int32)], col, cv2.LINE_AA)
        if layer is not bg:
            bg = cv2.addWeighted(layer, a, bg, 1 - a, 0)
    n = rng.standard_normal((size // 8 + 2, size // 8 + 2), dtype=np.float32)
    tex = cv2.resize(n, (size, size), interpolation=cv2.INTER_CUBIC)
    bg *= (1 + 0.08 * tex)[..., None]
    bg = cv2.GaussianBlur(bg, (0, 0), float(rng.uniform(0.4, 1.5)))
    return cv2.resize(bg, (out_size, out_size), interpolation=cv2.INTER_LINEAR)


def _pose(rng: np.random.Generator) -> dict:
    lx, ly = rng.uniform(-0.7, 0.7), rng.uniform(-0.6, 0.15)
    L = np.array([lx, ly, 1.0])
    L /= np.linalg.norm(L)
    return {
        "light": L, "ambient": float(rng.uniform(0.4, 0.55)), "diffuse": float(rng.uniform(0.5, 0.7)),
        "yaw": float(np.clip(rng.normal(0, 0.1), -0.22, 0.22)),
        "smile": float(rng.uniform(0, 1) ** 1.5), "mouth_open": float(rng.uniform(0, 1) ** 2.5),
        "brow_raise": float(rng.uniform(-0.3, 1) ** 2 * np.sign(rng.uniform(-0.2, 1))),
        "gaze": (float(rng.normal(0, 0.1)), float(rng.normal(0, 0.05))),
    }


def _shirt(img, M, A, B, colour, size):
    """Neck base, shoulders and torso, in photo pixels via the head's affine transform M (canonical->photo)."""
    pts = np.array([[-0.6 * A, 1.3 * B], [-1.4 * A, 1.55 * B], [-2.4 * A, 1.85 * B], [-2.9 * A, 2.5 * B],
                    [-3.2 * A, 6 * B], [3.2 * A, 6 * B], [2.9 * A, 2.5 * B], [2.4 * A, 1.85 * B],
                    [1.4 * A, 1.55 * B], [0.6 * A, 1.3 * B]])
    p = pts @ M[:, :2].T + M[:, 2]
    y0 = min(max(int(p[:, 1].min()) - 1, 0), size - 8) // 4 * 4  # only the rows the torso covers
    h = size - y0
    m = np.zeros((h, size), np.uint8)
    cv2.fillPoly(m, [np.round((p - (0, y0)) * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    mf = m.astype(np.float32) * np.float32(1 / 255)
    small = cv2.resize(mf, (size // 4, max(1, h // 4)), interpolation=cv2.INTER_AREA)
    edge = cv2.resize(cv2.GaussianBlur(small, (0, 0), max(0.5, 0.06 * B)), (size, h))
    shade = (0.55 + 0.45 * edge) * mf
    roi = img[y0:]
    roi += colour * shade[..., None] - roi * mf[..., None]


def _place(img, ident, rng, pose, B, angle, centre, shirt_col):
    cv, kp, box_pts = _render_head(ident, pose, B, rng)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    R = np.array([[c, -s], [s, c]])
    M = np.concatenate([R, (np.asarray(centre) - R @ np.zeros(2))[:, None]], 1)  # canonical -> photo
    size = img.shape[0]
    A = B * ident["width_ratio"]
    _shirt(img, M, A, B, shirt_col, size)
    Mc = M.copy()  # canvas -> photo
    Mc[:, 2] = M[:, 2] - R @ cv.off
    corners = np.array([[0, 0], [cv.w, 0], [0, cv.h], [cv.w, cv.h]], float) @ Mc[:, :2].T + Mc[:, 2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - 1, 0, size)
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 2, 0, size)
    if x1 > x0 and y1 > y0:  # warp into the covered rectangle only
        Mr = Mc.copy()
        Mr[:, 2] -= (x0, y0)
        dsize = (int(x1 - x0), int(y1 - y0))
        col = cv2.warpAffine(cv.img, Mr, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        al = cv2.warpAffine(cv.alpha, Mr, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        roi = img[y0:y1, x0:x1]
        roi += (col - roi) * al[..., None]

    def tr(p):
        q = np.asarray(p, float) @ R.T + M[:, 2]
        return q

    kps = {k: [int(round(v)) for v in tr(p)] for k, p in kp.items()}
    bp = tr(box_pts)
    # halfway between the rotated box's bounding box and the upright one (as a detector's box behaves)
    ctr = (bp.min(0) + bp.max(0)) / 2
    wh_up = box_pts.max(0) - box_pts.min(0)
    wh = 0.5 * (bp.max(0) - bp.min(0)) + 0.5 * wh_up
    box = [int(round(ctr[0] - wh[0] / 2)), int(round(ctr[1] - wh[1] / 2)), int(round(wh[0])), int(round(wh[1]))]
    return box, kps


def render_photo(identity: dict, rng: np.random.Generator, size: int = 250,
                 bystander: dict | None = None) -> tuple[np.ndarray, dict]:
    """One photo of ``identity``: (BGR uint8 image (size, size, 3), info with "box" [x, y, w, h] of the main
    face, its 5 key points ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"; 'left' = image-left)
    and "bystander_box" ([x, y, w, h] of the second, smaller face, or None))."""
    img = _background(rng, size)
    # main face: box height (~1.65 B) 35-55% of the photo
    B = rng.uniform(0.35, 0.55) * size / 1.65
    angle = float(np.clip(rng.normal(0, 8), -20, 20))
    centre = np.array([size / 2 + rng.normal(0, 0.04) * size, size / 2 + rng.normal(0, 0.035) * size - 0.04 * B])
    pose = _pose(rng)
    shirt = rng.uniform(15, 235, 3).astype(np.float32)

    by_box = None
    if bystander is not None:
        # bystander first (behind); smaller, in a top corner or at a side edge, off the main face
        Bb = B * rng.uniform(0.4, 0.6)
        main_half = np.array([B * identity["width_ratio"], 1.0 * B])
        best = None
        for _ in range(12):
            corner = rng.integers(4)
            m = 0.62 * Bb * 1.25
            if corner == 0:
                p = [rng.uniform(m, m * 1.4), rng.uniform(m, m * 1.5)]
            elif corner == 1:
                p = [size - rng.uniform(m, m * 1.4), rng.uniform(m, m * 1.5)]
            elif corner == 2:
                p = [rng.uniform(m * 0.9, m * 1.2), size / 2 + rng.uniform(-0.15, 0.1) * size]
            else:
                p = [size - rng.uniform(m * 0.9, m * 1.2), size / 2 + rng.uniform(-0.15, 0.1) * size]
            d = np.abs(np.array(p) - centre) - main_half - np.array([Bb * 0.75, Bb])
            score = float(d.max())  # > 0: apart along at least one axis
            if best is None or score > best[0]:
                best = (score, p)
            if score > 0:
                break
        pb = _pose(rng)
        by_box, _ = _place(img, bystander, rng, pb, Bb, float(np.clip(rng.normal(0, 8), -20, 20)),
                           np.array(best[1]), rng.uniform(15, 235, 3).astype(np.float32))

    box, kps = _place(img, identity, rng, pose, B, angle, centre, shirt)

    # camera: colour cast, exposure, noise
    img *= rng.uniform(0.95, 1.05, 3).astype(np.float32) * np.float32(rng.uniform(0.85, 1.15))
    noise = rng.standard_normal((size, size, 1), dtype=np.float32) * np.float32(rng.uniform(1.5, 4.0))
    img += noise * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(out[..., ::-1])
    info = {"box": box, **kps, "bystander_box": by_box}
    return out, info
