"""Lip colour and the vermilion border, per identity: extra lip melanin (more with darker skin),
a darker upper lip, a cool or warm tint, a darker border line and the pale 'white roll' just above the
upper border that draws the Cupid's bow. All in log-albedo inside the mouth's box."""
from __future__ import annotations

import cv2
import numpy as np

from gen.lookconfig import LipConfig
from gen.uvmaps import FaceLayout

# Log-albedo per unit of `cool`: bluer (cool pink) or yellower (warm orange red); a* about kept.
_COOL = np.array([0.0, -0.05, 0.3], np.float32)


def sample_lips(cfg: LipConfig, rng, darkness: float) -> dict:
    """`darkness` (0 lightest .. 1 darkest skin) scales the extra melanin: lips of darkly
    pigmented people are more often pigmented themselves."""
    mel = cfg.melanin.draw(rng) * (0.5 + darkness)
    return {"melanin": round(mel, 3), "upper_dark": round(cfg.upper_dark.draw(rng), 3),
            "cool": round(cfg.cool.draw(rng), 3), "border": round(cfg.border.draw(rng), 3),
            "white_roll": round(cfg.white_roll.draw(rng), 3)}


def lip_box(lay: FaceLayout, pad_cm: float = 0.5) -> tuple[int, int, int, int]:
    pad = int(np.ceil(pad_cm / lay.face.cm_per_texel))
    pts = lay.lm_uv[48:68]
    c0, r0 = np.maximum(np.floor(pts.min(0)).astype(int) - pad, 0)
    c1, r1 = np.minimum(np.ceil(pts.max(0)).astype(int) + pad, lay.size)
    return int(r0), int(r1), int(c0), int(c1)


def paint_lips(lin: np.ndarray, lay: FaceLayout, p: dict, mel_dir: np.ndarray) -> None:
    """Recolour the lips and draw their border, in place."""
    S = lay.size
    sc = S / 512.0
    r0, r1, c0, c1 = lip_box(lay)
    shift = np.array([c0, r0], np.float64)
    lm = lay.lm_uv.astype(np.float64) - shift
    lips = lay.masks["lips"][r0:r1, c0:c1]
    h, w = lips.shape
    upper = np.zeros((h, w), np.float32)  # outer upper contour 48..54 closed by the inner one 64..60
    poly = np.concatenate([lm[48:55], lm[[64, 63, 62, 61, 60]]])
    cv2.fillPoly(upper, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    upper = cv2.GaussianBlur(upper, (0, 0), 1.0 * sc) * lips
    border = np.zeros((h, w), np.float32)
    cv2.polylines(border, [np.round(lm[48:60] * 16).astype(np.int32)], True, 1.0, max(1, int(round(1.5 * sc))),
                  cv2.LINE_AA, shift=4)
    border = cv2.GaussianBlur(border, (0, 0), 0.8 * sc)
    roll = np.zeros((h, w), np.float32)
    up = np.array([0.0, -1.2 * sc])
    cv2.polylines(roll, [np.round((lm[48:55] + up) * 16).astype(np.int32)], False, 1.0,
                  max(1, int(round(1.5 * sc))), cv2.LINE_AA, shift=4)
    roll = cv2.GaussianBlur(roll, (0, 0), 1.0 * sc) * (1 - lips)
    log = (lips * p["melanin"])[..., None] * mel_dir.astype(np.float32)
    log += (lips * p["cool"])[..., None] * _COOL
    log -= (upper * p["upper_dark"] + border * p["border"] - roll * p["white_roll"])[..., None]
    lin[r0:r1, c0:c1] *= np.exp(log)
