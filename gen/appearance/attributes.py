"""Every per-identity appearance choice (JSON-able), drawn before any texel is touched."""
from __future__ import annotations

import numpy as np

from core.rng import weighted_choice
from gen import skin
from gen.appearance.look import sample_look
from gen.appearance.paint import srgb8
from gen.config import AppearanceConfig
from gen.sex import SexLook

_DARK_HAIR = ("black", "dark_brown")
_BROWN_IRIS = ("dark_brown", "brown")
_MEL_LO, _MEL_HI = np.log(0.013), np.log(0.43)


def _biased(probs: dict[str, float], favoured: tuple[str, ...], share: float) -> dict[str, float]:
    """Move `share` of the probability mass onto the `favoured` names (by their own weights)."""
    fav = {k: v for k, v in probs.items() if k in favoured}
    tot, ftot = sum(probs.values()), sum(fav.values())
    if ftot <= 0 or share <= 0:
        return dict(probs)
    return {k: (1 - share) * v / tot + (share * fav.get(k, 0.0) / ftot) for k, v in probs.items()}

def darkness(melanin: float) -> float:
    """0 for the lightest skin of the default melanin range, 1 for the darkest (log scale)."""
    return float(np.clip((np.log(melanin) - _MEL_LO) / (_MEL_HI - _MEL_LO), 0, 1))


_ARCHED = ("soft_arch", "high_arch", "rounded")


def sample_attributes(cfg: AppearanceConfig, rng: np.random.Generator, sex: str | None = None,
                      sexlook: SexLook | None = None) -> dict:
    """All per-identity appearance choices (JSON-able), drawn before any texel is touched. `sex`
    and its multipliers `sexlook` (gen/sex.py) shift the priors; None leaves them as configured."""
    s, h, e, mk, sf = cfg.skin, cfg.hair, cfg.eyes, cfg.marks, cfg.surface
    sl = sexlook or SexLook()
    w = np.asarray(s.melanin_weights, np.float64)
    g = s.melanin_groups[int(rng.choice(len(w), p=w / w.sum()))]
    melanin = float(np.exp(rng.uniform(np.log(g.min), np.log(g.max)))) * sl.melanin
    blood = float(np.exp(rng.uniform(np.log(s.blood.min), np.log(s.blood.max)))) * sl.blood
    oxy = s.oxygenation.draw(rng)
    base = skin.linear_rgb(melanin, blood, oxy)
    lab = skin.lab(base)
    dark = darkness(melanin)
    hair_name = weighted_choice(rng, _biased(h.color_probs, _DARK_HAIR, h.dark_bias * dark))
    iris_name = weighted_choice(rng, _biased(e.iris_probs, _BROWN_IRIS, e.dark_bias * dark))
    facial_p = min(1.0, h.facial_hair_prob * sl.facial_hair)
    facial = weighted_choice(rng, h.facial_hair_styles) if rng.random() < facial_p else "none"
    brow_styles = {k: v * (sl.brow_arch if k in _ARCHED else 1.0) for k, v in h.brow_styles.items()}
    has_freckles = rng.random() < mk.freckle_prob * (1 - dark) ** 2
    attrs = {
        "skin": {"melanin": melanin, "blood": blood, "oxygenation": oxy,
                 "lab": [round(float(x), 2) for x in lab], "ita_deg": round(skin.ita_degrees(lab), 2),
                 "srgb": list(srgb8(base)),
                 "cheek_blood": s.cheek_blood.draw(rng), "lip_blood": s.lip_blood.draw(rng) * sl.lip_blood,
                 "eye_melanin": s.eye_melanin.draw(rng)},
        "hair": {"color": hair_name, "srgb": list(h.colors[hair_name]),
                 "scalp": bool(rng.random() < 1 - min(1.0, (1 - h.scalp_prob) * sl.bare_scalp)),
                 "hairline": h.hairline.draw(rng)},
        "brows": {"style": weighted_choice(rng, brow_styles),
                  "thickness": h.brow_thickness.draw(rng) * sl.brow_thickness,
                  "density": h.brow_density.draw(rng), "darken": float(rng.uniform(0.6, 1.0))},
        "facial_hair": facial,
        "eyes": {"iris": iris_name, "srgb": list(e.iris_colors[iris_name]),
                 "sclera_redness": e.sclera_redness.draw(rng)},
        "marks": {"freckles": int(rng.integers(mk.freckles.min, mk.freckles.max + 1)) if has_freckles else 0,
                  "moles": int(rng.poisson(mk.mole_mean)), "blemishes": int(rng.poisson(mk.blemish_mean))},
        "surface": {"roughness": sf.roughness.draw(rng), "specular": sf.specular.draw(rng),
                    "tzone_oil": sf.tzone_oil.draw(rng)},
        "teeth_yellow": float(rng.uniform(0.0, 0.35)),
    }
    if sex is not None:
        attrs["sex"] = sex
    sample_look(cfg, rng, attrs, dark, facial_p, sl.makeup)  # the levers: own streams, nothing drawn from rng
    return attrs
