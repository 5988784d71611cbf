"""Raster helpers shared by the appearance layers: smooth noise, alpha compositing in linear RGB,
bounding boxes, and sRGB <-> linear for flat colours."""
from __future__ import annotations

import cv2
import numpy as np

from gen import skin


def srgb8(lin) -> tuple[int, int, int]:
    return tuple(int(x) for x in np.round(skin.srgb_encode(np.asarray(lin)) * 255))


def linear(srgb) -> np.ndarray:
    return skin.srgb_decode(np.asarray(srgb, np.float64) / 255.0)


def noise(rng: np.random.Generator, cells: int, out: int) -> np.ndarray:
    """Smooth noise of unit std: `cells`² normals upsampled bicubically to out²."""
    n = rng.standard_normal((cells, cells), dtype=np.float32)
    return cv2.resize(n, (out, out), interpolation=cv2.INTER_CUBIC)


def box_noise(rng, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth unit-std noise over a box: cells (rows, cols) normals upsampled bicubically."""
    n = rng.standard_normal(cells, dtype=np.float32)
    return cv2.resize(n, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def composite(lin: np.ndarray, alpha: np.ndarray, color: np.ndarray, box=None) -> None:
    """lin = lin*(1-a) + color*a, in place, inside box = (r0, r1, c0, c1). `color` is an RGB
    triple or an image the size of the box."""
    if box is None:
        box = (0, lin.shape[0], 0, lin.shape[1])
    r0, r1, c0, c1 = box
    if r1 <= r0 or c1 <= c0:
        return
    a = np.ascontiguousarray(alpha.reshape(r1 - r0, c1 - c0), np.float32)
    sub = lin[r0:r1, c0:c1]
    col = np.asarray(color, np.float32)
    if col.ndim == 1:
        col = np.broadcast_to(col, sub.shape)
    # OpenCV's per-pixel blend is one SIMD pass; weights are (1-a, a), which sum to 1.
    out = cv2.blendLinear(np.ascontiguousarray(sub), np.ascontiguousarray(col), 1.0 - a, a)
    lin[r0:r1, c0:c1] = out


def bbox(mask: np.ndarray, pad: int = 2):
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (max(rows[0] - pad, 0), min(rows[-1] + pad + 1, mask.shape[0]),
            max(cols[0] - pad, 0), min(cols[-1] + pad + 1, mask.shape[1]))

