"""Local facial proportions beyond the face model's global modes.

ICT's 100 identity modes are a PCA of whole-head scans: their low modes move the whole face and
their variance per feature is what those scans happened to share. Real faces also vary feature by
feature (a wide nose on a narrow face, close-set eyes, a strong chin). Here each feature gets its
own smooth deformation field: a Gaussian falloff around the feature's centre on the mean head,
times a small affine change (scale, shift, tilt) of the vertices near it. Every feature's
parameter is an independent N(0, 1) draw, truncated at `psi`, times a standard deviation in
config (gen.config.LocalShapeConfig) taken from direct anthropometry:

  Farkas LG (ed.), Anthropometry of the Head and Face, 2nd ed., Raven Press 1994; and
  Farkas LG et al., International anthropometric study of facial morphology in various ethnic
  groups/races, J Craniofac Surg 16(4):615-646, 2005 -- coefficients of variation of adult
  measurements are roughly 4-6% for face and mandible width, 5-6% for eye fissure length,
  7-9% for intercanthal, nose and mouth width, 6-8% for nose length, 10-15% for lip heights.

Half of each SD is given to the local field (the global modes already carry about the other
half; see tests/test_gen_anthropometry.py for the measured spread). Pure: the same (model,
vertices, parameters) give the same vertices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

# iBUG-68 landmark groups (0-based): jaw 0-16 (chin 8), brows 17-26, nose bridge 27-30 (tip 30),
# nostrils 31-35 (subnasale 33), eyes 36-41 and 42-47, outer lips 48-59.
EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
FEATURES = ("eye_size", "eye_spacing", "canthal_tilt", "nose_width", "nose_length", "nose_bridge",
            "nose_tip", "mouth_width", "lip_fullness", "jaw_width", "chin_length", "chin_projection",
            "cheekbones", "forehead_height", "ear_size", "brow_ridge", "eye_opening", "brow_height")


@dataclass(frozen=True)
class _Field:
    weight: np.ndarray  # (V,) float32 falloff in [0, 1]
    centre: np.ndarray  # (3,)

    @cached_property
    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """(vertex ids where the falloff is above 1e-4, their weights): apply() touches only these."""
        idx = np.flatnonzero(self.weight > 1e-4)
        return idx, self.weight[idx]


@dataclass(frozen=True)
class Fields:
    """The model's per-feature falloffs on its mean head (built once per model)."""
    fields: dict[str, tuple[_Field, ...]]  # paired features (eyes, jaw sides...) hold two
    midline_x: float
    eye_distance: float  # cm, the scale unit for shifts given in % of the eye distance


def _gauss(pos: np.ndarray, centre: np.ndarray, radius: float, axes=(1.0, 1.0, 1.0)) -> np.ndarray:
    """1 inside the (ellipsoidal) `radius` around `centre`, then a Gaussian falloff of the same
    width: the feature itself changes as a whole, its surroundings blend smoothly."""
    d = (pos - centre) / (radius * np.asarray(axes))
    r = np.sqrt(np.einsum("ij,ij->i", d, d))
    return np.exp(-0.5 * np.maximum(r - 1.0, 0.0) ** 2 * 4.0).astype(np.float32)


