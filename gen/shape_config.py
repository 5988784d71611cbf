"""Config of the local feature proportions (gen/anthropometry.py); part of GenConfig as `local_shape`."""
from __future__ import annotations

from pydantic import Field

from core.config import FrozenConfig


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
