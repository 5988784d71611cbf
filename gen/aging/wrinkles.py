"""Wrinkle lines of one identity: drawn once (pattern), rasterised once per layout, deepened by age.

A line is a smooth curve in the frontal (x, y) plane of the neutral mesh (cm), placed from the 68
neutral landmarks, with a width, a region, a threshold and a lit side. It shows once its region's
severity (gen/aging/curves.py) passes the threshold and deepens from there, so lines are added
with age and never move. Shading is baked into the albedo: a groove darkens (ambient occlusion)
and gets a faint highlight beside it: below a horizontal crease (its lower wall faces the usual
light from above), on the bulging cheek side of a fold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen.uvmaps import FaceLayout

# Log-albedo darkening at the centre of a full-depth line, by region; highlight = LIT * that.
DARKEN = {"forehead": 0.6, "glabella": 0.6, "crows_feet": 0.6, "under_eye": 0.55, "nasolabial": 0.7,
          "marionette": 0.6, "neck": 0.55}
LIT = 0.4


@dataclass(frozen=True)
class Line:
    region: str
    pts: np.ndarray  # (n,2) x, y (cm) in the neutral frontal plane
    width: float  # cm, Gaussian sigma of the groove
    threshold: float  # region severity at which it appears
    depth: float  # relative depth at full severity
    lit: tuple[float, float]  # (x, y) direction from the line to its highlight; (0, 0): none
    zmin: float  # only texels in front of this depth (cm) take the line


def _bezier(p0, c, p1, n: int = 14) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(c) + t ** 2 * np.asarray(p1)


def _wobble(rng, pts: np.ndarray, amp: float) -> np.ndarray:
    """Smooth sideways waviness along the curve, `amp` cm."""
    d = np.gradient(pts, axis=0)
    n = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)
    t = np.linspace(0.0, 1.0, len(pts))
    w = amp * np.sin(2 * np.pi * (rng.uniform(0.6, 1.8) * t + rng.random()))
    return pts + n * w[:, None]


def _thresholds(rng, n: int, spread: float = 0.7) -> np.ndarray:
    """Ascending appearance thresholds: the first line appears at onset, later ones up to `spread`."""
    return np.sort(np.concatenate([[0.0], rng.uniform(0.1, spread, n - 1)]))[rng.permutation(n)] if n > 1 \
        else np.zeros(1)


def draw_lines(rng, lm: np.ndarray) -> list[Line]:
    """The identity's wrinkle pattern from the (68,3) neutral landmarks (cm). Draw order fixed."""
    L = []
    brow_top = float(lm[17:27, 1].max())
    zf = float(lm[17:27, 2].min()) - 2.0
    n = int(rng.integers(3, 6))
    thr = _thresholds(rng, n)
    gap = rng.uniform(0.7, 0.95)
    for k in range(n):  # forehead: long horizontal lines, arched, sometimes broken
        y = brow_top + 0.9 + k * gap + rng.normal(0, 0.08)
        half = rng.uniform(2.5, 4.5) * (1 - 0.08 * k)
        x0, x1 = -half + rng.normal(0, 0.4), half + rng.normal(0, 0.4)
        pts = _wobble(rng, _bezier((x0, y - rng.uniform(0, 0.3)), (0.5 * (x0 + x1), y + rng.uniform(0.0, 0.5)),
                                   (x1, y - rng.uniform(0, 0.3)), 20), 0.06)
        cut = rng.random() < 0.4
        parts = [pts[:10], pts[11:]] if cut else [pts]
        for p in parts:
            L.append(Line("forehead", p, rng.uniform(0.06, 0.09), thr[k], rng.uniform(0.6, 1.0), (0, -1), zf))
    n = int(rng.integers(1, 4))
    thr = _thresholds(rng, n)
    y0 = float(lm[[21, 22], 1].mean())
    for k in range(n):  # glabellar "11s" between the brows
        x = (-1) ** k * rng.uniform(0.2, 0.5) if n > 1 or rng.random() < 0.7 else 0.0
        pts = _bezier((x, y0 - 0.3), (x + rng.normal(0, 0.1), y0 + 0.4), (x + rng.normal(0, 0.15), y0 + rng.uniform(0.9, 1.5)), 8)
        L.append(Line("glabella", pts, rng.uniform(0.05, 0.08), thr[k], rng.uniform(0.6, 1.0), (0, 0), zf))
    for side, corner in ((-1, 36), (1, 45)):  # crow's feet fanning from the outer eye corners
        n = int(rng.integers(2, 5))
        thr = _thresholds(rng, n)
        c = lm[corner, :2]
        angles = np.sort(rng.uniform(-40, 35, n))
        for k in range(n):
            a = np.radians(angles[k])
            d = np.array([side * np.cos(a), np.sin(a)])
            r0, r1 = rng.uniform(0.25, 0.45), rng.uniform(1.0, 1.7)
            pts = _bezier(c + d * r0, c + d * (r0 + r1) / 2 + np.array([0, rng.normal(0, 0.08)]), c + d * r1, 8)
            L.append(Line("crows_feet", pts, rng.uniform(0.04, 0.06), thr[k], rng.uniform(0.6, 1.0), (0, 0),
                          float(lm[corner, 2]) - 3.0))
    for lid in ((40, 41, 36, 39), (46, 47, 45, 42)):  # under-eye arcs following the lower lid
        n = int(rng.integers(1, 3))
        thr = _thresholds(rng, n)
        lo = lm[list(lid[:2]), :2].mean(0)
        xa, xb = lm[lid[2], 0], lm[lid[3], 0]
        for k in range(n):
            drop = 0.35 + 0.3 * k + rng.normal(0, 0.05)
            pts = _bezier((xa * 1.02, lo[1] - drop * 0.5), (lo[0], lo[1] - drop - 0.2), (xb, lo[1] - drop * 0.6), 10)
            L.append(Line("under_eye", pts, rng.uniform(0.05, 0.08), thr[k], rng.uniform(0.5, 0.9), (0, -1),
                          float(lm[lid[0], 2]) - 2.0))
    for side, wing, corner in ((-1, 31, 48), (1, 35, 54)):  # nasolabial fold: wing to past the mouth corner
        a = lm[wing, :2] + np.array([side * 0.45, 0.25])
        b = lm[corner, :2] + np.array([side * rng.uniform(0.35, 0.6), -rng.uniform(0.3, 0.8)])
        ctl = 0.5 * (a + b) + np.array([side * rng.uniform(0.2, 0.45), 0.0])
        L.append(Line("nasolabial", _bezier(a, ctl, b, 12), rng.uniform(0.13, 0.2), 0.0, rng.uniform(0.8, 1.0),
                      (side * 0.8, 0.6), float(lm[corner, 2]) - 3.0))
        a = lm[corner, :2] + np.array([side * 0.1, -0.15])  # marionette line down from the mouth corner
        b = a + np.array([side * rng.uniform(0.2, 0.5), -rng.uniform(1.4, 2.2)])
        L.append(Line("marionette", _bezier(a, 0.5 * (a + b) + np.array([side * 0.15, 0]), b, 10),
                      rng.uniform(0.09, 0.13), 0.0, rng.uniform(0.7, 1.0), (side * 0.9, 0.4), float(lm[corner, 2]) - 3.0))
    n = int(rng.integers(2, 4))
    thr = _thresholds(rng, n)
    chin = lm[8]
    for k in range(n):  # horizontal neck bands
        y = chin[1] - 2.6 - k * rng.uniform(0.9, 1.3)
        half = rng.uniform(3.0, 4.5)
        pts = _wobble(rng, _bezier((-half, y + 0.5), (0, y - 0.3), (half, y + 0.5), 16), 0.08)
        L.append(Line("neck", pts, rng.uniform(0.09, 0.14), thr[k], rng.uniform(0.6, 1.0), (0, -1), chin[2] - 6.0))
    return L


