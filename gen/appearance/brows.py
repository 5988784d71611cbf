"""Brows (anti-aliased hair strokes over a faint fill) and the lash line.

A brow's shape is either its style's (arch, peak, tail) or, with appearance.brow_shape, a
continuous shape per identity around that style (attrs["brows"]["shape"], see sample_shape):
arch, peak and tail, length, lift over the eye, gap between the brows, taper, head shape,
patchiness and colour relative to the hair."""
from __future__ import annotations

import cv2
import numpy as np

from gen.config import BROW_STYLES
from gen.lookconfig import BrowShapeConfig
from gen.uvmaps import FaceLayout, smoothstep

_UP = np.array([0.0, -1.0])


def sample_shape(cfg: BrowShapeConfig, style: str, rng) -> dict:
    """Continuous brow shape of one identity, centred on its style."""
    arch, peak, tail = BROW_STYLES[style]
    z = rng.standard_normal(3)
    shape = {"arch": float(np.clip(arch + cfg.arch * z[0], 0.0, 1.2)),
             "peak": float(np.clip(peak + cfg.peak * z[1], 0.35, 0.85)),
             "tail": float(np.clip(tail + cfg.tail * z[2], 0.0, 1.0))}
    for k in ("length", "lift", "gap", "taper", "head", "sparse", "tone"):
        shape[k] = getattr(cfg, k).draw(rng)
    shape["phase"] = [float(v) for v in rng.uniform(0, 2 * np.pi, 3)]  # where the gaps fall
    return {k: (round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v]) for k, v in shape.items()}


def _shape_of(b: dict) -> dict:
    """The identity's shape, or its style's with neutral continuous parameters."""
    if "shape" in b:
        return b["shape"]
    arch, peak, tail = BROW_STYLES[b["style"]]
    return {"arch": arch, "peak": peak, "tail": tail, "length": 1.0, "lift": 0.0, "gap": 0.0, "taper": 0.6,
            "head": 0.0, "sparse": 0.0, "tone": 0.0, "phase": [0.0, 0.0, 0.0]}


def brow_gain(b: dict) -> float:
    """Brow colour = hair colour x this (darken, and the shape's tone relative to the hair)."""
    return float(b["darken"] * np.exp(_shape_of(b)["tone"]))


def _profile(sh: dict, thick: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lift, width) in cm along the brow, t = 0 at the head .. 1 at the tail."""
    arch, peak, tail = sh["arch"], sh["peak"], sh["tail"]
    bump = np.exp(-0.5 * ((t - peak) / 0.22) ** 2) - 0.35
    lift = (arch - 0.45) * 0.45 * bump - tail * 0.25 * smoothstep(t, peak, 1.0) + 0.1 + sh["lift"]
    head = 1.0 - 0.6 * sh["head"] * (1 - smoothstep(t, 0.0, 0.3))  # tapered heads start thin
    width = thick * 0.85 * (1.0 - sh["taper"] * t ** 1.5) * head
    return lift, width


def _path(path: np.ndarray, sh: dict, sign: float, px_cm: float):
    """at(t): the landmark brow (inner -> outer) stretched to `length` at the tail and with its
    head moved sideways by `gap` (sign: which way is away from the midline)."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    tt = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()
    span = sh["length"]
    pts = path
    if span > 1:  # continue the last segment's direction
        d = (path[-1] - path[-2]) / seg[-1]
        pts = np.concatenate([path, (path[-1] + d * (span - 1) * seg.sum())[None]])
        tt = np.concatenate([tt, [span]])

    def at(t):
        s = np.asarray(t) * span
        p = np.stack([np.interp(s, tt, pts[:, 0]), np.interp(s, tt, pts[:, 1])], -1)
        p[..., 0] += sign * sh["gap"] * px_cm * (1 - np.asarray(t))
        return p

    return at


