"""Per-mode shape weights from a recogniser's sensitivity (config: identity.judge_weighting).

A face model's identity modes are ordered by how much geometry they move, not by how much they
change who a face is. For ICT's 100 modes, the dlib judge's embedding moves 0.10-0.14 per std
along the first modes and 0.02-0.03 along the last ones (render/judges/mode_sensitivity.py, 4
frontal identities; the per-mode profile correlates at 0.84-0.91 between them). Sampling every
mode with the same std spends much of an identity's shape variance where a recogniser barely
looks. Weighting mode k by s_k^p, normalised to RMS 1, moves that variance to the modes that tell
people apart without widening the shape distribution as a whole.

The measurements are data (gen/data/mode_sensitivity_<model>.json), written by the render stage's
tool and only read here, so gen never imports a later stage. Pure: the same (model, config) give
the same weights.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import FacesynthError

DATA_DIR = Path(__file__).resolve().parent / "data"


def sensitivity_path(model_name: str) -> Path:
    return DATA_DIR / f"mode_sensitivity_{model_name}.json"


@lru_cache(maxsize=8)
def load_sensitivity(model_name: str) -> np.ndarray | None:
    """(K,) float64 judge sensitivity per identity mode, or None when none was measured."""
    path = sensitivity_path(model_name)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        s = np.asarray(doc["sensitivity"], np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise FacesynthError(f"{path}: not a mode-sensitivity file ({e}); regenerate it with "
                             "`python -m render.judges.mode_sensitivity`") from None
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise FacesynthError(f"{path}: sensitivities must be a list of positive numbers; regenerate it "
                             "with `python -m render.judges.mode_sensitivity`")
    return s


def mode_weights(model_name: str, n_modes: int, power: float) -> np.ndarray | None:
    """(n_modes,) float32 multipliers with RMS 1, or None (every mode alike: power 0 or no data)."""
    if power <= 0:
        return None
    s = load_sensitivity(model_name)
    if s is None:
        return None
    if len(s) != n_modes:
        raise FacesynthError(f"{sensitivity_path(model_name)} has {len(s)} modes but model {model_name} has "
                             f"{n_modes}; regenerate it with `python -m render.judges.mode_sensitivity` or set "
                             "identity.judge_weighting: 0")
    w = s ** power
    return (w / np.sqrt(np.mean(w ** 2))).astype(np.float32)
