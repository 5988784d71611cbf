"""Pure scene sampling: everything random about one image, from (seed, identity, image, config).

Each aspect (pose, camera, lights, expression, background, degradations) has its own counter-based
stream SeedSequence([seed, tag, identity, image]), so changing how one aspect is drawn never shifts
another, and image j of identity i never depends on what else is rendered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from core.rng import stream, weighted_choice
from render.config import Dist, LightingConfig, RenderConfig

# Stream tags (arbitrary distinct constants; "render" stage = 2xx).
STREAM_POSE, STREAM_CAMERA, STREAM_LIGHTS, STREAM_BACKGROUND, STREAM_DEGRADE = 201, 202, 203, 205, 206


def draw(d: Dist, rng: np.random.Generator, size: int | None = None):
    """One value (or `size`) from a Dist; the truncated normal by inverse CDF (one uniform per value)."""
    u = rng.random(size)
    if d.kind == "uniform" or (d.kind == "normal" and d.std == 0):
        if d.kind == "normal":
            return np.full(size, d.mean) if size else float(d.mean)
        x = d.min + (d.max - d.min) * u
    else:
        a, b = ndtr((d.min - d.mean) / d.std), ndtr((d.max - d.mean) / d.std)
        x = d.mean + d.std * ndtri(a + (b - a) * u)
        x = np.clip(x, d.min, d.max)
    return x if size else float(x)


@dataclass(frozen=True)
class Light:
    kind: str  # directional | point | spot
    direction: tuple[float, float, float]  # unit vector FROM the face TOWARDS the light, camera frame
    color: tuple[float, float, float]  # linear RGB, max channel 1
    intensity: float  # irradiance at the face
    temperature: float  # kelvin
    distance: float  # cm (point/spot); 0 for directional
    cone_deg: float  # spot outer cone half-angle; 0 otherwise

    def record(self) -> dict:
        return {"kind": self.kind, "direction": [round(float(c), 5) for c in self.direction],
                "color": [round(float(c), 5) for c in self.color], "intensity": float(self.intensity),
                "temperature": float(self.temperature), "distance": float(self.distance),
                "cone_deg": float(self.cone_deg)}


@dataclass(frozen=True)
class Scene:
    seed: int
    identity: int
    image: int
    yaw: float
    pitch: float
    roll: float
    distance: float  # cm, camera to face centre
    zoom: float  # face size relative to the template framing
    shift: tuple[float, float, float]  # look-at jitter, cm
    ambient: float
    lights: tuple[Light, ...]
    expression: np.ndarray | None = field(default=None, compare=False)  # (E,) or None (neutral)
    background_seed: int = 0  # seeds for the image-space stages (kept as ints: they are pure)
    degrade_seed: int = 0


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head rotation (3x3) in the camera frame for the documented convention (render/config.py)."""
    y, p, r = np.radians([yaw, pitch, roll])
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(-p), np.sin(-p), np.cos(r), np.sin(r)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def kelvin_to_rgb(t: float) -> np.ndarray:
    """Linear RGB of a black body at t kelvin, normalised so the largest channel is 1.

    Tanner Helland's fit of the CIE blackbody sRGB colours (valid 1000-40000 K), decoded to linear."""
    t = t / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    srgb = np.clip(np.array([r, g, b]) / 255.0, 0, 1)
    lin = srgb ** 2.2
    return lin / lin.max()


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    az, el = np.radians(azimuth), np.radians(elevation)
    return np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


def sample_lights(cfg: LightingConfig, rng: np.random.Generator) -> tuple[float, tuple[Light, ...]]:
    ambient = draw(cfg.ambient, rng)
    n = int(rng.integers(int(cfg.count.min), int(cfg.count.max) + 1))
    lights = []
    for i in range(n):
        kind = weighted_choice(rng, cfg.kinds)
        d = _direction(draw(cfg.azimuth, rng), draw(cfg.elevation, rng))
        intensity = draw(cfg.intensity, rng)
        if i > 0:
            intensity *= 0.6  # fill lights: the first light is the key light
        temp = draw(cfg.temperature, rng)
        dist = draw(cfg.distance, rng) if kind != "directional" else 0.0
        cone = draw(cfg.spot_cone, rng) if kind == "spot" else 0.0
        lights.append(Light(kind, tuple(float(c) for c in d), tuple(float(c) for c in kelvin_to_rgb(temp)),
                            float(intensity), float(temp), float(dist), float(cone)))
    return float(ambient), tuple(lights)


def sample_scene(cfg: RenderConfig, seed: int, identity: int, image: int, expression_cfg=None) -> Scene:
    """Everything random about image `image` of identity `identity`. Pure."""
    pc = cfg.pose
    rng = stream(seed, STREAM_POSE, identity, image)
    if pc.poses is not None:
        yaw, pitch, roll = pc.poses[image % len(pc.poses)]
    else:
        yaw, pitch, roll = draw(pc.yaw, rng), draw(pc.pitch, rng), draw(pc.roll, rng)

    rng = stream(seed, STREAM_CAMERA, identity, image)
    cc = cfg.camera
    distance, zoom = draw(cc.distance, rng), draw(cc.zoom, rng)
    shift = tuple(float(s) for s in rng.normal(0, 1, 3) * cc.shift) if cc.shift > 0 else (0.0, 0.0, 0.0)

    ambient, lights = sample_lights(cfg.lighting, stream(seed, STREAM_LIGHTS, identity, image))

    expression = None
    if cfg.expressions and expression_cfg is not None:
        from gen.expression import sample_expression
        from gen.identity import STREAM_EXPRESSION  # gen owns the expression stream's tag
        w = np.asarray(sample_expression(expression_cfg, stream(seed, STREAM_EXPRESSION, identity, image)), np.float32)
        expression = w if np.any(w) else None

    def sub(tag):
        return int(stream(seed, tag, identity, image).integers(0, 2**63 - 1))

    return Scene(seed=seed, identity=identity, image=image, yaw=float(yaw), pitch=float(pitch), roll=float(roll),
                 distance=float(distance), zoom=float(zoom), shift=shift, ambient=ambient, lights=lights,
                 expression=expression, background_seed=sub(STREAM_BACKGROUND), degrade_seed=sub(STREAM_DEGRADE))
