"""Skin colour of the face tile: the spectral base colour of an identity, its log-albedo
directions (more blood, more melanin, periorbital darkening, lips), and the low-frequency skin
layer built from them with blemishes, freckles and moles."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gen import skin
from gen.appearance.marks import blemishes, pigment_marks
from gen.appearance.paint import noise
from gen.uvmaps import FaceLayout


@dataclass(frozen=True)
class SkinTone:
    base: np.ndarray  # (3,) linear RGB albedo of plain skin
    blood_dir: np.ndarray  # log-albedo change per unit log-gain of blood
    mel_dir: np.ndarray  # ... of melanin
    eye_dir: np.ndarray  # periorbital: more melanin and darker (less oxygenated) venous blood
    lip_col: np.ndarray  # (3,) linear RGB of the lips
    lip_dir: np.ndarray

    @classmethod
    def of(cls, sk: dict) -> SkinTone:
        """The tone of the `skin` attributes (see attributes.sample_attributes)."""
        mel, blood, oxy, car = sk["melanin"], sk["blood"], sk["oxygenation"], sk.get("carotene", 0.0)
        base = skin.linear_rgb(mel, blood, oxy, car)
        log_base = np.log(base)
        # Log-albedo directions of the spectral model, linearised per unit log-gain:
        blood_dir = np.log(skin.linear_rgb(mel, min(blood * np.e, 0.45), oxy, car)) - log_base
        mel_dir = np.log(skin.linear_rgb(min(mel * np.e, 0.9), blood, oxy, car)) - log_base
        eye_mel = min(mel * np.exp(sk["eye_melanin"]), 0.9)
        eye_dir = np.log(skin.linear_rgb(eye_mel, blood * 1.3, oxy * 0.6, car)) - log_base
        lip_col = skin.linear_rgb(min(mel * 1.25, 0.9), min(blood * np.exp(sk["lip_blood"]), 0.45), 0.85, car)
        return cls(base, blood_dir, mel_dir, eye_dir, lip_col, np.log(lip_col) - log_base)


def skin_layer(rng, lay: FaceLayout, attrs: dict, tone: SkinTone, noise_sd: float,
               lip_red: float = 1.0) -> np.ndarray:
    """Linear RGB (S,S,3) float32 face-tile skin: region colours (flush, eyes, lips), blood and
    luminance noise and blemishes at half resolution (all smooth), upsampled; then freckles and
    moles at full resolution. `lip_red` < 1 pales the lips (aging)."""
    S = lay.size
    H = S // 2
    blood_dyn = noise(rng, 20, H) * (noise_sd * 2.0)
    blemishes(rng, lay, attrs, blood_dyn)
    n_lum = noise(rng, 12, H) * noise_sd + noise(rng, 48, H) * (noise_sd * 0.5)
    K = np.empty((H, H, 5), np.float32)
    K[..., :3] = lay.half_stack  # flush (cheek + nose + chin), eyes, lips
    K[..., 0] *= attrs["skin"]["cheek_blood"]
    K[..., 0] += blood_dyn
    if lip_red != 1.0:
        K[..., 2] *= lip_red
    K[..., 3] = n_lum
    K[..., 4] = 1.0
    T = np.stack([tone.blood_dir, tone.eye_dir, tone.lip_dir, np.ones(3), np.log(tone.base)]).astype(np.float32)
    low = (K.reshape(-1, 5) @ T).reshape(H, H, 3)
    np.exp(low, out=low)
    lin = cv2.resize(low, (S, S), interpolation=cv2.INTER_LINEAR)
    pigment_marks(rng, lay, attrs, lin, tone.mel_dir)
    return lin
