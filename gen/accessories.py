"""Glasses, headwear and face masks: pure, seeded choices (render/accessory_mesh.py builds them).

Glasses belong to the identity: whether it owns a pair, the frame shape, colour and lens tint come
from (seed, STREAM_GLASSES, identity), so the same pair appears in all its images; whether they are
worn in image j, and any headwear or mask, come from (seed, STREAM_ACCESSORY_IMAGE, identity, j).
Shares follow DigiFace-1M (Bae et al., WACV 2023): glasses 0.15, headwear 0.15, face-wear 0.01.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.rng import stream, weighted_choice
from gen.config import AccessoriesConfig

STREAM_GLASSES = 42
STREAM_ACCESSORY_IMAGE = 43
NONE = "none"


@dataclass(frozen=True)
class Glasses:
    frame: str  # round | rectangular | aviator | rimless
    color: tuple[int, int, int]  # frame sRGB
    tinted: bool
    lens_color: tuple[int, int, int]  # sRGB of the lens tint
    lens_alpha: float  # lens opacity (clear lenses: a faint sheen)
    size: float  # lens size relative to an average pair


@dataclass(frozen=True)
class ImageAccessories:
    glasses: Glasses | None
    headwear: str  # kind or NONE
    headwear_color: tuple[int, int, int]
    face_mask: str  # "surgical" or NONE
    mask_color: tuple[int, int, int]

    @property
    def glasses_name(self) -> str:
        """The record's value: frame shape, '_tinted' for sunglasses, NONE when not worn."""
        if self.glasses is None:
            return NONE
        return self.glasses.frame + ("_tinted" if self.glasses.tinted else "")


def _uniform_color(rng, colors: dict) -> tuple[int, int, int]:
    names = sorted(colors)
    return tuple(int(c) for c in colors[names[int(rng.integers(len(names)))]])


def identity_glasses(cfg: AccessoriesConfig, seed: int, index: int) -> Glasses | None:
    """The pair identity `index` owns, or None."""
    rng = stream(seed, STREAM_GLASSES, index)
    if rng.random() >= cfg.glasses_prob:
        return None
    frame = weighted_choice(rng, cfg.frames)
    color = _uniform_color(rng, cfg.frame_colors)
    tinted = bool(rng.random() < cfg.tinted_prob)
    shade = int(rng.integers(15, 70))
    lens = (shade, shade + int(rng.integers(0, 15)), shade + int(rng.integers(0, 20))) if tinted else (235, 240, 245)
    return Glasses(frame=frame, color=color, tinted=tinted, lens_color=lens,
                   lens_alpha=float(0.55 + 0.35 * rng.random()) if tinted else 0.08,
                   size=float(0.9 + 0.25 * rng.random()))


def image_accessories(cfg: AccessoriesConfig, seed: int, index: int, image: int,
                      glasses: Glasses | None) -> ImageAccessories:
    """What identity `index` wears in image `image` (`glasses`: identity_glasses of it)."""
    rng = stream(seed, STREAM_ACCESSORY_IMAGE, index, image)
    worn = rng.random() < cfg.glasses_worn
    hw = weighted_choice(rng, cfg.headwear) if rng.random() < cfg.headwear_prob else NONE
    hw_color = _uniform_color(rng, cfg.headwear_colors)
    mask = "surgical" if rng.random() < cfg.mask_prob else NONE
    mask_color = _uniform_color(rng, cfg.mask_colors)
    return ImageAccessories(glasses=glasses if worn else None, headwear=hw, headwear_color=hw_color,
                            face_mask=mask, mask_color=mask_color)
