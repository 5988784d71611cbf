"""Configuration of the appearance levers that make identities tell apart (gen/appearance/look.py):
parametric brows, iris colour, periocular shading, lip colour, skin undertone, skin micro-texture
and makeup. Each section has `enabled`; turning one off leaves every other draw unchanged (each
lever draws from its own stream). Values are documented where they are defined; figures from
papers are cited there, the rest are tuned by eye on renders at 112 px and say so.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from core.config import FrozenConfig


class Spread(FrozenConfig):
    """A normal distribution N(mean, sd²), clipped to [min, max] (sd 0: always `mean`)."""
    mean: float
    sd: float = Field(ge=0)
    min: float
    max: float

    def draw(self, rng) -> float:
        return float(min(max(self.mean + self.sd * rng.standard_normal(), self.min), self.max))

    @model_validator(mode="after")
    def _ordered(self):
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"spread: need min <= mean <= max, got {self.min}, {self.mean}, {self.max}")
        return self


def _sp(mean: float, sd: float, lo: float, hi: float, what: str):
    return Field(default_factory=lambda: Spread(mean=mean, sd=sd, min=lo, max=hi), description=what)


def _weights(name: str, d: dict[str, float]) -> None:
    if not d or sum(d.values()) <= 0 or min(d.values()) < 0:
        raise ValueError(f"{name}: weights must be non-negative and not all zero")


def _colors(name: str, d: dict[str, tuple[int, int, int]]) -> None:
    if not d:
        raise ValueError(f"{name}: give at least one colour")
    for k, c in d.items():
        if any(not 0 <= v <= 255 for v in c):
            raise ValueError(f"{name}.{k}: sRGB channels lie in [0, 255]")


class BrowShapeConfig(FrozenConfig):
    """Continuous brow shape per identity around its coarse `hair.brow_styles` label. Brows weigh
    as much as the eyes in human face recognition (Sadr, Jarudi & Sinha 2003, Perception 32), and
    real brows vary in every one of these. Geometry follows the usual description of the brow
    (Westmore 1974: head above the nasal ala, peak near the lateral limbus two thirds along, tail
    on the line from the ala past the outer canthus). No population SDs are published for most of
    these; the spreads below span the range of the four styles, were checked by eye, and were
    widened to where the dlib judge gained (FAR@0.6 -1.2 points on 200 x 3 frontal images vs
    spreads two thirds as wide; docs/gen.md)."""
    enabled: bool = Field(True, description="draw continuous brow shapes (False: the 4 fixed styles only)")
    arch: float = Field(0.35, ge=0, le=1, description="SD added to the style's arch height (relative units)")
    peak: float = Field(0.06, ge=0, le=0.3, description="SD added to the style's arch peak position (0 head..1 tail)")
    tail: float = Field(0.28, ge=0, le=1, description="SD added to the style's tail drop (relative units)")
    length: Spread = _sp(1.0, 0.12, 0.75, 1.25, "brow length relative to the landmark brow (tail shorter/longer)")
    lift: Spread = _sp(0.0, 0.2, -0.45, 0.45, "cm the whole brow sits higher (+) or lower (-) over the eye")
    gap: Spread = _sp(0.0, 0.22, -0.45, 0.55, "cm the inner ends move apart (+) or together (-)")
    taper: Spread = _sp(0.6, 0.15, 0.2, 0.9, "how much thinner the tail is than the body (0: even width)")
    head: Spread = _sp(0.4, 0.25, 0.0, 1.0, "inner-end shape: 0 square and full, 1 thin and tapered")
    sparse: Spread = _sp(0.25, 0.2, 0.0, 0.8, "patchiness: share of hairs missing in irregular gaps")
    tone: Spread = _sp(0.0, 0.35, -0.8, 0.6, "log brightness of brows relative to the hair colour (+ lighter)")


class IrisConfig(FrozenConfig):
    """Per-identity iris colour around its named colour (eyes.iris_colors). Iris colour is a
    continuum, not six classes (e.g. the hue/saturation spread in Edwards et al. 2016,
    'Analysis of iris surface features in populations of diverse ancestry', R. Soc. Open Sci.)."""
    enabled: bool = Field(True, description="jitter each identity's iris colour")
    hue: float = Field(10.0, ge=0, le=60, description="SD of the hue shift, degrees")
    lightness: float = Field(0.25, ge=0, le=1, description="SD of the log-luminance shift")
    saturation: float = Field(0.2, ge=0, le=1, description="SD of the log-chroma shift")


class PeriocularConfig(FrozenConfig):
    """Upper-lid crease shading, lash density and under-eye darkening. The crease sits ~4-11 mm above the lid margin
    across adults and is low or hidden in many East Asian lids (Saonanon 2014, 'Update on Asian
    eyelid anatomy and clinical relevance', Curr. Opin. Ophthalmol. 25)."""
    enabled: bool = Field(True, description="paint a lid crease and vary lash density")
    crease_height: Spread = _sp(0.75, 0.18, 0.35, 1.15, "cm of the crease above the upper lid margin")
    crease: Spread = _sp(0.35, 0.15, 0.0, 0.8, "crease darkening (log-albedo at its centre line)")
    lid_shadow: Spread = _sp(0.15, 0.1, 0.0, 0.45, "extra darkening of the lid skin between margin and crease")
    lashes: Spread = _sp(1.0, 0.25, 0.4, 1.6, "lash density: opacity and thickness of the lash line")
    # Darker skin under the eyes is common in adults of every skin type (periorbital
    # hyperpigmentation; Sheth et al. 2014, Indian J Dermatol 59: 151-157).
    under_eye: Spread = _sp(0.3, 0.1, 0.05, 0.6, "darkening below the lower lids (log-albedo at its darkest)")
    under_eye_depth: Spread = _sp(0.55, 0.12, 0.3, 0.9, "cm the under-eye darkening reaches below the lower lid")


class LipConfig(FrozenConfig):
    """Lip colour relative to the skin and the definition of its border. Lip colour differs from
    facial skin mainly by more visible blood and, in darker skin, by more melanin, often unevenly
    (upper lip darker). The vermilion border and the pale 'white roll' above it draw the Cupid's
    bow. Spreads tuned by eye."""
    enabled: bool = Field(True, description="vary lip colour and paint the vermilion border")
    melanin: Spread = _sp(0.1, 0.15, -0.2, 0.5, "extra lip melanin (log gain); x (0.5 + skin darkness)")
    upper_dark: Spread = _sp(0.15, 0.1, 0.0, 0.5, "how much darker the upper lip is (log-albedo)")
    cool: Spread = _sp(0.0, 0.4, -1.0, 1.0, "lip tint: + cool bluish pink, - warm orange red (x0.3 log blue)")
    border: Spread = _sp(0.25, 0.12, 0.0, 0.6, "darkening along the vermilion border (log-albedo)")
    white_roll: Spread = _sp(0.12, 0.06, 0.0, 0.3, "lightening of the skin just above the upper lip border")


class UndertoneConfig(FrozenConfig):
    """Skin undertone from a third chromophore, carotenoids in the epidermis: they absorb blue
    (peaks ~450-480 nm), so more of them turns skin yellow-olive and raises b* (Stephen, Coetzee
    & Perrett 2011, Evol. Hum. Behav. 32), and their level differs between people with diet.
    The pink side of undertone is blood (skin.blood, skin.oxygenation)."""
    enabled: bool = Field(True, description="add a per-identity carotenoid (yellow/olive) undertone")
    carotene: Spread = _sp(0.035, 0.025, 0.0, 0.09, "epidermal carotenoid optical density at its peak, one pass "
                                                          "(0.03 raises b* by ~4 on light skin, ~1.5 on dark)")


class MicroTextureConfig(FrozenConfig):
    """Skin micro-texture per identity: pore-scale luminance noise and mid-scale mottling, with
    their own strengths and scales, so two identities' skin differs in texture (pore size and
    density differ between people, sexes and ages). Kept faint: twice these amplitudes made every
    face read as the same blotchy skin to the dlib judge (FAR@0.6 +1.5 points, uniqueness -2.7 on
    100 x 3 frontal images; docs/gen.md), these are level with no micro-texture."""
    enabled: bool = Field(True, description="paint per-identity pores and mottling")
    pores: Spread = _sp(0.03, 0.015, 0.0, 0.08, "log-albedo amplitude of the pore-scale noise")
    pore_scale: Spread = _sp(1.0, 0.3, 0.5, 2.0, "size of pores (1: ~0.3 mm)")
    mottle: Spread = _sp(0.015, 0.01, 0.0, 0.05, "log melanin gain amplitude of mid-scale mottling")


class MakeupConfig(FrozenConfig):
    """Makeup per identity, in the albedo: lipstick, eyeliner, eyeshadow, blush. DigiFace-1M (Bae
    et al., WACV 2023) puts makeup on 15% of identities; `prob` is that share. Colours and
    opacities are tuned by eye to stay subtle at 112 px."""
    enabled: bool = Field(True, description="paint makeup on a share of identities")
    prob: float = Field(0.15, ge=0, le=1, description="share of identities with makeup (DigiFace-1M: 0.15)")
    beard_excludes: bool = Field(True, description="no makeup with facial hair (the share is kept overall)")
    lipstick_prob: float = Field(0.75, ge=0, le=1, description="share of made-up identities with lipstick")
    eyeliner_prob: float = Field(0.6, ge=0, le=1, description="share with eyeliner")
    eyeshadow_prob: float = Field(0.5, ge=0, le=1, description="share with eyeshadow")
    blush_prob: float = Field(0.5, ge=0, le=1, description="share with blush")
    strength: Spread = _sp(0.55, 0.15, 0.2, 0.9, "opacity of lipstick/eyeshadow/blush")
    lipsticks: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"nude": (176, 112, 98), "pink": (196, 96, 118), "red": (160, 24, 36),
                                 "berry": (120, 30, 62), "coral": (214, 96, 80), "plum": (98, 40, 56)},
        description="lipstick colours by name, sRGB (drawn uniformly)")
    eyeshadows: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"brown": (110, 76, 58), "taupe": (130, 112, 100), "bronze": (150, 100, 60),
                                 "grey": (90, 88, 92), "plum": (110, 70, 96)},
        description="eyeshadow colours by name, sRGB (drawn uniformly)")
    blushes: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"rose": (214, 120, 130), "peach": (232, 150, 120), "berry": (170, 80, 96)},
        description="blush colours by name, sRGB (drawn uniformly)")

    @model_validator(mode="after")
    def _check(self):
        for name in ("lipsticks", "eyeshadows", "blushes"):
            _colors(name, getattr(self, name))
        return self


class CavityConfig(FrozenConfig):
    """Cavity shading baked into the face albedo from the identity's own shape
    (gen/appearance/cavity.py): the renderer has no shadows or ambient occlusion."""
    enabled: bool = Field(True, description="darken creases and sockets of the face tile")
    strength: float = Field(0.35, ge=0, le=1, description="albedo is multiplied by 1 - strength at full cavity")
