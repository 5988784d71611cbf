"""Glasses, headwear and masks: shares as configured, deterministic, validated, drawn where they belong."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from gen.accessories import identity_glasses, image_accessories
from gen.config import GenConfig
from render.config import RenderConfig
from render.preview import STUDIO_LIGHTS, clean


def test_shares_follow_the_config_and_draws_are_pure():
    cfg = GenConfig().accessories
    owners = [identity_glasses(cfg, 0, i) for i in range(3000)]
    assert 0.12 < np.mean([g is not None for g in owners]) < 0.18  # DigiFace-1M: 0.15
    assert owners[:100] == [identity_glasses(cfg, 0, i) for i in range(100)]
    g = next(x for x in owners if x is not None)
    imgs = [image_accessories(cfg, 0, 1, j, g) for j in range(3000)]
    assert 0.8 < np.mean([a.glasses is not None for a in imgs]) < 0.9  # glasses_worn 0.85
    assert 0.12 < np.mean([a.headwear != "none" for a in imgs]) < 0.18
    assert np.mean([a.face_mask != "none" for a in imgs]) < 0.03
    assert imgs[:50] == [image_accessories(cfg, 0, 1, j, g) for j in range(50)]
    assert all(a.glasses_name in ("none", g.frame, g.frame + "_tinted") for a in imgs)


@pytest.mark.parametrize("section, key", [
    ({"glasses_prob": 1.2}, "glasses_prob"),
    ({"glasses_worn": -0.1}, "glasses_worn"),
    ({"frames": {"monocle": 1.0}}, "frames"),
    ({"frames": {"round": 0.0}}, "frames"),
    ({"frame_colors": {"red": [300, 0, 0]}}, "frame_colors"),
    ({"frame_colors": {}}, "frame_colors"),
    ({"tinted_prob": 2.0}, "tinted_prob"),
    ({"headwear_prob": -1.0}, "headwear_prob"),
    ({"headwear": {"top_hat": 1.0}}, "headwear"),
    ({"headwear_colors": {"x": [0, 0, -1]}}, "headwear_colors"),
    ({"mask_prob": 1.01}, "mask_prob"),
    ({"mask_colors": {}}, "mask_colors"),
    ({"scarf_prob": 0.1}, "scarf_prob"),
])
def test_bad_accessories_config_fails_in_one_line_naming_the_key(section, key):
    with pytest.raises(FacesynthError) as e:
        parse_model(GenConfig, {"accessories": section}, "cfg.yaml")
    msg = str(e.value)
    assert "\n" not in msg and "accessories" in msg and key in msg


@pytest.fixture(scope="module")
def one_maker(face_model):
    """One EGL renderer for the module: pyrender's close() terminates the display all share."""
    from render.pipeline import ImageMaker
    m = ImageMaker(face_model, GenConfig(), clean(RenderConfig(), "solid"), seed=4)
    yield m
    m.close()


def _render(maker, accessories: dict):
    """The frontal studio image of identity 0 with these accessories (bald: nothing else worn)."""
    base = {"glasses_prob": 0.0, "headwear_prob": 0.0, "mask_prob": 0.0}
    maker.gen_cfg = parse_model(GenConfig, {"hair_style": {"styles": {"bald": 1.0}},
                                            "accessories": {**base, **accessories}})
    maker.renderer.identity_key = None  # bind again with the new config
    r = _frontal(maker)
    return r, maker.record(maker.identity(0), r)


def _frontal(maker, i=0, j=0):
    s = dataclasses.replace(maker.scene(i, j), yaw=0.0, pitch=0.0, roll=0.0, zoom=1.0, shift=(0.0, 0.0, 0.0),
                            lights=STUDIO_LIGHTS, ambient=0.3, expression=None)
    return maker.render_scene(maker.identity(i), s)


def _box(lm, idx, pad=0):
    p = lm[idx]
    return (slice(max(int(p[:, 1].min()) - pad, 0), int(p[:, 1].max()) + pad + 1),
            slice(max(int(p[:, 0].min()) - pad, 0), int(p[:, 0].max()) + pad + 1))


