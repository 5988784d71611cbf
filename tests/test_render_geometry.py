"""Pure parts of render/: scene sampling, pose convention, projection, alignment."""
from __future__ import annotations

import numpy as np
import pytest

from render import align
from render.config import Dist, RenderConfig
from render.landmarks import five_from_68, project
from render.scene import draw, rotation, sample_scene


def test_scene_is_a_pure_function_of_seed_identity_image():
    cfg = RenderConfig()
    a, b = sample_scene(cfg, 7, 3, 11), sample_scene(cfg, 7, 3, 11)
    assert a == b and a.background_seed == b.background_seed
    others = [sample_scene(cfg, 7, 3, 12), sample_scene(cfg, 7, 4, 11), sample_scene(cfg, 8, 3, 11)]
    assert all((o.yaw, o.pitch, o.roll) != (a.yaw, a.pitch, a.roll) for o in others)


def test_truncated_normal_stays_inside_and_matches_moments():
    d = Dist(kind="normal", mean=0, std=35, min=-90, max=90)
    x = draw(d, np.random.default_rng(0), 20000)
    assert x.min() >= -90 and x.max() <= 90
    from scipy.stats import truncnorm
    assert abs(x.std() - truncnorm.std(-90 / 35, 90 / 35, scale=35)) < 0.6
    u = draw(Dist(kind="uniform", min=-10, max=30), np.random.default_rng(1), 20000)
    assert u.min() >= -10 and u.max() <= 30 and abs(u.mean() - 10) < 0.3


def test_explicit_pose_list_cycles():
    cfg = RenderConfig.model_validate({"pose": {"poses": [[10, 0, 0], [-45, 5, 2]]}})
    got = [(s.yaw, s.pitch, s.roll) for s in (sample_scene(cfg, 0, 0, j) for j in range(4))]
    assert got == [(10, 0, 0), (-45, 5, 2), (10, 0, 0), (-45, 5, 2)]


def test_pose_convention():
    fwd = np.array([0.0, 0.0, 1.0])
    assert (rotation(30, 0, 0) @ fwd)[0] > 0.4  # +yaw: nose towards +x (image right)
    assert (rotation(0, 20, 0) @ fwd)[1] > 0.3  # +pitch: looks up
    up = rotation(0, 0, 15) @ np.array([0.0, 1.0, 0.0])
    assert up[0] < -0.2  # +roll: top of the head towards image left (counter-clockwise)
    r = rotation(33, -12, 7)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1)


def test_projection_centre_and_focal():
    cam = np.array([0.0, 0.0, 100.0])
    yfov = 2 * np.arctan(0.1)  # 20 cm visible at 100 cm
    p = project(np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 0.0]]), cam, yfov, 200)
    # OpenCV convention: the image centre of a 200 px frame is 99.5
    assert np.allclose(p, [[99.5, 99.5], [199.5, -0.5]])


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(0, 20, (5, 2))
    m = align.similarity(1.7, 0.3, np.array([5.0, -3.0]))
    s, th, t = align.umeyama(src, align.apply(m, src))
    assert np.isclose(s, 1.7) and np.isclose(th, 0.3) and np.allclose(t, [5, -3])


def test_alignment_is_standard_below_blend_and_maps_template():
    dst = align.template(112)
    m = align.similarity(0.5, -0.1, np.array([20.0, 30.0]))
    src = align.apply(np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2], dst)
    a = align.alignment_matrix(src, src + 3.0, src.mean(0) + 5.0, off_axis_deg=10.0)
    assert np.allclose(align.apply(a, src), dst, atol=1e-6)
    assert align.blend_weight(10) == 0 and align.blend_weight(70) == 1 and 0 < align.blend_weight(47) < 1


def test_five_points_from_68():
    p = np.arange(68 * 2, dtype=float).reshape(68, 2)
    f = five_from_68(p)
    assert np.allclose(f[0], p[36:42].mean(0)) and np.allclose(f[1], p[42:48].mean(0))
    assert np.allclose(f[2:], p[[30, 48, 54]])
