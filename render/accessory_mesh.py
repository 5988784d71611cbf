"""Glasses, headwear and face masks as parts fitted to one identity's neutral mesh (head frame, cm).

Glasses: two lens outlines (superellipses; aviator a flat-topped teardrop) around the eye centres
(Multi-PIE landmarks 36-47), in a plane 0.5 cm in front of the face inside each lens, wrapped back
a little at the outer edge; a rim swept around each outline (none for rimless), a bridge over the
nose and temples running back over the skin to the top of the ear. Sizes of an average adult
frame: lens 50 x 38 mm, bridge 18 mm (the "50-18" of a frame's size marking; ISO 8624).
Headwear sits on the head envelope (render/head_envelope.py) outside the hair. The mask is a
height field draped over nose, mouth and chin (a max filter spans the hollows, as cloth does).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from gen.accessories import Glasses
from gen.hairstyle import HairStyle
from render.attachment import Part, solid
from render.head_envelope import build_envelope, grid_normals, grid_triangles, head_centre, skin_vertices

LENS_SHAPE = {  # half width, half height (cm, average frame), superellipse exponent, rim width (cm)
    "round": (2.25, 2.05, 2.0, 0.3), "rectangular": (2.5, 1.8, 4.5, 0.35),
    "aviator": (2.65, 2.3, 2.4, 0.12), "rimless": (2.45, 1.85, 3.2, 0.0)}


def _sweep(path: np.ndarray, side: np.ndarray, up: np.ndarray, half_w: float, half_h: float,
           closed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A box-section tube along `path` (K,3); `side`/`up` (K,3) unit axes of the section.
    Each of the 4 faces has its own vertices, so edges stay crisp."""
    corners = [(1, 1), (1, -1), (-1, -1), (-1, 1)]
    k = len(path)
    pos, nrm, tris = [], [], []
    for f in range(4):
        (a1, b1), (a2, b2) = corners[f], corners[(f + 1) % 4]
        n = side * (a1 + a2) / 2 + up * (b1 + b2) / 2
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        base = 2 * k * f
        pos += [path + side * a1 * half_w + up * b1 * half_h, path + side * a2 * half_w + up * b2 * half_h]
        nrm += [n, n]
        i = np.arange(k if closed else k - 1)
        j = (i + 1) % k
        tris.append(np.stack([base + i, base + j, base + k + j], 1))
        tris.append(np.stack([base + i, base + k + j, base + k + i], 1))
    return np.concatenate(pos), np.concatenate(nrm), np.concatenate(tris).astype(np.uint32)


def _merge(pieces) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos, nrm, tris, off = [], [], [], 0
    for p, n, t in pieces:
        pos.append(p)
        nrm.append(n)
        tris.append(t + off)
        off += len(p)
    return np.concatenate(pos), np.concatenate(nrm), np.concatenate(tris).astype(np.uint32)


