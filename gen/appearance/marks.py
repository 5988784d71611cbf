"""Skin marks: red blemishes (blood) and freckles and moles (melanin), drawn at skin sites."""
from __future__ import annotations

import cv2
import numpy as np

from gen.uvmaps import FaceLayout


def blemishes(rng, lay: FaceLayout, attrs: dict, blood_half: np.ndarray) -> None:
    """Small red blotches, added to the half-resolution blood map (they are blurry anyway)."""
    n = attrs["marks"]["blemishes"]
    if not n or not len(lay.skin_sites):
        return
    H = blood_half.shape[0]
    px = H / 512.0
    idx = rng.integers(0, len(lay.skin_sites), n)
    for x, y in (lay.skin_sites[idx] * H // lay.size).tolist():
        r = max(int(round(rng.uniform(2.0, 4.0) * px)), 1)
        y0, y1, x0, x1 = max(y - 3 * r, 0), min(y + 3 * r + 1, H), max(x - 3 * r, 0), min(x + 3 * r + 1, H)
        patch = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(patch, (x - x0, y - y0), r, float(rng.uniform(0.8, 1.6)), -1)
        blood_half[y0:y1, x0:x1] += cv2.GaussianBlur(patch, (0, 0), r * 0.6)


def pigment_marks(rng, lay: FaceLayout, attrs: dict, lin: np.ndarray, mel_dir: np.ndarray) -> None:
    """Freckles and moles: extra melanin (log-gain) in small discs, applied at full resolution."""
    S = lay.size
    px = S / 512.0
    mk = attrs["marks"]
    if mk["freckles"] and len(lay.freckle_sites):
        idx = rng.integers(0, len(lay.freckle_sites), mk["freckles"])
        rad = rng.uniform(0.6, 1.8, mk["freckles"]) * px
        val = rng.uniform(0.4, 1.1, mk["freckles"])
        pts = lay.freckle_sites[idx]
        c0, r0 = pts.min(0) - 4
        c1, r1 = pts.max(0) + 5
        r0, c0 = max(r0, 0), max(c0, 0)
        gain = np.zeros((r1 - r0, c1 - c0), np.float32)
        for (x, y), r, v in zip(pts.tolist(), rad.tolist(), val.tolist()):
            cv2.circle(gain, (x - c0, y - r0), max(int(round(r)), 1), float(v), -1)
        lin[r0:r1, c0:c1] *= np.exp(gain[..., None] * mel_dir.astype(np.float32))
    if mk["moles"] and len(lay.skin_sites):
        idx = rng.integers(0, len(lay.skin_sites), mk["moles"])
        for x, y in lay.skin_sites[idx].tolist():
            r = max(int(round(rng.uniform(1.5, 3.5) * px)), 1)
            y0, y1, x0, x1 = max(y - r - 2, 0), min(y + r + 3, S), max(x - r - 2, 0), min(x + r + 3, S)
            gain = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.circle(gain, (x - x0, y - y0), r, 255, -1, cv2.LINE_AA)
            g = gain.astype(np.float32)[..., None] * (float(rng.uniform(1.6, 2.6)) / 255)
            lin[y0:y1, x0:x1] *= np.exp(g * mel_dir.astype(np.float32))