@lru_cache(maxsize=4)
def _fields_cached(key: tuple, neutral_bytes: bytes, lm_bytes: bytes, n: int, ball_bytes: bytes) -> Fields:
    pos = np.frombuffer(neutral_bytes, np.float32).reshape(n, 3)
    lids = np.ones(n, np.float32)  # eye_opening moves the lids, not the eyeballs behind them
    lids[np.frombuffer(ball_bytes, np.int64)] = 0.0
    lm = pos[np.frombuffer(lm_bytes, np.int64)].astype(np.float64)
    eye_c = [lm[list(e)].mean(0) for e in EYES]
    eye_d = float(np.linalg.norm(eye_c[1] - eye_c[0]))
    mid_x = float(0.5 * (eye_c[0][0] + eye_c[1][0]))
    up = np.array([0.0, 1.0, 0.0])
    out = np.array([0.0, 0.0, 1.0])
    u = eye_d / 6.3  # ~1 cm on an average head (adult interpupillary distance ~6.3 cm)
    mouth = lm[48:60].mean(0)
    nose = 0.5 * (lm[30] + lm[33])
    ears = []
    for side in (-1.0, 1.0):  # the ear: the most lateral head points level with the eyes
        lateral = side * (pos[:, 0] - mid_x)
        level = np.abs(pos[:, 1] - 0.5 * (eye_c[0][1] + lm[33][1])) < 1.5 * u
        far = level & (lateral > np.quantile(lateral[level], 0.985))
        ears.append(pos[far].mean(0).astype(np.float64))
    f = {
        "eye_size": tuple(_Field(_gauss(pos, c, 1.35 * u, (1.0, 1.0, 1.5)), c) for c in eye_c),
        "canthal_tilt": tuple(_Field(_gauss(pos, c, 1.35 * u, (1.0, 1.0, 1.5)), c) for c in eye_c),
        "eye_spacing": tuple(_Field(_gauss(pos, c, 1.6 * u), c) for c in eye_c),
        "nose_width": (_Field(_gauss(pos, nose, 1.1 * u, (1.2, 0.8, 1.8)), nose),),
        "nose_length": (_Field(_gauss(pos, nose, 1.2 * u), lm[27]),),
        "nose_bridge": (_Field(_gauss(pos, lm[28], 0.9 * u, (0.7, 1.6, 1.0)), lm[28]),),
        "nose_tip": (_Field(_gauss(pos, lm[30], 0.8 * u), lm[30]),),
        "mouth_width": (_Field(_gauss(pos, mouth, 1.5 * u, (1.4, 0.8, 1.8)), mouth),),
        "lip_fullness": (_Field(_gauss(pos, mouth, 1.1 * u, (1.8, 0.8, 1.6)), mouth),),
        "jaw_width": tuple(_Field(_gauss(pos, lm[k], 2.4 * u), lm[k]) for k in (4, 12)),
        "chin_length": (_Field(_gauss(pos, lm[8], 2.0 * u), lm[57]),),
        "chin_projection": (_Field(_gauss(pos, lm[8], 1.8 * u), lm[8]),),
        "cheekbones": tuple(_Field(_gauss(pos, 0.5 * (lm[k] + c) + 0.3 * u * out, 1.8 * u), 0.5 * (lm[k] + c))
                            for k, c in ((1, eye_c[0]), (15, eye_c[1]))),
        "forehead_height": (_Field(_gauss(pos, lm[27] + 5.0 * u * up, 3.2 * u, (1.6, 1.0, 1.0)), lm[27]),),
        "ear_size": tuple(_Field(_gauss(pos, c, 1.6 * u, (0.8, 1.4, 1.2)), c) for c in ears),
        # Above each eye, flat in height so the lids below move little.
        "eye_opening": tuple(_Field(_gauss(pos, c, 0.9 * u, (1.3, 0.8, 1.5)) * lids, c) for c in eye_c),
        "brow_height": tuple(_Field(_gauss(pos, lm[list(b)].mean(0), 0.9 * u, (1.6, 0.5, 1.5)) * lids,
                                    lm[list(b)].mean(0)) for b in ((17, 18, 19, 20, 21), (22, 23, 24, 25, 26))),
        "brow_ridge": tuple(_Field(_gauss(pos, lm[list(b)].mean(0) + 0.4 * u * up, 1.1 * u, (1.5, 0.6, 1.2)),
                                   lm[list(b)].mean(0)) for b in ((17, 18, 19, 20, 21), (22, 23, 24, 25, 26))),
    }
    return Fields(fields=f, midline_x=mid_x, eye_distance=eye_d)


