"""Per-identity iris colour: the named colour (eyes.iris_colors) shifted in hue, lightness and
chroma, so irises form a continuum. The iris is its own mesh with a flat colour (render/mesh.py
paints pupil and limbal ring from it), so colour is the lever gen has."""
from __future__ import annotations

import numpy as np

from gen import skin
from gen.appearance.paint import linear, srgb8
from gen.lookconfig import IrisConfig

_GREY = np.ones(3) / np.sqrt(3.0)


def rotate_hue(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate linear RGB colour(s) about the grey axis (Rodrigues' formula): hue changes, the
    grey component stays."""
    a = np.radians(degrees)
    k = _GREY
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)
    return np.asarray(rgb) @ rot.T


def shift_color(lin: np.ndarray, hue_deg: float, log_light: float, log_chroma: float) -> np.ndarray:
    """Linear RGB with its hue rotated and its chroma (distance from grey) scaled by exp(log_chroma),
    both in gamma-encoded sRGB, then its brightness scaled by exp(log_light). In linear RGB a dark
    brown's blue and green are so small that a 10-degree turn made a fifth of dark-brown irises red
    or magenta once encoded; the encoded values are much closer to even steps of perceived hue."""
    enc = skin.srgb_encode(np.asarray(lin, np.float64))
    grey = enc.mean() * np.ones(3)
    enc = np.clip(grey + rotate_hue(enc - grey, hue_deg) * np.exp(log_chroma), 0.0, 1.0)
    return np.clip(skin.srgb_decode(enc) * np.exp(log_light), 1e-4, 1.0)


def sample_iris(cfg: IrisConfig, named_srgb, rng) -> dict:
    """Per-identity shifts and the resulting sRGB colour."""
    hue, light, chroma = (float(v) for v in rng.standard_normal(3) * [cfg.hue, cfg.lightness, cfg.saturation])
    col = shift_color(linear(named_srgb), hue, light, chroma)
    return {"hue_deg": round(hue, 2), "log_light": round(light, 3), "log_chroma": round(chroma, 3),
            "srgb": list(srgb8(col))}
