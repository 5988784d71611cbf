"""ArcFace alignment: a similarity transform that maps the 5 points onto the standard template.

At large yaw (or pitch) the far eye and mouth corner are hidden and their projections crowd
towards the near side, so the least-squares fit of the 5 projected points shrinks the face's
extent and "over-zooms" the crop. We therefore blend, by the head's off-axis angle, from the
standard fit (below 35 deg) to a pose-robust one (above 60 deg) whose scale and rotation come
from the *frontalised* points -- the same 3D points with yaw and pitch undone (roll kept), placed
where the head is and projected with the same camera -- and whose centre is the projection of the
points' 3D centroid. At yaw 0 both fits coincide, so nothing changes for frontal faces.
"""
from __future__ import annotations

import cv2
import numpy as np

# insightface arcface_torch / recognition "arcface_dst": 112x112 crop, OpenCV pixel coordinates.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)
BLEND_START_DEG, BLEND_END_DEG = 35.0, 60.0


def template(size: int = 112) -> np.ndarray:
    return ARCFACE_TEMPLATE * (size / 112.0)


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Least-squares similarity dst ~ s R(theta) src + t (Umeyama 1991, no reflection).
    Returns (scale, theta radians, t)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sgn = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sgn[1] = -1
    r = u @ np.diag(sgn) @ vt
    var = (a ** 2).sum() / len(src)
    s = float((d * sgn).sum() / max(var, 1e-12))
    theta = float(np.arctan2(r[1, 0], r[0, 0]))
    return s, theta, mu_d - s * r @ mu_s


def similarity(s: float, theta: float, t: np.ndarray) -> np.ndarray:
    c, n = np.cos(theta) * s, np.sin(theta) * s
    return np.array([[c, -n, t[0]], [n, c, t[1]]], np.float64)


def blend_weight(off_axis_deg: float) -> float:
    x = np.clip((off_axis_deg - BLEND_START_DEG) / (BLEND_END_DEG - BLEND_START_DEG), 0.0, 1.0)
    return float(x * x * (3 - 2 * x))  # smoothstep


def alignment_matrix(pts5: np.ndarray, frontal5: np.ndarray, centre3d_px: np.ndarray, off_axis_deg: float,
                     size: int = 112) -> np.ndarray:
    """2x3 frame -> crop matrix. pts5: projected 5 points; frontal5: projected frontalised points;
    centre3d_px: projection of the 5 points' 3D centroid; off_axis_deg: angle between the face's
    forward direction and the direction to the camera."""
    dst = template(size)
    s_a, th_a, _ = umeyama(pts5, dst)
    w = blend_weight(off_axis_deg)
    if w == 0.0:
        s, th, anchor = s_a, th_a, pts5.mean(0)
    else:
        s_f, th_f, _ = umeyama(frontal5, dst)
        s = float(np.exp((1 - w) * np.log(s_a) + w * np.log(s_f)))
        th = th_a + w * float(np.angle(np.exp(1j * (th_f - th_a))))
        anchor = (1 - w) * pts5.mean(0) + w * centre3d_px
    c, n = np.cos(th) * s, np.sin(th) * s
    rs = np.array([[c, -n], [n, c]])
    return similarity(s, th, dst.mean(0) - rs @ anchor)


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def warp(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