def fields_for(model) -> Fields:
    neutral = np.ascontiguousarray(model.neutral, np.float32)
    lm = np.ascontiguousarray(model.landmarks68, np.int64)
    regions = getattr(model, "vertex_regions", {}) or {}
    ball = [np.arange(*regions[k]) for k in ("iris_left", "sclera_left", "iris_right", "sclera_right") if k in regions]
    ball = np.concatenate(ball).astype(np.int64) if ball else np.zeros(0, np.int64)
    return _fields_cached((model.name, model.version), neutral.tobytes(), lm.tobytes(), len(neutral), ball.tobytes())


def sample_params(cfg, rng: np.random.Generator, shift: dict[str, float] | None = None) -> dict[str, float]:
    """Feature parameters in real units: relative scales (0.05 = +5%), degrees, or cm. `shift`
    moves features' draws by that many SDs after truncation (sex differences, gen/sex.py)."""
    z = rng.standard_normal(len(FEATURES))
    for _ in range(100):
        bad = np.abs(z) > cfg.psi
        if not bad.any():
            break
        z[bad] = rng.standard_normal(int(bad.sum()))
    z = np.clip(z, -cfg.psi, cfg.psi) + np.array([(shift or {}).get(f, 0.0) for f in FEATURES])
    return {name: float(zi * getattr(cfg, name) * cfg.scale) for name, zi in zip(FEATURES, z)}


def apply(model, vertices: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """`vertices` (an identity's neutral shape) with each feature's local change applied."""
    fl = fields_for(model)
    v = np.asarray(vertices, np.float32)
    delta = np.zeros_like(v)
    u = fl.eye_distance / 6.3

    def add(name: str, fn) -> None:
        p = params.get(name, 0.0)
        if p == 0.0:
            return
        for k, fld in enumerate(fl.fields[name]):
            idx, w = fld.support
            rel = v[idx] - fld.centre.astype(np.float32)
            side = np.sign(fld.centre[0] - fl.midline_x) or 1.0
            delta[idx] += w[:, None] * fn(rel, p, side, k)

    # scales move points away from the feature's centre; shifts move the whole neighbourhood.
    add("eye_size", lambda r, p, s, k: r * np.array([p, p, 0.5 * p], np.float32))
    add("eye_spacing", lambda r, p, s, k: np.array([s * p * u, 0, 0], np.float32))
    add("canthal_tilt", lambda r, p, s, k: _rotate_z(r, np.radians(s * p)) - r)
    add("nose_width", lambda r, p, s, k: r * np.array([p, 0, 0.3 * p], np.float32))
    add("nose_length", lambda r, p, s, k: r * np.array([0, p, 0], np.float32))
    add("nose_bridge", lambda r, p, s, k: np.array([0, 0, p * u], np.float32))
    add("nose_tip", lambda r, p, s, k: np.array([0, -0.3 * p * u, p * u], np.float32))
    add("mouth_width", lambda r, p, s, k: r * np.array([p, 0, 0], np.float32))
    add("lip_fullness", lambda r, p, s, k: r * np.array([0, p, 0.4 * p], np.float32))
    add("jaw_width", lambda r, p, s, k: np.array([s * p * u, 0, 0], np.float32))
    add("chin_length", lambda r, p, s, k: r * np.array([0, p, 0], np.float32))
    add("chin_projection", lambda r, p, s, k: np.array([0, 0, p * u], np.float32))
    add("cheekbones", lambda r, p, s, k: np.array([s * p * u, 0, 0.5 * p * u], np.float32))
    add("forehead_height", lambda r, p, s, k: np.array([0, p * u, 0], np.float32))
    add("ear_size", lambda r, p, s, k: r * p)
    add("brow_ridge", lambda r, p, s, k: np.array([0, 0, p * u], np.float32))
    add("eye_opening", lambda r, p, s, k: r * np.array([0, p, 0], np.float32))
    add("brow_height", lambda r, p, s, k: np.array([0, p * u, 0], np.float32))
    return (v + delta).astype(np.float32)


def _rotate_z(r: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * r[:, 0] - s * r[:, 1], s * r[:, 0] + c * r[:, 1], r[:, 2]], axis=1)
