"""Aged skin on the face tile: wrinkle grooves, age spots and uneven pigmentation, applied as one
log-albedo change (grey for the grooves, along the melanin direction for the pigment)."""
from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np

from gen.aging.traits import AgeLook, AgingTraits
from gen.aging.wrinkles import Raster, rasterise, shading
from gen.uvmaps import FaceLayout

_RASTERS: OrderedDict[tuple, tuple[FaceLayout, Raster]] = OrderedDict()


def _raster(lay: FaceLayout, t: AgingTraits) -> Raster:
    """The identity's lines rasterised on this layout; the last few identities are kept, since an
    identity is rebuilt once per age stage."""
    key = (id(lay), t.seed, t.index)  # the lines are a function of (seed, index, layout) alone
    hit = _RASTERS.get(key)
    if hit is not None and hit[0] is lay:
        _RASTERS.move_to_end(key)
        return hit[1]
    r = rasterise(lay, t.lines)
    _RASTERS[key] = (lay, r)
    while len(_RASTERS) > 8:
        _RASTERS.popitem(last=False)
    return r


def _pigment(lay: FaceLayout, lk: AgeLook, H: int) -> np.ndarray | None:
    """(H,H) melanin log-gain at half resolution: smooth mottling plus the spots shown at this age."""
    t = lk.traits
    gain = None
    if lk.tone > 0:
        gain = cv2.resize(t.tone_cells, (H, H), interpolation=cv2.INTER_CUBIC) * np.float32(lk.tone)
    shown = np.flatnonzero(t.spot_onset < lk.age)
    if shown.size and len(lay.skin_sites):
        if gain is None:
            gain = np.zeros((H, H), np.float32)
        px = H / 256.0  # spot radii are in texels of a 512² map, i.e. 256² at half resolution
        sites = lay.skin_sites[(t.spot_u[shown] * len(lay.skin_sites)).astype(int)] * H // lay.size
        grow = np.clip((lk.age - t.spot_onset[shown]) / 15.0, 0, 1)
        for (x, y), r, g, k in zip(sites.tolist(), t.spot_radius[shown] * 0.5, t.spot_gain[shown], grow):
            r = max(r * px * (0.5 + 0.5 * k), 0.6)
            R = int(np.ceil(2.5 * r))
            y0, y1, x0, x1 = max(y - R, 0), min(y + R + 1, H), max(x - R, 0), min(x + R + 1, H)
            yy, xx = np.mgrid[y0:y1, x0:x1]
            gain[y0:y1, x0:x1] += (g * (0.4 + 0.6 * k)) * np.exp(-0.5 * ((yy - y) ** 2 + (xx - x) ** 2) / r ** 2)
    return gain


def age_skin(lin: np.ndarray, lay: FaceLayout, lk: AgeLook, mel_dir: np.ndarray) -> None:
    """Apply the grooves, spots and mottling of `lk` to the face tile `lin` (linear RGB) in place."""
    S = lay.size
    groove = shading(_raster(lay, lk.traits), lk.wrinkles, lk.traits.wrinkle_gain, S)
    gain = _pigment(lay, lk, S // 2)
    if groove is None and gain is None:
        return
    if gain is not None:
        L = cv2.resize(gain, (S, S), interpolation=cv2.INTER_LINEAR)[..., None] * mel_dir.astype(np.float32)
        if groove is not None:
            L += groove[..., None]
    else:
        L = np.repeat(groove[..., None], 3, axis=2)
    lin *= cv2.exp(L)