@dataclass(frozen=True)
class _Texels:
    """Covered face-tile texels sorted by neutral y: flat index, x, y, z, and a per-texel weight."""
    idx: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    w: np.ndarray


_TEXELS: dict[int, tuple[FaceLayout, _Texels]] = {}


def _texels(lay: FaceLayout) -> _Texels:
    hit = _TEXELS.get(id(lay))
    if hit is not None and hit[0] is lay:
        return hit[1]
    pos = lay.face.pos.reshape(-1, 3)
    keep = np.flatnonzero(lay.face.covered.reshape(-1) & (pos[:, 2] > 0.0))  # the front half of the head
    keep = keep[np.argsort(pos[keep, 1], kind="stable")]
    w = (1 - lay.masks["eye_open"]) * (1 - lay.masks["lips"]) * (1 - lay.masks["ear"])
    out = _Texels(keep, pos[keep, 0].copy(), pos[keep, 1].copy(), pos[keep, 2].copy(), w.reshape(-1)[keep])
    _TEXELS[id(lay)] = (lay, out)
    return out


@dataclass(frozen=True)
class Raster:
    """Per line: texel indices (flat, face tile) with the groove and highlight profiles there."""
    lines: list[Line]
    idx: list[np.ndarray]
    groove: list[np.ndarray]
    light: list[np.ndarray]


