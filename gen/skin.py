"""Skin albedo from melanin and hemoglobin: a small two-layer spectral model.

Epidermis: melanin absorbs, light crosses it twice (in and out): T_epi(λ)^2.
Dermis: blood and a bloodless baseline absorb, collagen scatters; its diffuse reflectance
comes from the dipole approximation (Jensen et al. 2001, "A practical model for subsurface
light transport", eq. for total diffuse reflectance R_d(α')).
The spectrum (400-700 nm) is integrated against the CIE 1931 observer under D65-like flat
white and converted to linear sRGB. This is the same idea as the melanin/hemoglobin maps of
Jimenez et al. 2010 ("A practical appearance model for dynamic facial color") and
Donner & Jensen 2006, far simpler (no layered multipole), but it produces skin colours
inside the measured range (see tests: CIELAB L* ~ 30-72, ITA from "very light" to "dark").
"""
from __future__ import annotations

import numpy as np

LAMBDA = np.arange(400.0, 701.0, 10.0)

# Molar extinction of oxy- and deoxy-hemoglobin [cm^-1 / (mol/L)] at 400..700 nm every 10 nm,
# from Scott Prahl's compilation (omlc.org/spectra/hemoglobin, Gratzer and Kollias data).
_EPS_HBO2 = np.array([266232, 466840, 480360, 246072, 102580, 62816, 44480, 33209.2, 26629.2, 23684.4,
                      20932.8, 20035.2, 24202.4, 39956.8, 53236, 43016, 32613.2, 44496, 50104, 14400.8,
                      3200, 1506, 942, 610, 442, 368, 319.6, 294, 277.6, 276, 290], np.float64)
_EPS_HB = np.array([223296, 303956, 407560, 528600, 413280, 103292, 23388.8, 16156.4, 14550, 16684,
                    20862, 25773.6, 31589.6, 39036.4, 46592, 53412, 53788, 45072, 37020, 28324.4,
                    14677.2, 9443.6, 6509.6, 5148.8, 4345.2, 3750.12, 3226.56, 2795.12, 2407.92, 2051.96,
                    1794.28], np.float64)
# Whole blood: 150 g/L hemoglobin, 64,500 g/mol (Prahl); μa = ln(10) ε c.
_HB_MOLAR = 150.0 / 64500.0

# Eumelanin inside melanosomes: μa = 6.6e11 λ^-3.33 cm^-1; bloodless dermis baseline
# μa = 0.244 + 85.3 exp(-(λ-154)/66.2) cm^-1; dermal reduced scattering
# μs' = 2e5 λ^-1.5 + 2e12 λ^-4 cm^-1 (all: S. Jacques, "Skin optics", OMLC News 1998).
_MU_MEL = 6.6e11 * LAMBDA ** -3.33
_MU_BASE = 0.244 + 85.3 * np.exp(-(LAMBDA - 154.0) / 66.2)
_MU_S = 2e5 * LAMBDA ** -1.5 + 2e12 * LAMBDA ** -4.0
EPIDERMIS_CM = 0.006  # ~60 µm epidermis, a typical facial value
# Epidermal carotenoids (undertone): beta-carotene's absorption band, three lobes at ~425, 452
# and 480 nm and nothing past ~520 nm (shape of the spectrum in Prahl's PhotochemCAD compilation,
# omlc.org/spectra/PhotochemCAD, beta-carotene), as a Gaussian fit scaled to a peak of 1.
_CAROTENE = (0.7 * np.exp(-0.5 * ((LAMBDA - 425) / 14) ** 2) + np.exp(-0.5 * ((LAMBDA - 452) / 15) ** 2)
             + 0.85 * np.exp(-0.5 * ((LAMBDA - 480) / 13) ** 2))
_CAROTENE /= _CAROTENE.max()
# Melanin sits in clumped melanosomes, so part of the light misses it (the "sieve effect");
# without this the model turns dark skin orange (b* > 30). SIEVE and the small melanin-free
# surface reflectance SURFACE are our calibration: with them the darkest group lands at
# L* ~ 28-33 and the lightest at L* ~ 62-72 (tests/test_gen_appearance.py checks the span).
SIEVE = 0.10
SURFACE = 0.01
# Refractive index 1.4: F_dr from Egan & Hilgeman's fit as used by Jensen et al. 2001.
_ETA = 1.4
_FDR = -1.440 / _ETA ** 2 + 0.710 / _ETA + 0.668 + 0.0636 * _ETA
_A = (1 + _FDR) / (1 - _FDR)


