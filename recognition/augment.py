"""Image augmentation for face recognition training, on uint8 RGB arrays with an explicit rng.

The default set and probabilities are DigiFace-1M's (Bae et al., WACV 2023, Sec. 4.2): blur,
noise, motion blur, colour jitter, grayscale, down-and-up sampling, JPEG, a random warp on
every image, and flip. Magnitudes are ours (mild, for aligned 112x112 crops).
"""
from __future__ import annotations

import cv2
import numpy as np

from recognition.config import AugmentConfig


def warp(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random perspective warp: each corner moves up to `strength` of the side."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-strength, strength, size=(4, 2)).astype(np.float32) * np.float32([w, h])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def gaussian_blur(img, rng):
    return cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.5, 1.5))


def gaussian_noise(img, rng):
    noise = rng.normal(0.0, rng.uniform(3.0, 12.0), size=img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def motion_blur(img, rng):
    k = int(rng.integers(3, 8))
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def brightness(img, rng):
    return np.clip(img.astype(np.float32) + rng.uniform(-0.2, 0.2) * 255, 0, 255).astype(np.uint8)


def contrast(img, rng):
    f = img.astype(np.float32)
    mean = f.mean()
    return np.clip((f - mean) * rng.uniform(0.7, 1.3) + mean, 0, 255).astype(np.uint8)


def hue(img, rng):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    shift = int(rng.integers(-9, 10))  # OpenCV hue is 0..179: about +-18 degrees
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def saturation(img, rng):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.4), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def grayscale(img, rng):
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=2)


def down_up(img, rng):
    h, w = img.shape[:2]
    f = rng.uniform(2.0, 4.0)
    small = cv2.resize(img, (max(8, int(w / f)), max(8, int(h / f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(img, rng):
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else img


# Order: geometry first, then photometric, then degradations (as a camera would add them).
_OPS = (("brightness", brightness), ("contrast", contrast), ("hue", hue), ("saturation", saturation),
        ("grayscale", grayscale), ("blur", gaussian_blur), ("motion_blur", motion_blur),
        ("noise", gaussian_noise), ("downup", down_up), ("jpeg", jpeg))


def augment(img: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Return an augmented copy of an HxWx3 uint8 RGB image. Same rng state, same output."""
    if not cfg.enabled:
        return img
    # Draw every coin up front so the stream of draws does not depend on which ops fire.
    coins = rng.random(2 + len(_OPS))
    out = img
    if coins[0] < cfg.flip:
        out = out[:, ::-1]
    if coins[1] < cfg.warp and cfg.warp_strength > 0:
        out = warp(np.ascontiguousarray(out), rng, cfg.warp_strength)
    for coin, (name, op) in zip(coins[2:], _OPS):
        if coin < getattr(cfg, name):
            out = op(np.ascontiguousarray(out), rng)
    return np.ascontiguousarray(out)
