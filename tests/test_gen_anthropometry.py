"""Local feature proportions (gen/anthropometry.py): local, seeded, validated, of anthropometric size."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from core.rng import stream
from gen import anthropometry as an
from gen.config import GenConfig
from gen.shape_config import LocalShapeConfig


def _measure(model, v):
    lm = v[np.asarray(model.landmarks68)]
    d = lambda a, b: float(np.linalg.norm(lm[a] - lm[b]))  # noqa: E731
    return {"nose_width": d(31, 35), "mouth_width": d(48, 54), "eye_fissure": d(36, 39), "jaw": d(4, 12)}


def test_each_feature_moves_its_own_region(face_model):
    v0 = face_model.shape(np.zeros(face_model.n_identity, np.float32))
    base = _measure(face_model, v0)
    wide_nose = _measure(face_model, an.apply(face_model, v0, {"nose_width": 0.15}))
    assert wide_nose["nose_width"] > base["nose_width"] * 1.08
    assert abs(wide_nose["eye_fissure"] - base["eye_fissure"]) < 0.02 * base["eye_fissure"]
    wide_mouth = _measure(face_model, an.apply(face_model, v0, {"mouth_width": 0.15}))
    assert wide_mouth["mouth_width"] > base["mouth_width"] * 1.08
    assert abs(wide_mouth["nose_width"] - base["nose_width"]) < 0.05 * base["nose_width"]
    # the back of the head does not move for a nose change
    moved = np.linalg.norm(an.apply(face_model, v0, {"nose_tip": 0.5}) - v0, axis=1)
    lm = v0[np.asarray(face_model.landmarks68)]
    far = np.linalg.norm(v0 - lm[30], axis=1) > 6.0
    assert moved[far].max() < 1e-3 and moved.max() > 0.3


def test_zero_parameters_change_nothing(face_model):
    v0 = face_model.shape(np.zeros(face_model.n_identity, np.float32))
    np.testing.assert_array_equal(an.apply(face_model, v0, {n: 0.0 for n in an.FEATURES}), v0)


def test_params_are_seeded_truncated_and_scaled():
    cfg = LocalShapeConfig()
    a = an.sample_params(cfg, stream(1, 4, 7))
    assert a == an.sample_params(cfg, stream(1, 4, 7)) and a != an.sample_params(cfg, stream(1, 4, 8))
    draws = np.array([[an.sample_params(cfg, stream(2, 4, i))[n] / getattr(cfg, n) for n in an.FEATURES]
                      for i in range(400)])
    assert np.abs(draws).max() <= cfg.psi + 1e-9
    assert 0.8 < draws.std() < 1.1  # N(0,1) truncated at 2 has std 0.88
    doubled = an.sample_params(cfg.model_copy(update={"scale": 2.0}), stream(1, 4, 7))
    assert all(doubled[k] == pytest.approx(2 * a[k]) for k in a)


def test_spread_of_proportions_is_anthropometric(face_model):
    """With the model's modes and the local fields together, coefficients of variation of feature
    widths stay in the adult range (Farkas et al. 2005: ~4-15%), not a caricature."""
    from gen.identity import STREAM_LOCAL_SHAPE, identity_coeffs

    def cvs(spread: float) -> dict[str, float]:
        cfg = parse_model(GenConfig, {"identity": {"spread": spread}})
        rows = []
        for i in range(150):
            v = face_model.shape(identity_coeffs(face_model, cfg, 3, i))
            v = an.apply(face_model, v, an.sample_params(cfg.local_shape, stream(3, STREAM_LOCAL_SHAPE, i)))
            rows.append(_measure(face_model, v))
        return {k: float(np.std([r[k] for r in rows]) / np.mean([r[k] for r in rows])) for k in rows[0]}

    natural, wide = cvs(1.0), cvs(GenConfig().identity.spread)
    for key in natural:
        assert 0.04 < natural[key] < 0.16, key
        assert natural[key] < wide[key] < 0.25, key  # the default spread widens, short of caricature


@pytest.mark.parametrize("key,value", [("nose_width", -0.1), ("psi", 0), ("scale", 9), ("eye_size", "big"),
                                       ("enabled", "maybe"), ("nose_lenght", 0.1), ("eye_opening", -0.1),
                                       ("brow_height", 5.0), ("brow_ridge", "high")])
def test_every_key_is_validated(key, value):
    with pytest.raises(FacesynthError, match=f"local_shape.{key}"):
        parse_model(GenConfig, {"local_shape": {key: value}}, "gen")


def test_eye_opening_moves_the_lids_not_the_eyeballs(face_model):
    v0 = np.asarray(face_model.neutral, np.float32)
    v = an.apply(face_model, v0, {"eye_opening": 0.3})
    for part in ("iris_left", "sclera_left", "iris_right", "sclera_right"):
        a, b = face_model.vertex_regions[part]
        np.testing.assert_array_equal(v[a:b], v0[a:b])
    lm = np.asarray(face_model.landmarks68)
    upper, lower = lm[[37, 38, 43, 44]], lm[[40, 41, 46, 47]]
    assert (v[upper, 1] > v0[upper, 1]).all() and (v[lower, 1] < v0[lower, 1]).all()  # the fissure opens


def test_identity_records_its_proportions(face_model):
    from gen.identity import make_identity
    on = make_identity(face_model, GenConfig(), 5, 3)
    off = make_identity(face_model, parse_model(GenConfig, {"local_shape": {"enabled": False}}), 5, 3)
    assert set(on.attributes["local_shape"]) == set(an.FEATURES) and off.attributes["local_shape"] == {}
    assert np.abs(on.vertices - off.vertices).max() > 0.05