def _outline(frame: str, size: float, m: int = 40) -> np.ndarray:
    a, b, n, _ = LENS_SHAPE[frame]
    t = np.linspace(0, 2 * np.pi, m, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = a * size * np.sign(c) * np.abs(c) ** (2 / n)
    y = b * size * np.sign(s) * np.abs(s) ** (2 / n)
    if frame == "aviator":  # flat top, deeper towards the nose at the bottom
        y = np.minimum(y, 0.75 * b * size)
    return np.stack([x, y], 1)


def _half_width(skin: np.ndarray, y: float, z: float) -> float:
    near = skin[(np.abs(skin[:, 1] - y) < 0.8) & (np.abs(skin[:, 2] - z) < 0.8)]
    return float(np.abs(near[:, 0]).max()) if len(near) else 0.0


def build_glasses(model, vertices: np.ndarray, g: Glasses) -> list[Part]:
    skin = skin_vertices(model, vertices)
    lm = np.asarray(vertices[np.asarray(model.landmarks68)], np.float64)
    eyes = [lm[36:42].mean(0), lm[42:48].mean(0)]
    ipd = float(np.linalg.norm(eyes[1] - eyes[0]))
    size = g.size * ipd / 6.3
    rim_w = LENS_SHAPE[g.frame][3]
    frame_pieces, lens_pieces, hinges, inner_tops, z_planes = [], [], [], [], []
    for side, e in zip((-1.0, 1.0), eyes):
        centre = np.array([e[0] + side * 0.25, e[1] - 0.2])
        ol = _outline(g.frame, size)
        ol[:, 0] *= side  # mirror: the same corner points outwards on both sides
        pts2 = centre + ol
        inside = skin[(np.abs(skin[:, 0] - centre[0]) < np.abs(ol[:, 0]).max())
                      & (np.abs(skin[:, 1] - centre[1]) < np.abs(ol[:, 1]).max())]
        z0 = float(inside[:, 2].max()) + 0.5
        x_in = centre[0] - side * np.abs(ol[:, 0]).max()
        z = z0 - 0.09 * np.abs(pts2[:, 0] - x_in)  # face-form wrap: outer edge sits further back
        ring = np.column_stack([pts2, z])
        z_planes.append(z0)
        # Lens: a fan from the centre, slightly behind the rim's front face.
        c3 = np.array([centre[0], centre[1], z0 - 0.09 * abs(centre[0] - x_in)])
        lp = np.vstack([c3, ring])
        m = len(ring)
        ft = np.stack([np.zeros(m, int), 1 + np.arange(m), 1 + (np.arange(m) + 1) % m], 1)
        lens_pieces.append((lp, np.tile([0.0, 0.0, 1.0], (len(lp), 1)), ft.astype(np.uint32)))
        d2 = ring[:, :2] - centre
        outward = np.column_stack([d2 / np.linalg.norm(d2, axis=1, keepdims=True), np.zeros(m)])
        normal = np.tile([0.0, 0.0, 1.0], (m, 1))
        if rim_w > 0:
            frame_pieces.append(_sweep(ring + outward * rim_w / 2, outward, normal, rim_w / 2, 0.15, closed=True))
        else:  # rimless: a thin bevel that catches the light
            frame_pieces.append(_sweep(ring, outward, normal, 0.03, 0.05, closed=True))
        outer = ring[np.argmax(side * ring[:, 0] + 0.4 * ring[:, 1])]
        inner_tops.append(ring[np.argmax(-side * ring[:, 0] + 0.6 * ring[:, 1])])
        hinges.append(outer + np.array([side * rim_w, 0.0, -0.1]))
    # Bridge: an arch over the nose between the inner upper corners.
    t = np.linspace(0, 1, 8)[:, None]
    a, b = inner_tops
    bridge = a + (b - a) * t + np.array([0.0, 0.25, 0.2]) * np.sin(np.pi * t)
    tangent = np.gradient(bridge, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    up = np.tile([0.0, 1.0, 0.0], (len(t), 1))
    fwd = np.cross(tangent, up)
    thick = 0.1 if rim_w < 0.2 else 0.14
    frame_pieces.append(_sweep(bridge, up, fwd, thick, thick, closed=False))
    # Temples: hinge -> over the skin -> the top of the ear root (behind the tragus).
    for side, h in zip((-1.0, 1.0), hinges):
        ear = lm[0] if side < 0 else lm[16]
        end_y, end_z = h[1] - 0.4, ear[2] - 1.2
        s = np.linspace(0, 1, 7)
        y, z = h[1] + (end_y - h[1]) * s, h[2] + (end_z - h[2]) * s
        x = np.maximum.accumulate([max(abs(h[0]), _half_width(skin, yy, zz) + 0.25) for yy, zz in zip(y, z)])
        path = np.column_stack([side * x, y, z])
        tangent = np.gradient(path, axis=0)
        tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
        up = np.tile([0.0, 1.0, 0.0], (len(path), 1))
        sidev = np.cross(up, tangent)
        sidev /= np.linalg.norm(sidev, axis=1, keepdims=True)
        frame_pieces.append(_sweep(path, sidev, up, 0.07, 0.16 if rim_w >= 0.2 else 0.08, closed=False))
    fp, fn, ft = _merge(frame_pieces)
    lp, ln, lt = _merge(lens_pieces)
    metal = g.frame in ("aviator", "rimless")
    return [solid(fp, fn, ft, g.color, roughness=0.25 if metal else 0.4),
            solid(lp, ln, lt, g.lens_color, alpha=g.lens_alpha, roughness=0.08)]


def _column_edge(env, skin_pts: np.ndarray, y_edge: np.ndarray) -> np.ndarray:
    """Per azimuth column, the fractional row where the envelope's height falls to y_edge."""
    rows = np.arange(skin_pts.shape[0], dtype=np.float64)
    out = np.empty(skin_pts.shape[1])
    for j in range(skin_pts.shape[1]):
        y = skin_pts[:, j, 1]
        out[j] = np.interp(-y_edge[j], -y, rows)  # y falls with the row index
    return out


def _cap_surface(env, radius_add: np.ndarray | float, y_edge: np.ndarray, n: int = 10):
    """Grid (n, A+1, 3) from the crown down to the edge height per column, `radius_add` cm out."""
    skin_pts = env.points()
    edge = _column_edge(env, skin_pts, y_edge)
    t = np.linspace(0, 1, n)[:, None]
    gi = t * edge[None, :]
    gj = np.broadcast_to(np.arange(skin_pts.shape[1])[None, :], gi.shape).astype(np.float64)
    r = ndimage.map_coordinates(env.radius, [gi, gj], order=1, mode="nearest")
    el = np.interp(gi, np.arange(len(env.elevation)), env.elevation)
    drop = np.interp(gi, np.arange(len(env.drop)), env.drop)
    r = r + (radius_add if np.isscalar(radius_add) else radius_add[:, None] * np.ones_like(r))
    a = env.azimuth[None, :]
    upper = gi <= env.n_upper - 1
    horiz = np.where(upper, r * np.cos(el), r)
    y = np.where(upper, r * np.sin(el), -drop)
    return env.centre + np.stack([horiz * np.sin(a), y, horiz * np.cos(a)], -1)


def build_headwear(model, vertices: np.ndarray, kind: str, hair: HairStyle) -> list[Part]:
    skin = skin_vertices(model, vertices)
    lm = np.asarray(vertices[np.asarray(model.landmarks68)], np.float64)
    c = head_centre(skin, lm)
    env = build_envelope(skin, c, open_ears=True)
    brow = float(lm[17:27, 1].mean())
    front = np.maximum(np.cos(env.azimuth), 0.0) ** 1.5
    lift = 0.35 + (hair.thickness if hair.has_geometry else 0.0)
    white = (255, 255, 255)
    if kind == "headband":
        lo = c[1] + 3.2 + (brow + hair.forehead - 0.6 - c[1] - 3.2) * front
        top = _cap_surface(env, lift * 0.8, lo + 3.0, 2)[-1]
        bot = _cap_surface(env, lift * 0.8, lo, 2)[-1]
        pts = np.stack([top, bot])
        return [solid(pts.reshape(-1, 3), grid_normals(pts, c).reshape(-1, 3), grid_triangles(2, pts.shape[1]),
                      white, roughness=0.85)]
    if kind == "beanie":
        edge = c[1] + 1.6 + (brow + 2.2 - c[1] - 1.6) * front
        n = 12
        slouch = lift + 0.5 + 0.8 * np.linspace(1, 0, n) ** 2
        pts = np.stack([_cap_surface(env, a, edge, n)[i] for i, a in enumerate(slouch)])
        return [solid(pts.reshape(-1, 3), grid_normals(pts, c).reshape(-1, 3), grid_triangles(*pts.shape[:2]),
                      white, roughness=0.95)]
    # cap: crown plus a brim over the forehead
    edge = c[1] + 2.6 + (brow + 3.0 - c[1] - 2.6) * front
    pts = _cap_surface(env, lift, edge, 10)
    parts = [pts.reshape(-1, 3)]
    nrm = [grid_normals(pts, c).reshape(-1, 3)]
    tris = [grid_triangles(*pts.shape[:2])]
    az = env.azimuth
    sel = np.flatnonzero(np.abs(az) < np.radians(60))
    rim = pts[-1, sel]
    length = 6.5 * np.cos(np.clip(az[sel] * 1.45, -np.pi / 2, np.pi / 2)) ** 0.6
    out = np.stack([0.5 * np.sin(az[sel]), -0.3 * np.ones(len(sel)), np.ones(len(sel))], 1)
    brim = np.stack([rim, rim + out * length[:, None]])
    bn = np.tile([0.0, 1.0, 0.0], (brim.size // 3, 1))
    parts.append(brim.reshape(-1, 3))
    nrm.append(bn)
    tris.append(grid_triangles(2, len(sel)) + len(parts[0]))
    return [solid(np.concatenate(parts), np.concatenate(nrm), np.concatenate(tris), white, roughness=0.85)]


def build_mask(model, vertices: np.ndarray) -> list[Part]:
    skin = skin_vertices(model, vertices)
    lm = np.asarray(vertices[np.asarray(model.landmarks68)], np.float64)
    cell = 0.35
    top, bottom = lm[28, 1], lm[8, 1] - 1.0
    half = float(np.abs(lm[[1, 15], 0]).max()) + 0.3
    xs = np.arange(-half, half + 1e-6, cell)
    ys = np.arange(bottom, top + 1e-6, cell)
    front = skin[skin[:, 2] > lm[0, 2]]
    h = np.full((len(ys), len(xs)), -np.inf)
    xi = np.round((front[:, 0] + half) / cell).astype(int)
    yi = np.round((front[:, 1] - bottom) / cell).astype(int)
    ok = (xi >= 0) & (xi < len(xs)) & (yi >= 0) & (yi < len(ys))
    np.maximum.at(h, (yi[ok], xi[ok]), front[ok, 2])
    known = np.isfinite(h)
    h[~known] = np.nanmin(np.where(known, h, np.nan)) if known.any() else 0.0
    h = ndimage.grey_dilation(h, size=(5, 5))  # cloth spans hollows ~1.5 cm wide
    h = ndimage.gaussian_filter(h, 1.2) + 0.3
    # Rows span exactly the jaw's width, so the outline is smooth: (row, column) -> (x, y).
    yy = np.linspace(bottom, lm[29, 1], 16)[:, None]
    jaw = np.interp(yy, lm[[8, 6, 4, 2, 1], 1], np.abs(lm[[8, 6, 4, 2, 1], 0]) + np.array([1.5, 0.6, 0.3, 0.3, 0.3]))
    X = np.linspace(-1, 1, 25)[None, :] * jaw
    Y = np.broadcast_to(yy, X.shape)
    Z = ndimage.map_coordinates(h, [(Y - bottom) / cell, (X + half) / cell], order=1, mode="nearest")
    pts = np.stack([X, Y, Z], -1)
    nrm = grid_normals(pts, np.array([0.0, 0.0, lm[0, 2] - 5.0]))
    return [solid(pts.reshape(-1, 3), nrm.reshape(-1, 3), grid_triangles(*pts.shape[:2]),
                  (255, 255, 255), roughness=0.9)]
