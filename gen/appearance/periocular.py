"""Upper-lid crease shading (a soft dark line at the crease and a faint shadow on the lid below
it) and darker skin under the eyes, per identity (height, depth and strength), in log-albedo.
The lash line's density is read by brows.lash_line."""
from __future__ import annotations

import cv2
import numpy as np

from gen.lookconfig import PeriocularConfig
from gen.uvmaps import FaceLayout

# Upper lid margins, outer -> inner corner for the right eye, inner -> outer for the left.
UPPER_LIDS = ((36, 37, 38, 39), (42, 43, 44, 45))
# Lower lid margins in the same directions.
LOWER_LIDS = ((36, 41, 40, 39), (42, 47, 46, 45))


def sample_periocular(cfg: PeriocularConfig, rng) -> dict:
    return {"crease_height_cm": round(cfg.crease_height.draw(rng), 3), "crease": round(cfg.crease.draw(rng), 3),
            "lid_shadow": round(cfg.lid_shadow.draw(rng), 3), "lashes": round(cfg.lashes.draw(rng), 3),
            "under_eye": round(cfg.under_eye.draw(rng), 3), "under_eye_cm": round(cfg.under_eye_depth.draw(rng), 3)}


def lid_lines(lay: FaceLayout, lids, offset_cm: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lid margin, offset line) polylines per eye in texels; the offset line runs `offset_cm`
    above the margin (below it where negative) at the middle of the lid and closer to it towards
    the corners, a little past them."""
    px_cm = 1.0 / lay.face.cm_per_texel
    out = []
    for ids in lids:
        lid = lay.lm_uv[list(ids)].astype(np.float64)
        t = np.linspace(0, 1, 12)
        seg = np.linalg.norm(np.diff(lid, axis=0), axis=1)
        tt = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()
        margin = np.stack([np.interp(t, tt, lid[:, 0]), np.interp(t, tt, lid[:, 1])], -1)
        # Corners: extend 10% beyond each end along the lid direction.
        ext = 0.1 * (margin[-1] - margin[0])
        line = margin + np.stack([np.zeros_like(t), -(0.35 + 0.65 * np.sin(np.pi * t)) * offset_cm * px_cm], -1)
        line[0] -= ext
        line[-1] += ext
        out.append((margin, line))
    return out


def crease_lines(lay: FaceLayout, height_cm: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(upper lid margin, crease) per eye: the crease `height_cm` above the margin."""
    return lid_lines(lay, UPPER_LIDS, height_cm)


def paint_crease(lin: np.ndarray, lay: FaceLayout, p: dict) -> None:
    """Darken the crease line and the lid below it, and the skin under the eyes, in place
    (log-albedo, all channels)."""
    S = lay.size
    sc = S / 512.0
    lines = crease_lines(lay, p["crease_height_cm"])
    under = lid_lines(lay, LOWER_LIDS, -p["under_eye_cm"])
    pts = np.concatenate([np.concatenate(ln) for ln in lines + under])
    pad = int(12 * sc) + 2
    c0, r0 = np.maximum(np.floor(pts.min(0)).astype(int) - pad, 0)
    c1, r1 = np.minimum(np.ceil(pts.max(0)).astype(int) + pad, S)
    g = np.zeros((r1 - r0, c1 - c0), np.float32)
    shift = np.array([c0, r0], np.float64)
    for margin, crease in lines:
        lid = np.concatenate([margin, crease[::-1]]) - shift
        cv2.fillPoly(g, [np.round(lid * 16).astype(np.int32)], float(p["lid_shadow"]), cv2.LINE_AA, shift=4)
        cv2.polylines(g, [np.round((crease - shift) * 16).astype(np.int32)], False, float(p["crease"]),
                      max(1, int(round(2 * sc))), cv2.LINE_AA, shift=4)
    g = cv2.GaussianBlur(g, (0, 0), 1.2 * sc)
    if p["under_eye"] > 0:
        # Darkest at the lid, fading out downwards (a wide blur of the band between the lower lid
        # and its offset line).
        u = np.zeros_like(g)
        for margin, low in under:
            band = np.concatenate([margin, low[::-1]]) - shift
            cv2.fillPoly(u, [np.round(band * 16).astype(np.int32)], float(p["under_eye"]), cv2.LINE_AA, shift=4)
        g += cv2.GaussianBlur(u, (0, 0), 0.15 * p["under_eye_cm"] / lay.face.cm_per_texel)
    g *= 1 - lay.masks["eye_open"][r0:r1, c0:c1]
    lin[r0:r1, c0:c1] *= np.exp(-g)[..., None]