def brow_strokes(rng, lay: FaceLayout, attrs: dict, rng_gaps=None, fill_scale: float = 1.0) -> tuple[np.ndarray, tuple]:
    """Anti-aliased brow hairs (uint8 coverage) on a canvas; returns (canvas crop, box). Draws
    the same number of values from `rng` whatever the shape; `rng_gaps` (needed when the shape
    is patchy) decides which hairs are missing. `fill_scale` scales the faint fill under the
    hairs (grey brows: skin shows between white hairs, no solid white patch)."""
    S = lay.size
    px_cm = 1.0 / lay.face.cm_per_texel
    b = attrs["brows"]
    sh = _shape_of(b)
    thick, dens = b["thickness"], b["density"]
    lm = lay.lm_uv
    mid_x = 0.5 * (lm[21, 0] + lm[22, 0])
    boxes, canv = [], []
    for path in (lm[21:16:-1], lm[22:27]):  # inner -> outer, each brow
        sign = float(np.sign(path[-1, 0] - mid_x))
        at = _path(path, sh, sign, px_cm)
        n = int(70 + 260 * dens * thick)
        t = rng.beta(1.3, 1.6, n)
        tan = at(np.clip(t + 0.02, 0, 1)) - at(np.clip(t - 0.02, 0, 1))
        tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-9
        lift, width = _profile(sh, thick, t)
        across = rng.uniform(-0.5, 0.5, n) * width
        centre = at(t) + (lift + 0.15)[:, None] * _UP * px_cm + across[:, None] * _UP * px_cm
        # Hairs point up at the head of the brow and turn to run along it towards the tail.
        a = smoothstep(t, 0.05, 0.35) * 0.85
        d = tan * a[:, None] + _UP * (1 - a)[:, None] + rng.normal(0, 0.15, (n, 2))
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        length = rng.uniform(0.45, 0.75, n) * px_cm * (0.7 + 0.3 * thick)
        p0 = centre - d * length[:, None] * 0.4
        p1 = centre + d * length[:, None] * 0.6
        segs = np.stack([p0, p1], 1)
        if sh["sparse"] > 0 and rng_gaps is not None:
            # Patchy brows: hairs go missing where a smooth random field along the brow is low.
            ph = sh["phase"]
            field = (np.sin(9 * t + ph[0]) + 0.7 * np.sin(17 * t + ph[1]) + 0.5 * np.sin(29 * t + ph[2])) / 2.2
            keep = rng_gaps.random(n) > sh["sparse"] * (0.5 + 0.5 * field) * 1.4
            segs = segs[keep]
        boxes.append(segs.reshape(-1, 2))
        canv.append((segs, at))
    allp = np.concatenate(boxes + [at(np.array([0.0, 1.0])) for _, at in canv])
    pad = 4 + int(np.ceil(thick * px_cm))
    c0, r0 = np.floor(allp.min(0)).astype(int) - pad
    c1, r1 = np.ceil(allp.max(0)).astype(int) + pad
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, S), min(c1, S)
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    shift = np.array([c0, r0], np.float64)
    fill = int((70 + 90 * dens) * (1 - 0.6 * sh["sparse"]) * fill_scale)
    for segs, at in canv:
        # A faint fill under the hairs so sparse brows still read at low resolution.
        t = np.linspace(0, 1, 24)
        lift_t, w_t = _profile(sh, thick, t)
        top = at(t) + ((lift_t + 0.15 + 0.45 * w_t) * px_cm)[:, None] * _UP
        bot = at(t) + ((lift_t + 0.15 - 0.45 * w_t) * px_cm)[:, None] * _UP
        poly = np.concatenate([top, bot[::-1]]) - shift
        cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], fill, cv2.LINE_AA, shift=4)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.5 * S / 512)
    for segs, _ in canv:
        lines = np.round((segs - shift) * 16).astype(np.int32)
        half = len(lines) // 2
        th = max(1, int(round(S / 512)))
        cv2.polylines(canvas, list(lines[:half]), False, 255, th, cv2.LINE_AA, shift=4)
        cv2.polylines(canvas, list(lines[half:]), False, 200, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)


def lash_line(lay: FaceLayout, attrs: dict | None = None) -> tuple[np.ndarray, tuple]:
    """Dark line along the upper lids (the lash roots), which keeps eyes readable at 112 px.
    attrs["periocular"]["lashes"] (density, 1 = average) scales its thickness and opacity."""
    S = lay.size
    lm = lay.lm_uv
    lashes = float(((attrs or {}).get("periocular") or {}).get("lashes", 1.0))
    pts = [lm[36:40], lm[42:46]]
    allp = np.concatenate(pts)
    c0, r0 = np.floor(allp.min(0)).astype(int) - 6
    c1, r1 = np.ceil(allp.max(0)).astype(int) + 6
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    th = max(1, int(round(2 * S / 512 * min(lashes, 1.5))))
    val = int(np.clip(round(200 * lashes), 40, 255))
    for p in pts:
        q = np.round((p - [c0, r0]) * 16).astype(np.int32)
        cv2.polylines(canvas, [q], False, val, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)
