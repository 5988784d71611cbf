"""A drawable part worn on the head (hair shell, glasses frame, lens, cap...), in the head frame.

Parts are plain arrays built per identity (render/hair_mesh.py, render/accessory_mesh.py) and
posed with the face by the renderer. Our shader (render/shaders/mesh.frag) reads two facesynth
conventions from the pyrender material: parts use the specular-glossiness material (the only
shader variant with an alpha test), its emissive_factor.x is the alpha-test cut-off (texels whose
alpha is below it are discarded, so hair shells need no sorting), and a material with alphaMode
BLEND writes its alpha (tinted lenses)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Part:
    positions: np.ndarray  # (N, 3) float32, head frame (model units)
    normals: np.ndarray  # (N, 3) float32 unit
    triangles: np.ndarray  # (T, 3) uint32
    color: tuple[float, float, float, float]  # sRGB factor in [0, 1] (multiplies the texture), alpha
    uv: np.ndarray | None = None  # (N, 2) float32, OBJ convention
    texture: np.ndarray | None = None  # (H, W, 4) uint8 sRGB + alpha
    cutoff: float = 0.0  # alpha-test threshold (0: none)
    blend: bool = False  # alpha-blended (drawn after opaque parts)
    roughness: float = 0.7
    double_sided: bool = True  # False: triangles wind counter-clockwise seen from outside (culled inside)


def solid(positions, normals, triangles, srgb, alpha: float = 1.0, roughness: float = 0.7) -> Part:
    """An untextured part of one sRGB colour (0-255)."""
    c = tuple(float(v) / 255.0 for v in srgb)
    return Part(np.ascontiguousarray(positions, np.float32), np.ascontiguousarray(normals, np.float32),
                np.ascontiguousarray(triangles, np.uint32), (*c, float(alpha)), blend=alpha < 1.0,
                roughness=roughness)
