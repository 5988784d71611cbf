"""The render distribution: how pose, camera, lights, background and degradations are drawn.

Every knob has a documented default; configs/render-default.yaml writes the same defaults out.
All models forbid unknown keys, and validators check ranges (min <= max, std >= 0, background
folder exists) so a bad config fails with one line naming the key before anything is rendered.

Pose convention (degrees, used everywhere incl. records): positive yaw = the subject turns to
their left (the nose moves towards image right); positive pitch = the subject looks up;
positive roll = the head tilts towards the subject's right shoulder (counter-clockwise in the
image). Head rotation R = Rz(roll) @ Ry(yaw) @ Rx(-pitch) in the camera frame (x right, y up,
z towards the camera).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.config import FrozenConfig, load_yaml_model
from gen.config import Range


class Dist(FrozenConfig):
    """A scalar distribution: truncated normal N(mean, std) clipped by resampling to [min, max],
    or uniform on [min, max]."""
    kind: Literal["normal", "uniform"] = "normal"
    mean: float = 0.0
    std: float = Field(1.0, ge=0, description="standard deviation (normal only)")
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.kind == "normal" and not (self.min <= self.mean <= self.max):
            raise ValueError(f"mean {self.mean} lies outside [min, max] = [{self.min}, {self.max}]")
        return self


def _normal(mean, std, lo, hi) -> Dist:
    return Dist(kind="normal", mean=mean, std=std, min=lo, max=hi)


class PoseConfig(FrozenConfig):
    # Wide yaw as in 300W-LP (whose face profiling spans about +-90 deg). DigiFace-1M (Bae et al.
    # 2023) used yaw ~ N(0, 24) truncated to +-90 and pitch ~ N(0, 8) truncated to +-30; shrinking
    # the yaw spread dropped their CFP-FP from 82.0 to 67.2, so we go wider still on yaw.
    yaw: Dist = Field(default_factory=lambda: _normal(0, 35, -90, 90), description="degrees")
    pitch: Dist = Field(default_factory=lambda: _normal(0, 10, -30, 30), description="degrees")
    roll: Dist = Field(default_factory=lambda: _normal(0, 6, -25, 25), description="degrees")
    poses: list[tuple[float, float, float]] | None = Field(
        None, description="explicit (yaw, pitch, roll) list; image j uses poses[j % len]. Overrides the dists")

    @field_validator("poses")
    @classmethod
    def _poses(cls, v):
        if v is not None:
            if not v:
                raise ValueError("poses must not be empty (leave it out to sample)")
            for y, p, r in v:
                if not (-180 <= y <= 180 and -90 <= p <= 90 and -180 <= r <= 180):
                    raise ValueError(f"pose {(y, p, r)} out of range (|yaw|,|roll| <= 180, |pitch| <= 90)")
        return v


class CameraConfig(FrozenConfig):
    distance: Dist = Field(default_factory=lambda: _normal(80, 15, 40, 150),
                           description="camera distance to the face centre, cm; the field of view follows "
                                       "from it so the face fills the crop (shorter = more perspective)")
    zoom: Dist = Field(default_factory=lambda: _normal(1.0, 0.04, 0.88, 1.12),
                       description="face size jitter relative to the framing (1 = template scale)")
    shift: float = Field(0.6, ge=0, le=5, description="std of the look-at jitter, cm (per axis)")


LightKind = Literal["directional", "point", "spot"]


class LightingConfig(FrozenConfig):
    ambient: Dist = Field(default_factory=lambda: Dist(kind="uniform", min=0.05, max=0.25),
                          description="ambient radiance (linear, 1 = white; brighter from above, see "
                                      "render/shaders/mesh.frag). Kept low so the lights model the face: "
                                      "on 150 x 3 frontal identities, 0.05-0.25 instead of 0.12-0.45 took "
                                      "the judge's FAR@0.6 from 17.2% to 15.3%, and 0.4-0.6 raised it to 20.1%")
    count: Range = Field(default_factory=lambda: Range(min=1, max=3),
                         description="number of lights, integer uniform in [min, max]")
    kinds: dict[LightKind, float] = Field(
        default_factory=lambda: {"directional": 0.5, "point": 0.3, "spot": 0.2},
        description="probability of each light kind")
    intensity: Dist = Field(default_factory=lambda: Dist(kind="uniform", min=0.5, max=1.6),
                            description="irradiance at the face (linear; 1 ~ a well lit face)")
    azimuth: Dist = Field(default_factory=lambda: _normal(0, 50, -120, 120),
                          description="light direction around the vertical axis, degrees; 0 = from the camera, "
                                      "positive = from image right")
    elevation: Dist = Field(default_factory=lambda: _normal(20, 25, -30, 80),
                            description="light direction above the horizon, degrees")
    temperature: Dist = Field(default_factory=lambda: Dist(kind="uniform", min=2700, max=7500),
                              description="colour temperature, kelvin")
    distance: Dist = Field(default_factory=lambda: Dist(kind="uniform", min=60, max=200),
                           description="point/spot light distance to the face, cm")
    spot_cone: Dist = Field(default_factory=lambda: Dist(kind="uniform", min=12, max=35),
                            description="spot light outer cone half-angle, degrees")

    @model_validator(mode="after")
    def _check(self):
        if self.count.min < 1 or self.count.max > 3 or self.count.min != int(self.count.min) \
                or self.count.max != int(self.count.max):
            raise ValueError("count: min and max are integers in [1, 3]")
        if not self.kinds or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise ValueError("kinds: probabilities must be non-negative and not all zero")
        for name in ("ambient", "intensity", "distance", "spot_cone", "temperature"):
            if getattr(self, name).min < 0:
                raise ValueError(f"{name}: values must be non-negative")
        if self.temperature.min < 1000 or self.temperature.max > 20000:
            raise ValueError("temperature: kelvin in [1000, 20000]")
        return self


BackgroundKind = Literal["solid", "gradient", "noise", "shapes", "images"]


class BackgroundConfig(FrozenConfig):
    kinds: dict[BackgroundKind, float] = Field(
        default_factory=lambda: {"solid": 0.15, "gradient": 0.25, "noise": 0.3, "shapes": 0.3},
        description="probability of each background kind; 'images' needs folder")
    folder: str | None = Field(None, description="folder of the user's images (jpg/png/webp, searched "
                                                 "recursively), randomly cropped and scaled")
    image_scale: Range = Field(default_factory=lambda: Range(min=1.0, max=3.0),
                               description="zoom of the random crop taken from a background image")

    @model_validator(mode="after")
    def _check(self):
        if not self.kinds or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise ValueError("kinds: probabilities must be non-negative and not all zero")
        if self.kinds.get("images", 0) > 0 and self.folder is None:
            raise ValueError("kinds: 'images' has a weight but folder is not set")
        if self.image_scale.min < 1:
            raise ValueError("image_scale: min must be >= 1")
        return self

    @field_validator("folder")
    @classmethod
    def _folder(cls, v):
        if v is not None and not Path(v).expanduser().is_dir():
            raise ValueError(f"folder {v!r} does not exist or is not a directory")
        return v


class Blur(FrozenConfig):
    prob: float = Field(0.2, ge=0, le=1)
    sigma: Range = Field(default_factory=lambda: Range(min=0.3, max=1.3), description="Gaussian sigma, px")


class Noise(FrozenConfig):
    prob: float = Field(0.3, ge=0, le=1)
    std: Range = Field(default_factory=lambda: Range(min=1.0, max=7.0), description="sensor noise std, 8-bit levels")


class Jpeg(FrozenConfig):
    prob: float = Field(0.3, ge=0, le=1)
    quality: Range = Field(default_factory=lambda: Range(min=35, max=90), description="JPEG quality")

    @model_validator(mode="after")
    def _q(self):
        if self.quality.min < 1 or self.quality.max > 100:
            raise ValueError("quality: values in [1, 100]")
        return self


class Gamma(FrozenConfig):
    prob: float = Field(0.3, ge=0, le=1)
    gamma: Range = Field(default_factory=lambda: Range(min=0.75, max=1.35))

    @model_validator(mode="after")
    def _g(self):
        if self.gamma.min <= 0:
            raise ValueError("gamma: values must be positive")
        return self


class ColorJitter(FrozenConfig):
    prob: float = Field(0.4, ge=0, le=1)
    brightness: float = Field(0.15, ge=0, le=1, description="max relative brightness change")
    contrast: float = Field(0.15, ge=0, le=1, description="max relative contrast change")
    saturation: float = Field(0.2, ge=0, le=1, description="max relative saturation change")
    hue: float = Field(0.02, ge=0, le=0.5, description="max per-channel gain change (white balance)")


class Downscale(FrozenConfig):
    prob: float = Field(0.2, ge=0, le=1)
    factor: Range = Field(default_factory=lambda: Range(min=0.35, max=0.8),
                          description="downscale factor before upscaling back")

    @model_validator(mode="after")
    def _f(self):
        if self.factor.min <= 0.05 or self.factor.max > 1:
            raise ValueError("factor: values in (0.05, 1]")
        return self


class DegradationConfig(FrozenConfig):
    """Applied to the aligned crop in this order; each fires with its own probability."""
    blur: Blur = Field(default_factory=Blur)
    downscale: Downscale = Field(default_factory=Downscale)
    color_jitter: ColorJitter = Field(default_factory=ColorJitter)
    gamma: Gamma = Field(default_factory=Gamma)
    noise: Noise = Field(default_factory=Noise)
    jpeg: Jpeg = Field(default_factory=Jpeg)


class MeshDetail(FrozenConfig):
    """Share of the face model's triangles left out of the drawn mesh, by part (render/decimate.py:
    edge collapse on the mean shape; borders, UV seams and the lids are always kept). All 0 draw
    every triangle, as for frames far above 144 px."""
    back: float = Field(0.9, ge=0.0, le=0.95, description="back of the head (turned away, or under hair)")
    forehead: float = Field(0.4, ge=0.0, le=0.95, description="face above the brows: forehead and scalp (0.8 "
                                                                "here cost MTCNN detections near the hairline)")
    face: float = Field(0.4, ge=0.0, le=0.95, description="face below the brows but the lids (cheeks, jaw line "
                                                           "and ears carry identity: 0.55 and above raised the "
                                                           "judge's FAR, 0.4 did not)")
    mouth: float = Field(0.7, ge=0.0, le=0.95, description="teeth, gums, tongue and mouth socket")


class ImageOutputConfig(FrozenConfig):
    image_size: int = Field(112, ge=32, le=1024, description="aligned crop size, px (ArcFace: 112)")
    frame_size: int = Field(144, ge=32, le=2048, description="rendered frame size, px (rendering cost grows with it)")
    frame_margin: float = Field(1.3, ge=1.0, le=4.0,
                                description="the frame spans this many aligned-crop widths around the face")
    mesh: MeshDetail = Field(default_factory=MeshDetail)
    keep_full_frame: bool = Field(False, description="also store the composited, unaligned frame")
    format: Literal["jpeg", "png"] = Field("jpeg", description="encoding of the stored images")
    quality: int = Field(95, ge=1, le=100, description="JPEG quality of the stored images")


class IdentityFilterConfig(FrozenConfig):
    """Keep only identities the face-recognition judge tells apart (render/identity_filter.py), as
    DCFace (Kim et al., CVPR 2023) and Vec2Face (Wu et al., 2024) filter generated identities."""
    enabled: bool = Field(False, description="render each candidate frontal and neutral, embed it with "
                                             "dlib's recogniser, and redraw it while it lies within "
                                             "min_distance of an identity accepted before it")
    min_distance: float = Field(0.6, gt=0, le=2, description="dlib embedding distance (0.6 = dlib's "
                                                             "same-person threshold)")
    max_tries: int = Field(8, ge=1, le=1000, description="candidates per identity; when none is clear, the "
                                                         "one close to the fewest accepted identities "
                                                         "is kept (and counted)")
    ages: Literal["youngest", "span"] = Field(
        "span", description="which ages a candidate is judged at: its youngest age stage only, or its "
                            "youngest and oldest, compared age by age (the RMS of the two distances; two "
                            "renders per candidate; the same as 'youngest' when aging is off or has one "
                            "stage). An identity's oldest images were the ones the youngest-only filter "
                            "separated least (docs/judge.md)")
    cohort: int = Field(64, ge=0, le=4096, description="reference candidates (drawn apart from every "
                                                       "identity's own) that a candidate is also compared "
                                                       "with, so the first identities, which have few "
                                                       "accepted ones to be compared with, are filtered too; "
                                                       "0 = none")
    cohort_weight: float = Field(0.5, ge=0, le=10, description="what a reference candidate within "
                                                               "min_distance counts for, against 1 for an "
                                                               "accepted identity")
    score: Literal["count", "expected"] = Field(
        "count", description="how candidates that are not clear are ranked: 'count', the neighbours within "
                             "min_distance; 'expected', each neighbour weighted by the chance that an image "
                             "pair of the two is taken for one person at dlib's 0.6 (far_curve), so the kept "
                             "candidate adds the fewest expected false accepts. Counting ignores the "
                             "neighbours just outside min_distance, which made half of the false accepts of "
                             "the age-span set (docs/judge.md)")
    far_curve: tuple[float, float] = Field(
        (0.55, 0.053), description="(centre, scale) of the logistic chance 1 / (1 + exp((d - centre) / scale)) "
                                   "that image pairs of two identities whose probes lie d apart are a false "
                                   "accept; fitted on configs/age-span.yaml's 200 identities x 16 at |yaw| <= 30 "
                                   "(0.58 at d 0.50-0.55, 0.23 at 0.60-0.65, 0.043 at 0.70-0.75)")
    aging_weight: float = Field(
        0.0, ge=0, le=100, description="with ages: span, subtract this times the judge distance between a "
                                       "candidate's own youngest and oldest probes from its rank (count or "
                                       "expected false accepts), so that among candidates about as distinct "
                                       "the one whose aging the judge sees is kept; a clear candidate is "
                                       "still kept at once. That distance predicts an identity's judged "
                                       "aging (correlation 0.53 on the age-span set; docs/judge.md); 0 = off")

    @field_validator("far_curve")
    @classmethod
    def _curve(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0 < v[0] <= 2 and 0 < v[1] <= 1):
            raise ValueError(f"far_curve={list(v)}: give [centre, scale] with 0 < centre <= 2 and 0 < scale <= 1, "
                             "e.g. [0.55, 0.053]")
        return v


class RenderConfig(FrozenConfig):
    pose: PoseConfig = Field(default_factory=PoseConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    lighting: LightingConfig = Field(default_factory=LightingConfig)
    background: BackgroundConfig = Field(default_factory=BackgroundConfig)
    degradations: DegradationConfig = Field(default_factory=DegradationConfig)
    output: ImageOutputConfig = Field(default_factory=ImageOutputConfig)
    expressions: bool = Field(True, description="draw expressions from gen's expression distribution "
                                                "(false: neutral faces)")
    identity_filter: IdentityFilterConfig = Field(default_factory=IdentityFilterConfig)


def load_render_config(path: str | Path) -> RenderConfig:
    return load_yaml_model(RenderConfig, path)
