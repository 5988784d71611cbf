"""Sex as an identity attribute, and the differences it makes (config: GenConfig.sex).

Without it every identity was a mix: a bearded face on a female-typical shape, long hair over a
male jaw. A recogniser trained on real people reads sex first, so identities that mix its cues sit
between the two and look alike. Each identity is drawn female or male from its own stream, and
the draw shifts the proportions and the appearance priors below. Every shift is data in config.

Shape: local feature proportions move by +-d/2 adult SDs (male +, female -), d being the sex
difference in SD units (Cohen's d) of the matching measurement in Farkas LG, Anthropometry of the
Head and Face, 2nd ed. 1994 (North American Caucasian adults), e.g. face width zy-zy
d ~ 1.4, mandible width go-go ~ 1.1, nose width al-al ~ 1.5, nose height n-sn ~ 1.2, mouth width
ch-ch ~ 0.9, intercanthal en-en ~ 0.5, eye fissure ex-en ~ 0.3. The local field carries half of
each adult SD (gen/anthropometry.py), so a shift of d/2 SDs is d of its own units.
Brow ridge: male supraorbital ridges are more prominent (the classic skeletal sex marker; see
Walker PL, Am J Phys Anthropol 136:39-50, 2008); women's brows sit higher above the eye and
their fissures open a little more (Farkas 1994: brow and lid heights).
Appearance: men have facial hair and most women wear none; women wear makeup far more often;
women's skin is lighter than men's of the same population (Jablonski & Chaplin, J Hum Evol
39:57-106, 2000) and their lips contrast more with it (Russell R, Perception 38:1211-1219, 2009);
men's brows are thicker and flatter; patterned hairline recession is mostly male (Hamilton JB,
Ann N Y Acad Sci 53:708-728, 1951).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.config import FrozenConfig
from core.rng import stream

STREAM_SEX = 5  # core.rng tag: per identity
Sex = Literal["female", "male"]

# Cohen's d (male minus female) per local feature (gen/anthropometry.FEATURES); see the docstring.
_FARKAS_D = {"eye_size": 0.3, "eye_spacing": 0.5, "canthal_tilt": -0.4, "nose_width": 1.5,
             "nose_length": 1.2, "nose_bridge": 0.8, "nose_tip": 0.4, "mouth_width": 0.9,
             "lip_fullness": -0.4, "jaw_width": 1.1, "chin_length": 1.3, "chin_projection": 0.6,
             "cheekbones": 1.4, "forehead_height": 0.4, "ear_size": 0.9, "brow_ridge": 1.5,
             "eye_opening": -0.3, "brow_height": -0.8}


class SexLook(FrozenConfig):
    """Multipliers on the population-wide appearance priors for one sex (1 = unchanged)."""
    facial_hair: float = Field(1.0, ge=0, le=10, description="x appearance.hair.facial_hair_prob (capped at 1)")
    makeup: float = Field(1.0, ge=0, le=10, description="x appearance.makeup.prob (capped at 1)")
    brow_thickness: float = Field(1.0, gt=0, le=3, description="x the drawn brow thickness")
    brow_arch: float = Field(1.0, ge=0, le=3, description="x the weight of arched brow styles "
                                                          "(soft_arch, high_arch, rounded)")
    melanin: float = Field(1.0, gt=0, le=3, description="x the drawn melanin")
    blood: float = Field(1.0, gt=0, le=3, description="x the drawn skin blood (redness)")
    lip_blood: float = Field(1.0, gt=0, le=3, description="x the drawn lip blood")
    hair_styles: dict[str, float] = Field(default_factory=dict,
                                          description="x the weight of these hair_style.styles (others x1)")
    recession: float = Field(1.0, ge=0, le=10, description="x aging.recession_prob (capped at 1)")
    bare_scalp: float = Field(1.0, ge=0, le=10, description="x the share of bare (shaved or bald) scalps, "
                                                            "1 - appearance.hair.scalp_prob (capped at 1)")


def _female() -> SexLook:
    return SexLook(facial_hair=0.0, makeup=1.8, brow_thickness=0.8, brow_arch=1.6, melanin=0.94, blood=0.92,
                   lip_blood=1.15, recession=0.15, bare_scalp=0.1,
                   hair_styles={"long": 2.2, "medium": 1.4, "tied_back": 1.8, "curly": 1.3, "short": 0.35,
                                "receding": 0.0, "bald": 0.05})


def _male() -> SexLook:
    return SexLook(facial_hair=1.9, makeup=0.1, brow_thickness=1.2, brow_arch=0.6, melanin=1.06, blood=1.08,
                   lip_blood=0.9, recession=1.85, bare_scalp=0.6,
                   hair_styles={"long": 0.15, "medium": 0.7, "tied_back": 0.1, "curly": 0.8, "short": 1.7,
                                "receding": 2.0, "bald": 1.5})


class SexConfig(FrozenConfig):
    """Each identity is female or male; the draw shifts shape and appearance priors (gen/sex.py)."""
    enabled: bool = Field(True, description="draw a sex per identity and apply its differences (False: every "
                                            "identity mixes both sexes' cues at the population-wide priors)")
    female_share: float = Field(0.5, ge=0, le=1, description="share of female identities")
    shape_d: dict[str, float] = Field(default_factory=lambda: dict(_FARKAS_D),
                                      description="sex difference (male minus female, Cohen's d) of each local "
                                                  "feature; identities move by +-d/2 adult SDs (Farkas 1994)")
    shape_scale: float = Field(1.0, ge=0, le=3, description="multiplier on every shape_d")
    female: SexLook = Field(default_factory=_female)
    male: SexLook = Field(default_factory=_male)

    @model_validator(mode="after")
    def _check(self):
        from gen.anthropometry import FEATURES  # no cycle: anthropometry imports no config
        bad = sorted(set(self.shape_d) - set(FEATURES))
        if bad:
            raise ValueError(f"shape_d: unknown feature(s) {bad}; known: {', '.join(FEATURES)}")
        if any(abs(d) > 4 for d in self.shape_d.values()):
            raise ValueError("shape_d: effect sizes lie in [-4, 4]")
        return self

    def look(self, sex: str | None) -> SexLook:
        """The multipliers for `sex` (None: sex disabled, nothing changes)."""
        return {"female": self.female, "male": self.male}.get(sex or "", _NEUTRAL)


_NEUTRAL = SexLook()


def draw_sex(cfg: SexConfig, seed: int, index: int) -> Sex | None:
    """Identity `index`'s sex (None when disabled), from its own stream."""
    if not cfg.enabled:
        return None
    return "female" if stream(seed, STREAM_SEX, index).random() < cfg.female_share else "male"


def shape_shift(cfg: SexConfig, sex: str | None) -> dict[str, float]:
    """Per-feature shift in units of the feature's local SD (+d for men, -d for women; see the
    module docstring for why a local SD carries d, not d/2)."""
    if sex is None:
        return {}
    sign = 1.0 if sex == "male" else -1.0
    return {k: sign * d * cfg.shape_scale for k, d in cfg.shape_d.items()}


def hair_style_weights(styles: dict[str, float], look: SexLook) -> dict[str, float]:
    """hair_style.styles re-weighted for one sex (falls back to the plain weights if all vanish)."""
    w = {k: v * look.hair_styles.get(k, 1.0) for k, v in styles.items()}
    return w if sum(w.values()) > 0 else dict(styles)
