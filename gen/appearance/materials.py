"""Which material takes which map or flat colour, the flat colours themselves, and the surface
(roughness/specular) maps.

* ``maps["albedo"]`` (S,S,3) uint8 sRGB, ``maps["roughness"]`` / ``maps["specular"]`` (S,S) uint8
  (value/255 in [0,1]) texture material **M_Face** (UV tile u in [0,1]).
* ``maps["albedo_head"]``, ``maps["roughness_head"]``, ``maps["specular_head"]`` (S/2 square)
  texture material **M_BackHead** (UV tile u in [1,2]: subtract 1 from u). That material also holds
  the mouth and eye sockets, painted dark inside the map.
* Everything else gets a flat sRGB colour from ``colors`` (see MATERIAL_COLORS): gums/tongue,
  teeth, sclera, iris, eyelashes. M_LacrimalFluid, M_EyeBlend and M_EyeOcclusion are thin
  transparent helper shells: skip them (MATERIAL_COLORS maps them to None).
"""
from __future__ import annotations

import numpy as np

from gen.appearance.brows import brow_gain
from gen.appearance.paint import linear, noise, srgb8

# Material -> (map key, u offset of its UV tile). The *_head maps go with M_BackHead.
MATERIAL_TEXTURES = {"M_Face": ("albedo", 0.0), "M_BackHead": ("albedo_head", 1.0)}
MATERIAL_SURFACE = {"M_Face": ("roughness", "specular"), "M_BackHead": ("roughness_head", "specular_head")}
# Material -> key of `colors` (flat colour), or None for transparent helper shells to skip.
MATERIAL_COLORS = {"M_GumsTongue": "gums", "M_Teeth": "teeth", "M_ScleraLeft": "sclera",
                   "M_ScleraRight": "sclera", "M_IrisLeft": "iris", "M_IrisRight": "iris",
                   "M_EyeLashes": "eyelashes", "M_LacrimalFluid": None, "M_EyeBlend": None,
                   "M_EyeOcclusion": None}
_LASH_MAX = (30, 24, 22)  # lashes are at most this light (sRGB), whatever the hair colour


def lash_color(hair_lin: np.ndarray) -> np.ndarray:
    """Linear RGB of lashes and the lash line: hair colour, never lighter than _LASH_MAX, darkened."""
    return np.minimum(hair_lin, linear(_LASH_MAX)) * 0.8


def surface_maps(rng, masks: dict, sf: dict, hair_alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face-tile roughness and specular (floats in [0,1]): the oily T-zone is smoother and
    shinier, lips glossy, hair matte."""
    S = hair_alpha.shape[0]
    n_s = noise(rng, 32, S)
    rough = sf["roughness"] - sf["tzone_oil"] * masks["tzone"] - 0.15 * masks["lips"] + 0.04 * n_s
    rough += (0.85 - rough) * hair_alpha
    spec = sf["specular"] + 0.6 * sf["tzone_oil"] * masks["tzone"] + 0.1 * masks["lips"] - 0.03 * n_s
    spec -= (spec - 0.2) * hair_alpha
    return rough, spec


def to_u8(x: np.ndarray) -> np.ndarray:
    """[0,1] floats -> uint8 levels, rounded."""
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def flat_colors(attrs: dict, lip_col: np.ndarray, base: np.ndarray) -> dict[str, tuple[int, int, int]]:
    e = attrs["eyes"]
    red = e["sclera_redness"]
    sclera = (1 - red) * linear((232, 226, 218)) + red * linear((225, 170, 160))
    ty = attrs["teeth_yellow"]
    teeth = (1 - ty) * linear((238, 234, 222)) + ty * linear((222, 204, 160))
    gums = 0.55 * lip_col + 0.45 * linear((190, 90, 95))
    hair = linear(attrs["hair"]["srgb"])
    return {
        "skin": srgb8(base),
        "hair": tuple(attrs["hair"]["srgb"]),
        "brow": srgb8(hair * brow_gain(attrs["brows"])),
        "eyelashes": srgb8(lash_color(hair)),
        "iris": tuple(e["variant"]["srgb"] if "variant" in e else e["srgb"]),
        "pupil": (8, 6, 6),
        "sclera": srgb8(sclera),
        "teeth": srgb8(teeth),
        "gums": srgb8(gums),
        "lips": srgb8(lip_col),
    }

