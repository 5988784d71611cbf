"""Identity i of a dataset: a pure function of (dataset seed, i, gen config, model).

Seeding is counter-based: every random stream is `SeedSequence([seed, STREAM, index, ...])`, so an
identity never depends on worker count or order. With `identity.min_distance > 0`, identity i is
the first candidate (try t = 0, 1, ...) that keeps at least that distance from every accepted
identity j < i. That makes i depend on identities 0..i-1, but only on their own seeds, so it stays
deterministic; each process computes the accepted coefficient sequence once (coefficients only,
100 floats each, checked in blocks by matrix products) and caches it.

Distance: Euclidean distance between coefficient vectors in units of each mode's std (the
model's whitened shape space). For ICT, two independent N(0, I) identities over 100 modes lie
~14 apart (sqrt(2*100)); a threshold of 8-10 removes near-twins without biasing the shape
distribution much.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from gen.aging import draw_traits, identity_ages, look
from gen.aging.shape import aged_vertices
from gen.appearance import make_appearance, sample_attributes
from gen.appearance.attributes import darkness
from gen.config import GenConfig, IdentityConfig
from core.errors import FacesynthError
from core.rng import stream
from gen import anthropometry
from gen.modelcache import FaceModel
from gen.mode_weights import mode_weights
from gen.sex import draw_sex, shape_shift
from gen.uvmaps import face_layout

STREAM_SHAPE = 1
STREAM_APPEARANCE = 2
STREAM_EXPRESSION = 3  # render/ uses SeedSequence([seed, STREAM_EXPRESSION, i, j]) per image
STREAM_LOCAL_SHAPE = 4  # gen/anthropometry.py feature proportions, per identity
_BLOCK = 256


@dataclass
class Identity:
    """One synthetic person. See gen/appearance/materials.py for which material uses which map/colour."""
    index: int
    seed: int
    coeffs: np.ndarray  # (K,) float32 shape coefficients, std units
    vertices: np.ndarray  # (V,3) float32 neutral-expression shape (model units, ICT: cm)
    maps: dict[str, np.ndarray]  # albedo (S,S,3) uint8 sRGB, roughness/specular (S,S) uint8, *_head
    colors: dict[str, tuple[int, int, int]]  # sRGB of parts without a map (iris, sclera, teeth, gums...)
    attributes: dict = field(default_factory=dict)  # JSON-able metadata
    age: float | None = None  # years shown by vertices and maps (None: aging off)
    stage: int = 0  # which of the identity's age stages (gen/aging/ages.py)
    variant: int = 0  # which candidate of this index the identity filter accepted (render/identity_filter.py)

    @property
    def source(self) -> int:
        """The index gen drew this person from: `index` itself, or a candidate far above every
        real index when the identity filter replaced the first draw."""
        return source_index(self.index, self.variant)


VARIANT_STRIDE = 2 ** 40  # candidate t of identity i is drawn as index i + t * stride


def source_index(index: int, variant: int) -> int:
    return int(index) + int(variant) * VARIANT_STRIDE


def _candidate(seed: int, index: int, t: int, k: int, cfg: IdentityConfig,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Try t of identity `index`: N(0, I) over the first n_modes, redrawn beyond |psi|, times
    spread and the per-mode `weights` (gen/mode_weights.py; None: every mode alike)."""
    rng = stream(seed, STREAM_SHAPE, index, t)
    n = k if cfg.n_modes is None else cfg.n_modes
    c = rng.standard_normal(n)
    for _ in range(1000):
        bad = np.abs(c) > cfg.psi
        if not bad.any():
            break
        c[bad] = rng.standard_normal(int(bad.sum()))
    out = np.zeros(k, np.float32)
    out[:n] = np.clip(c, -cfg.psi, cfg.psi) * cfg.spread
    if weights is not None:
        out *= weights
    return out


