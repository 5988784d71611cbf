"""make_appearance: the layers of one identity's maps, in the order they are painted.

Texel row 0 is the top of the image (v = 1), as in a PNG read by an OBJ/MTL viewer. Per identity
only cheap work runs: a few spectral skin evaluations, a linear combination of cached region
masks in log-albedo space, upsampled low-res noise, a few hundred anti-aliased brow strokes and
circles, static hair stroke fields thresholded by density, and alpha compositing inside boxes.
The order of the layers is the order of their draws from `rng`: keep it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen import skin
from gen.aging.skinage import age_skin
from gen.aging.traits import AgeLook
from gen.appearance.attributes import sample_attributes
from gen.appearance.cavity import cavity_map, shade_cavities
from gen.appearance.brows import brow_gain, brow_strokes, lash_line
from gen.appearance.look import PAINT, STREAM_BROWS, paint_eyes, paint_skin, substream
from gen.appearance.hair import facial_hair, hair_statics, scalp
from gen.appearance.materials import flat_colors, lash_color, surface_maps, to_u8
from gen.appearance.paint import composite, linear, noise, srgb8
from gen.appearance.tone import SkinTone, skin_layer
from gen.config import AppearanceConfig
from gen.modelcache import FaceModel
from gen.uvmaps import FaceLayout, face_layout


@dataclass
class Appearance:
    maps: dict[str, np.ndarray]  # see gen/appearance/materials.py for which material uses which
    colors: dict[str, tuple[int, int, int]]
    attributes: dict


def _paint(into: np.ndarray, box: tuple, a: np.ndarray) -> None:
    r0, r1, c0, c1 = box
    into[r0:r1, c0:c1] = np.maximum(into[r0:r1, c0:c1], a)


def _greyed(hair_lin: np.ndarray, share: float, grey_srgb) -> np.ndarray:
    """Hair with `share` of its strands grey (`grey_srgb`, 0-255). Mixed in sRGB, which tracks how
    grey a head of hair reads: a few white strands in dark hair read as dark hair, not as a lighter
    colour."""
    if share <= 0:
        return hair_lin
    srgb = skin.srgb_encode(hair_lin.astype(np.float64)) * 255
    return linear((1 - share) * srgb + share * np.asarray(grey_srgb, np.float64)).astype(np.float32)


def make_appearance(model: FaceModel, cfg: AppearanceConfig, rng: np.random.Generator,
                    attrs: dict | None = None, aging: AgeLook | None = None,
                    vertices: np.ndarray | None = None) -> Appearance:
    """Maps, flat colours and attributes of one identity, drawn from `rng`; `aging` paints it at
    one age (gen/aging/). Aging changes values only, never what is drawn from `rng`, so every age
    of an identity shares its features. `vertices`: its neutral shape, for cavity shading (None:
    the model's mean shape)."""
    lay = face_layout(model, cfg.texture_size)
    attrs = attrs if attrs is not None else sample_attributes(cfg, rng)
    tone = SkinTone.of(attrs["skin"])
    lin = skin_layer(rng, lay, attrs, tone, cfg.skin.noise, aging.lip_red if aging else 1.0)
    if aging is not None:
        age_skin(lin, lay, aging, tone.mel_dir)
    paint_skin(cfg, rng, lin, lay, attrs, tone.mel_dir)  # levers (gen/appearance/look.py)

    # Hair layers, composited in linear RGB; hair_alpha keeps their coverage for the surface maps.
    hair_lin = linear(attrs["hair"]["srgb"]).astype(np.float32)
    scalp_lin, brow_lin, beard_lin = hair_lin, hair_lin, hair_lin
    if aging is not None:
        g = aging.traits.grey_srgb
        scalp_lin, beard_lin = _greyed(hair_lin, aging.gray_scalp, g), _greyed(hair_lin, aging.gray_beard, g)
        brow_lin = _greyed(hair_lin, aging.gray_brows, g)
    hair_alpha = np.zeros((lay.size, lay.size), np.float32)
    grey = aging.gray_brows if aging is not None else 0.0
    canvas, box = brow_strokes(rng, lay, attrs, substream(rng, STREAM_BROWS + PAINT), 1.0 - 0.8 * grey)
    r0, r1, c0, c1 = box
    a = canvas.astype(np.float32) * (1 / 255) * (1 - lay.masks["eye_open"][r0:r1, c0:c1])
    composite(lin, a, (brow_lin * brow_gain(attrs["brows"])).astype(np.float32), box)
    _paint(hair_alpha, box, a)
    canvas, box = lash_line(lay, attrs)
    composite(lin, canvas.astype(np.float32) * (0.8 / 255), lash_color(hair_lin).astype(np.float32), box)
    paint_eyes(lin, lay, attrs)
    st = hair_statics(lay)
    if attrs["facial_hair"] != "none":
        _paint(hair_alpha, st.beard_box, facial_hair(rng, attrs["facial_hair"], st, beard_lin, lin))
    hr = attrs["hair"]
    hairline, density = hr["hairline"], 1.0
    if aging is not None:
        hairline, density = hairline + aging.hairline_shift, aging.scalp_density
    if hr["scalp"]:
        _paint(hair_alpha, st.scalp.box, scalp(rng, lay.masks, st.scalp, hairline, scalp_lin, lin, density))
    sf = attrs["surface"]
    if aging is not None:
        sf = dict(sf, roughness=sf["roughness"] + aging.surface[0], specular=sf["specular"] + aging.surface[1])
    rough, spec = surface_maps(rng, lay.masks, sf, hair_alpha)
    if cfg.cavity.enabled:
        shade_cavities(lin, cavity_map(model, lay, model.neutral if vertices is None else vertices),
                       cfg.cavity.strength)
    lin_h, hair_h = _head_tile(rng, lay, attrs, tone, cfg.skin.noise, scalp_lin, hairline, density)
    maps = {
        "albedo": skin.to_srgb8(lin),
        "roughness": to_u8(rough),
        "specular": to_u8(spec),
        "albedo_head": skin.to_srgb8(lin_h),
        "roughness_head": to_u8(sf["roughness"] + (0.85 - sf["roughness"]) * hair_h),
        "specular_head": to_u8(sf["specular"] - (sf["specular"] - 0.2) * hair_h),
    }
    colors = flat_colors(attrs, tone.lip_col, tone.base)
    if aging is not None:
        colors["hair"] = srgb8(scalp_lin)
        colors["brow"] = srgb8(brow_lin * brow_gain(attrs["brows"]))
    return Appearance(maps, colors, attrs)


def _head_tile(rng, lay: FaceLayout, attrs: dict, tone: SkinTone, noise_sd: float, hair_lin: np.ndarray,
               hairline: float, density: float) -> tuple[np.ndarray, np.ndarray]:
    """Back-of-head tile: skin, dark mouth and eye sockets, scalp hair. Facial hair stays on the
    face tile: the beard area (down the neck to the sideburns in front of the ears) lies inside it.
    Returns linear RGB and hair coverage."""
    HS, hm = lay.head_size, lay.head_masks
    base = tone.base
    lin_h = np.empty((HS, HS, 3), np.float32)
    lin_h[:] = base.astype(np.float32)
    lin_h *= np.exp(noise(rng, 8, HS) * noise_sd)[..., None]
    mouth_in = skin.linear_rgb(min(attrs["skin"]["melanin"] * 1.1, 0.9), 0.3, 0.5) * 0.55
    composite(lin_h, hm["mouth_socket"], mouth_in.astype(np.float32))
    composite(lin_h, hm["eye_socket"], (base * 0.5 + mouth_in * 0.5).astype(np.float32))
    hair_h = np.zeros((HS, HS), np.float32)
    if attrs["hair"]["scalp"]:
        st = hair_statics(lay)
        r0, r1, c0, c1 = st.head_scalp.box
        hair_h[r0:r1, c0:c1] = scalp(rng, hm, st.head_scalp, hairline, hair_lin, lin_h, density)
    return lin_h, hair_h
