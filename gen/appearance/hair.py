"""Facial hair (stubble, mustache, goatee, full beard) and scalp hair with an irregular hairline.

Both threshold static stroke fields (gen/appearance/strands.py, drawn once per process) by a
per-identity density, so an identity costs a few array operations per layer."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gen.appearance.paint import bbox, box_noise, composite
from gen.appearance.strands import StrandField, draw_strands
from gen.uvmaps import FaceLayout, smoothstep


@dataclass(frozen=True)
class HairStatics:
    px_cm: float  # face-tile texels per cm
    beard_box: tuple
    beard: dict  # box-sized static masks/fields of the face tile
    beard_strands: StrandField
    stubble: StrandField
    scalp: StrandField  # face tile
    head_scalp: StrandField  # head tile


_STATICS: dict[int, tuple[FaceLayout, HairStatics]] = {}


def _crop(d: dict, box) -> dict:
    r0, r1, c0, c1 = box
    return {k: np.ascontiguousarray(v[r0:r1, c0:c1]) for k, v in d.items()}


def _scalp_strands(tag: int, masks: dict, cm_per_texel: float) -> StrandField:
    box = bbox(masks["scalp_field"] > -2.5)
    r0, r1, c0, c1 = box
    field = masks["scalp_field"]
    # Strands run away from the hairline (up the field's gradient): combed back at the front,
    # hanging down at the back.
    gy, gx = np.gradient(cv2.GaussianBlur(field, (0, 0), 2.0))
    g = np.stack([gx, gy], -1)[r0:r1, c0:c1]
    g /= np.linalg.norm(g, axis=-1, keepdims=True) + 1e-6
    sub = field[r0:r1, c0:c1]
    seed = (sub > -1.5) & (masks["ear"][r0:r1, c0:c1] < 0.5)
    px = 1.0 / cm_per_texel
    return draw_strands(tag, box, max(int(round(0.4 * px)), 2), seed, g.astype(np.float32), 0.25,
                        (0.5 * px, 1.1 * px), 0.25, (0.7, 1.25))


def hair_statics(lay: FaceLayout) -> HairStatics:
    """Per-process facial and scalp hair data: boxes, cropped fields, stroke fields (~0.3 s)."""
    hit = _STATICS.get(id(lay))
    if hit is not None and hit[0] is lay:
        return hit[1]
    m = lay.masks
    px = 1.0 / lay.face.cm_per_texel
    area = (m["beard_field"] > -1.5) | (m["mustache_field"] > -0.5) | (m["goatee_field"] > -0.5)
    box = bbox(area, pad=4)
    r0, r1, c0, c1 = box
    beard = _crop({k: m[k] for k in ("beard_field", "mustache_field", "goatee_field", "mouth_ring_field",
                                     "cheek_line", "mustache")}, box)
    # Hairs grow down; on the upper lip down and out from the philtrum.
    cols = np.arange(c0, c1, dtype=np.float32) - (lay.size - 1) / 2
    k = 0.25 + 0.75 * beard["mustache"]
    dirs = np.stack([k * np.sign(cols)[None, :], np.ones_like(k)], -1)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    seed = area[r0:r1, c0:c1]
    pad = max(int(round(0.5 * px)), 2)
    strands = draw_strands(1, box, pad, seed, dirs, 0.45, (0.35 * px, 0.7 * px), 0.3, (0.65, 1.3))
    # Stubble: stumps ~1 mm long at about life density (facial hair ~50-100 per cm²; one 512²
    # texel is ~0.003 cm², so ~0.2-0.3 per texel; a little denser so the speckle reads).
    stubble = draw_strands(2, box, pad, seed, dirs, 0.4, (0.06 * px, 0.14 * px), 0.5, (0.8, 1.1))
    out = HairStatics(px, box, beard, strands, stubble, _scalp_strands(3, m, lay.face.cm_per_texel),
                      _scalp_strands(4, lay.head_masks, lay.head.cm_per_texel))
    _STATICS[id(lay)] = (lay, out)
    return out


# Multiplicative cast of stubble under the skin (linear RGB): dark hair seen through the
# translucent epidermis reads blue-grey ("five o'clock shadow").
_STUBBLE_CAST = np.array([0.55, 0.62, 0.76], np.float32)


def facial_hair(rng, style: str, st: HairStatics, hair_lin: np.ndarray, lin: np.ndarray) -> np.ndarray:
    """Composite one facial hair style into `lin` (face tile) inside the beard box; returns the
    hair coverage (box-sized) for the surface maps. Density falls off towards every border, the
    borders are moved and roughened per identity, and the hair is made of static strokes
    thresholded by density, so skin shows through where the hair is sparse."""
    f = st.beard
    r0, r1, c0, c1 = st.beard_box
    shape = (r1 - r0, c1 - c0)
    cells = (max(int(shape[0] / st.px_cm / 1.2), 2), max(int(shape[1] / st.px_cm / 1.2), 2))  # ~1.2 cm features
    edge = box_noise(rng, shape, cells)
    patch = box_noise(rng, shape, (max(cells[0] // 3, 2), max(cells[1] // 3, 2)))
    box = lin[r0:r1, c0:c1]
    if style == "stubble":
        rank, _ = st.stubble.window(rng)
        shift = float(rng.uniform(-0.4, 0.5))  # cm: cheek line lower (+) or higher (-)
        field = f["beard_field"] - shift * f["cheek_line"] + 0.25 * edge
        dens = np.clip(smoothstep(field, -0.3, 1.0) * (float(rng.uniform(0.6, 1.0)) + 0.12 * patch), 0.0, 1.0)
        dark = float(np.clip(1.0 - (hair_lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)) / 0.3, 0.15, 1.0))
        shade = dens * (float(rng.uniform(0.45, 0.75)) * dark)
        box *= (1.0 - shade[..., None] * (1.0 - _STUBBLE_CAST))
        a = smoothstep(rank - 1.0 + 0.8 * dens, 0.0, 0.25) * 0.6
        composite(lin, a, hair_lin * 0.85, st.beard_box)
        return np.maximum(a, 0.5 * shade)
    rank, tint = st.beard_strands.window(rng)
    if style == "full_beard":
        shift = float(rng.uniform(-0.4, 0.6))
        field = f["beard_field"] - shift * f["cheek_line"] + (0.08 + 0.25 * f["cheek_line"]) * edge
        soft = float(rng.uniform(0.6, 1.2))  # cm over which density builds up from the border
        fill = float(rng.uniform(0.8, 1.0))
        # The mustache part of a beard is as dense as a mustache alone.
        field = np.maximum(field, f["mustache_field"] * (soft / 0.15))
    elif style == "mustache":
        field = f["mustache_field"] - float(rng.uniform(0.0, 0.1)) + 0.06 * edge
        soft, fill = 0.15, float(rng.uniform(0.85, 1.0))  # dense up to the nostril sill
    else:  # goatee: chin patch alone, with a separate mustache, or joined round the mouth
        g = f["goatee_field"] + float(rng.uniform(-0.25, 0.2)) + 0.15 * edge
        kind = rng.random()
        if kind > 0.25:
            g = np.maximum(g, (f["mustache_field"] - float(rng.uniform(0.0, 0.1)) + 0.06 * edge) * (0.4 / 0.15))
        if kind > 0.6:
            g = np.maximum(g, f["mouth_ring_field"] + 0.05 * edge)
        field = g
        soft, fill = 0.4, float(rng.uniform(0.8, 1.0))
    dens = np.clip(smoothstep(field, -0.05, soft) * (fill + 0.15 * patch), 0.0, 1.0)
    # Strands above the density threshold, over a thin undercoat where the hair is dense.
    a = np.maximum(smoothstep(rank - 1.0 + dens, 0.0, 0.2), 0.75 * dens * dens) * 0.96
    composite(lin, a, hair_lin * tint[..., None], st.beard_box)
    return a


def scalp(rng, m: dict[str, np.ndarray], sf: StrandField, hairline: float, hair_lin: np.ndarray,
          lin: np.ndarray, density: float = 1.0) -> np.ndarray:
    """Composite scalp hair into one tile; returns its coverage (box-sized). The hairline is a
    soft, irregular ramp made of single strands (the threshold trick of `facial_hair`)."""
    r0, r1, c0, c1 = sf.box
    field = m["scalp_field"][r0:r1, c0:c1]
    fw = m["front_weight"][r0:r1, c0:c1]
    h, w = field.shape
    lowf = box_noise(rng, (h, w), (6, 6))
    midf = box_noise(rng, (h, w), (max(h // 12, 2), max(w // 12, 2)))
    # Positive hairline recedes (up to ~2 cm at the front); noise keeps the edge irregular.
    f = field - 2.0 * hairline * fw + 0.25 * lowf + 0.12 * midf
    dens = smoothstep(f, -0.5, 0.6)
    rank, tint = sf.window(rng)
    under = smoothstep(f, 0.1, 0.9) * 0.97
    if density != 1.0:  # thinning with age: fewer strands, and the skin shows through the undercoat
        dens *= density
        under *= density ** 2
    a = np.maximum(smoothstep(rank - 1.0 + dens, 0.0, 0.2) * 0.9, under)
    a *= 1 - m["ear"][r0:r1, c0:c1]
    composite(lin, a, hair_lin * tint[..., None], sf.box)
    return a