class _Accepted:
    """The accepted coefficient sequence of one (seed, identity config, K), grown on demand."""

    def __init__(self, seed: int, cfg: IdentityConfig, k: int, weights: np.ndarray | None):
        self.seed, self.cfg, self.k, self.weights = seed, cfg, k, weights
        self.coeffs = np.zeros((0, k), np.float32)
        self.tries = np.zeros(0, np.int32)

    def extend(self, n: int) -> None:
        """Accept identities up to n (in whole blocks, so the result never depends on requests)."""
        r2 = self.cfg.min_distance ** 2
        while len(self.coeffs) < n:
            start = len(self.coeffs)
            b = _BLOCK
            first = np.stack([_candidate(self.seed, start + j, 0, self.k, self.cfg, self.weights) for j in range(b)])
            # Blocked check of the first tries against everything accepted so far (one matrix
            # product); the margin leaves near ties to the exact per-candidate check.
            if start:
                acc = self.coeffs
                d2 = (first ** 2).sum(1)[:, None] + (acc ** 2).sum(1)[None, :] - 2 * first @ acc.T
                far = d2.min(1) >= r2 * (1 + 1e-3) + 1e-2
            else:
                far = np.ones(b, bool)
            grown = np.concatenate([self.coeffs, np.zeros((b, self.k), np.float32)])
            tries = np.concatenate([self.tries, np.zeros(b, np.int32)])
            for j in range(b):
                i = start + j
                c, t = first[j], 0
                while not (((t == 0 and far[j]) or _far_from(grown[:start], c, r2))
                           and _far_from(grown[start:i], c, r2)):
                    t += 1
                    if t >= self.cfg.max_tries:
                        raise FacesynthError(
                            f"identity.min_distance={self.cfg.min_distance}: identity {i} found no candidate that far "
                            f"from the earlier ones in {self.cfg.max_tries} tries; lower identity.min_distance "
                            "or raise identity.max_tries")
                    c = _candidate(self.seed, i, t, self.k, self.cfg, self.weights)
                grown[i] = c
                tries[i] = t
            self.coeffs, self.tries = grown, tries


def _far_from(acc: np.ndarray, c: np.ndarray, r2: float) -> bool:
    if len(acc) == 0:
        return True
    d = acc.astype(np.float64) - c.astype(np.float64)
    return bool(np.min(np.einsum("ij,ij->i", d, d)) >= r2)


_SEQUENCES: dict[tuple, _Accepted] = {}


def identity_coeffs(model: FaceModel, cfg: GenConfig, seed: int, index: int) -> np.ndarray:
    """(K,) float32 shape coefficients of identity `index` (std units)."""
    k = model.n_identity
    ic = cfg.identity
    if ic.n_modes is not None and ic.n_modes > k:
        raise FacesynthError(f"identity.n_modes={ic.n_modes}: model {model.name} has only {k} identity modes; "
                             f"set it to at most {k}")
    if index < 0 or seed < 0:
        raise FacesynthError(f"seed={seed}, index={index}: seeds and indices must be non-negative integers")
    weights = mode_weights(model.name, k, ic.judge_weighting)
    if ic.min_distance <= 0:
        return _candidate(seed, index, 0, k, ic, weights)
    key = (int(seed), ic.model_dump_json(), model.name, k)
    seq = _SEQUENCES.get(key)
    if seq is None:
        seq = _SEQUENCES[key] = _Accepted(int(seed), ic, k, weights)
    seq.extend(index + 1)
    return seq.coeffs[index].copy()


def identity_tries(model: FaceModel, cfg: GenConfig, seed: int, index: int) -> int:
    """How many candidates identity `index` rejected (0 when rejection is off)."""
    if cfg.identity.min_distance <= 0:
        return 0
    identity_coeffs(model, cfg, seed, index)
    return int(_SEQUENCES[(int(seed), cfg.identity.model_dump_json(), model.name, model.n_identity)].tries[index])


def identity_attributes(model: FaceModel, cfg: GenConfig, seed: int, index: int) -> dict:
    """The attributes make_identity would record, without drawing any texel (cheap)."""
    sex = draw_sex(cfg.sex, seed, index)
    return sample_attributes(cfg.appearance, stream(seed, STREAM_APPEARANCE, index), sex, cfg.sex.look(sex))


def make_identity(model: FaceModel, cfg: GenConfig, seed: int, index: int, stage: int = 0,
                  variant: int = 0) -> Identity:
    """Identity `index` at its age stage `stage` (gen/aging/; 0 = its youngest age). Every stage
    has the same shape coefficients and features; only the signs of age differ. `variant` t > 0
    draws the identity filter's candidate t instead of the first draw (a different person)."""
    src = _source(cfg, index, variant)
    if not cfg.aging.enabled:
        return _named(_build(model, cfg, seed, src, None, 0), index, variant)
    ages = identity_ages(cfg.aging, seed, src)
    if not 0 <= stage < len(ages.stages):
        raise FacesynthError(f"stage={stage}: identities have aging.stages={cfg.aging.stages} age stages "
                             f"(0..{cfg.aging.stages - 1})")
    return _named(_build(model, cfg, seed, src, ages.stages[stage], stage), index, variant)


