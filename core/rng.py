"""Counter-based random streams and a key-order-free weighted choice.

Every random draw in facesynth comes from `stream(seed, tag, *counters)`: a SeedSequence keyed
by the job seed, a constant tag naming what is drawn (pose, shape, ...) and the indices of the
thing drawn for (identity, image). Sample i therefore depends only on (seed, i, config), never on
what else a worker rendered before it. Tags are module constants named `STREAM_*`; each stage
keeps its own range (gen 1-99, render 2xx, recognition 0x4xxx-0x5xxx).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from core.errors import FacesynthError


def stream(seed: int, tag: int, *counters: int) -> np.random.Generator:
    """The generator for (seed, tag, counters); seeds and counters are non-negative integers."""
    if seed < 0 or any(c < 0 for c in counters):
        raise FacesynthError(f"seed={seed}, counters={counters}: seeds and indices must be non-negative integers")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(tag), *map(int, counters)]))


def weighted_choice(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """One key of `weights`, drawn with probability proportional to its weight.

    Keys are taken in sorted order, so the draw depends on the mapping's content only and not on
    the order its keys were written in a YAML file (the config hash sorts keys too)."""
    names = sorted(weights)
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]
