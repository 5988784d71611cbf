"""Scalp hair geometry for one identity: alpha-tested shells over the head envelope.

The hair is N_SHELLS copies of the head envelope (render/head_envelope.py) inside the style's
outline, pushed out along the normals to a growing share of the hair's thickness. All shells share
one RGBA texture over (azimuth, row): alpha = coverage of the outline x a strand field (streaks
along the hair's fall, or round clumps for curls). Each shell keeps only texels above its own
alpha cut-off (shader discard), rising outwards, so the hair is dense at the scalp, thins into
loose strands at its surface, and tapers off at its outline instead of ending in a hard rim: the
classic shell-fur technique (Lengyel et al., "Real-time fur over arbitrary surfaces", I3D 2001).

Outline (cm, head frame of render/head_envelope.py; azimuth 0 = straight ahead):
  front   the hairline `forehead` cm above the brows (receding: higher, most at the temples),
          falling to sideburns in front of the ear; a fringe lowers it over the forehead
  ears    styles that do not cover the ears leave an ellipse around each ear bare
  nape    the hair ends `nape` cm below the ear canal at the back (long: hanging to the shoulders)
Hanging styles fall straight from the widest ring of the head (hang = 1) instead of following the
neck. Expressions do not move the hair (it is posed with the head).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from gen.hairstyle import HairStyle
from render.attachment import Part
from render.head_envelope import (Envelope, build_envelope, grid_normals, grid_triangles, head_centre,
                                  skin_vertices)

N_SHELLS = 3
SHELL_DEPTH = (0.15, 0.6, 1.0)  # share of the thickness
SHELL_CUTOFF = (0.12, 0.42, 0.6)  # alpha test per shell: sparser outwards
SHELL_SHADE = (0.58, 0.8, 1.0)  # inner shells are in the hair's own shadow
TEX_PER_ROW, TEX_PER_COL, BAND = 3, 2, 8
EDGE_SOFT = 0.5  # cm over which the coverage ramps at the outline
CM_PER_DEG = 0.157  # arc length of one degree of azimuth at the skull's ~9 cm radius


def _smoothstep(a: float, b: float, x):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class _Frame:
    centre: np.ndarray
    brow_y: float
    ear_azimuth: float  # degrees


def _frame(model, vertices: np.ndarray, centre: np.ndarray) -> _Frame:
    lm = np.asarray(vertices[np.asarray(model.landmarks68)], np.float64)
    ear = 0.5 * (np.abs(lm[0]) + np.abs(lm[16]))
    az = float(np.degrees(np.arctan2(ear[0], ear[2] - centre[2])))
    return _Frame(centre=centre, brow_y=float(lm[17:27, 1].mean()), ear_azimuth=az)


def inside_distance(style: HairStyle, f: _Frame, pts: np.ndarray) -> np.ndarray:
    """Signed distance (cm, > 0 inside) of head-frame points to the style's hair outline."""
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    aa = np.degrees(np.abs(np.arctan2(x, z - f.centre[2])))
    cy, ea = f.centre[1], f.ear_azimuth
    top = f.brow_y + style.forehead + style.recede * (0.35 + 0.65 * _smoothstep(5, 35, aa))
    line = top + (cy + 0.8 - top) * _smoothstep(40, ea - 4, aa)
    if style.fringe > 0:
        fringe = max(f.brow_y + style.forehead - style.fringe, f.brow_y + 1.0)
        line = line + (fringe - line) * (1 - _smoothstep(28, 46, aa))
    # Hair over the ears starts a little in front of them and, lower down, falls behind the jaw.
    behind = ea - 14 + 4.0 * np.maximum(cy - y, 0) if style.ears else ea
    d = np.maximum(y - line, (aa - behind) * CM_PER_DEG)
    if not style.ears:
        e = np.hypot((aa - (ea + 6)) / 20.0, (y - (cy + 0.3)) / 3.6)
        d = np.minimum(d, (e - 1) * 2.5)
    w = (0.8 + 0.2 * _smoothstep(ea, 160, aa)) if style.hang > 0 else (0.25 + 0.75 * _smoothstep(ea, 160, aa))
    return np.minimum(d, y - (cy - style.nape * w))


def _hang(env: Envelope, hang: float) -> np.ndarray:
    """Envelope radii with the lower rings pushed out towards a straight fall from the widest ring."""
    r = env.radius.copy()
    if hang <= 0:
        return r
    up = env.n_upper
    ring = env.radius[:up] * np.cos(env.elevation[:up, None])
    widest = np.where(env.elevation[:up, None] < np.radians(35), ring, 0).max(0)
    low = r[up:]
    r[up:] = low + hang * np.maximum(widest[None, :] - low, 0)
    return r


