"""The appearance levers (gen/lookconfig.py): what they draw per identity and where they paint.

Each lever draws from its own stream, derived from the identity's appearance stream by a tag
(the same seed sequence with one more key), without drawing from that stream. So the existing
attributes and every other layer keep their values, and turning one lever off changes nothing
but what that lever paints. Painters draw from a second derived stream per lever.
"""
from __future__ import annotations

import numpy as np

from core.errors import FacesynthError
from gen import skin
from gen.appearance.brows import sample_shape
from gen.appearance.iris import sample_iris
from gen.appearance.lips import paint_lips, sample_lips
from gen.appearance.makeup import paint_base, paint_liner, sample_makeup
from gen.appearance.microtexture import paint_micro, sample_micro
from gen.appearance.paint import srgb8
from gen.appearance.periocular import paint_crease, sample_periocular
from gen.uvmaps import FaceLayout

# Tags of the derived streams (gen's core.rng tags are 1-99; these only extend tag 2's key).
STREAM_BROWS, STREAM_IRIS, STREAM_PERIOCULAR, STREAM_LIPS, STREAM_UNDERTONE, STREAM_MICRO, STREAM_MAKEUP = \
    range(0x51A0, 0x51A7)
PAINT = 0x100  # + a lever's tag: the stream its painter draws from


def substream(rng: np.random.Generator, tag: int) -> np.random.Generator:
    """A generator keyed by `rng`'s seed sequence plus `tag`; `rng` itself is not touched."""
    ss = getattr(rng.bit_generator, "seed_seq", None)
    if not isinstance(ss, np.random.SeedSequence):
        raise FacesynthError("appearance needs a generator made from a SeedSequence (core.rng.stream)")
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, int(tag))))


def sample_look(cfg, rng: np.random.Generator, attrs: dict, darkness: float, facial_hair_prob: float,
                makeup_scale: float = 1.0) -> None:
    """Add each enabled lever's per-identity parameters to `attrs` (in place). cfg: AppearanceConfig;
    facial_hair_prob: the identity's chance of facial hair (its sex's, gen/sex.py)."""
    if cfg.brow_shape.enabled:
        attrs["brows"]["shape"] = sample_shape(cfg.brow_shape, attrs["brows"]["style"], substream(rng, STREAM_BROWS))
    if cfg.iris.enabled:
        attrs["eyes"]["variant"] = sample_iris(cfg.iris, attrs["eyes"]["srgb"], substream(rng, STREAM_IRIS))
    if cfg.periocular.enabled:
        attrs["periocular"] = sample_periocular(cfg.periocular, substream(rng, STREAM_PERIOCULAR))
    if cfg.lips.enabled:
        attrs["lips"] = sample_lips(cfg.lips, substream(rng, STREAM_LIPS), darkness)
    if cfg.undertone.enabled:
        sk = attrs["skin"]
        sk["carotene"] = round(cfg.undertone.carotene.draw(substream(rng, STREAM_UNDERTONE)), 4)
        base = skin.linear_rgb(sk["melanin"], sk["blood"], sk["oxygenation"], sk["carotene"])
        lab = skin.lab(base)  # the recorded colour is the painted one
        sk.update(lab=[round(float(x), 2) for x in lab], ita_deg=round(skin.ita_degrees(lab), 2),
                  srgb=list(srgb8(base)))
    if cfg.micro.enabled:
        attrs["micro"] = sample_micro(cfg.micro, substream(rng, STREAM_MICRO))
    if cfg.makeup.enabled:
        attrs["makeup"] = sample_makeup(cfg.makeup, substream(rng, STREAM_MAKEUP), attrs["facial_hair"],
                                        facial_hair_prob, makeup_scale)


def paint_skin(cfg, rng: np.random.Generator, lin: np.ndarray, lay: FaceLayout, attrs: dict,
               mel_dir: np.ndarray) -> None:
    """Skin-level levers, in place, before any hair: micro-texture, lips, lid crease, makeup."""
    if "micro" in attrs:
        paint_micro(lin, lay, attrs["micro"], mel_dir, substream(rng, STREAM_MICRO + PAINT))
    if "lips" in attrs:
        paint_lips(lin, lay, attrs["lips"], mel_dir)
    if "periocular" in attrs:
        paint_crease(lin, lay, attrs["periocular"])
    if "makeup" in attrs:
        crease = attrs.get("periocular", {}).get("crease_height_cm", cfg.periocular.crease_height.mean)
        paint_base(lin, lay, attrs["makeup"], cfg.makeup, crease)


def paint_eyes(lin: np.ndarray, lay: FaceLayout, attrs: dict) -> None:
    """Levers over the lash line: eyeliner."""
    if "makeup" in attrs:
        paint_liner(lin, lay, attrs["makeup"])
