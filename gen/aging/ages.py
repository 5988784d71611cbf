"""How old identity i is in image j: a pure function of (seed, i, j, aging config).

Identity i gets a window of `span` years whose middle is drawn from `base_age`, shifted to stay
inside it, and `stages` ages evenly spaced over the window. Image j shows the stage of its run
(`stage_run` consecutive images share one), starting at a per-identity offset, so every stage is
used once an identity has `stages * stage_run` images, and a worker that renders an identity's
images in order rebuilds its maps once per run rather than once per image.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.rng import stream
from gen.config import AgingConfig

STREAM_AGE = 20  # core.rng tag: per identity (window, stage offset)


@dataclass(frozen=True)
class IdentityAges:
    stages: tuple[float, ...]  # years, ascending
    offset: int  # stage of the first run

    @property
    def span(self) -> float:
        return self.stages[-1] - self.stages[0]


def identity_ages(cfg: AgingConfig, seed: int, index: int) -> IdentityAges:
    rng = stream(seed, STREAM_AGE, index)
    centre = cfg.base_age.draw(rng)
    offset = int(rng.integers(0, cfg.stages))
    lo, hi = cfg.base_age.min, cfg.base_age.max
    span = min(cfg.span, hi - lo)
    start = min(max(centre - span / 2, lo), hi - span)
    if cfg.stages == 1:
        return IdentityAges((round(start + span / 2, 2),), 0)
    return IdentityAges(tuple(round(start + span * k / (cfg.stages - 1), 2) for k in range(cfg.stages)), offset)


def image_stage(cfg: AgingConfig, ages: IdentityAges, image: int) -> int:
    """Index into ages.stages of image `image`."""
    return (image // cfg.stage_run + ages.offset) % len(ages.stages)


def image_age(cfg: AgingConfig, seed: int, index: int, image: int) -> tuple[int, float]:
    """(stage, age in years) of image `image` of identity `index`; (0, nan) when aging is off."""
    if not cfg.enabled:
        return 0, float("nan")
    ages = identity_ages(cfg, seed, index)
    k = image_stage(cfg, ages, image)
    return k, ages.stages[k]
