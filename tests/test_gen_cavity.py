"""Cavity shading (gen/appearance/cavity.py): creases and sockets of the identity's own shape
darken the face albedo; open surface stays as painted."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from core.rng import stream
from gen.appearance import make_appearance, sample_attributes
from gen.appearance.cavity import cavity_map, vertex_cavity
from gen.config import AppearanceConfig, GenConfig
from gen.uvmaps import face_layout


def test_creases_are_deeper_than_open_cheeks(face_model):
    c = vertex_cavity(face_model, face_model.neutral)
    v = np.asarray(face_model.neutral, np.float64)
    lm = v[np.asarray(face_model.landmarks68)]
    skin = np.unique(face_model.faces[face_model.region_faces("M_Face")])

    def near(p):  # mean cavity of the outermost face-skin vertices within 0.5 cm of p, seen from the front
        s = skin[np.hypot(v[skin, 0] - p[0], v[skin, 1] - p[1]) < 0.5]
        s = s[v[s, 2] > v[s, 2].max() - 0.4]
        return c[s].mean()
    def deepest(points, r):  # the deepest face-skin vertex within r cm of any of the points
        d = np.min([np.linalg.norm(v[skin] - lm[k], axis=1) for k in points], axis=0)
        return c[skin[d < r]].max()
    assert deepest((31, 35), 1.0) > 0.5  # the grooves beside the nostrils
    assert deepest((39, 42), 1.0) > 0.3  # inner eye corners
    cheek = near(0.5 * (lm[2] + lm[31]))
    forehead = near(lm[27] + np.array([0.0, 3.5, 0.0]))
    assert max(cheek, forehead) < 0.05
    assert c.min() >= 0 and c.max() <= 1
    np.testing.assert_array_equal(c, vertex_cavity(face_model, face_model.neutral))  # pure


def test_the_map_follows_the_identity_shape(face_model):
    lay = face_layout(face_model, 128)
    base = cavity_map(face_model, lay, face_model.neutral)
    v = np.asarray(face_model.neutral, np.float32).copy()
    lm = v[np.asarray(face_model.landmarks68)]
    nose = np.linalg.norm(v - lm[30], axis=1) < 1.5
    v[nose, 2] += 0.5  # a more projecting nose deepens the grooves around it
    assert cavity_map(face_model, lay, v).sum() > base.sum()


def test_albedo_darkens_only_where_there_are_cavities(face_model):
    cfg_on = AppearanceConfig(texture_size=128)
    cfg_off = AppearanceConfig.model_validate({"texture_size": 128, "cavity": {"enabled": False}})
    attrs = sample_attributes(cfg_on, stream(5, 2, 0))
    on = make_appearance(face_model, cfg_on, stream(5, 2, 0), dict(attrs)).maps["albedo"].astype(float)
    off = make_appearance(face_model, cfg_off, stream(5, 2, 0), dict(attrs)).maps["albedo"].astype(float)
    cav = cavity_map(face_model, face_layout(face_model, 128), face_model.neutral)
    drop = (off - on).mean(-1)
    assert (drop >= -1).all()  # never lighter (one level of rounding)
    assert drop[cav > 0.5].mean() > 5 and abs(drop[cav < 0.01].mean()) < 0.5


def test_strength_is_validated():
    with pytest.raises(FacesynthError, match="cavity.strength"):
        parse_model(GenConfig, {"appearance": {"cavity": {"strength": 1.5}}}, "gen")
