"""Brows (anti-aliased hair strokes over a faint fill, shaped by style) and the lash line."""
from __future__ import annotations

import cv2
import numpy as np

from gen.config import BROW_STYLES
from gen.uvmaps import FaceLayout, smoothstep


def brow_strokes(rng, lay: FaceLayout, attrs: dict) -> tuple[np.ndarray, tuple]:
    """Anti-aliased brow hairs (uint8 coverage) on a canvas; returns (canvas crop, box)."""
    S = lay.size
    px_cm = 1.0 / lay.face.cm_per_texel
    b = attrs["brows"]
    arch, peak, tail = BROW_STYLES[b["style"]]
    thick, dens = b["thickness"], b["density"]
    lm = lay.lm_uv
    boxes, canv = [], []
    for path in (lm[21:16:-1], lm[22:27]):  # inner -> outer, each brow
        seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
        tt = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()

        def at(t):
            return np.stack([np.interp(t, tt, path[:, 0]), np.interp(t, tt, path[:, 1])], -1)

        n = int(70 + 260 * dens * thick)
        t = rng.beta(1.3, 1.6, n)
        tan = at(np.clip(t + 0.02, 0, 1)) - at(np.clip(t - 0.02, 0, 1))
        tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-9
        up = np.array([0.0, -1.0])
        # Style: raise an arch around `peak`, drop the tail; landmarks are the brow's lower-mid line.
        bump = np.exp(-0.5 * ((t - peak) / 0.22) ** 2) - 0.35
        lift = (arch - 0.45) * 0.45 * bump - tail * 0.25 * smoothstep(t, peak, 1.0) + 0.1
        width = thick * 0.85 * (1.0 - 0.6 * t ** 1.5)  # cm: full at the head, thin at the tail
        across = rng.uniform(-0.5, 0.5, n) * width
        centre = at(t) + (lift + 0.15)[:, None] * up * px_cm + across[:, None] * up * px_cm
        # Hairs point up at the head of the brow and turn to run along it towards the tail.
        a = smoothstep(t, 0.05, 0.35) * 0.85
        d = tan * a[:, None] + up * (1 - a)[:, None] + rng.normal(0, 0.15, (n, 2))
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        length = rng.uniform(0.45, 0.75, n) * px_cm * (0.7 + 0.3 * thick)
        p0 = centre - d * length[:, None] * 0.4
        p1 = centre + d * length[:, None] * 0.6
        segs = np.stack([p0, p1], 1)
        boxes.append(segs.reshape(-1, 2))
        canv.append((segs, at, lift, width))
    allp = np.concatenate(boxes)
    pad = 4
    c0, r0 = np.floor(allp.min(0)).astype(int) - pad
    c1, r1 = np.ceil(allp.max(0)).astype(int) + pad
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, S), min(c1, S)
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    shift = np.array([c0, r0], np.float64)
    for segs, at, lift, width in canv:
        # A faint fill under the hairs so sparse brows still read at low resolution.
        t = np.linspace(0, 1, 24)
        bump = np.exp(-0.5 * ((t - peak) / 0.22) ** 2) - 0.35
        lift_t = (arch - 0.45) * 0.45 * bump - tail * 0.25 * smoothstep(t, peak, 1.0) + 0.1 + 0.15
        w_t = thick * 0.85 * (1.0 - 0.6 * t ** 1.5)
        up = np.array([0.0, -1.0])
        top = at(t) + ((lift_t + 0.45 * w_t) * px_cm)[:, None] * up
        bot = at(t) + ((lift_t - 0.45 * w_t) * px_cm)[:, None] * up
        poly = np.concatenate([top, bot[::-1]]) - shift
        cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], int(70 + 90 * dens), cv2.LINE_AA, shift=4)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.5 * S / 512)
    for segs, *_ in canv:
        lines = np.round((segs - shift) * 16).astype(np.int32)
        half = len(lines) // 2
        th = max(1, int(round(S / 512)))
        cv2.polylines(canvas, list(lines[:half]), False, 255, th, cv2.LINE_AA, shift=4)
        cv2.polylines(canvas, list(lines[half:]), False, 200, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)


def lash_line(lay: FaceLayout) -> tuple[np.ndarray, tuple]:
    """Dark line along the upper lids (the lash roots), which keeps eyes readable at 112 px."""
    S = lay.size
    lm = lay.lm_uv
    pts = [lm[36:40], lm[42:46]]
    allp = np.concatenate(pts)
    c0, r0 = np.floor(allp.min(0)).astype(int) - 6
    c1, r1 = np.ceil(allp.max(0)).astype(int) + 6
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    th = max(1, int(round(2 * S / 512)))
    for p in pts:
        q = np.round((p - [c0, r0]) * 16).astype(np.int32)
        cv2.polylines(canvas, [q], False, 200, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)