def rasterise(lay: FaceLayout, lines: list[Line]) -> Raster:
    tx = _texels(lay)
    idx, groove, light = [], [], []
    for ln in lines:
        pad = 3.0 * ln.width
        q = ln.pts.astype(np.float32)
        lo, hi = np.searchsorted(tx.y, np.array([q[:, 1].min() - pad, q[:, 1].max() + pad], np.float32))
        sel = np.arange(lo, hi)
        x, z = tx.x[sel], tx.z[sel]
        sel = sel[(x > q[:, 0].min() - pad) & (x < q[:, 0].max() + pad) & (z > ln.zmin)]
        px, py = tx.x[sel][:, None], tx.y[sel][:, None]
        ax, ay = q[:-1, 0], q[:-1, 1]
        bx, by = q[1:, 0] - ax, q[1:, 1] - ay
        t = np.clip(((px - ax) * bx + (py - ay) * by) / np.maximum(bx * bx + by * by, 1e-9), 0, 1)
        dx, dy = px - ax - t * bx, py - ay - t * by
        d2 = dx * dx + dy * dy
        k = d2.argmin(1)
        r = np.arange(len(sel))
        dist = np.sqrt(d2[r, k])
        # Fade the ends so a line starts and stops softly rather than as a cut.
        tt = (k + t[r, k]) / len(bx)
        ends = np.clip(np.minimum(tt, 1 - tt) / 0.2, 0, 1) * tx.w[sel]
        g = np.exp(-0.5 * (dist / ln.width) ** 2) * ends
        lit = np.asarray(ln.lit, np.float32)
        if lit.any():
            lit /= np.linalg.norm(lit)
            s = dx[r, k] * lit[0] + dy[r, k] * lit[1]  # offset of the texel from the line towards `lit`
            h = np.exp(-0.5 * ((s - 1.8 * ln.width) / (0.9 * ln.width)) ** 2) * ends
        else:
            h = np.zeros_like(g)
        ok = (g > 0.01) | (h > 0.01)
        idx.append(tx.idx[sel[ok]])
        groove.append(g[ok].astype(np.float32))
        light.append(h[ok].astype(np.float32))
    return Raster(lines, idx, groove, light)


def shading(r: Raster, severity: dict[str, float], gain: float, size: int) -> np.ndarray | None:
    """(S,S) float32 log-albedo change of all lines at these region severities, or None if flat."""
    out = None
    for ln, idx, g, h in zip(r.lines, r.idx, r.groove, r.light):
        s = severity[ln.region]
        if s <= ln.threshold or not len(idx):
            continue
        depth = gain * ln.depth * ((s - ln.threshold) / (1 - ln.threshold)) ** 0.8
        if out is None:
            out = np.zeros(size * size, np.float32)
        dk = DARKEN[ln.region] * depth
        out[idx] += -dk * g + (LIT * dk) * h
    return None if out is None else out.reshape(size, size)