def test_glasses_frame_the_eyes_and_masks_cover_the_mouth(one_maker):
    rp, _ = _render(one_maker, {})
    rg, gl = _render(one_maker, {"glasses_prob": 1.0, "glasses_worn": 1.0, "frames": {"rectangular": 1.0},
                                 "tinted_prob": 0.0, "frame_colors": {"black": [15, 15, 15]}})
    rm, ma = _render(one_maker, {"mask_prob": 1.0, "mask_colors": {"blue": [130, 175, 210]}})
    rc, ca = _render(one_maker, {"headwear_prob": 1.0, "headwear": {"cap": 1.0}})
    lm = rp.lm68
    eyes = _box(lm, list(range(36, 48)), pad=8)
    mouth = _box(lm, list(range(48, 68)))
    dg = np.abs(rg.clean_crop.astype(int) - rp.clean_crop.astype(int)).mean(-1)
    assert (dg[eyes] > 40).mean() > 0.05  # dark frame lines around the eyes
    assert dg[mouth].max() == 0
    dm = np.abs(rm.clean_crop.astype(int) - rp.clean_crop.astype(int)).mean(-1)
    assert dm[mouth].mean() > 25 and dm[_box(lm, list(range(36, 48)))].max() == 0
    dc = np.abs(rc.clean_crop.astype(int) - rp.clean_crop.astype(int)).mean(-1)
    assert dc[:10].mean() > 10 and dc[mouth].max() == 0  # a cap on top, nothing on the mouth
    assert (gl.glasses, gl.headwear, gl.face_mask, gl.hair_style) == ("rectangular", "none", "none", "bald")
    assert ma.face_mask == "surgical" and ca.headwear == "cap"
    np.testing.assert_array_equal(rg.lm68, rp.lm68)


def test_tinted_lenses_keep_the_face_opaque(one_maker):
    """A blended lens tints the eyes but the frame's alpha (face coverage) stays full there."""
    rt, rec = _render(one_maker, {"glasses_prob": 1.0, "glasses_worn": 1.0, "tinted_prob": 1.0,
                                  "frames": {"round": 1.0}})
    rp, _ = _render(one_maker, {})
    eyes = _box(rp.lm68, list(range(36, 48)))
    assert rec.glasses == "round_tinted"
    diff = np.abs(rt.clean_crop.astype(int) - rp.clean_crop.astype(int)).mean(-1)
    assert diff[eyes].mean() > 15  # the eyes are seen through a tint
    assert rt.crop_alpha[eyes].min() == 255


def test_every_frame_and_headwear_fits_the_head(face_model):
    """Lenses in front of the eyes, temples back to the ears; headwear above the brows."""
    from gen.accessories import Glasses
    from gen.hairstyle import sample_hairstyle
    from gen.identity import make_identity
    from render.accessory_mesh import build_glasses, build_headwear, build_mask
    ident = make_identity(face_model, GenConfig(), 4, 0)
    lm = ident.vertices[np.asarray(face_model.landmarks68)]
    eye_z, brow_y = lm[36:48, 2].max(), lm[17:27, 1].mean()
    for frame in ("round", "rectangular", "aviator", "rimless"):
        rim, lens = build_glasses(face_model, ident.vertices, Glasses(frame, (20, 20, 20), False, (230, 230, 230),
                                                                      0.1, 1.0))
        assert lens.blend and not rim.blend
        assert lens.positions[:, 2].min() > eye_z  # the lens never cuts into the eye
        assert rim.positions[:, 2].min() < lm[0, 2]  # temples reach back past the ear's front
        assert np.abs(rim.positions[:, 0]).max() > np.abs(lm[[0, 16], 0]).max()
    style = sample_hairstyle(GenConfig().hair_style, ident.attributes, 4, 0)
    for kind in ("cap", "beanie", "headband"):
        (p,) = build_headwear(face_model, ident.vertices, kind, style)
        assert np.isfinite(p.positions).all() and p.triangles.max() < len(p.positions)
        assert np.median(p.positions[:, 1]) > brow_y
    (mask,) = build_mask(face_model, ident.vertices)
    mouth = lm[48:68]
    assert mask.positions[:, 1].min() < mouth[:, 1].min() and mask.positions[:, 1].max() > lm[30, 1]
    assert mask.positions[:, 2].max() > lm[30, 2]  # over the nose tip
