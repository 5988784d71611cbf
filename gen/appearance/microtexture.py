"""Per-identity skin micro-texture: pore-scale luminance noise (its strength and size drawn per
identity) and mid-scale melanin mottling, in log-albedo over plain skin.

The pore fields are drawn once per process and size (like the hair strands); an identity takes
a shifted window of them and blends the two scales nearest its pore size, so it costs a few
array operations."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from gen.appearance.paint import noise
from gen.lookconfig import MicroTextureConfig
from gen.uvmaps import FaceLayout

_PAD = 32
_SIGMAS = (0.5, 1.0, 2.0)  # pore blur at 512² (texels); pore_scale 1 ~ the middle one


def sample_micro(cfg: MicroTextureConfig, rng) -> dict:
    return {"pores": round(cfg.pores.draw(rng), 4), "pore_scale": round(cfg.pore_scale.draw(rng), 3),
            "mottle": round(cfg.mottle.draw(rng), 4)}


@lru_cache(maxsize=4)
def _fields(size: int) -> np.ndarray:
    """(3, size + 2 pad, size + 2 pad) unit-std noise fields, one per pore scale."""
    rng = np.random.default_rng(np.random.SeedSequence([0x51C0, size]))  # static: same in every process
    n = size + 2 * _PAD
    white = rng.standard_normal((n, n)).astype(np.float32)
    out = []
    for s in _SIGMAS:
        f = cv2.GaussianBlur(white, (0, 0), s * size / 512.0)
        out.append(f / f.std())
    return np.stack(out)


_MASKS: dict[int, tuple[FaceLayout, np.ndarray]] = {}


def _skin_mask(lay: FaceLayout) -> np.ndarray:
    """Where micro-texture goes: all of the face tile but lips and eye openings (cached)."""
    hit = _MASKS.get(id(lay))
    if hit is None or hit[0] is not lay:
        m = lay.masks
        hit = (lay, ((1 - m["lips"]) * (1 - m["eye_open"]) * (1 - m["mouth_inner"])).astype(np.float32))
        _MASKS[id(lay)] = hit  # holding the layout keeps id() unique
    return hit[1]


def paint_micro(lin: np.ndarray, lay: FaceLayout, p: dict, mel_dir: np.ndarray, rng) -> None:
    """Multiply pores and mottling into the face tile, in place."""
    S = lay.size
    f = _fields(S)
    oy, ox = (int(v) for v in rng.integers(0, 2 * _PAD + 1, 2))
    x = float(np.clip(np.log2(p["pore_scale"]) + 1, 0, len(_SIGMAS) - 1))  # position among _SIGMAS
    i = min(int(x), len(_SIGMAS) - 2)
    t = x - i
    pores = (1 - t) * f[i, oy:oy + S, ox:ox + S] + t * f[i + 1, oy:oy + S, ox:ox + S]
    mottle = noise(rng, 40, S)
    m = _skin_mask(lay)
    log = (m * (p["pores"] * pores))[..., None] + (m * (p["mottle"] * mottle))[..., None] * mel_dir.astype(np.float32)
    lin *= cv2.exp(log)
