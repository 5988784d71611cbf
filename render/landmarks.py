"""Landmark projection and the 68 -> 5 point reduction.

Pixel coordinates follow OpenCV: the centre of pixel column i is x = i (what cv2.warpAffine and
the ArcFace template assume). GL's window coordinates put it at i + 0.5; `project` converts.
"""
from __future__ import annotations

import numpy as np

# Multi-PIE 68-point indices (0-based): 36-41 the subject's right eye (image left), 42-47 the
# left eye, 30 the nose tip, 48 / 54 the mouth corners.
RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH_RIGHT, MOUTH_LEFT = slice(36, 42), slice(42, 48), 30, 48, 54


def five_from_68(p68: np.ndarray) -> np.ndarray:
    """ArcFace's 5 points in its template order (as seen in the image: left eye, right eye, nose,
    left mouth corner, right mouth corner) from 68 points, 2D or 3D."""
    return np.stack([p68[RIGHT_EYE].mean(0), p68[LEFT_EYE].mean(0), p68[NOSE_TIP],
                     p68[MOUTH_RIGHT], p68[MOUTH_LEFT]])


def project(points: np.ndarray, camera_position: np.ndarray, yfov: float, size: int) -> np.ndarray:
    """World points (N,3) -> pixel coordinates (N,2) for a camera looking along -z (OpenCV convention)."""
    p = points - camera_position
    f = 0.5 * size / np.tan(0.5 * yfov)  # focal length in pixels
    z = -p[:, 2]
    x = size / 2 + f * p[:, 0] / z - 0.5
    y = size / 2 - f * p[:, 1] / z - 0.5
    return np.stack([x, y], 1)
