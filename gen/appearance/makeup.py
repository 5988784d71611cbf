"""Makeup in the face albedo: lipstick, eyeshadow, blush (painted over the skin, under the
brows) and eyeliner (over the lash line). Which parts an identity wears, their colours and one
opacity are drawn per identity (gen/lookconfig.MakeupConfig)."""
from __future__ import annotations

import cv2
import numpy as np

from core.rng import weighted_choice
from gen.appearance.lips import lip_box
from gen.appearance.paint import bbox, composite, linear
from gen.appearance.periocular import crease_lines
from gen.lookconfig import MakeupConfig
from gen.uvmaps import FaceLayout

_LINER = (28, 22, 22)  # sRGB: near-black liner


def sample_makeup(cfg: MakeupConfig, rng, facial_hair: str, facial_hair_prob: float, scale: float = 1.0) -> dict:
    """{"on": False} or the parts worn. With beard_excludes, bearded identities wear none and the
    beardless wear it a little more often, so `prob` (times the sex's `scale`, gen/sex.py) stays
    the share."""
    u = rng.random(6)
    p = min(1.0, cfg.prob * scale)
    if cfg.beard_excludes:
        p = 0.0 if facial_hair != "none" else min(1.0, p / max(1e-9, 1 - facial_hair_prob))
    if u[0] >= p:
        return {"on": False}
    uni = lambda d: weighted_choice(rng, {k: 1.0 for k in d})  # noqa: E731
    out = {"on": True, "strength": round(cfg.strength.draw(rng), 3),
           "lipstick": uni(cfg.lipsticks) if u[1] < cfg.lipstick_prob else None,
           "eyeliner": bool(u[2] < cfg.eyeliner_prob),
           "eyeshadow": uni(cfg.eyeshadows) if u[3] < cfg.eyeshadow_prob else None,
           "blush": uni(cfg.blushes) if u[4] < cfg.blush_prob else None}
    if not (out["lipstick"] or out["eyeliner"] or out["eyeshadow"] or out["blush"]):
        out["lipstick"] = uni(cfg.lipsticks)  # made up means something shows
    return out


def paint_base(lin: np.ndarray, lay: FaceLayout, mk: dict, cfg: MakeupConfig, crease_cm: float) -> None:
    """Blush, eyeshadow and lipstick, in place (linear RGB). `crease_cm`: eyeshadow reaches a
    little above the lid crease."""
    if not mk.get("on"):
        return
    S = lay.size
    sc = S / 512.0
    a0 = mk["strength"]
    if mk["blush"]:
        cheek = lay.masks["cheek"]
        box = bbox(cheek > 0.05)
        r0, r1, c0, c1 = box
        composite(lin, cheek[r0:r1, c0:c1] * (0.4 * a0), linear(cfg.blushes[mk["blush"]]).astype(np.float32), box)
    if mk["eyeshadow"]:
        lines = crease_lines(lay, crease_cm * 1.3)
        pts = np.concatenate([np.concatenate(ln) for ln in lines])
        c0, r0 = np.maximum(np.floor(pts.min(0)).astype(int) - int(6 * sc) - 2, 0)
        c1, r1 = np.minimum(np.ceil(pts.max(0)).astype(int) + int(6 * sc) + 2, S)
        g = np.zeros((r1 - r0, c1 - c0), np.float32)
        for margin, crease in lines:
            poly = np.concatenate([margin, crease[::-1]]) - [c0, r0]
            cv2.fillPoly(g, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        g = cv2.GaussianBlur(g, (0, 0), 2.0 * sc) * (1 - lay.masks["eye_open"][r0:r1, c0:c1]) * (0.7 * a0)
        composite(lin, g, linear(cfg.eyeshadows[mk["eyeshadow"]]).astype(np.float32), (r0, r1, c0, c1))
    if mk["lipstick"]:
        box = lip_box(lay, 0.1)
        r0, r1, c0, c1 = box
        sub = lin[r0:r1, c0:c1]
        # Keep the lips' own shading under the colour: tint by the texel's brightness.
        lum = sub.mean(-1, keepdims=True)
        col = linear(cfg.lipsticks[mk["lipstick"]]).astype(np.float32) * np.sqrt(lum / max(float(lum.mean()), 1e-4))
        a = lay.masks["lips"][r0:r1, c0:c1] * (1 - lay.masks["mouth_inner"][r0:r1, c0:c1] * 0.5) * min(1.0, 1.3 * a0)
        composite(lin, a, col, box)


def paint_liner(lin: np.ndarray, lay: FaceLayout, mk: dict) -> None:
    """Eyeliner along the upper lid with a short wing past the outer corner, in place."""
    if not (mk.get("on") and mk["eyeliner"]):
        return
    S = lay.size
    sc = S / 512.0
    px_cm = 1.0 / lay.face.cm_per_texel
    strokes = []
    for ids, outer_first in (((36, 37, 38, 39), True), ((42, 43, 44, 45), False)):
        lid = lay.lm_uv[list(ids)].astype(np.float64)
        outer = lid[0] if outer_first else lid[-1]
        inner = lid[-1] if outer_first else lid[0]
        d = (outer - inner) / np.linalg.norm(outer - inner)
        wing = outer + 0.3 * px_cm * d + np.array([0.0, -0.12 * px_cm])
        strokes.append(np.concatenate([lid, wing[None]]) if outer_first is False else np.concatenate([wing[None], lid]))
    pts = np.concatenate(strokes)
    c0, r0 = np.maximum(np.floor(pts.min(0)).astype(int) - 6, 0)
    c1, r1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 6, S)
    g = np.zeros((r1 - r0, c1 - c0), np.float32)
    for s in strokes:
        cv2.polylines(g, [np.round((s - [c0, r0]) * 16).astype(np.int32)], False, 1.0,
                      max(1, int(round(2.5 * sc))), cv2.LINE_AA, shift=4)
    g = cv2.GaussianBlur(g, (0, 0), 0.6 * sc) * (1 - 0.7 * lay.masks["eye_open"][r0:r1, c0:c1]) * 0.9
    composite(lin, g, linear(_LINER).astype(np.float32), (r0, r1, c0, c1))