def identity_at_age(model: FaceModel, cfg: GenConfig, seed: int, index: int, years: float,
                    variant: int = 0) -> Identity:
    """Identity `index` at any age (previews: one person from 20 to 80); stage is -1."""
    if not cfg.aging.enabled:
        raise FacesynthError("aging.enabled is false: turn it on to show an identity at other ages")
    return _named(_build(model, cfg, seed, _source(cfg, index, variant), float(years), -1), index, variant)


def _source(cfg: GenConfig, index: int, variant: int) -> int:
    if variant and cfg.identity.min_distance > 0:
        raise FacesynthError("identity.min_distance and render.identity_filter both pick identities; "
                             "set identity.min_distance: 0 to use the identity filter")
    if not 0 <= variant < 2 ** 16:
        raise FacesynthError(f"variant={variant}: must be in [0, 65536)")
    return source_index(index, variant)


def _named(ident: Identity, index: int, variant: int) -> Identity:
    return ident if not variant else dataclasses.replace(ident, index=int(index), variant=int(variant))


def _build(model: FaceModel, cfg: GenConfig, seed: int, index: int, age: float | None, stage: int) -> Identity:
    coeffs = identity_coeffs(model, cfg, seed, index)
    vertices = model.shape(coeffs)
    sex = draw_sex(cfg.sex, seed, index)
    sexlook = cfg.sex.look(sex)
    local = {}
    if cfg.local_shape.enabled:
        local = anthropometry.sample_params(cfg.local_shape, stream(seed, STREAM_LOCAL_SHAPE, index),
                                            shape_shift(cfg.sex, sex))
        vertices = anthropometry.apply(model, vertices, local)
    rng = stream(seed, STREAM_APPEARANCE, index)
    attrs = sample_attributes(cfg.appearance, rng, sex, sexlook)
    lk = None
    if age is not None:
        lay = face_layout(model, cfg.appearance.texture_size)
        traits = draw_traits(cfg.aging, seed, index, darkness(attrs["skin"]["melanin"]), lay.lm3,
                             sexlook.recession)
        lk = look(cfg.aging, traits, age)
        vertices = aged_vertices(model, vertices, lk)
    app = make_appearance(model, cfg.appearance, rng, attrs, aging=lk, vertices=vertices)
    attrs = dict(app.attributes, model=model.name, model_version=model.version,
                 shape_tries=identity_tries(model, cfg, seed, index),
                 local_shape={k: round(v, 4) for k, v in local.items()})
    if lk is not None:
        hair = attrs["hair"]
        attrs["age"] = {"years": age, "stage": int(stage),
                        "stages": list(identity_ages(cfg.aging, seed, index).stages),
                        "gray_onset": round(lk.traits.gray_onset, 2), "gray_max": round(lk.traits.gray_max, 3),
                        "recedes": lk.traits.recedes,
                        "natural_hair_srgb": hair["srgb"], "natural_hairline": hair["hairline"]}
        # What this age shows (hair geometry reads these): greyed colour, receded hairline.
        attrs["hair"] = dict(hair, srgb=list(app.colors["hair"]), hairline=hair["hairline"] + lk.hairline_shift)
    return Identity(index=int(index), seed=int(seed), coeffs=coeffs, vertices=vertices,
                    maps=app.maps, colors=app.colors, attributes=attrs, age=age, stage=int(stage))


def identity_hash(identity: Identity, maps: bool = True) -> str:
    """sha256 over coefficients, vertices, maps (optional), colours and attributes."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(identity.coeffs, np.float32).tobytes())
    h.update(np.ascontiguousarray(identity.vertices, np.float32).tobytes())
    if maps:
        for k in sorted(identity.maps):
            a = np.ascontiguousarray(identity.maps[k])
            h.update(f"{k}{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
    h.update(json.dumps({"colors": identity.colors, "attributes": identity.attributes},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


def identity_hashes(cfg_json: str, seed: int, indices: list[int], maps: bool = True) -> dict[int, str]:
    """Hashes of the given identities, computed in this process (a picklable worker for pools).

    maps=True hashes everything (coefficients, vertices, all maps, colours, attributes);
    maps=False hashes coefficients + attributes only, which needs no texture work."""
    from gen.facemodel import load_model
    cfg = GenConfig.model_validate_json(cfg_json)
    model = load_model(cfg.model)
    out = {}
    for i in indices:
        if maps:
            out[int(i)] = identity_hash(make_identity(model, cfg, seed, i))
        else:
            h = hashlib.sha256(identity_coeffs(model, cfg, seed, i).tobytes())
            h.update(json.dumps(identity_attributes(model, cfg, seed, i), sort_keys=True).encode())
            out[int(i)] = h.hexdigest()
    return out
