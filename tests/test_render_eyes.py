"""The eyes: ICT's M_Iris* mesh is the whole eyeball, so its texture must put the iris on the
front cap and sclera around it (once the whole eyeball was iris-coloured: no whites showed)."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from gen.config import GenConfig
from render.config import RenderConfig
from render.mesh import IRIS_FRAC, IRIS_RADIUS_CM, _eye_geometry


def test_eyeball_coordinates_put_the_iris_on_the_front_cap(face_model):
    polar = _eye_geometry(face_model)
    v = np.asarray(face_model.neutral, np.float64)
    for side in ("left", "right"):
        a, b = face_model.vertex_regions[f"iris_{side}"]
        ball, q = v[a:b], polar[a:b]
        d = ball - ball.mean(0)
        r = np.linalg.norm(q, axis=1)
        assert r.max() <= 1 + 1e-6
        iris = r < IRIS_FRAC
        assert 0.02 < iris.mean() < 0.35  # a cap, not the ball
        assert (d[iris, 2] > 0).all()  # in front
        pole = ball[np.argmax(d[:, 2])]
        assert np.linalg.norm(ball[iris] - pole, axis=1).max() < 1.4 * IRIS_RADIUS_CM
        assert r[d[:, 2] < 0].min() > IRIS_FRAC + 0.2  # the back is all sclera


@pytest.fixture(scope="module")
def maker(face_model):
    from render.pipeline import ImageMaker
    cfg = RenderConfig.model_validate({"output": {"image_size": 224, "frame_size": 288},
                                       "degradations": {"blur": {"prob": 0}, "downscale": {"prob": 0}}})
    m = ImageMaker(face_model, GenConfig(), cfg, 3)
    yield m
    m.close()


def test_a_frontal_face_shows_the_whites_of_its_eyes(maker):
    from render.preview import STUDIO_LIGHTS
    shown = []
    for i in range(3):
        ident = maker.identity(i)
        ident = dataclasses.replace(ident, colors={**ident.colors, "sclera": (0, 255, 0)})
        maker.renderer.identity_key = None  # new colours: rebuild the atlas
        s = dataclasses.replace(maker.scene(i, 0), yaw=0.0, pitch=0.0, roll=0.0, expression=None,
                                lights=STUDIO_LIGHTS, ambient=0.3)
        r = maker.render_scene(ident, s)
        img = r.clean_crop.astype(np.int32)
        green = (img[..., 1] > 90) & (img[..., 1] > img[..., 0] + 40) & (img[..., 1] > img[..., 2] + 40)
        for eye in (slice(36, 42), slice(42, 48)):
            m = np.zeros(green.shape, np.uint8)
            cv2.fillConvexPoly(m, cv2.convexHull(np.round(r.lm68[eye]).astype(np.int32)), 1)
            shown.append(green[m > 0].mean())
    assert min(shown) > 0.1, shown  # sclera on both sides of the iris, in every eye


def test_lower_lashes_are_drawn_at_a_share_of_their_length(face_model):
    """render/mesh.py draws ICT's lower-lash ribbons at LOWER_LASH_KEEP of their length, from the
    root row at the lid (drawn whole and solid they were a dark flap under each eye)."""
    from render.mesh import LOWER_LASH_KEEP, build_topology, shorten_lower_lashes
    topo = build_topology(face_model)
    v = np.ascontiguousarray(face_model.neutral[topo.used], np.float32)
    tips, roots = topo.lash_tips, topo.lash_roots
    assert len(tips) == 570 and len(np.unique(roots)) == 114  # 2 eyes x 3 ribbons x 19 columns x 6 rows
    assert np.array_equal(np.sign(v[tips, 0]), np.sign(v[roots, 0]))  # a root on the same side
    assert (v[roots, 1] > v[tips, 1]).mean() > 0.95  # roots above the tips: at the lid margin
    before = np.linalg.norm(v[tips] - v[roots], axis=1)
    assert 0.2 < before.max() < 0.8  # cm: ribbons a few millimetres long
    w = shorten_lower_lashes(topo, v.copy())
    after = np.linalg.norm(w[tips] - w[roots], axis=1)
    np.testing.assert_allclose(after, LOWER_LASH_KEEP * before, rtol=1e-4, atol=1e-6)
    others = np.setdiff1d(np.arange(len(v)), tips)
    assert np.array_equal(w[others], v[others])


def test_shorter_lower_lashes_cover_less_under_the_eyes(maker, monkeypatch):
    """Rendered: with the lashes painted green, the lower lashes cover less skin under the eyes
    at the default share than drawn whole."""
    import render.mesh
    from render.preview import STUDIO_LIGHTS
    keep_default = render.mesh.LOWER_LASH_KEEP

    def green_below_eyes(keep):
        monkeypatch.setattr(render.mesh, "LOWER_LASH_KEEP", keep)
        ident = maker.identity(0)
        ident = dataclasses.replace(ident, colors={**ident.colors, "eyelashes": (0, 255, 0)})
        maker.renderer.identity_key = None  # new colours and lashes: rebuild
        s = dataclasses.replace(maker.scene(0, 0), yaw=0.0, pitch=0.0, roll=0.0, expression=None,
                                lights=STUDIO_LIGHTS, ambient=0.3)
        r = maker.render_scene(ident, s)
        img = r.clean_crop.astype(np.int32)
        green = (img[..., 1] > 60) & (img[..., 1] > img[..., 0] + 30) & (img[..., 1] > img[..., 2] + 30)
        lid = int(np.round(r.lm68[[40, 41, 46, 47], 1].mean()))
        return int(green[lid - 6:lid + 20].sum())  # from just above the lower lids downwards

    whole, default = green_below_eyes(1.0), green_below_eyes(keep_default)
    assert whole > 100 and default < 0.6 * whole, (whole, default)
