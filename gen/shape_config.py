"""Config of an identity's shape: the face model's global modes (GenConfig.identity, gen/identity.py)
and the local feature proportions (GenConfig.local_shape, gen/anthropometry.py)."""
from __future__ import annotations

from pydantic import Field

from core.config import FrozenConfig


class IdentityConfig(FrozenConfig):
    psi: float = Field(2.0, gt=0, le=5,
                       description="truncation: shape coefficients ~ N(0, I) are redrawn where |c_k| > psi "
                                   "(in units of each mode's std)")
    n_modes: int | None = Field(None, ge=1, description="use only the first n identity modes (None: all)")
    min_distance: float = Field(0.0, ge=0,
                                description="reject a candidate closer than this to any earlier identity of the "
                                            "dataset (Euclidean distance between coefficient vectors in std units; "
                                            "0 turns rejection off). Two N(0,I) draws of 100 modes lie ~14 apart.")
    max_tries: int = Field(64, ge=1, le=10_000,
                           description="candidates tried per identity before giving up with an error")
    spread: float = Field(1.5, gt=0, le=3,
                          description="multiplier on the (truncated) shape coefficients: 1 keeps the face "
                                      "model's own variance (feature-width CVs then match Farkas' adults), "
                                      ">1 widens it. 1.5: the dlib judge's impostor FAR on 100 frontal "
                                      "identities fell from 38% to 29% and uniqueness rose from 0.17 to 0.28")
    judge_weighting: float = Field(0.0, ge=0, le=2,
                                   description="give shape variance to the modes a recogniser trained on real "
                                               "faces reads: mode k's coefficient is multiplied by s_k^p (s_k: "
                                               "the dlib judge's embedding change per std of mode k, measured by "
                                               "render/judges/mode_sensitivity.py and kept in gen/data/), "
                                               "normalised to RMS 1 so the total shape variance is unchanged. "
                                               "0 (default) weighs every mode alike; models without a "
                                               "measurement are sampled unweighted. 0.5: on 1,000 x 3 frontal "
                                               "identities the judge's FAR@0.6 fell from 13.1% to 12.3% and "
                                               "uniqueness rose from 0.556 to 0.612, but the MTCNN judge's "
                                               "detection at |yaw| <= 45 fell from 98.0% to 95.2% (docs/gen.md)")


def _farkas(sd: float, unit: str, what: str):
    return Field(sd, ge=0, le=10 * sd if sd else 1, description=f"SD of {what} ({unit})")


class LocalShapeConfig(FrozenConfig):
    """Feature-by-feature proportions on top of the global modes (gen/anthropometry.py). Each SD is
    of the order of the adult SD in Farkas (1994) and Farkas et al. (2005); see that module."""
    enabled: bool = Field(True, description="apply local feature variation")
    psi: float = Field(2.0, gt=0, le=5, description="truncation of each feature's N(0, 1) draw")
    scale: float = Field(1.0, ge=0, le=4, description="multiplier on every SD below")
    eye_size: float = _farkas(0.05, "relative", "eye size (fissure CV ~5-6%)")
    eye_spacing: float = _farkas(0.12, "cm per eye", "eye position along the face (intercanthal SD ~2.5 mm)")
    canthal_tilt: float = _farkas(2.5, "degrees", "eye-fissure inclination")
    nose_width: float = _farkas(0.08, "relative", "nose width (CV ~8%)")
    nose_length: float = _farkas(0.07, "relative", "nose length (CV ~7%)")
    nose_bridge: float = _farkas(0.15, "cm", "nasal bridge height")
    nose_tip: float = _farkas(0.15, "cm", "nasal tip projection")
    mouth_width: float = _farkas(0.07, "relative", "mouth width (CV ~7%)")
    lip_fullness: float = _farkas(0.12, "relative", "lip heights (CV 10-15%)")
    jaw_width: float = _farkas(0.3, "cm per side", "mandible width (SD ~6 mm)")
    chin_length: float = _farkas(0.07, "relative", "lower face height (CV ~7%)")
    chin_projection: float = _farkas(0.2, "cm", "chin projection")
    cheekbones: float = _farkas(0.2, "cm per side", "zygomatic width (CV ~4%)")
    forehead_height: float = _farkas(0.4, "cm", "forehead height (CV ~8%)")
    ear_size: float = _farkas(0.06, "relative", "ear length (CV ~6%)")
    brow_ridge: float = _farkas(0.15, "cm", "brow ridge projection (its sex difference is in gen/sex.py)")
    eye_opening: float = _farkas(0.12, "relative", "eye fissure height, lids only (CV ~12%)")
    brow_height: float = _farkas(0.2, "cm", "brow height above the eye")
