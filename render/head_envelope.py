"""A smooth envelope of an identity's head, the surface hair and headwear are built on.

The head is described around a centre `c` at ear-canal height (between forehead and occiput) on a
grid of azimuth (0 = straight ahead, +-180 = the back) times rows: the upper rows are elevations
from the crown (90 deg) down to the ear plane (0 deg), the lower rows horizontal rings every
`dy` cm below it. Each cell holds the largest radius of the skin there (max over the mesh's
vertices), gaps filled and lightly smoothed. Ears stick out of the skull by ~2 cm; `open_ears`
removes them with a grey-scale opening along the azimuth (narrow peaks vanish), so short hair
lies on the skull above them instead of floating at ear-tip distance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

N_AZIMUTH = 72  # 5 deg
N_UPPER = 19  # 90 .. 0 deg elevation, 5 deg
N_LOWER = 20  # rings below the ear plane
DY = 1.0  # cm between lower rings
_EAR_OPENING = 9  # azimuth cells (45 deg): wider than an ear, narrower than the skull's curvature


@dataclass(frozen=True)
class Envelope:
    centre: np.ndarray  # (3,) head frame
    azimuth: np.ndarray  # (A+1,) radians, the last equals the first + 2 pi (texture seam)
    elevation: np.ndarray  # (R,) radians for upper rows, 0 for lower rows
    drop: np.ndarray  # (R,) cm below the centre for lower rows, 0 for upper rows
    radius: np.ndarray  # (R, A+1) upper: distance from the centre; lower: horizontal distance
    n_upper: int

    def points(self, radius: np.ndarray | None = None) -> np.ndarray:
        """(R, A+1, 3) positions for `radius` (default: the skin envelope)."""
        r = self.radius if radius is None else radius
        a = self.azimuth[None, :]
        e = self.elevation[:, None]
        upper = np.arange(len(self.drop))[:, None] < self.n_upper
        horiz = np.where(upper, r * np.cos(e), r)
        y = np.where(upper, r * np.sin(e), -self.drop[:, None])
        return self.centre + np.stack([horiz * np.sin(a), y, horiz * np.cos(a)], -1)


def skin_vertices(model, vertices: np.ndarray) -> np.ndarray:
    """The outer skin of the head (face and head/neck regions) of `vertices`."""
    a, _ = model.vertex_regions.get("face", (0, 0))
    _, b = model.vertex_regions.get("head_neck", (0, len(vertices)))
    return np.asarray(vertices[a:b], np.float64)


def head_centre(skin: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Ear-canal height (jaw landmarks 0 and 16), halfway between forehead and occiput."""
    y = 0.5 * (lm[0, 1] + lm[16, 1])
    band = skin[(skin[:, 1] > y + 2.0) & (skin[:, 1] < y + 6.0)]
    z = 0.5 * (band[:, 2].max() + band[:, 2].min()) if len(band) else 0.5 * (lm[0, 2] + lm[16, 2])
    return np.array([0.0, y, z])


def _fill(r: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown cells by normalised convolution, wrapping in azimuth."""
    r = np.where(known, r, 0.0)
    w = known.astype(np.float64)
    out = r.copy()
    for s in (1.0, 2.0, 4.0, 8.0):
        num = ndimage.gaussian_filter(r, s, mode=("nearest", "wrap"))
        den = ndimage.gaussian_filter(w, s, mode=("nearest", "wrap"))
        hole = (w == 0) & (den > 1e-3) & (out == 0)
        out[hole] = num[hole] / den[hole]
    return out


def build_envelope(skin: np.ndarray, centre: np.ndarray, open_ears: bool) -> Envelope:
    p = skin - centre
    az = np.arctan2(p[:, 0], p[:, 2])
    col = np.round((az + np.pi) / (2 * np.pi) * N_AZIMUTH).astype(int) % N_AZIMUTH
    horiz = np.hypot(p[:, 0], p[:, 2])
    el = np.arctan2(p[:, 1], horiz)
    rows = N_UPPER + N_LOWER
    r = np.zeros((rows, N_AZIMUTH))
    up = el >= -np.radians(2.5)
    ri = np.round((np.pi / 2 - el[up]) / np.radians(90.0 / (N_UPPER - 1))).astype(int)
    np.maximum.at(r, (np.clip(ri, 0, N_UPPER - 1), col[up]), np.linalg.norm(p[up], axis=1))
    lo = p[:, 1] < -0.5 * DY
    li = N_UPPER - 1 + np.round(-p[lo, 1] / DY).astype(int)
    ok = li < rows
    np.maximum.at(r, (li[ok], col[lo][ok]), horiz[lo][ok])
    r = _fill(r, r > 0)
    if open_ears:
        r = ndimage.grey_opening(r, size=(1, _EAR_OPENING), mode="wrap")
    r = ndimage.gaussian_filter(r, (0.7, 0.7), mode=("nearest", "wrap"))
    r[0] = r[0].mean()  # the crown is one point
    r = np.concatenate([r, r[:, :1]], 1)
    azimuth = -np.pi + 2 * np.pi * np.arange(N_AZIMUTH + 1) / N_AZIMUTH
    elevation = np.concatenate([np.radians(np.linspace(90, 0, N_UPPER)), np.zeros(N_LOWER)])
    drop = np.concatenate([np.zeros(N_UPPER), DY * np.arange(1, N_LOWER + 1)])
    return Envelope(centre=centre, azimuth=azimuth, elevation=elevation, drop=drop, radius=r, n_upper=N_UPPER)


def grid_normals(pts: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Unit normals of a (R, C, 3) grid surface (central differences), pointing away from `centre`."""
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    flip = np.sum(n * (pts - centre), -1) < 0
    n[flip] *= -1
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    radial = (pts - centre) / np.maximum(np.linalg.norm(pts - centre, axis=-1, keepdims=True), 1e-9)
    return np.where(norm > 1e-9, n / np.maximum(norm, 1e-12), radial)


def grid_triangles(rows: int, cols: int, keep: np.ndarray | None = None) -> np.ndarray:
    """(T, 3) uint32 triangles of a rows x cols vertex grid; `keep` (rows-1, cols-1) selects quads."""
    i, j = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = i * cols + j
    quads = np.stack([a, a + 1, a + cols + 1, a + cols], -1)
    if keep is not None:
        quads = quads[keep]
    quads = quads.reshape(-1, 4)
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).astype(np.uint32)
