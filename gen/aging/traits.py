"""What aging does to one identity: its traits (drawn once, identity stream) and its look at an age.

Traits fix *where* and *how prone*: the wrinkle pattern, age-spot sites and onsets, the age its
hair starts to grey, whether and how its hairline recedes, how strongly its soft tissue sags.
`look(age)` turns them into the numbers the appearance and the mesh need at that age, so the
same person's wrinkles deepen and its spots appear where they were always going to.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.rng import stream
from gen.aging import curves
from gen.aging.wrinkles import Line, draw_lines
from gen.config import AgingConfig

STREAM_AGING = 21  # core.rng tag: per identity aging traits
STREAM_AGING_VARIETY = 22  # core.rng tag: per identity grey and wrinkle-region traits (their own
# stream, so adding them left the traits of stream 21 as they were)
# Each person ageing their own way (configs/age-span.yaml turns it on; the defaults give everyone one
# grey and one balance of wrinkles): a share of hairs that ever grey, a grey of one's own, a depth
# multiplier per wrinkle region. The ranges are our choice, not measured figures (docs/gen.md).
OWN_WAY = {"gray_max": {"min": 0.45, "max": 1.0}, "gray_level": {"min": 140, "max": 235},
           "gray_yellowing": {"min": 0, "max": 10}, "wrinkle_region_sd": 0.7}
SPOT_MEAN = 28.0  # mean count of age spots a light-skinned face reaches by ~85 (aging.spots scales it)
N_SAG = 5  # soft-tissue components, see gen/aging/shape.py


@dataclass(frozen=True)
class AgingTraits:
    seed: int
    index: int
    darkness: float  # 0 lightest .. 1 darkest skin (as in gen/appearance/attributes.py)
    wrinkle_gain: float
    lines: list[Line]
    spot_u: np.ndarray  # (K,) in [0,1): which skin site
    spot_onset: np.ndarray  # (K,) years
    spot_radius: np.ndarray  # (K,) texels at 512² when fully grown
    spot_gain: np.ndarray  # (K,) melanin log-gain when fully grown
    tone_cells: np.ndarray  # (16,16) normals: the pattern of uneven pigmentation
    gray_onset: float
    gray_speed: float
    recedes: bool
    recession_onset: float
    recession_years: float
    recession_max: float  # hairline units (+1 ~ 2 cm)
    thinning_max: float
    sag_gain: np.ndarray  # (N_SAG,)
    gray_max: float  # share of its hairs that ever grey
    grey_srgb: tuple[float, float, float]  # colour of its fully grey hair
    region_gain: dict[str, float]  # wrinkle depth multiplier per region (curves.WRINKLE_AGES)


@dataclass(frozen=True)
class AgeLook:
    """An identity at one age."""
    age: float
    traits: AgingTraits
    wrinkles: dict[str, float]  # region severity in [0, 1]
    gray_scalp: float
    gray_brows: float
    gray_beard: float
    hairline_shift: float
    scalp_density: float
    lip_red: float  # multiplies the lips' extra blood
    tone: float  # uneven pigmentation amplitude (log melanin gain std)
    surface: tuple[float, float]  # (roughness, specular) shifts: drier, less elastic skin
    sag: float
    fullness: float


def draw_traits(cfg: AgingConfig, seed: int, index: int, darkness: float, lm3: np.ndarray,
                recession_scale: float = 1.0) -> AgingTraits:
    """recession_scale: the sex's multiplier on cfg.recession_prob (gen/sex.py)."""
    rng = stream(seed, STREAM_AGING, index)
    lines = draw_lines(rng, np.asarray(lm3, np.float64))
    k = int(rng.poisson(SPOT_MEAN * cfg.spots * (1 - darkness) ** 1.5 + 1.0))
    lo, hi = curves.SPOT_AGES
    recedes = bool(rng.random() < min(1.0, cfg.recession_prob * recession_scale))
    var = stream(seed, STREAM_AGING_VARIETY, index)
    level, yellow, gray_max = cfg.gray_level.draw(var), cfg.gray_yellowing.draw(var), cfg.gray_max.draw(var)
    region = var.standard_normal(len(curves.WRINKLE_AGES))
    return AgingTraits(
        seed=seed, index=index, darkness=darkness, wrinkle_gain=float(np.exp(rng.normal(0, 0.25))) * cfg.wrinkles,
        lines=lines, spot_u=rng.random(k), spot_onset=rng.uniform(lo, hi, k) + 8 * darkness,
        spot_radius=rng.uniform(2.0, 5.0, k), spot_gain=rng.uniform(0.35, 0.9, k),
        tone_cells=rng.standard_normal((16, 16)).astype(np.float32),
        gray_onset=float(rng.normal(curves.GRAY_ONSET_MEAN + curves.GRAY_DARK_DELAY * darkness, curves.GRAY_ONSET_SD)),
        gray_speed=float(np.exp(rng.normal(0, 0.2))) * cfg.graying,
        recedes=recedes, recession_onset=float(rng.uniform(20, 45)), recession_years=float(rng.uniform(20, 40)),
        recession_max=float(rng.uniform(0.6, 1.6)) if recedes else 0.2,
        thinning_max=float(rng.uniform(0.15, 0.55)) if recedes else 0.1,
        sag_gain=np.exp(rng.normal(0, 0.25, N_SAG)) * cfg.sagging,
        gray_max=gray_max, grey_srgb=(level + 0.6 * yellow, level + 0.2 * yellow, level - yellow),
        region_gain={r: float(np.exp(cfg.wrinkle_region_sd * z)) for r, z in zip(curves.WRINKLE_AGES, region)})


def look(cfg: AgingConfig, t: AgingTraits, age: float) -> AgeLook:
    rec = curves.ramp(age, t.recession_onset, t.recession_onset + t.recession_years) if t.recedes \
        else curves.ramp(age, 35.0, 85.0)  # a mild "maturing" hairline for everyone
    ramp = curves.ramp
    aged = ramp(age, 30.0, 80.0)
    gray = curves.gray_share(age, t.gray_onset, t.gray_speed) * t.gray_max  # scalp and beard alike
    return AgeLook(
        age=age, traits=t,
        wrinkles={r: min(1.0, s * t.region_gain[r]) for r, s in curves.wrinkle_severity(age, t.darkness).items()},
        # Brows grey years after the scalp and rarely all the way (our choice, no figure to cite).
        gray_scalp=gray, gray_beard=gray,
        gray_brows=curves.gray_share(age, t.gray_onset + 10, t.gray_speed) * 0.8 * t.gray_max,
        hairline_shift=t.recession_max * rec, scalp_density=1.0 - t.thinning_max * rec,
        lip_red=1.0 - 0.35 * ramp(age, *curves.LIP_AGES),
        tone=0.12 * cfg.tone * ramp(age, *curves.TONE_AGES) * (1 - 0.5 * t.darkness),
        surface=(0.08 * aged, -0.06 * aged), sag=curves.sag(age), fullness=curves.fullness(age))