def _g(lam, mu, s1, s2):
    s = np.where(lam < mu, s1, s2)
    return np.exp(-0.5 * ((lam - mu) / s) ** 2)


def _cmf(lam):
    """CIE 1931 2° colour matching functions, multi-lobe fit of Wyman, Sloan & Shirley 2013 (JCGT 2(2))."""
    x = 1.056 * _g(lam, 599.8, 37.9, 31.0) + 0.362 * _g(lam, 442.0, 16.0, 26.7) - 0.065 * _g(lam, 501.1, 20.4, 26.2)
    y = 0.821 * _g(lam, 568.8, 46.9, 40.5) + 0.286 * _g(lam, 530.9, 16.3, 31.1)
    z = 1.217 * _g(lam, 437.0, 11.8, 36.0) + 0.681 * _g(lam, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], 1)


_CMF = _cmf(LAMBDA)
_CMF_N = _CMF / _CMF[:, 1].sum()  # flat white maps to Y = 1
# XYZ -> linear sRGB (IEC 61966-2-1), D65 white.
_XYZ2RGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])
# Flat (equal-energy) white is not D65: adapt so a perfect white reflector gives RGB (1,1,1).
_WHITE = _XYZ2RGB @ _CMF_N.sum(0)


def reflectance(melanin: float, blood: float, oxygenation: float = 0.75, carotene: float = 0.0) -> np.ndarray:
    """Diffuse reflectance spectrum (len(LAMBDA),) for the given volume fractions; `carotene` is
    the epidermal carotenoid optical density at its peak, one pass (0: none)."""
    mu_blood = np.log(10) * _HB_MOLAR * (oxygenation * _EPS_HBO2 + (1 - oxygenation) * _EPS_HB)
    mu_a = blood * mu_blood + (1 - blood) * _MU_BASE
    alpha = _MU_S / (_MU_S + mu_a)
    s = np.sqrt(3 * (1 - alpha))
    r_derm = alpha / 2 * (1 + np.exp(-4 / 3 * _A * s)) * np.exp(-s)
    t_epi = (1 - SIEVE) * np.exp(-melanin * _MU_MEL * EPIDERMIS_CM) + SIEVE
    if carotene:
        t_epi = t_epi * 10.0 ** (-carotene * _CAROTENE)  # dissolved, not clumped: no sieve
    return t_epi ** 2 * r_derm + SURFACE


def linear_rgb(melanin: float, blood: float, oxygenation: float = 0.75, carotene: float = 0.0) -> np.ndarray:
    """Linear sRGB albedo (3,) of skin with these chromophores."""
    xyz = reflectance(melanin, blood, oxygenation, carotene) @ _CMF_N
    return np.clip((_XYZ2RGB @ xyz) / _WHITE, 1e-4, 1.0)


def srgb_encode(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def srgb_decode(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, np.float64)
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def lab(lin_rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of a linear sRGB colour."""
    m = np.linalg.inv(_XYZ2RGB)
    xyz = m @ np.asarray(lin_rgb, np.float64)
    wn = m @ np.ones(3)
    t = xyz / wn
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ita_degrees(lab_: np.ndarray) -> float:
    """Individual typology angle, ITA° = atan((L*-50)/b*) (Chardon et al. 1991). Categories (Del Bino
    et al. 2006): >55 very light, 41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown, <-30 dark."""
    return float(np.degrees(np.arctan2(lab_[0] - 50.0, lab_[2])))


def to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear float32 image -> sRGB uint8 with OpenCV's vectorised pow. Uses the power segment of
    the sRGB curve everywhere: below 10/255 it differs from IEC 61966-2-1 by at most 3 levels."""
    import cv2
    x = np.clip(lin, 0.00083, 1.0, dtype=np.float32)  # 1.055 x^(1/2.4) - 0.055 >= 0 from here up
    y = cv2.pow(x, 1 / 2.4)
    return cv2.convertScaleAbs(y, alpha=255 * 1.055, beta=-255 * 0.055)
