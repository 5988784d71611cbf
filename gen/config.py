"""Configuration of the gen stage: which model, how identities, appearance and expressions are drawn.

Every distribution lives here with its default; configs/gen-default.yaml is the same thing
written out. All models forbid unknown keys, so a typo fails before any work starts.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from core.config import FrozenConfig
from gen.shape_config import IdentityConfig, LocalShapeConfig  # noqa: F401 - re-exported: GenConfig.identity, .local_shape
from gen.sex import SexConfig
from gen.lookconfig import (BrowShapeConfig, CavityConfig, IrisConfig, LipConfig, MakeupConfig, MicroTextureConfig,
                            PeriocularConfig, UndertoneConfig)


def _check_range(lo: float, hi: float, what: str) -> None:
    if lo > hi:
        raise ValueError(f"{what}: min {lo} is greater than max {hi}")


class Range(FrozenConfig):
    """A closed interval [min, max]; values are drawn uniformly inside it."""
    min: float
    max: float

    def at(self, t: float) -> float:
        """The point a fraction `t` of the way from min to max."""
        return self.min + t * (self.max - self.min)

    def draw(self, rng) -> float:
        """One value drawn uniformly from [min, max]."""
        return float(rng.uniform(self.min, self.max))

    @model_validator(mode="after")
    def _ordered(self):
        _check_range(self.min, self.max, "range")
        return self


class SkinConfig(FrozenConfig):
    """Skin colour from a two-chromophore (melanin, hemoglobin) spectral model, see gen/skin.py."""
    melanin_groups: list[Range] = Field(
        default_factory=lambda: [Range(min=0.013, max=0.063), Range(min=0.063, max=0.18),
                                 Range(min=0.18, max=0.43)],
        description="epidermal melanosome volume fraction ranges (Jacques 1998, 'Skin optics': light-skinned "
                    "adults 1.3-6.3%, moderately pigmented 11-16%, darkly pigmented 18-43%); one range is "
                    "picked by melanin_weights, then a value uniformly in log space")
    melanin_weights: list[float] = Field(default_factory=lambda: [0.4, 0.3, 0.3],
                                         description="probability of each melanin group")
    blood: Range = Field(default_factory=lambda: Range(min=0.008, max=0.025),
                         description="dermal blood volume fraction (typical 0.2-7%, Jacques 1998)")
    oxygenation: Range = Field(default_factory=lambda: Range(min=0.6, max=0.9),
                               description="oxygen saturation of dermal blood")
    cheek_blood: Range = Field(default_factory=lambda: Range(min=0.3, max=1.2),
                               description="extra relative blood in cheeks/nose (log-scale gain)")
    lip_blood: Range = Field(default_factory=lambda: Range(min=1.0, max=2.2),
                             description="extra relative blood in the lips (log-scale gain)")
    eye_melanin: Range = Field(default_factory=lambda: Range(min=0.15, max=0.6),
                               description="extra relative melanin around the eyes (log-scale gain)")
    noise: float = Field(0.06, ge=0, le=0.5, description="std of the log-albedo low-frequency noise field")

    @model_validator(mode="after")
    def _weights(self):
        if len(self.melanin_weights) != len(self.melanin_groups):
            raise ValueError("melanin_weights needs one weight per melanin_groups entry")
        if sum(self.melanin_weights) <= 0 or min(self.melanin_weights) < 0:
            raise ValueError("melanin_weights must be non-negative and not all zero")
        for g in self.melanin_groups:
            if not (0 < g.min and g.max < 1):
                raise ValueError("melanin_groups values are volume fractions in (0, 1)")
        if not (0 < self.blood.min and self.blood.max < 0.5):
            raise ValueError("blood is a volume fraction in (0, 0.5)")
        if not (0 <= self.oxygenation.min and self.oxygenation.max <= 1):
            raise ValueError("oxygenation lies in [0, 1]")
        return self


class MarksConfig(FrozenConfig):
    freckle_prob: float = Field(0.25, ge=0, le=1, description="probability that an identity has freckles")
    freckles: Range = Field(default_factory=lambda: Range(min=20, max=160), description="freckle count when present")
    mole_mean: float = Field(1.5, ge=0, le=30, description="mean (Poisson) number of moles on the face")
    blemish_mean: float = Field(2.0, ge=0, le=30, description="mean (Poisson) number of small red blemishes")


class HairConfig(FrozenConfig):
    colors: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"black": (22, 18, 16), "dark_brown": (48, 33, 24), "brown": (85, 58, 38),
                                 "light_brown": (128, 94, 62), "blond": (185, 150, 98), "red": (138, 62, 30),
                                 "grey": (150, 146, 140), "white": (215, 212, 205)},
        description="hair colours by name, sRGB")
    color_probs: dict[str, float] = Field(
        default_factory=lambda: {"black": 0.3, "dark_brown": 0.25, "brown": 0.15, "light_brown": 0.08,
                                 "blond": 0.08, "red": 0.04, "grey": 0.0, "white": 0.0},
        description="probability of each hair colour for light skin (grey and white: 0, hair greys with "
                    "age, see aging); darker skin shifts weight to black "
                    "and dark brown (dark_bias)")
    dark_bias: float = Field(0.8, ge=0, le=1,
                             description="for the darkest skin, this share of identities gets black/dark brown hair")
    brow_styles: dict[str, float] = Field(
        default_factory=lambda: {"straight": 0.3, "soft_arch": 0.35, "high_arch": 0.15, "rounded": 0.2},
        description="brow shape names and their probabilities")
    brow_thickness: Range = Field(default_factory=lambda: Range(min=0.6, max=1.6),
                                  description="brow thickness relative to an average brow")
    brow_density: Range = Field(default_factory=lambda: Range(min=0.45, max=1.0),
                                description="share of brow area covered by hairs")
    scalp_prob: float = Field(0.85, ge=0, le=1, description="probability of a scalp hair cap (else bald/shaved)")
    hairline: Range = Field(default_factory=lambda: Range(min=-0.6, max=1.0),
                            description="hairline height: 0 = average, +1 = receded by ~2 cm, -1 = low")
    facial_hair_prob: float = Field(0.3, ge=0, le=1, description="probability of any facial hair")
    facial_hair_styles: dict[str, float] = Field(
        default_factory=lambda: {"stubble": 0.45, "mustache": 0.12, "goatee": 0.13, "full_beard": 0.3},
        description="facial hair styles (when present) and their probabilities")

    @model_validator(mode="after")
    def _probs(self):
        for name, d in (("hair.color_probs", self.color_probs), ("hair.brow_styles", self.brow_styles),
                        ("hair.facial_hair_styles", self.facial_hair_styles)):
            if not d or sum(d.values()) <= 0 or min(d.values()) < 0:
                raise ValueError(f"{name}: probabilities must be non-negative and not all zero")
        unknown = set(self.color_probs) - set(self.colors)
        if unknown:
            raise ValueError(f"hair.color_probs names colours not in hair.colors: {sorted(unknown)}")
        bad = set(self.brow_styles) - set(BROW_STYLES)
        if bad:
            raise ValueError(f"hair.brow_styles: unknown style(s) {sorted(bad)}; known: {sorted(BROW_STYLES)}")
        bad = set(self.facial_hair_styles) - set(FACIAL_HAIR_STYLES)
        if bad:
            raise ValueError(f"hair.facial_hair_styles: unknown style(s) {sorted(bad)}; known: {sorted(FACIAL_HAIR_STYLES)}")
        return self


# Brow shapes: (arch height, arch peak position along the brow, tail drop), relative units.
BROW_STYLES = {"straight": (0.15, 0.6, 0.1), "soft_arch": (0.45, 0.62, 0.3),
               "high_arch": (0.85, 0.66, 0.55), "rounded": (0.6, 0.5, 0.5)}
FACIAL_HAIR_STYLES = ("stubble", "mustache", "goatee", "full_beard")


class EyeConfig(FrozenConfig):
    iris_colors: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"dark_brown": (58, 36, 22), "brown": (98, 62, 34), "hazel": (120, 96, 52),
                                 "green": (88, 112, 70), "blue": (82, 118, 150), "grey": (120, 130, 134)},
        description="iris colours by name, sRGB")
    iris_probs: dict[str, float] = Field(
        default_factory=lambda: {"dark_brown": 0.3, "brown": 0.25, "hazel": 0.12, "green": 0.08,
                                 "blue": 0.18, "grey": 0.07},
        description="iris colour probabilities for light skin; dark skin shifts to brown (dark_bias)")
    dark_bias: float = Field(0.9, ge=0, le=1, description="for the darkest skin, this share gets a brown iris")
    sclera_redness: Range = Field(default_factory=lambda: Range(min=0.0, max=0.25),
                                  description="tint of the sclera towards red")

    @model_validator(mode="after")
    def _probs(self):
        if not self.iris_probs or sum(self.iris_probs.values()) <= 0 or min(self.iris_probs.values()) < 0:
            raise ValueError("eyes.iris_probs: probabilities must be non-negative and not all zero")
        unknown = set(self.iris_probs) - set(self.iris_colors)
        if unknown:
            raise ValueError(f"eyes.iris_probs names colours not in eyes.iris_colors: {sorted(unknown)}")
        return self


class SurfaceConfig(FrozenConfig):
    roughness: Range = Field(default_factory=lambda: Range(min=0.45, max=0.65),
                             description="base skin roughness (0 = mirror, 1 = matte)")
    specular: Range = Field(default_factory=lambda: Range(min=0.3, max=0.5),
                            description="base skin specular level (0..1, 0.5 ~ F0 of 4%)")
    tzone_oil: Range = Field(default_factory=lambda: Range(min=0.05, max=0.25),
                             description="how much oilier (smoother, shinier) the forehead/nose T-zone is")


class AppearanceConfig(FrozenConfig):
    texture_size: int = Field(512, ge=64, le=4096, description="albedo/roughness/specular map size in texels")
    skin: SkinConfig = Field(default_factory=SkinConfig)
    marks: MarksConfig = Field(default_factory=MarksConfig)
    hair: HairConfig = Field(default_factory=HairConfig)
    eyes: EyeConfig = Field(default_factory=EyeConfig)
    surface: SurfaceConfig = Field(default_factory=SurfaceConfig)
    # Levers that make identities tell apart (gen/lookconfig.py, gen/appearance/look.py).
    brow_shape: BrowShapeConfig = Field(default_factory=BrowShapeConfig)
    iris: IrisConfig = Field(default_factory=IrisConfig)
    periocular: PeriocularConfig = Field(default_factory=PeriocularConfig)
    lips: LipConfig = Field(default_factory=LipConfig)
    undertone: UndertoneConfig = Field(default_factory=UndertoneConfig)
    micro: MicroTextureConfig = Field(default_factory=MicroTextureConfig)
    makeup: MakeupConfig = Field(default_factory=MakeupConfig)
    cavity: CavityConfig = Field(default_factory=CavityConfig)

    @model_validator(mode="after")
    def _pow2(self):
        if self.texture_size % 16:
            raise ValueError("texture_size must be a multiple of 16")
        return self


# Plausible co-activations of ARKit blendshapes. Each group lists (name, relative weight); the
# left/right pair of a unit is driven together with a small asymmetry.
EXPRESSION_GROUPS: dict[str, list[tuple[str, float]]] = {
    "smile": [("mouthSmile_L", 1.0), ("mouthSmile_R", 1.0), ("cheekSquint_L", 0.5), ("cheekSquint_R", 0.5),
              ("eyeSquint_L", 0.3), ("eyeSquint_R", 0.3), ("mouthDimple_L", 0.3), ("mouthDimple_R", 0.3)],
    "open_mouth": [("jawOpen", 1.0), ("mouthLowerDown_L", 0.4), ("mouthLowerDown_R", 0.4),
                   ("mouthUpperUp_L", 0.2), ("mouthUpperUp_R", 0.2)],
    "blink": [("eyeBlink_L", 1.0), ("eyeBlink_R", 1.0)],
    "brow_raise": [("browInnerUp_L", 1.0), ("browInnerUp_R", 1.0), ("browOuterUp_L", 0.8),
                   ("browOuterUp_R", 0.8), ("eyeWide_L", 0.3), ("eyeWide_R", 0.3)],
    "frown": [("browDown_L", 1.0), ("browDown_R", 1.0), ("mouthFrown_L", 0.6), ("mouthFrown_R", 0.6),
              ("noseSneer_L", 0.2), ("noseSneer_R", 0.2)],
    "pucker": [("mouthPucker", 1.0), ("mouthFunnel", 0.4)],
    "squint": [("eyeSquint_L", 1.0), ("eyeSquint_R", 1.0), ("cheekSquint_L", 0.4), ("cheekSquint_R", 0.4)],
}


class ExpressionConfig(FrozenConfig):
    neutral_prob: float = Field(0.3, ge=0, le=1, description="share of images with a neutral face")
    max_active: int = Field(2, ge=1, le=len(EXPRESSION_GROUPS),
                            description="at most this many expression groups are active in one image")
    group_weights: dict[str, float] = Field(
        default_factory=lambda: {"smile": 0.35, "open_mouth": 0.2, "blink": 0.1, "brow_raise": 0.15,
                                 "frown": 0.1, "pucker": 0.05, "squint": 0.05},
        description="probability of picking each group (see gen.config.EXPRESSION_GROUPS)")
    intensity: Range = Field(default_factory=lambda: Range(min=0.2, max=0.9),
                             description="group intensity, uniform in this range, clipped to [0, 1]")
    asymmetry: float = Field(0.1, ge=0, le=0.5, description="max relative left/right difference of a unit")

    @model_validator(mode="after")
    def _groups(self):
        bad = set(self.group_weights) - set(EXPRESSION_GROUPS)
        if bad:
            raise ValueError(f"group_weights: unknown group(s) {sorted(bad)}; known: {sorted(EXPRESSION_GROUPS)}")
        if not self.group_weights or sum(self.group_weights.values()) <= 0 or min(self.group_weights.values()) < 0:
            raise ValueError("group_weights must be non-negative and not all zero")
        if not (0 <= self.intensity.min and self.intensity.max <= 1):
            raise ValueError("intensity lies in [0, 1]")
        return self


# Scalp hair styles drawn as geometry (render/hair_mesh.py); see gen/hairstyle.py for each style's shape.
HAIR_STYLES = ("short", "medium", "long", "curly", "tied_back", "receding", "bald")
GLASSES_FRAMES = ("round", "rectangular", "aviator", "rimless")
HEADWEAR_KINDS = ("cap", "beanie", "headband")


def _check_weights(name: str, weights: dict[str, float], known) -> None:
    if not weights or sum(weights.values()) <= 0 or min(weights.values()) < 0:
        raise ValueError(f"{name}: weights must be non-negative and not all zero")
    bad = set(weights) - set(known)
    if bad:
        raise ValueError(f"{name}: unknown name(s) {sorted(bad)}; known: {sorted(known)}")


def _check_colors(name: str, colors: dict[str, tuple[int, int, int]]) -> None:
    if not colors:
        raise ValueError(f"{name}: give at least one colour")
    for k, c in colors.items():
        if any(not 0 <= v <= 255 for v in c):
            raise ValueError(f"{name}.{k}: sRGB channels lie in [0, 255]")


class HairStyleConfig(FrozenConfig):
    """Scalp hair as geometry, one style per identity (all its images share it). The colour is the
    identity's hair colour (appearance.hair); an identity whose painted scalp is bare
    (appearance.hair.scalp_prob) is always 'bald'. No census of hairstyles exists to cite: the
    weights below are a rough even spread over short and long hair, tuned by eye; DigiFace-1M
    (Bae et al., WACV 2023) likewise draws hair per identity from a library of styles."""
    styles: dict[str, float] = Field(
        default_factory=lambda: {"short": 0.3, "medium": 0.2, "long": 0.18, "curly": 0.1, "tied_back": 0.1,
                                 "receding": 0.08, "bald": 0.04},
        description=f"probability of each style (known: {', '.join(HAIR_STYLES)}); 'bald' draws no hair "
                    "geometry (the painted scalp then reads as a buzz cut)")
    fringe_prob: float = Field(0.3, ge=0, le=1,
                               description="probability of a fringe (bangs) over the forehead for short, "
                                           "medium, long and curly hair")
    volume: Range = Field(default_factory=lambda: Range(min=0.75, max=1.3),
                          description="multiplies the style's hair thickness (per identity)")
    length: Range = Field(default_factory=lambda: Range(min=0.8, max=1.2),
                          description="multiplies how far the style's hair falls below the ears (per identity)")

    @model_validator(mode="after")
    def _check(self):
        _check_weights("styles", self.styles, HAIR_STYLES)
        if self.volume.min <= 0 or self.volume.max > 3:
            raise ValueError("volume: values in (0, 3]")
        if self.length.min <= 0 or self.length.max > 2:
            raise ValueError("length: values in (0, 2]")
        return self


class AccessoriesConfig(FrozenConfig):
    """Glasses, headwear and face masks. DigiFace-1M (Bae et al., WACV 2023) puts glasses on 15%,
    headwear on 15% and face-wear on 1% of its renders; we keep those shares. Glasses belong to
    the identity (frame, colour, tint are drawn once per identity) and are taken off in a share of
    its images; headwear and masks are drawn per image."""
    glasses_prob: float = Field(0.15, ge=0, le=1, description="probability that an identity owns glasses "
                                                              "(DigiFace-1M: 0.15)")
    glasses_worn: float = Field(0.85, ge=0, le=1,
                                description="share of an owner's images in which the glasses are worn")
    frames: dict[str, float] = Field(
        default_factory=lambda: {"round": 0.2, "rectangular": 0.4, "aviator": 0.15, "rimless": 0.25},
        description=f"frame shape weights (known: {', '.join(GLASSES_FRAMES)})")
    frame_colors: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"black": (20, 20, 22), "tortoise": (88, 52, 30), "metal": (150, 150, 155),
                                 "gold": (170, 140, 80), "clear": (190, 185, 175)},
        description="frame colours by name, sRGB (drawn uniformly)")
    tinted_prob: float = Field(0.15, ge=0, le=1, description="probability that an identity's lenses are tinted "
                                                             "(sunglasses) rather than clear")
    headwear_prob: float = Field(0.15, ge=0, le=1, description="probability of headwear in one image "
                                                               "(DigiFace-1M: 0.15)")
    headwear: dict[str, float] = Field(default_factory=lambda: {"cap": 0.45, "beanie": 0.35, "headband": 0.2},
                                       description=f"headwear kind weights (known: {', '.join(HEADWEAR_KINDS)})")
    headwear_colors: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"black": (25, 25, 28), "navy": (30, 40, 80), "red": (150, 30, 35),
                                 "grey": (120, 120, 125), "white": (225, 225, 220), "green": (50, 90, 55),
                                 "beige": (190, 170, 130)},
        description="headwear colours by name, sRGB (drawn uniformly per image)")
    mask_prob: float = Field(0.01, ge=0, le=1, description="probability of a surgical-style face mask in one "
                                                           "image (DigiFace-1M face-wear: 0.01)")
    mask_colors: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: {"blue": (130, 175, 210), "white": (230, 232, 235), "black": (30, 30, 32)},
        description="face mask colours by name, sRGB (drawn uniformly per image)")

    @model_validator(mode="after")
    def _check(self):
        _check_weights("frames", self.frames, GLASSES_FRAMES)
        _check_weights("headwear", self.headwear, HEADWEAR_KINDS)
        for name in ("frame_colors", "headwear_colors", "mask_colors"):
            _check_colors(name, getattr(self, name))
        return self


class AgingConfig(FrozenConfig):
    """Each identity is shown at `stages` ages spread over `span` years (gen/aging/). Curves of each
    sign against age and their sources are in gen/aging/curves.py; the strengths below scale them."""
    enabled: bool = Field(True, description="age the faces (False: every identity looks as it did before aging existed)")
    base_age: Range = Field(default_factory=lambda: Range(min=18, max=85),
                            description="years: the middle of an identity's age span is drawn uniformly here; "
                                        "the span is shifted to stay inside this range")
    span: float = Field(20.0, ge=0, le=80, description="years between an identity's youngest and oldest image")
    stages: int = Field(3, ge=1, le=8, description="ages per identity, evenly spaced over the span (its maps "
                                                   "are built once per stage)")
    stage_run: int = Field(17, ge=1, le=10_000, description="consecutive images of an identity that share a "
                                                            "stage (a worker builds maps once per run; 17 splits "
                                                            "the default 50 images into one run per stage)")
    wrinkles: float = Field(1.0, ge=0, le=3, description="wrinkle depth multiplier")
    spots: float = Field(1.0, ge=0, le=3, description="age spot (solar lentigo) count multiplier")
    tone: float = Field(1.0, ge=0, le=3, description="uneven pigmentation multiplier")
    graying: float = Field(1.0, ge=0, le=3, description="multiplies the speed of hair graying")
    recession_prob: float = Field(0.45, ge=0, le=1, description="share of identities whose hairline recedes "
                                                                "and thins with age")
    sagging: float = Field(1.0, ge=0, le=3, description="soft-tissue change (jowls, bags, folds, sagging; "
                                                        "fuller young faces) multiplier")
    # People age differently, not only at different times: how grey they end up, the colour of
    # their grey, which lines deepen most (gen/aging/traits.py OWN_WAY, as configs/age-span.yaml
    # sets it). Off by default: on the default population, where each identity spans 20 years, it
    # cost the dlib judge 0.6 points of FAR (1,000 frontal identities: 13.3% against 12.7%); on
    # age-span.yaml it keeps old people apart (docs/gen.md).
    gray_max: Range = Field(default_factory=lambda: Range(min=1.0, max=1.0),
                            description="share of an identity's hairs that ever grey, drawn uniformly per "
                                        "identity (it scales the greying curve)")
    gray_level: Range = Field(default_factory=lambda: Range(min=205, max=205),
                              description="sRGB level (0-255) of an identity's fully grey hair, drawn uniformly "
                                          "(e.g. 140-235: steel grey to white)")
    gray_yellowing: Range = Field(default_factory=lambda: Range(min=0, max=0),
                                  description="sRGB levels by which an identity's grey leans yellow (red "
                                              "+0.6x, green +0.2x, blue -x), drawn uniformly")
    wrinkle_region_sd: float = Field(0.0, ge=0, le=2, description="log-normal SD of a per-identity depth "
                                                                  "multiplier of each wrinkle region")

    @model_validator(mode="after")
    def _ages(self):
        if self.base_age.min < 0 or self.base_age.max > 110:
            raise ValueError("base_age: years in [0, 110]")
        if self.gray_max.min < 0 or self.gray_max.max > 1:
            raise ValueError("gray_max: shares in [0, 1]")
        if self.gray_level.min < 0 or self.gray_level.max > 255:
            raise ValueError("gray_level: sRGB levels in [0, 255]")
        if self.gray_yellowing.min < 0 or self.gray_yellowing.max > 40:
            raise ValueError("gray_yellowing: sRGB levels in [0, 40]")
        return self


class GenConfig(FrozenConfig):
    model: str = Field("ict-facekit", description="face model name (see `facesynth models list`)")
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    local_shape: LocalShapeConfig = Field(default_factory=LocalShapeConfig)
    sex: SexConfig = Field(default_factory=SexConfig)
    appearance: AppearanceConfig = Field(default_factory=AppearanceConfig)
    expression: ExpressionConfig = Field(default_factory=ExpressionConfig)
    aging: AgingConfig = Field(default_factory=AgingConfig)
    hair_style: HairStyleConfig = Field(default_factory=HairStyleConfig)
    accessories: AccessoriesConfig = Field(default_factory=AccessoriesConfig)


def load_gen_config(path) -> GenConfig:
    """A GenConfig from YAML: either the gen section itself or a job file with a `gen:` key."""
    from core.config import parse_model, read_yaml
    data = read_yaml(path)
    if isinstance(data.get("gen"), dict):
        return parse_model(GenConfig, data["gen"], f"{path}: gen")
    return parse_model(GenConfig, data, str(path))
