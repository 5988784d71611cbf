"""Image degradations of the aligned crop: blur, down/up-scaling, colour jitter, gamma, sensor
noise, JPEG. Each fires with its own probability; the rng makes the result a pure function."""
from __future__ import annotations

import cv2
import numpy as np

from render.config import DegradationConfig


def degrade(img: np.ndarray, cfg: DegradationConfig, rng) -> tuple[np.ndarray, list[str]]:
    """Returns the degraded RGB uint8 image and the names of the degradations applied."""
    applied = []
    # Draw every decision up front so the stream layout does not depend on which ones fire.
    fire = rng.random(6)
    params = rng.random(8)
    h, w = img.shape[:2]
    out = img
    if fire[0] < cfg.blur.prob:
        s = cfg.blur.sigma.at(params[0])
        out = cv2.GaussianBlur(out, (0, 0), s)
        applied.append("blur")
    if fire[1] < cfg.downscale.prob:
        k = cfg.downscale.factor.at(params[1])
        small = cv2.resize(out, (max(4, round(w * k)), max(4, round(h * k))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        applied.append("downscale")
    f = None
    if fire[2] < cfg.color_jitter.prob:
        c = cfg.color_jitter
        f = out.astype(np.float32)
        gain = 1 + c.brightness * (2 * params[2] - 1)
        contrast = 1 + c.contrast * (2 * params[3] - 1)
        sat = 1 + c.saturation * (2 * params[4] - 1)
        wb = 1 + c.hue * (2 * rng.random(3) - 1)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + sat * (f - grey)
        f = (f - f.mean()) * contrast + f.mean()
        f = f * gain * wb.astype(np.float32)
        applied.append("color_jitter")
    if fire[3] < cfg.gamma.prob:
        g = cfg.gamma.gamma.at(params[5])
        f = out.astype(np.float32) if f is None else f
        f = 255 * (np.clip(f, 0, 255) / 255) ** g
        applied.append("gamma")
    if fire[4] < cfg.noise.prob:
        s = cfg.noise.std.at(params[6])
        f = out.astype(np.float32) if f is None else f
        f = f + rng.normal(0, s, f.shape).astype(np.float32)
        applied.append("noise")
    if f is not None:
        out = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    if fire[5] < cfg.jpeg.prob:
        q = int(round(cfg.jpeg.quality.at(params[7])))
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        applied.append("jpeg")
    return np.ascontiguousarray(out), applied