def _strands(style: HairStyle, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(style.texture_seed)
    white = rng.standard_normal(shape)
    sigma = (1.3, 1.3) if style.curl > 0.5 else (4.0, 0.55)  # rows follow the hair's fall
    f = ndimage.gaussian_filter(white, sigma, mode=("nearest", "wrap"))
    f = (f - f.mean()) / (f.std() + 1e-9)
    return np.clip(0.5 + 0.3 * f, 0.0, 1.0)


def build_hair(model, vertices: np.ndarray, style: HairStyle) -> list[Part]:
    """The parts (shells, bun) of `style` on the identity with neutral `vertices`; [] for bald."""
    if not style.has_geometry:
        return []
    skin = skin_vertices(model, vertices)
    lm = np.asarray(vertices[np.asarray(model.landmarks68)], np.float64)
    centre = head_centre(skin, lm)
    env = build_envelope(skin, centre, open_ears=not style.ears)
    fr = _frame(model, vertices, centre)
    rows, cols = env.radius.shape

    # Texture: coverage of the outline at texel centres on the skin envelope, times strands.
    skin_pts = env.points()
    hg, w = rows * TEX_PER_ROW, (cols - 1) * TEX_PER_COL
    ty, tx = np.mgrid[0:hg, 0:w].astype(np.float64)
    gi = np.clip((ty + 0.5) / TEX_PER_ROW - 0.5, 0, rows - 1)
    gj = (tx + 0.5) / TEX_PER_COL
    texel_pts = np.stack([ndimage.map_coordinates(skin_pts[..., k], [gi, gj], order=1, mode="nearest")
                          for k in range(3)], -1)
    s = _strands(style, (hg + BAND, w))
    # The outline is ragged: strand tips (the strand field) and a wavy line (low-frequency noise).
    wave = ndimage.gaussian_filter(np.random.default_rng(style.texture_seed + 2).standard_normal((hg, w)),
                                   (2.0 * TEX_PER_ROW, 3.0 * TEX_PER_COL), mode=("nearest", "wrap"))
    wave /= wave.std() + 1e-9
    d_tex = inside_distance(style, fr, texel_pts) + 1.4 * (s[:hg] - 0.5) + 0.35 * wave
    cover = np.clip(0.5 + d_tex / EDGE_SOFT, 0, 1)
    cover = np.concatenate([cover, np.ones((BAND, w))])  # solid band for the bun
    alpha = cover * (0.4 + 0.6 * s)
    rgb = np.asarray(style.color, np.float64)[None, None] * (0.7 + 0.6 * s)[..., None]
    tex = np.concatenate([np.clip(rgb, 0, 255), 255 * alpha[..., None]], -1).round().astype(np.uint8)
    h = tex.shape[0]

    # Geometry: thickness thins towards the outline; curls make it lumpy.
    d_v = inside_distance(style, fr, skin_pts)
    thick = style.thickness * np.clip(d_v / 1.5, 0.12, 1.0)
    if style.curl > 0:
        lump = ndimage.gaussian_filter(np.random.default_rng(style.texture_seed + 1).standard_normal((rows, cols)),
                                       1.2, mode="wrap")
        lump /= np.abs(lump).max() + 1e-9
        thick = thick * (1 + 0.45 * style.curl * lump)
    base = env.points(_hang(env, style.hang))
    normals = grid_normals(base, centre)
    keep = np.zeros((rows - 1, cols - 1), bool)
    near = d_v > -1.0
    keep |= near[:-1, :-1] | near[1:, :-1] | near[:-1, 1:] | near[1:, 1:]
    tris = grid_triangles(rows, cols, keep)
    # Wind triangles counter-clockwise seen from outside, so the shells can be culled inside.
    t0 = base.reshape(-1, 3)[tris[:, :3]]
    fn = np.cross(t0[:, 1] - t0[:, 0], t0[:, 2] - t0[:, 0])
    if np.sum(fn * (t0.mean(1) - centre)) < 0:
        tris = np.ascontiguousarray(tris[:, ::-1])
    i, j = np.mgrid[0:rows, 0:cols]
    uv = np.stack([j / (cols - 1), 1 - (i * TEX_PER_ROW + 0.5 * TEX_PER_ROW) / h], -1).reshape(-1, 2)
    layers: list[Part] = []
    # Outermost shell first: where it is opaque, the depth test rejects the inner shells' texels
    # before they are shaded (llvmpipe's cost is fragments).
    for depth, cut, shade in list(zip(SHELL_DEPTH, SHELL_CUTOFF, SHELL_SHADE))[::-1]:
        pos = base + normals * (thick * depth)[..., None]
        layers.append(Part(pos.reshape(-1, 3).astype(np.float32), normals.reshape(-1, 3).astype(np.float32), tris,
                           (shade, shade, shade, 1.0), uv.astype(np.float32), tex, cut, roughness=0.65,
                           double_sided=False))
    if style.bun:
        layers.append(_bun(env, style, tex, hg))
    return layers


def _bun(env: Envelope, style: HairStyle, tex: np.ndarray, hg: int) -> Part:
    """An ellipsoid of gathered hair at the back of the head, above the occiput."""
    row = int(round((90 - 25) / (90 / (env.n_upper - 1))))
    back = env.points()[row, 0]  # azimuth -180: straight back
    out = (back - env.centre) / np.linalg.norm(back - env.centre)
    radii = np.array([3.0, 2.6, 2.3]) * (0.8 + 0.4 * min(style.thickness / 0.45, 1.5) / 1.5)
    centre = back + out * (style.thickness + 0.7 * radii[2])
    th, ph = np.meshgrid(np.linspace(0, np.pi, 9), np.linspace(-np.pi, np.pi, 13), indexing="ij")
    unit = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1)
    pos = centre + unit * radii
    nrm = unit / radii
    nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
    v_band = 1 - (hg + BAND / 2) / tex.shape[0]
    uv = np.stack([(ph + np.pi) / (2 * np.pi) * 3 % 1.0, np.full_like(ph, v_band)], -1)
    return Part(pos.reshape(-1, 3).astype(np.float32), nrm.reshape(-1, 3).astype(np.float32),
                grid_triangles(*th.shape), (0.8, 0.8, 0.8, 1.0), uv.reshape(-1, 2).astype(np.float32), tex,
                SHELL_CUTOFF[0], roughness=0.65)
