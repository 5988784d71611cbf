"""Per-image expression weights over the 53 ICT/ARKit blendshapes.

An image is neutral with probability `neutral_prob`; otherwise 1..max_active groups of units
that move together (smile, open mouth, blink, brow raise, frown, ...; gen.config.EXPRESSION_GROUPS)
are switched on with one intensity each, so only a few units are active at once.
Apply with `model.shape(coeffs, weights)`: blendshape deltas add on top of the identity.
"""
from __future__ import annotations

import numpy as np

from gen.config import EXPRESSION_GROUPS, ExpressionConfig

# ICT-FaceKit's blendshape order (vertex_indices.json "expressions"), = FaceModel.expr_names.
ICT_EXPRESSIONS = [
    "browDown_L", "browDown_R", "browInnerUp_L", "browInnerUp_R", "browOuterUp_L", "browOuterUp_R",
    "cheekPuff_L", "cheekPuff_R", "cheekSquint_L", "cheekSquint_R", "eyeBlink_L", "eyeBlink_R",
    "eyeLookDown_L", "eyeLookDown_R", "eyeLookIn_L", "eyeLookIn_R", "eyeLookOut_L", "eyeLookOut_R",
    "eyeLookUp_L", "eyeLookUp_R", "eyeSquint_L", "eyeSquint_R", "eyeWide_L", "eyeWide_R", "jawForward",
    "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimple_L", "mouthDimple_R", "mouthFrown_L",
    "mouthFrown_R", "mouthFunnel", "mouthLeft", "mouthLowerDown_L", "mouthLowerDown_R", "mouthPress_L",
    "mouthPress_R", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmile_L", "mouthSmile_R", "mouthStretch_L", "mouthStretch_R",
    "mouthUpperUp_L", "mouthUpperUp_R", "noseSneer_L", "noseSneer_R"]


def sample_expression(cfg: ExpressionConfig, rng: np.random.Generator,
                      names: list[str] | None = None) -> np.ndarray:
    """(E,) float32 weights in [0, 1], ordered like `names` (default: ICT's expr_names)."""
    return sample_expression_groups(cfg, rng, names)[0]


def sample_expression_groups(cfg: ExpressionConfig, rng: np.random.Generator,
                             names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Weights as sample_expression (same draws), plus the names of the active groups."""
    names = ICT_EXPRESSIONS if names is None else names
    w = np.zeros(len(names), np.float32)
    if rng.random() < cfg.neutral_prob:
        return w, []
    index = {n: k for k, n in enumerate(names)}
    groups = sorted(g for g, p in cfg.group_weights.items() if p > 0)
    p = np.array([cfg.group_weights[g] for g in groups], np.float64)
    k = int(rng.integers(1, min(cfg.max_active, len(groups)) + 1))
    chosen = rng.choice(len(groups), size=k, replace=False, p=p / p.sum())
    picked = sorted(int(c) for c in chosen)
    for g in picked:
        strength = rng.uniform(cfg.intensity.min, cfg.intensity.max)
        for unit, rel in EXPRESSION_GROUPS[groups[g]]:
            value = strength * rel * (1 + cfg.asymmetry * rng.uniform(-1, 1))
            j = index.get(unit)
            if j is not None:
                w[j] = max(w[j], value)
    return np.clip(w, 0, 1), [groups[g] for g in picked]


def active_groups(weights: np.ndarray, names: list[str] | None = None, eps: float = 1e-6) -> list[str]:
    """Groups whose primary unit is on (a group can also light up another's primary unit, e.g. a
    smile squints the eyes; use sample_expression_groups for the groups actually drawn)."""
    names = ICT_EXPRESSIONS if names is None else names
    on = {n for n, x in zip(names, weights) if x > eps}
    return [g for g, units in EXPRESSION_GROUPS.items() if units[0][0] in on]
