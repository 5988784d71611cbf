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
